package daemon

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

// TestAccountingTurnedOnAgain: conntrack accounting turned off while the
// daemon runs is turned on again at the daemon's minute check, and the
// log says that connections opened meanwhile were not inspected.
func TestAccountingTurnedOnAgain(t *testing.T) {
	var log syncBuffer
	var checks atomic.Int32
	h := launch(t, enforcingConfig(), newFake(t), t.TempDir(), false, func(d *Deps) {
		d.Logger = slog.New(slog.NewTextHandler(&log, nil))
		d.KeepAccounting = func() (bool, error) { return checks.Add(1) == 1, nil }
	})
	defer h.stop()
	eventually(t, "the daemon to check conntrack accounting", func() bool { return checks.Load() > 0 })
	eventually(t, "the daemon to say that accounting was off", func() bool {
		return strings.Contains(log.String(), "conntrack accounting was off")
	})
}
