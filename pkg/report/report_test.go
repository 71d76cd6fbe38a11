package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

func ev(kind event.Kind, sev event.Severity, summary string, evid event.Evidence) *event.Event {
	return &event.Event{V: 1, Type: event.TypeFinding, Kind: kind, Severity: sev, Summary: summary, Evidence: evid,
		Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestGroupFindings(t *testing.T) {
	bb := func(id, cve string, sev event.Severity, exploited string) *event.Event {
		return ev(event.KindOutdatedFirmware, sev, "busybox "+id, event.Evidence{"product": "busybox", "version": "1.19.3", "cve": cve, "exploited": exploited})
	}
	fs := []*event.Event{
		ev(event.KindPlaintextCredentials, event.SeverityMedium, "FTP login sent without encryption (user b***, unique, accepted: no)", nil),
		ev(event.KindPlaintextCredentials, event.SeverityMedium, "FTP login sent without encryption (user b***, unique, accepted: no)", nil),
		bb("a", "CVE-1,CVE-2", event.SeverityHigh, "no"),
		bb("b", "CVE-3", event.SeverityCritical, "yes"),
		ev(event.KindOutdatedFirmware, event.SeverityHigh, "miniupnpd 1.6 has known vulnerabilities", event.Evidence{"product": "miniupnpd", "version": "1.6"}),
	}
	fs[1].Count = 29
	got := groupFindings(fs)
	if len(got) != 3 {
		t.Fatalf("%d groups, want 3: %+v", len(got), got)
	}
	if got[0].count != 30 {
		t.Errorf("repeated logins counted %d, want 30", got[0].count)
	}
	if g := got[1]; g.ev.Severity != event.SeverityCritical || g.ev.Summary != "busybox 1.19.3 matches 2 advisories (CVE-1, CVE-2, CVE-3); exploited in the wild" {
		t.Errorf("advisory group %q severity %v", g.ev.Summary, g.ev.Severity)
	}
	if fs[2].Summary != "busybox a" {
		t.Error("grouping changed the stored finding")
	}
	if got[2].ev.Summary != "miniupnpd 1.6 has known vulnerabilities" {
		t.Errorf("single advisory rewritten: %q", got[2].ev.Summary)
	}
}

// TestGroupFindingsDistributionBuild: a distribution's build's line says
// the fixes may be backported, when every finding of it says it is one.
func TestGroupFindingsDistributionBuild(t *testing.T) {
	ssh := func(cve, dist string) *event.Event {
		e := ev(event.KindOutdatedFirmware, event.SeverityHigh, "openssh 9.2p1 "+cve, event.Evidence{"product": "openssh", "version": "9.2p1", "cve": cve})
		if dist != "" {
			e.Evidence["distribution_build"], e.Evidence["distribution"] = "yes", dist
		}
		return e
	}
	tests := []struct {
		name string
		fs   []*event.Event
		want string
	}{
		{"debian", []*event.Event{ssh("CVE-2023-38408", "Debian"), ssh("CVE-2024-6387", "Debian")},
			"openssh 9.2p1 matches 2 advisories (CVE-2023-38408, CVE-2024-6387); a distribution build (Debian): the fixes may be backported without the version changing, check Debian's security tracker"},
		{"upstream", []*event.Event{ssh("CVE-2023-38408", ""), ssh("CVE-2024-6387", "")},
			"openssh 9.2p1 matches 2 advisories (CVE-2023-38408, CVE-2024-6387)"},
		{"not_all_marked", []*event.Event{ssh("CVE-2023-38408", "Debian"), ssh("CVE-2024-6387", "")},
			"openssh 9.2p1 matches 2 advisories (CVE-2023-38408, CVE-2024-6387)"},
		// Two advisories naming six CVEs: what is left out is CVEs, not
		// advisories.
		{"more_cves_than_advisories", []*event.Event{ssh("CVE-2021-1,CVE-2021-2,CVE-2021-3", ""), ssh("CVE-2022-1,CVE-2022-2,CVE-2022-3", "")},
			"openssh 9.2p1 matches 2 advisories (CVE-2021-1, CVE-2021-2, CVE-2021-3, CVE-2022-1, and 2 more CVEs)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := groupFindings(tt.fs)
			if len(got) != 1 || got[0].ev.Summary != tt.want {
				t.Errorf("groups %+v, want one %q", got, tt.want)
			}
		})
	}
}

func TestSummaryOutputs(t *testing.T) {
	inv := device.NewInventory(16, func(netip.Addr) bool { return true })
	f := ev(event.KindDefaultCredentials, event.SeverityHigh, "TELNET login with factory-default credentials (user r***, accepted: yes)",
		event.Evidence{"protocol": "telnet", "accepted": "yes"})
	f.Device = event.Endpoint{MAC: "c0:56:e3:1a:2b:3c", IP: "192.168.1.20", Local: true}
	inv.Emit(f)
	s := Build([]Input{{Name: "x.pcap", Packets: 10}}, Counters{Packets: 10}, inv, config.Default())
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Device c0:56:e3:1a:2b:3c (192.168.1.20) - would QUARANTINE", "vendor Hikvision", "HIGH", "baseline (ETSI EN 303 645)", "FAIL     1", "Would quarantine: 1 device(s)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Type    string `json:"type"`
		Devices []struct {
			Verdict struct {
				Action string `json:"action"`
			} `json:"verdict"`
			Scorecard json.RawMessage `json:"scorecard"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Type != "summary" || len(back.Devices) != 1 ||
		back.Devices[0].Verdict.Action != "quarantine" || len(back.Devices[0].Scorecard) < 10 {
		t.Errorf("JSON summary %s (%v)", js.String(), err)
	}
	if max, ok := s.MaxSeverity(); !ok || max != event.SeverityHigh {
		t.Errorf("MaxSeverity %v %v", max, ok)
	}
}

// TestEmptySummaryHasLists: with no device (an empty capture) the JSON
// summary has [] where a reader iterates, not null.
func TestEmptySummaryHasLists(t *testing.T) {
	inv := device.NewInventory(16, func(netip.Addr) bool { return true })
	var js bytes.Buffer
	if err := Build(nil, Counters{}, inv, config.Default()).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"inputs":[]`, `"devices":[]`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("summary %s lacks %s", js.String(), want)
		}
	}
}

