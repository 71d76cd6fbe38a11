package main

import (
	"context"
	"fmt"
	"io"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// redirectPorts is the part of the quarantine backend's configuration
// that names the router's ports its redirects lead to: the notice page,
// and the DNS proxy when it is on. `run` and `fw4-include` share it, so
// that the rules fw4 includes name the ports the daemon redirects to.
func redirectPorts(cfg *config.Config) quarantine.Config {
	q := quarantine.Config{NoticePort: uint16(cfg.Quarantine.NoticePort)}
	if cfg.DNSProxy.Enabled {
		q.DNSProxyPort = uint16(cfg.DNSProxy.Port)
	}
	return q
}

// runFW4Include prints the rules OpenWrt's firewall (fw4) includes in
// its input chain for iotgw's redirects; the init script writes them
// where the package's include in /usr/share/nftables.d finds them.
func runFW4Include(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fw4-include", "", stderr)
	load := configFlagSet(fs)
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	cfg, path, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw fw4-include: %v\n", err)
		return exitUsage
	}
	text := "# iotgw fw4-include --config " + path + ": fw4 reads these rules into its\n" +
		"# input chain. They accept connections iotgw redirected to its own ports.\n" +
		quarantine.FW4Input(redirectPorts(cfg))
	if _, err := io.WriteString(stdout, text); err != nil {
		fmt.Fprintf(stderr, "iotgw fw4-include: %v\n", err)
		return 1
	}
	return exitOK
}
