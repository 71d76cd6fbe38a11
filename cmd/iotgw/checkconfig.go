package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/pipeline"
	"github.com/iotgw/iotgw/pkg/store"
)

func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", "", stderr)
	load := configFlagSet(fs)
	lanDevice := fs.String("lan-device", "", "the LAN's network device (OpenWrt's init script passes netifd's for lan): warn when the configuration does not name it")
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	cfg, path, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw check-config: %v\n", err)
		return exitUsage
	}
	// The init script starts the daemon only after this check: a key
	// file `run` cannot use would have procd respawn it until it gives up.
	// An empty secret_file means a random key per start, and a missing or
	// empty file one `run` makes: nothing to check.
	if sf := cfg.Inspect.SecretFile; sf != "" && !pipeline.KeyToMake(sf) {
		if _, err := pipeline.HashKey(sf); err != nil {
			fmt.Fprintf(stderr, "iotgw check-config: %s: %v\n", path, err)
			return exitUsage
		}
	}
	warnings := configWarnings(cfg, path)
	if *lanDevice != "" {
		warnings = append(warnings, lanDeviceUnnamed(cfg, *lanDevice)...)
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "iotgw check-config: warning: %s\n", w)
	}
	if _, err := fmt.Fprintf(stdout, "%s: %s\n", path, checkedState(path)); err != nil {
		fmt.Fprintf(stderr, "iotgw check-config: %v\n", err)
		return exitUsage
	}
	return exitOK
}

// checkedState is what check-config says of a configuration it loaded:
// only the default path may be missing (Load refuses a named one), and
// then nothing was read, which "ok" alone would hide.
func checkedState(path string) string {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "not found; the defaults apply, and they are ok"
	}
	return "ok"
}

// lanDeviceUnnamed says where cfg does not name dev, the LAN's device:
// the example configuration names br-lan, and a router whose LAN is a
// single port without a bridge, or a renamed bridge, would otherwise go
// unwatched with nothing in the log but the daemon's problem.
func lanDeviceUnnamed(cfg *config.Config, dev string) []string {
	var out []string
	if !slices.Contains(cfg.LAN.Interfaces, dev) {
		out = append(out, fmt.Sprintf("lan.interfaces %q does not name %s, the LAN's device (ifstatus lan)", cfg.LAN.Interfaces, dev))
	}
	if cfg.Capture.Mode == "afpacket" && !slices.Contains(cfg.Capture.Interfaces, dev) {
		out = append(out, fmt.Sprintf("capture.interfaces %q does not name %s, the LAN's device (ifstatus lan): its traffic is not captured", cfg.Capture.Interfaces, dev))
	}
	return out
}

// configWarnings are what check-config and run tell of a configuration
// that loads but is not what its owner likely meant.
func configWarnings(cfg *config.Config, path string) []string {
	out := slices.Clone(cfg.Warnings())
	for _, w := range config.ExposedFiles(cfg, path) {
		out = append(out, "a file with secrets is exposed: "+w)
	}
	// Only the DNS proxy's answers for the update domains fill the sets
	// of addresses updates-only devices may reach: without them such a
	// quarantine is a block. Not refused: the owner may mean that until
	// the proxy is set up.
	if cfg.Policy.QuarantineMode == "updates-only" {
		switch {
		case !cfg.DNSProxy.Enabled:
			out = append(out, "policy.quarantine_mode updates-only: the DNS proxy is off (dnsproxy.enabled = false), and only its answers let updates-only devices reach their update hosts: they reach none, as in block")
		case len(cfg.DNSProxy.UpdateDomains) == 0:
			out = append(out, "policy.quarantine_mode updates-only: dnsproxy.update_domains names no update host, so updates-only devices reach none, as in block")
		}
	}
	if cfg.Store.MaxBytes > store.MaxMaxBytes {
		out = append(out, fmt.Sprintf("store.max_bytes %d is taken as %d: a larger state file needs more memory to open than a router can spare",
			cfg.Store.MaxBytes, store.MaxMaxBytes))
	}
	return out
}
