package device

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// TestAddressMovesToNewDevice: an address reused by another device
// (DHCP giving the camera's old address to the phone) leaves the device
// that held it, so that the old device's quarantine entry no longer
// blocks the new one; what devices merely say about themselves does not
// take an address its holder still uses.
func TestAddressMovesToNewDevice(t *testing.T) {
	const camera, phone = "c0:56:e3:1a:2b:3c", "3c:a9:f4:6a:7b:8c"
	type step struct {
		how     string // packet, arp, neighbour or lease
		mac, ip string
	}
	tests := []struct {
		name  string
		steps []step
		addr  string        // the contested address
		owner string        // the one device that must hold addr
		kept  string        // an address camera must still hold
		gap   time.Duration // between steps; 0: past addrIdle
	}{
		{
			name:  "reuse seen in a packet",
			steps: []step{{"packet", camera, "192.168.1.101"}, {"packet", camera, "192.168.1.120"}, {"packet", phone, "192.168.1.101"}},
			addr:  "192.168.1.101", owner: phone, kept: "192.168.1.120",
		},
		{
			name:  "reuse seen in ARP",
			steps: []step{{"packet", camera, "192.168.1.101"}, {"arp", camera, "192.168.1.120"}, {"arp", phone, "192.168.1.101"}},
			addr:  "192.168.1.101", owner: phone, kept: "192.168.1.120",
		},
		{
			name:  "reuse seen in the neighbour table",
			steps: []step{{"neighbour", camera, "192.168.1.101"}, {"neighbour", camera, "192.168.1.120"}, {"neighbour", phone, "192.168.1.101"}},
			addr:  "192.168.1.101", owner: phone, kept: "192.168.1.120",
		},
		{
			name:  "a lease takes the holder's current address",
			steps: []step{{"packet", camera, "192.168.1.101"}, {"packet", phone, "192.168.1.101"}, {"lease", phone, "192.168.1.101"}},
			addr:  "192.168.1.101", owner: phone,
		},
		{
			name: "IPv6 link-local reused",
			steps: []step{{"neighbour", camera, "fe80::1"}, {"neighbour", camera, "2001:db8::c"},
				{"neighbour", camera, "fe80::c"}, {"neighbour", phone, "fe80::1"}},
			addr: "fe80::1", owner: phone, kept: "fe80::c",
		},
		{
			// A DHCPv6 lease names the MAC in the client's DUID, which
			// may be another interface's, or made up.
			name:  "a DHCPv6 lease does not take a live address",
			steps: []step{{"neighbour", camera, "2001:db8::101"}, {"lease-duid", phone, "2001:db8::101"}},
			addr:  "2001:db8::101", owner: camera,
		},
		{
			name:  "a spoofed packet does not take the holder's current address",
			steps: []step{{"packet", camera, "192.168.1.101"}, {"packet", phone, "192.168.1.101"}},
			addr:  "192.168.1.101", owner: camera,
		},
		{
			// A later address planted on the holder (a neighbour entry
			// the kernel made from a forged ARP) does not free its live
			// one.
			name:  "a later address does not free one still in use",
			steps: []step{{"packet", camera, "192.168.1.101"}, {"neighbour", camera, "192.168.1.77"}, {"packet", phone, "192.168.1.101"}},
			addr:  "192.168.1.101", owner: camera, kept: "192.168.1.77", gap: time.Second,
		},
		{
			// An ARP whose sender is not the frame's says nothing.
			name:  "an ARP about another device is not taken",
			steps: []step{{"packet", camera, "192.168.1.101"}, {"forged-arp", camera, "192.168.1.77"}},
			addr:  "192.168.1.77", owner: "",
		},
		{
			name: "a global IPv6 address does not make the link-local one stale",
			steps: []step{{"neighbour", camera, "fe80::c"}, {"neighbour", camera, "2001:db8::c"},
				{"neighbour", phone, "fe80::c"}},
			addr: "fe80::c", owner: camera, kept: "2001:db8::c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			gap := tt.gap
			if gap == 0 {
				gap = addrIdle + time.Second
			}
			for i, s := range tt.steps {
				ts := t0.Add(time.Duration(i) * gap)
				mac, _ := hwaddr.Parse(s.mac)
				ip := netip.MustParseAddr(s.ip)
				switch s.how {
				case "packet":
					inv.ObservePacket(&inspect.Packet{Timestamp: ts, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: mac,
						Src: ip, Dst: netip.MustParseAddr("192.168.1.1")})
				case "arp":
					inv.ObservePacket(&inspect.Packet{Timestamp: ts, Kind: inspect.KindARP, ARPSenderMAC: mac, ARPSenderIP: ip})
				case "forged-arp":
					inv.ObservePacket(&inspect.Packet{Timestamp: ts, Kind: inspect.KindARP, HasMAC: true,
						SrcMAC: hwaddr.MAC{0x02, 0, 0, 0, 0, 0x66}, ARPSenderMAC: mac, ARPSenderIP: ip})
				case "neighbour", SourceLease, SourceLeaseDUID:
					inv.Seen(mac, ip, "", s.how, ts)
				default:
					t.Fatalf("step %q", s.how)
				}
			}
			addr := netip.MustParseAddr(tt.addr)
			for _, d := range inv.Devices() {
				if !slices.Equal(d.Addrs, addrsOf(d.Addresses)) {
					t.Errorf("%s: Addrs %v, Addresses %v", d.Key, d.Addrs, d.Addresses)
				}
				if has, want := slices.Contains(d.Addrs, addr), d.Key.String() == tt.owner; has != want {
					t.Errorf("%s holds %s: %v, want %v (addresses %v)", d.Key, addr, has, want, d.Addrs)
				}
			}
			if tt.kept != "" && !slices.Contains(device(t, inv, camera).Addrs, netip.MustParseAddr(tt.kept)) {
				t.Errorf("camera lost %s: %v", tt.kept, device(t, inv, camera).Addrs)
			}
		})
	}
}

