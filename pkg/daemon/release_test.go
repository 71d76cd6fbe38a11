package daemon

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// TestEvaluationDuringRelease: policy evaluates the camera right after
// the owner's release cleared its quarantine (here from the Blocked
// callback, which runs in that window); it must see the release and not
// quarantine the camera again.
func TestEvaluationDuringRelease(t *testing.T) {
	var d atomic.Pointer[Daemon]
	var evaluated atomic.Bool
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir(), func(deps *Deps) {
		deps.Blocked = func([]netip.Addr) {
			if d := d.Swap(nil); d != nil {
				d.evaluate(context.Background(), camera)
				evaluated.Store(true)
			}
		}
	})
	defer h.stop()
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; !ok {
		t.Fatal("camera not quarantined by policy")
	}
	d.Store(h.d)
	if err := h.d.Release(context.Background(), camera); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if !evaluated.Load() {
		t.Fatal("the camera was not evaluated during the release")
	}
	assertReleased(t, h)
}

// TestStalePolicyPlanDropped: policy planned a change to the camera's
// quarantine (its address changed) and the owner released it before the
// plan reached the kernel; the plan must not quarantine it again.
func TestStalePolicyPlanDropped(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	h.d.mu.Lock()
	h.d.pipe.Inventory().Seen(camera, netip.MustParseAddr("192.168.50.150"), "", "neighbour", time.Now())
	h.d.mu.Unlock()
	p, _, _, _ := h.d.policyPlan(camera)
	if !p.apply {
		t.Fatalf("no plan to follow the camera's new address: %+v", p)
	}
	if err := h.d.Release(context.Background(), camera); err != nil {
		t.Fatal(err)
	}
	h.d.applyPlan(context.Background(), camera, p)
	h.settle()
	assertReleased(t, h)
}

func assertReleased(t *testing.T, h *harness) {
	t.Helper()
	if _, ok := quarantined(t, h.fake)[camera]; ok {
		t.Error("camera quarantined again after the owner released it")
	}
	if dev, _ := h.d.Device(camera); dev.State == api.StateQuarantined {
		t.Errorf("camera shown quarantined after release: %+v", dev.Quarantine)
	}
}

// TestPlanStaleAfterReload: a plan made under enforce that reaches the
// kernel after the owner switched to monitor mode (SIGHUP) is dropped;
// monitor mode keeps quarantines, so it would stay for good.
func TestPlanStaleAfterReload(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Policy.MaxAutoQuarantine = 0 // nothing quarantined while the capture plays
	fake := newFake(t)
	h := start(t, cfg, fake, t.TempDir())
	defer h.stop()
	h.settle()
	if len(quarantined(t, fake)) != 0 {
		t.Fatal("quarantined while the capture played")
	}
	h.d.mu.Lock()
	h.d.cfg.Policy.MaxAutoQuarantine = 3 // a higher limit, as a reload gives it, without its re-evaluation
	h.d.meta[camera].overLimit = false
	h.d.mu.Unlock()
	p, _, _, _ := h.d.policyPlan(camera)
	if !p.apply {
		t.Fatal("no quarantine planned")
	}
	h.d.Reload(config.Default()) // monitor mode
	h.d.applyPlan(context.Background(), camera, p)
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Error("camera quarantined by a plan made before the switch to monitor mode")
	}
}

// TestReleaseOfForcedDeviceRefused: a device the configuration forces
// into quarantine would be quarantined again at its next evaluation; the
// release is refused with the reason instead of undone later, unless
// monitor mode keeps the rule from quarantining.
func TestReleaseOfForcedDeviceRefused(t *testing.T) {
	fake := newFake(t)
	h, _ := startForced(t, fake, t.TempDir())
	defer h.stop()
	x := forcedMAC
	if err := h.d.Release(context.Background(), x); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "policy.devices") {
		t.Fatalf("Release: %v, want a conflict naming the rule", err)
	}
	if _, ok := quarantined(t, fake)[x]; !ok {
		t.Error("the refused release took the device out of quarantine")
	}
	// In monitor mode the rule quarantines nobody: the quarantine it
	// left is the owner's to end.
	cfg := config.Default()
	cfg.Policy.Devices = []config.DeviceRule{{MAC: x, Force: config.ActionQuarantine}}
	h.d.Reload(cfg)
	h.settle()
	if err := h.d.Release(context.Background(), x); err != nil {
		t.Fatalf("Release in monitor mode: %v", err)
	}
	if _, ok := quarantined(t, fake)[x]; ok {
		t.Error("still quarantined after the release in monitor mode")
	}
}

// releaseRecorder is the fake kernel noting the addresses each release
// names for its connections.
type releaseRecorder struct {
	*quarantine.Fake
	mu    sync.Mutex
	addrs map[hwaddr.MAC][]netip.Addr
}

func (r *releaseRecorder) Release(ctx context.Context, mac hwaddr.MAC, addrs ...netip.Addr) error {
	r.mu.Lock()
	r.addrs[mac] = slices.Clone(addrs)
	r.mu.Unlock()
	return r.Fake.Release(ctx, mac, addrs...)
}

func (r *releaseRecorder) released(mac hwaddr.MAC) ([]netip.Addr, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.addrs[mac]
	return a, ok
}

// TestReleaseNamesTheEntrysAddresses: however a quarantine ends, the
// release names the addresses the entry held, so that the connections
// its DNS redirect left are deleted, although by then the kernel holds no
// entry to take them from: it timed out (at run time, or while the
// daemon was stopped), or protection took it out (a reload trusting the
// device).
func TestReleaseNamesTheEntrysAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, h *harness, clk *testclock.Clock, restart func() *harness) *harness
	}{
		{name: "ran_out", end: func(t *testing.T, h *harness, clk *testclock.Clock, _ func() *harness) *harness {
			clk.Advance(2 * time.Hour)
			h.d.evaluate(context.Background(), camera)
			return h
		}},
		{name: "ran_out_while_stopped", end: func(t *testing.T, h *harness, clk *testclock.Clock, restart func() *harness) *harness {
			h.stop()
			clk.Advance(2 * time.Hour)
			h = restart()
			h.settle()
			return h
		}},
		{name: "trusted_by_reload", end: func(t *testing.T, h *harness, _ *testclock.Clock, _ func() *harness) *harness {
			next := enforcingConfig()
			next.Policy.QuarantineFor.Duration = time.Hour
			next.Policy.Devices = append(next.Policy.Devices, config.DeviceRule{MAC: camera, Trusted: true})
			h.d.Reload(next)
			eventually(t, "the trusted camera's quarantine is not released", func() bool {
				dev, _ := h.d.Device(camera)
				return dev.State != api.StateQuarantined
			})
			return h
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t)
			rec := &releaseRecorder{Fake: fake, addrs: map[hwaddr.MAC][]netip.Addr{}}
			dir := t.TempDir()
			cfg := enforcingConfig()
			cfg.Policy.QuarantineFor.Duration = time.Hour
			clk := testclock.New(time.Now())
			with := func(d *Deps) { d.Now, d.Enforcer = clk.Now, rec }
			h := start(t, cfg, fake, dir, with)
			h.settle()
			held := cameraEntry(t, fake).Addrs
			if len(held) == 0 {
				t.Fatal("camera quarantined with no address")
			}
			h = tc.end(t, h, clk, func() *harness { return launch(t, cfg, fake, dir, false, with) })
			defer h.stop()
			got, ok := rec.released(camera)
			if !ok {
				t.Fatal("the camera's quarantine was not released")
			}
			if !sameAddrs(got, held) {
				t.Errorf("release named %v, want the entry's %v", got, held)
			}
		})
	}
}
