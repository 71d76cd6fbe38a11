package daemon

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// TestQuarantineFollowsClockStep: a router boots with a wrong clock and
// NTP steps it minutes after iotgw started (forwards by a year, back by a
// day, from 1970 to now). A quarantine policy applied before the step
// lasts quarantine_for all the same, and its saved end moves with the
// clock: the page shows the right time, and a restart neither ends it
// early nor holds it on.
func TestQuarantineFollowsClockStep(t *testing.T) {
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		boot time.Time // the clock at start; NTP sets it right a minute later
	}{
		{"forward_a_year", right.AddDate(-1, 0, 0)},
		{"back_a_day", right.Add(24 * time.Hour)},
		{"from_1970", time.Unix(42, 0).UTC()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const term = time.Hour
			cfg := enforcingConfig()
			cfg.Policy.QuarantineFor.Duration = term
			clk, fake, withClock := clockedFake(t, tc.boot)
			dir := t.TempDir()
			h := start(t, cfg, fake, dir, withClock)
			h.settle()
			if quarantined(t, fake)[camera] != quarantine.ModeBlock {
				h.stop()
				t.Fatal("camera not quarantined")
			}
			ctx := context.Background()
			clk.Advance(time.Minute)
			h.d.tick(clk.Now())
			clk.Set(right) // NTP
			clk.Advance(5 * time.Second)
			h.d.tick(clk.Now())
			h.settle()
			h.d.checkKernel(ctx)
			checkLeft := func(when string, elapsed time.Duration) {
				t.Helper()
				if _, ok := quarantined(t, fake)[camera]; !ok {
					t.Fatalf("%s: the camera is free %s into its %s quarantine", when, elapsed, term)
				}
				dev, _ := h.d.Device(camera)
				if dev.Quarantine == nil {
					t.Fatalf("%s: the camera's view has no quarantine", when)
				}
				checkEndsIn(t, when+": quarantined", dev.Quarantine.Until, clk.Now(), term-elapsed)
			}
			checkLeft("after the step", time.Minute+5*time.Second)
			h.stop()
			h = launch(t, cfg, fake, dir, false, withClock)
			defer h.stop()
			h.settle()
			h.d.checkKernel(ctx)
			checkLeft("after a restart", time.Minute+5*time.Second)
			clk.Advance(term)
			h.d.tick(clk.Now())
			h.settle()
			h.d.checkKernel(ctx)
			if _, ok := quarantined(t, fake)[camera]; ok {
				t.Errorf("the camera is still quarantined after its %s ran out", term)
			}
		})
	}
}

// TestQuarantineSavedBeforeNTP: a quarantine saved by a run whose clock
// NTP had not set (1970) is dated wrong; a start with a set clock keeps
// it for its length from now rather than take it for long over.
func TestQuarantineSavedBeforeNTP(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	_, fake, withClock := clockedFake(t, right)
	dir := t.TempDir()
	boot := time.Unix(42, 0).UTC()
	savePlugQuarantine(t, dir, boot, term)
	h := launch(t, enforcingConfig(), fake, dir, false, withClock)
	defer h.stop()
	h.settle()
	if _, ok := quarantined(t, fake)[plug]; !ok {
		t.Fatal("a quarantine saved before NTP ended at the first start after it")
	}
	checkPlugUntil(t, h, right.Add(term))
}

