// Package wsd reads WS-Discovery (the 2005/04 draft that ONVIF and
// Windows use, and OASIS WS-Discovery 1.1): SOAP over UDP port 3702,
// multicast to 239.255.255.250 and ff02::c. ONVIF cameras, recorders and
// doorbells, network printers and scanners, and Windows hosts (and Linux
// ones running wsdd) announce themselves with Hello and Bye, and answer
// a Probe with a unicast ProbeMatches. It only reports observations;
// the device layer turns them into an identity.
//
// Every observation is event.KindWSD, TypeObservation, SeverityInfo; the
// event's Device is the datagram's sender: the device announcing or
// describing itself (Hello, Bye, ProbeMatches, ResolveMatches) or the
// client searching (Probe, Resolve). Evidence keys (a contract with the
// device layer; absent when the message has nothing for them):
//
//	message       hello, bye, probe, probe_matches, resolve or resolve_matches
//	types         the Types QNames, space separated
//	              ("dn:NetworkVideoTransmitter tds:Device",
//	              "wsdp:Device pub:Computer"); of a probe, what it looks for
//	onvif_types   the ONVIF type scopes, comma separated
//	              ("video_encoder,Network_Video_Transmitter")
//	profiles      the ONVIF Profile scopes, comma separated ("Streaming")
//	hardware      the ONVIF hardware scope: the model ("DS-2CD2142FWD-I")
//	name          the ONVIF name scope: a maker's name ("HIKVISION"), or
//	              one the owner gave the device
//	manufacturer  the manufacturer scope some ONVIF devices send
//	xaddrs_host   host:port of each XAddrs URL, comma separated
//	              ("192.168.1.64:80"), without user info
//	addresses     the addresses among those hosts, comma separated, for
//	              the device layer to check the message is the sender's
//	several_hosts "yes" on each match of a ProbeMatches or ResolveMatches
//	              of several: a discovery proxy answers for the devices
//	              it knows, so such a match is the sender's only by an
//	              address of its own
//
// Scope values are percent-decoded escape by escape (a bad escape stays
// as it is), trailing slashes dropped; no other scope is reported: a
// location scope may say where the owner lives and a MAC scope adds
// nothing the frame does not show, and vendors put serial numbers in
// scopes of their own. Values are cleaned text of at most 256 bytes;
// lists hold at most eight items, of the first 32 scopes. Each match of
// a ProbeMatches or ResolveMatches, up to eight, is an observation of
// its own, filed under the sender as the first is, and marked
// several_hosts when there are several. Of an element a datagram cut
// short ends in, only the items before its last white space are read:
// the last may be cut. A flow reports each (message, endpoint, types,
// scopes, XAddrs, several or not) once, and at most maxReports of them.
// WS-Discovery is recognised by its envelope on any UDP port, since
// matches go to the searcher's port, and by port 3702.
package wsd

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is WS-Discovery.
type Protocol struct {
	pool inspect.FreeList[analyzer]
}

// New returns the WS-Discovery protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "wsd" }

const portWSD = 3702

// Match implements inspect.Protocol: a WS-Discovery envelope on any UDP
// port, or the WS-Discovery port.
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if f.IsTCP() {
		return inspect.NoMatch
	}
	var m message
	if parse(b, &m) {
		return inspect.ContentMatch
	}
	if f.Client().Port() == portWSD || f.Server().Port() == portWSD {
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

// maxReports bounds the observations of one flow: a device sends a Hello,
// a Bye, and a ProbeMatches for each kind of Probe it answers.
const maxReports = 32

const (
	maxValue = 256
	// maxItems bounds a list reported: Types, type and Profile scopes,
	// XAddrs.
	maxItems = 8
	// maxScopes bounds the scopes read: an ONVIF device sends a dozen
	// or so, hardware and name often last.
	maxScopes = 32
)

type analyzer struct {
	proto    *Protocol
	msg      message
	reported [maxReports]uint64
	n        int
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	m := &a.msg
	if !parse(data, m) {
		return len(data)
	}
	// A discovery proxy answers with a match for each device it knows:
	// one of several is the sender's only by an address of its own.
	several := m.n > 1
	for i := range m.matches[:m.n] {
		a.reportOnce(f, dir, m.kind, &m.matches[i], several)
	}
	return len(data)
}

// reportOnce reports what the message says of one endpoint unless the
// flow reported it before, or maxReports already; several: the endpoint
// is one of several matches.
func (a *analyzer) reportOnce(f *inspect.Flow, dir inspect.Dir, k kind, mt *match, several bool) {
	if a.n == maxReports {
		return
	}
	// Alone, a match seen before as one of several says more of the
	// sender: it is another observation.
	var one byte
	if !several {
		one = 1
	}
	h := uint64(inspect.NewFNV().Byte(byte(k)).Byte(one).Field(mt.endpoint).Field(mt.types).Field(mt.scopes).Field(mt.xaddrs))
	for _, r := range a.reported[:a.n] {
		if r == h {
			return
		}
	}
	a.reported[a.n] = h
	a.n++
	a.report(f, dir, k, mt, several)
}

func (a *analyzer) Gap(*inspect.Flow, inspect.Dir) {}

func (a *analyzer) Close(*inspect.Flow) { a.proto.pool.Put(a) }

func (a *analyzer) report(f *inspect.Flow, dir inspect.Dir, k kind, m *match, several bool) {
	ev := event.Evidence{"message": k.String()}
	if several {
		ev["several_hosts"] = "yes"
	}
	var types []string
	for _, t := range items(m.types, maxItems) {
		if v := inspect.CleanText([]byte(t), maxValue); v != "" {
			types = append(types, v)
		}
	}
	set(ev, "types", types, " ")
	s := readScopes(m.scopes)
	set(ev, "onvif_types", s.types, ",")
	set(ev, "profiles", s.profiles, ",")
	set(ev, "hardware", []string{s.hardware}, "")
	set(ev, "name", []string{s.name}, "")
	set(ev, "manufacturer", []string{s.manufacturer}, "")
	var hosts, addrs []string
	for _, x := range items(m.xaddrs, maxItems) {
		host, addr := xaddrHost(x)
		if host == "" {
			continue
		}
		hosts = append(hosts, inspect.Printable([]byte(host), maxValue))
		if addr.IsValid() {
			addrs = append(addrs, addr.String())
		}
	}
	set(ev, "xaddrs_host", hosts, ",")
	set(ev, "addresses", addrs, ",")
	summary := "WS-Discovery " + k.String()
	if t := ev["types"]; t != "" {
		summary += " " + t
	}
	f.Emit(dir.Sender(), &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindWSD,
		Severity: event.SeverityInfo,
		Summary:  summary,
		Evidence: ev,
	})
}

