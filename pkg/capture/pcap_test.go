package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/iotgw/iotgw/pkg/capture"
)

// TestPcapRoundTrip writes files with pcapgo's writers and reads them
// back: every frame as written, the same as pcapgo reads, and Offset at
// the end of each record.
func TestPcapRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 60, 1514, 65535}
	big := []int{300 << 10, 60, 1 << 20} // past the read buffer
	tests := []struct {
		name    string
		nano    bool
		snaplen uint32
		link    capture.LinkType
		sizes   []int
		bigEnd  bool
		gzip    bool
	}{
		{name: "micro", snaplen: 65535, link: capture.LinkTypeEthernet, sizes: sizes},
		{name: "nano", nano: true, snaplen: 65535, link: capture.LinkTypeRaw, sizes: sizes},
		{name: "micro_big_endian", snaplen: 65535, link: capture.LinkTypeLinuxSLL, sizes: sizes, bigEnd: true},
		{name: "nano_big_endian", nano: true, snaplen: 65535, link: capture.LinkTypeNull, sizes: sizes, bigEnd: true},
		{name: "gzip", snaplen: 65535, link: capture.LinkTypeEthernet, sizes: sizes, gzip: true},
		{name: "gzip_nano_big_endian", nano: true, snaplen: 65535, link: capture.LinkTypeIPv4, sizes: sizes, bigEnd: true, gzip: true},
		{name: "records_past_buffer", nano: true, snaplen: 1 << 20, link: capture.LinkTypeEthernet, sizes: big},
		{name: "records_past_buffer_gzip", snaplen: 1 << 20, link: capture.LinkTypeEthernet, sizes: big, gzip: true},
		{name: "snaplen_0", snaplen: 0, link: capture.LinkTypeEthernet, sizes: []int{1514, 256 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := pcapgo.NewWriter(&buf)
			if tt.nano {
				w = pcapgo.NewWriterNanos(&buf)
			}
			if err := w.WriteFileHeader(tt.snaplen, layers.LinkType(tt.link)); err != nil {
				t.Fatal(err)
			}
			var want []frame
			ts := time.Unix(1700000000, 123456789)
			for i, n := range tt.sizes {
				data := bytes.Repeat([]byte{byte(i + 1)}, n)
				ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: n, Length: n + i}
				if err := w.WritePacket(ci, data); err != nil {
					t.Fatal(err)
				}
				at := ts.UTC()
				if !tt.nano {
					at = at.Truncate(time.Microsecond)
				}
				want = append(want, frame{Data: data, Info: capture.Info{Timestamp: at, CaptureLength: n, Length: n + i, LinkType: tt.link}})
				ts = ts.Add(1500 * time.Millisecond)
			}
			file := buf.Bytes()
			if tt.bigEnd {
				swapHeader(file)
			}
			if tt.gzip {
				file = gzipped(t, file)
			}
			got, err := matchPcapgo(t, file)
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, got, want)

			if tt.gzip {
				return
			}
			f, err := capture.NewReader("t", bytes.NewReader(file), 0)
			if err != nil {
				t.Fatal(err)
			}
			off := int64(24)
			for _, n := range tt.sizes {
				if _, _, err := f.ReadPacket(); err != nil {
					t.Fatal(err)
				}
				off += 16 + int64(n)
				if f.Offset() != off {
					t.Fatalf("Offset %d, want %d", f.Offset(), off)
				}
			}
		})
	}
}

func checkFrames(t *testing.T, got, want []frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d frames, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !sameFrame(got[i], want[i]) {
			t.Errorf("frame %d:\n got  %v\n want %v", i, got[i], want[i])
		}
	}
}

// pcapHeader returns a little-endian microsecond pcap file header.
func pcapHeader(major, minor uint16, snaplen, network uint32) []byte {
	h := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	h = binary.LittleEndian.AppendUint16(h, major)
	h = binary.LittleEndian.AppendUint16(h, minor)
	h = append(h, make([]byte, 8)...) // thiszone, sigfigs
	h = binary.LittleEndian.AppendUint32(h, snaplen)
	return binary.LittleEndian.AppendUint32(h, network)
}

// pcapRecord returns a little-endian record header and n bytes of data.
func pcapRecord(sec, frac, caplen, length uint32, n int) []byte {
	var r []byte
	for _, v := range []uint32{sec, frac, caplen, length} {
		r = binary.LittleEndian.AppendUint32(r, v)
	}
	return append(r, make([]byte, n)...)
}

