package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// answering serves a handler that says name on a Unix socket at path,
// as a running daemon does; the socket is bound when it returns.
func answering(t *testing.T, path, name string) *net.UnixListener {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln := l.(*net.UnixListener)
	// The test removes what it made; closing must not pull the path
	// from under a later socket.
	ln.SetUnlinkOnClose(false)
	srv := &http.Server{Handler: says(name)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln
}

func says(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) })
}

// whoAnswers asks the socket at path who is there.
func whoAnswers(t *testing.T, path string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://iotgw/")
	if err != nil {
		t.Fatalf("nobody answers on %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A second `iotgw run` that stops at once (another of its ports is
// taken) must leave the running daemon's control socket alone.
func TestSecondDaemonKeepsFirstSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotgw.sock")
	answering(t, path, "first")
	_, _, err := listenSocket(path)
	if err == nil || !strings.Contains(err.Error(), "another iotgw is running on "+path) {
		t.Errorf("second daemon: %v", err)
	}
	if got := whoAnswers(t, path); got != "first" {
		t.Errorf("%q answers on the socket, want the running daemon", got)
	}
}

// A file at the socket path that is not a socket (daemon.socket naming
// the wrong file) is not deleted.
func TestSocketPathNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotgw.toml")
	if err := os.WriteFile(path, []byte("[policy]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := listenSocket(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listenSocket on a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "[policy]\n" {
		t.Errorf("the file is gone or changed: %q, %v", b, err)
	}
}

// The socket a daemon that died left behind, with nobody listening, is
// replaced.
func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotgw.sock")
	answering(t, path, "dead").Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	ln, done, err := listenSocket(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer done()
	srv := &http.Server{Handler: says("new")}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if got := whoAnswers(t, path); got != "new" {
		t.Errorf("%q answers, want the new daemon", got)
	}
}

// On exit a daemon removes the socket path only while it is still its
// own socket: not one another daemon has bound there since.
func TestSocketRemovedOnlyIfOwn(t *testing.T) {
	t.Run("own", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "iotgw.sock")
		ln, done, err := listenSocket(path)
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		done()
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("own socket left behind: %v", err)
		}
	})
	t.Run("replaced", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "iotgw.sock")
		ln, done, err := listenSocket(path)
		if err != nil {
			t.Fatal(err)
		}
		// Someone removed the path and another daemon bound there.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		answering(t, path, "other")
		ln.Close()
		done()
		if got := whoAnswers(t, path); got != "other" {
			t.Errorf("%q answers, want the other daemon", got)
		}
	})
}
