package capture

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Two NFULNL_MSG_PACKET messages as a little-endian kernel sent them for
// a connection forwarded from lan0 (ifindex 2) to wan0 (3), logged with
// the sequence flag: the device's SYN (seq 0) and its request "GET /x"
// (seq 3). Attribute values are big-endian on every host.
const (
	capturedSYN = "c400000000040000000000000000000002000007080001000800020005000a0000000000" +
		"0800040000000002080005000000000310000800000600006a292e460000000006000f00" +
		"0001000006001100000e000012001000a221fb6117fc6a292e4600000800000014000300" +
		"000000006b071ec900000000000d8a9f08000c0000000000400009004500003c1f044000" +
		"3f06e9f00a620a020a621402ca800050d6d68f9f00000000a002faf032f60000020405b4" +
		"0402080a26689d64000000000103030a"
	capturedGET = "dc00000000040000000000000000000002000007080001000800020005000a0000000000" +
		"0800040000000002080005000000000310000800000600006a292e460000000006000f00" +
		"0001000006001100000e000012001000a221fb6117fc6a292e4600000800000014000300" +
		"000000006b071ec900000000000d8b6d08000c000000000356000900450000521f064000" +
		"3f06e9d80a620a020a621402ca800050d6d68fa0045d3d4e8018003f330c00000101080a" +
		"26689d64dd36480f474554202f7820485454502f312e300d0a486f73743a206c61620d0a" +
		"0d0a0000"
)

// capturedGroup is the NFLOG group the captured messages were logged to.
const capturedGroup = 7

