package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
