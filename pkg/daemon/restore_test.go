package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// eventually fails the test unless cond holds within a few seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal(what)
}

// editStore changes the stored state in dir while no daemon runs.
func editStore(t *testing.T, dir string, edit func(st *store.Store)) {
	t.Helper()
	st := store.Open(store.Options{Path: dir + "/state.json"})
	edit(st)
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
}

func storedQuarantine(st *store.Store, mac hwaddr.MAC) bool {
	for _, q := range st.Snapshot().Quarantines {
		if q.MAC == mac {
			return true
		}
	}
	return false
}

// cameraQuarantined leaves a stopped daemon's store and kernel with the
// camera quarantined by policy.
func cameraQuarantined(t *testing.T) (*quarantine.Fake, string) {
	t.Helper()
	fake, dir := newFake(t), t.TempDir()
	h := start(t, enforcingConfig(), fake, dir)
	h.settle()
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		t.Fatal("camera not quarantined")
	}
	h.stop()
	return fake, dir
}

// A stored quarantine the kernel refuses (the device was made trusted
// while the daemon was down; a MAC that is no device's) is dropped with a
// warning; the daemon starts and applies the rest.
func TestRestartSkipsRefusedQuarantines(t *testing.T) {
	t.Run("invalid", func(t *testing.T) {
		fake, dir := cameraQuarantined(t)
		group := hwaddr.MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}
		editStore(t, dir, func(st *store.Store) {
			if err := st.PutQuarantine(store.Quarantine{MAC: group, Mode: "block", Since: time.Now(), By: store.ActorPolicy}); err != nil {
				t.Fatal(err)
			}
		})
		h := start(t, enforcingConfig(), fake, dir)
		defer h.stop()
		if storedQuarantine(h.store, group) {
			t.Error("the invalid record is still stored")
		}
		if quarantined(t, fake)[camera] != quarantine.ModeBlock {
			t.Error("the camera's stored quarantine was not restored")
		}
	})
	t.Run("address_protected", func(t *testing.T) {
		// The owner quarantined the plug; at restart only its address is
		// protected (the owner manages iotgw from it now): the plug stays
		// quarantined by its MAC, in the kernel and the store.
		fake, dir := newFake(t), t.TempDir()
		h := start(t, enforcingConfig(), fake, dir)
		h.settle()
		if err := h.d.Quarantine(context.Background(), plug, "block", 0); err != nil {
			t.Fatal(err)
		}
		current, err := fake.Current(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h.stop()
		var addr netip.Addr
		for _, e := range current {
			if e.MAC == plug && len(e.Addrs) > 0 {
				addr = e.Addrs[0]
			}
		}
		if !addr.IsValid() {
			t.Fatal("the plug's entry has no address")
		}
		cfg := enforcingConfig()
		cfg.Daemon.ManagementAddresses = []netip.Addr{addr}
		h = start(t, cfg, fake, dir)
		defer h.stop()
		h.settle()
		if quarantined(t, fake)[plug] != quarantine.ModeBlock || !storedQuarantine(h.store, plug) {
			t.Errorf("plug released at restart because its address %s is protected now", addr)
		}
		// The daemon's record of the entry agrees with the kernel: the
		// protected address is not blocked at the DNS proxy, and keeping
		// the rules in place finds nothing to re-send.
		h.d.checkKernel(context.Background())
		h.d.mu.Lock()
		blocked, kernel, problems := h.d.blockedAddrsLocked(), h.d.meta[plug].kernelAddrs, len(h.d.problems)
		h.d.mu.Unlock()
		if slices.Contains(blocked, addr) || slices.Contains(kernel, addr) || problems != 0 {
			t.Errorf("protected %s still recorded in the plug's entry (%v), blocked %v, %d problems", addr, kernel, blocked, problems)
		}
	})
	t.Run("trusted", func(t *testing.T) {
		fake, dir := cameraQuarantined(t)
		cfg := enforcingConfig()
		cfg.Policy.Devices = append(cfg.Policy.Devices, config.DeviceRule{MAC: camera, Trusted: true})
		h := start(t, cfg, fake, dir)
		defer h.stop()
		h.settle()
		if _, ok := quarantined(t, fake)[camera]; ok {
			t.Error("trusted camera quarantined")
		}
		if storedQuarantine(h.store, camera) {
			t.Error("the trusted camera's quarantine is still stored")
		}
	})
}