var (
	capturedDevMAC    = [6]byte{0x6a, 0x29, 0x2e, 0x46, 0x00, 0x00}
	capturedRouterMAC = [6]byte{0xa2, 0x21, 0xfb, 0x61, 0x17, 0xfc}
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toBigEndian rewrites the host-order fields of little-endian netlink
// messages (message headers, attribute headers) as a big-endian host
// such as MIPS would send them; values stay as they are.
func toBigEndian(t testing.TB, le []byte) []byte {
	t.Helper()
	b := bytes.Clone(le)
	le16, le32 := binary.LittleEndian.Uint16, binary.LittleEndian.Uint32
	be16, be32 := binary.BigEndian.PutUint16, binary.BigEndian.PutUint32
	for off := 0; off+nlmsgHeaderLen <= len(b); {
		n := int(le32(b[off:]))
		if n < nlmsgHeaderLen || off+n > len(b) {
			t.Fatalf("bad message at %d", off)
		}
		typ := le16(b[off+4:])
		be32(b[off:], uint32(n))
		be16(b[off+4:], typ)
		be16(b[off+6:], le16(b[off+6:]))
		be32(b[off+8:], le32(b[off+8:]))
		be32(b[off+12:], le32(b[off+12:]))
		if typ == nfulnlMsgPacket {
			for a := off + nlmsgHeaderLen + nfgenHeaderLen; a+nlattrHeaderLen <= off+n; {
				al := int(le16(b[a:]))
				be16(b[a:], uint16(al))
				be16(b[a+2:], le16(b[a+2:]))
				a += align4(max(al, nlattrHeaderLen))
			}
		}
		off += align4(n)
	}
	return b
}

// nlmsg builds one netlink message in order.
func nlmsg(order binary.ByteOrder, typ uint16, seq uint32, body []byte) []byte {
	b := make([]byte, nlmsgHeaderLen, nlmsgHeaderLen+len(body)+3)
	order.PutUint32(b[0:], uint32(nlmsgHeaderLen+len(body)))
	order.PutUint16(b[4:], typ)
	order.PutUint32(b[8:], seq)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nla builds one attribute in order.
func nla(order binary.ByteOrder, typ uint16, v []byte) []byte {
	b := make([]byte, nlattrHeaderLen, nlattrHeaderLen+len(v)+3)
	order.PutUint16(b[0:], uint16(nlattrHeaderLen+len(v)))
	order.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nfgen(group uint16) []byte { return []byte{2, 0, byte(group >> 8), byte(group)} }

func TestParsePacketCaptured(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, tt := range []struct {
			name    string
			msg     string
			seq     uint32
			payload string
			usec    uint64
		}{
			{"syn", capturedSYN, 0, "\x45\x00\x00\x3c", 0x0d8a9f},
			{"get", capturedGET, 3, "GET /x HTTP/1.0\r\n", 0x0d8b6d},
		} {
			t.Run(order.String()+"/"+tt.name, func(t *testing.T) {
				b := mustHex(t, tt.msg)
				if order == binary.BigEndian {
					b = toBigEndian(t, b)
				}
				m, rest, err := nextMessage(order, b)
				if err != nil || rest != nil || m.typ != nfulnlMsgPacket {
					t.Fatalf("nextMessage: type %#x rest %d err %v", m.typ, len(rest), err)
				}
				var p nflogPacket
				if err := parsePacket(order, m.body, &p); err != nil {
					t.Fatal(err)
				}
				if p.family != 2 || p.group != capturedGroup || p.hwProtocol != etherTypeIPv4 || p.hook != 2 {
					t.Errorf("family %d group %d protocol %#x hook %d", p.family, p.group, p.hwProtocol, p.hook)
				}
				if p.inDev != 2 || p.outDev != 3 {
					t.Errorf("devices in %d out %d, want 2 and 3", p.inDev, p.outDev)
				}
				if !p.hasSrcMAC || p.srcMAC != capturedDevMAC || !p.hasDstMAC || p.dstMAC != capturedRouterMAC {
					t.Errorf("MACs %x (%v) → %x (%v)", p.srcMAC, p.hasSrcMAC, p.dstMAC, p.hasDstMAC)
				}
				if !p.hasSeq || p.seq != tt.seq {
					t.Errorf("seq %d (%v), want %d", p.seq, p.hasSeq, tt.seq)
				}
				if !p.hasTime || p.sec != 0x6b071ec9 || p.usec != tt.usec {
					t.Errorf("time %d.%06d (%v)", p.sec, p.usec, p.hasTime)
				}
				payload := m.body[p.payloadOff : p.payloadOff+p.payloadLen]
				if !bytes.Contains(payload, []byte(tt.payload)) || payload[0] != 0x45 {
					t.Errorf("payload %q", payload)
				}
			})
		}
	}
	// The wrong byte order does not read as a packet.
	m, _, err := nextMessage(binary.BigEndian, mustHex(t, capturedSYN))
	if err == nil && m.typ == nfulnlMsgPacket {
		t.Error("a little-endian message parsed as big-endian")
	}
}

func TestParsePacketHostile(t *testing.T) {
	o := binary.NativeEndian
	payload := nla(o, nfulaPayload, []byte{0x45, 0, 0, 20})
	tests := []struct {
		name    string
		body    []byte
		wantErr bool
		check   func(t *testing.T, p *nflogPacket)
	}{
		{"body_shorter_than_nfgenmsg", []byte{2, 0}, true, nil},
		{"attr_length_below_header", append(nfgen(7), 2, 0, 9, 0), true, nil},
		{"attr_length_zero", append(nfgen(7), 0, 0, 9, 0, 0, 0, 0, 0), true, nil},
		{"attr_past_end", append(nfgen(7), nla(o, nfulaPayload, []byte{1, 2, 3, 4})[:6]...), true, nil},
		{"trailing_partial_header", append(append(nfgen(7), payload...), 1, 2), false, func(t *testing.T, p *nflogPacket) {
			if p.payloadLen != 4 {
				t.Errorf("payload %d bytes", p.payloadLen)
			}
		}},
		{"flag_bits_on_type", append(nfgen(7), nla(o, nfulaPayload|0x4000, []byte{0x45})...), false, func(t *testing.T, p *nflogPacket) {
			if p.payloadLen != 1 {
				t.Errorf("payload with NLA_F_NET_BYTEORDER not found")
			}
		}},
		{"short_values_ignored", bytes.Join([][]byte{nfgen(7),
			nla(o, nfulaPacketHdr, []byte{8}),
			nla(o, nfulaTimestamp, make([]byte, 8)),
			nla(o, nfulaIfindexIn, []byte{1}),
			nla(o, nfulaSeq, []byte{1, 2}),
			nla(o, nfulaHWAddr, []byte{0, 6, 0, 0, 1, 2, 3}),
			nla(o, nfulaHWType, []byte{0}),
			nla(o, nfulaHWHeader, []byte{1, 2, 3}),
		}, nil), false, func(t *testing.T, p *nflogPacket) {
			if p.hwProtocol != 0 || p.hasTime || p.inDev != 0 || p.hasSeq || p.hasSrcMAC || p.hasDstMAC || p.payloadLen != 0 {
				t.Errorf("short values read: %+v", p)
			}
		}},
		{"non_ethernet_hwaddr", bytes.Join([][]byte{nfgen(7),
			nla(o, nfulaHWAddr, []byte{0, 8, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}),
			nla(o, nfulaHWType, []byte{0x02, 0x00}), // ARPHRD_PPP-like, not Ethernet
			nla(o, nfulaHWHeader, make([]byte, 14)),
		}, nil), false, func(t *testing.T, p *nflogPacket) {
			if p.hasSrcMAC || p.hasDstMAC {
				t.Errorf("MAC taken from a non-Ethernet link: %+v", p)
			}
		}},
		{"unknown_attrs_skipped", bytes.Join([][]byte{nfgen(7), nla(o, 0x3fff, []byte("xyz")), nla(o, 10, []byte("prefix\x00")), payload}, nil), false, func(t *testing.T, p *nflogPacket) {
			if p.payloadLen != 4 {
				t.Errorf("payload after unknown attributes not found")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p nflogPacket
			err := parsePacket(o, tt.body, &p)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, &p)
			}
		})
	}
}

func TestNextMessageHostile(t *testing.T) {
	o := binary.NativeEndian
	good := nlmsg(o, nlmsgDone, 1, []byte{0, 0, 0, 0})
	tests := []struct {
		name     string
		b        []byte
		wantErr  bool
		wantRest int
	}{
		{"short_header", good[:10], true, 0},
		{"length_below_header", func() []byte { b := bytes.Clone(good); o.PutUint32(b, 8); return b }(), true, 0},
		{"length_past_end", func() []byte { b := bytes.Clone(good); o.PutUint32(b, 400); return b }(), true, 0},
		{"one", good, false, 0},
		{"two", append(bytes.Clone(good), good...), false, len(good)},
		{"unpadded_last", nlmsg(o, nlmsgDone, 1, []byte{1, 2, 3, 4, 5})[:nlmsgHeaderLen+5], false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rest, err := nextMessage(o, tt.b)
			if (err != nil) != tt.wantErr || len(rest) != tt.wantRest {
				t.Fatalf("rest %d err %v; want rest %d, error %v", len(rest), err, tt.wantRest, tt.wantErr)
			}
		})
	}
}

