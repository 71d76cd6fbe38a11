package inspect

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// routerAdvertisement builds an ICMPv6 router advertisement holding one
// prefix information option.
func routerAdvertisement(prefix netip.Prefix, flags byte, validLifetime uint32, optLen byte) []byte {
	b := make([]byte, raHeaderLen, raHeaderLen+prefixInfoLen)
	b[0] = icmpv6RouterAdvert
	opt := make([]byte, prefixInfoLen)
	opt[0], opt[1], opt[2], opt[3] = ndOptPrefixInfo, optLen, byte(prefix.Bits()), flags
	binary.BigEndian.PutUint32(opt[4:8], validLifetime)
	binary.BigEndian.PutUint32(opt[8:12], validLifetime)
	a := prefix.Addr().As16()
	copy(opt[16:], a[:])
	return append(b, opt...)
}

func TestOnLinkPrefixes(t *testing.T) {
	router, other := hwaddr.MAC{0x94, 0x83, 0xc4, 0x50, 0, 1}, hwaddr.MAC{2, 0, 0, 0, 0, 0x66}
	delegated := netip.MustParsePrefix("2001:db8:5:1::/64")
	laptop, server := netip.MustParseAddr("2001:db8:5:1::10"), netip.MustParseAddr("2a00:1450:4001:80b::5")
	isRouter := func(m hwaddr.MAC) bool { return m == router }
	good := routerAdvertisement(delegated, prefixInfoOnLink|0x40, 86400, 4)
	advert := func(payload []byte, from hwaddr.MAC, hopLimit uint8, src string) *Packet {
		return &Packet{Kind: KindIP, IPProto: IPProtocolICMPv6, TTL: hopLimit, HasMAC: true, SrcMAC: from,
			Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr("ff02::1"), Payload: payload, Timestamp: t0}
	}
	tests := []struct {
		name      string
		routerMAC func(hwaddr.MAC) bool // nil: a capture file
		set       []netip.Prefix        // SetOnLink
		packet    *Packet
		local     bool
	}{
		{"nothing_known", nil, nil, nil, false},
		{"set_by_the_daemon", isRouter, []netip.Prefix{delegated, netip.MustParsePrefix("192.168.1.0/24")}, nil, true},
		{"advertised_in_a_capture_file", nil, nil, advert(good, other, 255, "fe80::1"), true},
		{"advertised_by_the_router", isRouter, nil, advert(good, router, 255, "fe80::1"), true},
		{"advertised_by_another_host_live", isRouter, nil, advert(good, other, 255, "fe80::1"), false},
		{"hop_limit_not_255", nil, nil, advert(good, router, 64, "fe80::1"), false},
		{"not_from_link_local", nil, nil, advert(good, router, 255, "2001:db8:5:1::1"), false},
		{"not_on_link", nil, nil, advert(routerAdvertisement(delegated, 0x40, 86400, 4), router, 255, "fe80::1"), false},
		{"expired", nil, nil, advert(routerAdvertisement(delegated, prefixInfoOnLink, 0, 4), router, 255, "fe80::1"), false},
		{"too_short_for_a_lan", nil, nil, advert(routerAdvertisement(netip.MustParsePrefix("2a00:1450::/32"), prefixInfoOnLink, 86400, 4), router, 255, "fe80::1"), false},
		{"option_length_zero", nil, nil, advert(routerAdvertisement(delegated, prefixInfoOnLink, 86400, 0), router, 255, "fe80::1"), false},
		{"option_longer_than_the_message", nil, nil, advert(routerAdvertisement(delegated, prefixInfoOnLink, 86400, 5), router, 255, "fe80::1"), false},
		{"truncated", nil, nil, advert(good[:raHeaderLen+8], router, 255, "fe80::1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.HashKey = []byte("engine test key")
			e, err := NewEngine(cfg, Options{Sink: &discard{}, RouterMAC: tt.routerMAC})
			if err != nil {
				t.Fatal(err)
			}
			if tt.set != nil {
				e.SetOnLink(tt.set)
			}
			if tt.packet != nil {
				e.HandlePacket(tt.packet)
			}
			if got := e.IsLocal(laptop); got != tt.local {
				t.Errorf("IsLocal(%v) = %v, want %v", laptop, got, tt.local)
			}
			if e.IsLocal(server) {
				t.Errorf("IsLocal(%v): an internet server counts as the LAN", server)
			}
			if !e.IsLocal(netip.MustParseAddr("192.168.1.7")) {
				t.Error("the configured private prefixes no longer count")
			}
		})
	}
}

