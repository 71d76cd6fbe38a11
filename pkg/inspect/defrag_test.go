package inspect

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
)

// piece is one fragment of a test datagram: bytes off to end of its body
// (what follows the IP headers), sent at the given time after t0.
type piece struct {
	off, end int
	last     bool // no more fragments; also when end is the body's end
	flip     bool // its bytes differ from the datagram's
	cut      bool // the capture kept 100 bytes less of it
	unsized  bool // its IP length field is 0
	id       uint32
	at       time.Duration
	tcp      bool // a TCP segment's, not a UDP datagram's
}

// fragSize is the body of the test datagram: a UDP header and 2992 bytes.
const fragSize = 3000

// fragBody returns a UDP datagram of fragSize bytes as gopacket writes it
// for version 4 or 6 (ports 68 → 67, checksum over the IP addresses),
// followed by filler up to 70000 bytes, for pieces past it.
func fragBody(t testing.TB, version int) (body, payload []byte) {
	return fragBodyOf(t, version, false)
}

// fragBodyOf is fragBody, or with tcp a TCP segment of fragSize bytes
// (tcp("PA"), 20 bytes of header).
func fragBodyOf(t testing.TB, version int, tcpSeg bool) (body, payload []byte) {
	hdr := 8
	var l4 gopacket.SerializableLayer = udp()
	proto := layers.IPProtocolUDP
	if tcpSeg {
		hdr, l4, proto = 20, tcp("PA"), layers.IPProtocolTCP
	}
	payload = make([]byte, fragSize-hdr)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var whole []byte
	if version == 4 {
		whole = frame(t, ip4(proto), l4, gopacket.Payload(payload))[20:]
	} else {
		whole = frame(t, ip6(proto), l4, gopacket.Payload(payload))[40:]
	}
	body = make([]byte, 70000)
	copy(body, whole)
	for i := fragSize; i < len(body); i++ {
		body[i] = byte(i)
	}
	return body, payload
}

// fragFrame serialises one piece of body as a raw IP packet of the given
// version: an IPv4 header with the offset and MF, or an IPv6 header and
// a fragment header, written by gopacket.
func fragFrame(t testing.TB, version int, body []byte, pc piece) []byte {
	data := append([]byte(nil), body[pc.off:pc.end]...)
	if pc.flip {
		for i := range data {
			data[i] ^= 0xff
		}
	}
	more := !pc.last && pc.end != fragSize
	id := pc.id
	if id == 0 {
		id = 1
	}
	proto := layers.IPProtocolUDP
	if pc.tcp {
		proto = layers.IPProtocolTCP
	}
	var b []byte
	if version == 4 {
		ip := ip4(proto)
		ip.Id = uint16(id)
		ip.FragOffset = uint16(pc.off / 8)
		if more {
			ip.Flags = layers.IPv4MoreFragments
		}
		b = frame(t, ip, gopacket.Payload(data))
	} else {
		fh := &layers.IPv6Fragment{NextHeader: proto, FragmentOffset: uint16(pc.off / 8), MoreFragments: more, Identification: id}
		b = frame(t, ip6(layers.IPProtocolIPv6Fragment), fh, gopacket.Payload(data))
	}
	if pc.unsized {
		clear(b[map[int]int{4: 2, 6: 4}[version]:][:2])
	}
	if pc.cut {
		b = b[:len(b)-100]
	}
	return b
}

// wiped fails t unless every reassembly buffer and block map is zero and
// every slot free, as after Flush.
func wiped(t *testing.T, d *Decoder) {
	t.Helper()
	g := d.defrag
	if g == nil {
		return
	}
	for i := range g.bufs {
		if g.meta[i].state != slotFree {
			t.Errorf("slot %d not free: %+v", i, g.meta[i])
		}
		if g.have[i] != [defragBlocks / 64]uint64{} || g.bufs[i] != [DefragMaxBytes]byte{} {
			t.Errorf("slot %d not wiped", i)
		}
	}
}

// blocks counts slot i's stored blocks.
func (g *defragger) blocks(i int) int {
	n := 0
	for _, w := range g.have[i] {
		n += bits.OnesCount64(w)
	}
	return n
}

