package dns

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Bounds of one mDNS observation.
const (
	maxListed   = 8  // addresses, services
	maxTXT      = 16 // txt_ entries
	maxTXTValue = 64
	maxLabel    = 64 // host and instance names
)

// isTXTKey reports whether a lower-case TXT key names a device's maker,
// model or firmware (Apple AirPlay and HomeKit, Google Cast, IPP and
// Bonjour printing, and vendors' own keys), or says whose they are: rp,
// an IPP queue's path, is printers/… for a queue CUPS shares from a
// computer, whose printer keys then describe the printer on its port.
func isTXTKey(k string) bool {
	switch k {
	case "md", "model", "fv", "ty", "manufacturer", "usb_mfg", "usb_mdl", "vendor", "fn", "ve", "version", "osxvers", "am", "rp":
		return true
	}
	return false
}

func (a *analyzer) mdnsMessage(f *inspect.Flow, dir inspect.Dir, b []byte) {
	h := &a.hdr
	if !h.response && h.ns == 0 {
		a.mdnsQuery(f, dir, b)
		return
	}
	// Announcements repeat byte for byte; the ID is 0 or random. They
	// run to hundreds of bytes: maphash, not FNV a byte at a time.
	key := maphash.Bytes(a.proto.seed, b[2:])
	if a.seen.has(key) {
		return
	}
	a.seen.add(key)
	var r recordReader
	if !r.init(b, h) {
		return
	}
	// The sender's address: the records of a host that has it are the
	// sender's own. Its hosts go into the table first, so that a
	// response naming more hosts than the table holds keeps them.
	sender := f.Client().Addr()
	if dir == inspect.ToClient {
		sender = f.Server().Addr()
	}
	var hosts hostTable
	var rec record
	for r.next(&rec) {
		if a.fromSender(&rec) {
			hosts.own(&rec, sender.Unmap())
		}
	}
	r.init(b, h)
	for r.next(&rec) {
		if a.fromSender(&rec) {
			hosts.link(b, &rec, &a.name)
		}
	}
	var evs [maxHosts]mdnsEvidence
	r.init(b, h)
	for r.next(&rec) {
		if !a.fromSender(&rec) {
			continue
		}
		g := 0
		if hosts.n > 1 {
			if g = hosts.groupOf(b, &rec, &a.name); g < 0 {
				continue // tied to no one host of several
			}
		}
		evs[g].add(b, &rec, &a.name)
	}
	for g := range max(hosts.n, 1) {
		if hosts.n > 1 && !hosts.reported(g, len(evs[g].addresses) > 0) {
			continue
		}
		ev := evs[g].evidence()
		if hosts.n > 1 && !hosts.anyOwn {
			// No host has the sender's address: a Thread border
			// router (a HomePod) relays accessories' records by
			// their addresses on the mesh's prefix, which nothing
			// says are not the sender's.
			ev["several_hosts"] = "yes"
		}
		a.report(f, dir, ev, "mDNS announcement")
	}
}

// fromSender reports whether a record of the current message describes
// its sender's side: a response's records, and the authority section of
// a probe (the records the sender wants to own). A query's answers are
// known answers about others.
func (a *analyzer) fromSender(rec *record) bool {
	return a.hdr.response || rec.section == 1
}

// Bounds of splitting one announcement by host.
const (
	maxHosts     = 4
	maxInstances = 16
)

// hostTable splits an announcement by the hosts it names, for one that
// carries the records of several: a Bonjour Sleep Proxy or an Apple TV
// answering for a sleeping Mac beside its own records, an mDNS reflector
// packing its own services with those it relays. A host is a name under
// .local owning address records or targeted by an SRV record; a service
// instance belongs to its SRV target, its TXT and PTR records to the
// instance. Instances are known by their first label, which links a
// host's _device-info TXT record (no SRV of its own) to the instances of
// its services. Names compare as hashes with ASCII case folded; nothing
// allocates.
type hostTable struct {
	key    [maxHosts]uint64
	sender [maxHosts]bool // one of its address records is the sender's address
	n      int
	anyOwn bool // some host has the sender's address
	inst   [maxInstances]instanceHost
	ni     int
}

type instanceHost struct {
	key  uint64
	host int // -1: SRV records tie it to two hosts
}

