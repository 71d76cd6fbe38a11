package quarantine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// FW4Input has one accept per redirect, each bound to the redirect's
// ports, to conntrack's mark of a rewritten destination and to the
// source's reverse path; its comments are what FW4InputMissing looks for.
// (test/openwrt loads the rules into a firewall4-style table and sends
// traffic through them.)
func TestFW4Input(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		rules []string // proto, original port, iotgw's port
	}{
		{"proxy_and_notice", Config{NoticePort: 8088, DNSProxyPort: 5354}, []string{"udp 53 5354", "tcp 53 5354", "tcp 80 8088"}},
		{"notice_only", Config{NoticePort: 8099}, []string{"tcp 80 8099"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := strings.Split(strings.TrimSuffix(FW4Input(tc.cfg), "\n"), "\n")
			comments := FW4InputComments(tc.cfg)
			if len(lines) != len(tc.rules) || len(comments) != len(tc.rules) {
				t.Fatalf("rules %q, comments %q; want %d", lines, comments, len(tc.rules))
			}
			for i, r := range tc.rules {
				var proto string
				var orig, port int
				fmt.Sscanf(r, "%s %d %d", &proto, &orig, &port)
				want := fmt.Sprintf("%s dport %d ct direction original ct status dnat ct original proto-dst %d fib saddr . iif oif exists accept comment %q", proto, port, orig, comments[i])
				if lines[i] != want {
					t.Errorf("rule %d:\n%s\nwant\n%s", i, lines[i], want)
				}
				if !strings.HasPrefix(comments[i], "iotgw: ") || !strings.Contains(comments[i], fmt.Sprintf("(%s %d to %d)", proto, orig, port)) {
					t.Errorf("comment %q", comments[i])
				}
				if slices.Index(comments, comments[i]) != i {
					t.Errorf("comment %q repeats", comments[i])
				}
			}
		})
	}
}
