package daemon

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/store"
)

// TestOwnerActionsOnFlash: the owner's action from the page or the CLI
// is in the state file when the call returns, so that a power cut right
// after "released" does not bring the quarantine back at the next start.
// It used to be left to the store's background write. The store's own
// writer does not run here: what is in the file, the action wrote.
func TestOwnerActionsOnFlash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, dir)
	defer h.stop()
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; !ok {
		t.Fatal("camera not quarantined by policy")
	}
	onFlash := func(t *testing.T) (*store.Quarantine, store.Decision) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "state.json"))
		if err != nil {
			t.Fatalf("no state file: %v", err)
		}
		var st store.State
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		var q *store.Quarantine
		for i := range st.Quarantines {
			if st.Quarantines[i].MAC == camera {
				q = &st.Quarantines[i]
			}
		}
		var dec store.Decision
		for _, d := range st.Decisions {
			if d.MAC == camera {
				dec = d
			}
		}
		return q, dec
	}
	tests := []struct {
		name   string
		action func() error
		check  func(q *store.Quarantine, dec store.Decision) bool
	}{
		{"release", func() error { return h.d.Release(ctx, camera) },
			func(q *store.Quarantine, dec store.Decision) bool { return q == nil && !dec.ReleasedAt.IsZero() }},
		{"quarantine", func() error { return h.d.Quarantine(ctx, camera, "isolate", time.Hour) },
			func(q *store.Quarantine, _ store.Decision) bool {
				return q != nil && q.By == store.ActorOwner && q.Mode == "isolate"
			}},
		{"trust", func() error { return h.d.SetTrusted(ctx, camera, true) },
			func(q *store.Quarantine, dec store.Decision) bool { return q == nil && dec.Trusted }},
		{"name", func() error { return h.d.SetName(ctx, camera, "Hall camera") },
			func(_ *store.Quarantine, dec store.Decision) bool { return dec.Name == "Hall camera" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.action(); err != nil {
				t.Fatal(err)
			}
			if q, dec := onFlash(t); !tt.check(q, dec) {
				t.Errorf("state file after the %s: quarantine %+v, decision %+v", tt.name, q, dec)
			}
		})
	}
}
