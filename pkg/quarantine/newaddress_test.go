package quarantine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// A second LAN segment of the lab (a guest bridge) and the address the
// quarantined device takes after its entry was made: an IPv6 address
// the daemon has not learnt yet (a new temporary address).
const (
	guestV4, guestV6 = "10.98.0.21", "fd98::21"
	deviceNewV6      = "fd99::aa:10"
)

var guestMAC = mustMAC("02:00:00:00:00:21")

// tcpFrom connects over TCP from ns, from the local address from, and
// returns the name the server answered with.
func tcpFrom(ns, from, to string, port int) (string, error) {
	var c net.Conn
	err := netnstest.Run(ns, func() (err error) {
		d := net.Dialer{Timeout: dialTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err = d.Dial("tcp", net.JoinHostPort(to, strconv.Itoa(port)))
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

// addGuest gives the router a second LAN segment (br1, 10.98.0.0/24 and
// fd98::/64) with one host, returned, that answers TCP on 443 with its
// name.
func (l *lab) addGuest(t *testing.T) string {
	t.Helper()
	r := l.router
	guest := netnstest.New(t, "iotgwq", "guest")
	netnstest.NoDAD(t, guest)
	netnstest.Cmd(t, "ip", "-n", r, "link", "add", "br1", "address", "02:00:00:00:01:fe", "type", "bridge")
	netnstest.BridgeHost(t, r, "br1", netnstest.LANHost{NS: guest, Port: "lan2", MAC: guestMAC.String(), V4: guestV4 + "/24", V6: guestV6 + "/64"}, "10.98.0.1", "fd98::1")
	netnstest.Cmd(t, "ip", "-n", r, "addr", "add", "10.98.0.1/24", "dev", "br1")
	netnstest.Cmd(t, "ip", "-n", r, "addr", "add", "fd98::1/64", "dev", "br1", "nodad")
	netnstest.Cmd(t, "ip", "-n", r, "link", "set", "br1", "up")
	netnstest.Cmd(t, "ip", "-n", l.wan, "-6", "route", "add", "fd98::/64", "via", "2001:2::1")
	netnstest.ServeName(t, guest, "[::]:443", "guest", nil)
	// Neighbour discovery takes a moment on the fresh segment.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if _, err := tcp(guest, deviceV6, 443); err == nil {
			break
		} else if time.Since(start) > 10*time.Second {
			t.Fatalf("guest segment not ready: %v", err)
		}
	}
	return guest
}

// TestUnlearntAddressCut: a quarantined device that takes a new IPv6
// address, one its entry lacks, reaches nothing and is reached from
// nowhere its mode forbids: not the WAN, not another LAN segment the
// router routes to, not a host on its own segment that sends through
// the router. The connections that start towards it pass the address
// rules (they know no such address), so its replies must be stopped by
// its MAC, in every direction the router forwards them.
func TestUnlearntAddressCut(t *testing.T) {
	netnstest.RequireNFTables(t)
	ctx := context.Background()
	l := newLab(t)
	r, d, p, w := l.router, l.device, l.peer, l.wan
	guest := l.addGuest(t)

	// The new address. The peer sends to it through the router (a host
	// that does not take it for on-link) and the device answers the peer
	// the same way: routed in and out of the one bridge. Redirects would
	// turn that into bridged traffic, which the bridge table cuts.
	netnstest.Cmd(t, "ip", "-n", d, "addr", "add", deviceNewV6+"/64", "dev", "eth0", "nodad")
	netnstest.Cmd(t, "ip", "-n", d, "-6", "route", "add", peerV6+"/128", "via", routerV6)
	netnstest.Cmd(t, "ip", "-n", p, "-6", "route", "add", deviceNewV6+"/128", "via", routerV6)
	for _, ns := range []string{d, p} {
		netnstest.CmdIn(t, ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/all/accept_redirects; echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_redirects")
	}

	cfg := Config{
		RouterAddrs: addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1", "10.98.0.1", "fd98::1"),
		LANPrefixes: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64"),
			netip.MustParsePrefix("10.98.0.0/24"), netip.MustParsePrefix("fd98::/64")},
		NoticePort:    noticePort,
		Capture:       CaptureConfig{Enabled: true, Group: 3, Snaplen: 256, Bytes: 4096, Mark: 0x00300000},
		LANInterfaces: []string{"br0", "br1"},
	}
	n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAllowed(ctx, addrs(wanV6), time.Hour); err != nil {
		t.Fatal(err)
	}

	paths := []unlearntPath{
		{"device → WAN", d, deviceNewV6, wanV6},
		{"WAN → device", w, "", deviceNewV6},
		{"device → guest segment", d, deviceNewV6, guestV6},
		{"guest segment → device", guest, "", deviceNewV6},
		{"peer → device through the router", p, "", deviceNewV6},
		// The addresses the entry holds: the rules that let a connection
		// start there judge its replies too.
		{"guest segment → device's learnt address", guest, "", deviceV6},
		{"guest segment → device's learnt IPv4 address", guest, "", deviceV4},
	}
	want := func(ns string) string { return netnstest.Role(ns) }
	for _, tc := range []struct {
		stage    string
		mode     Mode
		owner    []netip.Addr // protected addresses
		ownerMAC []hwaddr.MAC // protected MACs
		want     []string     // per path: the server's name, "" blocked
	}{
		{"free", "", nil, nil, []string{want(w), "device", want(guest), "device", "device", "device", "device"}},
		{"block", ModeBlock, nil, nil, []string{"", "", "", "", "", "", ""}},
		{"isolate", ModeIsolate, nil, nil, []string{"", "", want(guest), "device", "device", "device", "device"}},
		{"updates-only", ModeUpdatesOnly, nil, nil, []string{want(w), "", "", "", "", "", ""}},
		// The owner's connections to it get their answers; it opens
		// none to the owner.
		{"block, guest protected", ModeBlock, addrs(guestV4, guestV6), nil, []string{"", "", "", "device", "", "device", "device"}},
		// An owner's device known by its MAC alone (a trusted one) on
		// another segment opens the camera's page at any of its
		// addresses, one the entry lacks too: the reply names the
		// owner's address, which no set holds, and passes on the mark
		// the owner's first packet set. The device still opens nothing
		// to the owner, nor does anyone else get an answer.
		{"block, guest protected by MAC", ModeBlock, nil, []hwaddr.MAC{guestMAC}, []string{"", "", "", "device", "", "device", "device"}},
		{"updates-only, guest protected by MAC", ModeUpdatesOnly, nil, []hwaddr.MAC{guestMAC}, []string{want(w), "", "", "device", "", "device", "device"}},
		// The owner's device on the camera's own segment, sending
		// through the router.
		{"block, peer protected by MAC", ModeBlock, nil, []hwaddr.MAC{peerMAC}, []string{"", "", "", "", "device", "", ""}},
		// Last: the marks are read after it. The device's own
		// connections (to the guest, which isolate lets it open) pass
		// without the owner's mark.
		{"isolate, guest protected by MAC", ModeIsolate, nil, []hwaddr.MAC{guestMAC}, []string{"", "", want(guest), "device", "device", "device", "device"}},
	} {
		if err := n.SetProtected(ctx, tc.ownerMAC, tc.owner); err != nil {
			t.Fatal(err)
		}
		if tc.mode == "" {
			if err := n.Release(ctx, deviceMAC); err != nil {
				t.Fatal(err)
			}
		} else if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: tc.mode}); err != nil {
			t.Fatal(err)
		}
		expectPaths(t, tc.stage, paths, tc.want)
	}
	// Only a connection a protected MAC opened to the LAN carries the
	// mark: the guest's to the device, not the device's to the guest,
	// nor the guest's to the internet, whose marks belong to others
	// (policy routing).
	if got, err := tcpFrom(guest, guestV6, wanV6, 443); err != nil || got != want(w) {
		t.Fatalf("guest → WAN: answered %q (%v), want %q", got, err, want(w))
	}
	marked := ownerMarked(t, r, n.cfg.OwnerMark)
	for _, c := range []struct {
		from, to string
		want     bool
	}{{guestV6, deviceNewV6, true}, {deviceNewV6, guestV6, false}, {guestV6, wanV6, false}} {
		got, ok := marked[[2]string{c.from, c.to}]
		if !ok {
			t.Errorf("no connection %s → %s tracked", c.from, c.to)
		} else if got != c.want {
			t.Errorf("connection %s → %s: owner mark %v, want %v", c.from, c.to, got, c.want)
		}
	}

	// Without LAN interfaces named, the replies are checked whatever
	// interface they come in on.
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	cfg.LANInterfaces = nil
	anyInterface, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	if err := anyInterface.Reconcile(ctx, []Entry{{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: ModeBlock}}); err != nil {
		t.Fatal(err)
	}
	expectPaths(t, "block, no LAN interfaces named", paths, []string{"", "", "", "", "", "", ""})
	if err := anyInterface.SetProtected(ctx, []hwaddr.MAC{guestMAC}, nil); err != nil {
		t.Fatal(err)
	}
	expectPaths(t, "block, guest protected by MAC, no LAN interfaces named", paths, []string{"", "", "", "device", "", "device", "device"})
}

