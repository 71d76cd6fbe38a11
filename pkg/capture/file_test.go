package capture_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// readAll reads every frame and returns their count and the error that
// ended the read (nil at a clean end).
func readAll(f *capture.File) (int, []capture.LinkType, error) {
	n := 0
	var links []capture.LinkType
	for {
		_, info, err := f.ReadPacket()
		if errors.Is(err, io.EOF) {
			return n, links, nil
		}
		if err != nil {
			return n, links, err
		}
		n++
		if len(links) == 0 || links[len(links)-1] != info.LinkType {
			links = append(links, info.LinkType)
		}
	}
}

// TestCorpusPacketCounts reads every capture of the shared corpus and
// checks the packet count its MANIFEST states.
func TestCorpusPacketCounts(t *testing.T) {
	manifest := filepath.Join(filepath.Dir(inspecttest.CorpusFile(t, "zeek-empty.pcap")), "..", "MANIFEST.tsv")
	mf, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	sc := bufio.NewScanner(mf)
	sc.Scan()
	header := strings.Split(sc.Text(), "\t")
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	rows := 0
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		name, format := f[col["file"]], f[col["format_linktype"]]
		want, err := strconv.Atoi(f[col["packets"]])
		if err != nil {
			t.Fatalf("%s: packets column %q", name, f[col["packets"]])
		}
		rows++
		t.Run(name, func(t *testing.T) {
			c, err := capture.OpenFile(inspecttest.CorpusFile(t, name))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, links, err := readAll(c)
			if err != nil {
				t.Fatalf("read error after %d packets: %v", got, err)
			}
			if got != want {
				t.Errorf("read %d packets, MANIFEST says %d", got, want)
			}
			wantLink := map[string]capture.LinkType{
				"ether": capture.LinkTypeEthernet, "rawip4": capture.LinkTypeIPv4, "null": capture.LinkTypeNull,
				"nflog": capture.LinkTypeNFLOG, "linux-sll2": capture.LinkTypeLinuxSLL2,
			}[format[strings.IndexByte(format, '/')+1:]]
			if want > 0 && (len(links) != 1 || links[0] != wantLink) {
				t.Errorf("link types %v, want %v (%s)", links, wantLink, format)
			}
		})
	}
	if rows < 70 {
		t.Errorf("MANIFEST has %d rows; expected the 72-file corpus", rows)
	}
}

// pcapFile writes a classic pcap with the given link type and frames.
func pcapFile(t *testing.T, link capture.LinkType, frames ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkType(link)); err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		if err := w.WritePacket(ciFor(fr), fr); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestMalformedFiles(t *testing.T) {
	frame := bytes.Repeat([]byte{0xab}, 60)
	good := pcapFile(t, capture.LinkTypeEthernet, frame, frame, frame)
	bigEndian := append([]byte{}, good...)
	swapHeader(bigEndian)

	tests := []struct {
		name       string
		data       []byte
		openErr    string // substring of the error from opening; "" if it opens
		readErr    string // substring of the error that ends reading
		packets    int    // packets read before the error
		offset     int64  // FormatError offset
		wantOffset bool
	}{
		{name: "good", data: good, packets: 3},
		{name: "big_endian", data: bigEndian, packets: 3},
		{name: "empty", data: nil, openErr: "empty file"},
		{name: "short_header", data: good[:3], openErr: "too short"},
		{name: "bad_magic", data: []byte("GIF89a...................."), openErr: "not a pcap or pcapng file"},
		{name: "header_cut", data: good[:20], openErr: "offset 0"},
		{name: "unknown_link_type", data: pcapFile(t, capture.LinkType(147), frame), openErr: "unsupported link type 147"},
		{name: "truncated_record", data: good[:24+16+60+16+30], readErr: "truncated record", packets: 1, offset: 24 + 16 + 60, wantOffset: true},
		{name: "truncated_record_header", data: good[:24+16+60+8], readErr: "truncated record", packets: 1, offset: 24 + 16 + 60, wantOffset: true},
		// libpcap and tshark read such a record; the frame was at least
		// as long as what was stored (TestPcapLengthFields).
		{name: "caplen_over_wire_len", data: corruptCaplen(good), packets: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := capture.NewReader("x.pcap", bytes.NewReader(tt.data), int64(len(tt.data)))
			if tt.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.openErr) || !strings.Contains(err.Error(), "x.pcap") {
					t.Fatalf("open error %v, want one naming the file and containing %q", err, tt.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n, _, err := readAll(f)
			if n != tt.packets {
				t.Errorf("read %d packets, want %d", n, tt.packets)
			}
			if tt.readErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var fe *capture.FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.readErr) {
				t.Fatalf("error %v, want a FormatError containing %q", err, tt.readErr)
			}
			if fe.Packets != tt.packets || (tt.wantOffset && fe.Offset != tt.offset) || fe.File != "x.pcap" {
				t.Errorf("FormatError %+v, want packets %d offset %d", fe, tt.packets, tt.offset)
			}
		})
	}
}

func TestPcapNGMixedLinkTypes(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: layers.LinkType(capture.LinkTypeEthernet), SnapLength: 65535}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkType(capture.LinkTypeRaw), SnapLength: 65535})
	if err != nil {
		t.Fatal(err)
	}
	usb, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkType(189), SnapLength: 65535}) // USB Linux
	if err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{1}, 40)
	for _, iface := range []int{0, raw, usb, 0} {
		ci := ciFor(frame)
		ci.InterfaceIndex = iface
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f, err := capture.NewReader("x.pcapng", bytes.NewReader(buf.Bytes()), 0)
	if err != nil {
		t.Fatal(err)
	}
	n, links, err := readAll(f)
	if err != nil || n != 3 {
		t.Fatalf("read %d packets (err %v), want 3: the USB one skipped", n, err)
	}
	want := []capture.LinkType{capture.LinkTypeEthernet, capture.LinkTypeRaw, capture.LinkTypeEthernet}
	if len(links) != 3 || links[0] != want[0] || links[1] != want[1] || links[2] != want[2] {
		t.Errorf("link types %v, want %v", links, want)
	}
}