// inUse is how many slots hold a datagram.
func (g *defragger) inUse() int {
	n := 0
	for i := range g.meta {
		if g.meta[i].state != slotFree {
			n++
		}
	}
	return n
}

func TestDefrag(t *testing.T) {
	const s = 30 * time.Second
	tests := []struct {
		name   string
		only6  bool
		pieces []piece
		done   []int // pieces that complete a datagram
		want   DefragStats
	}{
		{"in_order", false, []piece{{off: 0, end: 1480}, {off: 1480, end: 2960}, {off: 2960, end: fragSize}}, []int{2}, DefragStats{Reassembled: 1}},
		{"reverse", false, []piece{{off: 2960, end: fragSize}, {off: 1480, end: 2960}, {off: 0, end: 1480}}, []int{2}, DefragStats{Reassembled: 1}},
		{"last_first", false, []piece{{off: 2960, end: fragSize}, {off: 0, end: 1480}, {off: 1480, end: 2960}}, []int{2}, DefragStats{Reassembled: 1}},
		{"first_last", false, []piece{{off: 0, end: 1480}, {off: 2960, end: fragSize}, {off: 1480, end: 2960}}, []int{2}, DefragStats{Reassembled: 1}},
		{"duplicates", false, []piece{{off: 0, end: 1480}, {off: 0, end: 1480}, {off: 2960, end: fragSize}, {off: 2960, end: fragSize}, {off: 1480, end: 2960}}, []int{4}, DefragStats{Reassembled: 1}},
		{"overlap_same", false, []piece{{off: 0, end: 1488}, {off: 1480, end: 2968}, {off: 2960, end: fragSize}}, []int{2}, DefragStats{Reassembled: 1}},
		{"overlap_within", false, []piece{{off: 0, end: 2960}, {off: 8, end: 24}, {off: 2960, end: fragSize}}, []int{2}, DefragStats{Reassembled: 1}},
		{"overlap_different", false, []piece{{off: 0, end: 1488}, {off: 1480, end: fragSize, flip: true}}, nil, DefragStats{Overlaps: 1}},
		{"overlap_different_later_ignored", false, []piece{{off: 0, end: 1488}, {off: 1480, end: 2960, flip: true}, {off: 1480, end: 2960}, {off: 2960, end: fragSize}}, nil, DefragStats{Overlaps: 1}},
		{"same_place_different", false, []piece{{off: 1480, end: 2960}, {off: 1480, end: 2960, flip: true}, {off: 0, end: 1480}, {off: 2960, end: fragSize}}, nil, DefragStats{Overlaps: 1}},
		{"missing_last", false, []piece{{off: 0, end: 1480}, {off: 1480, end: 2960}}, nil, DefragStats{Incomplete: 1}},
		{"missing_middle", false, []piece{{off: 0, end: 1480}, {off: 2960, end: fragSize}}, nil, DefragStats{Incomplete: 1}},
		{"missing_first", false, []piece{{off: 1480, end: 2960}, {off: 2960, end: fragSize}}, nil, DefragStats{Incomplete: 1}},
		{"timeout", false, []piece{{off: 0, end: 1480}, {off: 1480, end: 2960}, {off: 2960, end: fragSize, at: s}}, nil, DefragStats{Incomplete: 2}},
		{"just_in_time", false, []piece{{off: 0, end: 1480}, {off: 1480, end: 2960, at: s / 2}, {off: 2960, end: fragSize, at: s - 1}}, []int{2}, DefragStats{Reassembled: 1}},
		{"clock_steps_back", false, []piece{{off: 0, end: 1480, at: 2 * s}, {off: 1480, end: 2960}, {off: 2960, end: fragSize, at: s - 1}}, []int{2}, DefragStats{Reassembled: 1}},
		{"at_the_cap", false, []piece{{off: 0, end: DefragMaxBytes / 2}, {off: DefragMaxBytes / 2, end: DefragMaxBytes, last: true}}, []int{1}, DefragStats{Reassembled: 1}},
		{"past_the_cap", false, []piece{{off: 0, end: 1480}, {off: DefragMaxBytes - 8, end: DefragMaxBytes + 8}, {off: 1480, end: 2960}}, nil, DefragStats{TooLarge: 1}},
		{"last_past_the_cap", false, []piece{{off: DefragMaxBytes, end: DefragMaxBytes + 1, last: true}}, nil, DefragStats{TooLarge: 1}},
		{"past_65535", false, []piece{{off: 65528, end: 65528 + 16, last: true}, {off: 0, end: 1480}}, nil, DefragStats{TooLarge: 1}},
		{"more_not_multiple_of_8", false, []piece{{off: 0, end: 1481}, {off: 1480, end: fragSize}}, nil, DefragStats{Malformed: 1}},
		{"two_ends", false, []piece{{off: 2960, end: fragSize}, {off: 1480, end: 2952, last: true}}, nil, DefragStats{Malformed: 1}},
		{"bytes_past_the_end", false, []piece{{off: 1480, end: 2960}, {off: 8, end: 1000, last: true}}, nil, DefragStats{Malformed: 1}},
		{"more_past_the_end", false, []piece{{off: 2960, end: fragSize}, {off: 2960, end: fragSize + 8, last: false}, {off: 0, end: 2960}}, nil, DefragStats{Malformed: 1}},
		{"cut_by_snaplen", false, []piece{{off: 0, end: 1480, cut: true}, {off: 1480, end: 2960}, {off: 2960, end: fragSize}}, nil, DefragStats{Cut: 1}},
		{"last_cut_by_snaplen", false, []piece{{off: 0, end: 1480}, {off: 1480, end: fragSize, cut: true}}, nil, DefragStats{Cut: 1}},
		// An IP length of 0 cannot show the capture's cut: the last
		// fragment, cut, would end the datagram early.
		{"unsized", false, []piece{{off: 0, end: 1480}, {off: 1480, end: fragSize, unsized: true}}, nil, DefragStats{Malformed: 1}},
		{"unsized_last_cut", false, []piece{{off: 0, end: 1480}, {off: 1480, end: fragSize, unsized: true, cut: true}}, nil, DefragStats{Malformed: 1}},
		{"unsized_first", false, []piece{{off: 0, end: 1480, unsized: true}, {off: 1480, end: fragSize}}, nil, DefragStats{Malformed: 1}},
		{"other_id_apart", false, []piece{{off: 0, end: 1480, id: 1}, {off: 1480, end: 2960, id: 2}, {off: 2960, end: fragSize, id: 1}, {off: 1480, end: 2960, id: 1}}, []int{3}, DefragStats{Reassembled: 1, Incomplete: 1}},
		{"again_after_done", false, []piece{{off: 0, end: 1480}, {off: 1480, end: fragSize}, {off: 1480, end: fragSize}, {off: 0, end: 1480}}, []int{1, 3}, DefragStats{Reassembled: 2}},
		{"atomic", true, []piece{{off: 0, end: fragSize}}, []int{0}, DefragStats{Reassembled: 1}},
		{"atomic_cut", true, []piece{{off: 0, end: fragSize, cut: true}}, nil, DefragStats{Cut: 1}},
		{"atomic_unsized", true, []piece{{off: 0, end: fragSize, unsized: true}}, nil, DefragStats{Malformed: 1}},
		{"atomic_apart_from_fragments", true, []piece{{off: 0, end: 1480}, {off: 0, end: fragSize}, {off: 1480, end: fragSize}}, []int{1, 2}, DefragStats{Reassembled: 2}},
	}
	for _, version := range []int{4, 6} {
		body, payload := fragBody(t, version)
		for _, tt := range tests {
			if tt.only6 && version == 4 {
				continue
			}
			t.Run(tt.name+map[int]string{4: "_ipv4", 6: "_ipv6"}[version], func(t *testing.T) {
				d := NewDecoder()
				var p Packet
				done := 0
				for i, pc := range tt.pieces {
					info := capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0.Add(pc.at)}
					d.Decode(fragFrame(t, version, body, pc), info, &p)
					if d.Stats.Fragments != uint64(i+1) {
						t.Fatalf("piece %d: %d fragments counted", i, d.Stats.Fragments)
					}
					want := done < len(tt.done) && tt.done[done] == i
					if !want {
						if p.Kind != KindIP || !p.Fragment || p.Reassembled {
							t.Fatalf("piece %d: kind %d fragment %v reassembled %v, want a fragment", i, p.Kind, p.Fragment, p.Reassembled)
						}
						continue
					}
					done++
					if p.Kind != KindUDP || p.Fragment || !p.Reassembled || p.SrcPort != 68 || p.DstPort != 67 || p.IPProto != IPProtocolUDP {
						t.Fatalf("piece %d: %+v, want the whole datagram", i, p)
					}
					if !bytes.Equal(p.Payload, payload) {
						t.Fatalf("piece %d: payload of %d bytes differs from the datagram's %d", i, len(p.Payload), len(payload))
					}
					if p.Src != netip4(192, 168, 1, 10) && version == 4 || p.TTL != map[int]uint8{4: 64, 6: 255}[version] {
						t.Fatalf("piece %d: from %v, ttl %d", i, p.Src, p.TTL)
					}
				}
				if done != len(tt.done) {
					t.Fatalf("%d datagrams completed, want %d", done, len(tt.done))
				}
				d.Flush()
				if d.Stats.Defrag != tt.want {
					t.Errorf("stats %+v, want %+v", d.Stats.Defrag, tt.want)
				}
				wiped(t, d)
			})
		}
	}
}

