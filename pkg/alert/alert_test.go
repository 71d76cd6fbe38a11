package alert

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func mac(n byte) hwaddr.MAC { return hwaddr.MAC{0xc0, 0x56, 0xe3, 0, 0, n} }

// credEvent is a telnet login into a LAN camera with a default password,
// as the telnet inspector reports it.
func credEvent(accepted string) *event.Event {
	return &event.Event{V: 1, Time: t0, Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
		Severity: event.SeverityHigh, Capability: 1, Provision: "5.1-1",
		Device: event.Endpoint{MAC: "c0:56:e3:00:00:01", IP: "192.168.1.10", Local: true},
		Flow: &event.Flow{Transport: "tcp", App: "telnet", Direction: event.WANToLAN,
			Client: event.Endpoint{IP: "203.0.113.9", Port: 40000},
			Server: event.Endpoint{MAC: "c0:56:e3:00:00:01", IP: "192.168.1.10", Port: 23, Local: true}},
		Summary: "telnet login with factory-default credentials (user ro***, accepted: " + accepted + ")",
		Evidence: event.Evidence{"protocol": "telnet", "mechanism": "login prompt", "user": "ro***",
			"password_class": "default", "password_hash": "0011223344556677", "password": "xc***",
			"accepted": accepted, "default_vendor": "Xiongmai"}}
}

// TestAlertDeviceName: an alert names its device as the page and the
// console do (api.Device.DisplayName): the owner's name, else vendor and
// type, else its host name, else its MAC; the model is no part of it.
func TestAlertDeviceName(t *testing.T) {
	ev := credEvent("yes")
	for _, tc := range []struct {
		name string
		dev  Device
		want string
	}{
		{"owner_name", Device{Name: "Hall camera", Vendor: "Hikvision", Type: "camera", Hostname: "ipcam"}, "Factory-default password on Hall camera"},
		{"vendor_and_type", Device{Vendor: "Hikvision", Type: "camera", Model: "DS-2CD", Hostname: "ipcam"}, "Factory-default password on Hikvision camera"},
		{"vendor_without_model", Device{Vendor: "Hikvision"}, "Factory-default password on Hikvision"},
		{"host_name", Device{Hostname: "ipcam"}, "Factory-default password on ipcam"},
		{"mac", Device{}, "Factory-default password on c0:56:e3:00:00:01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := FromEvent(ev, tc.dev)
			if !ok {
				t.Fatal("no alert")
			}
			if a.Title != tc.want {
				t.Errorf("title %q, want %q", a.Title, tc.want)
			}
			if q := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0}, tc.dev); q.Title != strings.TrimPrefix(tc.want, "Factory-default password on ")+" quarantined" {
				t.Errorf("quarantine titled %q, want the same name", q.Title)
			}
		})
	}
}

