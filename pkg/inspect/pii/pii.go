// Package pii finds personal data in unencrypted payloads: e-mail
// addresses, phone numbers, precise locations (labelled coordinates and
// NMEA sentences), payment card numbers, IMEIs, MAC addresses and serial
// numbers sent to the internet, Wi-Fi credentials, and names and postal
// addresses in labelled fields. Each is reported as a personal_data
// finding against ETSI EN 303 645 provision 5.8-1 with a redacted sample;
// the datum itself never leaves the scanner.
//
// Scanning is hand-written over bytes, without regular expressions, and
// does not allocate unless it reports a finding. docs/pii.md lists every
// rule and the guards against false positives.
package pii

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Scanner implements inspect.PayloadScanner. It keeps scratch space and a
// small table of what each recent flow already reported, so one Scanner
// serves one engine (one goroutine), like the Protocols that call it.
type Scanner struct {
	find *finder
	seen seenTable
	geo  geoMemory
}

var _ inspect.PayloadScanner = (*Scanner)(nil)

// New returns a Scanner.
func New() *Scanner {
	return &Scanner{find: newFinder()}
}

// ScanPayload implements inspect.PayloadScanner: it reports the personal
// data in b, sent in direction dir on f; where names the part of the
// protocol b came from ("body", "url", "payload"). A datum that runs into
// an end of b that cut marks is not reported: it may be part of a longer
// one. b is borrowed.
func (s *Scanner) ScanPayload(f *inspect.Flow, dir inspect.Dir, where string, b []byte, cut inspect.Cut) {
	senderLocal, receiverLocal := f.ClientLocal, f.ServerLocal
	if dir == inspect.ToClient {
		senderLocal, receiverLocal = receiverLocal, senderLocal
	}
	if !senderLocal && !receiverLocal {
		return // transit between two outside hosts: no device of ours
	}
	// Device identifiers (MACs, serials, IMEIs) identify a device to
	// third parties: only worth reporting when they leave the home
	// network.
	matches := s.find.find(b, cut, where == inspect.WhereURL || where == inspect.WhereForm, senderLocal && !receiverLocal,
		where == inspect.WhereMQTTCommand)
	for i := range matches {
		m := &matches[i]
		if where == inspect.WhereResponseBody && m.label < 0 && (!senderLocal || receiverLocal) {
			// Free text of a web response is as likely the page's own
			// (a shop's imprint, a printer page's support address) as
			// the owner's; only a labelled field (an API's
			// {"email":…}) is the device's. A LAN server's page that
			// goes out to the internet is the LAN's, free text and all;
			// so is mail fetched in clear (POP3, IMAP).
			continue
		}
		if m.kind == kindLocation && !senderLocal {
			// A position an internet host sends a device is its own
			// guess (a geo-IP or weather service's city centre for the
			// device's address), not the home's disclosed; the device
			// may pass it on (to a weather API), and that is no
			// finding either.
			s.geo.remember(receiver(f, dir), m)
			continue
		}
		if m.kind == kindLocation && s.geo.echoes(sender(f, dir), m) {
			continue
		}
		if !s.seen.first(f, dir, m) {
			continue
		}
		s.report(f, dir, where, b, m, senderLocal, receiverLocal)
	}
}

func (s *Scanner) report(f *inspect.Flow, dir inspect.Dir, where string, b []byte, m *match, senderLocal, receiverLocal bool) {
	direction := event.LANToLAN
	switch {
	case senderLocal && !receiverLocal:
		direction = event.LANToWAN
	case !senderLocal:
		direction = event.WANToLAN
	}
	severity := event.SeverityLow
	if direction != event.LANToLAN {
		severity = event.SeverityMedium
		if m.kind == kindCard || m.kind == kindWiFi || m.kind == kindDevicePassword {
			severity = event.SeverityHigh
		}
	}
	subject, destination := inspect.SubjectClient, endpoint(f.Server())
	if dir == inspect.ToClient {
		// A client's port is one per connection: with it, a device that
		// polls an API would be one finding, and one alert, per poll.
		subject, destination = inspect.SubjectServer, f.Client().Addr().Unmap().String()
	}
	if !senderLocal {
		// Data from the internet to a device is the device's data.
		if subject == inspect.SubjectClient {
			subject = inspect.SubjectServer
		} else {
			subject = inspect.SubjectClient
		}
	}
	ev := &event.Event{
		Type:       event.TypeFinding,
		Kind:       event.KindPersonalData,
		Severity:   severity,
		Capability: event.CapPersonalData,
		Provision:  "5.8-1",
		Evidence: event.Evidence{
			"data_kind":   m.kind.String(),
			"sample":      sample(m, b),
			"where":       where,
			"direction":   string(direction),
			"destination": destination,
		},
	}
	field := ""
	if m.label >= 0 {
		field = s.find.labels.labels[m.label].field
		ev.Evidence["field"] = field
	}
	ev.Summary = summary(m.kind, field, where, direction, ev.Evidence["destination"])
	f.Emit(subject, ev)
}

// sample is the redacted form of a match: at most two leading characters
// and never more than a third of the value. Wi-Fi credentials and device
// passwords show none: their value is a key.
func sample(m *match, b []byte) string {
	if m.kind == kindWiFi || m.kind == kindDevicePassword {
		return "***"
	}
	return inspect.Redact(b[m.start:m.end])
}

