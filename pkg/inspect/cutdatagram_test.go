package inspect_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
	"github.com/iotgw/iotgw/pkg/inspect/plaintext"
	"github.com/iotgw/iotgw/pkg/inspect/snmp"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
)

// TestCutDatagramNotInspected: a UDP datagram the capture's snap length
// cut is not inspected, as its last field would read as whole and
// wrong; the same datagram whole is. The frames are cut as a capture
// cuts them: the IP and UDP lengths still say the whole.
func TestCutDatagramNotInspected(t *testing.T) {
	notify := "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n" +
		"USN: uuid:1::upnp:rootdevice\r\nSERVER: Linux/3.10 UPnP/1.0 busybox/1.19.3\r\n\r\n"
	frame := udpFrames(t, false, 1900, 1900, []datagram{{true, []byte(notify)}}, 1<<16, false)[0]
	tests := []struct {
		name    string
		keep    int // bytes of the frame captured
		servers []string
		cut     uint64
	}{
		{"whole", len(frame), []string{"Linux/3.10 UPnP/1.0 busybox/1.19.3"}, 0},
		{"cut_in_the_version", len(frame) - 9, nil, 1},
		{"cut_after_the_last_header", len(frame) - 2, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, ssdp.New())
			d := inspect.NewDecoder()
			var p inspect.Packet
			d.Decode(frame[:tt.keep], capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC), Length: len(frame)}, &p)
			e.HandlePacket(&p)
			e.Flush()
			var servers []string
			for _, ev := range col.Kind(event.KindSSDP) {
				servers = append(servers, ev.Evidence["server"])
			}
			if len(servers) != len(tt.servers) || len(servers) > 0 && servers[0] != tt.servers[0] {
				t.Errorf("SSDP servers %q, want %q", servers, tt.servers)
			}
			if e.Stats.CutDatagrams != tt.cut {
				t.Errorf("CutDatagrams = %d, want %d", e.Stats.CutDatagrams, tt.cut)
			}
		})
	}
}

// TestCutDatagramFlowStillCounts: a cut datagram is not read, but its
// flow is still a use of its protocol: a device whose SNMP requests the
// snap length cuts (a small capture.nflog_snaplen, a GRO-merged burst)
// still uses SNMP in clear, and the flow is still identified.
func TestCutDatagramFlowStillCounts(t *testing.T) {
	oid := inspecttest.BER(0x30, inspecttest.BER(0x30, inspecttest.BER(0x06, []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}), []byte{0x05, 0}))
	pdu := inspecttest.BER(0xa0, inspecttest.BER(0x02, []byte{42}), inspecttest.BER(0x02, []byte{0}), inspecttest.BER(0x02, []byte{0}), oid)
	get := inspecttest.BER(0x30, inspecttest.BER(0x02, []byte{1}), inspecttest.BER(0x04, []byte("public")), pdu)
	tests := []struct {
		name string
		cut  bool
	}{
		{"whole", false},
		{"cut", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, snmp.New(), plaintext.New(pii.New()))
			payload := get
			if tt.cut {
				payload = get[:len(get)-4]
			}
			e.HandlePacket(&inspect.Packet{Timestamp: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC), Kind: inspect.KindUDP, IPProto: 17,
				Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("203.0.113.9"), SrcPort: 50000, DstPort: 161,
				Payload: payload, TTL: 64, CutDatagram: tt.cut})
			e.Flush()
			if got := col.Kind(event.KindPlaintextProtocol); len(got) != 1 {
				t.Errorf("%d plaintext_protocol events, want 1: %v", len(got), col.Events)
			}
		})
	}
}
