package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// frame is one frame read, its data copied.
type frame struct {
	Data []byte
	Info capture.Info
}

func (f frame) String() string {
	return fmt.Sprintf("{%s caplen %d len %d link %d if %d data %x}", f.Info.Timestamp.Format(time.RFC3339Nano),
		f.Info.CaptureLength, f.Info.Length, f.Info.LinkType, f.Info.Interface, f.Data[:min(len(f.Data), 16)])
}

func sameFrame(a, b frame) bool {
	return bytes.Equal(a.Data, b.Data) && a.Info.Timestamp.Equal(b.Info.Timestamp) &&
		a.Info.CaptureLength == b.Info.CaptureLength && a.Info.Length == b.Info.Length &&
		a.Info.LinkType == b.Info.LinkType && a.Info.Interface == b.Info.Interface
}

// readFrames reads data with our reader: the frames, and the error that
// ended the read (nil at a clean end), including one from opening.
func readFrames(data []byte) ([]frame, error) {
	f, err := capture.NewReader("t", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	return readRest(f, len(data))
}

// readRest reads f, a capture of n bytes, to its end as readFrames does.
func readRest(f *capture.File, n int) ([]frame, error) {
	var out []frame
	for {
		b, info, err := f.ReadPacket()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(b) != info.CaptureLength {
			return out, fmt.Errorf("frame %d: %d bytes, CaptureLength %d", len(out), len(b), info.CaptureLength)
		}
		out = append(out, frame{Data: bytes.Clone(b), Info: info})
		if len(out) > n {
			return out, fmt.Errorf("%d frames from %d bytes", len(out), n)
		}
	}
}

// pcapgoFrames reads data with pcapgo, as File does: packets of an
// unsupported link type left out, a missing timestamp as Unix 0. opened
// is false if pcapgo cannot read the file's header.
func pcapgoFrames(data []byte) (frames []frame, opened bool, err error) {
	type reader interface {
		ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r reader
	var link capture.LinkType
	if pr, err := pcapgo.NewReader(bytes.NewReader(data)); err == nil {
		r, link = pr, capture.LinkType(pr.LinkType())
	} else if nr, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{WantMixedLinkType: true}); err == nil {
		r = nr
	} else {
		return nil, false, err
	}
	for {
		b, ci, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames, true, nil
		}
		if err != nil {
			return frames, true, err
		}
		info := capture.Info{Timestamp: ci.Timestamp, CaptureLength: ci.CaptureLength, Length: ci.Length,
			LinkType: link, Interface: ci.InterfaceIndex}
		if len(ci.AncillaryData) > 0 {
			info.LinkType = capture.LinkType(ci.AncillaryData[0].(layers.LinkType))
		}
		if info.Timestamp.IsZero() {
			info.Timestamp = time.Unix(0, 0).UTC()
		}
		if capture.SupportedLinkType(info.LinkType) {
			frames = append(frames, frame{Data: bytes.Clone(b), Info: info})
		}
	}
}

// matchPcapgo checks that our reader gives what pcapgo gives: the same
// frames, and a clean end where pcapgo has one. Where pcapgo fails part
// way, ours must give the frames pcapgo gave before failing.
func matchPcapgo(t *testing.T, data []byte) (ours []frame, err error) {
	t.Helper()
	ours, err = readFrames(data)
	theirs, opened, theirErr := pcapgoFrames(data)
	if !opened {
		if err == nil {
			t.Logf("pcapgo cannot open it (%v); we read %d frames", theirErr, len(ours))
		}
		return ours, err
	}
	if theirErr == nil && err != nil {
		t.Errorf("pcapgo reads %d frames to the end; we fail after %d: %v", len(theirs), len(ours), err)
	}
	if theirErr != nil {
		t.Logf("pcapgo fails after %d frames: %v; we read %d, ending in %v", len(theirs), theirErr, len(ours), err)
	}
	if theirErr == nil && len(ours) != len(theirs) {
		t.Errorf("%d frames, pcapgo %d", len(ours), len(theirs))
	}
	for i := range min(len(ours), len(theirs)) {
		if !sameFrame(ours[i], theirs[i]) {
			t.Errorf("frame %d:\n ours   %v\n pcapgo %v", i, ours[i], theirs[i])
			break
		}
	}
	if len(ours) < len(theirs) {
		t.Errorf("only %d frames of the %d pcapgo reads", len(ours), len(theirs))
	}
	return ours, err
}

