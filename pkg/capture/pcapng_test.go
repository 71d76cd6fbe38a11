package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/iotgw/iotgw/pkg/capture"
)

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// ngFile builds a pcapng file by hand, in either byte order (pcapgo's
// writer only writes little-endian, and only some block types).
type ngFile struct {
	order byteOrder
	b     []byte
	ends  []int64 // where each packet block ends
}

// block appends a block of type typ, padding body to 4 bytes.
func (f *ngFile) block(typ uint32, body []byte) {
	body = append(body, make([]byte, (4-len(body)%4)%4)...)
	n := uint32(12 + len(body))
	f.b = f.order.AppendUint32(f.b, typ)
	f.b = f.order.AppendUint32(f.b, n)
	f.b = append(f.b, body...)
	f.b = f.order.AppendUint32(f.b, n)
}

func (f *ngFile) shb() {
	b := f.order.AppendUint32(nil, 0x1a2b3c4d)
	b = f.order.AppendUint16(b, 1)
	b = f.order.AppendUint16(b, 0)
	b = f.order.AppendUint64(b, ^uint64(0)) // section length unknown
	b = append(b, f.opt(3, []byte("an os"))...)
	f.block(0x0a0d0d0a, append(b, f.opt(0, nil)...))
}

// opt encodes an option, its value padded.
func (f *ngFile) opt(code uint16, val []byte) []byte {
	b := f.order.AppendUint16(nil, code)
	b = f.order.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, (4-len(val)%4)%4)...)
}

func (f *ngFile) idb(link uint16, snaplen uint32, opts ...[]byte) {
	b := f.order.AppendUint16(nil, link)
	b = f.order.AppendUint16(b, 0)
	b = f.order.AppendUint32(b, snaplen)
	b = append(b, f.opt(2, []byte("eth0"))...)
	f.block(1, append(b, bytes.Join(opts, nil)...))
}

// packetBody is the common part of an enhanced and an obsolete packet block.
func (f *ngFile) packetBody(b []byte, ts uint64, data []byte, length uint32) []byte {
	b = f.order.AppendUint32(b, uint32(ts>>32))
	b = f.order.AppendUint32(b, uint32(ts))
	b = f.order.AppendUint32(b, uint32(len(data)))
	b = f.order.AppendUint32(b, length)
	b = append(b, data...)
	b = append(b, make([]byte, (4-len(data)%4)%4)...)
	return append(b, f.opt(1, []byte("a comment"))...) // opt_comment
}

func (f *ngFile) epb(iface uint32, ts uint64, data []byte, length uint32) {
	f.block(6, f.packetBody(f.order.AppendUint32(nil, iface), ts, data, length))
	f.ends = append(f.ends, int64(len(f.b)))
}

// pb appends an obsolete Packet Block.
func (f *ngFile) pb(iface uint16, ts uint64, data []byte, length uint32) {
	b := f.order.AppendUint16(nil, iface)
	b = f.order.AppendUint16(b, 0) // drops
	f.block(2, f.packetBody(b, ts, data, length))
	f.ends = append(f.ends, int64(len(f.b)))
}

func (f *ngFile) spb(length uint32, data []byte) {
	f.block(3, append(f.order.AppendUint32(nil, length), data...))
	f.ends = append(f.ends, int64(len(f.b)))
}

