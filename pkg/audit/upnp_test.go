package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
)

func cameraXML(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/camera.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchDescription(t *testing.T) {
	xml := cameraXML(t)
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.Write(xml)
	}))
	t.Cleanup(other.Close)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var descHits atomic.Int32
	dev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/desc.xml":
			descHits.Add(1)
			w.Header().Set("Server", "Linux/3.10 UPnP/1.0 GoAhead-http/3.6.4")
			w.Write(xml)
		case "/moved":
			http.Redirect(w, r, "/desc.xml", http.StatusFound)
		case "/elsewhere":
			http.Redirect(w, r, "http://192.168.77.99:80/desc.xml", http.StatusFound)
		case "/public":
			http.Redirect(w, r, "http://8.8.8.8/desc.xml", http.StatusFound)
		case "/huge":
			w.Write([]byte("<?xml version=\"1.0\"?><root><device><friendlyName>"))
			w.Write([]byte(strings.Repeat("A", 70<<10)))
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/missing":
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(dev.Close)
	d := newMapDialer()
	d.route(lan("49152"), dev.Listener.Addr().String())
	d.route("192.168.77.99:80", other.Listener.Addr().String())
	devAddrs := []netip.Addr{netip.MustParseAddr(devIP), netip.MustParseAddr("fe80::1")}

	tests := []struct {
		name     string
		location string
		addrs    []netip.Addr
		wantErr  error // nil: success
		anyErr   bool
		noDial   bool
		offLAN   bool // the kernel would not send to the host through the LAN
		// holder is who the neighbour table places at the address after
		// the connect: "" no check, "device", "other" or "none".
		holder string
	}{
		{name: "ok", location: "http://" + lan("49152") + "/desc.xml"},
		{name: "same_host_redirect", location: "http://" + lan("49152") + "/moved"},
		{name: "redirect_to_other_lan_host", location: "http://" + lan("49152") + "/elsewhere", wantErr: ErrNotLAN},
		{name: "redirect_to_public", location: "http://" + lan("49152") + "/public", wantErr: ErrNotLAN},
		{name: "too_large", location: "http://" + lan("49152") + "/huge", wantErr: ssdp.ErrTooLarge},
		{name: "timeout", location: "http://" + lan("49152") + "/slow", wantErr: context.DeadlineExceeded},
		{name: "not_found", location: "http://" + lan("49152") + "/missing", anyErr: true},
		{name: "public_host", location: "http://8.8.8.8:49152/desc.xml", addrs: []netip.Addr{netip.MustParseAddr("8.8.8.8")}, wantErr: ErrNotLAN, noDial: true},
		{name: "not_the_device", location: "http://192.168.77.99:80/desc.xml", wantErr: ErrNotLAN, noDial: true},
		{name: "host_name", location: "http://camera.lan:49152/desc.xml", wantErr: ErrNotLAN, noDial: true},
		{name: "loopback", location: "http://127.0.0.1:49152/desc.xml", addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, wantErr: ErrNotLAN, noDial: true},
		{name: "https", location: "https://" + lan("49152") + "/desc.xml", anyErr: true, noDial: true},
		{name: "userinfo", location: "http://u:p@" + lan("49152") + "/desc.xml", anyErr: true, noDial: true},
		{name: "overlong", location: "http://" + lan("49152") + "/" + strings.Repeat("a", 600), anyErr: true, noDial: true},
		// The device's choice of interface ("%wan") is not taken, nor a
		// host the LAN does not reach (the router itself, the WAN side).
		{name: "zone", location: "http://[fe80::1%25wan]:49152/desc.xml", wantErr: ErrNotLAN, noDial: true},
		{name: "off_lan", location: "http://" + lan("49152") + "/desc.xml", offLAN: true, wantErr: ErrNotLAN, noDial: true},
		// The connect reached whoever answers at the address now: only
		// the device's MAC there lets the request go out.
		{name: "holder_is_device", location: "http://" + lan("49152") + "/desc.xml", holder: "device"},
		{name: "another_host_answers", location: "http://" + lan("49152") + "/desc.xml", holder: "other", wantErr: ErrNotPresent},
		{name: "no_neighbour_entry", location: "http://" + lan("49152") + "/desc.xml", holder: "none", wantErr: ErrNotPresent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(d.dialed())
			addrs := tc.addrs
			if addrs == nil {
				addrs = devAddrs
			}
			opts := FetchOptions{
				Addrs: addrs, Dialer: d, Timeout: 200 * time.Millisecond,
				OnLAN: func(netip.Addr) bool { return !tc.offLAN }, MAC: devMAC}
			if tc.holder != "" {
				opts.HolderOf = func(netip.Addr) (hwaddr.MAC, bool) {
					switch tc.holder {
					case "device":
						return devMAC, true
					case "other":
						return hwaddr.MAC{0x02, 0, 0, 0, 0, 0x66}, true
					}
					return hwaddr.MAC{}, false
				}
			}
			hitsBefore := descHits.Load()
			desc, err := FetchDescription(context.Background(), tc.location, opts)
			switch {
			case tc.wantErr == nil && !tc.anyErr:
				if err != nil {
					t.Fatal(err)
				}
				if desc.Server != "Linux/3.10 UPnP/1.0 GoAhead-http/3.6.4" {
					t.Errorf("Server %q, want the answer's header", desc.Server)
				}
				if desc.Device.Manufacturer != "Hikvision" || desc.Device.ModelName != "DS-2CD2032-I" {
					t.Errorf("description %+v", desc.Device)
				}
			case tc.anyErr:
				if err == nil {
					t.Fatal("no error")
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotPresent) && descHits.Load() != hitsBefore {
					t.Error("the request went to the host that is not the device")
				}
			}
			if dials := d.dialed()[before:]; tc.noDial && len(dials) > 0 {
				t.Errorf("dialed %v", dials)
			}
		})
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host was fetched %d times", n)
	}
}

