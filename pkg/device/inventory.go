// Package device owns the inventory of devices on the LAN: who they are
// (keyed by MAC, or by address where a capture has no link layer), which
// addresses they used and when, and the findings and observations about
// them. It decides nothing about quarantine; policy reads it.
package device

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Key identifies a device: its MAC when known, else its IP address.
type Key struct {
	MAC hwaddr.MAC
	IP  netip.Addr // set only when MAC is zero
}

func (k Key) String() string {
	if !k.MAC.IsZero() {
		return k.MAC.String()
	}
	return k.IP.String()
}

// Limits bound what one device and the inventory may hold.
const (
	maxAddrs       = 16
	maxFindings    = 64
	maxObservation = 64
)

// Device is what the inventory knows about one device.
type Device struct {
	Key       Key
	FirstSeen time.Time
	LastSeen  time.Time
	Addrs     []netip.Addr // most recent last, at most maxAddrs
	Packets   uint64
	Bytes     uint64
	// Findings, one per DedupKey, with Count and LastTime updated on repeats.
	Findings []*event.Event
	// Observations, one per DedupKey, likewise.
	Observations []*event.Event
	// DroppedEvents counts events beyond the per-device caps.
	DroppedEvents int
}

// MAC returns the device's MAC, zero when unknown.
func (d *Device) MAC() hwaddr.MAC { return d.Key.MAC }

// Inventory holds devices, at most max of them; beyond that the device
// seen least recently is forgotten.
type Inventory struct {
	devices map[Key]*Device
	byIP    map[netip.Addr]Key
	max     int
	isLocal func(netip.Addr) bool
	Dropped int // devices forgotten because the inventory was full
}

// NewInventory returns an empty inventory. isLocal says which addresses
// belong to the LAN: only those become devices from packets.
func NewInventory(max int, isLocal func(netip.Addr) bool) *Inventory {
	return &Inventory{
		devices: make(map[Key]*Device),
		byIP:    make(map[netip.Addr]Key),
		max:     max,
		isLocal: isLocal,
	}
}

// ObservePacket implements inspect.PacketObserver: a LAN source address
// with a MAC makes or refreshes a device. Known devices cost no
// allocation.
func (inv *Inventory) ObservePacket(p *inspect.Packet) {
	switch {
	case p.Kind == inspect.KindARP:
		if p.ARPSenderIP.IsValid() && !p.ARPSenderIP.IsUnspecified() && inv.isLocal(p.ARPSenderIP) {
			inv.touch(p.ARPSenderMAC, p.ARPSenderIP, p.Timestamp, 0)
		}
	case p.Src.IsValid() && inv.isLocal(p.Src):
		if p.HasMAC && !p.SrcMAC.IsZero() && !p.SrcMAC.IsMulticast() {
			inv.touch(p.SrcMAC, p.Src, p.Timestamp, p.Length)
		}
	}
}

func (inv *Inventory) touch(mac hwaddr.MAC, ip netip.Addr, ts time.Time, n int) *Device {
	if mac.IsZero() {
		return nil
	}
	d := inv.get(Key{MAC: mac}, ts)
	d.LastSeen = ts
	d.Packets++
	d.Bytes += uint64(n)
	if ip.IsValid() && !ip.IsUnspecified() {
		inv.addAddr(d, ip)
	}
	return d
}

func (inv *Inventory) addAddr(d *Device, ip netip.Addr) {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return // not an address of the device
	}
	if n := len(d.Addrs); n > 0 && d.Addrs[n-1] == ip {
		return
	}
	if i := slices.Index(d.Addrs, ip); i >= 0 {
		// Move to the end: most recent last.
		copy(d.Addrs[i:], d.Addrs[i+1:])
		d.Addrs[len(d.Addrs)-1] = ip
	} else {
		if len(d.Addrs) == maxAddrs {
			copy(d.Addrs, d.Addrs[1:])
			d.Addrs = d.Addrs[:maxAddrs-1]
		}
		d.Addrs = append(d.Addrs, ip)
	}
	if k, ok := inv.byIP[ip]; ok && k != d.Key && k.MAC.IsZero() && !d.Key.MAC.IsZero() {
		// Events arrived for the address before its MAC was known (a DHCP
		// ACK, a capture that starts mid-flow): the MAC device takes them.
		if old, ok := inv.devices[k]; ok {
			inv.merge(d, old)
		}
	}
	inv.byIP[ip] = d.Key
}

