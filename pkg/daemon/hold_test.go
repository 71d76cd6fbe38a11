package daemon

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// finding is a finding about the device at ep, as an analyzer files it.
func finding(ep event.Endpoint, at time.Time, kind event.Kind, sev event.Severity, summary string, ev event.Evidence) *event.Event {
	return &event.Event{V: event.SchemaVersion, Time: at, Type: event.TypeFinding, Kind: kind, Severity: sev,
		Device: ep, Summary: summary, Evidence: ev}
}

// withFlow gives f a TCP connection from its device to server.
func withFlow(f *event.Event, server event.Endpoint, app string) *event.Event {
	f.Flow = &event.Flow{Transport: "tcp", Client: f.Device, Server: server, App: app}
	return f
}

// exploitedFirmware is software with a hole exploited in the wild on the
// device mac at ip, which the default policy quarantines.
func exploitedFirmware(mac hwaddr.MAC, ip string) *event.Event {
	return finding(event.Endpoint{MAC: mac.String(), IP: ip, Local: true}, time.Now(), event.KindOutdatedFirmware, event.SeverityCritical,
		"software with an exploited hole", event.Evidence{"product": "x", "version": "1", "advisory": "A-1", "exploited": "yes"})
}

// fillInventory shows n new devices, seen after everything so far, to a
// daemon whose inventory holds n.
func fillInventory(h *harness, n int, at time.Time) {
	for i := range n {
		mac := hwaddr.MAC{0x02, 0, 0, 0, 1, byte(i)}
		h.d.seen(mac, netip.AddrFrom4([4]byte{192, 168, 50, byte(200 + i)}), "", "neighbour", at)
	}
}

// A quarantined camera is quiet, so the oldest device; new devices fill
// the inventory; it comes back with a new address. Its quarantine stands.
func TestQuarantinedDeviceOutlivesAFullInventory(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Inspect.MaxDevices = 16
	h, fake := startQuarantined(t, cfg)
	defer h.stop()
	later := time.Now().Add(time.Hour)
	fillInventory(h, 16, later)
	h.d.seen(camera, netip.MustParseAddr("192.168.50.150"), "", "lease", later.Add(time.Minute))
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; !ok {
		dev, _ := h.d.Device(camera)
		t.Fatalf("camera released after the inventory ran full; findings now %d", len(dev.Findings))
	}
	if dev, _ := h.d.Device(camera); len(dev.Findings) == 0 {
		t.Error("the quarantined camera's findings were evicted")
	}
}

// The same across a restart: the camera's saved findings are not
// overwritten by an empty record.
func TestQuarantinedDeviceOutlivesAFullInventoryAcrossRestart(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Inspect.MaxDevices = 16
	fake, dir := newFake(t), t.TempDir()
	h := start(t, cfg, fake, dir)
	h.settle()
	old := cameraEntry(t, fake).Addrs
	later := time.Now().Add(time.Hour)
	fillInventory(h, 16, later)
	h.d.seen(camera, old[0], "", "neighbour", later.Add(time.Minute))
	h.d.persistDevices(time.Now())
	h.settle()
	h.stop()
	h = launch(t, cfg, fake, dir, false)
	defer h.stop()
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; !ok {
		t.Error("camera released at restart")
	}
}

// A plug talks plain HTTP to 64 servers, then logs in with its
// factory-default password: quarantined.
func TestDefaultLoginAfterManyPlaintextFindings(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	plugEP := event.Endpoint{MAC: plug.String(), IP: "192.168.50.102", Local: true}
	for i := range 64 {
		srv := event.Endpoint{IP: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}).String()}
		h.d.Record(withFlow(finding(plugEP, time.Now(), event.KindPlaintextProtocol, event.SeverityLow, "Unencrypted HTTP",
			event.Evidence{"protocol": "http"}), srv, "http"))
	}
	h.d.Record(finding(plugEP, time.Now(), event.KindDefaultCredentials, event.SeverityHigh,
		"HTTP login with factory-default credentials (user a***)", event.Evidence{"protocol": "http", "user": "a***", "accepted": "yes"}))
	h.settle()
	if quarantined(t, fake)[plug] == "" {
		dev, _ := h.d.Device(plug)
		t.Errorf("plug with a default login not quarantined; %d findings kept, verdict %s", len(dev.Findings), dev.Verdict.Action)
	}
}

