package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
)

// TestRenderPanicIs500: a page function that fails sends a whole error
// page and logs why, not half a page or a dropped connection.
func TestRenderPanicIs500(t *testing.T) {
	var logged strings.Builder
	srv, err := New(Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))}, newFakeBackend(time.Now()), &memStore{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		c      content
		status int
	}{
		{"fine", func(w *markup.Writer, _ *view) { w.Raw("<p>fine</p>") }, http.StatusOK},
		{"panics", func(w *markup.Writer, v *view) {
			w.Raw("<p>half")
			_ = v.Page.(devicePage) // the wrong page data
		}, http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			srv.render(rec, httptest.NewRequest("GET", "/x", nil), http.StatusOK, tt.c, &view{Title: tt.name})
			body, _ := io.ReadAll(rec.Result().Body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, body)
			}
			if tt.status != http.StatusOK && (strings.Contains(string(body), "half") || !strings.Contains(logged.String(), "panics")) {
				t.Errorf("body %q, log %q: want no part of the page and the reason logged", body, logged.String())
			}
		})
	}
}

// TestSoftwareSection: each product the device showed, its version (or
// that it named none) and whose build it is when a distribution's, where
// it was seen, and the claims not believed;
// the device's text escaped; no section for a device that showed none.
func TestSoftwareSection(t *testing.T) {
	for _, tc := range []struct {
		name string
		sw   []api.Software
		want []string
	}{
		{"none", nil, nil},
		{"served_and_disputed", []api.Software{
			{Product: "busybox", Version: "1.19.4", Source: "banner/telnet", Disputed: []string{"dhcp 1.36.1"}},
			{Product: "goahead", Source: "http_server"},
		}, []string{`id="software"`, "<td>busybox</td><td>1.19.4</td><td>banner/telnet<br><small>not believed: dhcp 1.36.1</small></td>",
			"<td>goahead</td><td>not named</td><td>http_server</td>"}},
		{"distribution_build", []api.Software{{Product: "openssh", Version: "9.2p1", Source: "banner/ssh", Distribution: "Debian"}},
			[]string{"<td>openssh</td><td>9.2p1<br><small>Debian build: fixes may be backported</small></td><td>banner/ssh</td>"}},
		{"device_text_escaped", []api.Software{{Product: "<script>x</script>", Version: `1"2`, Source: "ssdp"}},
			[]string{"<td>&lt;script&gt;x&lt;/script&gt;</td><td>1&#34;2</td>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w markup.Writer
			softwareSection(&w, tc.sw)
			got := string(w.Bytes())
			if len(tc.want) == 0 && got != "" {
				t.Errorf("wrote %q for no software", got)
			}
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("missing %q in %q", want, got)
				}
			}
		})
	}
}

// TestDeviceNameUnknownType: a device no signal typed is named by its
// vendor alone, not "Apple unknown", in its name and its make.
func TestDeviceNameUnknownType(t *testing.T) {
	for _, tt := range []struct {
		d          api.Device
		name, make string
	}{
		{api.Device{MAC: "3c:22:fb:11:22:33", Vendor: "Apple", Type: "unknown"}, "Apple", "Apple"},
		{api.Device{MAC: "3c:22:fb:11:22:33", Vendor: "Apple", Type: "unknown", Model: "iPad"}, "Apple", "Apple · iPad"},
		{api.Device{MAC: "3c:22:fb:11:22:33", Type: "unknown", Hostnames: []string{"laptop"}}, "laptop", "unknown"},
		{api.Device{MAC: "3c:22:fb:11:22:33", Type: "camera", Model: "DS-2CD2032"}, "camera", "camera · DS-2CD2032"},
		{api.Device{MAC: "c0:56:e3:1a:2b:3c", Vendor: "Hikvision", Type: "camera"}, "Hikvision camera", "Hikvision · camera"},
	} {
		if got := tt.d.DisplayName(); got != tt.name {
			t.Errorf("deviceName(%q %q %q) = %q, want %q", tt.d.Vendor, tt.d.Type, tt.d.Model, got, tt.name)
		}
		var w markup.Writer
		vendorType(&w, tt.d)
		got := strings.NewReplacer(`<span class="muted">`, "", "</span>", "").Replace(string(w.Bytes()))
		if got != tt.make {
			t.Errorf("vendorType(%q %q %q) = %q, want %q", tt.d.Vendor, tt.d.Type, tt.d.Model, got, tt.make)
		}
	}
}

