package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

const devIP = "192.168.77.10"

var devMAC = hwaddr.MAC{0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}

func classifier(t testing.TB) *creds.Classifier {
	t.Helper()
	c, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newAuditor(t testing.TB, d Dialer, mod func(*Options)) *Auditor {
	t.Helper()
	opts := Options{
		Candidates:      classifier(t),
		Dialer:          d,
		AttemptDelay:    time.Millisecond,
		PortDelay:       time.Millisecond,
		ResponseTimeout: 3 * time.Second,
		Logger:          quietLogger(),
	}
	if mod != nil {
		mod(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func target() Target {
	return Target{MAC: devMAC, Addrs: []netip.Addr{netip.MustParseAddr(devIP)}}
}

func lan(port string) string { return devIP + ":" + port }

// findKind returns the events of kind k.
func findKind(evs []*event.Event, k event.Kind) []*event.Event {
	var out []*event.Event
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// auditCheck returns the audit observation of check, or nil.
func auditCheck(evs []*event.Event, check string) *event.Event {
	for _, e := range findKind(evs, event.KindAudit) {
		if e.Evidence["check"] == check {
			return e
		}
	}
	return nil
}

// noSecret fails if a password appears in the events' JSON.
func noSecret(t *testing.T, evs []*event.Event, secrets ...string) {
	t.Helper()
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(b), s) {
			t.Errorf("events carry the secret %q: %s", s, b)
		}
	}
}

func TestDefaultLogins(t *testing.T) {
	tests := []struct {
		name string
		// setup starts the fakes and routes them; it returns the number
		// of logins the device saw, read after the audit.
		setup    func(t *testing.T, d *mapDialer) func() int32
		vendor   string
		wantStop Stop
		wantKind string // protocol of the finding, "" for none
		wantUser string
		wantPass string // redacted form expected
		secret   string
	}{
		{
			name: "telnet_mirai_default",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeTelnet{user: "root", password: "xc3511"}
				d.route(lan("23"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopFound, wantKind: "telnet", wantUser: "r***", wantPass: "xc***", secret: "xc3511",
		},
		{
			// The banner after the login says "failed" and
			// "unauthorized": the shell prompt that follows decides.
			name: "telnet_default_behind_warning_banner",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeTelnet{user: "root", password: "xc3511",
					motd: "\r\nLast failed login: Tue Nov 24 10:02:11 from 192.168.1.7\r\nWARNING: Unauthorized access is prohibited\r\n"}
				d.route(lan("23"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopFound, wantKind: "telnet", wantUser: "r***", wantPass: "xc***", secret: "xc3511",
		},
		{
			name: "telnet_unique_password",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeTelnet{user: "root", password: "Vq8#mZ2!pL"}
				d.route(lan("23"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopCap, secret: "Vq8#mZ2!pL",
		},
		{
			name: "telnet_2323_vendor_default",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeTelnet{user: "admin", password: "12345"}
				d.route(lan("2323"), f.start(t))
				return f.attempts.Load
			},
			vendor:   "Hikvision",
			wantStop: StopFound, wantKind: "telnet", wantUser: "a***", wantPass: "1***", secret: "12345",
		},
		{
			name: "ssh_admin_admin",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeSSH{user: "admin", password: "admin"}
				d.route(lan("22"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopFound, wantKind: "ssh", wantUser: "a***", wantPass: "a***",
		},
		{
			name: "ssh_unique_password",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeSSH{user: "admin", password: "k7Rt-99xWq"}
				d.route(lan("22"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopCap, secret: "k7Rt-99xWq",
		},
		{
			// A server that asks again after a wrong password must not
			// get more failed logins than the report counts.
			name: "ssh_interactive_asks_again",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeSSH{user: "admin", password: "k7Rt-99xWq", interactive: true}
				d.route(lan("22"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopCap, secret: "k7Rt-99xWq",
		},
		{
			name: "http_basic_admin_admin",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeWeb{user: "admin", password: "admin"}
				d.route(lan("80"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopFound, wantKind: "http", wantUser: "a***", wantPass: "a***",
		},
		{
			name: "http_digest_on_8080",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeWeb{user: "admin", password: "admin", digest: true}
				d.route(lan("8080"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopFound, wantKind: "http", wantUser: "a***", wantPass: "a***",
		},
		{
			name: "http_unique_password",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeWeb{user: "admin", password: "N0t-A-Default!", digest: true}
				d.route(lan("80"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopCap, secret: "N0t-A-Default!",
		},
		{
			name: "rtsp_digest_default",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeRTSP{user: "admin", password: "admin"}
				d.route(lan("554"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopFound, wantKind: "rtsp", wantUser: "a***", wantPass: "a***",
		},
		{
			name: "ftp_default",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeFTP{user: "admin", password: "admin"}
				d.route(lan("21"), f.start(t))
				return f.attempts.Load
			},
			wantStop: StopFound, wantKind: "ftp", wantUser: "a***", wantPass: "a***",
		},
		{
			name: "every_service_unique_shares_the_cap",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				tn := &fakeTelnet{user: "root", password: "unique-1-Zx"}
				sh := &fakeSSH{user: "root", password: "unique-2-Zx"}
				web := &fakeWeb{user: "admin", password: "unique-3-Zx"}
				rt := &fakeRTSP{user: "admin", password: "unique-4-Zx"}
				d.route(lan("23"), tn.start(t))
				d.route(lan("22"), sh.start(t))
				d.route(lan("80"), web.start(t))
				d.route(lan("554"), rt.start(t))
				return func() int32 {
					return tn.attempts.Load() + sh.attempts.Load() + web.attempts.Load() + rt.attempts.Load()
				}
			},
			wantStop: StopCap,
		},
		{
			name: "http_without_authentication",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				ln := serve(t, func(c net.Conn) {
					io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
				})
				d.route(lan("80"), ln.Addr().String())
				return func() int32 { return 0 }
			},
			wantStop: StopNoService,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newMapDialer()
			seen := tc.setup(t, d)
			a := newAuditor(t, d, nil)
			tg := target()
			tg.Vendor = tc.vendor
			rep, evs, err := a.Audit(context.Background(), tg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stop != tc.wantStop {
				t.Fatalf("stop %q, want %q (report %+v)", rep.Stop, tc.wantStop, rep)
			}
			if n := seen(); int(n) > DefaultMaxAttempts || int(n) != rep.Attempts {
				t.Errorf("device saw %d logins, report says %d, cap %d", n, rep.Attempts, DefaultMaxAttempts)
			}
			if tc.wantStop == StopCap && rep.Attempts != DefaultMaxAttempts {
				t.Errorf("attempts %d, want the cap %d", rep.Attempts, DefaultMaxAttempts)
			}
			found := findKind(evs, event.KindDefaultCredentials)
			if tc.wantKind == "" {
				if len(found) > 0 {
					t.Fatalf("unexpected finding %+v", found[0])
				}
				// No login service: nothing was tried, which is no pass
				// (a web form may still take a default password). A
				// test stopped at the cap did not try the whole list:
				// incomplete, no pass either.
				want := "none_found"
				switch tc.wantStop {
				case StopNoService:
					want = "untested"
				case StopCap:
					want = "incomplete"
				}
				obs := auditCheck(evs, "default_login")
				if obs == nil || obs.Evidence["result"] != want {
					t.Fatalf("no default_login %s observation: %+v", want, obs)
				}
			} else {
				if len(found) != 1 {
					t.Fatalf("%d default_credentials findings, want 1", len(found))
				}
				f := found[0]
				e := f.Evidence
				if !f.Verified || e["verified"] != "yes" || e["accepted"] != "yes" || e["password_class"] != "default" ||
					e["protocol"] != tc.wantKind || e["user"] != tc.wantUser || e["password"] != tc.wantPass ||
					e["default_source"] == "" || f.Severity != event.SeverityHigh || f.Capability != event.CapNoDefaultPasswords ||
					f.Provision != "5.1-1" || f.Device.MAC != devMAC.String() || f.Device.IP != devIP {
					t.Errorf("finding %+v evidence %v", f, e)
				}
				if auditCheck(evs, "default_login") != nil {
					t.Error("a found default also filed none_found")
				}
			}
			noSecret(t, evs, tc.secret)
		})
	}
}

// TestTelnetOpenShell: a telnet server that shows a shell prompt and never
// a login prompt is a verified default_credentials finding of class none,
// with no candidate named; a prompt-like banner followed by a late login
// prompt is not.
func TestTelnetOpenShell(t *testing.T) {
	tests := []struct {
		name  string
		fake  *fakeTelnet
		open  bool
		tried bool // the login prompt came and a candidate was tried
	}{
		{"shell_at_once", &fakeTelnet{openShell: true}, true, false},
		{"prompt_like_banner_then_login", &fakeTelnet{user: "root", password: "unique-pw-77", greeting: "Main menu>", greetDelay: 300 * time.Millisecond}, false, true},
		// A menu waiting for a choice for the whole response time is no
		// shell: its choice may well lead to a login.
		{"menu_waiting_for_a_choice", &fakeTelnet{user: "root", password: "unique-pw-77", greeting: "1) Status\r\n2) Login\r\nSelect> ", greetDelay: 1500 * time.Millisecond}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newMapDialer()
			d.route(lan("23"), tt.fake.start(t))
			a := newAuditor(t, d, func(o *Options) {
				o.ResponseTimeout = time.Second
				o.Candidates = fixedList{{User: "root", Password: "guess"}}
			})
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			found := findKind(evs, event.KindDefaultCredentials)
			if !tt.open {
				if len(found) != 0 || (rep.Attempts > 0) != tt.tried {
					t.Errorf("report %+v, findings %v", rep, found)
				}
				return
			}
			if len(found) != 1 || rep.Stop != StopFound || rep.Attempts != 0 || rep.Found == nil || rep.Found.User != "" {
				t.Fatalf("report %+v, findings %v", rep, found)
			}
			ev := found[0].Evidence
			if ev["password_class"] != "none" || ev["mechanism"] != "no login" || ev["verified"] != "yes" || ev["accepted"] != "yes" ||
				ev["user"] != "" || ev["password"] != "" || ev["default_source"] != "" || found[0].Severity != event.SeverityHigh {
				t.Errorf("finding %+v evidence %v", found[0], ev)
			}
		})
	}
}

func TestTelnetRefusesEveryOption(t *testing.T) {
	d := newMapDialer()
	f := &fakeTelnet{user: "root", password: "xc3511"}
	d.route(lan("23"), f.start(t))
	a := newAuditor(t, d, nil)
	if _, _, err := a.Audit(context.Background(), target()); err != nil {
		t.Fatal(err)
	}
	// Three connections (banner, login, the check with a random
	// password) refuse 4 options each.
	if got := f.refused.Load(); got != 12 {
		t.Errorf("client sent %d refusals, want 12", got)
	}
}

func TestLockout(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, d *mapDialer) func() int32
		want  int32 // logins the device saw
	}{
		{
			name: "telnet_too_many_attempts",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeTelnet{user: "root", password: "unique-pw-77", lockAfter: 3}
				d.route(lan("23"), f.start(t))
				return f.attempts.Load
			},
			want: 3,
		},
		{
			name: "telnet_refuses_connections_after_failures",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeTelnet{user: "root", password: "unique-pw-77", closeAfter: 2}
				d.route(lan("23"), f.start(t))
				return f.attempts.Load
			},
			want: 2,
		},
		{
			name: "http_429",
			setup: func(t *testing.T, d *mapDialer) func() int32 {
				f := &fakeWeb{user: "admin", password: "unique-pw-77", lockAfter: 4}
				d.route(lan("80"), f.start(t))
				return f.attempts.Load
			},
			want: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newMapDialer()
			seen := tc.setup(t, d)
			a := newAuditor(t, d, nil)
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stop != StopLockout {
				t.Fatalf("stop %q, want lockout", rep.Stop)
			}
			if got := seen(); got != tc.want {
				t.Errorf("device saw %d logins, want %d", got, tc.want)
			}
			obs := auditCheck(evs, "default_login")
			if obs == nil || obs.Evidence["result"] != "stopped" || obs.Evidence["stop"] != "lockout" {
				t.Errorf("observation %+v", obs)
			}
			if len(findKind(evs, event.KindDefaultCredentials)) != 0 {
				t.Error("finding after lockout")
			}
		})
	}
}

func TestAttemptCapOption(t *testing.T) {
	d := newMapDialer()
	f := &fakeTelnet{user: "root", password: "unique-pw-77"}
	d.route(lan("23"), f.start(t))
	a := newAuditor(t, d, func(o *Options) { o.MaxAttempts = 3 })
	rep, _, err := a.Audit(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Attempts != 3 || f.attempts.Load() != 3 || rep.Stop != StopCap {
		t.Errorf("report %+v, device saw %d", rep, f.attempts.Load())
	}
}

func TestRefusesNonLANTargets(t *testing.T) {
	tests := []struct {
		name   string
		addrs  []string
		lan    []string
		offLAN bool // the kernel would not send there through the LAN
	}{
		// An address in the LAN prefixes that the kernel routes
		// elsewhere: the router's own, an ISP modem behind the WAN.
		{"routed_off_lan", []string{"192.168.77.1"}, nil, true},
		{"public_v4", []string{"8.8.8.8"}, nil, false},
		{"documentation_v4", []string{"203.0.113.10"}, nil, false},
		{"cgnat", []string{"100.64.1.1"}, nil, false},
		{"loopback", []string{"127.0.0.1"}, nil, false},
		{"loopback_v6", []string{"::1"}, nil, false},
		{"global_v6", []string{"2001:db8::10"}, nil, false},
		{"multicast", []string{"239.255.255.250"}, nil, false},
		{"unspecified", []string{"0.0.0.0"}, nil, false},
		{"mapped_public", []string{"::ffff:8.8.4.4"}, nil, false},
		{"none", nil, nil, false},
		{"private_outside_lan_prefix", []string{"10.1.2.3"}, []string{"192.168.77.0/24"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newMapDialer()
			a := newAuditor(t, d, func(o *Options) {
				for _, p := range tc.lan {
					o.LAN = append(o.LAN, netip.MustParsePrefix(p))
				}
				o.OnLAN = func(netip.Addr) bool { return !tc.offLAN }
			})
			tg := Target{MAC: devMAC}
			for _, s := range tc.addrs {
				tg.Addrs = append(tg.Addrs, netip.MustParseAddr(s))
			}
			_, evs, err := a.Audit(context.Background(), tg)
			if !errors.Is(err, ErrNotLAN) {
				t.Errorf("err %v, want ErrNotLAN", err)
			}
			if len(evs) != 0 || len(d.dialed()) != 0 {
				t.Errorf("%d events, dials %v", len(evs), d.dialed())
			}
		})
	}
}

// TestZoneOnlyForLinkLocal: the kernel heeds an address's zone for a
// link-local address only; on any other it is ignored and the route
// decides. An OnLAN that takes a LAN zone's word (as netwatch.OnLAN does,
// rightly for link-local) must still be asked about the address itself,
// or "fd00::70%br-lan" would pass for the LAN wherever fd00::70 is routed
// (the WAN, the router's own address).
func TestZoneOnlyForLinkLocal(t *testing.T) {
	onLAN := func(a netip.Addr) bool {
		if a.Zone() != "" {
			return a.Zone() == "br-lan"
		}
		return a == netip.MustParseAddr("fe80::60") // the kernel routes no other one to the LAN
	}
	tests := []struct {
		name string
		addr string
		err  error
	}{
		{"ula_with_a_lan_zone", "fd00::70%br-lan", ErrNotLAN},
		{"link_local_with_a_lan_zone", "fe80::71%br-lan", nil},
		{"link_local_with_another_zone", "fe80::71%wan", ErrNotLAN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newMapDialer()
			a := newAuditor(t, d, func(o *Options) { o.OnLAN = onLAN })
			_, _, err := a.Audit(context.Background(), Target{MAC: devMAC, Addrs: []netip.Addr{netip.MustParseAddr(tt.addr)}})
			switch {
			case tt.err != nil && (!errors.Is(err, tt.err) || len(d.dialed()) != 0):
				t.Errorf("err %v, dials %v; want %v and no dial", err, d.dialed(), tt.err)
			case tt.err == nil && (err != nil || len(d.dialed()) == 0):
				t.Errorf("err %v, dials %v; want an audit", err, d.dialed())
			}
		})
	}
}

func TestPicksLANAddress(t *testing.T) {
	d := newMapDialer()
	a := newAuditor(t, d, nil)
	tg := Target{MAC: devMAC, Addrs: []netip.Addr{
		netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("fd00::10"), netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr(devIP)}}
	rep, _, err := a.Audit(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Addr.String() != devIP {
		t.Errorf("audited %s, want %s (IPv4 first)", rep.Addr, devIP)
	}
	for _, dial := range d.dialed() {
		if !strings.HasPrefix(dial, devIP+":") {
			t.Errorf("dialed %s", dial)
		}
	}
	tg.Addrs = tg.Addrs[:3]
	rep, _, err = a.Audit(context.Background(), tg)
	if err != nil || rep.Addr.String() != "fd00::10" {
		t.Errorf("addr %s err %v, want the ULA", rep.Addr, err)
	}
}

func TestPortsAndBanners(t *testing.T) {
	d := newMapDialer()
	tn := &fakeTelnet{user: "root", password: "unique-pw-77"}
	d.route(lan("23"), tn.start(t))
	sh := &fakeSSH{user: "root", password: "unique-pw-78"}
	d.route(lan("22"), sh.start(t))
	ftp := &fakeFTP{user: "ftp", password: "unique-pw-79"}
	d.route(lan("21"), ftp.start(t))
	web := &fakeWeb{user: "admin", password: "unique-pw-80"}
	d.route(lan("80"), web.start(t))
	d.route(lan("8081"), web.start(t))

	a := newAuditor(t, d, func(o *Options) { o.MaxAttempts = 1 })
	tg := target()
	tg.OpenPorts = []uint16{8081}
	rep, evs, err := a.Audit(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint16{21, 22, 23, 80, 8081}; !slices.Equal(rep.OpenPorts, want) {
		t.Errorf("open %v, want %v", rep.OpenPorts, want)
	}
	banners := map[string]string{}
	for _, e := range findKind(evs, event.KindBanner) {
		banners[e.Evidence["protocol"]] = e.Evidence["banner"]
		if e.Flow == nil || e.Flow.Server.IP != devIP || e.Flow.Direction != event.LANToLAN {
			t.Errorf("banner flow %+v", e.Flow)
		}
	}
	want := map[string]string{
		"telnet": "BusyBox v1.19.4 (2016-05-12 10:11:45 CST) built-in shell",
		"ssh":    "SSH-2.0-dropbear_2014.63",
		"ftp":    "220-Welcome",
	}
	for k, v := range want {
		if banners[k] != v {
			t.Errorf("%s banner %q, want %q", k, banners[k], v)
		}
	}
	exposed := map[string]event.Severity{}
	for _, e := range findKind(evs, event.KindExposedService) {
		exposed[e.Evidence["protocol"]+":"+e.Evidence["port"]] = e.Severity
		if e.Provision != "5.6-1" {
			t.Errorf("provision %q", e.Provision)
		}
	}
	if len(exposed) != 2 || exposed["telnet:23"] != event.SeverityMedium || exposed["ftp:21"] != event.SeverityLow {
		t.Errorf("exposed %v", exposed)
	}
	if auditCheck(evs, "ports") != nil {
		t.Error("ports none_found despite telnet")
	}
	if want := []string{"telnet:23", "ssh:22", "http:80", "ftp:21"}; !slices.Equal(rep.Services, want) {
		t.Errorf("services %v, want %v", rep.Services, want)
	}
}

func TestCleanDevice(t *testing.T) {
	d := newMapDialer()
	web := &fakeWeb{user: "admin", password: "unique-pw-80"}
	d.route(lan("443"), "127.0.0.1:1") // refused
	d.route(lan("8080"), web.start(t))
	list := fixedList{{User: "admin", Password: "admin"}, {User: "root", Password: "12345"}}
	a := newAuditor(t, d, func(o *Options) { o.MaxAttempts = 2; o.Candidates = list })
	_, evs, err := a.Audit(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	ports := auditCheck(evs, "ports")
	if ports == nil || ports.Evidence["result"] != "none_found" || ports.Evidence["ports"] != "8080" {
		t.Fatalf("ports observation %+v", ports)
	}
	login := auditCheck(evs, "default_login")
	if login == nil || login.Evidence["result"] != "none_found" || login.Evidence["attempts"] != "2" ||
		login.Evidence["protocols"] != "http:8080" {
		t.Fatalf("login observation %+v", login)
	}
	if len(evs) != 2 {
		t.Errorf("%d events, want 2", len(evs))
	}
}

// TestPortListWithoutTelnetOrFTP: a port list the owner configured
// without telnet's and FTP's ports says nothing of them: the port check
// is no pass for 5.6-1.
func TestPortListWithoutTelnetOrFTP(t *testing.T) {
	d := newMapDialer()
	web := &fakeWeb{user: "admin", password: "unique-pw-80"}
	d.route(lan("8080"), web.start(t))
	a := newAuditor(t, d, func(o *Options) { o.MaxAttempts = 2; o.Ports = []uint16{80, 8080} })
	_, evs, err := a.Audit(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	if ports := auditCheck(evs, "ports"); ports == nil || ports.Evidence["result"] != "untested" || !strings.Contains(ports.Summary, "23,2323,21") {
		t.Fatalf("ports observation %+v, want untested naming 23,2323,21", ports)
	}
}

func TestAuditCancelled(t *testing.T) {
	d := newMapDialer()
	f := &fakeTelnet{user: "root", password: "unique-pw-77"}
	d.route(lan("23"), f.start(t))
	a := newAuditor(t, d, func(o *Options) { o.AttemptDelay = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var rep Report
	var err error
	var evs []*event.Event
	go func() {
		rep, evs, err = a.Audit(ctx, target())
		close(done)
	}()
	for f.attempts.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if !errors.Is(err, context.Canceled) || rep.Stop != StopCancelled || rep.Attempts != 1 {
		t.Errorf("err %v report %+v", err, rep)
	}
	if auditCheck(evs, "default_login") != nil {
		t.Error("a cancelled test filed a result")
	}
}

func TestNewRejects(t *testing.T) {
	c := classifier(t)
	for name, o := range map[string]Options{
		"no_list":        {},
		"negative_delay": {Candidates: c, AttemptDelay: -1},
		"port_zero":      {Candidates: c, Ports: []uint16{0}},
		"too_many_ports": {Candidates: c, Ports: make([]uint16, maxPorts+1)},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUnrecognisedServiceIsNotAPass(t *testing.T) {
	d := newMapDialer()
	ln := serve(t, func(c net.Conn) {
		io.WriteString(c, "Welcome to the frobnicator\r\n") // never a prompt
		time.Sleep(50 * time.Millisecond)
	})
	d.route(lan("23"), ln.Addr().String())
	a := newAuditor(t, d, func(o *Options) { o.ResponseTimeout = 200 * time.Millisecond })
	rep, evs, err := a.Audit(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	obs := auditCheck(evs, "default_login")
	if rep.Attempts != 0 || obs == nil || obs.Evidence["result"] != "untested" || obs.Evidence["untested"] != "telnet:23" {
		t.Errorf("report %+v observation %+v", rep, obs)
	}
}

// fixedList is a default list of the test's choosing.
type fixedList []creds.Candidate

func (l fixedList) Candidates(string, string) []creds.Candidate { return l }

// TestTelnetEchoIsNotAShell: a terminal that echoes a candidate ending in
// '#' (stty -echo came too late) and rejects it after the settle time
// must not read as a shell prompt.
func TestTelnetEchoIsNotAShell(t *testing.T) {
	d := newMapDialer()
	f := &fakeTelnet{user: "root", password: "unique-pw-77", echo: true, failDelay: 2 * settle}
	d.route(lan("23"), f.start(t))
	a := newAuditor(t, d, func(o *Options) {
		o.Candidates = fixedList{{User: "root", Password: "guess#"}, {User: "root", Password: "guess>"}}
	})
	rep, evs, err := a.Audit(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stop != StopExhausted || rep.Attempts != 2 || len(findKind(evs, event.KindDefaultCredentials)) != 0 {
		t.Errorf("report %+v", rep)
	}
}

// TestPickAddrHolder: only an address the kernel's neighbour table places
// at the device now is audited, and a link-local one only with its zone;
// a device the kernel places nowhere is not present, and nothing is sent.
func TestPickAddrHolder(t *testing.T) {
	dev, nas := hwaddr.MAC{0x02, 0, 0, 0, 0, 1}, hwaddr.MAC{0x02, 0, 0, 0, 0, 2}
	table := map[netip.Addr]hwaddr.MAC{
		netip.MustParseAddr("192.168.1.50"):    nas, // the device's old address, a NAS's now
		netip.MustParseAddr("192.168.1.60"):    dev,
		netip.MustParseAddr("fd00::60"):        dev,
		netip.MustParseAddr("fe80::60%br-lan"): dev,
		netip.MustParseAddr("fe80::61"):        dev, // looked up without a zone
		netip.MustParseAddr("192.168.1.70"):    nas,
		netip.MustParseAddr("fe80::70%br-lan"): nas,
		netip.MustParseAddr("fd00::70"):        nas,
	}
	holder := func(a netip.Addr) (hwaddr.MAC, bool) { mac, ok := table[a]; return mac, ok }
	a := newAuditor(t, newMapDialer(), func(o *Options) { o.HolderOf = holder })
	tests := []struct {
		name  string
		addrs []string
		want  string
		err   error
	}{
		{"latest_taken_by_another", []string{"192.168.1.60", "192.168.1.50"}, "192.168.1.60", nil},
		{"only_address_taken", []string{"192.168.1.50"}, "", ErrNotPresent},
		{"not_in_the_table", []string{"192.168.1.51"}, "", ErrNotPresent},
		{"ula_when_ipv4_taken", []string{"fd00::60", "192.168.1.50"}, "fd00::60", nil},
		{"link_local_with_zone", []string{"fe80::60%br-lan"}, "fe80::60%br-lan", nil},
		{"link_local_without_zone", []string{"fe80::61"}, "", ErrNotLAN},
		{"all_another_hosts", []string{"192.168.1.70", "fe80::70%br-lan", "fd00::70"}, "", ErrNotPresent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := Target{MAC: dev}
			for _, s := range tt.addrs {
				tg.Addrs = append(tg.Addrs, netip.MustParseAddr(s))
			}
			got, err := a.pickAddr(tg)
			switch {
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Errorf("pickAddr(%v) = %v, %v; want %v", tt.addrs, got, err, tt.err)
			case tt.err == nil && (err != nil || got != netip.MustParseAddr(tt.want)):
				t.Errorf("pickAddr(%v) = %v, %v; want %s", tt.addrs, got, err, tt.want)
			}
		})
	}
}

// TestLinkLocalTargetWebLogin: a device audited at its link-local address
// (with the zone that makes it dialable) gets its web login tested like
// any other: the zone is escaped in the URL ("%25"), and the connection
// still goes to that address only.
func TestLinkLocalTargetWebLogin(t *testing.T) {
	const addr = "fe80::60%br-lan"
	f := &fakeWeb{user: "admin", password: "admin"}
	d := newMapDialer()
	d.route("["+addr+"]:80", f.start(t))
	a := newAuditor(t, d, nil)
	rep, evs, err := a.Audit(context.Background(), Target{MAC: devMAC, Addrs: []netip.Addr{netip.MustParseAddr(addr)}})
	if err != nil {
		t.Fatal(err)
	}
	found := findKind(evs, event.KindDefaultCredentials)
	if rep.Stop != StopFound || len(found) != 1 || found[0].Evidence["protocol"] != "http" || f.attempts.Load() == 0 {
		t.Errorf("report %+v, findings %v, the server saw %d logins", rep, found, f.attempts.Load())
	}
	for _, dial := range d.dialed() {
		if !strings.HasPrefix(dial, "["+addr+"]:") {
			t.Errorf("dialed %s", dial)
		}
	}
}

// The audit goes to the address the device used last (the inventory keeps
// them oldest first): an older one may belong to another host since.
func TestPickAddrLatest(t *testing.T) {
	a := newAuditor(t, newMapDialer(), nil)
	for _, tc := range []struct {
		addrs []string
		want  string
	}{
		{[]string{"192.168.1.5", "192.168.1.6"}, "192.168.1.6"},
		{[]string{"192.168.1.6", "192.168.1.5"}, "192.168.1.5"},
		{[]string{"fd00::6", "192.168.1.5", "fd00::7"}, "192.168.1.5"}, // IPv4 first
		{[]string{"192.168.1.5", "8.8.8.8"}, "192.168.1.5"},            // the latest LAN one
	} {
		var tg Target
		for _, s := range tc.addrs {
			tg.Addrs = append(tg.Addrs, netip.MustParseAddr(s))
		}
		got, err := a.pickAddr(tg)
		if err != nil || got != netip.MustParseAddr(tc.want) {
			t.Errorf("pickAddr(%v) = %v, %v; want %s", tc.addrs, got, err, tc.want)
		}
	}
}

// TestWebVerdict: after the 401 that asked for a login, what a status
// says of one attempt.
func TestWebVerdict(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		location string
		body     string
		want     outcome
	}{
		{"ok", 200, "", "", outcomeAccepted},
		{"redirect_in", 302, "/index.html", "", outcomeAccepted},
		{"redirect_to_login", 302, "/login.html?err=1", "", outcomeRejected},
		{"unauthorized", 401, "", "", outcomeRejected},
		{"too_many_requests", 429, "", "", outcomeLockout},
		{"forbidden_after_the_challenge", 403, "", "", outcomeLockout},
		{"locked", 423, "", "", outcomeLockout},
		{"lockout_text", 401, "", "Account locked. Try again in 5 minutes", outcomeLockout},
		{"server_error", 500, "", "", outcomeRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webVerdict(tt.status, tt.location, []byte(tt.body)); got != tt.want {
				t.Errorf("webVerdict(%d, %q, %q) = %v, want %v", tt.status, tt.location, tt.body, got, tt.want)
			}
		})
	}
}

// failingDialer fails every connect with err.
type failingDialer struct{ err error }

func (d failingDialer) DialContext(_ context.Context, network, _ string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: network, Err: d.err}
}

// TestPortCheckDeviceGone: connects the kernel could not send (no host
// answered at the address) say the device is not there, not that its
// ports are closed; refusals and timeouts are closed ports.
func TestPortCheckDeviceGone(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"host_unreachable", syscall.EHOSTUNREACH, ErrNotPresent},
		{"link_local_without_zone", syscall.EINVAL, ErrNotPresent},
		{"refused", syscall.ECONNREFUSED, nil},
		{"timed_out", syscall.ETIMEDOUT, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuditor(t, failingDialer{tc.err}, nil)
			rep, evs, err := a.Audit(context.Background(), target())
			if !errors.Is(err, tc.want) || tc.want == nil && err != nil {
				t.Fatalf("Audit: %v, want %v", err, tc.want)
			}
			if tc.want != nil && (len(evs) != 0 || len(rep.OpenPorts) != 0) {
				t.Errorf("a device that is not there got events %v, report %+v", evs, rep)
			}
		})
	}
}

// TestBeginOnlyBeforeLogins: an audit calls Target.Begin once, just before
// its first login, and not when it tries none.
func TestBeginOnlyBeforeLogins(t *testing.T) {
	withTelnet := newMapDialer()
	f := &fakeTelnet{user: "root", password: "xc3511"}
	withTelnet.route(lan("23"), f.start(t))
	for _, tc := range []struct {
		name   string
		dialer Dialer
		begun  int
	}{
		{"logins_tried", withTelnet, 1},
		{"no_login_service", newMapDialer(), 0},
		{"device_gone", failingDialer{syscall.EHOSTUNREACH}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			begun := 0
			tg := target()
			tg.Begin = func() { begun++ }
			newAuditor(t, tc.dialer, nil).Audit(context.Background(), tg)
			if begun != tc.begun {
				t.Errorf("Begin called %d times, want %d", begun, tc.begun)
			}
		})
	}
}

// TestAddressChangesHands: the device's address goes to another host
// after the audit picked it (the kernel resolves it anew at the connect):
// no login reaches that host, nothing is filed about the device (not even
// the refusals of the other host's closed ports, nor the timeouts of
// connects the kernel sent to the device's old MAC before it gave up on
// it), and the audit ends with ErrNotPresent, so it is not counted as
// done.
func TestAddressChangesHands(t *testing.T) {
	nas := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0b}
	for _, tc := range []struct {
		name   string
		dialer func(t *testing.T) (Dialer, *fakeTelnet)
		now    func() (hwaddr.MAC, bool) // the kernel's word after the pick
	}{
		{"telnet_answers", func(t *testing.T) (Dialer, *fakeTelnet) {
			f := &fakeTelnet{user: "admin", password: "admin"}
			d := newMapDialer()
			d.route(lan("23"), f.start(t))
			return d, f
		}, func() (hwaddr.MAC, bool) { return nas, true }},
		{"every_port_refused", func(*testing.T) (Dialer, *fakeTelnet) { return newMapDialer(), nil },
			func() (hwaddr.MAC, bool) { return nas, true }},
		{"every_port_timed_out", func(*testing.T) (Dialer, *fakeTelnet) { return failingDialer{syscall.ETIMEDOUT}, nil },
			func() (hwaddr.MAC, bool) { return hwaddr.MAC{}, false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, f := tc.dialer(t)
			var lookups atomic.Int32
			holder := func(netip.Addr) (hwaddr.MAC, bool) {
				if lookups.Add(1) == 1 {
					return devMAC, true // when the audit picks the address
				}
				return tc.now()
			}
			a := newAuditor(t, d, func(o *Options) { o.HolderOf = holder })
			rep, evs, err := a.Audit(context.Background(), target())
			if !errors.Is(err, ErrNotPresent) {
				t.Fatalf("Audit: %v, want ErrNotPresent", err)
			}
			if len(evs) != 0 || rep.Attempts != 0 || len(rep.OpenPorts) != 0 {
				t.Errorf("report %+v, events %v: something filed about the device", rep, evs)
			}
			if f != nil && f.attempts.Load() != 0 {
				t.Errorf("%d logins reached the host that took the address", f.attempts.Load())
			}
			// One connect after the pick, and one lookup at it.
			if n, want := lookups.Load(), int32(2); n != want {
				t.Errorf("%d lookups, want %d: more than one connect after the address changed hands", n, want)
			}
		})
	}
}

// TestEmptyPortListIsTheDefault: "ports = []" in the configuration names
// no port, which means the default list, not a check of none.
func TestEmptyPortListIsTheDefault(t *testing.T) {
	a := newAuditor(t, newMapDialer(), func(o *Options) { o.Ports = []uint16{} })
	if !slices.Equal(a.opts.Ports, DefaultPorts()) {
		t.Fatalf("ports %v, want the default list", a.opts.Ports)
	}
}

// TestRTSPDigestNonce: the Digest answer goes on the connection whose
// DESCRIBE got the challenge, as live555 (which keeps the nonce per
// connection) needs; a server that closes after every response gets the
// answer on a new connection. Each candidate costs the device one answer,
// and none carries a nonce its connection was not given.
func TestRTSPDigestNonce(t *testing.T) {
	tests := []struct {
		name      string
		closeEach bool
		password  string
		wantStop  Stop
	}{
		{"live555_default", false, "admin", StopFound},
		{"live555_unique", false, "unique-pw-81", StopCap},
		{"closes_after_each_response_default", true, "admin", StopFound},
		{"closes_after_each_response_unique", true, "unique-pw-81", StopCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRTSP{user: "admin", password: tt.password, closeEach: tt.closeEach}
			d := newMapDialer()
			d.route(lan("554"), f.start(t))
			a := newAuditor(t, d, nil)
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stop != tt.wantStop {
				t.Fatalf("stop %s, want %s (report %+v, events %v)", rep.Stop, tt.wantStop, rep, evs)
			}
			if n := f.attempts.Load(); int(n) != rep.Attempts {
				t.Errorf("the device saw %d answers, the report says %d attempts", n, rep.Attempts)
			}
			if n := f.wrongNonce.Load(); n != 0 {
				t.Errorf("%d answers carried a nonce their connection was not given", n)
			}
			if tt.wantStop == StopFound {
				found := findKind(evs, event.KindDefaultCredentials)
				if len(found) != 1 || found[0].Evidence["protocol"] != "rtsp" || found[0].Evidence["mechanism"] != "Digest" {
					t.Errorf("findings %v", found)
				}
			}
		})
	}
}

// multiLine is an FTP multi-line reply of n lines with code.
func multiLine(code string, n int, last string) string {
	var b strings.Builder
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "%s-line %d of the site's notice\r\n", code, i)
	}
	return b.String() + code + " " + last + "\r\n"
}

// TestFTPLongReplies: a reply that does not end within the lines the
// audit reads leaves the service untested: its rest would be read as the
// answer to USER, PASS would never be sent and each candidate would count
// as a rejected login. A long reply to PASS still gives its verdict.
func TestFTPLongReplies(t *testing.T) {
	tests := []struct {
		name              string
		password          string
		greeting, welcome string
		wantStop          Stop
		wantResult        string // of the default_login observation; "" for a finding
	}{
		{"greeting_within_the_cap", "admin", multiLine("220", maxReplyLines, "ready"), "", StopFound, ""},
		{"greeting_over_the_cap", "admin", multiLine("220", maxReplyLines+9, "ready"), "", StopExhausted, "untested"},
		// The end of an overlong line must not pass for the USER reply
		// (here a 230, "logged in without a password").
		{"greeting_line_over_the_cap", "unique-pw-82", "220 " + strings.Repeat("x", maxReplyLine-4) + "230 ready\r\n", "", StopExhausted, "untested"},
		{"long_welcome_after_login", "admin", "", multiLine("230", maxReplyLines+9, "Login successful."), StopFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFTP{user: "admin", password: tt.password, greeting: tt.greeting, welcome: tt.welcome}
			d := newMapDialer()
			d.route(lan("21"), f.start(t))
			a := newAuditor(t, d, nil)
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stop != tt.wantStop || int(f.attempts.Load()) != rep.Attempts {
				t.Fatalf("stop %s, %d attempts, the device got %d passwords; want %s", rep.Stop, rep.Attempts, f.attempts.Load(), tt.wantStop)
			}
			found := findKind(evs, event.KindDefaultCredentials)
			obs := auditCheck(evs, "default_login")
			if tt.wantResult == "" {
				if len(found) != 1 || found[0].Evidence["protocol"] != "ftp" {
					t.Errorf("findings %v", found)
				}
				return
			}
			if len(found) != 0 || obs == nil || obs.Evidence["result"] != tt.wantResult || obs.Evidence["untested"] != "ftp:21" {
				t.Errorf("findings %v, observation %+v; want result %s", found, obs, tt.wantResult)
			}
		})
	}
}

// TestFTPUserReplyVerdicts: only 230 (in without a password), 530 (user
// refused) and lockout replies to USER decide a login by themselves. Any
// other reply (a command the server did not understand, the second of two
// greetings read as the answer) sent no password: counting it as a
// rejected login would pass the service after the whole list without one
// password having reached it.
func TestFTPUserReplyVerdicts(t *testing.T) {
	list := fixedList{{User: "admin", Password: "admin"}, {User: "root", Password: "12345"}}
	tests := []struct {
		name         string
		greeting     string
		userReply    string
		wantStop     Stop
		wantAttempts int
		wantResult   string // of the default_login observation; "" for a finding
	}{
		{"second_greeting_is_no_answer", "220 Welcome\r\n220 Ready\r\n", "", StopExhausted, 0, "untested"},
		{"user_not_understood", "", "500 Unknown command.\r\n", StopExhausted, 0, "untested"},
		{"user_syntax_error", "", "501 Syntax error in parameters.\r\n", StopExhausted, 0, "untested"},
		{"user_refused", "", "530 Permission denied.\r\n", StopExhausted, 2, "none_found"},
		{"user_alone_logs_in", "", "230 Login successful.\r\n", StopFound, 2, ""},
		{"user_locked_out", "", "421 Too many failed logins.\r\n", StopLockout, 1, "stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFTP{user: "nobody", password: "unique-pw-31", greeting: tt.greeting, userReply: tt.userReply}
			d := newMapDialer()
			d.route(lan("21"), f.start(t))
			a := newAuditor(t, d, func(o *Options) { o.Candidates = list })
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stop != tt.wantStop || rep.Attempts != tt.wantAttempts {
				t.Fatalf("stop %s after %d attempts, want %s after %d", rep.Stop, rep.Attempts, tt.wantStop, tt.wantAttempts)
			}
			found := findKind(evs, event.KindDefaultCredentials)
			if tt.wantResult == "" {
				if len(found) != 1 || found[0].Evidence["protocol"] != "ftp" {
					t.Errorf("findings %v", found)
				}
				return
			}
			obs := auditCheck(evs, "default_login")
			if len(found) != 0 || obs == nil || obs.Evidence["result"] != tt.wantResult {
				t.Errorf("findings %v, observation %+v; want result %s", found, obs, tt.wantResult)
			}
		})
	}
}

// TestSSHWithoutAuthentication: an SSH server that lets anyone in without
// authentication is a finding of class none (no login), naming no
// password: x/crypto/ssh asks for "none" before the password, so the
// first default tried would otherwise seem accepted. The handshake that
// finds it sends no password to a server that does check them.
func TestSSHWithoutAuthentication(t *testing.T) {
	tests := []struct {
		name      string
		fake      *fakeSSH
		wantStop  Stop
		wantClass string // of the finding; "" for none
	}{
		{"no_authentication", &fakeSSH{noAuth: true}, StopFound, "none"},
		{"default_password", &fakeSSH{user: "root", password: "xc3511"}, StopFound, "default"},
		{"unique_password", &fakeSSH{user: "root", password: "unique-pw-83"}, StopCap, ""},
		{"unique_keyboard_interactive", &fakeSSH{user: "root", password: "unique-pw-83", interactive: true}, StopCap, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newMapDialer()
			d.route(lan("22"), tt.fake.start(t))
			a := newAuditor(t, d, nil)
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stop != tt.wantStop || int(tt.fake.attempts.Load()) != rep.Attempts {
				t.Fatalf("stop %s, %d attempts, the device got %d passwords; want %s", rep.Stop, rep.Attempts, tt.fake.attempts.Load(), tt.wantStop)
			}
			found := findKind(evs, event.KindDefaultCredentials)
			if tt.wantClass == "" {
				if len(found) != 0 {
					t.Errorf("findings %v", found)
				}
				return
			}
			if len(found) != 1 {
				t.Fatalf("%d findings, want 1", len(found))
			}
			e := found[0].Evidence
			if e["password_class"] != tt.wantClass || e["protocol"] != "ssh" || e["verified"] != "yes" || e["accepted"] != "yes" {
				t.Errorf("evidence %v", e)
			}
			if tt.wantClass == "none" {
				if e["mechanism"] != "no login" || e["user"] != "" || e["password"] != "" || e["default_source"] != "" || rep.Attempts != 0 {
					t.Errorf("no-login finding names a login: evidence %v, %d attempts", e, rep.Attempts)
				}
			}
		})
	}
}

// TestAcceptsAnyPassword: after an accepted login, one more attempt with a
// random password tells a service that takes any password (a finding of
// class none that names no default) from one that has the default; the
// check counts as an attempt and is not made when the cap leaves no room.
func TestAcceptsAnyPassword(t *testing.T) {
	type fake struct {
		port  string
		start func(t *testing.T) (addr string, logins func() int32)
	}
	protocols := map[string]func(any bool) fake{
		"telnet": func(any bool) fake {
			return fake{"23", func(t *testing.T) (string, func() int32) {
				f := &fakeTelnet{user: "root", password: "xc3511", anyPassword: any}
				return f.start(t), f.attempts.Load
			}}
		},
		"ssh": func(any bool) fake {
			return fake{"22", func(t *testing.T) (string, func() int32) {
				f := &fakeSSH{user: "root", password: "xc3511", anyPassword: any}
				return f.start(t), f.attempts.Load
			}}
		},
		"http": func(any bool) fake {
			return fake{"80", func(t *testing.T) (string, func() int32) {
				f := &fakeWeb{user: "root", password: "xc3511", digest: true, anyPassword: any}
				return f.start(t), f.attempts.Load
			}}
		},
		"rtsp": func(any bool) fake {
			return fake{"554", func(t *testing.T) (string, func() int32) {
				f := &fakeRTSP{user: "root", password: "xc3511", anyPassword: any}
				return f.start(t), f.attempts.Load
			}}
		},
		"ftp": func(any bool) fake {
			return fake{"21", func(t *testing.T) (string, func() int32) {
				f := &fakeFTP{user: "root", password: "xc3511", anyPassword: any}
				return f.start(t), f.attempts.Load
			}}
		},
	}
	tests := []struct {
		name         string
		any          bool
		maxAttempts  int
		wantAny      string // evidence any_password
		wantClass    string
		wantAttempts int
	}{
		{"any_password", true, 0, "yes", "none", 2},
		{"default_only", false, 0, "no", "default", 2},
		{"no_room_under_the_cap", true, 1, "untested", "default", 1},
	}
	for _, proto := range []string{"telnet", "ssh", "http", "rtsp", "ftp"} {
		for _, tt := range tests {
			t.Run(proto+"_"+tt.name, func(t *testing.T) {
				f := protocols[proto](tt.any)
				d := newMapDialer()
				addr, logins := f.start(t)
				d.route(lan(f.port), addr)
				a := newAuditor(t, d, func(o *Options) {
					o.Candidates = fixedList{{User: "root", Password: "xc3511", Source: "Mirai", Vendor: "Xiongmai"}}
					o.MaxAttempts = tt.maxAttempts
				})
				rep, evs, err := a.Audit(context.Background(), target())
				if err != nil {
					t.Fatal(err)
				}
				if rep.Stop != StopFound || rep.Attempts != tt.wantAttempts || int(logins()) != rep.Attempts {
					t.Fatalf("stop %s, %d attempts, the device saw %d; want found after %d", rep.Stop, rep.Attempts, logins(), tt.wantAttempts)
				}
				found := findKind(evs, event.KindDefaultCredentials)
				if len(found) != 1 {
					t.Fatalf("%d findings, want 1", len(found))
				}
				e := found[0].Evidence
				if e["any_password"] != tt.wantAny || e["password_class"] != tt.wantClass || e["protocol"] != proto ||
					e["accepted"] != "yes" || e["verified"] != "yes" || e["user"] != "r***" {
					t.Errorf("evidence %v", e)
				}
				if tt.wantAny == "yes" {
					if e["password"] != "" || e["default_source"] != "" || e["default_vendor"] != "" || !strings.Contains(found[0].Summary, "any password") {
						t.Errorf("a service taking any password names a default: %s %v", found[0].Summary, e)
					}
				} else if e["password"] != "xc***" || e["default_source"] != "Mirai" {
					t.Errorf("evidence %v", e)
				}
			})
		}
	}
}

// TestLoginAuditCompleteness: the default-login test files none_found,
// the result the scorecard passes 5.1-1 on, only when it tried the whole
// list on every open login service; a test stopped at its attempt cap,
// or one that left an open login service untested (a web page without a
// Basic or Digest challenge, whose form the audit does not fill in, a
// second telnet port), is incomplete and names what it did not try.
func TestLoginAuditCompleteness(t *testing.T) {
	two := fixedList{{User: "admin", Password: "admin"}, {User: "root", Password: "12345"}}
	tests := []struct {
		name         string
		max          int
		routes       func(t *testing.T, d *mapDialer)
		wantStop     Stop
		wantResult   string
		wantUntested string
		wantSummary  string
	}{
		{"cap_before_the_list_ends", 1, func(t *testing.T, d *mapDialer) {
			d.route(lan("23"), (&fakeTelnet{user: "root", password: "unique-pw-1"}).start(t))
		}, StopCap, "incomplete", "", "tried telnet:23 1 of 2"},
		{"whole_list_tried", 10, func(t *testing.T, d *mapDialer) {
			d.route(lan("23"), (&fakeTelnet{user: "root", password: "unique-pw-1"}).start(t))
		}, StopExhausted, "none_found", "", "the whole list on telnet:23"},
		{"web_page_without_a_challenge", 10, func(t *testing.T, d *mapDialer) {
			d.route(lan("23"), (&fakeTelnet{user: "root", password: "unique-pw-1"}).start(t))
			ln := serve(t, func(c net.Conn) {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
			})
			d.route(lan("80"), ln.Addr().String())
		}, StopExhausted, "incomplete", "http:80", "not tested: http:80"},
		{"second_telnet_port", 10, func(t *testing.T, d *mapDialer) {
			d.route(lan("23"), (&fakeTelnet{user: "root", password: "unique-pw-1"}).start(t))
			d.route(lan("2323"), (&fakeTelnet{user: "root", password: "unique-pw-2"}).start(t))
		}, StopExhausted, "incomplete", "telnet:2323", "not tested: telnet:2323"},
		{"only_a_web_page_without_a_challenge", 10, func(t *testing.T, d *mapDialer) {
			ln := serve(t, func(c net.Conn) {
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
			})
			d.route(lan("8080"), ln.Addr().String())
		}, StopNoService, "untested", "http:8080", "not tested: http:8080"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newMapDialer()
			tc.routes(t, d)
			a := newAuditor(t, d, func(o *Options) { o.MaxAttempts = tc.max; o.Candidates = two })
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			obs := auditCheck(evs, "default_login")
			if rep.Stop != tc.wantStop || obs == nil {
				t.Fatalf("stop %q, want %q; observation %+v", rep.Stop, tc.wantStop, obs)
			}
			if obs.Evidence["result"] != tc.wantResult || obs.Evidence["untested"] != tc.wantUntested || !strings.Contains(obs.Summary, tc.wantSummary) {
				t.Errorf("result %q untested %q summary %q; want %q, %q, %q",
					obs.Evidence["result"], obs.Evidence["untested"], obs.Summary, tc.wantResult, tc.wantUntested, tc.wantSummary)
			}
		})
	}
}

// TestBannersScrubbed: a greeting is free text the device's owner may
// have written (a contact address, a phone number, a key): the banner
// filed keeps the software and its version and hides the rest, as the
// passive analyzers' banners do.
func TestBannersScrubbed(t *testing.T) {
	tests := []struct {
		name, port, greeting string
		want                 string
		hidden               []string
	}{
		{"ftp_contact", "21", "220 NAS of jane.doe@example.com (vsFTPd 3.0.3)\r\n",
			"220 NAS of *** (vsFTPd 3.0.3)", []string{"jane.doe", "example.com"}},
		{"ssh_phone", "22", "SSH-2.0-dropbear_2019.78 call +49 171 5551234\r\n",
			"SSH-2.0-dropbear_2019.78 call ***", []string{"5551234"}},
		{"telnet_key", "23", "\xff\xfb\x01Camera 4711 wifi_key=hunter2hunter2 BusyBox v1.19.4\r\nlogin: ",
			"Camera 4711 wifi_key=*** BusyBox v1.19.4", []string{"hunter2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln := serve(t, func(c net.Conn) {
				io.WriteString(c, tc.greeting)
				io.Copy(io.Discard, c) // until the audit hangs up
			})
			d := newMapDialer()
			d.route(lan(tc.port), ln.Addr().String())
			a := newAuditor(t, d, func(o *Options) {
				o.Ports = []uint16{21, 22, 23}
				o.Candidates = fixedList{{User: "admin", Password: "admin"}}
				o.BannerTimeout = time.Second
				o.ResponseTimeout = 200 * time.Millisecond
			})
			_, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			banners := findKind(evs, event.KindBanner)
			if len(banners) != 1 {
				t.Fatalf("%d banners, want 1: %+v", len(banners), banners)
			}
			if got := banners[0].Evidence["banner"]; got != tc.want {
				t.Errorf("banner %q, want %q", got, tc.want)
			}
			noSecret(t, evs, tc.hidden...)
		})
	}
}

// TestLockedBeforeLogins: a device whose web or RTSP server says, before
// any login, that it is refusing the router (429, or a 401 page saying
// the account is locked) gets no login on any of its services: a lock
// set off by someone else, or by the last audit, is not to be extended,
// and the audit stops as on a lockout (held for a day by the scheduler).
func TestLockedBeforeLogins(t *testing.T) {
	web := func(status int, body string) func(t *testing.T, d *mapDialer) {
		return func(t *testing.T, d *mapDialer) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("WWW-Authenticate", `Basic realm="IP Camera"`)
				http.Error(w, body, status)
			}))
			t.Cleanup(srv.Close)
			d.route(lan("80"), srv.Listener.Addr().String())
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, d *mapDialer)
	}{
		{"http_429", web(http.StatusTooManyRequests, "slow down")},
		{"http_423", web(http.StatusLocked, "locked")},
		{"http_401_account_locked", web(http.StatusUnauthorized, "Account locked: too many failed logins. Try again later.")},
		{"rtsp_429", func(t *testing.T, d *mapDialer) {
			ln := serve(t, func(c net.Conn) {
				tp := textproto.NewReader(bufio.NewReader(c))
				if _, err := tp.ReadLine(); err != nil {
					return
				}
				h, err := tp.ReadMIMEHeader()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "RTSP/1.0 429 Too Many Requests\r\nCSeq: %s\r\n\r\n", h.Get("CSeq"))
			})
			d.route(lan("554"), ln.Addr().String())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newMapDialer()
			tn := &fakeTelnet{user: "root", password: "unique-pw-77"}
			d.route(lan("23"), tn.start(t))
			tc.setup(t, d)
			a := newAuditor(t, d, nil)
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Stop != StopLockout || rep.Attempts != 0 {
				t.Errorf("stop %q after %d attempts, want lockout before any", rep.Stop, rep.Attempts)
			}
			if n := tn.attempts.Load(); n != 0 {
				t.Errorf("telnet saw %d logins, want none", n)
			}
			obs := auditCheck(evs, "default_login")
			if obs == nil || obs.Evidence["result"] != "stopped" || obs.Evidence["stop"] != "lockout" {
				t.Errorf("observation %+v", obs)
			}
		})
	}
}

