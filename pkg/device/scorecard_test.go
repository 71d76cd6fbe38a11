package device

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/http"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
	"github.com/iotgw/iotgw/pkg/inspect/plaintext"
)

func finding(kind event.Kind, summary string, ev event.Evidence) *event.Event {
	return &event.Event{Time: t0, Type: event.TypeFinding, Kind: kind, Summary: summary,
		Device: event.Endpoint{MAC: "00:11:22:33:44:55", IP: "192.168.1.5", Local: true}, Evidence: ev}
}

// servedBy makes e about a login to its device's service on port.
func servedBy(e *event.Event, port uint16) *event.Event {
	srv := e.Device
	srv.Port = port
	e.Flow = &event.Flow{Transport: "tcp", Client: event.Endpoint{IP: "192.168.1.9", Local: true}, Server: srv}
	return e
}

// strongTLS stands, in statusOf's answer, for an unknown secure-
// communication provision whose reason is that every internet TCP
// connection seen was TLS 1.2 or newer with a strong suite: the best
// the network can show, never a pass.
const strongTLS Status = "unknown (all TLS)"

func statusOf(c Card, id string) (Status, []string) {
	for _, cp := range c.Capabilities {
		for _, p := range cp.Provisions {
			if p.ID == id {
				if p.Status == Unknown && len(p.Reasons) > 0 && strings.HasPrefix(p.Reasons[0], "all ") &&
					strings.Contains(p.Reasons[0], " internet TCP connections seen used TLS 1.2 or newer") {
					return strongTLS, p.Reasons
				}
				return p.Status, p.Reasons
			}
		}
	}
	for _, p := range c.Other {
		if p.ID == id {
			return p.Status, p.Reasons
		}
	}
	return "", nil
}

func TestScorecard(t *testing.T) {
	telnetServer := &event.Flow{Transport: "tcp", Server: event.Endpoint{IP: "192.168.1.5", Port: 23, Local: true}, Client: event.Endpoint{IP: "192.168.1.9", Local: true}}
	tests := []struct {
		name   string
		events []*event.Event
		want   map[string]Status
		reason string // expected in the reasons of the first provision in want
	}{
		{"nothing_seen", nil, map[string]Status{"5.1-1": Unknown, "5.2-1": Unknown, "5.3-8": Unknown, "5.5-1": Unknown, "5.6-1": Unknown, "5.7-2": Unknown}, ""},
		{"audit_found_no_default_login", []*event.Event{
			obs("00:11:22:33:44:55", "192.168.1.5", KindAudit, event.Evidence{"check": "default_login", "result": "none_found", "stop": "exhausted", "attempts": "12", "protocols": "telnet:23"}),
		}, map[string]Status{"5.1-1": Pass}, ""},
		{"verified_default_login", []*event.Event{
			func() *event.Event {
				e := finding(event.KindDefaultCredentials, "TELNET login with factory-default credentials (audit)", event.Evidence{"protocol": "telnet"})
				e.Verified = true
				return e
			}(),
		}, map[string]Status{"5.1-1": Fail, "5.5-7": Unknown}, ""},
		{"changed_password_accepted", []*event.Event{
			servedBy(finding(event.KindPlaintextCredentials, "FTP login sent without encryption (user a***, unique, accepted: yes)",
				event.Evidence{"protocol": "ftp", "password_class": "unique", "accepted": "yes"}), 21),
		}, map[string]Status{"5.1-1": Pass, "5.1-2": Unknown}, "FTP login sent without encryption"},
		// A login the device made to an internet service (a mail
		// client's) is the user's account, not the device's password.
		{"login_to_an_internet_service", []*event.Event{
			func() *event.Event {
				e := finding(event.KindPlaintextCredentials, "SMTP login sent without encryption (user ga***, unique, accepted: yes)",
					event.Evidence{"protocol": "smtp", "password_class": "unique", "accepted": "yes"})
				e.Flow = &event.Flow{Transport: "tcp", App: "smtp", Client: e.Device, Server: event.Endpoint{IP: "217.12.11.66", Port: 587}, Direction: event.LANToWAN}
				return e
			}(),
		}, map[string]Status{"5.1-1": Unknown, "5.1-2": Unknown}, "no login to the device"},
		// Logins that say nothing about the device's password: no pass.
		{"anonymous_login_accepted", []*event.Event{
			servedBy(finding(event.KindPlaintextCredentials, "FTP anonymous login, no password needed (user an***, accepted: yes)",
				event.Evidence{"protocol": "ftp", "password_class": "anonymous", "accepted": "yes"}), 21),
		}, map[string]Status{"5.1-1": Unknown}, ""},
		// Anonymous FTP (RFC 1635) is public access: its "password" is
		// by convention an e-mail address, no credential to protect.
		{"anonymous_login_protects_no_credential", []*event.Event{
			servedBy(finding(event.KindPlaintextCredentials, "FTP anonymous login, no password needed (user an***, accepted: yes)",
				event.Evidence{"protocol": "ftp", "password_class": "anonymous", "accepted": "yes"}), 21),
		}, map[string]Status{"5.5-7": Unknown}, ""},
		{"password_login_in_clear", []*event.Event{
			servedBy(finding(event.KindPlaintextCredentials, "FTP login sent without encryption (user a***, unique, accepted: yes)",
				event.Evidence{"protocol": "ftp", "password_class": "unique", "accepted": "yes"}), 21),
		}, map[string]Status{"5.5-7": Fail}, "FTP login sent without encryption"},
		{"empty_password_accepted", []*event.Event{
			servedBy(finding(event.KindPlaintextCredentials, "MQTT login sent without encryption (user te***, empty, accepted: yes)",
				event.Evidence{"protocol": "mqtt", "password_class": "empty", "accepted": "yes"}), 1883),
		}, map[string]Status{"5.1-1": Unknown}, ""},
		{"token_accepted", []*event.Event{
			servedBy(finding(event.KindPlaintextCredentials, "HTTP login sent without encryption (token, accepted: yes)",
				event.Evidence{"protocol": "http", "password_class": "token", "accepted": "yes"}), 80),
		}, map[string]Status{"5.1-1": Unknown}, ""},
		{"audit_found_no_ports", []*event.Event{
			obs("00:11:22:33:44:55", "192.168.1.5", KindAudit, event.Evidence{"check": "ports", "result": "none_found"}),
		}, map[string]Status{"5.6-1": Unknown}, "no telnet or FTP"},
		{"exposed_telnet", []*event.Event{
			finding(event.KindExposedService, "Telnet open on port 23", event.Evidence{"port": "23"}),
		}, map[string]Status{"5.6-1": Unknown}, "Telnet open"},
		{"telnet_banner_seen", []*event.Event{
			func() *event.Event {
				e := obs("00:11:22:33:44:55", "192.168.1.5", event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "ipcam login:", "stage": "pre_login"})
				e.Flow = telnetServer
				return e
			}(),
		}, map[string]Status{"5.6-1": Unknown}, "telnet server on port 23"},
		{"version_before_login", []*event.Event{
			func() *event.Event {
				e := obs("00:11:22:33:44:55", "192.168.1.5", event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-dropbear_2014.63"})
				e.Flow = telnetServer
				return e
			}(),
		}, map[string]Status{"5.6-2": Fail}, "dropbear_2014.63"},
		{"upnp_server_header_is_required", []*event.Event{
			obs("00:11:22:33:44:55", "192.168.1.5", event.KindHTTPServer, event.Evidence{"server": "Linux/3.10 UPnP/1.0 MiniUPnPd/1.6"}),
		}, map[string]Status{"5.6-2": Unknown}, ""},
		// ETSI EN 303 645 V2.1.1 5.8-2 is about sensitive personal data
		// sent to associated services; an e-mail address in clear to
		// any server falls short of 5.8-1, personal data transiting
		// between a device and a service.
		{"personal_data", []*event.Event{
			finding(event.KindPersonalData, "An e-mail address (in body) sent without encryption to 203.0.113.5:80", event.Evidence{"data_kind": "email"}),
		}, map[string]Status{"5.8-1": Fail}, "e-mail address"},
		{"scanning", []*event.Event{
			finding(event.KindScanning, "Scanning 120 hosts on port 23", nil),
		}, map[string]Status{"5.7-2": Fail}, "Scanning"},
		{"weak_tls", []*event.Event{
			finding(event.KindWeakTLS, "Weak TLS: TLS 1.0", event.Evidence{"tls_version": "TLS 1.0"}),
		}, map[string]Status{"5.5-1": Fail}, "TLS 1.0"},
		{"weak_ssh", []*event.Event{
			finding(event.KindWeakSSH, "Weak SSH negotiated: key exchange diffie-hellman-group1-sha1", event.Evidence{"kex": "diffie-hellman-group1-sha1"}),
		}, map[string]Status{"5.5-1": Fail}, "diffie-hellman-group1-sha1"},
		{"outdated", []*event.Event{
			finding(event.KindOutdatedFirmware, "dropbear 2014.63 is affected by CVE-2016-7406", nil),
		}, map[string]Status{"5.3-8": Fail}, "CVE-2016-7406"},
		{"software_without_advisory", []*event.Event{
			func() *event.Event {
				e := obs("00:11:22:33:44:55", "192.168.1.5", event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "BusyBox v1.19.4", "stage": "after_login"})
				e.Flow = telnetServer
				return e
			}(),
		}, map[string]Status{"5.3-8": Unknown}, "busybox 1.19.4"},
		// A DHCP vendor class alone ties the device to Hikvision with
		// confidence 0.41: the policy is a hint, not a pass.
		{"hikvision_policy_vendor_uncertain", []*event.Event{
			dhcp("00:11:22:33:44:55", event.Evidence{"vendor_class": "HIKVISION", "hostname": "ipcam"}),
		}, map[string]Status{"5.2-1": Unknown}, "vendor uncertain (Hikvision, confidence 0.41); Hikvision publishes https://www.hikvision.com"},
		{"vendor_not_in_table", []*event.Event{
			dhcp("00:11:22:33:44:55", event.Evidence{"vendor_class": "netgear-ish"}),
			obs("00:11:22:33:44:55", "192.168.1.5", event.KindUPnP, event.Evidence{"manufacturer": "Acme Widgets Co.,Ltd."}),
		}, map[string]Status{"5.2-1": Unknown}, "Acme Widgets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range tt.events {
				inv.Emit(ev)
			}
			inv.ObservePacket(synPacket(mustMAC("00:11:22:33:44:55"), "192.168.1.5", "192.168.1.1", 1, 1))
			d := device(t, inv, "00:11:22:33:44:55")
			card := Scorecard(d, nil)
			for id, want := range tt.want {
				got, reasons := statusOf(card, id)
				if got != want {
					t.Errorf("%s = %s %q, want %s", id, got, reasons, want)
				}
				if tt.reason != "" && got == want && want != Unknown && !strings.Contains(strings.Join(reasons, " "), tt.reason) {
					t.Errorf("%s reasons %q lack %q", id, reasons, tt.reason)
				}
				if tt.reason != "" && want == Unknown && !strings.Contains(strings.Join(reasons, " "), tt.reason) {
					t.Errorf("%s reasons %q lack %q", id, reasons, tt.reason)
				}
			}
		})
	}
}

