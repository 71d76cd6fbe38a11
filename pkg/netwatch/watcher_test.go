package netwatch

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// startWatcher runs a watcher over src until the test ends.
func startWatcher(t *testing.T, src *fakeSource, out chan Event) (*Watcher, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	w, err := New(Config{LeaseFiles: []string{}}, withClock(clk), withSource(src))
	if err != nil {
		t.Fatal(err)
	}
	w.minBackoff = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w, clk
}

// waitFor polls cond; the deadline only stops a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRunResubscribesWithoutRepeating(t *testing.T) {
	src := newFakeSource(lanLink(true), routerAddr("10.97.0.1/24"), neigh(camMAC, camIP))
	out := make(chan Event, 64)
	w, clk := startWatcher(t, src, out)
	want := []Event{
		LinkChanged{Iface: "br-lan", Up: true, MAC: routerMAC, Time: clk.Now()},
		AddressChanged{Iface: "br-lan", Prefix: netip.MustParsePrefix("10.97.0.1/24"), Added: true, Time: clk.Now()},
		NeighborSeen{MAC: camMAC, IP: camIP, Iface: "br-lan", State: StateReachable, Time: clk.Now()},
	}
	var got []Event
	for range want {
		got = append(got, next(t, out))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("start\n got %+v\nwant %+v", got, want)
	}
	if n := <-src.subc; n != 1 {
		t.Fatalf("subscription %d", n)
	}

	src.fail <- unix.ENOBUFS
	if n := <-src.subc; n != 2 {
		t.Fatalf("subscription %d, want 2", n)
	}
	// The new subscription lists everything again; only news is reported.
	src.feed <- neigh(plugMAC, plugIP)
	if ev := next(t, out); ev.(NeighborSeen).MAC != plugMAC {
		t.Fatalf("after resubscribing: %+v", ev)
	}
	if got := w.Stats().Resubscribes; got != 1 {
		t.Errorf("resubscribes %d", got)
	}
}

func TestRunResyncsAfterDrops(t *testing.T) {
	src := newFakeSource(neigh(camMAC, camIP), neigh(plugMAC, plugIP))
	out := make(chan Event, 2)
	out <- DeviceAway{} // the consumer is busy
	out <- DeviceAway{}
	w, clk := startWatcher(t, src, out)
	waitFor(t, "two drops", func() bool { return w.Stats().Dropped == 2 })
	drain(out)
	clk.Advance(awayCheckInterval(DefaultAwayAfter))
	if n := <-src.subc; n != 1 {
		t.Fatalf("subscription %d", n)
	}
	if n := <-src.subc; n != 2 {
		t.Fatalf("no resubscription after drops (subscription %d)", n)
	}
	got := map[hwaddr.MAC]bool{}
	for range 2 {
		got[next(t, out).(NeighborSeen).MAC] = true
	}
	if !got[camMAC] || !got[plugMAC] {
		t.Errorf("sent again: %v, want both devices", got)
	}
}

// TestRunSendsDroppedRemovalAgain: a router address removal the consumer
// had no room for reaches it at the next absence check.
func TestRunSendsDroppedRemovalAgain(t *testing.T) {
	src := newFakeSource(lanLink(true), routerAddr("10.97.0.1/24"))
	out := make(chan Event, 4)
	w, clk := startWatcher(t, src, out)
	next(t, out) // the link
	next(t, out) // the address
	for range cap(out) {
		out <- DeviceAway{} // the consumer is busy
	}
	gone := routerAddr("10.97.0.1/24")
	gone.deleted = true
	src.feed <- gone
	waitFor(t, "the removal dropped", func() bool { return w.Stats().Dropped == 1 })
	drain(out)
	clk.Advance(awayCheckInterval(DefaultAwayAfter))
	for {
		if a, ok := next(t, out).(AddressChanged); ok && !a.Added && a.Prefix == netip.MustParsePrefix("10.97.0.1/24") {
			return
		}
	}
}