// TestPcapNGRoundTrip writes a file with several interfaces of different
// link types with pcapgo's writer, and reads it back.
func TestPcapNGRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535},
		pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	links := []capture.LinkType{capture.LinkTypeEthernet}
	for _, lt := range []capture.LinkType{capture.LinkTypeRaw, 189 /* USB, skipped */, capture.LinkTypeLinuxSLL2, capture.LinkTypeNFLOG} {
		if _, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkType(lt), Description: "x"}); err != nil {
			t.Fatal(err)
		}
		links = append(links, lt)
	}
	var want []frame
	ts := time.Unix(1700000000, 987654321)
	for i, n := range []int{60, 0, 1, 2, 3, 1514, 65535, 300 << 10, 7, 40} {
		data := bytes.Repeat([]byte{byte(i)}, n)
		iface := i % len(links)
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: n, Length: n + 4, InterfaceIndex: iface}
		if err := w.WritePacketWithOptions(ci, data, pcapgo.NgPacketOptions{Comments: []string{"c"}}); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			if err := w.WriteInterfaceStats(1, pcapgo.NgInterfaceStatistics{PacketsReceived: 9}); err != nil {
				t.Fatal(err)
			}
		}
		if links[iface] != 189 {
			want = append(want, frame{Data: data, Info: capture.Info{Timestamp: ts.UTC(), CaptureLength: n, Length: n + 4,
				LinkType: links[iface], Interface: iface}})
		}
		ts = ts.Add(time.Second + 1)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{{"plain", buf.Bytes()}, {"gzip", gzipped(t, buf.Bytes())}} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := matchPcapgo(t, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, got, want)
		})
	}
	f, err := capture.NewReader("t", bytes.NewReader(buf.Bytes()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAll(f); err != nil || f.Offset() != int64(buf.Len()) {
		t.Errorf("Offset %d at the end (%v), want %d", f.Offset(), err, buf.Len())
	}
}

// TestPcapNGHandWritten reads files written block by block: big-endian
// sections, several sections, simple and obsolete packet blocks, skipped
// blocks, and timestamp resolutions and offsets. pcapgo must agree but
// where the case says why not.
func TestPcapNGHandWritten(t *testing.T) {
	pkt := []byte("0123456789abcdefghij")
	type want struct {
		ts    time.Time
		data  []byte
		len   int
		link  capture.LinkType
		iface int
	}
	type test struct {
		name  string
		build func(f *ngFile)
		want  []want
		// differs says why pcapgo reads the file otherwise; if empty,
		// pcapgo must read it as we do.
		differs string
	}
	tests := []test{
		{
			name: "big_endian_epb",
			build: func(f *ngFile) {
				f.order = binary.BigEndian
				f.shb()
				f.idb(1, 0)
				f.epb(0, 1700000000_123456, pkt, 100)
			},
			want: []want{{time.Unix(1700000000, 123456000), pkt, 100, capture.LinkTypeEthernet, 0}},
		},
		{
			name: "sections_switch_byte_order_and_reset_interfaces",
			build: func(f *ngFile) {
				f.shb()
				f.idb(1, 0)
				f.idb(101, 0)
				f.epb(1, 1_000001, pkt[:5], 5)
				f.order = binary.BigEndian
				f.shb()
				f.idb(113, 0, f.opt(9, []byte{3}))
				f.epb(0, 2_005, pkt[:6], 6)
				f.order = binary.LittleEndian
				f.shb()
				f.idb(276, 0)
				f.epb(0, 3_000000, pkt[:7], 7)
			},
			want: []want{
				{time.Unix(1, 1000), pkt[:5], 5, capture.LinkTypeRaw, 1},
				{time.Unix(2, 5e6), pkt[:6], 6, capture.LinkTypeLinuxSLL, 0},
				{time.Unix(3, 0), pkt[:7], 7, capture.LinkTypeLinuxSLL2, 0},
			},
		},
		{
			name: "simple_packet_blocks",
			build: func(f *ngFile) {
				f.order = binary.BigEndian
				f.shb()
				f.idb(1, 8)
				f.spb(20, pkt)     // cut to the snaplen
				f.spb(3, pkt[:3])  // shorter than the snaplen
				f.spb(9999, pkt)   // more than the block holds: cut to the snaplen
				f.idb(101, 0)      // only interface 0 counts
				f.spb(1, pkt[:4])  // padding not taken as data
				f.spb(0, pkt[:0])  // empty
				f.spb(4, pkt[:16]) // block longer than the packet
			},
			want: []want{
				{time.Unix(0, 0), pkt[:8], 20, capture.LinkTypeEthernet, 0},
				{time.Unix(0, 0), pkt[:3], 3, capture.LinkTypeEthernet, 0},
				{time.Unix(0, 0), pkt[:8], 9999, capture.LinkTypeEthernet, 0},
				{time.Unix(0, 0), pkt[:1], 1, capture.LinkTypeEthernet, 0},
				{time.Unix(0, 0), pkt[:0], 0, capture.LinkTypeEthernet, 0},
				{time.Unix(0, 0), pkt[:4], 4, capture.LinkTypeEthernet, 0},
			},
		},
		{
			name: "simple_packet_no_snaplen_cut_to_block",
			build: func(f *ngFile) {
				f.shb()
				f.idb(1, 0)
				f.spb(9999, pkt[:10]) // 10 bytes, padded to 12
			},
			want:    []want{{time.Unix(0, 0), append(bytes.Clone(pkt[:10]), 0, 0), 9999, capture.LinkTypeEthernet, 0}},
			differs: "pcapgo reads 9999 bytes, past the block",
		},
		{
			name: "obsolete_packet_blocks",
			build: func(f *ngFile) {
				f.order = binary.BigEndian
				f.shb()
				f.idb(1, 0)
				f.idb(228, 0, f.opt(9, []byte{9}))
				f.pb(1, 1_000000002, pkt[:3], 30)
				f.pb(0, 4_000005, pkt, 20)
			},
			want: []want{
				{time.Unix(1, 2), pkt[:3], 30, capture.LinkTypeIPv4, 1},
				{time.Unix(4, 5000), pkt, 20, capture.LinkTypeEthernet, 0},
			},
		},
		{
			name: "other_blocks_skipped",
			build: func(f *ngFile) {
				f.shb()
				f.block(4, make([]byte, 4))            // name resolution
				f.idb(189, 0)                          // USB: its packets skipped
				f.idb(1, 0)                            //
				f.block(5, make([]byte, 16))           // interface statistics
				f.block(10, make([]byte, 8))           // decryption secrets
				f.block(0xbad, nil)                    // custom / unknown
				f.block(0x40000bad, []byte("private")) // custom, copyable
				f.epb(0, 1, pkt, 20)
				f.epb(1, 2, pkt, 20)
			},
			want: []want{{time.Unix(0, 2000), pkt, 20, capture.LinkTypeEthernet, 1}},
		},
	}
	// if_tsresol and if_tsoffset, little- and big-endian.
	tsCases := []struct {
		name string
		opts func(f *ngFile) [][]byte
		ts   uint64
		want time.Time
	}{
		{"default_micro", func(*ngFile) [][]byte { return nil }, 1700000000_654321, time.Unix(1700000000, 654321000)},
		{"nano", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{9})} }, 1700000000_654321987, time.Unix(1700000000, 654321987)},
		{"milli", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{3})} }, 1700000000_654, time.Unix(1700000000, 654000000)},
		{"seconds", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{0})} }, 1700000000, time.Unix(1700000000, 0)},
		{"pico", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{12})} }, 17_123456789999, time.Unix(17, 123456789)},
		{"ten_to_minus_19", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{19})} }, 1e19 + 25e9, time.Unix(1, 2)}, // 2.5 ns, rounded down
		{"two_to_minus_20", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{0x80 | 20})} }, 1700000000<<20 | 1000, time.Unix(1700000000, 953674)},
		{"two_to_minus_63", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{0x80 | 63})} }, 1<<63 | 1<<62, time.Unix(1, 500000000)},
		{"two_to_minus_0", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, []byte{0x80})} }, 42, time.Unix(42, 0)},
		{"offset", func(f *ngFile) [][]byte { return [][]byte{f.opt(14, f.order.AppendUint64(nil, 1700000000))} }, 5_000001, time.Unix(1700000005, 1000)},
		{"negative_offset_and_nano", func(f *ngFile) [][]byte {
			return [][]byte{f.opt(14, f.order.AppendUint64(nil, ^uint64(1000-1))), f.opt(9, []byte{9})} // -1000 s
		}, 1700001000_000000007, time.Unix(1700000000, 7)},
		{"short_options_ignored", func(f *ngFile) [][]byte { return [][]byte{f.opt(9, nil), f.opt(14, []byte{1, 2, 3})} }, 7_000008, time.Unix(7, 8000)},
		{"after_end_of_options_ignored", func(f *ngFile) [][]byte { return [][]byte{f.opt(0, nil), f.opt(9, []byte{9})} }, 7_000008, time.Unix(7, 8000)},
	}
	tsDiffers := map[string]string{
		"seconds":         "pcapgo takes if_tsresol 0 for microseconds",
		"two_to_minus_20": "pcapgo counts 953 ns, not 953.67, per unit of 2^-20 s",
	}
	for _, tc := range tsCases {
		for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
			tests = append(tests, test{
				name: "ts_" + tc.name + "_" + order.String(),
				build: func(f *ngFile) {
					f.order = order
					f.shb()
					f.idb(1, 0, tc.opts(f)...)
					f.epb(0, tc.ts, pkt[:2], 2)
				},
				want:    []want{{tc.want, pkt[:2], 2, capture.LinkTypeEthernet, 0}},
				differs: tsDiffers[tc.name],
			})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &ngFile{order: binary.LittleEndian}
			tt.build(f)
			var wantFrames []frame
			for _, w := range tt.want {
				wantFrames = append(wantFrames, frame{Data: w.data, Info: capture.Info{Timestamp: w.ts.UTC(),
					CaptureLength: len(w.data), Length: w.len, LinkType: w.link, Interface: w.iface}})
			}
			var got []frame
			var err error
			if tt.differs == "" {
				got, err = matchPcapgo(t, f.b)
			} else {
				got, err = readFrames(f.b)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, got, wantFrames)

			// Offset is exact: at the end of each packet block read.
			r, err := capture.NewReader("t", bytes.NewReader(f.b), 0)
			if err != nil {
				t.Fatal(err)
			}
			var ends []int64
			for {
				if _, _, err := r.ReadPacket(); err != nil {
					break
				}
				ends = append(ends, r.Offset())
			}
			if r.Offset() != int64(len(f.b)) {
				t.Errorf("Offset %d at the end, want %d", r.Offset(), len(f.b))
			}
			// (A skipped packet ends no frame.)
			if len(f.ends) == len(tt.want) && !slices.Equal(ends, f.ends) {
				t.Errorf("Offsets %v after each packet, want %v", ends, f.ends)
			}
		})
	}
}

