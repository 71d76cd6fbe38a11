package device

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// claimCam is the device of the version tests: its MAC, at 192.168.1.64.
const claimCam = "c0:56:e3:1a:2b:3c"

// at is an observation of kind about claimCam, h hours after t0.
func at(h int, kind event.Kind, ev event.Evidence) *event.Event {
	o := obs(claimCam, "192.168.1.64", kind, ev)
	o.Time = t0.Add(time.Duration(h) * time.Hour)
	return o
}

// Served: a telnet banner, an SSH banner, an HTTP Server header.
func telnetBusyBox(h int, version string) *event.Event {
	return at(h, event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "BusyBox v" + version + " (2016-05-12 10:11:45 CST) built-in shell (ash)"})
}

func sshDropbear(h int, version string) *event.Event {
	return at(h, event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-dropbear_" + version})
}

func httpServer(h int, server string) *event.Event {
	return at(h, event.KindHTTPServer, event.Evidence{"server": server})
}

// Claims: a SIP header, a DHCP vendor class, an SSDP NOTIFY, mDNS TXT.
func sipBanner(h int, text string) *event.Event {
	return at(h, event.KindBanner, event.Evidence{"protocol": "sip", "banner": text, "header": "User-Agent"})
}

func dhcpVendorClass(h int, vc string) *event.Event {
	return at(h, event.KindDHCP, event.Evidence{"protocol": "dhcpv4", "message_type": "discover", "client_mac": claimCam, "vendor_class": vc})
}

func ssdpNotify(h int, server string) *event.Event {
	return at(h, event.KindSSDP, event.Evidence{"message": "notify", "server": server})
}

func mdnsTXT(h int, key, value string) *event.Event {
	return at(h, event.KindMDNS, event.Evidence{"hostname": "hue.local", "txt_" + key: value})
}

// Between the two: the description the router fetched.
func upnpDescription(h int, ev event.Evidence) *event.Event { return at(h, event.KindUPnP, ev) }

// versionCase is one sequence of reports and what claimCam then runs.
type versionCase struct {
	name   string
	events []*event.Event
	// software is the expected "product version" list of the products
	// it names, in order.
	software []string
	// disputed, when set, are the claims noted on the first entry of
	// software.
	disputed []string
	firmware string // Identity.Firmware, when set
	// firmwareSources, when set, are the sources of each vote for
	// firmware ("http_server" for one vote, "ssdp+http_server" for a
	// vote with a confirmation), in vote order.
	firmwareSources []string
	// seen, when set, is the hour after t0 of the first software
	// entry's Seen.
	seen int
}

func (tt *versionCase) run(t *testing.T) {
	inv := newInv()
	for _, ev := range tt.events {
		inv.File(ev)
	}
	d := device(t, inv, claimCam)
	var products []string
	for _, s := range tt.software {
		products = append(products, s[:strings.IndexByte(s, ' ')])
	}
	var got []string
	var first *Software
	for i, s := range d.Software {
		if slices.Contains(products, s.Product) {
			got = append(got, s.Product+" "+s.Version)
			if first == nil {
				first = &d.Software[i]
			}
		}
	}
	if !slices.Equal(got, tt.software) {
		t.Errorf("software %q, want %q (all: %+v)", got, tt.software, d.Software)
	}
	if tt.disputed != nil && (first == nil || !slices.Equal(first.Disputed, tt.disputed)) {
		t.Errorf("disputed %+v, want %q", first, tt.disputed)
	}
	if tt.seen != 0 && (first == nil || !first.Seen.Equal(t0.Add(time.Duration(tt.seen)*time.Hour))) {
		t.Errorf("seen %+v, want %d h after t0", first, tt.seen)
	}
	if tt.firmware != "" && d.Identity.Firmware.Value != tt.firmware {
		t.Errorf("firmware %q (alternatives %+v), want %q", d.Identity.Firmware.Value, d.Identity.Firmware.Alternatives, tt.firmware)
	}
	if tt.firmwareSources != nil {
		var srcs []string
		for _, v := range d.votes {
			if v.field == fieldFirmware && v.key == voteKey(fieldFirmware, tt.firmware) {
				srcs = append(srcs, v.sources())
			}
		}
		if !slices.Equal(srcs, tt.firmwareSources) {
			t.Errorf("votes for firmware %s from %q, want %q", tt.firmware, srcs, tt.firmwareSources)
		}
	}
}

// checkFirmwareVotes files votes (each Value the firmware it votes for)
// in order on a device of their own and checks the firmware they
// combine to.
func checkFirmwareVotes(t *testing.T, votes []Evidence, want string) {
	t.Helper()
	inv := newInv()
	var d Device
	for _, ev := range votes {
		inv.addVote(&d, fieldFirmware, ev.Value, ev)
	}
	if got := inv.combine(d.votes, fieldFirmware, false); got.Value != want {
		t.Errorf("firmware %q (alternatives %+v), want %q", got.Value, got.Alternatives, want)
	}
}

// sources is "ssdp+http_server" for a vote from ssdp that http_server
// confirmed.
func (v *vote) sources() string { return strings.Join(append([]string{v.ev.Source}, v.also...), "+") }

// TestClaimsDoNotOverrideServedVersions: DHCP, SSDP, mDNS and SIP or
// SNMP datagrams are claims anyone on the LAN can send with a device's
// MAC and address. A version the device served itself (a TCP banner, the
// Server header of its HTTP answer) stands against them: a claim neither
// takes it back nor puts a rival version of the product beside it, and a
// served version supersedes the versions only claims named. The UPnP
// description the router fetched stands between the two. A source that
// reports another version was updated, and a device known only from
// claims still has their versions.
func TestClaimsDoNotOverrideServedVersions(t *testing.T) {
	tests := []versionCase{
		{
			name:     "DHCP takes back no BusyBox the telnet banner served",
			events:   []*event.Event{telnetBusyBox(0, "1.19.4"), dhcpVendorClass(1, "udhcp 1.19.4"), dhcpVendorClass(2, "udhcp 1.36.1")},
			software: []string{"busybox 1.19.4"},
			disputed: []string{"dhcp 1.36.1"},
		},
		{
			name: "SSDP takes back no GoAhead the Server header served",
			events: []*event.Event{httpServer(0, "GoAhead-Webs/2.5.0"), ssdpNotify(1, "UPnP/1.0 GoAhead-Webs/2.5.0"),
				ssdpNotify(2, "UPnP/1.0 GoAhead-Webs/3.6.5")},
			software: []string{"goahead 2.5.0"},
			disputed: []string{"ssdp 3.6.5"},
		},
		{
			name:     "a SIP datagram takes back no dropbear the SSH banner served",
			events:   []*event.Event{sshDropbear(0, "2014.63"), sipBanner(1, "dropbear_2014.63"), sipBanner(2, "dropbear_2019.78")},
			software: []string{"dropbear 2014.63"},
			disputed: []string{"banner/sip 2019.78"},
		},
		{
			name:     "a claim puts no older version beside a served one",
			events:   []*event.Event{httpServer(0, "GoAhead-Webs/3.6.5"), ssdpNotify(1, "UPnP/1.0 GoAhead-Webs/2.5.0")},
			software: []string{"goahead 3.6.5"},
			disputed: []string{"ssdp 2.5.0"},
		},
		{
			name:     "a served version supersedes what only a claim named",
			events:   []*event.Event{ssdpNotify(0, "UPnP/1.0 GoAhead-Webs/2.5.0"), httpServer(1, "GoAhead-Webs/3.6.5")},
			software: []string{"goahead 3.6.5"},
			disputed: []string{"ssdp 2.5.0"},
		},
		{
			name:     "a recent served version and the fetched description's stand beside each other",
			events:   []*event.Event{httpServer(0, "GoAhead-Webs/2.5.0"), upnpDescription(2, event.Evidence{"server": "GoAhead-Webs/3.6.5"})},
			software: []string{"goahead 2.5.0", "goahead 3.6.5"},
		},
		{
			name: "the fetched description's update takes back what it confirmed",
			events: []*event.Event{httpServer(0, "GoAhead-Webs/2.5.0"), upnpDescription(1, event.Evidence{"server": "GoAhead-Webs/2.5.0"}),
				upnpDescription(2, event.Evidence{"server": "GoAhead-Webs/3.6.5"})},
			software: []string{"goahead 3.6.5"},
		},
		{
			name: "SSDP takes back no version the fetched description confirmed",
			events: []*event.Event{ssdpNotify(0, "UPnP/1.0 GoAhead-Webs/2.5.0"), upnpDescription(1, event.Evidence{"server": "GoAhead-Webs/2.5.0"}),
				ssdpNotify(2, "UPnP/1.0 GoAhead-Webs/3.6.5")},
			software: []string{"goahead 2.5.0"},
			disputed: []string{"ssdp 3.6.5"},
		},
		{
			name:     "a served header without a version disputes no claimed one",
			events:   []*event.Event{ssdpNotify(0, "UPnP/1.0 GoAhead-Webs/2.5.0"), httpServer(1, "GoAhead-Webs"), ssdpNotify(2, "UPnP/1.0 GoAhead-Webs/2.5.0")},
			software: []string{"goahead 2.5.0", "goahead "},
		},
		{
			name: "a forged claim does not replace a banner the device keeps serving",
			events: []*event.Event{telnetBusyBox(0, "1.19.4"), dhcpVendorClass(1, "udhcp 1.19.4"), telnetBusyBox(20, "1.19.4"),
				dhcpVendorClass(30, "udhcp 1.36.1")},
			software: []string{"busybox 1.19.4"},
			disputed: []string{"dhcp 1.36.1"},
		},
		{
			name: "a claim confirming a served version does not keep it from aging",
			events: []*event.Event{httpServer(0, "GoAhead-Webs/2.5.0"), ssdpNotify(20, "UPnP/1.0 GoAhead-Webs/2.5.0"),
				upnpDescription(30, event.Evidence{"server": "GoAhead-Webs/3.6.5"})},
			software: []string{"goahead 3.6.5"},
		},
		// What must still work.
		{
			name: "a served version not seen for a day gives way to a claim's update",
			events: []*event.Event{telnetBusyBox(0, "1.19.4"), dhcpVendorClass(1, "udhcp 1.19.4"), dhcpVendorClass(2, "udhcp 1.36.1"),
				dhcpVendorClass(30, "udhcp 1.36.1")},
			software: []string{"busybox 1.36.1"},
		},
		{
			name: "a served version not seen for a day gives way to the fetched description's",
			events: []*event.Event{httpServer(0, "GoAhead-Webs/2.5.0"), ssdpNotify(1, "UPnP/1.0 GoAhead-Webs/3.6.5"),
				upnpDescription(1, event.Evidence{"server": "GoAhead-Webs/3.6.5"}), upnpDescription(30, event.Evidence{"server": "GoAhead-Webs/3.6.5"})},
			software: []string{"goahead 3.6.5"},
		},
		{
			name:     "a newer banner replaces an older one",
			events:   []*event.Event{sshDropbear(0, "2014.63"), sshDropbear(1, "2019.78")},
			software: []string{"dropbear 2019.78"},
		},
		{
			name:     "the served source's update takes back what a claim confirmed",
			events:   []*event.Event{telnetBusyBox(0, "1.19.4"), dhcpVendorClass(1, "udhcp 1.19.4"), telnetBusyBox(2, "1.36.1")},
			software: []string{"busybox 1.36.1"},
		},
		{
			name:     "a claim confirming the served version is recorded",
			events:   []*event.Event{httpServer(0, "GoAhead-Webs/2.5.0"), ssdpNotify(1, "UPnP/1.0 GoAhead-Webs/2.5.0")},
			software: []string{"goahead 2.5.0"},
		},
		{
			name:     "a version only DHCP names",
			events:   []*event.Event{dhcpVendorClass(0, "udhcp 1.24.1")},
			software: []string{"busybox 1.24.1"},
		},
		{
			name:     "an update only DHCP names",
			events:   []*event.Event{dhcpVendorClass(0, "udhcp 1.24.1"), dhcpVendorClass(1, "udhcp 1.36.1")},
			software: []string{"busybox 1.36.1"},
		},
		{
			name:     "an update only SSDP names",
			events:   []*event.Event{ssdpNotify(0, "UPnP/1.0 GoAhead-Webs/2.5.0"), ssdpNotify(1, "UPnP/1.0 GoAhead-Webs/3.6.5")},
			software: []string{"goahead 3.6.5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// TestClaimsDoNotOverrideServedFirmware: the firmware the device served
// (a Hue bridge's or a Sonos speaker's Server header) is its identity's
// and its firmware entry's against the later, heavier or more numerous
// votes of claims and of the fetched description; a source that
// confirmed it does not follow a claim to another firmware. The served
// source's own update counts, and a device known only from claims still
// gets their firmware.
func TestClaimsDoNotOverrideServedFirmware(t *testing.T) {
	hue := func(v string) string { return "Hue/1.0 UPnP/1.0 IpBridge/" + v }
	model := upnpDescription(0, event.Evidence{"manufacturer": "Signify", "model_name": "BSB002"})
	const fw = "philipshue:bsb002"
	tests := []versionCase{
		{
			name:     "a later SSDP firmware loses to the served one",
			events:   []*event.Event{model, httpServer(1, hue("1.50.0")), ssdpNotify(2, hue("1.20.0"))},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
		{
			name:     "a served confirmation does not follow a claim to another firmware",
			events:   []*event.Event{model, ssdpNotify(1, hue("1.50.0")), httpServer(2, hue("1.50.0")), ssdpNotify(3, hue("1.20.0"))},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
			// The vote stays the Server header's: a source lost on the
			// way leaves the served firmware with a claim's basis.
			firmwareSources: []string{"http_server"},
		},
		// The identity is worked out again for a repeat of a firmware it
		// does not show: the update a device keeps announcing after its
		// web server went, the version it serves again after a claim.
		{
			name: "an update announced every hour takes over a day after the last served report",
			events: append([]*event.Event{model, httpServer(1, hue("1.20.0"))},
				func() (evs []*event.Event) {
					for h := 2; h <= 40; h++ {
						evs = append(evs, ssdpNotify(h, hue("1.50.0")))
					}
					return evs
				}()...),
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
		{
			name:     "a firmware served again wins back from a claim that outlived its age",
			events:   []*event.Event{model, httpServer(1, hue("1.20.0")), ssdpNotify(26, hue("1.50.0")), httpServer(27, hue("1.20.0"))},
			software: []string{fw + " 1.20.0"},
			firmware: "1.20.0",
		},
		{
			name:     "claims together outvote no served firmware",
			events:   []*event.Event{model, httpServer(1, hue("1.50.0")), mdnsTXT(2, "fv", "1.20.0"), ssdpNotify(2, hue("1.20.0"))},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
		{
			name: "a source that names another firmware confirms the old one no more",
			events: []*event.Event{model, ssdpNotify(1, hue("1.20.0")), httpServer(2, hue("1.20.0")), httpServer(3, hue("1.50.0")),
				ssdpNotify(4, hue("1.20.0")), mdnsTXT(4, "fv", "1.20.0")},
			software:        []string{fw + " 1.50.0"},
			firmware:        "1.50.0",
			firmwareSources: []string{"http_server"},
		},
		{
			name: "a source's older report arriving late keeps its confirmation",
			events: []*event.Event{model, ssdpNotify(1, hue("1.50.0")), httpServer(3, hue("1.50.0")), httpServer(2, hue("1.20.0")),
				ssdpNotify(4, hue("1.20.0"))},
			software:        []string{fw + " 1.50.0"},
			firmware:        "1.50.0",
			firmwareSources: []string{"http_server"},
		},
		{
			name: "the fetched description's firmware ranks with the served one",
			events: []*event.Event{httpServer(0, "Linux UPnP/1.0 Sonos/63.2-88230 (ZPS12)"),
				upnpDescription(1, event.Evidence{"manufacturer": "Sonos, Inc.", "firmware_version": "57.3-77280"})},
			firmware: "57.3-77280",
		},
		{
			name: "a later claim's firmware loses to the fetched description's",
			events: []*event.Event{upnpDescription(0, event.Evidence{"manufacturer": "Sonos, Inc.", "firmware_version": "57.3-77280"}),
				ssdpNotify(1, "Linux UPnP/1.0 Sonos/63.2-88230 (ZPS12)")},
			firmware: "57.3-77280",
		},
		// A served firmware ages as a served version does (servedFresh):
		// one not served for a day gives way in the identity, as in the
		// software list, to another announced since; a claim repeating
		// it keeps it no fresher.
		{
			name:     "a served firmware not seen for a day gives way to an announced update",
			events:   []*event.Event{model, httpServer(1, hue("1.20.0")), ssdpNotify(26, hue("1.50.0"))},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
		{
			name: "a served firmware not seen for a day gives way to the fetched description's",
			events: []*event.Event{httpServer(0, "Linux UPnP/1.0 Sonos/63.2-88230 (ZPS12)"),
				upnpDescription(30, event.Evidence{"manufacturer": "Sonos, Inc.", "firmware_version": "57.3-77280"})},
			firmware: "57.3-77280",
		},
		{
			name: "claims repeating the old firmware do not keep it fresh",
			events: []*event.Event{model, httpServer(1, hue("1.20.0")), ssdpNotify(20, hue("1.20.0")), mdnsTXT(23, "fv", "1.20.0"),
				ssdpNotify(26, hue("1.50.0")), mdnsTXT(27, "fv", "1.20.0")},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
		{
			name:     "a claim repeating the served firmware does not refresh its entry",
			events:   []*event.Event{model, httpServer(1, hue("1.20.0")), ssdpNotify(20, hue("1.20.0"))},
			software: []string{fw + " 1.20.0"},
			firmware: "1.20.0",
			seen:     1,
		},
		{
			name:     "a served firmware seen within the day keeps its place",
			events:   []*event.Event{model, httpServer(1, hue("1.20.0")), ssdpNotify(20, hue("1.50.0"))},
			software: []string{fw + " 1.20.0"},
			firmware: "1.20.0",
		},
		{
			name:     "a served firmware served again keeps its place",
			events:   []*event.Event{model, httpServer(1, hue("1.20.0")), httpServer(10, hue("1.20.0")), ssdpNotify(30, hue("1.50.0"))},
			software: []string{fw + " 1.20.0"},
			firmware: "1.20.0",
		},
		// What must still work.
		{
			name:     "a firmware update only SSDP names",
			events:   []*event.Event{model, ssdpNotify(1, hue("1.20.0")), ssdpNotify(2, hue("1.50.0"))},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
		{
			name:     "a served firmware update",
			events:   []*event.Event{model, httpServer(1, hue("1.20.0")), ssdpNotify(2, hue("1.20.0")), httpServer(3, hue("1.50.0"))},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
		{
			name:     "a claim confirming the served firmware",
			events:   []*event.Event{model, httpServer(1, hue("1.50.0")), ssdpNotify(2, hue("1.50.0"))},
			software: []string{fw + " 1.50.0"},
			firmware: "1.50.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// TestClaimsDoNotCrowdOutAServedSource: with the sources of a version
// full of claims, the served source that confirms it still gets in, and
// a claim naming another version then takes it back no more.
func TestClaimsDoNotCrowdOutAServedSource(t *testing.T) {
	var d Device
	for i, src := range []string{"ssdp", "dhcp", "mdns", "banner/sip", "banner/snmp", "http_server"} {
		d.addSoftware(Software{Product: "goahead", Version: "2.5.0", Source: src, Seen: t0.Add(time.Duration(i) * time.Minute)})
	}
	d.addSoftware(Software{Product: "goahead", Version: "3.6.5", Source: "ssdp", Seen: t0.Add(time.Hour)})
	if len(d.Software) != 1 || d.Software[0].Version != "2.5.0" || !d.Software[0].reportedBy("http_server") {
		t.Errorf("software %+v, want 2.5.0 confirmed by http_server", d.Software)
	}
}

// TestBannerFromAnotherMAC: a host that took over the device's address
// by spoofing ARP answers connections to it with frames from its own
// MAC; the banner it serves is filed under that MAC, and the device's
// software and address stay as they were.
func TestBannerFromAnotherMAC(t *testing.T) {
	const cam, spoofer = "c0:56:e3:1a:2b:3c", "02:00:00:00:00:66"
	inv := newInv()
	ban := func(mac, version string, h int) {
		ev := obs(mac, "192.168.1.64", event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-dropbear_" + version})
		ev.Time = t0.Add(time.Duration(h) * time.Minute)
		inv.File(ev)
	}
	ban(cam, "2019.78", 0)
	ban(spoofer, "2014.63", 1)
	d := device(t, inv, cam)
	if len(d.Software) != 1 || d.Software[0].Version != "2019.78" || !slices.Contains(d.Addrs, netip.MustParseAddr("192.168.1.64")) {
		t.Errorf("device: software %+v, addresses %v; want dropbear 2019.78 at 192.168.1.64", d.Software, d.Addrs)
	}
	if s := device(t, inv, spoofer).Software; len(s) != 1 || s[0].Version != "2014.63" {
		t.Errorf("spoofer: software %+v, want its own dropbear 2014.63", s)
	}
}

// TestSupersedes: a version takes the place of one that an outdated
// finding was filed about only when a source as firm as the finding's
// firmest reported it.
func TestSupersedes(t *testing.T) {
	tests := []struct {
		source  string
		also    []string
		finding string // the finding's software_source
		want    bool
	}{
		{"ssdp", nil, "http_server", false},
		{"ssdp", []string{"dhcp", "mdns"}, "banner/ssh", false},
		{"ssdp", nil, "ssdp,upnp", false},
		{"ssdp", nil, "", false}, // filed before sources were recorded
		{"ssdp", nil, "ssdp", true},
		{"dhcp", nil, "banner/sip,ssdp", true},
		{"upnp", nil, "ssdp,upnp", true},
		{"upnp", nil, "http_server", true},
		{"upnp", nil, "banner/telnet,ssdp", true},
		{"ssdp", []string{"http_server"}, "banner/telnet,dhcp", true},
		{"banner/telnet", nil, "", true},
		{"http_client", nil, "ssdp", true},
		// A source no list classes is as weak as a claim.
		{"banner/newproto", nil, "http_client", false},
		{"banner/newproto", nil, "ssdp", true},
	}
	for _, tt := range tests {
		s := Software{Product: "goahead", Version: "3.6.5", Source: tt.source, Also: tt.also}
		if got := s.Supersedes(tt.finding); got != tt.want {
			t.Errorf("%s %v supersedes a finding from %q: %v, want %v", tt.source, tt.also, tt.finding, got, tt.want)
		}
	}
}

// TestFirmwareTieGoesToTheFirmSourcesLatest: two firmware votes of equal
// weight, each served by a source of its own; the later served report
// wins the tie, and a claim repeating the other one does not make it the
// later.
func TestFirmwareTieGoesToTheFirmSourcesLatest(t *testing.T) {
	tests := []struct {
		name  string
		votes []Evidence // Value is the firmware
		want  string
	}{
		{
			name:  "the later served report",
			votes: []Evidence{{Source: "banner/telnet", Value: "1.20", Time: t0}, {Source: "http_server", Value: "1.50", Time: t0.Add(time.Hour)}},
			want:  "1.50",
		},
		{
			name: "a claim repeating the earlier does not make it the later",
			votes: []Evidence{{Source: "banner/telnet", Value: "1.20", Time: t0}, {Source: "http_server", Value: "1.50", Time: t0.Add(time.Hour)},
				{Source: "ssdp", Value: "1.20", Time: t0.Add(2 * time.Hour)}},
			want: "1.50",
		},
		{
			name: "the earlier served again",
			votes: []Evidence{{Source: "banner/telnet", Value: "1.20", Time: t0}, {Source: "http_server", Value: "1.50", Time: t0.Add(time.Hour)},
				{Source: "banner/telnet", Value: "1.20", Time: t0.Add(2 * time.Hour)}},
			want: "1.20",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			votes := slices.Clone(tt.votes)
			for i := range votes {
				votes[i].Rule, votes[i].Weight, votes[i].Signal = "fw", 0.5, "http_server"
			}
			checkFirmwareVotes(t, votes, tt.want)
		})
	}
}

// TestRepeatedReportsAllocateNothing: a NOTIFY repeated every few seconds
// (by the device, or by a forger to cost the router memory) reporting a
// version already recorded, or a claim already noted against a served
// version, allocates nothing.
func TestRepeatedReportsAllocateNothing(t *testing.T) {
	tests := []struct {
		name   string
		repeat Software
	}{
		{"a confirmation", Software{Product: "goahead", Version: "2.5.0", Source: "ssdp"}},
		{"a disputed claim", Software{Product: "goahead", Version: "3.6.5", Source: "ssdp"}},
		{"a served repeat", Software{Product: "goahead", Version: "2.5.0", Source: "http_server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Device
			d.addSoftware(Software{Product: "goahead", Version: "2.5.0", Source: "http_server", Seen: t0})
			s := tt.repeat
			s.Seen = t0.Add(time.Minute)
			d.addSoftware(s)
			if n := testing.AllocsPerRun(100, func() { d.addSoftware(s) }); n != 0 {
				t.Errorf("%v allocations per repeat (software %+v)", n, d.Software)
			}
		})
	}
}

// TestMergeKeepsConfirmations: when an address-keyed device is merged
// into the device its MAC names, the sources that confirmed its firmware
// votes and software versions, and the claims disputing them, come too:
// without them a served firmware would be left as a claim's.
func TestMergeKeepsConfirmations(t *testing.T) {
	fw := func(src, version string, h int) Evidence {
		return Evidence{Signal: "http_server", Source: src, Value: version, Rule: "fw", Weight: 0.5, Time: t0.Add(time.Duration(h) * time.Hour)}
	}
	tests := []struct {
		name      string
		into, old []Evidence // firmware votes
		intoSW    []Software // software of the device merged into
		oldSW     []Software // and of the merged one
		votes     []string   // sources of each firmware vote after, "+" joined
		software  []string   // "product version source+also disputed…"
	}{
		{
			name:  "a firmware vote's confirmations",
			old:   []Evidence{fw("ssdp", "1.50", 1), fw("http_server", "1.50", 2)},
			votes: []string{"ssdp+http_server"},
		},
		{
			name:  "confirmations joining the device's own vote",
			into:  []Evidence{fw("mdns", "1.50", 0)},
			old:   []Evidence{fw("ssdp", "1.50", 1), fw("http_server", "1.50", 2)},
			votes: []string{"mdns+ssdp+http_server"},
		},
		{
			name:     "a version's sources and disputes, into a version the device has",
			intoSW:   []Software{{Product: "goahead", Version: "2.5.0", Source: "ssdp", Seen: t0}},
			oldSW:    []Software{{Product: "goahead", Version: "2.5.0", Source: "http_server", Also: []string{"upnp"}, Disputed: []string{"mdns 3.6.5"}, Seen: t0}},
			software: []string{"goahead 2.5.0 ssdp+http_server+upnp mdns 3.6.5"},
		},
		{
			name:     "a version's sources and disputes, new to the device",
			oldSW:    []Software{{Product: "goahead", Version: "2.5.0", Source: "http_server", Also: []string{"upnp"}, Disputed: []string{"mdns 3.6.5"}, Seen: t0}},
			software: []string{"goahead 2.5.0 http_server+upnp mdns 3.6.5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			var d, old Device
			for _, ev := range tt.into {
				inv.addVote(&d, fieldFirmware, ev.Value, ev)
			}
			for _, ev := range tt.old {
				inv.addVote(&old, fieldFirmware, ev.Value, ev)
			}
			for _, s := range tt.intoSW {
				d.addSoftware(s)
			}
			for _, s := range tt.oldSW {
				old.addSoftware(s)
			}
			inv.merge(&d, &old)
			var votes []string
			for _, v := range d.votes {
				if v.field == fieldFirmware {
					votes = append(votes, v.sources())
				}
			}
			if !slices.Equal(votes, tt.votes) {
				t.Errorf("firmware votes from %q, want %q", votes, tt.votes)
			}
			var sw []string
			for _, s := range d.Software {
				sw = append(sw, strings.Join(append([]string{s.Product, s.Version, strings.Join(append([]string{s.Source}, s.Also...), "+")}, s.Disputed...), " "))
			}
			if !slices.Equal(sw, tt.software) {
				t.Errorf("software %q, want %q", sw, tt.software)
			}
		})
	}
}

// TestFirmwareRanksByAllItsSources: a firmware an SSDP NOTIFY named
// first and the Server header confirmed ranks as served, above a
// heavier claim's; the confirmation is not its first source.
func TestFirmwareRanksByAllItsSources(t *testing.T) {
	tests := []struct {
		name  string
		votes []Evidence // Value is the firmware
		want  string
	}{
		{
			name: "a served confirmation",
			votes: []Evidence{{Source: "ssdp", Value: "1.50", Rule: "hue", Weight: 0.5, Time: t0}, {Source: "http_server", Value: "1.50", Rule: "hue", Weight: 0.5, Time: t0.Add(time.Hour)},
				{Source: "mdns", Value: "1.20", Rule: "hue-txt", Weight: 0.9, Time: t0.Add(2 * time.Hour)}},
			want: "1.50",
		},
		{
			name: "claims only: the heavier",
			votes: []Evidence{{Source: "ssdp", Value: "1.50", Rule: "hue", Weight: 0.5, Time: t0}, {Source: "dhcp", Value: "1.50", Rule: "hue", Weight: 0.5, Time: t0.Add(time.Hour)},
				{Source: "mdns", Value: "1.20", Rule: "hue-txt", Weight: 0.9, Time: t0.Add(2 * time.Hour)}},
			want: "1.20",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFirmwareVotes(t, tt.votes, tt.want) })
	}
}

// TestReportNotesBounded: however many sources confirm a version or a
// firmware vote, and however many versions claims dispute, each list
// holds its bound, the served source and the latest dispute kept.
func TestReportNotesBounded(t *testing.T) {
	tests := []struct {
		name    string
		sources int // distinct claim sources confirming, then http_server
		claims  int // distinct versions claimed against the served one
	}{
		{name: "sources", sources: 3 * maxAlso},
		{name: "disputes", claims: 3 * maxDisputed},
		{name: "both", sources: 2 * maxAlso, claims: 2 * maxDisputed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			var d Device
			report := func(src, version string, i int) {
				ts := t0.Add(time.Duration(i) * time.Minute)
				d.addSoftware(Software{Product: "goahead", Version: version, Source: src, Seen: ts})
				inv.addVote(&d, fieldFirmware, version, Evidence{Source: src, Value: version, Rule: "fw", Weight: 0.5, Time: ts})
			}
			for i := range tt.sources {
				report(fmt.Sprintf("claim%d", i), "2.5.0", i)
			}
			report("http_server", "2.5.0", tt.sources)
			for i := range tt.claims {
				report(fmt.Sprintf("claim%d", tt.sources+i), fmt.Sprintf("3.%d", i), tt.sources+1+i)
			}
			i := slices.IndexFunc(d.Software, func(s Software) bool { return s.Version == "2.5.0" })
			if i < 0 {
				t.Fatalf("software %+v: 2.5.0 gone", d.Software)
			}
			s := d.Software[i]
			if len(s.Also) > maxAlso || !s.reportedBy("http_server") {
				t.Errorf("2.5.0 from %s, also %q: want at most %d, http_server among them", s.Source, s.Also, maxAlso)
			}
			if len(s.Disputed) > maxDisputed || (tt.claims > 0 && s.Disputed[len(s.Disputed)-1] != fmt.Sprintf("claim%d 3.%d", tt.sources+tt.claims-1, tt.claims-1)) {
				t.Errorf("2.5.0 disputed %q: want at most %d, the latest last", s.Disputed, maxDisputed)
			}
			for _, v := range d.votes {
				if len(v.also) > maxAlso || len(v.alsoAt) != len(v.also) {
					t.Errorf("vote for %s from %s, also %q at %v: want at most %d, each with its time", v.value, v.ev.Source, v.also, v.alsoAt, maxAlso)
				}
			}
		})
	}
}

// TestSoftwareListFullOfClaims: a neighbour announcing made-up products
// in a device's name (SSDP, DHCP, a SIP header) fills its software list;
// a version the device serves itself still gets in, in the place of the
// claim seen longest ago, or its advisories would never match. Claims
// take no place, nor does a served version from another served one.
func TestSoftwareListFullOfClaims(t *testing.T) {
	tests := []struct {
		name      string
		fill, add string // the sources filling the list, and of the report added
		added     bool
		firstGoes bool // the entry seen longest ago leaves the list
	}{
		{name: "a served version takes a claim's place", fill: "ssdp", add: "banner/telnet", added: true, firstGoes: true},
		{name: "the fetched description takes a claim's place", fill: "dhcp", add: "upnp", added: true, firstGoes: true},
		{name: "a claim takes no claim's place", fill: "ssdp", add: "dhcp"},
		{name: "a claim takes no served version's place", fill: "http_server", add: "ssdp"},
		{name: "a served version takes no served version's place", fill: "http_server", add: "banner/telnet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Device
			for i := range maxSoftware {
				d.addSoftware(Software{Product: fmt.Sprintf("made-up-%d", i), Version: "1.0", Source: tt.fill, Seen: t0.Add(time.Duration(i) * time.Minute)})
			}
			d.addSoftware(Software{Product: "busybox", Version: "1.19.4", Source: tt.add, Seen: t0.Add(time.Hour)})
			added := slices.ContainsFunc(d.Software, func(s Software) bool { return s.Product == "busybox" })
			firstGone := !slices.ContainsFunc(d.Software, func(s Software) bool { return s.Product == "made-up-0" })
			if added != tt.added || firstGone != tt.firstGoes || len(d.Software) > maxSoftware {
				t.Errorf("busybox added %v, made-up-0 gone %v, %d entries; want %v, %v, at most %d",
					added, firstGone, len(d.Software), tt.added, tt.firstGoes, maxSoftware)
			}
		})
	}
}

// TestVotesFullOfClaims: a neighbour announcing made-up values in a
// device's name fills its votes; a vote of a source the device serves
// itself still gets in, in the place of the claim added last (the
// flood's, not the first word, its OUI's), or the firmware its own
// server gives would never reach its software list. Claims take no
// place, nor does a served vote take a served one's.
func TestVotesFullOfClaims(t *testing.T) {
	tests := []struct {
		name      string
		fill, add string // the sources filling the votes after the OUI's, and of the vote added
		added     bool
		lastGoes  bool // the vote added last leaves
	}{
		{name: "a served vote takes a claim's place", fill: "mdns", add: "http_server", added: true, lastGoes: true},
		{name: "a connection's vote takes a claim's place", fill: "dns_query", add: "http_client", added: true, lastGoes: true},
		{name: "a claim takes no claim's place", fill: "mdns", add: "ssdp"},
		{name: "a claim takes no served vote's place", fill: "http_server", add: "ssdp"},
		{name: "a served vote takes the OUI's place, no served vote's", fill: "upnp", add: "http_server", added: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			var d Device
			inv.addVote(&d, fieldVendor, "Signify", Evidence{Source: "oui", Value: "Signify", Rule: "oui-registrant", Weight: ouiWeight, Time: t0})
			for i := 1; i < maxVotes; i++ {
				inv.addVote(&d, fieldType, fmt.Sprintf("made-up-%d", i), Evidence{Source: tt.fill, Value: fmt.Sprint(i), Rule: fmt.Sprintf("rule-%d", i), Weight: 0.5, Time: t0.Add(time.Duration(i) * time.Second)})
			}
			inv.addVote(&d, fieldFirmware, "1.50.0", Evidence{Source: tt.add, Value: "IpBridge/1.50.0", Rule: "server-hue", Weight: 0.9, Time: t0.Add(time.Hour)})
			has := func(value string) bool {
				return slices.ContainsFunc(d.votes, func(v vote) bool { return v.value == value })
			}
			last := fmt.Sprintf("made-up-%d", maxVotes-1)
			oui := slices.ContainsFunc(d.votes, func(v vote) bool { return v.ev.Source == "oui" })
			if has("1.50.0") != tt.added || has(last) == tt.lastGoes || oui != (tt.lastGoes || !tt.added) || len(d.votes) > maxVotes {
				t.Errorf("firmware vote in %v, the last added in %v, the OUI's in %v, %d votes; want %v, %v, %v, at most %d",
					has("1.50.0"), has(last), oui, len(d.votes), tt.added, !tt.lastGoes, tt.lastGoes || !tt.added, maxVotes)
			}
		})
	}
}