// TestScorecardAuditResults: the audit files its port check and its
// default-login test one after the other; both count, and a later result
// of one check replaces the earlier, also on a busy device whose
// observations are full (a phone or TV fills them with connections in
// minutes).
func TestScorecardAuditResults(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	audit := func(at time.Duration, check, result string) *event.Event {
		ev := obs(mac, ip, KindAudit, event.Evidence{"check": check, "result": result})
		if result == "none_found" {
			ev.Evidence["stop"] = "exhausted"
			ev.Evidence["protocols"] = "telnet:23"
		}
		ev.Time = t0.Add(at)
		ev.Summary = check + " " + result
		return ev
	}
	tests := []struct {
		name   string
		events []*event.Event
		want   map[string]Status
	}{
		{"both_checks", []*event.Event{audit(0, "ports", "none_found"), audit(time.Minute, "default_login", "none_found")},
			map[string]Status{"5.6-1": Unknown, "5.1-1": Pass}},
		{"stopped_then_clean", []*event.Event{audit(0, "default_login", "stopped"), audit(7*24*time.Hour, "default_login", "none_found")},
			map[string]Status{"5.1-1": Pass}},
		{"clean_then_stopped", []*event.Event{audit(0, "default_login", "none_found"), audit(7*24*time.Hour, "default_login", "stopped")},
			map[string]Status{"5.1-1": Unknown}},
		{"late_arrival_of_an_older_result", []*event.Event{audit(7*24*time.Hour, "default_login", "none_found"), audit(0, "default_login", "stopped")},
			map[string]Status{"5.1-1": Pass}},
		{"two_late_arrivals", []*event.Event{audit(7*24*time.Hour, "default_login", "none_found"), audit(0, "default_login", "stopped"), audit(24*time.Hour, "default_login", "stopped")},
			map[string]Status{"5.1-1": Pass}},
	}
	// busy fills the device's observations with TLS connections.
	busy := func(inv *Inventory) {
		for i := range maxObservation + 6 {
			flow := &event.Flow{Transport: "tcp", App: "tls", Client: event.Endpoint{MAC: mac, IP: ip, Local: true},
				Server: event.Endpoint{IP: fmt.Sprintf("203.0.113.%d", i+1), Port: 443}, Direction: event.LANToWAN}
			ev := obs(mac, ip, event.KindTLSClient, event.Evidence{"sni": "example.com"})
			ev.Flow, ev.Time = flow, t0.Add(-time.Hour+time.Duration(i)*time.Second)
			inv.Emit(ev)
		}
	}
	for _, tt := range tests {
		for _, full := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/full=%v", tt.name, full), func(t *testing.T) {
				inv := newInv()
				if full {
					busy(inv)
				}
				for _, ev := range tt.events {
					ev := *ev // filing folds repeats into the event it keeps
					inv.Emit(&ev)
				}
				d := device(t, inv, mac)
				card := Scorecard(d, nil)
				for id, want := range tt.want {
					if st, r := statusOf(card, id); st != want {
						t.Errorf("%s = %s (%v), want %s", id, st, r, want)
					}
				}
				if len(d.Observations) > maxObservation {
					t.Errorf("%d observations, over the cap %d", len(d.Observations), maxObservation)
				}
				if full && d.Filed(d.Observations[0].DedupKey()) == nil {
					t.Error("a displaced observation is still indexed")
				}
			})
		}
	}
}

// TestScorecardLoginAuditCompleteness: the default-login audit passes
// 5.1-1 only when it tried its whole list on every open login service. A
// test stopped at its attempt cap (10 of some 127 candidates), one that
// left a service untested, or one that stopped for a lockout is no
// proof, whatever its result says (audits before the distinction wrote
// none_found for a capped run).
func TestScorecardLoginAuditCompleteness(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	tests := []struct {
		name     string
		evidence event.Evidence
		want     Status
		reason   string
	}{
		{"whole_list_on_every_service", event.Evidence{"result": "none_found", "stop": "exhausted", "attempts": "127", "protocols": "telnet:23"}, Pass, "audit found none"},
		{"capped_run_filed_as_none_found", event.Evidence{"result": "none_found", "stop": "cap", "attempts": "10", "protocols": "telnet:23", "untested": "http:80"}, Unknown, "attempt cap after 10 attempts"},
		{"capped_run", event.Evidence{"result": "incomplete", "stop": "cap", "attempts": "10", "tried": "telnet:23 10 of 127"}, Unknown, "default-login audit gave no answer"},
		{"exhausted_with_a_service_untested", event.Evidence{"result": "none_found", "stop": "exhausted", "attempts": "20", "untested": "http:80"}, Unknown, "did not test http:80"},
		{"no_stop_recorded", event.Evidence{"result": "none_found", "attempts": "12"}, Unknown, "whole list"},
		{"lockout", event.Evidence{"result": "stopped", "stop": "lockout", "attempts": "3"}, Unknown, "gave no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			ev := obs(mac, ip, KindAudit, tt.evidence)
			ev.Evidence["check"] = "default_login"
			ev.Summary = "audit " + tt.name
			inv.Emit(ev)
			card := Scorecard(device(t, inv, mac), nil)
			st, r := statusOf(card, "5.1-1")
			if st != tt.want || !strings.Contains(strings.Join(r, " "), tt.reason) {
				t.Errorf("5.1-1 = %s %q, want %s with %q", st, r, tt.want, tt.reason)
			}
			if tt.want != Pass && card.Capabilities[0].Status == Pass {
				t.Errorf("capability 1 passes on %v", tt.evidence)
			}
		})
	}
}

