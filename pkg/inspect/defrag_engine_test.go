package inspect_test

import (
	"bytes"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/sip"
	"github.com/iotgw/iotgw/pkg/inspect/snmp"
)

// datagram is one UDP message of a conversation between a device and a
// server.
type datagram struct {
	toServer bool
	payload  []byte
}

// udpFrames serialises a conversation as Ethernet frames with gopacket,
// over IPv4 or IPv6. A message longer than mtu bytes of IP packet goes
// in IP fragments, as the sending host's stack cuts them, in reverse
// order when reverse is set (Linux sent the last fragment first for
// years).
func udpFrames(t testing.TB, v6 bool, sport, dport uint16, conv []datagram, mtu int, reverse bool) [][]byte {
	t.Helper()
	devMAC, srvMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	devIP, srvIP := net.IP{192, 168, 1, 2}, net.IP{192, 168, 1, 1}
	etherType, hdr := layers.EthernetTypeIPv4, 20
	if v6 {
		devIP, srvIP = net.ParseIP("fd00::2"), net.ParseIP("fd00::1")
		etherType, hdr = layers.EthernetTypeIPv6, 40
	}
	serialise := func(ls ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	var frames [][]byte
	for n, m := range conv {
		eth := &layers.Ethernet{SrcMAC: devMAC, DstMAC: srvMAC, EthernetType: etherType}
		src, dst, sp, dp := devIP, srvIP, sport, dport
		if !m.toServer {
			eth.SrcMAC, eth.DstMAC = srvMAC, devMAC
			src, dst, sp, dp = srvIP, devIP, dport, sport
		}
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst, Id: uint16(1000 + n)}
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
		ip := gopacket.SerializableLayer(ip4)
		if v6 {
			ip = ip6
		}
		u := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
		if err := u.SetNetworkLayerForChecksum(ip.(gopacket.NetworkLayer)); err != nil {
			t.Fatal(err)
		}
		whole := serialise(ip, u, gopacket.Payload(m.payload))
		if len(whole) <= mtu {
			frames = append(frames, serialise(eth, gopacket.Payload(whole)))
			continue
		}
		body := whole[hdr:]
		size := (mtu - hdr) &^ 7
		if v6 {
			size = (mtu - hdr - 8) &^ 7
		}
		var frags [][]byte
		for off := 0; off < len(body); off += size {
			end := min(off+size, len(body))
			more := end < len(body)
			if v6 {
				ip6.NextHeader = layers.IPProtocolIPv6Fragment
				fh := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: uint32(7000 + n)}
				frags = append(frags, serialise(eth, ip6, fh, gopacket.Payload(body[off:end])))
				continue
			}
			ip4.FragOffset, ip4.Flags = uint16(off/8), 0
			if more {
				ip4.Flags = layers.IPv4MoreFragments
			}
			frags = append(frags, serialise(eth, ip4, gopacket.Payload(body[off:end])))
		}
		if len(frags) < 2 {
			t.Fatalf("message %d: %d fragments", n, len(frags))
		}
		if reverse {
			for i, j := 0, len(frags)-1; i < j; i, j = i+1, j-1 {
				frags[i], frags[j] = frags[j], frags[i]
			}
		}
		frames = append(frames, frags...)
	}
	return frames
}

// runFrames decodes and inspects frames with a fresh engine, a
// millisecond apart, and returns its events and the decoder.
func runFrames(t testing.TB, proto inspect.Protocol, frames [][]byte) ([]*event.Event, *inspect.Decoder) {
	t.Helper()
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, proto)
	d := inspect.NewDecoder()
	var p inspect.Packet
	start := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	for i, f := range frames {
		d.Decode(f, capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: start.Add(time.Duration(i) * time.Millisecond), Length: len(f)}, &p)
		e.HandlePacket(&p)
	}
	e.Flush()
	d.Flush()
	return col.Events, d
}

// sameEvents compares what a reader of the events sees: kind, summary,
// evidence, device and flow. Times and packet numbers differ with the
// number of frames.
func sameEvents(t *testing.T, got, want []*event.Event) {
	t.Helper()
	show := func(evs []*event.Event) string {
		var b strings.Builder
		for _, ev := range evs {
			fmt.Fprintf(&b, "\n  %s %q %v %+v %+v", ev.Kind, ev.Summary, ev.Evidence, ev.Device, *ev.Flow)
		}
		return b.String()
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:%s\nwant:%s", len(got), len(want), show(got), show(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Summary != w.Summary || !reflect.DeepEqual(g.Evidence, w.Evidence) ||
			g.Device != w.Device || !reflect.DeepEqual(*g.Flow, *w.Flow) {
			t.Fatalf("event %d differs:%s\nwant:%s", i, show(got[i:i+1]), show(want[i:i+1]))
		}
	}
}

