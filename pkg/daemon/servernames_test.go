package daemon

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// quietOpened is a packet source that closes opened when the daemon
// opens it, which it does once its state is restored, and then stays
// silent: the test feeds the engine itself.
func quietOpened(opened chan<- struct{}) func(*Deps) {
	var once sync.Once
	return func(d *Deps) {
		d.OpenSource = func(ctx context.Context) (capture.Source, error) {
			once.Do(func() { close(opened) })
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
}

// TestRestartKeepsTheServiceOfCleartextUse: the camera looks its cloud
// up and uploads to it over plain HTTP, for which the owner's policy
// quarantines it; the owner releases it knowing the finding. After a
// restart the camera, on its cached DNS answer, goes on uploading: its
// page shows one finding for the service, counting both uploads, not a
// second one for the address, and it is not quarantined again, nor is
// the owner's phone told it was.
func TestRestartKeepsTheServiceOfCleartextUse(t *testing.T) {
	const cloud = "cloud.example.com"
	cfg := enforcingConfig()
	cfg.Policy.Actions[string(event.KindPlaintextProtocol)] = config.ActionQuarantine
	// Before the conversations' first packet, which the finding dates.
	clk := testclock.New(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC))
	fake, dir := newFake(t), t.TempDir()
	run := func() *harness {
		opened := make(chan struct{})
		h := launch(t, cfg, fake, dir, false, func(d *Deps) { d.Now = clk.Now }, quietOpened(opened))
		<-opened
		return h
	}
	// upload is the camera's HTTP POST to its cloud, after the
	// conversations' base time.
	upload := func(h *harness, after time.Duration) {
		h.d.mu.Lock()
		defer h.d.mu.Unlock()
		inspecttest.NewTCPAt(h.d.pipe.Engine(), "192.168.1.10:40000", "203.0.113.10:80", after).ClientMAC(camera).
			Client("POST /api/upload HTTP/1.1\r\nHost: " + cloud + "\r\nContent-Length: 2\r\n\r\n{}").Close()
	}

	h := run()
	h.d.mu.Lock()
	inspecttest.NewUDP(h.d.pipe.Engine(), "192.168.1.10:30000", "192.168.1.1:53").ClientMAC(camera).
		Lookup(1, cloud, netip.MustParseAddr("203.0.113.10"))
	h.d.mu.Unlock()
	upload(h, 0)
	h.settle()
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		h.stop()
		t.Fatal("camera not quarantined for its cleartext upload")
	}
	clk.Advance(time.Hour)
	if err := h.d.Release(context.Background(), camera); err != nil {
		h.stop()
		t.Fatal(err)
	}
	h.stop()

	clk.Advance(10 * time.Minute)
	h = run()
	defer h.stop()
	upload(h, 2*time.Hour) // after the release
	h.settle()
	dev, _ := h.d.Device(camera)
	var uses []string
	count := 0
	for _, f := range dev.Findings {
		if f.Kind == event.KindPlaintextProtocol {
			uses = append(uses, f.Summary)
			count = f.Count
		}
	}
	if len(uses) != 1 || count != 2 {
		t.Errorf("cleartext findings after the restart %q, the last counting %d; want the one for %s counting 2", uses, count, cloud)
	}
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Error("the camera is quarantined again for the use the owner released it knowing")
	}
	if n := h.alerts.kinds()[string(alert.KindQuarantined)]; n != 0 {
		t.Errorf("%d quarantined alerts after the restart, want none", n)
	}
}