// ownerMarked reads the router's tracked IPv6 connections to port 443:
// for each (source, destination) of its original direction, whether its
// connection mark has every bit of mark.
func ownerMarked(t *testing.T, router string, mark uint32) map[[2]string]bool {
	t.Helper()
	var flows []*netlink.ConntrackFlow
	err := netnstest.Run(router, func() (err error) {
		flows, err = netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET6)
		return err
	})
	if err != nil {
		t.Fatalf("listing the router's connections: %v", err)
	}
	marked := map[[2]string]bool{}
	for _, f := range flows {
		if f.Forward.DstPort == 443 {
			marked[[2]string{f.Forward.SrcIP.String(), f.Forward.DstIP.String()}] = f.Mark&mark == mark
		}
	}
	return marked
}

// unlearntPath is a TCP connection to port 443 from namespace from
// (from its address src, when set) to the address to.
type unlearntPath struct {
	name, from, src, to string
}

// expectPaths tries the paths at once and reports each whose server's
// answer is not the one in want ("" for none).
func expectPaths(t *testing.T, stage string, paths []unlearntPath, want []string) {
	t.Helper()
	got := make([]string, len(paths))
	var wg sync.WaitGroup
	for i, pa := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if pa.src != "" {
				got[i], _ = tcpFrom(pa.from, pa.src, pa.to, 443)
			} else {
				got[i], _ = tcp(pa.from, pa.to, 443)
			}
		}()
	}
	wg.Wait()
	for i, pa := range paths {
		if got[i] != want[i] {
			t.Errorf("%s: %s (%s): got %q, want %q", stage, pa.name, pa.to, got[i], want[i])
		}
	}
}

