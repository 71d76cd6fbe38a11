package web

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
)

// TestTimesNameTheirZone: every time a page shows names its zone and
// carries the instant in RFC 3339, so an owner whose router runs in UTC
// does not read the hour as their own.
func TestTimesNameTheirZone(t *testing.T) {
	r, b, _ := loggedIn(t)
	now := r.clock.Now()
	since, until, sent := now.Add(-10*time.Minute), now.Add(50*time.Minute), now.Add(-3*time.Minute)
	r.backend.mu.Lock()
	r.backend.devices[cameraMAC].Quarantine = &api.Quarantine{Mode: "block", Since: since, Until: until, By: "policy"}
	r.backend.events = []*event.Event{{Time: now.Add(-5 * time.Minute), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
		Severity: event.SeverityHigh, Summary: "a finding"}}
	r.backend.mu.Unlock()
	r.alerts.mu.Lock()
	r.alerts.channels[0].LastSent = sent
	r.alerts.mu.Unlock()
	d := r.backend.devices[cameraMAC]
	tag := func(at time.Time) string {
		return `<time datetime="` + at.Format(time.RFC3339) + `">` + at.Local().Format("2006-01-02 15:04:05 MST") + "</time>"
	}
	for _, tc := range []struct {
		name, path string
		times      []time.Time
	}{
		{"device", "/devices/" + cameraMAC, []time.Time{d.FirstSeen, d.LastSeen, since, until, d.Findings[0].Time}},
		{"events", "/events", []time.Time{now.Add(-5 * time.Minute)}},
		{"alerts", "/alerts", []time.Time{sent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := b.get(tc.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", tc.path, resp.Status)
			}
			for _, at := range tc.times {
				if want := tag(at); !strings.Contains(html.UnescapeString(body), want) {
					t.Errorf("%s: no %s in\n%s", tc.path, want, body)
				}
			}
		})
	}
}
