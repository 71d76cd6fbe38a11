package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
)

// The audit takes a device's target when its audit starts: none for a
// device the daemon does not know or protects, nor for an automatic
// audit of one the owner trusts (on the page or in the file); the
// addresses it used for the others.
func TestAuditTarget(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Policy.Devices = append(cfg.Policy.Devices, config.DeviceRule{MAC: plug, Trusted: true})
	h := start(t, cfg, newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	if err := h.d.SetTrusted(context.Background(), tv, true); err != nil {
		t.Fatal(err)
	}
	for _, requested := range []bool{false, true} {
		if tg, ok := h.d.AuditTarget(camera, requested); !ok || tg.MAC != camera || len(tg.Addrs) == 0 {
			t.Errorf("camera: %+v, %v; want its addresses", tg, ok)
		}
		if _, ok := h.d.AuditTarget(router, requested); ok {
			t.Error("the router itself is an audit target")
		}
		if _, ok := h.d.AuditTarget(hwaddr.MAC{0x02, 0, 0, 0, 0x99, 0x99}, requested); ok {
			t.Error("an unknown device is an audit target")
		}
		for _, mac := range []hwaddr.MAC{plug, tv} {
			if _, ok := h.d.AuditTarget(mac, requested); ok != requested {
				t.Errorf("trusted %s, requested by the owner %v: audit target %v", mac, requested, ok)
			}
		}
	}
}

// The packet path skips the router's own connections: its MAC and one
// of its addresses together, never its MAC alone, which every frame
// routed in from the internet carries on the LAN.
func TestIsRouter(t *testing.T) {
	own := netip.MustParseAddr("192.168.50.1")
	d, err := New(enforcingConfig(), Options{RouterMACs: []hwaddr.MAC{router}, RouterAddrs: []netip.Addr{own}},
		Deps{Enforcer: newFake(t), Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}),
			OpenSource: func(context.Context) (capture.Source, error) { return nil, errors.New("not opened") }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mac  hwaddr.MAC
		addr string
		want bool
	}{
		{router, "192.168.50.1", true},
		{router, "203.0.113.9", false}, // routed in from the internet
		{camera, "192.168.50.1", false},
	} {
		if got := d.isRouterLocked(tc.mac, netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("isRouter(%s, %s) = %v, want %v", tc.mac, tc.addr, got, tc.want)
		}
	}
}

// TestAuditKeepsTheRelease: the owner released the camera knowing its
// default password; the audit verifying that same login later is no new
// finding, and does not quarantine it again.
func TestAuditKeepsTheRelease(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	dev, _ := h.d.Device(camera)
	var passive *event.Event
	for _, f := range dev.Findings {
		if f.Kind == event.KindDefaultCredentials && f.Flow != nil && f.Flow.Server.IP == f.Device.IP {
			passive = f
			break
		}
	}
	if passive == nil {
		t.Fatal("no default login the camera accepted")
	}
	if err := h.d.Release(context.Background(), camera); err != nil {
		t.Fatal(err)
	}
	h.settle()
	// What the audit files for the login it verified (audit.defaultFinding):
	// the port, the redacted shapes, no keyed hash, a flow from the router.
	port := passive.Flow.Server.Port
	server := event.Endpoint{MAC: camera.String(), IP: passive.Device.IP, Port: port, Local: true}
	h.d.Record(&event.Event{V: event.SchemaVersion, Time: time.Now().Add(24 * time.Hour).UTC(), Type: event.TypeFinding,
		Kind: event.KindDefaultCredentials, Severity: event.SeverityHigh, Device: event.Endpoint{MAC: camera.String(), IP: passive.Device.IP, Local: true},
		Source: "audit", Verified: true,
		Flow: &event.Flow{Transport: "tcp", Client: event.Endpoint{IP: "192.168.50.1", Port: 40000, Local: true}, Server: server,
			App: passive.Flow.App, Direction: event.LANToLAN},
		Summary: "login with factory-default credentials (accepted: yes, verified by audit)",
		Evidence: event.Evidence{"protocol": passive.Evidence["protocol"], "password_class": "default", "accepted": "yes", "verified": "yes",
			"port": strconv.Itoa(int(port)), "user": passive.Evidence["user"], "password": passive.Evidence["password"]}})
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; ok {
		t.Error("the audit's verification of the login the owner released the camera for quarantined it again")
	}
}

// TestReloadAudit: a reload's [audit] section takes effect at once:
// fetch_upnp off stops the offers of descriptions, and a changed section
// offers every device to the audit at the next step rather than within
// the hour (one switched on may never have seen them).
func TestReloadAudit(t *testing.T) {
	fa := &fakeAudits{}
	cfg := enforcingConfig()
	d, err := New(cfg, routerOwn(), Deps{
		Enforcer: newFake(t), Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	d.deps.Audits, d.deps.UPnP = fa, fa
	start := time.Now()
	playDemo(t, d)
	d.announceNew(start)
	for i, tc := range []struct {
		name      string
		change    func(a *config.Audit)
		offers    bool // descriptions offered to the fetcher
		offeredAt bool // devices offered to the audit at once
	}{
		{"unchanged", func(*config.Audit) {}, true, false},
		{"fetch_upnp off", func(a *config.Audit) { a.FetchUPnP = false }, false, true},
		{"fetch_upnp on, new devices audited", func(a *config.Audit) { a.FetchUPnP, a.NewDevices = true, true }, true, true},
	} {
		fa.mu.Lock()
		fa.offered, fa.considered = nil, nil
		fa.mu.Unlock()
		next := *d.cfg
		tc.change(&next.Audit)
		d.Reload(&next)
		d.Record(&event.Event{V: event.SchemaVersion, Time: time.Now(), Type: event.TypeObservation, Kind: event.KindSSDP,
			Device:  event.Endpoint{MAC: camera.String(), Local: true},
			Summary: "SSDP announcement", Evidence: event.Evidence{"location": "http://192.168.50.20:49152/" + strconv.Itoa(i) + ".xml"}})
		d.announceNew(start.Add(time.Minute))
		fa.mu.Lock()
		if got := len(fa.offered) > 0; got != tc.offers {
			t.Errorf("%s: descriptions offered %v, want %v", tc.name, got, tc.offers)
		}
		if got := slices.Contains(fa.considered, camera); got != tc.offeredAt {
			t.Errorf("%s: camera offered to the audit at once %v, want %v", tc.name, got, tc.offeredAt)
		}
		fa.mu.Unlock()
	}
}

// TestAuditTargetSharedMAC: a MAC found to stand for several hosts (a
// repeater that puts its own MAC on its clients' frames) is no target of
// the automatic audit: the audit would go to whichever host behind it
// used an address last, one the owner cannot trust or tell apart by its
// MAC. The owner may still ask for it.
func TestAuditTargetSharedMAC(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	if _, ok := h.d.AuditTarget(camera, false); !ok {
		t.Fatal("camera is no audit target before its MAC is shared")
	}
	shareMAC(h, camera)
	for _, requested := range []bool{false, true} {
		if _, ok := h.d.AuditTarget(camera, requested); ok != requested {
			t.Errorf("shared MAC, requested by the owner %v: audit target %v, want %v", requested, ok, requested)
		}
	}
}