// udpSummed is a UDP header and payload from src to dst with its
// checksum, which IPv6 requires. The pseudo-header is written the IPv4
// way; for a datagram shorter than 64 KiB its one's complement sum is
// that of the IPv6 one.
func udpSummed(src, dst netip.Addr, sport, dport uint16, payload string) []byte {
	d := udpDatagram(sport, dport, payload)
	pseudo := append(append(src.AsSlice(), dst.AsSlice()...), 0, unix.IPPROTO_UDP, byte(len(d)>>8), byte(len(d)))
	sum := inetChecksum(append(pseudo, d...))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(d[6:], sum)
	return d
}

// TestOwnerMarkForgedSource: the owner mark answers the owner's devices
// on the LAN, not whatever source a frame copying the owner's MAC names.
// A quarantined device sends one datagram from the owner's MAC to the
// router, naming an internet host as its source and one of its own
// addresses as its destination; the router sends it back to the device,
// marked as the owner's, and the device's echo, from its own MAC, must
// not leave through the WAN: with it the host could go on talking to the
// device over the connection, as the reply of its original direction.
func TestOwnerMarkForgedSource(t *testing.T) {
	netnstest.RequireNFTables(t)
	ctx := context.Background()
	l := newLab(t)
	routerMAC := mustMAC("02:00:00:00:00:fe") // br0's, as newLab sets it
	cfg := labRules()
	cfg.DNSProxyPort = 0 // these rules redirect no DNS
	n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.SetProtected(ctx, []hwaddr.MAC{peerMAC}, nil); err != nil {
		t.Fatal(err)
	}
	sport := uint16(41000)
	for _, tc := range []struct {
		stage string
		mode  Mode // "": not quarantined, the echo's way out is open
		want  bool
	}{
		{"free", "", true},
		{"block", ModeBlock, false},
		{"isolate", ModeIsolate, false},
		{"updates-only", ModeUpdatesOnly, false},
	} {
		if tc.mode == "" {
			if err := n.Release(ctx, deviceMAC); err != nil {
				t.Fatal(err)
			}
		} else if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: tc.mode}); err != nil {
			t.Fatal(err)
		}
		for _, fam := range []struct{ name, host, device string }{{"IPv4", wanV4, deviceV4}, {"IPv6", wanV6, deviceV6}} {
			sport++
			host, dev := netip.MustParseAddr(fam.host), netip.MustParseAddr(fam.device)
			marker := fmt.Sprintf("iotgw-forged-%d", sport)
			d := udpSummed(host, dev, sport, 5000, marker)
			frame := ipv4Frame(routerMAC, peerMAC, host, dev, unix.IPPROTO_UDP, sport, 0, false, d)
			if fam.name == "IPv6" {
				frame = ipv6Frame(routerMAC, peerMAC, host, dev, unix.IPPROTO_UDP, d)
			}
			got := sendSeeing(t, l.device, [][]byte{frame}, l.wan, func(f []byte) bool { return bytes.Contains(f, []byte(marker)) })
			if got != tc.want {
				t.Errorf("%s, %s: the device's echo to %s reached the WAN: %v, want %v", tc.stage, fam.name, fam.host, got, tc.want)
			}
		}
	}
}