// TestOnLinkBounded: a stream of advertisements of ever new prefixes
// keeps the newest maxRAPrefixes, and a repeat costs nothing.
func TestOnLinkBounded(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	for i := range 3 * maxRAPrefixes {
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i)}), 64)
		e.HandlePacket(&Packet{Kind: KindIP, IPProto: IPProtocolICMPv6, TTL: 255, Src: netip.MustParseAddr("fe80::1"),
			Payload: routerAdvertisement(p, prefixInfoOnLink, 600, 4), Timestamp: t0})
	}
	if n := len(e.onLink.fromRA); n != maxRAPrefixes {
		t.Fatalf("%d prefixes kept, want %d", n, maxRAPrefixes)
	}
	newest := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 3*maxRAPrefixes - 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9})
	oldest := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9})
	if !e.IsLocal(newest) || e.IsLocal(oldest) {
		t.Errorf("IsLocal(newest) = %v, IsLocal(oldest) = %v; want true, false", e.IsLocal(newest), e.IsLocal(oldest))
	}
	again := &Packet{Kind: KindIP, IPProto: IPProtocolICMPv6, TTL: 255, Src: netip.MustParseAddr("fe80::1"),
		Payload: routerAdvertisement(netip.PrefixFrom(newest, 64).Masked(), prefixInfoOnLink, 600, 4), Timestamp: t0}
	if n := testing.AllocsPerRun(100, func() { e.HandlePacket(again) }); n != 0 {
		t.Errorf("a repeated advertisement allocates %v times", n)
	}
}

// FuzzRouterAdvert: any ICMPv6 message leaves the learned prefixes
// bounded, each an advertised LAN's: global unicast, /48 to /128.
func FuzzRouterAdvert(f *testing.F) {
	f.Add(routerAdvertisement(netip.MustParsePrefix("2001:db8:5:1::/64"), prefixInfoOnLink, 600, 4))
	f.Add(routerAdvertisement(netip.MustParsePrefix("2001:db8::/32"), prefixInfoOnLink, 600, 4))
	f.Add([]byte{icmpv6RouterAdvert, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		e := testEngine(t, DefaultConfig())
		for range 2 {
			e.HandlePacket(&Packet{Kind: KindIP, IPProto: IPProtocolICMPv6, TTL: 255, Src: netip.MustParseAddr("fe80::1"), Payload: msg, Timestamp: t0})
		}
		if len(e.onLink.fromRA) > maxRAPrefixes {
			t.Fatalf("%d prefixes learned", len(e.onLink.fromRA))
		}
		for _, p := range e.onLink.fromRA {
			if !p.Addr().IsGlobalUnicast() || p.Bits() < minAdvertisedPrefix || p != p.Masked() {
				t.Errorf("learned %v", p)
			}
		}
	})
}

