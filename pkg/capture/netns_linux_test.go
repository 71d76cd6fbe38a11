//go:build linux

package capture

import (
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
)

// requireRoot skips tests that build network namespaces when not root;
// CI runs as root, so there they run (testenv.RequireRoot fails them
// there otherwise).
func requireRoot(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t, "needs root to build network namespaces")
}

// sendDatagram sends payload in one datagram from namespace ns to addr.
func sendDatagram(t *testing.T, ns, network, addr, payload string) {
	t.Helper()
	if err := netnstest.Send(ns, network, addr, []byte(payload)); err != nil {
		t.Fatal(err)
	}
}
