package daemon

import (
	"net/netip"
	"slices"
	"sort"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/notice"
)

// subscriberBuffer is how many events a slow API stream may fall behind.
const subscriberBuffer = 64

// Devices implements api.Backend: every device with a MAC, quarantined
// and alerting ones first.
func (d *Daemon) Devices() []api.Device {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []api.Device
	seen := map[hwaddr.MAC]bool{}
	for _, dev := range d.pipe.Inventory().Devices() {
		if dev.Key.MAC.IsZero() {
			continue
		}
		seen[dev.Key.MAC] = true
		out = append(out, d.viewLocked(dev.Key.MAC, dev))
	}
	for mac := range d.meta { // quarantined or decided about, not seen since restart
		if !seen[mac] {
			out = append(out, d.viewLocked(mac, nil))
		}
	}
	rank := map[string]int{api.StateQuarantined: 0, api.StatePending: 1, api.StateAlert: 2, api.StateOK: 3, api.StateTrusted: 4}
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].State] != rank[out[j].State] {
			return rank[out[i].State] < rank[out[j].State]
		}
		return out[i].MAC < out[j].MAC
	})
	return out
}

// Device implements api.Backend.
func (d *Daemon) Device(mac hwaddr.MAC) (api.Device, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dev, ok := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	if !ok {
		if _, known := d.meta[mac]; !known {
			return api.Device{}, false
		}
		dev = nil
	}
	return d.viewLocked(mac, dev), true
}

// viewLocked is the owner's view of one device. d.mu held.
func (d *Daemon) viewLocked(mac hwaddr.MAC, dev *device.Device) api.Device {
	v := api.Device{MAC: mac.String(), State: api.StateOK}
	m := d.meta[mac]
	if dev != nil {
		v.Addrs = api.AddrStrings(dev.Addrs)
		v.FirstSeen, v.LastSeen = dev.FirstSeen, dev.LastSeen
		v.Findings = dev.Findings
	}
	if m != nil {
		v.Name = m.decision.Name
		v.Trusted = m.decision.Trusted
		v.Verdict = m.verdict
		if q := m.quarantine; q != nil {
			v.Quarantine = &api.Quarantine{Mode: q.Mode, Since: q.Since, Until: q.Until, By: string(q.By), Reason: q.Reason}
		}
	}
	switch {
	case v.Quarantine != nil:
		v.State = api.StateQuarantined
	case v.Trusted:
		v.State = api.StateTrusted
	case m != nil && (m.awaitingConfirmation || !m.verdict.PendingUntil.IsZero()):
		v.State = api.StatePending
	case len(v.Findings) > 0:
		v.State = api.StateAlert
	}
	return v
}

// Events implements api.Backend: the latest events matching f, newest
// first.
func (d *Daemon) Events(f api.EventFilter) []*event.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*event.Event
	n := len(d.recent)
	for i := 1; i <= n && len(out) < f.Limit; i++ {
		ev := d.recent[(d.next-i+n)%n]
		if ev == nil {
			break
		}
		if matches(ev, f) {
			out = append(out, ev)
		}
	}
	return out
}

func matches(ev *event.Event, f api.EventFilter) bool {
	switch {
	case !f.MAC.IsZero() && ev.Device.MAC != f.MAC.String():
		return false
	case f.Kind != "" && ev.Kind != f.Kind:
		return false
	case f.Type != "" && ev.Type != f.Type:
		return false
	case ev.Severity < f.MinSev:
		return false
	case !f.Since.IsZero() && ev.Time.Before(f.Since):
		return false
	}
	return true
}

// Subscribe implements api.Backend.
func (d *Daemon) Subscribe() (<-chan *event.Event, func()) {
	ch := make(chan *event.Event, subscriberBuffer)
	d.mu.Lock()
	id := d.nextSub
	d.nextSub++
	d.subs[id] = ch
	d.mu.Unlock()
	return ch, func() {
		d.mu.Lock()
		delete(d.subs, id)
		d.mu.Unlock()
	}
}

// NoticeFor implements notice.Lookup: the quarantine facts of the device
// using addr.
func (d *Daemon) NoticeFor(addr netip.Addr) (notice.Info, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dev := range d.pipe.Inventory().Devices() {
		if dev.Key.MAC.IsZero() || !slices.Contains(dev.Addrs, addr) {
			continue
		}
		m := d.meta[dev.Key.MAC]
		if m == nil || m.quarantine == nil {
			return notice.Info{}, false
		}
		info := notice.Info{Name: m.decision.Name, Mode: m.quarantine.Mode, Since: m.quarantine.Since}
		if info.Name == "" {
			info.Name = "this device (" + dev.Key.MAC.String() + ")"
		}
		for _, r := range m.verdict.Reasons {
			info.Reasons = append(info.Reasons, r.Summary)
		}
		if len(info.Reasons) == 0 && m.quarantine.Reason != "" {
			info.Reasons = []string{m.quarantine.Reason}
		}
		return info, true
	}
	return notice.Info{}, false
}
