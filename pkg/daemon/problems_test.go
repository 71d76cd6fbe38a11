package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// flakyEnforcer fails the calls set to fail ("reconcile", "protected",
// "router-addrs", "quarantine/<mac>"; "reconcile-cut" applies the change and fails the
// cut of connections) and passes the others on.
type flakyEnforcer struct {
	Enforcer
	mu   sync.Mutex
	fail map[string]bool
}

var errFlaky = errors.New("netlink: no buffer space available")

func (f *flakyEnforcer) set(call string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]bool{}
	}
	f.fail[call] = fail
}

func (f *flakyEnforcer) check(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[call] {
		return errFlaky
	}
	return nil
}

func (f *flakyEnforcer) Reconcile(ctx context.Context, entries []quarantine.Entry) error {
	if err := f.check("reconcile"); err != nil {
		return err
	}
	err := f.Enforcer.Reconcile(ctx, entries)
	if cut := f.check("reconcile-cut"); err == nil && cut != nil {
		// The rules went in; deleting the connections failed.
		return fmt.Errorf("%w: %w", quarantine.ErrConntrack, cut)
	}
	return err
}

func (f *flakyEnforcer) Quarantine(ctx context.Context, e quarantine.Entry) error {
	if err := f.check("quarantine/" + e.MAC.String()); err != nil {
		return err
	}
	return f.Enforcer.Quarantine(ctx, e)
}

func (f *flakyEnforcer) SetRouterAddrs(ctx context.Context, addrs []netip.Addr) error {
	if err := f.check("router-addrs"); err != nil {
		return err
	}
	return f.Enforcer.SetRouterAddrs(ctx, addrs)
}

func (f *flakyEnforcer) SetProtected(ctx context.Context, macs []hwaddr.MAC, addrs []netip.Addr) error {
	if err := f.check("protected"); err != nil {
		return err
	}
	return f.Enforcer.SetProtected(ctx, macs, addrs)
}

// TestKernelCheckCutFailureIsConntrackProblem: a kernel check whose rules
// went in but whose deletion of connections failed is the conntrack
// problem, as for a commit, not the check's: the next check, which
// changes nothing and so cuts nothing, must not tell the owner it was
// resolved, since the connections were never cut.
func TestKernelCheckCutFailureIsConntrackProblem(t *testing.T) {
	fake := newFake(t)
	flaky := &flakyEnforcer{Enforcer: fake}
	h := start(t, enforcingConfig(), fake, t.TempDir(), func(d *Deps) { d.Enforcer = flaky })
	defer h.stop()
	h.settle()
	ctx := context.Background()
	flaky.set("reconcile-cut", true)
	h.d.checkKernel(ctx)
	flaky.set("reconcile-cut", false)
	h.d.checkKernel(ctx)
	if got := problemAreas(h.d); !slices.Equal(got, []string{alert.AreaConntrack}) {
		t.Errorf("problems %v after a check whose cut failed, want conntrack only", got)
	}
	if f, r := h.alerts.problemAreas("failing"), h.alerts.problemAreas("resolved"); !slices.Equal(f, []string{alert.AreaConntrack}) || len(r) != 0 {
		t.Errorf("problem alerts failing %v, resolved %v; want conntrack failing, none resolved", f, r)
	}
}

