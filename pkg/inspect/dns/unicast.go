package dns

import (
	"net/netip"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

const maxAnswers = 8

// unicastMessage pairs queries with responses. The flow's client is the
// querying device whichever side sent the message.
func (a *analyzer) unicastMessage(f *inspect.Flow, dir inspect.Dir, b []byte) {
	h := &a.hdr
	if h.qd == 0 {
		return
	}
	// Only the client's query is its word: a query or a response the
	// server side sends is anyone's datagram "from port 53", and so is a
	// "response" the client sends.
	if h.response != (dir == inspect.ToClient) {
		return
	}
	name := a.name[:h.nameLen]
	printableName(name)
	key := uint64(inspect.NewFNV().Fold(name).Uint16(h.qtype))
	if a.reported.has(key) {
		return
	}
	if !h.response {
		a.addPending(f, key, h.id, name, h.qtype, !h.rd)
		return
	}
	// A response only completes a query the client sent, by its name,
	// type and id; one that matches none (forged, or the capture missed
	// the query) files nothing. Its RD bit is the responder's word, not
	// the client's: a server may clear it answering a query that set it.
	i := a.pendingFor(key, h.id)
	if i < 0 {
		return
	}
	p := &a.pending[i]
	p.used = false
	rcode := ""
	if h.rcode != 0 {
		rcode = rcodeName(h.rcode)
	}
	answers := a.answers(b)
	// The name as the client's query wrote it: its case is the device's.
	s := a.reportQuery(f, key, p.name[:p.nameLen], h.qtype, p.iterative, answers, rcode)
	if answers != "" && f.ClientLocal {
		a.noteNames(f, s)
	}
}

// noteNames tells the engine the name a LAN device looked the answer's
// addresses up by, so that its connections to them are known by the
// service (a CDN's rotating addresses are one). Only an answer to the
// device's own query, as paired above, names anything, and only the
// device's own flows: the flow's client is the device that asked.
func (a *analyzer) noteNames(f *inspect.Flow, name string) {
	for _, addr := range a.addrs[:a.nAddrs] {
		f.Engine().NoteServerName(f, addr.Unmap(), name)
	}
}

// pendingFor is the index of the pending query with key sent with id id,
// or -1.
func (a *analyzer) pendingFor(key uint64, id uint16) int {
	for i := range a.pending {
		if p := &a.pending[i]; p.used && p.key == key && p.hasID(id) {
			return i
		}
	}
	return -1
}

func (a *analyzer) addPending(f *inspect.Flow, key uint64, id uint16, name []byte, qtype uint16, iterative bool) {
	free := -1
	for i := range a.pending {
		p := &a.pending[i]
		if p.used && p.key == key {
			// A retransmit: its response may carry its id. Past
			// maxIDs the first ids stay; retries that many are rare.
			if !p.hasID(id) && int(p.nIDs) < len(p.ids) {
				p.ids[p.nIDs] = id
				p.nIDs++
			}
			return
		}
		if !p.used && free < 0 {
			free = i
		}
	}
	if free < 0 {
		// Report the oldest query unanswered to make room.
		a.flushPending(f, 0)
		copy(a.pending[:], a.pending[1:])
		free = len(a.pending) - 1
	}
	p := &a.pending[free]
	p.used, p.key, p.qtype, p.iterative = true, key, qtype, iterative
	p.ids[0], p.nIDs = id, 1
	p.nameLen = uint8(copy(p.name[:], name))
}

// flushPending reports a query that got no response.
func (a *analyzer) flushPending(f *inspect.Flow, i int) {
	p := &a.pending[i]
	if !p.used {
		return
	}
	p.used = false
	if a.reported.has(p.key) {
		return
	}
	a.reportQuery(f, p.key, p.name[:p.nameLen], p.qtype, p.iterative, "", "")
}

// reportQuery files the query and returns its name as the event has it:
// in lower case, with a label that holds an identifier as "..."
// (inspect.AppendIDMaskedName, which reads name in the case the device
// wrote it), as vendors name a device's own cloud host after its MAC or
// serial ("a1b2c3d4e5f6.iot.vendor.example").
func (a *analyzer) reportQuery(f *inspect.Flow, key uint64, name []byte, qtype uint16, iterative bool, answers, rcode string) string {
	a.reported.add(key)
	var buf [3 * maxName]byte // "..." for each one-byte label
	s := string(inspect.AppendIDMaskedName(buf[:0], name))
	ev := &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindDNSQuery,
		Severity: event.SeverityInfo,
		Summary:  "DNS query for " + s,
		Evidence: event.Evidence{"name": s, "qtype": typeName(qtype)},
	}
	if answers != "" {
		ev.Evidence["answers"] = answers
	}
	if rcode != "" {
		ev.Evidence["rcode"] = rcode
	}
	if iterative {
		// Stub resolvers always ask for recursion; a recursive
		// resolver asking authoritative servers does not.
		ev.Evidence["iterative"] = "yes"
	}
	f.Emit(inspect.SubjectClient, ev)
	return s
}

// answers formats the A and AAAA values of a response's answer section.
func (a *analyzer) answers(b []byte) string {
	a.nAddrs = 0
	var r recordReader
	if !r.init(b, &a.hdr) {
		return ""
	}
	var out []byte
	n := 0
	var rec record
	for n < maxAnswers && r.next(&rec) && rec.section == 0 {
		addr, ok := recordAddr(&rec)
		if !ok {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = addr.AppendTo(out)
		a.addrs[n] = addr
		n++
		a.nAddrs = n
	}
	return string(out)
}

// recordAddr is the address of an A or AAAA record.
func recordAddr(rec *record) (netip.Addr, bool) {
	switch {
	case rec.typ == typeA && len(rec.rdata) == 4:
		return netip.AddrFrom4([4]byte(rec.rdata)), true
	case rec.typ == typeAAAA && len(rec.rdata) == 16:
		return netip.AddrFrom16([16]byte(rec.rdata)), true
	}
	return netip.Addr{}, false
}