// own adds the host of an address record carrying the sender's address,
// as the sender's.
func (t *hostTable) own(rec *record, sender netip.Addr) {
	addr, ok := recordAddr(rec)
	if !ok || addr.Unmap() != sender {
		return
	}
	if host, ok := localHost(rec.owner); ok {
		if i := t.host(foldKey(host), true); i >= 0 {
			t.sender[i], t.anyOwn = true, true
		}
	}
}

// link records the host a record names, and the host of a service
// instance.
func (t *hostTable) link(msg []byte, rec *record, scratch *[maxName]byte) {
	switch rec.typ {
	case typeA, typeAAAA:
		if host, ok := localHost(rec.owner); ok {
			t.host(foldKey(host), true)
		}
	case typeSRV:
		if len(rec.rdata) <= 6 {
			return
		}
		n, _, _, ok := readName(msg, rec.rdOff+6, scratch)
		if !ok {
			return
		}
		host, ok := localHost(scratch[:n])
		if !ok {
			return
		}
		i := t.host(foldKey(host), true)
		if label, ok := instanceLabel(rec.owner, rec.ownerFirst); ok {
			t.linkInstance(foldKey(label), i)
		}
	case typePTR:
		if !hasSuffixFold(rec.owner, ".arpa") {
			return
		}
		if n, _, _, ok := readName(msg, rec.rdOff, scratch); ok {
			if host, ok := localHost(scratch[:n]); ok {
				t.host(foldKey(host), true)
			}
		}
	}
}

// host is the index of a host, added when add is set and there is room;
// -1 when it is not (or cannot be) in the table.
func (t *hostTable) host(key uint64, add bool) int {
	for i := range t.n {
		if t.key[i] == key {
			return i
		}
	}
	if !add || t.n == maxHosts {
		return -1
	}
	t.key[t.n] = key
	t.n++
	return t.n - 1
}

func (t *hostTable) linkInstance(key uint64, host int) {
	if host < 0 {
		return
	}
	for i := range t.ni {
		if in := &t.inst[i]; in.key == key {
			if in.host != host {
				in.host = -1
			}
			return
		}
	}
	if t.ni < maxInstances {
		t.inst[t.ni] = instanceHost{key, host}
		t.ni++
	}
}

func (t *hostTable) instance(name []byte, first int) int {
	label, ok := instanceLabel(name, first)
	if !ok {
		return -1
	}
	key := foldKey(label)
	for i := range t.ni {
		if t.inst[i].key == key {
			return t.inst[i].host
		}
	}
	return -1
}

// groupOf is the index of the host a record belongs to; -1 when it
// belongs to none of them, or may belong to several (a service type
// enumeration, a TXT record of an instance without an SRV record).
func (t *hostTable) groupOf(msg []byte, rec *record, scratch *[maxName]byte) int {
	switch rec.typ {
	case typeA, typeAAAA:
		if host, ok := localHost(rec.owner); ok {
			return t.host(foldKey(host), false)
		}
	case typeSRV, typeTXT:
		if host, ok := localHost(rec.owner); ok {
			return t.host(foldKey(host), false)
		}
		return t.instance(rec.owner, rec.ownerFirst)
	case typePTR:
		n, first, _, ok := readName(msg, rec.rdOff, scratch)
		if !ok {
			return -1
		}
		if hasSuffixFold(rec.owner, ".arpa") {
			if host, ok := localHost(scratch[:n]); ok {
				return t.host(foldKey(host), false)
			}
			return -1
		}
		return t.instance(scratch[:n], first)
	}
	return -1
}

// reported says whether the records of host g of several are reported
// as the sender's: when some host has the sender's address, those hosts
// only; else those with address records, which the device layer checks
// against the addresses it knows of the sender. A host of several with
// no address record may be anyone's.
func (t *hostTable) reported(g int, hasAddrs bool) bool {
	if t.anyOwn {
		return t.sender[g]
	}
	return hasAddrs
}

// instanceLabel is the instance part of a DNS-SD service instance name
// ("Living Room" of "Living Room._airplay._tcp.local"); first is the
// length of its first label.
func instanceLabel(name []byte, first int) ([]byte, bool) {
	svc, ok := cutServiceType(name)
	if !ok || first == 0 || len(name) != first+1+len(svc)+len(".local") {
		return nil, false
	}
	return name[:first], true
}