func TestFromEvent(t *testing.T) {
	outdated := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindOutdatedFirmware, Severity: event.SeverityCritical,
		Device: event.Endpoint{MAC: "c0:56:e3:00:00:02"},
		Evidence: event.Evidence{"product": "Hikvision IP camera firmware", "version": "5.4.0", "advisory": "HIK-2021-1",
			"cve": "CVE-2021-36260", "fixed": "5.5.800", "exploited": "yes", "end_of_life": "no", "url": "https://example.com/adv"}}
	eol := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindOutdatedFirmware, Severity: event.SeverityMedium,
		Device:   event.Endpoint{MAC: "c0:56:e3:00:00:02"},
		Evidence: event.Evidence{"product": "BusyBox", "version": "1.19", "end_of_life": "yes", "fixed": "none"}}
	// Debian 12's OpenSSH 9.2p1, patched against regreSSHion: the
	// version is no proof, Debian's tracker is.
	debian := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindOutdatedFirmware, Severity: event.SeverityHigh,
		Device: event.Endpoint{MAC: "b8:27:eb:00:00:04"},
		Evidence: event.Evidence{"product": "openssh", "version": "9.2p1", "advisory": "IOTGW-2024-0001", "cve": "CVE-2024-6387",
			"fixed": "9.8p1", "exploited": "no", "end_of_life": "no", "url": "https://example.com/adv",
			"distribution_build": "yes", "distribution": "Debian"}}
	centosEOL := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindOutdatedFirmware, Severity: event.SeverityMedium,
		Device:   event.Endpoint{MAC: "b8:27:eb:00:00:05"},
		Evidence: event.Evidence{"product": "openssl", "version": "1.0.1e", "end_of_life": "yes", "fixed": "1.1.1", "distribution_build": "yes", "distribution": "CentOS"}}
	pii := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindPersonalData, Severity: event.SeverityMedium,
		Device: event.Endpoint{MAC: "c0:56:e3:00:00:03", IP: "192.168.1.30"},
		Evidence: event.Evidence{"data_kind": "email", "sample": "al***@ex***", "where": "body", "field": "email",
			"direction": "lan_to_wan", "destination": "203.0.113.7:80"}}
	cloudLogin := credEvent("unknown")
	cloudLogin.Flow = &event.Flow{Transport: "tcp", App: "ftp", Direction: event.LANToWAN,
		Client: event.Endpoint{MAC: "c0:56:e3:00:00:01", IP: "192.168.1.10"}, Server: event.Endpoint{IP: "198.51.100.4", Port: 21}}
	cloudLogin.Evidence["protocol"] = "ftp"
	openShell := credEvent("yes")
	openShell.Evidence = event.Evidence{"protocol": "telnet", "mechanism": "no login", "password_class": "none", "accepted": "yes"}
	anyPassword := credEvent("yes")
	anyPassword.Evidence = event.Evidence{"protocol": "ssh", "mechanism": "password", "user": "ro***", "password_class": "none",
		"any_password": "yes", "accepted": "yes", "verified": "yes"}
	for _, tc := range []struct {
		name      string
		ev        *event.Event
		dev       Device
		kind      Kind
		urgent    bool
		title     string
		body      []string
		dedup     string
		absent    []string
		factCount int
	}{
		{name: "default_creds_into_lan_camera", ev: credEvent("yes"), dev: Device{Name: "Hall camera"},
			kind: KindDefaultCredentials, urgent: true, title: "Factory-default password on Hall camera",
			body:  []string{"Someone logged in to Hall camera over TELNET", "the login was accepted"},
			dedup: "default_credentials|c0:56:e3:00:00:01|telnet|", absent: []string{"ro***", "xc***", "0011223344556677"}, factCount: 4},
		{name: "default_creds_device_to_cloud", ev: cloudLogin, dev: Device{Vendor: "Xiongmai", Type: "camera"},
			kind: KindDefaultCredentials, urgent: true, title: "Factory-default password on Xiongmai camera",
			body:  []string{"sent a factory-default password to a service at 198.51.100.4 over FTP", "whether it was accepted was not seen"},
			dedup: "default_credentials|c0:56:e3:00:00:01|ftp|:21", absent: []string{"ro***", "xc***", "logged in"}, factCount: 4},
		{name: "default_creds_to_lan_camera_outcome_not_seen", ev: credEvent("unknown"), dev: Device{Name: "Hall camera"},
			kind: KindDefaultCredentials, urgent: true, title: "Factory-default password on Hall camera",
			body:  []string{"Someone sent a factory-default password to Hall camera over TELNET", "whether it was accepted was not seen"},
			dedup: "default_credentials|c0:56:e3:00:00:01|telnet|", absent: []string{"logged in"}, factCount: 4},
		{name: "default_creds_to_lan_camera_refused", ev: credEvent("no"), dev: Device{Name: "Hall camera"},
			kind: KindDefaultCredentials, urgent: true, title: "Factory-default password on Hall camera",
			body:  []string{"Someone sent a factory-default password to Hall camera over TELNET", "the login was refused"},
			dedup: "default_credentials|c0:56:e3:00:00:01|telnet|", absent: []string{"logged in"}, factCount: 4},
		{name: "shell_without_login", ev: openShell, dev: Device{Name: "Hall camera"},
			kind: KindDefaultCredentials, urgent: true, title: "No password at all on Hall camera",
			body:  []string{"Hall camera gives a shell over TELNET to anyone", "without asking for a login"},
			dedup: "default_credentials|c0:56:e3:00:00:01|telnet|", absent: []string{"factory-default"}, factCount: 4},
		{name: "any_password", ev: anyPassword, dev: Device{Name: "Hall camera"},
			kind: KindDefaultCredentials, urgent: true, title: "No password at all on Hall camera",
			body:  []string{"Hall camera accepts any password over SSH"},
			dedup: "default_credentials|c0:56:e3:00:00:01|ssh|", absent: []string{"factory-default", "without asking", "ro***"}, factCount: 4},
		{name: "outdated_exploited_is_urgent", ev: outdated, dev: Device{Vendor: "Hikvision", Type: "camera", Model: "DS-2CD"},
			kind: KindOutdatedFirmware, urgent: true, title: "Outdated software on Hikvision camera",
			body:  []string{"5.4.0", "CVE-2021-36260", "Attackers are exploiting them", "Update to 5.5.800"},
			dedup: "outdated_firmware|c0:56:e3:00:00:02|Hikvision IP camera firmware|HIK-2021-1", factCount: 8},
		{name: "end_of_life", ev: eol, kind: KindOutdatedFirmware, title: "Outdated software on c0:56:e3:00:00:02",
			body:  []string{"no longer receives security updates", "No fixed version is known"},
			dedup: "outdated_firmware|c0:56:e3:00:00:02|BusyBox|", factCount: 4},
		{name: "distribution_build", ev: debian, dev: Device{Name: "Pi"}, kind: KindOutdatedFirmware, title: "Outdated software on Pi",
			body:  []string{"openssh 9.2p1 on Pi has known security holes (CVE-2024-6387)", "It is Debian's build, which may carry the fix without the version changing", "check Debian's security tracker for openssh"},
			dedup: "outdated_firmware|b8:27:eb:00:00:04|openssh|IOTGW-2024-0001", absent: []string{"Update to 9.8p1"}, factCount: 10},
		{name: "distribution_build_end_of_life", ev: centosEOL, kind: KindOutdatedFirmware, title: "Outdated software on b8:27:eb:00:00:05",
			body:  []string{"openssl 1.0.1e on b8:27:eb:00:00:05 is no longer maintained upstream", "check CentOS's security tracker"},
			dedup: "outdated_firmware|b8:27:eb:00:00:05|openssl|", absent: []string{"no longer receives security updates", "Update to"}, factCount: 6},
		{name: "personal_data_without_sample", ev: pii, dev: Device{Name: "Scale"},
			kind: KindPersonalData, title: "Personal data sent in clear by Scale",
			body:  []string{"Scale sent an e-mail address unencrypted to 203.0.113.7:80"},
			dedup: "personal_data|c0:56:e3:00:00:03|email", absent: []string{"al***", "ex***"}, factCount: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := FromEvent(tc.ev, tc.dev)
			if !ok {
				t.Fatal("no alert")
			}
			if a.Kind != tc.kind || a.Urgent != tc.urgent || a.Title != tc.title || a.DedupKey != tc.dedup {
				t.Errorf("got kind %s urgent %v title %q dedup %q", a.Kind, a.Urgent, a.Title, a.DedupKey)
			}
			for _, s := range tc.body {
				if !strings.Contains(a.Body, s) {
					t.Errorf("body %q lacks %q", a.Body, s)
				}
			}
			if len(a.Facts) != tc.factCount {
				t.Errorf("facts %v, want %d", a.Facts, tc.factCount)
			}
			all := a.Title + a.Body + a.DedupKey + a.Reason
			for _, v := range a.Facts {
				all += v
			}
			for _, s := range tc.absent {
				if strings.Contains(all, s) {
					t.Errorf("alert carries %q", s)
				}
			}
			if a.Device == nil || a.Device.MAC != tc.ev.Device.MAC || a.Device.State != StateAlert {
				t.Errorf("device %+v", a.Device)
			}
			if !a.Time.Equal(t0) {
				t.Errorf("time %v", a.Time)
			}
		})
	}
}