// The camera is isolated for its default login, which this owner maps to
// isolate; then its firmware turns out to have a hole exploited in the
// wild, which calls for a block. The kernel follows the verdict.
func TestPolicyQuarantineFollowsTheVerdictsMode(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Policy.Actions["default_credentials"] = "isolate"
	fake := newFake(t)
	h := start(t, cfg, fake, t.TempDir())
	defer h.stop()
	h.settle()
	if m := quarantined(t, fake)[camera]; m != quarantine.ModeIsolate {
		t.Fatalf("camera in %q, want isolated", m)
	}
	h.d.Record(exploitedFirmware(camera, "192.168.50.101"))
	h.settle()
	dev, _ := h.d.Device(camera)
	if m := quarantined(t, fake)[camera]; m != quarantine.ModeBlock || dev.Quarantine == nil || dev.Quarantine.Mode != string(quarantine.ModeBlock) {
		t.Errorf("verdict %s; kernel holds the camera in %q, record %+v", dev.Verdict.Action, m, dev.Quarantine)
	}
	// The owner exempts the firmware finding: back to isolation.
	next := *cfg
	next.Policy = cfg.Policy
	next.Policy.Devices = append(slices.Clone(cfg.Policy.Devices), config.DeviceRule{MAC: camera, Exempt: []string{string(event.KindOutdatedFirmware)}})
	h.d.Reload(&next)
	h.settle()
	if m := quarantined(t, fake)[camera]; m != quarantine.ModeIsolate {
		t.Errorf("after the exemption the kernel holds the camera in %q, want isolated", m)
	}
}

// After a switch to monitor mode the quarantines stay, but an address
// DHCP gives to another device leaves the camera's entry.
func TestMonitorModeDropsAReusedAddress(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	old := cameraEntry(t, fake).Addrs
	if len(old) == 0 {
		t.Fatal("camera entry without addresses")
	}
	h.d.Reload(config.Default()) // monitor
	h.settle()
	h.d.presence(context.Background(), netwatch.LeaseSeen{MAC: phone, IP: old[0]})
	h.settle()
	e := cameraEntry(t, fake)
	if slices.Contains(e.Addrs, old[0]) {
		t.Errorf("camera's entry still holds %s, now the phone's address", old[0])
	}
	if quarantined(t, fake)[camera] == "" {
		t.Error("monitor mode released the camera")
	}
}

// The owner manages iotgw from the laptop (learnt at the page login); a
// quarantine-level finding on it only alerts. After a restart it is still
// the owner's device: not quarantined before the owner can log in again.
func TestOwnerDeviceStaysProtectedAcrossRestart(t *testing.T) {
	fake, dir := newFake(t), t.TempDir()
	h := start(t, enforcingConfig(), fake, dir)
	h.settle()
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.104")) // the laptop
	h.d.Record(exploitedFirmware(laptop, "192.168.50.104"))
	h.settle()
	if _, ok := quarantined(t, fake)[laptop]; ok {
		t.Fatal("the owner's laptop was quarantined while protected")
	}
	h.stop()
	h = launch(t, enforcingConfig(), fake, dir, false)
	defer h.stop()
	h.settle()
	if _, ok := quarantined(t, fake)[laptop]; ok {
		t.Error("after a restart the owner's laptop is quarantined")
	}
}

// Only the latest few login devices are kept, in the store too; the ones
// pushed out leave no empty decision behind to fill its table.
func TestOwnerDevicesBounded(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	for i := range maxOwners + 3 {
		mac := hwaddr.MAC{0x02, 0, 0, 0, 2, byte(i)}
		addr := netip.AddrFrom4([4]byte{192, 168, 50, byte(150 + i)})
		h.d.seen(mac, addr, "", "neighbour", time.Now())
		h.d.OwnerAt(addr)
	}
	var saved []hwaddr.MAC
	for _, dec := range h.store.Snapshot().Decisions {
		if dec.MAC[4] != 2 {
			continue // the bundled capture's devices
		}
		if dec.OwnerLogin.IsZero() {
			t.Errorf("an empty decision is kept for %s: %+v", dec.MAC, dec)
		}
		saved = append(saved, dec.MAC)
	}
	if len(saved) != maxOwners || slices.Contains(saved, hwaddr.MAC{0x02, 0, 0, 0, 2, 0}) {
		t.Errorf("saved owner devices %v, want the latest %d", saved, maxOwners)
	}
}

