package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/config"
)

// A second `iotgw run` beside the running one stops before it touches
// the firewall or the state: found by the control socket, or, when it
// was given another socket (and table), by the namespace's lock. Each
// case runs in a namespace of its own, so that a regression changes only
// that namespace's nftables.
func TestSecondDaemonStopsBeforeTouchingAnything(t *testing.T) {
	testenv.RequireRoot(t, "needs root (a network namespace)")
	for _, tc := range []struct {
		name        string
		otherSocket bool // the first daemon listens on another path
		wantErr     string
	}{
		{"same socket", false, "another iotgw is running on"},
		{"other socket and table", true, "another iotgw is running in this network namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := netnstest.New(t, "iotgwrun", "rtr")
			// The LAN the default configuration names, so that nothing
			// before the checks fails first.
			netnstest.CmdIn(t, ns, "ip", "link", "add", "br-lan", "type", "bridge")
			netnstest.CmdIn(t, ns, "ip", "addr", "add", "192.168.1.1/24", "dev", "br-lan")
			netnstest.CmdIn(t, ns, "ip", "link", "set", "br-lan", "up")
			dir := t.TempDir()
			firstSock := filepath.Join(dir, "iotgw.sock")
			answering(t, firstSock, "first")
			cfg := config.Default()
			cfg.Daemon.Socket = firstSock
			if tc.otherSocket {
				cfg.Daemon.Socket = filepath.Join(dir, "try.sock")
				cfg.Quarantine.Table = "iotgw_try"
			}
			// The first daemon's hold on the namespace, made there.
			var release func()
			if err := netnstest.Run(ns, func() (err error) { release, err = claimNetns(); return err }); err != nil {
				t.Fatalf("the first daemon's claim: %v", err)
			}
			defer release()
			netnstest.CmdIn(t, ns, "nft", "add", "table", "inet", "iotgw")
			cfg.Store.Path = filepath.Join(dir, "state.json")
			cfg.Web.Enabled = false
			cfg.DNSProxy.Enabled = false
			cfg.Capture.Mode = "nflog" // which switches conntrack accounting on at start
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			err := netnstest.Run(ns, func() error { return serve(ctx, cfg, "", nil, log) })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("serve: %v, want it to refuse with %q", err, tc.wantErr)
			}
			if _, err := os.Stat(cfg.Store.Path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the state file was touched: %v", err)
			}
			if out := netnstest.CmdIn(t, ns, "nft", "list", "tables"); strings.TrimSpace(out) != "table inet iotgw" {
				t.Errorf("nftables changed before the refusal:\n%s", out)
			}
			if out := netnstest.CmdIn(t, ns, "cat", "/proc/sys/net/netfilter/nf_conntrack_acct"); strings.TrimSpace(out) != "0" {
				t.Errorf("conntrack accounting switched on (%q) before the refusal", out)
			}
			if got := whoAnswers(t, firstSock); got != "first" {
				t.Errorf("%q answers on the socket, want the running daemon", got)
			}
		})
	}
}

// The lock is the namespace's: a second claim there is refused, one in
// another namespace is not, and the first one's release frees it.
func TestClaimNetns(t *testing.T) {
	testenv.RequireRoot(t, "needs root (a network namespace)")
	a, b := netnstest.New(t, "iotgwlock", "a"), netnstest.New(t, "iotgwlock", "b")
	claim := func(ns string) (release func(), err error) {
		err = netnstest.Run(ns, func() (err error) { release, err = claimNetns(); return err })
		return release, err
	}
	first, err := claim(a)
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if _, err := claim(a); !errors.Is(err, errNetnsTaken) {
		t.Errorf("second claim in the same namespace: %v, want %v", err, errNetnsTaken)
	}
	other, err := claim(b)
	if err != nil {
		t.Errorf("claim in another namespace: %v", err)
	} else {
		other()
	}
	first()
	again, err := claim(a)
	if err != nil {
		t.Fatalf("claim after the release: %v", err)
	}
	again()
}
