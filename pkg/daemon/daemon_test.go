package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/policy"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

var (
	camera = hwaddr.MAC{0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}
	plug   = hwaddr.MAC{0x50, 0xc7, 0xbf, 0x0a, 0x1b, 0x2c}
	laptop = hwaddr.MAC{0x3c, 0xa9, 0xf4, 0x6a, 0x7b, 0x8c}
	router = hwaddr.MAC{0x94, 0x83, 0xc4, 0x50, 0x00, 0x01}
)

// routerOwn is the router's own identity in the demo capture: its frames
// from other addresses were routed onto the LAN.
func routerOwn() Options {
	return Options{RouterMACs: []hwaddr.MAC{router}, RouterAddrs: []netip.Addr{netip.MustParseAddr("192.168.50.1")}}
}

// replay is a packet source that plays a capture once and then waits, as
// a quiet network does.
type replay struct {
	f    *capture.File
	ctx  context.Context
	done chan struct{}
	once sync.Once
}

func (r *replay) ReadPacket() ([]byte, capture.Info, error) {
	data, info, err := r.f.ReadPacket()
	if errors.Is(err, io.EOF) {
		r.once.Do(func() { close(r.done) })
		<-r.ctx.Done()
		return nil, capture.Info{}, r.ctx.Err()
	}
	return data, info, err
}

func (r *replay) Close() error { return r.f.Close() }

// alerts records what the daemon would push to the owner's phone.
type alerts struct {
	mu   sync.Mutex
	sent []alert.Alert
}

func (a *alerts) Notify(x alert.Alert) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent = append(a.sent, x)
	return 1
}

func (a *alerts) kinds() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for _, x := range a.sent {
		out[string(x.Kind)]++
	}
	return out
}

type harness struct {
	alerts *alerts
	t      *testing.T
	d      *Daemon
	fake   *quarantine.Fake
	store  *store.Store
	cancel context.CancelFunc
	done   chan struct{}
	played chan struct{}
	// running is closed once Run has restored the state and started its
	// loops; until then the work queue is empty however much is to come.
	running chan struct{}
	wg      sync.WaitGroup
}

func enforcingConfig() *config.Config {
	cfg := config.Default()
	cfg.Policy.Mode = "enforce"
	return cfg
}

// start runs a daemon over the bundled capture with the fake enforcer
// and a store in dir; with, when given, changes its other collaborators.
func start(t *testing.T, cfg *config.Config, fake *quarantine.Fake, dir string, with ...func(*Deps)) *harness {
	t.Helper()
	h := launch(t, cfg, fake, dir, true, with...)
	select {
	case <-h.played:
	case <-h.done:
		t.Fatal("daemon stopped before the capture was played")
	}
	return h
}

// launch runs a daemon with the fake enforcer and a store in dir; its
// packet source plays the bundled capture once when play is set, and is
// silent otherwise.
func launch(t *testing.T, cfg *config.Config, fake *quarantine.Fake, dir string, play bool, with ...func(*Deps)) *harness {
	t.Helper()
	st := store.Open(store.Options{Path: dir + "/state.json"})
	h := &harness{t: t, fake: fake, store: st, done: make(chan struct{}), played: make(chan struct{}), running: make(chan struct{}), alerts: &alerts{}}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	opened := !play
	deps := Deps{
		Enforcer: fake,
		Store:    st,
		Alerts:   h.alerts,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) {
			if opened {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			opened = true
			f, err := capture.OpenFile(inspecttest.RepoFile(t, "testdata/demo.pcap"))
			if err != nil {
				return nil, err
			}
			return &replay{f: f, ctx: ctx, done: h.played}, nil
		},
	}
	for _, w := range with {
		w(&deps)
	}
	// Run opens the packet source first thing after the restore, whoever
	// provides it.
	open, opening := deps.OpenSource, sync.Once{}
	deps.OpenSource = func(ctx context.Context) (capture.Source, error) {
		opening.Do(func() { close(h.running) })
		return open(ctx)
	}
	opt := routerOwn()
	opt.SourceName = "test"
	d, err := New(cfg, opt, deps)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := d.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
		close(h.done)
	}()
	return h
}

func (h *harness) stop() {
	h.cancel()
	h.wg.Wait()
	if err := h.store.Flush(); err != nil {
		h.t.Fatal(err)
	}
}

// patience bounds the tests' waits for the daemon's goroutines. It only
// keeps a broken build from hanging: a loaded CI machine running the
// race detector may take seconds for what takes milliseconds here.
const patience = time.Minute

// settle waits until the daemon has restored its state and started, and
// the enforcement worker has drained its queue. A daemon that stopped
// before it started has nothing left to do.
func (h *harness) settle() {
	select {
	case <-h.running:
	case <-h.done:
		return
	case <-time.After(patience):
		h.t.Fatal("the daemon never finished restoring its state")
	}
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if h.d.work.pending() == 0 {
			time.Sleep(20 * time.Millisecond)
			if h.d.work.pending() == 0 {
				return
			}
		}
	}
	h.t.Fatal("enforcement queue never drained")
}

func quarantined(t *testing.T, f *quarantine.Fake) map[hwaddr.MAC]quarantine.Mode {
	t.Helper()
	entries, err := f.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[hwaddr.MAC]quarantine.Mode{}
	for _, e := range entries {
		out[e.MAC] = e.Mode
	}
	return out
}

// startQuarantined starts a daemon over the bundled capture with cfg, the
// fake enforcer, a store in a new directory and with's collaborators, and
// fails unless policy quarantined the camera.
func startQuarantined(t *testing.T, cfg *config.Config, with ...func(*Deps)) (*harness, *quarantine.Fake) {
	t.Helper()
	fake := newFake(t)
	h := start(t, cfg, fake, t.TempDir(), with...)
	h.settle()
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		h.stop()
		t.Fatal("camera not quarantined")
	}
	return h, fake
}