// TestQuarantineHeldBetweenStepAndTick: the tick that follows a step of
// the clock comes up to five seconds after it, and the kernel check and
// an evaluation may run first. A quarantine whose times carry no
// monotonic reading (one restored from the store, or one a step moved
// before) must not read as run out to them: the kernel would free the
// device, and an evaluation end its quarantine for good.
func TestQuarantineHeldBetweenStepAndTick(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	boot := time.Unix(42, 0).UTC()
	for _, tc := range []struct {
		name  string
		steps []time.Time // where NTP or the owner sets the clock, a tick after each but the last
	}{
		{"restored_before_ntp", []time.Time{right}},
		{"moved_then_set_again", []time.Time{right, right.Add(24 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk, fake, withClock := clockedFake(t, boot.Add(time.Minute))
			dir := t.TempDir()
			savePlugQuarantine(t, dir, boot, term)
			h := launch(t, enforcingConfig(), fake, dir, false, withClock)
			defer h.stop()
			h.settle()
			ctx := context.Background()
			for i, at := range tc.steps {
				clk.Set(at)
				clk.Advance(time.Second)
				if i < len(tc.steps)-1 {
					h.d.tick(clk.Now())
				}
			}
			h.d.checkKernel(ctx)
			if _, ok := quarantined(t, fake)[plug]; !ok {
				t.Error("the kernel check freed the plug between the step and the next tick")
			}
			h.d.evaluate(ctx, plug)
			dev, _ := h.d.Device(plug)
			if dev.Quarantine == nil {
				t.Fatal("an evaluation between the step and the next tick ended the quarantine")
			}
			checkEndsIn(t, "quarantined", dev.Quarantine.Until, clk.Now(), term-time.Minute-time.Duration(len(tc.steps))*time.Second)
		})
	}
}

// TestWallStep: what wallStep takes for a step of the wall clock.
func TestWallStep(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type reading struct {
		wall    time.Time
		elapsed time.Duration
		want    time.Duration
	}
	for _, tc := range []struct {
		name     string
		readings []reading
	}{
		{"first_reading", []reading{{t0.AddDate(-56, 0, 0), 0, 0}}},
		{"time_passing", []reading{{t0, 0, 0}, {t0.Add(5 * time.Second), 5 * time.Second, 0}}},
		{"slow_tick_under_load", []reading{{t0, 0, 0}, {t0.Add(10 * time.Minute), 10 * time.Minute, 0}}},
		{"jitter", []reading{{t0, 0, 0}, {t0.Add(5*time.Second + time.Second), 5 * time.Second, 0}}},
		{"ntp_forward", []reading{{t0, 0, 0}, {t0.AddDate(1, 0, 0).Add(5 * time.Second), 5 * time.Second, t0.AddDate(1, 0, 0).Sub(t0)}}},
		{"owner_back_a_day", []reading{{t0, 0, 0}, {t0.Add(-24*time.Hour + 5*time.Second), 5 * time.Second, -24 * time.Hour}}},
		// A reading taken before the step, handed in after one taken
		// after it: no step back, and none forward again next.
		{"out_of_order", []reading{
			{t0, 0, 0},
			{t0.AddDate(1, 0, 0).Add(2 * time.Second), 2 * time.Second, t0.AddDate(1, 0, 0).Sub(t0)},
			{t0.Add(time.Second), time.Second, 0},
			{t0.AddDate(1, 0, 0).Add(3 * time.Second), 3 * time.Second, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w wallStep
			for i, r := range tc.readings {
				if got := w.step(r.wall, r.elapsed); got != r.want {
					t.Errorf("reading %d (%s, %s): step %s, want %s", i, r.wall, r.elapsed, got, r.want)
				}
			}
		})
	}
}

// TestPlanBeforeStepDropped: a quarantine planned before a step of the
// clock and committed after the step was followed would keep the dates
// of the clock before it: its saved end a year early, or late, and never
// moved. The plan is dropped and the device evaluated again.
func TestPlanBeforeStepDropped(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := enforcingConfig()
	cfg.Policy.QuarantineFor.Duration = term
	cfg.Policy.MaxAutoQuarantine = 0 // nothing quarantined while the capture plays
	clk, fake, withClock := clockedFake(t, right.AddDate(-1, 0, 0))
	h := start(t, cfg, fake, t.TempDir(), withClock)
	defer h.stop()
	h.settle()
	p, ok := planCameraQuarantine(h.d)
	if !ok {
		t.Fatal("no quarantine planned")
	}
	clk.Set(right) // NTP
	clk.Advance(time.Second)
	h.d.tick(clk.Now())
	h.d.applyPlan(context.Background(), camera, p)
	h.settle()
	dev, _ := h.d.Device(camera)
	if dev.Quarantine == nil {
		t.Fatal("the camera is not quarantined")
	}
	checkEndsIn(t, "quarantined", dev.Quarantine.Until, clk.Now(), term)
}

// TestStepDuringCommitSaved: a step of the clock followed while a new
// quarantine is being committed, after the view has it and before it is
// saved, moves the saved record too: the commit does not save the dates
// before the step over the moved ones, which a restart would take for a
// quarantine that ran out.
func TestStepDuringCommitSaved(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := enforcingConfig()
	cfg.Policy.QuarantineFor.Duration = term
	cfg.Policy.MaxAutoQuarantine = 0 // nothing quarantined while the capture plays
	clk, fake, withClock := clockedFake(t, right.AddDate(-1, 0, 0))
	var h *harness
	var armed atomic.Bool
	stepNow := func(d *Deps) {
		withClock(d)
		d.Blocked = func([]netip.Addr) {
			if armed.CompareAndSwap(true, false) {
				clk.Set(right) // NTP, seen by the kernel check
				h.d.checkKernel(context.Background())
			}
		}
	}
	dir := t.TempDir()
	h = start(t, cfg, fake, dir, stepNow)
	h.settle()
	p, ok := planCameraQuarantine(h.d)
	if !ok {
		h.stop()
		t.Fatal("no quarantine planned")
	}
	armed.Store(true)
	h.d.applyPlan(context.Background(), camera, p)
	h.stop()
	checkSavedEndsIn(t, dir, camera, clk.Now(), term)
}

// TestStepDuringStart: NTP sets the clock while the daemon starts, after
// its first reading of the clock and before the restore dates anew a
// quarantine saved before NTP. The new dates are the set clock's: the
// step they already follow is not followed again, which would move them
// on by it, 56 years.
func TestStepDuringStart(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	boot := time.Unix(42, 0).UTC()
	clk, fake, _ := clockedFake(t, boot.Add(time.Minute))
	dir := t.TempDir()
	savePlugQuarantine(t, dir, boot, term)
	var ntp sync.Once
	h := launch(t, enforcingConfig(), fake, dir, false, func(d *Deps) {
		d.Now = clk.Now
		d.Reading = func() (time.Time, time.Duration) {
			now, elapsed := clk.Reading()
			ntp.Do(func() { clk.Set(right) }) // just after the start's first reading
			return now, elapsed
		}
	})
	defer h.stop()
	h.settle()
	h.d.checkKernel(context.Background())
	if _, ok := quarantined(t, fake)[plug]; !ok {
		t.Error("the plug is free")
	}
	checkPlugUntil(t, h, right.Add(term))
}

// TestReleaseAfterClockSetBack: the owner releases a camera after the
// router's clock was set back (NTP correcting a clock that ran ahead, or
// the owner): its findings, dated by the clock before, lie in the new
// clock's future. The release excuses every finding known then, so it
// is neither refused as "policy would quarantine it again at once" nor
// undone by the next evaluation.
func TestReleaseAfterClockSetBack(t *testing.T) {
	cfg := enforcingConfig()
	clk, fake, withClock := clockedFake(t, time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) // after the capture's findings
	h := start(t, cfg, fake, t.TempDir(), withClock)
	defer h.stop()
	h.settle()
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		t.Fatal("camera not quarantined")
	}
	clk.Set(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	h.d.tick(clk.Now())
	ctx := context.Background()
	if err := h.d.Release(ctx, camera); err != nil {
		t.Fatalf("release after the clock was set back: %v", err)
	}
	clk.Advance(5 * time.Second)
	h.d.tick(clk.Now())
	h.settle()
	h.d.checkKernel(ctx)
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Error("the camera is quarantined again for the findings the owner released it with")
	}
}

// savePlugQuarantine leaves in dir's store the owner's quarantine of the
// plug, dated since by the clock of a run before, for term.
func savePlugQuarantine(t *testing.T, dir string, since time.Time, term time.Duration) {
	t.Helper()
	editStore(t, dir, func(st *store.Store) {
		if err := st.PutQuarantine(store.Quarantine{MAC: plug, Mode: string(quarantine.ModeBlock), Since: since, Until: since.Add(term),
			By: store.ActorOwner, Reason: "quarantined by the owner"}); err != nil {
			t.Fatal(err)
		}
	})
}

// checkPlugUntil fails t unless the daemon's view has the plug
// quarantined until want.
func checkPlugUntil(t *testing.T, h *harness, want time.Time) {
	t.Helper()
	dev, _ := h.d.Device(plug)
	if dev.Quarantine == nil || !dev.Quarantine.Until.Equal(want) {
		t.Errorf("quarantine %+v, want until %s", dev.Quarantine, want)
	}
}

// planCameraQuarantine lets the policy quarantine again, as a reload
// raising max_auto_quarantine does without its re-evaluation, and
// returns the camera's plan and whether it applies a quarantine.
func planCameraQuarantine(d *Daemon) (plan, bool) {
	d.mu.Lock()
	d.cfg.Policy.MaxAutoQuarantine = 3
	d.meta[camera].overLimit = false
	d.mu.Unlock()
	p, _, _, _ := d.policyPlan(camera)
	return p, p.apply
}

// checkEndsIn checks that end, what is held until it, is want from now,
// give or take the second a test's steps of the clock may add.
func checkEndsIn(t *testing.T, what string, end, now time.Time, want time.Duration) {
	t.Helper()
	if left := end.Sub(now); left < want-time.Second || left > want+time.Second {
		t.Errorf("%s until %s, %s from now, want %s", what, end, left, want)
	}
}

// checkSavedEndsIn checks that the quarantine of mac saved in dir ends
// want from now.
func checkSavedEndsIn(t *testing.T, dir string, mac hwaddr.MAC, now time.Time, want time.Duration) {
	t.Helper()
	st := store.Open(store.Options{Path: dir + "/state.json"})
	for _, q := range st.Snapshot().Quarantines {
		if q.MAC == mac {
			checkEndsIn(t, "saved", q.Until, now, want)
			return
		}
	}
	t.Errorf("the quarantine of %s was not saved", mac)
}

// clockedFake is a test clock at at, a fake kernel that reads it, and
// the option that gives a daemon the clock's wall and monotonic readings.
func clockedFake(t *testing.T, at time.Time) (*testclock.Clock, *quarantine.Fake, func(*Deps)) {
	t.Helper()
	clk := testclock.New(at)
	fake, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081}, quarantine.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	return clk, fake, func(d *Deps) { d.Now, d.Reading = clk.Now, clk.Reading }
}

