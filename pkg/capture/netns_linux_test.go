//go:build linux

package capture

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// requireRoot skips tests that build network namespaces when not root;
// CI runs as root, so there they run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to build network namespaces")
	}
}

// run runs a command and fails the test with its output if it fails.
func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runIn runs a command inside namespace ns, feeding it stdin.
func runIn(t testing.TB, ns, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
}

// newNetNS creates a named network namespace with loopback up and
// removes it when the test ends. The random suffix lets tests of several
// packages run side by side.
func newNetNS(t *testing.T, role string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "iotgwcap-" + role + "-" + hex.EncodeToString(b)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// vethLink joins namespaces a and b with a veth pair named ifA in a and
// ifB in b, addresses given in CIDR form, links up.
func vethLink(t *testing.T, a, ifA, addrA, b, ifB, addrB string) {
	t.Helper()
	run(t, "ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b)
	run(t, "ip", "-n", a, "addr", "add", addrA, "dev", ifA)
	run(t, "ip", "-n", b, "addr", "add", addrB, "dev", ifB)
	run(t, "ip", "-n", a, "link", "set", ifA, "up")
	run(t, "ip", "-n", b, "link", "set", ifB, "up")
}

// inNetNS runs fn on an OS thread switched into namespace ns. Sockets fn
// creates stay in ns and may be used from any goroutine afterwards; fn
// must not start goroutines that expect to be in ns.
func inNetNS(t testing.TB, ns string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// On a failure the thread stays locked, so it ends with this
		// goroutine instead of serving others in the wrong namespace.
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// linkMAC is the hardware address of interface name in namespace ns.
func linkMAC(t *testing.T, ns, name string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	inNetNS(t, ns, func() error {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		mac = ifc.HardwareAddr
		return nil
	})
	return mac
}

// linkIndex is the index of interface name in namespace ns.
func linkIndex(t *testing.T, ns, name string) int {
	t.Helper()
	var idx int
	inNetNS(t, ns, func() error {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		idx = ifc.Index
		return nil
	})
	return idx
}
