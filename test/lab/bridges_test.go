package lab

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// The two segments of TestLabTwoBridges: the main LAN and a guest (or
// IoT) network, each with a /24 and a /64.
var (
	bridgesLAN   = segment{bridge: "br-lan", mac: routerMAC, addr4: routerLAN, addr6: []string{"2001:db8:77:1::1"}}
	bridgesGuest = segment{bridge: "br-guest", mac: "94:83:c4:77:00:03", addr4: "192.168.78.1", addr6: []string{"2001:db8:77:2::1"}}
)

// cameraUpdateDomain is the camera vendor's update host, on the WAN's
// update server; the DNS proxy lets an updates-only camera reach it.
const cameraUpdateDomain = "fw.example-camera.com"

// TestLabTwoBridges: a router with two LAN bridges, br-lan and br-guest,
// both in [lan] interfaces, each with its own IPv4 and IPv6 prefix and
// dnsmasq serving DHCP, router advertisements and DNS on both. A camera
// on the guest bridge logs into a telnet server on the WAN with the
// Mirai default root/xc3511; a phone shares its bridge, a laptop is on
// br-lan. For each quarantine mode, a daemon of its own (fresh state)
// finds the camera and quarantines it; the test checks what the mode cuts
// and what it leaves, the notice page on the guest bridge's router
// address, the DNS proxy on the guest prefixes, that a restart keeps the
// quarantine and a release undoes it, and that the laptop and the phone
// keep working throughout.
func TestLabTwoBridges(t *testing.T) {
	requireLab(t)
	cam := host{role: "camera", mac: "c0:56:e3:4c:b2:01", ip: "192.168.78.101", hostname: "ipcam", bridge: bridgesGuest.bridge}                  // Hikvision
	phone := host{role: "phone", mac: "f0:18:98:4c:b2:02", ip: "192.168.78.102", hostname: "phone", dhclient: true, bridge: bridgesGuest.bridge} // Apple
	laptop := host{role: "laptop", mac: "3c:a9:f4:4c:b2:03", ip: "192.168.77.104", hostname: "laptop", dhclient: true}                           // Intel
	l := newLab(t, labOptions{tag: "b", devices: []host{cam, phone, laptop}, services: true, segments: []segment{bridgesLAN, bridgesGuest}})
	bin := testenv.BuildDaemon(t, l.dir)

	// The WAN host's telnet accepts only root/xc3511, as the camera's own
	// does in TestLab.
	l.startWANTelnet()
	l.dhcp()
	// Without privacy addresses every device uses its EUI-64 address,
	// which the assertions below compute.
	for role, a := range l.slaac(l.order...) {
		h := l.hosts[role]
		if want := l.segmentOf(h).eui64(h.mac); a.stable[0].String() != want {
			t.Fatalf("%s's SLAAC address is %s, want %s (EUI-64)", role, a.stable[0], want)
		}
	}

	t.Run("baseline", func(t *testing.T) {
		l.assertReach(t, map[reach]bool{
			{"camera", cloudHost}: true, {"camera", cloudHost6}: true,
			{"camera", laptop.ip}: true, {"camera", phone.ip}: true,
		})
		l.assertWorking(t, laptop, phone)
	})

	for _, mode := range []string{"block", "isolate", "updates-only"} {
		t.Run(mode, func(t *testing.T) { l.guestCameraRound(t, bin, mode, cam, phone, laptop) })
	}
}

