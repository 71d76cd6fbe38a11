package dnsproxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

func TestConcurrencyBound(t *testing.T) {
	up, cfg, p, addr := boundedProxy(t, 2)
	// Two clients, each within its share, take both slots.
	held := holdUpstream(t, up, addr, netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"))
	r := ask(t, "udp", addr, query("www.example.test.", dns.TypeA))
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("third query: rcode %s, want SERVFAIL while the bound is reached", dns.RcodeToString[r.Rcode])
	}
	if st := p.Stats(); st.Overloaded != 1 {
		t.Errorf("Overloaded %d, want 1", st.Overloaded)
	}
	// Notice answers need no upstream slot.
	quarantined := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(loop4), Allow: &fakeAllow{}})
	if r := ask(t, "udp", quarantined.Addrs()[0], query("www.example.test.", dns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("notice answer %v", r.Answer)
	}
	close(up.release)
	for i, r := range held() {
		if r == nil || r.Rcode != dns.RcodeSuccess {
			t.Errorf("held query %d: %v", i, r)
		}
	}
	if r := ask(t, "udp", addr, query("www.example.test.", dns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("after release: %v", r)
	}
}

// One client address holds at most a quarter of the upstream slots;
// the others still get theirs.
func TestClientShareOfUpstream(t *testing.T) {
	up, _, p, addr := boundedProxy(t, 8)
	greedy := netip.MustParseAddr("127.0.0.2")
	held := holdUpstream(t, up, addr, greedy, greedy)
	if r := askFromAddr(t, greedy, addr, query("www.example.test.", dns.TypeA)); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("a third query of the client holding its share: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if r := askFromAddr(t, netip.MustParseAddr("127.0.0.3"), addr, query("www.example.test.", dns.TypeA)); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("another client: %v, want its answer", r)
	}
	if st := p.Stats(); st.Overloaded != 1 {
		t.Errorf("Overloaded %d, want 1", st.Overloaded)
	}
	close(up.release)
	held()
	if r := askFromAddr(t, greedy, addr, query("www.example.test.", dns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("after its queries ended: %v", r)
	}
}

// boundedProxy is a proxy with an upstream that holds queries for names
// under hold.test, and maxUpstream slots.
func boundedProxy(t *testing.T, maxUpstream int) (*fakeUpstream, Config, *Proxy, netip.AddrPort) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.MaxUpstream = maxUpstream
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	return up, cfg, p, p.Addrs()[0]
}

// holdUpstream sends, from each address in from, a query the upstream
// holds until up.release is closed, and returns once all are held; wait
// returns their answers after.
func holdUpstream(t *testing.T, up *fakeUpstream, addr netip.AddrPort, from ...netip.Addr) (wait func() []*dns.Msg) {
	var wg sync.WaitGroup
	answers := make([]*dns.Msg, len(from))
	for i, a := range from {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = askFromAddr(t, a, addr, query(fmt.Sprintf("q%d.hold.test.", i), dns.TypeA))
		}()
	}
	for range from {
		<-up.held
	}
	return func() []*dns.Msg { wg.Wait(); return answers }
}

// askFromAddr is ask over UDP from the local address from.
func askFromAddr(t *testing.T, from netip.Addr, addr netip.AddrPort, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: 10 * time.Second, Dialer: &net.Dialer{Timeout: 10 * time.Second, LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Errorf("query %s from %s: %v", m.Question[0].Name, from, err)
		return new(dns.Msg)
	}
	return r
}

func TestAllowUpdates(t *testing.T) {
	up := startUpstream(t)
	clock := newFakeClock()
	allow := &fakeAllow{err: errFakeNetlink}
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(loop4), Allow: allow, Now: clock.Now})
	addr := p.Addrs()[0]
	fw := query("fw.vendor.test.", dns.TypeA)

	// The quarantined client's TTL is what is left of the address's
	// allowance: none while it is not allowed.
	steps := []struct {
		name    string
		advance time.Duration
		fail    bool
		calls   int
		ttl     int
	}{
		{"failing_netlink_still_answers", 0, true, 1, 0},
		{"failed_update_not_retried_at_once", time.Second, false, 0, 0},
		{"failed_update_retried_after_the_pause", allowRetryPause, false, 1, 300},
		{"recent_update_not_repeated", 0, false, 0, 300},
		{"not_repeated_before_half_ttl", 149 * time.Second, false, 0, 151},
		{"refreshed_after_half_ttl", 2 * time.Second, false, 1, 300},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		allow.mu.Lock()
		allow.err = nil
		if s.fail {
			allow.err = errFakeNetlink
		}
		allow.mu.Unlock()
		r := ask(t, "udp", addr, fw)
		want := []string{fmt.Sprintf("A 203.0.113.7 ttl=%d", s.ttl)}
		if got := answerText(r); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: answer %q, want %q", s.name, got, want)
		}
		if calls := allow.taken(); len(calls) != s.calls {
			t.Errorf("%s: %d allow updates, want %d", s.name, len(calls), s.calls)
		}
	}
	if st := p.Stats(); st.AllowErrors != 1 || st.AllowUpdates != 3 {
		t.Errorf("AllowErrors %d AllowUpdates %d, want 1 and 3", st.AllowErrors, st.AllowUpdates)
	}
}