// Each source of an nftables problem clears only its own: another
// device's quarantine going through does not hide the kernel check
// failing (nor make its alert flap), and the owner hears once when the
// area fails and once when its last source recovers.
func TestProblemsClearBySource(t *testing.T) {
	fake := newFake(t)
	flaky := &flakyEnforcer{Enforcer: fake}
	cfg := enforcingConfig()
	cfg.Policy.MaxAutoQuarantine = 10
	h := start(t, cfg, fake, t.TempDir(), func(d *Deps) { d.Enforcer = flaky })
	defer h.stop()
	h.settle()
	ctx := context.Background()
	nftables := func() bool { return slices.Contains(problemAreas(h.d), alert.AreaNFTables) }
	alerted := func(failing, resolved int) {
		t.Helper()
		f, r := h.alerts.problemAreas("failing"), h.alerts.problemAreas("resolved")
		if len(f) != failing || len(r) != resolved {
			t.Fatalf("problem alerts failing %v, resolved %v; want %d and %d for nftables", f, r, failing, resolved)
		}
	}

	flaky.set("reconcile", true)
	h.d.checkKernel(ctx)
	if !nftables() {
		t.Fatal("no nftables problem while the kernel check fails")
	}
	alerted(1, 0)

	// The plug's quarantine goes through; the check still fails.
	h.d.Record(exploitedFirmware(plug, "192.168.50.102"))
	h.settle()
	if _, ok := quarantined(t, fake)[plug]; !ok {
		t.Fatal("the plug was not quarantined")
	}
	h.d.checkKernel(ctx)
	if !nftables() {
		t.Error("another device's quarantine cleared the kernel check's problem")
	}
	alerted(1, 0)

	// The laptop's quarantine fails: a second source; the check recovers,
	// the laptop's failure stays.
	flaky.set("quarantine/"+laptop.String(), true)
	h.d.Record(exploitedFirmware(laptop, "192.168.50.104"))
	h.settle()
	flaky.set("reconcile", false)
	h.d.checkKernel(ctx)
	if !nftables() {
		t.Error("the kernel check's recovery cleared the laptop's failed quarantine")
	}
	alerted(1, 0)

	// The laptop's quarantine goes through at the next finding: resolved.
	flaky.set("quarantine/"+laptop.String(), false)
	h.d.Record(exploitedFirmware(laptop, "192.168.50.104"))
	h.settle()
	if nftables() {
		t.Errorf("problems %v after every source recovered", problemAreas(h.d))
	}
	alerted(1, 0) // not before it stayed clear
	h.holdDownPassed()
	alerted(1, 1)

	// The protected sets: a failure is a problem until they are set. So
	// soon after the area's alert, the page shows it, the phone does not.
	flaky.set("protected", true)
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.104"))
	if !nftables() {
		t.Error("no problem while the protected sets cannot be set")
	}
	flaky.set("protected", false)
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.102"))
	if nftables() {
		t.Errorf("problems %v after the protected sets were set", problemAreas(h.d))
	}
	h.holdDownPassed()
	alerted(1, 1)
}

// holdDownPassed lets alert.ProblemHoldDown pass for the problem alerts:
// the owner hears of the problems over since the daemon's now.
func (h *harness) holdDownPassed() {
	h.d.announceProblems(h.d.now().Add(alert.ProblemHoldDown))
}

// TestFailedProtectedUpdateRetried: an update of the protected sets the
// kernel refused (a transient netlink error), of the router's own
// addresses or of the owner's, is tried again at each kernel check until
// it goes through, without waiting for the next change, which may never
// come; the problem stays until then and is cleared when it does.
func TestFailedProtectedUpdateRetried(t *testing.T) {
	ctx := context.Background()
	gained := netip.MustParsePrefix("2001:db8:50::1/64")
	management := netip.MustParseAddr("192.168.50.200")
	tests := []struct {
		name   string
		call   string // the flaky enforcer's call that fails
		change func(h *harness)
		want   netip.Addr // protected in the inet table once applied
	}{
		{
			name:   "router address gained",
			call:   "router-addrs",
			change: func(h *harness) { h.d.presence(ctx, netwatch.AddressChanged{Prefix: gained, Added: true}) },
			want:   gained.Addr(),
		},
		{
			name: "management address configured",
			call: "protected",
			change: func(h *harness) {
				cfg := enforcingConfig()
				cfg.Daemon.ManagementAddresses = []netip.Addr{management}
				h.d.Reload(cfg)
			},
			want: management,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t)
			flaky := &flakyEnforcer{Enforcer: fake}
			h := launch(t, enforcingConfig(), fake, t.TempDir(), false, func(d *Deps) { d.Enforcer = flaky })
			defer h.stop()
			h.settle()
			state := func() (applied, problem bool) {
				return protectedIn(fake.Dump(), "inet", tc.want), slices.Contains(problemAreas(h.d), alert.AreaNFTables)
			}

			flaky.set(tc.call, true)
			tc.change(h)
			if applied, problem := state(); applied || !problem {
				t.Fatalf("after the refusal: %s protected %v, problem %v", tc.want, applied, problem)
			}
			h.d.checkKernel(ctx)
			if applied, problem := state(); applied || !problem {
				t.Fatalf("refused again: %s protected %v, problem %v", tc.want, applied, problem)
			}
			flaky.set(tc.call, false)
			h.d.checkKernel(ctx)
			if applied, problem := state(); !applied || problem {
				t.Errorf("once the kernel took changes again: %s protected %v, problem %v; want protected, no problem", tc.want, applied, problem)
			}
			h.holdDownPassed()
			if f, r := h.alerts.problemAreas("failing"), h.alerts.problemAreas("resolved"); len(f) != 1 || len(r) != 1 {
				t.Errorf("problem alerts failing %v, resolved %v; want one each", f, r)
			}
		})
	}
}