// TestScorecardLoginCoverage: 5.1-1 covers every password of the
// device. One service's changed password passes it only when no other
// login service of the device is seen, or a complete audit covers the
// others; a telnet server seen on the same device keeps it unknown.
func TestScorecardLoginCoverage(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	server := func(e *event.Event, port uint16) *event.Event {
		e.Flow = &event.Flow{Transport: "tcp", Server: event.Endpoint{IP: ip, Port: port, Local: true}, Client: event.Endpoint{IP: "192.168.1.9", Local: true}}
		return e
	}
	webChanged := func() *event.Event {
		return servedBy(finding(event.KindPlaintextCredentials, "HTTP login sent without encryption (user ad***, unique, accepted: yes)",
			event.Evidence{"protocol": "http", "password_class": "unique", "accepted": "yes"}), 80)
	}
	telnetBanner := func() *event.Event {
		return server(obs(mac, ip, event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "ipcam login:", "stage": "pre_login"}), 23)
	}
	audit := func(ev event.Evidence) *event.Event {
		ev["check"] = "default_login"
		return obs(mac, ip, KindAudit, ev)
	}
	tests := []struct {
		name   string
		events []*event.Event
		want   Status
		reason string
	}{
		{"web_password_changed_only_service", []*event.Event{webChanged()}, Pass, "http:80 (password changed"},
		// A connection whose handshake was not seen: its "accepted"
		// is the word of whoever sent the frames.
		{"joined_flow", []*event.Event{func() *event.Event {
			e := webChanged()
			e.Flow.Joined = true
			return e
		}()}, Unknown, "not tested: http:80"},
		// Only a unique password is a changed one: a weak one is as
		// easy to guess as a default (and often one the list lacks).
		{"weak_password_accepted", []*event.Event{servedBy(finding(event.KindWeakCredentials, "HTTP login with a weak password sent in clear (user ad***, accepted: yes)",
			event.Evidence{"protocol": "http", "password_class": "weak", "accepted": "yes"}), 80)}, Unknown, "http:80"},
		{"hashed_password_accepted", []*event.Event{servedBy(finding(event.KindPlaintextCredentials, "HTTP login sent without encryption (user ad***, hashed, accepted: yes)",
			event.Evidence{"protocol": "http", "password_class": "hashed", "accepted": "yes"}), 80)}, Unknown, "http:80"},
		{"web_password_changed_telnet_banner", []*event.Event{webChanged(), telnetBanner()}, Unknown, "not tested: telnet:23"},
		{"web_password_changed_telnet_open", []*event.Event{webChanged(),
			finding(event.KindExposedService, "TELNET open on port 23", event.Evidence{"protocol": "telnet", "port": "23"})}, Unknown, "not tested: telnet:23"},
		{"ftp_login_refused_only", []*event.Event{
			servedBy(finding(event.KindPlaintextCredentials, "FTP login sent without encryption (user a***, unique, accepted: no)", event.Evidence{"protocol": "ftp", "password_class": "unique", "accepted": "no"}), 21)},
			Unknown, "not tested: ftp:21 (no accepted login with a unique password seen"},
		{"web_password_changed_ftp_login_refused", []*event.Event{webChanged(),
			servedBy(finding(event.KindPlaintextCredentials, "FTP login sent without encryption (user a***, unique, accepted: no)", event.Evidence{"protocol": "ftp", "password_class": "unique", "accepted": "no"}), 21)}, Unknown, "ftp:21"},
		{"telnet_password_changed_web_server", []*event.Event{
			server(servedBy(finding(event.KindPlaintextCredentials, "TELNET login sent without encryption (user ro***, unique, accepted: yes)",
				event.Evidence{"protocol": "telnet", "password_class": "unique", "accepted": "yes"}), 23), 23),
			server(obs(mac, ip, event.KindHTTPServer, event.Evidence{"server": "Boa"}), 80)}, Unknown, "not tested: http:80"},
		{"web_password_changed_audit_capped_on_telnet", []*event.Event{webChanged(),
			audit(event.Evidence{"result": "incomplete", "stop": "cap", "attempts": "10", "protocols": "telnet:23"})}, Unknown, "not tested: telnet:23"},
		{"web_password_changed_audit_of_telnet_complete", []*event.Event{webChanged(), telnetBanner(),
			audit(event.Evidence{"result": "none_found", "stop": "exhausted", "attempts": "79", "protocols": "telnet:23"})}, Pass, "telnet:23 (default-login audit found none"},
		{"complete_audit_but_a_telnet_port_it_did_not_see", []*event.Event{server(obs(mac, ip, event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "login:"}), 2424),
			audit(event.Evidence{"result": "none_found", "stop": "exhausted", "attempts": "79", "protocols": "http:80"})}, Unknown, "not tested: telnet:2424"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range tt.events {
				inv.Emit(ev)
			}
			card := Scorecard(device(t, inv, mac), nil)
			st, r := statusOf(card, "5.1-1")
			if st != tt.want || !strings.Contains(strings.Join(r, " "), tt.reason) {
				t.Errorf("5.1-1 = %s %q, want %s with %q", st, r, tt.want, tt.reason)
			}
			// 5.1-2 never passes, so neither does the capability,
			// however well 5.1-1 is covered.
			if c := card.Capabilities[0]; c.Status != Unknown {
				t.Errorf("capability 1 = %s, want unknown", c.Status)
			}
		})
	}

	// 5.1-2 is about how pre-installed per-device passwords were
	// generated: a unique password accepted on every service, or an
	// audit that found no default, says nothing of that.
	for _, tt := range []struct {
		name   string
		events []*event.Event
		want   Status
		reason string
	}{
		{"5.1-2_web_password_changed_only_service", []*event.Event{webChanged()}, Unknown, "unique password, its maker's or a user's"},
		{"5.1-2_web_password_changed_telnet_banner", []*event.Event{webChanged(), telnetBanner()}, Unknown, "cannot be told from the network"},
		{"5.1-2_web_password_changed_audit_of_telnet_complete", []*event.Event{webChanged(), telnetBanner(),
			audit(event.Evidence{"result": "none_found", "stop": "exhausted", "attempts": "79", "protocols": "telnet:23"})}, Unknown, "cannot be told from the network"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range tt.events {
				inv.Emit(ev)
			}
			st, r := statusOf(Scorecard(device(t, inv, mac), nil), "5.1-2")
			if st != tt.want || !strings.Contains(strings.Join(r, " "), tt.reason) {
				t.Errorf("5.1-2 = %s %q, want %s with %q", st, r, tt.want, tt.reason)
			}
		})
	}
}

// TestScorecardLoginOutcome: 5.1-1 fails on a default login that got in
// (seen accepted, or the audit's). A default whose answer was not seen
// (an SNMP trap's community, sent by the device to its manager; a login
// whose reply the capture missed) is no fail: unknown, saying what was
// sent. 5.1-2 (ETSI EN 303 645 V2.1.1: pre-installed unique per-device
// passwords generated with a mechanism that reduces the risk of
// automated attacks) neither fails nor passes: a weak password the
// device accepted may be one a user set, and a unique one says nothing
// of how a pre-installed one was generated; the weak one is named.
// Capability 1 fails with 5.1-1 and is otherwise unknown. Before the fix
// 5.1-2 failed on a weak password accepted and passed on a unique one.
func TestScorecardLoginOutcome(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	trap := finding(event.KindDefaultCredentials, "SNMP community string with factory-default credentials (accepted: unknown)",
		event.Evidence{"protocol": "snmp", "password_class": "default", "accepted": "unknown"})
	trap.Flow = &event.Flow{Transport: "udp", Client: event.Endpoint{IP: ip, Port: 1024, Local: true}, Server: event.Endpoint{IP: "192.168.1.2", Port: 162, Local: true}}
	weak := func(accepted string) *event.Event {
		return servedBy(finding(event.KindWeakCredentials, "FTP login with a weak password sent in clear (user b***, accepted: "+accepted+")",
			event.Evidence{"protocol": "ftp", "password_class": "weak", "accepted": accepted}), 21)
	}
	uniqueFTP := servedBy(finding(event.KindPlaintextCredentials, "FTP login sent without encryption (user a***, unique, accepted: yes)",
		event.Evidence{"protocol": "ftp", "password_class": "unique", "accepted": "yes"}), 21)
	tests := []struct {
		name   string
		events []*event.Event
		id     string
		want   Status
		reason string
		cap1   Status // capability 1
	}{
		{"snmp_trap_community", []*event.Event{trap}, "5.1-1", Unknown, "default tried, outcome not seen", Unknown},
		{"default_outcome_not_seen", []*event.Event{servedBy(finding(event.KindDefaultCredentials, "TELNET login with factory-default credentials (user ro***, accepted: unknown)",
			event.Evidence{"protocol": "telnet", "password_class": "default", "accepted": "unknown"}), 23)}, "5.1-1", Unknown, "default tried, outcome not seen", Unknown},
		{"default_accepted", []*event.Event{servedBy(finding(event.KindDefaultCredentials, "TELNET login with factory-default credentials (user ro***, accepted: yes)",
			event.Evidence{"protocol": "telnet", "password_class": "default", "accepted": "yes"}), 23)}, "5.1-1", Fail, "accepted: yes", Fail},
		// "Accepted" on a connection whose opening was not seen: two
		// made-up frames, as policy weighs it.
		{"default_accepted_on_a_joined_flow", []*event.Event{func() *event.Event {
			e := servedBy(finding(event.KindDefaultCredentials, "TELNET login with factory-default credentials (user ro***, accepted: yes)",
				event.Evidence{"protocol": "telnet", "password_class": "default", "accepted": "yes"}), 23)
			e.Flow.Joined = true
			return e
		}()}, "5.1-1", Unknown, "default accepted on a connection seen only from its middle, unconfirmed", Unknown},
		{"unknown_default_blocks_the_pass", []*event.Event{uniqueFTP, servedBy(finding(event.KindDefaultCredentials, "FTP login with factory-default credentials (user a***, accepted: unknown)",
			event.Evidence{"protocol": "ftp", "password_class": "default", "accepted": "unknown"}), 21)}, "5.1-1", Unknown, "outcome not seen", Unknown},
		{"weak_refused_by_the_device", []*event.Event{weak("no")}, "5.1-2", Unknown, "no login to the device", Unknown},
		{"weak_outcome_not_seen", []*event.Event{weak("unknown")}, "5.1-2", Unknown, "outcome not seen", Unknown},
		{"weak_accepted", []*event.Event{weak("yes")}, "5.1-2", Unknown,
			"the device accepted a weak password; whether its maker pre-installed it or a user set it cannot be told from the network: FTP login with a weak password", Unknown},
		{"unique_accepted", []*event.Event{uniqueFTP}, "5.1-2", Unknown, "how pre-installed per-device passwords were generated cannot be told", Unknown},
		// A factory default is a universal password: 5.1-1's fail.
		{"default_and_weak_accepted", []*event.Event{weak("yes"), servedBy(finding(event.KindDefaultCredentials, "TELNET login with factory-default credentials (user ro***, accepted: yes)",
			event.Evidence{"protocol": "telnet", "password_class": "default", "accepted": "yes"}), 23)}, "5.1-2", Unknown, "accepted a weak password", Fail},
		{"unique_on_a_joined_flow", []*event.Event{func() *event.Event {
			e := *uniqueFTP
			f := *e.Flow
			f.Joined = true
			e.Flow = &f
			return &e
		}()}, "5.1-2", Unknown, "no login to the device", Unknown},
		{"weak_sent_by_the_device_elsewhere", []*event.Event{func() *event.Event {
			e := finding(event.KindWeakCredentials, "MQTT login with a weak password sent in clear (user pl***, accepted: yes)",
				event.Evidence{"protocol": "mqtt", "password_class": "weak", "accepted": "yes"})
			e.Flow = &event.Flow{Transport: "tcp", Client: event.Endpoint{IP: ip, Local: true}, Server: event.Endpoint{IP: "203.0.113.9", Port: 1883}, Direction: event.LANToWAN}
			return e
		}()}, "5.1-2", Unknown, "no login to the device", Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range tt.events {
				ev := *ev
				inv.Emit(&ev)
			}
			card := Scorecard(device(t, inv, mac), nil)
			st, r := statusOf(card, tt.id)
			if st != tt.want || !strings.Contains(strings.Join(r, " "), tt.reason) {
				t.Errorf("%s = %s %q, want %s with %q", tt.id, st, r, tt.want, tt.reason)
			}
			if c := card.Capabilities[0]; c.Status != tt.cap1 {
				t.Errorf("capability 1 = %s, want %s", c.Status, tt.cap1)
			}
		})
	}
}

