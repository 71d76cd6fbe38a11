package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/daemon"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
	"github.com/miekg/dns"
)

// TestNeedRestart: a reload names the sections it did not apply, and only
// those.
func TestNeedRestart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"policy", func(c *config.Config) { c.Policy.Mode = "enforce" }, nil},
		{"management addresses", func(c *config.Config) {
			c.Daemon.ManagementAddresses = []netip.Addr{netip.MustParseAddr("192.168.1.50")}
		}, nil},
		{"feed file", func(c *config.Config) { c.Advisory.FeedFile = "/etc/iotgw/feed.json" }, nil},
		{"audit", func(c *config.Config) { c.Audit.Enabled, c.Audit.MaxAttempts = true, 3 }, nil},
		{"web and dns proxy", func(c *config.Config) { c.Web.Port++; c.DNSProxy.Port++ }, []string{"dnsproxy.port", "web.port"}},
		{"isolate_lan, router addresses, LAN prefixes, secret file", func(c *config.Config) {
			c.Quarantine.IsolateLAN = !c.Quarantine.IsolateLAN
			c.Daemon.RouterAddresses = []netip.Addr{netip.MustParseAddr("192.168.1.1")}
			c.LAN.Prefixes = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			c.Inspect.SecretFile = "/etc/iotgw/secret"
		}, []string{"lan.prefixes", "inspect.secret_file", "daemon.router_addresses", "quarantine.isolate_lan"}},
		{"dns proxy domains and upstream", func(c *config.Config) {
			c.DNSProxy.UpdateDomains, c.DNSProxy.LocalDomains = []string{"vendor.test"}, []string{"home.arpa"}
			c.DNSProxy.Upstream = netip.MustParseAddrPort("127.0.0.1:5353")
		}, nil},
		{"an alert channel", func(c *config.Config) {
			c.Alert.Channels = []alert.ChannelConfig{{Type: alert.TypeNtfy, Name: "phone", Topic: "x"}}
		}, nil},
		{"log level", func(c *config.Config) { c.Daemon.LogLevel = "debug" }, []string{"daemon.log_level"}},
	} {
		running, next := config.Default(), config.Default()
		tc.change(next)
		if got := needRestart(running, next); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNeedRestartRepeats: a file that names an interface twice loads
// with it once, and a reload compares what loaded: the same list written
// once or twice needs no restart.
func TestNeedRestartRepeats(t *testing.T) {
	for _, tc := range []struct {
		name, running, next string
		want                []string
	}{
		{"capture_twice_then_once", "[capture]\ninterfaces = [\"br-lan\", \"br-lan\"]\n", "", nil},
		{"lan_once_then_twice", "", "[lan]\ninterfaces = [\"br-lan\", \"br-lan\"]\n", nil},
		{"capture_twice_then_another", "[capture]\ninterfaces = [\"br-lan\", \"br-lan\"]\n", "[capture]\ninterfaces = [\"br-guest\"]\n", []string{"capture.interfaces"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			running, err := config.Parse("running.toml", []byte(tc.running))
			if err != nil {
				t.Fatal(err)
			}
			next, err := config.Parse("next.toml", []byte(tc.next))
			if err != nil {
				t.Fatal(err)
			}
			if got := needRestart(running, next); !slices.Equal(got, tc.want) {
				t.Errorf("%v, want %v", got, tc.want)
			}
		})
	}
}

// reloadHarness is a daemon with fakes for the kernel parts, the active
// audit run by runners the test makes, and the reloader the daemon's
// SIGHUP uses.
type reloadHarness struct {
	d      *daemon.Daemon
	audits *auditControl
	alerts alertSettings
	r      *reloader
	st     *store.Store
	// made are the audit sections a runner was built for.
	made chan config.Audit
	// audits are the contexts of the audits begun, in order.
	begun chan context.Context
}

func newReloadHarness(t *testing.T, cfg *config.Config) *reloadHarness {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fake, err := quarantine.NewFake(quarantine.Config{NoticePort: 8081})
	if err != nil {
		t.Fatal(err)
	}
	st := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "state.json"), Logger: log})
	dispatcher, err := alert.New(cfg.Alert, alert.Options{Outbox: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, daemon.Options{}, daemon.Deps{Enforcer: fake, Store: st, Logger: log, Alerts: dispatcher,
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	h := &reloadHarness{d: d, st: st, alerts: newAlertSettings(dispatcher, st), made: make(chan config.Audit, 8), begun: make(chan context.Context, 8)}
	h.audits, _, err = newAuditControl(cfg, d, log, func(a config.Audit) (audit.Runner, error) {
		h.made <- a
		return blockedRunner{begun: h.begun}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.audits.set(cfg.Audit); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.audits.sched.Run(ctx) })
	wg.Go(func() { _ = dispatcher.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	h.r = &reloader{running: cfg, path: "iotgw.toml", d: d, audits: h.audits, alerts: h.alerts, log: log}
	return h
}

// blockedRunner is an audit that tries no login and lasts until its
// context ends.
type blockedRunner struct{ begun chan<- context.Context }

func (b blockedRunner) Audit(ctx context.Context, _ audit.Target) (audit.Report, []*event.Event, error) {
	b.begun <- ctx
	<-ctx.Done()
	return audit.Report{}, nil, ctx.Err()
}

var reloadCamera = hwaddr.MAC{0x02, 0, 0, 0, 0, 0x20}

// addCamera makes the daemon know a device at 192.168.1.20.
func (h *reloadHarness) addCamera() {
	h.d.Record(&event.Event{V: event.SchemaVersion, Time: time.Now(), Type: event.TypeObservation, Kind: event.KindBanner,
		Device:  event.Endpoint{MAC: reloadCamera.String(), IP: "192.168.1.20", Local: true},
		Summary: "banner", Evidence: event.Evidence{"banner": "camera"}})
}

// TestReloadSwitchesTheAudit: audit.enabled = false on reload cancels the
// audit running, stops the scheduler and refuses the owner's request
// with a conflict; enabled again, it runs with the new options.
func TestReloadSwitchesTheAudit(t *testing.T) {
	cfg := config.Default()
	cfg.Audit.Enabled, cfg.Audit.NewDevices = true, true
	h := newReloadHarness(t, cfg)
	testenv.Receive(t, h.made, "auditor at start")
	h.addCamera()
	ctx := context.Background()
	if err := h.d.Audit(ctx, reloadCamera); err != nil {
		t.Fatalf("audit while on: %v", err)
	}
	running := testenv.Receive(t, h.begun, "audit begun")

	off := *cfg
	off.Audit.Enabled = false
	if err := h.r.apply(&off); err != nil {
		t.Fatal(err)
	}
	select {
	case <-running.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the running audit's context is not cancelled after the reload switched the audit off")
	}
	err := h.d.Audit(ctx, reloadCamera)
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "enabled = false") {
		t.Errorf("audit request while off: %v, want a conflict naming enabled = false", err)
	}
	if h.audits.sched.Consider(audit.Target{MAC: reloadCamera, Addrs: []netip.Addr{netip.MustParseAddr("192.168.1.20")}}) {
		t.Error("the scheduler still takes new devices after the audit was switched off")
	}
	select {
	case <-h.begun:
		t.Fatal("an audit began after the audit was switched off")
	case <-time.After(100 * time.Millisecond):
	}

	on := *cfg
	on.Audit.MaxAttempts, on.Audit.Ports = 3, []int{23}
	if err := h.r.apply(&on); err != nil {
		t.Fatal(err)
	}
	if a := testenv.Receive(t, h.made, "auditor after the reload"); a.MaxAttempts != 3 || !slices.Equal(a.Ports, []int{23}) {
		t.Errorf("auditor built with %+v, want max_attempts 3 and ports [23]", a)
	}
	if err := h.d.Audit(ctx, reloadCamera); err != nil {
		t.Fatalf("audit after switching it on again: %v", err)
	}
	running = testenv.Receive(t, h.begun, "audit begun after switching it on again")

	// Another option change cancels the running audit, which tried no
	// login and so runs again with the new auditor.
	slower := on
	slower.Audit.AttemptDelay.Duration = 5 * time.Second
	if err := h.r.apply(&slower); err != nil {
		t.Fatal(err)
	}
	testenv.Receive(t, running.Done(), "cancel of the audit under the old options")
	if a := testenv.Receive(t, h.made, "auditor after the second reload"); a.AttemptDelay.Duration != 5*time.Second {
		t.Errorf("auditor built with %+v, want attempt_delay 5s", a)
	}
	testenv.Receive(t, h.begun, "the cut audit run again")

	// A reload that leaves the section alone leaves the audit running.
	same := slower
	same.Policy.Mode = "enforce"
	if err := h.r.apply(&same); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-h.made:
		t.Errorf("an unchanged [audit] built a new auditor: %+v", a)
	case <-time.After(100 * time.Millisecond):
	}
}

// hookServer is a webhook receiver on loopback; got has the title of
// each alert it received.
type hookServer struct {
	*httptest.Server
	got chan string
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{got: make(chan string, 16)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Title string `json:"title"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		h.got <- body.Title
	}))
	t.Cleanup(h.Close)
	return h
}

func webhook(name, url string) alert.ChannelConfig {
	return alert.ChannelConfig{Type: alert.TypeWebhook, Name: name, URL: url, Secret: "0123456789abcdef-test", Rate: "off"}
}

// TestReloadAlertChannels: a reload rebuilds the alert channels at once:
// one taken out and the old address of one moved receive nothing more, a
// new one and the moved one's new address receive, and the owner's switch
// of a channel still there holds.
func TestReloadAlertChannels(t *testing.T) {
	gone, kept, movedFrom, movedTo, added := newHookServer(t), newHookServer(t), newHookServer(t), newHookServer(t), newHookServer(t)
	cfg := config.Default()
	cfg.Alert.Channels = []alert.ChannelConfig{webhook("gone", gone.URL), webhook("kept", kept.URL), webhook("moved", movedFrom.URL)}
	h := newReloadHarness(t, cfg)
	if err := h.alerts.SetEnabled("kept", false); err != nil {
		t.Fatal(err)
	}
	notify := func(title string) {
		h.alerts.d.Notify(alert.Alert{Kind: alert.KindNewDevice, Severity: event.SeverityHigh, Title: title, Body: title})
	}
	notify("before")
	testenv.Receive(t, gone.got, "alert at the channel to be taken out")
	testenv.Receive(t, movedFrom.got, "alert at the moved channel's old address")
	// Settled too: a send cut by the reload would go to the new address.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		sent := 0
		for _, st := range h.alerts.d.Status() {
			sent += int(st.Sent)
		}
		if sent == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d alerts before the reload, want 2", sent)
		}
	}

	next := *cfg
	next.Alert.Channels = []alert.ChannelConfig{webhook("kept", kept.URL), webhook("moved", movedTo.URL), webhook("added", added.URL)}
	if err := h.r.apply(&next); err != nil {
		t.Fatal(err)
	}
	notify("after")
	if got := testenv.Receive(t, movedTo.got, "alert at the moved channel's new address"); got != "after" {
		t.Errorf("moved channel got %q", got)
	}
	if got := testenv.Receive(t, added.got, "alert at the added channel"); got != "after" {
		t.Errorf("added channel got %q", got)
	}
	select {
	case got := <-gone.got:
		t.Errorf("the channel taken out received %q after the reload", got)
	case got := <-movedFrom.got:
		t.Errorf("the moved channel's old address received %q after the reload", got)
	case got := <-kept.got:
		t.Errorf("the channel the owner switched off received %q", got)
	case <-time.After(200 * time.Millisecond):
	}
	on := map[string]bool{}
	for _, c := range h.alerts.Channels() {
		on[c.Name] = c.Enabled
	}
	if want := map[string]bool{"kept": false, "moved": true, "added": true}; !maps.Equal(on, want) {
		t.Errorf("channels after the reload: %v, want %v", on, want)
	}
}

// allowRecorder is the quarantine's allow set: what the DNS proxy let
// quarantined devices reach.
type allowRecorder struct {
	mu    sync.Mutex
	addrs []netip.Addr
}

func (a *allowRecorder) SetAllowed(_ context.Context, addrs []netip.Addr, _ time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addrs = append(a.addrs, addrs...)
	return nil
}

func (a *allowRecorder) has(addr netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Contains(a.addrs, addr)
}

// TestReloadUpdateDomains: a reload's dnsproxy.update_domains are what
// the proxy serving lets quarantined devices resolve and reach from the
// next query, and what a proxy started anew (the router's addresses
// changed) is built with.
func TestReloadUpdateDomains(t *testing.T) {
	// The router's resolver, on loopback.
	fw := netip.MustParseAddr("203.0.113.7")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resolver := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		if q := r.Question[0]; q.Qtype == dns.TypeA && q.Name == "fw.vendor.test." {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: fw.AsSlice()}}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = resolver.ActivateAndServe() }()
	t.Cleanup(func() { _ = resolver.Shutdown() })

	cfg := config.Default()
	cfg.DNSProxy.Upstream = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	cfg.DNSProxy.UpdateDomains = nil
	h := newReloadHarness(t, cfg)
	h.r.dns = newProxyRules(cfg)
	allow := &allowRecorder{}
	serve := func() netip.AddrPort {
		t.Helper()
		p, err := h.r.dns.build(proxyConfigFor([]netip.Addr{netip.MustParseAddr("127.0.0.1")}),
			dnsproxy.Deps{Quarantine: &dnsproxy.AddrSet{}, Allow: allow, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		up := make(chan struct{})
		go func() { defer close(done); _ = p.Serve(ctx, func() { close(up) }) }()
		t.Cleanup(func() { cancel(); <-done })
		testenv.Receive(t, up, "DNS proxy up")
		return p.Addrs()[0]
	}
	resolve := func(at netip.AddrPort) netip.Addr {
		t.Helper()
		r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(new(dns.Msg).SetQuestion("fw.vendor.test.", dns.TypeA), at.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got, _ := netip.AddrFromSlice(a.A)
				return got.Unmap()
			}
		}
		return netip.Addr{}
	}
	first := serve()
	if got := resolve(first); got == fw || allow.has(fw) {
		t.Fatalf("before the reload: answered %s, allowed %v; want the notice page, nothing allowed", got, allow.has(fw))
	}
	next := *cfg
	next.DNSProxy.UpdateDomains = []string{"vendor.test"}
	next.Policy.QuarantineMode = "updates-only"
	if err := h.r.apply(&next); err != nil {
		t.Fatal(err)
	}
	if got := resolve(first); got != fw || !allow.has(fw) {
		t.Errorf("after the reload: answered %s, allowed %v; want the update server, allowed", got, allow.has(fw))
	}
	if got := resolve(serve()); got != fw {
		t.Errorf("a proxy started anew after the reload answered %s, want the update server", got)
	}
}

// TestReloadRestartProblem: a reload that changes a setting it cannot
// apply raises the problem "restart" naming it, shown in the status; a
// later reload that puts it back clears it; a daemon started with the
// setting (restarted) has no such problem.
func TestReloadRestartProblem(t *testing.T) {
	start := config.Default()
	h := newReloadHarness(t, start)
	problems := func() []string {
		var out []string
		for _, p := range h.d.Status().Problems {
			if strings.HasPrefix(p, alert.AreaRestart+":") {
				out = append(out, p)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		want   []string // named in the problem; none: no problem
	}{
		{"isolate_lan and the web page", func(c *config.Config) {
			c.Quarantine.IsolateLAN = !c.Quarantine.IsolateLAN
			c.Web.Enabled = !c.Web.Enabled
		}, []string{"quarantine.isolate_lan", "web.enabled", "service iotgw restart"}},
		{"policy only", func(c *config.Config) { c.Policy.Mode = "enforce" }, nil},
		{"capture and LAN", func(c *config.Config) {
			c.Capture.NFLOGGroup++
			c.LAN.Prefixes = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		}, []string{"capture.nflog_group", "lan.prefixes"}},
		{"put back", func(*config.Config) {}, nil},
	} {
		next := *start
		tc.change(&next)
		if err := h.r.apply(&next); err != nil {
			t.Fatal(err)
		}
		got := problems()
		if len(tc.want) == 0 {
			if len(got) != 0 {
				t.Errorf("%s: problems %q, want none", tc.name, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: problems %q, want one", tc.name, got)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got[0], w) {
				t.Errorf("%s: problem %q does not name %s", tc.name, got[0], w)
			}
		}
	}

	// Restarted with the new settings: the same reload changes nothing.
	changed := *start
	changed.Quarantine.IsolateLAN = !changed.Quarantine.IsolateLAN
	h = newReloadHarness(t, &changed)
	same := changed
	if err := h.r.apply(&same); err != nil {
		t.Fatal(err)
	}
	if got := problems(); len(got) != 0 {
		t.Errorf("after a restart: problems %q, want none", got)
	}
}

// TestReloadTellsWarnings: a reload tells of what the file loads as but
// its owner likely did not mean, as run and check-config do at start,
// and applies it; a file that does not load is logged and the running
// configuration kept.
func TestReloadTellsWarnings(t *testing.T) {
	h := newReloadHarness(t, config.Default())
	var logged strings.Builder
	h.r.log = slog.New(slog.NewTextHandler(&logged, nil))
	h.r.path = filepath.Join(t.TempDir(), "iotgw.toml")
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"repeat", "[lan]\ninterfaces = [\"br-lan\", \"br-lan\"]\n", []string{"level=WARN", "reload: ", "named twice", "configuration reloaded"}},
		{"clean", "[lan]\ninterfaces = [\"br-lan\"]\n", []string{"configuration reloaded"}},
		{"bad", "[lan]\ninterfaces = \"br-lan\n", []string{"level=ERROR", "keeping the running one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logged.Reset()
			if err := os.WriteFile(h.r.path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			h.r.reload()
			for _, w := range tc.want {
				if !strings.Contains(logged.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logged.String())
				}
			}
			if tc.name == "clean" && strings.Contains(logged.String(), "level=WARN") {
				t.Errorf("a clean file warned:\n%s", logged.String())
			}
		})
	}
}
