package dnsproxy

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestTruncationAndEDNS(t *testing.T) {
	up := startUpstream(t)
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	addr := p.Addrs()[0]

	t.Run("udp_without_edns_truncated_to_512", func(t *testing.T) {
		r := ask(t, "udp", addr, query("big.test.", dns.TypeTXT))
		if !r.Truncated {
			t.Error("TC not set")
		}
		if n := r.Len(); n > dns.MinMsgSize {
			t.Errorf("answer is %d bytes, over 512", n)
		}
		if r.IsEdns0() != nil {
			t.Error("OPT in the answer to a query without one")
		}
	})
	t.Run("udp_edns_4096_capped_at_max_udp_size", func(t *testing.T) {
		m := query("big.test.", dns.TypeTXT)
		m.SetEdns0(4096, false)
		r := ask(t, "udp", addr, m)
		if !r.Truncated {
			t.Error("TC not set")
		}
		if n := r.Len(); n > DefaultMaxUDPSize {
			t.Errorf("answer is %d bytes, over %d", n, DefaultMaxUDPSize)
		}
		opt := r.IsEdns0()
		if opt == nil || opt.UDPSize() != DefaultMaxUDPSize {
			t.Errorf("answer OPT %v, want payload size %d", opt, DefaultMaxUDPSize)
		}
	})
	t.Run("tcp_full_answer_upstream_retried_over_tcp", func(t *testing.T) {
		before := up.queries("tcp")
		r := ask(t, "tcp", addr, query("big.test.", dns.TypeTXT))
		if r.Truncated || len(r.Answer) != 2 {
			t.Errorf("TC=%v, %d answers; want the full answer", r.Truncated, len(r.Answer))
		}
		if up.queries("tcp") != before+1 {
			t.Error("the proxy did not retry the truncated upstream answer over TCP")
		}
	})
	t.Run("upstream_gets_proxy_payload_size_and_client_options_only", func(t *testing.T) {
		m := query("www.example.test.", dns.TypeA)
		m.SetEdns0(512, true)
		cookie := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}
		m.IsEdns0().Option = append(m.IsEdns0().Option, cookie)
		r := ask(t, "udp", addr, m)
		if r.Id != m.Id {
			t.Errorf("answer id %d, want the client's %d", r.Id, m.Id)
		}
		got := up.lastQuery()
		opt := got.IsEdns0()
		if opt == nil || opt.UDPSize() != DefaultMaxUDPSize || !opt.Do() {
			t.Fatalf("upstream saw OPT %v, want size %d with DO", opt, DefaultMaxUDPSize)
		}
		if len(opt.Option) != 1 || opt.Option[0].String() != cookie.String() {
			t.Errorf("upstream saw options %v, want the client's cookie", opt.Option)
		}
		if got.Id == m.Id {
			t.Log("upstream id equals client id (possible by chance, 1 in 65536)")
		}
	})
	t.Run("edns_version_1_badvers", func(t *testing.T) {
		m := query("www.example.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
		r := ask(t, "udp", addr, m)
		if r.Rcode != dns.RcodeBadVers {
			t.Errorf("rcode %s, want BADVERS", dns.RcodeToString[r.Rcode])
		}
		if opt := r.IsEdns0(); opt == nil || opt.Version() != 0 {
			t.Errorf("answer OPT %v, want version 0", opt)
		}
	})
}

func TestUpstreamFailureServfail(t *testing.T) {
	up := startUpstream(t)
	// A port nobody listens on: the kernel refuses at once.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()

	tests := []struct {
		name     string
		upstream func() Config
		q        string
	}{
		{"upstream_silent_times_out", func() Config {
			c := testConfig(up.addr)
			c.UpstreamTimeout = 300 * time.Millisecond
			return c
		}, "x.hold.test."},
		{"upstream_port_closed", func() Config { return testConfig(dead) }, "www.example.test."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, tt.upstream(), Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
			for _, network := range []string{"udp", "tcp"} {
				m := query(tt.q, dns.TypeA)
				r := ask(t, network, p.Addrs()[0], m)
				if r.Rcode != dns.RcodeServerFailure || r.Id != m.Id {
					t.Errorf("%s: rcode %s id %d, want SERVFAIL id %d", network, dns.RcodeToString[r.Rcode], r.Id, m.Id)
				}
			}
			if st := p.Stats(); st.UpstreamErrors != 2 {
				t.Errorf("UpstreamErrors %d, want 2", st.UpstreamErrors)
			}
		})
	}
}

