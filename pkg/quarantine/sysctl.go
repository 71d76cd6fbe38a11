package quarantine

import (
	"fmt"
	"os"
	"strings"
)

// conntrackAcctPath is the per-network-namespace switch for conntrack byte
// and packet counters, which the capture chain's "ct bytes" needs.
const conntrackAcctPath = "/proc/sys/net/netfilter/nf_conntrack_acct"

// EnableConntrackAccounting turns on conntrack accounting in the current
// network namespace (net.netfilter.nf_conntrack_acct=1). Connections that
// already exist stay uncounted; their "ct packets" reads 0, and the capture
// chain counts their budget as spent (their first bytes are gone).
func EnableConntrackAccounting() error {
	if err := os.WriteFile(conntrackAcctPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("quarantine: enable conntrack accounting: %w", err)
	}
	return nil
}

// KeepConntrackAccounting turns conntrack accounting on again when
// something turned it off, and reports whether it was off. Connections
// opened meanwhile have no counters, and the capture chain counts them as
// spent: without a check they would all go uncaptured until the next
// start.
func KeepConntrackAccounting() (wasOff bool, err error) {
	b, err := os.ReadFile(conntrackAcctPath)
	if err != nil {
		return false, fmt.Errorf("quarantine: read conntrack accounting: %w", err)
	}
	if strings.TrimSpace(string(b)) != "0" {
		return false, nil
	}
	return true, EnableConntrackAccounting()
}