// TestScorecardProvisionTitles: a provision's title says what the
// provision asks (ETSI EN 303 645 V2.1.1), not more. 5.1-2 is about how
// pre-installed unique per-device passwords are generated; before the
// fix it was titled "Passwords not easily guessable", which it does not
// ask.
func TestScorecardProvisionTitles(t *testing.T) {
	card := Scorecard(&Device{}, nil)
	tests := []struct{ id, title string }{
		{"5.1-1", "No universal default passwords"},
		{"5.1-2", "Pre-installed unique passwords resist automated attacks"},
		{"5.6-1", "Unused interfaces disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			var ps []Provision
			for _, c := range card.Capabilities {
				ps = append(ps, c.Provisions...)
			}
			for _, p := range append(ps, card.Other...) {
				if p.ID == tt.id {
					if p.Title != tt.title {
						t.Errorf("%s titled %q, want %q", tt.id, p.Title, tt.title)
					}
					return
				}
			}
			t.Errorf("no provision %s on the card", tt.id)
		})
	}
}

// TestScorecardClaimedVersion: an advisory matched on a version only
// claims report (DHCP, SSDP, mDNS: datagrams anyone on the LAN can send
// in the device's name) does not fail 5.3-8, as policy does not
// quarantine on it; a version the device served (a banner, a Server
// header) does, and so does a finding filed before sources were
// recorded.
func TestScorecardClaimedVersion(t *testing.T) {
	outdated := func(sources string) *event.Event {
		ev := event.Evidence{"product": "busybox", "version": "1.35.0"}
		if sources != "" {
			ev["software_source"] = sources
		}
		return finding(event.KindOutdatedFirmware, "busybox 1.35.0 has known vulnerabilities (CVE-2022-28391)", ev)
	}
	tests := []struct {
		name    string
		sources string
		want    Status
		reason  string
	}{
		{"dhcp_vendor_class_only", "dhcp", Unknown, "a claimed version matched an advisory (reported only by dhcp"},
		{"announcements_only", "ssdp,mdns", Unknown, "reported only by ssdp,mdns"},
		{"telnet_banner", "banner/telnet", Fail, "CVE-2022-28391"},
		{"claim_and_banner", "dhcp,banner/telnet", Fail, "CVE-2022-28391"},
		{"sources_not_recorded", "", Fail, "CVE-2022-28391"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(outdated(tt.sources))
			card := Scorecard(device(t, inv, "00:11:22:33:44:55"), nil)
			st, r := statusOf(card, "5.3-8")
			if st != tt.want || !strings.Contains(strings.Join(r, " "), tt.reason) {
				t.Errorf("5.3-8 = %s %q, want %s with %q", st, r, tt.want, tt.reason)
			}
		})
	}
}

