package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
)

// BenchmarkDeviceRecords is the part of the store hand-over (once a minute)
// that holds the daemon's lock, which the packet path waits for: the
// inventory full (1,024 devices, the default cap) with 64 findings each
// (the per-device cap), and a home network's 32 devices with 8.
func BenchmarkDeviceRecords(b *testing.B) {
	for _, size := range []struct{ devices, findings int }{{32, 8}, {1024, 64}} {
		b.Run(fmt.Sprintf("%d_devices_%d_findings", size.devices, size.findings), func(b *testing.B) {
			cfg := enforcingConfig()
			cfg.Policy.Mode = "monitor"
			d, err := New(cfg, routerOwn(), Deps{Enforcer: newFake(b), Store: store.Open(store.Options{Path: b.TempDir() + "/state.json"}),
				Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
				OpenSource: func(context.Context) (capture.Source, error) { return nil, errors.New("not opened") }})
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			d.mu.Lock()
			for i := range size.devices {
				mac := hwaddr.MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
				ip := fmt.Sprintf("192.168.50.%d", 10+i%200)
				for j := range size.findings {
					d.pipe.Inject(&event.Event{V: 1, Time: t0, Type: event.TypeFinding, Kind: event.KindPlaintextProtocol,
						Severity: event.SeverityLow, Summary: "Unencrypted HTTP to the internet",
						Device:   event.Endpoint{MAC: mac.String(), IP: ip, Local: true},
						Evidence: event.Evidence{"protocol": "http", "port": fmt.Sprint(8000 + j), "destination": "203.0.113.7"}})
				}
			}
			recs := d.deviceRecordsLocked()
			d.mu.Unlock()
			if len(recs) != size.devices || len(recs[0].Findings) != size.findings {
				b.Fatalf("%d records, %d findings in the first: the inventory did not take the events", len(recs), len(recs[0].Findings))
			}
			b.ReportAllocs()
			for b.Loop() {
				d.mu.Lock()
				d.deviceRecordsLocked()
				d.mu.Unlock()
			}
		})
	}
}
