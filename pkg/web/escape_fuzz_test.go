package web

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/internal/markup/markuptest"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/policy"
)

// FuzzDeviceStringsStayText renders the devices page, the device page and
// the event log with strings a device chooses (name, vendor, host name,
// summary, evidence, banner) in every field they can reach, parses each
// page as a browser would, and compares its elements and attributes with
// the same page rendered from a harmless twin of each string (the same
// length, with < > & " ' NUL and non-ASCII bytes replaced by 'Z'). Any
// string that opened a tag, a comment or an attribute would add a node or
// an attribute the twin's page does not have. Links must also keep their
// constant local start.
func FuzzDeviceStringsStayText(f *testing.F) {
	f.Add("Hall camera", "Hikvision", "cam.lan", "telnet login with the factory default password", "user", "220 FTP server ready")
	f.Add(`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `' onmouseover='alert(1)`, "javascript:alert(1)", "<!--", "</textarea><svg onload=alert(1)>")
	f.Add("\x00\xff\xfe", "]]><x>", "</title><script>", "&lt;b&gt;", "<style>*{}</style>", "<a href=//evil>")
	f.Add(`" autofocus onfocus="alert(1)`, `x" y="`, `"><b>`, `" class="`, `"onclick="a`, `x"/><script>`)
	f.Add("owner", "monitor", "updates-only", "fail", "block", "isolate")
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, vendor, host, summary, evidence, banner string) {
		in := [6]string{name, vendor, host, summary, evidence, banner}
		// The daemon keeps these fields short (names of 64 bytes, banners
		// of 160); long ones only make each of the twelve renderings and
		// parses slow enough to stall the fuzzer.
		for i := range in {
			in[i] = in[i][:min(len(in[i]), 512)]
		}
		twin := [6]string(markuptest.Twins(in[:]...))
		for _, quarantined := range []bool{false, true} {
			got, want := fuzzPages(in, quarantined), fuzzPages(twin, quarantined)
			for i := range got {
				gs, err := markuptest.Shape(got[i])
				if err != nil {
					t.Fatalf("page %d with %q: %v", i, in, err)
				}
				ws, _ := markuptest.Shape(want[i])
				if !slices.Equal(gs, ws) {
					t.Fatalf("page %d: strings %q changed the page's structure:\n%s\nwant\n%s", i, in, markuptest.DiffLines(gs, ws), got[i])
				}
			}
		}
	})
}

// fuzzPages renders the pages with the strings s spread over the fields
// a device controls, and a few the owner or the address bar controls.
func fuzzPages(s [6]string, quarantined bool) [][]byte {
	name, vendor, host, summary, evidence, banner := s[0], s[1], s[2], s[3], s[4], s[5]
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	finding := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.Kind(banner), Severity: event.SeverityCritical,
		Provision: evidence, Summary: summary, Count: 2, LastTime: t0.Add(time.Minute),
		Device:   event.Endpoint{MAC: cameraMAC, IP: host},
		Flow:     &event.Flow{Transport: banner, Client: event.Endpoint{IP: host}, Server: event.Endpoint{IP: host, Port: 23}, App: banner},
		Evidence: event.Evidence{evidence: banner, "banner": banner, name: summary}}
	obs := &event.Event{Time: t0, Type: event.Type(banner), Kind: event.Kind(evidence), Device: event.Endpoint{IP: host}, Summary: summary}
	d := api.Device{MAC: cameraMAC, Name: name, Vendor: vendor, Type: banner, Model: host,
		Addrs: []string{host, "192.168.50.101"}, Hostnames: []string{host, name},
		FirstSeen: t0, LastSeen: t0.Add(time.Hour), State: summary,
		Verdict: policy.Verdict{Action: config.Action(vendor), Note: evidence, PendingUntil: t0, Pending: config.Action(banner),
			Reasons: []policy.Reason{{Severity: event.SeverityHigh, Summary: summary}}},
		Findings: []*event.Event{finding},
		Identity: map[string]string{"vendor": vendor, banner: host},
		Software: []api.Software{{Product: banner, Version: host, Source: evidence, Disputed: []string{summary, name}, Distribution: name}, {Product: vendor, Source: banner}},
		Scorecard: device.Card{Contact: &device.VendorInfo{Name: vendor, Policy: evidence},
			Capabilities: []device.CapabilityCard{{Capability: 1, Name: name, Status: device.Status(vendor),
				Provisions: []device.Provision{{ID: evidence, Title: summary, Status: device.Status(banner), Reasons: []string{banner, host}}}}},
			Other: []device.Provision{{ID: banner, Title: vendor, Status: device.Status(evidence), Reasons: []string{summary}}}},
		Traffic: []api.TrafficPoint{{Start: t0, Bytes: 1000}},
	}
	if quarantined {
		d.Quarantine = &api.Quarantine{Mode: banner, Since: t0, By: vendor, Reason: summary}
		d.Trusted = true
	}
	view := func(pg any) *view {
		return &view{Title: d.DisplayName(), Nav: "devices", CSRF: "token", LoggedIn: true, Live: true, Now: t0.Add(2 * time.Hour),
			Status: &api.Status{Mode: vendor, Capture: banner, Problems: []string{summary}}, Error: summary, Page: pg}
	}
	events := eventsPage{Devices: []api.Device{d}, Events: []*event.Event{finding, obs}, Kinds: []string{"default_credentials", banner, vendor, host},
		Severities: []string{"low", "high"}}
	events.Filter.MAC, events.Filter.Kind, events.Filter.Type, events.Filter.Severity = name, banner, summary, evidence
	var out [][]byte
	for _, pg := range []struct {
		c    content
		data any
	}{
		{devicesContent, []api.Device{d, {MAC: "02:00:00:00:00:02", Vendor: vendor, State: host}}},
		{deviceContent, newDevicePage(d, deviceForm{Mode: banner, For: evidence, Name: name})},
		{eventsContent, events},
	} {
		var w markup.Writer
		page(&w, view(pg.data), pg.c)
		out = append(out, bytes.Clone(w.Bytes()))
	}
	return out
}
