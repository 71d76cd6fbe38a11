package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/notice"
)

// subscriberBuffer is how many events a slow API stream may fall behind.
const subscriberBuffer = 64

// maxSubscribers caps the event streams open at once (the page's live
// view in a few browsers, an `iotgw` client or two).
const maxSubscribers = 8

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
		// Copies: the API encodes the view after d.mu is released, while
		// the pipeline folds repeats into the inventory's events.
		v.Findings = make([]*event.Event, len(dev.Findings))
		for i, f := range dev.Findings {
			c := copyEvent(f)
			v.Findings[i] = &c
		}
		id := dev.Identity
		v.Vendor, v.Type, v.Model = id.Vendor.Value, id.Type.Value, id.Model.Value
		v.Identity = map[string]string{}
		for k, a := range map[string]string{"firmware": id.Firmware.Value, "os": id.OS.Value, "oui_vendor": id.RegisteredVendor} {
			if a != "" {
				v.Identity[k] = a
			}
		}
		if id.PrivateMAC {
			v.Identity["private_mac"] = "yes"
		}
		if id.DNSServer {
			v.Identity["dns_server"] = "yes" // why no domain names it
		}
		for _, h := range dev.Hostnames {
			v.Hostnames = append(v.Hostnames, h.Name)
		}
		for _, sw := range dev.Software {
			v.Software = append(v.Software, api.Software{Product: sw.Product, Version: sw.Version, Source: sw.Source,
				Disputed: slices.Clone(sw.Disputed), Distribution: sw.Distribution})
		}
		card := device.Scorecard(dev, nil)
		v.Scorecard = &card
	}
	if m != nil {
		v.Traffic = trafficLocked(m, d.now())
		v.Away = !m.awayAt.IsZero() && (dev == nil || !dev.LastSeen.After(m.awayAt))
		v.Name = m.decision.Name
		v.Trusted = d.trustedLocked(mac, m) // by the owner here or by the configuration
		v.Verdict = m.verdict
		if m.quarantine == nil {
			v.Awaiting = m.awaiting // the owner answered with a quarantine
		}
		if q := m.quarantine; q != nil {
			v.Quarantine = &api.Quarantine{Mode: q.Mode, Since: q.Since, Until: q.Until, By: string(q.By), Reason: q.Reason}
		}
	}
	switch {
	case v.Quarantine != nil:
		v.State = api.StateQuarantined
	case v.Trusted:
		v.State = api.StateTrusted
	case m != nil && m.waiting():
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
			c := copyEvent(ev) // encoded after d.mu is released
			out = append(out, &c)
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
	if len(d.subs) >= maxSubscribers {
		// Each stream holds a goroutine, a connection and a buffer: end
		// the oldest rather than let open pages and stalled clients pile
		// up. Its reader sees the channel closed and stops.
		oldest := slices.Min(slices.Collect(maps.Keys(d.subs)))
		close(d.subs[oldest])
		delete(d.subs, oldest)
	}
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
// at addr, by the MAC the kernel's neighbour table has there (the
// inventory's without one, see holderOfLocked). That is the MAC the
// page's answer goes to: a LAN host that gives itself a quarantined
// device's address, and so takes the neighbour entry, learns nothing of
// that device, while the device asking from a temporary address the
// inventory has not seen yet gets its own. The neighbour entry is read
// before d.mu is taken: a notice request must not hold up the packet
// path for netlink round trips.
func (d *Daemon) NoticeFor(addr netip.Addr) (notice.Info, bool) {
	addr = addr.Unmap()
	var mac hwaddr.MAC
	if d.deps.HolderOf != nil {
		mac, _ = d.deps.HolderOf(addr) // a link-local address's zone names its interface
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deps.HolderOf == nil {
		mac, _ = d.pipe.Inventory().HolderOf(addr.WithZone(""))
	}
	m := d.meta[mac]
	if mac.IsZero() || m == nil || m.quarantine == nil {
		return notice.Info{}, false
	}
	info := notice.Info{Name: m.decision.Name, Mode: m.quarantine.Mode, Since: m.quarantine.Since}
	if info.Name == "" {
		info.Name = "this device (" + mac.String() + ")"
	}
	for _, r := range m.verdict.Reasons {
		info.Reasons = append(info.Reasons, r.Summary)
	}
	if len(info.Reasons) == 0 && m.quarantine.Reason != "" {
		info.Reasons = []string{m.quarantine.Reason}
	}
	return info, true
}

// Observe implements dnsproxy.Observer: a name a quarantined device
// resolved through the proxy becomes a dns_query observation of it. Only
// quarantined devices' queries are redirected there; a query from any
// other address (a LAN host writing to the proxy's port with another
// device's address as its source) is no device's word and makes no
// device.
func (d *Daemon) Observe(o dnsproxy.Observation) {
	d.mu.Lock()
	defer d.mu.Unlock()
	mac, ok := d.quarantinedAtLocked(o.Client.Unmap())
	if !ok {
		return
	}
	d.pipe.Inject(&event.Event{
		V: event.SchemaVersion, Time: o.At, Type: event.TypeObservation, Kind: event.KindDNSQuery,
		Device: event.Endpoint{MAC: mac.String(), IP: o.Client.Unmap().String(), Local: true},
		// A label that holds the device's identifier goes, judged in
		// the case the device wrote it, as in a dns_query the capture
		// files.
		Summary: "DNS query through the proxy", Evidence: event.Evidence{"name": inspect.IDMaskedName(o.Name), "source": "dns_proxy"},
	})
}

// quarantinedAtLocked is the quarantined device whose kernel entry holds
// addr. d.mu held.
func (d *Daemon) quarantinedAtLocked(addr netip.Addr) (hwaddr.MAC, bool) {
	for mac, m := range d.meta {
		if m.quarantine != nil && slices.Contains(m.kernelAddrs, addr) {
			return mac, true
		}
	}
	return hwaddr.MAC{}, false
}

// blockedAddrs are the addresses of devices whose DNS the proxy answers
// with the notice page: block and updates-only quarantines. d.mu held.
func (d *Daemon) blockedAddrsLocked() []netip.Addr {
	var out []netip.Addr
	for _, m := range d.meta {
		if q := m.quarantine; q != nil && q.Mode != "isolate" {
			out = append(out, m.kernelAddrs...)
		}
	}
	return out
}

// Audit implements api.Auditor: the owner asks for a device's active
// audit now.
func (d *Daemon) Audit(_ context.Context, mac hwaddr.MAC) error {
	if d.deps.Audits == nil {
		return fmt.Errorf("%w: the active audit is off ([audit] enabled = false)", api.ErrConflict)
	}
	d.mu.Lock()
	dev, ok := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	var t audit.Target
	if ok {
		t = d.auditTargetLocked(dev)
	}
	protected := ok && d.isProtected(mac, dev)
	d.mu.Unlock()
	switch {
	case !ok:
		return api.ErrNotFound
	case protected:
		return api.ErrProtected
	}
	err := d.deps.Audits.Request(t)
	if errors.Is(err, audit.ErrOff) {
		// Switched off by a reload since the daemon started.
		return fmt.Errorf("%w: the active audit is off ([audit] enabled = false)", api.ErrConflict)
	}
	if errors.Is(err, audit.ErrQueueFull) || errors.Is(err, audit.ErrTooSoon) {
		return fmt.Errorf("%w: %v", api.ErrConflict, err)
	}
	return err
}
