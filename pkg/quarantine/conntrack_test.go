package quarantine

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// A quarantined device's open connections are cut: the flush removes the
// conntrack entries its address originated and no others.
func TestFlushConntrack(t *testing.T) {
	requireRoot(t)
	ns := netnstest.New(t, "iotgwq", "ct")
	// A rule that uses conntrack makes the namespace track connections.
	netnstest.CmdIn(t, ns, "nft", "add table ip t; add chain ip t out { type filter hook output priority 0; }; add rule ip t out ct state new counter")
	netnstest.CmdIn(t, ns, "ip", "addr", "add", "127.0.0.2/8", "dev", "lo")
	netnstest.CmdIn(t, ns, "ip", "addr", "add", "127.0.0.3/8", "dev", "lo")
	send := func(src string) {
		err := netnstest.Run(ns, func() error {
			c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)}, &net.UDPAddr{IP: net.ParseIP("127.0.0.9"), Port: 9999})
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("x"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	send("127.0.0.2")
	send("127.0.0.3")
	count := func(src string) int {
		n := 0
		err := netnstest.Run(ns, func() error {
			flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
			for _, f := range flows {
				if f.Forward.SrcIP.Equal(net.ParseIP(src)) {
					n++
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count("127.0.0.2") == 0 || count("127.0.0.3") == 0 {
		t.Fatalf("no conntrack entries to flush (127.0.0.2: %d, 127.0.0.3: %d)", count("127.0.0.2"), count("127.0.0.3"))
	}
	var deleted uint
	err := netnstest.Run(ns, func() error {
		var err error
		deleted, err = FlushConntrack([]netip.Addr{netip.MustParseAddr("127.0.0.2")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if deleted == 0 || count("127.0.0.2") != 0 || count("127.0.0.3") == 0 {
		t.Errorf("deleted %d; left 127.0.0.2: %d, 127.0.0.3: %d", deleted, count("127.0.0.2"), count("127.0.0.3"))
	}
}