// TestFetchIgnoresProxyEnvironment: an HTTP_PROXY in the environment must
// not see the request.
func TestFetchIgnoresProxyEnvironment(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		http.Error(w, "proxy", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	xml := cameraXML(t)
	dev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(xml) }))
	t.Cleanup(dev.Close)
	d := newMapDialer()
	d.route(lan("5000"), dev.Listener.Addr().String())
	_, err := FetchDescription(context.Background(), "http://"+lan("5000")+"/d.xml",
		FetchOptions{Addrs: []netip.Addr{netip.MustParseAddr(devIP)}, Dialer: d})
	if err != nil || proxied.Load() != 0 {
		t.Errorf("err %v, proxy saw %d requests", err, proxied.Load())
	}
}

func TestUPnPEvent(t *testing.T) {
	desc, err := ssdp.ParseDescription(strings.NewReader(string(cameraXML(t))), 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := UPnPEvent(devMAC, netip.MustParseAddr(devIP), "http://"+lan("49152")+"/desc.xml", desc, now)
	e := ev.Evidence
	if ev.Kind != event.KindUPnP || ev.Type != event.TypeObservation || ev.Device.MAC != devMAC.String() ||
		ev.Device.IP != devIP || !ev.Time.Equal(now) {
		t.Errorf("event %+v", ev)
	}
	if e["manufacturer"] != "Hikvision" || e["model_name"] != "DS-2CD2032-I" || e["firmware_version"] != "V5.4.5 build 170124" ||
		e["serial"] != "DS***" || e["device_type"] != "urn:schemas-upnp-org:device:Basic:1" {
		t.Errorf("evidence %v", e)
	}
	if ev.Flow == nil || ev.Flow.Server.Port != 49152 || ev.Flow.Server.IP != devIP {
		t.Errorf("flow %+v", ev.Flow)
	}
	if strings.Contains(ev.Summary, "Anna") || strings.Contains(fmt.Sprint(ev), "20160101CCWR") {
		t.Errorf("personal or identifying data leaked: %q", ev.Summary)
	}
}

func TestFetchLimiter(t *testing.T) {
	l := NewFetchLimiter(24*time.Hour, 2)
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	other := devMAC
	other[5]++
	steps := []struct {
		name     string
		mac      [6]byte
		location string
		at       time.Duration
		want     bool
	}{
		{"first", devMAC, "http://a/1", 0, true},
		{"again_same_day", devMAC, "http://a/1", time.Hour, false},
		{"other_location", devMAC, "http://a/2", time.Hour, true},
		{"next_day", devMAC, "http://a/1", 25 * time.Hour, true},
		{"full_evicts_oldest", other, "http://b/1", 26 * time.Hour, true},
		{"evicted_is_new_again", devMAC, "http://a/2", 26 * time.Hour, true},
		{"clock_went_back", other, "http://b/1", 0, true},
		{"overlong", devMAC, strings.Repeat("x", 600), 30 * time.Hour, false},
	}
	for _, s := range steps {
		if got := l.Allow(s.mac, s.location, t0.Add(s.at)); got != s.want {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
		if len(l.last) > 2 {
			t.Fatalf("%s: %d entries, cap 2", s.name, len(l.last))
		}
	}
}

func TestUPnPFetcher(t *testing.T) {
	xml := cameraXML(t)
	var hits atomic.Int32
	dev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(xml)
	}))
	t.Cleanup(dev.Close)
	d := newMapDialer()
	d.route(lan("49152"), dev.Listener.Addr().String())
	sink := &sliceSink{}
	f := NewUPnPFetcher(nil, sink, FetchOptions{Dialer: d}, quietLogger())
	addrs := []netip.Addr{netip.MustParseAddr(devIP)}
	loc := "http://" + lan("49152") + "/desc.xml"
	if !f.Offer(devMAC, addrs, loc) {
		t.Fatal("first offer refused")
	}
	if f.Offer(devMAC, addrs, loc) {
		t.Error("second offer within the day queued")
	}
	if f.Offer(devMAC, addrs, "http://8.8.8.8/desc.xml") {
		t.Error("public location queued")
	}
	for i := 0; i < DefaultFetchQueue+5; i++ {
		f.Offer(devMAC, addrs, fmt.Sprintf("http://%s/d%d.xml", lan("49152"), i))
	}
	if len(f.queue) != DefaultFetchQueue {
		t.Errorf("queue %d, cap %d", len(f.queue), DefaultFetchQueue)
	}
	dropped := fmt.Sprintf("http://%s/d%d.xml", lan("49152"), DefaultFetchQueue+1)
	if _, ok := f.limiter.last[fetchKey{devMAC, dropped}]; ok {
		t.Error("a location dropped by the full queue counts as fetched")
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.Run(ctx) }()
	for hits.Load() < DefaultFetchQueue {
		time.Sleep(time.Millisecond)
	}
	for {
		sink.mu.Lock()
		n := len(sink.evs)
		sink.mu.Unlock()
		if n == DefaultFetchQueue {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if e := sink.evs[0]; e.Kind != event.KindUPnP || e.Evidence["manufacturer"] != "Hikvision" {
		t.Errorf("event %+v", e)
	}
}
