package quarantine

import (
	"os"
	"os/exec"
	"testing"
)

// Kernel tests build throw-away network namespaces and never touch the
// namespace the test runs in. They need root; without it they skip, with it
// they must run (CI runs as root), so a missing tool is a failure.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and nftables")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian: iproute2, nftables): %v", tool, err)
		}
	}
}
