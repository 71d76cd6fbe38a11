package alert

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/store"
)

// restarted saves p and l as a stopping daemon does and restores them
// into a new run's at now.
func restarted(t *testing.T, p *ProblemDamper, l *NewDeviceLimiter, now time.Time) (*ProblemDamper, *NewDeviceLimiter) {
	t.Helper()
	raw, err := SaveHolds(p, l)
	if err != nil {
		t.Fatal(err)
	}
	p2, l2 := NewProblemDamper(), &NewDeviceLimiter{}
	if err := RestoreHolds(raw, p2, l2, now); err != nil {
		t.Fatalf("restore %s: %v", raw, err)
	}
	return p2, l2
}

// TestHoldsAcrossARestart: what the hold-down and the new-device bound
// decided goes on after a restart, by the daemon's clock rules: a time
// dated by a clock NTP had not set, or read by one, starts again at the
// restart; one after it (a clock set back) is the restart.
func TestHoldsAcrossARestart(t *testing.T) {
	boot := time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC) // before NTP
	capture := FromProblem(AreaCapture, "socket closed", t0)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"told_failing_found_again", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(capture, t0)
			p2, _ := restarted(t, p, &NewDeviceLimiter{}, t0.Add(time.Minute))
			if p2.Fail(capture, t0.Add(2*time.Minute)) {
				t.Error("told again after the restart")
			}
		}},
		{"failing_at_the_stop_then_gone", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(capture, t0)
			restart := t0.Add(time.Minute)
			p2, _ := restarted(t, p, &NewDeviceLimiter{}, restart)
			if due := p2.Due(restart.Add(ProblemHoldDown - time.Second)); len(due) != 0 {
				t.Errorf("told over within the hold-down: %v", due)
			}
			due := p2.Due(restart.Add(ProblemHoldDown))
			if len(due) != 1 || due[0].Facts["status"] != "resolved" || !due[0].Time.Equal(restart) {
				t.Errorf("after the hold-down %+v, want resolved since the restart", due)
			}
		}},
		{"cleared_hold_down_goes_on", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(capture, t0)
			p.Clear(AreaCapture, t0.Add(time.Minute))
			p2, _ := restarted(t, p, &NewDeviceLimiter{}, t0.Add(5*time.Minute))
			due := p2.Due(t0.Add(time.Minute + ProblemHoldDown))
			if len(due) != 1 || !due[0].Time.Equal(t0.Add(time.Minute)) {
				t.Errorf("%+v, want resolved as of the clear", due)
			}
		}},
		{"resolved_realert_hour_goes_on", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(capture, t0)
			p.Clear(AreaCapture, t0.Add(time.Minute))
			p.Due(t0.Add(time.Minute + ProblemHoldDown)) // told over
			p2, _ := restarted(t, p, &NewDeviceLimiter{}, t0.Add(20*time.Minute))
			if p2.Fail(capture, t0.Add(30*time.Minute)) {
				t.Error("back within the hour after a restart, told at once")
			}
			if due := p2.Due(t0.Add(ProblemRealert)); len(due) != 1 || due[0].Facts["status"] != "failing" {
				t.Errorf("when the hour is up %+v, want the held failing alert", due)
			}
		}},
		{"saved_before_ntp_starts_again", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(capture, boot)
			p.Clear(AreaCapture, boot.Add(time.Minute))
			restart := t0 // NTP set the clock meanwhile
			p2, _ := restarted(t, p, &NewDeviceLimiter{}, restart)
			if due := p2.Due(restart.Add(time.Minute)); len(due) != 0 {
				t.Errorf("a hold-down dated before NTP read as long over: %v", due)
			}
			if due := p2.Due(restart.Add(ProblemHoldDown)); len(due) != 1 {
				t.Errorf("after a hold-down from the restart %v, want resolved", due)
			}
		}},
		{"read_before_ntp_starts_again", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(capture, t0)
			p2, _ := restarted(t, p, &NewDeviceLimiter{}, boot) // rebooted, clock not set yet
			if p2.Fail(capture, boot.Add(time.Minute)) {
				t.Error("told again after a reboot before NTP")
			}
		}},
		{"clock_set_back", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(capture, t0)
			p.Clear(AreaCapture, t0)
			restart := t0.Add(-24 * time.Hour)
			p2, _ := restarted(t, p, &NewDeviceLimiter{}, restart)
			if due := p2.Due(restart.Add(ProblemHoldDown)); len(due) != 1 {
				t.Errorf("a clock set back a day held the problem %v, want it over after the hold-down", due)
			}
		}},
		{"new_devices_hour_goes_on", func(t *testing.T) {
			var l NewDeviceLimiter
			for range NewDeviceAlertsPerHour + 3 {
				l.Admit(t0)
			}
			_, l2 := restarted(t, NewProblemDamper(), &l, t0.Add(10*time.Minute))
			if l2.Admit(t0.Add(11 * time.Minute)) {
				t.Error("a restart told new devices one by one past the hour's bound")
			}
			a, ok := l2.Due(t0.Add(time.Hour))
			if !ok || a.Facts["count"] != "4" {
				t.Errorf("count %v %v, want the 4 held across the restart", a.Facts, ok)
			}
		}},
		{"never_over_problems_not_kept", func(t *testing.T) {
			p := NewProblemDamper()
			p.Fail(FromProblem(AreaStateLost, "damaged", t0), t0)
			if raw, err := SaveHolds(p, &NewDeviceLimiter{}); err != nil || raw != nil {
				t.Errorf("saved %s (%v), want nothing", raw, err)
			}
		}},
		{"bounded", func(t *testing.T) {
			p := NewProblemDamper()
			for i := range 3 * maxSavedAreas {
				p.Fail(FromProblem(fmt.Sprintf("%s%d%s", AreaAnalyzer, i, strings.Repeat(`"<`, maxField)), "", t0), t0.Add(time.Duration(i)*time.Second))
			}
			raw, err := SaveHolds(p, &NewDeviceLimiter{})
			if err != nil {
				t.Fatal(err)
			}
			var h holds
			if err := json.Unmarshal(raw, &h); err != nil || len(h.Problems) != maxSavedAreas {
				t.Errorf("%d areas saved (%v), want %d", len(h.Problems), err, maxSavedAreas)
			}
			if len(raw) > store.MaxAlertHolds {
				t.Errorf("%d bytes, over the store's bound", len(raw))
			}
		}},
		{"unreadable_changes_nothing", func(t *testing.T) {
			p, l := NewProblemDamper(), &NewDeviceLimiter{}
			if err := RestoreHolds(json.RawMessage(`{"problems":"x"}`), p, l, t0); err == nil {
				t.Error("no error")
			}
			if len(p.areas) != 0 || !l.start.IsZero() {
				t.Error("an unreadable memory restored something")
			}
		}},
	} {
		t.Run(tc.name, tc.run)
	}
}

