package daemon

import (
	"time"

	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/policy"
	"github.com/iotgw/iotgw/pkg/store"
)

// persistVerdict records policy's latest decision about a device.
func (d *Daemon) persistVerdict(mac hwaddr.MAC, v policy.Verdict, now time.Time) {
	rec := store.Verdict{MAC: mac, Action: string(v.Action), Enforce: v.Enforce, Note: v.Note, StrongSince: v.StrongSince, Time: now}
	for _, r := range v.Reasons {
		rec.Reasons = append(rec.Reasons, store.Reason{Kind: r.Kind, Severity: r.Severity, Action: string(r.Action), Summary: r.Summary})
	}
	if err := d.deps.Store.PutVerdict(rec); err != nil {
		d.log.Warn("storing verdict", "mac", mac, "err", err)
	}
}

// persistDevice hands one device's record to the store now.
func (d *Daemon) persistDevice(mac hwaddr.MAC) {
	d.mu.Lock()
	dev, ok := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	var rec store.DeviceRecord
	if ok {
		rec = d.deviceRecordLocked(dev)
	}
	d.mu.Unlock()
	if ok {
		if err := d.deps.Store.PutDevice(rec); err != nil {
			d.log.Warn("storing device", "mac", mac, "err", err)
		}
	}
}

// deviceRecordLocked is what the store keeps of dev. d.mu held.
func (d *Daemon) deviceRecordLocked(dev *device.Device) store.DeviceRecord {
	rec := store.DeviceRecord{MAC: dev.Key.MAC, Addrs: dev.Addrs, FirstSeen: dev.FirstSeen, LastSeen: dev.LastSeen, DroppedFindings: dev.DroppedEvents}
	// The scheduler's memory, seeded from the store at start, outlives
	// the daemon's view of a device the inventory forgot and relearnt.
	if d.deps.Audits != nil {
		rec.LastAudit, _ = d.deps.Audits.LastAudit(dev.Key.MAC)
	}
	if n := len(dev.Findings); n > 0 {
		rec.Findings = make([]event.Event, n)
		for i, f := range dev.Findings {
			rec.Findings[i] = copyEvent(f)
		}
	}
	return rec
}

// handOverEvery is how often the routine changes of devices (new
// findings, repeats, addresses, last seen) are handed to the store, or
// the store's write interval if shorter. The copy holds d.mu, which the
// packet path waits for: with the inventory full that is about 6 ms here
// and twenty times that on a router's core (BENCHMARKS.md), and the store
// writes flash only once per write interval anyway. Owner actions,
// quarantines and audits hand their device over at once.
const handOverEvery = time.Minute

// persistDevices hands device records to the store when handOverEvery
// has passed since the last time; the store coalesces them into at most
// one flash write per interval.
func (d *Daemon) persistDevices(now time.Time) {
	d.mu.Lock()
	every := min(handOverEvery, d.cfg.Store.WriteInterval.Duration)
	if !d.handedOverAt.IsZero() && now.Sub(d.handedOverAt) < every {
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.handOverDevices(now)
}

// handOverDevices hands every device's record to the store now.
func (d *Daemon) handOverDevices(now time.Time) {
	d.mu.Lock()
	d.handedOverAt = now
	recs := d.deviceRecordsLocked()
	d.mu.Unlock()
	for _, r := range recs {
		if err := d.deps.Store.PutDevice(r); err != nil {
			d.log.Warn("storing device", "mac", r.MAC, "err", err)
		}
	}
}

// deviceRecordsLocked is what the store keeps of every device known by
// its MAC. d.mu held: the packet path waits meanwhile.
func (d *Daemon) deviceRecordsLocked() []store.DeviceRecord {
	var recs []store.DeviceRecord
	for _, dev := range d.pipe.Inventory().Devices() {
		if !dev.Key.MAC.IsZero() {
			recs = append(recs, d.deviceRecordLocked(dev))
		}
	}
	return recs
}

// copyEvent copies an event for use after d.mu is released: the pipeline
// folds repeats into the inventory's events (their count, last time and
// severity). Its Evidence is shared, as it never changes once emitted.
func copyEvent(e *event.Event) event.Event { return *e }

// persistAll is the last write before the daemon stops.
func (d *Daemon) persistAll() { d.handOverDevices(d.now()) }