// A new password on the page forgets the devices logins made the
// owner's, in the kernel and the store: the owner can quarantine one
// that logged in with the old password, and a restart does not bring its
// protection back.
func TestForgetOwners(t *testing.T) {
	fake, dir := newFake(t), t.TempDir()
	h := start(t, enforcingConfig(), fake, dir)
	h.settle()
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.104")) // the laptop
	if err := h.d.Quarantine(context.Background(), laptop, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Fatalf("quarantining the laptop while it is the owner's: %v, want ErrProtected", err)
	}
	h.d.ForgetOwners(netip.Addr{})
	if strings.Contains(fake.Dump(), laptop.String()) {
		t.Error("the laptop's MAC is still in the kernel's protected set")
	}
	if slices.ContainsFunc(h.store.Snapshot().Decisions, func(dec store.Decision) bool { return dec.MAC == laptop && !dec.OwnerLogin.IsZero() }) {
		t.Error("the store still holds the laptop's owner login")
	}
	h.stop()
	h = launch(t, enforcingConfig(), fake, dir, false)
	defer h.stop()
	h.settle()
	if err := h.d.Quarantine(context.Background(), laptop, "", 0); err != nil {
		t.Errorf("quarantining the former owner's device after a restart: %v", err)
	}
}

// A name set and then cleared leaves no decision in the store.
func TestClearedNameLeavesNoDecision(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	has := func() bool {
		return slices.ContainsFunc(h.store.Snapshot().Decisions, func(d store.Decision) bool { return d.MAC == plug })
	}
	if err := h.d.SetName(context.Background(), plug, "kitchen plug"); err != nil {
		t.Fatal(err)
	}
	if !has() {
		t.Fatal("the plug's name was not stored")
	}
	if err := h.d.SetName(context.Background(), plug, ""); err != nil {
		t.Fatal(err)
	}
	if has() {
		t.Error("a decision is still stored for the plug after its name was cleared")
	}
}

// A threshold reached now starts the grace period now, and a restart
// does not move it.
func TestGraceFromThresholdSurvivesRestart(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Policy.Actions["plaintext_credentials"] = config.ActionIsolate
	cfg.Policy.Thresholds = map[string]int{"plaintext_credentials": 3}
	cfg.Policy.Grace.Duration = time.Hour
	fake, dir := newFake(t), t.TempDir()
	h := start(t, cfg, fake, dir)
	h.settle()
	plugEP := event.Endpoint{MAC: plug.String(), IP: "192.168.50.102", Local: true}
	yesterday := time.Now().Add(-24 * time.Hour)
	for i := range 3 {
		h.d.Record(finding(plugEP, yesterday.Add(time.Duration(i)*time.Hour), event.KindPlaintextCredentials, event.SeverityMedium,
			"plaintext login", event.Evidence{"protocol": "ftp", "user": "u***", "password_hash": "0011223344556677"}))
		h.settle()
	}
	dev, _ := h.d.Device(plug)
	until := dev.Verdict.PendingUntil
	if dev.Verdict.Pending != config.ActionIsolate || until.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("verdict %+v: want isolation pending for the hour from now", dev.Verdict)
	}
	if _, ok := quarantined(t, fake)[plug]; ok {
		t.Fatal("isolated before the grace period ended")
	}
	h.stop()
	h = launch(t, cfg, fake, dir, false)
	defer h.stop()
	h.settle()
	dev, _ = h.d.Device(plug)
	if !dev.Verdict.PendingUntil.Equal(until) {
		t.Errorf("after a restart pending until %v, was %v", dev.Verdict.PendingUntil, until)
	}
}

