package openwrt

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
)

// newRoot builds a scratch root file system for chroot: Debian's
// busybox with its shared libraries and every applet linked where
// busybox puts it, the stand-ins of OpenWrt's rc.common, functions.sh,
// procd.sh, opkg and apk, and the directories OpenWrt has in RAM.
func newRoot(t *testing.T) string {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox not installed (scripts/deps.sh test installs it): %v", err)
	}
	root := t.TempDir()
	copyFile(t, busybox, filepath.Join(root, "bin/busybox"), 0o755)
	// A dynamically linked busybox needs its loader and libraries.
	if out, err := exec.Command("ldd", busybox).Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "/") {
					copyFile(t, f, filepath.Join(root, f), 0o755)
				}
			}
		}
	}
	list, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		t.Fatalf("busybox --list-full: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		dst := filepath.Join(root, applet)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/bin/busybox", dst); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "var/run", "etc/config", "etc/rc.d", "dev", "proc", "usr/lib/opkg/info"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, dev := range []string{"null", "urandom", "zero"} {
		// Bind mounts would outlive a failed test; the device nodes are enough.
		netnstest.Cmd(t, "cp", "-a", "/dev/"+dev, filepath.Join(root, "dev", dev))
	}
	standin := filepath.Join(testenv.RepoRoot(t), "test/openwrt/testdata/standin")
	for _, f := range []struct {
		src, dst string
		mode     os.FileMode
	}{
		{"rc.common", "etc/rc.common", 0o755},
		{"functions.sh", "lib/functions.sh", 0o644},
		{"procd.sh", "lib/functions/procd.sh", 0o644},
		{"network.sh", "lib/functions/network.sh", 0o644},
		{"opkg", "bin/opkg", 0o755},
		{"apk", "usr/bin/apk", 0o755},
	} {
		copyFile(t, filepath.Join(standin, f.src), filepath.Join(root, f.dst), f.mode)
	}
	return root
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

// unpackData extracts an ipk's data.tar.gz into root, as opkg would.
func unpackData(t *testing.T, p *ipkg, root string) {
	t.Helper()
	for _, m := range p.Outer {
		if m.Header.Name != "./data.tar.gz" {
			continue
		}
		cmd := exec.Command("tar", "xzf", "-", "-C", root)
		cmd.Stdin = bytes.NewReader(m.Data)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
}

// pidNamespaces holds, for a root given a /proc by withProc, the pid of
// the init of the pid namespace its commands run in.
var pidNamespaces sync.Map // root → pid, as a string

// withProc makes what inRoot runs in root see a /proc, as on the router,
// so that pidof works; and only this root's processes, not the daemons
// other tests run. The commands run in a pid namespace whose init is a
// sleeping process, and a mount namespace of its own holds root/proc:
// killing that init when the test ends kills everything started in the
// namespace, and the mount goes with it.
func withProc(t *testing.T, root string) {
	t.Helper()
	init := exec.Command("sleep", "infinity")
	init.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	if err := init.Start(); err != nil {
		t.Fatalf("pid namespace: %v", err)
	}
	t.Cleanup(func() {
		pidNamespaces.Delete(root)
		_ = init.Process.Kill()
		_ = init.Wait()
	})
	pid := strconv.Itoa(init.Process.Pid)
	// Private first: the new mount namespace shares the host's
	// propagation, and the mount would appear on the host too.
	netnstest.Cmd(t, "nsenter", "-t", pid, "-m", "-p", "--", "sh", "-c",
		`mount --make-rprivate / && mount -t proc proc "$1"`, "sh", filepath.Join(root, "proc"))
	pidNamespaces.Store(root, pid)
}

// inRoot runs a command chrooted into root, in network namespace ns
// when ns is not empty, and returns its combined output.
func inRoot(root, ns string, args ...string) (string, error) {
	name, args := "chroot", append([]string{root}, args...)
	if init, ok := pidNamespaces.Load(root); ok {
		name, args = "nsenter", append([]string{"-t", init.(string), "-m", "-p", "--", "chroot"}, args...)
	}
	cmd := exec.Command(name, args...)
	if ns != "" {
		cmd = netnstest.Command(ns, name, args...)
	}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
