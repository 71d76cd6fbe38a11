package dnsproxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/internal/testclock"
)

// zone is what the fake upstream knows, in zone-file lines.
var zone = []string{
	"www.example.test. 300 IN A 198.51.100.10",
	"www.example.test. 300 IN AAAA 2001:db8::10",
	"fw.vendor.test. 300 IN A 203.0.113.7",
	"fw.vendor.test. 300 IN AAAA 2001:db8::7",
	"eu.fw.vendor.test. 300 IN A 203.0.113.9",
	"short.fw.vendor.test. 5 IN A 203.0.113.10",
	"long.fw.vendor.test. 86400 IN A 203.0.113.11",
	"rebind.fw.vendor.test. 300 IN A 192.168.1.50",
	"rebind.fw.vendor.test. 300 IN A 127.0.0.1",
	"mixed.fw.vendor.test. 300 IN A 203.0.113.20",
	"mixed.fw.vendor.test. 300 IN A 10.0.0.5",
	"cdn.fw.vendor.test. 600 IN CNAME edge.cdn.test.",
	"edge.cdn.test. 120 IN A 203.0.113.12",
	"nas.lan. 60 IN A 192.168.1.20",
	"openwrt. 60 IN A 192.168.1.1",
	"1.1.168.192.in-addr.arpa. 60 IN PTR openwrt.lan.",
	// Names under public suffixes inside amazonaws.com: anyone's.
	"vendor-fw.s3.amazonaws.com. 60 IN A 203.0.113.30",
	"attacker.s3.amazonaws.com. 60 IN A 203.0.113.31",
	"ec2-198-51-100-9.compute-1.amazonaws.com. 60 IN A 198.51.100.9",
}

// fakeUpstream is a DNS server on loopback standing in for dnsmasq. Names
// under hold.test. block until release is closed; servfail.test. fails;
// big.test. has a TXT answer larger than any UDP size the proxy uses.
type fakeUpstream struct {
	addr    netip.AddrPort
	records map[dns.Question][]dns.RR
	release chan struct{}
	held    chan struct{} // one value per query that started to hold

	mu    sync.Mutex
	seen  []*dns.Msg
	byNet map[string]int
}

func startUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	u, stop, err := startUpstreamAt("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u
}

