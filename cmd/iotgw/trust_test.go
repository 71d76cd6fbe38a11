package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// trustBackend is the part of a daemon `iotgw trust` talks to: it keeps
// each device's trust and refuses devices it does not know.
type trustBackend struct {
	api.Backend // the rest is not called; a call would panic
	mu          sync.Mutex
	trusted     map[hwaddr.MAC]bool
}

func (b *trustBackend) SetTrusted(_ context.Context, mac hwaddr.MAC, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.trusted[mac]; !ok {
		return api.ErrNotFound
	}
	b.trusted[mac] = on
	return nil
}

func (b *trustBackend) Device(mac hwaddr.MAC) (api.Device, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	on, ok := b.trusted[mac]
	if !ok {
		return api.Device{}, false
	}
	d := api.Device{MAC: mac.String(), State: api.StateAlert, Trusted: on}
	if on {
		d.State = api.StateTrusted
	}
	return d, true
}

// TestTrustCommand: `iotgw trust MAC` trusts a device through the
// daemon's socket, `--off` stops trusting it (before or after the MAC),
// and a device the daemon does not know is an error, not a silent no-op.
func TestTrustCommand(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "iotgw.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	const camera, stranger = "c0:56:e3:12:34:56", "c0:56:e3:12:34:57"
	cameraMAC, err := hwaddr.Parse(camera)
	if err != nil {
		t.Fatal(err)
	}
	b := &trustBackend{trusted: map[hwaddr.MAC]bool{cameraMAC: false}}
	srv := &http.Server{Handler: api.Handler(b, slog.New(slog.DiscardHandler))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	cfg := filepath.Join(dir, "iotgw.toml")
	if err := os.WriteFile(cfg, []byte("[daemon]\nsocket = \""+sock+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		args        []string
		code        int
		out         string
		wantTrusted bool
	}{
		{"trust", []string{"trust", camera, "--config", cfg}, exitOK, camera + " trusted: never quarantined", true},
		{"off_after_mac", []string{"trust", camera, "--off", "--config", cfg}, exitOK, camera + " no longer trusted (state alert)", false},
		{"trust_flags_first", []string{"trust", "--config", cfg, camera}, exitOK, camera + " trusted", true},
		{"off_before_mac", []string{"trust", "--config", cfg, "--off", camera}, exitOK, camera + " no longer trusted", false},
		{"unknown_device", []string{"trust", stranger, "--config", cfg}, 1, "iotgw trust: ", false},
		{"no_mac", []string{"trust", "--config", cfg}, exitUsage, "usage: iotgw trust", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.out) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tc.code, tc.out)
			}
			b.mu.Lock()
			got := b.trusted[cameraMAC]
			b.mu.Unlock()
			if got != tc.wantTrusted {
				t.Errorf("camera trusted %v, want %v", got, tc.wantTrusted)
			}
		})
	}
}
