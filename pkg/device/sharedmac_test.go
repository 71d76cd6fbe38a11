package device

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// TestSharedMAC: a MAC stands for several hosts when it sends DHCP for
// other clients without a relay agent (a repeater in client mode puts
// its own MAC on its clients' frames); not for a device's own DHCP, a
// relay's, or two IPv4 addresses used at once, which one forged ARP
// gives a device that would rather not be quarantined.
func TestSharedMAC(t *testing.T) {
	const (
		extender = "b0:be:76:00:00:01"
		client   = "3c:a9:f4:6a:7b:8c"
	)
	type frame struct {
		ip string
		at time.Duration
	}
	dhcpFrom := func(frameMAC string, extra event.Evidence) *event.Event {
		ev := event.Evidence{"protocol": "dhcpv4", "message_type": "request", "client_mac": client, "hostname": "laptop"}
		for k, v := range extra {
			ev[k] = v
		}
		return obs(frameMAC, "0.0.0.0", event.KindDHCP, ev)
	}
	tests := []struct {
		name   string
		dhcp   *event.Event
		frames []frame
		now    time.Duration // since t0
		want   string        // a word of the reason; "" for not shared
	}{
		{"dhcp_for_another_client", dhcpFrom(extender, nil), nil, time.Hour, "DHCP"},
		{"dhcp_for_another_client_a_day_ago", dhcpFrom(extender, nil), nil, 25 * time.Hour, ""},
		{"dhcp_relayed_by_an_agent", dhcpFrom(extender, event.Evidence{"relay_ip": "10.0.5.1"}), nil, time.Hour, ""},
		{"own_dhcp", dhcpFrom(client, nil), nil, time.Hour, ""},
		// An answer is filed under its receiver: anyone answering in the
		// server's name could address one to any device.
		{"an_ack_it_received_for_another_client", dhcpFrom(extender, event.Evidence{"message_type": "ack", "assigned_ip": "192.168.1.77"}), nil, time.Hour, ""},
		{"two_addresses_at_once", nil, []frame{{"192.168.1.20", 0}, {"192.168.1.21", time.Second}, {"192.168.1.20", 2 * time.Second}, {"192.168.1.21", 3 * time.Second}}, time.Minute, ""},
		{"renumbered", nil, []frame{{"192.168.1.20", 0}, {"192.168.1.20", time.Minute}, {"192.168.1.21", 2 * time.Minute}, {"192.168.1.21", 3 * time.Minute}}, 4 * time.Minute, ""},
		{"link_local_beside_its_own", nil, []frame{{"169.254.7.7", 0}, {"192.168.1.20", time.Second}, {"169.254.7.7", 2 * time.Second}, {"192.168.1.20", 3 * time.Second}}, time.Minute, ""},
		{"an_old_overlap", nil, []frame{{"192.168.1.20", 0}, {"192.168.1.21", time.Second}, {"192.168.1.20", 2 * time.Second}, {"192.168.1.21", 3 * time.Second}, {"192.168.1.21", time.Hour}}, time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := NewInventory(64, func(netip.Addr) bool { return true })
			// The device judged is the frames' sender, seen on the link.
			sender := extender
			if tt.dhcp != nil {
				sender = tt.dhcp.Device.MAC
			}
			mac, _ := hwaddr.Parse(sender)
			inv.ObservePacket(&inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: mac,
				Src: netip.MustParseAddr("192.168.1.30"), Dst: netip.MustParseAddr("192.168.1.1")})
			if tt.dhcp != nil {
				inv.File(tt.dhcp)
			}
			for _, f := range tt.frames {
				inv.ObservePacket(&inspect.Packet{Timestamp: t0.Add(f.at), Kind: inspect.KindUDP, HasMAC: true, SrcMAC: mac,
					Src: netip.MustParseAddr(f.ip), Dst: netip.MustParseAddr("192.168.1.1")})
			}
			d, ok := inv.Lookup(Key{MAC: mac})
			if !ok {
				t.Fatalf("no device for the sender %s", sender)
			}
			why, shared := d.SharedMAC(t0.Add(tt.now))
			if shared != (tt.want != "") || !strings.Contains(why, tt.want) {
				t.Errorf("SharedMAC = %q, %v; want shared %v (%q)", why, shared, tt.want != "", tt.want)
			}
		})
	}
}

