package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/internal/textwidth"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// clientFor loads the configuration for the socket path.
func clientFor(load func() (*config.Config, string, error), stderr io.Writer, name string) (*api.Client, bool) {
	cfg, _, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw %s: %v\n", name, err)
		return nil, false
	}
	return api.NewClient(cfg.Daemon.Socket), true
}

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("devices", "", stderr)
	c, code, ok := daemonCommand(fs, configFlagSet(fs), args, stderr)
	if !ok {
		return code
	}
	devs, err := c.Devices(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "iotgw devices: %v\n", err)
		return 1
	}
	if err := writeDevices(stdout, devs, time.Local); err != nil {
		fmt.Fprintf(stderr, "iotgw devices: %v\n", err)
		return 1
	}
	return exitOK
}

// writeDevices prints the device table of `iotgw devices`; devices are
// named as the page names them, in any script, the columns lined up as a
// terminal draws them.
func writeDevices(w io.Writer, devs []api.Device, loc *time.Location) error {
	rows := [][]string{{"MAC", "STATE", "NAME", "ADDRESSES", "LAST SEEN", "FINDINGS"}}
	for _, d := range devs {
		last := "-"
		if !d.LastSeen.IsZero() {
			last = clockText(d.LastSeen, loc)
		}
		rows = append(rows, []string{d.MAC, d.State, d.DisplayName(), strings.Join(d.Addrs, ","), last, strconv.Itoa(len(d.Findings))})
	}
	return textwidth.WriteColumns(w, rows, 2)
}

// daemonCommand parses "iotgw NAME [flags]" and returns a client of the
// daemon; ok is false when the command should exit with code.
func daemonCommand(fs *flag.FlagSet, load func() (*config.Config, string, error), args []string, stderr io.Writer) (c *api.Client, code int, ok bool) {
	if ok, code := parseNoArgs(fs, args); !ok {
		return nil, code, false
	}
	c, ok = clientFor(load, stderr, strings.TrimPrefix(fs.Name(), "iotgw "))
	if !ok {
		return nil, exitUsage, false
	}
	return c, exitOK, true
}

// macCommand parses "iotgw NAME [flags] MAC [flags]" and returns a client
// and the MAC; ok is false when the command should exit with code.
func macCommand(fs *flag.FlagSet, load func() (*config.Config, string, error), args []string, stderr io.Writer, check func() error) (c *api.Client, mac hwaddr.MAC, code int, ok bool) {
	name := strings.TrimPrefix(fs.Name(), "iotgw ")
	pos, ok, code := parseInterspersed(fs, args)
	if !ok {
		return nil, mac, code, false
	}
	if len(pos) != 1 {
		fs.Usage()
		return nil, mac, exitUsage, false
	}
	mac, err := api.ParseMAC(pos[0])
	if err == nil && check != nil {
		err = check()
	}
	if err != nil {
		fmt.Fprintf(stderr, "iotgw %s: %v\n", name, err)
		return nil, mac, exitUsage, false
	}
	c, ok = clientFor(load, stderr, name)
	if !ok {
		return nil, mac, exitUsage, false
	}
	return c, mac, exitOK, true
}

