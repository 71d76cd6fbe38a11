package daemon

import (
	"time"

	"github.com/iotgw/iotgw/internal/wallclock"
	"github.com/iotgw/iotgw/pkg/store"
)

// minWallStep is the smallest difference between how far the wall clock
// and the monotonic clock moved that is taken for a step of the wall
// clock; smaller ones are the jitter of reading the two.
const minWallStep = 2 * time.Second

// wallStep tells steps of the wall clock (NTP setting a router's clock
// minutes after boot, the owner changing it) from the passing of time,
// which the monotonic clock measures.
type wallStep struct {
	wall    time.Time     // the wall clock at the last reading
	elapsed time.Duration // the monotonic clock then
	// steps counts the steps seen: a plan dated before one is stale.
	steps int
	// moved is the sum of the steps seen: a record dated before some of
	// them is moved by what it adds up to since (commit).
	moved time.Duration
}

// step returns how far the wall clock was stepped since the last
// reading: zero at the first, or when it only went on with time. A
// reading older than the last (taken before it, handed in after) says
// nothing new and is ignored: it would read as a step back and forth.
func (w *wallStep) step(now time.Time, elapsed time.Duration) time.Duration {
	now = now.Round(0) // the wall reading alone
	first := w.wall.IsZero()
	if !first && elapsed < w.elapsed {
		return 0
	}
	s := now.Sub(w.wall) - (elapsed - w.elapsed)
	w.wall, w.elapsed = now, elapsed
	if first || s > -minWallStep && s < minWallStep {
		return 0
	}
	w.steps++
	w.moved += s
	return s
}

// reading reads the wall clock and the monotonic clock at one instant:
// Deps.Reading, or Now with its own monotonic reading since the start
// (time.Now has one).
func (d *Daemon) reading() (time.Time, time.Duration) {
	if d.deps.Reading != nil {
		return d.deps.Reading()
	}
	now := d.now()
	return now, now.Sub(d.started)
}

// followClockLocked reads the clock and moves what this run dated by a
// step of it since the last reading; it returns the time read. Whatever
// compares a saved time with now reads now so, under d.mu so that
// readings come in order: the tick that would notice the step comes up
// to five seconds after it, and a quarantine without a monotonic
// reading (restored, or moved before) would read as run out meanwhile.
// d.mu held.
func (d *Daemon) followClockLocked() time.Time {
	now, elapsed := d.reading()
	if step := d.wall.step(now, elapsed); step != 0 {
		d.log.Info("the clock was set: quarantines, grace periods, audit times and alert hold-downs move with it", "step", step)
		d.moveQuarantinesLocked(step)
		d.moveGraceLocked(step, now)
		if audits, ok := d.deps.Audits.(interface{ Step(time.Duration) }); ok {
			audits.Step(step)
		}
		d.damper.ClockStepped(step)
		d.newDevices.ClockStepped(step)
	}
	return now
}

// moveQuarantinesLocked moves the quarantines dated by this run's clock
// by a step of it: their length is what policy or the owner asked for, and
// the kernel, whose timeouts are relative, holds them that long. Their
// saved end follows, or a restart would end them early (a step forward)
// or hold them on (back). A restored quarantine keeps its date, read
// off the clock of the run that made it. d.mu held.
func (d *Daemon) moveQuarantinesLocked(step time.Duration) {
	for mac, m := range d.meta {
		q := m.quarantine
		if q == nil || !m.datedByRun {
			continue
		}
		moved := movedBy(*q, step)
		m.quarantine = &moved
		if err := d.deps.Store.PutQuarantine(moved); err != nil {
			d.log.Warn("quarantine moved with the clock not saved", "mac", mac, "err", err)
		}
	}
}

// moveGraceLocked moves the grace periods found by this run by a step of
// its clock, as quarantines: the findings they run from keep the times
// the clock read, so policy would otherwise end one at once after a step
// forward, or hold it on for the size of a step back. The saved start
// follows, for a restart, and policy judges the device again, so that its
// verdict's note names the moved end. d.mu held.
func (d *Daemon) moveGraceLocked(step time.Duration, now time.Time) {
	for mac, m := range d.meta {
		v := &m.verdict
		if !m.strongByRun || v.StrongSince.IsZero() {
			continue
		}
		v.StrongSince, v.PendingUntil = wallclock.Moved(v.StrongSince, step), wallclock.Moved(v.PendingUntil, step)
		d.persistVerdict(mac, *v, now)
		d.scheduleLocked(mac)
	}
}

// movedBy is q with its dates moved by a step of the clock.
func movedBy(q store.Quarantine, step time.Duration) store.Quarantine {
	q.Since, q.Until = wallclock.Moved(q.Since, step), wallclock.Moved(q.Until, step)
	return q
}

// redate starts q, saved by a run whose clock was not set, again at now,
// as long as it was, and saves it so.
func (d *Daemon) redate(q store.Quarantine, now time.Time) (since, until time.Time) {
	since = now
	if !q.Until.IsZero() {
		until = now.Add(q.Until.Sub(q.Since))
	}
	q.Since, q.Until = since, until
	if err := d.deps.Store.PutQuarantine(q); err != nil {
		d.log.Warn("quarantine dated before NTP not saved with its new date", "mac", q.MAC, "err", err)
	}
	return since, until
}
