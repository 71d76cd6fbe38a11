// Package testenv holds what the end-to-end tests share about their
// surroundings: the repository's root, programs that live in sbin, the
// daemon built from this tree, stopping the programs they start, and
// holding connections open from several loopback sources, which a
// listener can see as LAN clients; and skipping what cannot run here,
// which in CI fails instead.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RepoRoot walks up from the working directory to go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// LookPath finds cmd on PATH or in the sbin directories, which are not on
// every user's PATH.
func LookPath(cmd string) (string, error) {
	if p, err := exec.LookPath(cmd); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, cmd)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", cmd)
}

// BuildDaemon builds cmd/iotgw into dir, static, with the toolchain
// running the test; the build cache makes a second test's build a link
// step.
func BuildDaemon(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "iotgw")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/iotgw")
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/iotgw: %v\n%s", err, out)
	}
	return bin
}

// goTool is GOROOT/bin/go of the go command running the test when it can
// be found, so the daemon is built with the same toolchain.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// Stop ends a program started in its own process group: SIGTERM to the
// group, SIGKILL after grace, then reaps it.
func Stop(c *exec.Cmd, grace time.Duration) {
	if c.Process == nil || c.ProcessState != nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// HoldConns opens n TCP connections to addr from the loopback sources
// 127.0.0.2, 127.0.0.3, …, perSource from each, so that a listener that
// also caps connections per source admits all of them. They close when
// the test ends.
func HoldConns(t testing.TB, addr string, n, perSource int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i/perSource))}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns
}

// ExpectRefused fails the test unless the peer closed c without serving
// it: request, which a server would answer, is sent, and the read that
// follows must end in EOF or a reset with no answer. (A server that
// served c and closed it later, at a timeout, would answer first.)
func ExpectRefused(t testing.TB, c net.Conn, request []byte, what string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write(request) // fails if the close already arrived
	n, err := c.Read(make([]byte, 1))
	if n != 0 || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("%s: read gave %d bytes, %v; want the connection closed unanswered", what, n, err)
	}
}

// LANView reports each connection that ln accepts from a loopback source
// 127.0.0.N as one from 192.168.1.N: a LAN client, which a listener that
// counts by device asks the neighbour table about, over a real connection.
func LANView(ln net.Listener) net.Listener { return lanView{ln} }

type lanView struct{ net.Listener }

func (l lanView) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	ap := tc.RemoteAddr().(*net.TCPAddr).AddrPort()
	if a := ap.Addr().Unmap(); a.Is4() && a.IsLoopback() {
		ip := a.As4()
		ip[0], ip[1], ip[2] = 192, 168, 1
		return lanConn{tc, net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(ip), ap.Port()))}, nil
	}
	return c, nil
}

// lanConn keeps what net/http looks for on a *net.TCPConn (CloseWrite,
// ReadFrom).
type lanConn struct {
	*net.TCPConn
	remote net.Addr
}

func (c lanConn) RemoteAddr() net.Addr { return c.remote }

// Receive returns the next value from ch, failing t after five seconds
// without one (a hung test ends; a slow one is not timed).
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s", what)
	}
	panic("unreachable")
}