func netip4(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }

// TestDefragUnfragmentedIsNotTouched: whole packets, IPv4 with DF set,
// neither count nor allocate reassembly.
func TestDefragUnfragmentedIsNotTouched(t *testing.T) {
	ip := ip4(layers.IPProtocolUDP)
	ip.Flags = layers.IPv4DontFragment
	d := NewDecoder()
	var p Packet
	for _, b := range [][]byte{
		frame(t, ip, udp(), gopacket.Payload("x")),
		frame(t, ip6(layers.IPProtocolUDP), udp(), gopacket.Payload("x")),
	} {
		d.Decode(b, capture.Info{LinkType: capture.LinkTypeRaw}, &p)
		if p.Kind != KindUDP || p.Fragment || p.Reassembled {
			t.Errorf("%+v", p)
		}
	}
	if d.Stats.Fragments != 0 || d.defrag != nil {
		t.Errorf("%d fragments, reassembly allocated %v", d.Stats.Fragments, d.defrag != nil)
	}
}

// TestDefragTCP: a TCP segment in fragments decodes as the segment.
func TestDefragTCP(t *testing.T) {
	for _, version := range []int{4, 6} {
		body, payload := fragBodyOf(t, version, true)
		d := NewDecoder()
		var p Packet
		for _, pc := range []piece{{off: 1480, end: fragSize, tcp: true}, {off: 0, end: 1480, tcp: true}} {
			d.Decode(fragFrame(t, version, body, pc), capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0}, &p)
		}
		if p.Kind != KindTCP || !p.Reassembled || p.Seq != 1000 || p.Ack != 2000 || p.TCPFlags != TCPFlagPSH|TCPFlagACK ||
			p.SrcPort != 40000 || p.DstPort != 21 || !bytes.Equal(p.Payload, payload) {
			t.Errorf("IPv%d: kind %d reassembled %v seq %d flags %#x ports %d %d, payload of %d bytes",
				version, p.Kind, p.Reassembled, p.Seq, p.TCPFlags, p.SrcPort, p.DstPort, len(p.Payload))
		}
	}
}

