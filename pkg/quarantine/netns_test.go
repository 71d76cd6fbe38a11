package quarantine

import (
	"os"
	"os/exec"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
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

// nsFd opens a namespace for WithNetNSFd; closed when the test ends.
func nsFd(t *testing.T, ns string) int {
	t.Helper()
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// nsRun runs a command inside a namespace.
func nsRun(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return netnstest.Cmd(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}
