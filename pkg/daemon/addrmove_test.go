package daemon

import (
	"context"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/policy"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// phone is the owner's phone, which DHCP gives addresses that were others'.
var phone = hwaddr.MAC{0x3c, 0x22, 0xfb, 0x01, 0x02, 0x03}

// TestReusedAddressLeavesQuarantine: the quarantined camera moves to
// another address and DHCP gives its old one to the owner's phone; the
// camera's entry is re-sent without it, else the kernel's IP sets would
// cut the phone off.
func TestReusedAddressLeavesQuarantine(t *testing.T) {
	moved := netip.MustParseAddr("192.168.50.120")
	for _, how := range []string{"neighbour", "lease"} {
		t.Run(how, func(t *testing.T) {
			fake := newFake(t)
			h := start(t, enforcingConfig(), fake, t.TempDir())
			defer h.stop()
			h.settle()
			old := cameraEntry(t, fake).Addrs
			if len(old) == 0 {
				t.Fatalf("camera quarantined with no address: %+v", cameraEntry(t, fake))
			}
			reused := old[len(old)-1]

			ctx := context.Background()
			h.d.presence(ctx, netwatch.NeighborSeen{MAC: camera, IP: moved, Time: time.Now()})
			h.settle()
			if e := cameraEntry(t, fake); !slices.Contains(e.Addrs, moved) {
				t.Fatalf("camera's entry %v does not follow it to %s", e.Addrs, moved)
			}
			if how == "lease" {
				h.d.presence(ctx, netwatch.LeaseSeen{MAC: phone, IP: reused})
			} else {
				h.d.presence(ctx, netwatch.NeighborSeen{MAC: phone, IP: reused, Time: time.Now()})
			}
			h.settle()
			e := cameraEntry(t, fake)
			if slices.Contains(e.Addrs, reused) || !slices.Contains(e.Addrs, moved) {
				t.Errorf("camera's entry holds %v after %s went to the phone, want %s and not it", e.Addrs, reused, moved)
			}
			if _, ok := quarantined(t, fake)[phone]; ok {
				t.Error("the phone was quarantined")
			}
		})
	}
}

// TestLeaseTakesOnlyAddressOfQuarantined: DHCP gives the quarantined
// camera's only address to the owner's phone; the camera's entry is
// re-sent without it (its MAC still blocks it), else the kernel's IP sets
// would cut the phone off.
func TestLeaseTakesOnlyAddressOfQuarantined(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	old := cameraEntry(t, fake).Addrs
	if len(old) != 1 {
		t.Fatalf("camera quarantined with addresses %v, want one", old)
	}
	h.d.presence(context.Background(), netwatch.LeaseSeen{MAC: phone, IP: old[0]})
	h.settle()
	if e := cameraEntry(t, fake); slices.Contains(e.Addrs, old[0]) {
		t.Errorf("camera's entry holds %v after %s went to the phone", e.Addrs, old[0])
	}
	if _, ok := quarantined(t, fake)[phone]; ok {
		t.Error("the phone was quarantined")
	}
}

func cameraEntry(t *testing.T, f *quarantine.Fake) quarantine.Entry {
	t.Helper()
	entries, err := f.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.MAC == camera {
			return e
		}
	}
	t.Fatal("camera not quarantined")
	return quarantine.Entry{}
}

// TestDUIDLeaseTakesNoLiveAddress: a DHCPv6 lease names the MAC in the
// client's DUID, which may be another interface's or made up: it does
// not take the address the quarantined camera still uses out of its
// entry (as a DHCPv4 lease would).
func TestDUIDLeaseTakesNoLiveAddress(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	ctx := context.Background()
	v6 := netip.MustParseAddr("fd00::10")
	h.d.presence(ctx, netwatch.NeighborSeen{MAC: camera, IP: v6, Time: time.Now()})
	h.settle()
	if e := cameraEntry(t, fake); !slices.Contains(e.Addrs, v6) {
		t.Fatalf("camera's entry %v lacks %s", e.Addrs, v6)
	}
	h.d.presence(ctx, netwatch.LeaseSeen{MAC: phone, IP: v6, MACFromDUID: true})
	h.settle()
	if e := cameraEntry(t, fake); !slices.Contains(e.Addrs, v6) {
		t.Errorf("a DHCPv6 lease naming the phone took %s out of the camera's entry %v", v6, e.Addrs)
	}
}

// quarantineCounter is the fake kernel counting Quarantine calls.
type quarantineCounter struct {
	*quarantine.Fake
	n atomic.Int32
}

func (c *quarantineCounter) Quarantine(ctx context.Context, e quarantine.Entry) error {
	c.n.Add(1)
	return c.Fake.Quarantine(ctx, e)
}

// TestAddressOrderIsNoChange: the inventory moves an address last when
// the device uses it, so a device alternating between its IPv4 and IPv6
// addresses reorders them all the time; the same addresses in another
// order are no change to send the kernel (nor a state write, nor a log
// line) at the next evaluation.
func TestAddressOrderIsNoChange(t *testing.T) {
	fake := newFake(t)
	counter := &quarantineCounter{Fake: fake}
	h := start(t, enforcingConfig(), fake, t.TempDir(), func(d *Deps) { d.Enforcer = counter })
	defer h.stop()
	h.settle()
	ctx := context.Background()
	h.d.presence(ctx, netwatch.NeighborSeen{MAC: camera, IP: netip.MustParseAddr("fd00::10"), Time: time.Now()})
	h.settle()
	held := cameraEntry(t, fake).Addrs
	if len(held) < 2 {
		t.Fatalf("camera's entry %v, want two addresses", held)
	}
	for _, a := range held {
		// The camera uses the address again: the inventory moves it last.
		h.d.presence(ctx, netwatch.NeighborSeen{MAC: camera, IP: a, Time: time.Now()})
		h.settle()
		before := counter.n.Load()
		h.d.schedule(camera) // any evaluation: a finding, a reload, a retry
		h.settle()
		if n := counter.n.Load() - before; n != 0 {
			t.Errorf("after the camera used %s: %d Quarantine calls for the same addresses", a, n)
		}
	}
}

