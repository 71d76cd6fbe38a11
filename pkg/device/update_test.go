package device

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// TestFirmwareAndSoftwareUpdates: a device reporting a new firmware or
// software version from the same source has been updated; the identity
// and the software list hold its latest report, not the old vulnerable
// version, and equally strong sources that disagree give the more recent
// report.
func TestFirmwareAndSoftwareUpdates(t *testing.T) {
	const cam = "c0:56:e3:1a:2b:3c"
	hour := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	upnp := func(fw string, at time.Time) *event.Event {
		ev := obs(cam, "192.168.1.64", event.KindUPnP, event.Evidence{"manufacturer": "Hikvision",
			"model_name": "DS-2CD2132F-IS", "firmware_version": fw})
		ev.Time = at
		return ev
	}
	banner := func(text, proto string, at time.Time) *event.Event {
		ev := obs(cam, "192.168.1.64", event.KindBanner, event.Evidence{"protocol": proto, "banner": text})
		ev.Time = at
		return ev
	}
	sonos := func(kind event.Kind, key, value string, at time.Time) *event.Event {
		ev := obs(cam, "192.168.1.64", kind, event.Evidence{key: value})
		ev.Time = at
		return ev
	}
	const fwOld, fwNew = "V5.4.0 build 160530", "V5.5.0 build 170602"
	tests := []struct {
		name     string
		events   []*event.Event
		firmware string   // Identity.Firmware, when set
		software []string // "product version" expected, in order
	}{
		{
			name:     "firmware update",
			events:   []*event.Event{upnp(fwOld, hour(0)), upnp(fwNew, hour(720))},
			firmware: fwNew,
			software: []string{"hikvision:ds-2cd2132f-is " + fwNew},
		},
		{
			name:     "firmware downgrade",
			events:   []*event.Event{upnp(fwNew, hour(0)), upnp(fwOld, hour(1))},
			firmware: fwOld,
			software: []string{"hikvision:ds-2cd2132f-is " + fwOld},
		},
		{
			name:     "an older report arriving late",
			events:   []*event.Event{upnp(fwNew, hour(2)), upnp(fwOld, hour(1))},
			firmware: fwNew,
			software: []string{"hikvision:ds-2cd2132f-is " + fwNew},
		},
		{
			name:     "alternating reports end with the latest",
			events:   []*event.Event{upnp(fwNew, hour(0)), upnp(fwOld, hour(1)), upnp(fwNew, hour(2)), upnp(fwOld, hour(3)), upnp(fwNew, hour(4))},
			firmware: fwNew,
			software: []string{"hikvision:ds-2cd2132f-is " + fwNew},
		},
		{
			name: "equally strong rules disagree: the later report",
			events: []*event.Event{
				sonos(event.KindUPnP, "firmware_version", "57.3-77280", hour(0)),
				sonos(event.KindUPnP, "manufacturer", "Sonos, Inc.", hour(0)),
				sonos(event.KindUPnP, "server", "Linux UPnP/1.0 Sonos/63.2-88230 (ZPS12)", hour(1)),
			},
			firmware: "63.2-88230",
		},
		{
			name: "software update from the same banner",
			events: []*event.Event{banner("SSH-2.0-dropbear_2014.63", "ssh", hour(0)),
				banner("SSH-2.0-dropbear_2019.78", "ssh", hour(1))},
			software: []string{"dropbear 2019.78"},
		},
		{
			name: "another source keeps its own report",
			events: []*event.Event{banner("BusyBox v1.19.4 (2016-05-12 10:11:45 CST) built-in shell (ash)", "telnet", hour(0)),
				banner("(BusyBox v1.24.1) FTP server ready", "ftp", hour(1))},
			software: []string{"busybox 1.19.4", "busybox 1.24.1"},
		},
		{
			name: "a claim of another version than a served one is not recorded",
			events: []*event.Event{banner("BusyBox v1.19.4 (2016-05-12 10:11:45 CST) built-in shell (ash)", "telnet", hour(0)),
				obs(cam, "192.168.1.64", event.KindDHCP, event.Evidence{"protocol": "dhcpv4", "message_type": "discover",
					"client_mac": cam, "vendor_class": "udhcp 1.24.1"})},
			software: []string{"busybox 1.19.4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range tt.events {
				inv.File(ev)
			}
			d := device(t, inv, cam)
			if tt.firmware != "" && d.Identity.Firmware.Value != tt.firmware {
				t.Errorf("firmware %q (%+v), want %q", d.Identity.Firmware.Value, d.Identity.Firmware.Alternatives, tt.firmware)
			}
			var got []string
			for _, s := range d.Software {
				got = append(got, s.Product+" "+s.Version)
			}
			if tt.software != nil && !slices.Equal(got, tt.software) {
				t.Errorf("software %q, want %q", got, tt.software)
			}
		})
	}
}