// TestCorpusMatchesPcapgo: every corpus file that pcapgo can read gives
// the same frames from our reader.
func TestCorpusMatchesPcapgo(t *testing.T) {
	dir := filepath.Dir(inspecttest.CorpusFile(t, "zeek-empty.pcap"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := readFrames(data)
			if _, opened, theirErr := pcapgoFrames(data); !opened {
				// pcapgo refuses it: ours must refuse it too, having read
				// nothing, for the two to agree.
				if len(ours) != 0 || err == nil {
					t.Errorf("pcapgo refuses it (%v), ours read %d frames (%v)", theirErr, len(ours), err)
				}
				return
			}
			compared++
			matchPcapgo(t, data)
		})
	}
	if compared < 70 {
		t.Errorf("compared %d files; expected the 72-file corpus", compared)
	}
}

// TestTruncatedEverywhere cuts small files at every byte: each cut gives
// the frames before it, then io.EOF or a FormatError at or before the cut.
func TestTruncatedEverywhere(t *testing.T) {
	frame := bytes.Repeat([]byte{0xab}, 61)
	pcap := pcapFile(t, capture.LinkTypeEthernet, frame, frame[:1], frame)
	ng := &ngFile{order: binary.BigEndian}
	ng.shb()
	ng.idb(1, 0, ng.opt(9, []byte{9}))
	ng.epb(0, 1, frame, 61)
	ng.block(5, make([]byte, 12)) // interface statistics, skipped
	ng.spb(61, frame)
	ng.order = binary.LittleEndian
	ng.shb()
	ng.idb(101, 0)
	ng.pb(0, 2, frame[:3], 3)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"pcap", pcap},
		{"pcap_gzip", gzipped(t, pcap)},
		{"pcapng", ng.b},
		{"pcapng_gzip", gzipped(t, ng.b)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			full, err := readFrames(tt.data)
			if err != nil || len(full) != 3 {
				t.Fatalf("whole file: %d frames, %v", len(full), err)
			}
			for cut := range len(tt.data) {
				got, err := readFrames(tt.data[:cut])
				var fe *capture.FormatError
				if err != nil && !errors.As(err, &fe) {
					t.Fatalf("cut at %d: %v is not a FormatError", cut, err)
				}
				if fe != nil && (fe.Packets != len(got) || fe.Offset < 0 || (fe.Offset > int64(cut) && !isGzip(tt.data))) {
					t.Errorf("cut at %d: %d frames, %+v", cut, len(got), fe)
				}
				if len(got) > len(full) {
					t.Fatalf("cut at %d: %d frames", cut, len(got))
				}
				for i := range got {
					if !sameFrame(got[i], full[i]) {
						t.Fatalf("cut at %d: frame %d differs: %v", cut, i, got[i])
					}
				}
			}
		})
	}
}

