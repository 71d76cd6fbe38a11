// Package netnstest gives tests that need the kernel their own network
// namespaces: named ones, gone when the test ends, veth pairs between
// them, and programs and Go code run inside one. Its callers run as root;
// nothing here touches the host's own namespace beyond creating and
// deleting the named ones.
package netnstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/testenv"
)

var seq atomic.Int64

// RequireNFTables skips a test not run as root, and fails one whose
// programs (ip and nft) are missing: CI runs as root, and there the test
// must run (testenv.RequireRoot fails it there otherwise).
func RequireNFTables(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t, "needs root for network namespaces and nftables")
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian: iproute2, nftables): %v", tool, err)
		}
	}
}

// New creates a namespace named prefix-PID-N-role with its loopback up.
// When the test ends, processes still running in it are killed and it is
// deleted.
func New(t testing.TB, prefix, role string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d-%s", prefix, os.Getpid(), seq.Add(1), role)
	Cmd(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	Cmd(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// Cmd runs a program to its end and returns its output; a failure ends
// the test with the output.
func Cmd(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Command returns a command that runs program name inside namespace ns
// (through ip netns exec); like exec.Command's, it can be given input,
// environment and directory before it starts.
func Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// CmdIn runs a program inside namespace ns to its end and returns its
// output; a failure ends the test with the output.
func CmdIn(t testing.TB, ns, name string, args ...string) string {
	t.Helper()
	out, err := Command(ns, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in netns %s: %s %s: %v\n%s", ns, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Veth joins namespaces a and b with a veth pair: interface ifA in a
// with address addrA, ifB in b with addrB (addresses in CIDR form), both
// up.
func Veth(t testing.TB, a, ifA, addrA, b, ifB, addrB string) {
	t.Helper()
	Cmd(t, "ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b)
	Cmd(t, "ip", "-n", a, "addr", "add", addrA, "dev", ifA)
	Cmd(t, "ip", "-n", b, "addr", "add", addrB, "dev", ifB)
	Cmd(t, "ip", "-n", a, "link", "set", ifA, "up")
	Cmd(t, "ip", "-n", b, "link", "set", ifB, "up")
}

// Interface is the interface called name in namespace ns, for its index
// and hardware address; a failure ends the test.
func Interface(t testing.TB, ns, name string) *net.Interface {
	t.Helper()
	var ifc *net.Interface
	err := Run(ns, func() (err error) {
		ifc, err = net.InterfaceByName(name)
		return err
	})
	if err != nil {
		t.Fatalf("interface %s in netns %s: %v", name, ns, err)
	}
	return ifc
}

// Fd opens namespace ns for APIs that take a namespace file descriptor;
// the descriptor is closed when the test ends.
func Fd(t testing.TB, ns string) int {
	t.Helper()
	f, err := os.Open(path(ns))
	if err != nil {
		t.Fatalf("open netns %s: %v", ns, err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// path is where ip netns keeps namespace ns.
func path(ns string) string { return "/run/netns/" + ns }

// Run runs fn on an OS thread switched into namespace ns; sockets fn
// creates stay in ns after it returns and may be used from any
// goroutine. Goroutines fn starts run on other threads, outside ns. The
// thread is switched back, or, if that fails, left locked so that the
// runtime discards it.
func Run(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(path(ns))
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