// TestOnLinkPlacesOpenFlows: a connection opened before its prefix was
// known takes its LAN sides when the prefix comes (from an advertisement
// or the interfaces), and gives them up after a renumbering, rather than
// keeping them for as long as it lasts.
func TestOnLinkPlacesOpenFlows(t *testing.T) {
	delegated := netip.MustParsePrefix("2001:db8:5:1::/64")
	laptop := netip.MustParseAddrPort("[2001:db8:5:1::10]:40000")
	camera := netip.MustParseAddrPort("[2001:db8:5:1::64]:1883")
	server := netip.MustParseAddrPort("[2a00:1450:4001:80b::5]:1883")
	laptopMAC := hwaddr.MAC{2, 0, 0, 0, 0, 0x10}
	syn := func(c, s netip.AddrPort) *Packet {
		return &Packet{Kind: KindTCP, IPProto: IPProtocolTCP, TCPFlags: TCPFlagSYN, Timestamp: t0,
			Src: c.Addr(), SrcPort: c.Port(), Dst: s.Addr(), DstPort: s.Port(), HasMAC: true, SrcMAC: laptopMAC}
	}
	advert := &Packet{Kind: KindIP, IPProto: IPProtocolICMPv6, TTL: 255, Src: netip.MustParseAddr("fe80::1"),
		Dst: netip.MustParseAddr("ff02::1"), Payload: routerAdvertisement(delegated, prefixInfoOnLink, 600, 4), Timestamp: t0}
	type sides struct{ client, server bool }
	tests := []struct {
		name        string
		before      []netip.Prefix // SetOnLink before the connections open
		change      func(e *Engine)
		toCamera    sides
		toInternet  sides
		wantChanged bool
	}{
		{"advertised_later", nil, func(e *Engine) { e.HandlePacket(advert) }, sides{true, true}, sides{true, false}, true},
		{"interfaces_read_later", nil, func(e *Engine) { e.SetOnLink([]netip.Prefix{delegated}) }, sides{true, true}, sides{true, false}, true},
		{"renumbered", []netip.Prefix{delegated}, func(e *Engine) { e.SetOnLink([]netip.Prefix{netip.MustParsePrefix("2001:db8:7:1::/64")}) }, sides{false, false}, sides{false, false}, true},
		{"unchanged", []netip.Prefix{delegated}, func(e *Engine) { e.SetOnLink([]netip.Prefix{delegated}) }, sides{true, true}, sides{true, false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEngine(t, DefaultConfig())
			if tt.before != nil {
				e.SetOnLink(tt.before)
			}
			e.HandlePacket(syn(laptop, camera))
			e.HandlePacket(syn(laptop, server))
			flow := func(s netip.AddrPort) *Flow {
				for l := range e.table.lru {
					for i := e.table.lru[l].head; i != 0; i = e.table.at(i).next {
						if f := e.table.at(i); f.Server() == s {
							return f
						}
					}
				}
				t.Fatalf("no flow to %v", s)
				return nil
			}
			was := sides{flow(camera).ClientLocal, flow(camera).ServerLocal}
			tt.change(e)
			for _, c := range []struct {
				to   netip.AddrPort
				want sides
			}{{camera, tt.toCamera}, {server, tt.toInternet}} {
				f := flow(c.to)
				if got := (sides{f.ClientLocal, f.ServerLocal}); got != c.want {
					t.Errorf("flow to %v: (client, server) local = %v, want %v", c.to, got, c.want)
				}
				if !f.ClientLocal && f.ClientMAC != (hwaddr.MAC{}) {
					t.Errorf("flow to %v: the client is no longer on the LAN but keeps the MAC %v", c.to, f.ClientMAC)
				}
			}
			if changed := was != tt.toCamera; changed != tt.wantChanged {
				t.Errorf("the camera's flow changed sides: %v, want %v (before: %v)", changed, tt.wantChanged, was)
			}
		})
	}
}

