package device_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/dns"
	miekg "github.com/miekg/dns"
)

// mdnsResponse packs an mDNS response as a responder sends it.
func mdnsResponse(t *testing.T, records ...string) []byte {
	t.Helper()
	m := &miekg.Msg{MsgHdr: miekg.MsgHdr{Response: true, Authoritative: true}, Compress: true}
	for _, s := range records {
		rr, err := miekg.NewRR(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inspecting returns an inventory fed by an engine running the DNS
// analyzer, as the pipeline wires them, with a LAN of the private and
// link-local ranges.
func inspecting(t *testing.T) (*inspect.Engine, *device.Inventory) {
	t.Helper()
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("device test fixed key, 32 bytes!")
	inv := device.NewInventory(64, func(a netip.Addr) bool {
		return slices.ContainsFunc(cfg.LAN, func(p netip.Prefix) bool { return p.Contains(a) })
	})
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{dns.New()}, Sink: inv, Packets: inv})
	if err != nil {
		t.Fatal(err)
	}
	return e, inv
}

// udp is a UDP datagram from mac at src to dst ("192.168.1.2:5353").
func udp(at time.Time, mac hwaddr.MAC, src, dst string, payload []byte) *inspect.Packet {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	return &inspect.Packet{Timestamp: at, Length: 42 + len(payload), HasMAC: true, SrcMAC: mac,
		Src: s.Addr(), Dst: d.Addr(), SrcPort: s.Port(), DstPort: d.Port(), IPProto: 17, TTL: 64,
		Kind: inspect.KindUDP, Payload: payload}
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// announce runs mDNS datagrams from mac at src through the DNS analyzer
// into a new inventory.
func announce(t *testing.T, mac hwaddr.MAC, src string, msgs ...[]byte) *device.Inventory {
	t.Helper()
	e, inv := inspecting(t)
	from, group := src+":5353", "224.0.0.251:5353"
	if netip.MustParseAddr(src).Is6() {
		from, group = "["+src+"]:5353", "[ff02::fb]:5353"
	}
	for i, m := range msgs {
		e.HandlePacket(udp(epoch.Add(time.Duration(i)*time.Second), mac, from, group, m))
	}
	e.Flush()
	return inv
}

// TestMixedMDNSAnnouncementIdentity: an Apple TV answering for a sleeping
// MacBook (Bonjour Sleep Proxy), and a Raspberry Pi whose avahi reflector
// packs a relayed printer's records with its own, are what their own
// records say: not a Mac, not a printer. The same devices announcing
// only themselves are identified as before.
func TestMixedMDNSAnnouncementIdentity(t *testing.T) {
	appleTV := []string{
		`_airplay._tcp.local. 4500 IN PTR Living\ Room._airplay._tcp.local.`,
		`Living\ Room._airplay._tcp.local. 120 IN SRV 0 0 7000 Living-Room.local.`,
		`Living\ Room._airplay._tcp.local. 4500 IN TXT "model=AppleTV11,1" "srcvers=620.8.2"`,
		`Living-Room.local. 120 IN A 192.168.1.10`,
	}
	mac := []string{
		`_smb._tcp.local. 4500 IN PTR Bobs\ MacBook\ Pro._smb._tcp.local.`,
		`Bobs\ MacBook\ Pro._smb._tcp.local. 120 IN SRV 0 0 445 Bobs-MacBook-Pro.local.`,
		`Bobs\ MacBook\ Pro._device-info._tcp.local. 4500 IN TXT "model=MacBookPro18,3" "osxvers=23"`,
		`Bobs-MacBook-Pro.local. 120 IN A 192.168.1.20`,
	}
	pi := []string{
		`raspberrypi._ssh._tcp.local. 120 IN SRV 0 0 22 raspberrypi.local.`,
		`raspberrypi.local. 120 IN A 192.168.1.2`,
	}
	printer := []string{
		`HP\ LaserJet\ M404._ipp._tcp.local. 120 IN SRV 0 0 631 HP-LaserJet-M404.local.`,
		`HP\ LaserJet\ M404._ipp._tcp.local. 4500 IN TXT "ty=HP LaserJet Pro M404dn" "usb_MFG=HP" "usb_MDL=LaserJet Pro M404dn"`,
		`HP-LaserJet-M404.local. 120 IN A 192.168.1.40`,
	}
	tests := []struct {
		name         string
		mac, ip      string
		records      []string
		vendor, typ  string
		model, os    string
		hostnames    []string
		notValues    []string // values no attribute may have, nor name as an alternative
		alternatives bool     // rivals expected in vendor, type, model or OS
	}{
		{"apple_tv_answers_for_a_sleeping_mac", "f0:b3:ec:00:00:10", "192.168.1.10", slices.Concat(appleTV, mac),
			"Apple", "media_player", "AppleTV11,1", "", []string{"Living-Room"}, []string{"MacBookPro18,3", "macOS", "computer"}, false},
		{"the_macs_records_first", "f0:b3:ec:00:00:10", "192.168.1.10", slices.Concat(mac, appleTV),
			"Apple", "media_player", "AppleTV11,1", "", []string{"Living-Room"}, []string{"MacBookPro18,3", "macOS", "computer"}, false},
		// The Apple TV's own records name no address of it, the Mac's
		// name its IPv4 and link-local addresses: the Mac's are another
		// host's, and nothing ties the Apple TV's to the sender.
		{"own_records_without_addresses", "f0:b3:ec:00:00:10", "192.168.1.10",
			slices.Concat(appleTV[:3], mac, []string{`Bobs-MacBook-Pro.local. 120 IN AAAA fe80::8a66:5aff:fe11:2220`}),
			"Apple", device.TypeUnknown, "", "", nil, []string{"MacBookPro18,3", "macOS", "computer"}, false},
		{"reflector_packs_a_relayed_printer", "b8:27:eb:00:00:02", "192.168.1.2", slices.Concat(pi, printer),
			"Raspberry Pi", "computer", "", "Linux", []string{"raspberrypi"}, []string{"printer", "HP"}, false},
		// Negative cases: each device announcing itself alone.
		{"apple_tv_alone", "f0:b3:ec:00:00:10", "192.168.1.10", appleTV,
			"Apple", "media_player", "AppleTV11,1", "", []string{"Living-Room"}, []string{"computer", "macOS"}, false},
		{"mac_alone", "3c:22:fb:00:00:20", "192.168.1.20", mac,
			"Apple", "computer", "MacBookPro18,3", "macOS", []string{"Bobs-MacBook-Pro"}, nil, false},
		{"printer_alone", "14:cb:19:00:00:40", "192.168.1.40", printer,
			"HP", "printer", "LaserJet Pro M404dn", "", []string{"HP-LaserJet-M404"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := hwaddr.Parse(tt.mac)
			if err != nil {
				t.Fatal(err)
			}
			inv := announce(t, m, tt.ip, mdnsResponse(t, tt.records...))
			d, ok := inv.Lookup(device.Key{MAC: m})
			if !ok {
				t.Fatal("no device")
			}
			id := d.Identity
			attrs := []struct {
				what string
				a    device.Attribute
				want string
			}{{"vendor", id.Vendor, tt.vendor}, {"type", id.Type, tt.typ}, {"model", id.Model, tt.model}, {"os", id.OS, tt.os}}
			for _, c := range attrs {
				if c.want != "" && c.a.Value != c.want {
					t.Errorf("%s %q, want %q (alternatives %v)", c.what, c.a.Value, c.want, c.a.Alternatives)
				}
				for _, not := range tt.notValues {
					if c.a.Value == not || slices.ContainsFunc(c.a.Alternatives, func(a device.Alternative) bool { return a.Value == not }) {
						t.Errorf("%s %q (alternatives %v): the other host's records counted", c.what, c.a.Value, c.a.Alternatives)
					}
				}
				if !tt.alternatives && len(c.a.Alternatives) > 0 {
					t.Errorf("%s %q has rivals %v", c.what, c.a.Value, c.a.Alternatives)
				}
			}
			var names []string
			for _, h := range d.Hostnames {
				names = append(names, h.Name)
			}
			if !slices.Equal(names, tt.hostnames) {
				t.Errorf("host names %q, want %q", names, tt.hostnames)
			}
		})
	}
}

// TestBorderRouterRelaysAccessories: a HomePod serving as a Thread border
// router announces its accessories' records, each host with its address
// on the mesh's ULA prefix, in a response of its own over IPv4. Split by
// host, none with the sender's address, they gave the HomePod the
// accessories' host names and the Eve sensor's model. Only a host with
// an address the HomePod used is its own; a response naming one host is
// judged as before.
func TestBorderRouterRelaysAccessories(t *testing.T) {
	const (
		ipv4 = "192.168.1.15"
		ula  = "fd5a:1b2c:3d4e:0:1c2b:3aff:fe4d:5e15" // the HomePod's own
	)
	homePod := hwaddr.MAC{0x28, 0xcf, 0xda, 0, 0, 0x15} // Apple
	own := []string{
		`Living\ Room._airplay._tcp.local. 120 IN SRV 0 0 7000 Living-Room-HomePod.local.`,
		`Living\ Room._airplay._tcp.local. 4500 IN TXT "model=AudioAccessory5,1"`,
		`Living-Room-HomePod.local. 120 IN AAAA ` + ula,
	}
	accessories := []string{
		`Eve\ Motion\ 1A2B._hap._udp.local. 120 IN SRV 0 0 5683 EveMotion.local.`,
		`Eve\ Motion\ 1A2B._hap._udp.local. 4500 IN TXT "md=Eve Motion" "ci=10"`,
		`EveMotion.local. 120 IN AAAA fd5a:1b2c:3d4e:1:8c4f:2a11:7e3b:9d01`,
		`Nanoleaf\ A1._hap._udp.local. 120 IN SRV 0 0 5683 Nanoleaf-A1.local.`,
		`Nanoleaf\ A1._hap._udp.local. 4500 IN TXT "md=NL42" "ci=5"`,
		`Nanoleaf-A1.local. 120 IN AAAA fd5a:1b2c:3d4e:1:4411:22ff:fe33:4455`,
	}
	tests := []struct {
		name      string
		usedULA   bool // the HomePod sent from its ULA address before
		records   []string
		model     string
		hostnames []string
	}{
		{"accessories_alone", true, accessories, "", nil},
		{"accessories_beside_its_own_records", true, slices.Concat(accessories, own), "AudioAccessory5,1", []string{"Living-Room-HomePod"}},
		// Its own records among others, by an address it never sent
		// from: nothing says which host is the sender.
		{"own_records_by_an_address_not_seen", false, slices.Concat(own, accessories), "", nil},
		// Negative case: its own records alone, unknown ULA and all,
		// are its own as before.
		{"own_records_alone", false, own, "AudioAccessory5,1", []string{"Living-Room-HomePod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, inv := inspecting(t)
			if tt.usedULA {
				e.HandlePacket(udp(epoch, homePod, "["+ula+"]:5353", "[ff02::fb]:5353", nil))
			}
			e.HandlePacket(udp(epoch.Add(time.Second), homePod, ipv4+":5353", "224.0.0.251:5353", mdnsResponse(t, tt.records...)))
			e.Flush()
			d, ok := inv.Lookup(device.Key{MAC: homePod})
			if !ok {
				t.Fatal("no device")
			}
			var names []string
			for _, h := range d.Hostnames {
				names = append(names, h.Name)
			}
			if m := d.Identity.Model; m.Value != tt.model || !slices.Equal(names, tt.hostnames) {
				t.Errorf("model %q (alternatives %v), host names %q; want %q, %q", m.Value, m.Alternatives, names, tt.model, tt.hostnames)
			}
		})
	}
}