// TestPcapNGBadBlocks: each damage gives a FormatError at the block at
// fault, after the packets before it.
func TestPcapNGBadBlocks(t *testing.T) {
	frame := bytes.Repeat([]byte{7}, 10)
	// good is a section with one interface and one packet.
	good := func(order byteOrder) *ngFile {
		f := &ngFile{order: order}
		f.shb()
		f.idb(1, 0)
		f.epb(0, 1, frame, 10)
		return f
	}
	// raw appends a block with the given lengths at the start and end.
	raw := func(f *ngFile, typ, n, trail uint32, body int) {
		f.b = f.order.AppendUint32(f.b, typ)
		f.b = f.order.AppendUint32(f.b, n)
		f.b = append(f.b, make([]byte, body)...)
		f.b = f.order.AppendUint32(f.b, trail)
	}
	tests := []struct {
		name  string
		order byteOrder
		pre   func(f *ngFile) // good blocks after the good section
		bad   func(f *ngFile) // the block at fault, and after it anything
		err   string
		open  bool // the error comes from opening
	}{
		{name: "length_below_12", bad: func(f *ngFile) { raw(f, 6, 8, 8, 0) }, err: "bad block length 8"},
		{name: "length_0", bad: func(f *ngFile) { raw(f, 6, 0, 0, 0) }, err: "bad block length 0"},
		{name: "length_not_multiple_of_4", bad: func(f *ngFile) { raw(f, 6, 14, 14, 2) }, err: "bad block length 14"},
		{name: "length_past_limit", bad: func(f *ngFile) { raw(f, 6, 16<<20+4, 16<<20+4, 0) }, err: "block length 16777220 exceeds the limit"},
		{name: "length_huge", bad: func(f *ngFile) { raw(f, 6, 0xfffffffc, 0xfffffffc, 0) }, err: "exceeds the limit"},
		{name: "trailing_length_differs", bad: func(f *ngFile) { raw(f, 4, 16, 20, 4) }, err: "block length 20 at the end differs from 16"},
		{name: "trailing_length_differs_big_endian", order: binary.BigEndian, bad: func(f *ngFile) { raw(f, 4, 16, 20, 4) }, err: "differs"},
		{name: "block_past_end_of_file", bad: func(f *ngFile) { raw(f, 6, 400, 400, 0) }, err: "truncated block"},
		{name: "block_past_end_of_file_past_buffer", bad: func(f *ngFile) { raw(f, 6, 1<<20, 1<<20, 0) }, err: "truncated block"},
		{name: "epb_too_short", bad: func(f *ngFile) { raw(f, 6, 28, 28, 16) }, err: "enhanced packet block too short (28 bytes)"},
		{name: "pb_too_short", bad: func(f *ngFile) { raw(f, 2, 12, 12, 0) }, err: "packet block too short (12 bytes)"},
		{name: "spb_too_short", bad: func(f *ngFile) { raw(f, 3, 12, 12, 0) }, err: "simple packet block too short"},
		{name: "idb_too_short", bad: func(f *ngFile) { raw(f, 1, 16, 16, 4) }, err: "interface description block too short"},
		{name: "shb_too_short", bad: func(f *ngFile) {
			f.b = f.order.AppendUint32(f.b, 0x0a0d0d0a)
			f.b = f.order.AppendUint32(f.b, 16)
			f.b = f.order.AppendUint32(f.b, 0x1a2b3c4d)
			f.b = f.order.AppendUint32(f.b, 16)
		}, err: "section header block too short"},
		{name: "unknown_interface", bad: func(f *ngFile) { f.epb(1, 1, frame, 10) }, err: "enhanced packet block for interface 1, but the section has 1"},
		{name: "unknown_interface_pb", bad: func(f *ngFile) { f.pb(3, 1, frame, 10) }, err: "packet block for interface 3"},
		{name: "interfaces_of_previous_section", pre: func(f *ngFile) { f.shb() }, bad: func(f *ngFile) { f.epb(0, 1, frame, 10) },
			err: "for interface 0, but the section has 0"},
		{name: "spb_without_interface", pre: func(f *ngFile) { f.shb() }, bad: func(f *ngFile) { f.spb(1, frame) },
			err: "simple packet block, but the section has no interface"},
		{name: "captured_length_overruns_block", bad: func(f *ngFile) {
			body := f.order.AppendUint32(nil, 0) // interface
			for _, v := range []uint32{0, 0, 13, 13} {
				body = f.order.AppendUint32(body, v) // timestamp, captured and original length
			}
			f.block(6, append(body, make([]byte, 12)...))
		}, err: "captured length 13 overruns its block"},
		{name: "timestamp_past_year_9999", bad: func(f *ngFile) { f.epb(0, 0x0fffffff<<32, frame, 10) }, err: "timestamp 0xfffffff00000000 of interface 0 is in the year"},
		{name: "timestamp_before_year_0", pre: func(f *ngFile) {
			past := int64(-1) << 40 // if_tsoffset: some 35,000 years back
			f.idb(1, 0, f.opt(14, binary.LittleEndian.AppendUint64(nil, uint64(past))))
		}, bad: func(f *ngFile) { f.epb(1, 1, frame, 10) }, err: "of interface 1 is in the year"},
		{name: "tsresol_10_to_minus_20", bad: func(f *ngFile) { f.idb(1, 0, f.opt(9, []byte{20})) }, err: "timestamp resolution 0x14 out of range"},
		{name: "tsresol_2_to_minus_64", bad: func(f *ngFile) { f.idb(1, 0, f.opt(9, []byte{0x80 | 64})) }, err: "timestamp resolution 0xc0 out of range"},
		{name: "option_overruns_block", bad: func(f *ngFile) {
			o := f.opt(2, []byte("abcd"))
			f.order.PutUint16(o[2:], 9)
			f.idb(1, 0, o)
		}, err: "interface 1: option 2 of 9 bytes overruns its block"},
		{name: "bad_byte_order_magic", bad: func(f *ngFile) {
			n := len(f.b)
			f.shb()
			f.b[n+8] = 0
		}, err: "section header with a bad byte-order magic"},
		{name: "unsupported_version", bad: func(f *ngFile) {
			n := len(f.b)
			f.shb()
			f.order.PutUint16(f.b[n+12:], 2)
		}, err: "pcapng: unsupported version 2.0"},
		{name: "unsupported_minor_version", bad: func(f *ngFile) {
			n := len(f.b)
			f.shb()
			f.order.PutUint16(f.b[n+14:], 1)
		}, err: "pcapng: unsupported version 1.1"},
		{name: "open_bad_version", open: true, bad: func(f *ngFile) { f.order.PutUint16(f.b[14:], 3) }, err: "pcapng: unsupported version 1.3"},
		{name: "open_bad_magic", open: true, bad: func(f *ngFile) { f.b[8] = 0 }, err: "bad byte-order magic"},
		{name: "open_first_block_cut", open: true, bad: func(f *ngFile) { f.b = f.b[:20] }, err: "truncated block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order := tt.order
			if order == nil {
				order = binary.LittleEndian
			}
			f := good(order)
			if tt.pre != nil {
				tt.pre(f)
			}
			at := int64(len(f.b))
			tt.bad(f)
			got, err := readFrames(f.b)
			var fe *capture.FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want a FormatError with %q", err, tt.err)
			}
			wantPackets := 1
			if tt.open {
				wantPackets, at = 0, 0
			}
			if len(got) != wantPackets || fe.Packets != wantPackets || fe.Offset != at {
				t.Errorf("%d frames, %+v; want %d packets, offset %d", len(got), fe, wantPackets, at)
			}
		})
	}
}

// FuzzPcapNG: as FuzzReader, seeded with pcapng files.
func FuzzPcapNG(f *testing.F) {
	frame := bytes.Repeat([]byte{0xab}, 21)
	var buf bytes.Buffer
	w, _ := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	_, _ = w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeRaw})
	_ = w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 2), CaptureLength: 21, Length: 21, InterfaceIndex: 1}, frame)
	_ = w.Flush()
	f.Add(buf.Bytes())
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		ng := &ngFile{order: order}
		ng.shb()
		ng.idb(1, 16, ng.opt(9, []byte{0x80 | 10}), ng.opt(14, make([]byte, 8)))
		ng.epb(0, 1, frame, 30)
		ng.spb(21, frame)
		ng.pb(0, 5, frame[:3], 3)
		ng.block(5, make([]byte, 12))
		ng.shb()
		ng.idb(101, 0)
		ng.epb(0, 9, frame[:1], 1)
		f.Add(ng.b)
	}
	f.Add(gzipped(f, buf.Bytes()))
	f.Fuzz(checkReads)
}
