// Package testclock is a clock that tests set and move by hand, for code
// that takes its time from a func() time.Time, with a monotonic reading
// (Elapsed, Reading) for code that tells the passing of time from a step of the
// wall clock.
package testclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use: the code under test reads it from its
// own goroutines while the test moves it.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	elapsed time.Duration
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Elapsed is the monotonic time since New: Advance moves it, Set does not.
func (c *Clock) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.elapsed
}

// Reading is Now and Elapsed read at one instant: read one after the
// other, a Set or Advance in between would pair a wall time with a
// monotonic time it never had.
func (c *Clock) Reading() (time.Time, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t, c.elapsed
}

// Set puts the clock at t: a step of the wall clock, as NTP or the owner
// makes, which Elapsed does not see.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.elapsed += d
}
