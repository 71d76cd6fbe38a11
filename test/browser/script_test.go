package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/web"
)

// TestBrowserScript checks what the page's script adds, in a real browser
// on loopback against pkg/web with a fake daemon and a fake alert engine:
// the alert switch and the test button post in the background with the
// X-CSRF-Token header, and the inventory updates itself when the event
// stream reports something.
func TestBrowserScript(t *testing.T) {
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		t.Fatal("the browser test needs Chromium: apt-get install chromium chromium-driver")
	}
	dir := t.TempDir()
	backend := &scriptBackend{events: make(chan *event.Event, 8), devices: []api.Device{
		{MAC: "50:c7:bf:0a:1b:2c", Vendor: "TP-Link", Type: "plug", State: api.StateOK},
	}}
	alerts := &scriptAlerts{on: map[string]bool{"phone": true}}
	store := web.NewFileStore(dir)
	srv, err := web.New(web.Options{
		Addrs:  []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, backend, store, alerts)
	if err != nil {
		t.Fatal(err)
	}
	lns, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + lns[0].Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lns) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	code, err := web.ReadSetupCode(dir)
	if err != nil {
		t.Fatal(err)
	}

	tab := browserContext(t, ctx, chromium, "", dir)
	console := watchConsole(tab)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(tab, stepBudget)
		defer scancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitText := func(sel, want string) {
		t.Helper()
		if err := poll(stepBudget, 100*time.Millisecond, func() (bool, string) {
			sctx, scancel := context.WithTimeout(tab, 2*time.Second)
			defer scancel()
			got, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
			return err == nil && strings.Contains(got, want), fmt.Sprintf("%s shows %q (%v), want %q", sel, got, err, want)
		}); err != nil {
			t.Fatal(err)
		}
	}

	do("setup", chromedp.Navigate(base+"/setup"),
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("confirm"), password),
		chromedp.Click(chromedp.ID("setup-submit")),
		chromedp.WaitVisible(chromedp.CSS("table.devices")))

	// Live update: a new device and an event on the stream; the page
	// re-reads itself without a reload.
	backend.add(api.Device{MAC: "c0:56:e3:1a:2b:3c", Vendor: "Hangzhou Hikvision Digital Technology", Type: "camera", State: api.StateAlert,
		Addrs: []string{"192.168.50.101", "fd12:3456:789a:1:c256:e3ff:fe1a:2b3c"},
		Findings: []*event.Event{{V: 1, Time: time.Now(), Type: event.TypeFinding, Kind: event.KindOutdatedFirmware,
			Severity: event.SeverityCritical, Device: event.Endpoint{MAC: "c0:56:e3:1a:2b:3c"},
			Summary: "busybox 1.19.3 has known vulnerabilities (CVE-2021-42373,CVE-2021-42374,CVE-2021-42375,CVE-2021-42376,CVE-2021-42377); see https://www.hikvision.com/en/support/cybersecurity/security-advisory/"}}})
	waitFor(t, "the page to open the event stream", func() (bool, string) {
		return backend.subscribers() > 0, "no subscriber"
	})
	backend.events <- &event.Event{V: 1, Time: time.Now(), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
		Severity: event.SeverityHigh, Device: event.Endpoint{MAC: "c0:56:e3:1a:2b:3c"}, Summary: "default password"}
	do("the inventory updates itself", chromedp.WaitVisible(chromedp.CSS("tr[data-mac='c0:56:e3:1a:2b:3c']")))

	// A hidden tab gives its stream connection back (a browser allows a
	// few per host), and takes one again when shown.
	visible := func(on bool) {
		t.Helper()
		js := fmt.Sprintf(`Object.defineProperty(document, 'hidden', {value: %v, configurable: true});
			document.dispatchEvent(new Event('visibilitychange')); true`, !on)
		sctx, scancel := context.WithTimeout(tab, stepBudget)
		defer scancel()
		if _, err := chromedp.Run(sctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatalf("set the tab's visibility to %v: %v", on, err)
		}
	}
	visible(false)
	waitFor(t, "the hidden tab to close its stream", func() (bool, string) {
		return backend.subscribers() == 0, fmt.Sprintf("%d subscribers", backend.subscribers())
	})
	visible(true)
	waitFor(t, "the tab shown again to open its stream", func() (bool, string) {
		return backend.subscribers() == 1, fmt.Sprintf("%d subscribers", backend.subscribers())
	})

	// The alert switch and test button, through the script.
	do("alerts page", chromedp.Navigate(base+"/alerts"), chromedp.WaitVisible(chromedp.CSS("li[data-channel='phone']")))
	waitText("li[data-channel='phone'] [data-enabled]", "on")
	do("turn the channel off", chromedp.Click(chromedp.CSS("li[data-channel='phone'] button.toggle")))
	waitText("li[data-channel='phone'] [data-enabled]", "off")
	do("send a test alert", chromedp.Click(chromedp.CSS("li[data-channel='phone'] button.test")))
	waitText("li[data-channel='phone'] .result", "Test alert sent.")
	// The script did it: a plain form post would have moved to /alerts?done=….
	if loc, err := chromedp.Run(tab, chromedp.Location()); err != nil || strings.Contains(loc, "done=") {
		t.Fatalf("the page moved to %q (%v): the buttons posted as plain forms", loc, err)
	}
	if got := alerts.recorded(); strings.Join(got, "|") != "enabled phone false|test phone" {
		t.Fatalf("alert engine calls %q", got)
	}
	// Quarantine asks first: a slip of the finger cuts nothing off. It
	// asks in the page, not in a dialog, which a web view may answer
	// "no" without showing it.
	const plug = "50:c7:bf:0a:1b:2c"
	dialogs := watchDialogs(tab)
	do("the plug's page", chromedp.Navigate(base+"/devices/"+plug), chromedp.WaitVisible(chromedp.ID("quarantine")))
	do("quarantine", chromedp.Click(chromedp.ID("quarantine")))
	waitText("#quarantine-form + .confirm p", "Quarantine this device?")
	// An event while the question is open: the page, which would
	// re-read itself, keeps the question until it is answered.
	backend.events <- &event.Event{V: 1, Time: time.Now(), Type: event.TypeFinding, Kind: event.KindWeakTLS,
		Severity: event.SeverityLow, Device: event.Endpoint{MAC: plug}, Summary: "TLS 1.0"}
	time.Sleep(3 * time.Second)
	do("say no", chromedp.Click(chromedp.CSS("#quarantine-form + .confirm button.no")))
	// The post a "no" let through would arrive within milliseconds over
	// the test's link; a second without it is the owner's "no" kept.
	if poll(time.Second, 50*time.Millisecond, func() (bool, string) { return len(backend.quarantined()) > 0, "" }) == nil {
		t.Fatalf("quarantined %v after the owner said no", backend.quarantined())
	}
	do("quarantine again, then say yes", chromedp.Click(chromedp.ID("quarantine")),
		chromedp.Click(chromedp.CSS("#quarantine-form + .confirm button.yes")))
	waitFor(t, "the quarantine the owner confirmed", func() (bool, string) {
		got := backend.quarantined()
		return len(got) == 1 && got[0] == plug, fmt.Sprintf("quarantined %v", got)
	})
	if q := dialogs.questions(); len(q) != 0 {
		t.Fatalf("the page opened dialogs %q", q)
	}

	// A live page does not re-read itself under the owner's typing: the
	// text typed would be lost. It catches up once the field is left.
	do("type a name on the plug's page", chromedp.Navigate(base+"/devices/"+plug), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.Click(chromedp.ID("name")), chromedp.SendKeys(chromedp.ID("name"), "Hall plug"))
	waitFor(t, "the device page to open the event stream", func() (bool, string) {
		return backend.subscribers() > 0, "no subscriber"
	})
	backend.rename(plug, "Kitchen plug")
	// Past the script's two-second wait for a quiet moment, and the
	// fetch: a page that ignored the typing would have re-read itself.
	// Sent thrice: the stream of the page before may still be taking
	// its last event.
	for range 3 {
		backend.events <- &event.Event{V: 1, Time: time.Now(), Type: event.TypeFinding, Kind: event.KindWeakTLS,
			Severity: event.SeverityLow, Device: event.Endpoint{MAC: plug}, Summary: "TLS 1.0"}
		time.Sleep(2 * time.Second)
	}
	time.Sleep(3 * time.Second)
	js := func(what, script string) string {
		t.Helper()
		sctx, scancel := context.WithTimeout(tab, stepBudget)
		defer scancel()
		got, err := chromedp.Run(sctx, chromedp.Evaluate[string](script))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return got
	}
	if got := js("read the field", `document.getElementById('name').value`); got != "Hall plug" {
		t.Fatalf("the name typed reads %q after an update: the page re-read itself under the owner's typing", got)
	}
	if got := js("read the title", `document.querySelector('main h1').textContent`); strings.Contains(got, "Kitchen plug") {
		t.Fatalf("the title shows %q while the owner types: the page re-read itself", got)
	}
	js("leave the field", `document.activeElement.blur(); ''`)
	waitText("main h1", "Kitchen plug")

	// On a phone every page fits the screen's width: a long URL or CVE
	// list in a finding wraps instead of widening the page.
	do("phone width", chromedp.EmulateViewport(360, 740))
	for _, path := range []string{"/", "/devices/c0:56:e3:1a:2b:3c", "/events", "/alerts"} {
		do("open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		sctx, scancel := context.WithTimeout(tab, stepBudget)
		widths, err := chromedp.Run(sctx, chromedp.Evaluate[[]int](
			`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
		scancel()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if widths[0] > widths[1] {
			t.Errorf("%s is %d pixels wide on a %d-pixel phone screen", path, widths[0], widths[1])
		}
	}
	if p := console.problems(); len(p) > 0 {
		t.Fatalf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}

// scriptBackend is a fake daemon: a device list and an event stream.
type scriptBackend struct {
	events chan *event.Event

	mu          sync.Mutex
	devices     []api.Device
	subs        int
	quarantines []string // the MACs asked to be quarantined
}

func (b *scriptBackend) add(d api.Device) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.devices = append(b.devices, d)
}

// rename names the device mac as the owner would have.
func (b *scriptBackend) rename(mac, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.devices {
		if b.devices[i].MAC == mac {
			b.devices[i].Name = name
		}
	}
}

func (b *scriptBackend) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs
}

func (b *scriptBackend) Status() api.Status { return api.Status{Mode: "monitor", Capture: "running"} }

func (b *scriptBackend) Devices() []api.Device {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.Device(nil), b.devices...)
}

func (b *scriptBackend) Device(mac hwaddr.MAC) (api.Device, bool) {
	for _, d := range b.Devices() {
		if d.MAC == mac.String() {
			return d, true
		}
	}
	return api.Device{}, false
}

func (b *scriptBackend) Events(api.EventFilter) []*event.Event { return nil }

var errReadOnly = errors.New("the fake daemon changes nothing")

func (b *scriptBackend) Quarantine(_ context.Context, mac hwaddr.MAC, _ string, _ time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.quarantines = append(b.quarantines, mac.String())
	return nil // the device list stays as it is: the test looks at the call
}

func (b *scriptBackend) quarantined() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.quarantines...)
}
func (b *scriptBackend) Release(context.Context, hwaddr.MAC) error          { return errReadOnly }
func (b *scriptBackend) SetTrusted(context.Context, hwaddr.MAC, bool) error { return errReadOnly }
func (b *scriptBackend) SetName(context.Context, hwaddr.MAC, string) error  { return errReadOnly }

func (b *scriptBackend) Subscribe() (<-chan *event.Event, func()) {
	b.mu.Lock()
	b.subs++
	b.mu.Unlock()
	return b.events, func() {
		b.mu.Lock()
		b.subs--
		b.mu.Unlock()
	}
}

// scriptAlerts is a fake alert engine.
type scriptAlerts struct {
	mu    sync.Mutex
	on    map[string]bool
	calls []string
}

func (a *scriptAlerts) Channels() []web.ChannelView {
	a.mu.Lock()
	defer a.mu.Unlock()
	return []web.ChannelView{{Name: "phone", Kind: "ntfy", Target: "ntfy.example/…", Enabled: a.on["phone"]}}
}

func (a *scriptAlerts) SetEnabled(name string, on bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, fmt.Sprintf("enabled %s %v", name, on))
	a.on[name] = on
	return nil
}

func (a *scriptAlerts) SendTest(_ context.Context, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "test "+name)
	return nil
}

func (a *scriptAlerts) recorded() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}
