package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
)

// tv is the bundled capture's TV, which announces miniupnpd 1.6.
var tv = hwaddr.MAC{0x8c, 0x79, 0xf5, 0x3d, 0x4e, 0x5f}

// everyHoleConfig enforces and quarantines for every known hole, not
// only for exploited ones: miniupnpd 1.6 is reason enough.
func everyHoleConfig() *config.Config {
	cfg := enforcingConfig()
	cfg.Policy.QuarantineExploitedOnly = false
	return cfg
}

// The TV is quarantined for its miniupnpd 1.6 (this owner quarantines
// every known hole), which its SSDP announcement and its HTTP server's
// Server header name. It is updated and announces miniupnpd 2.3.3: an
// announcement, which anyone on the LAN can send in its name, changes
// nothing; its HTTP server naming 2.3.3 too withdraws the finding about
// 1.6, and the quarantine waits for the owner, who knows whether they
// updated it; released, it stays free.
func TestUpdatedDeviceWaitsForTheOwner(t *testing.T) {
	cfg := everyHoleConfig()
	fake, dir := newFake(t), t.TempDir()
	h := start(t, cfg, fake, dir)
	defer func() { h.stop() }()
	h.settle()
	if _, ok := quarantined(t, fake)[tv]; !ok {
		t.Fatal("the TV with miniupnpd 1.6 is not quarantined")
	}
	// The TV's own word, now with the new version: first its
	// announcement, then its HTTP server's header.
	updated := func(kind event.Kind) *event.Event {
		t.Helper()
		h.d.mu.Lock()
		defer h.d.mu.Unlock()
		dev, _ := h.d.pipe.Inventory().Lookup(device.Key{MAC: tv})
		for _, o := range dev.Observations {
			if o.Kind != kind {
				continue
			}
			c := copyEvent(o)
			for k, v := range c.Evidence {
				if strings.Contains(v, "MiniUPnPd/1.6") {
					c.Evidence[k] = strings.ReplaceAll(v, "MiniUPnPd/1.6", "MiniUPnPd/2.3.3")
					c.Time = time.Now()
					return &c
				}
			}
		}
		t.Fatalf("no %s observation of the TV names MiniUPnPd/1.6", kind)
		return nil
	}
	inject := func(ev *event.Event) {
		h.d.mu.Lock()
		h.d.pipe.Inject(ev)
		h.d.mu.Unlock()
		h.settle()
	}
	announcement, server := updated(event.KindSSDP), updated(event.KindHTTPServer)
	inject(announcement)
	if v, _ := h.d.Device(tv); v.Quarantine == nil || v.Quarantine.By == string(store.ActorUpdate) {
		t.Fatalf("after an announcement alone: record %+v; want the policy quarantine kept", v.Quarantine)
	}
	inject(server)
	v, _ := h.d.Device(tv)
	if _, ok := quarantined(t, fake)[tv]; !ok || v.Quarantine == nil || v.Quarantine.By != string(store.ActorUpdate) {
		t.Fatalf("after the TV's own word: kernel %v, record %+v; want it held for the owner", quarantined(t, fake)[tv], v.Quarantine)
	}
	for _, f := range v.Findings {
		if f.Kind == event.KindOutdatedFirmware && f.Evidence["product"] == "miniupnpd" {
			t.Errorf("finding about %s %s kept", f.Evidence["product"], f.Evidence["version"])
		}
	}
	var told bool
	for _, ev := range h.d.Events(api.EventFilter{Limit: 1000}) {
		told = told || ev.Kind == event.KindFirmwareUpdated && ev.Evidence["from"] == "1.6" && ev.Evidence["to"] == "2.3.3"
	}
	if !told {
		t.Error("no firmware_updated event")
	}
	var notice *alert.Alert
	h.alerts.mu.Lock()
	for i := range h.alerts.sent {
		if a := &h.alerts.sent[i]; a.Kind == alert.KindQuarantined && strings.Contains(a.Title, "reports an update") {
			notice = a
		}
	}
	h.alerts.mu.Unlock()
	if notice == nil || notice.Urgent || !strings.Contains(notice.Body, "2.3.3") {
		t.Errorf("the owner was not told the TV reports an update and waits: %+v", notice)
	}
	// A restart keeps it waiting; the owner's release frees it for good.
	h.stop()
	h = launch(t, cfg, fake, dir, false)
	h.settle()
	if v, _ := h.d.Device(tv); v.Quarantine == nil || v.Quarantine.By != string(store.ActorUpdate) {
		t.Fatalf("after a restart: record %+v", v.Quarantine)
	}
	if err := h.d.Release(context.Background(), tv); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if _, ok := quarantined(t, fake)[tv]; ok {
		t.Error("released by the owner, the TV is still quarantined")
	}
}

// After a restart the inventory knows no software until devices show it
// again; a device showing other software meanwhile is no update.
func TestSilenceIsNoUpdate(t *testing.T) {
	cfg := everyHoleConfig()
	fake, dir := newFake(t), t.TempDir()
	h := start(t, cfg, fake, dir)
	h.settle()
	h.stop()
	h = launch(t, cfg, fake, dir, false)
	defer h.stop()
	h.settle()
	ua := &event.Event{V: event.SchemaVersion, Time: time.Now(), Type: event.TypeObservation, Kind: event.KindHTTPClient,
		Severity: event.SeverityInfo, Device: event.Endpoint{MAC: tv.String(), IP: "192.168.50.103", Local: true},
		Evidence: event.Evidence{"user_agent": "curl/8.5.0"}}
	h.d.mu.Lock()
	h.d.pipe.Inject(ua)
	h.d.mu.Unlock()
	h.settle()
	if _, ok := quarantined(t, fake)[tv]; !ok {
		t.Error("the TV was released though it never showed another miniupnpd")
	}
	v, _ := h.d.Device(tv)
	kept := false
	for _, f := range v.Findings {
		kept = kept || f.Kind == event.KindOutdatedFirmware && f.Evidence["product"] == "miniupnpd"
	}
	if !kept {
		t.Error("the finding about miniupnpd 1.6 was withdrawn")
	}
}
