package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// The IPv6 variant of the lab: the LAN's global prefix and the WAN come
// from the documentation prefix 2001:db8::/32 (RFC 3849), a ULA prefix
// sits beside the global one, as OpenWrt's odhcpd announces them. They
// exist only inside the lab's namespaces.
const (
	routerLANV6  = "2001:db8:77::1"
	routerULAV6  = "fd00:77::1"
	cloudNameV6  = "cloud.example-camera.com"
	ownerPasswd6 = "Larch-Quiver-7-Tundra"
)

// v6LAN is the IPv6 lab's br-lan: the router advertises both /64s for
// SLAAC (no DHCPv6).
var v6LAN = segment{bridge: "br-lan", mac: routerMAC, addr4: routerLAN, addr6: []string{routerLANV6, routerULAV6}}

// v6Devices are the devices of TestLabIPv6: IPv6 only, no DHCP.
func v6Devices() []host {
	return []host{
		{role: "camera", mac: "c0:56:e3:4c:a1:11", hostname: "ipcam"},  // Hikvision
		{role: "laptop", mac: "3c:a9:f4:4c:a1:14", hostname: "laptop"}, // Intel
		// The sensor takes no router advertisement at first: its
		// link-local address is all the router sees of it.
		{role: "sensor", mac: "24:0a:c4:4c:a1:16", hostname: "sensor"}, // Espressif
	}
}

// startV6WANServices runs the internet of the IPv6 lab besides the
// usual services (with AAAA records and HTTP on the cloud's IPv6
// address): a web server on a port no quarantine rule redirects, and
// the camera vendor's telnet host, which takes the Mirai default
// root/xc3511.
func (l *lab) startV6WANServices() {
	l.start("wan", "wan-httpd-open", "busybox", "httpd", "-f", "-p", fmt.Sprintf("[%s]:%d", cloudHost6, openPort), "-h", l.path("www"))
	l.waitListen("wan", "tcp", openPort)
	l.startWANTelnet()
}

// openPort is the cloud's web server on a port that no quarantine rule
// redirects (80 goes to the notice page).
const openPort = 8000

// v6DaemonConfig is the daemon's configuration of the IPv6 lab: as an
// OpenWrt router has it, without LAN prefixes or router addresses (the
// daemon learns the global prefix and its own addresses from br-lan).
func (l *lab) v6DaemonConfig() string {
	return l.writeFile("iotgw-v6.toml", fmt.Sprintf(`[policy]
mode = "enforce"
grace = "0s"
quarantine_mode = "block"

[daemon]
socket = %q
log_level = "debug"

[capture]
mode = "afpacket"
interfaces = ["br-lan"]

[quarantine]
notice_port = %d

[store]
path = %q
write_interval = "1m"
`, l.path("iotgw.sock"), noticePort, l.path("state.json")))
}

// connect6 opens a TCP connection from a device (from src, when valid)
// to [dst]:port and reports whether it was answered.
func (l *lab) connect6(role string, src netip.Addr, dst string, port int) error {
	args := []string{"curl", "-sS", "-6", "--max-time", "2", "-o", "/dev/null"}
	if src.IsValid() {
		args = append(args, "--interface", src.String())
	}
	args = append(args, fmt.Sprintf("http://[%s]:%d/", dst, port))
	// Addresses only, no names: no resolv.conf needed (the WAN host has none).
	out, err := l.in(role, 5*time.Second, args...)
	if err != nil {
		return fmt.Errorf("%s: curl [%s]:%d from %v: %v: %s", role, dst, port, src, err, strings.TrimSpace(out))
	}
	return nil
}

// ping6From sends one echo request from a device, from src when valid.
func (l *lab) ping6From(role string, src netip.Addr, dst string) error {
	args := []string{"busybox", "ping", "-6", "-c", "1", "-W", "1"}
	if src.IsValid() {
		args = append(args, "-I", src.String())
	}
	out, err := l.in(role, 5*time.Second, append(args, dst)...)
	if err != nil {
		return fmt.Errorf("%s: ping %s from %v: %v: %s", role, dst, src, err, strings.TrimSpace(out))
	}
	return nil
}

