package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
)

// TestNewDeviceFloodBounded: a device cycling through MAC addresses, ten
// new ones a minute for three hours, used to alert each (a digest at the
// channel's rate limit, day and night, pushing the owner's other alerts
// out of a full queue). Now the owner hears of the first few one by one
// and then of the rest as one count an hour; an hour without a new
// device, and they are told one by one again.
func TestNewDeviceFloodBounded(t *testing.T) {
	sent := &alerts{}
	d, err := New(enforcingConfig(), routerOwn(), Deps{
		Enforcer: newFake(t), Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}), Alerts: sent,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 0
	join := func(at time.Time) {
		n++
		mac := hwaddr.MAC{0x02, 0, 0, 0, byte(n >> 8), byte(n)} // locally administered, as a random MAC
		d.seen(mac, netip.MustParseAddr("192.168.50."+strconv.Itoa(10+n%200)), "", device.SourceLease, at)
	}
	const hours = 3
	for minute := range hours * 60 {
		at := start.Add(time.Duration(minute) * time.Minute)
		for range 10 {
			join(at)
		}
		d.announceNew(at)
	}
	// The flood ends; the last hour's count is told when the hour is up.
	end := start.Add(hours * time.Hour)
	for at := end; at.Before(end.Add(2 * time.Hour)); at = at.Add(time.Minute) {
		d.announceNew(at)
	}
	single, summaries, counted := 0, 0, 0
	for _, a := range sent.sent {
		if a.Kind != alert.KindNewDevice {
			continue
		}
		if a.Device != nil {
			single++
			continue
		}
		summaries++
		c, err := strconv.Atoi(a.Facts["count"])
		if err != nil {
			t.Errorf("summary %q without a count: %v", a.Title, a.Facts)
		}
		counted += c
	}
	if single+summaries > 20 {
		t.Fatalf("%d new devices in %d hours sent %d new-device alerts (%d one by one, %d counts), want a handful", n, hours, single+summaries, single, summaries)
	}
	if single != alert.NewDeviceAlertsPerHour || summaries != hours || single+counted != n {
		t.Errorf("%d one by one and %d counts of %d devices in all; want %d one by one, %d counts, all %d devices told",
			single, summaries, counted, alert.NewDeviceAlertsPerHour, hours, n)
	}
	// After an hour with none, a new device is told on its own again.
	before := len(sent.sent)
	at := end.Add(2 * time.Hour)
	join(at)
	d.announceNew(at)
	if got := sent.sent[before:]; len(got) != 1 || got[0].Device == nil {
		t.Errorf("a device new after the flood sent %+v, want its own alert", got)
	}
}

// TestNewDeviceBoundFollowsClockStep: NTP setting the clock while the
// daemon runs moves the new-device bound's hour with it, as it moves the
// problems' hold-down: a flood that began before the step is still
// counted after it, not told one by one again, whichever way the clock
// moved.
func TestNewDeviceBoundFollowsClockStep(t *testing.T) {
	right := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		boot time.Time
	}{
		{"forward_a_month", right.AddDate(0, -1, 0)},
		{"back_a_day", right.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk, fake, withClock := clockedFake(t, tc.boot)
			sent := &alerts{}
			deps := Deps{
				Enforcer: fake, Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}), Alerts: sent,
				Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
				OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() },
			}
			withClock(&deps)
			d, err := New(enforcingConfig(), routerOwn(), deps)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			join := func() {
				n++
				mac := hwaddr.MAC{0x02, 0, 0, 0, 0, byte(n)}
				d.seen(mac, netip.MustParseAddr("192.168.50."+strconv.Itoa(10+n)), "", device.SourceLease, clk.Now())
			}
			d.tick(clk.Now()) // the first reading of the clock
			for range alert.NewDeviceAlertsPerHour {
				join()
			}
			d.announceNew(clk.Now())
			if got := sent.kinds()[string(alert.KindNewDevice)]; got != alert.NewDeviceAlertsPerHour {
				t.Fatalf("%d new-device alerts before the step, want %d", got, alert.NewDeviceAlertsPerHour)
			}
			clk.Advance(time.Minute)
			clk.Set(right) // NTP
			clk.Advance(5 * time.Second)
			d.tick(clk.Now())
			before := len(sent.sent)
			join()
			d.announceNew(clk.Now())
			for _, a := range sent.sent[before:] {
				if a.Kind == alert.KindNewDevice && a.Device != nil {
					t.Errorf("device %d of the hour, joined after the step, told on its own: %q", n, a.Title)
				}
			}
		})
	}
}
