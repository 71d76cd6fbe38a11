// Package websocket reads the frames of one direction of a WebSocket
// connection (RFC 6455 section 5) as they come, and gives back the
// payload of its data frames unmasked: the byte stream a subprotocol
// (MQTT over WebSocket) is carried in.
//
// Bytes come in pieces of any size, so a frame, its header or its
// payload may be split anywhere; a Reader keeps the few header bytes it
// has seen and where it stands in the payload, nothing more. It never
// allocates and never copies more than the payload it hands back.
package websocket

import "encoding/binary"

// Status says how reading a direction goes. Anything but Reading is
// final: the Reader consumes nothing more.
type Status uint8

const (
	// Reading: the bytes so far are WebSocket frames.
	Reading Status = iota
	// Closed: a Close frame (section 5.5.1) ended the direction; what
	// follows it is not read.
	Closed
	// Compressed: a data frame has RSV1 set, its payload compressed by
	// an extension (permessage-deflate, RFC 7692), which is not read.
	Compressed
	// Malformed: the bytes broke the framing rules: not WebSocket, or a
	// stream out of step.
	Malformed
)

func (s Status) String() string {
	switch s {
	case Reading:
		return "reading"
	case Closed:
		return "closed"
	case Compressed:
		return "compressed"
	}
	return "malformed"
}

// Opcodes (section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// Header bits of the first two bytes (section 5.2).
const (
	bitFin    = 0x80
	bitRSV1   = 0x40
	bitsRSV23 = 0x30
	bitMask   = 0x80
)

// maxHeader is the longest frame header: two bytes, an eight-byte
// extended length and a four-byte masking key.
const maxHeader = 2 + 8 + 4

// maxControl is the largest payload of a control frame (section 5.5).
const maxControl = 125

// Reader reads one direction's frames. The zero value is ready for the
// first byte of a connection's frames.
//
// Masking follows each frame's MASK bit rather than the direction: a
// client must mask and a server must not (section 5.1), but an embedded
// client that does not mask, and a broker that lets it, still carry a
// login worth reading.
type Reader struct {
	head    [maxHeader]byte
	headN   int // header bytes read of the current frame
	headLen int // the header's full length once its second byte is in; 0 before
	// The frame being read once its header is complete.
	inPayload bool
	left      uint64 // payload bytes still to come
	data      bool   // its payload is message data (text, binary, continuation)
	masked    bool
	mask      [4]byte
	maskAt    int // the masking key's byte for the next payload byte
	// fragmented: a message's first frame came without FIN, so
	// continuation frames follow (section 5.4).
	fragmented bool
	status     Status
}

// Status is how reading has gone so far.
func (r *Reader) Status() Status { return r.status }

// Read reads frames from in, which continues what earlier calls were
// given, and writes the payload of data frames (text, binary and their
// continuations), unmasked, to out, as one stream: frame and message
// boundaries are not kept. Control frames (ping, pong) interleaved
// between a message's fragments are passed over.
//
// It returns how many bytes of in it consumed and how many it wrote. It
// stops early when out is full, or when the status leaves Reading; then
// it consumes nothing more.
func (r *Reader) Read(in, out []byte) (consumed, written int) {
	for consumed < len(in) && r.status == Reading {
		if !r.inPayload {
			consumed += r.header(in[consumed:])
			continue
		}
		n := int(min(r.left, uint64(len(in)-consumed)))
		if r.data {
			n = min(n, len(out)-written)
			if n == 0 {
				return consumed, written // out is full
			}
			r.unmask(out[written:written+n], in[consumed:consumed+n])
			written += n
		}
		consumed += n
		r.left -= uint64(n)
		if r.left == 0 {
			r.inPayload = false
		}
	}
	return consumed, written
}

// unmask writes src to dst, XORed with the masking key (section 5.3).
func (r *Reader) unmask(dst, src []byte) {
	if !r.masked {
		copy(dst, src)
		return
	}
	for i, c := range src {
		dst[i] = c ^ r.mask[(r.maskAt+i)&3]
	}
	r.maskAt = (r.maskAt + len(src)) & 3
}

// header reads header bytes from b until the header is complete or b
// runs out, and returns how many it consumed.
func (r *Reader) header(b []byte) int {
	for n, c := range b {
		r.head[r.headN] = c
		r.headN++
		if r.headN == 2 {
			r.headLen = 2 + extendedLength(r.head[1]&0x7f)
			if r.head[1]&bitMask != 0 {
				r.headLen += 4
			}
		}
		if r.headN == r.headLen {
			r.frame()
			r.headN, r.headLen = 0, 0
			return n + 1
		}
	}
	return len(b)
}

// extendedLength is how many bytes of extended payload length follow a
// 7-bit length (section 5.2): 126 announces 16 bits, 127 64 bits.
func extendedLength(l byte) int {
	switch l {
	case 126:
		return 2
	case 127:
		return 8
	}
	return 0
}

// frame starts reading the frame whose header is complete in r.head.
func (r *Reader) frame() {
	b0, b1 := r.head[0], r.head[1]
	fin, op := b0&bitFin != 0, b0&0x0f
	length, at := uint64(b1&0x7f), 2
	switch length {
	case 126:
		length, at = uint64(binary.BigEndian.Uint16(r.head[2:])), 4
	case 127:
		length, at = binary.BigEndian.Uint64(r.head[2:]), 10
		if length>>63 != 0 {
			r.status = Malformed // the most significant bit must be 0
			return
		}
	}
	r.masked = b1&bitMask != 0
	if r.masked {
		copy(r.mask[:], r.head[at:at+4])
	}
	control := op&0x8 != 0
	switch {
	case op > opBinary && op < opClose || op > opPong:
		r.status = Malformed // a reserved opcode
		return
	case b0&bitsRSV23 != 0, control && (b0&bitRSV1 != 0 || !fin || length > maxControl):
		// No extension iotgw reads defines RSV2 or RSV3; control frames
		// are never compressed nor fragmented.
		r.status = Malformed
		return
	case b0&bitRSV1 != 0:
		r.status = Compressed
		return
	}
	switch op {
	case opText, opBinary:
		if r.fragmented {
			r.status = Malformed // a new message inside a fragmented one
			return
		}
		r.fragmented = !fin
	case opContinuation:
		if !r.fragmented {
			r.status = Malformed // a continuation of no message
			return
		}
		r.fragmented = !fin
	case opClose:
		r.status = Closed
		return
	}
	r.data = !control
	r.left, r.maskAt = length, 0
	r.inPayload = length > 0
}
