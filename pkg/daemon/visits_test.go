package daemon

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
	"github.com/iotgw/iotgw/pkg/event"
)

// TestVisitsOfPersonalDevicesNotLogged: the names a phone or a computer
// looks up are its user's browsing; the event log and its stream keep
// them out, while a camera's stay (what it talks to is what it is).
func TestVisitsOfPersonalDevicesNotLogged(t *testing.T) {
	d := idleDaemon(t)
	const phone, camera = "f0:99:bf:00:00:01", "c0:56:e3:1a:2b:3c"
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	obs := func(mac, ip string, kind event.Kind, ev event.Evidence) *event.Event {
		at = at.Add(time.Second)
		return &event.Event{V: event.SchemaVersion, Time: at, Type: event.TypeObservation, Kind: kind,
			Device: event.Endpoint{MAC: mac, IP: ip, Local: true}, Evidence: ev}
	}
	ch, cancel := d.Subscribe()
	defer cancel()
	d.mu.Lock()
	d.pipe.Inject(obs(phone, "192.168.1.50", event.KindDHCP, event.Evidence{"message_type": "request", "vendor_class": "android-dhcp-14", "hostname": "Pixel-8"}))
	for _, ev := range []*event.Event{
		obs(phone, "192.168.1.50", event.KindDNSQuery, event.Evidence{"name": "clinic.example.org"}),
		obs(phone, "192.168.1.50", event.KindTLSClient, event.Evidence{"sni": "clinic.example.org"}),
		obs(phone, "192.168.1.50", event.KindHTTPClient, event.Evidence{"host": "clinic.example.org"}),
		// Through the DNS proxy: known by its address only.
		{V: event.SchemaVersion, Time: at, Type: event.TypeObservation, Kind: event.KindDNSQuery,
			Device: event.Endpoint{IP: "192.168.1.50", Local: true}, Evidence: event.Evidence{"name": "clinic.example.org", "source": "dns_proxy"}},
		obs(camera, "192.168.1.20", event.KindDNSQuery, event.Evidence{"name": "p2p.camcloud.example"}),
	} {
		d.pipe.Inject(ev)
	}
	d.mu.Unlock()

	names := map[string]bool{}
	for _, ev := range d.Events(api.EventFilter{Type: event.TypeObservation, Limit: 100}) {
		if ev.Kind == event.KindDHCP {
			continue
		}
		names[ev.Evidence["name"]+ev.Evidence["sni"]+ev.Evidence["host"]] = true
	}
	if names["clinic.example.org"] || !names["p2p.camcloud.example"] {
		t.Errorf("event log names %v: want the camera's lookup, none of the phone's", names)
	}
	for range 2 { // the DHCP request and the camera's lookup
		select {
		case ev := <-ch:
			if ev.Kind != event.KindDHCP && ev.Device.MAC != camera {
				t.Errorf("streamed %s of %s", ev.Kind, ev.Device.MAC)
			}
		default:
			t.Fatal("stream has fewer events than the log")
		}
	}
	select {
	case ev := <-ch:
		t.Errorf("streamed %s of %s %v", ev.Kind, ev.Device.MAC, ev.Evidence)
	default:
	}
}

// TestProxyObservesQuarantinedOnly: the DNS proxy answers quarantined
// devices; a query it sees from any other address (a LAN host writing to
// its port with another device's address as its source) files nothing
// and makes no device. A name that holds the device's identifier is
// filed masked, as the capture's lookups are.
func TestProxyObservesQuarantinedOnly(t *testing.T) {
	h, fake := startQuarantined(t, enforcingConfig())
	defer h.stop()
	entries, err := fake.Current(context.Background())
	if err != nil || len(entries) == 0 || len(entries[0].Addrs) == 0 {
		t.Fatalf("quarantine entries %v, %v: want the camera's with its address", entries, err)
	}
	camAddr := entries[0].Addrs[0]
	before := len(h.d.Devices())
	at := time.Now()
	for _, o := range []dnsproxy.Observation{
		{At: at, Client: camAddr, Name: "update.camvendor.example"},
		{At: at, Client: netip.MustParseAddr("192.168.1.77"), Name: "planted.example"}, // nobody's
		{At: at, Client: camAddr, Name: "a4cf129b3e01.p2p.camvendor.example"},
		{At: at, Client: camAddr, Name: "Xk3Lm9Qw2Er7.Relay.CamVendor.example"}, // a token: mixed case
	} {
		h.d.Observe(o)
	}
	var names []string
	for _, ev := range h.d.Events(api.EventFilter{Kind: event.KindDNSQuery, Limit: 100}) {
		if ev.Evidence["source"] == "dns_proxy" {
			names = append(names, ev.Evidence["name"]+"@"+ev.Device.MAC)
		}
	}
	slices.Sort(names)
	cam := "@" + entries[0].MAC.String()
	if want := []string{"....p2p.camvendor.example" + cam, "....relay.camvendor.example" + cam, "update.camvendor.example" + cam}; !slices.Equal(names, want) {
		t.Errorf("proxy observations %q, want %q", names, want)
	}
	if after := len(h.d.Devices()); after != before {
		t.Errorf("%d devices after the proxy's observations, %d before", after, before)
	}
}

// TestVisitsOfLANResolverNotLogged: a resolver on the LAN (it resolves
// iteratively, asking internet servers without recursion) asks upstream
// what its clients look up; once it is known as one, its lookups stay out
// of the event log.
func TestVisitsOfLANResolverNotLogged(t *testing.T) {
	d := idleDaemon(t)
	const pihole, ip = "02:00:00:00:00:53", "192.168.1.53"
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	lookup := func(server, name string, iterative bool) *event.Event {
		at = at.Add(time.Second)
		ev := event.Evidence{"name": name}
		if iterative {
			ev["iterative"] = "yes"
		}
		return &event.Event{V: event.SchemaVersion, Time: at, Type: event.TypeObservation, Kind: event.KindDNSQuery,
			Device: event.Endpoint{MAC: pihole, IP: ip, Local: true}, Evidence: ev,
			Flow: &event.Flow{Transport: "udp", App: "dns", Client: event.Endpoint{MAC: pihole, IP: ip, Port: 40000, Local: true},
				Server: event.Endpoint{IP: server, Port: 53}}}
	}
	d.mu.Lock()
	for _, root := range []string{"198.41.0.4", "199.9.14.201", "192.33.4.12"} {
		d.pipe.Inject(lookup(root, "com", true))
	}
	d.pipe.Inject(lookup("203.0.113.53", "clinic.example.org", false))
	d.mu.Unlock()
	for _, ev := range d.Events(api.EventFilter{Kind: event.KindDNSQuery, Limit: 100}) {
		if ev.Evidence["name"] == "clinic.example.org" {
			t.Errorf("the resolver's lookup of a client's name is in the event log")
		}
	}
}
