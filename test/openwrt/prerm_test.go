package openwrt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowDaemon stands in for iotgw: `run` takes 3 s to exit after SIGTERM,
// as a daemon saving its state may; `uninstall-rules` records whether
// that daemon still ran; `analyze` is a process procd does not know of.
// Each writes to /tmp/calls.
const slowDaemon = `#!/bin/sh
case "$1" in
check-config) exit 0 ;;
run)
	echo $$ >/tmp/daemon.pid
	trap 'echo "daemon exiting" >>/tmp/calls; sleep 3; echo "daemon exited" >>/tmp/calls; exit 0' TERM
	echo "daemon running" >>/tmp/calls
	while :; do
		sleep 1 &
		wait $!
	done
	;;
uninstall-rules)
	state=gone
	kill -0 "$(cat /tmp/daemon.pid)" 2>/dev/null && state=running
	echo "uninstall-rules, the daemon $state" >>/tmp/calls
	;;
analyze)
	while :; do sleep 1; done
	;;
esac
`

// The package's removal against a daemon that is slow to exit: procd's
// stop only signals it, so the prerm waits for it to be gone before it
// deletes the tables (or the daemon could recreate them), and gives up
// waiting after a bound when an iotgw process never exits.
func TestPrermWaitsForTheDaemon(t *testing.T) {
	requireRoot(t, "chroot", "nsenter")
	ipk := findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk")

	// install is the package installed in a root with a /proc, its
	// daemon the slow one, started.
	install := func(t *testing.T) (sh func(args ...string) (string, error), calls func() string) {
		root := newRoot(t)
		withProc(t, root)
		sh = func(args ...string) (string, error) { return inRoot(root, "", args...) }
		calls = func() string {
			b, _ := os.ReadFile(filepath.Join(root, "tmp/calls"))
			return string(b)
		}
		copyFile(t, ipk, filepath.Join(root, "tmp/iotgw.ipk"), 0o644)
		if out, err := sh("/bin/opkg", "install", "/tmp/iotgw.ipk"); err != nil {
			t.Fatalf("opkg install: %v\n%s", err, out)
		}
		writeRootFile(t, root, "usr/bin/iotgw", slowDaemon, 0o755)
		writeRootFile(t, root, "etc/procd-standin.env", "PROCD_SPAWN=1\n", 0o644)
		if out, err := sh("/etc/init.d/iotgw", "start"); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		waitFor(t, calls, "the daemon runs", func() (bool, string) {
			return strings.Contains(calls(), "daemon running"), calls()
		})
		return sh, calls
	}
	// timed runs a command and says how long it took.
	timed := func(t *testing.T, sh func(...string) (string, error), args ...string) time.Duration {
		start := time.Now()
		if out, err := sh(args...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		d := time.Since(start)
		t.Logf("%s: %v", strings.Join(args, " "), d.Round(10*time.Millisecond))
		return d
	}

	t.Run("stop_returns_before_the_daemon_exits", func(t *testing.T) {
		t.Parallel()
		sh, calls := install(t)
		// As procd's: SIGTERM, and back at once.
		if d := timed(t, sh, "/etc/init.d/iotgw", "stop"); d > 2*time.Second {
			t.Errorf("stop took %v: it waited for the daemon, which procd does not", d)
		}
		if _, err := sh("pidof", "iotgw"); err != nil {
			t.Errorf("pidof iotgw finds no daemon right after stop; calls:\n%s", calls())
		}
		waitFor(t, calls, "the daemon exits", func() (bool, string) {
			_, err := sh("pidof", "iotgw")
			return err != nil && strings.Contains(calls(), "daemon exited"), calls()
		})
	})

	t.Run("prerm_waits_for_the_daemon", func(t *testing.T) {
		t.Parallel()
		sh, calls := install(t)
		// The rules the init script writes for fw4's include where fw4
		// is installed: removal takes them, or a reinstall within the
		// same boot finds them unchanged.
		if _, err := sh("sh", "-c", "mkdir -p /var/etc/iotgw/fw4 && echo '# rules' >/var/etc/iotgw/fw4/input.nft"); err != nil {
			t.Fatal(err)
		}
		timed(t, sh, "/bin/opkg", "remove", "iotgw")
		want := "daemon running\ndaemon exiting\ndaemon exited\nuninstall-rules, the daemon gone\n"
		if got := calls(); got != want {
			t.Errorf("calls:\n%s\nwant:\n%s", got, want)
		}
		if out, err := sh("ls", "-d", "/var/etc/iotgw"); err == nil {
			t.Errorf("/var/etc/iotgw left after removal: %s", out)
		}
	})

	// An iotgw procd did not start (the owner's `iotgw analyze` in
	// another shell) is not stopped: the prerm waits a bounded time,
	// then removes the rules all the same.
	t.Run("prerm_waits_a_bounded_time", func(t *testing.T) {
		t.Parallel()
		sh, calls := install(t)
		if out, err := sh("sh", "-c", "/usr/bin/iotgw analyze </dev/null >/dev/null 2>&1 &"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// A prerm that waited for ever would be killed here, and fail.
		d := timed(t, sh, "timeout", "40", "/bin/opkg", "remove", "iotgw")
		if !strings.HasSuffix(calls(), "uninstall-rules, the daemon gone\n") {
			t.Errorf("calls:\n%s\nwant the rules removed after the daemon exited", calls())
		}
		// procd's SIGKILL comes at term_timeout (10 s); the loop waits 15.
		if d > 30*time.Second {
			t.Errorf("the prerm took %v", d)
		}
	})
}
