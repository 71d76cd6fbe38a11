package browser

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/api"
)

const (
	lanAddr    = "192.168.50.1"
	webPort    = 8443
	cameraMAC  = "c0:56:e3:1a:2b:3c" // the Hikvision camera of testdata/demo.pcap
	password   = "blue kettle on a quiet hill"
	stepBudget = 30 * time.Second
)

// TestBrowser is the owner's first evening with iotgw, in a real browser
// against the real daemon: read the setup code over "SSH", set the
// password, log in, find the camera from the capture, quarantine it for an
// hour in block mode, see it quarantined (in the page, the API and the
// kernel), release it, and look at the alert settings.
func TestBrowser(t *testing.T) {
	chromium := requireBrowser(t)
	dir := t.TempDir()
	ns := newNetns(t, lanAddr+"/24")
	bin := testenv.BuildDaemon(t, dir)
	socket := filepath.Join(dir, "iotgw.sock")
	cfg := filepath.Join(dir, "iotgw.toml")
	// Monitor mode: the camera's default password would otherwise have
	// policy quarantine it before the owner does.
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[lan]
prefixes = ["192.168.50.0/24"]
interfaces = ["br-lan"]
lease_files = []

[policy]
mode = "monitor"

[daemon]
socket = %q
router_addresses = [%q]
log_level = "debug"

[capture]
mode = "pcap"
file = %q
interfaces = ["br-lan"]

[store]
path = %q
write_interval = "1m"

[web]
port = %d
https = true

# A channel to switch on the page; its receiver is never reached (a
# closed port inside the namespace).
[[alert.channel]]
type = "webhook"
name = "hook"
url = "http://127.0.0.1:9/iotgw"
secret = "browser-test-shared-secret"
`, socket, lanAddr, filepath.Join(testenv.RepoRoot(t), "testdata", "demo.pcap"), filepath.Join(dir, "state", "state.json"), webPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "iotgw.log")
	daemon := ns.start(logPath, bin, "run", "--config", cfg)
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("iotgw log:\n%s", data)
		}
	})
	client := newSocketClient(socket)
	waitFor(t, "the daemon to read the capture", func() (bool, string) {
		if daemon.ProcessState != nil {
			return false, "the daemon exited"
		}
		devs, err := client.devices()
		if err != nil {
			return false, err.Error()
		}
		for _, d := range devs {
			if d.MAC == cameraMAC {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d devices, no camera yet", len(devs))
	})

	// The owner logs in over SSH and reads the setup code, and the
	// fingerprint of the page's certificate to check before typing it.
	var code, fingerprint string
	waitFor(t, "the setup code", func() (bool, string) {
		out, err := ns.run(10*time.Second, bin, "setup-code", "--config", cfg)
		if err != nil {
			return false, fmt.Sprintf("iotgw setup-code: %v: %s", err, out)
		}
		lines := strings.Split(out, "\n")
		code = strings.TrimSpace(lines[0])
		if i := slices.Index(lines, "The page's certificate has the SHA-256 fingerprint"); i >= 0 && i+1 < len(lines) {
			fingerprint = strings.TrimSpace(lines[i+1])
		}
		return len(code) == 14 && fingerprint != "", "unexpected output: " + out
	})
	if served := servedFingerprint(t, ns.name, net.JoinHostPort(lanAddr, fmt.Sprint(webPort))); served != fingerprint {
		t.Fatalf("setup-code printed the fingerprint %s, the page serves %s", fingerprint, served)
	}
	if fi, err := os.Stat(filepath.Join(dir, "state", "setup-code")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("setup-code file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tab := browserContext(t, ctx, chromium, ns.name, dir)
	console := watchConsole(tab)
	base := fmt.Sprintf("https://%s:%d", lanAddr, webPort)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(tab, stepBudget)
		defer scancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, scancel := context.WithTimeout(tab, stepBudget)
		defer scancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// First visit: the setup page. A wrong code is refused.
	do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("setup-submit")))
	do("wrong setup code",
		chromedp.SendKeys(chromedp.ID("code"), "AAAA-BBBB-CCCC"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("confirm"), password),
		chromedp.Click(chromedp.ID("setup-submit")),
		chromedp.WaitVisible(chromedp.ID("error")))
	if got := text("#error"); !strings.Contains(got, "Wrong setup code") {
		t.Fatalf("wrong setup code: the page says %q", got)
	}
	do("setup",
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("confirm"), password),
		chromedp.Click(chromedp.ID("setup-submit")),
		chromedp.WaitVisible(chromedp.CSS("table.devices")))
	if _, err := os.Stat(filepath.Join(dir, "state", "setup-code")); !os.IsNotExist(err) {
		t.Fatalf("the setup-code file is still there after setup: %v", err)
	}
	if out, err := ns.run(10*time.Second, bin, "setup-code", "--config", cfg); err == nil {
		t.Fatalf("iotgw setup-code after setup printed a code: %s", out)
	}

	// Log out and in again.
	do("log out", chromedp.Click(chromedp.CSS("form[action='/logout'] button")), chromedp.WaitVisible(chromedp.ID("login-submit")))
	do("log in",
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS("table.devices")))

	// The camera from the capture is in the inventory.
	row := fmt.Sprintf("tr[data-mac='%s']", cameraMAC)
	do("find the camera", chromedp.WaitVisible(chromedp.CSS(row)))
	if got := text(row); !strings.Contains(got, "192.168.50.101") {
		t.Errorf("the camera's row %q lacks its address", got)
	}
	do("open its page", chromedp.Click(chromedp.CSS(row+" a")), chromedp.WaitVisible(chromedp.ID("quarantine")))
	for _, sel := range []string{"#scorecard", "#findings", "#picture svg"} {
		do("device page shows "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	}

	// Quarantine: block, one hour; the page asks first, in the page.
	dialogs := watchDialogs(tab)
	do("quarantine",
		chromedp.SetValue(chromedp.ID("mode"), "block"),
		chromedp.SetValue(chromedp.ID("for"), "1h"),
		chromedp.Click(chromedp.ID("quarantine")),
		chromedp.WaitVisible(chromedp.CSS("#quarantine-form + .confirm button.yes")))
	if got := text("#quarantine-form + .confirm p"); !strings.HasPrefix(got, "Quarantine this device?") {
		t.Errorf("the page asked %q before the quarantine", got)
	}
	do("say yes", chromedp.Click(chromedp.CSS("#quarantine-form + .confirm button.yes")),
		chromedp.WaitVisible(chromedp.ID("quarantine-info")))
	if got := text("#device-state"); got != "Quarantined" {
		t.Fatalf("state after quarantine: %q", got)
	}
	if q := dialogs.questions(); len(q) != 0 {
		t.Errorf("the page opened dialogs %q", q)
	}
	if got := text("#quarantine-info"); !strings.Contains(got, "block") || !strings.Contains(got, "by you.") {
		t.Fatalf("quarantine facts: %q", got)
	}
	d := apiDevice(t, client)
	if d.State != api.StateQuarantined || d.Quarantine == nil || d.Quarantine.Mode != "block" ||
		d.Quarantine.Until.Sub(d.Quarantine.Since) != time.Hour {
		t.Fatalf("the daemon's view after quarantine: state %s, quarantine %+v", d.State, d.Quarantine)
	}
	if out, err := ns.run(10*time.Second, "nft", "list", "ruleset"); err != nil || !strings.Contains(out, cameraMAC) {
		t.Fatalf("the kernel has no quarantine entry for the camera (%v):\n%s", err, out)
	}

	// A picture for the owner: the device page on a phone, and on a desktop.
	shot := func(name string, w, h int64) {
		t.Helper()
		sctx, scancel := context.WithTimeout(tab, stepBudget)
		defer scancel()
		if err := chromedp.Do(sctx, chromedp.EmulateViewport(w, h)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		writeArtifact(t, name, png)
	}
	shot("device.png", 412, 915)
	shot("device-desktop.png", 1280, 900)

	// Release.
	do("release", chromedp.Click(chromedp.ID("release")), chromedp.WaitVisible(chromedp.ID("quarantine")))
	if got := text("#device-state"); got == "Quarantined" {
		t.Fatalf("state after release: %q", got)
	}
	if d := apiDevice(t, client); d.Quarantine != nil || d.State == api.StateQuarantined {
		t.Fatalf("the daemon's view after release: state %s, quarantine %+v", d.State, d.Quarantine)
	}

	// A bad duration is refused with a message, and nothing changes.
	do("bad duration",
		chromedp.SetValue(chromedp.ID("for"), "soon"),
		chromedp.Click(chromedp.ID("quarantine")),
		chromedp.Click(chromedp.CSS("#quarantine-form + .confirm button.yes")),
		chromedp.WaitVisible(chromedp.ID("error")))
	if got := text("#error"); !strings.Contains(got, "duration") {
		t.Fatalf("bad duration: the page says %q", got)
	}
	if d := apiDevice(t, client); d.Quarantine != nil {
		t.Fatalf("a refused quarantine changed the daemon: %+v", d.Quarantine)
	}

	// Alert settings: a channel's switch when the daemon has an alert
	// engine; otherwise the page says alerts are not available.
	do("alerts page", chromedp.Navigate(base+"/alerts"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	toggleFirstChannel(t, tab)

	if p := console.problems(); len(p) > 0 {
		t.Fatalf("the browser reported problems (CSP violations, script errors):\n%s", strings.Join(p, "\n"))
	}
}

// toggleFirstChannel flips the first alert channel with its button (the
// script posts it with the CSRF header) and checks the page shows the new
// state; with no channels it checks the page says why.
func toggleFirstChannel(t *testing.T, tab context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepBudget)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("li[data-channel]"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) == 0 {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("the alerts page shows no channel although the configuration has one: %q", body)
	}
	before, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("li[data-channel] [data-enabled]")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("li[data-channel] button.toggle"))); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"on": "off", "off": "on"}[before]
	if err := poll(stepBudget, 200*time.Millisecond, func() (bool, string) {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("li[data-channel] [data-enabled]")))
		return err == nil && got == want, fmt.Sprintf("channel shows %q (%v), want %q", got, err, want)
	}); err != nil {
		t.Fatal(err)
	}
}

// device is the part of the API's device record the test reads. It is
// decoded leniently: api.Device's verdict does not decode when policy has
// not judged the device (an empty action).
type device struct {
	MAC        string          `json:"mac"`
	State      string          `json:"state"`
	Quarantine *api.Quarantine `json:"quarantine"`
}

// socketClient reads the daemon's API on its Unix socket (a file: the
// host reaches it although the daemon runs in the namespace).
type socketClient struct{ hc *http.Client }

func newSocketClient(socket string) *socketClient {
	return &socketClient{hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}}}}
}

func (c *socketClient) devices() ([]device, error) {
	resp, err := c.hc.Get("http://iotgw" + api.Version + "/devices")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var devs []device
	if err := json.NewDecoder(resp.Body).Decode(&devs); err != nil {
		return nil, fmt.Errorf("%s: %w", resp.Status, err)
	}
	return devs, nil
}

func apiDevice(t *testing.T, c *socketClient) device {
	t.Helper()
	devs, err := c.devices()
	if err != nil {
		t.Fatalf("API: %v", err)
	}
	for _, d := range devs {
		if d.MAC == cameraMAC {
			return d
		}
	}
	t.Fatalf("the daemon no longer lists %s", cameraMAC)
	return device{}
}

func waitFor(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	if err := poll(30*time.Second, 200*time.Millisecond, check); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// servedFingerprint is the SHA-256 fingerprint, as browsers show it, of
// the certificate served at addr in namespace ns.
func servedFingerprint(t *testing.T, ns, addr string) string {
	t.Helper()
	var raw []byte
	err := netnstest.Run(ns, func() error {
		// Only the certificate is wanted; nothing is sent over the link.
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return err
		}
		defer c.Close()
		raw = c.ConnectionState().PeerCertificates[0].Raw
		return nil
	})
	if err != nil {
		t.Fatalf("reading the page's certificate: %v", err)
	}
	sum := sha256.Sum256(raw)
	hexBytes := make([]string, len(sum))
	for i, b := range sum {
		hexBytes[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hexBytes, ":")
}