// A device's failed quarantine stops being a problem once policy no
// longer calls for it (here: the owner's configuration trusts it), even
// though its commit never succeeded.
func TestFailedCommitClearedWhenMoot(t *testing.T) {
	h := startWithFailedQuarantine(t, enforcingConfig())
	defer h.stop()
	cfg := enforcingConfig()
	cfg.Policy.Devices = []config.DeviceRule{{MAC: laptop, Trusted: true}}
	h.d.Reload(cfg)
	h.settle()
	if areas := problemAreas(h.d); slices.Contains(areas, alert.AreaNFTables) {
		t.Errorf("problems %v after policy stopped calling for the quarantine", areas)
	}
	h.holdDownPassed()
	if r := h.alerts.problemAreas("resolved"); !slices.Equal(r, []string{alert.AreaNFTables}) {
		t.Errorf("resolved alerts %v, want one for nftables", r)
	}
}

// TestFailedCommitRetried: a quarantine the kernel refused (fw4
// reloading on a WAN reconnect) is tried again after a back-off that
// doubles while the kernel keeps refusing, without waiting for the
// device's next finding, which may never come.
func TestFailedCommitRetried(t *testing.T) {
	fake := newFake(t)
	flaky := &flakyEnforcer{Enforcer: fake}
	h := start(t, enforcingConfig(), fake, t.TempDir(), func(d *Deps) { d.Enforcer = flaky })
	defer h.stop()
	h.settle()
	flaky.set("quarantine/"+laptop.String(), true)
	h.d.Record(exploitedFirmware(laptop, "192.168.50.104"))
	h.settle()
	delay := func() time.Duration {
		h.d.mu.Lock()
		defer h.d.mu.Unlock()
		return h.d.meta[laptop].retryDelay
	}
	if _, ok := quarantined(t, fake)[laptop]; ok || delay() != minCommitRetry {
		t.Fatalf("after the refusal: quarantined %v, retry delay %v", ok, delay())
	}
	h.d.tick(time.Now().Add(minCommitRetry / 2))
	h.settle()
	if delay() != minCommitRetry {
		t.Fatalf("tried again before the back-off: delay %v", delay())
	}
	h.d.tick(time.Now().Add(minCommitRetry + time.Second))
	h.settle()
	if delay() != 2*minCommitRetry {
		t.Fatalf("refused again: delay %v, want %v", delay(), 2*minCommitRetry)
	}
	flaky.set("quarantine/"+laptop.String(), false)
	h.d.tick(time.Now().Add(3*minCommitRetry + time.Second))
	h.settle()
	if _, ok := quarantined(t, fake)[laptop]; !ok {
		t.Fatal("the laptop was not quarantined once the kernel took changes again")
	}
	if areas := problemAreas(h.d); slices.Contains(areas, alert.AreaNFTables) || delay() != 0 {
		t.Errorf("problems %v, retry delay %v after the quarantine went through", areas, delay())
	}
}

// TestFailedCommitClearedWhenForgotten: a device whose quarantine could
// not be committed, then pushed out of the capped inventory (by newer
// devices with findings of their own: those without go first), is
// evaluated no more; its problem must not stay raised for ever.
func TestFailedCommitClearedWhenForgotten(t *testing.T) {
	const maxDevices = 16
	cfg := enforcingConfig()
	cfg.Inspect.MaxDevices = maxDevices
	h := startWithFailedQuarantine(t, cfg)
	defer h.stop()
	ctx := context.Background()
	for i := 0; i < 4*maxDevices; i++ {
		mac := hwaddr.MAC{0x02, 0x00, 0x00, 0x01, byte(i >> 8), byte(i)}
		ip := netip.AddrFrom4([4]byte{192, 168, 51, byte(i)})
		h.d.presence(ctx, netwatch.NeighborSeen{MAC: mac, IP: ip, Time: time.Now()})
		h.d.Record(finding(event.Endpoint{MAC: mac.String(), IP: ip.String(), Local: true}, time.Now(),
			event.KindPlaintextProtocol, event.SeverityLow, "cleartext HTTP", event.Evidence{"protocol": "http"}))
	}
	h.d.sampleTraffic(time.Now())
	h.d.mu.Lock()
	_, kept := h.d.meta[laptop]
	h.d.mu.Unlock()
	if kept {
		t.Fatal("the laptop is still tracked after the inventory evicted it")
	}
	if areas := problemAreas(h.d); slices.Contains(areas, alert.AreaNFTables) {
		t.Errorf("problems %v after the device was forgotten", areas)
	}
	h.holdDownPassed()
	if r := h.alerts.problemAreas("resolved"); !slices.Equal(r, []string{alert.AreaNFTables}) {
		t.Errorf("resolved alerts %v, want one for nftables", r)
	}
}

