package main

import (
	"context"
	"fmt"
	"io"
	"strings"

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

// exitFW4Missing is fw4-include --check's status when fw4 is loaded
// without one of the rules, or its chain could not be read: either way
// the init script reloads fw4.
const exitFW4Missing = 1

// runFW4Include prints the rules OpenWrt's firewall (fw4) includes in
// its input chain for iotgw's redirects; the init script writes them
// where the package's include in /usr/share/nftables.d finds them. With
// --check it prints nothing of them and says instead whether fw4's
// running input chain has them all: the init script reloads fw4 on that,
// not on whether the file changed, since a fw4 reload after the package
// was removed drops them while the file may stay the same.
func runFW4Include(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fw4-include", "", stderr)
	load := configFlagSet(fs)
	check := fs.Bool("check", false, "exit 0 when fw4's running input chain has every rule (or fw4 is not loaded), 1 when it lacks one")
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	cfg, path, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw fw4-include: %v\n", err)
		return exitUsage
	}
	if *check {
		return checkFW4Input(ctx, redirectPorts(cfg), stdout, stderr)
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

// checkFW4Input reads fw4's input chain (read only) for the rules of
// ports. A fw4 that is not loaded needs no reload: it reads the include
// when it starts.
func checkFW4Input(ctx context.Context, ports quarantine.Config, stdout, stderr io.Writer) int {
	nft, err := quarantine.NewNFTables(ports)
	if err != nil {
		fmt.Fprintf(stderr, "iotgw fw4-include: %v\n", err)
		return exitFW4Missing
	}
	missing, loaded, err := nft.FW4InputMissing(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "iotgw fw4-include: %v\n", err)
		return exitFW4Missing
	case !loaded:
		fmt.Fprintln(stdout, "fw4 is not loaded")
	case len(missing) > 0:
		fmt.Fprintf(stdout, "fw4's input chain lacks: %s\n", strings.Join(missing, "; "))
		return exitFW4Missing
	default:
		fmt.Fprintln(stdout, "fw4's input chain has every rule")
	}
	return exitOK
}