// TestInspectionCountersTold: connections left uninspected, inspections
// taken from idle connections and WebSocket connections whose
// inspection stopped at a compressed message are told in the text, and
// only when there are some; so are truncated frames and frames of an
// unknown link type, each (no "0 truncated frames").
func TestInspectionCountersTold(t *testing.T) {
	inv := device.NewInventory(16, func(netip.Addr) bool { return true })
	for _, tc := range []struct {
		c    Counters
		want []string
		not  []string
	}{
		{Counters{Packets: 10}, nil, []string{"not inspected", "taken from", "truncated frames", "unknown link type", "WebSocket"}},
		// Each of truncated and unknown link frames only when there are some.
		{Counters{Packets: 10, UnknownLink: 283}, []string{"  283 frames of unknown link type\n"}, []string{"truncated"}},
		{Counters{Packets: 10, Truncated: 2}, []string{"  2 truncated frames\n"}, []string{"unknown link"}},
		{Counters{Packets: 10, Truncated: 2, UnknownLink: 3}, []string{"  2 truncated frames, 3 frames of unknown link type\n"}, nil},
		{Counters{Packets: 10, Uninspected: 3, Reclaimed: 2}, []string{
			"3 new connections not inspected",
			"2 inspections taken from connections idle for a minute or joined without a handshake",
		}, nil},
		// WebSocket connections read to their end are no gap.
		{Counters{Packets: 10, WebSockets: 2}, nil, []string{"WebSocket", "not inspected"}},
		{Counters{Packets: 10, WebSockets: 3, WebSocketCompressed: 1}, []string{
			"  1 of 3 WebSocket connections read (MQTT over WebSocket) stopped at a compressed message (permessage-deflate): the rest of each not inspected\n",
		}, nil},
	} {
		var text bytes.Buffer
		if err := Build(nil, tc.c, inv, config.Default()).WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(text.String(), w) {
				t.Errorf("text lacks %q:\n%s", w, text.String())
			}
		}
		for _, w := range tc.not {
			if strings.Contains(text.String(), w) {
				t.Errorf("text has %q:\n%s", w, text.String())
			}
		}
	}
}