// A lease for the router's own address (forged into a lease file) moves
// it to no device.
func TestLeaseForRouterAddressIgnored(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	routerIP := netip.MustParseAddr("192.168.50.1")
	h.d.presence(context.Background(), netwatch.AddressChanged{Prefix: netip.PrefixFrom(routerIP, 24), Added: true})
	forger := hwaddr.MAC{0x02, 0, 0, 0, 9, 9}
	h.d.presence(context.Background(), netwatch.LeaseSeen{MAC: forger, IP: routerIP})
	other := netip.MustParseAddr("192.168.50.77")
	h.d.presence(context.Background(), netwatch.LeaseSeen{MAC: forger, IP: other})
	h.d.mu.Lock()
	holder, held := h.d.pipe.Inventory().HolderOf(routerIP)
	otherHolder, _ := h.d.pipe.Inventory().HolderOf(other)
	h.d.mu.Unlock()
	if held && holder == forger {
		t.Error("the forged lease gave the router's address to a device")
	}
	if otherHolder != forger {
		t.Errorf("an ordinary lease was not taken: holder %v", otherHolder)
	}
}

// Quarantined for its default login, the camera then shows 64 findings
// of the same severity that only alert: they do not push the reason for
// its quarantine out.
func TestQuarantineReasonNotDisplaced(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	camEP := event.Endpoint{MAC: camera.String(), IP: "192.168.50.101", Local: true}
	later := time.Now().Add(time.Hour)
	for i := range 64 {
		srv := event.Endpoint{IP: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String()}
		h.d.Record(withFlow(finding(camEP, later, event.KindWeakTLS, event.SeverityHigh, "Weak TLS: SSLv3",
			event.Evidence{"tls_version": "SSLv3"}), srv, "tls"))
	}
	h.settle()
	if _, ok := quarantined(t, fake)[camera]; !ok {
		t.Fatal("camera released")
	}
}

// A device quarantined by a force rule, after a restart, is released
// when the rule goes: a restored device keeps its first sighting.
func TestForcedQuarantineEndsWithItsRuleAfterRestart(t *testing.T) {
	fake, dir := newFake(t), t.TempDir()
	h, cfg := startForced(t, fake, dir)
	h.d.persistDevices(time.Now())
	h.stop()
	h = launch(t, cfg, fake, dir, false)
	defer h.stop()
	h.settle()
	h.d.seen(forcedMAC, forcedIP, "", "neighbour", time.Now())
	h.settle()
	h.d.Reload(enforcingConfig()) // the rule is gone
	h.settle()
	if _, ok := quarantined(t, fake)[forcedMAC]; ok {
		t.Error("the rule is gone, the device still quarantined")
	}
}

// forcedMAC and forcedIP are a device only a force rule quarantines.
var (
	forcedMAC = hwaddr.MAC{0x02, 0, 0, 0, 7, 7}
	forcedIP  = netip.MustParseAddr("192.168.50.177")
)

// startForced runs a daemon whose configuration forces forcedMAC into
// quarantine, once the device has been seen.
func startForced(t *testing.T, fake *quarantine.Fake, dir string) (*harness, *config.Config) {
	t.Helper()
	cfg := enforcingConfig()
	cfg.Policy.Devices = append(slices.Clone(cfg.Policy.Devices), config.DeviceRule{MAC: forcedMAC, Force: config.ActionQuarantine})
	h := launch(t, cfg, fake, dir, false)
	h.settle()
	h.d.seen(forcedMAC, forcedIP, "", "neighbour", time.Now())
	h.d.Reload(cfg)
	h.settle()
	if _, ok := quarantined(t, fake)[forcedMAC]; !ok {
		h.stop()
		t.Fatal("forced device not quarantined")
	}
	return h, cfg
}

// A release that records nothing (policy no longer calls for the
// quarantine: the device became trusted by configuration) leaves no empty
// decision in the store.
func TestPolicyReleaseStoresNoEmptyDecision(t *testing.T) {
	fake := newFake(t)
	h := start(t, enforcingConfig(), fake, t.TempDir())
	defer h.stop()
	h.settle()
	h.d.Record(exploitedFirmware(plug, "192.168.50.102"))
	h.settle()
	if _, ok := quarantined(t, fake)[plug]; !ok {
		t.Fatal("the plug was not quarantined")
	}
	cfg := enforcingConfig()
	cfg.Policy.Devices = []config.DeviceRule{{MAC: plug, Trusted: true}}
	h.d.Reload(cfg)
	h.settle()
	if _, ok := quarantined(t, fake)[plug]; ok {
		t.Fatal("the plug, trusted by configuration, is still quarantined")
	}
	for _, dec := range h.store.Snapshot().Decisions {
		if dec.MAC == plug && !holdsDecision(dec) {
			t.Errorf("an empty decision is stored for the plug: %+v", dec)
		}
	}
	if slices.ContainsFunc(h.store.Snapshot().Quarantines, func(q store.Quarantine) bool { return q.MAC == plug }) {
		t.Error("the plug's quarantine is still stored")
	}
}

