package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// syncBuffer is a log the test reads while the daemon writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRenamedTableLeftBehind: quarantine.table changed while the daemon
// was stopped. The next start takes the old tables' quarantines over into
// the tables of the new name and deletes the old ones: left behind, they
// went on blocking a device the owner released, and held one whose saved
// record was lost without the daemon knowing it.
func TestRenamedTableLeftBehind(t *testing.T) {
	netnstest.RequireNFTables(t)
	ctx := context.Background()
	ns := netnstest.New(t, "iotgwd", "nft")
	fd := netnstest.Fd(t, ns)
	kernel := func(name string) *quarantine.NFTables {
		n, err := quarantine.NewNFTables(quarantine.Config{NoticePort: 8081, TableName: name}, quarantine.WithNetNSFd(fd))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The last run, under the old name: the owner quarantined the
	// camera, and policy the plug, whose saved record was lost.
	if err := kernel("iotgw_old").Reconcile(ctx, []quarantine.Entry{
		{MAC: camera, Addrs: []netip.Addr{netip.MustParseAddr("192.168.50.10")}, Mode: quarantine.ModeBlock},
		{MAC: plug, Addrs: []netip.Addr{netip.MustParseAddr("192.168.50.11")}, Mode: quarantine.ModeIsolate},
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	editStore(t, dir, func(st *store.Store) {
		if err := st.PutQuarantine(store.Quarantine{MAC: camera, Mode: "block", Since: time.Now(), By: store.ActorOwner, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	})

	var log syncBuffer
	h := launch(t, enforcingConfig(), newFake(t), dir, false, func(d *Deps) {
		d.Enforcer = kernel(quarantine.DefaultTableName)
		d.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	defer h.stop()
	eventually(t, "the daemon did not restore its state", func() bool { return strings.Contains(log.String(), "state restored") })
	if err := h.d.Release(ctx, camera); err != nil {
		t.Fatal(err)
	}

	if tables := netnstest.CmdIn(t, ns, "nft", "list", "tables"); tables != "table inet iotgw\ntable bridge iotgw\n" {
		t.Errorf("tables after the start:\n%s", tables)
	}
	ruleset := netnstest.CmdIn(t, ns, "nft", "list", "ruleset")
	for _, tc := range []struct {
		what string
		mac  string
		want bool
	}{
		{"the camera the owner released", camera.String(), false},
		{"the plug only the old table held", plug.String(), true},
	} {
		if got := strings.Contains(ruleset, tc.mac); got != tc.want {
			t.Errorf("%s (%s) in the kernel's sets: %v, want %v", tc.what, tc.mac, got, tc.want)
		}
	}
	if dev, _ := h.d.Device(plug); dev.Quarantine == nil {
		t.Error("the plug's quarantine, which only the old table held, is not the daemon's")
	}
}
