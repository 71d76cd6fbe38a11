package netwatch

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// The kernel test builds throw-away network namespaces — a router with a
// LAN bridge and a WAN interface, and a device behind the bridge — and
// never touches the namespace the test runs in. It needs root; without it
// it skips, with it it must run (CI runs as root), so a missing tool is a
// failure. Addresses are 10.97.0.0/24 (LAN) and 10.98.0.0/24 (WAN), only
// inside the namespaces.

func requireRoot(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t, "needs root for network namespaces")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip not installed (Debian: iproute2): %v", err)
	}
}

// ipIn runs ip(8) in namespace ns.
func ipIn(t *testing.T, ns string, args ...string) {
	t.Helper()
	netnstest.Cmd(t, "ip", append([]string{"-n", ns}, args...)...)
}

// eventLog reads a running watcher's events; what a wait did not match
// stays for the next wait, since events of independent sources (a link,
// a lease file) come in any order.
type eventLog struct {
	t       *testing.T
	out     <-chan Event
	pending []Event
	all     []Event // everything read
}

// await returns the first event that satisfies match, and the events
// before it that did not; the deadline only stops a broken test from
// hanging.
func (l *eventLog) await(what string, match func(Event) bool) (Event, []Event) {
	l.t.Helper()
	var before []Event
	for i, ev := range l.pending {
		if match(ev) {
			l.pending = append(l.pending[:i:i], l.pending[i+1:]...)
			return ev, before
		}
		before = append(before, ev)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-l.out:
			l.all = append(l.all, ev)
			if match(ev) {
				return ev, before
			}
			before = append(before, ev)
			l.pending = append(l.pending, ev)
		case <-deadline:
			l.t.Fatalf("no %s; got %+v", what, l.pending)
		}
	}
}

