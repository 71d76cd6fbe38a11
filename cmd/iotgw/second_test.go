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
	"github.com/iotgw/iotgw/pkg/config"
)

// A second `iotgw run` beside the running one stops before it touches
// the firewall or the state: run in a namespace of its own, so that a
// regression changes only that namespace's nftables.
func TestSecondDaemonStopsBeforeTouchingAnything(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace)")
	}
	ns := netnstest.New(t, "iotgwrun", "rtr")
	// The LAN the default configuration names, so that nothing before
	// the socket check fails first.
	netnstest.CmdIn(t, ns, "ip", "link", "add", "br-lan", "type", "bridge")
	netnstest.CmdIn(t, ns, "ip", "addr", "add", "192.168.1.1/24", "dev", "br-lan")
	netnstest.CmdIn(t, ns, "ip", "link", "set", "br-lan", "up")
	dir := t.TempDir()
	sock := filepath.Join(dir, "iotgw.sock")
	answering(t, sock, "first")
	cfg := config.Default()
	cfg.Daemon.Socket = sock
	cfg.Store.Path = filepath.Join(dir, "state.json")
	cfg.Web.Enabled = false
	cfg.DNSProxy.Enabled = false
	cfg.Capture.Mode = "nflog" // which switches conntrack accounting on at start
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := netnstest.Run(ns, func() error { return serve(ctx, cfg, "", nil, log) })
	if err == nil || !strings.Contains(err.Error(), "another iotgw is running") {
		t.Fatalf("serve: %v, want it to refuse", err)
	}
	if _, err := os.Stat(cfg.Store.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state file was touched: %v", err)
	}
	if out := netnstest.CmdIn(t, ns, "nft", "list", "tables"); strings.Contains(out, cfg.Quarantine.Table) {
		t.Errorf("nftables changed before the refusal:\n%s", out)
	}
	if out := netnstest.CmdIn(t, ns, "cat", "/proc/sys/net/netfilter/nf_conntrack_acct"); strings.TrimSpace(out) != "0" {
		t.Errorf("conntrack accounting switched on (%q) before the refusal", out)
	}
	if got := whoAnswers(t, sock); got != "first" {
		t.Errorf("%q answers on the socket, want the running daemon", got)
	}
}