// stable drops the remaining time of expiring elements from a dump.
func stable(dump string) string {
	return regexp.MustCompile(`expires \S+ `).ReplaceAllString(dump, "")
}

func newFake(t testing.TB) *quarantine.Fake {
	f, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPolicyQuarantinesTheCamera(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	q := quarantined(t, fake)
	if q[camera] != quarantine.ModeBlock {
		t.Errorf("camera not blocked: %v", q)
	}
	for _, mac := range []hwaddr.MAC{plug, laptop, router} {
		if _, ok := q[mac]; ok {
			t.Errorf("%s quarantined: %v", mac, q)
		}
	}
	dev, ok := h.d.Device(camera)
	if !ok || dev.State != api.StateQuarantined || dev.Quarantine.By != "policy" || !strings.Contains(dev.Quarantine.Reason, "factory-default") {
		t.Errorf("camera view %+v", dev.Quarantine)
	}
	if p, _ := h.d.Device(plug); p.State != api.StateAlert {
		t.Errorf("plug state %s, want alert", p.State)
	}
	// The owner sees the software a finding would be matched against:
	// the camera's telnet banner names its BusyBox.
	if !slices.ContainsFunc(dev.Software, func(s api.Software) bool {
		return s.Product == "busybox" && s.Version == "1.19.3" && s.Source == "banner/telnet"
	}) {
		t.Errorf("camera software %+v, want BusyBox 1.19.3 from its telnet banner", dev.Software)
	}
}

// cutFails is the fake enforcer with conntrack deletion failing after
// every quarantine, as the kernel backend reports it.
type cutFails struct{ *quarantine.Fake }

func (c cutFails) Quarantine(ctx context.Context, e quarantine.Entry) error {
	if err := c.Fake.Quarantine(ctx, e); err != nil {
		return err
	}
	return fmt.Errorf("%w: conntrack: netlink: operation not supported", quarantine.ErrConntrack)
}

// A quarantine whose old connections could not be cut stands: the kernel
// keeps it, the daemon and the store record it, and the owner hears of
// the failure, instead of the kernel check undoing it a second later.
func TestQuarantineStandsWhenCutFails(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir(), func(d *Deps) { d.Enforcer = cutFails{fake} })
	defer h.stop()
	h.settle()
	h.d.checkKernel(context.Background())
	if q := quarantined(t, fake); q[camera] != quarantine.ModeBlock {
		t.Fatalf("camera not blocked after the kernel check: %v", q)
	}
	if dev, _ := h.d.Device(camera); dev.State != api.StateQuarantined {
		t.Errorf("camera state %s, want quarantined", dev.State)
	}
	if !slices.ContainsFunc(h.store.Snapshot().Quarantines, func(q store.Quarantine) bool { return q.MAC == camera }) {
		t.Error("the store does not hold the camera's quarantine")
	}
	if h.alerts.kinds()[string(alert.KindDaemonProblem)] == 0 {
		t.Errorf("no problem alert; alerts %v", h.alerts.kinds())
	}
}

