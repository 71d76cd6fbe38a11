package web

import (
	"fmt"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
)

// The picture is an inline SVG in a 600×150 box: findings as dots on a
// time line (higher and bigger for more severe findings; findings close
// in time and of one severity share a dot with their count), traffic
// volume as bars below, both on one time axis from the device's first
// sign of life to its last.
const (
	picWidth      = 600
	picHeight     = 150
	picGutter     = 56 // labels left of the plot
	picLeft       = picGutter + 8
	picRight      = picWidth - 10
	findingsTop   = 8
	findingsBot   = 58
	trafficTop    = 68
	trafficBot    = 124
	labelY        = 142
	labelX        = 4 // the lane labels' left edge
	picMiddle     = (picLeft + picRight) / 2
	minSpan       = 20 * time.Second
	bucketWidth   = 8.0 // px: findings closer than this share a dot
	maxPicMarkers = 200 // newest kept; bounds the page size
	maxPicBars    = 300
	maxTitleLines = 5
)

type picture struct {
	Markers               []marker
	Bars                  []bar
	Start, End            string
	NoFindings, NoTraffic bool
}

type marker struct {
	X, Y, R float64
	Class   string
	Count   int
	Title   string
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

// drawPicture lays out d's findings and traffic.
func drawPicture(d api.Device) picture {
	var p picture
	var start, end time.Time
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if start.IsZero() || t.Before(start) {
			start = t
		}
		if end.IsZero() || t.After(end) {
			end = t
		}
	}
	see(d.FirstSeen)
	see(d.LastSeen)
	findings := d.Findings
	if len(findings) > maxPicMarkers {
		findings = findings[len(findings)-maxPicMarkers:]
	}
	for _, f := range findings {
		see(f.Time)
		see(f.LastTime)
	}
	points := d.Traffic
	if len(points) > maxPicBars {
		points = points[len(points)-maxPicBars:]
	}
	for _, t := range points {
		see(t.Start)
	}
	if start.IsZero() {
		p.NoFindings, p.NoTraffic = true, true
		return p
	}
	if span := end.Sub(start); span < minSpan {
		start = start.Add(-(minSpan - span) / 2)
		end = start.Add(minSpan)
	}
	// A margin on both sides, so the first and last dots are whole.
	pad := end.Sub(start) / 40
	start, end = start.Add(-pad), end.Add(pad)
	span := end.Sub(start)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(start)) / float64(span)
		return picLeft + max(0, min(1, f))*(picRight-picLeft)
	}
	p.Start, p.End = when(start), when(end)

	type bucket struct {
		sev    event.Severity
		x      int
		first  float64
		titles []string
		count  int
	}
	var buckets []*bucket
	index := map[[2]int]*bucket{}
	for _, f := range findings {
		if f.Time.IsZero() {
			continue
		}
		sev := max(event.SeverityInfo, min(event.SeverityCritical, f.Severity))
		fx := x(f.Time)
		k := [2]int{int(sev), int(fx / bucketWidth)}
		b := index[k]
		if b == nil {
			b = &bucket{sev: sev, x: k[1], first: fx}
			index[k] = b
			buckets = append(buckets, b)
		}
		b.count++
		if len(b.titles) < maxTitleLines {
			b.titles = append(b.titles, fmt.Sprintf("%s · %s", when(f.Time), f.Summary))
		}
	}
	for _, b := range buckets {
		title := fmt.Sprintf("%d %s finding(s)", b.count, b.sev)
		for _, t := range b.titles {
			title += "\n" + t
		}
		if b.count > len(b.titles) {
			title += fmt.Sprintf("\n… and %d more", b.count-len(b.titles))
		}
		// Severity raises the dot: critical at the top, low near the line.
		y := findingsBot - 6 - float64(b.sev)*float64(findingsBot-findingsTop-12)/float64(event.SeverityCritical)
		r := 3 + float64(b.sev)
		if b.count > 1 {
			r += 2
		}
		p.Markers = append(p.Markers, marker{X: b.first, Y: y, R: r, Class: "sev-" + b.sev.String(), Count: b.count, Title: title})
	}
	p.NoFindings = len(p.Markers) == 0

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
