package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/iotgw/iotgw/internal/wallclock"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Sink receives the events of audits, from the Scheduler's goroutine.
type Sink interface {
	Emit(ev *event.Event)
}

// Runner audits one device; *Auditor is one.
type Runner interface {
	Audit(ctx context.Context, t Target) (Report, []*event.Event, error)
}

// SchedulerOptions configure a Scheduler. Zero values take the defaults.
type SchedulerOptions struct {
	// NewDevices makes Consider queue devices not audited within
	// Interval; without it only Request queues.
	NewDevices bool
	// Interval is how long an audit stays fresh (default 7 days).
	Interval time.Duration
	// QueueSize bounds the waiting devices (default 64).
	QueueSize int
	// Remember bounds the devices whose last audit time is kept (default
	// 4096); the oldest is forgotten first.
	Remember int
	// Current, if set, gives a queued device's target again when its
	// audit starts, which may be an hour after it was queued: its
	// addresses now, and false when it is gone or protected since, or
	// trusted since and not requested by the owner (the audit is then
	// skipped). It is asked again before each login attempt (Target.Keep):
	// false then ends the audit with ErrWithdrawn.
	Current func(mac hwaddr.MAC, requested bool) (Target, bool)
	// Started, if set, is called when an audit is about to try its first
	// login; LastAudit is its start then, until it ends.
	Started func(t Target)
	// Done, if set, is called after each audit with its report.
	Done   func(t Target, r Report, err error)
	Logger *slog.Logger
	Now    func() time.Time
	// Reading reads the wall clock and a monotonic one at one instant:
	// Step tells by it an audit time read off the clock after a step
	// (NTP's, noticed by the caller seconds later), which it leaves, from
	// one read before. Nil: time.Now's when Now is nil too; otherwise
	// none, and Step moves every time this scheduler dated.
	Reading func() (time.Time, time.Duration)
}

// Defaults of a Scheduler.
const (
	DefaultInterval  = 7 * 24 * time.Hour
	DefaultQueueSize = 64
	DefaultRemember  = 4096
)

// ErrQueueFull is returned by Request when the queue is full.
var ErrQueueFull = errors.New("audit: queue full")

// ErrOff is returned by Request while the audit is switched off
// (Reconfigure with a nil runner).
var ErrOff = errors.New("audit: the active audit is off")

// ErrTooSoon is returned by Request for a device audited less than
// MinRequestGap ago, or held after it showed signs of locking out.
var ErrTooSoon = errors.New("audit: the device was audited too recently")

// Limits on the owner's requests, which otherwise bypass Interval: each
// audit spends up to MaxAttempts logins, and repeated ones lock accounts
// and trip a device's alarms.
const (
	// MinRequestGap separates two audits of one device on request.
	MinRequestGap = 10 * time.Minute
	// LockoutHold keeps a device that showed signs of locking out from
	// any audit, requested or automatic, for this long.
	LockoutHold = 24 * time.Hour
)

// Scheduler runs audits one at a time from a bounded queue: devices the
// daemon considers (new ones, and known ones again after Interval) when
// NewDevices is on, and devices asked for on demand, which go first.
type Scheduler struct {
	sink Sink
	opts SchedulerOptions
	log  *slog.Logger
	wake chan struct{}

	mu    sync.Mutex
	queue []Target
	// requested counts the owner's requests, which are the queue's first
	// entries; the rest came from Consider.
	requested int
	last      map[hwaddr.MAC]auditTime
	running   hwaddr.MAC // the device being audited; zero between audits
	// runner audits; nil while the audit is off.
	runner Runner
	// cut cancels the running audit's context (nil between audits).
	cut context.CancelFunc
}

