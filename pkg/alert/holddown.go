package alert

import (
	"cmp"
	"slices"
	"time"

	"github.com/iotgw/iotgw/internal/wallclock"
)

// Hold-down of daemon problems. A problem found by a one-minute check
// (lost packets, uninspected connections) or by a kernel change
// (nftables, conntrack) can come and go every minute; told each time, it
// cost the owner an urgent push and a "resolved" one per cycle, up to
// 720 a day, through quiet hours (Pushover's priority 1 passes the
// phone's own).
const (
	// ProblemHoldDown is how long a problem must stay clear before the
	// owner hears it is over: it outlasts the one-minute checks and a
	// firewall or a link that bounces a few times, and the owner still
	// hears within the quarter-hour.
	ProblemHoldDown = 15 * time.Minute
	// ProblemRealert is how long after an area's alert a new one of the
	// same area waits unless it is worse (a higher severity, or urgent
	// where the last was not): a problem that keeps coming back costs
	// at most one urgent push an hour. One still there when the hour is
	// up is told then; one gone again by then only shows on the page.
	ProblemRealert = time.Hour
)

// ProblemDamper decides, area by area, which daemon-problem alerts reach
// the owner: Fail and Clear follow the live state as it changes, and Due
// hands back the alerts whose time came since. The page shows the live
// state; only the phone is damped. Memory: an entry per area failing, or
// alerted within ProblemRealert. Not safe for concurrent use.
type ProblemDamper struct {
	areas map[string]*dampedArea
}

// dampedArea is what the owner was told of one problem area.
type dampedArea struct {
	failing bool
	// told: the owner's last word on the area is that it fails (a
	// failing alert sent, its resolved not yet).
	told bool
	// last is the last failing alert sent, at lastAt.
	last   Alert
	lastAt time.Time
	// clearSince is when the area last became clear; zero while failing.
	clearSince time.Time
	// held is a failing alert ProblemRealert holds back, sent when it is
	// up if the area still fails; nil when none.
	held *Alert
}

// NewProblemDamper returns a damper that has told the owner nothing.
func NewProblemDamper() *ProblemDamper {
	return &ProblemDamper{areas: map[string]*dampedArea{}}
}

// Fail records that the area of a, a FromProblem alert, began to fail at
// now, and reports whether to send a now.
func (p *ProblemDamper) Fail(a Alert, now time.Time) bool {
	area := a.Facts["area"]
	st := p.areas[area]
	if st == nil {
		st = &dampedArea{}
		p.areas[area] = st
	}
	st.settle(now)
	st.failing, st.clearSince = true, time.Time{}
	// Never told counts as worse than nothing.
	worse := st.lastAt.IsZero() || a.Severity > st.last.Severity || a.Urgent && !st.last.Urgent
	switch {
	case worse:
	case st.told:
		return false // the owner believes it fails still
	case now.Sub(st.lastAt) < ProblemRealert:
		st.held = &a
		return false
	}
	st.sent(a, now)
	return true
}

// Clear records that area is clear from now on.
func (p *ProblemDamper) Clear(area string, now time.Time) {
	st := p.areas[area]
	if st == nil || !st.failing {
		return
	}
	st.settle(now)
	st.failing, st.clearSince, st.held = false, now, nil
}

// Due returns, oldest first, the alerts to send at now: that a problem
// is over, once it stayed clear for ProblemHoldDown; a failing alert
// held back, once ProblemRealert is up and the area still fails.
func (p *ProblemDamper) Due(now time.Time) []Alert {
	var out []Alert
	for area, st := range p.areas {
		st.settle(now)
		switch {
		case st.failing && st.held != nil && now.Sub(st.lastAt) >= ProblemRealert:
			a := *st.held
			st.sent(a, now)
			out = append(out, a)
		case !st.failing && st.told && now.Sub(st.clearSince) >= ProblemHoldDown:
			st.told = false
			out = append(out, FromProblemResolved(area, st.clearSince))
		case !st.failing && !st.told && now.Sub(st.lastAt) >= ProblemRealert:
			delete(p.areas, area) // nothing left to hold
		}
	}
	sortProblemAlerts(out)
	return out
}

// ClockStepped moves the times p keeps by a step of the wall clock (NTP
// setting a router's clock, the owner changing it), as the daemon moves
// a quarantine's: a wait lasts its own length across the step, and
// SaveHolds writes them as the set clock reads them, for the next run.
// They lose their monotonic reading: compared with the stepped clock,
// the wall time counts from now on.
func (p *ProblemDamper) ClockStepped(step time.Duration) {
	for _, st := range p.areas {
		st.lastAt, st.clearSince = wallclock.Moved(st.lastAt, step), wallclock.Moved(st.clearSince, step)
	}
}

func sortProblemAlerts(out []Alert) {
	slices.SortFunc(out, func(a, b Alert) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Facts["area"], b.Facts["area"]))
	})
}

func (st *dampedArea) sent(a Alert, now time.Time) {
	st.told, st.last, st.lastAt, st.held = true, a, now, nil
}

// settle takes a clock set back behind the area's times (NTP at boot, by
// hand) as if they were now: a wait is never longer than its own length.
func (st *dampedArea) settle(now time.Time) {
	if now.Before(st.lastAt) {
		st.lastAt = now
	}
	if now.Before(st.clearSince) {
		st.clearSince = now
	}
}