func TestRunOnce(t *testing.T) {
	src := newFakeSource()
	w, err := New(Config{LeaseFiles: []string{}}, withSource(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.Run(ctx, nil); err == nil {
		t.Error("Run without a channel accepted")
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, make(chan Event, 1)) }()
	<-src.subc
	if err := w.Run(ctx, make(chan Event, 1)); err == nil {
		t.Error("second Run accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestRunResubscribesAfterFailures(t *testing.T) {
	src := newFakeSource()
	out := make(chan Event, 4)
	w, _ := startWatcher(t, src, out)
	for i := 1; i <= 4; i++ {
		if n := <-src.subc; n != i {
			t.Fatalf("subscription %d, want %d", n, i)
		}
		src.fail <- errors.New("netlink gone")
	}
	<-src.subc
	if got := w.Stats().Resubscribes; got != 4 {
		t.Errorf("resubscribes %d, want 4", got)
	}
}

func TestSnapshot(t *testing.T) {
	failed := neigh(plugMAC, plugIP)
	failed.state = unix.NUD_FAILED
	wanNeigh := neigh(plugMAC, netip.MustParseAddr("192.0.2.1"))
	wanNeigh.index, wanNeigh.iface = wanIndex, "wan"
	// Neighbours listed before the links and addresses they depend on.
	src := newFakeSource(neigh(camMAC, camIP), neigh(routerMAC, netip.MustParseAddr("10.97.0.99")), failed, wanNeigh,
		lanLink(true), wanLink(true), routerAddr("10.97.0.1/24"))
	clk := newFakeClock()
	w, err := New(Config{LeaseFiles: []string{}}, withClock(clk), withSource(src))
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Snapshot{
		Links:     []LinkChanged{{Iface: "br-lan", Up: true, MAC: routerMAC, Time: clk.Now()}},
		Addresses: []AddressChanged{{Iface: "br-lan", Prefix: netip.MustParsePrefix("10.97.0.1/24"), Added: true, Time: clk.Now()}},
		Neighbors: []NeighborSeen{{MAC: camMAC, IP: camIP, Iface: "br-lan", State: StateReachable, Time: clk.Now()}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if st := w.Stats(); st.Devices != 0 {
		t.Errorf("Snapshot changed the watcher's state: %+v", st)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no_interfaces", Config{Interfaces: []string{}}},
		{"empty_interface_name", Config{Interfaces: []string{""}}},
		{"interface_name_too_long", Config{Interfaces: []string{"a-very-long-name0"}}},
		{"away_too_short", Config{AwayAfter: time.Millisecond}},
		{"away_negative", Config{AwayAfter: -time.Minute}},
		{"poll_too_fast", Config{PollInterval: time.Microsecond}},
		{"max_devices_negative", Config{MaxDevices: -1}},
		{"relative_lease_file", Config{LeaseFiles: []string{"dhcp.leases"}}},
		{"missing_namespace", Config{NetNSPath: "/nonexistent/netns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
	w, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(w.cfg.Interfaces, []string{"br-lan"}) || w.cfg.AwayAfter != 30*time.Minute ||
		!reflect.DeepEqual(w.cfg.LeaseFiles, []string{"/tmp/dhcp.leases", "/tmp/hosts/odhcpd"}) {
		t.Errorf("defaults %+v", w.cfg)
	}
}

// TestDeletedDuringENOBUFSIsReported: when the kernel overruns the
// subscription, deletions made before the new one starts are never
// notified; the new subscription's listing tells them. TestListingReconciles
// covers what the loop makes of a listing, table by table.
func TestDeletedDuringENOBUFSIsReported(t *testing.T) {
	gone := netip.MustParsePrefix("10.97.1.1/24")
	before := []kernelUpdate{lanLink(true), routerAddr("10.97.0.1/24"), routerAddr(gone.String())}
	src := newFakeSource(before...)
	out := make(chan Event, 64)
	_, clk := startWatcher(t, src, out)
	for range before {
		next(t, out)
	}
	<-src.subc
	src.mu.Lock()
	src.dump = []kernelUpdate{lanLink(true), routerAddr("10.97.0.1/24")}
	src.mu.Unlock()
	src.fail <- unix.ENOBUFS
	<-src.subc
	want := AddressChanged{Iface: "br-lan", Prefix: gone, Added: false, Time: clk.Now()}
	if got := next(t, out); got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestRunWakesAddrChanged: a running watcher wakes AddrChanged's waiters
// at an address added and at one the listing after ENOBUFS no longer
// shows, though the consumer takes no event at all.
func TestRunWakesAddrChanged(t *testing.T) {
	src := newFakeSource(lanLink(true))
	w, _ := startWatcher(t, src, make(chan Event))
	closed := func(c <-chan struct{}) func() bool {
		return func() bool {
			select {
			case <-c:
				return true
			default:
				return false
			}
		}
	}
	<-src.subc
	woken := w.AddrChanged()
	src.feed <- routerAddr("fd00::1/64")
	waitFor(t, "a wake-up at the address added", closed(woken))

	woken = w.AddrChanged()
	src.mu.Lock()
	src.dump = []kernelUpdate{lanLink(true)}
	src.mu.Unlock()
	src.fail <- unix.ENOBUFS
	<-src.subc
	waitFor(t, "a wake-up at the address gone while the subscription was broken", closed(woken))
}
