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