// TestOwnerQuarantineAfterStep: the owner quarantines a device for an
// hour after NTP stepped the clock and before anything in the daemon
// read the clock since (the next tick is up to five seconds away). The
// quarantine is dated by the set clock: when the step is followed, it
// must not move by it too, a year on from now (or back into the past).
func TestOwnerQuarantineAfterStep(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		boot time.Time
	}{
		{"forward_a_year", right.AddDate(-1, 0, 0)},
		{"back_a_day", right.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk, fake, withClock := clockedFake(t, tc.boot)
			h := start(t, enforcingConfig(), fake, t.TempDir(), withClock)
			defer h.stop()
			h.settle()
			clk.Set(right) // NTP
			clk.Advance(time.Second)
			ctx := context.Background()
			if err := h.d.Quarantine(ctx, laptop, "isolate", term); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
			h.d.tick(clk.Now())
			dev, _ := h.d.Device(laptop)
			if dev.Quarantine == nil {
				t.Fatal("the laptop's view has no quarantine")
			}
			checkEndsIn(t, "quarantined", dev.Quarantine.Until, clk.Now(), term-time.Second)
		})
	}
}

// stepDuringKernel is the fake kernel with a step of the clock followed
// (by a tick, the kernel check) just after it took a quarantine: after
// the plan was dated and checked, before the daemon's view has it.
type stepDuringKernel struct {
	*quarantine.Fake
	clk *testclock.Clock
	to  time.Time
	d   atomic.Pointer[Daemon]
}

