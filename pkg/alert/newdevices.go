package alert

import (
	"fmt"
	"strconv"
	"time"

	"github.com/iotgw/iotgw/internal/wallclock"
	"github.com/iotgw/iotgw/pkg/event"
)

// Bound of new-device alerts. A device that keeps changing its MAC
// address (a phone's privacy setting gone wild, a broken client, someone
// probing the network) is a new device every time: alerted one by one, it
// kept a channel at its rate limit, a digest every few seconds day and
// night, and pushed the owner's other alerts out of a full queue.
const (
	// NewDeviceAlertsPerHour new devices an hour are told one by one: a
	// few guests' phones, a new set of smart bulbs. Past it, the rest of
	// the hour is told as one count, and so is every following hour with
	// a new device; an hour without one ends it.
	NewDeviceAlertsPerHour = 10
	// newDeviceWindow is the hour NewDeviceAlertsPerHour counts in, and
	// how often a count is sent at most.
	newDeviceWindow = time.Hour
)

// NewDeviceLimiter bounds new-device alerts to NewDeviceAlertsPerHour an
// hour, then one count an hour (FromNewDevices) for as long as new
// devices keep coming. Not safe for concurrent use.
type NewDeviceLimiter struct {
	start time.Time // of the current hour; zero: none runs
	told  int       // devices told one by one in it
	held  int       // devices past the bound in it, for its count
	// pending are the held devices of hours that ended, since
	// pendingSince: the count Due returns next.
	pending      int
	pendingSince time.Time
}

// Admit reports whether a device new at now is alerted on its own; if
// not, it is in the count Due returns when its hour is up.
func (l *NewDeviceLimiter) Admit(now time.Time) bool {
	l.roll(now)
	if l.start.IsZero() {
		l.start, l.told = now, 0
	}
	if l.told < NewDeviceAlertsPerHour {
		l.told++
		return true
	}
	l.held++
	return false
}

// Due returns the count of the devices held back in hours that ended by
// now, if there were any.
func (l *NewDeviceLimiter) Due(now time.Time) (Alert, bool) {
	l.roll(now)
	if l.pending == 0 {
		return Alert{}, false
	}
	a := FromNewDevices(l.pending, l.pendingSince, now)
	l.pending, l.pendingSince = 0, time.Time{}
	return a, true
}

// roll ends the current hour once it is up: its held devices go to the
// next count, and the next hour goes on counting only (the flood is
// likely to go on); an hour that held none ends the bound. A clock set
// back ends the hour too: no hour lasts longer than its length.
func (l *NewDeviceLimiter) roll(now time.Time) {
	if l.start.IsZero() || (now.Sub(l.start) < newDeviceWindow && !now.Before(l.start)) {
		return
	}
	if l.held == 0 {
		l.start = time.Time{}
		return
	}
	if l.pending == 0 {
		l.pendingSince = l.start
	}
	l.pending += l.held
	l.start, l.told, l.held = now, NewDeviceAlertsPerHour, 0
}

// ClockStepped moves l's hour by a step of the wall clock, as
// ProblemDamper.ClockStepped.
func (l *NewDeviceLimiter) ClockStepped(step time.Duration) {
	l.start, l.pendingSince = wallclock.Moved(l.start, step), wallclock.Moved(l.pendingSince, step)
}

// FromNewDevices builds the alert that n more devices joined the LAN
// since since than were told one by one.
func FromNewDevices(n int, since, at time.Time) Alert {
	a := Alert{Kind: KindNewDevice, Severity: event.SeverityLow, Time: at,
		Title: fmt.Sprintf("%d more new devices on the network", n),
		Body: fmt.Sprintf("%d more devices joined the home network in the last hour. iotgw tells of %d new devices an hour one by one, "+
			"and of more as one count an hour for as long as they keep coming: guests' phones, or a device that keeps changing "+
			"its hardware address (MAC). Open the page to see them.", n, NewDeviceAlertsPerHour),
		Facts: map[string]string{"count": strconv.Itoa(n), "since": since.UTC().Format(time.RFC3339)}}
	finish(&a)
	return a
}
