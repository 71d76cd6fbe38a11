//go:build linux

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// installCaptureChain turns on conntrack accounting in ns and installs
// iotgw's tables there with the capture chain for labGroup, as the daemon
// does in nflog mode.
func installCaptureChain(t *testing.T, ns string, routerAddr netip.Addr) {
	t.Helper()
	if err := netnstest.Run(ns, quarantine.EnableConntrackAccounting); err != nil {
		t.Fatal(err)
	}
	enf, err := quarantine.NewNFTables(quarantine.Config{
		RouterAddrs: []netip.Addr{routerAddr},
		NoticePort:  8080,
		Capture: quarantine.CaptureConfig{
			Enabled: true, Group: labGroup, Snaplen: labSnaplen, Bytes: labBudget, Packets: labPackets,
		},
	}, quarantine.WithNetNSFd(netnstest.Fd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	if err := enf.Reconcile(context.Background(), nil); err != nil {
		t.Fatalf("install the capture chain: %v", err)
	}
}

// nflogLab is a device, a router and a server namespace in a line; the
// router forwards, with conntrack accounting, and iotgw's own capture
// chain (package quarantine) logs the first bytes of each direction of
// each connection to an NFLOG group.
type nflogLab struct {
	device, router, server  string
	deviceMAC, routerLANMAC net.HardwareAddr
	serverMAC               net.HardwareAddr
	lanIndex                int
}

const (
	labGroup   = 7
	labBudget  = 4096 // bytes per direction logged
	labSnaplen = 2048
	// labPackets: the first packets of each direction are logged whatever
	// their size. The byte counter already includes the packet being
	// matched, so a first reply that GRO merged into a 64 KiB packet would
	// otherwise never be logged: the server's banner or status line lost.
	labPackets = 4
	labDevice  = "10.98.10.2"
	labServer  = "10.98.20.2"
)

func newNFLOGLab(t *testing.T) *nflogLab {
	t.Helper()
	l := &nflogLab{device: netnstest.New(t, "iotgwcap", "dev"), router: netnstest.New(t, "iotgwcap", "rtr"), server: netnstest.New(t, "iotgwcap", "srv")}
	netnstest.Veth(t, l.router, "lan0", "10.98.10.1/24", l.device, "eth0", labDevice+"/24")
	netnstest.Veth(t, l.router, "wan0", "10.98.20.1/24", l.server, "eth0", labServer+"/24")
	netnstest.Cmd(t, "ip", "-n", l.device, "route", "add", "default", "via", "10.98.10.1")
	netnstest.Cmd(t, "ip", "-n", l.server, "route", "add", "default", "via", "10.98.20.1")
	netnstest.CmdIn(t, l.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	installCaptureChain(t, l.router, netip.MustParseAddr("10.98.10.1"))
	lan := netnstest.Interface(t, l.router, "lan0")
	l.deviceMAC = netnstest.Interface(t, l.device, "eth0").HardwareAddr
	l.routerLANMAC, l.lanIndex = lan.HardwareAddr, lan.Index
	l.serverMAC = netnstest.Interface(t, l.server, "eth0").HardwareAddr
	return l
}

// serve starts an HTTP server in the server namespace answering every
// request with size bytes.
func (l *nflogLab) serve(t *testing.T, size int) {
	t.Helper()
	var ln net.Listener
	if err := netnstest.Run(l.server, func() error {
		var err error
		ln, err = net.Listen("tcp4", labServer+":80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// download fetches path from the server namespace's HTTP server from the
// device namespace and returns the bytes received.
func (l *nflogLab) download(t *testing.T, path string) int64 {
	t.Helper()
	var conn net.Conn
	if err := netnstest.Run(l.device, func() error {
		var err error
		conn, err = net.Dial("tcp4", labServer+":80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: lab\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, conn)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sentinel sends one UDP datagram from the device to the server: a new
// connection, so the router logs it, after everything sent before it.
func (l *nflogLab) sentinel(t *testing.T, marker string) {
	t.Helper()
	sendDatagram(t, l.device, "udp4", labServer+":9", marker)
}

func (l *nflogLab) openNFLOG(t *testing.T, ctx context.Context) *NFLOG {
	t.Helper()
	var src *NFLOG
	if err := netnstest.Run(l.router, func() error {
		var err error
		src, err = OpenNFLOG(ctx, NFLOGConfig{Group: labGroup})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func waitFrames(t *testing.T, frames <-chan []seenFrame, what string) []seenFrame {
	t.Helper()
	select {
	case seen := <-frames:
		return seen
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: the sentinel never arrived", what)
	}
	return nil
}

func isSentinel(marker string) func(seenFrame) bool {
	return func(f seenFrame) bool { return bytes.Contains(f.payload, []byte(marker)) }
}

// TestNFLOGConnectionStart checks that NFLOG delivers the first packets of
// a forwarded connection as Ethernet frames with the right addresses, and
// not the bulk of it.
func TestNFLOGConnectionStart(t *testing.T) {
	requireRoot(t)
	lab := newNFLOGLab(t)
	lab.serve(t, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := lab.openNFLOG(t, ctx)
	frames := collect(src, isSentinel("nflog-sentinel"))
	got := lab.download(t, "/firmware.bin")
	lab.sentinel(t, "nflog-sentinel")
	seen := waitFrames(t, frames, "nflog")

	var syn, request, reply bool
	var payload int
	for _, f := range seen {
		if f.info.LinkType != LinkTypeEthernet {
			t.Fatalf("link type %v", f.info.LinkType)
		}
		if f.info.CaptureLength > labSnaplen+etherHeaderLen {
			t.Errorf("frame of %d bytes, snaplen is %d", f.info.CaptureLength, labSnaplen)
		}
		if f.info.Length < f.info.CaptureLength {
			t.Errorf("length %d below captured %d", f.info.Length, f.info.CaptureLength)
		}
		switch f.src.String() {
		case labDevice:
			// From the LAN: the device's MAC, to the router's LAN port.
			if !bytes.Equal(f.srcMAC, lab.deviceMAC) || !bytes.Equal(f.dstMAC, lab.routerLANMAC) {
				t.Errorf("device frame MACs %s → %s, want %s → %s", f.srcMAC, f.dstMAC, lab.deviceMAC, lab.routerLANMAC)
			}
			if f.info.Interface != lab.lanIndex {
				t.Errorf("device frame from interface %d, want %d", f.info.Interface, lab.lanIndex)
			}
		case labServer:
			if !bytes.Equal(f.srcMAC, lab.serverMAC) {
				t.Errorf("server frame source MAC %s, want %s", f.srcMAC, lab.serverMAC)
			}
		}
		syn = syn || (f.syn && f.dport == 80 && f.src.String() == labDevice)
		request = request || bytes.HasPrefix(f.payload, []byte("GET /firmware.bin HTTP/1.0\r\n"))
		reply = reply || bytes.HasPrefix(f.payload, []byte("HTTP/1.0 200 OK"))
		if f.sport == 80 || f.dport == 80 {
			payload += len(f.payload)
		}
	}
	if !syn || !request || !reply {
		t.Errorf("SYN seen %v, request line seen %v, reply status seen %v; want all", syn, request, reply)
	}
	if payload > 4*labBudget {
		t.Errorf("NFLOG delivered %d payload bytes of a %d-byte download, budget %d per direction", payload, got, labBudget)
	}
	if st := src.Stats(); st.Packets != uint64(len(seen)) || st.Malformed != 0 {
		t.Errorf("stats %+v after reading %d packets", st, len(seen))
	}
}

// TestNFLOGFraction measures, for one bulk download through the router,
// the bytes that reach user space through NFLOG (first bytes of each
// connection) against plain AF_PACKET capture of the router's LAN port.
// Run with -v to see the figures.
func TestNFLOGFraction(t *testing.T) {
	requireRoot(t)
	const size = 5 << 20
	lab := newNFLOGLab(t)
	lab.serve(t, size)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nflog := lab.openNFLOG(t, ctx)
	var ring *AFPacket
	if err := netnstest.Run(lab.router, func() error {
		var err error
		// A ring large enough for the whole burst, so that plain capture
		// is measured without drops.
		ring, err = OpenAFPacket(ctx, AFPacketConfig{Interfaces: []string{"lan0"}, BlockSize: 1 << 20, NumBlocks: 32})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	marker := "fraction-sentinel"
	fromNFLOG := collect(nflog, isSentinel(marker))
	fromRing := collect(ring, isSentinel(marker))
	got := lab.download(t, "/bulk")
	lab.sentinel(t, marker)
	sum := func(seen []seenFrame) (bytes, packets int) {
		for _, f := range seen {
			if f.sport == 80 || f.dport == 80 {
				bytes += f.ipLen
				packets++
			}
		}
		return bytes, packets
	}
	nflogBytes, nflogPackets := sum(waitFrames(t, fromNFLOG, "nflog"))
	ringBytes, ringPackets := sum(waitFrames(t, fromRing, "afpacket"))
	if got < size {
		t.Fatalf("downloaded %d bytes, want %d", got, size)
	}
	st := ring.Stats()
	if st.Drops > 0 {
		t.Logf("afpacket ring dropped %d frames: its figure is low", st.Drops)
	}
	fraction := float64(nflogBytes) / float64(ringBytes)
	t.Logf("download %d bytes: to user space via NFLOG %d IP bytes in %d packets, via AF_PACKET %d IP bytes in %d frames; byte fraction %.5f (%.3f%%); nflog stats %+v",
		got, nflogBytes, nflogPackets, ringBytes, ringPackets, fraction, 100*fraction, nflog.Stats())
	if ringBytes < size {
		t.Errorf("AF_PACKET saw %d IP bytes of a %d-byte download", ringBytes, size)
	}
	if fraction > 0.01 {
		t.Errorf("NFLOG delivered %.3f%% of the bytes, want under 1%%", 100*fraction)
	}
}

// TestNFLOGStops checks that a blocked read ends on Close and on the
// context's end, and that a second source cannot take a bound group.
func TestNFLOGStops(t *testing.T) {
	requireRoot(t)
	ns := netnstest.New(t, "iotgwcap", "rtr")
	tests := []struct {
		name     string
		byCancel bool
		want     error
	}{
		{"close", false, io.EOF},
		{"cancel", true, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var src *NFLOG
			if err := netnstest.Run(ns, func() error {
				var err error
				src, err = OpenNFLOG(ctx, NFLOGConfig{Group: 9})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			errc := make(chan error, 1)
			go func() {
				_, _, err := src.ReadPacket()
				errc <- err
			}()
			if tt.byCancel {
				cancel()
			} else if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; !errors.Is(err, tt.want) {
				t.Fatalf("ReadPacket = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("group_taken", func(t *testing.T) {
		if err := netnstest.Run(ns, func() error {
			first, err := OpenNFLOG(context.Background(), NFLOGConfig{Group: 10})
			if err != nil {
				return err
			}
			defer first.Close()
			second, err := OpenNFLOG(context.Background(), NFLOGConfig{Group: 10})
			if err == nil {
				second.Close()
				return errors.New("a second source bound the same group")
			}
			if !strings.Contains(err.Error(), "group 10") {
				return fmt.Errorf("error does not name the group: %v", err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNFLOGOverrun fills a tiny socket buffer while nobody reads: the
// kernel drops messages and says so with ENOBUFS. The source counts the
// overrun and the lost packets and keeps reading.
func TestNFLOGOverrun(t *testing.T) {
	requireRoot(t)
	lab := newNFLOGLab(t)
	var src *NFLOG
	if err := netnstest.Run(lab.router, func() error {
		var err error
		src, err = OpenNFLOG(context.Background(), NFLOGConfig{Group: labGroup, QueueThreshold: 1, ReceiveBuffer: 4096})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Each datagram from its own socket is a new connection, so each is logged.
	if err := netnstest.Run(lab.device, func() error {
		for i := 0; i < 200; i++ {
			c, err := net.Dial("udp4", labServer+":9")
			if err != nil {
				return err
			}
			_, err = c.Write(bytes.Repeat([]byte{'x'}, 1000))
			c.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Drain what fitted; then a new connection must still come through.
	// Until the reader has emptied the buffer a new packet may be dropped
	// too, so the sentinel is sent again until one arrives.
	frames := collect(src, isSentinel("after-overrun"))
	var seen []seenFrame
	deadline := time.After(30 * time.Second)
	for seen == nil {
		lab.sentinel(t, "after-overrun")
		select {
		case seen = <-frames:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no packet came through after the overrun")
		}
	}
	st := src.Stats()
	t.Logf("read %d packets after a burst of 200; stats %+v", len(seen), st)
	if st.Overruns == 0 || st.Drops == 0 {
		t.Errorf("stats %+v: want overruns and drops counted", st)
	}
	if uint64(len(seen))+st.Drops < 201 {
		t.Errorf("%d read + %d counted lost: fewer than the 201 logged at least", len(seen), st.Drops)
	}
}

// TestNFLOGLargeBatch: the kernel fills a batch until its buffer's
// rounded-up tailroom runs out, past BatchSize; such a datagram is read
// whole, every packet in it.
func TestNFLOGLargeBatch(t *testing.T) {
	requireRoot(t)
	ns := netnstest.New(t, "iotgwc", "big")
	const group, packets, size = 9, 32, 3000
	netnstest.CmdIn(t, ns, "nft", fmt.Sprintf("add table ip t; add chain ip t out { type filter hook output priority 0; }; add rule ip t out udp dport 9 log group %d snaplen 4000", group))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var src *NFLOG
	if err := netnstest.Run(ns, func() error {
		var err error
		src, err = OpenNFLOG(ctx, NFLOGConfig{Group: group, FlushTimeout: time.Second})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := netnstest.Run(ns, func() error {
		// Unconnected, so that the port's ICMP answers fail no write.
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer c.Close()
		to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
		for range packets {
			if _, err := c.WriteTo(bytes.Repeat([]byte{'x'}, size), to); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range packets {
		data, _, err := src.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d of %d: %v; stats %+v", i+1, packets, err, src.Stats())
		}
		if len(data) < size {
			t.Fatalf("packet %d: %d bytes", i+1, len(data))
		}
	}
	if st := src.Stats(); st.Truncated != 0 {
		t.Errorf("stats %+v: a datagram did not fit", st)
	}
}

// TestNFLOGReceiveBufferForced: the buffer asked for is granted beyond
// net.core.rmem_max (the daemon holds CAP_NET_ADMIN, as root here).
func TestNFLOGReceiveBufferForced(t *testing.T) {
	requireRoot(t)
	ns := netnstest.New(t, "iotgwcap", "buf")
	const want = 32 << 20
	var src *NFLOG
	if err := netnstest.Run(ns, func() error {
		var err error
		src, err = OpenNFLOG(context.Background(), NFLOGConfig{Group: 11, ReceiveBuffer: want})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var got int
	var gerr error
	if err := src.raw.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if got < 2*want { // the kernel doubles what it was given, for its bookkeeping
		t.Errorf("receive buffer %d, want %d (twice %d)", got, 2*want, want)
	}
}