func (s *stepDuringKernel) Quarantine(ctx context.Context, e quarantine.Entry) error {
	err := s.Fake.Quarantine(ctx, e)
	if d := s.d.Swap(nil); d != nil {
		s.clk.Set(s.to)
		d.mu.Lock()
		d.followClockLocked()
		d.mu.Unlock()
	}
	return err
}

// TestStepDuringKernelChange: a step of the clock followed while the
// kernel takes a new quarantine, the owner's or policy's, moves it too:
// the view and the store do not keep the dates of the clock before the
// step, a year early.
func TestStepDuringKernelChange(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		mac   hwaddr.MAC
		apply func(context.Context, *Daemon) error
	}{
		{"owner", laptop, func(ctx context.Context, d *Daemon) error { return d.Quarantine(ctx, laptop, "isolate", term) }},
		{"policy", camera, func(ctx context.Context, d *Daemon) error {
			p, ok := planCameraQuarantine(d)
			if !ok {
				return errors.New("no quarantine planned")
			}
			return d.commit(ctx, camera, p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := enforcingConfig()
			cfg.Policy.QuarantineFor.Duration = term
			cfg.Policy.MaxAutoQuarantine = 0 // nothing quarantined while the capture plays
			clk, fake, withClock := clockedFake(t, right.AddDate(-1, 0, 0))
			enf := &stepDuringKernel{Fake: fake, clk: clk, to: right}
			dir := t.TempDir()
			h := start(t, cfg, fake, dir, withClock, func(d *Deps) { d.Enforcer = enf })
			h.settle()
			enf.d.Store(h.d)
			if err := tc.apply(context.Background(), h.d); err != nil {
				h.stop()
				t.Fatal(err)
			}
			dev, _ := h.d.Device(tc.mac)
			h.stop()
			if dev.Quarantine == nil {
				t.Fatal("no quarantine in the view")
			}
			checkEndsIn(t, "view: quarantined", dev.Quarantine.Until, clk.Now(), term)
			checkSavedEndsIn(t, dir, tc.mac, clk.Now(), term)
		})
	}
}