// parseInterspersed parses flags before and after the positional
// arguments, which it returns: the documented form is
// "iotgw quarantine MAC --mode isolate", and Go's flag package stops at
// the MAC. After "--" every argument is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos []string, ok bool, code int) {
	for {
		if ok, code := parseFlags(fs, args); !ok {
			return nil, false, code
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), true, exitOK
		}
		if len(rest) == 0 {
			return pos, true, exitOK
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("quarantine", "MAC", stderr)
	load := configFlagSet(fs)
	mode := fs.String("mode", "", "block, isolate or updates-only (default: policy.quarantine_mode)")
	dur := fs.String("for", "", "end the quarantine after this long (30m, 24h); default: until released")
	c, mac, code, ok := macCommand(fs, load, args, stderr, func() error {
		if _, err := api.ParseMode(*mode); err != nil {
			return err
		}
		_, err := api.ParseDuration(*dur)
		return err
	})
	if !ok {
		return code
	}
	d, err := c.Quarantine(ctx, mac, api.QuarantineRequest{Mode: *mode, For: *dur})
	if err != nil {
		fmt.Fprintf(stderr, "iotgw quarantine: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s quarantined (%s)%s\n", d.MAC, d.Quarantine.Mode, until(d.Quarantine.Until))
	return exitOK
}

func until(t time.Time) string {
	if t.IsZero() {
		return " until released"
	}
	return " until " + clockText(t, time.Local)
}

// clockText is a time as the owner reads it at the router's console, with
// its zone: the router's clock may be set to UTC while the owner thinks in
// local time, or the other way round.
func clockText(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func runRelease(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("release", "MAC", stderr)
	load := configFlagSet(fs)
	c, mac, code, ok := macCommand(fs, load, args, stderr, nil)
	if !ok {
		return code
	}
	d, err := c.Release(ctx, mac)
	if err != nil {
		fmt.Fprintf(stderr, "iotgw release: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s released (state %s)\n", d.MAC, d.State)
	return exitOK
}

// runTrust marks a device trusted, or with --off no longer: the console's
// form of the page's "Trust this device" and "Stop trusting".
func runTrust(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("trust", "MAC", stderr)
	load := configFlagSet(fs)
	off := fs.Bool("off", false, "stop trusting the device: policy judges it again at once and may quarantine it")
	c, mac, code, ok := macCommand(fs, load, args, stderr, nil)
	if !ok {
		return code
	}
	d, err := c.SetTrusted(ctx, mac, !*off)
	if err != nil {
		fmt.Fprintf(stderr, "iotgw trust: %v\n", err)
		return 1
	}
	if *off {
		fmt.Fprintf(stdout, "%s no longer trusted (state %s)\n", d.MAC, d.State)
	} else {
		fmt.Fprintf(stdout, "%s trusted: never quarantined; its findings are still shown\n", d.MAC)
	}
	return exitOK
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "", stderr)
	c, code, ok := daemonCommand(fs, configFlagSet(fs), args, stderr)
	if !ok {
		return code
	}
	s, err := c.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "iotgw status: %v\n", err)
		return 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "iotgw %s, running since %s, %s mode\n", s.Version, s.Started.Local().Format(time.RFC3339), s.Mode)
	fmt.Fprintf(&b, "capture %s: %d packets, %d flows, %d events", s.Capture, s.Packets, s.Flows, s.Events)
	if s.CaptureLost > 0 {
		fmt.Fprintf(&b, ", %d packets lost before they were read", s.CaptureLost)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%d devices, %d quarantined\n", s.Devices, s.Quarantined)
	for _, p := range s.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		fmt.Fprintf(stderr, "iotgw status: %v\n", err)
		return 1
	}
	if len(s.Problems) > 0 {
		return 1
	}
	return exitOK
}

// runUninstallRules deletes iotgw's nftables tables, under the configured
// name or another it built them under, and nothing else; the package's
// pre-remove script calls it.
func runUninstallRules(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("uninstall-rules", "", stderr)
	load := configFlagSet(fs)
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	cfg, _, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw uninstall-rules: %v\n", err)
		return exitUsage
	}
	n, err := quarantine.NewNFTables(quarantine.Config{NoticePort: uint16(cfg.Quarantine.NoticePort), TableName: cfg.Quarantine.Table})
	var deleted []string
	if err == nil {
		deleted, err = n.Uninstall(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "iotgw uninstall-rules: %v\n", err)
		return 1
	}
	if len(deleted) == 0 {
		fmt.Fprintln(stdout, "no nftables table of iotgw's to remove")
		return exitOK
	}
	fmt.Fprintf(stdout, "removed nftables tables %s\n", strings.Join(deleted, ", "))
	return exitOK
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("audit", "MAC", stderr)
	load := configFlagSet(fs)
	c, mac, code, ok := macCommand(fs, load, args, stderr, nil)
	if !ok {
		return code
	}
	if _, err := c.Audit(ctx, mac); err != nil {
		fmt.Fprintf(stderr, "iotgw audit: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: audit queued; its findings appear in iotgw devices and on the page\n", mac)
	return exitOK
}
