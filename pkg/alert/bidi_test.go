package alert

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/store"
)

const (
	fsi = "\u2068"
	pdi = "\u2069"
	// hebrewCam is a camera that names itself in Hebrew with a
	// right-to-left override after, which would turn the words that
	// follow it around; arabicCam names itself in Arabic.
	hebrewCam = "מצלמה\u202e"
	arabicCam = "كاميرا المطبخ"
)

// checkIsolated fails unless s keeps every right-to-left letter between
// FSI and PDI, holds no other bidirectional control, and closes every
// isolate it opens, so that no name reorders the words around it.
func checkIsolated(t *testing.T, what, s string) {
	t.Helper()
	depth := 0
	for _, r := range s {
		switch {
		case string(r) == fsi:
			depth++
		case string(r) == pdi:
			if depth--; depth < 0 {
				t.Errorf("%s %q: a PDI closes no isolate", what, s)
				return
			}
		case unicode.Is(unicode.Bidi_Control, r):
			t.Errorf("%s %q: bidi control %U", what, s, r)
		case unicode.In(r, unicode.Hebrew, unicode.Arabic) && depth == 0:
			t.Errorf("%s %q: right-to-left text outside an isolate", what, s)
			return
		}
	}
	if depth != 0 {
		t.Errorf("%s %q: %d isolates left open", what, s, depth)
	}
}

// TestRightToLeftTextIsolated: a name, product or destination a device
// chose in Hebrew or Arabic stands isolated in an alert's title and
// body, so that it cannot carry the words around it ("… quarantined")
// into its own direction, and an override it holds is gone.
func TestRightToLeftTextIsolated(t *testing.T) {
	pii := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindPersonalData, Severity: event.SeverityMedium,
		Device: event.Endpoint{MAC: "c0:56:e3:00:00:03"}, Evidence: event.Evidence{"data_kind": "email", "destination": "ענן.example\u202e"}}
	fw := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindOutdatedFirmware, Severity: event.SeverityHigh,
		Device:   event.Endpoint{MAC: "c0:56:e3:00:00:04"},
		Evidence: event.Evidence{"product": "خادم\u202e", "version": "١.٢", "cve": "CVE-2024-0001", "fixed": "1.3"}}
	fromEvent := func(ev *event.Event, d Device) Alert { a, _ := FromEvent(ev, d); return a }
	long := Device{Hostname: strings.Repeat("מצלמה ", 40)}
	for _, tc := range []struct {
		name  string
		alert Alert
	}{
		{"default_credentials_hebrew", fromEvent(credEvent("yes"), Device{Hostname: hebrewCam})},
		{"default_credentials_arabic_owner_name", fromEvent(credEvent("no"), Device{Name: arabicCam})},
		{"personal_data_destination", fromEvent(pii, Device{Vendor: "Acme"})},
		{"outdated_firmware_product", fromEvent(fw, Device{Hostname: arabicCam})},
		{"quarantined", FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0, By: store.ActorPolicy,
			Reason: "telnet login by " + hebrewCam}, Device{Hostname: hebrewCam})},
		{"quarantined_by_owner", FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0, By: store.ActorOwner}, Device{Name: arabicCam})},
		{"update_claimed", FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0, By: store.ActorUpdate,
			Reason: "firmware " + arabicCam}, Device{Vendor: hebrewCam})},
		{"released", FromRelease(mac(1), Device{Hostname: hebrewCam}, t0, "released by you")},
		{"new_device", FromNewDevice(Device{MAC: "c0:56:e3:00:00:05", Hostname: arabicCam}, t0)},
		{"new_device_long_name_cut", FromNewDevice(Device{MAC: "c0:56:e3:00:00:05", Hostname: long.Hostname}, t0)},
		{"quarantined_long_name_cut", FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0}, long)},
		{"problem_detail", FromProblem(AreaCapture, "eth0: "+hebrewCam, t0)},
		{"digest", digest([]Alert{FromNewDevice(Device{Hostname: arabicCam}, t0), FromRelease(mac(1), Device{Hostname: hebrewCam}, t0, "")})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.alert
			if !strings.ContainsAny(a.Title+a.Body, fsi) {
				t.Errorf("nothing isolated in %q / %q", a.Title, a.Body)
			}
			checkIsolated(t, "title", a.Title)
			checkIsolated(t, "body", a.Body)
			if len(a.Title) > maxTitle || len(a.Body) > maxBody {
				t.Errorf("title %d bytes, body %d", len(a.Title), len(a.Body))
			}
		})
	}
}