func endpoint(ap netip.AddrPort) string {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

func summary(k dataKind, field, where string, d event.Direction, dest string) string {
	how := "sent without encryption to"
	if d == event.WANToLAN {
		how = "sent without encryption from the internet to"
	}
	if field != "" {
		return fmt.Sprintf("%s (field %q, in %s) %s %s", k.describe(), field, where, how, dest)
	}
	return fmt.Sprintf("%s (in %s) %s %s", k.describe(), where, how, dest)
}

// Per-flow memory of what was reported, so a device that sends its
// e-mail address in every request is reported once per connection. The
// table is fixed: the oldest flow is forgotten first, which at worst
// repeats a finding (the device inventory deduplicates those too).
const (
	seenFlows   = 256
	seenPerFlow = 16 // findings per flow; more are dropped
)

type seenFlow struct {
	key   inspect.FlowKey
	first int64 // flow start, so a reused 5-tuple is a new flow
	n     int
	ids   [seenPerFlow]uint32
}

type seenTable struct {
	flows [seenFlows]seenFlow
	next  int
}

// first records m on f and reports whether it is new for the flow. It
// runs only for matches, so the linear search costs nothing on payloads
// without personal data.
func (t *seenTable) first(f *inspect.Flow, dir inspect.Dir, m *match) bool {
	id := uint32(m.kind)<<16 | uint32(m.label+1)<<1 | uint32(dir)
	start := f.First().UnixNano()
	key := f.Key()
	var e *seenFlow
	for i := range t.flows {
		if t.flows[i].first == start && t.flows[i].key == key {
			e = &t.flows[i]
			break
		}
	}
	if e == nil {
		e = &t.flows[t.next]
		t.next = (t.next + 1) % seenFlows
		*e = seenFlow{key: key, first: start}
	}
	for _, seen := range e.ids[:e.n] {
		if seen == id {
			return false
		}
	}
	if e.n == seenPerFlow {
		return false
	}
	e.ids[e.n] = id
	e.n++
	return true
}

// sender and receiver are the addresses of the ends of f that sent and
// received what went in direction dir.
func sender(f *inspect.Flow, dir inspect.Dir) netip.Addr {
	if dir == inspect.ToClient {
		return f.Server().Addr().Unmap()
	}
	return f.Client().Addr().Unmap()
}

func receiver(f *inspect.Flow, dir inspect.Dir) netip.Addr {
	if dir == inspect.ToClient {
		return f.Client().Addr().Unmap()
	}
	return f.Server().Addr().Unmap()
}

// The positions devices received from the internet, so that one passed
// back out (a weather clock that asks a geo-IP service where it is and
// then asks a weather API about that place) is not reported as the
// home's. The memory is fixed: geoDevices devices, the one that received
// a position longest ago forgotten first, and geoPerDevice positions
// each, the oldest forgotten first. It keeps only the two numbers,
// rounded to 1e-7 degrees, in memory.
const (
	geoDevices   = 64
	geoPerDevice = 4
	geoScale     = 1e7 // fixed-point units per degree
)

// geoFix is a position in 1e-7 degrees, its two numbers in the order
// they were written.
type geoFix [2]int64

type geoDevice struct {
	addr  netip.Addr
	fixes [geoPerDevice]geoFix
	n     int // fixes held
	next  int // the one to replace next
}

type geoMemory struct {
	devs [geoDevices]geoDevice
	used int // devs in use: until a device receives a position, none
	next int
}

func (g *geoMemory) device(addr netip.Addr) *geoDevice {
	for i := range g.devs[:g.used] {
		if g.devs[i].addr == addr {
			return &g.devs[i]
		}
	}
	return nil
}

// remember records the position of m, received from the internet by the
// device at addr.
func (g *geoMemory) remember(addr netip.Addr, m *match) {
	fix := geoFix{toFixed(m.at[0]), toFixed(m.at[1])}
	d := g.device(addr)
	if d == nil {
		d = &g.devs[g.next]
		g.next = (g.next + 1) % geoDevices
		g.used = min(g.used+1, geoDevices)
		*d = geoDevice{addr: addr}
	}
	for _, f := range d.fixes[:d.n] {
		if f == fix {
			return
		}
	}
	d.fixes[d.next] = fix
	d.next = (d.next + 1) % geoPerDevice
	d.n = min(d.n+1, geoPerDevice)
}

// echoes reports whether the position of m, sent by the device at addr,
// is one it received from the internet, the same to the digits sent (a
// received 52.519634 sent as 52.5196 or 52.51963 is the same; 52.519612
// sent after 52.5196 received is not), its two numbers in either order
// (GeoJSON writes longitude first).
func (g *geoMemory) echoes(addr netip.Addr, m *match) bool {
	d := g.device(addr)
	if d == nil {
		return false
	}
	for _, f := range d.fixes[:d.n] {
		if sameTo(m.at[0], f[0]) && sameTo(m.at[1], f[1]) || sameTo(m.at[0], f[1]) && sameTo(m.at[1], f[0]) {
			return true
		}
	}
	return false
}

func toFixed(c coord) int64 { return int64(math.Round(c.val * geoScale)) }

// sameTo: the number sent, with its decimals, is the received one
// rounded or cut to that many decimals.
func sameTo(sent coord, received int64) bool {
	d := min(sent.decimals, 7)
	scale := int64(1)
	for range 7 - d {
		scale *= 10
	}
	s := int64(math.Round(sent.val * geoScale / float64(scale)))
	cut := received / scale // toward zero
	rounded := cut
	if r := received % scale; 2*r >= scale {
		rounded++
	} else if 2*r <= -scale {
		rounded--
	}
	return s == cut || s == rounded
}