// guestCameraRound runs one daemon with quarantine_mode = mode on a
// fresh state: the camera's telnet login quarantines it, and the round
// checks the quarantine, a restart and the release.
func (l *lab) guestCameraRound(t *testing.T, bin, mode string, cam, phone, laptop host) {
	if err := os.Remove(l.path("state.json")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	d := l.newDaemon(bin, l.bridgesConfig(mode))
	d.start(t)
	defer func() {
		if code, err := d.terminate(); err != nil || code != 0 {
			t.Errorf("iotgw run on SIGTERM: exit %d, %v", code, err)
		}
		if out, err := d.cli("uninstall-rules"); err != nil {
			t.Errorf("iotgw uninstall-rules: %v\n%s", err, out)
		}
	}()
	// The camera as the daemon first meets it: its DHCP (host name,
	// busybox's vendor class) and its IPv6 address in use.
	if err := l.lease(cam); err != nil {
		t.Fatal(err)
	}
	if err := l.ping(cam.role, cloudHost6); err != nil {
		t.Fatal(err)
	}
	out, err := l.dev(cam.role, 20*time.Second, "expect", "-f", l.path("bin/telnet-login.exp"), cloudHost, "root", cameraTelnetPassword)
	if err != nil {
		t.Fatalf("the camera's telnet login to %s failed: %v\n%s", cloudHost, err, out)
	}
	set := strings.TrimSuffix(mode, "-only") // block, isolate, updates
	cam6 := bridgesGuest.eui64(cam.mac)
	if err := poll(quarantineDeadline, pollEvery, func() (bool, string) {
		sets, err := l.setElements()
		if err != nil {
			return false, err.Error()
		}
		return inSet(sets, set+"_mac", cam.mac) && inSet(sets, set+"_v4", cam.ip) && inSet(sets, set+"_v6", cam6),
			fmt.Sprintf("%s_mac %v, %s_v4 %v, %s_v6 %v; want %s, %s, %s", set, sets[set+"_mac"], set, sets[set+"_v4"], set, sets[set+"_v6"], cam.mac, cam.ip, cam6)
	}); err != nil {
		t.Fatalf("camera not quarantined (%s): %v\n%s", mode, err, l.logs())
	}

	t.Run("found_and_fingerprinted", func(t *testing.T) {
		l.assertState(t, d, cam, "quarantined") // the API follows the kernel
		dev, err := d.device(cam.mac)
		if err != nil {
			t.Fatal(err)
		}
		if dev.State != "quarantined" || dev.Quarantine == nil || dev.Quarantine.Mode != mode || dev.Quarantine.By != "policy" {
			t.Errorf("camera: state %s, quarantine %+v; want quarantined %s by policy", dev.State, dev.Quarantine, mode)
		}
		if !slices.Contains(findingKinds(dev), "default_credentials/telnet") {
			t.Errorf("camera's findings are %v, want default_credentials/telnet", findingKinds(dev))
		}
		if !strings.Contains(dev.Vendor, "Hikvision") || !slices.Contains(dev.Hostnames, cam.hostname) {
			t.Errorf("camera: vendor %q, host names %v; want Hikvision and %s", dev.Vendor, dev.Hostnames, cam.hostname)
		}
		for _, a := range []string{cam.ip, cam6} {
			if !slices.Contains(dev.Addrs, a) {
				t.Errorf("camera's addresses are %v, want %s among them", dev.Addrs, a)
			}
		}
	})
	l.assertGuestCameraQuarantined(t, mode, cam, phone, laptop)
	t.Run("restart_keeps_quarantine", func(t *testing.T) {
		if code, err := d.terminate(); err != nil || code != 0 {
			t.Fatalf("iotgw run on SIGTERM: exit %d, %v", code, err)
		}
		d.start(t)
		l.assertState(t, d, cam, "quarantined")
		l.assertGuestCameraQuarantined(t, mode, cam, phone, laptop)
	})
	t.Run("release_restores", func(t *testing.T) {
		if out, err := d.cli("release", cam.mac); err != nil || !strings.Contains(out, "released") {
			t.Fatalf("iotgw release %s: %v\n%s", cam.mac, err, out)
		}
		if err := poll(5*time.Second, pollEvery, func() (bool, string) {
			err := l.ping(cam.role, cloudHost)
			return err == nil, fmt.Sprintf("camera still cut off after release: %v", err)
		}); err != nil {
			t.Fatal(err)
		}
		l.assertReach(t, map[reach]bool{
			{"camera", cloudHost6}: true, {"camera", laptop.ip}: true, {"camera", bridgesLAN.eui64(laptop.mac)}: true,
			{"camera", phone.ip}: true, {"laptop", cam.ip}: true, {"phone", cam6}: true,
		})
		if err := l.https(cam.role, "https://"+cloudHost+"/"); err != nil {
			t.Error(err)
		}
		if got, err := l.resolve(cam.role, "cloud.example-camera.com"); err != nil || !slices.Equal(got, []string{cloudHost}) {
			t.Errorf("released camera resolves cloud.example-camera.com to %v (%v), want %s", got, err, cloudHost)
		}
		l.assertInNoQuarantineSet(t, cam)
		l.assertWorking(t, laptop, phone)
	})
}

// assertGuestCameraQuarantined checks what a quarantined camera on the
// guest bridge can still do in mode, and that the laptop and the phone
// keep working.
func (l *lab) assertGuestCameraQuarantined(t *testing.T, mode string, cam, phone, laptop host) {
	t.Helper()
	cam6 := bridgesGuest.eui64(cam.mac)
	// isolate leaves the LAN, both bridges, to the camera (isolate_lan is
	// off); block and updates-only cut it off from every peer.
	lanPeers := mode == "isolate"
	l.assertReach(t, map[reach]bool{
		{"camera", cloudHost}: false, {"camera", cloudHost6}: false,
		{"camera", laptop.ip}: lanPeers, {"camera", bridgesLAN.eui64(laptop.mac)}: lanPeers,
		{"camera", phone.ip}: lanPeers, {"camera", bridgesGuest.eui64(phone.mac)}: lanPeers,
		{"laptop", cam.ip}: lanPeers, {"phone", cam.ip}: lanPeers, {"phone", cam6}: lanPeers,
	})
	if err := l.https(cam.role, "https://"+cloudHost+"/"); err == nil {
		t.Errorf("quarantined camera (%s) reaches %s over HTTPS", mode, cloudHost)
	}
	// The notice page on the guest bridge's own router addresses.
	for _, url := range []string{
		fmt.Sprintf("http://%s:%d/", bridgesGuest.addr4, noticePort),
		fmt.Sprintf("http://[%s]:%d/", bridgesGuest.addr6[0], noticePort),
	} {
		l.assertNoticePage(t, cam.role, url)
	}
	if mode != "isolate" {
		// Plain HTTP to anywhere goes to the page.
		l.assertNoticePage(t, cam.role, "http://"+cloudHost+"/")
	}
	// Its DNS, to the guest bridge's resolver, goes to the proxy: a name
	// outside the update domains resolves to the router's address on the
	// guest bridge, in both families, not br-lan's, which block and
	// updates-only cut it off from for anything but the notice page.
	for qtype, want := range map[string]string{"a": bridgesGuest.addr4, "aaaa": bridgesGuest.addr6[0]} {
		got, err := l.lookup(cam.role, qtype, "cloud.example-camera.com")
		if err != nil || !slices.Equal(got, []string{want}) {
			t.Errorf("quarantined camera (%s) resolves cloud.example-camera.com (%s) to %v (%v), want %s from the DNS proxy", mode, qtype, got, err, want)
		}
	}
	if mode == "updates-only" {
		if got, err := l.resolve(cam.role, cameraUpdateDomain); err != nil || !slices.Equal(got, []string{updateHost}) {
			t.Errorf("camera resolves its update host %s to %v (%v), want %s", cameraUpdateDomain, got, err, updateHost)
		}
		if out, err := l.dev(cam.role, 10*time.Second, "curl", "-4", "-sS", "--max-time", "3", "http://"+cameraUpdateDomain+"/firmware.bin"); err != nil || out != firmwareImage {
			t.Errorf("camera cannot download its update from %s: %v\n%q", cameraUpdateDomain, err, out)
		}
	}
	l.assertWorking(t, laptop, phone)
}

// assertNoticePage checks that role's plain HTTP to url gets the notice
// page.
func (l *lab) assertNoticePage(t *testing.T, role, url string) {
	t.Helper()
	code, body, err := l.httpGet(role, url)
	if err != nil {
		t.Error(err)
		return
	}
	if code != 511 || !strings.Contains(body, "This device is in quarantine") {
		t.Errorf("%s's %s got status %d, want 511 and the notice page; body:\n%s", role, url, code, body)
	}
}

// assertWorking checks devices that are not quarantined: DNS through
// their bridge's resolver, the WAN over IPv4 and IPv6, and each other
// across the router.
func (l *lab) assertWorking(t *testing.T, a, b host) {
	t.Helper()
	want := map[reach]bool{
		{a.role, l.segmentOf(b).eui64(b.mac)}: true, {b.role, a.ip}: true,
	}
	for _, h := range []host{a, b} {
		want[reach{h.role, cloudHost}] = true
		want[reach{h.role, cloudHost6}] = true
	}
	l.assertReach(t, want)
	for _, h := range []host{a, b} {
		if got, err := l.resolve(h.role, "www.example-news.com"); err != nil || !slices.Equal(got, []string{cloudHost}) {
			t.Errorf("%s resolves www.example-news.com to %v (%v), want %s", h.role, got, err, cloudHost)
		}
		if err := l.https(h.role, "https://"+cloudHost+"/"); err != nil {
			t.Error(err)
		}
	}
}

// reach is a ping from a device to an address.
type reach struct{ from, to string }

// assertReach pings every address at once and checks which answer.
func (l *lab) assertReach(t *testing.T, want map[reach]bool) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failures []string
	for r, ok := range want {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.ping(r.from, r.to)
			if (err == nil) == ok {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				failures = append(failures, fmt.Sprintf("%s cannot reach %s: %v", r.from, r.to, err))
			} else {
				failures = append(failures, fmt.Sprintf("%s reaches %s", r.from, r.to))
			}
		}()
	}
	wg.Wait()
	slices.Sort(failures)
	for _, f := range failures {
		t.Error(f)
	}
}

// bridgesConfig is the daemon's configuration for the two bridges:
// both in [lan] and captured, the router's addresses and the LAN's
// prefixes left to their defaults (the bridges' addresses; private
// ranges and the prefixes on the bridges), enforce at once in mode.
func (l *lab) bridgesConfig(mode string) string {
	return l.writeFile("iotgw-bridges.toml", fmt.Sprintf(`[lan]
interfaces = ["br-lan", "br-guest"]

[policy]
mode = "enforce"
grace = "0s"
quarantine_mode = %q

[daemon]
socket = %q
log_level = "debug"

[capture]
interfaces = ["br-lan", "br-guest"]

[quarantine]
notice_port = %d

[dnsproxy]
update_domains = [%q]

[store]
path = %q
write_interval = "1m"
`, mode, l.path("iotgw.sock"), noticePort, cameraUpdateDomain, l.path("state.json")))
}
