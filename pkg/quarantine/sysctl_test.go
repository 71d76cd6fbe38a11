package quarantine

import (
	"os"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// TestKeepConntrackAccounting: accounting that something turned off while
// the daemon runs is turned on again, and said so; accounting on is left
// alone.
func TestKeepConntrackAccounting(t *testing.T) {
	netnstest.RequireNFTables(t)
	ns := netnstest.New(t, "iotgw-acct", "router")
	// A ct rule has the kernel track connections in the namespace, which
	// gives it the switch.
	netnstest.CmdIn(t, ns, "nft", "add table inet t; add chain inet t c { type filter hook input priority 0; }; add rule inet t c ct state established accept")
	for _, tc := range []struct {
		before string
		wasOff bool
	}{
		{"0\n", true},
		{"1\n", false},
	} {
		var wasOff bool
		var after []byte
		err := netnstest.Run(ns, func() error {
			if err := os.WriteFile(conntrackAcctPath, []byte(tc.before), 0o644); err != nil {
				return err
			}
			var err error
			if wasOff, err = KeepConntrackAccounting(); err != nil {
				return err
			}
			after, err = os.ReadFile(conntrackAcctPath)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if wasOff != tc.wasOff || strings.TrimSpace(string(after)) != "1" {
			t.Errorf("accounting %q: reported off %v, now %q; want %v, 1", strings.TrimSpace(tc.before), wasOff, strings.TrimSpace(string(after)), tc.wasOff)
		}
	}
}
