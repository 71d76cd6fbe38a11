package device

import (
	"fmt"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// A device's list of findings is full: a more severe finding displaces
// the least severe, oldest one; a less severe one is dropped; the count
// of what was lost grows either way.
func TestFindingCapKeepsTheSevere(t *testing.T) {
	inv := newInv()
	const mac = "00:11:22:33:44:55"
	plain := func(i int, at time.Time) *event.Event {
		f := finding(event.KindPlaintextProtocol, "Unencrypted HTTP", event.Evidence{"protocol": "http"})
		f.Severity, f.Time = event.SeverityLow, at
		f.Flow = &event.Flow{Transport: "tcp", App: "http", Server: event.Endpoint{IP: fmt.Sprintf("198.51.100.%d", i)}}
		return f
	}
	for i := range maxFindings {
		inv.Emit(plain(i, t0.Add(time.Duration(i)*time.Second)))
	}
	def := finding(event.KindDefaultCredentials, "default login", event.Evidence{"protocol": "http", "user": "a***"})
	def.Severity, def.Time = event.SeverityHigh, t0.Add(time.Hour)
	inv.Emit(def)
	info := finding(event.KindPlaintextProtocol, "Unencrypted MQTT", event.Evidence{"protocol": "mqtt"})
	info.Severity, info.Time = event.SeverityInfo, t0.Add(2*time.Hour)
	inv.Emit(info)
	// A repeat of a kept finding still folds into it.
	inv.Emit(plain(maxFindings-1, t0.Add(3*time.Hour)))
	// One of the same weight displaces nothing.
	inv.Emit(plain(200, t0.Add(4*time.Hour)))

	d := device(t, inv, mac)
	if len(d.Findings) != maxFindings {
		t.Fatalf("%d findings, want the cap %d", len(d.Findings), maxFindings)
	}
	var haveDefault, haveInfo, haveFirst bool
	for _, f := range d.Findings {
		switch {
		case f.Kind == event.KindDefaultCredentials:
			haveDefault = true
		case f.Severity == event.SeverityInfo:
			haveInfo = true
		case f.Flow != nil && f.Flow.Server.IP == "198.51.100.0":
			haveFirst = true
		case f.Flow != nil && f.Flow.Server.IP == "198.51.100.200":
			t.Error("a finding of the same severity displaced a kept one")
		case f.Flow != nil && f.Flow.Server.IP == fmt.Sprintf("198.51.100.%d", maxFindings-1) && f.Count != 2:
			t.Errorf("repeat not folded: count %d", f.Count)
		}
	}
	if !haveDefault {
		t.Error("the default login was dropped from a full list")
	}
	if haveInfo {
		t.Error("a less severe finding displaced a kept one")
	}
	if haveFirst {
		t.Error("the oldest low finding was kept instead of the default login")
	}
	if d.DroppedEvents != 3 {
		t.Errorf("dropped %d, want 3", d.DroppedEvents)
	}
	// A pinned (quarantined) device keeps the findings it has.
	inv.Pin(d.Key, true)
	crit := finding(event.KindWeakTLS, "SSLv3", event.Evidence{"tls_version": "SSLv3"})
	crit.Severity = event.SeverityCritical
	inv.Emit(crit)
	for _, f := range d.Findings {
		if f.Kind == event.KindWeakTLS {
			t.Error("a pinned device's finding was displaced")
		}
	}
}

// Logins that look alike once redacted fold into one finding only when
// their password class agrees too: an anonymous FTP login and an empty
// password of a user that also redacts to "an***" stay two.
func TestLoginFindingsFoldByClass(t *testing.T) {
	inv := newInv()
	login := func(class string, at time.Time) *event.Event {
		f := finding(event.KindPlaintextCredentials, class+" login", event.Evidence{"protocol": "ftp", "user": "an***", "password_class": class})
		f.Time = at
		f.Flow = &event.Flow{Transport: "tcp", App: "ftp", Server: event.Endpoint{IP: "198.51.100.7", Port: 21}}
		return f
	}
	inv.Emit(login("anonymous", t0))
	inv.Emit(login("anonymous", t0.Add(time.Minute)))
	inv.Emit(login("empty", t0.Add(2*time.Minute)))
	d := device(t, inv, "00:11:22:33:44:55")
	counts := map[string]int{}
	for _, f := range d.Findings {
		counts[f.Evidence["password_class"]] += max(f.Count, 1) // 0: seen once
	}
	if len(d.Findings) != 2 || counts["anonymous"] != 2 || counts["empty"] != 1 {
		t.Errorf("%d findings, counts by class %v; want anonymous ×2 and empty ×1 apart", len(d.Findings), counts)
	}
}

// TestFindingCapSharedByKinds: one kind of finding that fills the list
// (personal data sent to ever new addresses, which anyone can send in
// a device's name) keeps no other kind out: a new kind takes the place
// of the weakest finding of a kind holding more than its share
// (kindShare), whatever their severities, so that the default login or
// the advisory policy quarantines on still reaches it. A kind at its
// share, or one of the crowding kind, displaces no equal, nor, however
// severe, a finding of another kind that holds no more than its share:
// the advisory that took a crowding finding's place stays. A pinned
// device keeps what it has.
func TestFindingCapSharedByKinds(t *testing.T) {
	type fill struct {
		kind     event.Kind
		severity event.Severity
		n        int
	}
	tests := []struct {
		name     string
		fill     []fill
		kind     event.Kind
		severity event.Severity
		pinned   bool
		kept     bool
	}{
		{name: "a default login into high personal data", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings}},
			kind: event.KindDefaultCredentials, severity: event.SeverityHigh, kept: true},
		{name: "a medium advisory into high personal data", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings}},
			kind: event.KindOutdatedFirmware, severity: event.SeverityMedium, kept: true},
		{name: "a default login into two crowding kinds", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings / 2}, {event.KindWeakTLS, event.SeverityHigh, maxFindings / 2}},
			kind: event.KindDefaultCredentials, severity: event.SeverityHigh, kept: true},
		{name: "more of the crowding kind", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings}},
			kind: event.KindPersonalData, severity: event.SeverityHigh},
		{name: "a kind at its share", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings - kindShare}, {event.KindWeakTLS, event.SeverityHigh, kindShare}},
			kind: event.KindWeakTLS, severity: event.SeverityHigh},
		{name: "more of the crowding kind after an advisory got in", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings - 1}, {event.KindOutdatedFirmware, event.SeverityMedium, 1}},
			kind: event.KindPersonalData, severity: event.SeverityHigh},
		{name: "more of the crowding kind into a kind at its share", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings - kindShare}, {event.KindWeakTLS, event.SeverityLow, kindShare}},
			kind: event.KindPersonalData, severity: event.SeverityHigh},
		{name: "a default login into a pinned device's", fill: []fill{{event.KindPersonalData, event.SeverityHigh, maxFindings}},
			kind: event.KindDefaultCredentials, severity: event.SeverityHigh, pinned: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			n := 0
			add := func(kind event.Kind, sev event.Severity) {
				f := finding(kind, string(kind), event.Evidence{"protocol": "http"})
				f.Severity, f.Time = sev, t0.Add(time.Duration(n)*time.Second)
				f.Flow = &event.Flow{Transport: "tcp", App: "http", Server: event.Endpoint{IP: fmt.Sprintf("198.51.%d.%d", n/256, n%256)}}
				inv.Emit(f)
				n++
			}
			for _, fl := range tt.fill {
				for range fl.n {
					add(fl.kind, fl.severity)
				}
			}
			d := device(t, inv, "00:11:22:33:44:55")
			inv.Pin(d.Key, tt.pinned)
			before := kindCount(d.Findings, tt.kind)
			add(tt.kind, tt.severity)
			if kept := kindCount(d.Findings, tt.kind) > before; kept != tt.kept || len(d.Findings) != maxFindings {
				t.Errorf("%s kept %v, %d findings; want %v, %d", tt.kind, kept, len(d.Findings), tt.kept, maxFindings)
			}
			for _, fl := range tt.fill {
				if c := kindCount(d.Findings, fl.kind); c < min(fl.n, kindShare) {
					t.Errorf("%d %s findings left of %d, want at least %d", c, fl.kind, fl.n, min(fl.n, kindShare))
				}
			}
		})
	}
}
