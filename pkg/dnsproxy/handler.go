package dnsproxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// accept runs on the message header before it is unpacked. It answers
// FORMERR (or NOTIMP) for what no stub resolver sends, so that the handler
// only sees plain queries.
func (p *Proxy) accept(h dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if h.Bits&qr != 0 {
		return dns.MsgIgnore // a response: answering it could start a loop
	}
	if opcode := int(h.Bits>>11) & 0xF; opcode != dns.OpcodeQuery {
		p.st.malformed.Add(1)
		return dns.MsgRejectNotImplemented
	}
	// One question; nothing in answer or authority; OPT and perhaps a
	// TSIG in the additional section.
	if h.Qdcount != 1 || h.Ancount != 0 || h.Nscount != 0 || h.Arcount > 2 {
		p.st.malformed.Add(1)
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// serve answers one query; the client's address is the packet's source,
// the router's address it reached the packet's destination. The source
// is one of Config.Clients: clientsOnly read the query.
func (p *Proxy) serve(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) {
	client, tcp := clientOf(w.RemoteAddr())
	at, _ := addrOf(w.LocalAddr())
	resp := p.respond(ctx, client, at, req, tcp)
	if resp == nil {
		return
	}
	if b := p.encode(resp, req, tcp); b != nil {
		// The client went away or the socket closed: nothing to tell anyone.
		_, _ = w.Write(b)
	}
}

// encode packs an answer. An upstream answer the proxy cannot pack again
// becomes SERVFAIL rather than silence, so the client does not wait for
// its timeout.
func (p *Proxy) encode(resp, req *dns.Msg, tcp bool) []byte {
	b, err := resp.Pack()
	if err == nil && len(b) <= dns.MaxMsgSize {
		return b
	}
	p.st.upstreamErrors.Add(1)
	p.log.Debug("cannot pack answer", "err", err)
	b, err = p.fitClient(servFail(req), req, tcp).Pack()
	if err != nil {
		return nil
	}
	return b
}

// isClient reports whether the proxy answers queries from client
// (Config.Clients).
func (p *Proxy) isClient(client netip.Addr) bool {
	if len(p.cfg.Clients) == 0 {
		return true
	}
	return slices.ContainsFunc(p.cfg.Clients, func(pr netip.Prefix) bool { return pr.Contains(client) })
}

// admits reports whether the proxy reads what source sends, and counts
// an outsider.
func (p *Proxy) admits(source net.Addr) bool {
	if client, _ := clientOf(source); p.isClient(client) {
		return true
	}
	p.st.outsiders.Add(1)
	return false
}

var errOutsider = errors.New("dnsproxy: source outside the clients")

// clientsOnly is the servers' reader: it drops what a source outside
// Config.Clients sends before miekg/dns parses it, which would answer a
// malformed query with FORMERR or NOTIMP before any handler sees it.
// The sockets are *net.UDPConn, so ReadPacketConn is not needed.
type clientsOnly struct {
	dns.Reader
	p *Proxy
}

// ReadUDP returns the next datagram from a client; the server's loop
// would end at an error, so an outsider's is skipped here.
func (r clientsOnly) ReadUDP(conn *net.UDPConn, timeout time.Duration) ([]byte, *dns.SessionUDP, error) {
	for {
		m, s, err := r.Reader.ReadUDP(conn, timeout)
		if err != nil || r.p.admits(s.RemoteAddr()) {
			return m, s, err
		}
	}
}

// ReadTCP fails for an outsider's connection, which the server then
// closes: nothing it could ask would be answered.
func (r clientsOnly) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	if !r.p.admits(conn.RemoteAddr()) {
		return nil, errOutsider
	}
	return r.Reader.ReadTCP(conn, timeout)
}

func clientOf(a net.Addr) (client netip.Addr, tcp bool) {
	client, tcp = addrOf(a)
	return client.WithZone(""), tcp
}

// addrOf is a socket address's IP address, with its zone.
func addrOf(a net.Addr) (addr netip.Addr, tcp bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap(), false
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// respond builds the answer to req from client, sent to the listen
// address at. It returns nil only when nothing should be sent.
func (p *Proxy) respond(ctx context.Context, client, at netip.Addr, req *dns.Msg, tcp bool) *dns.Msg {
	p.st.queries.Add(1)
	if tcp {
		p.st.tcpQueries.Add(1)
	}
	if req.Response {
		return nil
	}
	if bad := p.check(req); bad != nil {
		p.st.malformed.Add(1)
		return bad
	}
	q := req.Question[0]
	name := presentationName(q.Name)
	p.observe.add(client, name)

	quarantined := p.cfg.AllQuarantined || p.deps.Quarantine.IsQuarantined(client)
	switch {
	case p.isLocal(q):
		return p.forward(ctx, client, req, tcp)
	case inUpdateDomains(q.Name, p.names.Load().updates):
		p.st.updateLookups.Add(1)
		return p.forwardUpdate(ctx, client, req, tcp, quarantined)
	case !quarantined:
		return p.forward(ctx, client, req, tcp)
	}
	p.st.notice.Add(1)
	return p.notice(req, at)
}

// check returns the error answer for a request the handler cannot serve,
// nil for a good one. The server's accept function already filtered most;
// this also guards callers that skip it (the fuzz target).
func (p *Proxy) check(req *dns.Msg) *dns.Msg {
	if req.Opcode != dns.OpcodeQuery {
		m := formErr(req)
		m.Opcode, m.Rcode = req.Opcode, dns.RcodeNotImplemented
		return m
	}
	if len(req.Question) != 1 || len(req.Answer) != 0 || len(req.Ns) != 0 {
		return formErr(req)
	}
	opts := 0
	for _, rr := range req.Extra {
		if _, ok := rr.(*dns.OPT); ok {
			opts++
		}
	}
	if opts > 1 { // RFC 6891 §6.1.1
		return formErr(req)
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeBadVers)
		m.SetEdns0(uint16(p.cfg.MaxUDPSize), false)
		return m
	}
	return nil
}

func formErr(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcodeFormatError(req)
	m.Question = nil // it may be what was wrong
	return m
}

// isLocal: names only the router can answer are forwarded even for
// quarantined clients: its own domains, host names (one label; A and
// AAAA only) and reverse lookups of LAN addresses (PTR of a whole address
// only). Any other reverse name would reach whoever holds that reverse
// zone on the internet, a channel out for a quarantined device: a zone
// cut wider than a prefix (172.in-addr.arpa for 172.16.0.0/12) holds
// public addresses, and any label can sit below a zone.
func (p *Proxy) isLocal(q dns.Question) bool {
	if dns.CountLabel(q.Name) <= 1 {
		return q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA
	}
	if q.Qtype == dns.TypePTR {
		if a, ok := reverseAddr(q.Name); ok {
			return slices.ContainsFunc(p.cfg.LANPrefixes, func(pr netip.Prefix) bool { return pr.Contains(a) })
		}
	}
	return inDomains(q.Name, p.names.Load().local)
}

// reverseAddr is the address a reverse-lookup name names: four decimal
// octets under in-addr.arpa, or 32 hex nibbles under ip6.arpa, in any
// case. Anything else is not an address's name.
func reverseAddr(name string) (netip.Addr, bool) {
	labels := dns.SplitDomainName(strings.ToLower(name))
	n := len(labels)
	switch {
	case n == 6 && labels[4] == "in-addr" && labels[5] == "arpa":
		var b [4]byte
		for i := range 4 {
			v, err := strconv.ParseUint(labels[3-i], 10, 8)
			if err != nil || (len(labels[3-i]) > 1 && labels[3-i][0] == '0') {
				return netip.Addr{}, false
			}
			b[i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	case n == 34 && labels[32] == "ip6" && labels[33] == "arpa":
		var b [16]byte
		for i := range 32 {
			l := labels[31-i]
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v, err := strconv.ParseUint(l, 16, 4)
			if err != nil {
				return netip.Addr{}, false
			}
			b[i/2] |= byte(v) << (4 * (1 - i%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// notice answers a quarantined client whose query reached the listen
// address at: the notice address of its link (Config.Links) for A and,
// when there is one, AAAA, an empty answer for everything else, so that
// the device's next connection lands on the router's notice page.
func (p *Proxy) notice(req *dns.Msg, at netip.Addr) *dns.Msg {
	addrs, ok := p.noticeAt[at]
	if !ok {
		addrs = p.fallback
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	// The answer's owner name points at the question's: written out
	// again, a name near 255 bytes would take the answer past the 512
	// bytes a client without EDNS reads.
	m.Compress = true
	q := req.Question[0]
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: uint32(p.cfg.NoticeTTL / time.Second)}
	if q.Qclass == dns.ClassINET {
		switch {
		case q.Qtype == dns.TypeA:
			hdr.Rrtype = dns.TypeA
			m.Answer = []dns.RR{&dns.A{Hdr: hdr, A: addrs.v4.AsSlice()}}
		case q.Qtype == dns.TypeAAAA && addrs.v6.IsValid():
			hdr.Rrtype = dns.TypeAAAA
			m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr, AAAA: addrs.v6.AsSlice()}}
		}
	}
	if req.IsEdns0() != nil {
		m.SetEdns0(uint16(p.cfg.MaxUDPSize), false)
	}
	return m
}

// forward sends req to the upstream and returns its answer unchanged but
// for the ID, the EDNS record (the client's view) and truncation to what
// the client can take over UDP.
func (p *Proxy) forward(ctx context.Context, client netip.Addr, req *dns.Msg, tcp bool) *dns.Msg {
	resp, ok := p.exchange(ctx, client, req)
	if ok {
		p.st.forwarded.Add(1)
	}
	return p.fitClient(resp, req, tcp)
}

// forwardUpdate forwards a query for an update domain and, before the
// client sees the answer, lets quarantined devices reach the addresses in
// it. That is done whoever asks: the proxy knows quarantined devices by
// address, the redirect by MAC, and a device whose new address the daemon
// has not learnt yet must still reach its update host. A quarantined
// client's answer has its TTLs capped to what is left of the addresses'
// allowance (0 when one is not allowed), so that it never caches an
// address longer than it may reach it, and holds only the addresses it
// may reach (a private one, or one past the first maxAllowPerAnswer,
// would only make it try and fail); other clients' answers stay
// unchanged.
func (p *Proxy) forwardUpdate(ctx context.Context, client netip.Addr, req *dns.Msg, tcp, quarantined bool) *dns.Msg {
	// The slot is held through the allow-set update too, so that queries
	// waiting on a slow backend stay within MaxUpstream.
	if !p.takeSlot(client) {
		return servFail(req)
	}
	defer p.slots.release(client)
	resp, ok := p.exchangeHeld(ctx, req)
	if !ok {
		return p.fitClient(resp, req, tcp)
	}
	p.st.forwarded.Add(1)
	addrs, ttl := p.allowAddrs(req.Question[0], resp)
	if len(addrs) > 0 {
		left := p.pushAllowed(ctx, addrs, ttl)
		if quarantined {
			capTTL(resp, left)
		}
	}
	if quarantined {
		keepAddrs(resp, addrs)
	}
	return p.fitClient(resp, req, tcp)
}

// exchange returns the upstream's answer and true, or SERVFAIL and false
// if the upstream failed or too many queries are in flight, in all or of
// client.
func (p *Proxy) exchange(ctx context.Context, client netip.Addr, req *dns.Msg) (*dns.Msg, bool) {
	if !p.takeSlot(client) {
		return servFail(req), false
	}
	defer p.slots.release(client)
	return p.exchangeHeld(ctx, req)
}

// takeSlot takes an upstream slot for client if one is free to it, and
// counts a refusal.
func (p *Proxy) takeSlot(client netip.Addr) bool {
	if p.slots.take(client) {
		return true
	}
	p.st.overloaded.Add(1)
	return false
}

// exchangeHeld is exchange for a caller holding a slot.
func (p *Proxy) exchangeHeld(ctx context.Context, req *dns.Msg) (*dns.Msg, bool) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.UpstreamTimeout)
	defer cancel()
	resp, err := p.upstreamQuery(ctx, req)
	if err != nil {
		p.st.upstreamErrors.Add(1)
		p.log.Debug("upstream query failed", "err", err)
		return servFail(req), false
	}
	return resp, true
}

func servFail(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// fitClient makes an answer fit the client that asked: its ID, an OPT
// record only if it sent one, no TSIG, and no more than it can take over
// UDP.
func (p *Proxy) fitClient(resp, req *dns.Msg, tcp bool) *dns.Msg {
	resp.Id = req.Id
	clientOPT := req.IsEdns0()
	respOPT := stripOPTAndTSIG(resp)
	if clientOPT != nil {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		if respOPT != nil {
			opt.Option = respOPT.Option
			opt.SetDo(respOPT.Do())
		}
		opt.SetUDPSize(uint16(p.cfg.MaxUDPSize))
		resp.Extra = append(resp.Extra, opt)
	} else if resp.Rcode > 0xF {
		// An extended rcode needs the OPT record the client cannot read.
		return servFail(req)
	}
	if tcp {
		resp.Compress = true
		return resp
	}
	size := dns.MinMsgSize
	if clientOPT != nil {
		size = min(max(int(clientOPT.UDPSize()), dns.MinMsgSize), p.cfg.MaxUDPSize)
	}
	resp.Truncate(size)
	if resp.Truncated {
		p.st.truncated.Add(1)
	}
	return resp
}

// stripOPTAndTSIG removes the message's OPT and TSIG records and returns
// its first OPT record, if any. A TSIG signs the upstream's hop, which the
// proxy asked unsigned: the client cannot check it, and miekg/dns cuts no
// message that ends with one to the client's size.
func stripOPTAndTSIG(m *dns.Msg) *dns.OPT {
	var opt *dns.OPT
	kept := m.Extra[:0]
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt == nil {
				opt = o
			}
			continue
		}
		if rr.Header().Rrtype == dns.TypeTSIG {
			continue
		}
		kept = append(kept, rr)
	}
	m.Extra = kept
	return opt
}
