//go:build linux

package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// seenFrame is what a test keeps of a captured frame (frames are borrowed).
type seenFrame struct {
	info    Info
	ipProto layers.IPProtocol
	src     net.IP
	sport   uint16
	dport   uint16
	syn     bool
	fin     bool
	payload []byte
	srcMAC  net.HardwareAddr
	dstMAC  net.HardwareAddr
	ipLen   int // bytes from the IP header on
}

func decodeSeen(data []byte, info Info) seenFrame {
	f := seenFrame{info: info}
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
	if e, ok := pkt.LinkLayer().(*layers.Ethernet); ok {
		f.srcMAC, f.dstMAC = append(net.HardwareAddr(nil), e.SrcMAC...), append(net.HardwareAddr(nil), e.DstMAC...)
		f.ipLen = len(data) - len(e.Contents)
	}
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		f.ipProto, f.src = ip.Protocol, append(net.IP(nil), ip.SrcIP...)
	case *layers.IPv6:
		f.ipProto, f.src = ip.NextHeader, append(net.IP(nil), ip.SrcIP...)
	}
	switch l4 := pkt.TransportLayer().(type) {
	case *layers.TCP:
		f.sport, f.dport, f.syn, f.fin = uint16(l4.SrcPort), uint16(l4.DstPort), l4.SYN, l4.FIN
		f.payload = bytes.Clone(l4.Payload)
	case *layers.UDP:
		f.sport, f.dport = uint16(l4.SrcPort), uint16(l4.DstPort)
		f.payload = bytes.Clone(l4.Payload)
	}
	if icmp, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		f.payload = bytes.Clone(icmp.Payload)
	}
	return f
}

// collect reads src in a goroutine until a frame satisfies last (or the
// source ends) and returns what it read.
func collect(src Source, last func(seenFrame) bool) <-chan []seenFrame {
	out := make(chan []seenFrame, 1)
	go func() {
		var seen []seenFrame
		defer func() { out <- seen }()
		for {
			data, info, err := src.ReadPacket()
			if err != nil {
				return
			}
			f := decodeSeen(data, info)
			seen = append(seen, f)
			if last(f) {
				return
			}
		}
	}()
	return out
}

func hasPayload(seen []seenFrame, s string) bool {
	for _, f := range seen {
		if bytes.Contains(f.payload, []byte(s)) {
			return true
		}
	}
	return false
}

// icmpEcho is an ICMPv4 echo request carrying payload.
func icmpEcho(t testing.TB, payload string) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1},
		gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openIn opens the source inside network namespace ns.