// FuzzReader: any bytes give frames, io.EOF or a FormatError; never a
// panic, and never more frames than the input could hold (see checkReads).
func FuzzReader(f *testing.F) {
	frame := bytes.Repeat([]byte{0xab}, 60)
	f.Add(pcapNoT(capture.LinkTypeEthernet, frame, frame))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a})
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	// Compressed, more records than bytes.
	f.Add(gzipped(f, pcapNoT(capture.LinkTypeEthernet, make([][]byte, 20000)...)))
	f.Fuzz(checkReads)
}

func pcapNoT(link capture.LinkType, frames ...[]byte) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	_ = w.WriteFileHeader(65535, layers.LinkType(link))
	for _, fr := range frames {
		_ = w.WritePacket(ciFor(fr), fr)
	}
	return buf.Bytes()
}

// swapHeader rewrites a little-endian pcap as big-endian in place.
func swapHeader(b []byte) {
	swap32 := func(p []byte) { binary.BigEndian.PutUint32(p, binary.LittleEndian.Uint32(p)) }
	swap16 := func(p []byte) { binary.BigEndian.PutUint16(p, binary.LittleEndian.Uint16(p)) }
	swap32(b[0:4])
	swap16(b[4:6])
	swap16(b[6:8])
	for _, off := range []int{8, 12, 16, 20} {
		swap32(b[off : off+4])
	}
	for off := 24; off+16 <= len(b); {
		caplen := int(binary.LittleEndian.Uint32(b[off+8 : off+12]))
		for i := 0; i < 16; i += 4 {
			swap32(b[off+i : off+i+4])
		}
		off += 16 + caplen
	}
}

// corruptCaplen makes the first record claim more captured than wire bytes.
// TestPcapLengthFields: files of format 2.2 and older hold a record's
// original length before its capture length, 2.3 files may; libpcap and
// tshark read them swapped back, and a capture length over the original
// length, as does iotgw.
func TestPcapLengthFields(t *testing.T) {
	data := bytes.Repeat([]byte{0xaa}, 60)
	file := func(minor uint16, first, second uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
		b = binary.LittleEndian.AppendUint16(b, 2)
		b = binary.LittleEndian.AppendUint16(b, minor)
		b = append(b, make([]byte, 8)...)
		b = binary.LittleEndian.AppendUint32(b, 65535)
		b = binary.LittleEndian.AppendUint32(b, uint32(capture.LinkTypeEthernet))
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, first)
		b = binary.LittleEndian.AppendUint32(b, second)
		return append(b, data...)
	}
	for _, tt := range []struct {
		name   string
		file   []byte
		length int
	}{
		{"v2.2_swapped", file(2, 1514, 60), 1514},
		{"v2.3_swapped", file(3, 1514, 60), 1514},
		{"v2.3_in_order", file(3, 60, 1514), 1514},
		{"v2.4", file(4, 60, 1514), 1514},
		{"v2.4_caplen_over_len", file(4, 60, 56), 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := capture.NewReader(tt.name, bytes.NewReader(tt.file), 0)
			if err != nil {
				t.Fatal(err)
			}
			d, info, err := r.ReadPacket()
			if err != nil || len(d) != 60 || info.CaptureLength != 60 || info.Length != tt.length {
				t.Fatalf("%d bytes, %+v, %v; want 60 bytes of a frame of %d", len(d), info, err, tt.length)
			}
			if _, _, err := r.ReadPacket(); err != io.EOF {
				t.Fatalf("then %v, want EOF", err)
			}
		})
	}
}

func corruptCaplen(good []byte) []byte {
	b := append([]byte{}, good...)
	binary.LittleEndian.PutUint32(b[24+12:24+16], 10) // wire length 10 < caplen 60
	return b
}

func ciFor(frame []byte) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(frame), Length: len(frame)}
}

// TestGzipMembers: a gzip file of several members (gzip a.pcap; cat
// b.gz >> a.gz) is read whole, as gzip -d reads it; bytes after the last
// member that are no member are named for what they are, after every
// packet before them.
func TestGzipMembers(t *testing.T) {
	whole := pcapNoT(capture.LinkTypeEthernet, make([]byte, 60), make([]byte, 70), make([]byte, 80))
	cut := len(whole) - 16 - 80 // the third record starts here
	twoMembers := append(gzipped(t, whole[:cut]), gzipped(t, whole[cut:])...)
	tests := []struct {
		name   string
		data   []byte
		frames int
		err    string
	}{
		{"one_member", gzipped(t, whole), 3, ""},
		{"two_members", twoMembers, 3, ""},
		{"garbage_after", append(gzipped(t, whole), "garbage\n"...), 3, "data after the end of the compressed capture"},
		{"long_garbage_after", append(gzipped(t, whole), bytes.Repeat([]byte("x"), 100)...), 3, "data after the end of the compressed capture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFrames(tt.data)
			if len(got) != tt.frames {
				t.Errorf("%d frames, want %d", len(got), tt.frames)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one saying %q", err, tt.err)
			}
		})
	}
}
