//go:build linux

package capture

import (
	"os"
	"testing"
)

// requireRoot skips tests that build network namespaces when not root;
// CI runs as root, so there they run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to build network namespaces")
	}
}