// TestAnyPasswordCheckLockout: a device that answers the check with a
// random password with a lockout sign has not refused that password:
// any_password is untested, not no. It did show the sign: the scheduler
// holds it from the owner's next request for LockoutHold, as after any
// lockout sign.
func TestAnyPasswordCheckLockout(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"http_429", http.StatusTooManyRequests, "slow down"},
		{"http_401_locked", http.StatusUnauthorized, "Too many failed logins, try again later"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var accepted atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				user, pass, ok := r.BasicAuth()
				switch {
				case accepted.Load():
					w.Header().Set("WWW-Authenticate", `Basic realm="cam"`)
					http.Error(w, tc.body, tc.status)
				case ok && user == "root" && pass == "xc3511":
					accepted.Store(true)
					fmt.Fprintln(w, "<html>camera</html>")
				default:
					w.Header().Set("WWW-Authenticate", `Basic realm="cam"`)
					http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
				}
			}))
			t.Cleanup(srv.Close)
			d := newMapDialer()
			d.route(lan("80"), srv.Listener.Addr().String())
			a := newAuditor(t, d, func(o *Options) {
				o.Candidates = fixedList{{User: "root", Password: "xc3511", Source: "Mirai"}}
			})
			clk := testclock.New(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
			reports := make(chan Report, 1)
			sink := &sliceSink{}
			s := runScheduler(t.Context(), t, a, sink, SchedulerOptions{Now: clk.Now, Logger: quietLogger(),
				Done: func(_ Target, rep Report, _ error) { reports <- rep }})
			if err := s.Request(target()); err != nil {
				t.Fatal(err)
			}
			rep := <-reports
			sink.mu.Lock()
			found := findKind(sink.evs, event.KindDefaultCredentials)
			sink.mu.Unlock()
			if rep.Stop != StopFound || len(found) != 1 {
				t.Fatalf("stop %s, %d findings; want found, 1", rep.Stop, len(found))
			}
			if e := found[0].Evidence; e["any_password"] != "untested" || e["password_class"] != "default" {
				t.Errorf("evidence %v, want any_password untested", e)
			}
			clk.Advance(MinRequestGap)
			if err := s.Request(target()); !errors.Is(err, ErrTooSoon) {
				t.Errorf("a request past the gap after the lockout sign: %v, want ErrTooSoon", err)
			}
			clk.Advance(LockoutHold)
			if err := s.Request(target()); err != nil {
				t.Errorf("a request after the hold: %v", err)
			}
		})
	}
}
