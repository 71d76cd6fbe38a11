package netnstest

import (
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/testenv"
)

// TestVeth builds two namespaces joined by a veth pair and checks each
// helper against it: the addresses and links as ip sees them from
// inside, the interfaces Go sees, a datagram across the pair, and a
// descriptor of the namespace that Run enters.
func TestVeth(t *testing.T) {
	testenv.RequireRoot(t, "needs root to build network namespaces")
	a, b := New(t, "iotgwnt", "a"), New(t, "iotgwnt", "b")
	Veth(t, a, "va", "10.97.200.1/24", b, "vb", "10.97.200.2/24")

	for _, end := range []struct{ ns, ifname, addr string }{{a, "va", "10.97.200.1/24"}, {b, "vb", "10.97.200.2/24"}} {
		if out := CmdIn(t, end.ns, "ip", "-4", "-o", "addr", "show", "dev", end.ifname); !strings.Contains(out, end.addr) {
			t.Errorf("%s in %s: want %s, ip says %q", end.ifname, end.ns, end.addr, out)
		}
		ifc := Interface(t, end.ns, end.ifname)
		if ifc.Index == 0 || len(ifc.HardwareAddr) != 6 || ifc.Flags&net.FlagUp == 0 {
			t.Errorf("%s in %s: %+v, want an index, a MAC and up", end.ifname, end.ns, ifc)
		}
	}

	var pc net.PacketConn
	if err := Run(a, func() (err error) { pc, err = net.ListenPacket("udp4", "10.97.200.1:9999"); return err }); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := Run(b, func() error {
		c, err := net.Dial("udp4", "10.97.200.1:9999")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("across"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "across" || !strings.HasPrefix(from.String(), "10.97.200.2:") {
		t.Fatalf("read %q from %v (%v), want \"across\" from 10.97.200.2", buf[:n], from, err)
	}

	var fdStat, inside unix.Stat_t
	if err := unix.Fstat(Fd(t, a), &fdStat); err != nil {
		t.Fatal(err)
	}
	if err := Run(a, func() error { return unix.Stat("/proc/thread-self/ns/net", &inside) }); err != nil {
		t.Fatal(err)
	}
	if fdStat.Dev != inside.Dev || fdStat.Ino != inside.Ino {
		t.Errorf("Fd names namespace %d:%d, Run enters %d:%d", fdStat.Dev, fdStat.Ino, inside.Dev, inside.Ino)
	}
}
