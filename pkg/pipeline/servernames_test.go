package pipeline

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/store"
)

// TestRestoreNamesCleartextServices: a device that looked a service up
// before a restart and uses it in clear after it, on its cached answer,
// adds to the finding saved for the service, not a new one by address.
// The name is the device's alone and the address's alone, masked as
// findings show it, the one the device looked the address up by last,
// and only from a finding of a service the device still used about when
// it was last seen.
func TestRestoreNamesCleartextServices(t *testing.T) {
	camera, tv := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0c}, hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0d}
	type lookup struct {
		at         time.Duration // after the conversations' base time
		name, addr string        // each followed by an upload to addr
	}
	const cloud, idHost = "cloud.example.com", "a1b2c3d4e5f6.iot.vendor.example"
	tests := []struct {
		name     string
		before   []lookup           // the camera's, before the restart
		lastSeen time.Duration      // how long the camera was seen after its last upload
		edit     func(*event.Event) // what an earlier version saved instead
		by       hwaddr.MAC         // uploads after the restart
		to       string
		want     string // the server_name of that upload's finding
		findings int    // the camera's cleartext findings after it
		joined   bool   // that upload's connection was open across the restart
	}{
		{"cached_answer", []lookup{{0, cloud, "203.0.113.10"}}, 0, nil, camera, "203.0.113.10", cloud, 1, false},
		{"ipv6_server", []lookup{{0, cloud, "2001:db8::10"}}, 0, nil, camera, "2001:db8::10", cloud, 1, false},
		{"other_device", []lookup{{0, cloud, "203.0.113.10"}}, 0, nil, tv, "203.0.113.10", "", 1, false},
		{"other_address", []lookup{{0, cloud, "203.0.113.10"}}, 0, nil, camera, "203.0.113.11", "", 2, false},
		{"identifier_masked", []lookup{{0, idHost, "203.0.113.10"}}, 0, nil, camera, "203.0.113.10", "....iot.vendor.example", 1, false},
		{"identifier_saved_by_an_earlier_version", []lookup{{0, idHost, "203.0.113.10"}}, 0, func(ev *event.Event) {
			ev.Evidence["server_name"] = idHost
			ev.Summary = strings.ReplaceAll(ev.Summary, "....iot.vendor.example", idHost)
		}, camera, "203.0.113.10", "....iot.vendor.example", 1, false},
		{"mapped_address_saved", []lookup{{0, cloud, "203.0.113.10"}}, 0, func(ev *event.Event) {
			ev.Evidence["destination"] = "::ffff:203.0.113.10"
		}, camera, "203.0.113.10", cloud, 1, false},
		// The address served two names; the camera looked it up by the
		// first again last, which its finding saw last.
		{"latest_lookup_wins", []lookup{{0, "old.example", "203.0.113.10"}, {time.Hour, "new.example", "203.0.113.10"}, {2 * time.Hour, "old.example", "203.0.113.10"}},
			0, nil, camera, "203.0.113.10", "old.example", 2, false},
		{"used_until_a_day_before", []lookup{{0, cloud, "203.0.113.10"}}, 24 * time.Hour, nil, camera, "203.0.113.10", cloud, 1, false},
		{"open_across_the_restart", []lookup{{0, cloud, "203.0.113.10"}}, 0, nil, camera, "203.0.113.10", cloud, 1, true},
		// A CDN's DNS moved the service to another address; the
		// camera's cached answer is the latest one.
		{"service_moved_address", []lookup{{0, cloud, "203.0.113.10"}, {25 * time.Hour, cloud, "203.0.113.11"}},
			0, nil, camera, "203.0.113.11", cloud, 1, false},
		{"stopped_days_before", []lookup{{0, cloud, "203.0.113.10"}}, 72 * time.Hour, nil, camera, "203.0.113.10", "", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := New(config.Default(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range tt.before {
				inspecttest.NewUDP(before.Engine(), "192.168.1.12:30000", "192.168.1.1:53").ClientMAC(camera).
					Wait(l.at).Lookup(uint16(i+1), l.name, netip.MustParseAddr(l.addr))
				upload(before.Engine(), camera, l.addr, l.at+time.Minute, false)
			}
			d, ok := before.Inventory().Lookup(device.Key{MAC: camera})
			if !ok {
				t.Fatal("no camera before the restart")
			}
			rec := store.DeviceRecord{MAC: camera, Addrs: d.Addrs, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen.Add(tt.lastSeen)}
			for _, f := range d.Findings {
				saved := *f
				saved.Evidence = maps.Clone(f.Evidence)
				if tt.edit != nil && saved.Kind == event.KindPlaintextProtocol {
					tt.edit(&saved)
				}
				rec.Findings = append(rec.Findings, saved)
			}

			col := &inspecttest.Collector{}
			after, err := New(config.Default(), Options{Sinks: []inspect.Sink{col}})
			if err != nil {
				t.Fatal(err)
			}
			after.Restore([]store.DeviceRecord{rec})
			upload(after.Engine(), tt.by, tt.to, 80*time.Hour, tt.joined)
			filed := col.Kind(event.KindPlaintextProtocol)
			if len(filed) != 1 {
				t.Fatalf("%d cleartext events after the restart, want 1", len(filed))
			}
			if got := filed[0].Evidence["server_name"]; got != tt.want {
				t.Errorf("upload after the restart named %q, want %q", got, tt.want)
			}
			d, _ = after.Inventory().Lookup(device.Key{MAC: camera})
			var summaries []string
			for _, f := range d.Findings {
				if f.Kind == event.KindPlaintextProtocol {
					summaries = append(summaries, f.Summary)
				}
			}
			if len(summaries) != tt.findings {
				t.Errorf("camera's cleartext findings %q, want %d", summaries, tt.findings)
			}
		})
	}
}

// upload is mac's HTTP POST to addr, port 80, at the conversations' base
// time plus at, or on a connection the capture joins when joined: from
// 192.168.1.x, or fd00::x to an IPv6 server, x the MAC's last byte.
func upload(e *inspect.Engine, mac hwaddr.MAC, addr string, at time.Duration, joined bool) {
	server := netip.AddrPortFrom(netip.MustParseAddr(addr), 80)
	client := fmt.Sprintf("192.168.1.%d:40000", mac[5])
	if server.Addr().Is6() {
		client = fmt.Sprintf("[fd00::%x]:40000", mac[5])
	}
	var conv *inspecttest.Conv
	if joined {
		conv = inspecttest.JoinTCP(e, client, server.String())
	} else {
		conv = inspecttest.NewTCPAt(e, client, server.String(), at)
	}
	conv.ClientMAC(mac).Client("POST /api/upload HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}").Close()
}