// lookupAAAA asks server (an address, link-local with its zone) for the
// AAAA records of name, from a device, and returns them.
func (l *lab) lookupAAAA(role, server, name string) ([]string, error) {
	out, err := l.in(role, 10*time.Second, "python3", l.path("bin/dns-aaaa.py"), server, name)
	if err != nil {
		return nil, fmt.Errorf("%s: AAAA %s from %s: %v: %s", role, name, server, err, strings.TrimSpace(out))
	}
	return strings.Fields(out), nil
}

// TestLabIPv6: an IPv6-only home network. The router advertises a global
// and a ULA /64 (SLAAC), the devices take privacy addresses and have no
// IPv4 at all. The camera logs in to its vendor's telnet host over IPv6
// with the Mirai default; the daemon, which learnt the LAN's global
// prefix and its own addresses from br-lan, quarantines it by MAC, cuts
// a new privacy address it takes afterwards both ways, answers its DNS
// (from its SLAAC and its link-local address) with the notice page's
// IPv6 address, serves it the notice page over IPv6, and gives its IPv6
// back at release. The owner's laptop sets the page up from a privacy
// address and is then the owner's device, by MAC.
func TestLabIPv6(t *testing.T) {
	requireLab(t)
	l := newLab(t, labOptions{tag: "6", devices: v6Devices(), services: true, segments: []segment{v6LAN}, privacy: true})
	l.startV6WANServices()
	d := l.newDaemon(testenv.BuildDaemon(t, l.dir), l.v6DaemonConfig())
	d.start(t)
	addrs := l.slaac("camera", "laptop")
	cam, laptop, sensor := l.hosts["camera"], l.hosts["laptop"], l.hosts["sensor"]
	camAddrs := addrs["camera"]
	// The camera's own web page, which the internet can reach (the lab's
	// router has no firewall, and IPv6 has no NAT).
	l.start("camera", "camera-httpd", "busybox", "httpd", "-f", "-p", fmt.Sprintf("[::]:%d", openPort), "-h", l.path("www"))
	l.waitListen("camera", "tcp", openPort)

	t.Run("baseline_ipv6_only_devices_reach_the_internet", func(t *testing.T) {
		for _, role := range []string{"camera", "laptop"} {
			if out, _ := l.in(role, 5*time.Second, "ip", "-4", "route", "show", "default"); strings.TrimSpace(out) != "" {
				t.Errorf("%s has an IPv4 default route: %s", role, out)
			}
			if err := poll(10*time.Second, pollEvery, func() (bool, string) {
				err := l.connect6(role, netip.Addr{}, cloudHost6, openPort)
				return err == nil, fmt.Sprint(err)
			}); err != nil {
				t.Errorf("%s cannot reach the cloud over IPv6 before anything happened: %v", role, err)
			}
		}
		if err := l.connect6("wan", netip.Addr{}, camAddrs.temporary.String(), openPort); err != nil {
			t.Errorf("the WAN host cannot reach the camera's page before anything happened: %v", err)
		}
	})

	t.Run("camera_quarantined_after_default_telnet_login", func(t *testing.T) {
		out, err := l.dev("camera", 20*time.Second, "expect", "-f", l.path("bin/telnet-login.exp"),
			cloudHost6, "root", cameraTelnetPassword)
		if err != nil {
			t.Fatalf("camera's telnet login to [%s]: %v\n%s", cloudHost6, err, out)
		}
		if err := poll(quarantineDeadline, pollEvery, func() (bool, string) {
			ok, err := l.setHas("block_mac", cam.mac)
			return ok, fmt.Sprintf("camera %s not in block_mac (%v)", cam.mac, err)
		}); err != nil {
			dev, _ := d.device(cam.mac)
			t.Fatalf("%v; daemon's view: %+v\n%s", err, dev, l.logs())
		}
		if err := poll(5*time.Second, pollEvery, func() (bool, string) {
			ok, err := l.setHas("block_v6", camAddrs.temporary.String())
			return ok, fmt.Sprintf("camera's login address %s not in block_v6 (%v)", camAddrs.temporary, err)
		}); err != nil {
			t.Error(err)
		}
		l.assertState(t, d, cam, "quarantined")
		dev, err := d.device(cam.mac)
		if err != nil {
			t.Fatal(err)
		}
		if kinds := findingKinds(dev); !slices.Contains(kinds, "default_credentials/telnet") {
			t.Errorf("camera's findings are %v, want default_credentials/telnet", kinds)
		}
		if err := l.connect6("camera", netip.Addr{}, cloudHost6, openPort); err == nil {
			t.Error("quarantined camera still reaches the cloud over IPv6")
		}
		if err := l.ping6From("wan", netip.Addr{}, camAddrs.temporary.String()); err == nil {
			t.Errorf("the WAN host still gets answers from the quarantined camera's %s", camAddrs.temporary)
		}
	})

	// A privacy address the camera takes after the quarantine: the
	// router has never seen it.
	newTemp := netip.MustParseAddr("2001:db8:77:0:5c1e:77ff:4e21:9a3b")
	t.Run("new_privacy_address_cut_both_ways", func(t *testing.T) {
		l.must("ip", "-n", l.ns("camera"), "-6", "addr", "add", newTemp.String()+"/64", "dev", "eth0", "nodad")
		if err := l.connect6("camera", newTemp, cloudHost6, openPort); err == nil {
			t.Errorf("the camera reaches the cloud from its new address %s", newTemp)
		}
		if err := l.ping6From("camera", newTemp, cloudHost6); err == nil {
			t.Errorf("the camera pings the cloud from its new address %s", newTemp)
		}
		// From the internet, to the address no set holds yet.
		if err := l.ping6From("wan", netip.Addr{}, newTemp.String()); err == nil {
			t.Errorf("the WAN host gets answers from the camera's new address %s", newTemp)
		}
		if err := l.connect6("wan", netip.Addr{}, newTemp.String(), openPort); err == nil {
			t.Errorf("the WAN host connects to the camera's new address %s", newTemp)
		}
		// The daemon saw the camera use it, and the quarantine holds it.
		if err := poll(5*time.Second, pollEvery, func() (bool, string) {
			ok, err := l.setHas("block_v6", newTemp.String())
			return ok, fmt.Sprintf("camera's new address %s not in block_v6 (%v)", newTemp, err)
		}); err != nil {
			t.Error(err)
		}
	})

	var noticeAddr string
	t.Run("dns_proxy_answers_slaac_and_link_local", func(t *testing.T) {
		routerLL, err := l.routerLinkLocal()
		if err != nil {
			t.Fatal(err)
		}
		// br-lan had no carrier, so no link-local address, before the
		// devices came up; the proxy takes up the new address within
		// its check interval.
		if err := poll(15*time.Second, pollEvery, func() (bool, string) {
			out, _ := l.in("router", 5*time.Second, "ss", "-Hlnu", "sport = :5354")
			return strings.Contains(out, routerLL.String()), "the DNS proxy does not listen on " + routerLL.String() + ": " + out
		}); err != nil {
			t.Error(err)
		}
		for _, server := range []string{routerLANV6, routerULAV6, routerLL.String() + "%eth0"} {
			got, err := l.lookupAAAA("camera", server, cloudNameV6)
			if err != nil {
				t.Errorf("%v\n%s", err, l.logs())
				continue
			}
			if len(got) != 1 || (got[0] != routerLANV6 && got[0] != routerULAV6) {
				t.Errorf("camera asking %s for AAAA %s got %v, want the notice page's address (one of the router's)", server, cloudNameV6, got)
				continue
			}
			noticeAddr = got[0]
		}
	})

	t.Run("notice_page_over_ipv6", func(t *testing.T) {
		if noticeAddr == "" {
			t.Fatal("no notice address from the DNS proxy to ask (see dns_proxy_answers_slaac_and_link_local)")
		}
		out, err := l.dev("camera", 10*time.Second, "curl", "-sS", "-6", "--max-time", "3",
			"--resolve", cloudNameV6+":80:["+noticeAddr+"]", "-w", "\n%{http_code}", "http://"+cloudNameV6+"/")
		if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "511") || !strings.Contains(out, "factory-default") {
			t.Errorf("camera's HTTP to %s at [%s]: %v\n%s", cloudNameV6, noticeAddr, err, out)
		}
		// Sent to the cloud's own address, HTTP is redirected too.
		code, body, err := l.httpGet("camera", "http://["+cloudHost6+"]/")
		if err != nil || code != 511 || !strings.Contains(body, "factory-default") {
			t.Errorf("camera's HTTP to [%s]: %d %v\n%s", cloudHost6, code, err, body)
		}
	})

	t.Run("owner_sets_page_up_from_a_privacy_address", func(t *testing.T) {
		l.ownerSetup(t, d, addrs["laptop"].temporary)
		l.assertInNoQuarantineSet(t, laptop)
		if out, err := d.cli("quarantine", laptop.mac); err == nil || !strings.Contains(out, "protected") {
			t.Errorf("iotgw quarantine of the owner's laptop: %v, %s; want refused as protected", err, out)
		}
		if ok, err := l.setHas("protected_mac", laptop.mac); !ok {
			t.Errorf("the owner's laptop is not in protected_mac (%v)", err)
		}
		// A new privacy address is still the owner's device.
		laptopNew := netip.MustParseAddr("2001:db8:77:0:a1b2:c3ff:fe44:d5e6")
		l.must("ip", "-n", l.ns("laptop"), "-6", "addr", "add", laptopNew.String()+"/64", "dev", "eth0", "nodad")
		if err := l.connect6("laptop", laptopNew, cloudHost6, openPort); err != nil {
			t.Errorf("the owner's laptop from its new address: %v", err)
		}
		if out, err := d.cli("quarantine", laptop.mac); err == nil || !strings.Contains(out, "protected") {
			t.Errorf("iotgw quarantine of the owner's laptop after its new address: %v, %s; want refused as protected", err, out)
		}
	})

	t.Run("link_local_only_device", func(t *testing.T) {
		l.linkLocalOnly(t, d, sensor)
	})

	t.Run("release_restores_ipv6", func(t *testing.T) {
		if out, err := d.cli("release", cam.mac); err != nil || !strings.Contains(out, "released") {
			t.Fatalf("iotgw release %s: %v\n%s", cam.mac, err, out)
		}
		for _, src := range []netip.Addr{camAddrs.temporary, newTemp} {
			if err := poll(5*time.Second, pollEvery, func() (bool, string) {
				err := l.connect6("camera", src, cloudHost6, openPort)
				return err == nil, fmt.Sprintf("camera still cut off after release: %v", err)
			}); err != nil {
				t.Error(err)
			}
			if err := l.ping6From("wan", netip.Addr{}, src.String()); err != nil {
				t.Errorf("after release: %v", err)
			}
			if err := l.connect6("wan", netip.Addr{}, src.String(), openPort); err != nil {
				t.Errorf("after release: %v", err)
			}
		}
		got, err := l.lookupAAAA("camera", routerLANV6, cloudNameV6)
		if err != nil || !slices.Equal(got, []string{cloudHost6}) {
			t.Errorf("camera's AAAA %s after release: %v, %v; want [%s]", cloudNameV6, got, err, cloudHost6)
		}
	})
}