// TestLostStateKeepsKernelQuarantines: with the saved state gone (moved
// aside as corrupt, deleted) or behind the kernel, the quarantines the
// kernel still holds stay, kept as the firewall's until the owner
// releases them. That includes a device whose earlier release is saved:
// the owner quarantined it again and that write was lost.
func TestLostStateKeepsKernelQuarantines(t *testing.T) {
	fake := newFake(t)
	ctx := context.Background()
	for _, mac := range []hwaddr.MAC{camera, plug} {
		if err := fake.Quarantine(ctx, quarantine.Entry{MAC: mac, Mode: quarantine.ModeBlock}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	st := store.Open(store.Options{Path: dir + "/state.json"})
	if err := st.PutDecision(store.Decision{MAC: plug, ReleasedAt: time.Now().Add(-time.Hour), Updated: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	h := launch(t, enforcingConfig(), fake, dir, false)
	defer h.stop()
	h.settle()
	h.d.checkKernel(ctx)
	q := quarantined(t, fake)
	for _, mac := range []hwaddr.MAC{camera, plug} {
		if q[mac] != quarantine.ModeBlock {
			t.Errorf("%s: the quarantine the kernel held was dropped: %v", mac, q)
		}
		if dev, _ := h.d.Device(mac); dev.Quarantine == nil || dev.Quarantine.By != string(store.ActorFirewall) {
			t.Errorf("%s: quarantine %+v, want one kept from the firewall", mac, dev.Quarantine)
		}
		if !slices.ContainsFunc(h.store.Snapshot().Quarantines, func(r store.Quarantine) bool { return r.MAC == mac && r.By == store.ActorFirewall }) {
			t.Errorf("%s: the kept quarantine is not saved", mac)
		}
	}
	// The owner can release it.
	if err := h.d.Release(ctx, camera); err != nil {
		t.Fatal(err)
	}
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Error("the camera is still quarantined after the owner released it")
	}
}

// TestQuarantineAfterReleaseSurvivesLostWrite: the owner releases the
// camera, quarantines it again, and the daemon dies before that reaches
// the file. At the next start the kernel's entry stays.
func TestQuarantineAfterReleaseSurvivesLostWrite(t *testing.T) {
	fake, dir := newFake(t), t.TempDir()
	ctx := context.Background()
	h := start(t, enforcingConfig(), fake, dir)
	h.settle()
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		t.Fatal("camera not quarantined by policy")
	}
	if err := h.d.Release(ctx, camera); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Quarantine(ctx, camera, "block", 0); err != nil {
		t.Fatal(err)
	}
	h.stop()
	editStore(t, dir, func(st *store.Store) { st.DeleteQuarantine(camera) }) // the write that was lost
	if _, ok := quarantined(t, fake)[camera]; !ok {
		t.Fatal("the kernel lost the camera")
	}
	h = launch(t, enforcingConfig(), fake, dir, false)
	defer h.stop()
	h.settle()
	h.d.checkKernel(ctx)
	if _, ok := quarantined(t, fake)[camera]; !ok {
		t.Error("the quarantine the kernel held was deleted at start: the camera is free")
	}
}

// TestQuarantineExpiryIsFinal: policy's quarantine ends after
// quarantine_for, and the findings it was for do not bring it back: not
// at the next evaluation, and not after a restart (when it ran out while
// the daemon was down); the owner hears of the release in both cases.
func TestQuarantineExpiryIsFinal(t *testing.T) {
	for _, restartFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "running", true: "down"}[restartFirst], func(t *testing.T) {
			fake := newFake(t)
			dir := t.TempDir()
			cfg := enforcingConfig()
			cfg.Policy.QuarantineFor.Duration = time.Hour
			clk := testclock.New(time.Now())
			withClock := func(d *Deps) { d.Now = clk.Now }
			h := start(t, cfg, fake, dir, withClock)
			h.settle()
			if q := quarantined(t, fake); q[camera] != quarantine.ModeBlock {
				t.Fatalf("camera not quarantined: %v", q)
			}
			ctx := context.Background()
			if restartFirst {
				h.stop()
				clk.Advance(2 * time.Hour)
				h = launch(t, cfg, fake, dir, false, withClock)
			} else {
				clk.Advance(2 * time.Hour)
			}
			defer h.stop()
			h.settle()
			h.d.evaluate(ctx, camera) // the expiry, if still due
			h.d.evaluate(ctx, camera) // and again: nothing new
			h.d.checkKernel(ctx)
			if _, ok := quarantined(t, fake)[camera]; ok {
				t.Error("the camera is quarantined again after its quarantine ran out")
			}
			if dev, _ := h.d.Device(camera); dev.Quarantine != nil {
				t.Errorf("camera view %+v", dev.Quarantine)
			}
			// Told once either way: the phone and Home Assistant's
			// quarantine sensor still show it quarantined.
			if n := h.alerts.kinds()[string(alert.KindReleased)]; n != 1 {
				t.Errorf("%d released alerts, want 1 (alerts %v)", n, h.alerts.kinds())
			}
		})
	}
}

// TestQuarantineExpiryKeepsNewFindings: a finding first seen while a
// quarantine lasted is new when it runs out, and quarantines the device
// again.
func TestQuarantineExpiryKeepsNewFindings(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Policy.QuarantineFor.Duration = time.Hour
	clk := testclock.New(time.Now())
	h, fake := startQuarantined(t, cfg, func(d *Deps) { d.Now = clk.Now })
	defer h.stop()
	clk.Advance(30 * time.Minute)
	h.d.mu.Lock()
	h.d.pipe.Inject(&event.Event{V: 1, Time: clk.Now(), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
		Severity: event.SeverityHigh, Summary: "FTP login with factory-default credentials",
		Device:   event.Endpoint{MAC: camera.String(), Local: true},
		Evidence: event.Evidence{"protocol": "ftp", "user": "ad***", "password_class": "default", "accepted": "yes"}})
	h.d.mu.Unlock()
	clk.Advance(time.Hour)
	ctx := context.Background()
	h.d.evaluate(ctx, camera) // the expiry
	h.d.evaluate(ctx, camera) // the new finding
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		t.Error("the camera is free after its quarantine ran out, though a finding came while it lasted")
	}
}