// TestScorecardUnsureVendor: 5.2-1 passes only on a verified table entry
// for a vendor identified with confidence 0.5 or more; an entry written
// from memory, or a vendor the device is only weakly tied to, leaves it
// unknown with the policy URL as a hint.
func TestScorecardUnsureVendor(t *testing.T) {
	table, err := ParseVendors([]byte(`
[[vendor]]
name = "Acme"
aliases = ["acme widgets"]
policy = "https://acme.example/security"
kind = "psirt"
source = "test table"

[[vendor]]
name = "Bolt"
aliases = ["bolt devices"]
policy = "https://bolt.example/security"
kind = "psirt"
source = "test table: from memory"
unsure = true
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		vendor Attribute
		want   Status
		reason string
	}{
		{"verified_and_sure", Attribute{Value: "Acme", Confidence: 0.85}, Pass, "Acme publishes https://acme.example/security"},
		{"entry_not_verified", Attribute{Value: "Bolt", Confidence: 0.85}, Unknown, "table entry not verified: Bolt may publish https://bolt.example/security"},
		{"vendor_uncertain", Attribute{Value: "Acme", Confidence: 0.3}, Unknown, "vendor uncertain (Acme, confidence 0.30); Acme publishes https://acme.example/security"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vi, _ := table.Lookup(tt.vendor.Value)
			p := scorer{d: &Device{}}.p521(tt.vendor, vi)
			if p.Status != tt.want || !strings.Contains(strings.Join(p.Reasons, " "), tt.reason) {
				t.Errorf("5.2-1 = %s %q, want %s with %q", p.Status, p.Reasons, tt.want, tt.reason)
			}
		})
	}
}

// TestScorecardBannerVersion: 5.6-2 fails on a version a service shows
// before login; an address or a time of day in a banner is none, and
// the unknown verdict says a banner was seen, without a version.
func TestScorecardBannerVersion(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	const noVersion = "the device's 1 pre-login banner or Server header seen names no software version"
	tests := []struct {
		banner string
		want   Status
		reason string
	}{
		{"SSH-2.0-dropbear_2014.63", Fail, "dropbear_2014.63"},
		{"BusyBox v1.19.4 built-in shell", Fail, "BusyBox v1.19.4"},
		{"220 ProFTPD 1.3.5 Server ready", Fail, "ProFTPD 1.3.5"},
		{"Welcome, connected to 192.168.1.5", Unknown, noVersion},
		{"Service up since 10.30 today", Unknown, noVersion},
		{"220 FTP ready at 23.59", Unknown, noVersion},
		{"ipcam login:", Unknown, noVersion},
		{"lighttpd/1.4.35 on 10.0.0.1", Fail, "lighttpd/1.4.35"},
	}
	for _, tt := range tests {
		t.Run(tt.banner, func(t *testing.T) {
			inv := newInv()
			e := obs(mac, ip, event.KindBanner, event.Evidence{"protocol": "ftp", "banner": tt.banner})
			e.Flow = &event.Flow{Transport: "tcp", Server: event.Endpoint{IP: ip, Port: 21, Local: true}, Client: event.Endpoint{IP: "192.168.1.9", Local: true}}
			inv.Emit(e)
			if st, r := statusOf(Scorecard(device(t, inv, mac), nil), "5.6-2"); st != tt.want || len(r) == 0 || !strings.Contains(r[0], tt.reason) {
				t.Errorf("5.6-2 = %s %q, want %s with %q", st, r, tt.want, tt.reason)
			}
		})
	}
}

// TestScorecardNoBannerReason: 5.6-2's unknown verdict tells what was
// seen: nothing the device showed before login, only what it showed
// after login or UPnP SERVER headers (which must name versions), or
// banners without a version.
func TestScorecardNoBannerReason(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	banner := func(text, stage string) *event.Event {
		e := obs(mac, ip, event.KindBanner, event.Evidence{"protocol": "telnet", "banner": text, "stage": stage})
		e.Flow = &event.Flow{Transport: "tcp", Server: event.Endpoint{IP: ip, Port: 23, Local: true}, Client: event.Endpoint{IP: "192.168.1.9", Local: true}}
		return e
	}
	upnp := obs(mac, ip, event.KindHTTPServer, event.Evidence{"server": "Linux/3.10 UPnP/1.0 MiniUPnPd/1.6"})
	tests := []struct {
		name   string
		events []*event.Event
		reason string
	}{
		{"nothing", nil, "no service banner of the device seen"},
		{"after_login_only", []*event.Event{banner("BusyBox v1.19.3 built-in shell (ash)", "after_login")}, "no service banner of the device seen"},
		{"upnp_only", []*event.Event{upnp}, "only UPnP SERVER headers seen, which the UPnP specification requires to name versions"},
		// ONVIF's GetDeviceInformation answers a login.
		{"onvif_device_information_only", []*event.Event{obs(mac, ip, event.KindHTTPServer, event.Evidence{"manufacturer": "HIKVISION", "model": "DS-2CD2032-I", "firmware_version": "V5.4.5 build 170124"})},
			"no service banner of the device seen"},
		{"banner_and_upnp", []*event.Event{banner("ipcam login:", "pre_login"), upnp},
			"the device's 1 pre-login banner or Server header seen names no software version; UPnP SERVER headers, which the UPnP specification requires to name versions, not counted"},
		{"two_banners", []*event.Event{banner("ipcam login:", "pre_login"), obs(mac, ip, event.KindHTTPServer, event.Evidence{"server": "GoAhead-Webs"})},
			"the device's 2 pre-login banners or Server headers seen name no software version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(dhcp(mac, event.Evidence{"hostname": "cam"}))
			for _, e := range tt.events {
				inv.Emit(e)
			}
			st, r := statusOf(Scorecard(device(t, inv, mac), nil), "5.6-2")
			if st != Unknown || len(r) != 1 || r[0] != tt.reason {
				t.Errorf("5.6-2 = %s %q, want unknown with %q", st, r, tt.reason)
			}
		})
	}
}

// TestScorecardPortAudit: the port check finds telnet and FTP; finding
// neither does not show every unused interface disabled, so 5.6-1 is
// unknown, not passed.
func TestScorecardPortAudit(t *testing.T) {
	inv := newInv()
	ev := obs("00:11:22:33:44:55", "192.168.1.5", KindAudit, event.Evidence{"check": "ports", "result": "none_found", "ports": "80,443"})
	ev.Summary = "no telnet or FTP port open (open: 80,443)"
	inv.Emit(ev)
	st, r := statusOf(Scorecard(device(t, inv, "00:11:22:33:44:55"), nil), "5.6-1")
	if st != Unknown || !strings.Contains(strings.Join(r, " "), "open: 80,443") {
		t.Errorf("5.6-1 = %s %q, want unknown naming the open ports", st, r)
	}
}

// TestScorecardUnusedInterfaces: ETSI EN 303 645 V2.1.1 5.6-1 asks that
// all unused network and logical interfaces be disabled. Which ones the
// device's intended use needs the network does not show, and a server a
// client logs in to is in use: an open telnet or FTP server is named,
// first, as cleartext remote administration, and 5.6-1 stays unknown.
// Before the fix it failed on "telnet server in use on port 23".
func TestScorecardUnusedInterfaces(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	exposed := func(proto string, port uint16) *event.Event {
		return finding(event.KindExposedService, fmt.Sprintf("%s open on port %d (cleartext login service reachable from the LAN)", strings.ToUpper(proto), port),
			event.Evidence{"protocol": proto, "port": strconv.Itoa(int(port))})
	}
	banner := func(port uint16) *event.Event {
		e := obs(mac, ip, event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "ipcam login:", "stage": "pre_login"})
		e.Flow = &event.Flow{Transport: "tcp", App: "telnet", Server: event.Endpoint{IP: ip, Port: port, Local: true}, Client: event.Endpoint{IP: "192.168.1.9", Local: true}}
		return e
	}
	login := servedBy(finding(event.KindPlaintextCredentials, "TELNET login sent without encryption (user ro***, unique, accepted: yes)",
		event.Evidence{"protocol": "telnet", "password_class": "unique", "accepted": "yes"}), 23)
	const cannotTell = ": whether it is an unused interface cannot be told from the network"
	tests := []struct {
		name    string
		events  []*event.Event
		reasons []string // in order
	}{
		{"telnet_open", []*event.Event{exposed("telnet", 23)},
			[]string{"TELNET open on port 23 (cleartext login service reachable from the LAN)" + cannotTell}},
		{"ftp_open", []*event.Event{exposed("ftp", 21)},
			[]string{"FTP open on port 21 (cleartext login service reachable from the LAN)" + cannotTell}},
		{"telnet_login_to_the_device", []*event.Event{login},
			[]string{"telnet server on port 23 (cleartext remote administration)" + cannotTell}},
		{"telnet_banner", []*event.Event{banner(23)},
			[]string{"telnet server on port 23 (cleartext remote administration)" + cannotTell}},
		// The open port and its banner are one server.
		{"telnet_open_and_its_banner", []*event.Event{exposed("telnet", 23), banner(23)},
			[]string{"TELNET open on port 23"}},
		{"ftp_open_telnet_in_use", []*event.Event{exposed("ftp", 21), login},
			[]string{"FTP open on port 21", "telnet server on port 23 (cleartext remote administration)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range tt.events {
				ev := *ev
				inv.Emit(&ev)
			}
			st, r := statusOf(Scorecard(device(t, inv, mac), nil), "5.6-1")
			if st != Unknown || len(r) != len(tt.reasons) {
				t.Fatalf("5.6-1 = %s %q, want unknown with %d reasons", st, r, len(tt.reasons))
			}
			for i, want := range tt.reasons {
				if !strings.HasPrefix(r[i], want) {
					t.Errorf("5.6-1 reason %d = %q, want it to start %q", i, r[i], want)
				}
			}
		})
	}
}

func TestScorecardVendorWithoutPolicy(t *testing.T) {
	table, err := ParseVendors([]byte(`
[[vendor]]
name = "Acme"
aliases = ["acme widgets"]
none_found = true
source = "test table: Acme's site checked on 2025-06-01, no policy"
`))
	if err != nil {
		t.Fatal(err)
	}
	inv := newInv()
	inv.Emit(obs("00:11:22:33:44:55", "192.168.1.5", event.KindUPnP, event.Evidence{"manufacturer": "Acme Widgets Co.,Ltd."}))
	card := Scorecard(device(t, inv, "00:11:22:33:44:55"), table)
	if st, r := statusOf(card, "5.2-1"); st != Fail || !strings.Contains(r[0], "checked on 2025-06-01") {
		t.Fatalf("5.2-1 = %s %q", st, r)
	}
	if card.Capabilities[1].Status != Fail {
		t.Fatalf("capability 2 = %s", card.Capabilities[1].Status)
	}
}

// TestScorecardChipMaker: a vendor named only by the maker of the
// device's radio chip or SDK (its OUI, an SDK's default host name) is not
// the maker whose disclosure policy covers the device.
func TestScorecardChipMaker(t *testing.T) {
	tests := []struct {
		name     string
		mac      string
		hostname string
		want     Status
		reason   string
		vendor   string // the card's vendor: the device's maker
	}{
		{"esp8266_plug_of_no_name", "24:0a:c4:12:34:56", "ESP_123456", Unknown, "made a part of it", ""},
		{"espressif_oui_only", "24:0a:c4:12:34:56", "", Unknown, "made a part of it", ""},
		{"intel_nic_only", "3c:a9:f4:6a:7b:8c", "", Unknown, "made a part of it", ""},
		{"shelly_on_an_esp", "24:0a:c4:12:34:56", "shelly1-A1B2C3", Unknown, "no disclosure policy known for Shelly", "Shelly"},
		{"hikvision_oui", "c0:56:e3:1a:2b:3c", "", Pass, "Hikvision", "Hikvision"},
		// A virtual NIC's OUI names the hypervisor's maker, not the
		// guest's: no pass on VMware's policy for a VM.
		{"vmware_guest", "00:0c:29:1f:74:06", "", Unknown, "made a part of it", ""},
		{"virtualbox_guest", "08:00:27:12:34:56", "", Unknown, "made a part of it", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(dhcp(tt.mac, event.Evidence{"hostname": tt.hostname, "prl": "1,3,28,6"}))
			card := Scorecard(device(t, inv, tt.mac), nil)
			st, r := statusOf(card, "5.2-1")
			if st != tt.want || !strings.Contains(strings.Join(r, " "), tt.reason) {
				t.Errorf("5.2-1 = %s %q, want %s with %q", st, r, tt.want, tt.reason)
			}
			if card.Vendor != tt.vendor || tt.vendor == "" && card.Contact != nil {
				t.Errorf("card vendor %q contact %+v, want vendor %q", card.Vendor, card.Contact, tt.vendor)
			}
		})
	}
}

func TestScorecardTLSCount(t *testing.T) {
	inv := newInv()
	m := mustMAC("00:11:22:33:44:55")
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 1))
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.11", 40001, 7))
	hello := func(server string, port uint16, version string) *event.Event {
		return &event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
			Device: event.Endpoint{IP: server, Port: 443},
			Flow: &event.Flow{Transport: "tcp", Client: event.Endpoint{MAC: m.String(), IP: "192.168.1.5", Port: port, Local: true},
				Server: event.Endpoint{IP: server, Port: 443}, Direction: event.LANToWAN},
			Evidence: event.Evidence{"tls_version_id": version}}
	}
	inv.Emit(hello("203.0.113.10", 40000, "0x0304"))
	d := device(t, inv, m.String())
	if st, r := statusOf(Scorecard(d, nil), "5.5-1"); st != Unknown || !strings.Contains(r[0], "1 of 2") {
		t.Fatalf("one of two connections TLS: 5.5-1 = %s %q", st, r)
	}
	// A second ServerHello of the same connection (a duplicated frame)
	// covers no other connection.
	inv.Emit(hello("203.0.113.10", 40000, "0x0304"))
	if st, r := statusOf(Scorecard(d, nil), "5.5-1"); st != Unknown || !strings.Contains(r[0], "1 of 2") {
		t.Fatalf("a ServerHello counted twice: 5.5-1 = %s %q", st, r)
	}
	inv.Emit(hello("203.0.113.11", 40001, "0x0303"))
	if st, _ := statusOf(Scorecard(d, nil), "5.5-1"); st != strongTLS {
		t.Fatalf("both TLS 1.2+: 5.5-1 = %s", st)
	}
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.12", 40002, 9))
	inv.Emit(hello("203.0.113.12", 40002, "0x0301"))
	if st, _ := statusOf(Scorecard(d, nil), "5.5-1"); st != Unknown {
		t.Fatalf("a TLS 1.0 session: 5.5-1 = %s", st)
	}
}

// TestScorecardTLSCreditPerConnection: a ServerHello counts only for the
// connection whose SYN was counted. A SYN to one server (the device's
// connection in clear) and a TLS 1.3 ServerHello on another connection,
// joined late or whose SYN was never seen, are two frames anyone can
// make up: no pass. Before the fix each counted as one of "all 1".
func TestScorecardTLSCreditPerConnection(t *testing.T) {
	m := mustMAC("00:11:22:33:44:55")
	hello := func(port uint16, joined bool) *event.Event {
		return &event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
			Device: event.Endpoint{IP: "198.51.100.7", Port: 443},
			Flow: &event.Flow{Transport: "tcp", Joined: joined, Client: event.Endpoint{MAC: m.String(), IP: "192.168.1.5", Port: port, Local: true},
				Server: event.Endpoint{IP: "198.51.100.7", Port: 443}, Direction: event.LANToWAN},
			Evidence: event.Evidence{"tls_version_id": "0x0304"}}
	}
	tests := []struct {
		name  string
		hello *event.Event
	}{
		{"joined", hello(50000, true)},
		{"syn_not_seen", hello(50000, false)},
		// The counted SYN's own ports, but the connection was joined.
		{"joined_same_ports", func() *event.Event {
			e := hello(40000, true)
			e.Flow.Server.IP, e.Device.IP = "203.0.113.10", "203.0.113.10"
			return e
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 1))
			inv.Emit(tt.hello)
			card := Scorecard(device(t, inv, m.String()), nil)
			for _, id := range []string{"5.5-1", "5.5-7", "5.8-1"} {
				if st, r := statusOf(card, id); st == strongTLS {
					t.Errorf("%s = PASS %q on a ServerHello of another connection", id, r)
				}
			}
		})
	}
}

// TestInternetSYNRetransmitInterleaved: a retransmitted SYN is one
// connection even when another SYN came between (before the fix only
// the last SYN was remembered: A, B, A counted 3).
func TestInternetSYNRetransmitInterleaved(t *testing.T) {
	m := mustMAC("00:11:22:33:44:55")
	inv := newInv()
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 1))
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.11", 40001, 7))
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 1))
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.11", 40001, 7))
	// The same ports later with a new sequence number: a new connection.
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 99))
	if d := device(t, inv, m.String()); d.traffic.wanConns != 3 {
		t.Errorf("%d internet connections, want 3", d.traffic.wanConns)
	}
}

// TestScorecardTLSSuite: an internet session counts as protected only
// when its suite is strong too (the TLS analyzer's weak_tls finding says
// when it is not), and no provision passes on TLS while a weak_tls
// finding stands.
func TestScorecardTLSSuite(t *testing.T) {
	m := mustMAC("00:11:22:33:44:55")
	wan := &event.Flow{Transport: "tcp", Client: event.Endpoint{MAC: m.String(), IP: "192.168.1.5", Port: 40000, Local: true},
		Server: event.Endpoint{IP: "203.0.113.10", Port: 443}, Direction: event.LANToWAN}
	lan := &event.Flow{Transport: "tcp", Client: event.Endpoint{IP: "192.168.1.9", Local: true},
		Server: event.Endpoint{MAC: m.String(), IP: "192.168.1.5", Port: 443, Local: true}}
	hello := func(version, cipher string) *event.Event {
		return &event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
			Device: event.Endpoint{IP: "203.0.113.10", Port: 443}, Flow: wan,
			Evidence: event.Evidence{"tls_version_id": version, "cipher": cipher}}
	}
	weak := func(flow *event.Flow, version, cipher, reason string) *event.Event {
		f := finding(event.KindWeakTLS, "Weak TLS: "+version+" with "+cipher, event.Evidence{"tls_version": version, "cipher": cipher, "reason": reason})
		f.Flow, f.Severity = flow, event.SeverityMedium
		return f
	}
	tests := []struct {
		name   string
		events []*event.Event
		want   Status // of 5.5-7 and 5.8-1
		strong uint32 // internet sessions counted as protected
	}{
		{"tls12_strong_suite", []*event.Event{hello("0x0303", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")}, strongTLS, 1},
		{"tls12_rc4", []*event.Event{hello("0x0303", "TLS_RSA_WITH_RC4_128_MD5"),
			weak(wan, "TLS 1.2", "TLS_RSA_WITH_RC4_128_MD5", "weak_cipher")}, Unknown, 0},
		{"tls10_rc4", []*event.Event{hello("0x0301", "TLS_RSA_WITH_RC4_128_MD5"),
			weak(wan, "TLS 1.0", "TLS_RSA_WITH_RC4_128_MD5", "old_version,weak_cipher")}, Unknown, 0},
		// The device's own web page on the LAN with RC4: its internet
		// sessions were strong, but it does use a weak suite.
		{"weak_lan_server", []*event.Event{hello("0x0304", "TLS_AES_128_GCM_SHA256"),
			weak(lan, "TLS 1.2", "TLS_RSA_WITH_RC4_128_SHA", "weak_cipher")}, Unknown, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 1))
			for _, ev := range tt.events {
				inv.Emit(ev)
			}
			d := device(t, inv, m.String())
			card := Scorecard(d, nil)
			for _, id := range []string{"5.5-7", "5.8-1"} {
				if st, r := statusOf(card, id); st != tt.want {
					t.Errorf("%s = %s %q, want %s", id, st, r, tt.want)
				}
			}
			if d.traffic.tlsStrong != tt.strong || d.traffic.tlsStrong+d.traffic.tlsWeak != 1 {
				t.Errorf("traffic %+v, want %d strong of 1", d.traffic, tt.strong)
			}
		})
	}
}

// TestScorecardTLSUnknownSuite: a ServerHello credits its connection as
// strong only when the TLS analyzer knows its suite to be strong; one it
// does not know (cipher_strength unknown) files no finding and is
// neither strong nor weak, so the secure-communication provisions stay
// unknown, never pass. A version below TLS 1.2 is weak whatever the
// suite.
func TestScorecardTLSUnknownSuite(t *testing.T) {
	m := mustMAC("00:11:22:33:44:55")
	wan := &event.Flow{Transport: "tcp", Client: event.Endpoint{MAC: m.String(), IP: "192.168.1.5", Port: 40000, Local: true},
		Server: event.Endpoint{IP: "203.0.113.10", Port: 443}, Direction: event.LANToWAN}
	tests := []struct {
		name         string
		version      string
		strength     string // "" for none, as before the analyzer graded the suite
		want         Status // of 5.5-1, 5.5-7 and 5.8-1
		strong, weak uint32
	}{
		{"strong_suite", "0x0304", "strong", strongTLS, 1, 0},
		{"ungraded", "0x0303", "", strongTLS, 1, 0},
		{"unknown_suite", "0x0303", "unknown", Unknown, 0, 0},
		{"unknown_suite_tls13", "0x0304", "unknown", Unknown, 0, 0},
		{"unknown_suite_tls10", "0x0301", "unknown", Unknown, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 1))
			ev := event.Evidence{"tls_version_id": tt.version, "cipher": "0x1337", "cipher_id": "0x1337"}
			if tt.strength != "" {
				ev["cipher_strength"] = tt.strength
			}
			hello := &event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
				Device: event.Endpoint{IP: "203.0.113.10", Port: 443}, Flow: wan, Evidence: ev}
			inv.Emit(hello)
			inv.Emit(hello) // a second ServerHello on the connection changes nothing
			d := device(t, inv, m.String())
			card := Scorecard(d, nil)
			for _, id := range []string{"5.5-1", "5.5-7", "5.8-1"} {
				if st, r := statusOf(card, id); st != tt.want {
					t.Errorf("%s = %s %q, want %s", id, st, r, tt.want)
				}
			}
			if d.traffic.tlsStrong != tt.strong || d.traffic.tlsWeak != tt.weak {
				t.Errorf("traffic %+v, want %d strong and %d weak", d.traffic, tt.strong, tt.weak)
			}
		})
	}
}

func TestWriteText(t *testing.T) {
	inv := newInv()
	inv.Emit(dhcp("c0:56:e3:1a:2b:3c", event.Evidence{"vendor_class": "HIKVISION"}))
	f := finding(event.KindDefaultCredentials, "FTP login with factory-default credentials (user a***, accepted: yes)", event.Evidence{"protocol": "ftp", "accepted": "yes"})
	f.Device.MAC = "c0:56:e3:1a:2b:3c"
	inv.Emit(f)
	card := Scorecard(device(t, inv, "c0:56:e3:1a:2b:3c"), nil)
	var b bytes.Buffer
	if err := card.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"FAIL     1      No universal default passwords   5.1-1: FTP login with factory-default",
		"PASS     2      Vulnerability disclosure policy  5.2-1: Hikvision publishes https://",
		"UNKNOWN  5.7-2  No sign of compromise",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("label lacks %q:\n%s", want, out)
		}
	}
}

func mustMAC(s string) hwaddr.MAC {
	m, err := hwaddr.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// TestInternetConnectionsWithoutLinkLayer: an NFLOG capture carries no
// MAC; the device known by the source address counts the connection,
// as its ServerHello is filed by address. Before the fix no SYN was
// counted there (5.5-1: "no internet connection opened by the device
// seen" while ServerHellos were counted).
func TestInternetConnectionsWithoutLinkLayer(t *testing.T) {
	inv := newInv()
	inv.Emit(obs("", "192.168.1.5", event.KindDNSQuery, event.Evidence{"name": "api.example.com"}))
	syn := synPacket(hwaddr.MAC{}, "192.168.1.5", "203.0.113.10", 40000, 1)
	syn.HasMAC = false
	inv.ObservePacket(syn)
	inv.ObservePacket(syn) // a retransmit
	if n := testing.AllocsPerRun(100, func() { inv.ObservePacket(syn) }); n != 0 {
		t.Errorf("ObservePacket allocates %v times for a SYN without a link layer", n)
	}
	inv.Emit(&event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
		Device: event.Endpoint{IP: "203.0.113.10", Port: 443},
		Flow: &event.Flow{Transport: "tcp", Client: event.Endpoint{IP: "192.168.1.5", Port: 40000, Local: true},
			Server: event.Endpoint{IP: "203.0.113.10", Port: 443}, Direction: event.LANToWAN},
		Evidence: event.Evidence{"tls_version_id": "0x0304"}})
	k, ok := inv.byIP[netip.MustParseAddr("192.168.1.5")]
	if !ok {
		t.Fatal("no device for 192.168.1.5")
	}
	d := inv.devices[k]
	if d.traffic.wanConns != 1 || d.Identity.SYN != "" {
		t.Errorf("%d internet connections, SYN signature %q; want 1 and none", d.traffic.wanConns, d.Identity.SYN)
	}
	if st, r := statusOf(Scorecard(d, nil), "5.5-1"); st != strongTLS {
		t.Errorf("5.5-1 = %s %q, want pass: its one connection was TLS 1.3", st, r)
	}
}

// TestScorecardLANCleartext: a device that takes part in an application
// flow in clear on the LAN, as server or client, gets no pass on secure
// communication (5.5-1, 5.5-7, 5.8-1) whatever its internet connections
// did: unknown, naming what was seen. Before the fix only internet
// traffic was judged, and a camera serving telnet to the LAN, or a
// laptop logging in to it so, passed on one TLS connection.
func TestScorecardLANCleartext(t *testing.T) {
	const mac, ip, peer = "00:11:22:33:44:55", "192.168.1.5", "192.168.1.9"
	m := mustMAC(mac)
	self := event.Endpoint{MAC: mac, IP: ip, Local: true}
	other := event.Endpoint{MAC: "00:11:22:33:44:99", IP: peer, Local: true}
	lanUse := func(client, server event.Endpoint, proto string, port uint16) *event.Event {
		server.Port = port
		return &event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindPlaintextProtocol, Device: client,
			Flow:     &event.Flow{Transport: "tcp", App: proto, Client: client, Server: server, Direction: event.LANToLAN},
			Evidence: event.Evidence{"protocol": proto, "destination": server.IP, "port": strconv.Itoa(int(port)), "scope": "lan"}}
	}
	login := func(client, server event.Endpoint, verified bool) *event.Event {
		server.Port = 23
		kind := event.KindPlaintextCredentials
		if verified {
			kind = event.KindDefaultCredentials // the audit's own login
		}
		return &event.Event{Time: t0, Type: event.TypeFinding, Kind: kind, Device: server, Verified: verified,
			Severity: event.SeverityMedium, Summary: "Telnet login sent without encryption",
			Flow:     &event.Flow{Transport: "tcp", App: "telnet", Client: client, Server: server, Direction: event.LANToLAN},
			Evidence: event.Evidence{"protocol": "telnet", "user": "ro***"}}
	}
	tests := []struct {
		name   string
		events []*event.Event
		reason string // "": pass
	}{
		{"internet_tls_only", nil, ""},
		{"serves_telnet", []*event.Event{lanUse(other, self, "telnet", 23)}, "serves telnet in clear on the LAN"},
		{"serves_http", []*event.Event{lanUse(other, self, "http", 80)}, "serves http in clear on the LAN"},
		{"sends_rtsp", []*event.Event{lanUse(self, other, "rtsp", 554)}, "sent rtsp in clear to " + peer},
		{"sends_login", []*event.Event{lanUse(self, other, "telnet", 23), login(self, other, false)}, "sent a telnet login in clear to " + peer},
		{"takes_login", []*event.Event{login(other, self, false)}, "took a telnet login in clear from " + peer},
		// The router's own audit login is not the device's traffic.
		{"audit_login", []*event.Event{login(event.Endpoint{IP: "192.168.1.1", Local: true}, self, true)}, ""},
		// An observation of the device's web server is no flow in clear
		// worth reporting (the HTTP analyzer judges that).
		{"http_server_banner", []*event.Event{func() *event.Event {
			e := obs(mac, ip, event.KindHTTPServer, event.Evidence{"server": "Boa"})
			e.Flow = &event.Flow{Transport: "tcp", App: "http", Client: other, Server: event.Endpoint{MAC: mac, IP: ip, Port: 80, Local: true}, Direction: event.LANToLAN}
			return e
		}()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.ObservePacket(synPacket(m, ip, "203.0.113.10", 40000, 1))
			inv.ObservePacket(synPacket(mustMAC(other.MAC), peer, "203.0.113.11", 40000, 1))
			inv.Emit(&event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
				Device: event.Endpoint{IP: "203.0.113.10", Port: 443},
				Flow: &event.Flow{Transport: "tcp", Client: event.Endpoint{MAC: mac, IP: ip, Port: 40000, Local: true},
					Server: event.Endpoint{IP: "203.0.113.10", Port: 443}, Direction: event.LANToWAN},
				Evidence: event.Evidence{"tls_version_id": "0x0304"}})
			for _, ev := range tt.events {
				inv.Emit(ev)
			}
			card := Scorecard(device(t, inv, mac), nil)
			for _, id := range []string{"5.5-1", "5.5-7", "5.8-1"} {
				st, r := statusOf(card, id)
				switch {
				case tt.reason == "" && st != strongTLS:
					t.Errorf("%s = %s %q, want pass", id, st, r)
				case tt.reason != "" && (st == strongTLS || st == Unknown && !strings.Contains(strings.Join(r, " "), tt.reason)):
					// A login in clear to the device fails 5.5-7 itself.
					t.Errorf("%s = %s %q, want unknown saying %q", id, st, r, tt.reason)
				}
			}
		})
	}
}

// TestLANCleartextRepeatAllocatesNothing: a LAN flow in clear whose
// reasons both ends keep already, the case of nearly every such event,
// is counted without building its reasons as strings.
func TestLANCleartextRepeatAllocatesNothing(t *testing.T) {
	client := event.Endpoint{MAC: "00:11:22:33:44:99", IP: "192.168.1.9", Local: true}
	server := event.Endpoint{MAC: "00:11:22:33:44:55", IP: "192.168.1.5", Port: 23, Local: true}
	flow := &event.Flow{Transport: "tcp", App: "telnet", Client: client, Server: server, Direction: event.LANToLAN}
	tests := []struct {
		name string
		ev   *event.Event
	}{
		{"login", &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindPlaintextCredentials, Device: server,
			Severity: event.SeverityMedium, Flow: flow, Evidence: event.Evidence{"protocol": "telnet", "user": "ro***"}}},
		{"use", &event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindPlaintextProtocol, Device: client,
			Flow: flow, Evidence: event.Evidence{"protocol": "telnet", "scope": "lan"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.ObservePacket(synPacket(mustMAC(client.MAC), client.IP, server.IP, 40000, 1))
			inv.ObservePacket(synPacket(mustMAC(server.MAC), server.IP, "203.0.113.10", 40000, 1))
			inv.noteLANCleartext(tt.ev)
			n := testing.AllocsPerRun(100, func() { inv.noteLANCleartext(tt.ev) })
			if n != 0 {
				t.Errorf("%v allocations per repeat, want 0", n)
			}
			if got := device(t, inv, server.MAC).lanClear.n; got != 102 {
				t.Errorf("server counted %d flows in clear, want 102", got)
			}
		})
	}
}

// TestScorecardLANDiscovery: from the engine to the scorecard. A phone
// whose one internet connection was TLS 1.3 keeps its pass on 5.5-1 when
// it also fetches the router's UPnP description, asks it for a port
// mapping or reads a Chromecast's DIAL description on the LAN, as it
// keeps it for SSDP and mDNS; a LAN page in clear still takes it.
func TestScorecardLANDiscovery(t *testing.T) {
	const mac, ip = "02:00:00:00:00:01", "192.168.1.10" // inspecttest's client
	envelope := `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` +
		`<u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"/></s:Body></s:Envelope>`
	soap := "POST /ctl/IPConn HTTP/1.1\r\nHost: 192.168.1.1:5000\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n" +
		"SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping\"\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(envelope), envelope)
	tests := []struct {
		name, server, req string
		pass              bool
	}{
		{"internet_tls_only", "", "", true},
		{"igd_description", "192.168.1.1:5000", "GET /rootDesc.xml HTTP/1.1\r\nHost: 192.168.1.1:5000\r\n\r\n", true},
		{"igd_port_mapping", "192.168.1.1:5000", soap, true},
		{"dial_description", "192.168.1.30:8008", "GET /ssdp/device-desc.xml HTTP/1.1\r\nHost: 192.168.1.30:8008\r\n\r\n", true},
		{"lan_page", "192.168.1.30:8008", "GET /setup/eureka_info HTTP/1.1\r\nHost: 192.168.1.30:8008\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			m, _ := hwaddr.Parse(mac)
			inv.ObservePacket(synPacket(m, ip, "203.0.113.10", 40000, 1))
			inv.Emit(&event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
				Device: event.Endpoint{IP: "203.0.113.10", Port: 443},
				Flow: &event.Flow{Transport: "tcp", Client: event.Endpoint{MAC: mac, IP: ip, Port: 40000, Local: true},
					Server: event.Endpoint{IP: "203.0.113.10", Port: 443}, Direction: event.LANToWAN},
				Evidence: event.Evidence{"tls_version_id": "0x0304"}})
			if tt.req != "" {
				col := &inspecttest.Collector{}
				e := inspecttest.Engine(t, col, nil, http.New(nil), plaintext.New(pii.New()))
				inspecttest.NewTCP(e, ip+":41000", tt.server).Client(tt.req).
					Server("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 2\r\n\r\n<>").Close()
				e.Flush()
				for _, ev := range col.Events {
					inv.Emit(ev)
				}
			}
			st, reasons := statusOf(Scorecard(device(t, inv, mac), nil), "5.5-1")
			if (st == strongTLS) != tt.pass {
				t.Errorf("5.5-1 = %s %q, want pass %v", st, reasons, tt.pass)
			}
		})
	}
}