// TestDefragOtherProtocolsLeftAlone: fragments of ICMP are counted, not
// held: nothing would read them.
func TestDefragOtherProtocolsLeftAlone(t *testing.T) {
	ip := ip4(layers.IPProtocolICMPv4)
	ip.Flags = layers.IPv4MoreFragments
	d := NewDecoder()
	var p Packet
	for _, b := range [][]byte{
		frame(t, ip, gopacket.Payload(make([]byte, 1480))),
		frame(t, ip6(layers.IPProtocolIPv6Fragment), &layers.IPv6Fragment{NextHeader: layers.IPProtocolICMPv6, MoreFragments: true, Identification: 1}, gopacket.Payload(make([]byte, 1232))),
	} {
		d.Decode(b, capture.Info{LinkType: capture.LinkTypeRaw}, &p)
		if p.Kind != KindIP || !p.Fragment || p.Reassembled {
			t.Errorf("%+v", p)
		}
	}
	if d.Stats.Fragments != 2 || d.defrag != nil {
		t.Errorf("%d fragments, reassembly allocated %v", d.Stats.Fragments, d.defrag != nil)
	}
}

// TestDefragIPv6ExtensionHeaders: a hop-by-hop header before the fragment
// header stays out of the datagram; a destination options header after
// it is the datagram's and is skipped to reach UDP.
func TestDefragIPv6ExtensionHeaders(t *testing.T) {
	_, payload := fragBody(t, 6)
	dgram := frame(t, ip6(layers.IPProtocolUDP), udp(), gopacket.Payload(payload))
	body := append(mustHex("1100 0104 00000000"), dgram[40:]...) // destination options, then UDP
	frag := func(off, end int, more bool) []byte {
		b := append([]byte(nil), dgram[:40]...)
		b[6] = byte(IPProtocolHopByHop)
		b = append(b, mustHex("2c00 0502 0000 0100")...) // router alert, next: fragment
		fh := []byte{byte(IPProtocolDestOpts), 0, 0, 0, 0, 0, 0x12, 0x34}
		binary.BigEndian.PutUint16(fh[2:4], uint16(off))
		if more {
			fh[3] |= 1
		}
		b = append(append(b, fh...), body[off:end]...)
		binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-40))
		return b
	}
	d := NewDecoder()
	var p Packet
	info := capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0}
	d.Decode(frag(1232, len(body), false), info, &p)
	if !p.Fragment || p.IPProto != IPProtocolFragment {
		t.Fatalf("first piece: %+v", p)
	}
	d.Decode(frag(0, 1232, true), info, &p)
	if p.Kind != KindUDP || !p.Reassembled || !bytes.Equal(p.Payload, payload) {
		t.Fatalf("kind %d reassembled %v payload of %d bytes, want %d", p.Kind, p.Reassembled, len(p.Payload), len(payload))
	}
}