func TestMonitorModeChangesNothing(t *testing.T) {
	fake := newFake(t)
	h := start(t, config.Default(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	if q := quarantined(t, fake); len(q) != 0 {
		t.Errorf("monitor mode quarantined %v", q)
	}
	if dev, _ := h.d.Device(camera); dev.Verdict.Action != config.ActionQuarantine || dev.Verdict.Enforce {
		t.Errorf("camera verdict %+v: want quarantine, not enforced", dev.Verdict)
	}
}

func TestReleaseAndRestart(t *testing.T) {
	fake := newFake(t)
	dir := t.TempDir()
	h := start(t, enforcingConfig(), fake, dir)
	h.settle()
	if err := h.d.Release(context.Background(), camera); err != nil {
		t.Fatal(err)
	}
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Fatal("camera still quarantined after release")
	}
	if err := h.d.Release(context.Background(), camera); !errors.Is(err, api.ErrConflict) {
		t.Errorf("second release: %v, want a conflict", err)
	}
	// The owner quarantines the laptop for an hour, then the daemon stops.
	if err := h.d.Quarantine(context.Background(), laptop, "isolate", time.Hour); err != nil {
		t.Fatal(err)
	}
	h.stop()
	before := stable(fake.Dump())

	// A new daemon on the same store and kernel: the camera, released with
	// its findings known, stays free; the laptop stays isolated; nothing
	// is duplicated.
	h2 := start(t, enforcingConfig(), fake, dir)
	defer h2.stop()
	h2.settle()
	q := quarantined(t, fake)
	if _, ok := q[camera]; ok {
		t.Errorf("camera quarantined again after the owner released it: %v", q)
	}
	if q[laptop] != quarantine.ModeIsolate {
		t.Errorf("owner's quarantine of the laptop lost: %v", q)
	}
	if after := stable(fake.Dump()); after != before {
		t.Errorf("kernel state changed across restart:\n%s\n---\n%s", before, after)
	}
}

func TestProtectedAndTrusted(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	ctx := context.Background()
	if err := h.d.Quarantine(ctx, router, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Errorf("quarantining the router: %v, want ErrProtected", err)
	}
	if err := h.d.SetTrusted(ctx, camera, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Error("trusted camera still quarantined")
	}
	if err := h.d.Quarantine(ctx, camera, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Errorf("quarantining a trusted device: %v", err)
	}
	if err := h.d.Quarantine(ctx, hwaddr.MAC{2, 0, 0, 0, 0, 9}, "", 0); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
}

func TestMaxAutoQuarantine(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Policy.MaxAutoQuarantine = 0
	fake := newFake(t)
	h := start(t, cfg, fake, t.TempDir())
	defer h.stop()
	h.settle()
	if q := quarantined(t, fake); len(q) != 0 {
		t.Errorf("quarantined without confirmation: %v", q)
	}
	if dev, _ := h.d.Device(camera); dev.State != api.StatePending || !strings.Contains(dev.Awaiting, "0 devices were already quarantined automatically, the most it quarantines without asking you") {
		t.Errorf("camera state %s (%q), want pending, waiting for the limit", dev.State, dev.Awaiting)
	}
	ownerConfirms(t, h, fake, camera)
}

// ownerConfirms quarantines mac as the owner does on a quarantine that
// waits for them, and checks that it holds and waits no more.
func ownerConfirms(t *testing.T, h *harness, fake *quarantine.Fake, mac hwaddr.MAC) {
	t.Helper()
	if err := h.d.Quarantine(context.Background(), mac, "", 0); err != nil {
		t.Fatal(err)
	}
	if quarantined(t, fake)[mac] != quarantine.ModeBlock {
		t.Error("the owner's confirmation did not quarantine")
	}
	if dev, _ := h.d.Device(mac); dev.Awaiting != "" {
		t.Errorf("still waiting after the owner's quarantine: %q", dev.Awaiting)
	}
}

// TestWaitingQuarantineWaitsForTheOwner: with room for one automatic
// quarantine, the second device policy wants waits, saying why, and goes
// on waiting when the owner releases the first (a bad rule or feed would
// otherwise quarantine one device for each the owner frees); a reload
// with a higher limit, or the owner's own quarantine, ends the wait.
func TestWaitingQuarantineWaitsForTheOwner(t *testing.T) {
	for _, answer := range []string{"reload", "quarantine"} {
		t.Run(answer, func(t *testing.T) {
			cfg := enforcingConfig()
			cfg.Policy.MaxAutoQuarantine = 1
			fake := newFake(t)
			h := start(t, cfg, fake, t.TempDir())
			defer h.stop()
			h.settle()
			second := hwaddr.MAC{0x02, 0, 0, 0, 2, 1}
			h.d.seen(second, netip.MustParseAddr("192.168.50.211"), "", "neighbour", h.d.now())
			h.d.Record(exploitedFirmware(second, "192.168.50.211"))
			h.settle()
			if q := quarantined(t, fake); q[camera] == "" || q[second] != "" {
				t.Fatalf("quarantined %v, want the camera alone", q)
			}
			// One device, in the singular, and the limit in plain words.
			if dev, _ := h.d.Device(second); !strings.Contains(dev.Awaiting, "1 device was already quarantined automatically, the most it quarantines without asking you") {
				t.Fatalf("the second device waits for %q, want the limit", dev.Awaiting)
			}
			if err := h.d.Release(context.Background(), camera); err != nil {
				t.Fatal(err)
			}
			h.d.tick(h.d.now())
			h.settle()
			if q := quarantined(t, fake); q[second] != "" {
				t.Fatalf("the waiting device was quarantined without the owner once the limit freed: %v", q)
			}
			switch answer {
			case "reload":
				more := enforcingConfig()
				more.Policy.MaxAutoQuarantine = 3
				h.d.Reload(more)
			case "quarantine":
				if err := h.d.Quarantine(context.Background(), second, "", 0); err != nil {
					t.Fatal(err)
				}
			}
			h.settle()
			if q := quarantined(t, fake); q[second] == "" {
				t.Errorf("after the owner's %s the device is not quarantined: %v", answer, q)
			}
			if dev, _ := h.d.Device(second); dev.Awaiting != "" {
				t.Errorf("still waiting for %q", dev.Awaiting)
			}
		})
	}
}

// TestSharedMACNotQuarantinedByPolicy: a MAC found to stand for several
// hosts (here: it sent DHCP for another client, as a repeater that puts
// its own MAC on its clients' frames does) is not held by policy, which
// would cut off every host behind it: its quarantine is lifted and waits
// for the owner, who can still confirm it.
func TestSharedMACNotQuarantinedByPolicy(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	if quarantined(t, fake)[camera] == "" {
		t.Fatal("the camera was not quarantined by the capture's default login")
	}
	shareMAC(h, camera)
	h.d.evaluate(context.Background(), camera)
	if q := quarantined(t, fake); q[camera] != "" {
		t.Errorf("a MAC standing for several hosts stays quarantined by policy: %v", q)
	}
	if dev, _ := h.d.Device(camera); dev.State != api.StatePending || !strings.Contains(dev.Awaiting, "several devices") {
		t.Errorf("camera state %s (%q), want pending, waiting because its MAC is shared", dev.State, dev.Awaiting)
	}
	h.d.evaluate(context.Background(), camera)
	if q := quarantined(t, fake); q[camera] != "" {
		t.Errorf("policy quarantined the shared MAC again: %v", q)
	}
	ownerConfirms(t, h, fake, camera)
}

// shareMAC shows the inventory a DHCP request relayed under mac for
// another client's hardware address, as a repeater that puts its own MAC
// on its clients' frames sends it: mac then stands for several hosts.
func shareMAC(h *harness, mac hwaddr.MAC) {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	h.d.pipe.Inventory().File(&event.Event{Time: h.d.now(), Type: event.TypeObservation, Kind: event.KindDHCP,
		Device:   event.Endpoint{MAC: mac.String(), IP: "0.0.0.0", Local: true},
		Evidence: event.Evidence{"protocol": "dhcpv4", "message_type": "request", "client_mac": "3c:a9:f4:00:00:77"}})
}

// The API served by the daemon: the same handlers the CLI and page use.
func TestAPI(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	srv := httptest.NewServer(api.Handler(h.d, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	tests := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/api/v1/status", "", 200, `"mode":"enforce"`},
		{"GET", "/api/v1/devices", "", 200, `"state":"quarantined"`},
		{"GET", "/api/v1/devices/c0:56:e3:1a:2b:3c", "", 200, `"default_credentials"`},
		{"GET", "/api/v1/devices/not-a-mac", "", 400, "invalid MAC"},
		{"GET", "/api/v1/devices/02:00:00:00:00:99", "", 404, "no such device"},
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/quarantine", `{"mode":"bogus"}`, 400, "mode:"},
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/quarantine", `{"for":"5s"}`, 400, "duration"},
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/quarantine", `{"mode":"block","extra":1}`, 400, "unknown field"},
		{"POST", "/api/v1/devices/94:83:c4:50:00:01/quarantine", `{}`, 409, "protected"},
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/quarantine", `{"mode":"isolate","for":"2h"}`, 200, `"mode":"isolate"`},
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/release", "", 200, `"state":"ok"`},
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/name", `{"name":"Alice's laptop"}`, 200, `"name":"Alice's laptop"`},
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/name", `{"name":"` + strings.Repeat("x", 65) + `"}`, 400, "name:"},
		// An empty name clears the owner's: the answer has none.
		{"POST", "/api/v1/devices/3c:a9:f4:6a:7b:8c/name", `{"name":""}`, 200, `"hostnames":["alice-laptop"]`},
		{"GET", "/api/v1/events?type=finding&limit=5", "", 200, `"type":"finding"`},
		{"GET", "/api/v1/events?limit=0", "", 400, "limit"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.contains) {
			t.Errorf("%s %s: %d %s; want %d containing %q", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.contains)
		}
	}
	if _, ok := quarantined(t, fake)[laptop]; ok {
		t.Error("laptop still quarantined after release through the API")
	}
	resp, err := http.Get(srv.URL + "/api/v1/devices/3c:a9:f4:6a:7b:8c")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "alice-laptop") || strings.Contains(string(body), "Alice's laptop") {
		t.Errorf("GET the device after its name was cleared: %d %s; want 200, the host name and not the cleared name", resp.StatusCode, body)
	}
}

// The owner is told about the default login, the quarantine it caused and
// the release; on a first start the devices already there are learnt
// quietly; no alert carries a password.
func TestAlerts(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	h.d.announceNew(h.d.now())
	if err := h.d.Release(context.Background(), camera); err != nil {
		t.Fatal(err)
	}
	k := h.alerts.kinds()
	if k["default_credentials"] == 0 || k["quarantined"] != 1 || k["released"] != 1 {
		t.Errorf("alerts by kind %v", k)
	}
	if k["new_device"] != 0 {
		t.Errorf("%d new-device alerts during the first start's learning period", k["new_device"])
	}
	h.alerts.mu.Lock()
	defer h.alerts.mu.Unlock()
	for _, a := range h.alerts.sent {
		b, _ := json.Marshal(a)
		for _, secret := range []string{"xc3511", "S3cure-Plug-77", "YWRtaW46YWRtaW4="} {
			if strings.Contains(string(b), secret) {
				t.Errorf("alert %s carries %q", a.Kind, secret)
			}
		}
	}
}

// TestAlertsNameDevicesAsThePage: an alert calls its device what the
// page and the console call it: the phone and the page never name one
// device twice.
func TestAlertsNameDevicesAsThePage(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	h.alerts.mu.Lock()
	sent := slices.Clone(h.alerts.sent)
	h.alerts.mu.Unlock()
	checked := map[string]string{}
	for _, a := range sent {
		if a.Device == nil {
			continue
		}
		mac, err := hwaddr.Parse(a.Device.MAC)
		if err != nil {
			continue
		}
		view, ok := h.d.Device(mac)
		if !ok {
			t.Errorf("alert %q about %s, which the page does not know", a.Title, mac)
			continue
		}
		name := view.DisplayName()
		if !strings.Contains(a.Title, name) {
			t.Errorf("alert titled %q; the page calls the device %q", a.Title, name)
		}
		checked[mac.String()] = name
	}
	if checked[camera.String()] != "Hikvision camera" {
		t.Errorf("alerts checked for %v, want the camera's, named Hikvision camera", checked)
	}
}

type fakeAudits struct {
	mu         sync.Mutex
	requested  []audit.Target
	offered    []string
	considered []hwaddr.MAC
}

func (f *fakeAudits) Consider(t audit.Target) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.considered = append(f.considered, t.MAC)
	return true
}
func (f *fakeAudits) LastAudit(hwaddr.MAC) (time.Time, bool) { return time.Time{}, false }
func (f *fakeAudits) Request(t audit.Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requested = append(f.requested, t)
	return nil
}
func (f *fakeAudits) Offer(mac hwaddr.MAC, _ []netip.Addr, location string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offered = append(f.offered, mac.String()+" "+location)
	return true
}

