package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
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
			clk := testclock.New(tc.boot)
			fake, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081}, quarantine.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			withClock := func(d *Deps) { d.Now, d.Elapsed = clk.Now, clk.Elapsed }
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
				if left, want := dev.Quarantine.Until.Sub(clk.Now()), term-elapsed; left < want-time.Second || left > want+time.Second {
					t.Errorf("%s: quarantined until %s, %s from now, want %s", when, dev.Quarantine.Until, left, want)
				}
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
	clk := testclock.New(right)
	fake, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081}, quarantine.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	boot := time.Unix(42, 0).UTC()
	editStore(t, dir, func(st *store.Store) {
		if err := st.PutQuarantine(store.Quarantine{MAC: plug, Mode: string(quarantine.ModeBlock), Since: boot, Until: boot.Add(term),
			By: store.ActorOwner, Reason: "quarantined by the owner"}); err != nil {
			t.Fatal(err)
		}
	})
	h := launch(t, enforcingConfig(), fake, dir, false, func(d *Deps) { d.Now, d.Elapsed = clk.Now, clk.Elapsed })
	defer h.stop()
	h.settle()
	if _, ok := quarantined(t, fake)[plug]; !ok {
		t.Fatal("a quarantine saved before NTP ended at the first start after it")
	}
	dev, _ := h.d.Device(plug)
	if dev.Quarantine == nil || !dev.Quarantine.Until.Equal(right.Add(term)) {
		t.Errorf("quarantine %+v, want until %s", dev.Quarantine, right.Add(term))
	}
}