// TestGraceFollowsClockStep: a plug calls for isolation a minute before
// NTP sets the router's clock, with an hour's grace. The grace period
// moves with the step, as quarantines do: it neither ends at once after
// a step forward nor runs on for the size of a step back; its saved
// start moves too, so a restart keeps it.
func TestGraceFollowsClockStep(t *testing.T) {
	const grace = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		boot time.Time // the clock at start; NTP sets it right a minute later
	}{
		{"forward_a_year", right.AddDate(-1, 0, 0)},
		{"forward_two_hours", right.Add(-2 * time.Hour)},
		{"back_a_day", right.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := enforcingConfig()
			cfg.Policy.Actions["plaintext_credentials"] = config.ActionIsolate
			cfg.Policy.Grace.Duration = grace
			clk, fake, withClock := clockedFake(t, tc.boot)
			dir := t.TempDir()
			h := launch(t, cfg, fake, dir, false, withClock)
			h.settle()
			plugEP := event.Endpoint{MAC: plug.String(), IP: "192.168.50.102", Local: true}
			h.d.Record(finding(plugEP, clk.Now(), event.KindPlaintextCredentials, event.SeverityMedium,
				"plaintext login", event.Evidence{"protocol": "ftp", "user": "u***", "password_hash": "0011223344556677"}))
			h.settle()
			clk.Advance(time.Minute)
			clk.Set(right) // NTP
			clk.Advance(time.Second)
			h.d.tick(clk.Now())
			h.settle()
			check := func(when string) {
				t.Helper()
				if _, ok := quarantined(t, fake)[plug]; ok {
					t.Fatalf("%s: the plug is isolated a minute into its %s grace period", when, grace)
				}
				dev, _ := h.d.Device(plug)
				checkEndsIn(t, when+": isolation pending", dev.Verdict.PendingUntil, clk.Now(), grace-time.Minute-time.Second)
			}
			check("after the step")
			h.stop()
			h = launch(t, cfg, fake, dir, false, withClock)
			defer h.stop()
			h.settle()
			check("after a restart")
			clk.Advance(grace)
			h.d.tick(clk.Now())
			h.settle()
			if _, ok := quarantined(t, fake)[plug]; !ok {
				t.Errorf("the plug is not isolated after its %s grace period", grace)
			}
		})
	}
}

// TestExpiryAfterClockSetBack: policy quarantines the camera for an hour,
// and the router's clock is then set back (NTP correcting a clock that
// ran ahead, the owner). The camera's findings, dated by the clock
// before, lie after the moved start of its quarantine. When it runs out
// they are the findings it was for, not new ones: the camera is not
// quarantined again for them.
func TestExpiryAfterClockSetBack(t *testing.T) {
	const term = time.Hour
	boot := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) // after the capture's findings, at 17:04 the day before
	for _, tc := range []struct {
		name string
		to   time.Time // where the clock is set back to
	}{
		{"findings_in_the_future_at_expiry", time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		{"findings_in_the_past_at_expiry", time.Date(2026, 11, 25, 16, 45, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := enforcingConfig()
			cfg.Policy.QuarantineFor.Duration = term
			clk, fake, withClock := clockedFake(t, boot)
			h := start(t, cfg, fake, t.TempDir(), withClock)
			defer h.stop()
			h.settle()
			if quarantined(t, fake)[camera] != quarantine.ModeBlock {
				t.Fatal("camera not quarantined")
			}
			clk.Set(tc.to)
			h.d.tick(clk.Now())
			h.settle()
			clk.Advance(term)
			h.d.tick(clk.Now())
			h.settle()
			ctx := context.Background()
			if dev, _ := h.d.Device(camera); dev.Quarantine != nil {
				t.Fatalf("the camera's quarantine did not run out: %+v", dev.Quarantine)
			}
			h.d.evaluate(ctx, camera) // as its next sign of life does
			h.d.checkKernel(ctx)
			if _, ok := quarantined(t, fake)[camera]; ok {
				t.Error("the camera is quarantined again, for the findings of the quarantine that ran out")
			}
		})
	}
}