// TestDefragTunnels: an IP-in-IP packet fragmented outside, and one whose
// inner packet is a fragment, the other fragment of which comes in a
// fragmented outer packet: the inner datagram is copied out of the outer
// one's slot before that slot is released.
func TestDefragTunnels(t *testing.T) {
	_, payload := fragBody(t, 4)
	inner := frame(t, ip4(layers.IPProtocolUDP), udp(), gopacket.Payload(payload))
	outer := func(id uint16, off int, more bool, data []byte) []byte {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 60, Protocol: layers.IPProtocolIPv4, Id: id,
			SrcIP: net.IP{10, 9, 9, 1}, DstIP: net.IP{10, 9, 9, 2}, FragOffset: uint16(off / 8)}
		if more {
			ip.Flags = layers.IPv4MoreFragments
		}
		return frame(t, ip, gopacket.Payload(data))
	}
	// The inner datagram's fragments, with their IPv4 headers.
	innerFrag := func(off, end int) []byte {
		return fragFrame(t, 4, inner[20:], piece{off: off, end: end, id: 7})
	}
	first, second := innerFrag(0, 1480), innerFrag(1480, fragSize)
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"outer_fragmented", [][]byte{outer(1, 0, true, inner[:1480]), outer(1, 1480, false, inner[1480:])}},
		{"inner_fragmented", [][]byte{outer(2, 0, false, first), outer(3, 0, false, second)}},
		{"both", [][]byte{outer(4, 0, false, first), outer(5, 0, true, second[:800]), outer(5, 800, false, second[800:])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			var p Packet
			for i, b := range tt.frames {
				d.Decode(b, capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0}, &p)
				if i < len(tt.frames)-1 && !p.Fragment {
					t.Fatalf("frame %d: %+v, want a fragment", i, p)
				}
			}
			if p.Kind != KindUDP || !p.Reassembled || !bytes.Equal(p.Payload, payload) || p.Src != netip4(192, 168, 1, 10) {
				t.Fatalf("kind %d reassembled %v from %v, payload of %d bytes; want the inner datagram", p.Kind, p.Reassembled, p.Src, len(p.Payload))
			}
			d.Flush()
			if d.Stats.Defrag.Dropped() != 0 {
				t.Errorf("stats %+v", d.Stats.Defrag)
			}
			wiped(t, d)
		})
	}
}

