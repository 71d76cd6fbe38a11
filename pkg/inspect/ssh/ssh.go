// Package ssh reads the parts of SSH sent in clear: the server's
// identification string (RFC 4253 section 4.2, "SSH-2.0-dropbear_2014.63"),
// reported as a banner, from which the device inventory reads the server
// software and its version; and both sides' SSH_MSG_KEXINIT (section
// 7.1), whose name-lists decide the connection's key exchange, host key,
// ciphers and MACs. An algorithm the two negotiated that is weak (see
// algorithms.go) is a weak_ssh finding; one merely offered is not.
// Everything after the key exchange is encrypted, so inspection stops
// there.
package ssh

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// maxLinesBefore bounds the lines a server may send before its
// identification (RFC 4253 allows some); past them the flow is no SSH
// this package reads.
const maxLinesBefore = 8

// Protocol is SSH.
type Protocol struct {
	pool inspect.FreeList[analyzer]
	// offers lends the names of both sides' KEXINITs to the flows
	// reading them.
	offers inspect.Lender[[2]names]
}

// New returns the SSH protocol.
func New() *Protocol { return &Protocol{offers: inspect.NewLender[[2]names](maxOfferTables)} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "ssh" }

// Match implements inspect.Protocol: an identification string from
// either side proves SSH, and so does one after the other lines a server
// may send first, on any port; the SSH ports are a guess for a server
// whose first segment ends before its identification.
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	if bytes.HasPrefix(b, []byte(identPrefix)) || dir == inspect.ToClient && identAfterLines(b) {
		return inspect.ContentMatch
	}
	switch f.Server().Port() {
	case 22, 2222:
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

// identPrefix begins an identification string.
const identPrefix = "SSH-"

// identAfterLines reports whether a line of b that the analyzer would
// still read, fewer than maxLinesBefore lines in, begins an
// identification string.
func identAfterLines(b []byte) bool {
	for range maxLinesBefore {
		if bytes.HasPrefix(b, []byte(identPrefix)) {
			return true
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	return false
}

// speaksSSH2 reports whether an identification announces SSH 2, whose
// binary packets this package reads: "2.0", or "1.99" from a server that
// speaks SSH 1 too (RFC 4253 section 5.1).
func speaksSSH2(ident []byte) bool {
	return bytes.HasPrefix(ident, []byte("SSH-2.0-")) || bytes.HasPrefix(ident, []byte("SSH-1.99-"))
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(f *inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	a.host = f.HostBucket()
	return a
}

// analyzer reads one connection: each direction's identification line
// (the server's may follow other lines), then its KEXINIT.
type analyzer struct {
	proto *Protocol
	host  uint32 // the client's bucket (Flow.HostBucket)
	lines inspect.Lines
	seen  int // server lines before the identification
	// By inspect.Dir: the side's identification was read, and its
	// binary packets follow.
	ident [2]bool
	kex   [2]kexReader
	// offers holds both sides' names, by inspect.Dir, lent from the
	// start of the first KEXINIT to the end of the flow's inspection.
	offers *[2]names
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	n := a.lines.Feed(a, f, dir, data)
	if a.proto == nil {
		return len(data) // a line ended the inspection
	}
	// Once the server has spoken and the KEXINITs are read, or one
	// cannot be, nothing in the flow is worth reading.
	c, s := &a.kex[inspect.ToServer], &a.kex[inspect.ToClient]
	if a.ident[inspect.ToClient] && (c.failed || s.failed || c.done && s.done) {
		f.StopInspection()
		return len(data)
	}
	return n
}

// Raw implements inspect.LineHandler: after a side's identification
// everything it sends is binary, read by its kexReader; a client whose
// first bytes are not an identification is not read at all, and its
// bytes are never held.
func (a *analyzer) Raw(dir inspect.Dir, b []byte) int {
	if !a.ident[dir] {
		if dir == inspect.ToServer && !bytes.HasPrefix(b, []byte(identPrefix)[:min(len(b), len(identPrefix))]) {
			a.ident[dir] = true
			a.kex[dir].failed = true
			return len(b)
		}
		return 0
	}
	r := &a.kex[dir]
	if r.done || r.failed {
		return len(b)
	}
	if a.offers == nil {
		if a.offers = a.proto.offers.Get(a.host); a.offers == nil {
			r.failed = true
			return len(b)
		}
		a.offers[0].reset()
		a.offers[1].reset()
	}
	r.feed(b, &a.offers[dir])
	return len(b)
}

// ClientLine implements inspect.LineHandler: the client's first line is
// its identification (Raw takes any other first bytes).
func (a *analyzer) ClientLine(_ *inspect.Flow, line []byte) {
	a.ident[inspect.ToServer] = true
	a.kex[inspect.ToServer].failed = !speaksSSH2(line)
}

// ServerLine implements inspect.LineHandler: the identification string
// is reported; the lines before it are skipped.
func (a *analyzer) ServerLine(f *inspect.Flow, line []byte) {
	if bytes.HasPrefix(line, []byte(identPrefix)) {
		inspect.EmitGreeting(f, "ssh", line)
		a.ident[inspect.ToClient] = true
		a.kex[inspect.ToClient].failed = !speaksSSH2(line)
		return
	}
	if a.seen++; a.seen >= maxLinesBefore {
		f.StopInspection()
	}
}

// Gap implements inspect.Analyzer: a line cut by lost bytes is no
// identification, and a KEXINIT with a hole cannot be read.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	if !a.ident[dir] {
		a.lines.Resync(dir)
		return
	}
	if !a.kex[dir].done {
		a.kex[dir].failed = true
	}
}

// Close implements inspect.Analyzer: the negotiation is judged once both
// KEXINITs were read.
func (a *analyzer) Close(f *inspect.Flow) {
	if a.offers != nil {
		if a.kex[inspect.ToServer].done && a.kex[inspect.ToClient].done {
			reportWeakness(f, &a.offers[inspect.ToServer], &a.offers[inspect.ToClient])
		}
		a.proto.offers.Put(a.offers, a.host)
	}
	a.proto.pool.Put(a)
}

// Abandon gives back the offer table after a panic in the analyzer,
// judging nothing: the table would otherwise stay lent for good. The
// analyzer is not pooled again.
func (a *analyzer) Abandon(*inspect.Flow) {
	if a.offers != nil {
		a.proto.offers.Put(a.offers, a.host)
		a.offers = nil
	}
}

// maxOfferTables caps the connections whose KEXINITs are being read at
// once (about 220 KiB of names); a KEXINIT pair is read within a round
// trip, so few are lent at a time, at most 1/HostShareDiv of them to one
// client address (inspect.Lender). A connection refused a table is not
// judged.
const maxOfferTables = 64

// negotiated is RFC 4253 section 7.1's choice in list l: the first of
// the client's names that the server also offers, by its index in the
// client's list, or noneCommon, which fails the connection. known is
// false when the names kept cannot tell.
func negotiated(client, server *names, l list) (i int, known bool) {
	for i, h := range client.hash[l][:client.n[l]] {
		if server.has(l, h) {
			return i, true
		}
		if server.cut[l] {
			return 0, false // the server's names not kept may hold it
		}
	}
	return noneCommon, !client.cut[l]
}

// noneCommon is negotiated's answer for a list whose names the two ends
// share none of.
const noneCommon = -1

// preferred reports whether the client chose the weak name at index i
// of list l itself: it offers no algorithm that is not weak, or it ranks
// one the server offers too below it. A client whose better algorithms
// the server lacks is not to blame.
func preferred(client, server *names, l list, i int) bool {
	if client.cut[l] {
		return false
	}
	other := false
	for j, g := range client.grade[l][:client.n[l]] {
		if g.weak() || g == algPseudo {
			continue
		}
		other = true
		if j > i && server.has(l, client.hash[l][j]) {
			return true
		}
	}
	return !other
}

// weakness is what one end of a connection is to blame for: a set of
// algorithms, a bit each.
type weakness uint64

func (w *weakness) add(a algorithm) { *w |= 1 << a }

func (w weakness) has(a algorithm) bool { return w&(1<<a) != 0 }

// reportWeakness files the weak_ssh findings of a connection whose
// KEXINITs were both read. A list without a common name fails the
// connection (RFC 4253 section 7.1): nothing was negotiated, so nothing
// is filed. The negotiated algorithms are the server's fault, which
// offered them; they are the client's too where it chose
// them over a better one the server offers, or offers nothing better. A
// fault counts against the end on the LAN, as weak_tls does: two LAN
// devices each get their own finding; a device talking to the internet
// gets both ends' (it accepted what its server offered); a LAN server an
// internet client reaches answers only for its own offer.
func reportWeakness(f *inspect.Flow, client, server *names) {
	var serverFault, clientFault weakness
	for l := listKex; l < numLists; l++ {
		if kindOf(l) == listMACC2S && !macNegotiated(client, server, l) {
			continue
		}
		i, known := negotiated(client, server, l)
		switch {
		case !known:
			continue
		case i == noneCommon:
			return
		}
		a := client.grade[l][i]
		if !a.weak() {
			continue
		}
		serverFault.add(a)
		if preferred(client, server, l, i) {
			clientFault.add(a)
		}
	}
	switch {
	case serverFault == 0:
	case f.ServerLocal && f.ClientLocal:
		emitWeakness(f, inspect.SubjectServer, serverFault)
		if clientFault != 0 {
			emitWeakness(f, inspect.SubjectClient, clientFault)
		}
	case f.ServerLocal:
		emitWeakness(f, inspect.SubjectServer, serverFault)
	default:
		emitWeakness(f, inspect.SubjectClient, serverFault)
	}
}

// macNegotiated reports whether the MAC list l decides its direction's
// MAC: not when the cipher chosen authenticates by itself, nor, as far as
// can be told, when which cipher was chosen is not known.
func macNegotiated(client, server *names, l list) bool {
	cipher := listCipherC2S
	if l == listMACS2C {
		cipher = listCipherS2C
	}
	i, known := negotiated(client, server, cipher)
	return known && (i == noneCommon || !aead(client.hash[cipher][i]))
}

// evidenceKey is the evidence field of a weak_ssh finding that names the
// weak algorithms of a kind of list, and what the summary calls them.
func evidenceKey(l list) (key, words string) {
	switch l {
	case listKex:
		return "kex", "key exchange"
	case listHostKey:
		return "host_key", "host key"
	case listCipherC2S:
		return "cipher", "cipher"
	}
	return "mac_algorithm", "MAC"
}

func emitWeakness(f *inspect.Flow, subject inspect.Subject, w weakness) {
	sev := event.SeverityMedium
	ev := event.Evidence{}
	summary := "Weak SSH negotiated:"
	for _, k := range [...]list{listKex, listHostKey, listCipherC2S, listMACC2S} {
		var of weakness
		for a := kexGroup1SHA1; a < numAlgorithms; a++ {
			if w.has(a) && a.kind() == k {
				of.add(a)
				if a.insecure() {
					sev = event.SeverityHigh
				}
			}
		}
		if of == 0 {
			continue
		}
		key, words := evidenceKey(k)
		ev[key] = of.String()
		if len(ev) > 1 {
			summary += ";"
		}
		summary += " " + words + " " + ev[key]
	}
	f.Emit(subject, &event.Event{
		Type:       event.TypeFinding,
		Kind:       event.KindWeakSSH,
		Severity:   sev,
		Capability: event.CapSecureCommunication,
		Provision:  "5.5-1",
		Summary:    summary,
		Evidence:   ev,
	})
}
