package dnsproxy

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/pkg/quarantine"
)

// gateAllow blocks the first SetAllowed until release, then fails it.
type gateAllow struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	calls   int
	err     error
}

func (g *gateAllow) SetAllowed(ctx context.Context, addrs []netip.Addr, ttl time.Duration) error {
	g.mu.Lock()
	g.calls++
	n := g.calls
	g.mu.Unlock()
	if n == 1 {
		close(g.entered)
		<-g.release
		return g.err
	}
	return g.err
}

// TestConcurrentHandOverAnswersTTLZero: a second query for the same update
// host while the first one's hand-over is still on its way is answered
// with TTL 0: the address is not in the allow set yet, and never gets
// there when the hand-over fails.
func TestConcurrentHandOverAnswersTTLZero(t *testing.T) {
	up := startUpstream(t)
	g := &gateAllow{entered: make(chan struct{}), release: make(chan struct{}), err: errFakeNetlink}
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(loop4), Allow: g})
	addr := p.Addrs()[0]
	first := make(chan *dns.Msg, 1)
	go func() { first <- ask(t, "udp", addr, query("fw.vendor.test.", dns.TypeA)) }()
	<-g.entered
	second := ask(t, "udp", addr, query("fw.vendor.test.", dns.TypeA))
	close(g.release)
	r1 := <-first
	for i, r := range []*dns.Msg{second, r1} {
		if got := strings.Join(answerText(r), ","); got != "A 203.0.113.7 ttl=0" {
			t.Errorf("answer %d %q, want TTL 0 for an address not allowed", i+1, got)
		}
	}
}

// TestFullKernelSetAfterRestart: with the real backend logic
// (quarantine.Fake shares setAllowed with NFTables), allow_v4 already
// holds MaxAllowed live elements (kept by the kernel over a daemon
// restart, while the proxy's cache starts empty): the refused address is
// answered with TTL 0 every time, not as allowed.
func TestFullKernelSetAfterRestart(t *testing.T) {
	up := startUpstream(t)
	f, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081})
	if err != nil {
		t.Fatal(err)
	}
	var old []netip.Addr
	for i := range quarantine.MaxAllowed {
		old = append(old, netip.AddrFrom4([4]byte{198, 18 + byte(i>>8), byte(i), 1}))
	}
	if err := f.SetAllowed(context.Background(), old, time.Hour); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(loop4), Allow: f})
	addr := p.Addrs()[0]
	r1 := ask(t, "udp", addr, query("fw.vendor.test.", dns.TypeA))
	r2 := ask(t, "udp", addr, query("fw.vendor.test.", dns.TypeA))
	if strings.Contains(f.Dump(), "203.0.113.7") {
		t.Fatal("the full set took the address")
	}
	for i, r := range []*dns.Msg{r1, r2} {
		if got := strings.Join(answerText(r), ","); got != "A 203.0.113.7 ttl=0" {
			t.Errorf("answer %d %q for an address the set refused, want TTL 0", i+1, got)
		}
	}
}