// TestDeviceNamesIsolated: a name a device gave itself may be Hebrew or
// Arabic now that mDNS names keep their UTF-8. Set beside the MAC
// ("מטבח (3c:22:…)"), the bidirectional algorithm would carry the
// parenthesis and the MAC's digits into the right-to-left run and show
// "(3c:22:fb:11:22:33 מטבח)" scrambled: each name is isolated, with
// <bdi> where an element may go and FSI … PDI inside an <option>.
func TestDeviceNamesIsolated(t *testing.T) {
	const mac = "3c:22:fb:11:22:33"
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		hostname string
		page     func(w *markup.Writer, d api.Device)
		want     []string
	}{
		{"device_list_hebrew", "מטבח", func(w *markup.Writer, d api.Device) {
			devicesContent(w, &view{Now: now, Page: []api.Device{d}})
		}, []string{"<bdi>מטבח</bdi>"}},
		{"device_page_arabic", "مطبخ", func(w *markup.Writer, d api.Device) {
			deviceContent(w, &view{Now: now, Page: devicePage{D: d}})
		}, []string{"<h1><bdi>مطبخ</bdi>"}},
		{"event_log_hebrew", "מטבח", func(w *markup.Writer, d api.Device) {
			ev := &event.Event{Time: now, Type: event.TypeObservation, Kind: event.KindMDNS, Summary: "mDNS announcement",
				Device: event.Endpoint{MAC: mac}}
			eventsContent(w, &view{Now: now, Page: eventsPage{Events: []*event.Event{ev}, Devices: []api.Device{d}}})
		}, []string{">\u2068מטבח\u2069 (" + mac + ")</option>", "<bdi>מטבח</bdi></a>"}},
		// Listed together, a right-to-left name would take the comma
		// and the next name's leading digits into its run.
		{"device_page_host_names", "מטבח", func(w *markup.Writer, d api.Device) {
			d.Hostnames = append(d.Hostnames, "3dprinter")
			deviceContent(w, &view{Now: now, Page: devicePage{D: d}})
		}, []string{"<dd><bdi>מטבח</bdi>, <bdi>3dprinter</bdi></dd>"}},
		// A <title> holds text only, as an <option> does; a name the
		// owner typed may hold an override (the form refuses only
		// control characters), which would turn " · iotgw" around.
		{"page_title_hebrew_override", "מטבח\u202e", func(w *markup.Writer, d api.Device) {
			page(w, &view{Now: now, Title: d.DisplayName(), Page: devicePage{D: d}}, deviceContent)
		}, []string{"<title>\u2068מטבח\u2069 · iotgw</title>"}},
		{"page_title_arabic_owner_name", "", func(w *markup.Writer, d api.Device) {
			d.Name = "\u202eمطبخ"
			page(w, &view{Now: now, Title: d.DisplayName(), Page: devicePage{D: d}}, deviceContent)
		}, []string{"<title>\u2068مطبخ\u2069 · iotgw</title>"}},
		// A stray PDI in a name would close the option's isolate early
		// and leave the override after it loose on the MAC.
		{"event_log_option_stray_pdi", "", func(w *markup.Writer, d api.Device) {
			d.Name = "מטבח\u2069\u202e"
			eventsContent(w, &view{Now: now, Page: eventsPage{Devices: []api.Device{d}}})
		}, []string{">\u2068מטבח\u2069 (" + mac + ")</option>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := api.Device{MAC: mac, State: api.StateOK, Type: "unknown", Hostnames: []string{tc.hostname}, LastSeen: now}
			var w markup.Writer
			tc.page(&w, d)
			for _, want := range tc.want {
				if !strings.Contains(string(w.Bytes()), want) {
					t.Errorf("no %q in\n%s", want, w.Bytes())
				}
			}
		})
	}
}
