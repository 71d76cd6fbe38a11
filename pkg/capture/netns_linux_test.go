//go:build linux

package capture

import (
	"os"
	"strconv"
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

// requireRing skips the tests of AF_PACKET rings on 32-bit builds, where
// OpenAFPacket refuses (TestAFPacketRefusedOn32Bit), and when not root.
func requireRing(t *testing.T) {
	t.Helper()
	if strconv.IntSize == 32 {
		t.Skip("afpacket is refused on 32-bit builds")
	}
	requireRoot(t)
}