// NewScheduler returns a scheduler feeding sink; Run starts it. A nil
// runner starts it switched off (see Reconfigure).
func NewScheduler(runner Runner, sink Sink, opts SchedulerOptions) (*Scheduler, error) {
	if sink == nil {
		return nil, errors.New("audit: scheduler needs a sink")
	}
	if opts.Interval < 0 || opts.QueueSize < 0 || opts.Remember < 0 {
		return nil, errors.New("audit: negative scheduler limit")
	}
	setDefault(&opts.Interval, DefaultInterval)
	setDefault(&opts.QueueSize, DefaultQueueSize)
	setDefault(&opts.Remember, DefaultRemember)
	if opts.Now == nil && opts.Reading == nil {
		start := time.Now()
		opts.Reading = func() (time.Time, time.Duration) {
			now := time.Now()
			return now, now.Sub(start)
		}
	}
	if opts.Now == nil {
		reading := opts.Reading
		opts.Now = func() time.Time { now, _ := reading(); return now }
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{
		runner: runner, sink: sink, opts: opts,
		log:  log.With("component", "audit"),
		wake: make(chan struct{}, 1),
		last: make(map[hwaddr.MAC]auditTime),
	}, nil
}

// Consider queues t when automatic audits are on and t was not audited
// within Interval (nor is held after a lockout sign): as the scheduler
// knows from the audits it ran and those Seed gave it. It reports
// whether t is queued. A full queue drops t: the next Consider brings it
// back.
func (s *Scheduler) Consider(t Target) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opts.NewDevices || s.runner == nil || t.MAC == s.running {
		return false
	}
	if last, ok := s.last[t.MAC]; ok && s.opts.Now().Sub(last.at) < s.opts.Interval {
		return false
	}
	if i := s.indexLocked(t.MAC); i >= 0 {
		s.queue[i] = t // newer addresses
		return true
	}
	if len(s.queue) >= s.opts.QueueSize {
		return false
	}
	s.queue = append(s.queue, t)
	s.signal()
	return true
}

// Request queues t ahead of automatic audits, whatever Interval and
// NewDevices say: the owner asked for it. Not within MinRequestGap of
// the device's last audit, nor while it is held after a lockout. A queue
// full of automatic audits makes room; one full of requests refuses with
// ErrQueueFull.
func (s *Scheduler) Request(t Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runner == nil {
		return ErrOff
	}
	if t.MAC == s.running {
		// Its time is recorded only when it ends: without this, a second
		// request would pass the gap and the lockout hold.
		return fmt.Errorf("%w: its audit is running", ErrTooSoon)
	}
	if last, ok := s.last[t.MAC]; ok {
		if wait := last.at.Add(MinRequestGap).Sub(s.opts.Now()); wait > 0 {
			return fmt.Errorf("%w: again in %s", ErrTooSoon, wait.Round(time.Minute))
		}
	}
	switch i := s.indexLocked(t.MAC); {
	case i >= 0:
		s.queue = slices.Delete(s.queue, i, i+1)
		if i < s.requested {
			s.requested--
		}
	case len(s.queue) < s.opts.QueueSize:
	case len(s.queue) > s.requested:
		// Full of automatic audits: the last gives way, and Consider
		// offers it again within the hour.
		s.queue = s.queue[:len(s.queue)-1]
	default:
		return ErrQueueFull
	}
	s.queue = slices.Insert(s.queue, 0, t)
	s.requested++
	s.signal()
	return nil
}

// Reconfigure replaces the runner and the automatic-audit settings, as a
// configuration reload does; a nil runner switches the audit off and
// empties the queue. The running audit is cancelled either way: the
// owner who turns the audit off or down does so because it locks
// accounts or trips alarms, and the old runner's options are what did
// it. A cancelled audit that tried a login counts as done, as at
// shutdown; one that tried none runs again first, with the new runner,
// unless it was automatic and automatic audits are off now: newDevices
// false drops the devices Consider queued too. The memory of past audits
// (Seed, LastAudit) stays.
func (s *Scheduler) Reconfigure(runner Runner, newDevices bool, interval time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runner = runner
	s.opts.NewDevices = newDevices
	setDefault(&interval, DefaultInterval)
	s.opts.Interval = interval
	switch {
	case runner == nil:
		s.queue, s.requested = nil, 0
	case !newDevices:
		// Automatic audits off: only the owner's requests, the queue's
		// first entries, stay.
		clear(s.queue[s.requested:])
		s.queue = s.queue[:s.requested]
	}
	if s.cut != nil {
		s.cut()
	}
	s.signal()
}