// The owner's audit request reaches the scheduler for known, unprotected
// devices only; SSDP announcements are offered to the UPnP fetcher; the
// automatic audit is offered the devices neither protected nor trusted.
func TestAuditAndUPnPHooks(t *testing.T) {
	fake := newFake(t)
	fa := &fakeAudits{}
	st := store.Open(store.Options{Path: t.TempDir() + "/state.json"})
	cfg := enforcingConfig()
	cfg.Policy.Devices = []config.DeviceRule{{MAC: plug, Trusted: true}}
	d, err := New(cfg, routerOwn(), Deps{
		Enforcer: fake, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Audit(ctx, camera); !errors.Is(err, api.ErrConflict) {
		t.Errorf("audit while off: %v", err)
	}
	d.SetAudit(nil, nil)
	d.deps.Audits, d.deps.UPnP = fa, fa
	playDemo(t, d)
	if err := d.Audit(ctx, camera); err != nil {
		t.Fatal(err)
	}
	if err := d.Audit(ctx, router); !errors.Is(err, api.ErrProtected) {
		t.Errorf("auditing the router: %v", err)
	}
	if err := d.Audit(ctx, hwaddr.MAC{2, 0, 0, 0, 0, 7}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("auditing an unknown device: %v", err)
	}
	if len(fa.requested) != 1 || fa.requested[0].MAC != camera || fa.requested[0].Vendor != "Hikvision" || len(fa.requested[0].Addrs) == 0 {
		t.Errorf("requested %+v", fa.requested)
	}
	tv := "8c:79:f5:3d:4e:5f http://192.168.50.103:9197/dmr/description.xml"
	found := false
	for _, o := range fa.offered {
		found = found || o == tv
	}
	if !found {
		t.Errorf("the TV's description was not offered: %v", fa.offered)
	}

	// Devices already offered come back for another audit, hourly:
	// never the router, nor the plug the file trusts.
	start := time.Now()
	d.announceNew(start)
	if !slices.Contains(fa.considered, camera) || slices.Contains(fa.considered, plug) {
		t.Errorf("offered when new: %v, want the camera and not the plug", fa.considered)
	}
	fa.mu.Lock()
	fa.considered = nil
	fa.mu.Unlock()
	d.announceNew(start.Add(time.Minute))
	if n := len(fa.considered); n != 0 {
		t.Errorf("offered again at once: %v", fa.considered)
	}
	d.announceNew(start.Add(time.Hour + time.Minute))
	if !slices.Contains(fa.considered, camera) || slices.Contains(fa.considered, router) || slices.Contains(fa.considered, plug) {
		t.Errorf("offered again after an hour: %v, want the camera and not the router or the plug", fa.considered)
	}
}

// Someone flushes the ruleset (a firewall stop): the daemon puts its
// tables and quarantines back.
func TestTablesRestoredAfterFlush(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	if _, err := fake.Uninstall(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the camera's quarantine was not restored after the tables were removed", func() bool {
		return quarantined(t, fake)[camera] == quarantine.ModeBlock
	})
}

// A newer signed advisory feed loaded while the daemon runs is matched
// against every device's software without a restart.
func TestNewerFeedWithoutRestart(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := advisory.NewHolder(advisory.Options{TrustedKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake(t)
	st := store.Open(store.Options{Path: t.TempDir() + "/state.json"})
	cfg := config.Default()
	cfg.Policy.Mode = "enforce"
	d, err := New(cfg, routerOwn(), Deps{
		Enforcer: fake, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Advisories: holder,
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(inspecttest.RepoFile(t, "testdata/demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, info, err := src.ReadPacket()
		if err != nil {
			break
		}
		d.mu.Lock()
		d.pipe.HandleFrame(data, info)
		d.mu.Unlock()
	}
	src.Close()
	d.rematchOnNewFeed() // remembers the built-in feed
	lap, _ := d.Device(laptop)
	if len(lap.Findings) != 0 {
		t.Fatalf("laptop already has findings: %v", lap.Findings)
	}
	// The laptop's curl 7.88.1 (its HTTP User-Agent) is in the new feed.
	feed := func(version, exploited string) []byte { return curlFeed(version, exploited, "8.0.0") }
	load := func(b []byte) {
		t.Helper()
		if err := holder.LoadBytes(b, advisory.Sign(priv, b), "test"); err != nil {
			t.Fatal(err)
		}
		d.rematchOnNewFeed()
	}
	verdict := func() config.Action {
		d.mu.Lock()
		defer d.mu.Unlock()
		dev, _ := d.pipe.Inventory().Lookup(device.Key{MAC: laptop})
		return policy.Evaluate(&d.cfg.Policy, &policy.Device{MAC: laptop, Findings: dev.Findings}, time.Time{}).Action
	}
	load(feed("2099-01-01.1", "false"))
	lap, _ = d.Device(laptop)
	if len(lap.Findings) != 1 || lap.Findings[0].Kind != event.KindOutdatedFirmware || lap.Findings[0].Evidence["advisory"] != "TEST-2099-0001" {
		t.Fatalf("laptop findings after the new feed: %+v", lap.Findings)
	}
	first := lap.Findings[0].Time
	if v := verdict(); v != config.ActionAlert {
		t.Errorf("not exploited: verdict %s, want alert", v)
	}
	// A newer feed that says the same of the advisory files nothing new:
	// which feed said it is no fact about the device.
	quiet, stopQuiet := d.Subscribe()
	load(feed("2099-01-01.2", "false"))
	stopQuiet()
	select {
	case ev := <-quiet:
		t.Errorf("a feed with the same facts brought %s %v", ev.Kind, ev.Evidence)
	default:
	}
	lap, _ = d.Device(laptop)
	if len(lap.Findings) != 1 || lap.Findings[0].Evidence["feed"] != "2099-01-01.1" {
		t.Errorf("laptop findings after a feed with the same facts: %+v, want the one from feed 2099-01-01.1", lap.Findings)
	}
	// A later feed says the advisory is exploited (CISA KEV added it):
	// the finding says so, policy quarantines, and the finding is still
	// first seen when it was.
	load(feed("2099-01-02.1", "true"))
	lap, _ = d.Device(laptop)
	if len(lap.Findings) != 1 || lap.Findings[0].Evidence["exploited"] != "yes" || !lap.Findings[0].Time.Equal(first) {
		t.Errorf("laptop findings after the feed marks the advisory exploited: %+v", lap.Findings)
	}
	if v := verdict(); v != config.ActionQuarantine {
		t.Errorf("exploited: verdict %s, want quarantine", v)
	}
	ctx := context.Background()
	evaluateQueued(ctx, d, laptop)
	if held := kernelHolds(t, fake, laptop); !held {
		t.Fatal("policy did not quarantine the laptop for the exploited advisory")
	}
	// The maintainers correct the range: curl 7.88.1 was never affected.
	// The finding is withdrawn, said so, and policy's quarantine ends.
	events, stop := d.Subscribe()
	defer stop()
	load(curlFeed("2099-01-03.1", "true", "7.0.0"))
	lap, _ = d.Device(laptop)
	if len(lap.Findings) != 0 {
		t.Errorf("laptop findings after the feed's correction: %+v", lap.Findings)
	}
	select {
	case ev := <-events:
		if ev.Kind != event.KindAdvisoryWithdrawn || ev.Evidence["advisory"] != "TEST-2099-0001" || ev.Evidence["feed"] != "2099-01-03.1" {
			t.Errorf("event %+v, want advisory_withdrawn of TEST-2099-0001 by feed 2099-01-03.1", ev)
		}
	default:
		t.Error("no event says the finding was withdrawn")
	}
	// The daemon's worker evaluates what the withdrawal queued.
	if !evaluateQueued(ctx, d, laptop) {
		t.Error("the withdrawal did not queue the laptop for policy")
	}
	if kernelHolds(t, fake, laptop) {
		t.Error("the laptop stays quarantined for a finding the feed withdrew")
	}
}

// curlFeed is an advisory feed with one advisory, TEST-2099-0001, on
// curl before fixed: the bundled capture's laptop runs curl 7.88.1.
func curlFeed(version, exploited, fixed string) []byte {
	return []byte(`{"schema":1,"version":"` + version + `","generated":"2099-01-01T00:00:00Z",
	 "products":[{"id":"curl","name":"curl"}],
	 "advisories":[{"id":"TEST-2099-0001","summary":"a test advisory","severity":"high",
	  "affected":[{"package":{"name":"curl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]}],
	  "references":[{"type":"ADVISORY","url":"https://example.org/test-2099-0001"}],
	  "database_specific":{"exploited":` + exploited + `,"end_of_life":false}}]}`)
}

// TestRestoredFindingAgainstFeedAtStart: a finding saved under one feed
// is withdrawn at the next start when the feed then in force (one kept
// from a download, a firmware upgrade's built-in one), at least as new,
// no longer supports it, and policy's quarantine for it ends; one the
// feed still supports stays, and so does its quarantine, as does one an
// older feed in force does not know.
func TestRestoredFindingAgainstFeedAtStart(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	advisories := func(feed []byte) func(*Deps) {
		h, err := advisory.NewHolder(advisory.Options{TrustedKeys: []ed25519.PublicKey{pub}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LoadBytes(feed, advisory.Sign(priv, feed), "test"); err != nil {
			t.Fatal(err)
		}
		return func(d *Deps) { d.Advisories = h }
	}
	tests := []struct {
		name     string
		next     []byte // the feed in force at the restart
		withdraw bool
	}{
		{"same_facts", curlFeed("2099-01-02.1", "true", "8.0.0"), false},
		{"range_corrected", curlFeed("2099-01-02.1", "true", "7.0.0"), true},
		{"advisory_gone", []byte(strings.Replace(string(curlFeed("2099-01-02.1", "true", "8.0.0")), "TEST-2099-0001", "TEST-2099-0002", 1)), true},
		// The newest feed was not kept: an older one has not heard of the
		// advisory yet, which is no reason to withdraw it.
		{"older_feed_in_force", curlFeed("2098-12-31.1", "true", "7.0.0"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t)
			dir := t.TempDir()
			h := start(t, enforcingConfig(), fake, dir, advisories(curlFeed("2099-01-01.1", "true", "8.0.0")))
			h.settle()
			if _, held := quarantined(t, fake)[laptop]; !held {
				t.Fatal("policy did not quarantine the laptop for the exploited advisory")
			}
			h.stop()

			h = launch(t, enforcingConfig(), fake, dir, false, advisories(tt.next))
			defer h.stop()
			eventually(t, "the daemon never compared its findings with the feed", func() bool {
				h.d.mu.Lock()
				defer h.d.mu.Unlock()
				return h.d.feed != nil
			})
			h.settle()
			lap, _ := h.d.Device(laptop)
			kept := slices.ContainsFunc(lap.Findings, func(f *event.Event) bool { return f.Evidence["advisory"] == "TEST-2099-0001" })
			_, held := quarantined(t, fake)[laptop]
			if kept == tt.withdraw || held == tt.withdraw {
				t.Errorf("finding kept %v, quarantine held %v; want both %v", kept, held, !tt.withdraw)
			}
		})
	}
}

// evaluateQueued evaluates every device queued, as the daemon's worker
// does, and reports whether mac was among them.
func evaluateQueued(ctx context.Context, d *Daemon, mac hwaddr.MAC) bool {
	queued := false
	for m, ok := d.work.pop(); ok; m, ok = d.work.pop() {
		queued = queued || m == mac
		d.evaluate(ctx, m)
		d.work.done()
	}
	return queued
}

// kernelHolds reports whether the enforcer has a quarantine entry for mac.
func kernelHolds(t *testing.T, e *quarantine.Fake, mac hwaddr.MAC) bool {
	t.Helper()
	entries, err := e.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(entries, func(e quarantine.Entry) bool { return e.MAC == mac })
}

// The device page's traffic picture: bytes per 5-minute bucket.
func TestTrafficBuckets(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	now := h.d.now()
	h.d.sampleTraffic(now.Add(-10 * time.Minute))
	h.d.sampleTraffic(now)
	dev, _ := h.d.Device(camera)
	var total uint64
	for _, p := range dev.Traffic {
		total += p.Bytes
	}
	h.d.mu.Lock()
	m := h.d.meta[camera]
	inv, _ := h.d.pipe.Inventory().Lookup(device.Key{MAC: camera})
	h.d.mu.Unlock()
	if total == 0 || total != inv.Bytes || m.lastBytes != inv.Bytes {
		t.Errorf("traffic %+v (total %d), inventory bytes %d", dev.Traffic, total, inv.Bytes)
	}
}

// The device the owner logs in to the page from cannot be quarantined.
func TestOwnerDeviceProtected(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.104")) // the laptop
	// Logging in again from the same place adds nothing.
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.104"))
	h.d.mu.Lock()
	if n := len(h.d.owners); n != 1 {
		t.Errorf("%d owner devices remembered, want 1", n)
	}
	h.d.mu.Unlock()
	if err := h.d.Quarantine(context.Background(), laptop, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Errorf("quarantining the owner's laptop: %v, want ErrProtected", err)
	}
	// The laptop is protected by its MAC: in the kernel, and wherever it
	// goes; not by the address it logged in from, which its lease may
	// later give to another device.
	if !strings.Contains(fake.Dump(), laptop.String()) {
		t.Error("the owner's laptop's MAC is not in the kernel's protected set")
	}
	h.d.seen(laptop, netip.MustParseAddr("192.168.50.150"), "", device.SourceLease, time.Now())
	if err := h.d.Quarantine(context.Background(), laptop, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Errorf("quarantining the owner's laptop at its new address: %v, want ErrProtected", err)
	}
	// Another device given the address later is not the owner's, and its
	// quarantine covers the address.
	h.d.seen(plug, netip.MustParseAddr("192.168.50.104"), "", device.SourceLease, time.Now())
	if err := h.d.Quarantine(context.Background(), plug, "", 0); err != nil {
		t.Errorf("quarantining the device now at the owner's old address: %v", err)
	}
	entries, err := fake.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(entries, func(e quarantine.Entry) bool { return e.MAC == plug }); i < 0 ||
		!slices.Contains(entries[i].Addrs, netip.MustParseAddr("192.168.50.104")) {
		t.Errorf("the plug's quarantine does not cover the owner's old address: %+v", entries)
	}
	// The router's own MAC is refused by the daemon, but not put in the
	// kernel's set, where only a device forging it would match.
	if err := h.d.Quarantine(context.Background(), router, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Errorf("quarantining the router: %v, want ErrProtected", err)
	}
	if dump := fake.Dump(); strings.Contains(dump, router.String()) {
		t.Errorf("the router's MAC is in the kernel's sets:\n%s", dump)
	}
}

// An analyzer's panic, survived by the engine, becomes one problem per
// protocol for the owner (one alert), and the first few stacks go to the
// log for a bug report.
func TestAnalyzerPanicReported(t *testing.T) {
	var logs bytes.Buffer
	al := &alerts{}
	d, err := New(enforcingConfig(), routerOwn(), Deps{
		Enforcer: newFake(t), Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}),
		Alerts: al, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	var n uint64
	for range 5 {
		n++
		d.analyzerPanicLocked(inspect.Panic{Protocol: "telnet", Reason: "runtime error: index out of range [7] with length 5", Stack: []byte("goroutine 1 [running]:\ntelnet.(*analyzer).Feed(...)"), N: n})
	}
	d.analyzerPanicLocked(inspect.Panic{Protocol: "packet", Reason: "string", Stack: []byte("goroutine 1 [running]:"), N: n + 1})
	d.mu.Unlock()
	var problems []string
	for _, p := range d.Status().Problems {
		if strings.HasPrefix(p, "analyzer-") {
			problems = append(problems, p[:strings.IndexByte(p, ':')])
		}
	}
	slices.Sort(problems)
	if !slices.Equal(problems, []string{"analyzer-packet", "analyzer-telnet"}) {
		t.Errorf("problems %q, want one for telnet and one for the packet path", problems)
	}
	if n := strings.Count(logs.String(), "analyzer panic"); n != maxPanicStacks {
		t.Errorf("%d panics logged with their stack, want the first %d", n, maxPanicStacks)
	}
	if n := al.kinds()["daemon_problem"]; n != 2 {
		t.Errorf("%d problem alerts, want 2 (one per protocol): %v", n, al.kinds())
	}
}

// playDemo hands the bundled capture to d's pipeline, as the capture
// loop does.
func playDemo(t *testing.T, d *Daemon) {
	t.Helper()
	src, err := capture.OpenFile(inspecttest.RepoFile(t, "testdata/demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		data, info, err := src.ReadPacket()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.pipe.HandleFrame(data, info)
		d.mu.Unlock()
	}
}
