package device

import (
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// TestDHCPFiledUnderItsClient: the client hardware address in a DHCP
// message names the device only when the frame came from it, no frame
// MAC is known, or a relay forwarded the message for a client on another
// link; a LAN client writing another device's MAC into chaddr plants
// nothing on that device. What a relay says gives no software, and is
// dropped once the client shows up on this link.
func TestDHCPFiledUnderItsClient(t *testing.T) {
	const (
		victim   = "3c:a9:f4:6a:7b:8c"
		attacker = "c0:56:e3:1a:2b:3c"
		relay    = "00:11:22:33:44:55"
		wired    = "3c:a9:f4:00:00:01" // the laptop's other interface, in its DUID
	)
	udhcp := func(extra event.Evidence) event.Evidence {
		ev := event.Evidence{"protocol": "dhcpv4", "message_type": "discover", "vendor_class": "udhcp 1.19.4", "hostname": "cam-name"}
		for k, v := range extra {
			ev[k] = v
		}
		return ev
	}
	dhcpv6 := func(extra event.Evidence) event.Evidence {
		ev := event.Evidence{"protocol": "dhcpv6", "message_type": "solicit", "vendor_enterprise": "311", "vendor_class": "MSFT 5.0", "fqdn": "DESKTOP-AB12CD3"}
		maps.Copy(ev, extra)
		return ev
	}
	tests := []struct {
		name     string
		lease    string // a device the router's DHCP server knows
		onLink   string // a device seen sending frames
		frameMAC string
		frameIP  string
		evidence event.Evidence
		later    string   // a device seen sending frames after the event
		learner  string   // the device that must get the host name (or fqdn's vote)
		software bool     // and the software
		clean    []string // devices that must have neither (or not exist)
		notAddr  string   // an address learner must not hold
	}{
		{
			name:     "chaddr of another device",
			lease:    victim,
			frameMAC: attacker, frameIP: "0.0.0.0",
			evidence: udhcp(event.Evidence{"client_mac": victim}),
			clean:    []string{victim, attacker},
		},
		{
			name:     "chaddr of an unknown device",
			frameMAC: attacker, frameIP: "0.0.0.0",
			evidence: udhcp(event.Evidence{"client_mac": victim}),
			clean:    []string{victim, attacker},
		},
		{
			name:     "frame from the client",
			frameMAC: victim, frameIP: "0.0.0.0",
			evidence: udhcp(event.Evidence{"client_mac": victim}),
			learner:  victim, software: true,
		},
		{
			name:     "capture without a link layer",
			frameIP:  "0.0.0.0",
			evidence: udhcp(event.Evidence{"client_mac": victim}),
			learner:  victim, software: true,
		},
		{
			name:     "relayed for a client on another link",
			frameMAC: relay, frameIP: "192.168.1.2",
			evidence: udhcp(event.Evidence{"client_mac": victim, "relay_ip": "10.0.5.1"}),
			learner:  victim, clean: []string{relay}, notAddr: "192.168.1.2",
		},
		{
			name:     "relayed for a client the router leased to",
			lease:    victim,
			frameMAC: relay, frameIP: "192.168.1.2",
			evidence: udhcp(event.Evidence{"client_mac": victim, "relay_ip": "10.0.5.1"}),
			learner:  victim, clean: []string{relay}, notAddr: "192.168.1.2",
		},
		{
			name:     "relayed, then the client shows up on this link",
			frameMAC: attacker, frameIP: "192.168.1.66",
			evidence: udhcp(event.Evidence{"client_mac": victim, "relay_ip": "10.0.5.1"}),
			later:    victim,
			clean:    []string{victim, attacker},
		},
		{
			name:     "relay forged for a client on this link",
			onLink:   victim,
			frameMAC: attacker, frameIP: "192.168.1.66",
			evidence: udhcp(event.Evidence{"client_mac": victim, "relay_ip": "10.0.5.1"}),
			clean:    []string{victim, attacker},
		},
		{
			name:     "DHCPv6 DUID with another interface's MAC",
			frameMAC: victim, frameIP: "fe80::3ea9:f4ff:fe6a:7b8c",
			evidence: event.Evidence{"protocol": "dhcpv6", "message_type": "solicit", "client_mac": wired,
				"vendor_class": "dhcpcd-9.4.1:Linux-5.15.0:x86_64:GenuineIntel", "fqdn": "laptop"},
			learner: victim, software: true, clean: []string{wired},
		},
		{
			name:     "DHCPv6 relayed for a client on another link",
			frameMAC: relay, frameIP: "fe80::211:22ff:fe33:4455",
			evidence: dhcpv6(event.Evidence{"client_mac": victim, "relay_ip": "2001:db8:5::1"}),
			learner:  victim, clean: []string{relay}, notAddr: "fe80::211:22ff:fe33:4455",
		},
		{
			name:     "DHCPv6 relayed, a DUID without a MAC",
			frameMAC: relay, frameIP: "fe80::211:22ff:fe33:4455",
			evidence: dhcpv6(event.Evidence{"relay_ip": "::"}),
			clean:    []string{relay},
		},
		{
			name:     "DHCPv6 relay forged for a client on this link",
			onLink:   victim,
			frameMAC: attacker, frameIP: "fe80::c256:e3ff:fe1a:2b3c",
			evidence: dhcpv6(event.Evidence{"client_mac": victim, "relay_ip": "2001:db8:5::1"}),
			clean:    []string{victim, attacker},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := NewInventory(64, func(netip.Addr) bool { return true })
			if tt.lease != "" {
				m, _ := hwaddr.Parse(tt.lease)
				inv.Seen(m, netip.MustParseAddr("192.168.1.50"), "", SourceLease, t0)
			}
			if tt.onLink != "" {
				m, _ := hwaddr.Parse(tt.onLink)
				inv.ObservePacket(&inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: m,
					Src: netip.MustParseAddr("192.168.1.50"), Dst: netip.MustParseAddr("192.168.1.1")})
			}
			got := inv.File(obs(tt.frameMAC, tt.frameIP, event.KindDHCP, tt.evidence))
			if got == nil {
				t.Fatal("event filed under no device")
			}
			if tt.later != "" {
				m, _ := hwaddr.Parse(tt.later)
				inv.ObservePacket(&inspect.Packet{Timestamp: t0.Add(time.Minute), Kind: inspect.KindUDP, HasMAC: true, SrcMAC: m,
					Src: netip.MustParseAddr("192.168.1.50"), Dst: netip.MustParseAddr("192.168.1.1")})
			}
			if tt.learner != "" {
				d := device(t, inv, tt.learner)
				named := len(d.Hostnames) > 0 || tt.evidence["hostname"] == "" && slices.ContainsFunc(d.votes, fromDHCP)
				if !named || (len(d.Software) > 0) != tt.software {
					t.Errorf("%s learned host names %v, software %v", tt.learner, d.Hostnames, d.Software)
				}
				if tt.notAddr != "" && slices.Contains(d.Addrs, netip.MustParseAddr(tt.notAddr)) {
					t.Errorf("%s holds the relay's address: %v", tt.learner, d.Addrs)
				}
			}
			for _, mac := range tt.clean {
				m, _ := hwaddr.Parse(mac)
				d, ok := inv.Lookup(Key{MAC: m})
				if !ok {
					continue
				}
				if ms := advisoryMatches(t, d); len(d.Software) > 0 || len(d.Hostnames) > 0 || len(ms) > 0 || slices.ContainsFunc(d.votes, fromDHCP) {
					t.Errorf("planted on %s: software %v, host names %v, %d advisories, identity %+v", mac, d.Software, d.Hostnames, len(ms), d.Identity)
				}
			}
		})
	}
}