// TestHeldQuarantineFollowsAddresses: a quarantine that holds while
// policy no longer calls for it (its grace period began again, the
// device's record is younger than the quarantine, the device says it was
// updated) still follows the device's addresses, as the owner's does: an
// address DHCP gave to another device leaves the entry, else the kernel
// would cut that device off, and a new one joins it.
func TestHeldQuarantineFollowsAddresses(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	mac := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x42}
	since := time.Now().Add(-time.Hour)
	kept, given, joined := netip.MustParseAddr("192.168.50.150"), netip.MustParseAddr("192.168.50.151"), netip.MustParseAddr("fd00::150")
	for _, tc := range []struct {
		name      string
		v         policy.Verdict
		claim     string
		firstSeen time.Time
		wantBy    store.Actor
	}{
		{name: "grace_period_again", v: policy.Verdict{Action: config.ActionAlert, Enforce: true, Pending: config.ActionQuarantine, PendingUntil: time.Now().Add(time.Hour)},
			firstSeen: since.Add(-time.Hour), wantBy: store.ActorPolicy},
		{name: "record_younger_than_quarantine", v: policy.Verdict{Action: config.ActionAlert, Enforce: true},
			firstSeen: since.Add(time.Minute), wantBy: store.ActorPolicy},
		{name: "update_claimed", v: policy.Verdict{Action: config.ActionAlert, Enforce: true}, claim: "firmware 2.1 installed",
			firstSeen: since.Add(-time.Hour), wantBy: store.ActorUpdate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &store.Quarantine{MAC: mac, Mode: "block", Since: since, By: store.ActorPolicy, Reason: "exploited firmware"}
			m := &deviceMeta{quarantine: q, kernelAddrs: []netip.Addr{kept, given}, updateClaim: tc.claim}
			dev := &device.Device{Key: device.Key{MAC: mac}, FirstSeen: tc.firstSeen, Addrs: []netip.Addr{kept, joined}}
			h.d.mu.Lock()
			p := h.d.planLocked(mac, m, dev, tc.v, time.Now())
			h.d.mu.Unlock()
			if !p.apply || !sameAddrs(p.entry.Addrs, dev.Addrs) {
				t.Fatalf("plan apply %v with addresses %v, want the device's %v", p.apply, p.entry.Addrs, dev.Addrs)
			}
			if p.record.By != tc.wantBy || !p.record.Since.Equal(since) {
				t.Errorf("plan record by %q since %v, want by %q since %v", p.record.By, p.record.Since, tc.wantBy, since)
			}
			// Unmoved, nothing to do but what the branch did before.
			m.kernelAddrs = slices.Clone(dev.Addrs)
			h.d.mu.Lock()
			p = h.d.planLocked(mac, m, dev, tc.v, time.Now())
			h.d.mu.Unlock()
			if tc.claim == "" && (p.apply || p.release) {
				t.Errorf("addresses unmoved: plan %+v, want none", p)
			}
		})
	}
}

// TestKeptEntryLetsGoOfAReusedAddress: a quarantine kept from the kernel
// at start-up (the saved state was lost) whose device is gone, so the
// inventory does not hold it, still lets go of an address DHCP gives to
// another device: else the kernel's IP sets cut that device off (the
// owner's phone, which then cannot even reach the page to release the
// entry). Its MAC still holds it, and the address nobody else took stays.
func TestKeptEntryLetsGoOfAReusedAddress(t *testing.T) {
	fake := newFake(t)
	ctx := context.Background()
	gone := hwaddr.MAC{0x00, 0x12, 0x41, 0x0a, 0x0b, 0x0c}
	reused, kept := netip.MustParseAddr("192.168.50.77"), netip.MustParseAddr("192.168.50.78")
	if err := fake.Quarantine(ctx, quarantine.Entry{MAC: gone, Addrs: []netip.Addr{reused, kept}, Mode: quarantine.ModeBlock}); err != nil {
		t.Fatal(err)
	}
	h := launch(t, enforcingConfig(), fake, t.TempDir(), false)
	defer h.stop()
	h.settle()
	h.d.presence(ctx, netwatch.LeaseSeen{MAC: phone, IP: reused})
	h.settle()
	entries, err := fake.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(entries, func(e quarantine.Entry) bool { return e.MAC == gone })
	if i < 0 {
		t.Fatal("the kept quarantine was dropped")
	}
	if got := entries[i].Addrs; !slices.Equal(got, []netip.Addr{kept}) {
		t.Errorf("the kept entry holds %v after %s went to the phone, want %v", got, reused, []netip.Addr{kept})
	}
	h.d.checkKernel(ctx)
	if got := quarantined(t, fake); got[gone] != quarantine.ModeBlock || len(got) != 1 {
		t.Errorf("after a kernel check: quarantines %v, want the kept one alone", got)
	}
}
