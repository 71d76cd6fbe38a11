package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/store"
)

// countingStore counts the device records handed to it.
type countingStore struct {
	*store.Store
	puts int
}

func (c *countingStore) PutDevice(r store.DeviceRecord) error {
	c.puts++
	return c.Store.PutDevice(r)
}

// TestHandOverEveryMinute: the tick hands the devices' routine changes to
// the store once a minute, or once per write interval when that is
// shorter; the last hand-over before a stop is not held back.
func TestHandOverEveryMinute(t *testing.T) {
	st := &countingStore{Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"})}
	cfg := enforcingConfig()
	d, err := New(cfg, routerOwn(), Deps{Enforcer: newFake(t), Store: st,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(context.Context) (capture.Source, error) { return nil, errors.New("not opened") }})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	d.mu.Lock()
	d.pipe.Inject(&event.Event{V: 1, Time: t0, Type: event.TypeFinding, Kind: event.KindPlaintextProtocol,
		Severity: event.SeverityLow, Summary: "Unencrypted HTTP to the internet",
		Device:   event.Endpoint{MAC: "02:00:00:00:00:01", IP: "192.168.1.50", Local: true},
		Evidence: event.Evidence{"protocol": "http", "destination": "203.0.113.7"}})
	d.mu.Unlock()

	steps := []struct {
		at            time.Duration // after t0
		writeInterval time.Duration
		want          int // hand-overs so far
	}{
		{0, 10 * time.Minute, 1},
		{5 * time.Second, 10 * time.Minute, 1},
		{55 * time.Second, 10 * time.Minute, 1},
		{60 * time.Second, 10 * time.Minute, 2},
		{62 * time.Second, 5 * time.Second, 2},
		{65 * time.Second, 5 * time.Second, 3},
	}
	for _, s := range steps {
		d.mu.Lock()
		d.cfg.Store.WriteInterval.Duration = s.writeInterval
		d.mu.Unlock()
		d.persistDevices(t0.Add(s.at))
		if st.puts != s.want {
			t.Fatalf("at +%v (write interval %v): %d hand-overs, want %d", s.at, s.writeInterval, st.puts, s.want)
		}
	}
	d.persistAll()
	if st.puts != 4 {
		t.Errorf("%d hand-overs after the last one before a stop, want 4", st.puts)
	}
}