// set files a list under key, joined by sep and cut to maxValue bytes on
// an item boundary; nothing when it is empty.
func set(ev event.Evidence, key string, list []string, sep string) {
	var b strings.Builder
	for _, v := range list {
		if b.Len()+len(sep)+len(v) > maxValue {
			break
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(v)
	}
	if b.Len() > 0 {
		ev[key] = b.String()
	}
}

// items splits a white space separated list, entities decoded, into at
// most limit items.
func items(b []byte, limit int) []string {
	var out []string
	for f := range strings.FieldsSeq(unescape(b)) {
		if len(out) == limit {
			break
		}
		out = append(out, f)
	}
	return out
}

// unescape decodes the five predefined XML entities and character
// references (inspect.XMLReference); anything else is left as it is.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b)
	}
	var out strings.Builder
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			out.Write(b)
			break
		}
		out.Write(b[:i])
		b = b[i:]
		end := bytes.IndexByte(b, ';')
		if r, ok := inspect.XMLReference(b[1:max(end, 1)]); end > 0 && ok {
			out.WriteRune(r)
			b = b[end+1:]
			continue
		}
		out.WriteByte('&')
		b = b[1:]
	}
	return out.String()
}

// scopes are the ONVIF scopes a message reports.
type scopes struct {
	types, profiles              []string
	hardware, name, manufacturer string
}

const onvifScope = "onvif://www.onvif.org/"

// readScopes picks the ONVIF scopes reported out of a Scopes list; the
// first hardware, name and manufacturer scopes win.
func readScopes(b []byte) scopes {
	var s scopes
	for _, uri := range items(b, maxScopes) {
		if len(uri) < len(onvifScope) || !strings.EqualFold(uri[:len(onvifScope)], onvifScope) {
			continue
		}
		category, raw, _ := strings.Cut(uri[len(onvifScope):], "/")
		// A trailing slash ends the path, not the value
		// ("type/video_encoder/"); an escaped one stays.
		raw = strings.TrimRight(raw, "/")
		// Escape by escape: an owner's "100%" must not leave the rest of
		// the name encoded.
		decoded := make([]byte, len(raw))
		decoded = decoded[:inspect.PercentDecode(decoded, []byte(raw), 0)]
		value := inspect.CleanText(decoded, maxValue)
		if value == "" {
			continue
		}
		switch strings.ToLower(category) {
		case "type":
			s.types = appendBounded(s.types, value)
		case "profile":
			s.profiles = appendBounded(s.profiles, value)
		case "hardware":
			s.hardware = first(s.hardware, value)
		case "name":
			s.name = first(s.name, value)
		case "manufacturer":
			s.manufacturer = first(s.manufacturer, value)
		}
	}
	return s
}

func appendBounded(list []string, v string) []string {
	if len(list) == maxItems {
		return list
	}
	return append(list, v)
}

// first is the first of a and b that is set.
func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// xaddrHost is the host:port of an XAddrs URL (inspect.URLHostPort),
// and the host's address when it is one (its IPv6 zone dropped); "" when
// the URL has no authority.
func xaddrHost(x string) (string, netip.Addr) {
	rest := string(inspect.URLHostPort([]byte(x)))
	host := rest
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end >= 0 {
			host = host[1:end]
		}
	} else if c := strings.LastIndexByte(host, ':'); c >= 0 {
		host = host[:c]
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return rest, netip.Addr{}
	}
	return rest, addr.WithZone("").Unmap()
}