func TestAllowCacheBounded(t *testing.T) {
	c := newAllowCache(2)
	now := newFakeClock().Now()
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	got := c.due([]netip.Addr{a("203.0.113.1"), a("203.0.113.2"), a("203.0.113.3")}, time.Minute, now)
	if len(got) != 2 {
		t.Fatalf("due %v, want the two that fit", got)
	}
	if len(c.entries) != 2 {
		t.Errorf("cache holds %d, bound 2", len(c.entries))
	}
	c.settle(got, nil, now.Add(time.Minute), now)
	// A full cache hands nothing new over.
	if got := c.due([]netip.Addr{a("203.0.113.3")}, time.Minute, now); len(got) != 0 {
		t.Errorf("due %v, want nothing while the cache is full", got)
	}
	// The bound is per family, as the kernel's allow sets are.
	got6 := c.due([]netip.Addr{a("2001:db8::1"), a("2001:db8::2"), a("2001:db8::3")}, time.Minute, now)
	if len(got6) != 2 {
		t.Errorf("due %v, want two IPv6 addresses beside two IPv4 ones", got6)
	}
	// While handed over, they stay: the allow set has not answered.
	if c.pruneLocked(now); c.held != [2]int{2, 2} {
		t.Errorf("pending entries pruned: per family %v", c.held)
	}
	c.settle(got6, nil, now.Add(time.Minute), now)
	// Expired entries make room.
	later := now.Add(2 * time.Minute)
	if got := c.due([]netip.Addr{a("203.0.113.3")}, time.Minute, later); len(got) != 1 || len(c.entries) != 1 || c.held != [2]int{1, 0} {
		t.Errorf("due %v, cache %d (per family %v); want the address remembered in a pruned cache", got, len(c.entries), c.held)
	}
	c.forget([]netip.Addr{a("203.0.113.3"), a("203.0.113.9")})
	if len(c.entries) != 0 || c.held != [2]int{} {
		t.Errorf("after forget: cache %d, per family %v", len(c.entries), c.held)
	}
}