// native is a fixture recorded on a little-endian host, in this host's
// byte order (the tests run on big-endian MIPS under qemu too).
func native(t testing.TB, leHex string) []byte {
	le := mustHex(t, leHex)
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return le
	}
	return toBigEndian(t, le)
}

// newTestBatch is a batch reader over datagram for group 7.
func newTestBatch(order binary.ByteOrder, datagram []byte, c *nflogCounters) *nflogBatch {
	r := &nflogBatch{order: order, stats: c, group: capturedGroup}
	r.reset(datagram, time.Unix(100, 0))
	return r
}

func TestNFLOGBatch(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			conv := func(le []byte) []byte {
				if order == binary.BigEndian {
					return toBigEndian(t, le)
				}
				return le
			}
			syn, get := conv(mustHex(t, capturedSYN)), conv(mustHex(t, capturedGET))
			otherGroup := nlmsg(order, nfulnlMsgPacket, 0, append(nfgen(8), nla(order, nfulaPayload, []byte{0x45, 0, 0, 20})...))
			noPayload := nlmsg(order, nfulnlMsgPacket, 0, append(nfgen(capturedGroup), nla(order, nfulaPacketHdr, []byte{0x08, 0, 2, 0})...))
			noTime := nlmsg(order, nfulnlMsgPacket, 0, bytes.Join([][]byte{nfgen(capturedGroup),
				nla(order, nfulaPacketHdr, []byte{0x86, 0xdd, 2, 0}),
				nla(order, nfulaPayload, append([]byte{0x60, 0, 0, 0, 0, 100}, make([]byte, 34)...)),
			}, nil))
			datagram := bytes.Join([][]byte{
				syn,
				nlmsg(order, nlmsgNoop, 0, nil),
				otherGroup,
				get, // seq 3 after 0: two packets lost
				nlmsg(order, nlmsgOverrun, 0, nil),
				noPayload,
				nlmsg(order, nlmsgError, 9, []byte{0, 0, 0, 0}),
				noTime,
				nlmsg(order, nlmsgDone, 0, []byte{0, 0, 0, 0}),
			}, nil)
			var c nflogCounters
			r := newTestBatch(order, datagram, &c)
			var frames [][]byte
			var infos []Info
			for {
				data, info, ok := r.next()
				if !ok {
					break
				}
				// A frame ends where its payload does: appending to it
				// must not overwrite the next message in the datagram.
				if cap(data) != len(data) {
					t.Errorf("frame %d: capacity %d beyond its %d bytes", len(frames), cap(data), len(data))
				}
				frames, infos = append(frames, bytes.Clone(data)), append(infos, info)
			}
			if len(frames) != 3 {
				t.Fatalf("%d frames, want 3", len(frames))
			}
			for i, f := range frames[:2] {
				if !bytes.Equal(f[0:6], capturedRouterMAC[:]) || !bytes.Equal(f[6:12], capturedDevMAC[:]) || f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 {
					t.Errorf("frame %d header % x", i, f[:15])
				}
				if infos[i].LinkType != LinkTypeEthernet || infos[i].Interface != 2 || infos[i].CaptureLength != len(f) {
					t.Errorf("frame %d info %+v", i, infos[i])
				}
				if want := time.Unix(0x6b071ec9, 0); infos[i].Timestamp.Truncate(time.Second) != want {
					t.Errorf("frame %d time %v, want %v", i, infos[i].Timestamp, want)
				}
			}
			if !bytes.Contains(frames[1], []byte("GET /x HTTP/1.0\r\n")) || infos[1].Length != 14+0x52 {
				t.Errorf("request frame %q length %d", frames[1], infos[1].Length)
			}
			// No MACs: zero addresses; IPv6 EtherType; no timestamp: now;
			// the wire length from the IPv6 header although 40 bytes came.
			last := frames[2]
			if !bytes.Equal(last[:12], make([]byte, 12)) || last[12] != 0x86 || last[13] != 0xdd ||
				infos[2].Timestamp != time.Unix(100, 0) || infos[2].Length != 14+40+100 || infos[2].CaptureLength != 14+40 {
				t.Errorf("frame without MACs: % x, info %+v", last[:14], infos[2])
			}
			st := c.snapshot()
			want := NFLOGStats{Packets: 3, Bytes: 60 + 0x52 + 40, Drops: 2, Overruns: 1, Empty: 1}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}

