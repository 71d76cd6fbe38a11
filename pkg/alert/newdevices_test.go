package alert

import (
	"strconv"
	"testing"
	"time"
)

// TestNewDeviceLimiter: step by step, which new devices are told one by
// one and which counts are due. A step at t0 plus at either brings n new
// devices (new) and wants told of them told on their own, or asks for
// the count (due) and wants count devices in it (0: none due).
func TestNewDeviceLimiter(t *testing.T) {
	type step struct {
		at    time.Duration
		op    string // new, due
		n     int
		want  int // told, or count
		since time.Duration
	}
	const per = NewDeviceAlertsPerHour
	tests := []struct {
		name  string
		steps []step
	}{
		{"a_few_told_one_by_one", []step{
			{0, "new", 3, 3, 0},
			{30 * time.Minute, "new", per - 3, per - 3, 0},
			{59 * time.Minute, "due", 0, 0, 0},
			{61 * time.Minute, "new", per, per, 0}, // a new hour
			{3 * time.Hour, "due", 0, 0, 0},
		}},
		{"burst_past_the_bound_counted_when_the_hour_is_up", []step{
			{0, "new", per + 5, per, 0},
			{10 * time.Minute, "new", 7, 0, 0},
			{59 * time.Minute, "due", 0, 0, 0},
			{time.Hour, "due", 0, 12, 0},
			{time.Hour + time.Minute, "due", 0, 0, 0},
		}},
		{"flood_goes_on_one_count_an_hour", []step{
			{0, "new", 100, per, 0},
			{time.Hour, "new", 100, 0, 0}, // ends the hour: the next only counts
			{time.Hour, "due", 0, 90, 0},
			{2 * time.Hour, "new", 100, 0, 0},
			{2 * time.Hour, "due", 0, 100, time.Hour},
			{3 * time.Hour, "due", 0, 100, 2 * time.Hour},
			// An hour without a new device: one by one again.
			{4 * time.Hour, "due", 0, 0, 0},
			{4*time.Hour + time.Minute, "new", 1, 1, 0},
		}},
		// A clock set back ends the hour rather than stretching it.
		{"clock_set_back", []step{
			{0, "new", per + 1, per, 0},
			{-2 * time.Hour, "due", 0, 1, 0},
			{-2*time.Hour + time.Minute, "new", 1, 0, 0},
			{-time.Hour, "due", 0, 1, -2 * time.Hour},
			{0, "due", 0, 0, 0},
			{time.Minute, "new", 1, 1, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l NewDeviceLimiter
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "new":
					told := 0
					for range s.n {
						if l.Admit(now) {
							told++
						}
					}
					if told != s.want {
						t.Fatalf("step %d: %d of %d new devices told one by one, want %d", i, told, s.n, s.want)
					}
				case "due":
					a, ok := l.Due(now)
					got := 0
					if ok {
						got, _ = strconv.Atoi(a.Facts["count"])
						if a.Kind != KindNewDevice || a.Device != nil || a.Urgent || !a.Time.Equal(now) ||
							a.Facts["since"] != t0.Add(s.since).UTC().Format(time.RFC3339) {
							t.Errorf("step %d: count alert %+v", i, a)
						}
					}
					if got != s.want {
						t.Fatalf("step %d: count of %d due (%v), want %d", i, got, ok, s.want)
					}
				}
			}
		})
	}
}

func TestFromNewDevices(t *testing.T) {
	a := FromNewDevices(412, t0, t0.Add(time.Hour))
	if a.Title != "412 more new devices on the network" || a.Severity.String() != "low" || a.DedupKey != "" ||
		a.Facts["count"] != "412" || a.Facts["since"] != "2026-03-04T05:06:07Z" {
		t.Errorf("count alert %+v", a)
	}
	if _, err := encodePayload(envelope{V: 1, Channel: "phone", Alert: a}); err != nil {
		t.Error(err)
	}
}
