package daemon

import (
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// A default login first seen refused, or only on a connection whose
// opening the capture missed (or made up in the plug's name), alerts; the
// same login seen accepted later, on a connection seen from its start or verified by
// the audit, is the proof policy waits for and quarantines the plug.
func TestDefaultLoginConfirmedLaterQuarantines(t *testing.T) {
	plugEP := event.Endpoint{MAC: plug.String(), IP: "192.168.50.102", Local: true}
	cloud := event.Endpoint{IP: "203.0.113.10", Port: 80}
	login := func(at time.Time, accepted string, joined, verified bool) *event.Event {
		f := withFlow(finding(plugEP, at, event.KindDefaultCredentials, event.SeverityHigh,
			"HTTP login with factory-default credentials (user a***)",
			event.Evidence{"protocol": "http", "user": "a***", "password_class": "default", "accepted": accepted}), cloud, "http")
		f.Flow.Joined, f.Verified = joined, verified
		return f
	}
	for _, tc := range []struct {
		name           string
		first, confirm *event.Event
	}{
		{"joined_then_seen_from_its_start", login(time.Now(), "yes", true, false), login(time.Now().Add(time.Minute), "yes", false, false)},
		{"joined_then_verified_by_audit", login(time.Now(), "yes", true, false), login(time.Now().Add(time.Minute), "yes", true, true)},
		{"refused_then_accepted", login(time.Now(), "no", false, false), login(time.Now().Add(time.Minute), "yes", false, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t)
			h := start(t, enforcingConfig(), fake, t.TempDir())
			defer h.stop()
			h.settle()
			h.d.Record(tc.first)
			h.settle()
			if m := quarantined(t, fake)[plug]; m != "" {
				t.Fatalf("plug quarantined (%s) for a login on a joined connection", m)
			}
			h.d.Record(tc.confirm)
			h.settle()
			if m := quarantined(t, fake)[plug]; m == "" {
				dev, _ := h.d.Device(plug)
				t.Errorf("plug not quarantined after its default login was seen accepted; verdict %s %q", dev.Verdict.Action, dev.Verdict.Note)
			}
		})
	}
}
