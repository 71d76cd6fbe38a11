package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/event"
)

type idleRunner struct{}

func (idleRunner) Audit(context.Context, audit.Target) (audit.Report, []*event.Event, error) {
	return audit.Report{}, nil, nil
}

type discardSink struct{}

func (discardSink) Emit(*event.Event) {}

// When a device's audit ended is saved with it and given back to the
// scheduler after a restart: a device is neither audited again before
// its interval (or while a lockout hold lasts) nor left unaudited for
// ever because the scheduler forgot it.
func TestAuditTimeSurvivesRestart(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		name  string
		ended time.Time
	}{
		{"audited_an_hour_ago", now.Add(-time.Hour)},
		{"held_after_a_lockout_sign", now.Add(audit.LockoutHold)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, dir := newFake(t), t.TempDir()
			first, err := audit.NewScheduler(idleRunner{}, discardSink{}, audit.SchedulerOptions{NewDevices: true})
			if err != nil {
				t.Fatal(err)
			}
			h := start(t, enforcingConfig(), fake, dir, func(d *Deps) { d.Audits = first })
			h.settle()
			first.Seed(plug, tt.ended) // as the end of an audit records it
			h.d.SaveAuditTime(plug)
			if got := savedAudit(h, t); !got.Equal(tt.ended) {
				t.Errorf("saved audit time %v, want %v", got, tt.ended)
			}
			h.stop()

			sched, err := audit.NewScheduler(idleRunner{}, discardSink{}, audit.SchedulerOptions{NewDevices: true})
			if err != nil {
				t.Fatal(err)
			}
			h = launch(t, enforcingConfig(), fake, dir, false, func(d *Deps) { d.Audits = sched })
			defer h.stop()
			var got time.Time
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if at, ok := sched.LastAudit(plug); ok {
					got = at
					break
				}
			}
			if !got.Equal(tt.ended) {
				t.Fatalf("after a restart the scheduler has %v for the plug, want %v", got, tt.ended)
			}
			if sched.Consider(audit.Target{MAC: plug}) {
				t.Error("after a restart the plug is queued again before its interval")
			}
			if err := sched.Request(audit.Target{MAC: plug}); tt.ended.After(now) && err == nil {
				t.Error("after a restart the owner's request passes a lockout hold")
			}
			// The daemon forgets its view of the device (the inventory
			// evicted it) and writes the record again: the time stays.
			h.d.mu.Lock()
			delete(h.d.meta, plug)
			h.d.mu.Unlock()
			h.d.persistDevices(time.Now())
			if got := savedAudit(h, t); !got.Equal(tt.ended) {
				t.Errorf("after a restart and a routine write the saved audit time is %v, want %v", got, tt.ended)
			}
		})
	}
}

func savedAudit(h *harness, t *testing.T) time.Time {
	t.Helper()
	for _, rec := range h.store.Snapshot().Devices {
		if rec.MAC == plug {
			return rec.LastAudit
		}
	}
	t.Fatal("the plug has no saved record")
	return time.Time{}
}

// TestAuditTimeFollowsClockStep: NTP steps the router's clock after a
// device's audit. The audit's time, in the scheduler and as saved, moves
// with the step: a restart after a step forward does not audit the
// device again early, nor one after a step back late.
func TestAuditTimeFollowsClockStep(t *testing.T) {
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		boot time.Time // the clock at start; NTP sets it right after the audit
	}{
		{"forward_a_year", right.AddDate(-1, 0, 0)},
		{"back_a_day", right.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk, fake, withClock := clockedFake(t, tc.boot)
			sched, err := audit.NewScheduler(idleRunner{}, discardSink{}, audit.SchedulerOptions{Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			h := start(t, enforcingConfig(), fake, t.TempDir(), withClock, func(d *Deps) { d.Audits = sched })
			defer h.stop()
			h.settle()
			go sched.Run(t.Context())
			if err := sched.Request(audit.Target{MAC: plug}); err != nil {
				t.Fatal(err)
			}
			var audited time.Time
			for deadline := time.Now().Add(10 * time.Second); audited.IsZero() && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				audited, _ = sched.LastAudit(plug)
			}
			if audited.IsZero() {
				t.Fatal("the plug's audit did not end")
			}
			step := right.Sub(clk.Now())
			clk.Set(right) // NTP
			h.d.tick(clk.Now())
			want := audited.Add(step)
			if got, _ := sched.LastAudit(plug); !got.Equal(want) {
				t.Errorf("the scheduler has the plug audited at %s after the step, want %s", got, want)
			}
			h.d.SaveAuditTime(plug)
			if got := savedAudit(h, t); !got.Equal(want) {
				t.Errorf("saved audit time %s, want %s", got, want)
			}
		})
	}
}
