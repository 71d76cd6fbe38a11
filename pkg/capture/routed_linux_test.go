package capture

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// TestAFPacketRoutedOnce captures a router's two bridges, as with
// capture.interfaces = ["br-lan", "br-iot"]: a datagram routed from one to
// the other is read once, as received from its sender (the sender's MAC),
// not again as the router sent it on; the router's own datagrams (from
// its address on the other bridge too) and those it routes from an
// interface not captured (the internet) are still read.
//
// Without waiting on the clock: each datagram's receiver answers before
// the next is sent, so when a later frame of a ring was read, that ring's
// copies of the earlier ones were too.
func TestAFPacketRoutedOnce(t *testing.T) {
	requireRoot(t)
	router := netnstest.New(t, "iotgwcap", "rtr")
	lan, iot, wan := netnstest.New(t, "iotgwcap", "lan"), netnstest.New(t, "iotgwcap", "iot"), netnstest.New(t, "iotgwcap", "wan")
	netnstest.NoDAD(t, router, lan, iot)
	for _, br := range []struct{ name, v4, v6 string }{
		{"br-lan", "10.95.1.1/24", "fd95:1::1/64"},
		{"br-iot", "10.95.2.1/24", "fd95:2::1/64"},
	} {
		netnstest.Cmd(t, "ip", "-n", router, "link", "add", br.name, "type", "bridge")
		netnstest.Cmd(t, "ip", "-n", router, "addr", "add", br.v4, "dev", br.name)
		netnstest.Cmd(t, "ip", "-n", router, "addr", "add", br.v6, "dev", br.name, "nodad")
		netnstest.Cmd(t, "ip", "-n", router, "link", "set", br.name, "up")
	}
	netnstest.BridgeHost(t, router, "br-lan", netnstest.LANHost{NS: lan, Port: "lan1", MAC: "02:95:00:00:01:02", V4: "10.95.1.2/24", V6: "fd95:1::2/64"}, "10.95.1.1", "fd95:1::1")
	netnstest.BridgeHost(t, router, "br-iot", netnstest.LANHost{NS: iot, Port: "iot1", MAC: "02:95:00:00:02:02", V4: "10.95.2.2/24", V6: "fd95:2::2/64"}, "10.95.2.1", "fd95:2::1")
	netnstest.Veth(t, router, "wan0", "192.0.2.1/24", wan, "eth0", "192.0.2.2/24")
	netnstest.Cmd(t, "ip", "-n", wan, "route", "add", "default", "via", "192.0.2.1")
	netnstest.CmdIn(t, router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	lanMAC, _ := net.ParseMAC("02:95:00:00:01:02")
	iotMAC, _ := net.ParseMAC("02:95:00:00:02:02")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // fails a test that hangs, never a slow one
	defer cancel()
	var src *AFPacket
	if err := netnstest.Run(router, func() (err error) {
		src, err = OpenAFPacket(ctx, AFPacketConfig{Interfaces: []string{"br-lan", "br-iot"}, Promiscuous: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	// One socket per host, port 5000; frames are told apart by payload.
	socks := map[string]*net.UDPConn{}
	for _, h := range []struct{ ns, addr string }{{lan, "10.95.1.2"}, {iot, "10.95.2.2"}, {wan, "192.0.2.2"}, {router, "10.95.1.1"}} {
		if err := netnstest.Run(h.ns, func() (err error) {
			socks[h.addr], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(h.addr), Port: 5000})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer socks[h.addr].Close()
	}
	// send sends msg from one host to another and waits until it arrived.
	send := func(from, to, msg string) {
		t.Helper()
		if _, err := socks[from].WriteToUDP([]byte(msg), &net.UDPAddr{IP: net.ParseIP(to), Port: 5000}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		socks[to].SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := socks[to].ReadFromUDP(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("%s to %s: got %q, %v", from, to, buf[:n], err)
		}
	}
	send("10.95.1.2", "10.95.2.2", "routed lan to iot")
	send("10.95.2.2", "10.95.1.2", "routed iot to lan")
	send("10.95.1.1", "10.95.2.2", "router to iot from its lan address") // routed by the router's own table onto br-iot
	send("192.0.2.2", "10.95.2.2", "routed wan to iot")
	send("10.95.2.2", "10.95.1.1", "iot to router, last on br-iot")
	send("10.95.1.2", "10.95.1.1", "lan to router, last on br-lan")

	type copyOf struct {
		srcMAC   string
		outgoing bool
	}
	seen := map[string][]copyOf{}
	for len(seen["iot to router, last on br-iot"]) == 0 || len(seen["lan to router, last on br-lan"]) == 0 {
		data, info, err := src.ReadPacket()
		if err != nil {
			t.Fatalf("read: %v; seen %v", err, seen)
		}
		if len(data) < 14+28 {
			continue
		}
		seen[string(data[14+28:])] = append(seen[string(data[14+28:])], copyOf{net.HardwareAddr(data[6:12]).String(), info.Outgoing})
	}
	for msg, want := range map[string]net.HardwareAddr{
		"routed lan to iot": lanMAC,
		"routed iot to lan": iotMAC,
	} {
		if got := seen[msg]; len(got) != 1 || got[0].srcMAC != want.String() || got[0].outgoing {
			t.Errorf("%q: copies %v, want one received from %s", msg, got, want)
		}
	}
	for _, msg := range []string{"router to iot from its lan address", "routed wan to iot"} {
		if got := seen[msg]; len(got) != 1 || !got[0].outgoing {
			t.Errorf("%q: copies %v, want the one the router sent", msg, got)
		}
	}
}