func TestNFLOGBatchAcks(t *testing.T) {
	o := binary.NativeEndian
	var c nflogCounters
	errno := int32(-16) // -EBUSY
	code := make([]byte, 4)
	o.PutUint32(code, uint32(errno))
	datagram := append(nlmsg(o, nlmsgError, 41, code), native(t, capturedSYN)...)
	r := newTestBatch(o, datagram, &c)
	var gotSeq uint32
	var gotErr int32
	r.ack = func(seq uint32, e int32) { gotSeq, gotErr = seq, e }
	if _, _, ok := r.next(); !ok {
		t.Fatal("packet after the acknowledgement lost")
	}
	if gotSeq != 41 || gotErr != errno {
		t.Errorf("ack seq %d errno %d, want 41 and %d", gotSeq, gotErr, errno)
	}
}

func TestNFLOGBatchMalformedEndsDatagram(t *testing.T) {
	o := binary.NativeEndian
	var c nflogCounters
	bad := nlmsg(o, nfulnlMsgPacket, 0, []byte{2, 0})
	datagram := bytes.Join([][]byte{bad, native(t, capturedSYN), {1, 2, 3}}, nil)
	r := newTestBatch(o, datagram, &c)
	n := 0
	for {
		if _, _, ok := r.next(); !ok {
			break
		}
		n++
	}
	if st := c.snapshot(); n != 1 || st.Malformed != 2 {
		t.Errorf("%d frames, stats %+v; want 1 frame, 2 malformed", n, st)
	}
}