// routerLinkLocal is the link-local address of the router's br-lan.
func (l *lab) routerLinkLocal() (netip.Addr, error) {
	out, err := l.in("router", 5*time.Second, "ip", "-6", "-o", "addr", "show", "dev", "br-lan", "scope", "link")
	if err != nil {
		return netip.Addr{}, fmt.Errorf("router: ip -6 addr: %v: %s", err, out)
	}
	f := strings.Fields(out)
	if i := slices.Index(f, "inet6"); i >= 0 && i+1 < len(f) {
		p, err := netip.ParsePrefix(f[i+1])
		return p.Addr(), err
	}
	return netip.Addr{}, fmt.Errorf("router: no link-local address on br-lan: %q", out)
}

// ownerSetup sets the web page's password from the laptop, connecting
// from src (a privacy address), with the setup code the CLI prints.
func (l *lab) ownerSetup(t *testing.T, d *daemon, src netip.Addr) {
	t.Helper()
	var code string
	if err := poll(10*time.Second, pollEvery, func() (bool, string) {
		out, err := d.cli("setup-code")
		code = strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
		return err == nil && len(code) == 14, fmt.Sprintf("iotgw setup-code: %v: %s", err, out)
	}); err != nil {
		t.Fatal(err)
	}
	// The page listens on the ULA address when the LAN has one (see
	// cmd/iotgw, defaultListen), as the owner's bookmark would name it.
	base := fmt.Sprintf("https://[%s]:%d", routerULAV6, webPort)
	out, err := l.in("laptop", 20*time.Second, "sh", l.path("bin/owner-setup.sh"), base, src.String(), code, ownerPasswd6, l.path("laptop.cookies"))
	if err != nil || strings.TrimSpace(out) != "303" {
		t.Fatalf("the owner's setup from the laptop's %s: %v\n%s\n%s", src, err, out, l.logs())
	}
}

