package daemon

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// TestRouterAddressLearntLaterStaysOutOfTheBridge: an address the router
// gains while the daemon runs (an IPv6 prefix delegated after the start,
// a LAN interface that came up late) is protected in the inet table as
// the router's, and, like those known at the start, kept out of the
// bridge table's sets: there a LAN peer sending from it would reach a
// quarantined device, and the device's frames naming it would reach any
// MAC. One it loses is the router's no more.
func TestRouterAddressLearntLaterStaysOutOfTheBridge(t *testing.T) {
	known := routerOwn().RouterAddrs
	fake, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081, RouterAddrs: known})
	if err != nil {
		t.Fatal(err)
	}
	h := launch(t, enforcingConfig(), fake, t.TempDir(), false)
	defer h.stop()
	h.settle()
	learnt := netip.MustParsePrefix("2001:db8:50::1/64")
	tests := []struct {
		name              string
		added             bool
		wantInet, wantBri bool
	}{
		{"gained", true, true, false},
		{"lost", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.d.presence(context.Background(), netwatch.AddressChanged{Prefix: learnt, Added: tt.added})
			dump := fake.Dump()
			for _, c := range []struct {
				family string
				want   bool
			}{{"inet", tt.wantInet}, {"bridge", tt.wantBri}} {
				if got := protectedIn(dump, c.family, learnt.Addr()); got != c.want {
					t.Errorf("%s protected_v6 holds %s: %v, want %v", c.family, learnt.Addr(), got, c.want)
				}
			}
			if protectedIn(dump, "bridge", known[0]) {
				t.Errorf("bridge protected_v4 holds the router's address %s known at the start", known[0])
			}
		})
	}
}

// TestLostRouterAddressLeavesTheBridge: an address the router loses (a
// prefix renumbered) leaves every protected set with the update of the
// router's addresses, not with the update of the other protected ones
// after it: until then the bridge, no longer keeping it out as the
// router's, would hold it as protected, the channel through every
// quarantine that keeping the router's addresses out closes; and that
// second update may fail.
func TestLostRouterAddressLeavesTheBridge(t *testing.T) {
	ctx := context.Background()
	fake, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081, RouterAddrs: routerOwn().RouterAddrs})
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyEnforcer{Enforcer: fake}
	h := launch(t, enforcingConfig(), fake, t.TempDir(), false, func(d *Deps) { d.Enforcer = flaky })
	defer h.stop()
	h.settle()
	learnt := netip.MustParsePrefix("2001:db8:50::1/64")
	h.d.presence(ctx, netwatch.AddressChanged{Prefix: learnt, Added: true})
	flaky.set("protected", true)
	h.d.presence(ctx, netwatch.AddressChanged{Prefix: learnt, Added: false})
	dump := fake.Dump()
	for _, family := range []string{"inet", "bridge"} {
		if protectedIn(dump, family, learnt.Addr()) {
			t.Errorf("%s protected_v6 holds %s, which the router lost", family, learnt.Addr())
		}
	}
}

// protectedIn reports whether the fake's dump has a in the protected set
// of a's family in the table of family.
func protectedIn(dump, family string, a netip.Addr) bool {
	set := "protected_v4"
	if a.Is6() {
		set = "protected_v6"
	}
	prefix := "add element " + family + " iotgw " + set + " { "
	for line := range strings.SplitSeq(dump, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			for el := range strings.SplitSeq(strings.TrimSuffix(rest, " }"), ", ") {
				if el == a.String() {
					return true
				}
			}
		}
	}
	return false
}