func addrsOf(as []Address) []netip.Addr {
	out := make([]netip.Addr, len(as))
	for i, a := range as {
		out[i] = a.Addr
	}
	return out
}

// A device sending from ever new addresses keeps its newest maxAddrs, and
// the address index forgets the others: it must not grow without bound.
func TestAddressIndexBounded(t *testing.T) {
	inv := NewInventory(16, func(netip.Addr) bool { return true })
	mac, err := hwaddr.Parse("c0:56:e3:1a:2b:3c")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		inv.Seen(mac, ip, "", "neighbour", at.Add(time.Duration(i)*time.Second))
	}
	d, ok := inv.Lookup(Key{MAC: mac})
	if !ok || len(d.Addrs) != maxAddrs {
		t.Fatalf("device holds %d addresses, want %d", len(d.Addrs), maxAddrs)
	}
	if len(inv.byIP) != maxAddrs {
		t.Errorf("address index holds %d entries for one device with %d addresses", len(inv.byIP), maxAddrs)
	}
	for _, ip := range d.Addrs {
		if inv.byIP[ip] != d.Key {
			t.Errorf("%v not indexed to its device", ip)
		}
	}
}

// TestIPv6AddressMoves: an IPv6 host sends from its stable address, its
// temporary ones and a ULA at the same time, so having used another one
// does not mean it left an address; another device's packets take a
// global or unique local address only once its holder left it unused
// for a while, or when the router's DHCP server leases it.
func TestIPv6AddressMoves(t *testing.T) {
	const laptop, camera = "3c:a9:f4:6a:7b:8c", "c0:56:e3:1a:2b:3c"
	const temp, stable, ula = "2001:db8::a1b2:c3d4:e5f6:1", "2001:db8::3ea9:f4ff:fe6a:7b8c", "fd12:3456:789a::a1b2"
	type step struct {
		at      time.Duration
		how     string // packet or lease
		mac, ip string
	}
	tests := []struct {
		name  string
		steps []step
		addr  string
		owner string
	}{
		{
			name: "a spoofer does not take a live temporary address",
			steps: []step{{0, "packet", laptop, temp}, {time.Second, "packet", laptop, stable},
				{2 * time.Second, "packet", camera, temp}, {3 * time.Second, "packet", laptop, temp},
				{4 * time.Second, "packet", camera, temp}},
			addr: temp, owner: laptop,
		},
		{
			name: "nor a live ULA",
			steps: []step{{0, "packet", laptop, ula}, {time.Second, "packet", laptop, stable},
				{2 * time.Second, "packet", camera, ula}},
			addr: ula, owner: laptop,
		},
		{
			name: "nor one unused for nine minutes",
			steps: []step{{0, "packet", laptop, temp}, {time.Second, "packet", laptop, stable},
				{9 * time.Minute, "packet", camera, temp}},
			addr: temp, owner: laptop,
		},
		{
			name: "an address left long ago moves",
			steps: []step{{0, "packet", laptop, temp}, {time.Second, "packet", laptop, stable},
				{30 * time.Minute, "packet", laptop, stable}, {time.Hour, "packet", camera, temp}},
			addr: temp, owner: camera,
		},
		{
			name:  "an address idle but never replaced stays",
			steps: []step{{0, "packet", laptop, temp}, {time.Hour, "packet", camera, temp}},
			addr:  temp, owner: laptop,
		},
		{
			name: "a lease takes a live address",
			steps: []step{{0, "packet", laptop, temp}, {time.Second, "packet", laptop, stable},
				{2 * time.Second, "lease", camera, temp}},
			addr: temp, owner: camera,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := NewInventory(64, func(netip.Addr) bool { return true })
			for _, s := range tt.steps {
				mac, _ := hwaddr.Parse(s.mac)
				ip := netip.MustParseAddr(s.ip)
				switch s.how {
				case "packet":
					inv.ObservePacket(&inspect.Packet{Timestamp: t0.Add(s.at), Kind: inspect.KindUDP, HasMAC: true,
						SrcMAC: mac, Src: ip, Dst: netip.MustParseAddr("2001:db8::1")})
				case SourceLease:
					inv.Seen(mac, ip, "", SourceLease, t0.Add(s.at))
				default:
					t.Fatalf("step %q", s.how)
				}
			}
			addr := netip.MustParseAddr(tt.addr)
			if mac, _ := inv.HolderOf(addr); mac.String() != tt.owner {
				t.Errorf("HolderOf(%s) = %s, want %s", addr, mac, tt.owner)
			}
			for _, d := range inv.Devices() {
				if has, want := slices.Contains(d.Addrs, addr), d.Key.String() == tt.owner; has != want {
					t.Errorf("%s holds %s: %v, want %v (addresses %v)", d.Key, addr, has, want, d.Addrs)
				}
			}
		})
	}
}