// stepBeforeKernel is the fake kernel with the clock stepped just
// before it takes a quarantine, once: after the daemon dated it, before
// the kernel turns its end into a timeout by its own reading of the
// clock. Nothing in the daemon follows the step.
type stepBeforeKernel struct {
	*quarantine.Fake
	clk   *testclock.Clock
	to    time.Time
	armed atomic.Bool
}

func (s *stepBeforeKernel) Quarantine(ctx context.Context, e quarantine.Entry) error {
	if s.armed.CompareAndSwap(true, false) {
		s.clk.Set(s.to)
	}
	return s.Fake.Quarantine(ctx, e)
}

// TestStepJustBeforeKernel: the owner quarantines a device for an hour
// a moment before NTP steps the clock, and the kernel reads the stepped
// clock when it takes the entry. The entry is not refused as expired
// (a step forward past its end) nor held the step's size too long (a
// step back): the kernel holds the device for the hour.
func TestStepJustBeforeKernel(t *testing.T) {
	const term = time.Hour
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		boot time.Time
	}{
		{"forward_a_year", right.AddDate(-1, 0, 0)},
		{"forward_ten_minutes", right.Add(-10 * time.Minute)},
		{"back_a_day", right.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk, fake, withClock := clockedFake(t, tc.boot)
			enf := &stepBeforeKernel{Fake: fake, clk: clk, to: right}
			h := start(t, enforcingConfig(), fake, t.TempDir(), withClock, func(d *Deps) { d.Enforcer = enf })
			defer h.stop()
			h.settle()
			enf.armed.Store(true)
			if err := h.d.Quarantine(context.Background(), laptop, "isolate", term); err != nil {
				t.Fatalf("the owner's quarantine: %v", err)
			}
			entries, err := fake.Current(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.MAC != laptop {
					continue
				}
				checkEndsIn(t, "the kernel holds the laptop", e.Expires, clk.Now(), term)
				return
			}
			t.Error("the kernel does not hold the laptop")
		})
	}
}

// TestGraceSavedBeforeNTP: a plug calls for isolation, with an hour's
// grace, while the router's clock is not set yet (1970), and iotgw
// restarts before NTP sets it. The saved start of the grace period is
// dated as that clock read: like a quarantine saved so, it follows the
// step when the clock is set after the restart, or starts again at a
// restart with a set clock; the grace period does not end at once.
func TestGraceSavedBeforeNTP(t *testing.T) {
	const grace = time.Hour
	boot := time.Unix(300, 0).UTC()
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		setFirst bool // NTP set the clock before the restart
	}{
		{"set_after_restart", false},
		{"set_before_restart", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := enforcingConfig()
			cfg.Policy.Actions["plaintext_credentials"] = config.ActionIsolate
			cfg.Policy.Grace.Duration = grace
			clk, fake, withClock := clockedFake(t, boot)
			dir := t.TempDir()
			h := launch(t, cfg, fake, dir, false, withClock)
			h.settle()
			plugEP := event.Endpoint{MAC: plug.String(), IP: "192.168.50.102", Local: true}
			h.d.Record(finding(plugEP, clk.Now(), event.KindPlaintextCredentials, event.SeverityMedium,
				"plaintext login", event.Evidence{"protocol": "ftp", "user": "u***", "password_hash": "0011223344556677"}))
			h.settle()
			h.stop()
			clk.Advance(time.Minute)
			if tc.setFirst {
				clk.Set(right) // NTP, while iotgw is down
			}
			h = launch(t, cfg, fake, dir, false, withClock)
			defer h.stop()
			h.settle()
			clk.Advance(time.Minute)
			if !tc.setFirst {
				clk.Set(right) // NTP
			}
			clk.Advance(time.Second)
			h.d.tick(clk.Now())
			h.settle()
			if _, ok := quarantined(t, fake)[plug]; ok {
				t.Fatalf("the plug is isolated minutes into its %s grace period", grace)
			}
			dev, _ := h.d.Device(plug)
			if left := dev.Verdict.PendingUntil.Sub(clk.Now()); left < grace-5*time.Minute || left > grace {
				t.Errorf("isolation pending until %s, %s from now, want about %s", dev.Verdict.PendingUntil, left, grace)
			}
		})
	}
}