// TestShortReads: a source that hands over a few bytes at a time (a pipe,
// stdin) or its last bytes with io.EOF gives the frames and offsets of
// one read whole, frames longer than the read buffer included; an error
// from it ends reading with a FormatError that wraps it, after the
// frames before it.
func TestShortReads(t *testing.T) {
	small := bytes.Repeat([]byte{0xa5}, 61)
	big := bytes.Repeat([]byte{0x5a}, 300<<10) // longer than the read buffer
	ng := &ngFile{order: binary.LittleEndian}
	ng.shb()
	ng.idb(1, 0)
	for _, fr := range [][]byte{small, big, small, big} {
		ng.epb(0, 1, fr, uint32(len(fr)))
	}
	pcap := pcapFile(t, capture.LinkTypeEthernet, small, small, small)
	broken := errors.New("broken")
	for _, file := range []struct {
		name string
		data []byte
	}{
		{"pcap", pcap},
		{"pcapng", ng.b},
		{"pcapng_gzip", gzipped(t, ng.b)},
	} {
		want, err := readFrames(file.data)
		if err != nil || len(want) == 0 {
			t.Fatalf("%s: %d frames, %v", file.name, len(want), err)
		}
		for _, src := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"one_byte", iotest.OneByteReader},
			{"half", iotest.HalfReader},
			{"data_err", iotest.DataErrReader},
		} {
			t.Run(file.name+"_"+src.name, func(t *testing.T) {
				f, err := capture.NewReader("t", src.wrap(bytes.NewReader(file.data)), 0)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readRest(f, len(file.data))
				if err != nil || len(got) != len(want) {
					t.Fatalf("%d frames, %v; want %d", len(got), err, len(want))
				}
				for i := range got {
					if !sameFrame(got[i], want[i]) {
						t.Fatalf("frame %d: %v, want %v", i, got[i], want[i])
					}
				}
				if f.Offset() != int64(len(file.data)) {
					t.Errorf("Offset %d at the end, want %d", f.Offset(), len(file.data))
				}
			})
		}
		t.Run(file.name+"_error", func(t *testing.T) {
			cut := len(file.data) - 1
			f, err := capture.NewReader("t", io.MultiReader(bytes.NewReader(file.data[:cut]), iotest.ErrReader(broken)), 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readRest(f, cut)
			var fe *capture.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, broken) || fe.Packets != len(got) || len(got) > len(want) {
				t.Fatalf("%d frames, %v; want a FormatError for %v", len(got), err, broken)
			}
			for i := range got {
				if !sameFrame(got[i], want[i]) {
					t.Fatalf("frame %d: %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// loopReader yields head once, then body over and over: a capture that
// never ends, for measuring the steady state.
type loopReader struct {
	head, body []byte
	off        int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.head) > 0 {
			c := copy(p[n:], l.head)
			l.head, n = l.head[c:], n+c
			continue
		}
		c := copy(p[n:], l.body[l.off:])
		n += c
		l.off = (l.off + c) % len(l.body)
	}
	return n, nil
}

// endless returns a File over a capture whose header is head and whose
// records, repeated for ever, are body.
func endless(t testing.TB, head, body []byte) *capture.File {
	t.Helper()
	f, err := capture.NewReader("loop", &loopReader{head: head, body: body}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// steadyCaptures returns, for each format, the header and one record
// holding a frame of n bytes.
func steadyCaptures(t testing.TB, n int) map[string][2][]byte {
	frame := bytes.Repeat([]byte{0x5a}, n)
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(1<<20, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	head := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := w.WritePacket(ciFor(frame), frame); err != nil {
		t.Fatal(err)
	}
	pcap := [2][]byte{head, bytes.Clone(buf.Bytes())}

	ng := &ngFile{order: binary.LittleEndian}
	ng.shb()
	ng.idb(1, 0)
	ngHead := len(ng.b)
	ng.epb(0, 1700000000_000000, frame, uint32(n))
	return map[string][2][]byte{"pcap": pcap, "pcapng": {ng.b[:ngHead], ng.b[ngHead:]}}
}

// TestReadAllocs: reading allocates nothing per packet, for frames in the
// read buffer and for those longer than it.
func TestReadAllocs(t *testing.T) {
	for _, size := range []int{60, 1514, 300 << 10} {
		for format, c := range steadyCaptures(t, size) {
			t.Run(fmt.Sprintf("%s_%d", format, size), func(t *testing.T) {
				f := endless(t, c[0], c[1])
				read := func() {
					b, _, err := f.ReadPacket()
					if err != nil || len(b) != size {
						t.Fatalf("%d bytes, %v", len(b), err)
					}
				}
				for range 10 {
					read()
				}
				if a := testing.AllocsPerRun(1000, read); a != 0 {
					t.Errorf("%v allocations per packet, want 0", a)
				}
			})
		}
	}
}

func BenchmarkReadPacket(b *testing.B) {
	for _, size := range []int{60, 1514} {
		for _, format := range []string{"pcap", "pcapng"} {
			c := steadyCaptures(b, size)[format]
			b.Run(fmt.Sprintf("%s_%d", format, size), func(b *testing.B) {
				f := endless(b, c[0], c[1])
				b.SetBytes(int64(len(c[1])))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := f.ReadPacket(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// checkReads is the fuzz targets' check: any bytes give frames, then
// io.EOF or a FormatError that counts them and points inside the input;
// never a panic, never more frames than the input could hold.
func checkReads(t *testing.T, data []byte) {
	plain := !isGzip(data)
	f, err := capture.NewReader("fuzz", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		var fe *capture.FormatError
		if !errors.As(err, &fe) || fe.Offset != 0 || fe.Packets != 0 {
			t.Fatalf("open error %#v", err)
		}
		return
	}
	n := 0
	for {
		b, info, err := f.ReadPacket()
		if err != nil {
			var fe *capture.FormatError
			switch {
			case errors.Is(err, io.EOF):
			case !errors.As(err, &fe):
				t.Fatalf("read error is neither EOF nor FormatError: %v", err)
			case fe.Packets != n || fe.Offset < 0 || (plain && fe.Offset >= int64(len(data))):
				t.Fatalf("after %d frames of %d bytes: %+v", n, len(data), fe)
			}
			if _, _, again := f.ReadPacket(); again != err {
				t.Fatalf("error %v, then %v", err, again)
			}
			break
		}
		n++
		// Every record has a 16-byte header; deflate expands at most
		// 1032 times.
		most := len(data)
		if !plain {
			most *= 1032 / 16
		}
		if len(b) != info.CaptureLength || (plain && len(b) > len(data)) || n > most {
			t.Fatalf("frame %d: %d bytes, caplen %d, from %d bytes", n, len(b), info.CaptureLength, len(data))
		}
		if info.Timestamp.IsZero() || !capture.SupportedLinkType(info.LinkType) {
			t.Fatalf("frame %d: %+v", n, info)
		}
	}
	if plain && f.Offset() > int64(len(data)) {
		t.Fatalf("offset %d past %d bytes", f.Offset(), len(data))
	}
}
