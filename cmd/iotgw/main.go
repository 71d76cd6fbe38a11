// Command iotgw holds the devices on a home network to the consumer-IoT
// security baseline (ETSI EN 303 645). Sub-commands: analyze recorded
// traffic, run the daemon, and talk to a running daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/iotgw/iotgw/internal/capdrop"
	"github.com/iotgw/iotgw/internal/localzone"
)

// Set with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFindings = 1 // analyze: findings at or above --fail-on
	exitUsage    = 2 // bad arguments, configuration or input
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run the daemon: watch the LAN, enforce policy with nftables", runRun},
		{"analyze", "inspect capture files (pcap, pcapng) and report devices and findings", runAnalyze},
		{"devices", "list the devices the running daemon knows", runDevices},
		{"quarantine", "quarantine a device (MAC) as the owner", runQuarantine},
		{"release", "release a device (MAC) from quarantine", runRelease},
		{"trust", "trust a device (MAC): never quarantined (--off: stop trusting it)", runTrust},
		{"status", "show the running daemon's health", runStatus},
		{"audit", "run the active audit (ports, default logins) of a device (MAC) now", runAudit},
		{"uninstall-rules", "delete iotgw's nftables tables (package removal)", runUninstallRules},
		{"setup-code", "print the one-time code that sets the web page's password (--reset: forget it)", runSetupCode},
		{"check-config", "validate the configuration file", runCheckConfig},
		{"fw4-include", "print the rules OpenWrt's firewall (fw4) needs for iotgw's redirects", runFW4Include},
		{"version", "print version, commit and Go version", runVersion},
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		// Before anything else, since on success the program starts
		// over in place with only the capabilities the daemon uses.
		if err := capdrop.Narrow(capdrop.Daemon); err != nil {
			fmt.Fprintf(os.Stderr, "iotgw run: keeping every capability: %v\n", err)
		}
	}
	// Times on the page, in alerts and quiet hours are the router's.
	tz, tzSet := os.LookupEnv("TZ")
	if loc, err := localzone.Resolve(time.Local, tz, tzSet, localzone.OpenWrtFile); err != nil {
		fmt.Fprintf(os.Stderr, "iotgw: %v; showing times in UTC\n", err)
	} else {
		time.Local = loc
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "iotgw: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: iotgw <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'iotgw <command> -h' for a command's flags.")
}

// newFlagSet makes a flag set that reports errors instead of exiting.
func newFlagSet(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("iotgw "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, strings.TrimSpace(fmt.Sprintf("usage: iotgw %s [flags] %s", name, args)))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; the second result is the exit status to return
// when parsing did not succeed (help asked for, or a bad flag).
//
// Flags may follow arguments ("analyze x.pcap --json"), as owners type
// them; after "--" everything is an argument (a file named "-x.pcap").
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return false, exitOK
			}
			return false, exitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	// Leave the arguments where fs.Args finds them.
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return false, exitUsage
	}
	return true, exitOK
}

// parseNoArgs is parseFlags for a command that takes no arguments: one
// left over (a configuration path without --config, "reset" without its
// dashes) is refused rather than ignored.
func parseNoArgs(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if ok, code := parseFlags(fs, args); !ok {
		return false, code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false, exitUsage
	}
	return true, exitOK
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "", stderr)
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	if _, err := fmt.Fprintf(stdout, "iotgw %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH); err != nil {
		fmt.Fprintf(stderr, "iotgw version: %v\n", err)
		return exitUsage
	}
	return exitOK
}
