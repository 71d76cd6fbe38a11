package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// fw4-include prints the rules for the configured ports: the notice
// page's, and the DNS proxy's only while the proxy is on. They are
// quarantine.FW4Input's for the ports `run` redirects to.
func TestFW4Include(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, toml string
		want       quarantine.Config
		lines      int
	}{
		{"defaults", "", quarantine.Config{NoticePort: 8088, DNSProxyPort: 5354}, 3},
		{"ports", "[quarantine]\nnotice_port = 8099\n[dnsproxy]\nport = 5399\n", quarantine.Config{NoticePort: 8099, DNSProxyPort: 5399}, 3},
		{"no_proxy", "[dnsproxy]\nenabled = false\n", quarantine.Config{NoticePort: 8088}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".toml")
			if err := os.WriteFile(path, []byte(tc.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run(t, "fw4-include", "--config", path)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			rules := quarantine.FW4Input(tc.want)
			if !strings.HasSuffix(stdout, "\n"+rules) || strings.Count(rules, "\n") != tc.lines {
				t.Errorf("output:\n%s\nwant it to end in these %d rules:\n%s", stdout, tc.lines, rules)
			}
			for _, l := range strings.Split(strings.TrimSuffix(stdout, rules), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					t.Errorf("line %q before the rules is no comment", l)
				}
			}
		})
	}
	if code, _, stderr := run(t, "fw4-include", "--config", filepath.Join(dir, "missing.toml")); code != exitUsage || stderr == "" {
		t.Errorf("a missing file: exit %d, stderr %q", code, stderr)
	}
}

// fw4-include --check reads fw4's running input chain: 0 when fw4 is
// not loaded or has every rule for the configured ports, 1 when one is
// missing (a fw4 reload after the package's removal), which has the init
// script reload fw4. Run in a namespace of its own, so that the host's
// firewall plays no part.
func TestFW4IncludeCheck(t *testing.T) {
	testenv.RequireRoot(t, "needs root (a network namespace)")
	ns := netnstest.New(t, "iotgwfw4", "rtr")
	path := filepath.Join(t.TempDir(), "iotgw.toml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ports := quarantine.Config{NoticePort: 8088, DNSProxyPort: 5354}
	check := func(t *testing.T) (code int, stdout, stderr string) {
		t.Helper()
		if err := netnstest.Run(ns, func() error {
			code, stdout, stderr = run(t, "fw4-include", "--check", "--config", path)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return code, stdout, stderr
	}
	nft := func(t *testing.T, script string) {
		t.Helper()
		cmd := netnstest.Command(ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v\n%s", err, out)
		}
	}
	// fw4's table as a reload leaves it, with the include's rules or not.
	fw4 := func(rules string) string {
		return "table inet fw4\nflush table inet fw4\ntable inet fw4 {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname \"lo\" accept\n" +
			rules + "\t\tct state established,related accept\n\t}\n}\n"
	}
	all := quarantine.FW4Input(ports)
	notice := all[strings.LastIndex(strings.TrimSuffix(all, "\n"), "\n")+1:]
	for _, step := range []struct {
		name, ruleset string
		code          int
		stdout        string
	}{
		{"fw4_not_loaded", "", exitOK, "fw4 is not loaded"},
		{"fw4_without_the_rules", fw4(""), exitFW4Missing, "lacks: iotgw: DNS redirected to iotgw's proxy (udp 53 to 5354); iotgw: DNS redirected to iotgw's proxy (tcp 53 to 5354); iotgw: HTTP"},
		{"fw4_with_one_rule", fw4(notice), exitFW4Missing, "lacks: iotgw: DNS redirected to iotgw's proxy (udp 53 to 5354); iotgw: DNS redirected to iotgw's proxy (tcp 53 to 5354)\n"},
		{"fw4_with_every_rule", fw4(all), exitOK, "has every rule"},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.ruleset != "" {
				nft(t, step.ruleset)
			}
			code, stdout, stderr := check(t)
			if code != step.code || !strings.Contains(stdout, step.stdout) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q", code, stdout, stderr, step.code, step.stdout)
			}
		})
	}
}