// TestSummaryFieldsDocumented: every field of the summary line, of its
// inputs, devices and counters is named in docs/events.md's section on
// it, the schema readers go by.
func TestSummaryFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Summary line\n")
	if !ok {
		t.Fatal("docs/events.md has no summary line section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	inv := device.NewInventory(16, func(netip.Addr) bool { return true })
	f := ev(event.KindDefaultCredentials, event.SeverityHigh, "TELNET login with factory-default credentials (user r***, accepted: yes)",
		event.Evidence{"protocol": "telnet", "accepted": "yes"})
	f.Device = event.Endpoint{MAC: "c0:56:e3:1a:2b:3c", IP: "192.168.1.20", Local: true}
	inv.Emit(f)
	o := ev(event.KindBanner, event.SeverityInfo, "Telnet server banner", event.Evidence{"protocol": "telnet", "banner": "BusyBox v1.19.3 built-in shell (ash)", "stage": "after_login"})
	o.Type, o.Device = event.TypeObservation, f.Device
	inv.Emit(o)
	dhcp := ev(event.KindDHCP, event.SeverityInfo, "DHCP request", event.Evidence{"client_mac": "c0:56:e3:1a:2b:3c", "message_type": "request", "hostname": "ipcam"})
	dhcp.Type, dhcp.Device = event.TypeObservation, event.Endpoint{IP: "0.0.0.0", Local: true}
	inv.Emit(dhcp)
	var js bytes.Buffer
	if err := Build([]Input{{Name: "x.pcap", Packets: 10, Error: "x.pcap: offset 24 (after 0 packets): truncated"}}, Counters{}, inv, config.Default()).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var sum map[string]json.RawMessage
	if err := json.Unmarshal(js.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	var inputs, devices []map[string]json.RawMessage
	if err := json.Unmarshal(sum["inputs"], &inputs); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sum["devices"], &devices); err != nil || len(devices) != 1 {
		t.Fatalf("devices %s: %v", sum["devices"], err)
	}
	var counters map[string]json.RawMessage
	if err := json.Unmarshal(sum["counters"], &counters); err != nil {
		t.Fatal(err)
	}
	for what, obj := range map[string]map[string]json.RawMessage{"summary": sum, "inputs[]": inputs[0], "devices[]": devices[0], "counters": counters} {
		for k := range obj {
			if !strings.Contains(section, "`"+k+"`") && !strings.Contains(section, `"`+k+`":`) {
				t.Errorf("%s field %q is not in docs/events.md's summary line section", what, k)
			}
		}
	}
	for _, k := range []string{"hostnames", "software", "identity", "scorecard", "observations", "findings"} {
		if _, ok := devices[0][k]; !ok {
			t.Errorf("the device has no %s to check: %s", k, sum["devices"])
		}
	}
}

// TestTextLines: a finding's line names its kind in words, says when
// its version is only claimed (which no quarantine rests on), and the
// list of devices to quarantine does not repeat its heading.
func TestTextLines(t *testing.T) {
	outdated := func(advisory, cve, source string) *event.Event {
		return ev(event.KindOutdatedFirmware, event.SeverityCritical, "busybox 1.35.0 "+cve,
			event.Evidence{"product": "busybox", "version": "1.35.0", "advisory": advisory, "cve": cve, "software_source": source})
	}
	login := ev(event.KindDefaultCredentials, event.SeverityHigh, "TELNET login with factory-default credentials (user r***, accepted: yes)",
		event.Evidence{"protocol": "telnet", "accepted": "yes"})
	for _, tc := range []struct {
		name   string
		fs     []*event.Event
		want   []string
		refuse []string
	}{
		{name: "claimed_over_dhcp", fs: []*event.Event{outdated("A-1", "CVE-1", "dhcp")},
			want: []string{"busybox 1.35.0 CVE-1 (version claimed over DHCP, not confirmed)\n"}},
		{name: "claimed_over_two", fs: []*event.Event{outdated("A-1", "CVE-1", "ssdp"), outdated("A-2", "CVE-2", "mdns,ssdp")},
			want: []string{"matches 2 advisories (CVE-1, CVE-2) (version claimed over SSDP and mDNS, not confirmed)\n"}},
		{name: "served_version", fs: []*event.Event{outdated("A-1", "CVE-1", "banner/telnet")}, refuse: []string{"claimed"}},
		{name: "claim_and_served", fs: []*event.Event{outdated("A-1", "CVE-1", "dhcp,banner/telnet")}, refuse: []string{"claimed"}},
		{name: "kind_in_words", fs: []*event.Event{login},
			want: []string{"  HIGH  Factory-default password  TELNET login"}, refuse: []string{"default_credentials"}},
		{name: "quarantine_said_once", fs: []*event.Event{login},
			want:   []string{"Would quarantine: 1 device(s)\n  c0:56:e3:1a:2b:3c:\n    - TELNET login"},
			refuse: []string{"(quarantine)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := device.NewInventory(16, func(netip.Addr) bool { return true })
			for _, f := range tc.fs {
				c := *f
				c.Device = event.Endpoint{MAC: "c0:56:e3:1a:2b:3c", IP: "192.168.1.20", Local: true}
				inv.Emit(&c)
			}
			var text bytes.Buffer
			if err := Build(nil, Counters{}, inv, config.Default()).WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(text.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, text.String())
				}
			}
			for _, w := range tc.refuse {
				if strings.Contains(text.String(), w) {
					t.Errorf("text has %q:\n%s", w, text.String())
				}
			}
		})
	}
}

