package alert

import (
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// TestProblemDamper: what reaches the owner of a problem area that fails
// and clears, step by step. Each step is at t0 plus its offset; want
// lists the statuses of the alerts it sends ("failing", "resolved").
func TestProblemDamper(t *testing.T) {
	type step struct {
		at   time.Duration
		op   string // fail, worse (fail urgent and high), clear, due
		want []string
	}
	const failing, resolved = "failing", "resolved"
	tests := []struct {
		name  string
		steps []step
	}{
		{"resolved_after_the_hold_down", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{time.Minute + ProblemHoldDown - time.Second, "due", nil},
			{time.Minute + ProblemHoldDown, "due", []string{resolved}},
			{3 * time.Hour, "due", nil},
		}},
		{"back_within_the_hold_down_is_one_problem", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{10 * time.Minute, "fail", nil},
			{11 * time.Minute, "clear", nil},
			{25 * time.Minute, "due", nil},
			{26 * time.Minute, "due", []string{resolved}},
		}},
		{"back_within_the_hour_and_staying_told_when_it_is_up", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{16 * time.Minute, "due", []string{resolved}},
			{20 * time.Minute, "fail", nil},
			{59 * time.Minute, "due", nil},
			{ProblemRealert, "due", []string{failing}},
			{ProblemRealert + time.Minute, "clear", nil},
			{ProblemRealert + 16*time.Minute, "due", []string{resolved}},
		}},
		{"back_within_the_hour_and_gone_again_not_told", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{16 * time.Minute, "due", []string{resolved}},
			{20 * time.Minute, "fail", nil},
			{25 * time.Minute, "clear", nil},
			{ProblemRealert, "due", nil},
			{2 * ProblemRealert, "due", nil},
		}},
		{"back_after_the_hour_told_at_once", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{16 * time.Minute, "due", []string{resolved}},
			{ProblemRealert + time.Second, "fail", []string{failing}},
		}},
		{"worse_while_failing_told_at_once", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{2 * time.Minute, "worse", []string{failing}},
			{3 * time.Minute, "clear", nil},
			{18 * time.Minute, "due", []string{resolved}},
		}},
		{"worse_within_the_hour_told_at_once", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{16 * time.Minute, "due", []string{resolved}},
			{20 * time.Minute, "worse", []string{failing}},
		}},
		// A clock set back an hour does not hold the resolved alert
		// until it catches up: the hold-down runs from the new time.
		{"clock_set_back", []step{
			{0, "fail", []string{failing}},
			{time.Minute, "clear", nil},
			{-time.Hour, "due", nil},
			{-time.Hour + ProblemHoldDown, "due", []string{resolved}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProblemDamper()
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				var sent []Alert
				switch s.op {
				case "fail", "worse":
					a := FromProblem(AreaInspectionFull, "20 new connections uninspected", now)
					if s.op == "worse" {
						a.Severity, a.Urgent = event.SeverityHigh, true
					}
					if p.Fail(a, now) {
						sent = append(sent, a)
					}
				case "clear":
					p.Clear(AreaInspectionFull, now)
				case "due":
					sent = p.Due(now)
				}
				var got []string
				for _, a := range sent {
					if a.Facts["area"] != AreaInspectionFull {
						t.Errorf("step %d: alert for area %q", i, a.Facts["area"])
					}
					got = append(got, a.Facts["status"])
				}
				if !slices.Equal(got, s.want) {
					t.Fatalf("step %d (%s at %v): sent %v, want %v", i, s.op, s.at, got, s.want)
				}
			}
		})
	}
}

// TestProblemDamperFlapping: a problem that fails for a minute and clears
// for a minute, all day, is one alert, not two pushes a minute; once it
// stays clear, one "resolved"; and the damper forgets the area after.
func TestProblemDamperFlapping(t *testing.T) {
	p := NewProblemDamper()
	var sent []string
	now := t0
	for range 720 {
		a := FromProblem(AreaCaptureLoss, "150 packets lost in the last minute", now)
		if p.Fail(a, now) {
			sent = append(sent, a.Facts["status"])
		}
		now = now.Add(time.Minute)
		p.Clear(AreaCaptureLoss, now)
		now = now.Add(time.Minute)
		for _, a := range p.Due(now) {
			sent = append(sent, a.Facts["status"])
		}
	}
	for end := now.Add(ProblemRealert); !now.After(end); now = now.Add(time.Minute) {
		for _, a := range p.Due(now) {
			sent = append(sent, a.Facts["status"])
			if want := now.Add(-ProblemHoldDown); !a.Time.Equal(want) {
				t.Errorf("resolved alert's time %v, want when the problem ended, %v", a.Time, want)
			}
		}
	}
	if !slices.Equal(sent, []string{"failing", "resolved"}) {
		t.Errorf("a day of flapping sent %d alerts %v, want one failing and one resolved", len(sent), sent)
	}
	if len(p.areas) != 0 {
		t.Errorf("%d areas held after the problem was over for more than %v", len(p.areas), ProblemRealert)
	}
}
