package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/iotgw/iotgw/internal/testenv"
)

// requireBrowser skips when not root (namespaces and nftables need it;
// in CI it fails) and fails, naming the Debian packages, when a program
// is missing.
func requireBrowser(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t, "the browser test builds a network namespace: run as root")
	for _, cmd := range []string{"ip", "nft"} {
		if _, err := testenv.LookPath(cmd); err != nil {
			t.Fatalf("the browser test needs %s (apt-get install iproute2 nftables)", cmd)
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the browser test needs Chromium: apt-get install chromium chromium-driver (or scripts/deps.sh test)")
	return ""
}

// netns is a throw-away network namespace with a LAN bridge; everything
// started in it is ended, and the namespace deleted, in t.Cleanup.
type netns struct {
	t    *testing.T
	name string

	mu    sync.Mutex
	procs []*exec.Cmd
}

func newNetns(t *testing.T, lanAddr string) *netns {
	t.Helper()
	n := &netns{t: t, name: fmt.Sprintf("iotgwweb-%d", os.Getpid())}
	t.Cleanup(n.teardown)
	n.must("ip", "netns", "add", n.name)
	n.must("ip", "-n", n.name, "link", "set", "lo", "up")
	n.must("ip", "-n", n.name, "link", "add", "br-lan", "address", "94:83:c4:50:00:01", "type", "bridge")
	n.must("ip", "-n", n.name, "addr", "add", lanAddr, "dev", "br-lan")
	n.must("ip", "-n", n.name, "link", "set", "br-lan", "up")
	return n
}

func (n *netns) must(name string, args ...string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// run runs a command in the namespace and returns its output.
func (n *netns) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name}, args...)...).Output()
	return string(out), err
}

// start runs a command in the namespace in the background, in its own
// process group, with its output in logPath.
func (n *netns) start(logPath string, args ...string) *exec.Cmd {
	n.t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		n.t.Fatal(err)
	}
	defer logf.Close()
	c := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...)
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.mu.Lock()
	n.procs = append(n.procs, c)
	n.mu.Unlock()
	return c
}

func (n *netns) teardown() {
	n.mu.Lock()
	procs := n.procs
	n.mu.Unlock()
	for _, c := range procs {
		testenv.Stop(c, 5*time.Second)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", n.name)); err != nil {
		return
	}
	// Whatever is left in the namespace was started by this test.
	if out, err := exec.Command("ip", "netns", "pids", n.name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
		n.t.Errorf("ip netns del %s: %v\n%s", n.name, err, out)
	}
}

// browserContext starts headless Chromium through exec (in the namespace
// when ns is set: a wrapper runs `ip netns exec NS chromium`, and chromedp
// talks to it over the DevTools pipe on inherited file descriptors, so no
// debugging port is opened anywhere) and returns a tab's context.
func browserContext(t *testing.T, ctx context.Context, chromium, ns, dir string) context.Context {
	t.Helper()
	exe := chromium
	if ns != "" {
		exe = filepath.Join(dir, "chromium-in-netns")
		script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", ns, chromium)
		if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	profile := filepath.Join(dir, "chromium-profile")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		// The page's certificate is self-signed, made on the daemon's
		// first start.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.CombinedOutput(chromiumLog(t, dir)),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	return tab
}

func chromiumLog(t *testing.T, dir string) *os.File {
	f, err := os.Create(filepath.Join(dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// consoleWatch collects the page's console errors and exceptions; a CSP
// violation (an inline script, a foreign asset) shows up there.
type consoleWatch struct {
	mu   sync.Mutex
	msgs []string
}

func watchConsole(ctx context.Context) *consoleWatch {
	w := &consoleWatch{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// The test's wrong setup code (401) and bad duration (400)
			// are answered with an error status on purpose.
			expected := strings.Contains(m.Text, "Failed to load resource") &&
				(strings.Contains(m.Text, "status of 400") || strings.Contains(m.Text, "status of 401"))
			if !expected && (m.IsException() || m.Type == "error" || m.Source == "security" ||
				strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy")) {
				w.mu.Lock()
				w.msgs = append(w.msgs, m.String())
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *consoleWatch) problems() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// poll calls check until it reports done or timeout passes.
func poll(timeout, interval time.Duration, check func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, detail := check()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New(detail)
		}
		time.Sleep(interval)
	}
}

func writeArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), "test", "browser", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(data))
}

// dialogs dismisses and keeps the dialogs the page opens: it asks its
// questions in the page, and a dialog left open would hold the page and
// every step after it.
type dialogs struct {
	mu    sync.Mutex
	asked []string
}

func watchDialogs(tab context.Context) *dialogs {
	d := &dialogs{}
	opened := chromedp.Events(tab, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range opened {
			if err != nil {
				return
			}
			d.mu.Lock()
			d.asked = append(d.asked, ev.Message)
			d.mu.Unlock()
			if _, err := chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}); err != nil {
				return
			}
		}
	}()
	return d
}

// questions are what the dialogs asked, in order.
func (d *dialogs) questions() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}