// One device announcing a new firmware in every description keeps one
// firmware vote and one firmware entry.
func TestFirmwareReportsBounded(t *testing.T) {
	inv := newInv()
	const cam = "c0:56:e3:1a:2b:3c"
	for i := range 500 {
		ev := obs(cam, "192.168.1.64", event.KindUPnP, event.Evidence{"manufacturer": "Hikvision",
			"model_name": "DS-2CD2132F-IS", "firmware_version": fmt.Sprintf("V5.%d.0", i)})
		ev.Time = t0.Add(time.Duration(i) * time.Second)
		inv.File(ev)
	}
	d := device(t, inv, cam)
	n := 0
	for _, v := range d.votes {
		if v.field == fieldFirmware {
			n++
		}
	}
	if n != 1 || len(d.Software) != 1 || d.Identity.Firmware.Value != "V5.499.0" {
		t.Errorf("%d firmware votes, software %v, firmware %q", n, d.Software, d.Identity.Firmware.Value)
	}
}

// Two sources disagree on a product's version; the lagging one catches
// up with the other: its old version goes.
func TestUpdateToTheVersionAnotherSourceReported(t *testing.T) {
	const cam = "c0:56:e3:1a:2b:3c"
	inv := newInv()
	dhcp := obs(cam, "192.168.1.64", event.KindDHCP, event.Evidence{"protocol": "dhcpv4", "message_type": "discover",
		"client_mac": cam, "vendor_class": "udhcp 1.24.1"})
	dhcp.Time = t0
	inv.File(dhcp)
	banner := func(text string, at time.Time) {
		ev := obs(cam, "192.168.1.64", event.KindBanner, event.Evidence{"protocol": "telnet", "banner": text})
		ev.Time = at
		inv.File(ev)
	}
	banner("BusyBox v1.19.4 (2016-05-12 10:11:45 CST) built-in shell (ash)", t0.Add(time.Hour))
	if sw := device(t, inv, cam).Software; !slices.ContainsFunc(sw, func(s Software) bool { return s.Version == "1.19.4" }) {
		t.Fatalf("software %v: the banner's 1.19.4 not listed", sw)
	}
	banner("BusyBox v1.24.1 (2019-02-01 10:11:45 CST) built-in shell (ash)", t0.Add(48*time.Hour))
	sw := device(t, inv, cam).Software
	if slices.ContainsFunc(sw, func(s Software) bool { return s.Version == "1.19.4" }) {
		t.Errorf("software %v: the banner's old 1.19.4 is still listed after it reported 1.24.1", sw)
	}
	if !slices.ContainsFunc(sw, func(s Software) bool { return s.Product == "busybox" && s.Version == "1.24.1" }) {
		t.Errorf("software %v: busybox 1.24.1 missing", sw)
	}
}