func TestKernelNamespace(t *testing.T) {
	requireRoot(t)
	var (
		routerMAC = hwaddr.MAC{0x02, 0x97, 0, 0, 0, 0x01}
		devMAC    = hwaddr.MAC{0x02, 0x97, 0, 0, 0, 0x10}
		staticMAC = hwaddr.MAC{0x02, 0x97, 0, 0, 0, 0x20}
		wanPeer   = hwaddr.MAC{0x02, 0x98, 0, 0, 0, 0x02}
		devIP     = netip.MustParseAddr("10.97.0.10")
		staticIP  = netip.MustParseAddr("10.97.0.20")
	)
	router := netnstest.New(t, "iotgwnw", "router")
	dev := netnstest.New(t, "iotgwnw", "device")
	ipIn(t, router, "link", "add", "br-lan", "address", routerMAC.String(), "type", "bridge")
	ipIn(t, router, "link", "add", "lan1", "type", "veth", "peer", "name", "eth0", "netns", dev)
	ipIn(t, router, "link", "set", "lan1", "master", "br-lan", "up")
	ipIn(t, router, "link", "set", "br-lan", "up")
	ipIn(t, router, "addr", "add", "10.97.0.1/24", "dev", "br-lan")
	ipIn(t, router, "link", "add", "wan", "type", "veth", "peer", "name", "wanpeer")
	ipIn(t, router, "link", "set", "wanpeer", "up")
	ipIn(t, router, "link", "set", "wan", "up")
	ipIn(t, router, "addr", "add", "10.98.0.1/24", "dev", "wan")
	ipIn(t, dev, "link", "set", "eth0", "address", devMAC.String(), "up")
	ipIn(t, dev, "addr", "add", "10.97.0.10/24", "dev", "eth0")
	// Link-local addresses without duplicate address detection, usable at
	// once.
	ipIn(t, router, "addr", "add", "fe80::1/64", "dev", "br-lan", "nodad")
	ipIn(t, dev, "addr", "add", "fe80::10/64", "dev", "eth0", "nodad")

	leaseFile := filepath.Join(t.TempDir(), "dhcp.leases")
	lease := fmt.Sprintf("%d %s 10.97.0.10 camera *\n", time.Now().Add(time.Hour).Unix(), devMAC)
	if err := os.WriteFile(leaseFile, []byte(lease), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{
		Interfaces:   []string{"br-lan"},
		LeaseFiles:   []string{leaseFile},
		PollInterval: 100 * time.Millisecond,
		NetNSPath:    "/run/netns/" + router,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Snapshot before anything is in the neighbour table: the link and
	// the router's address.
	snap, err := w.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Links) != 1 || snap.Links[0].Iface != "br-lan" || snap.Links[0].MAC != routerMAC {
		t.Errorf("snapshot links %+v", snap.Links)
	}
	if !hasAddr(snap.Addresses, "10.97.0.1/24") {
		t.Errorf("snapshot addresses %+v", snap.Addresses)
	}

	out := make(chan Event, 256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	events := &eventLog{t: t, out: out}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	events.await("br-lan up", func(ev Event) bool {
		lc, ok := ev.(LinkChanged)
		return ok && lc.Iface == "br-lan" && lc.Up && lc.MAC == routerMAC
	})
	events.await("router address", func(ev Event) bool {
		ac, ok := ev.(AddressChanged)
		return ok && ac.Iface == "br-lan" && ac.Added && ac.Prefix == netip.MustParsePrefix("10.97.0.1/24")
	})
	events.await("lease", func(ev Event) bool {
		ls, ok := ev.(LeaseSeen)
		return ok && ls.MAC == devMAC && ls.IP == devIP && ls.Hostname == "camera"
	})

	// A neighbour on the WAN side is not a LAN device; it goes into the
	// table before the LAN entry, so it would be reported first.
	ipIn(t, router, "neigh", "add", "10.98.0.2", "lladdr", wanPeer.String(), "dev", "wan", "nud", "reachable")
	// The device speaks: its ARP request and its neighbour solicitation
	// put it in the router's tables.
	if err := netnstest.Run(dev, func() error {
		for _, dst := range []string{"10.97.0.1:9", "[fe80::1%eth0]:9"} {
			c, err := net.Dial("udp", dst)
			if err != nil {
				return err
			}
			_, err = c.Write([]byte("hello"))
			c.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ev, before := events.await("the device", func(ev Event) bool {
		ns, ok := ev.(NeighborSeen)
		return ok && ns.MAC == devMAC && ns.IP == devIP
	})
	if ns := ev.(NeighborSeen); ns.Iface != "br-lan" || time.Since(ns.Time) > time.Minute {
		t.Errorf("device seen as %+v", ns)
	}
	for _, e := range before {
		if ns, ok := e.(NeighborSeen); ok && ns.MAC == wanPeer {
			t.Errorf("WAN neighbour reported before the device: %+v", ns)
		}
	}
	events.await("the device's IPv6 link-local address", func(ev Event) bool {
		ns, ok := ev.(NeighborSeen)
		return ok && ns.MAC == devMAC && ns.IP == netip.MustParseAddr("fe80::10") && ns.Iface == "br-lan"
	})

	// A static entry, deleted and made again, is reported each time.
	for range 2 {
		ipIn(t, router, "neigh", "replace", staticIP.String(), "lladdr", staticMAC.String(), "dev", "br-lan", "nud", "reachable")
		ev, _ := events.await("the static neighbour", func(ev Event) bool {
			ns, ok := ev.(NeighborSeen)
			return ok && ns.MAC == staticMAC
		})
		if ns := ev.(NeighborSeen); ns.IP != staticIP || ns.State != StateReachable {
			t.Errorf("static neighbour seen as %+v", ns)
		}
		ipIn(t, router, "neigh", "del", staticIP.String(), "dev", "br-lan")
	}

	snap, err = w.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !hasNeighbor(snap.Neighbors, devMAC, devIP) || hasNeighbor(snap.Neighbors, wanPeer, netip.MustParseAddr("10.98.0.2")) {
		t.Errorf("snapshot neighbours %+v", snap.Neighbors)
	}

	ipIn(t, router, "link", "set", "br-lan", "down")
	events.await("br-lan down", func(ev Event) bool {
		lc, ok := ev.(LinkChanged)
		return ok && lc.Iface == "br-lan" && !lc.Up
	})
	ipIn(t, router, "link", "set", "br-lan", "up")
	events.await("br-lan up again", func(ev Event) bool {
		lc, ok := ev.(LinkChanged)
		return ok && lc.Iface == "br-lan" && lc.Up
	})
	if st := w.Stats(); st.Dropped != 0 || st.Devices < 2 {
		t.Errorf("stats %+v", st)
	}
	for _, ev := range events.all {
		ns, ok := ev.(NeighborSeen)
		if ok && (ns.MAC == routerMAC || ns.MAC == wanPeer || ns.IP == netip.MustParseAddr("fe80::1")) {
			t.Errorf("the router or a WAN neighbour reported as a LAN device: %+v", ns)
		}
	}
}

// TestKernelSubscribeLists: the kernel source lists each table, closed by
// its end marker, before it delivers changes.
func TestKernelSubscribeLists(t *testing.T) {
	requireRoot(t)
	var (
		prefix   = netip.MustParsePrefix("10.97.0.1/24")
		neighIP  = netip.MustParseAddr("10.97.0.20")
		neighMAC = hwaddr.MAC{0x02, 0x97, 0, 0, 0, 0x20}
	)
	ns := netnstest.New(t, "iotgwnw", "list")
	ipIn(t, ns, "link", "add", "br-lan", "type", "bridge")
	ipIn(t, ns, "link", "set", "br-lan", "up")
	ipIn(t, ns, "addr", "add", prefix.String(), "dev", "br-lan")
	ipIn(t, ns, "neigh", "add", neighIP.String(), "lladdr", neighMAC.String(), "dev", "br-lan", "nud", "permanent")

	updates := make(chan kernelUpdate, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- newNetlinkSource("/run/netns/"+ns).Subscribe(ctx, updates) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	}()
	// The deadline only stops a broken test from hanging.
	read := func() kernelUpdate {
		t.Helper()
		select {
		case u := <-updates:
			return u
		case <-time.After(20 * time.Second):
			t.Fatal("no update")
			return kernelUpdate{}
		}
	}

	if u := read(); u.kind != kindListStart {
		t.Fatalf("first update %+v, want the start of the listing", u)
	}
	found := map[updateKind]bool{}
	for _, kind := range []updateKind{kindLink, kindAddr, kindNeigh} {
		for u := read(); u.kind != kindListEnd || u.listed != kind; u = read() {
			if u.kind != kind || u.deleted {
				t.Fatalf("listing %v: got %+v", kind, u)
			}
			switch {
			case kind == kindLink && u.iface == "br-lan" && u.up,
				kind == kindAddr && u.iface == "br-lan" && u.prefix == prefix,
				kind == kindNeigh && u.iface == "br-lan" && u.ip == neighIP && u.mac == neighMAC:
				found[kind] = true
			}
		}
	}
	if len(found) != 3 {
		t.Errorf("listing showed %v; want br-lan, its address and its neighbour", found)
	}

	ipIn(t, ns, "addr", "del", prefix.String(), "dev", "br-lan")
	for u := read(); !(u.kind == kindAddr && u.deleted && u.prefix == prefix); u = read() {
		if u.kind == kindListStart || u.kind == kindListEnd {
			t.Fatalf("a second listing: %+v", u)
		}
	}
}

func hasAddr(addrs []AddressChanged, prefix string) bool {
	for _, a := range addrs {
		if a.Prefix == netip.MustParsePrefix(prefix) && a.Added {
			return true
		}
	}
	return false
}

func hasNeighbor(ns []NeighborSeen, mac hwaddr.MAC, ip netip.Addr) bool {
	for _, n := range ns {
		if n.MAC == mac && n.IP == ip {
			return true
		}
	}
	return false
}

// lanAndWAN makes a namespace whose lan0 (10.97.0.1/24) and wan0
// (10.98.0.2/24) are veth ends with their peers up beside them.
func lanAndWAN(t *testing.T, role string) string {
	t.Helper()
	ns := netnstest.New(t, "iotgwn", role)
	ipIn(t, ns, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p")
	ipIn(t, ns, "link", "add", "wan0", "type", "veth", "peer", "name", "wan0p")
	for _, dev := range []string{"lan0", "lan0p", "wan0", "wan0p"} {
		ipIn(t, ns, "link", "set", dev, "up")
	}
	ipIn(t, ns, "addr", "add", "10.97.0.1/24", "dev", "lan0")
	ipIn(t, ns, "addr", "add", "10.98.0.2/24", "dev", "wan0")
	return ns
}

// TestOnLAN: only neighbours out of a LAN interface pass; the router's
// own address, the WAN side and hosts behind a gateway do not.
func TestOnLAN(t *testing.T) {
	requireRoot(t)
	ns := lanAndWAN(t, "route")
	ipIn(t, ns, "route", "add", "default", "via", "10.98.0.1")
	ipIn(t, ns, "route", "add", "10.99.0.0/24", "via", "10.97.0.254") // a routed segment behind a LAN gateway
	ipIn(t, ns, "addr", "add", "fe80::a/64", "dev", "lan0", "nodad")  // the router's own link-local address
	onLAN := OnLAN([]string{"lan0"})
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.97.0.20", true},
		{"10.97.0.1", false},   // the router itself
		{"10.97.0.255", false}, // the LAN's broadcast address: every device at once
		{"10.98.0.1", false},   // the WAN side (an ISP modem behind double NAT)
		{"10.99.0.5", false},   // behind a gateway
		{"192.0.2.1", false},   // the internet, by the default route
		{"fe80::1%lan0", true}, // by its zone
		{"fe80::1%wan0", false},
		{"fe80::a%lan0", false}, // the router itself, on the LAN interface
	} {
		var got bool
		if err := netnstest.Run(ns, func() error {
			got = onLAN(netip.MustParseAddr(tc.addr))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("OnLAN(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// TestHolderOf: the kernel's neighbour table names who is at an address
// now, on the LAN interfaces only (each asked for its own entry; one
// switched off is none) and in a state that carries a MAC; an
// IPv4-mapped address is its IPv4 address's.
func TestHolderOf(t *testing.T) {
	requireRoot(t)
	ns := lanAndWAN(t, "neigh")
	nas, cam, plug, modem := "02:97:00:00:00:20", "02:97:00:00:00:30", "02:97:00:00:00:70", "02:98:00:00:00:01"
	ipIn(t, ns, "neigh", "add", "10.97.0.20", "lladdr", nas, "dev", "lan0", "nud", "reachable")
	ipIn(t, ns, "neigh", "add", "10.97.0.30", "lladdr", cam, "dev", "lan0", "nud", "stale")
	ipIn(t, ns, "neigh", "add", "fe80::30", "lladdr", cam, "dev", "lan0", "nud", "permanent")
	ipIn(t, ns, "neigh", "add", "10.97.0.40", "dev", "lan0", "nud", "failed")
	ipIn(t, ns, "neigh", "add", "10.97.0.60", "lladdr", "ff:ff:ff:ff:ff:ff", "dev", "lan0", "nud", "noarp")
	ipIn(t, ns, "neigh", "add", "fd97::70", "lladdr", plug, "dev", "lan0p", "nud", "reachable")
	ipIn(t, ns, "neigh", "add", "10.98.0.1", "lladdr", modem, "dev", "wan0", "nud", "permanent")
	holderOf := HolderOf([]string{"lan0", "guest0", "lan0p"}) // guest0 is switched off
	for _, tc := range []struct {
		addr string
		want string // "" for none
	}{
		{"10.97.0.20", nas},
		{"::ffff:10.97.0.20", nas},
		{"10.97.0.30", cam},
		{"fe80::30", cam},
		{"fe80::30%lan0", cam},
		{"fe80::30%lan0p", ""},
		{"fe80::30%wan0", ""},
		{"fd97::70", plug}, // on the last LAN interface
		{"10.97.0.40", ""}, // failed: no MAC
		{"10.97.0.60", ""}, // noarp: a broadcast's, no device's
		{"10.97.0.50", ""}, // not in the table
		{"10.98.0.1", ""},  // the WAN side
	} {
		var got hwaddr.MAC
		var ok bool
		if err := netnstest.Run(ns, func() error {
			got, ok = holderOf(netip.MustParseAddr(tc.addr))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if (tc.want == "") == ok || ok && got.String() != tc.want {
			t.Errorf("HolderOf(%s) = %v, %v; want %q", tc.addr, got, ok, tc.want)
		}
	}
}
