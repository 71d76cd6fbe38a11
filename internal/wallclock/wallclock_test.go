package wallclock

import (
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    time.Time
		want bool
	}{
		{"unix_epoch", time.Unix(0, 0), false},
		{"zero", time.Time{}, false},
		{"just_before_floor", Floor().Add(-time.Second), false},
		{"floor", Floor(), true},
		{"now", time.Now(), true},
	} {
		if got := Set(tc.t); got != tc.want {
			t.Errorf("%s: Set(%s) = %v, want %v", tc.name, tc.t, got, tc.want)
		}
	}
}

// TestMoved: a time moved by a step keeps its distance on the stepped
// clock, compares by its wall reading alone, and zero stays zero.
func TestMoved(t *testing.T) {
	now := time.Now() // with a monotonic reading
	for _, tc := range []struct {
		name string
		t    time.Time
		step time.Duration
		want time.Time
	}{
		{"forward", Floor(), time.Hour, Floor().Add(time.Hour)},
		{"back", Floor(), -24 * time.Hour, Floor().Add(-24 * time.Hour)},
		{"zero_stays_zero", time.Time{}, time.Hour, time.Time{}},
		{"monotonic_reading_dropped", now, time.Minute, now.Round(0).Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Moved(tc.t, tc.step)
			if got != tc.want { // ==: the monotonic reading counts too
				t.Errorf("Moved(%v, %v) = %v, want %v", tc.t, tc.step, got, tc.want)
			}
		})
	}
}