func TestFromEventIgnores(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   *event.Event
	}{
		{"nil", nil},
		{"observation", &event.Event{Type: event.TypeObservation, Kind: event.KindBanner}},
		{"plaintext_protocol", &event.Event{Type: event.TypeFinding, Kind: event.KindPlaintextProtocol}},
		{"weak_tls", &event.Event{Type: event.TypeFinding, Kind: event.KindWeakTLS}},
		{"default_creds_as_observation", &event.Event{Type: event.TypeObservation, Kind: event.KindDefaultCredentials}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a, ok := FromEvent(tc.ev, Device{}); ok {
				t.Errorf("got alert %+v", a)
			}
		})
	}
}

func TestFromQuarantineAndRelease(t *testing.T) {
	until := time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)
	pol := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0, Until: until,
		Reason: "default_credentials: telnet login with factory-default credentials", By: store.ActorPolicy}, Device{Name: "Hall camera"})
	if pol.Kind != KindQuarantined || !pol.Urgent || pol.Severity != event.SeverityHigh || pol.Title != "Hall camera quarantined" {
		t.Errorf("policy quarantine %+v", pol)
	}
	for _, s := range []string{"cut off from the network", "Reason: default_credentials", "released automatically on Thu 5 Mar 08:00", "press Release"} {
		if !strings.Contains(pol.Body, s) {
			t.Errorf("body %q lacks %q", pol.Body, s)
		}
	}
	if pol.Device.State != StateQuarantined || pol.Device.MAC != "c0:56:e3:00:00:01" || pol.DedupKey != "quarantine|c0:56:e3:00:00:01" {
		t.Errorf("device %+v key %q", pol.Device, pol.DedupKey)
	}
	own := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "updates-only", Since: t0, By: store.ActorOwner}, Device{})
	if own.Urgent || own.Severity != event.SeverityInfo || !strings.Contains(own.Body, "limited to its vendor's update servers") {
		t.Errorf("owner quarantine %+v", own)
	}
	upd := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0, By: store.ActorUpdate,
		Reason: "It now reports miniupnpd 2.3.3 (was 1.6, IOTGW-2017-0004)."}, Device{Name: "Hall camera"})
	if upd.Urgent || upd.Severity != event.SeverityMedium || upd.Title != "Hall camera reports an update" ||
		!strings.Contains(upd.Body, "stays cut off from the network until you release it") || !strings.Contains(upd.Body, "2.3.3") ||
		upd.DedupKey == pol.DedupKey {
		t.Errorf("update notice %+v", upd)
	}
	rel := FromRelease(mac(1), Device{Name: "Hall camera"}, t0, "released by you")
	if rel.Kind != KindReleased || rel.DedupKey != pol.DedupKey || rel.Device.State != StateOK || rel.contentHash() == pol.contentHash() {
		t.Errorf("release %+v", rel)
	}
}

