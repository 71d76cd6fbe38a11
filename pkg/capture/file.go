package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// FormatError reports a capture file that could not be read to its end. It
// names the file, the byte offset of the record that failed and how many
// packets were read before it, so the caller can still report those.
type FormatError struct {
	File string
	// Offset is the byte offset of the record, block or header that
	// failed; in a gzip-compressed file, the offset in the decompressed
	// stream.
	Offset  int64
	Packets int // packets successfully read before the failure
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

// frameReader is what the pcap and pcapng readers offer.
type frameReader interface {
	// next returns the next frame, borrowed until the following call, or
	// io.EOF at the end. Info.Timestamp is zero for a frame without one.
	next() ([]byte, Info, error)
	// at is the offset of the record or block that next last began.
	at() int64
}

// File reads a pcap or pcapng file, recognised by its magic number rather
// than its name, and either of them gzip-compressed. Mixed link types in
// pcapng (one per interface) are kept.
type File struct {
	name     string
	closer   io.Closer // nil for readers opened with NewReader
	counter  *countingReader
	buf      *bufio.Reader
	r        frameReader
	packets  int
	skipped  int      // frames of a link type not decoded
	skipLink LinkType // the first such link type
	size     int64
	err      error // what ended reading; later calls return it again
}

// countingReader counts the bytes handed to the bufio.Reader above it; the
// bytes consumed are that count minus what bufio still holds.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bufSize is the read buffer. Records that fit in it are handed out from
// it without a copy; it is libpcap's largest snaplen, so all real ones do.
const bufSize = 256 << 10

// maxRecord bounds a pcap record and a pcapng block, and so the memory a
// damaged or hostile file can make the reader claim.
const maxRecord = 16 << 20

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
	src := fr.buf
	magic, err := peekMagic(src)
	if err != nil {
		return err
	}
	if uint16(magic) == magicGzip {
		gz, err := gzip.NewReader(fr.buf)
		if err != nil {
			return fmt.Errorf("gzip header: %w", err)
		}
		// A second buffer, so that records are handed out from it as from
		// an uncompressed file; fr.buf still counts the compressed bytes
		// for Offset.
		gz.Multistream(false) // gzipMembers goes from one member to the next
		src = bufio.NewReaderSize(&gzipMembers{gz: gz, in: fr.buf}, bufSize)
		if magic, err = peekMagic(src); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
	}
	switch magic {
	case magicPcapNG:
		r, err := newPcapNGReader(src)
		if err != nil {
			return err
		}
		fr.r = r
	default:
		r, err := newPcapReader(src, magic)
		if err != nil {
			return err
		}
		if !SupportedLinkType(r.link) {
			return fmt.Errorf("%w %d (%s)", ErrUnsupportedLinkType, int(r.link), r.link)
		}
		fr.r = r
	}
	return nil
}

// peekMagic returns the first four bytes of br, read little-endian.
func peekMagic(br *bufio.Reader) (uint32, error) {
	head, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(head) == 0 {
				return 0, errors.New("empty file: no capture header")
			}
			return 0, fmt.Errorf("file too short for a capture header (%d bytes)", len(head))
		}
		return 0, err
	}
	return binary.LittleEndian.Uint32(head), nil
}

// Name is the file's path as opened.
func (fr *File) Name() string { return fr.name }

// Offset is the number of bytes of the file consumed so far (of the
// compressed file, for a gzip-compressed one).
func (fr *File) Offset() int64 { return fr.counter.n - int64(fr.buf.Buffered()) }

// Packets is the number of frames returned so far.
func (fr *File) Packets() int64 { return int64(fr.packets) }

// Skipped is the number of frames left out for their link type, and the
// first such type.
func (fr *File) Skipped() (int, LinkType) { return fr.skipped, fr.skipLink }

// Size is the file's size in bytes, for progress reports.
func (fr *File) Size() int64 { return fr.size }