// startUpstreamAt serves UDP and TCP on each address (port 0: TCP takes
// the port UDP got); u.addr is the first. stop shuts it down.
func startUpstreamAt(addrs ...string) (u *fakeUpstream, stop func(), err error) {
	u = &fakeUpstream{
		records: map[dns.Question][]dns.RR{},
		release: make(chan struct{}),
		held:    make(chan struct{}, 64),
		byNet:   map[string]int{},
	}
	for _, line := range zone {
		rr, err := dns.NewRR(line)
		if err != nil {
			return nil, nil, err
		}
		h := rr.Header()
		q := dns.Question{Name: h.Name, Qtype: h.Rrtype, Qclass: h.Class}
		u.records[q] = append(u.records[q], rr)
	}
	var big []string
	for i := range 40 {
		big = append(big, strings.Repeat(string(rune('a'+i%26)), 100))
	}
	u.records[dns.Question{Name: "big.test.", Qtype: dns.TypeTXT, Qclass: dns.ClassINET}] = []dns.RR{
		&dns.TXT{Hdr: dns.RR_Header{Name: "big.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: big[:20]},
		&dns.TXT{Hdr: dns.RR_Header{Name: "big.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: big[20:]},
	}
	var servers []*dns.Server
	stop = func() {
		// Held queries end first, or shutdown waits for them forever.
		select {
		case <-u.release:
		default:
			close(u.release)
		}
		for _, s := range servers {
			s.Shutdown()
		}
	}
	for i, a := range addrs {
		want, err := netip.ParseAddrPort(a)
		if err != nil {
			stop()
			return nil, nil, err
		}
		// As the proxy does: with port 0, a port another test holds for
		// TCP alone is passed over.
		pc, ln, bound, err := listenPair(context.Background(), &net.ListenConfig{}, want)
		if err != nil {
			stop()
			return nil, nil, err
		}
		if i == 0 {
			u.addr = bound
		}
		for _, s := range []*dns.Server{{PacketConn: pc, Handler: u}, {Listener: ln, Handler: u}} {
			started := make(chan struct{})
			s.NotifyStartedFunc = func() { close(started) }
			go s.ActivateAndServe()
			<-started
			servers = append(servers, s)
		}
	}
	return u, stop, nil
}

func (u *fakeUpstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	u.mu.Lock()
	u.seen = append(u.seen, r.Copy())
	u.byNet[network]++
	u.mu.Unlock()

	q := r.Question[0]
	q.Name = strings.ToLower(q.Name)
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	switch {
	case dns.IsSubDomain("hold.test.", q.Name):
		u.held <- struct{}{}
		<-u.release
	case q.Name == "servfail.test.":
		m.Rcode = dns.RcodeServerFailure
	default:
		m.Answer = u.answer(q)
		if len(m.Answer) == 0 && !u.known(q.Name) {
			m.Rcode = dns.RcodeNameError
		}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
	}
	if network == "udp" {
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// answer follows CNAMEs as a recursive resolver would.
func (u *fakeUpstream) answer(q dns.Question) []dns.RR {
	var out []dns.RR
	for range 8 {
		if rrs := u.records[q]; len(rrs) > 0 {
			return append(out, copyRRs(rrs)...)
		}
		cn := u.records[dns.Question{Name: q.Name, Qtype: dns.TypeCNAME, Qclass: q.Qclass}]
		if len(cn) == 0 {
			return out
		}
		out = append(out, copyRRs(cn)...)
		q.Name = cn[0].(*dns.CNAME).Target
	}
	return out
}

func copyRRs(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

func (u *fakeUpstream) known(name string) bool {
	for q := range u.records {
		if q.Name == name {
			return true
		}
	}
	return false
}

func (u *fakeUpstream) queries(network string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byNet[network]
}

func (u *fakeUpstream) lastQuery() *dns.Msg {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return nil
	}
	return u.seen[len(u.seen)-1]
}

// fakeLookup quarantines the addresses set in it.
type fakeLookup struct {
	mu sync.Mutex
	m  map[netip.Addr]bool
}

func newFakeLookup(quarantined ...netip.Addr) *fakeLookup {
	f := &fakeLookup{m: map[netip.Addr]bool{}}
	for _, a := range quarantined {
		f.m[a] = true
	}
	return f
}

func (f *fakeLookup) set(a netip.Addr, q bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[a] = q
}

func (f *fakeLookup) IsQuarantined(a netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[a]
}

var (
	loop4 = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.MustParseAddr("::1")
)

type allowCall struct {
	addrs []netip.Addr
	ttl   time.Duration
}

// fakeAllow records SetAllowed calls; err makes them fail.
type fakeAllow struct {
	mu    sync.Mutex
	calls []allowCall
	err   error
	// busy: another change holds the backend, so SetAllowed waits for
	// ctx to end, as quarantine.NFTables does.
	busy        bool
	sawDeadline bool
}

func (f *fakeAllow) SetAllowed(ctx context.Context, addrs []netip.Addr, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy {
		_, f.sawDeadline = ctx.Deadline()
		<-ctx.Done()
		return ctx.Err()
	}
	f.calls = append(f.calls, allowCall{addrs: append([]netip.Addr(nil), addrs...), ttl: ttl})
	return f.err
}

func (f *fakeAllow) taken() []allowCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

var errFakeNetlink = errors.New("fake netlink failure")

// fakeObserver collects observations.
type fakeObserver struct{ c chan Observation }

func newFakeObserver() *fakeObserver { return &fakeObserver{c: make(chan Observation, 1024)} }

func (f *fakeObserver) Observe(o Observation) { f.c <- o }

// newFakeClock is a clock the test moves.
func newFakeClock() *testclock.Clock {
	return testclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig listens on 127.0.0.1 and ::1 with free ports.
func testConfig(up netip.AddrPort) Config {
	return Config{
		Listen:        []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0"), netip.MustParseAddrPort("[::1]:0")},
		Upstream:      up,
		NoticeV4:      netip.MustParseAddr("192.168.1.1"),
		NoticeV6:      netip.MustParseAddr("fd00::1"),
		UpdateDomains: []string{"fw.vendor.test"},
		LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd00::/64")},
	}
}

// startProxy runs a proxy until the test ends and checks that Run
// returned nil.
func startProxy(t *testing.T, cfg Config, deps Deps) *Proxy {
	t.Helper()
	return startProxyWith(t, cfg, deps, nil)
}

// startProxyWith is startProxy with setup applied to the proxy (unless
// nil) before it listens.
func startProxyWith(t *testing.T, cfg Config, deps Deps, setup func(*Proxy)) *Proxy {
	t.Helper()
	if deps.Logger == nil {
		deps.Logger = quietLogger()
	}
	p, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, func() {}) }()
	select {
	case <-p.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return p
}

// ask sends one query to addr over network and returns the answer.
func ask(t *testing.T, network string, addr netip.AddrPort, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("%s query %s: %v", network, m.Question[0].Name, err)
	}
	return r
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}