// TestDefragReleasesAndWipes: a datagram's bytes are gone at the next
// Decode, and those of a datagram given up at once.
func TestDefragReleasesAndWipes(t *testing.T) {
	body, payload := fragBody(t, 4)
	d := NewDecoder()
	var p Packet
	info := capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0}
	d.Decode(fragFrame(t, 4, body, piece{off: 1480, end: fragSize}), info, &p)
	d.Decode(fragFrame(t, 4, body, piece{off: 0, end: 1480}), info, &p)
	got := p.Payload
	if !bytes.Equal(got, payload) {
		t.Fatal("not reassembled")
	}
	d.Decode(frame(t, ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("x")), info, &p)
	if bytes.Count(got, []byte{0}) != len(got) {
		t.Error("the datagram's bytes outlived the next Decode")
	}
	if d.defrag.inUse() != 0 {
		t.Errorf("%d slots in use", d.defrag.inUse())
	}
	// Given up: the slot stays to swallow the rest, its bytes go.
	d.Decode(fragFrame(t, 4, body, piece{off: 0, end: 1488, id: 9}), info, &p)
	d.Decode(fragFrame(t, 4, body, piece{off: 1480, end: 2960, id: 9, flip: true}), info, &p)
	g := d.defrag
	for i := range g.meta {
		if g.meta[i].state == slotDead && (g.blocks(i) != 0 || g.bufs[i] != [DefragMaxBytes]byte{}) {
			t.Errorf("slot %d given up but not wiped", i)
		}
	}
	d.Flush()
	wiped(t, d)
}

// TestDefragPool fills every slot: the datagram begun longest ago makes
// way for a new one, counted; one given up already makes way first, not
// counted.
func TestDefragPool(t *testing.T) {
	body, _ := fragBody(t, 4)
	d := NewDecoder()
	var p Packet
	send := func(pc piece) {
		d.Decode(fragFrame(t, 4, body, pc), capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0.Add(pc.at)}, &p)
	}
	for i := range DefragDatagrams {
		send(piece{off: 0, end: 1480, id: uint32(100 + i), at: time.Duration(i) * time.Millisecond})
	}
	if n := d.defrag.inUse(); n != DefragDatagrams {
		t.Fatalf("%d slots in use, want %d", n, DefragDatagrams)
	}
	send(piece{off: 0, end: 1480, id: 999, at: time.Second})
	if d.Stats.Defrag.Evicted != 1 || d.defrag.inUse() != DefragDatagrams {
		t.Fatalf("evicted %d, %d slots in use", d.Stats.Defrag.Evicted, d.defrag.inUse())
	}
	// The oldest, 100, was given up; 101 was not.
	send(piece{off: 1480, end: fragSize, id: 100, at: time.Second})
	if p.Reassembled {
		t.Fatal("the evicted datagram completed")
	}
	if d.Stats.Defrag.Evicted != 2 { // 100's tail pushed out 101
		t.Fatalf("evicted %d, want 2", d.Stats.Defrag.Evicted)
	}
	send(piece{off: 1480, end: fragSize, id: 102, at: time.Second})
	if !p.Reassembled {
		t.Fatal("datagram 102 did not complete")
	}
	// 110 given up for an overlap: a new datagram takes its slot, even
	// though 103 is older.
	send(piece{off: 0, end: 1480, id: 998, at: time.Second}) // the slot 102 left
	send(piece{off: 8, end: 16, id: 110, flip: true, at: time.Second})
	evicted := d.Stats.Defrag.Evicted
	send(piece{off: 0, end: 1480, id: 997, at: time.Second})
	if d.Stats.Defrag.Evicted != evicted || d.Stats.Defrag.Overlaps != 1 {
		t.Fatalf("stats %+v: a live datagram made way before one given up", d.Stats.Defrag)
	}
	send(piece{off: 1480, end: fragSize, id: 103, at: time.Second})
	if !p.Reassembled {
		t.Fatal("datagram 103 did not complete")
	}
}