// TestOwnerMACCopied: a quarantined device that sends a frame from the
// owner's (protected) MAC opens no way its mode forbids, to another LAN
// segment or the WAN, in either of the two ways one frame could: from
// its own address, where the router would let the other end's echo back
// to it, and naming the other end as the source and its own address as
// the destination, where its own echo, from its own MAC, would reach the
// other end as the reply. Each is answered while the device is free, and
// an isolate device's LAN segments still answer it.
func TestOwnerMACCopied(t *testing.T) {
	netnstest.RequireNFTables(t)
	ctx := context.Background()
	l := newLab(t)
	guest := l.addGuest(t)
	l.serveUDP(t, guest, "[::]:5000")
	routerMAC := mustMAC("02:00:00:00:00:fe") // br0's, as newLab sets it
	n, err := NewNFTables(Config{
		RouterAddrs: addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1", "10.98.0.1", "fd98::1"),
		LANPrefixes: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64"),
			netip.MustParsePrefix("10.98.0.0/24"), netip.MustParsePrefix("fd98::/64")},
		NoticePort:    noticePort,
		LANInterfaces: []string{"br0", "br1"},
	}, WithNetNSFd(netnstest.Fd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.SetProtected(ctx, []hwaddr.MAC{peerMAC}, nil); err != nil {
		t.Fatal(err)
	}
	// The other ends: a host on the guest segment (a LAN prefix out of
	// a LAN interface) and one on the WAN, each echoing UDP on port.
	others := []struct {
		name, ns, v4, v6 string
		port             uint16
	}{
		{"guest", guest, guestV4, guestV6, 5000},
		{"WAN", l.wan, wanV4, wanV6, 1194},
	}
	sport := uint16(42000)
	for _, tc := range []struct {
		stage string
		mode  Mode   // "": not quarantined, both ways are open
		open  string // the other end both ways reach in this mode, if only one
		want  bool   // both ways reach every other end
	}{
		{stage: "free", want: true},
		{stage: "block", mode: ModeBlock},
		{stage: "updates-only", mode: ModeUpdatesOnly},
		{stage: "isolate", mode: ModeIsolate, open: "guest"},
	} {
		if tc.mode == "" {
			if err := n.Release(ctx, deviceMAC); err != nil {
				t.Fatal(err)
			}
		} else if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: tc.mode}); err != nil {
			t.Fatal(err)
		}
		for _, other := range others {
			for _, fam := range []struct{ name, device, other string }{{"IPv4", deviceV4, other.v4}, {"IPv6", deviceV6, other.v6}} {
				dev, host := netip.MustParseAddr(fam.device), netip.MustParseAddr(fam.other)
				for _, fromDevice := range []bool{true, false} {
					sport++
					// From its own address the other end echoes to the
					// device; from the other end's, the device (port
					// 5000) echoes to it.
					way, src, dst, dport, echoedAt := "from its own address", dev, host, other.port, l.device
					if !fromDevice {
						way, src, dst, dport, echoedAt = "from the other end's address", host, dev, 5000, other.ns
					}
					marker := fmt.Sprintf("iotgw-copied-%d", sport)
					d := udpSummed(src, dst, sport, dport, marker)
					frame := ipv4Frame(routerMAC, peerMAC, src, dst, unix.IPPROTO_UDP, sport, 0, false, d)
					if fam.name == "IPv6" {
						frame = ipv6Frame(routerMAC, peerMAC, src, dst, unix.IPPROTO_UDP, d)
					}
					// The device's own socket sees the frame it sends too.
					echo := func(f []byte) bool { return !bytes.Equal(f[6:12], peerMAC[:]) && bytes.Contains(f, []byte(marker)) }
					got := sendSeeing(t, l.device, [][]byte{frame}, echoedAt, echo)
					if want := tc.want || tc.open == other.name; got != want {
						t.Errorf("%s, %s, %s, %s: echo arrived %v, want %v", tc.stage, other.name, fam.name, way, got, want)
					}
				}
			}
		}
	}
}
