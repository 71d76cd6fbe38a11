package alert

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/iotgw/iotgw/internal/wallclock"
	"github.com/iotgw/iotgw/pkg/event"
)

// The hold-down's and the new-device bound's memory outlives a restart
// (procd's respawn, an upgrade) in the state file, so that the owner is
// not told again what the last run told: a problem still there, or
// back within its hour, and the devices of an hour already counted.

// maxSavedAreas bounds the problem areas saved: the named areas and an
// analyzer's per protocol are far fewer. With names of maxField bytes
// the memory stays within store.MaxAlertHolds.
const maxSavedAreas = 32

// holds is the saved memory, SaveHolds's JSON.
type holds struct {
	Problems   []savedArea      `json:"problems,omitempty"`
	NewDevices *savedNewDevices `json:"new_devices,omitempty"`
}

// savedArea is what the owner was told of one problem area.
type savedArea struct {
	Area    string `json:"area"`
	Failing bool   `json:"failing,omitempty"`
	Told    bool   `json:"told,omitempty"`
	// The last failing alert sent: its severity and urgency, when.
	Severity   event.Severity `json:"severity"`
	Urgent     bool           `json:"urgent,omitempty"`
	LastAt     time.Time      `json:"last_at,omitzero"`
	ClearSince time.Time      `json:"clear_since,omitzero"`
}

// savedNewDevices is a NewDeviceLimiter's hour.
type savedNewDevices struct {
	Start        time.Time `json:"start,omitzero"`
	Told         int       `json:"told,omitempty"`
	Held         int       `json:"held,omitempty"`
	Pending      int       `json:"pending,omitempty"`
	PendingSince time.Time `json:"pending_since,omitzero"`
}

// SaveHolds is what p and l hold, as the state file keeps it
// (store.SetAlertHolds): the same bytes while nothing changes, so that
// handing it over at every tick costs no write. An area told of a
// problem that is never over (the state lost, a newer version's read) is
// left out: the next run tells such a problem only if it finds it anew.
func SaveHolds(p *ProblemDamper, l *NewDeviceLimiter) (json.RawMessage, error) {
	var h holds
	for area, st := range p.areas {
		if _, _, resolved, ok := problemWords(area); ok && resolved == "" {
			continue
		}
		h.Problems = append(h.Problems, savedArea{Area: area, Failing: st.failing, Told: st.told,
			Severity: st.last.Severity, Urgent: st.last.Urgent, LastAt: st.lastAt, ClearSince: st.clearSince})
	}
	// The most recently alerted first, when the bound cuts.
	slices.SortFunc(h.Problems, func(a, b savedArea) int {
		return cmp.Or(b.LastAt.Compare(a.LastAt), cmp.Compare(a.Area, b.Area))
	})
	h.Problems = h.Problems[:min(len(h.Problems), maxSavedAreas)]
	if !l.start.IsZero() || l.pending > 0 {
		h.NewDevices = &savedNewDevices{Start: l.start, Told: l.told, Held: l.held, Pending: l.pending, PendingSince: l.pendingSince}
	}
	if h.Problems == nil && h.NewDevices == nil {
		return nil, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // an area's "<" as one byte, not six
	if err := enc.Encode(h); err != nil {
		return nil, fmt.Errorf("alert holds: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// RestoreHolds sets p, new, and l, zero, to what SaveHolds saved, read
// at now. A problem failing when the last run stopped counts as clear
// since now: this run tells nothing of it if it finds it again within
// ProblemHoldDown, and that it is over if not. Times are read as the
// daemon reads a quarantine's: one dated by a clock NTP had not set, or
// read by one, starts again now (its length is all that is known), one
// after now (a clock set back) is now, so no wait is longer than its
// own length; and they take now's monotonic reading, so that a step of
// the clock in this run moves them with it. On an error p and l are as
// they were.
func RestoreHolds(raw json.RawMessage, p *ProblemDamper, l *NewDeviceLimiter, now time.Time) error {
	if len(raw) == 0 {
		return nil
	}
	var h holds
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("alert holds: %w", err)
	}
	for _, s := range h.Problems[:min(len(h.Problems), maxSavedAreas)] {
		if s.Area == "" || len(s.Area) > maxField {
			continue
		}
		st := &dampedArea{told: s.Told, last: Alert{Severity: s.Severity, Urgent: s.Urgent},
			lastAt: rebase(s.LastAt, now), clearSince: rebase(s.ClearSince, now)}
		if s.Failing || st.clearSince.IsZero() {
			st.clearSince = now
		}
		if !st.told && now.Sub(st.lastAt) >= ProblemRealert {
			continue // nothing left to hold
		}
		p.areas[s.Area] = st
	}
	if n := h.NewDevices; n != nil && n.Told >= 0 && n.Held >= 0 && n.Pending >= 0 {
		l.start, l.told, l.held = rebase(n.Start, now), min(n.Told, NewDeviceAlertsPerHour), n.Held
		l.pending, l.pendingSince = n.Pending, n.PendingSince
	}
	return nil
}

// rebase is t, saved by an earlier run, on now's clock (see
// RestoreHolds); zero stays zero.
func rebase(t, now time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	age := now.Sub(t)
	if !wallclock.Set(t) || !wallclock.Set(now) || age < 0 {
		age = 0
	}
	return now.Add(-age)
}