// TestHoldsFollowClockStep: a step of the wall clock while the daemon
// runs (NTP setting a clock that booted a month off) moves the times the
// hold-down and the new-device bound keep, so that what a restart reads
// back lasts its own length from when it began.
func TestHoldsFollowClockStep(t *testing.T) {
	const step = 30 * 24 * time.Hour
	boot := t0.Add(-step) // a clock that reads as set, a month behind
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, p *ProblemDamper, l *NewDeviceLimiter)
	}{
		{"problem_over_within_its_hold_down", func(t *testing.T, p *ProblemDamper, l *NewDeviceLimiter) {
			p.Fail(FromProblem(AreaCapture, "socket closed", boot), boot)
			p.Clear(AreaCapture, boot.Add(time.Minute))
			p.ClockStepped(step)
			p2, _ := restarted(t, p, l, t0.Add(2*time.Minute))
			if due := p2.Due(t0.Add(ProblemHoldDown)); len(due) != 0 {
				t.Errorf("told over %d times within its hold-down", len(due))
			}
			if due := p2.Due(t0.Add(time.Minute + ProblemHoldDown)); len(due) != 1 {
				t.Errorf("told over %d times once the hold-down was up, want once", len(due))
			}
		}},
		{"new_devices_hour", func(t *testing.T, p *ProblemDamper, l *NewDeviceLimiter) {
			for range NewDeviceAlertsPerHour {
				l.Admit(boot)
			}
			l.ClockStepped(step)
			_, l2 := restarted(t, p, l, t0.Add(10*time.Minute))
			if l2.Admit(t0.Add(20 * time.Minute)) {
				t.Error("a device past the hour's bound told on its own after the restart")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, NewProblemDamper(), &NewDeviceLimiter{})
		})
	}
}