// Seed records an audit of mac that ended at when before this scheduler
// ran (kept across a restart): when is in the future while a lockout hold
// lasts. A later time already known wins.
func (s *Scheduler) Seed(mac hwaddr.MAC, when time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.last[mac]; ok && !last.at.Before(when) {
		return
	}
	s.rememberLocked(mac, auditTime{at: when, seeded: true})
}

// Step moves the audit times this scheduler dated by a step of the wall
// clock (NTP setting a router's clock, the owner), so that a device is
// audited again after Interval, and a lockout hold lasts LockoutHold,
// whichever way the clock moved. A time Seed gave keeps its date: it
// was read off the clock of the run that saved it, which the step did
// not move (a router that boots at its firmware's date is set right by
// it). So does one read off the clock after the step, which the caller
// notices only at its next reading (see SchedulerOptions.Reading).
func (s *Scheduler) Step(step time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.read()
	for mac, last := range s.last {
		if last.seeded || last.sameClock(now) {
			continue
		}
		last.at, last.origin = wallclock.Moved(last.at, step), wallclock.Moved(last.origin, step)
		s.last[mac] = last
	}
}

// LastAudit is when mac's last audit ended (in the future while a lockout
// hold lasts); false if the scheduler knows of none.
func (s *Scheduler) LastAudit(mac hwaddr.MAC) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.last[mac]
	return last.at, ok
}

// Queued is the number of devices waiting.
func (s *Scheduler) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Run audits queued devices, one at a time, until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		t, requested, runner, actx, ok := s.pop(ctx)
		if !ok {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.wake:
				continue
			}
		}
		if s.opts.Current != nil {
			cur, ok := s.opts.Current(t.MAC, requested)
			if !ok {
				s.finish(t.MAC, auditTime{})
				s.log.Info("audit skipped: the device is gone, protected or trusted", "device", t.MAC.String())
				continue
			}
			t.Addrs, t.Vendor = cur.Addrs, cur.Vendor
			// Asked again before each login: the owner may trust the
			// device, or use it, while its audit runs.
			mac := t.MAC
			t.Keep = func() bool { _, ok := s.opts.Current(mac, requested); return ok }
		}
		t.Begin = func() {
			s.mu.Lock()
			s.rememberLocked(t.MAC, s.read())
			s.mu.Unlock()
			if s.opts.Started != nil {
				s.opts.Started(t)
			}
		}
		report, events, err := runner.Audit(actx, t)
		if actx.Err() != nil {
			// Cut short by shutdown or Reconfigure: the logins it tried
			// count, or restarts could add up to more tries than one
			// audit makes and lock the device's account. One that tried
			// none runs again: after the restart, or now with the new
			// runner.
			if report.Attempts > 0 {
				s.finish(t.MAC, s.read())
				// What it learnt is filed: a default login accepted
				// just before the cut would otherwise wait a whole
				// Interval to be found again.
				for _, ev := range events {
					s.sink.Emit(ev)
				}
				if s.opts.Done != nil {
					s.opts.Done(t, report, actx.Err())
				}
			} else {
				s.requeue(t, requested)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Info("audit stopped: its settings changed", "device", t.MAC.String(), "logins_tried", report.Attempts)
			continue
		}
		s.endRun()
		if errors.Is(err, ErrNotPresent) {
			// Nothing reached the device: it is audited when it is back.
			s.finish(t.MAC, auditTime{})
			s.log.Info("audit skipped: the device is not at its addresses now", "device", t.MAC.String(), "err", err)
			if s.opts.Done != nil {
				s.opts.Done(t, report, err)
			}
			continue
		}
		when := s.read()
		if report.Stop == StopLockout || report.LockoutSign {
			// Remembered as audited in the future: no audit, automatic or
			// requested, until LockoutHold has passed.
			when.at = when.at.Add(LockoutHold)
		}
		s.finish(t.MAC, when)
		for _, ev := range events {
			s.sink.Emit(ev)
		}
		switch {
		case errors.Is(err, ErrWithdrawn):
			s.log.Info("audit stopped: the device is gone, protected or trusted now", "device", t.MAC.String(), "logins_tried", report.Attempts)
		case err != nil:
			s.log.Warn("audit failed", "device", t.MAC.String(), "err", err)
		}
		if s.opts.Done != nil {
			s.opts.Done(t, report, err)
		}
	}
}

