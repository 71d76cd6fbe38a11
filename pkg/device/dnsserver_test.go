package device

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/device/fingerprint"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// response is the header of a DNS response (ID 0x1a2b, QR and RD set,
// one question) and its question, "a.example A".
var response = []byte{0x1a, 0x2b, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}

// query is the query that response answers (QR clear).
var query = []byte{0x1a, 0x2b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}

// Servers a recursive resolver asks for avs-alexa-eu.amazon.com: a
// root server, a .com server, one of Amazon's.
const (
	rootServer   = "198.41.0.4"
	comServer    = "192.5.6.30"
	amazonServer = "205.251.242.103"
)

// fireTVMAC is the MAC of the Fire TV (192.168.1.30) the answers go to.
const fireTVMAC = "f0:27:2d:00:00:30"

// dnsReply is a packet from port 53 of src to a client port of dst,
// carrying a DNS response unless it is a TCP handshake. With a link
// layer (mac set) the frame goes to the Fire TV's MAC.
func dnsReply(mac, src, dst string, kind inspect.Kind, flags uint8) *inspect.Packet {
	p := &inspect.Packet{Timestamp: t0, Kind: kind, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: 53, DstPort: 41000, TCPFlags: flags, Length: 120}
	switch {
	case kind == inspect.KindUDP:
		p.Payload = response
	case flags&inspect.TCPFlagSYN == 0:
		p.Payload = append([]byte{0, byte(len(response))}, response...)
	}
	if mac != "" {
		p.HasMAC, p.SrcMAC, p.DstMAC = true, mustMAC(mac), mustMAC(fireTVMAC)
	}
	return p
}

// with returns p as f changes it.
func with(p *inspect.Packet, f func(*inspect.Packet)) *inspect.Packet {
	f(p)
	return p
}