// snmpV2c is an SNMPv2c message with community comm: a PDU of type pdu
// whose variable bindings set n OIDs to a 40-byte string each, the shape
// of a management station configuring a device in one request.
func snmpV2c(comm string, pdu byte, n int) []byte {
	var vbs [][]byte
	for i := range n {
		oid := inspecttest.BER(0x06, []byte{0x2b, 6, 1, 4, 1, 0x81, 0x8e, 0x1f, 1, byte(i)})
		vbs = append(vbs, inspecttest.BER(0x30, oid, inspecttest.BER(0x04, bytes.Repeat([]byte{'v'}, 40))))
	}
	integer := func(v byte) []byte { return inspecttest.BER(0x02, []byte{v}) }
	return inspecttest.BER(0x30, integer(1), inspecttest.BER(0x04, []byte(comm)), inspecttest.BER(pdu, integer(42), integer(0), integer(0), inspecttest.BER(0x30, vbs...)))
}

// TestFragmentedLoginsAsWhole: a SIP INVITE whose Digest Authorization
// and SDP take it past the MTU, and an SNMP SetRequest whose community
// comes with 40 variables, are found in IP fragments as they are whole:
// the same events, over IPv4 and IPv6, fragments in order or reversed.
func TestFragmentedLoginsAsWhole(t *testing.T) {
	digest := "Authorization: Digest username=\"voi18062\",realm=\"sip.cybercity.dk\",uri=\"sip:100@pbx\",nonce=\"1701af566be182070084c6f740706bb\"," +
		"opaque=\"1701a1351f70795\",nc=\"00000001\",response=\"397a7781e627ff0a8f94195c18d7909f\"\r\n"
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=- 1 1 IN IP4 192.168.1.2\r\ns=-\r\nc=IN IP4 192.168.1.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 9 18 96 97 98 99 100 101\r\n")
	for i := range 60 {
		fmt.Fprintf(&sdp, "a=rtpmap:%d codec-%02d/8000\r\n", 96+i, i)
	}
	invite := func(cseq int, auth string) []byte {
		return fmt.Appendf(nil, "INVITE sip:100@pbx SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bK%d\r\nCall-ID: f1\r\nCSeq: %d INVITE\r\n"+
			"User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n%sContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", cseq, cseq, auth, sdp.Len(), sdp.String())
	}
	sipConv := []datagram{
		{true, invite(1, "")},
		{false, []byte("SIP/2.0 401 Unauthorized\r\nCall-ID: f1\r\nCSeq: 1 INVITE\r\nWWW-Authenticate: Digest realm=\"sip.cybercity.dk\",nonce=\"1701af566be182070084c6f740706bb\"\r\nContent-Length: 0\r\n\r\n")},
		{true, invite(2, digest)},
		{false, []byte("SIP/2.0 200 OK\r\nCall-ID: f1\r\nCSeq: 2 INVITE\r\nServer: Asterisk PBX 18.0\r\nContent-Length: 0\r\n\r\n")},
	}
	snmpConv := []datagram{
		{true, snmpV2c("s3cret-Comm", 0xa3, 40)},
		{false, snmpV2c("s3cret-Comm", 0xa2, 40)},
	}
	tests := []struct {
		name         string
		proto        func() inspect.Protocol
		sport, dport uint16
		conv         []datagram
		kind         event.Kind
		accepted     string
	}{
		{"sip_invite_digest", func() inspect.Protocol { return sip.New() }, 5060, 5060, sipConv, event.KindPlaintextCredentials, "yes"},
		{"snmp_set_community", func() inspect.Protocol { return snmp.New() }, 40000, 161, snmpConv, event.KindPlaintextCredentials, "yes"},
	}
	for _, tt := range tests {
		for _, v6 := range []bool{false, true} {
			whole := udpFrames(t, v6, tt.sport, tt.dport, tt.conv, 1<<16, false)
			want, _ := runFrames(t, tt.proto(), whole)
			logins := 0
			for _, ev := range want {
				if ev.Kind == tt.kind && ev.Evidence["accepted"] == tt.accepted {
					logins++
				}
			}
			if logins != 1 {
				t.Fatalf("%s: unfragmented, %d accepted logins in %d events, want 1", tt.name, logins, len(want))
			}
			for _, mtu := range []int{1500, 1280, 576} {
				for _, reverse := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s_v6_%v_mtu%d_reverse_%v", tt.name, v6, mtu, reverse), func(t *testing.T) {
						frames := udpFrames(t, v6, tt.sport, tt.dport, tt.conv, mtu, reverse)
						got, d := runFrames(t, tt.proto(), frames)
						sameEvents(t, got, want)
						st := d.Stats.Defrag
						if st.Reassembled == 0 || st.Dropped() != 0 || d.Stats.Fragments != uint64(len(frames)-len(whole))+st.Reassembled {
							t.Errorf("%d frames, %d fragments: %+v", len(frames), d.Stats.Fragments, st)
						}
					})
				}
			}
		}
	}
}

// TestFragmentsAloneFindNothing: the fragments of a message whose first
// fragment never came (lost, or filtered) are dropped at Flush and
// counted, and nothing is found in them.
func TestFragmentsAloneFindNothing(t *testing.T) {
	conv := []datagram{{true, snmpV2c("s3cret-Comm", 0xa3, 40)}}
	frames := udpFrames(t, false, 40000, 161, conv, 576, false)
	got, d := runFrames(t, snmp.New(), frames[1:])
	if len(got) != 0 || d.Stats.Defrag.Incomplete != 1 || d.Stats.Fragments != uint64(len(frames)-1) {
		t.Errorf("%d events, %d fragments, %+v", len(got), d.Stats.Fragments, d.Stats.Defrag)
	}
}