func TestPcapHeaderAndRecords(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name    string
		data    []byte
		err     string // substring of the error; "" for none
		packets int
		offset  int64
		link    capture.LinkType
		ts      time.Time
		length  int // wire length of the first frame, if not 1
	}{
		{name: "fcs_bits_above_link_type", data: cat(pcapHeader(2, 4, 65535, 0x44000001), pcapRecord(5, 6, 1, 1, 1)),
			packets: 1, link: capture.LinkTypeEthernet, ts: time.Unix(5, 6000)},
		{name: "version_2_2", data: cat(pcapHeader(2, 2, 65535, 101), pcapRecord(0, 0, 1, 1, 1)),
			packets: 1, link: capture.LinkTypeRaw, ts: time.Unix(0, 0)},
		{name: "usec_fraction_out_of_range", data: cat(pcapHeader(2, 4, 65535, 1), pcapRecord(10, 5_000_000, 1, 1, 1)),
			packets: 1, link: capture.LinkTypeEthernet, ts: time.Unix(15, 0)},
		{name: "seconds_unsigned", data: cat(pcapHeader(2, 4, 65535, 1), pcapRecord(0xffffffff, 0, 1, 1, 1)),
			packets: 1, link: capture.LinkTypeEthernet, ts: time.Unix(0xffffffff, 0)},
		{name: "original_length_past_int32", data: cat(pcapHeader(2, 4, 65535, 1), pcapRecord(0, 0, 1, 0xffffffff, 1)),
			packets: 1, link: capture.LinkTypeEthernet, ts: time.Unix(0, 0), length: math.MaxInt32},
		{name: "version_1", data: cat(pcapHeader(1, 0, 65535, 1)), err: "unsupported format version 1.0"},
		{name: "record_past_libpcap_limit", data: cat(pcapHeader(2, 4, 65535, 1), pcapRecord(0, 0, 60, 60, 60), pcapRecord(0, 0, 256<<10+1, 1<<20, 0)),
			err: "capture length 262145 exceeds the limit of 262144 bytes (snaplen 65535)", packets: 1, offset: 24 + 16 + 60},
		{name: "record_within_large_snaplen_but_past_cap", data: cat(pcapHeader(2, 4, 0xffffffff, 1), pcapRecord(0, 0, 16<<20+1, 16<<20+1, 0)),
			err: "exceeds the limit of 16777216 bytes", offset: 24},
		{name: "huge_record_cut_short", data: cat(pcapHeader(2, 4, 16<<20, 1), pcapRecord(0, 0, 16<<20, 16<<20, 1000)),
			err: "truncated record", offset: 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFrames(tt.data)
			if len(got) != tt.packets {
				t.Errorf("%d frames, want %d", len(got), tt.packets)
			}
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got[0].Info.LinkType != tt.link || !got[0].Info.Timestamp.Equal(tt.ts) {
					t.Errorf("frame %v, want link %d at %v", got[0], tt.link, tt.ts)
				}
				if want := max(tt.length, 1); got[0].Info.Length != want {
					t.Errorf("wire length %d, want %d", got[0].Info.Length, want)
				}
				return
			}
			var fe *capture.FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want a FormatError with %q", err, tt.err)
			}
			if fe.Offset != tt.offset || fe.Packets != tt.packets {
				t.Errorf("offset %d after %d packets, want %d after %d", fe.Offset, fe.Packets, tt.offset, tt.packets)
			}
		})
	}
}

// FuzzPcap: as FuzzReader, seeded with classic pcap files.
func FuzzPcap(f *testing.F) {
	frame := bytes.Repeat([]byte{0xab}, 60)
	micro := pcapNoT(capture.LinkTypeEthernet, frame, frame[:7])
	bigEnd := bytes.Clone(micro)
	swapHeader(bigEnd)
	var nano bytes.Buffer
	w := pcapgo.NewWriterNanos(&nano)
	_ = w.WriteFileHeader(128, layers.LinkTypeRaw)
	_ = w.WritePacket(ciFor(frame), frame)
	f.Add(micro)
	f.Add(bigEnd)
	f.Add(nano.Bytes())
	f.Add(gzipped(f, micro))
	f.Add(bytes.Join([][]byte{pcapHeader(2, 4, 0, 0x10000000), pcapRecord(1, 2, 3, 4, 3)}, nil))
	f.Fuzz(checkReads)
}
