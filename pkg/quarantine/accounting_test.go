package quarantine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// captureModes are the two ways the first cut hands packets on: to
// NFLOG, and marked for the AF_PACKET ring's filter.
var captureModes = []struct {
	name    string
	capture CaptureConfig
}{
	{"nflog", CaptureConfig{Enabled: true, Group: 4, Snaplen: 256, Bytes: 4096, Mark: 0x00300000}},
	{"packet_mark", CaptureConfig{Enabled: true, Group: 4, Bytes: 4096, Mark: 0x00300000, PacketMark: DefaultPacketMark}},
}

// TestCaptureSkipsConnectionsOlderThanAccounting opens a connection
// through the router before conntrack accounting is on (a host whose
// boot leaves it off: its firewall forwards before the daemon starts)
// and then installs the capture
// rules. Such a connection has no counters, its "ct bytes" reads 0 for
// ever: its budget must count as spent, or every one of its packets is
// logged until it ends. Its first bytes are gone anyway.
func TestCaptureSkipsConnectionsOlderThanAccounting(t *testing.T) {
	netnstest.RequireNFTables(t)
	for _, tt := range captureModes {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			// fw4's stand-in: its state rules have the kernel track
			// connections from the start.
			netnstest.CmdIn(t, l.router, "nft", "add table inet fw; add chain inet fw forward { type filter hook forward priority 0; }; add rule inet fw forward ct state established,related accept")
			const oldPort, newPort = 7100, 7101
			old := l.dialEcho(t, oldPort)
			if err := echoText(old, "before the daemon"); err != nil {
				t.Fatal(err)
			}
			if err := netnstest.Run(l.router, EnableConntrackAccounting); err != nil {
				t.Fatal(err)
			}
			cfg := Config{
				RouterAddrs:   addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1"),
				LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64")},
				Capture:       tt.capture,
				NoticePort:    noticePort,
				LANInterfaces: []string{"br0"},
			}
			n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, l.router)))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Reconcile(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			c := n.cfg.Capture
			fresh := l.dialEcho(t, newPort)
			if tt.capture.PacketMark == 0 {
				const oldText, freshText = "iotgw-capture-old-conn", "iotgw-capture-fresh-conn"
				s := l.nflogDuring(t, c, func() {
					for range 4 {
						if err := echoText(old, oldText); err != nil {
							t.Fatal(err)
						}
					}
					if err := echoText(fresh, freshText); err != nil {
						t.Fatal(err)
					}
				}, oldText, freshText)
				if s.count[oldText] != 0 || s.count[freshText] != 2 {
					t.Errorf("capture: the connection older than accounting logged %d times (want 0), a new one %d times (want 2, both ways)", s.count[oldText], s.count[freshText])
				}
			} else {
				if err := echoText(old, "after the rules"); err != nil {
					t.Fatal(err)
				}
				if err := echoText(fresh, "after the rules"); err != nil {
					t.Fatal(err)
				}
			}
			if mark := l.connMark(t, oldPort); mark&c.Mark != c.Mark {
				t.Errorf("the older connection's mark is %#x, want both budget bits %#x: its packets are read as unspent", mark, c.Mark)
			}
			if mark := l.connMark(t, newPort); mark&c.Mark != 0 {
				t.Errorf("a new connection's mark is %#x after a few bytes, want no budget bit of %#x", mark, c.Mark)
			}
		})
	}
}

// TestCaptureKeepsRepliesAfterAnICMPError: with accounting on, a
// datagram answered by an ICMP error (port unreachable) before any reply
// leaves the connection's reply direction unspent. The error is related
// to the connection, in its reply direction, and conntrack does not count
// it: a test of the reply counter alone took the connection for one older
// than accounting and marked its replies spent, so that the server's first
// answers, once it is up, would never be captured.
func TestCaptureKeepsRepliesAfterAnICMPError(t *testing.T) {
	netnstest.RequireNFTables(t)
	for _, tt := range captureModes {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			if err := netnstest.Run(l.router, EnableConntrackAccounting); err != nil {
				t.Fatal(err)
			}
			n, err := NewNFTables(Config{
				RouterAddrs:   addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1"),
				LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64")},
				Capture:       tt.capture,
				NoticePort:    noticePort,
				LANInterfaces: []string{"br0"},
			}, WithNetNSFd(netnstest.Fd(t, l.router)))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Reconcile(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			// Nothing listens on the WAN host's port: it answers with
			// ICMP port unreachable, which the connected socket reads as
			// ECONNREFUSED once the router passed it on.
			const closedPort = 7200
			if err := netnstest.Run(l.device, func() error {
				c, err := net.Dial("udp4", net.JoinHostPort(serverV4, strconv.Itoa(closedPort)))
				if err != nil {
					return err
				}
				defer c.Close()
				if _, err := c.Write([]byte("register")); err != nil {
					return err
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Read(make([]byte, 16)); !errors.Is(err, syscall.ECONNREFUSED) {
					return fmt.Errorf("read after a datagram to a closed port: %v, want ECONNREFUSED", err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			c := n.cfg.Capture
			if mark := l.connMark(t, closedPort); mark&c.Mark != 0 {
				t.Errorf("after an ICMP error, the connection's mark is %#x, want no budget bit of %#x: its replies would go uncaptured", mark, c.Mark)
			}
		})
	}
}