// startWithFailedQuarantine starts a daemon whose enforcer fails the
// laptop's quarantine, which policy then calls for: the problem is
// raised. The caller stops the harness.
func startWithFailedQuarantine(t *testing.T, cfg *config.Config) *harness {
	t.Helper()
	fake := newFake(t)
	flaky := &flakyEnforcer{Enforcer: fake}
	h := start(t, cfg, fake, t.TempDir(), func(d *Deps) { d.Enforcer = flaky })
	h.settle()
	flaky.set("quarantine/"+laptop.String(), true)
	h.d.Record(exploitedFirmware(laptop, "192.168.50.104"))
	h.settle()
	if !slices.Contains(problemAreas(h.d), alert.AreaNFTables) {
		h.stop()
		t.Fatal("no problem for the laptop's failed quarantine")
	}
	return h
}

// TestOffloadIsAProblem: while the ruleset holds a flowtable (fw4's flow
// offloading), the owner is told iotgw cannot see the traffic it
// offloads; switched off, the problem resolves.
func TestOffloadIsAProblem(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	ctx := context.Background()
	h.d.checkOffload(ctx)
	if slices.Contains(problemAreas(h.d), alert.AreaOffload) {
		t.Fatal("offload problem without a flowtable")
	}
	fake.SetFlowtables([]string{"inet fw4 ft"})
	h.d.checkOffload(ctx)
	if !slices.Contains(problemAreas(h.d), alert.AreaOffload) {
		t.Fatalf("problems %v with fw4's flowtable, want offload", problemAreas(h.d))
	}
	fake.SetFlowtables(nil)
	h.d.checkOffload(ctx)
	if slices.Contains(problemAreas(h.d), alert.AreaOffload) {
		t.Error("offload problem after the flowtable went")
	}
	if got := h.alerts.problemAreas("failing"); !slices.Contains(got, alert.AreaOffload) {
		t.Errorf("failing alerts %v, want offload", got)
	}
	h.holdDownPassed()
	if got := h.alerts.problemAreas("resolved"); !slices.Contains(got, alert.AreaOffload) {
		t.Errorf("resolved alerts %v, want offload", got)
	}
}

// TestFW4IncludeIsAProblem: while fw4 is loaded without the package's
// rules for iotgw's redirects, the owner is told quarantined devices in a
// rejecting zone lose DNS; with the rules, or without fw4, there is no
// problem.
func TestFW4IncludeIsAProblem(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	ctx := context.Background()
	h.d.checkFW4Include(ctx)
	if slices.Contains(problemAreas(h.d), alert.AreaFW4Include) {
		t.Fatal("fw4-include problem without fw4")
	}
	fake.SetFW4InputMissing([]string{"iotgw: DNS redirected to iotgw's proxy (udp 53 to 5354)"}, true)
	h.d.checkFW4Include(ctx)
	if !slices.Contains(problemAreas(h.d), alert.AreaFW4Include) {
		t.Fatalf("problems %v with fw4 lacking a rule, want fw4-include", problemAreas(h.d))
	}
	fake.SetFW4InputMissing(nil, true)
	h.d.checkFW4Include(ctx)
	if slices.Contains(problemAreas(h.d), alert.AreaFW4Include) {
		t.Error("fw4-include problem once fw4 holds the rules")
	}
	h.holdDownPassed()
	if got := h.alerts.problemAreas("resolved"); !slices.Contains(got, alert.AreaFW4Include) {
		t.Errorf("resolved alerts %v, want fw4-include", got)
	}
}

// lossySource is a quiet live source whose kernel lost packets.
type lossySource struct {
	ctx  context.Context
	lost atomic.Uint64
}

func (s *lossySource) ReadPacket() ([]byte, capture.Info, error) {
	<-s.ctx.Done()
	return nil, capture.Info{}, s.ctx.Err()
}

func (s *lossySource) Close() error { return nil }

// launchLossy starts a daemon reading a lossySource, and returns once it
// reads it.
func launchLossy(t *testing.T, cfg *config.Config) (*harness, *lossySource) {
	t.Helper()
	opened := make(chan *lossySource, 1)
	h := launch(t, cfg, newFake(t), t.TempDir(), false, func(d *Deps) {
		d.OpenSource = func(ctx context.Context) (capture.Source, error) {
			src := &lossySource{ctx: ctx}
			opened <- src
			return src, nil
		}
	})
	reading := false
	defer func() {
		if !reading { // the test ends here: the daemon with it
			h.stop()
		}
	}()
	src := <-opened
	eventually(t, "the daemon reads its source", func() bool { return h.d.Status().Capture == "running" })
	reading = true
	return h, src
}

