package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
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

// requireLab skips when not root (namespaces and nftables need it) and
// fails, naming the Debian packages to install, when a program is missing.
func requireLab(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab builds network namespaces and nftables tables: run as root (sudo go test ./test/lab/)")
	}
	if testing.Short() {
		t.Skip("the lab takes about a minute; not in -short mode")
	}
	var missing []string
	pkgs := map[string]bool{}
	for cmd, pkg := range requiredCommands() {
		if _, err := lookPath(cmd); err != nil {
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

// lookPath finds cmd on PATH or in the sbin directories, which are not on
// every user's PATH.
func lookPath(cmd string) (string, error) {
	if p, err := exec.LookPath(cmd); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, cmd)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", cmd)
}

// repoRoot walks up from the working directory to go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// buildDaemon builds cmd/iotgw into dir; the build cache makes the second
// test's build a link step.
func buildDaemon(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "iotgw")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/iotgw")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/iotgw: %v\n%s", err, out)
	}
	return bin
}

// goTool is the go command running this test (GOROOT/bin/go) when it
// can be found, so the daemon is built with the same toolchain.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
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