func TestQuarantinedUpdateDomainUpstreamFailure(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.UpdateDomains = []string{"hold.test"}
	cfg.UpstreamTimeout = 300 * time.Millisecond
	allow := &fakeAllow{}
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(loop4), Allow: allow})
	r := ask(t, "udp", p.Addrs()[0], query("fw.hold.test.", dns.TypeA))
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL (never the notice address for an update host)", dns.RcodeToString[r.Rcode])
	}
	if calls := allow.taken(); len(calls) != 0 {
		t.Errorf("allow updates %v after a failed lookup", calls)
	}
}

// rawUDP sends b to addr and returns the first datagram that comes back
// within wait, or nil.
func rawUDP(t *testing.T, c net.Conn, b []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// The question "a.test. A IN" in wire format.
const qHex = "01 61 04 74 65 73 74 00 0001 0001"

func TestMalformedQueries(t *testing.T) {
	up := startUpstream(t)
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	tests := []struct {
		name  string
		raw   string
		rcode int // -1: no answer at all
	}{
		{"two_questions", "1234 0100 0002 0000 0000 0000" + qHex + qHex, dns.RcodeFormatError},
		{"no_question", "1234 0100 0000 0000 0000 0000", dns.RcodeFormatError},
		{"question_cut_short", "1234 0100 0001 0000 0000 0000 01 61 04 74", dns.RcodeFormatError},
		{"label_pointer_loop", "1234 0100 0001 0000 0000 0000 c0 0c 0001 0001", dns.RcodeFormatError},
		{"answer_section_in_query", "1234 0100 0001 0001 0000 0000" + qHex, dns.RcodeFormatError},
		{"two_opt_records", "1234 0100 0001 0000 0000 0002" + qHex +
			"00 0029 1000 00000000 0000" + "00 0029 1000 00000000 0000", dns.RcodeFormatError},
		{"opcode_update", "1234 2800 0001 0000 0000 0000" + qHex, dns.RcodeNotImplemented},
		{"opcode_notify", "1234 2000 0001 0000 0000 0000" + qHex, dns.RcodeNotImplemented},
		{"response_bit_set_ignored", "1234 8180 0001 0000 0000 0000" + qHex, -1},
		{"shorter_than_header_ignored", "1234 0100 00", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("udp", p.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wait := 5 * time.Second
			if tt.rcode < 0 {
				// Only a silence is expected; a well-formed query after it
				// shows the proxy is alive, and its answer must be the
				// first datagram back.
				wait = 200 * time.Millisecond
			}
			got := rawUDP(t, c, mustHex(tt.raw), wait)
			if tt.rcode < 0 {
				if got != nil {
					t.Fatalf("answered %x", got)
				}
				good := query("www.example.test.", dns.TypeA)
				b, _ := good.Pack()
				r := new(dns.Msg)
				if err := r.Unpack(rawUDP(t, c, b, 5*time.Second)); err != nil || r.Id != good.Id {
					t.Fatalf("follow-up query: %v, id %d want %d", err, r.Id, good.Id)
				}
				return
			}
			if len(got) < 12 {
				t.Fatalf("answer %x too short", got)
			}
			if !bytes.Equal(got[:2], []byte{0x12, 0x34}) {
				t.Errorf("id %x, want 1234", got[:2])
			}
			if got[2]&0x80 == 0 {
				t.Error("QR not set")
			}
			if rcode := int(got[3] & 0xf); rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[rcode], dns.RcodeToString[tt.rcode])
			}
		})
	}
	if st := p.Stats(); st.Malformed < uint64(len(tests)-2) {
		t.Errorf("Malformed %d, want at least %d", st.Malformed, len(tests)-2)
	}
	// The same over TCP: a length-prefixed message with two questions.
	c, err := net.Dial("tcp", p.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := mustHex("1234 0100 0002 0000 0000 0000" + qHex + qHex)
	c.Write(append([]byte{0, byte(len(msg))}, msg...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil || n < 14 || buf[5]&0xf != dns.RcodeFormatError {
		t.Errorf("tcp: %v, answer %x; want FORMERR", err, buf[:n])
	}
}

// fixedUpstream answers every query with a copy of its message, made to
// match the query's ID and question.
type fixedUpstream struct{ r *dns.Msg }

func (f fixedUpstream) exchange(_ context.Context, m *dns.Msg, _ string) (*dns.Msg, error) {
	r := f.r.Copy()
	r.Id, r.Response, r.Question = m.Id, true, m.Question
	return r, nil
}

// TestUpstreamTSIGDropped: a TSIG in the upstream's answer signs a hop
// the proxy asked unsigned; the client cannot check it, and left last in
// the message it kept the answer from being cut to the client's size.
func TestUpstreamTSIGDropped(t *testing.T) {
	r := new(dns.Msg)
	for range 7 { // more than MaxUDPSize
		r.Answer = append(r.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: "www.example.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{strings.Repeat("x", 200)}})
	}
	r.Extra = []dns.RR{&dns.TSIG{Hdr: dns.RR_Header{Name: "key.", Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: dns.HmacSHA256, MACSize: 2, MAC: "0102", Fudge: 300, TimeSigned: 1}}
	p, err := New(testConfig(netip.MustParseAddrPort("127.0.0.1:53")), Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	p.up = fixedUpstream{r}
	for _, tt := range []struct {
		name  string
		edns  bool
		tcp   bool
		limit int
	}{
		{"udp_without_edns", false, false, dns.MinMsgSize},
		{"udp_edns", true, false, DefaultMaxUDPSize},
		{"tcp", false, true, dns.MaxMsgSize},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := query("www.example.test.", dns.TypeTXT)
			if tt.edns {
				req.SetEdns0(4096, false)
			}
			resp := p.respond(context.Background(), netip.MustParseAddr("192.168.1.9"), netip.Addr{}, req, tt.tcp)
			b := p.encode(resp, req, tt.tcp)
			if len(b) > tt.limit {
				t.Errorf("answer of %d bytes, the client takes %d", len(b), tt.limit)
			}
			got := new(dns.Msg)
			if err := got.Unpack(b); err != nil {
				t.Fatal(err)
			}
			if got.IsTsig() != nil || slices.ContainsFunc(got.Extra, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeTSIG }) {
				t.Errorf("the upstream's TSIG reached the client: %v", got.Extra)
			}
			if wantCut := !tt.tcp; got.Truncated != wantCut {
				t.Errorf("TC=%v, want %v", got.Truncated, wantCut)
			}
		})
	}
}

// TestNoticeFitsUDP: the notice answer to a query for a name near the
// 255-byte limit fits the 512 bytes a client without EDNS takes, as an
// answer from the upstream does: the answer's owner name, written out
// again in full, would carry it past them.
func TestNoticeFitsUDP(t *testing.T) {
	up := startUpstream(t)
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(loop4), Allow: &fakeAllow{}})
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 60) + "."
	for _, tt := range []struct {
		name  string
		qtype uint16
		edns  uint16 // 0: no OPT record
		limit int
	}{
		{"a_without_edns", dns.TypeA, 0, dns.MinMsgSize},
		{"aaaa_without_edns", dns.TypeAAAA, 0, dns.MinMsgSize},
		{"a_edns_512", dns.TypeA, 512, dns.MinMsgSize},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := query(long, tt.qtype)
			if tt.edns != 0 {
				m.SetEdns0(tt.edns, false)
			}
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("udp", p.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := rawUDP(t, c, b, 5*time.Second)
			if len(got) > tt.limit {
				t.Errorf("answer of %d bytes, the client takes %d", len(got), tt.limit)
			}
			r := new(dns.Msg)
			if err := r.Unpack(got); err != nil || len(r.Answer) != 1 || r.Truncated {
				t.Errorf("answer %v (%v), want the notice address whole", r, err)
			}
		})
	}
}