// requeue puts back, first, an audit cut short before any login while
// the audit is still on, and an automatic one only while automatic
// audits are; it is done with otherwise.
func (s *Scheduler) requeue(t Target, requested bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = hwaddr.MAC{}
	s.endRunLocked()
	if s.runner == nil || s.indexLocked(t.MAC) >= 0 || !requested && !s.opts.NewDevices {
		return
	}
	t.Begin = nil
	if requested {
		s.queue = slices.Insert(s.queue, 0, t)
		s.requested++
	} else {
		s.queue = slices.Insert(s.queue, s.requested, t)
	}
	s.signal()
}

// endRun releases the running audit's context.
func (s *Scheduler) endRun() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endRunLocked()
}

func (s *Scheduler) endRunLocked() {
	if s.cut != nil {
		s.cut()
		s.cut = nil
	}
}

// pop takes the next target off the queue, with the runner to audit it
// and its context, which Reconfigure cancels; requested: the owner asked
// for it.
func (s *Scheduler) pop(ctx context.Context) (t Target, requested bool, runner Runner, actx context.Context, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 || s.runner == nil {
		return Target{}, false, nil, nil, false
	}
	t = s.queue[0]
	s.queue = slices.Delete(s.queue, 0, 1)
	if s.requested > 0 {
		s.requested--
		requested = true
	}
	s.running = t.MAC
	actx, s.cut = context.WithCancel(ctx)
	return t, requested, s.runner, actx, true
}

// finish ends the running audit of mac, remembered as done at when
// unless when is zero (skipped).
func (s *Scheduler) finish(mac hwaddr.MAC, when auditTime) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = hwaddr.MAC{}
	s.endRunLocked()
	if !when.at.IsZero() {
		s.rememberLocked(mac, when)
	}
}

func (s *Scheduler) indexLocked(mac hwaddr.MAC) int {
	return slices.IndexFunc(s.queue, func(t Target) bool { return t.MAC == mac })
}

func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// auditTime is when a device's last audit ended (its start while it
// runs, in the future while a lockout hold lasts).
type auditTime struct {
	at time.Time
	// origin is the wall clock's time at the monotonic clock's zero by
	// the reading that dated at, which a step of the wall clock moves;
	// zero without SchedulerOptions.Reading.
	origin time.Time
	// seeded: Seed gave it, from a run before, dated by that run's clock.
	seeded bool
}

// sameClockJitter is how far two readings' origins may differ without a
// step of the wall clock between them; a step is larger (the daemon
// takes one of two seconds or more for one).
const sameClockJitter = time.Second

// sameClock: a and now were read off the wall clock without a step
// between them.
func (a auditTime) sameClock(now auditTime) bool {
	if a.origin.IsZero() || now.origin.IsZero() {
		return false
	}
	d := a.origin.Sub(now.origin)
	return d > -sameClockJitter && d < sameClockJitter
}

// read dates an audit time by the clock now.
func (s *Scheduler) read() auditTime {
	if s.opts.Reading == nil {
		return auditTime{at: s.opts.Now()}
	}
	wall, elapsed := s.opts.Reading()
	return auditTime{at: wall, origin: wall.Round(0).Add(-elapsed)}
}

// rememberLocked records mac's audit time, forgetting the oldest entry
// when full (O(Remember), once per new device).
func (s *Scheduler) rememberLocked(mac hwaddr.MAC, when auditTime) {
	if _, ok := s.last[mac]; !ok && len(s.last) >= s.opts.Remember {
		var oldest hwaddr.MAC
		var t time.Time
		first := true
		for k, v := range s.last {
			if first || v.at.Before(t) {
				oldest, t, first = k, v.at, false
			}
		}
		delete(s.last, oldest)
	}
	s.last[mac] = when
}
