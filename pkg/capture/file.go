package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// FormatError reports a capture file that could not be read to its end. It
// names the file, the byte offset of the record that failed and how many
// packets were read before it, so the caller can still report those.
type FormatError struct {
	File    string
	Offset  int64 // byte offset of the record (or header) that failed
	Packets int   // packets successfully read before the failure
	Err     error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d (after %d packets): %v", e.File, e.Offset, e.Packets, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Magic numbers that identify a capture file, read little-endian.
const (
	magicPcapMicro   = 0xa1b2c3d4
	magicPcapNano    = 0xa1b23c4d
	magicPcapMicroBE = 0xd4c3b2a1
	magicPcapNanoBE  = 0x4d3cb2a1
	magicPcapNG      = 0x0a0d0d0a
	magicGzip        = 0x8b1f
)

// packetReader is what both pcapgo readers offer.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// File reads a pcap or pcapng file, recognised by its magic number rather
// than its name. Mixed link types in pcapng (one per interface) are kept.
type File struct {
	name    string
	closer  io.Closer // nil for readers opened with NewReader
	counter *countingReader
	buf     *bufio.Reader
	r       packetReader
	ng      *pcapgo.NgReader // nil for classic pcap
	link    LinkType         // classic pcap link type
	packets int
	size    int64
}

// countingReader counts the bytes handed to the bufio.Reader above it; the
// bytes the packet reader has consumed are that count minus what bufio
// still holds.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bufSize is larger than bufio's default so that pcapgo, which wraps its
// input in bufio.NewReader, reuses our reader instead of adding its own;
// that keeps Offset exact.
const bufSize = 256 << 10

// OpenFile opens a capture file. Errors are *FormatError where the content
// is at fault.
func OpenFile(name string) (*File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open capture %s: is a directory", name)
	}
	fr, err := NewReader(name, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	fr.closer = f
	return fr, nil
}

// NewReader reads a capture from r; name is used in errors and size (may
// be 0) for progress. Close does not close r.
func NewReader(name string, r io.Reader, size int64) (*File, error) {
	c := &countingReader{r: r}
	fr := &File{name: name, counter: c, buf: bufio.NewReaderSize(c, bufSize), size: size}
	if err := fr.open(); err != nil {
		return nil, &FormatError{File: name, Offset: 0, Err: err}
	}
	return fr, nil
}

func (fr *File) open() error {
	head, err := fr.buf.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(head) == 0 {
				return errors.New("empty file: no capture header")
			}
			return fmt.Errorf("file too short for a capture header (%d bytes)", len(head))
		}
		return err
	}
	magic := binary.LittleEndian.Uint32(head)
	switch {
	case magic == magicPcapNG:
		ng, err := pcapgo.NewNgReader(fr.buf, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return fmt.Errorf("pcapng: %w", err)
		}
		fr.ng, fr.r = ng, ng
	case magic == magicPcapMicro, magic == magicPcapNano, magic == magicPcapMicroBE, magic == magicPcapNanoBE,
		uint16(magic) == magicGzip:
		r, err := pcapgo.NewReader(fr.buf)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		fr.r, fr.link = r, LinkType(r.LinkType())
		if !SupportedLinkType(fr.link) {
			return fmt.Errorf("%w %d (%s)", ErrUnsupportedLinkType, int(fr.link), fr.link)
		}
	default:
		return fmt.Errorf("not a pcap or pcapng file (magic %08x)", magic)
	}
	return nil
}

// Name is the file's path as opened.
func (fr *File) Name() string { return fr.name }

// Offset is the number of bytes consumed so far.
func (fr *File) Offset() int64 { return fr.counter.n - int64(fr.buf.Buffered()) }

// Packets is the number of frames returned so far.
func (fr *File) Packets() int64 { return int64(fr.packets) }

// Size is the file's size in bytes, for progress reports.
func (fr *File) Size() int64 { return fr.size }

// ReadPacket returns the next frame. At the end it returns io.EOF; a damaged
// or truncated file yields a *FormatError.
func (fr *File) ReadPacket() ([]byte, Info, error) {
	for {
		start := fr.Offset()
		data, ci, err := fr.r.ZeroCopyReadPacketData()
		if err != nil {
			if err == io.EOF {
				return nil, Info{}, io.EOF
			}
			if err == io.ErrUnexpectedEOF {
				err = errors.New("truncated record (file ends mid-packet)")
			}
			return nil, Info{}, &FormatError{File: fr.name, Offset: start, Packets: fr.packets, Err: err}
		}
		info := Info{
			Timestamp:     ci.Timestamp,
			CaptureLength: ci.CaptureLength,
			Length:        ci.Length,
			LinkType:      fr.link,
			Interface:     ci.InterfaceIndex,
		}
		if fr.ng != nil {
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					info.LinkType = LinkType(lt)
				}
			}
			if !SupportedLinkType(info.LinkType) {
				// One interface of an unsupported type (USB, Bluetooth) does
				// not spoil the others: skip its packets.
				continue
			}
		}
		if info.Timestamp.IsZero() {
			info.Timestamp = time.Unix(0, 0).UTC()
		}
		fr.packets++
		return data, info, nil
	}
}

// Close closes the file opened by OpenFile.
func (fr *File) Close() error {
	if fr.closer == nil {
		return nil
	}
	return fr.closer.Close()
}