func openIn(t *testing.T, ns string, ctx context.Context, cfg AFPacketConfig) *AFPacket {
	t.Helper()
	var src *AFPacket
	if err := netnstest.Run(ns, func() error {
		var err error
		src, err = OpenAFPacket(ctx, cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestAFPacketFilterOnVeth captures, with the inspectors' filter, what a
// device namespace sends over a veth and checks that wanted traffic
// arrives and filtered traffic does not. The device sends the unwanted
// packets first and the wanted marker last: frames of one ring arrive in
// order, so when the marker is read every earlier frame has been seen.
func TestAFPacketFilterOnVeth(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.1.1/24", device, "eth0", "10.98.1.2/24")

	filter, err := FilterFor(PortSet{Ports: []uint16{8080, 5353}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var src *AFPacket
	var lnWanted, lnOther net.Listener
	if err := netnstest.Run(router, func() error {
		var err error
		if src, err = OpenAFPacket(ctx, AFPacketConfig{Interfaces: []string{"lan0"}, Filter: filter, Promiscuous: true}); err != nil {
			return err
		}
		if lnWanted, err = net.Listen("tcp4", "10.98.1.1:8080"); err != nil {
			return err
		}
		lnOther, err = net.Listen("tcp4", "10.98.1.1:9090")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	defer lnWanted.Close()
	defer lnOther.Close()
	go drain(lnWanted)
	go drain(lnOther)

	const marker = "GET /wanted-last HTTP/1.0"
	frames := collect(src, isSentinel(marker))

	// Built here: t.Fatal must not run on the goroutine Run switches into
	// the namespace, which would then never report back.
	echo := icmpEcho(t, "unwanted-icmp")
	if err := netnstest.Run(device, func() error {
		send := func(network, addr, payload string) error {
			c, err := net.Dial(network, addr)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte(payload))
			return err
		}
		if err := send("udp4", "10.98.1.1:9999", "unwanted-udp"); err != nil {
			return err
		}
		icmp, err := net.ListenPacket("ip4:icmp", "10.98.1.2")
		if err != nil {
			return err
		}
		defer icmp.Close()
		if _, err := icmp.WriteTo(echo, &net.IPAddr{IP: net.IPv4(10, 98, 1, 1)}); err != nil {
			return err
		}
		if err := send("tcp4", "10.98.1.1:9090", "unwanted-tcp"); err != nil {
			return err
		}
		// Nothing listens on 7777: the SYN passes, the RST does not matter.
		if c, err := net.Dial("tcp4", "10.98.1.1:7777"); err == nil {
			c.Close()
			return errors.New("something listens on 7777")
		}
		if err := send("udp4", "10.98.1.1:5353", "wanted-mdns"); err != nil {
			return err
		}
		return send("tcp4", "10.98.1.1:8080", marker+"\r\n\r\n")
	}); err != nil {
		t.Fatal(err)
	}

	seen := waitFrames(t, frames, "wanted marker")
	for _, s := range []string{"unwanted-udp", "unwanted-icmp", "unwanted-tcp"} {
		if hasPayload(seen, s) {
			t.Errorf("%q passed the filter", s)
		}
	}
	for _, s := range []string{"wanted-mdns", marker} {
		if !hasPayload(seen, s) {
			t.Errorf("%q missing", s)
		}
	}
	var syn7777, syn9090 bool
	for _, f := range seen {
		if f.info.LinkType != LinkTypeEthernet || f.info.CaptureLength != f.ipLen+14 || f.info.Length < f.info.CaptureLength || f.info.Timestamp.IsZero() {
			t.Errorf("frame info %+v", f.info)
		}
		if f.ipProto == layers.IPProtocolICMPv4 {
			t.Errorf("ICMP passed the filter: %+v", f)
		}
		syn7777 = syn7777 || (f.syn && f.dport == 7777)
		syn9090 = syn9090 || (f.syn && f.dport == 9090)
	}
	if !syn7777 || !syn9090 {
		t.Errorf("SYN to 7777 seen %v, to 9090 seen %v; want both", syn7777, syn9090)
	}
	st := src.Stats()
	if st.Packets != uint64(len(seen)) || st.Kernel < st.Packets {
		t.Errorf("stats %+v after reading %d frames", st, len(seen))
	}
}

// TestAFPacketSpentMark checks in the kernel what x/net/bpf's VM cannot
// run: a frame the router sends whose packet mark has the filter's
// SpentMark bit is dropped, one with other bits passes. SO_MARK gives
// the sent packets their mark, as iotgw's forward rule does for
// forwarded ones. The marker goes last, unmarked (frames of one ring
// arrive in order).
func TestAFPacketSpentMark(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.3.1/24", device, "eth0", "10.98.3.2/24")

	const bit = 0x20000000
	filter, err := FilterFor(PortSet{Ports: []uint16{5353}, SpentMark: bit})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := openIn(t, router, ctx, AFPacketConfig{Interfaces: []string{"lan0"}, Filter: filter})
	defer src.Close()
	const marker = "unmarked-last"
	frames := collect(src, isSentinel(marker))

	if err := netnstest.Run(router, func() error {
		send := func(mark int, payload string) error {
			d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark)
				}); err != nil {
					return err
				}
				return serr
			}}
			c, err := d.Dial("udp4", "10.98.3.2:5353")
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte(payload))
			return err
		}
		for _, p := range []struct {
			mark    int
			payload string
		}{{bit, "spent"}, {bit | 0x3f00, "spent-among-others"}, {0x3f00, "other-bits"}, {0, marker}} {
			if err := send(p.mark, p.payload); err != nil {
				return fmt.Errorf("mark %#x: %w", p.mark, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	seen := waitFrames(t, frames, "unmarked marker")
	for _, s := range []string{"spent", "spent-among-others"} {
		if slices.ContainsFunc(seen, func(f seenFrame) bool { return string(f.payload) == s }) {
			t.Errorf("%q, sent with the spent bit, passed the filter", s)
		}
	}
	if !hasPayload(seen, "other-bits") {
		t.Error(`"other-bits", sent with other mark bits only, was dropped`)
	}
}

func drain(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}()
	}
}

// TestAFPacketStops checks that a blocked read ends on Close and on the
// context's end, for one ring and for several.
func TestAFPacketStops(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.2.1/24", device, "eth0", "10.98.2.2/24")
	netnstest.Veth(t, router, "lan1", "10.98.3.1/24", device, "eth1", "10.98.3.2/24")
	// A filter that passes nothing keeps reads blocked.
	none, err := FilterFor(PortSet{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		interfaces []string
		byCancel   bool
		want       error
	}{
		{"one_ring_close", []string{"lan0"}, false, io.EOF},
		{"one_ring_cancel", []string{"lan0"}, true, context.Canceled},
		{"two_rings_close", []string{"lan0", "lan1"}, false, io.EOF},
		{"two_rings_cancel", []string{"lan0", "lan1"}, true, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := openIn(t, router, ctx, AFPacketConfig{Interfaces: tt.interfaces, Filter: none, PollTimeout: 20 * time.Millisecond})
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
			if _, _, err := src.ReadPacket(); !errors.Is(err, tt.want) {
				t.Fatalf("second ReadPacket = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestAFPacketSeveralInterfaces reads two rings through one source; each
// frame names the interface it came from, and a frame stays intact while
// the other ring receives.
func TestAFPacketSeveralInterfaces(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.4.1/24", device, "eth0", "10.98.4.2/24")
	netnstest.Veth(t, router, "lan1", "10.98.5.1/24", device, "eth1", "10.98.5.2/24")
	idx := map[int]string{netnstest.Interface(t, router, "lan0").Index: "lan0", netnstest.Interface(t, router, "lan1").Index: "lan1"}
	filter, err := FilterFor(PortSet{Ports: []uint16{5353}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := openIn(t, router, ctx, AFPacketConfig{Interfaces: []string{"lan0", "lan1"}, Filter: filter})
	defer src.Close()

	const perLink = 50
	got := map[string]int{}
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		for n := 0; n < 2*perLink; {
			data, info, err := src.ReadPacket()
			if err != nil {
				done <- err
				return
			}
			f := decodeSeen(data, info)
			if f.dport != 5353 {
				continue // ARP, which the filter passes too
			}
			n++
			// Hold the frame a moment so that the other ring fills meanwhile;
			// its bytes must not change under us.
			want := bytes.Clone(data)
			time.Sleep(time.Millisecond)
			if !bytes.Equal(data, want) {
				done <- fmt.Errorf("frame %d changed while lent", n)
				return
			}
			name := idx[info.Interface]
			if !bytes.HasPrefix(f.payload, []byte(name+"-")) {
				done <- fmt.Errorf("frame from interface %d (%s) carries %q", info.Interface, name, f.payload)
				return
			}
			mu.Lock()
			got[name]++
			mu.Unlock()
		}
		done <- nil
	}()
	if err := netnstest.Run(device, func() error {
		// Unconnected, so that the port-unreachable replies do not fail
		// the next write.
		c, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < perLink; i++ {
			for _, l := range []struct{ dst, name string }{{"10.98.4.1:5353", "lan0"}, {"10.98.5.1:5353", "lan1"}} {
				dst, err := net.ResolveUDPAddr("udp4", l.dst)
				if err != nil {
					return err
				}
				if _, err := c.WriteTo(fmt.Appendf(nil, "%s-%d", l.name, i), dst); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("not every frame arrived")
	}
	mu.Lock()
	defer mu.Unlock()
	if got["lan0"] != perLink || got["lan1"] != perLink {
		t.Errorf("frames per interface %v, want %d each", got, perLink)
	}
}

// TestAFPacketCloseWhileLent closes the source while the last frame is
// still lent: the frame stays readable, and the next read ends the source.
func TestAFPacketCloseWhileLent(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.6.1/24", device, "eth0", "10.98.6.2/24")
	src := openIn(t, router, context.Background(), AFPacketConfig{Interfaces: []string{"lan0"}})
	sendDatagram(t, device, "udp4", "10.98.6.1:9", "lent-frame")
	var data []byte
	for !bytes.Contains(data, []byte("lent-frame")) {
		var err error
		if data, _, err = src.ReadPacket(); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("lent-frame")) {
		t.Fatal("the lent frame changed after Close")
	}
	if _, _, err := src.ReadPacket(); !errors.Is(err, io.EOF) {
		t.Fatalf("ReadPacket after Close = %v, want EOF", err)
	}
	if st := src.Stats(); st.Packets == 0 {
		t.Errorf("stats lost after Close: %+v", st)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestAFPacketVLAN sends 802.1Q-tagged frames over a veth (the kernel's
// receive path moves the tag out of the frame before capture sees it) and
// checks that the filter still passes wanted and drops unwanted frames,
// and that RestoreVLAN gives the tag back.
func TestAFPacketVLAN(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.7.1/24", device, "eth0", "10.98.7.2/24")
	routerMAC := netnstest.Interface(t, router, "lan0").HardwareAddr
	filter, err := FilterFor(PortSet{Ports: []uint16{5353}})
	if err != nil {
		t.Fatal(err)
	}
	tagged := func(port uint16, payload string) []byte {
		e := eth(layers.EthernetTypeDot1Q)
		e.DstMAC = routerMAC
		return frame(t, e, dot1q(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(40000, port), gopacket.Payload(payload))
	}
	for _, restore := range []bool{false, true} {
		t.Run(fmt.Sprintf("restore_%v", restore), func(t *testing.T) {
			src := openIn(t, router, context.Background(), AFPacketConfig{Interfaces: []string{"lan0"}, Filter: filter, RestoreVLAN: restore})
			defer src.Close()
			marker := fmt.Sprintf("vlan-wanted-%v", restore)
			type seenTagged struct {
				payload string
				vlan    int // -1 untagged
			}
			out := make(chan []seenTagged, 1)
			go func() {
				var seen []seenTagged
				defer func() { out <- seen }()
				for {
					data, _, err := src.ReadPacket()
					if err != nil {
						return
					}
					pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
					st := seenTagged{vlan: -1}
					if d, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
						st.vlan = int(d.VLANIdentifier)
					}
					if u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
						st.payload = string(u.Payload)
					}
					seen = append(seen, st)
					if st.payload == marker {
						return
					}
				}
			}()
			// A raw packet socket: this kernel needs no VLAN device.
			sendRawFrames(t, device, routerMAC, tagged(9999, "vlan-unwanted"), tagged(5353, marker))
			var seen []seenTagged
			select {
			case seen = <-out:
			case <-time.After(20 * time.Second):
				t.Fatal("the tagged marker was never captured")
			}
			var wanted bool
			for _, st := range seen {
				if st.payload == "vlan-unwanted" {
					t.Error("unwanted tagged frame passed the filter")
				}
				if st.payload == marker {
					wanted = true
					if want := map[bool]int{false: -1, true: 42}[restore]; st.vlan != want {
						t.Errorf("VLAN %d, want %d", st.vlan, want)
					}
				}
			}
			if !wanted {
				t.Error("wanted tagged frame missing")
			}
		})
	}
}

// TestAFPacketSkipsMissing: with SkipMissing a source opens on the
// interfaces that exist and are up and names the others; when one of
// them comes up (in the namespace the source was opened in, whatever
// thread looks), or one it reads goes down or away, the source ends with
// ErrInterfacesChanged, and opened again it reads what is there.
// Without SkipMissing, opening fails.
func TestAFPacketSkipsMissing(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.8.1/24", device, "eth0", "10.98.8.2/24")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(cfg AFPacketConfig) (src *AFPacket, err error) {
		cfg.PollTimeout, cfg.MissingCheck = 20*time.Millisecond, 20*time.Millisecond
		err = netnstest.Run(router, func() error {
			src, err = OpenAFPacket(ctx, cfg)
			return err
		})
		return src, err
	}
	if src, err := open(AFPacketConfig{Interfaces: []string{"lan0", "lan1"}}); err == nil {
		src.Close()
		t.Error("lan1 missing without SkipMissing: opened, want an error")
	}

	both := AFPacketConfig{Interfaces: []string{"lan0", "lan1"}, SkipMissing: true}
	// Each step opens the source, checks what it left out, changes lan1
	// and expects the source to end for it.
	steps := []struct {
		name    string
		missing []string
		change  func()
	}{
		{"lan1_created", []string{"lan1"}, func() {
			netnstest.Veth(t, router, "lan1", "10.98.9.1/24", device, "eth1", "10.98.9.2/24")
		}},
		{"lan1_down", nil, func() { netnstest.Cmd(t, "ip", "-n", router, "link", "set", "lan1", "down") }},
		{"lan1_up", []string{"lan1"}, func() { netnstest.Cmd(t, "ip", "-n", router, "link", "set", "lan1", "up") }},
		{"lan1_deleted", nil, func() { netnstest.Cmd(t, "ip", "-n", router, "link", "del", "lan1") }},
	}
	for _, step := range steps {
		src, err := open(both)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := src.Missing(); !slices.Equal(got, step.missing) {
			t.Errorf("%s: Missing() = %v, want %v", step.name, got, step.missing)
		}
		if want := 2 - len(step.missing); len(src.rings) != want {
			t.Errorf("%s: %d rings, want %d", step.name, len(src.rings), want)
		}
		ended := make(chan error, 1)
		go func() {
			for {
				if _, _, err := src.ReadPacket(); err != nil {
					ended <- err
					return
				}
			}
		}()
		select {
		case err := <-ended:
			t.Fatalf("%s: the source ended before the change: %v", step.name, err)
		case <-time.After(100 * time.Millisecond):
		}
		step.change()
		select {
		case err := <-ended:
			if !errors.Is(err, ErrInterfacesChanged) {
				t.Fatalf("%s: ReadPacket = %v, want ErrInterfacesChanged", step.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the source did not end", step.name)
		}
		src.Close()
	}
	src, err := open(both)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := src.Missing(); !slices.Equal(got, []string{"lan1"}) {
		t.Errorf("after lan1 was deleted Missing() = %v, want [lan1]", got)
	}
}

// TestAFPacketWaitsForOnlyInterface: with SkipMissing and the only
// interface down or gone at open (br-lan during a network restart), the
// source opens with no ring, reads nothing, and ends with
// ErrInterfacesChanged once the interface is up, so that the caller
// opens it again within MissingCheck instead of failing and backing off;
// opened again it reads the interface. Close ends a source with no ring.
func TestAFPacketWaitsForOnlyInterface(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // ends a hung read, never a slow one
	defer cancel()
	open := func(names ...string) (src *AFPacket, err error) {
		cfg := AFPacketConfig{Interfaces: names, SkipMissing: true, PollTimeout: 20 * time.Millisecond, MissingCheck: 20 * time.Millisecond}
		err = netnstest.Run(router, func() error {
			src, err = OpenAFPacket(ctx, cfg)
			return err
		})
		return src, err
	}
	// Gone: opens, reads nothing, Close ends it.
	src, err := open("gone0", "gone1")
	if err != nil {
		t.Fatalf("every interface gone: %v", err)
	}
	if got := src.Missing(); !slices.Equal(got, []string{"gone0", "gone1"}) || len(src.rings) != 0 {
		t.Errorf("Missing() = %v with %d rings, want both and none", got, len(src.rings))
	}
	ended := make(chan error, 1)
	go func() { _, _, err := src.ReadPacket(); ended <- err }()
	src.Close()
	if err := <-ended; !errors.Is(err, io.EOF) {
		t.Errorf("ReadPacket after Close = %v, want io.EOF", err)
	}

	// Down at open, then up.
	netnstest.Veth(t, router, "lan0", "10.98.10.1/24", device, "eth0", "10.98.10.2/24")
	netnstest.Cmd(t, "ip", "-n", router, "link", "set", "lan0", "down")
	if src, err = open("lan0"); err != nil {
		t.Fatalf("lan0 down: %v", err)
	}
	if got := src.Missing(); !slices.Equal(got, []string{"lan0"}) {
		t.Errorf("Missing() = %v, want [lan0]", got)
	}
	go func() {
		for {
			if _, _, err := src.ReadPacket(); err != nil {
				ended <- err
				return
			}
		}
	}()
	netnstest.Cmd(t, "ip", "-n", router, "link", "set", "lan0", "up")
	select {
	case err := <-ended:
		if !errors.Is(err, ErrInterfacesChanged) {
			t.Fatalf("ReadPacket = %v, want ErrInterfacesChanged", err)
		}
	case <-time.After(20 * time.Second): // a hang, not a slow machine
		t.Fatal("the source did not end when lan0 came up")
	}
	src.Close()

	if src, err = open("lan0"); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if len(src.rings) != 1 || len(src.Missing()) != 0 {
		t.Fatalf("opened again: %d rings, missing %v", len(src.rings), src.Missing())
	}
	sendDatagram(t, device, "udp4", "10.98.10.1:9", "after the interface came back")
	for {
		data, _, err := src.ReadPacket()
		if err != nil {
			t.Fatalf("the datagram sent after lan0 came back was not read: %v", err)
		}
		if strings.Contains(string(data), "after the interface came back") {
			return
		}
	}
}

// TestAFPacketFilterIPv6DestOpts: the kernel runs the filter's skipping
// of IPv6 extension headers as the VM does: a datagram to a wanted port
// sent with a destination options header is read.
func TestAFPacketFilterIPv6DestOpts(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.NoDAD(t, router, device)
	netnstest.Veth(t, router, "lan0", "fd98:11::1/64", device, "eth0", "fd98:11::2/64")
	filter, err := FilterFor(PortSet{Ports: []uint16{5353}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // ends a hung read, never a slow one
	defer cancel()
	src := openIn(t, router, ctx, AFPacketConfig{Interfaces: []string{"lan0"}, Filter: filter})
	defer src.Close()
	const msg = "behind destination options"
	if err := netnstest.Run(device, func() error {
		c, err := net.Dial("udp6", "[fd98:11::1]:5353")
		if err != nil {
			return err
		}
		defer c.Close()
		rc, err := c.(*net.UDPConn).SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		// Next header (the kernel's), length 0 (8 bytes), PadN of 4.
		opts := string([]byte{0, 0, 1, 4, 0, 0, 0, 0})
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.IPPROTO_IPV6, unix.IPV6_DSTOPTS, opts)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("IPV6_DSTOPTS: %w", serr)
		}
		if _, err = c.Write([]byte(msg)); err != nil {
			return err
		}
		// Then one without, read after it if it was read at all.
		plain, err := net.Dial("udp6", "[fd98:11::1]:5353")
		if err != nil {
			return err
		}
		defer plain.Close()
		_, err = plain.Write([]byte("plain"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for {
		data, _, err := src.ReadPacket()
		if err != nil {
			t.Fatalf("the datagram was not read: %v", err)
		}
		if bytes.HasSuffix(data, []byte("plain")) {
			t.Fatal("the datagram with destination options was dropped, the plain one after it read")
		}
		if bytes.Contains(data, []byte(msg)) {
			if len(data) < 14+40 || data[14+6] != 60 {
				t.Fatalf("read without a destination options header: % x", data[:min(len(data), 60)])
			}
			return
		}
	}
}

// TestAFPacketFilterFragments: datagrams above the MTU, which the
// device's kernel sends in IP fragments, pass the filter whole over IPv4
// and IPv6, every fragment, though their port is not one the filter
// lists: the ports are only in the first fragment.
func TestAFPacketFilterFragments(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.NoDAD(t, router, device)
	netnstest.Veth(t, router, "lan0", "10.98.1.1/24", device, "eth0", "10.98.1.2/24")
	netnstest.Cmd(t, "ip", "-n", router, "addr", "add", "fd98:12::1/64", "dev", "lan0")
	netnstest.Cmd(t, "ip", "-n", device, "addr", "add", "fd98:12::2/64", "dev", "eth0")
	filter, err := FilterFor(PortSet{Ports: []uint16{5353}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // ends a hung read, never a slow one
	defer cancel()
	src := openIn(t, router, ctx, AFPacketConfig{Interfaces: []string{"lan0"}, Filter: filter})
	defer src.Close()
	const size = 3000 // a UDP payload: 3008 bytes in fragments of at most 1480
	big := bytes.Repeat([]byte("f"), size)
	for _, addr := range []string{"10.98.1.1:9999", "[fd98:12::1]:9999"} {
		if err := netnstest.Send(device, "udp", addr, big); err != nil {
			t.Fatal(err)
		}
	}
	sendDatagram(t, device, "udp4", "10.98.1.1:5353", "fragments-sentinel")
	// The fragments' IP payload bytes, by IP version.
	got := map[int]int{}
	if err := readUntil(src, "fragments-sentinel", func(data []byte) {
		switch {
		case len(data) >= 14+20 && data[12] == 0x08 && data[13] == 0x00 && binary.BigEndian.Uint16(data[14+6:])&0x3fff != 0:
			got[4] += int(binary.BigEndian.Uint16(data[14+2:])) - int(data[14]&0x0f)*4
		case len(data) >= 14+48 && data[12] == 0x86 && data[13] == 0xdd && data[14+6] == 44:
			got[6] += int(binary.BigEndian.Uint16(data[14+4:])) - 8
		}
	}); err != nil {
		t.Fatalf("the sentinel was not read: %v; fragment bytes read %v", err, got)
	}
	for _, v := range []int{4, 6} {
		if got[v] != size+8 {
			t.Errorf("IPv%d: %d bytes of fragments read, want the whole %d-byte datagram", v, got[v], size+8)
		}
	}
}

// TestAFPacketFilterFragmentsDestOpts: IPv6 fragments whose fragment
// header is followed by a destination options header, which RFC 8200
// places there (the decoder skips it after reassembly), pass the
// kernel's run of the filter, every fragment, with and without a
// destination options header before the fragment header as well. The
// fragments are written by hand, since Linux puts a sender's destination
// options before the fragment header.
func TestAFPacketFilterFragmentsDestOpts(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.NoDAD(t, router, device)
	netnstest.Veth(t, router, "lan0", "10.98.13.1/24", device, "eth0", "10.98.13.2/24")
	routerMAC := netnstest.Interface(t, router, "lan0").HardwareAddr
	filter, err := FilterFor(PortSet{Ports: []uint16{5353}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // ends a hung read, never a slow one
	defer cancel()
	src := openIn(t, router, ctx, AFPacketConfig{Interfaces: []string{"lan0"}, Filter: filter})
	defer src.Close()

	// The fragmentable part: destination options (PadN), then a UDP
	// header to port 9999, which the filter does not list, and data.
	const dataLen = 2000
	body := []byte{ipProtoUDP, 0, 1, 4, 0, 0, 0, 0, 0x9c, 0x40, 0x27, 0x0f, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(body[12:], 8+dataLen)
	body = append(body, bytes.Repeat([]byte("o"), dataLen)...)
	const cut = 1232 // a multiple of 8
	fragments := func(id uint32, before bool) [][]byte {
		var out [][]byte
		for _, off := range []int{0, cut} {
			end := min(off+cut, len(body))
			e := eth(layers.EthernetTypeIPv6)
			e.DstMAC = routerMAC
			fh := &layers.IPv6Fragment{NextHeader: layers.IPProtocolIPv6Destination, FragmentOffset: uint16(off / 8), MoreFragments: end < len(body), Identification: id}
			ls := []gopacket.SerializableLayer{e}
			if before {
				ls = append(ls, ip6(layers.IPProtocolIPv6Destination), gopacket.Payload([]byte{ipProtoFragment, 0, 1, 4, 0, 0, 0, 0}))
				out = append(out, frame(t, append(ls, gopacket.Payload(append(fragHeaderBytes(fh), body[off:end]...)))...))
				continue
			}
			out = append(out, frame(t, append(ls, ip6(layers.IPProtocolIPv6Fragment), fh, gopacket.Payload(body[off:end]))...))
		}
		return out
	}
	ids := map[uint32]bool{0x51: false, 0x52: true}
	for id, before := range ids {
		sendRawFrames(t, device, routerMAC, fragments(id, before)...)
	}
	sendDatagram(t, device, "udp4", "10.98.13.1:5353", "destopts-sentinel")
	// Fragment data bytes read, by identification.
	got := map[uint32]int{}
	if err := readUntil(src, "destopts-sentinel", func(data []byte) {
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if fh, ok := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment); ok {
			got[fh.Identification] += len(fh.Payload)
		}
	}); err != nil {
		t.Fatalf("the sentinel was not read: %v; fragment bytes read %v", err, got)
	}
	for id, before := range ids {
		if got[id] != len(body) {
			t.Errorf("destination options before the fragment header %v: %d bytes of fragments read, want %d", before, got[id], len(body))
		}
	}
}

// fragHeaderBytes is fh as it goes on the wire, for a fragment header
// behind an extension header gopacket cannot write.
func fragHeaderBytes(fh *layers.IPv6Fragment) []byte {
	b := []byte{byte(fh.NextHeader), 0, 0, 0}
	off := fh.FragmentOffset << 3
	if fh.MoreFragments {
		off |= 1
	}
	binary.BigEndian.PutUint16(b[2:], off)
	return binary.BigEndian.AppendUint32(b, fh.Identification)
}

// sendRawFrames sends whole Ethernet frames from the namespace device's
// eth0 to dst through a raw packet socket.
func sendRawFrames(t *testing.T, device string, dst net.HardwareAddr, frames ...[]byte) {
	t.Helper()
	if err := netnstest.Run(device, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer unix.Close(fd)
		ifc, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		to := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6}
		copy(to.Addr[:], dst)
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				return fmt.Errorf("send: %w", err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// readUntil hands each frame src reads to each, until one holding
// sentinel, which it does not hand on.
func readUntil(src *AFPacket, sentinel string, each func(data []byte)) error {
	for {
		data, _, err := src.ReadPacket()
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(sentinel)) {
			return nil
		}
		each(data)
	}
}

// TestAFPacketInterfaceBack: a ring's interface that went down and came
// back, or was deleted and made again, while nobody read (the reader
// busy with a burst, a quick network restart), ends the source with
// ErrInterfacesChanged like one still down: the socket says ENETDOWN,
// and a ring whose interface was deleted reads nothing ever again,
// whatever the name's state is now.
func TestAFPacketInterfaceBack(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name   string
		change string // ip -batch commands run in the router
	}{
		{"down_up", "link set lan0 down\nlink set lan0 up\n"},
		{"deleted_recreated", "link del lan0\nlink add lan0 type veth peer name lan0p\nlink set lan0 up\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
			netnstest.Veth(t, router, "lan0", "10.98.11.1/24", device, "eth0", "10.98.11.2/24")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var src *AFPacket
			if err := netnstest.Run(router, func() (err error) {
				src, err = OpenAFPacket(ctx, AFPacketConfig{Interfaces: []string{"lan0"}, SkipMissing: true,
					PollTimeout: 20 * time.Millisecond, MissingCheck: 20 * time.Millisecond})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			batch := filepath.Join(t.TempDir(), "batch")
			if err := os.WriteFile(batch, []byte(tt.change), 0o644); err != nil {
				t.Fatal(err)
			}
			netnstest.Cmd(t, "ip", "-n", router, "-batch", batch)
			// Frames the ring took before the change (the veth's own IPv6
			// neighbour discovery and MLD, sent when it came up) come first.
			err := readUntil(src, "never sent", func([]byte) {})
			if !errors.Is(err, ErrInterfacesChanged) {
				t.Fatalf("ReadPacket = %v, want ErrInterfacesChanged", err)
			}
		})
	}
}

// TestAFPacketDownWithoutSkipMissing: without SkipMissing a source
// leaves no interface out and never ends with ErrInterfacesChanged, which
// tells the caller to open it again: one opened on an interface that is
// down would end the same way at once, again and again. Its ring's
// interface down at open, or going down, ends it with ENETDOWN.
func TestAFPacketDownWithoutSkipMissing(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name      string
		downFirst bool // down before the source opens; else after
	}{
		{"down_at_open", true},
		{"goes_down", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
			netnstest.Veth(t, router, "lan0", "10.98.12.1/24", device, "eth0", "10.98.12.2/24")
			down := func() { netnstest.Cmd(t, "ip", "-n", router, "link", "set", "lan0", "down") }
			if tt.downFirst {
				down()
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var src *AFPacket
			if err := netnstest.Run(router, func() (err error) {
				src, err = OpenAFPacket(ctx, AFPacketConfig{Interfaces: []string{"lan0"}, PollTimeout: 20 * time.Millisecond})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if !tt.downFirst {
				down()
			}
			_, _, err := src.ReadPacket()
			if errors.Is(err, ErrInterfacesChanged) || !errors.Is(err, unix.ENETDOWN) {
				t.Fatalf("ReadPacket = %v, want ENETDOWN and not ErrInterfacesChanged", err)
			}
		})
	}
}