// TestUpdateReportedOnlyByAClaim: two sources reported one version (a
// telnet banner, then DHCP); DHCP, which anyone can send in the device's
// name, then names another. The banner's version stays, with the claim
// noted against it, while the banner is seen; a banner naming the new
// one replaces it.
func TestUpdateReportedOnlyByAClaim(t *testing.T) {
	const cam = "c0:56:e3:1a:2b:3c"
	inv := newInv()
	banner := func(version string, at time.Time) {
		ev := obs(cam, "192.168.1.64", event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "BusyBox v" + version + " (2016-05-12 10:11:45 CST) built-in shell (ash)"})
		ev.Time = at
		inv.File(ev)
	}
	dhcp := func(vc string, at time.Time) {
		ev := obs(cam, "192.168.1.64", event.KindDHCP, event.Evidence{"protocol": "dhcpv4", "message_type": "discover", "client_mac": cam, "vendor_class": vc})
		ev.Time = at
		inv.File(ev)
	}
	banner("1.19.4", t0)
	dhcp("udhcp 1.19.4", t0.Add(time.Hour))
	sw := device(t, inv, cam).Software
	if i := slices.IndexFunc(sw, func(s Software) bool { return s.Version == "1.19.4" }); i < 0 || sw[i].Source != "banner/telnet" || !slices.Equal(sw[i].Also, []string{"dhcp"}) {
		t.Fatalf("software %+v: want 1.19.4 from the banner, also from DHCP", sw)
	}
	dhcp("udhcp 1.36.1", t0.Add(2*time.Hour))
	sw = device(t, inv, cam).Software
	if len(sw) != 1 || sw[0].Version != "1.19.4" || !slices.Equal(sw[0].Disputed, []string{"dhcp 1.36.1"}) {
		t.Errorf("software %+v: want the banner's 1.19.4, disputed by DHCP's 1.36.1", sw)
	}
	banner("1.36.1", t0.Add(3*time.Hour))
	sw = device(t, inv, cam).Software
	if len(sw) != 1 || sw[0].Version != "1.36.1" || sw[0].Source != "banner/telnet" {
		t.Errorf("software %+v: want the banner's 1.36.1 alone", sw)
	}
}

// TestFirmwareConfirmationRecorded: a Hue bridge's firmware named by its
// SSDP SERVER header and again by the Server header of the description
// the router fetched keeps both sources, the second a confirmation policy
// weighs.
func TestFirmwareConfirmationRecorded(t *testing.T) {
	const hue = "ec:b5:fa:11:22:33"
	const server = "Hue/1.0 UPnP/1.0 IpBridge/1.26.0"
	inv := newInv()
	inv.File(obs(hue, "192.168.1.30", event.KindSSDP, event.Evidence{"server": server, "message": "notify"}))
	u := obs(hue, "192.168.1.30", event.KindUPnP, event.Evidence{"manufacturer": "Signify", "model_name": "BSB002", "server": server})
	u.Time = t0.Add(time.Second)
	inv.File(u)
	sw := device(t, inv, hue).Software
	i := slices.IndexFunc(sw, func(s Software) bool { return s.Version == "1.26.0" && strings.Contains(s.Product, ":") })
	if i < 0 {
		t.Fatalf("software %+v: no firmware 1.26.0", sw)
	}
	if got := append([]string{sw[i].Source}, sw[i].Also...); !slices.Contains(got, "ssdp") || !slices.Contains(got, "upnp") {
		t.Errorf("firmware %s sources %v, want ssdp and upnp", sw[i].Product, got)
	}
}

// TestUpdateReportedByASecondSource: two sources reported one version (a
// telnet banner, then DHCP); after an update that turned telnet off only
// DHCP reports the new version. While the banner is recent the claim is
// only noted; a day after the banner was last seen DHCP's version
// replaces it.
func TestUpdateReportedByASecondSource(t *testing.T) {
	const cam = "c0:56:e3:1a:2b:3c"
	tests := []struct {
		name  string
		after time.Duration // from the banner to DHCP's new version
		want  string
	}{
		{"an hour", 2 * time.Hour, "1.19.4"},
		{"just under a day", servedFresh - time.Second, "1.19.4"},
		{"a day", servedFresh, "1.36.1"},
		{"two days", 48 * time.Hour, "1.36.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			file := func(kind event.Kind, ev event.Evidence, at time.Time) {
				o := obs(cam, "192.168.1.64", kind, ev)
				o.Time = at
				inv.File(o)
			}
			file(event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "BusyBox v1.19.4 (2016-05-12 10:11:45 CST) built-in shell (ash)"}, t0)
			dhcp := event.Evidence{"protocol": "dhcpv4", "message_type": "discover", "client_mac": cam, "vendor_class": "udhcp 1.19.4"}
			file(event.KindDHCP, dhcp, t0.Add(time.Hour))
			dhcp = event.Evidence{"protocol": "dhcpv4", "message_type": "discover", "client_mac": cam, "vendor_class": "udhcp 1.36.1"}
			file(event.KindDHCP, dhcp, t0.Add(tt.after))
			if sw := device(t, inv, cam).Software; len(sw) != 1 || sw[0].Version != tt.want {
				t.Errorf("software %+v, want busybox %s alone", sw, tt.want)
			}
		})
	}
}