// linkLocalOnly: a device that takes no router advertisement talks to
// the router from its link-local address alone. The daemon knows it by
// its MAC and that address; quarantined by hand, its DNS to the router's
// link-local address gets the notice page's address, and once it takes
// a SLAAC address after all, that address is cut both ways.
func (l *lab) linkLocalOnly(t *testing.T, d *daemon, h host) {
	t.Helper()
	l.must("ip", "netns", "exec", l.ns(h.role), "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=0")
	l.must("ip", "-n", l.ns(h.role), "link", "set", "eth0", "up")
	l.start(h.role, h.role+"-httpd", "busybox", "httpd", "-f", "-p", fmt.Sprintf("[::]:%d", openPort), "-h", l.path("www"))
	routerLL, err := l.routerLinkLocal()
	if err != nil {
		t.Fatal(err)
	}
	var ll netip.Addr
	if err := poll(10*time.Second, pollEvery, func() (bool, string) {
		list, err := l.v6Addrs(h.role)
		for _, a := range list {
			if a.addr.IsLinkLocalUnicast() {
				ll = a.addr
			} else {
				return false, fmt.Sprintf("%s has %s besides its link-local address", h.role, a.addr)
			}
		}
		return ll.IsValid() && l.ping6From(h.role, netip.Addr{}, routerLL.String()+"%eth0") == nil,
			fmt.Sprintf("%s: addresses %v (%v), no answer from the router's %s", h.role, list, err, routerLL)
	}); err != nil {
		t.Fatal(err)
	}
	if err := poll(5*time.Second, pollEvery, func() (bool, string) {
		dev, err := d.device(h.mac)
		return err == nil && slices.Contains(dev.Addrs, ll.String()), fmt.Sprintf("the daemon's %s: %+v (%v), want its %s", h.role, dev, err, ll)
	}); err != nil {
		t.Error(err)
	}
	if out, err := d.cli("quarantine", h.mac); err != nil {
		t.Fatalf("iotgw quarantine %s: %v\n%s", h.mac, err, out)
	}
	if ok, err := l.setHas("block_mac", h.mac); !ok {
		t.Fatalf("%s not in block_mac (%v)", h.role, err)
	}
	got, err := l.lookupAAAA(h.role, routerLL.String()+"%eth0", cloudNameV6)
	if err != nil || len(got) != 1 || (got[0] != routerLANV6 && got[0] != routerULAV6) {
		t.Errorf("%s's AAAA %s from the router's link-local address: %v, %v; want the notice page's address", h.role, cloudNameV6, got, err)
	}

	// Router advertisements taken after all: a global address the
	// quarantine never held.
	l.must("ip", "netns", "exec", l.ns(h.role), "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1")
	l.must("ip", "-n", l.ns(h.role), "link", "set", "eth0", "down")
	a := l.slaac(h.role)[h.role]
	if err := l.connect6(h.role, a.temporary, cloudHost6, openPort); err == nil {
		t.Errorf("quarantined %s reaches the cloud from its new %s", h.role, a.temporary)
	}
	if err := l.connect6("wan", netip.Addr{}, a.temporary.String(), openPort); err == nil {
		t.Errorf("the WAN host connects to quarantined %s's new %s", h.role, a.temporary)
	}
	if err := l.ping6From("wan", netip.Addr{}, a.temporary.String()); err == nil {
		t.Errorf("the WAN host gets answers from quarantined %s's new %s", h.role, a.temporary)
	}
	// Released, the same address gets through.
	if out, err := d.cli("release", h.mac); err != nil {
		t.Fatalf("iotgw release %s: %v\n%s", h.mac, err, out)
	}
	if err := poll(5*time.Second, pollEvery, func() (bool, string) {
		err := l.connect6("wan", netip.Addr{}, a.temporary.String(), openPort)
		return err == nil, fmt.Sprintf("after release: %v", err)
	}); err != nil {
		t.Error(err)
	}
}