// TestLastHostName: the name a device gave last is last, also when it
// goes back to an earlier one: the page, alerts and reports show it.
func TestLastHostName(t *testing.T) {
	inv := NewInventory(64, func(netip.Addr) bool { return true })
	const m = "24:0a:c4:00:00:01"
	for i, name := range []string{"kitchen-plug", "espressif", "kitchen-plug"} {
		ev := obs(m, "192.168.1.20", event.KindDHCP, event.Evidence{"protocol": "dhcpv4", "message_type": "request", "client_mac": m, "hostname": name})
		ev.Time = t0.Add(time.Duration(i) * time.Hour)
		inv.File(ev)
	}
	mac, _ := hwaddr.Parse(m)
	names := hostNamesOf(inv, mac)
	if len(names) != 2 || names[1] != "kitchen-plug" {
		t.Errorf("host names %q, want espressif then kitchen-plug (the one given last)", names)
	}
}

// TestMergedHostNamesKeepTheLastLast: when a device known by its address
// merges into the one known by its MAC, the name used last stays last.
func TestMergedHostNamesKeepTheLastLast(t *testing.T) {
	inv := NewInventory(64, func(netip.Addr) bool { return true })
	const ip = "192.168.1.77"
	mac, _ := hwaddr.Parse("50:c7:bf:0a:1b:2c")
	inv.File(obs("", ip, event.KindMDNS, event.Evidence{"hostname": "old-name"}))
	named := obs(mac.String(), "", event.KindMDNS, event.Evidence{"hostname": "new-name"})
	named.Time = t0.Add(2 * time.Hour)
	inv.File(named)
	inv.ObservePacket(&inspect.Packet{Timestamp: t0.Add(2*time.Hour + time.Minute), Kind: inspect.KindUDP, HasMAC: true, SrcMAC: mac,
		Src: netip.MustParseAddr(ip), Dst: netip.MustParseAddr("192.168.1.1"), SrcPort: 40000, DstPort: 53}) // the MAC's device takes the address
	names := hostNamesOf(inv, mac)
	if len(names) != 2 || names[1] != "new-name" {
		t.Errorf("host names after the merge %q, want old-name then new-name", names)
	}
}

// hostNamesOf lists the host names of the device with mac, in order.
func hostNamesOf(inv *Inventory, mac hwaddr.MAC) []string {
	d, _ := inv.Lookup(Key{MAC: mac})
	var names []string
	for _, h := range d.Hostnames {
		names = append(names, h.Name)
	}
	return names
}

// TestMergedHostNamesKeepFirstUse: a name both devices used keeps the
// first use of either, also when more names than a device keeps were
// used in between.
func TestMergedHostNamesKeepFirstUse(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	mac, _ := hwaddr.Parse("50:c7:bf:0a:1b:2c")
	d := &Device{Key: Key{MAC: mac}}
	old := &Device{Key: Key{IP: netip.MustParseAddr("192.168.1.77")}}
	old.Hostnames = append(old.Hostnames, Hostname{Name: "cam", Source: "mdns", FirstSeen: at(0), LastSeen: at(1)})
	for i := range 4 {
		old.Hostnames = append(old.Hostnames, Hostname{Name: "o" + strconv.Itoa(i), Source: "mdns", FirstSeen: at(2 + i), LastSeen: at(2 + i)})
		d.Hostnames = append(d.Hostnames, Hostname{Name: "d" + strconv.Itoa(i), Source: "mdns", FirstSeen: at(2 + i), LastSeen: at(2 + i)})
	}
	d.Hostnames = append(d.Hostnames, Hostname{Name: "cam", Source: "mdns", FirstSeen: at(7), LastSeen: at(10)})
	NewInventory(64, func(netip.Addr) bool { return true }).merge(d, old)
	if n := len(d.Hostnames); n != maxHostnames || d.Hostnames[n-1].Name != "cam" {
		t.Fatalf("%d names, the last %q; want %d, cam last", n, d.Hostnames[n-1].Name, maxHostnames)
	}
	if cam := d.Hostnames[len(d.Hostnames)-1]; !cam.FirstSeen.Equal(at(0)) || !cam.LastSeen.Equal(at(10)) {
		t.Errorf("cam used %v to %v, want t0 to t0+10m", cam.FirstSeen.Sub(t0), cam.LastSeen.Sub(t0))
	}
}
