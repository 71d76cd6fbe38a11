package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iotgw/iotgw/internal/devname"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/store"
)

// FuzzParseRetryAfter: a service's Retry-After header is within [0, 24h].
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "-5", "Wed, 04 Mar 2026 05:16:07 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "99999999999999999999", "1e9", ""} {
		f.Add(s)
	}
	now := testClockNow()
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || d > maxRetryAfter || (!ok && d != 0) {
			t.Errorf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

// FuzzServiceErrorBodies: error bodies from Telegram, Pushover and Gotify
// give a bounded wait and never panic.
func FuzzServiceErrorBodies(f *testing.F) {
	for _, s := range []string{
		`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`,
		`{"parameters":{"retry_after":-1}}`, `{"parameters":{"retry_after":9223372036854775807}}`,
		`{"errors":["user identifier is invalid"],"status":0}`, `{"error":"Unauthorized","errorDescription":"x"}`,
		`null`, `[]`, `{"errors":"not a list"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, describe := range []func([]byte) (string, time.Duration){telegramError, pushoverError, gotifyError} {
			_, wait := describe(body)
			if wait < 0 || wait > maxRetryAfter {
				t.Errorf("wait %v from %q", wait, body)
			}
		}
	})
}

// FuzzFromEvent: whatever a device puts into its traffic (and so into an
// event's evidence and flow), the alert's text is valid UTF-8 without
// control characters, with no bidi control but balanced isolates, and
// within its bounds.
func FuzzFromEvent(f *testing.F) {
	f.Add("default_credentials", "telnet", "yes", "Hikvision", "5.4.0", "email", "203.0.113.7:80", "Hall camera", "c0:56:e3:00:00:01")
	f.Add("outdated_firmware", "", "", "Busy\x00Box\r\n", "1.19\u202e", "", "", "cam\nBcc: x", "zz")
	f.Add("personal_data", "", "", "", "", "wifi_credentials", "\xff\xfe", strings.Repeat("ä", 300), "")
	f.Fuzz(func(t *testing.T, kind, proto, accepted, product, version, dataKind, dest, name, mac string) {
		ev := &event.Event{Type: event.TypeFinding, Kind: event.Kind(kind), Severity: event.SeverityHigh,
			Device: event.Endpoint{MAC: mac, IP: dest},
			Flow:   &event.Flow{App: proto, Server: event.Endpoint{IP: dest, MAC: mac}},
			Evidence: event.Evidence{"protocol": proto, "accepted": accepted, "product": product, "version": version,
				"data_kind": dataKind, "destination": dest, "cve": version, "fixed": product, "exploited": accepted}}
		a, ok := FromEvent(ev, Device{Name: name, Vendor: product})
		if !ok {
			return
		}
		for what, s := range map[string]string{"title": a.Title, "body": a.Body, "name": a.Device.Name, "mac": a.Device.MAC} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) || !isolatesOnly(s) {
				t.Errorf("%s %q is not clean text", what, s)
			}
		}
		if len(a.Title) > maxTitle || len(a.Body) > maxBody {
			t.Errorf("title %d, body %d bytes", len(a.Title), len(a.Body))
		}
		for k, v := range a.Facts {
			if len(v) > maxField || !utf8.ValidString(v) {
				t.Errorf("fact %s = %q", k, v)
			}
		}
	})
}

// isolatesOnly reports whether the only bidi controls in s are isolates
// device-chosen text was wrapped in, each opened (U+2068) before it is
// closed (U+2069) and none left open: no device text can reorder the
// alert's own words.
func isolatesOnly(s string) bool {
	open := 0
	for _, r := range s {
		switch {
		case r == devname.FirstStrongIsolate:
			open++
		case r == devname.PopDirectionalIsolate:
			if open == 0 {
				return false
			}
			open--
		case unicode.Is(unicode.Bidi_Control, r):
			return false
		}
	}
	return open == 0
}

// FuzzRestore: outbox payloads come back from a file on flash that may be
// damaged; New adopts what it can read for a configured channel and drops
// the rest, never panicking.
func FuzzRestore(f *testing.F) {
	good, _ := json.Marshal(envelope{V: 1, Channel: "hook", Alert: testAlert(1, false)})
	for _, s := range []string{string(good), `{"v":1,"channel":"gone","alert":{}}`, `{"channel":"hook","alert":{"severity":"nonsense"}}`,
		`{"channel":"hook","alert":{"parts":[{"parts":[]}],"facts":{"a":"b"}}}`, `[]`, `"x"`, `{}`} {
		f.Add([]byte(s), 0)
	}
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	f.Fuzz(func(t *testing.T, payload []byte, attempts int) {
		o := &memOutbox{}
		o.items = []store.OutboxItem{{ID: 1, Payload: payload, Attempts: attempts, NextAttempt: testClockNow()}}
		d, err := New(cfg, Options{Outbox: o})
		if err != nil {
			t.Fatal(err)
		}
		kept := d.Status()[0].Pending
		if kept+len(o.acks) != 1 || kept != o.len() {
			t.Errorf("kept %d, dropped %d, outbox %d", kept, len(o.acks), o.len())
		}
	})
}
