package web

import (
	"fmt"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
)

// The picture is an inline SVG in a 600×150 box: findings as dots on a
// time line (higher and bigger for more severe findings), traffic volume
// as bars below, both on one time axis.
const (
	picWidth      = 600
	picHeight     = 150
	picLeft       = 8
	picRight      = picWidth - 8
	findingsTop   = 8
	findingsBot   = 58
	trafficTop    = 68
	trafficBot    = 124
	labelY        = 142
	minSpan       = time.Hour
	maxPicMarkers = 200 // newest kept; bounds the page size
	maxPicBars    = 300
)

type picture struct {
	Width, Height int
	Markers       []marker
	Bars          []bar
	Start, End    string
	// Axis positions, for the template.
	FindingsLine, TrafficBase float64
	Left, Right               float64
	LabelY                    float64
	EmptyFindingsY            float64
	EmptyTrafficY             float64
	NoFindings, NoTraffic     bool
}

type marker struct {
	X, Y, R float64
	Class   string
	Title   string
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

// drawPicture lays out d's findings and traffic from its first sign of
// life (at least the last hour) until now.
func drawPicture(d api.Device, now time.Time) picture {
	p := picture{Width: picWidth, Height: picHeight, Left: picLeft, Right: picRight, LabelY: labelY,
		FindingsLine: findingsBot, TrafficBase: trafficBot,
		EmptyFindingsY: (findingsTop + findingsBot) / 2, EmptyTrafficY: (trafficTop + trafficBot) / 2}
	start, end := d.FirstSeen, now
	for _, f := range d.Findings {
		if !f.Time.IsZero() && (start.IsZero() || f.Time.Before(start)) {
			start = f.Time
		}
	}
	for _, t := range d.Traffic {
		if start.IsZero() || t.Start.Before(start) {
			start = t.Start
		}
	}
	if start.IsZero() || end.Sub(start) < minSpan {
		start = end.Add(-minSpan)
	}
	span := end.Sub(start)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(start)) / float64(span)
		return picLeft + max(0, min(1, f))*(picRight-picLeft)
	}
	p.Start, p.End = when(start), when(end)

	findings := d.Findings
	if len(findings) > maxPicMarkers {
		findings = findings[len(findings)-maxPicMarkers:]
	}
	for _, f := range findings {
		if f.Time.IsZero() {
			continue
		}
		sev := max(event.SeverityInfo, min(event.SeverityCritical, f.Severity))
		// Severity raises the dot: critical at the top, low near the line.
		y := findingsBot - 6 - float64(sev)*float64(findingsBot-findingsTop-12)/float64(event.SeverityCritical)
		p.Markers = append(p.Markers, marker{
			X: x(f.Time), Y: y, R: 3 + float64(sev),
			Class: "sev-" + sev.String(),
			Title: fmt.Sprintf("%s · %s · %s", when(f.Time), sev, f.Summary),
		})
	}
	p.NoFindings = len(p.Markers) == 0

	points := d.Traffic
	if len(points) > maxPicBars {
		points = points[len(points)-maxPicBars:]
	}
	var most uint64
	for _, t := range points {
		most = max(most, t.Bytes)
	}
	if most > 0 {
		w := max(1.5, (picRight-picLeft)/float64(len(points))*0.8)
		for _, t := range points {
			h := float64(t.Bytes) / float64(most) * (trafficBot - trafficTop)
			if t.Bytes > 0 {
				h = max(h, 1)
			}
			p.Bars = append(p.Bars, bar{X: min(x(t.Start), picRight-w), Y: trafficBot - h, W: w, H: h,
				Title: fmt.Sprintf("%s · %s", when(t.Start), humanBytes(t.Bytes))})
		}
	}
	p.NoTraffic = len(p.Bars) == 0
	return p
}