// TestProtectedAddressVerdict: a device at a management address or the
// router's, as the configuration names them, gets the daemon's verdict:
// protected, an alert rather than a quarantine, said in the text and in
// the JSON verdict's note. A device that sent one frame from such an
// address while it keeps its own is not protected by it.
func TestProtectedAddressVerdict(t *testing.T) {
	const camera = "c0:56:e3:1a:2b:3c"
	mgmt, router := netip.MustParseAddr("192.168.1.250"), netip.MustParseAddr("192.168.1.1")
	own := netip.MustParseAddr("192.168.1.20")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		management []netip.Addr
		routers    []netip.Addr
		addrs      []netip.Addr // the camera's, one a second, the finding from the last
		action     config.Action
		note       string
		text       []string
	}{
		{name: "no_protected_addresses", addrs: []netip.Addr{mgmt}, action: config.ActionQuarantine,
			text: []string{"- would QUARANTINE", "Would quarantine: 1 device(s)"}},
		{name: "management_address", management: []netip.Addr{mgmt}, addrs: []netip.Addr{mgmt}, action: config.ActionAlert,
			note: "protected (management address): would otherwise quarantine",
			text: []string{"Would quarantine: 0 device(s)\n  " + camera + ": protected (management address): would otherwise quarantine\n"}},
		{name: "router_address", routers: []netip.Addr{router}, addrs: []netip.Addr{router}, action: config.ActionAlert,
			note: "protected (router address): would otherwise quarantine",
			text: []string{camera + ": protected (router address): would otherwise quarantine\n"}},
		{name: "other_management_address", management: []netip.Addr{netip.MustParseAddr("192.168.1.251")}, addrs: []netip.Addr{mgmt},
			action: config.ActionQuarantine, text: []string{"- would QUARANTINE"}},
		// One frame from the management address, the camera's own in use.
		{name: "keeps_its_own_address", management: []netip.Addr{mgmt}, addrs: []netip.Addr{own, mgmt, own},
			action: config.ActionQuarantine, text: []string{"- would QUARANTINE", "Would quarantine: 1 device(s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := device.NewInventory(16, func(netip.Addr) bool { return true })
			mac := hwaddr.MAC{0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}
			for i, a := range tt.addrs {
				inv.Seen(mac, a, "", "neighbour", t0.Add(time.Duration(i)*time.Second))
			}
			f := ev(event.KindDefaultCredentials, event.SeverityHigh, "TELNET login with factory-default credentials (user r***, accepted: yes)",
				event.Evidence{"protocol": "telnet", "accepted": "yes"})
			f.Time = t0.Add(time.Duration(len(tt.addrs)) * time.Second)
			f.Device = event.Endpoint{MAC: camera, IP: tt.addrs[len(tt.addrs)-1].String(), Local: true}
			inv.Emit(f)
			cfg := config.Default()
			cfg.Daemon.ManagementAddresses, cfg.Daemon.RouterAddresses = tt.management, tt.routers
			s := Build(nil, Counters{}, inv, cfg)
			if len(s.Devices) != 1 {
				t.Fatalf("%d devices, want the camera", len(s.Devices))
			}
			for _, a := range tt.addrs {
				if !slices.Contains(s.Devices[0].Addrs, a.String()) {
					t.Fatalf("the camera's addresses %v lack %s", s.Devices[0].Addrs, a)
				}
			}
			if v := s.Devices[0].Verdict; v.Action != tt.action || v.Note != tt.note {
				t.Errorf("verdict %s, note %q; want %s, %q", v.Action, v.Note, tt.action, tt.note)
			}
			var js bytes.Buffer
			if err := s.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back struct {
				Devices []struct {
					Verdict struct {
						Action config.Action `json:"action"`
						Note   string        `json:"note"`
					} `json:"verdict"`
				} `json:"devices"`
			}
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Devices) != 1 ||
				back.Devices[0].Verdict.Action != tt.action || back.Devices[0].Verdict.Note != tt.note {
				t.Errorf("JSON summary %s (%v): want action %s, note %q", js.String(), err, tt.action, tt.note)
			}
			var text bytes.Buffer
			if err := s.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.text {
				if !strings.Contains(text.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, text.String())
				}
			}
		})
	}
}