func TestFromProblem(t *testing.T) {
	p1 := FromProblem(AreaCapture, "read packet: network is down", t0)
	p2 := FromProblem(AreaCapture, "read packet: no such device", t0.Add(time.Minute))
	ok := FromProblemResolved(AreaCapture, t0.Add(time.Hour))
	nft := FromProblem(AreaNFTables, "netlink: operation not permitted", t0)
	if !p1.Urgent || p1.Title != "iotgw stopped watching the network" || !strings.Contains(p1.Body, "network is down") {
		t.Errorf("capture problem %+v", p1)
	}
	if p1.contentHash() != p2.contentHash() {
		t.Error("the same problem with a new error text would alert again")
	}
	if ok.DedupKey != p1.DedupKey || ok.contentHash() == p1.contentHash() || ok.Urgent {
		t.Errorf("resolved %+v", ok)
	}
	if nft.Title != "iotgw cannot enforce quarantines" || nft.DedupKey == p1.DedupKey {
		t.Errorf("nftables problem %+v", nft)
	}
	an := FromProblem(AreaAnalyzer+"telnet", "a bug: please report it", t0)
	if an.Urgent || an.Severity != event.SeverityMedium || an.Title != "iotgw skipped a connection it could not read" ||
		!strings.Contains(an.Body, "The telnet analyzer failed") || an.DedupKey == p1.DedupKey {
		t.Errorf("analyzer problem %+v", an)
	}
}

// TestStateProblemsWordedAndSaved: the problems a restart does not find
// again, the saved state lost or a newer version's read, have their own
// words, are never told over, and reach flash as soon as queued.
func TestStateProblemsWordedAndSaved(t *testing.T) {
	for _, tc := range []struct {
		area   string
		urgent bool
	}{{AreaStateLost, true}, {AreaStateNewer, false}} {
		p := FromProblem(tc.area, "schema 2", t0)
		if strings.HasPrefix(p.Title, "iotgw problem") || p.Urgent != tc.urgent || !p.writeAtOnce() {
			t.Errorf("%s: %q urgent %v, written at once %v", tc.area, p.Title, p.Urgent, p.writeAtOnce())
		}
		if _, _, resolved, _ := problemWords(tc.area); resolved != "" {
			t.Errorf("%s: told over as %q", tc.area, resolved)
		}
	}
	if p := FromProblem(AreaCaptureLoss, "", t0); p.writeAtOnce() {
		t.Error("a problem found again at start is written at once")
	}
}

// TestProblemAreasWorded: every area the daemon raises has its own words
// for the owner, failing and resolved, not the generic fallback.
func TestProblemAreasWorded(t *testing.T) {
	for _, area := range []string{AreaCapture, AreaNFTables, AreaState, AreaNotice, AreaWeb, AreaDNSProxy, AreaOffload, AreaCaptureLoss, AreaCaptureInterfaces, AreaInspectionFull, AreaFW4Include, AreaRestart, AreaConntrack} {
		p, r := FromProblem(area, "bind: address already in use", t0), FromProblemResolved(area, t0)
		// Part of the network unwatched, often by the owner's choice, is
		// not urgent.
		urgent := area != AreaCaptureInterfaces && area != AreaInspectionFull && area != AreaFW4Include && area != AreaRestart
		if strings.HasPrefix(p.Title, "iotgw problem") || !strings.Contains(p.Body, "address already in use") || p.Urgent != urgent {
			t.Errorf("%s: problem %q: %q", area, p.Title, p.Body)
		}
		if strings.HasPrefix(r.Title, "iotgw problem resolved") || r.DedupKey != p.DedupKey {
			t.Errorf("%s: resolved %q", area, r.Title)
		}
	}
}