// TestDefragFlood sends fragments of random datagrams, offsets and
// lengths: memory stays what the first fragment allocated, and every
// slot's books balance.
func TestDefragFlood(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	frames := make([][]byte, 4096)
	for i := range frames {
		version := 4 + 2*rng.IntN(2)
		off := rng.IntN(70000/8) * 8
		if rng.IntN(2) == 0 {
			off = rng.IntN(4) * 1480
		}
		n := 8 * (1 + rng.IntN(185))
		buf := make([]byte, off+n)
		for j := range buf[off:] {
			buf[off+j] = byte(rng.Uint32())
		}
		frames[i] = fragFrame(t, version, buf, piece{off: off, end: off + n, id: uint32(rng.IntN(64)), last: rng.IntN(4) == 0})
	}
	d := NewDecoder()
	var p Packet
	i := 0
	next := func() {
		// A millisecond apart, and a pause longer than DefragTimeout
		// after each round of the frames.
		at := time.Duration(i)*time.Millisecond + time.Duration(i/len(frames))*DefragTimeout
		info := capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0.Add(at)}
		d.Decode(frames[i%len(frames)], info, &p)
		i++
	}
	next()
	g := d.defrag
	if allocs := testing.AllocsPerRun(100000, next); allocs != 0 {
		t.Errorf("%.2f allocations per fragment", allocs)
	}
	if d.defrag != g {
		t.Error("reassembly reallocated")
	}
	for j := range g.meta {
		m := &g.meta[j]
		if int(m.got) != g.blocks(j) || m.high > DefragMaxBytes {
			t.Errorf("slot %d: %+v, %d blocks marked", j, *m, g.blocks(j))
		}
	}
	st := d.Stats.Defrag
	if st.Evicted == 0 || st.Overlaps == 0 || st.Incomplete == 0 || st.TooLarge == 0 {
		t.Errorf("stats %+v: the flood did not reach every path", st)
	}
	t.Logf("%d fragments: %+v", d.Stats.Fragments, st)
	d.Flush()
	wiped(t, d)
}

// TestDefragNoAlloc: once the slots exist, a fragmented datagram costs
// no allocation, fragment by fragment and whole.
func TestDefragNoAlloc(t *testing.T) {
	for _, version := range []int{4, 6} {
		body, _ := fragBody(t, version)
		frames := [][]byte{
			fragFrame(t, version, body, piece{off: 1480, end: 2960}),
			fragFrame(t, version, body, piece{off: 0, end: 1480}),
			fragFrame(t, version, body, piece{off: 2960, end: fragSize}),
		}
		d := NewDecoder()
		var p Packet
		info := capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: t0}
		allocs := testing.AllocsPerRun(1000, func() {
			for _, f := range frames {
				d.Decode(f, info, &p)
			}
			if !p.Reassembled {
				t.Fatal("not reassembled")
			}
		})
		if allocs != 0 {
			t.Errorf("IPv%d: %.2f allocations per datagram", version, allocs)
		}
	}
}

// BenchmarkDefrag decodes a 3000-byte UDP datagram in three IPv4
// fragments and runs each through an engine's flow: the fragment path
// from frame to analyzer.
func BenchmarkDefrag(b *testing.B) {
	body, _ := fragBody(b, 4)
	var frames [][]byte
	for _, pc := range []piece{{off: 0, end: 1480}, {off: 1480, end: 2960}, {off: 2960, end: fragSize}} {
		frames = append(frames, frame(b, eth(layers.EthernetTypeIPv4), gopacket.Payload(fragFrame(b, 4, body, pc))))
	}
	e := testEngine(b, DefaultConfig(), &recorder{match: NoMatch})
	d := NewDecoder()
	var p Packet
	info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: t0}
	for _, f := range frames { // the slots, and the flow
		d.Decode(f, info, &p)
		e.HandlePacket(&p)
	}
	b.SetBytes(fragSize)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames {
			d.Decode(f, info, &p)
			e.HandlePacket(&p)
		}
	}
	if d.Stats.Defrag.Reassembled == 0 || e.Stats.FlowsCreated != 1 {
		b.Fatalf("reassembled %d, flows %d", d.Stats.Defrag.Reassembled, e.Stats.FlowsCreated)
	}
}

