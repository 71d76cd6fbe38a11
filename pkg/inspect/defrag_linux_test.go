package inspect

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/capture"
)

// TestDefragAFPacketSnaplen: a device's kernel sends a UDP datagram
// larger than the MTU in IPv4 and IPv6 fragments; captured on a ring
// whose snap length cuts the fragments, none of the datagrams is put
// together (each counts as cut), and captured whole on a ring without
// one, both are, byte for byte.
func TestDefragAFPacketSnaplen(t *testing.T) {
	testenv.RequireRoot(t, "needs root to build network namespaces")
	router, device := netnstest.New(t, "iotgwdefrag", "rtr"), netnstest.New(t, "iotgwdefrag", "dev")
	netnstest.NoDAD(t, router, device)
	netnstest.Veth(t, router, "lan0", "10.98.14.1/24", device, "eth0", "10.98.14.2/24")
	netnstest.Cmd(t, "ip", "-n", router, "addr", "add", "fd98:14::1/64", "dev", "lan0")
	netnstest.Cmd(t, "ip", "-n", device, "addr", "add", "fd98:14::2/64", "dev", "eth0")
	filter, err := capture.FilterFor(capture.PortSet{Ports: []uint16{5353}})
	if err != nil {
		t.Fatal(err)
	}
	const size = 3000 // in fragments of at most 1480 (IPv4) and 1448 (IPv6) bytes
	big := bytes.Repeat([]byte("s"), size)
	for _, tt := range []struct {
		name          string
		snaplen       int
		reassembled   uint64
		cut           uint64
		wantDatagrams int
	}{
		{"cut", 1000, 0, 2, 0},
		{"whole", 0, 2, 0, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // ends a hung read, never a slow one
			defer cancel()
			var src *capture.AFPacket
			if err := netnstest.Run(router, func() error {
				var err error
				src, err = capture.OpenAFPacket(ctx, capture.AFPacketConfig{Interfaces: []string{"lan0"}, Filter: filter, Snaplen: tt.snaplen})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			for _, addr := range []string{"10.98.14.1:9999", "[fd98:14::1]:9999"} {
				if err := netnstest.Send(device, "udp", addr, big); err != nil {
					t.Fatal(err)
				}
			}
			if err := netnstest.Send(device, "udp4", "10.98.14.1:5353", []byte("defrag-sentinel")); err != nil {
				t.Fatal(err)
			}
			d := NewDecoder()
			var p Packet
			datagrams := 0
			for {
				data, info, err := src.ReadPacket()
				if err != nil {
					t.Fatalf("the sentinel was not read: %v; stats %+v", err, d.Stats)
				}
				d.Decode(data, info, &p)
				if p.Kind == KindUDP && p.DstPort == 5353 {
					break
				}
				if p.Reassembled {
					if p.Kind != KindUDP || !bytes.Equal(p.Payload, big) {
						t.Errorf("reassembled kind %d with %d bytes of payload, want the %d sent", p.Kind, len(p.Payload), size)
					}
					datagrams++
				}
			}
			d.Flush()
			if st := d.Stats.Defrag; datagrams != tt.wantDatagrams || st.Reassembled != tt.reassembled || st.Cut != tt.cut || st.Dropped() != tt.cut {
				t.Errorf("%d datagrams decoded, stats %+v: want %d reassembled, %d cut, nothing else dropped", datagrams, st, tt.reassembled, tt.cut)
			}
		})
	}
}