// A LAN interface that comes up while the daemon runs (a guest bridge
// whose Wi-Fi was off at start) makes its MAC the router's: never
// quarantined, even when traffic made it look like a device first.
func TestRouterMACLearntFromLink(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	guest := hwaddr.MAC{0x02, 0, 0, 0, 7, 1}
	h.d.seen(guest, netip.MustParseAddr("192.168.60.1"), "", "neighbour", time.Now())
	ctx := context.Background()
	h.d.presence(ctx, netwatch.LinkChanged{Iface: "br-guest", Up: false, MAC: guest})
	h.d.mu.Lock()
	early := h.d.routerOrOwnerMAC(guest)
	h.d.mu.Unlock()
	if early {
		t.Fatal("a link reported down made its MAC the router's")
	}
	h.d.presence(ctx, netwatch.LinkChanged{Iface: "br-guest", Up: true, MAC: guest})
	if err := h.d.Quarantine(ctx, guest, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Errorf("quarantine of the router's guest-bridge MAC: %v, want ErrProtected", err)
	}
}

// A device protected only by an owner's login that policy would
// quarantine is quarantined once a new password forgets it, as a restart
// would, not at its next event, which may never come. The device that
// set the password stays the owner's throughout.
func TestForgetOwnersEnforcesPolicy(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	renewer, renewerAddr := hwaddr.MAC{0x02, 0, 0, 0, 3, 1}, netip.MustParseAddr("192.168.50.160")
	h.d.seen(renewer, renewerAddr, "", "neighbour", time.Now())
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.104")) // the laptop
	h.d.OwnerAt(renewerAddr)
	h.d.Record(exploitedFirmware(laptop, "192.168.50.104"))
	h.d.Record(exploitedFirmware(renewer, renewerAddr.String()))
	h.settle()
	if q := quarantined(t, h.fake); q[laptop] != "" || q[renewer] != "" {
		t.Fatalf("the owner's devices were quarantined while protected: %v", q)
	}
	h.d.ForgetOwners(renewerAddr)
	h.settle()
	q := quarantined(t, h.fake)
	if q[laptop] == "" {
		t.Error("the former owner's laptop, with an exploited firmware, is not quarantined after the new password")
	}
	if q[renewer] != "" {
		t.Error("the device that set the new password was quarantined")
	}
	if err := h.d.Quarantine(context.Background(), renewer, "", 0); !errors.Is(err, api.ErrProtected) {
		t.Errorf("quarantining the device that set the new password: %v, want ErrProtected", err)
	}
}

// TestOwnerPushedOutEnforcesPolicy: an owner's device pushed out of the
// few OwnerAt keeps, by logins from newer ones, loses its protection and
// is judged again at once, as ForgetOwners judges the devices it forgets:
// one with a finding that calls for quarantine does not stay free until
// its next event.
func TestOwnerPushedOutEnforcesPolicy(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	h.d.OwnerAt(netip.MustParseAddr("192.168.50.104")) // the laptop
	h.d.Record(exploitedFirmware(laptop, "192.168.50.104"))
	h.settle()
	if q := quarantined(t, h.fake); q[laptop] != "" {
		t.Fatalf("the owner's laptop was quarantined while protected: %v", q)
	}
	for i := range maxOwners {
		h.d.OwnerAt(netip.AddrFrom4([4]byte{192, 168, 50, byte(200 + i)}))
	}
	h.settle()
	if q := quarantined(t, h.fake); q[laptop] == "" {
		t.Error("the laptop pushed out of the owner's devices, with an exploited firmware, is not quarantined")
	}
}