// foldKey hashes a name with ASCII case folded.
func foldKey(b []byte) uint64 { return uint64(inspect.NewFNV().Fold(b)) }

// mdnsQuery reports the service types a query browses for. Its answer
// section lists records the sender already knows, about other devices,
// and is not read.
func (a *analyzer) mdnsQuery(f *inspect.Flow, dir inspect.Dir, b []byte) {
	h := a.hdr
	key := inspect.NewFNV()
	n := 0
	off := headerLen
	for range h.qd {
		l, _, end, ok := readName(b, off, &a.name)
		if !ok || end+4 > len(b) {
			return
		}
		off = end + 4
		if binary.BigEndian.Uint16(b[end:]) != typePTR {
			continue
		}
		if svc, ok := cutServiceType(a.name[:l]); ok {
			key = key.Field(svc)
			n++
		}
	}
	if n == 0 || a.seen.has(uint64(key)) {
		return
	}
	a.seen.add(uint64(key))
	var services []string
	off = headerLen
	for range h.qd {
		l, _, end, _ := readName(b, off, &a.name)
		off = end + 4
		if binary.BigEndian.Uint16(b[end:]) != typePTR {
			continue
		}
		if svc, ok := cutServiceType(a.name[:l]); ok && len(services) < maxListed && !slices.Contains(services, lowerString(svc)) {
			services = append(services, lowerString(svc))
		}
	}
	a.report(f, dir, event.Evidence{"queried_services": strings.Join(services, ",")}, "mDNS query")
}

// report emits an mDNS observation unless the flow reported the same
// evidence before.
func (a *analyzer) report(f *inspect.Flow, dir inspect.Dir, ev event.Evidence, what string) {
	if len(ev) == 0 {
		return
	}
	keys := make([]string, 0, len(ev))
	for k := range ev {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := inspect.NewFNV()
	for _, k := range keys {
		h = h.Text(k).Byte(0).Text(ev[k]).Byte(0)
	}
	if a.reported.has(uint64(h)) {
		return
	}
	a.reported.add(uint64(h))
	summary := what
	if host := ev["hostname"]; host != "" {
		summary += " from " + host
	}
	f.Emit(dir.Sender(), &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindMDNS,
		Severity: event.SeverityInfo,
		Summary:  summary,
		Evidence: ev,
	})
}

// mdnsEvidence collects what an announcement says about its sender.
type mdnsEvidence struct {
	hostname, fallbackHost string
	instance               string
	addresses, services    []string
	txt                    []string // key, value pairs
}

// add reads one record of msg; scratch holds names read from its rdata.
func (m *mdnsEvidence) add(msg []byte, rec *record, scratch *[maxName]byte) {
	switch rec.typ {
	case typeA, typeAAAA:
		host, ok := localHost(rec.owner)
		if !ok {
			return
		}
		if m.hostname == "" {
			m.hostname = inspect.CleanText(host, maxLabel)
		}
		if addr, ok := recordAddr(rec); ok {
			m.addList(&m.addresses, addr.String())
		}
	case typePTR:
		n, first, _, ok := readName(msg, rec.rdOff, scratch)
		if !ok {
			return
		}
		target := scratch[:n]
		switch {
		case hasSuffixFold(rec.owner, ".arpa"):
			if host, ok := localHost(target); ok && m.fallbackHost == "" {
				m.fallbackHost = inspect.CleanText(host, maxLabel)
			}
		case bytes.EqualFold(rec.owner, []byte("_services._dns-sd._udp.local")):
			if svc, ok := cutServiceType(target); ok {
				m.addList(&m.services, lowerString(svc))
			}
		default:
			m.instanceOf(target, first)
		}
	case typeSRV:
		m.instanceOf(rec.owner, rec.ownerFirst)
		// priority, weight, port, then the target host
		if len(rec.rdata) <= 6 || m.fallbackHost != "" {
			return
		}
		if n, _, _, ok := readName(msg, rec.rdOff+6, scratch); ok {
			if host, ok := localHost(scratch[:n]); ok {
				m.fallbackHost = inspect.CleanText(host, maxLabel)
			}
		}
	case typeTXT:
		m.instanceOf(rec.owner, rec.ownerFirst)
		m.addTXT(rec.rdata)
	}
}