// udpPacket is a UDP datagram from the device to dst:port, with a link
// layer (a frame to the router's MAC) when mac is not zero.
func udpPacket(mac hwaddr.MAC, src, dst string, sport, dport uint16) *inspect.Packet {
	return &inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: !mac.IsZero(), SrcMAC: mac,
		DstMAC: mustMAC("00:00:5e:00:53:01"), Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sport, DstPort: dport, Length: 100, Payload: []byte{0x40, 0x01, 0x00, 0x01}}
}

// TestScorecardInternetUDP: a device whose internet TCP connections were
// all TLS 1.3 gets no pass on secure communication (5.5-1, 5.5-7, 5.8-1)
// while it also sends UDP to the internet on a port not known to be
// encrypted (CoAP, syslog, TFTP, a vendor's port): unknown, naming the
// ports. DNS, NTP, QUIC and the other exempt ports, and multicast
// discovery, keep the pass. No finding comes of it. Before the fix UDP
// was not counted and CoAP in clear beside TLS passed.
func TestScorecardInternetUDP(t *testing.T) {
	const mac, ip = "00:11:22:33:44:55", "192.168.1.5"
	m := mustMAC(mac)
	type dgram struct {
		dst          string
		sport, dport uint16
	}
	tests := []struct {
		name    string
		noTCP   bool // the device opened no internet TCP connection
		noLink  bool // an NFLOG capture: no link layer, the device known by address
		dgrams  []dgram
		reasons []string // nil: pass
	}{
		{"tls_only", false, false, nil, nil},
		{"coap", false, false, []dgram{{"198.51.100.7", 40000, 5683}},
			[]string{"sent UDP to internet port 5683 not known to be encrypted", "1 of 1 internet TCP connections"}},
		{"coap_no_link_layer", false, true, []dgram{{"198.51.100.7", 40000, 5683}},
			[]string{"sent UDP to internet port 5683 not known to be encrypted"}},
		{"syslog_tftp_snmp_trap", false, false, []dgram{{"198.51.100.7", 514, 514}, {"198.51.100.8", 40001, 69}, {"198.51.100.9", 40002, 162}, {"198.51.100.9", 40003, 162}},
			[]string{"sent UDP to internet ports 514, 69, 162 not known to be encrypted"}},
		{"many_ports", false, false, []dgram{{"198.51.100.7", 40000, 5683}, {"198.51.100.7", 40000, 1883}, {"198.51.100.7", 40000, 514}, {"198.51.100.7", 40000, 9999}, {"198.51.100.7", 40000, 10000}},
			[]string{"sent UDP to internet ports 5683, 1883, 514, 9999 and others not known to be encrypted"}},
		{"udp_without_tcp", true, false, []dgram{{"198.51.100.7", 40000, 5683}},
			[]string{"sent UDP to internet port 5683 not known to be encrypted", "no internet TCP connection opened by the device seen"}},
		{"ntp_dns_quic", false, false, []dgram{{"198.51.100.7", 123, 123}, {"198.51.100.53", 40000, 53}, {"203.0.113.10", 40000, 443}}, nil},
		{"ntp_dns_quic_no_link_layer", false, true, []dgram{{"198.51.100.7", 123, 123}, {"198.51.100.53", 40000, 53}, {"203.0.113.10", 40000, 443}}, nil},
		{"vpn_stun_doq", false, false, []dgram{{"198.51.100.7", 40000, 500}, {"198.51.100.7", 4500, 4500}, {"198.51.100.7", 40000, 51820},
			{"198.51.100.7", 40000, 1194}, {"198.51.100.7", 40000, 3478}, {"198.51.100.7", 40000, 19302}, {"198.51.100.7", 40000, 853}}, nil},
		{"lan_and_multicast", false, false, []dgram{{"192.168.1.9", 40000, 5683}, {"239.255.255.250", 40000, 1900}, {"224.0.0.251", 5353, 5353}, {"255.255.255.255", 68, 67}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			link := m
			if tt.noLink {
				link = hwaddr.MAC{}
			}
			if !tt.noTCP {
				syn := synPacket(link, ip, "203.0.113.10", 40000, 1)
				syn.HasMAC = !tt.noLink
				if tt.noLink {
					inv.Emit(obs("", ip, event.KindDNSQuery, event.Evidence{"name": "api.example.com"}))
				}
				inv.ObservePacket(syn)
				client := event.Endpoint{IP: ip, Port: 40000, Local: true}
				if !tt.noLink {
					client.MAC = mac
				}
				inv.Emit(&event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
					Device: event.Endpoint{IP: "203.0.113.10", Port: 443},
					Flow: &event.Flow{Transport: "tcp", Client: client,
						Server: event.Endpoint{IP: "203.0.113.10", Port: 443}, Direction: event.LANToWAN},
					Evidence: event.Evidence{"tls_version_id": "0x0304"}})
			} else {
				inv.ObservePacket(udpPacket(m, ip, "192.168.1.1", 40000, 53)) // the device, known
			}
			for _, g := range tt.dgrams {
				inv.ObservePacket(udpPacket(link, ip, g.dst, g.sport, g.dport))
			}
			var d *Device
			if tt.noLink {
				d = inv.devices[inv.byIP[netip.MustParseAddr(ip)]]
			} else {
				d = device(t, inv, mac)
			}
			if d == nil {
				t.Fatal("no device")
			}
			card := Scorecard(d, nil)
			for _, id := range []string{"5.5-1", "5.5-7", "5.8-1"} {
				st, r := statusOf(card, id)
				want := strongTLS
				if tt.reasons != nil {
					want = Unknown
				}
				if st != want {
					t.Errorf("%s = %s %q, want %s", id, st, r, want)
					continue
				}
				for _, w := range tt.reasons {
					if !strings.Contains(strings.Join(r, " "), w) {
						t.Errorf("%s reasons %q lack %q", id, r, w)
					}
				}
			}
			if len(d.Findings) != 0 {
				t.Errorf("findings %v, want none", d.Findings)
			}
		})
	}
}