func (s *lossySource) Lost() uint64 { return s.lost.Load() }

// TestCaptureLossIsAProblem: packets the kernel lost before the daemon
// read them are counted in the status; a minute with many lost is a
// problem for the owner, a minute with none ends it.
func TestCaptureLossIsAProblem(t *testing.T) {
	h, src := launchLossy(t, enforcingConfig())
	defer h.stop()
	t0 := time.Now().Add(time.Hour) // after any check of the daemon's own
	h.d.checkCaptureLoss(t0)
	src.lost.Store(500)
	h.d.checkCaptureLoss(t0.Add(30 * time.Second)) // not a minute yet
	if slices.Contains(problemAreas(h.d), alert.AreaCaptureLoss) {
		t.Fatal("loss checked before a minute passed")
	}
	h.d.checkCaptureLoss(t0.Add(lossCheck))
	if !slices.Contains(problemAreas(h.d), alert.AreaCaptureLoss) {
		t.Fatalf("problems %v after 500 packets lost in a minute", problemAreas(h.d))
	}
	if got := h.d.Status().CaptureLost; got != 500 {
		t.Errorf("status capture_lost %d, want 500", got)
	}
	src.lost.Store(520) // a trickle: neither raised nor over
	h.d.checkCaptureLoss(t0.Add(2 * lossCheck))
	if !slices.Contains(problemAreas(h.d), alert.AreaCaptureLoss) {
		t.Error("problem cleared by a minute that still lost packets")
	}
	h.d.checkCaptureLoss(t0.Add(3 * lossCheck))
	if slices.Contains(problemAreas(h.d), alert.AreaCaptureLoss) {
		t.Error("problem still raised after a minute without loss")
	}
}

// partialSource is a live source that left out interfaces; it ends with
// end (nil: when ctx does) once released.
type partialSource struct {
	ctx     context.Context
	missing []string
	end     chan error
}

func (s *partialSource) ReadPacket() ([]byte, capture.Info, error) {
	select {
	case err := <-s.end:
		return nil, capture.Info{}, err
	case <-s.ctx.Done():
		return nil, capture.Info{}, s.ctx.Err()
	}
}

func (s *partialSource) Close() error      { return nil }
func (s *partialSource) Missing() []string { return s.missing }

// TestMissingCaptureInterface: a capture interface left out (a guest
// bridge switched off) is a problem of its own, not "capture stopped";
// when the source ends because it came up, the daemon opens the source
// again at once, and the problem is over once nothing is missing.
func TestMissingCaptureInterface(t *testing.T) {
	opened := make(chan *partialSource, 2)
	missing := [][]string{{"br-guest"}, nil}
	h := launch(t, enforcingConfig(), newFake(t), t.TempDir(), false, func(d *Deps) {
		d.OpenSource = func(ctx context.Context) (capture.Source, error) {
			if len(missing) == 0 {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			src := &partialSource{ctx: ctx, missing: missing[0], end: make(chan error, 1)}
			missing = missing[1:]
			opened <- src
			return src, nil
		}
	})
	defer h.stop()
	src := <-opened
	eventually(t, "the missing interface is a problem", func() bool {
		return slices.Contains(problemAreas(h.d), alert.AreaCaptureInterfaces)
	})
	if slices.Contains(problemAreas(h.d), alert.AreaCapture) {
		t.Error("a missing interface raised the capture-stopped problem")
	}
	src.end <- fmt.Errorf("afpacket: %w", capture.ErrInterfacesChanged)
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the source was not opened again")
	}
	eventually(t, "the problem is over", func() bool {
		return !slices.Contains(problemAreas(h.d), alert.AreaCaptureInterfaces)
	})
	stopped := alert.FromProblem(alert.AreaCapture, "", time.Now()).Title
	h.alerts.mu.Lock()
	defer h.alerts.mu.Unlock()
	for _, a := range h.alerts.sent {
		if a.Title == stopped {
			t.Errorf("the owner was told %q", a.Title)
		}
	}
}