// TestIsolatedTitleKeepsItsWords: the words after an isolated name are
// the builder's, outside the isolate, and a name cut for length closes
// its isolate after the ellipsis.
func TestIsolatedTitleKeepsItsWords(t *testing.T) {
	q := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0}, Device{Hostname: hebrewCam})
	if want := fsi + "מצלמה" + pdi + " quarantined"; q.Title != want {
		t.Errorf("title %q, want %q", q.Title, want)
	}
	long := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0}, Device{Hostname: strings.Repeat("מצלמה ", 40)})
	if !strings.HasPrefix(long.Title, fsi) || !strings.HasSuffix(long.Title, "…"+pdi+" quarantined") {
		t.Errorf("long title %q", long.Title)
	}
	n := FromNewDevice(Device{Hostname: strings.Repeat("كاميرا ", 40)}, t0)
	if !strings.HasPrefix(n.Title, "New device: "+fsi) || !strings.HasSuffix(n.Title, "…"+pdi) {
		t.Errorf("long new-device title %q", n.Title)
	}
	plain := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0}, Device{Name: "Hall camera"})
	if plain.Title != "Hall camera quarantined" {
		t.Errorf("a left-to-right name is isolated: %q", plain.Title)
	}
}

// TestChannelsKeepIsolates: what a channel cuts or shrinks (Pushover's
// title, an alert shrunk for the outbox) keeps the isolates whole.
func TestChannelsKeepIsolates(t *testing.T) {
	a, _ := FromEvent(credEvent("yes"), Device{Hostname: hebrewCam})
	a.URL = "http://192.168.1.1:8080/devices/c0:56:e3:00:00:01"
	srv := newFakeService(t, reply{status: 200, body: `{"status":1,"request":"x"}`})
	s := buildSender(t, ChannelConfig{Type: TypePushover, URL: srv.URL, Token: "azGDORePK8gMaC0QOYAMyEEuzJnyUi", User: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"})
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(srv.only(t).Body))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("title") != a.Title {
		t.Errorf("pushover title %q, want %q", form.Get("title"), a.Title)
	}
	checkIsolated(t, "pushover message", form.Get("message"))

	m := &MQTT{discoveryPrefix: "homeassistant", topicPrefix: "iotgw"}
	for _, c := range m.discoveryConfigs(mac(1), "iotgw_c056e3000001", &Device{MAC: "c0:56:e3:00:00:01", Hostname: "מצלמה", Vendor: "יצרן"}) {
		var cfg struct {
			Device haDevice `json:"device"`
		}
		if err := json.Unmarshal([]byte(c[1]), &cfg); err != nil {
			t.Fatal(err)
		}
		checkIsolated(t, "home assistant device name", cfg.Device.Name)
		if cfg.Device.Name != fsi+"מצלמה"+pdi && cfg.Device.Name != fsi+"יצרן"+pdi {
			t.Errorf("home assistant device name %q", cfg.Device.Name)
		}
	}
}

// TestClipTextKeepsBalancedIsolates: text built of isolated names keeps
// its isolates through clipText, drops a lone one, and a cut inside an
// isolate closes it within max.
func TestClipTextKeepsBalancedIsolates(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"kept", "on " + fsi + "מצלמה" + pdi + " now", 100, "on " + fsi + "מצלמה" + pdi + " now"},
		{"lone_pdi_dropped", "a" + pdi + "b", 100, "a b"},
		{"lone_fsi_dropped", "a " + fsi + "b", 100, "a b"},
		{"override_dropped", fsi + "x\u202e" + pdi, 100, fsi + "x" + pdi},
		{"cut_inside_closes", "ab " + fsi + "מצלמה" + pdi, 12, "ab " + fsi + "…" + pdi},
		{"cut_after_isolate", fsi + "מ" + pdi + " quarantined", 14, fsi + "מ" + pdi + " qu…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clipText(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("clipText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if len(got) > tc.max {
				t.Errorf("%d bytes, max %d", len(got), tc.max)
			}
		})
	}
}