// TestScorecardSecureCommunicationNeverPasses: a device whose every
// internet connection seen was TLS 1.3 gets no pass on 5.5-1, 5.5-7 or
// 5.8-1, nor on capabilities 4 and 5: whether it checks the server's
// certificate no frame shows (without it TLS is open to a readily
// available attack, no best practice cryptography under ETSI EN 303 645
// V2.1.1, 3.1), and one capture holds one connection of its life. The
// label says what was seen and what cannot be. Before the fix one TLS
// 1.3 connection passed them all.
func TestScorecardSecureCommunicationNeverPasses(t *testing.T) {
	m := mustMAC("00:11:22:33:44:55")
	inv := newInv()
	inv.ObservePacket(synPacket(m, "192.168.1.5", "203.0.113.10", 40000, 1))
	inv.Emit(&event.Event{Time: t0, Type: event.TypeObservation, Kind: event.KindTLSServer,
		Device: event.Endpoint{IP: "203.0.113.10", Port: 443},
		Flow: &event.Flow{Transport: "tcp", Client: event.Endpoint{MAC: m.String(), IP: "192.168.1.5", Port: 40000, Local: true},
			Server: event.Endpoint{IP: "203.0.113.10", Port: 443}, Direction: event.LANToWAN},
		Evidence: event.Evidence{"tls_version_id": "0x0304", "cipher_strength": "strong"}})
	card := Scorecard(device(t, inv, m.String()), nil)
	for _, cp := range card.Capabilities {
		for _, p := range cp.Provisions {
			if p.ID != "5.5-1" && p.ID != "5.5-7" && p.ID != "5.8-1" {
				continue
			}
			reason := strings.Join(p.Reasons, " ")
			if p.Status != Unknown || !strings.Contains(reason, "all 1 internet TCP connections seen used TLS 1.2") ||
				!strings.Contains(reason, "certificate") {
				t.Errorf("%s = %s %q, want unknown, saying what was seen and what cannot be", p.ID, p.Status, p.Reasons)
			}
		}
		if (cp.Capability == event.CapSecureCommunication || cp.Capability == event.CapPersonalData) && cp.Status == Pass {
			t.Errorf("capability %d %s passed on one TLS connection", cp.Capability, cp.Name)
		}
	}
}
