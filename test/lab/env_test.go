package lab

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// requiredCommands maps each program the lab runs to the Debian package
// that ships it; scripts/deps.sh installs them (set "lab").
func requiredCommands() map[string]string {
	return map[string]string{
		"ip":               "iproute2",
		"ss":               "iproute2",
		"nft":              "nftables",
		"ethtool":          "ethtool",
		"busybox":          "busybox",
		"dnsmasq":          "dnsmasq-base",
		"mosquitto":        "mosquitto",
		"mosquitto_passwd": "mosquitto",
		"mosquitto_pub":    "mosquitto-clients",
		"telnetd":          "inetutils-telnetd",
		"expect":           "expect",
		"curl":             "curl",
		"openssl":          "openssl",
		"python3":          "python3",
		"iperf3":           "iperf3",
		"dhclient":         "isc-dhcp-client",
	}
}

// requireLab skips when not root (namespaces and nftables need it) or
// under -short (in CI both fail), and fails, naming the Debian packages
// to install, when a program is missing.
func requireLab(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t, "the lab builds network namespaces and nftables tables: run as root (sudo go test ./test/lab/)")
	testenv.SkipShort(t, "the lab takes about a minute; not in -short mode")
	var missing []string
	pkgs := map[string]bool{}
	for cmd, pkg := range requiredCommands() {
		if _, err := testenv.LookPath(cmd); err != nil {
			missing = append(missing, cmd)
			pkgs[pkg] = true
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		var names []string
		for p := range pkgs {
			names = append(names, p)
		}
		sort.Strings(names)
		t.Fatalf("the lab needs %s: apt-get install %s (or scripts/deps.sh lab)",
			strings.Join(missing, ", "), strings.Join(names, " "))
	}
}

// poll calls check every interval until it reports done or timeout
// passes; it returns the last detail check gave when it times out.
func poll(timeout, interval time.Duration, check func() (done bool, detail string)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, detail := check()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New(detail)
		}
		time.Sleep(interval)
	}
}