// ReadPacket returns the next frame. The data is borrowed: it is valid
// until the next call. At the end it returns io.EOF; a damaged or
// truncated file yields a *FormatError. Either is returned again by every
// later call.
func (fr *File) ReadPacket() ([]byte, Info, error) {
	if fr.err != nil {
		return nil, Info{}, fr.err
	}
	for {
		data, info, err := fr.r.next()
		if err != nil {
			if err != io.EOF {
				err = &FormatError{File: fr.name, Offset: fr.r.at(), Packets: fr.packets, Err: err}
			}
			fr.err = err
			return nil, Info{}, err
		}
		if !SupportedLinkType(info.LinkType) {
			// One pcapng interface of an unsupported type (USB,
			// Bluetooth) does not spoil the others: skip its packets.
			if fr.skipped == 0 {
				fr.skipLink = info.LinkType
			}
			fr.skipped++
			continue
		}
		if info.Timestamp.IsZero() {
			info.Timestamp = time.Unix(0, 0).UTC()
		}
		fr.packets++
		return data, info, nil
	}
}

// gzipMembers reads the members of a gzip file one after the other, as
// gzip -d does, and names what follows the last one when it is no
// member: gzip's own reader takes it for a damaged next member, which
// reached the owner as a record cut short.
type gzipMembers struct {
	gz *gzip.Reader
	in *bufio.Reader
}

func (m *gzipMembers) Read(p []byte) (int, error) {
	for {
		n, err := m.gz.Read(p)
		switch {
		case err != io.EOF:
			return n, err
		case n > 0:
			return n, nil // another member may follow: say so at the next call
		}
		head, _ := m.in.Peek(2)
		switch {
		case len(head) == 0:
			return 0, io.EOF
		case len(head) < 2 || uint16(head[0])|uint16(head[1])<<8 != magicGzip:
			return 0, errors.New("gzip: data after the end of the compressed capture")
		}
		if err := m.gz.Reset(m.in); err != nil {
			return 0, fmt.Errorf("gzip: next member: %w", err)
		}
		m.gz.Multistream(false)
	}
}

// Close closes the file opened by OpenFile.
func (fr *File) Close() error {
	if fr.closer == nil {
		return nil
	}
	return fr.closer.Close()
}

// stream hands out the bytes of a capture from a bufio.Reader, without a
// copy where they fit in its buffer, and counts the bytes consumed.
type stream struct {
	r   *bufio.Reader
	pos int64  // bytes consumed
	big []byte // reused for records longer than r's buffer
}

// peek returns the next n bytes, n at most the buffer's size, without
// consuming them. io.EOF means the input ended before the first of them,
// io.ErrUnexpectedEOF that it ended part way.
func (s *stream) peek(n int) ([]byte, error) {
	b, err := s.r.Peek(n)
	if err == io.EOF && len(b) > 0 {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// next consumes the next n bytes and returns them, borrowed until the
// next call; its errors are peek's.
func (s *stream) next(n int) ([]byte, error) {
	if n <= s.r.Size() {
		b, err := s.peek(n)
		if err != nil {
			return nil, err
		}
		s.discard(n)
		return b, nil
	}
	// Longer than the buffer: copy, growing s.big only as the bytes
	// arrive, so that a length from a damaged file cannot make it
	// allocate more than the file holds.
	s.big = s.big[:0]
	for len(s.big) < n {
		b, err := s.peek(min(n-len(s.big), s.r.Size()))
		s.big = append(s.big, b...)
		s.discard(len(b))
		if err != nil {
			if err == io.EOF && len(s.big) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return s.big, nil
}

func (s *stream) discard(n int) {
	d, _ := s.r.Discard(n) // cannot fail: the bytes were peeked
	s.pos += int64(d)
}

// readErr describes err, met while reading what in a file of the given
// format. An end of file there is a truncation.
func readErr(format, what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: truncated %s (file ends inside it): %w", format, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%s: reading %s: %w", format, what, err)
}