func TestClipHostileText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"crlf_header_injection", "cam\r\nBcc: evil@example.com", 100, "cam Bcc: evil@example.com"},
		{"nul_and_escape", "cam\x00\x1b[31mred", 100, "cam [31mred"},
		{"bidi_override", "cam\u202egnp.exe", 100, "cam gnp.exe"},
		{"line_separator", "a\u2028b\u2029c", 100, "a b c"},
		{"invalid_utf8", "ca\xffm", 100, "ca m"},
		{"leading_trailing_space", "  \t cam \n", 100, "cam"},
		{"cut_at_rune", "ääääää", 7, "ää…"},
		{"exact_fit", "abc", 3, "abc"},
		{"empty", "", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clip(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("clip(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if len(got) > tc.max || !utf8.ValidString(got) {
				t.Errorf("clip(%q) = %q: too long or invalid", tc.in, got)
			}
		})
	}
}

// TestDeviceNameFromHostileHostname: text a device chose (the host name
// it gave itself, a vendor or model read from its announcements), or
// the owner typed, reaches the title, the body and the device's JSON
// fields without control characters and within their limits.
func TestDeviceNameFromHostileHostname(t *testing.T) {
	hostile := "evil\r\nX-Injected: 1\u202e" + strings.Repeat("A", 500)
	for _, tc := range []struct {
		name  string
		dev   Device
		field func(Device) string
	}{
		{"owner_name", Device{Name: hostile}, func(d Device) string { return d.Name }},
		{"host_name", Device{Hostname: hostile}, func(d Device) string { return d.Hostname }},
		{"vendor", Device{Vendor: hostile}, func(d Device) string { return d.Vendor }},
		{"type", Device{Vendor: "Acme", Type: hostile}, func(d Device) string { return d.Type }},
		{"model", Device{Model: hostile}, func(d Device) string { return d.Model }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.dev.MAC = "02:00:00:00:00:09"
			a := FromNewDevice(tc.dev, t0)
			if strings.ContainsAny(a.Title+a.Body+tc.field(*a.Device), "\r\n\u202e") {
				t.Errorf("control characters survived: %q, %q", a.Title, tc.field(*a.Device))
			}
			if len(a.Title) > maxTitle || len(tc.field(*a.Device)) > maxField {
				t.Errorf("title %d bytes, field %d bytes", len(a.Title), len(tc.field(*a.Device)))
			}
		})
	}
}

func TestTitleKeepsItsWordsWhateverTheName(t *testing.T) {
	// A device that names itself at length must not push the builder's
	// words out of the title and leave only words of its choosing.
	long := Device{Name: "Kitchen speaker released from quarantine by you, nothing to do" + strings.Repeat(" ok", 30)}
	q := func(by store.Actor) Alert {
		return FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: t0, By: by}, long)
	}
	pii := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindPersonalData, Severity: event.SeverityMedium,
		Device: event.Endpoint{MAC: "c0:56:e3:00:00:03"}, Evidence: event.Evidence{"data_kind": "email"}}
	fromEvent := func(ev *event.Event) Alert { a, _ := FromEvent(ev, long); return a }
	for _, tc := range []struct {
		name           string
		alert          Alert
		prefix, suffix string
	}{
		{"quarantined_by_policy", q(store.ActorPolicy), "", " quarantined"},
		{"quarantined_by_owner", q(store.ActorOwner), "", " quarantined by you"},
		{"update_claimed", q(store.ActorUpdate), "", " reports an update"},
		{"released", FromRelease(mac(1), long, t0, "the quarantine's time ran out"), "", " released from quarantine"},
		{"new_device", FromNewDevice(long, t0), "New device: ", ""},
		{"default_credentials", fromEvent(credEvent("yes")), "Factory-default password on ", ""},
		{"personal_data", fromEvent(pii), "Personal data sent in clear by ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			title := tc.alert.Title
			if !strings.HasPrefix(title, tc.prefix+"Kitchen speaker") || !strings.HasSuffix(title, "…"+tc.suffix) {
				t.Errorf("title %q: want %q, the name cut, then %q", title, tc.prefix, tc.suffix)
			}
			if len(title) > maxTitle || !utf8.ValidString(title) {
				t.Errorf("title %q: %d bytes, at most %d", title, len(title), maxTitle)
			}
		})
	}
}