func fromDHCP(v vote) bool { return v.ev.Source == string(event.KindDHCP) }

// advisoryMatches matches d's software with the embedded feed.
func advisoryMatches(t *testing.T, d *Device) []advisory.Match {
	t.Helper()
	h, err := advisory.NewHolder(advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sw := make([]advisory.Software, len(d.Software))
	for i, s := range d.Software {
		sw[i] = advisory.Software(s)
	}
	return h.Current().Match(sw)
}

// TestLeaseHostNames: a lease's host name is what the DHCP server was
// told, by whoever wrote the client's MAC into chaddr (or into a DHCPv6
// DUID): any LAN host can have the router record another device's MAC
// with a name of its choosing. It names a device only until the device's
// own DHCP names it, and a DUID's MAC, which the client wrote and which
// may be another interface's, names none.
func TestLeaseHostNames(t *testing.T) {
	const mac = "3c:a9:f4:6a:7b:8c"
	own := func(at time.Duration) *event.Event {
		ev := obs(mac, "192.168.1.50", event.KindDHCP, event.Evidence{"protocol": "dhcpv4", "message_type": "request",
			"client_mac": mac, "hostname": "annas-laptop"})
		ev.Time = t0.Add(at)
		return ev
	}
	tests := []struct {
		name   string
		before *event.Event // the device's own DHCP before the lease, or nil
		after  *event.Event // and after it
		source string
		ip     string
		want   []string
	}{
		{"forged lease after the device named itself", own(0), nil, SourceLease, "192.168.1.50", []string{"annas-laptop"}},
		{"forged lease before the device named itself", nil, own(time.Minute), SourceLease, "192.168.1.50", []string{"annas-laptop"}},
		{"DUID lease", nil, nil, SourceLeaseDUID, "2001:db8::50", nil},
		{"lease of a device that named itself nowhere", nil, nil, SourceLease, "192.168.1.50", []string{"evil"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := NewInventory(64, lan)
			if tt.before != nil {
				inv.File(tt.before)
			}
			inv.Seen(mustMAC(mac), netip.MustParseAddr(tt.ip), "evil", tt.source, t0.Add(time.Second))
			if tt.after != nil {
				inv.File(tt.after)
			}
			var got []string
			for _, h := range device(t, inv, mac).Hostnames {
				got = append(got, h.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("host names %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRelayedDHCPWithoutLinkLayer: in a capture without a link layer
// (NFLOG) a relayed DHCP message, the client's request or the server's
// answer to the relay agent, comes from or goes to the relay's address:
// the client named in it must not take that address, nor learn
// software from what a relay forwarded.
func TestRelayedDHCPWithoutLinkLayer(t *testing.T) {
	const (
		client  = "b8:27:eb:b8:53:c8"
		relayIP = "192.168.1.2"
	)
	tests := []struct {
		name     string
		evidence event.Evidence
	}{
		{"request", event.Evidence{"protocol": "dhcpv4", "message_type": "request", "client_mac": client,
			"relay_ip": relayIP, "vendor_class": "udhcp 1.19.4", "hostname": "cam-name"}},
		{"ack", event.Evidence{"protocol": "dhcpv4", "message_type": "ack", "client_mac": client,
			"relay_ip": relayIP, "assigned_ip": "10.0.5.23"}},
		{"dhcpv6 relay-forward", event.Evidence{"protocol": "dhcpv6", "message_type": "solicit", "client_mac": client,
			"relay_ip": "2001:db8:5::1", "vendor_class": "udhcp 1.19.4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := NewInventory(64, func(netip.Addr) bool { return true })
			inv.File(obs("", relayIP, event.KindDHCP, tt.evidence))
			m, _ := hwaddr.Parse(client)
			d, ok := inv.Lookup(Key{MAC: m})
			if !ok {
				return
			}
			if slices.Contains(d.Addrs, netip.MustParseAddr(relayIP)) {
				t.Errorf("%s holds the relay's address: %v", client, d.Addrs)
			}
			if len(d.Software) > 0 {
				t.Errorf("%s learned software from a relayed message: %v", client, d.Software)
			}
		})
	}
}
