package capture

import (
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

// byteOrder is the byte order of a capture's writer. It is a concrete
// type, so that reading a field inlines where a binary.ByteOrder would be
// an indirect call per field of every record.
type byteOrder bool

const (
	littleEndian byteOrder = false
	bigEndian    byteOrder = true
)

func (o byteOrder) Uint16(b []byte) uint16 {
	if o == bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (o byteOrder) Uint32(b []byte) uint32 {
	if o == bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (o byteOrder) Uint64(b []byte) uint64 {
	if o == bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// frameReader is what the pcap and pcapng readers offer.
type frameReader interface {
	// next returns the next frame, borrowed until the following call, and
	// describes it in info, or returns io.EOF at the end. Info.Timestamp
	// is zero for a frame without one.
	next(info *Info) ([]byte, error)
	// at is the offset of the record or block that next last began.
	at() int64
}

// File reads a pcap or pcapng file, recognised by its magic number rather
// than its name, and either of them gzip-compressed. Mixed link types in
// pcapng (one per interface) are kept.
type File struct {
	name     string
	closer   io.Closer // nil for readers opened with NewReader
	in       *stream   // the file's bytes, compressed or not
	r        frameReader
	info     Info // r's description of the frame; a local would escape
	packets  int
	skipped  int      // frames of a link type not decoded
	skipLink LinkType // the first such link type
	size     int64
	err      error // what ended reading; later calls return it again
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
	fr := &File{name: name, in: newStream(r), size: size}
	if err := fr.open(); err != nil {
		return nil, &FormatError{File: name, Offset: 0, Err: err}
	}
	return fr, nil
}

func (fr *File) open() error {
	src := fr.in
	magic, err := peekMagic(src)
	if err != nil {
		return err
	}
	if uint16(magic) == magicGzip {
		// gzip reads fr.in byte by byte (it is an io.ByteReader), so
		// fr.in still counts the compressed bytes for Offset.
		gz, err := gzip.NewReader(fr.in)
		if err != nil {
			return fmt.Errorf("gzip header: %w", err)
		}
		// A second stream, so that records are handed out from it as
		// from an uncompressed file.
		gz.Multistream(false) // gzipMembers goes from one member to the next
		src = newStream(&gzipMembers{gz: gz, in: fr.in})
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

// peekMagic returns the first four bytes of s, read little-endian.
func peekMagic(s *stream) (uint32, error) {
	head, err := s.peek(4)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
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
func (fr *File) Offset() int64 { return fr.in.pos }

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
	info := &fr.info
	for {
		data, err := fr.r.next(info)
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
		return data, *info, nil
	}
}

// gzipMembers reads the members of a gzip file one after the other, as
// gzip -d does, and names what follows the last one when it is no
// member: gzip's own reader takes it for a damaged next member, which
// reached the owner as a record cut short.
type gzipMembers struct {
	gz *gzip.Reader
	in *stream
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
		head, _ := m.in.peek(2)
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

// stream hands out the bytes of a capture from its own read buffer,
// without a copy where they fit in it, and counts the bytes consumed. It
// is also the io.ByteReader gzip reads a compressed capture from, so that
// the count is of the compressed bytes there.
type stream struct {
	src  io.Reader
	buf  []byte
	r, w int    // buf[r:w] is read and not yet consumed
	err  error  // what ended src, once buf[r:w] is consumed
	pos  int64  // bytes consumed
	big  []byte // reused for records longer than buf
}

func newStream(src io.Reader) *stream {
	return &stream{src: src, buf: make([]byte, bufSize)}
}

// peek returns the next n bytes, n at most the buffer's size, without
// consuming them. io.EOF means the input ended before the first of them,
// io.ErrUnexpectedEOF that it ended part way (peek then returns the
// bytes there are).
func (s *stream) peek(n int) ([]byte, error) {
	if n <= s.w-s.r {
		return s.buf[s.r : s.r+n], nil
	}
	return s.fill(n)
}

// fill reads until n bytes are buffered, n at most the buffer's size,
// and returns them as peek does. It reads as much as the buffer takes,
// so that a file is read in large blocks.
func (s *stream) fill(n int) ([]byte, error) {
	if s.r+n > len(s.buf) {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	for empty := 0; s.w-s.r < n && s.err == nil; {
		m, err := s.src.Read(s.buf[s.w:])
		s.w += m
		s.err = err
		// As bufio does: a reader that keeps returning nothing is broken.
		if m > 0 {
			empty = 0
		} else if empty++; empty == 100 && err == nil {
			s.err = io.ErrNoProgress
		}
	}
	if avail := s.w - s.r; avail < n {
		err := s.err
		if err == io.EOF && avail > 0 {
			err = io.ErrUnexpectedEOF
		}
		return s.buf[s.r:s.w], err
	}
	return s.buf[s.r : s.r+n], nil
}

// next consumes the next n bytes and returns them, borrowed until the
// next call; its errors are peek's.
func (s *stream) next(n int) ([]byte, error) {
	if n <= s.w-s.r {
		b := s.buf[s.r : s.r+n : s.r+n]
		s.consume(n)
		return b, nil
	}
	return s.nextSlow(n)
}

func (s *stream) nextSlow(n int) ([]byte, error) {
	if n <= len(s.buf) {
		b, err := s.fill(n)
		if err != nil {
			return nil, err
		}
		s.consume(n)
		return b[:n:n], nil
	}
	// Longer than the buffer: copy, growing s.big only as the bytes
	// arrive, so that a length from a damaged file cannot make it
	// allocate more than the file holds.
	s.big = s.big[:0]
	for len(s.big) < n {
		b, err := s.peek(min(n-len(s.big), len(s.buf)))
		s.big = append(s.big, b...)
		s.consume(len(b))
		if err != nil {
			if err == io.EOF && len(s.big) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return s.big, nil
}

func (s *stream) consume(n int) {
	s.r += n
	s.pos += int64(n)
}

// Read and ReadByte are for gzip, which reads a compressed file from s.
func (s *stream) Read(p []byte) (int, error) {
	if s.r == s.w && len(p) > 0 {
		if _, err := s.fill(1); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.consume(n)
	return n, nil
}

func (s *stream) ReadByte() (byte, error) {
	b, err := s.peek(1)
	if err != nil {
		return 0, err
	}
	s.consume(1)
	return b[0], nil
}

// readErr describes err, met while reading what in a file of the given
// format. An end of file there is a truncation.
func readErr(format, what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: truncated %s (file ends inside it): %w", format, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%s: reading %s: %w", format, what, err)
}