func TestNFLOGBatchNoAllocs(t *testing.T) {
	datagram := bytes.Join([][]byte{mustHex(t, capturedSYN), mustHex(t, capturedGET)}, nil)
	work := make([]byte, len(datagram))
	var c nflogCounters
	r := newTestBatch(binary.LittleEndian, nil, &c)
	allocs := testing.AllocsPerRun(100, func() {
		copy(work, datagram)
		r.reset(work, time.Time{})
		for {
			if _, _, ok := r.next(); !ok {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per datagram, want 0", allocs)
	}
}

func FuzzNFLOGBatch(f *testing.F) {
	syn, get := mustHex(f, capturedSYN), mustHex(f, capturedGET)
	f.Add(append(bytes.Clone(syn), get...), false)
	f.Add(toBigEndian(f, append(bytes.Clone(syn), get...)), true)
	f.Add(syn[:100], false)
	f.Add(nlmsg(binary.LittleEndian, nlmsgError, 1, []byte{0, 0, 0, 0}), false)
	f.Fuzz(func(t *testing.T, datagram []byte, bigEndian bool) {
		var order binary.ByteOrder = binary.LittleEndian
		if bigEndian {
			order = binary.BigEndian
		}
		orig := bytes.Clone(datagram)
		var c nflogCounters
		r := &nflogBatch{order: order, stats: &c, group: capturedGroup, ack: func(uint32, int32) {}}
		r.reset(datagram, time.Unix(1, 0))
		n := 0
		for {
			data, info, ok := r.next()
			if !ok {
				break
			}
			n++
			if len(data) <= etherHeaderLen || info.CaptureLength != len(data) || info.Length < info.CaptureLength {
				t.Fatalf("frame of %d bytes, info %+v", len(data), info)
			}
			// The frame lies inside the datagram, over the bytes in front
			// of the payload: its IP part is what the kernel sent.
			// Frames are capped at their end, so their place is found
			// from the addresses.
			start := int(uintptr(unsafe.Pointer(unsafe.SliceData(data))) - uintptr(unsafe.Pointer(unsafe.SliceData(datagram))))
			if cap(data) != len(data) {
				t.Fatalf("frame of %d bytes has capacity %d", len(data), cap(data))
			}
			if start < 0 || start+len(data) > len(datagram) || !bytes.Equal(data[etherHeaderLen:], orig[start+etherHeaderLen:start+len(data)]) {
				t.Fatalf("frame at %d of %d bytes is not the payload in the datagram", start, len(datagram))
			}
		}
		if st := c.snapshot(); st.Packets != uint64(n) {
			t.Fatalf("counted %d packets, returned %d", st.Packets, n)
		}
	})
}

func BenchmarkNFLOGBatch(b *testing.B) {
	// A batch like the kernel sends: the two captured messages, 16 times.
	var datagram []byte
	for range 16 {
		datagram = append(datagram, mustHex(b, capturedSYN)...)
		datagram = append(datagram, mustHex(b, capturedGET)...)
	}
	work := make([]byte, len(datagram))
	var c nflogCounters
	r := newTestBatch(binary.LittleEndian, nil, &c)
	b.ReportAllocs()
	b.SetBytes(int64(len(datagram)))
	for b.Loop() {
		copy(work, datagram)
		r.reset(work, time.Time{})
		for {
			if _, _, ok := r.next(); !ok {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*32), "ns/packet")
}