// fuzzByte is byte i of the datagram with identification id in
// FuzzDefrag: every fragment that does not flip its bytes agrees.
func fuzzByte(id uint32, i int) byte { return byte(i*7 + int(id)*13 + i>>8) }

// FuzzDefrag runs any sequence of fragments through a decoder: IPv4 or
// IPv6, eight datagrams each, any offset, length, order and timing,
// bytes flipped or cut. Nothing panics, the slots allocated on the first
// fragment are all the memory there is, every slot's books balance, a
// datagram made of agreeing fragments is their bytes, and Flush wipes
// everything.
func FuzzDefrag(f *testing.F) {
	// Operations of 6 bytes: flags, offset (2, in 8-byte units), length
	// in 8-byte units, extra bytes, milliseconds since the last.
	f.Add([]byte{0x00, 0, 0, 185, 0, 1, 0x10, 0, 185, 5, 0, 1})
	f.Add([]byte{0x81, 0, 185, 185, 0, 1, 0x81, 0, 0, 185, 0, 1, 0x91, 1, 114, 1, 3, 0})
	f.Add([]byte{0x02, 0, 0, 10, 0, 0, 0x0a, 0, 9, 10, 0, 0, 0x12, 0, 19, 0, 1, 0xff, 0x12, 0, 19, 0, 1, 0xff})
	f.Add([]byte{0x23, 0x1f, 0xff, 2, 0, 0, 0x90, 0, 0, 0, 0, 0})
	// One decoder for every input, as a daemon has one: Flush leaves it
	// as new (wiped checks it), and its slots are allocated once.
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, prog []byte) {
		d.Stats = DecodeStats{}
		var p Packet
		g := d.defrag
		flipped := false
		now := t0
		for ; len(prog) >= 6; prog = prog[6:] {
			op := prog[:6]
			v6, id := op[0]&0x80 != 0, uint32(op[0]&0x07)
			flip, last, cut := op[0]&0x08 != 0, op[0]&0x10 != 0, op[0]&0x20 != 0
			off := int(binary.BigEndian.Uint16(op[1:3])&0x1fff) * 8
			data := make([]byte, int(op[3])*8+int(op[4]&7))
			for i := range data {
				data[i] = fuzzByte(id, off+i)
				if flip {
					data[i] ^= 0x5a
				}
			}
			flipped = flipped || flip
			now = now.Add(time.Duration(op[5]) * 250 * time.Millisecond)
			offFlags := uint16(off / 8)
			var b []byte
			if v6 {
				b = append(mustHex("6000000000002c40"+"fd000000000000000000000000000001"+"fd000000000000000000000000000002"), 17, 0, 0, 0, 0, 0, 0, byte(id))
				binary.BigEndian.PutUint16(b[42:44], offFlags<<3)
				if !last {
					b[43] |= 1
				}
				b = append(b, data...)
				binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-40))
			} else {
				b = append(mustHex("450000000000000040110000"+"0a000001"+"0a000002"), data...)
				b[5] = byte(id)
				if !last {
					offFlags |= 0x2000
				}
				binary.BigEndian.PutUint16(b[6:8], offFlags)
				binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
			}
			if cut && len(b) > 48 {
				b = b[:48]
			}
			d.Decode(b, capture.Info{LinkType: capture.LinkTypeRaw, Timestamp: now}, &p)
			if g == nil {
				g = d.defrag
			} else if d.defrag != g {
				t.Fatal("reassembly reallocated")
			}
			if g == nil {
				continue
			}
			for i := range g.meta {
				m := &g.meta[i]
				if int(m.got) != g.blocks(i) || m.high > DefragMaxBytes || m.total > DefragMaxBytes || m.state > slotDone {
					t.Fatalf("slot %d: %+v, %d blocks marked", i, *m, g.blocks(i))
				}
			}
			if p.Reassembled && g.delivered >= 0 && !flipped {
				m := &g.meta[g.delivered]
				for i, c := range g.bufs[g.delivered][:m.total] {
					if c != fuzzByte(m.key.id, i) {
						t.Fatalf("datagram %d: byte %d is %#x, want %#x", m.key.id, i, c, fuzzByte(m.key.id, i))
					}
				}
			}
		}
		d.Flush()
		wiped(t, d)
	})
}