// TestToGroup: a flow to a multicast address, the limited broadcast or
// the directed broadcast of a configured or interface prefix reaches a
// group; a host address that ends in 255 inside a wider prefix, a
// public address and a /31's address do not.
func TestToGroup(t *testing.T) {
	tests := []struct {
		name   string
		lan    []netip.Prefix // nil: DefaultLAN
		onLink []netip.Prefix
		server string
		want   bool
	}{
		{"limited_broadcast", nil, nil, "255.255.255.255", true},
		{"ipv4_multicast", nil, nil, "239.255.255.250", true},
		{"ipv6_multicast", nil, nil, "ff02::1", true},
		{"configured_prefix_broadcast", []netip.Prefix{netip.MustParsePrefix("192.168.7.0/24")}, nil, "192.168.7.255", true},
		{"interface_prefix_broadcast", nil, []netip.Prefix{netip.MustParsePrefix("192.168.1.1/24")}, "192.168.1.255", true},
		{"interface_prefix_host", nil, []netip.Prefix{netip.MustParsePrefix("192.168.0.1/23")}, "192.168.0.255", false},
		{"interface_prefix_unknown", nil, nil, "192.168.1.255", false},
		{"point_to_point", []netip.Prefix{netip.MustParsePrefix("192.168.7.0/31")}, nil, "192.168.7.1", false},
		{"unicast", nil, nil, "192.168.1.20", false},
		{"internet", nil, nil, "203.0.113.255", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.HashKey = []byte("engine test key")
			if tt.lan != nil {
				cfg.LAN = tt.lan
			}
			e, err := NewEngine(cfg, Options{Sink: &discard{}})
			if err != nil {
				t.Fatal(err)
			}
			e.SetOnLink(tt.onLink)
			client := netip.MustParseAddrPort("192.168.1.10:50000")
			server := netip.MustParseAddr(tt.server)
			if server.Is6() {
				client = netip.MustParseAddrPort("[fd00::10]:50000")
			}
			f := e.table.insert(e, client, netip.AddrPortFrom(server, 161), IPProtocolUDP)
			if got := f.ToGroup(); got != tt.want {
				t.Errorf("ToGroup() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOnLinkPlacementSpaced: advertisements naming new prefixes walk the
// flow table at most once a second of capture time; the prefixes learned
// in between take effect at the first packet after it.
func TestOnLinkPlacementSpaced(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	first, second := netip.MustParsePrefix("2001:db8:5:1::/64"), netip.MustParsePrefix("2001:db8:5:2::/64")
	advert := func(p netip.Prefix, at time.Duration) *Packet {
		return &Packet{Kind: KindIP, IPProto: IPProtocolICMPv6, TTL: 255, Src: netip.MustParseAddr("fe80::1"),
			Dst: netip.MustParseAddr("ff02::1"), Payload: routerAdvertisement(p, prefixInfoOnLink, 600, 4), Timestamp: t0.Add(at)}
	}
	udp := func(client string, at time.Duration) *Packet {
		c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort("[2a00:1450:4001:80b::5]:123")
		return &Packet{Kind: KindUDP, IPProto: IPProtocolUDP, Timestamp: t0.Add(at), Payload: []byte{0x23},
			Src: c.Addr(), SrcPort: c.Port(), Dst: s.Addr(), DstPort: s.Port()}
	}
	e.HandlePacket(udp("[2001:db8:5:1::10]:40000", 0))
	e.HandlePacket(udp("[2001:db8:5:2::10]:40000", 0))
	clientLocal := func(client string) bool {
		a := netip.MustParseAddrPort(client)
		for l := range e.table.lru {
			for i := e.table.lru[l].head; i != 0; i = e.table.at(i).next {
				if f := e.table.at(i); f.Client() == a {
					return f.ClientLocal
				}
			}
		}
		t.Fatalf("no flow from %v", a)
		return false
	}
	steps := []struct {
		packet        *Packet
		first, second bool // the flows' clients on the LAN after the packet
	}{
		{advert(first, 100*time.Millisecond), true, false},
		{advert(second, 600*time.Millisecond), true, false}, // learned, placed later
		{udp("[2001:db8:5:1::10]:40000", 900*time.Millisecond), true, false},
		{udp("[2001:db8:5:1::10]:40000", 1200*time.Millisecond), true, true},
	}
	for i, s := range steps {
		e.HandlePacket(s.packet)
		if !e.IsLocal(netip.MustParseAddr("2001:db8:5:2::10")) && i >= 1 {
			t.Fatalf("step %d: the second prefix was not learned", i)
		}
		if a, b := clientLocal("[2001:db8:5:1::10]:40000"), clientLocal("[2001:db8:5:2::10]:40000"); a != s.first || b != s.second {
			t.Errorf("step %d: clients local = %v, %v; want %v, %v", i, a, b, s.first, s.second)
		}
	}
}
