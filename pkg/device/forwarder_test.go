package device_test

import (
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/device/fingerprint"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	miekg "github.com/miekg/dns"
)

// TestForwarderOnTheWire: a Fire TV asks a Pi-hole (a private MAC, so
// no maker) for its Alexa endpoint; the Pi-hole asks its upstream from
// its own address and answers the Fire TV. The DNS analyzer files the
// upstream lookup as the Pi-hole's; its answer to the Fire TV shows it
// resolves for others, and no domain names it. So does its asking
// servers across the internet without recursion, as unbound does, where
// its clients are not seen. The Fire TV's own lookup names it, asking
// the Pi-hole or the router, and answers without RD it did not ask for
// that way mark nothing.
func TestForwarderOnTheWire(t *testing.T) {
	const name = "avs-alexa-eu.amazon.com."
	query := new(miekg.Msg).SetQuestion(name, miekg.TypeA)
	query.Id = 0x1a2b
	answer := new(miekg.Msg).SetReply(query)
	rr, err := miekg.NewRR(name + " 60 IN A 198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	answer.Answer = append(answer.Answer, rr)
	q, err := query.Pack()
	if err != nil {
		t.Fatal(err)
	}
	a, err := answer.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// The same lookup as unbound sends it to the name's authoritative
	// server: no recursion asked for, an authoritative answer.
	query.RecursionDesired = false
	answer.RecursionDesired, answer.RecursionAvailable, answer.Authoritative = false, false, true
	qIter, err := query.Pack()
	if err != nil {
		t.Fatal(err)
	}
	aIter, err := answer.Pack()
	if err != nil {
		t.Fatal(err)
	}
	other, err := new(miekg.Msg).SetQuestion("example.org.", miekg.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	var (
		fireTV = hwaddr.MAC{0xf0, 0x27, 0x2d, 0, 0, 0x30}   // Amazon
		pihole = hwaddr.MAC{0xda, 0xa1, 0x19, 0, 0, 0x53}   // private
		router = hwaddr.MAC{0x94, 0x83, 0xc4, 0x50, 0, 0x1} // GL Technologies
	)
	type want struct {
		mac       hwaddr.MAC
		server    bool
		byDomains bool // some attribute rests on the lookup
	}
	tests := []struct {
		name    string
		packets func(at func(ms int) time.Time) []*inspect.Packet
		want    []want
	}{
		{"pihole_forwards_the_fire_tvs_lookup", func(at func(int) time.Time) []*inspect.Packet {
			return []*inspect.Packet{
				udp(at(0), fireTV, "192.168.1.30:41000", "192.168.1.53:53", q),
				udp(at(1), pihole, "192.168.1.53:52000", "9.9.9.9:53", q),
				udp(at(20), router, "9.9.9.9:53", "192.168.1.53:52000", a),
				udp(at(21), pihole, "192.168.1.53:53", "192.168.1.30:41000", a),
			}
		}, []want{{pihole, true, false}, {fireTV, false, true}}},
		// unbound on the Pi-hole resolves iteratively, asking a root,
		// a .com and an Amazon server; the Fire TV asking it is not
		// seen (a wired port switched in hardware).
		{"unbound_resolves_for_unseen_clients", func(at func(int) time.Time) []*inspect.Packet {
			return []*inspect.Packet{
				udp(at(1), pihole, "192.168.1.53:52000", "198.41.0.4:53", qIter),
				udp(at(20), router, "198.41.0.4:53", "192.168.1.53:52000", aIter),
				udp(at(21), pihole, "192.168.1.53:52001", "192.5.6.30:53", qIter),
				udp(at(40), router, "192.5.6.30:53", "192.168.1.53:52001", aIter),
				udp(at(41), pihole, "192.168.1.53:52002", "205.251.242.103:53", qIter),
				udp(at(60), router, "205.251.242.103:53", "192.168.1.53:52002", aIter),
			}
		}, []want{{pihole, true, false}}},
		// Negative: datagrams "from" public resolvers without RD, to a
		// client port of the Fire TV that asked nothing (sent from the
		// LAN, or through a forwarded port), are not its lookups.
		{"answers_without_rd_forged_to_the_fire_tv", func(at func(int) time.Time) []*inspect.Packet {
			return []*inspect.Packet{
				udp(at(0), fireTV, "192.168.1.30:41000", "192.168.1.1:53", q),
				udp(at(20), router, "192.168.1.1:53", "192.168.1.30:41000", a),
				udp(at(30), router, "8.8.8.8:53", "192.168.1.30:33333", aIter),
				udp(at(31), router, "1.1.1.1:53", "192.168.1.30:33333", aIter),
				udp(at(32), router, "9.9.9.9:53", "192.168.1.30:33333", aIter),
			}
		}, []want{{fireTV, false, true}}},
		// Negative: answers "from" public resolvers to a Fire TV that
		// asked for none of them (sent from the LAN, or through a
		// forwarded port) name it by no domain: only its own queries
		// are its lookups. The one it sent names nothing.
		{"answers_forged_to_a_device_that_asked_nothing", func(at func(int) time.Time) []*inspect.Packet {
			return []*inspect.Packet{
				udp(at(0), fireTV, "192.168.1.30:41000", "192.168.1.1:53", other),
				udp(at(20), router, "8.8.8.8:53", "192.168.1.30:33333", a),
				udp(at(21), router, "1.1.1.1:53", "192.168.1.30:41000", a),
			}
		}, []want{{fireTV, false, false}}},
		// Negative: resolvers that clear RD answering the Fire TV,
		// which asked for recursion.
		{"fire_tv_answered_without_rd", func(at func(int) time.Time) []*inspect.Packet {
			return []*inspect.Packet{
				udp(at(0), fireTV, "192.168.1.30:41000", "8.8.8.8:53", q),
				udp(at(20), router, "8.8.8.8:53", "192.168.1.30:41000", aIter),
				udp(at(21), fireTV, "192.168.1.30:41001", "1.1.1.1:53", q),
				udp(at(40), router, "1.1.1.1:53", "192.168.1.30:41001", aIter),
				udp(at(41), fireTV, "192.168.1.30:41002", "9.9.9.9:53", q),
				udp(at(60), router, "9.9.9.9:53", "192.168.1.30:41002", aIter),
			}
		}, []want{{fireTV, false, true}}},
		// Negative: the Fire TV asks the router, which answers it.
		{"fire_tv_asks_the_router", func(at func(int) time.Time) []*inspect.Packet {
			return []*inspect.Packet{
				udp(at(0), fireTV, "192.168.1.30:41000", "192.168.1.1:53", q),
				udp(at(20), router, "192.168.1.1:53", "192.168.1.30:41000", a),
			}
		}, []want{{fireTV, false, true}, {router, true, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, inv := inspecting(t)
			for _, p := range tt.packets(func(ms int) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }) {
				e.HandlePacket(p)
			}
			e.Flush()
			for _, w := range tt.want {
				id := lookupKey(t, inv, w.mac).Identity
				byDomains := false
				for _, attr := range []device.Attribute{id.Vendor, id.Type, id.Model, id.OS} {
					for _, ev := range attr.Evidence {
						byDomains = byDomains || ev.Signal == string(fingerprint.SigDomain)
					}
				}
				if id.DNSServer != w.server || byDomains != w.byDomains {
					t.Errorf("%s: dns_server %v, named by domains %v (vendor %q, type %q); want %v, %v",
						w.mac, id.DNSServer, byDomains, id.Vendor.Value, id.Type.Value, w.server, w.byDomains)
				}
			}
		})
	}
}

func lookupKey(t *testing.T, inv *device.Inventory, mac hwaddr.MAC) *device.Device {
	t.Helper()
	d, ok := inv.Lookup(device.Key{MAC: mac})
	if !ok {
		t.Fatalf("no device %s", mac)
	}
	return d
}