// TestUninspectedConnectionsAreAProblem: a minute in which many new
// connections went uninspected (every inspection busy, or their device
// at its share) is a problem for the owner, with both counts and the
// inspections taken back from idle connections; one connection refused
// however many of its packets come is not; a minute with none ends it.
func TestUninspectedConnectionsAreAProblem(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Inspect.MaxInspected = 8 // a device's share is 1
	h, _ := launchLossy(t, cfg)
	defer h.stop()
	e := h.d.pipe.Engine()
	refused := func() uint64 {
		return e.Stats.FlowsRefusedBusy + e.Stats.FlowsRefusedShare + e.Stats.FlowsRefusedLinkWide
	}
	// A request whose headers never end keeps its inspection.
	const partial = "GET /index.html HTTP/1.1\r\nHost: cam\r\n"
	hold := func(client string) *inspecttest.Conv {
		return inspecttest.NewTCP(e, client, "192.168.1.200:80").Client(partial)
	}
	// Seven devices hold inspections, one of which gives its back; the
	// engine's key for hosts is random, so a device whose share another
	// one's address shares by chance is passed over.
	h.d.mu.Lock()
	hold("192.168.1.10:40000")
	var spare string
	for i, held := 11, 0; held < 7; i++ {
		n := refused()
		c := hold(fmt.Sprintf("192.168.1.%d:40000", i))
		if refused() > n {
			continue
		}
		if held++; held == 7 {
			c.Close()
			spare = fmt.Sprintf("192.168.1.%d", i)
		}
	}
	h.d.mu.Unlock()
	t0 := time.Now().Add(time.Hour) // after any check of the daemon's own
	h.d.checkInspection(t0)

	// One connection past the device's share, a bulk upload: one
	// connection, whatever its packets.
	h.d.mu.Lock()
	c := hold("192.168.1.10:40001")
	for range 200 {
		c.Client("x")
	}
	h.d.mu.Unlock()
	h.d.checkInspection(t0.Add(30 * time.Second)) // not a minute yet
	h.d.checkInspection(t0.Add(lossCheck))
	if slices.Contains(problemAreas(h.d), alert.AreaInspectionFull) {
		t.Fatalf("one refused connection raised the problem: %q", h.d.Status().Problems)
	}

	// Ten past the share; the spare device fills the last inspection;
	// ten with every inspection busy; and one a minute on, which takes
	// an idle connection's inspection.
	h.d.mu.Lock()
	for i := range 10 {
		hold(fmt.Sprintf("192.168.1.10:%d", 40002+i))
	}
	hold(spare + ":40001")
	for i := range 10 {
		hold(fmt.Sprintf("192.168.1.30:%d", 40000+i))
	}
	inspecttest.NewTCPAt(e, "192.168.1.40:40000", "192.168.1.200:80", 2*time.Minute).Client(partial)
	h.d.mu.Unlock()
	h.d.checkInspection(t0.Add(2 * lossCheck))
	want := alert.AreaInspectionFull + ": 20 new connections uninspected in the last minute: 10 with every inspection busy, 10 from a device at its share, 0 broadcast or multicast ones beyond their quarter of the inspections; inspections taken from connections idle for a minute or joined without a handshake: 1"
	if got := h.d.Status().Problems; !slices.Contains(got, want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
	h.d.checkInspection(t0.Add(3 * lossCheck))
	if slices.Contains(problemAreas(h.d), alert.AreaInspectionFull) {
		t.Error("problem still raised after a minute with every connection inspected")
	}
	h.holdDownPassed()
	if got := h.alerts.problemAreas("resolved"); !slices.Contains(got, alert.AreaInspectionFull) {
		t.Errorf("resolved alerts %v, want %s", got, alert.AreaInspectionFull)
	}
}

// TestUninspectedDiscoveryIsAProblem: discovery to the link's groups
// from many addresses, beyond the quarter of the inspections broadcast
// and multicast flows may hold, is a problem for the owner, its count
// apart from the others'.
func TestUninspectedDiscoveryIsAProblem(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Inspect.MaxInspected = 8 // a quarter of 2
	h, _ := launchLossy(t, cfg)
	defer h.stop()
	e := h.d.pipe.Engine()
	const search = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"
	t0 := time.Now().Add(time.Hour) // after any check of the daemon's own
	h.d.checkInspection(t0)
	h.d.mu.Lock()
	for i := range 30 {
		inspecttest.NewUDP(e, fmt.Sprintf("192.168.1.%d:40000", 100+i), "239.255.255.250:1900").Client(search)
	}
	s := e.Stats
	h.d.mu.Unlock()
	if s.FlowsRefusedLinkWide < uninspectedThreshold || s.FlowsRefusedBusy != 0 {
		t.Fatalf("%d searches refused for the quarter, %d busy; want %d or more, 0", s.FlowsRefusedLinkWide, s.FlowsRefusedBusy, uninspectedThreshold)
	}
	h.d.checkInspection(t0.Add(lossCheck))
	want := fmt.Sprintf("%s: %d new connections uninspected in the last minute: 0 with every inspection busy, %d from a device at its share, "+
		"%d broadcast or multicast ones beyond their quarter of the inspections; inspections taken from connections idle for a minute or joined without a handshake: 0",
		alert.AreaInspectionFull, s.FlowsRefusedShare+s.FlowsRefusedLinkWide, s.FlowsRefusedShare, s.FlowsRefusedLinkWide)
	if got := h.d.Status().Problems; !slices.Contains(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

// TestFlappingProblemHeldDown: a problem that comes and goes every minute
// reaches the owner's phone once, not with an urgent push and a
// "resolved" one per cycle (720 a day), and is told over once it stayed
// clear for alert.ProblemHoldDown; the page shows it live throughout.
func TestFlappingProblemHeldDown(t *testing.T) {
	clk := testclock.New(time.Now())
	h := launch(t, enforcingConfig(), newFake(t), t.TempDir(), false, func(d *Deps) { d.Now = clk.Now })
	defer h.stop()
	h.settle()
	const key = alert.AreaNotice + "/192.168.50.1:80"
	showing := func() bool { return slices.Contains(problemAreas(h.d), alert.AreaNotice) }
	for i := range 120 {
		h.d.SetProblem(key, "listen tcp 192.168.50.1:80: bind: cannot assign requested address")
		if !showing() {
			t.Fatalf("cycle %d: the page does not show the problem", i)
		}
		clk.Advance(time.Minute)
		h.d.tick(clk.Now())
		h.d.ClearProblem(key)
		if showing() {
			t.Fatalf("cycle %d: the page shows the problem once it is over", i)
		}
		clk.Advance(time.Minute)
		h.d.tick(clk.Now())
	}
	if f, r := h.alerts.problemAreas("failing"), h.alerts.problemAreas("resolved"); len(f) != 1 || len(r) != 0 {
		t.Fatalf("two hours of flapping alerted failing %d times, resolved %d times; want once, and not yet resolved", len(f), len(r))
	}
	clk.Advance(alert.ProblemHoldDown)
	h.d.tick(clk.Now())
	if f, r := h.alerts.problemAreas("failing"), h.alerts.problemAreas("resolved"); len(f) != 1 || !slices.Equal(r, []string{alert.AreaNotice}) {
		t.Errorf("after %v clear: failing %v, resolved %v; want one each", alert.ProblemHoldDown+time.Minute, f, r)
	}
}

// TestProblemHoldDownSurvivesRestart: the hold-down is kept in the state
// file, so a restart (procd's respawn, an upgrade) within it neither
// tells the owner again of a problem they were told of, nor tells it
// over before it stayed clear for alert.ProblemHoldDown. It used to
// live in memory: a problem found again after the restart was a new
// urgent push, and one that ended shortly before the stop was told over
// at the stop, however soon it came back.
func TestProblemHoldDownSurvivesRestart(t *testing.T) {
	const key = alert.AreaNotice + "/192.168.50.1:80"
	// The silent packet source ends at the stop, a capture problem.
	notice := func(a *alerts, status string) []string {
		return slices.DeleteFunc(a.problemAreas(status), func(area string) bool { return area != alert.AreaNotice })
	}
	tests := []struct {
		name            string
		clearBeforeStop bool
		foundAgain      bool
		wantResolved    int // in the second run, after the hold-down
	}{
		{"failing_at_the_stop_found_again", false, true, 0},
		{"failing_at_the_stop_gone_after_it", false, false, 1},
		{"cleared_before_the_stop_back_again", true, true, 0},
		{"cleared_before_the_stop_stays_clear", true, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := testclock.New(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
			withClock := func(d *Deps) { d.Now = clk.Now }
			h := launch(t, enforcingConfig(), newFake(t), dir, false, withClock)
			h.settle()
			h.d.SetProblem(key, "listen tcp 192.168.50.1:80: bind: cannot assign requested address")
			if tt.clearBeforeStop {
				clk.Advance(time.Minute)
				h.d.ClearProblem(key)
			}
			h.stop()
			if f, r := notice(h.alerts, "failing"), notice(h.alerts, "resolved"); len(f) != 1 || len(r) != 0 {
				t.Fatalf("first run: failing %v, resolved %v; want one failing, none resolved", f, r)
			}

			clk.Advance(2 * time.Minute) // a respawn
			h2 := launch(t, enforcingConfig(), newFake(t), dir, false, withClock)
			defer h2.stop()
			h2.settle()
			if tt.foundAgain {
				h2.d.SetProblem(key, "listen tcp 192.168.50.1:80: bind: cannot assign requested address")
			}
			h2.d.tick(clk.Now())
			if f := notice(h2.alerts, "failing"); len(f) != 0 {
				t.Errorf("the restart told the problem again: %v", f)
			}
			clk.Advance(alert.ProblemHoldDown)
			h2.d.tick(clk.Now())
			if f, r := notice(h2.alerts, "failing"), notice(h2.alerts, "resolved"); len(f) != 0 || len(r) != tt.wantResolved {
				t.Errorf("second run after the hold-down: failing %v, resolved %v; want none failing, %d resolved", f, r, tt.wantResolved)
			}
		})
	}
}

// TestDamagedAlertHoldsStartAfresh: hold-down memory the alert engine
// cannot read costs that memory alone: the daemon starts, the owner's
// decisions stay, and a problem is told as after a first start.
func TestDamagedAlertHoldsStartAfresh(t *testing.T) {
	dir := t.TempDir()
	doc := `{"schema":1,"quarantines":[],"decisions":[{"mac":"c0:56:e3:00:00:01","name":"Hall camera","trusted":true}],` +
		`"alert_holds":{"problems":"not a list"}}`
	if err := os.WriteFile(dir+"/state.json", []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	h := launch(t, enforcingConfig(), newFake(t), dir, false)
	defer h.stop()
	h.settle()
	if st := h.store.Snapshot(); len(st.Decisions) != 1 || st.Decisions[0].Name != "Hall camera" {
		t.Errorf("decisions %v, want the owner's", st.Decisions)
	}
	h.d.SetProblem(alert.AreaInspectionFull, "20 new connections uninspected")
	if f := h.alerts.problemAreas("failing"); !slices.Equal(f, []string{alert.AreaInspectionFull}) {
		t.Errorf("failing alerts %v, want one for %s", f, alert.AreaInspectionFull)
	}
}

// TestProblemHoldDownFollowsClockStep: a router boots with a clock that
// reads as set but is off (OpenWrt sets it to its newest file's time),
// a problem comes and goes, and NTP steps the clock minutes later, as
// in TestQuarantineFollowsClockStep. The hold-down lasts its length
// across the step, in this run and in the next one after a restart: the
// problem is told over once it stayed clear for alert.ProblemHoldDown,
// not at the first tick because its end was dated by the clock before
// the step, nor a step later.
func TestProblemHoldDownFollowsClockStep(t *testing.T) {
	const key = alert.AreaNotice + "/192.168.50.1:80"
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	resolved := func(a *alerts) int {
		return len(slices.DeleteFunc(a.problemAreas("resolved"), func(area string) bool { return area != alert.AreaNotice }))
	}
	for _, tc := range []struct {
		name    string
		boot    time.Time
		restart bool
		// clearAfterStep: the problem ends after the step, before a
		// tick has read the clock since: its end is dated by the set
		// clock, and must not move by the step too.
		clearAfterStep bool
	}{
		{"forward_a_month", right.AddDate(0, -1, 0), false, false},
		{"forward_a_month_restart", right.AddDate(0, -1, 0), true, false},
		{"back_a_day", right.Add(24 * time.Hour), false, false},
		{"back_a_day_restart", right.Add(24 * time.Hour), true, false},
		{"forward_a_month_cleared_after", right.AddDate(0, -1, 0), false, true},
		{"back_a_day_cleared_after", right.Add(24 * time.Hour), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clk, fake, withClock := clockedFake(t, tc.boot)
			h := launch(t, enforcingConfig(), fake, dir, false, withClock)
			h.settle()
			h.d.SetProblem(key, "listen tcp 192.168.50.1:80: bind: cannot assign requested address")
			clk.Advance(time.Minute)
			if !tc.clearAfterStep {
				h.d.ClearProblem(key)
			}
			clk.Advance(time.Minute)
			h.d.tick(clk.Now())
			clk.Set(right) // NTP
			if tc.clearAfterStep {
				h.d.ClearProblem(key)
			}
			cleared := clk.Elapsed()
			if !tc.clearAfterStep {
				cleared -= time.Minute
			}
			sinceClear := func() time.Duration { return clk.Elapsed() - cleared }
			clk.Advance(5 * time.Second)
			h.d.tick(clk.Now())
			if tc.restart {
				h.stop()
				clk.Advance(time.Minute)
				h = launch(t, enforcingConfig(), fake, dir, false, withClock)
				h.settle()
			}
			defer h.stop()
			clk.Advance(alert.ProblemHoldDown - 5*time.Second - sinceClear())
			h.d.tick(clk.Now())
			if n := resolved(h.alerts); n != 0 {
				t.Errorf("told over %d times %s after it ended, within the hold-down", n, sinceClear())
			}
			clk.Advance(10 * time.Second)
			h.d.tick(clk.Now())
			if n := resolved(h.alerts); n != 1 {
				t.Errorf("told over %d times %s after it ended, want once", n, sinceClear())
			}
		})
	}
}
