package web

import (
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
)

func TestPicture(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	finding := func(at time.Duration, sev event.Severity) *event.Event {
		return &event.Event{Time: t0.Add(at), Type: event.TypeFinding, Severity: sev, Summary: "s"}
	}
	for _, tc := range []struct {
		name                  string
		d                     api.Device
		markers, bars         int
		noFindings, noTraffic bool
		counts                []int
	}{
		{name: "never_seen", noFindings: true, noTraffic: true},
		{name: "seen_no_findings", d: api.Device{FirstSeen: t0, LastSeen: t0.Add(time.Hour)}, noFindings: true, noTraffic: true},
		{name: "burst_in_one_second_shares_a_dot", d: api.Device{FirstSeen: t0, LastSeen: t0.Add(time.Hour), Findings: []*event.Event{
			finding(0, event.SeverityHigh), finding(time.Second, event.SeverityHigh), finding(2*time.Second, event.SeverityHigh)}},
			markers: 1, counts: []int{3}, noTraffic: true},
		{name: "severities_apart", d: api.Device{FirstSeen: t0, LastSeen: t0.Add(time.Hour), Findings: []*event.Event{
			finding(0, event.SeverityLow), finding(0, event.SeverityCritical), finding(50*time.Minute, event.SeverityLow)}},
			markers: 3, counts: []int{1, 1, 1}, noTraffic: true},
		{name: "hostile_severity_clamped", d: api.Device{FirstSeen: t0, Findings: []*event.Event{finding(0, event.Severity(99)), finding(0, event.Severity(-5))}},
			markers: 2, counts: []int{1, 1}, noTraffic: true},
		{name: "finding_without_time_skipped", d: api.Device{FirstSeen: t0, Findings: []*event.Event{{Severity: event.SeverityHigh}}},
			noFindings: true, noTraffic: true},
		{name: "traffic", d: api.Device{FirstSeen: t0, Traffic: []api.TrafficPoint{{Start: t0, Bytes: 100}, {Start: t0.Add(time.Minute), Bytes: 0},
			{Start: t0.Add(2 * time.Minute), Bytes: 1 << 30}}}, bars: 3, noFindings: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := drawPicture(tc.d)
			if len(p.Markers) != tc.markers || len(p.Bars) != tc.bars || p.NoFindings != tc.noFindings || p.NoTraffic != tc.noTraffic {
				t.Fatalf("markers %d bars %d noFindings %v noTraffic %v; want %d %d %v %v",
					len(p.Markers), len(p.Bars), p.NoFindings, p.NoTraffic, tc.markers, tc.bars, tc.noFindings, tc.noTraffic)
			}
			for i, m := range p.Markers {
				if m.X-m.R < 0 || m.X+m.R > picWidth || m.Y-m.R < 0 || m.Y+m.R > findingsBot {
					t.Errorf("marker %+v leaves its band", m)
				}
				if m.X < picLeft {
					t.Errorf("marker at x=%v covers the labels", m.X)
				}
				if tc.counts != nil && m.Count != tc.counts[i] {
					t.Errorf("marker %d counts %d, want %d", i, m.Count, tc.counts[i])
				}
			}
			for _, b := range p.Bars {
				if b.X < picLeft || b.X+b.W > picRight+0.001 || b.Y < trafficTop-0.001 || b.Y+b.H > trafficBot+0.001 {
					t.Errorf("bar %+v leaves its band", b)
				}
			}
		})
	}
	// Severity orders the dots: more severe is higher (smaller y).
	p := drawPicture(api.Device{FirstSeen: t0, Findings: []*event.Event{finding(0, event.SeverityLow), finding(0, event.SeverityCritical)}})
	if p.Markers[1].Y >= p.Markers[0].Y || p.Markers[1].R <= p.Markers[0].R {
		t.Fatalf("critical %+v is not above and bigger than low %+v", p.Markers[1], p.Markers[0])
	}
	// Many findings: bounded.
	var many []*event.Event
	for i := range 5 * maxPicMarkers {
		many = append(many, finding(time.Duration(i)*time.Hour, event.SeverityMedium))
	}
	if p := drawPicture(api.Device{FirstSeen: t0, Findings: many}); len(p.Markers) > maxPicMarkers {
		t.Fatalf("%d markers, cap %d", len(p.Markers), maxPicMarkers)
	}
	if p := drawPicture(api.Device{FirstSeen: t0, Findings: []*event.Event{finding(0, event.SeverityHigh), finding(0, event.SeverityHigh)}}); !strings.Contains(p.Markers[0].Title, "2 high finding(s)") {
		t.Fatalf("title %q", p.Markers[0].Title)
	}
}
