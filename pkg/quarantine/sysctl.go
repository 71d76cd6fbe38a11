package quarantine

import (
	"fmt"
	"os"
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