// instanceOf records the service type and instance of a DNS-SD service
// instance name ("Living Room._googlecast._tcp.local"); first is the
// length of its first label.
func (m *mdnsEvidence) instanceOf(name []byte, first int) {
	svc, ok := cutServiceType(name)
	if !ok {
		return
	}
	m.addList(&m.services, lowerString(svc))
	if label, ok := instanceLabel(name, first); ok && m.instance == "" {
		m.instance = inspect.CleanText(label, maxLabel)
	}
}

// addTXT reads the key=value strings of a TXT record (RFC 6763 6).
func (m *mdnsEvidence) addTXT(rdata []byte) {
	for len(rdata) > 0 {
		n := int(rdata[0])
		if 1+n > len(rdata) {
			return
		}
		s := rdata[1 : 1+n]
		rdata = rdata[1+n:]
		k, v, ok := bytes.Cut(s, []byte("="))
		if !ok || len(m.txt) >= 2*maxTXT {
			continue
		}
		key := "txt_" + lowerString(k)
		if !isTXTKey(key[4:]) || slices.Contains(m.txt, key) {
			continue
		}
		m.txt = append(m.txt, key, inspect.CleanText(v, maxTXTValue))
	}
}

func (m *mdnsEvidence) addList(list *[]string, s string) {
	if len(*list) < maxListed && !slices.Contains(*list, s) {
		*list = append(*list, s)
	}
}

func (m *mdnsEvidence) evidence() event.Evidence {
	ev := event.Evidence{}
	host := m.hostname
	if host == "" {
		host = m.fallbackHost
	}
	if host != "" {
		ev["hostname"] = host
	}
	// Sorted, so that the same records in another order (announcements
	// and probes differ) read as the same evidence.
	if len(m.addresses) > 0 {
		slices.Sort(m.addresses)
		ev["addresses"] = strings.Join(m.addresses, ",")
	}
	if len(m.services) > 0 {
		slices.Sort(m.services)
		ev["services"] = strings.Join(m.services, ",")
	}
	if m.instance != "" {
		ev["instance"] = m.instance
	}
	for i := 0; i+1 < len(m.txt); i += 2 {
		ev[m.txt[i]] = m.txt[i+1]
	}
	return ev
}

// localHost returns the host part of a name under .local ("tv.local" →
// "tv"); false for other names and for DNS-SD names.
func localHost(name []byte) ([]byte, bool) {
	if !hasSuffixFold(name, ".local") || len(name) == len(".local") {
		return nil, false
	}
	host := name[:len(name)-len(".local")]
	if host[0] == '_' || bytes.Contains(host, []byte("._")) {
		return nil, false
	}
	return host, true
}

func hasSuffixFold(s []byte, suffix string) bool {
	_, ok := cutSuffix(s, suffix)
	return ok
}

func lowerString(b []byte) string { return strings.ToLower(string(b)) }

// cutServiceType returns the DNS-SD service type of a name, as a part of
// it: "_ipp._tcp" for "_ipp._tcp.local", for the instance
// "Printer._ipp._tcp.local" and for the subtype
// "_universal._sub._ipp._tcp.local". Case is ignored and kept.
func cutServiceType(name []byte) ([]byte, bool) {
	rest, ok := cutSuffix(name, ".local")
	if !ok {
		return name[:0], false
	}
	end := len(rest)
	if rest, ok = cutSuffix(rest, "._tcp"); !ok {
		if rest, ok = cutSuffix(rest, "._udp"); !ok {
			return name[:0], false
		}
	}
	start := len(rest)
	for start > 0 && rest[start-1] != '.' {
		start--
	}
	svc := rest[start:]
	if len(svc) < 2 || svc[0] != '_' || bytes.EqualFold(svc, []byte("_sub")) {
		return name[:0], false
	}
	return name[start:end], true
}

// cutSuffix removes a suffix, ignoring ASCII case.
func cutSuffix(s []byte, suffix string) ([]byte, bool) {
	if len(s) < len(suffix) || !inspect.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}
