// Package ssdp reads SSDP (UPnP Device Architecture 2.0, section 1)
// announcements, searches and search responses for device
// fingerprinting, and parses the UPnP device descriptions their LOCATION
// points to (see ParseDescription). It only reports observations; the
// device layer turns them into an identity.
//
// Every observation is event.KindSSDP, TypeObservation, SeverityInfo; the
// event's Device is the datagram's sender: the device announcing itself
// (NOTIFY, search response) or the client searching (M-SEARCH). Evidence
// keys (a contract with the device layer; absent when the header is):
//
//	message        notify, msearch or response
//	server         SERVER header ("Linux/3.10 UPnP/1.0 MiniUPnPd/1.6"):
//	               the announcing device's OS and UPnP stack
//	location       LOCATION: the URL of the device description
//	location_host  host:port of LOCATION ("192.168.1.1:7406")
//	usn            USN: unique service name, "uuid:...::urn:..."
//	nt             NT (notify): the type announced
//	nts            NTS (notify): ssdp:alive, ssdp:byebye, ssdp:update
//	st             ST (msearch, response): the search target
//	user_agent     USER-AGENT (msearch): the searching client's software
//
// Values are printable ASCII, at most 256 bytes. A flow reports each
// (message, USN, NT/ST) once, and at most maxReports of them. SSDP is
// recognised by its start line on any UDP port, since search responses
// come from and go to ephemeral ports.
package ssdp

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is SSDP.
type Protocol struct {
	pool inspect.FreeList[analyzer]
}

// New returns the SSDP protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "ssdp" }

const portSSDP = 1900

// Match implements inspect.Protocol: an SSDP start line on any UDP port
// (for a 200 response, with an ST or USN header, so that other HTTP over
// UDP is left alone), or the SSDP port.
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if f.IsTCP() {
		return inspect.NoMatch
	}
	var m message
	if parse(b, &m) {
		return inspect.ContentMatch
	}
	if f.Client().Port() == portSSDP || f.Server().Port() == portSSDP {
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

// maxReports bounds the observations of one flow: a root device announces
// itself, its embedded devices and its services, about a dozen USNs.
const maxReports = 64

const maxValue = 256

type analyzer struct {
	proto    *Protocol
	msg      message
	reported [maxReports]uint64
	n        int
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	m := &a.msg
	if !parse(data, m) || a.n == maxReports {
		return len(data)
	}
	target := m.nt
	if m.kind != kindNotify {
		target = m.st
	}
	h := uint64(inspect.NewFNV().Byte(byte(m.kind)).Field(m.usn).Field(target))
	for _, r := range a.reported[:a.n] {
		if r == h {
			return len(data)
		}
	}
	a.reported[a.n] = h
	a.n++
	a.report(f, dir, m)
	return len(data)
}

func (a *analyzer) Gap(*inspect.Flow, inspect.Dir) {}

func (a *analyzer) Close(*inspect.Flow) { a.proto.pool.Put(a) }

func (a *analyzer) report(f *inspect.Flow, dir inspect.Dir, m *message) {
	ev := event.Evidence{"message": m.kind.String()}
	set := func(key string, v []byte) {
		if len(v) > 0 {
			ev[key] = inspect.Scrubbed(v, maxValue)
		}
	}
	set("server", m.server)
	if v := withoutUserinfo(m.location); len(v) > 0 {
		// Not scrubbed: the daemon fetches the description from it, and
		// a *** in its query would fetch the wrong thing. Userinfo is
		// gone.
		ev["location"] = inspect.Printable(v, maxValue)
	}
	set("location_host", inspect.URLHostPort(m.location))
	set("usn", m.usn)
	set("nt", m.nt)
	set("nts", m.nts)
	set("st", m.st)
	set("user_agent", m.userAgent)
	summary := "SSDP " + m.kind.String()
	if t := ev["nt"] + ev["st"]; t != "" {
		summary += " " + t
	}
	f.Emit(dir.Sender(), &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindSSDP,
		Severity: event.SeverityInfo,
		Summary:  summary,
		Evidence: ev,
	})
}

// withoutUserinfo drops "user:password@" from a URL, which no LOCATION
// should carry and no event may.
func withoutUserinfo(url []byte) []byte {
	host := inspect.URLHostPort(url)
	i := bytes.Index(url, []byte("://"))
	if i < 0 || len(url) < i+3+len(host) || bytes.HasPrefix(url[i+3:], host) {
		return url
	}
	authority := url[i+3:]
	end := bytes.IndexAny(authority, "/?#")
	if end < 0 {
		end = len(authority)
	}
	out := append([]byte(nil), url[:i+3]...)
	out = append(out, host...)
	return append(out, authority[end:]...)
}