// merge moves what is known about the address-keyed device old into d.
func (inv *Inventory) merge(d, old *Device) {
	delete(inv.devices, old.Key)
	if old.FirstSeen.Before(d.FirstSeen) {
		d.FirstSeen = old.FirstSeen
	}
	if old.LastSeen.After(d.LastSeen) {
		d.LastSeen = old.LastSeen
	}
	d.Packets += old.Packets
	d.Bytes += old.Bytes
	d.DroppedEvents += old.DroppedEvents
	for _, ev := range old.Findings {
		inv.file(d, ev)
	}
	for _, ev := range old.Observations {
		inv.file(d, ev)
	}
}

func (inv *Inventory) get(k Key, ts time.Time) *Device {
	if d, ok := inv.devices[k]; ok {
		return d
	}
	if len(inv.devices) >= inv.max {
		inv.evictOldest()
	}
	d := &Device{Key: k, FirstSeen: ts, LastSeen: ts}
	inv.devices[k] = d
	return d
}

func (inv *Inventory) evictOldest() {
	var oldest *Device
	for _, d := range inv.devices {
		if oldest == nil || d.LastSeen.Before(oldest.LastSeen) {
			oldest = d
		}
	}
	if oldest == nil {
		return
	}
	delete(inv.devices, oldest.Key)
	for _, a := range oldest.Addrs {
		if inv.byIP[a] == oldest.Key {
			delete(inv.byIP, a)
		}
	}
	inv.Dropped++
}

// Emit implements inspect.Sink: the event is filed under its device.
func (inv *Inventory) Emit(ev *event.Event) {
	// A WAN server's banner seen from a LAN client says nothing about a
	// device of this network; captures with no LAN side keep everything.
	if !ev.Device.Local && ev.Flow != nil && (ev.Flow.Client.Local || ev.Flow.Server.Local) {
		return
	}
	d := inv.deviceFor(ev)
	if d == nil {
		return
	}
	if ev.Time.After(d.LastSeen) {
		d.LastSeen = ev.Time
	}
	inv.file(d, ev)
}

// file adds ev to d's findings or observations, folding repeats.
func (inv *Inventory) file(d *Device, ev *event.Event) {
	list := &d.Observations
	limit := maxObservation
	if ev.IsFinding() {
		list, limit = &d.Findings, maxFindings
	}
	key := ev.DedupKey()
	for _, old := range *list {
		if old.DedupKey() == key {
			old.Count = max(old.Count, 1) + max(ev.Count, 1)
			if ev.Time.After(old.LastTime) {
				old.LastTime = ev.Time
			}
			if ev.Severity > old.Severity {
				old.Severity = ev.Severity
			}
			return
		}
	}
	if len(*list) >= limit {
		d.DroppedEvents++
		return
	}
	*list = append(*list, ev)
}

// deviceFor finds or makes the device an event is about.
func (inv *Inventory) deviceFor(ev *event.Event) *Device {
	ts := ev.Time
	macText := ev.Device.MAC
	if ev.Kind == event.KindDHCP && ev.Evidence["client_mac"] != "" {
		// A DHCP client speaks before it has an address, and relayed
		// requests carry the relay's MAC: the client hardware address in
		// the message is the device.
		macText = ev.Evidence["client_mac"]
	}
	if macText != "" {
		mac, err := hwaddr.Parse(macText)
		if err == nil && !mac.IsZero() {
			ip, _ := netip.ParseAddr(ev.Device.IP)
			d := inv.get(Key{MAC: mac}, ts)
			if ip.IsValid() {
				inv.addAddr(d, ip)
			}
			return d
		}
	}
	ip, err := netip.ParseAddr(ev.Device.IP)
	if err != nil {
		return nil
	}
	ip = ip.Unmap()
	if k, ok := inv.byIP[ip]; ok {
		if d, ok := inv.devices[k]; ok {
			return d
		}
	}
	d := inv.get(Key{IP: ip}, ts)
	inv.addAddr(d, ip)
	return d
}

// Lookup returns the device with key k.
func (inv *Inventory) Lookup(k Key) (*Device, bool) {
	d, ok := inv.devices[k]
	return d, ok
}

// Devices returns every device, those with findings first, then by key.
func (inv *Inventory) Devices() []*Device {
	out := make([]*Device, 0, len(inv.devices))
	for _, d := range inv.devices {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		fi, fj := len(out[i].Findings) > 0, len(out[j].Findings) > 0
		if fi != fj {
			return fi
		}
		return out[i].Key.String() < out[j].Key.String()
	})
	return out
}

// Len is the number of devices.
func (inv *Inventory) Len() int { return len(inv.devices) }