// onTheLink is lan as the pipeline's engine says it: multicast and
// broadcast addresses never leave the link either.
func onTheLink(a netip.Addr) bool {
	return lan(a) || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// TestDNSServerNotNamedByDomains: a device that answers DNS for other LAN
// hosts, or resolves iteratively, looks up their names from its own
// address. A NAS or a Pi-hole saying little of itself (its own evidence
// below what caps domain votes) was named after the Fire TV, the Samsung
// TV and the Alexa speaker whose names it resolved. Its own evidence
// still names it. Still named by their domains: a device resolving its
// own names, or asking one internet server, or LAN servers, without
// recursion; and one sending from port 53 a handshake, a reset (data
// and all), a query, an answer to itself, to the internet, to a
// multicast group or to a subnet's broadcast address (by its MAC, or
// without one, by no device holding the address).
func TestDNSServerNotNamedByDomains(t *testing.T) {
	// The household's lookups, as a forwarder sends them upstream.
	household := []string{"avs-alexa-eu.amazon.com", "log-ingestion.samsungacr.com", "api.roku.com", "a2.tuyaeu.com"}
	const (
		client = "192.168.1.30" // the Fire TV asking the forwarder
		piMAC  = "da:a1:19:00:00:53"
	)
	tests := []struct {
		name    string
		mac     string // "" : a capture without a link layer
		ip      string
		dhcp    event.Evidence // nil: none
		domains []string
		// iterative: the lookups asked these servers, in turn, for no
		// recursion; nil: they asked for it.
		iterative []string
		// The device's packet: nil for none.
		reply       *inspect.Packet
		replyFirst  bool // the answer is seen before the lookups
		server      bool
		vendor, typ string
		os          string
		fromDomains bool // some attribute rests on a domain
	}{
		{
			name: "pihole_vm_answers_the_lan", mac: piMAC, ip: "192.168.1.53",
			dhcp: event.Evidence{"hostname": "pihole", "vendor_class": "udhcp 1.36.1"}, domains: household,
			reply:  dnsReply(piMAC, "192.168.1.53", client, inspect.KindUDP, 0),
			server: true, vendor: "", typ: TypeUnknown, os: "Linux",
		},
		{
			name: "answer_seen_before_the_lookups", mac: piMAC, ip: "192.168.1.53",
			dhcp: event.Evidence{"hostname": "pihole", "vendor_class": "udhcp 1.36.1"}, domains: household,
			reply: dnsReply(piMAC, "192.168.1.53", client, inspect.KindUDP, 0), replyFirst: true,
			server: true, vendor: "", typ: TypeUnknown, os: "Linux",
		},
		{
			// A NAS on a NIC maker's OUI: chip evidence is not its own
			// strong word, so the cap on domain votes did not hold.
			name: "nas_on_a_realtek_nic_over_tcp", mac: "00:e0:4c:00:00:02", ip: "192.168.1.4",
			domains: household,
			reply:   dnsReply("00:e0:4c:00:00:02", "192.168.1.4", client, inspect.KindTCP, inspect.TCPFlagACK|inspect.TCPFlagPSH),
			server:  true, vendor: "REALTEK", typ: TypeUnknown,
		},
		{
			name: "no_link_layer", ip: "192.168.1.53", domains: household,
			reply:  dnsReply("", "192.168.1.53", client, inspect.KindUDP, 0),
			server: true, vendor: "", typ: TypeUnknown,
		},
		{
			// A Linux cooked capture keeps the sender's MAC only.
			name: "cooked_capture", mac: piMAC, ip: "192.168.1.53", domains: household,
			reply:  with(dnsReply(piMAC, "192.168.1.53", client, inspect.KindUDP, 0), func(p *inspect.Packet) { p.DstMAC = hwaddr.MAC{} }),
			server: true, vendor: "", typ: TypeUnknown,
		},
		{
			// BIND with query-source port 53 asking the forwarder: a LAN
			// host it resolves for all the same.
			name: "answers_a_resolver_bound_to_port_53", mac: piMAC, ip: "192.168.1.53", domains: household,
			reply:  with(dnsReply(piMAC, "192.168.1.53", client, inspect.KindUDP, 0), func(p *inspect.Packet) { p.DstPort = 53 }),
			server: true, vendor: "", typ: TypeUnknown,
		},
		{
			// unbound behind a Pi-hole, its clients on wired ports the
			// capture does not see: it asks authoritative servers.
			name: "recursive_resolver_asks_authoritative_servers", mac: piMAC, ip: "192.168.1.53",
			dhcp: event.Evidence{"hostname": "pihole", "vendor_class": "udhcp 1.36.1"}, domains: household,
			iterative: []string{rootServer, comServer, amazonServer},
			server:    true, vendor: "", typ: TypeUnknown, os: "Linux",
		},
		// Negative cases.
		{
			name: "hue_bridge_resolving_its_cloud", mac: "00:17:88:01:02:03", ip: "192.168.1.60",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"ws.meethue.com"},
			vendor: "Philips Hue", typ: "hub", fromDomains: true,
		},
		{
			// One server asked without recursion, again and again: a
			// stub with RD clear, not a resolver walking the tree.
			name: "plug_asks_its_dns_server_without_recursion", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com", "a3.tuyaeu.com", "m2.tuyaeu.com"},
			iterative: []string{"8.8.8.8"},
			vendor:    "Tuya", typ: "plug", fromDomains: true,
		},
		{
			name: "plug_asks_two_servers_without_recursion", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com", "a3.tuyaeu.com", "m2.tuyaeu.com"},
			iterative: []string{"8.8.8.8", "1.1.1.1"},
			vendor:    "Tuya", typ: "plug", fromDomains: true,
		},
		{
			// LAN servers asked without recursion say nothing of
			// resolving the internet's names for others.
			name: "plug_asks_lan_servers_without_recursion", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com", "a3.tuyaeu.com", "m2.tuyaeu.com"},
			iterative: []string{"192.168.1.1", "192.168.1.2", "192.168.1.3"},
			vendor:    "Tuya", typ: "plug", fromDomains: true,
		},
		{
			// A reset may carry data (RFC 9293 3.5.3); the connection
			// ends with it, and what it carries answers nobody.
			name: "tuya_plug_resets_a_probe_of_port_53", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply:  dnsReply("24:0a:c4:12:34:56", "192.168.1.61", client, inspect.KindTCP, inspect.TCPFlagRST|inspect.TCPFlagACK),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
		{
			// A resolver bound to port 53 asking an upstream on another
			// port (unbound on 5335) sends a query, not an answer.
			name: "query_from_port_53", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply: with(dnsReply("24:0a:c4:12:34:56", "192.168.1.61", client, inspect.KindUDP, 0), func(p *inspect.Packet) {
				p.DstPort, p.Payload = 5335, query
			}),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
		{
			name: "answer_to_its_own_address", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply: with(dnsReply("24:0a:c4:12:34:56", "192.168.1.61", "192.168.1.61", inspect.KindUDP, 0), func(p *inspect.Packet) {
				p.DstMAC = p.SrcMAC
			}),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
		{
			// An access point converting multicast to unicast frames
			// for its Wi-Fi clients: a group's address, a host's MAC.
			name: "answer_to_a_multicast_group_in_a_unicast_frame", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply:  dnsReply("24:0a:c4:12:34:56", "192.168.1.61", "224.0.0.251", inspect.KindUDP, 0),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
		{
			name: "answer_to_the_subnet_broadcast", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply: with(dnsReply("24:0a:c4:12:34:56", "192.168.1.61", "192.168.1.255", inspect.KindUDP, 0), func(p *inspect.Packet) {
				p.DstMAC = mustMAC("ff:ff:ff:ff:ff:ff")
			}),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
		{
			name: "answer_to_the_subnet_broadcast_in_a_cooked_capture", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply: with(dnsReply("24:0a:c4:12:34:56", "192.168.1.61", "192.168.1.255", inspect.KindUDP, 0), func(p *inspect.Packet) {
				p.DstMAC = hwaddr.MAC{}
			}),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
		{
			name: "answer_to_the_subnet_broadcast_without_a_link_layer", ip: "192.168.1.61",
			domains: []string{"a2.tuyaeu.com"},
			reply:   dnsReply("", "192.168.1.61", "192.168.1.255", inspect.KindUDP, 0),
			vendor:  "Tuya", typ: "plug", fromDomains: true,
		},
		{
			// Its open port answers a scan's SYN: nothing says it
			// resolves for anyone.
			name: "tuya_plug_with_port_53_open", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply:  dnsReply("24:0a:c4:12:34:56", "192.168.1.61", client, inspect.KindTCP, inspect.TCPFlagSYN|inspect.TCPFlagACK),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
		{
			// Answering a host on the internet (a forwarded port) is not
			// resolving for the household.
			name: "answer_to_the_internet", mac: "24:0a:c4:12:34:56", ip: "192.168.1.61",
			dhcp: event.Evidence{"prl": "1,3,28,6"}, domains: []string{"a2.tuyaeu.com"},
			reply:  dnsReply("24:0a:c4:12:34:56", "192.168.1.61", "203.0.113.9", inspect.KindUDP, 0),
			vendor: "Tuya", typ: "plug", fromDomains: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := NewInventory(64, onTheLink)
			// The Fire TV is known by its address.
			inv.Emit(obs("", client, event.KindDNSQuery, event.Evidence{"name": "avs-alexa-eu.amazon.com", "qtype": "A"}))
			if tt.dhcp != nil {
				inv.Emit(dhcp(tt.mac, tt.dhcp))
			}
			if tt.reply != nil && tt.replyFirst {
				inv.ObservePacket(tt.reply)
			}
			var d *Device
			for i, name := range tt.domains {
				ev := obs(tt.mac, tt.ip, event.KindDNSQuery, event.Evidence{"name": name, "qtype": "A"})
				if tt.iterative != nil {
					ev.Evidence["iterative"] = "yes"
					ev.Flow = &event.Flow{Transport: "udp", Client: ev.Device, Server: event.Endpoint{IP: tt.iterative[i%len(tt.iterative)]}}
				}
				d = inv.File(ev)
			}
			if tt.reply != nil && !tt.replyFirst {
				inv.ObservePacket(tt.reply)
			}
			d, _ = inv.Lookup(d.Key)
			id := d.Identity
			if id.DNSServer != tt.server {
				t.Errorf("dns_server %v, want %v", id.DNSServer, tt.server)
			}
			if id.Vendor.Value != tt.vendor || id.Type.Value != tt.typ || tt.os != "" && id.OS.Value != tt.os {
				t.Errorf("vendor %q type %q os %q (alternatives %v, %v), want %q %q %q", id.Vendor.Value, id.Type.Value, id.OS.Value,
					id.Vendor.Alternatives, id.Type.Alternatives, tt.vendor, tt.typ, tt.os)
			}
			domainEv := 0
			for _, a := range []Attribute{id.Vendor, id.Type, id.Model, id.OS} {
				for _, e := range a.Evidence {
					if e.Signal == string(fingerprint.SigDomain) {
						domainEv++
					}
				}
			}
			if (domainEv > 0) != tt.fromDomains {
				t.Errorf("%d pieces of domain evidence, want some: %v", domainEv, tt.fromDomains)
			}
			if tt.server {
				for _, v := range d.votes {
					if v.ev.Signal == string(fingerprint.SigDomain) {
						t.Errorf("a domain vote kept: %+v", v)
					}
				}
			}
		})
	}
}

// TestDNSServerMergedAddressDevice: what a capture told of an address
// before its MAC was known goes with it to the MAC's device: its
// answering DNS for others, its own evidence however many domain votes
// the MAC's device held, and the servers it asked without recursion,
// which count with those it asks later.
func TestDNSServerMergedAddressDevice(t *testing.T) {
	const ip = "192.168.1.53"
	m := mustMAC("da:a1:19:00:00:53")
	lookup := func(mac, name, server string) func(*Inventory) {
		return func(inv *Inventory) {
			ev := obs(mac, ip, event.KindDNSQuery, event.Evidence{"name": name})
			if server != "" {
				ev.Evidence["iterative"] = "yes"
				ev.Flow = &event.Flow{Transport: "udp", Client: ev.Device, Server: event.Endpoint{IP: server}}
			}
			inv.Emit(ev)
		}
	}
	answer := func(inv *Inventory) { inv.ObservePacket(dnsReply("", ip, "192.168.1.30", inspect.KindUDP, 0)) }
	// The address's own word: udhcpc's vendor class names Linux.
	udhcp := func(inv *Inventory) {
		inv.Emit(obs("", ip, event.KindDHCP, event.Evidence{"vendor_class": "udhcp 1.36.1"}))
	}
	// The MAC's device, known by another address, full of the
	// household's domain votes.
	fullOfDomains := func(inv *Inventory) {
		d := inv.get(Key{MAC: m}, t0)
		for i := range maxVotes {
			inv.addVote(d, fieldVendor, fmt.Sprintf("Vendor %d", i), Evidence{Signal: string(fingerprint.SigDomain),
				Source: string(event.KindDNSQuery), Value: fmt.Sprintf("api.vendor%d.example", i), Rule: fmt.Sprintf("domain-%d", i), Weight: 0.2, Time: t0})
		}
	}
	tests := []struct {
		name          string
		before, after []func(*Inventory)
		server        bool
		os            string
	}{
		{"answered_the_lan_before_its_mac",
			[]func(*Inventory){lookup("", "avs-alexa-eu.amazon.com", ""), answer},
			[]func(*Inventory){lookup(m.String(), "log-ingestion.samsungacr.com", "")}, true, ""},
		// The mark comes before the address's votes: the MAC's domain
		// votes leave room for them (maxVotes).
		{"answered_the_lan_beside_a_mac_full_of_domains",
			[]func(*Inventory){fullOfDomains, udhcp, answer}, nil, true, "Linux"},
		{"asked_servers_without_recursion_before_and_after_its_mac",
			[]func(*Inventory){lookup("", "avs-alexa-eu.amazon.com", rootServer), lookup("", "avs-alexa-eu.amazon.com", comServer)},
			[]func(*Inventory){lookup(m.String(), "avs-alexa-eu.amazon.com", amazonServer)}, true, ""},
		// Negative: two servers, one of them asked again.
		{"asked_two_servers_without_recursion",
			[]func(*Inventory){lookup("", "avs-alexa-eu.amazon.com", rootServer), lookup("", "avs-alexa-eu.amazon.com", comServer)},
			[]func(*Inventory){lookup(m.String(), "avs-alexa-eu.amazon.com", rootServer)}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			// The Fire TV the answer goes to.
			inv.Emit(obs(fireTVMAC, "192.168.1.30", event.KindDHCP, event.Evidence{"hostname": "firetv"}))
			for _, step := range tt.before {
				step(inv)
			}
			inv.ObservePacket(&inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: m,
				Src: netip.MustParseAddr(ip), Dst: netip.MustParseAddr("203.0.113.53"), SrcPort: 40000, DstPort: 53})
			for _, step := range tt.after {
				step(inv)
			}
			id := device(t, inv, m.String()).Identity
			if id.DNSServer != tt.server {
				t.Errorf("dns_server %v, want %v", id.DNSServer, tt.server)
			}
			if tt.server && (id.Vendor.Value != "" || id.Type.Value != TypeUnknown) {
				t.Errorf("vendor %q, type %q: want a DNS server named by nothing", id.Vendor.Value, id.Type.Value)
			}
			if id.OS.Value != tt.os {
				t.Errorf("os %q, want %q", id.OS.Value, tt.os)
			}
		})
	}
}

func TestObserveDNSAnswerAllocatesNothing(t *testing.T) {
	for _, mac := range []string{"da:a1:19:00:00:53", ""} {
		inv := newInv()
		inv.Emit(obs("", "192.168.1.30", event.KindDNSQuery, event.Evidence{"name": "avs-alexa-eu.amazon.com"}))
		inv.Emit(obs(mac, "192.168.1.53", event.KindDNSQuery, event.Evidence{"name": "api.roku.com"}))
		p := dnsReply(mac, "192.168.1.53", "192.168.1.30", inspect.KindUDP, 0)
		inv.ObservePacket(p)
		if n := testing.AllocsPerRun(1000, func() { inv.ObservePacket(p) }); n != 0 {
			t.Errorf("mac %q: ObservePacket allocates %v times for a known DNS server's answer", mac, n)
		}
		if k, ok := inv.byIP[netip.MustParseAddr("192.168.1.53")]; !ok || !inv.devices[k].Identity.DNSServer {
			t.Errorf("mac %q: the answer marked no DNS server", mac)
		}
	}
}