// SIGHUP re-applies protections: a device no longer trusted can be
// quarantined, new management addresses are protected in the kernel.
func TestReloadReappliesProtections(t *testing.T) {
	fake := newFake(t)
	cfg := enforcingConfig()
	cfg.Policy.Devices = append(cfg.Policy.Devices, config.DeviceRule{MAC: camera, Trusted: true})
	h := start(t, cfg, fake, t.TempDir())
	defer h.stop()
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Fatal("trusted camera quarantined")
	}
	// The page shows the file's trust, and cannot take it back.
	if dev, _ := h.d.Device(camera); !dev.Trusted {
		t.Error("the page shows the camera the configuration trusts as untrusted")
	}
	if err := h.d.SetTrusted(context.Background(), camera, false); !errors.Is(err, api.ErrConflict) {
		t.Errorf("un-trusting the camera the configuration trusts: %v, want a conflict", err)
	}
	next := enforcingConfig()
	owner := netip.MustParseAddr("192.168.50.104")
	next.Daemon.ManagementAddresses = []netip.Addr{owner}
	h.d.Reload(next)
	eventually(t, "camera not quarantined once no longer trusted", func() bool {
		return quarantined(t, fake)[camera] == quarantine.ModeBlock
	})
	if !strings.Contains(fake.Dump(), owner.String()) {
		t.Error("the reloaded management address is not in the kernel's protected set")
	}

	// Trusting a device the owner quarantined: the kernel's protection
	// releases it, and the daemon's view and store follow.
	if err := h.d.Quarantine(context.Background(), plug, "", 0); err != nil {
		t.Fatal(err)
	}
	next.Policy.Devices = append(next.Policy.Devices, config.DeviceRule{MAC: plug, Trusted: true})
	h.d.Reload(next)
	eventually(t, "trusted plug still quarantined", func() bool {
		dev, _ := h.d.Device(plug)
		_, inKernel := quarantined(t, fake)[plug]
		return dev.State != api.StateQuarantined && !inKernel && !storedQuarantine(h.store, plug)
	})
}

// Switching to monitor mode by SIGHUP leaves the kernel as it is.
func TestReloadToMonitorKeepsQuarantines(t *testing.T) {
	h, fake := startQuarantined(t, enforcingConfig())
	defer h.stop()
	h.d.Reload(config.Default())
	h.settle()
	time.Sleep(50 * time.Millisecond) // the last evaluation may still run
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		t.Error("monitor mode released the camera")
	}
	if dev, _ := h.d.Device(camera); dev.State != api.StateQuarantined {
		t.Errorf("camera state %s, want quarantined", dev.State)
	}
}

// A crash after the kernel write and before the store write: on restart
// the policy quarantines the camera again from its stored findings, with
// no new packet from it.
func TestRestartReevaluatesStoredFindings(t *testing.T) {
	fake, dir := cameraQuarantined(t)
	editStore(t, dir, func(st *store.Store) { st.DeleteQuarantine(camera) })

	h2 := launch(t, enforcingConfig(), fake, dir, false)
	defer h2.stop()
	eventually(t, "camera not quarantined again from its stored findings", func() bool {
		dev, _ := h2.d.Device(camera)
		return dev.State == api.StateQuarantined && quarantined(t, fake)[camera] == quarantine.ModeBlock
	})
	if !storedQuarantine(h2.store, camera) {
		t.Error("the camera's quarantine was not stored again")
	}
}

// flakyCurrent fails Current its first failures times.
type flakyCurrent struct {
	Enforcer
	mu       sync.Mutex
	failures int
}

