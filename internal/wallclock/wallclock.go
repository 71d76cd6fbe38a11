// Package wallclock judges whether the router's wall clock has been set,
// and moves the times dated before a step of it.
// A home router without a battery-backed clock boots at 1970 or at a
// date near its firmware's build, and NTP steps the clock minutes later;
// what the daemon dates before that step, or reads back by a clock not
// yet set, needs care.
package wallclock

import "time"

// Floor is the earliest time a set clock shows: a time before this code
// was written.
func Floor() time.Time { return time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC) }

// Set reports whether t can be the time of a set clock: not before Floor.
func Set(t time.Time) bool { return !t.Before(Floor()) }

// Moved is t moved by a step of the wall clock (NTP setting it, the
// owner changing it), for a time dated before the step that is to keep
// its distance from now. It loses its monotonic reading: compared with
// the stepped clock, the wall time counts from then on. Zero stays zero.
func Moved(t time.Time, step time.Duration) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Round(0).Add(step)
}
