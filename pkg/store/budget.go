package store

import (
	"slices"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// The findings held in memory are kept within a budget of MaxBytes, by an
// estimate of their encoded size, so that the store never holds much more
// than one file's worth. Over budgetHigh of MaxBytes (the rest is room for
// identities, verdicts, quarantines, decisions and alerts), PutDevice
// forgets the oldest findings across all devices down to budgetLow (the
// gap spares the next updates another trim). The file's exact cap stays
// the backstop.
const (
	budgetHigh = 0.85
	budgetLow  = 0.75
)

// eventCost estimates an event's encoded size: its variable parts plus
// about 300 bytes of names, times and numbers (calibrated against
// json.Marshal in TestEventCostTracksEncodedSize).
func eventCost(e *event.Event) int {
	n := 220 + len(e.Kind) + len(e.Provision) + len(e.Summary) + len(e.Source) + len(e.Device.MAC) + len(e.Device.IP)
	for k, v := range e.Evidence {
		n += len(k) + len(v) + 6
	}
	if f := e.Flow; f != nil {
		n += 130 + len(f.Transport) + len(f.App) + len(f.Direction) + len(f.Client.MAC) + len(f.Client.IP) + len(f.Server.MAC) + len(f.Server.IP)
	}
	return n
}

func findingsCost(d *DeviceRecord) int {
	n := 0
	for i := range d.Findings {
		n += eventCost(&d.Findings[i])
	}
	return n
}

// setDeviceLocked stores rec (nil: deletes) and keeps the findings
// estimate in step.
func (s *Store) setDeviceLocked(mac hwaddr.MAC, rec *DeviceRecord) {
	if old := s.devices[mac]; old != nil {
		s.findingBytes -= findingsCost(old)
	}
	if rec == nil {
		delete(s.devices, mac)
		delete(s.forgotUntil, mac)
		return
	}
	s.devices[mac] = rec
	s.findingBytes += findingsCost(rec)
}

// forgetUntil drops the findings the budget forgot before, those last
// seen at or before until, counting them as dropped. d is the store's
// own copy.
func (d *DeviceRecord) forgetUntil(until time.Time) {
	kept := d.Findings[:0]
	for i := range d.Findings {
		if findingTime(&d.Findings[i]).After(until) {
			kept = append(kept, d.Findings[i])
		}
	}
	d.DroppedFindings += len(d.Findings) - len(kept)
	clear(d.Findings[len(kept):])
	d.Findings = kept
}

// enforceBudgetLocked forgets the oldest findings across devices when
// their estimate is over budget.
func (s *Store) enforceBudgetLocked() {
	if s.findingBytes <= int(float64(s.opts.MaxBytes)*budgetHigh) {
		return
	}
	type ref struct {
		rec *DeviceRecord
		idx int
	}
	var refs []ref
	for _, d := range s.devices {
		for i := range d.Findings {
			refs = append(refs, ref{d, i})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		if c := findingTime(&a.rec.Findings[a.idx]).Compare(findingTime(&b.rec.Findings[b.idx])); c != 0 {
			return c
		}
		if c := macCompare(a.rec.MAC, b.rec.MAC); c != 0 {
			return c
		}
		return a.idx - b.idx
	})
	target := int(float64(s.opts.MaxBytes) * budgetLow)
	drop := make(map[*DeviceRecord][]bool)
	bytes, forgotten := s.findingBytes, 0
	for _, r := range refs {
		if bytes <= target {
			break
		}
		if drop[r.rec] == nil {
			drop[r.rec] = make([]bool, len(r.rec.Findings))
		}
		drop[r.rec][r.idx] = true
		if ft := findingTime(&r.rec.Findings[r.idx]); ft.After(s.forgotUntil[r.rec.MAC]) {
			s.forgotUntil[r.rec.MAC] = ft
		}
		bytes -= eventCost(&r.rec.Findings[r.idx])
		forgotten++
	}
	for old, marks := range drop {
		cp := *old // records are shared with writers: replace, never modify
		cp.Findings = nil
		for i := range old.Findings {
			if marks[i] {
				cp.DroppedFindings++
			} else {
				cp.Findings = append(cp.Findings, old.Findings[i])
			}
		}
		s.setDeviceLocked(cp.MAC, &cp)
	}
	s.stats.FindingsForgotten += uint64(forgotten)
	if !s.warnedBudget {
		s.warnedBudget = true
		s.log.Warn("findings over the store's size budget; forgetting the oldest (further trims are logged at debug)",
			"max_bytes", s.opts.MaxBytes, "findings_forgotten", forgotten)
	} else {
		s.log.Debug("findings over the store's size budget; forgot the oldest", "findings_forgotten", forgotten)
	}
}