func (f *flakyCurrent) Current(ctx context.Context) ([]quarantine.Entry, error) {
	f.mu.Lock()
	fail := f.failures > 0
	f.failures--
	f.mu.Unlock()
	if fail {
		return nil, errFlaky
	}
	return f.Enforcer.Current(ctx)
}

// A kernel read that fails at start is tried again: the quarantines only
// the kernel holds (their saved records lost) are kept, where the first
// reconcile would otherwise delete them.
func TestRestoreRetriesKernelRead(t *testing.T) {
	fake := newFake(t)
	ctx := context.Background()
	if err := fake.Quarantine(ctx, quarantine.Entry{MAC: camera, Mode: quarantine.ModeBlock}); err != nil {
		t.Fatal(err)
	}
	h := launch(t, enforcingConfig(), fake, t.TempDir(), false, func(d *Deps) { d.Enforcer = &flakyCurrent{Enforcer: fake, failures: 2} })
	defer h.stop()
	eventually(t, "the camera's quarantine was not kept after two failed kernel reads", func() bool {
		dev, _ := h.d.Device(camera)
		return dev.Quarantine != nil
	})
	if q := quarantined(t, fake); q[camera] != quarantine.ModeBlock {
		t.Errorf("kernel quarantines %v, want the camera's kept", q)
	}
}

// TestSettleWaitsForRestore: the tests' settle returns once the daemon
// has restored its state, not while its queue is empty because the
// restore has queued nothing yet: a kernel check then would see no
// quarantine and free the devices the store holds. A first kernel read
// that fails keeps the restore going a while (it tries again).
func TestSettleWaitsForRestore(t *testing.T) {
	fake := newFake(t)
	dir := t.TempDir()
	now := time.Now()
	editStore(t, dir, func(st *store.Store) {
		if err := st.PutQuarantine(store.Quarantine{MAC: camera, Mode: string(quarantine.ModeBlock), Since: now, Until: now.Add(time.Hour),
			By: store.ActorOwner, Reason: "quarantined by the owner"}); err != nil {
			t.Fatal(err)
		}
	})
	h := launch(t, enforcingConfig(), fake, dir, false, func(d *Deps) { d.Enforcer = &flakyCurrent{Enforcer: fake, failures: 1} })
	defer h.stop()
	h.settle()
	h.d.checkKernel(context.Background())
	if dev, _ := h.d.Device(camera); dev.Quarantine == nil {
		t.Error("settled before the camera's quarantine was restored")
	}
	if q := quarantined(t, fake); q[camera] != quarantine.ModeBlock {
		t.Errorf("kernel quarantines %v after the kernel check, want the camera's", q)
	}
}

// A start with updates-only quarantines stored (an owner's choice for a
// device) and the DNS proxy off tells that they reach no update host:
// only the proxy's answers fill their allow sets.
func TestRestoreWarnsUpdatesOnlyWithoutProxy(t *testing.T) {
	const warning = "updates-only quarantines reach no update host"
	for _, tc := range []struct {
		name  string
		mode  string
		proxy bool
		warns bool
	}{
		{"updates_only_proxy_off", "updates-only", false, true},
		{"updates_only_proxy_on", "updates-only", true, false},
		{"block_proxy_off", "block", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			editStore(t, dir, func(st *store.Store) {
				if err := st.PutQuarantine(store.Quarantine{MAC: plug, Mode: tc.mode, Since: time.Now(), By: store.ActorOwner}); err != nil {
					t.Fatal(err)
				}
			})
			cfg := enforcingConfig()
			cfg.DNSProxy.Enabled = tc.proxy
			var log syncBuffer
			h := start(t, cfg, newFake(t), dir, func(d *Deps) { d.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
			h.settle()
			h.stop()
			if got := strings.Contains(log.String(), warning); got != tc.warns {
				t.Errorf("warned %v, want %v; log:\n%s", got, tc.warns, log.String())
			}
		})
	}
}