// TestAllowHandOverBounded: nothing is handed over beyond the cache, and a
// query waits for the backend only as long as its context allows.
func TestAllowHandOverBounded(t *testing.T) {
	allow := &fakeAllow{}
	cfg := testConfig(netip.MustParseAddrPort("127.0.0.1:53"))
	cfg.UpstreamTimeout = 50 * time.Millisecond
	p, err := New(cfg, Deps{Quarantine: newFakeLookup(), Allow: allow, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	p.allow = newAllowCache(2)
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	ctx := context.Background()
	p.pushAllowed(ctx, []netip.Addr{a("203.0.113.1"), a("203.0.113.2")}, time.Minute)
	p.pushAllowed(ctx, []netip.Addr{a("203.0.113.3")}, time.Minute)
	if calls := allow.taken(); len(calls) != 1 || len(calls[0].addrs) != 2 {
		t.Errorf("allow updates %+v, want one with the two that fit the cache", calls)
	}

	// A backend busy with another change waits until the query's context
	// ends: the query gives up then, with an error, and retries later.
	p.allow = newAllowCache(2)
	allow.busy = true
	p.pushAllowed(ctx, []netip.Addr{a("203.0.113.4")}, time.Minute)
	if calls := allow.taken(); len(calls) != 0 {
		t.Errorf("allow updates %+v, want none", calls)
	}
	if !allow.sawDeadline {
		t.Error("the hand-over was not given a deadline")
	}
	if st := p.Stats(); st.AllowErrors != 1 {
		t.Errorf("AllowErrors %d, want 1", st.AllowErrors)
	}
	if got := p.allow.due([]netip.Addr{a("203.0.113.4")}, time.Minute, time.Now()); len(got) != 1 {
		t.Errorf("due %v after the failed hand-over, want the address again", got)
	}
}

func TestObservations(t *testing.T) {
	up := startUpstream(t)
	clock := newFakeClock()
	obs := newFakeObserver()
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}, Observer: obs, Now: clock.Now})
	addr := p.Addrs()[0]

	ask(t, "udp", addr, query("WWW.Example.TEST.", dns.TypeA))
	ask(t, "tcp", addr, query("www.example.test.", dns.TypeAAAA)) // same pair: not repeated
	ask(t, "udp", addr, query("nas.lan.", dns.TypeA))
	clock.Advance(observeWindow)
	ask(t, "udp", addr, query("www.example.test.", dns.TypeA)) // window over: repeated

	// In the case the client wrote it, for the observer's identifier
	// rule; a pair in another case is the same pair.
	want := []string{"127.0.0.1 WWW.Example.TEST", "127.0.0.1 nas.lan", "127.0.0.1 www.example.test"}
	for i, w := range want {
		select {
		case o := <-obs.c:
			if got := o.Client.String() + " " + o.Name; got != w {
				t.Errorf("observation %d: %q, want %q", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("observation %d (%s) never came", i, w)
		}
	}
	select {
	case o := <-obs.c:
		t.Errorf("unexpected observation %+v", o)
	default:
	}
}

func TestObservationRateBound(t *testing.T) {
	clock := newFakeClock()
	o := newObservations(newFakeObserver(), clock.Now)
	client := netip.MustParseAddr("192.168.1.23")
	for i := range 1000 {
		o.add(client, fmt.Sprintf("n%d.random.test", i))
	}
	if got := len(o.queue); got != observeBurst {
		t.Errorf("%d queued at one instant, want the burst %d", got, observeBurst)
	}
	if got := o.dropped.Load(); got != 1000-observeBurst {
		t.Errorf("%d dropped, want %d", got, 1000-observeBurst)
	}
	// A second later the bucket holds observeRate tokens.
	for len(o.queue) > 0 {
		<-o.queue
	}
	clock.Advance(time.Second)
	for i := range 1000 {
		o.add(client, fmt.Sprintf("m%d.random.test", i))
	}
	if got := len(o.queue); got != observeRate {
		t.Errorf("%d queued one second later, want %d", got, observeRate)
	}
	if len(o.seen) > observeSeen {
		t.Errorf("seen table %d, bound %d", len(o.seen), observeSeen)
	}
}

func TestObservationQueueFullDrops(t *testing.T) {
	clock := newFakeClock()
	o := newObservations(newFakeObserver(), clock.Now)
	client := netip.MustParseAddr("192.168.1.23")
	// Spread over time so that the rate allows all; nobody delivers.
	for i := range observeQueue + 10 {
		clock.Advance(time.Second)
		o.add(client, fmt.Sprintf("n%d.test", i))
	}
	if len(o.queue) != observeQueue || o.dropped.Load() != 10 {
		t.Errorf("queue %d dropped %d, want %d and 10", len(o.queue), o.dropped.Load(), observeQueue)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.deliver(ctx); close(done) }()
	for o.out.Load() < observeQueue {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

func TestTCPConnectionBound(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.MaxTCPConns = 1
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	addr := p.Addrs()[0].String()

	first, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.WriteMsg(query("www.example.test.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if _, err := first.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	// The first connection holds the only slot: the second one is queued
	// by the kernel and its query is not read.
	second, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	q := query("www.example.test.", dns.TypeA)
	if err := second.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if r, err := second.ReadMsg(); err == nil {
		t.Fatalf("second connection served while the first holds the slot: %v", r)
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := second.ReadMsg()
	if err != nil || r.Id != q.Id {
		t.Fatalf("second connection after the first closed: %v %v", r, err)
	}
}

// One client address may hold a quarter of the TCP connections; more from
// it are closed while other clients are served.
func TestTCPConnectionShare(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.MaxTCPConns = 4
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	addr := p.Addrs()[0].String()
	held := testenv.HoldConns(t, addr, 2, 2) // both from one address
	expectShareKept(t, addr, held[1], "a second connection from one client")
}

// Each client address holds a quarter of the TCP connections and one
// device's addresses half: with the neighbour table saying 192.168.1.2,
// .3 and .4 (the loopback sources 127.0.0.2, .3 and .4 seen as LAN
// clients) are one device, a connection from its third address is closed
// while a client without a MAC is still served.
func TestTCPConnectionShareByDevice(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.MaxTCPConns = 8
	device := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0a}
	holder := func(a netip.Addr) (hwaddr.MAC, bool) {
		return device, netip.MustParsePrefix("192.168.1.2/31").Contains(a) || a == netip.MustParseAddr("192.168.1.4")
	}
	p := startProxyWith(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}, HolderOf: holder},
		func(p *Proxy) { p.wrapTCP = testenv.LANView })
	addr := p.Addrs()[0].String()
	held := testenv.HoldConns(t, addr, 5, 2) // 127.0.0.2 and .3 hold their shares, the device half of 8
	expectShareKept(t, addr, held[4], "a connection from a device's third address")
}

// A client that stops reading its answers loses its TCP connection
// within a write timeout, and with it the share of connections it held:
// it cannot keep a slot for as long as it keeps the connection open.
func TestTCPClientNotReading(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.MaxTCPConns = 4 // one per client address
	p := startProxyWith(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}},
		func(p *Proxy) { p.wrapTCP = smallSendBuffers })
	addr := p.Addrs()[0].String()

	stuck, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	if err := stuck.(*net.TCPConn).SetReadBuffer(1); err != nil {
		t.Fatal(err)
	}
	// Queries for big.test. (4 KB answers), queued and never read: the
	// answers fill the client's receive buffer and the proxy's send
	// buffer, and the proxy's next write blocks.
	wire, err := query("big.test.", dns.TypeTXT).Pack()
	if err != nil {
		t.Fatal(err)
	}
	var queued []byte
	for range 64 {
		queued = append(queued, byte(len(wire)>>8), byte(len(wire)))
		queued = append(queued, wire...)
	}
	if _, err := stuck.Write(queued); err != nil {
		t.Fatal(err)
	}

	// Another connection from the same address is refused while the
	// stuck one holds the address's share, and served once it is gone.
	deadline := time.Now().Add(3 * tcpWriteTimeout)
	for {
		c := &dns.Client{Net: "tcp", Timeout: time.Second}
		q := query("www.example.test.", dns.TypeA)
		r, _, err := c.Exchange(q, addr)
		if err == nil && r.Id == q.Id {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a client that does not read still holds its connection after %s: %v", 3*tcpWriteTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// smallSendBuffers gives each accepted connection a send buffer of a few
// kilobytes, as on a LAN link: over loopback the kernel sizes it for
// 64 KB segments, megabytes, which would take the test long to fill.
func smallSendBuffers(ln net.Listener) net.Listener { return sendBufferListener{ln} }

type sendBufferListener struct{ net.Listener }

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		err = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// expectShareKept checks both sides of a TCP connection share: a query
// over beyond, a connection past the client's share, is met by a close
// without an answer, while another client (a new connection from
// 127.0.0.1) is still served.
func expectShareKept(t *testing.T, addr string, beyond net.Conn, what string) {
	t.Helper()
	wire, err := query("www.example.test.", dns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	// Over TCP, a message goes after its length in two bytes.
	testenv.ExpectRefused(t, beyond, append([]byte{byte(len(wire) >> 8), byte(len(wire))}, wire...), what)
	other, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	q := query("www.example.test.", dns.TypeA)
	if err := other.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	if r, err := other.ReadMsg(); err != nil || r.Id != q.Id {
		t.Fatalf("another client was not served: %v %v", r, err)
	}
}

// A full allow set is not asked again at every query: the addresses it
// refused are offered again after allowFullPause, other failures after
// allowRetryPause; meanwhile answers say the address is not allowed.
func TestAllowFullNotRetried(t *testing.T) {
	for _, tt := range []struct {
		name  string
		err   error
		calls []int // hand-overs by two queries at once, after the retry pause, after the full pause
	}{
		{"full", fmt.Errorf("%w: 1 refused", quarantine.ErrAllowFull), []int{1, 0, 1}},
		{"full_naming_the_refused", &quarantine.AllowFullError{Refused: []netip.Addr{netip.MustParseAddr("203.0.113.7")}, Asked: 1}, []int{1, 0, 1}},
		{"netlink", errFakeNetlink, []int{1, 1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			allow := &fakeAllow{err: tt.err}
			clk := newFakeClock()
			p, err := New(testConfig(netip.MustParseAddrPort("127.0.0.1:53")), Deps{Quarantine: newFakeLookup(), Allow: allow, Logger: quietLogger(), Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			addrs := []netip.Addr{netip.MustParseAddr("203.0.113.7")}
			for step, advance := range []time.Duration{0, allowRetryPause, allowFullPause} {
				clk.Advance(advance)
				left := p.pushAllowed(context.Background(), addrs, time.Minute)
				if step == 0 {
					left = max(left, p.pushAllowed(context.Background(), addrs, time.Minute))
				}
				if calls := allow.taken(); len(calls) != tt.calls[step] {
					t.Errorf("step %d: %d hand-overs, want %d", step, len(calls), tt.calls[step])
				}
				if left != 0 {
					t.Errorf("step %d: the refused address answered as allowed for %v", step, left)
				}
			}
		})
	}
}
