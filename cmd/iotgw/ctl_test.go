package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/textwidth"
	"github.com/iotgw/iotgw/pkg/api"
)

// The README and docs/lab.md write the owner's commands with the flags
// after the MAC; Go's flag package stops at the first argument that is
// not a flag, so those flags must be parsed after it too.
func TestMACCommandFlagsAfterMAC(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	cfg := filepath.Join(t.TempDir(), "iotgw.toml")
	if err := os.WriteFile(cfg, []byte("[daemon]\nsocket = \""+sock+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const mac = "c0:56:e3:12:34:56"
	// Parsed as far as asking the daemon: there is none.
	const asked = "daemon not reachable"
	for _, tc := range []struct {
		name   string
		args   []string
		code   int // exitUsage, or -1: any other
		stderr string
	}{
		{"quarantine_documented_form", []string{"quarantine", "--config", cfg, mac, "--mode", "isolate", "--for", "24h"}, -1, asked},
		{"quarantine_flags_first", []string{"quarantine", "--config", cfg, "--mode", "isolate", "--for", "24h", mac}, -1, asked},
		{"quarantine_all_flags_after", []string{"quarantine", mac, "--config", cfg, "--for", "24h"}, -1, asked},
		{"quarantine_flag_value_checked_after_mac", []string{"quarantine", "--config", cfg, mac, "--mode", "nuke"}, exitUsage, "iotgw quarantine: mode: want block"},
		{"quarantine_unknown_flag_after_mac", []string{"quarantine", "--config", cfg, mac, "--forever"}, exitUsage, "flag provided but not defined"},
		{"quarantine_two_macs", []string{"quarantine", "--config", cfg, mac, "--mode", "block", "c0:56:e3:12:34:57"}, exitUsage, "usage: iotgw quarantine"},
		{"quarantine_no_mac", []string{"quarantine", "--config", cfg, "--mode", "block"}, exitUsage, "usage: iotgw quarantine"},
		{"quarantine_after_terminator", []string{"quarantine", "--config", cfg, "--", mac}, -1, asked},
		{"quarantine_flag_after_terminator_is_an_argument", []string{"quarantine", "--config", cfg, "--", mac, "--mode", "block"}, exitUsage, "usage: iotgw quarantine"},
		{"release_config_after_mac", []string{"release", mac, "--config", cfg}, -1, asked},
		{"audit_config_after_mac", []string{"audit", mac, "--config", cfg}, -1, asked},
		{"help_after_mac", []string{"release", mac, "-h"}, exitOK, "usage: iotgw release"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if tc.code == -1 && code == exitUsage || tc.code != -1 && code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}

// Times at the console carry their zone: the router's clock and the
// owner's may differ.
func TestClockTextNamesTheZone(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{time.UTC, "2026-11-27 13:05 UTC"},
		{time.FixedZone("CET", 3600), "2026-11-27 14:05 CET"},
		{time.FixedZone("", 5*3600+1800), "2026-11-27 18:35 +0530"},
	} {
		if got := clockText(at, tc.loc); got != tc.want {
			t.Errorf("clockText in %v = %q, want %q", tc.loc, got, tc.want)
		}
	}
}

// TestWriteDevicesNames: `iotgw devices` names a device as the page
// does: no "unknown" type, the host name when nothing else is known.
func TestWriteDevicesNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    api.Device
		want string
	}{
		{"vendor_and_type", api.Device{MAC: "c0:56:e3:1a:2b:3c", Vendor: "Hikvision", Type: "camera"}, "Hikvision camera"},
		{"unknown_type", api.Device{MAC: "94:83:c4:50:00:01", Vendor: "GL Technologies (Hong Kong)", Type: "unknown"}, "GL Technologies (Hong Kong)"},
		{"host_name_only", api.Device{MAC: "3c:22:fb:11:22:33", Type: "unknown", Hostnames: []string{"laptop"}}, "laptop"},
		{"owners_name", api.Device{MAC: "c0:56:e3:1a:2b:3c", Vendor: "Hikvision", Type: "camera", Name: "Hall camera"}, "Hall camera"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.State = api.StateOK
			var out strings.Builder
			if err := writeDevices(&out, []api.Device{tc.d}, time.UTC); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("want a header and one row, got\n%s", out.String())
			}
			cols := strings.Split(lines[1], "  ")
			var name string
			for _, c := range cols[2:] {
				if c = strings.TrimSpace(c); c != "" {
					name = c
					break
				}
			}
			if name != tc.want {
				t.Errorf("name column %q, want %q in\n%s", name, tc.want, out.String())
			}
		})
	}
}

// TestWriteDevicesAlignsColumns: device names are UTF-8 in any script
// (mDNS keeps them), and the columns after the name line up as a
// terminal draws them: a Han character takes two columns, a combining
// mark none.
func TestWriteDevicesAlignsColumns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
	}{
		{"ascii", []string{"Hall camera", "plug"}},
		{"latin", []string{"Küche-Lautsprecher", "Anna’s MacBook Pro", "plug"}},
		{"decomposed", []string{"Ku\u0308che", "Kuche"}},
		{"han_and_hangul", []string{"客厅音箱", "거실 스피커", "Hall camera"}},
		{"emoji", []string{"Cam 📷", "Küchenwaage ⚖", "TV"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var devs []api.Device
			for i, n := range tc.names {
				devs = append(devs, api.Device{MAC: fmt.Sprintf("c0:56:e3:00:00:%02x", i), State: api.StateOK,
					Type: "unknown", Hostnames: []string{n}, Addrs: []string{fmt.Sprintf("192.168.1.%d", 10+i)}})
			}
			var out strings.Builder
			if err := writeDevices(&out, devs, time.UTC); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			at := func(line, col string) int { // the terminal column col starts at
				i := strings.Index(line, col)
				if i < 0 {
					t.Fatalf("no %q in %q", col, line)
				}
				return textwidth.Width(line[:i])
			}
			want := at(lines[0], "ADDRESSES")
			for i, line := range lines[1:] {
				if got := at(line, "192.168.1."); got != want {
					t.Errorf("row %d: addresses at column %d, header at %d:\n%s", i, got, want, out.String())
				}
			}
		})
	}
}

// The daemon's commands whose output cannot be written (a full disk,
// /dev/full) say so on stderr and do not exit 0, as the others do
// (TestWriteErrorsFail).
func TestDaemonCommandWriteErrors(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "iotgw.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/devices", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `[{"mac":"c0:56:e3:12:34:56","state":"ok"}]`)
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"version":"dev","mode":"monitor"}`)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) // until Close
	t.Cleanup(func() { srv.Close() })
	cfg := filepath.Join(dir, "iotgw.toml")
	if err := os.WriteFile(cfg, []byte("[daemon]\nsocket = \""+sock+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for _, name := range []string{"devices", "status"} {
		t.Run(name, func(t *testing.T) {
			if code, stdout, stderr := run(t, name, "--config", cfg); code != exitOK || stdout == "" {
				t.Fatalf("to a buffer: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			var errb bytes.Buffer
			code := dispatch(context.Background(), []string{name, "--config", cfg}, full, &errb)
			if code == exitOK || !strings.Contains(errb.String(), "iotgw "+name+": ") {
				t.Errorf("to /dev/full: exit %d, stderr %q; want a failure told on stderr", code, errb.String())
			}
		})
	}
}
