package quarantine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// lab is a home network in namespaces: a router bridging two LAN hosts
// (the device under test and a peer) and routing to a WAN host. Test
// addresses only (10.99.0.0/24, fd99::/64, 198.18.0.0/15, 2001:2::/48);
// no packet leaves the namespaces.
type lab struct {
	router, device, peer, wan string
}

const (
	routerV4, routerV6 = "10.99.0.1", "fd99::1"
	deviceV4, deviceV6 = "10.99.0.10", "fd99::10"
	peerV4             = "10.99.0.11"
	wanV4, wanV6       = "198.18.0.2", "2001:2::2"
	wanOtherV4         = "198.18.0.3"
	noticePort         = 8080
	dialTimeout        = 800 * time.Millisecond
)

var deviceMAC, peerMAC = mustMAC("02:00:00:00:00:10"), mustMAC("02:00:00:00:00:11")

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{router: newNetns(t, "router"), device: newNetns(t, "device"), peer: newNetns(t, "peer"), wan: newNetns(t, "wan")}
	ipr := func(ns string, args ...string) { run(t, "ip", append([]string{"-n", ns}, args...)...) }
	for _, ns := range []string{l.router, l.device, l.peer, l.wan} {
		// No duplicate address detection: link-local addresses would be
		// tentative, and IPv6 dead, for the first second or two.
		nsRun(t, ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")
	}

	ipr(l.router, "link", "add", "br0", "type", "bridge")
	for _, h := range []struct {
		ns, port string
		mac      hwaddr.MAC
		v4, v6   string
	}{{l.device, "lan0", deviceMAC, deviceV4, deviceV6}, {l.peer, "lan1", peerMAC, peerV4, "fd99::11"}} {
		ipr(l.router, "link", "add", h.port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		ipr(l.router, "link", "set", h.port, "master", "br0", "up")
		ipr(h.ns, "link", "set", "eth0", "address", h.mac.String(), "up")
		ipr(h.ns, "addr", "add", h.v4+"/24", "dev", "eth0")
		ipr(h.ns, "addr", "add", h.v6+"/64", "dev", "eth0", "nodad")
		ipr(h.ns, "route", "add", "default", "via", routerV4)
		ipr(h.ns, "-6", "route", "add", "default", "via", routerV6)
	}
	ipr(l.router, "addr", "add", routerV4+"/24", "dev", "br0")
	ipr(l.router, "addr", "add", routerV6+"/64", "dev", "br0", "nodad")
	ipr(l.router, "link", "set", "br0", "up")

	ipr(l.router, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", l.wan)
	ipr(l.router, "addr", "add", "198.18.0.1/24", "dev", "wan0")
	ipr(l.router, "addr", "add", "2001:2::1/64", "dev", "wan0", "nodad")
	ipr(l.router, "link", "set", "wan0", "up")
	ipr(l.wan, "link", "set", "eth0", "up")
	ipr(l.wan, "addr", "add", wanV4+"/24", "dev", "eth0")
	ipr(l.wan, "addr", "add", wanOtherV4+"/24", "dev", "eth0")
	ipr(l.wan, "addr", "add", wanV6+"/64", "dev", "eth0", "nodad")
	ipr(l.wan, "route", "add", "10.99.0.0/24", "via", "198.18.0.1")
	ipr(l.wan, "-6", "route", "add", "fd99::/64", "via", "2001:2::1")

	nsRun(t, l.router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding")
	// OpenWrt does not pass bridged frames through the inet hooks
	// (no br_netfilter); make sure the bridge table alone does the cut.
	_ = exec.Command("ip", "netns", "exec", l.router, "sh", "-c",
		"echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables; echo 0 > /proc/sys/net/bridge/bridge-nf-call-ip6tables").Run()

	// Servers: each TCP listener answers with its name, the UDP ones echo.
	l.serveTCP(t, l.wan, "[::]:80", "wan-http")
	l.serveTCP(t, l.wan, "[::]:443", "wan")
	l.serveTCP(t, l.peer, "[::]:443", "peer")
	l.serveTCP(t, l.device, "[::]:443", "device")
	l.serveTCP(t, l.router, fmt.Sprintf("[::]:%d", noticePort), "notice")
	l.serveTCP(t, l.router, "[::]:53", "dns-tcp")
	l.serveTCP(t, l.router, "[::]:2222", "router-admin")
	l.serveUDP(t, l.router, "[::]:53")
	l.serveUDP(t, l.router, "0.0.0.0:67")

	// Neighbour discovery takes a moment on fresh links.
	start := time.Now()
	for _, c := range [][2]string{{l.device, wanV6}, {l.wan, deviceV6}, {l.device, wanV4}} {
		for {
			if _, err := tcp(c[0], c[1], 443); err == nil {
				break
			} else if time.Since(start) > 10*time.Second {
				t.Fatalf("lab not ready: %s → %s: %v", nsRole(c[0]), c[1], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("lab ready after %v", time.Since(start))
	return l
}

func (l *lab) serveTCP(t *testing.T, ns, addr, name string) {
	t.Helper()
	var ln net.Listener
	if err := inNetns(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", name)
			c.Close()
		}
	}()
}

func (l *lab) serveUDP(t *testing.T, ns, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// tcp connects from ns and returns the name the server answered with.
func tcp(ns string, ip string, port int) (string, error) {
	var c net.Conn
	err := inNetns(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", net.JoinHostPort(ip, fmt.Sprint(port)), dialTimeout)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// udp sends a datagram from ns and waits for the echo.
func udp(ns string, ip string, port int) error {
	var c net.Conn
	err := inNetns(ns, func() (err error) {
		c, err = net.Dial("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err == nil && string(buf[:n]) != "ping" {
		err = errors.New("wrong echo")
	}
	return err
}

func ping(ns, ip string) error {
	return exec.Command("ip", "netns", "exec", ns, "busybox", "ping", "-c1", "-W1", ip).Run()
}

// check is one expectation: a TCP service answers with name ("" means the
// connection must fail), or a UDP echo works (udp: true) or fails.
type check struct {
	from, to string
	port     int
	udp      bool
	want     string // TCP: server name, "" blocked; UDP: "echo" or ""
}

// expect runs the checks concurrently (a blocked one waits for its
// timeout) and reports each that came out otherwise.
func (l *lab) expect(t *testing.T, stage string, checks []check) {
	t.Helper()
	got := make([]string, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !c.udp {
				got[i], _ = tcp(c.from, c.to, c.port)
			} else if udp(c.from, c.to, c.port) == nil {
				got[i] = "echo"
			}
		}()
	}
	wg.Wait()
	for i, c := range checks {
		if got[i] != c.want {
			t.Errorf("%s: %s → [%s]:%d udp=%v: got %q, want %q", stage, nsRole(c.from), c.to, c.port, c.udp, got[i], c.want)
		}
	}
}

func nsRole(ns string) string { return ns[strings.LastIndex(ns, "-")+1:] }

func TestTraffic(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	l := newLab(t)
	cfg := Config{
		RouterAddrs: addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1"),
		LANPrefixes: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64")},
		NoticePort:  noticePort,
		Capture:     CaptureConfig{Enabled: true, Group: 3, Snaplen: 256, Bytes: 4096},
	}
	if err := inNetns(l.router, EnableConntrackAccounting); err != nil {
		t.Fatal(err)
	}
	n, err := NewNFTables(cfg, WithNetNSFd(nsFd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d, p, w, r := l.device, l.peer, l.wan, l.router

	free := []check{
		{from: d, to: wanV4, port: 443, want: "wan"},
		{from: d, to: wanV6, port: 443, want: "wan"},
		{from: d, to: wanV4, port: 80, want: "wan-http"},
		{from: d, to: peerV4, port: 443, want: "peer"},
		{from: p, to: deviceV4, port: 443, want: "device"},
		{from: w, to: deviceV4, port: 443, want: "device"},
		{from: w, to: deviceV6, port: 443, want: "device"},
		{from: d, to: routerV4, port: 2222, want: "router-admin"},
	}
	l.expect(t, "before quarantine", free)
	if err := ping(d, wanV4); err != nil {
		t.Errorf("before quarantine: ping device → wan: %v", err)
	}

	router := []check{
		{from: d, to: routerV4, port: 53, udp: true, want: "echo"},
		{from: d, to: routerV6, port: 53, udp: true, want: "echo"},
		{from: d, to: routerV4, port: 67, udp: true, want: "echo"},
		{from: d, to: routerV4, port: 53, want: "dns-tcp"},
		{from: d, to: routerV4, port: noticePort, want: "notice"},
		{from: d, to: routerV6, port: noticePort, want: "notice"},
		{from: d, to: routerV4, port: 2222, want: ""},
	}

	device := Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: ModeBlock}
	if err := n.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "block", append([]check{
		{from: d, to: wanV4, port: 443, want: ""},
		{from: d, to: wanV6, port: 443, want: ""},
		{from: d, to: wanV4, port: 80, want: "notice"},
		{from: d, to: wanV6, port: 80, want: "notice"},
		{from: d, to: peerV4, port: 443, want: ""},
		{from: p, to: deviceV4, port: 443, want: ""},
		{from: w, to: deviceV4, port: 443, want: ""},
		{from: w, to: deviceV6, port: 443, want: ""},
	}, router...))
	if err := ping(d, wanV4); err == nil {
		t.Error("block: ping device → wan still works")
	}

	// The owner's device, once protected, can reach the quarantined
	// device (to fix it), and cannot itself be quarantined.
	if err := n.SetProtected(ctx, []hwaddr.MAC{peerMAC}, nil); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "block, peer protected", []check{{from: p, to: deviceV4, port: 443, want: "device"}})
	if err := n.Quarantine(ctx, Entry{MAC: peerMAC, Addrs: addrs(peerV4), Mode: ModeBlock}); !errors.Is(err, ErrProtected) {
		t.Errorf("quarantine of the protected peer: got %v, want ErrProtected", err)
	}
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}

	if err := n.Release(ctx, deviceMAC); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "released", free)

	device.Mode = ModeIsolate
	if err := n.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "isolate", append([]check{
		{from: d, to: wanV4, port: 443, want: ""},
		{from: d, to: wanV6, port: 443, want: ""},
		{from: d, to: wanV4, port: 80, want: ""},
		{from: w, to: deviceV4, port: 443, want: ""},
		{from: d, to: peerV4, port: 443, want: "peer"},
		{from: p, to: deviceV4, port: 443, want: "device"},
	}, router...))

	device.Mode = ModeUpdatesOnly
	if err := n.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAllowed(ctx, addrs(wanV4, wanV6), time.Minute); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "updates-only", append([]check{
		{from: d, to: wanV4, port: 443, want: "wan"},
		{from: d, to: wanV6, port: 443, want: "wan"},
		{from: d, to: wanV4, port: 80, want: "wan-http"},
		{from: d, to: wanOtherV4, port: 443, want: ""},
		{from: d, to: wanOtherV4, port: 80, want: "notice"},
		{from: d, to: peerV4, port: 443, want: ""},
		{from: w, to: deviceV4, port: 443, want: ""},
	}, router...))

	// IsolateLAN changes the rules: a new configuration rebuilds the
	// tables on Reconcile and keeps the device quarantined throughout.
	cfg.IsolateLAN = true
	strict, err := NewNFTables(cfg, WithNetNSFd(nsFd(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	device.Mode = ModeIsolate
	if err := strict.Reconcile(ctx, []Entry{device}); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "isolate with IsolateLAN", append([]check{
		{from: d, to: wanV4, port: 443, want: ""},
		{from: d, to: peerV4, port: 443, want: ""},
		{from: p, to: deviceV4, port: 443, want: ""},
	}, router...))

	if err := strict.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "uninstalled", free)
}
