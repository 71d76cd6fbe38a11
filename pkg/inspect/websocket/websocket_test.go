package websocket

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// Frame header bits for the builders.
const (
	fin  = bitFin
	rsv1 = bitRSV1
	rsv2 = 0x20
)

// key is the masking key of the masked frames the tests build.
var key = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame builds a frame: b0 is FIN, RSV and opcode; masked says whether
// the payload is masked with key. The payload length takes the shortest
// encoding.
func frame(b0 byte, masked bool, payload []byte) []byte {
	var lenBits byte
	var ext []byte
	switch n := len(payload); {
	case n < 126:
		lenBits = byte(n)
	case n <= 0xffff:
		lenBits, ext = 126, binary.BigEndian.AppendUint16(nil, uint16(n))
	default:
		lenBits, ext = 127, binary.BigEndian.AppendUint64(nil, uint64(n))
	}
	return frameWithLength(b0, masked, lenBits, ext, payload)
}

// frameWithLength builds a frame whose length field is lenBits and ext,
// whatever the payload's length.
func frameWithLength(b0 byte, masked bool, lenBits byte, ext, payload []byte) []byte {
	b1 := lenBits
	if masked {
		b1 |= bitMask
	}
	out := append([]byte{b0, b1}, ext...)
	if !masked {
		return append(out, payload...)
	}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReader(t *testing.T) {
	connect := []byte("\x10\x1c\x00\x04MQTT\x04\xc2\x00\x3c\x00\x02id\x00\x05admin\x00\x07s3cret!")
	long := bytes.Repeat([]byte("0123456789abcdef"), 20)   // 320 bytes: a 16-bit length
	huge := bytes.Repeat([]byte("0123456789abcdef"), 4200) // 67,200 bytes: a 64-bit length
	tests := []struct {
		name   string
		in     []byte
		want   string // payload written
		status Status
		rest   int // bytes of in left unconsumed
	}{
		{"masked_binary", frame(fin|opBinary, true, connect), string(connect), Reading, 0},
		{"unmasked_binary", frame(fin|opBinary, false, []byte("\x20\x02\x00\x00")), "\x20\x02\x00\x00", Reading, 0},
		{"text", frame(fin|opText, true, []byte("hello")), "hello", Reading, 0},
		{"empty_frames", cat(frame(fin|opBinary, true, nil), frame(fin|opBinary, false, nil), frame(fin|opBinary, true, []byte("x"))), "x", Reading, 0},
		{"length_16", frame(fin|opBinary, true, long), string(long), Reading, 0},
		{"length_64", frame(fin|opBinary, true, huge), string(huge), Reading, 0},
		{"length_16_not_minimal", frameWithLength(fin|opBinary, true, 126, []byte{0, 3}, []byte("abc")), "abc", Reading, 0},
		{"two_messages", cat(frame(fin|opBinary, true, connect[:10]), frame(fin|opBinary, true, connect[10:])), string(connect), Reading, 0},
		{"fragments_with_control_frames_between", cat(
			frame(opBinary, true, connect[:5]),
			frame(fin|opPing, true, []byte("ping?")),
			frame(opContinuation, true, connect[5:20]),
			frame(fin|opPong, true, nil),
			frame(fin|opContinuation, true, connect[20:]),
			frame(fin|opBinary, true, []byte("next")),
		), string(connect) + "next", Reading, 0},
		{"compressed", cat(frame(fin|rsv1|opBinary, true, []byte("\xf2\x00")), frame(fin|opBinary, true, []byte("later"))),
			"", Compressed, 2 + 2 + 4 + 5},
		{"compressed_after_plain", cat(frame(fin|opBinary, true, []byte("plain")), frame(fin|rsv1|opBinary, true, []byte("zz"))),
			"plain", Compressed, 2},
		{"compressed_continuation", cat(frame(opBinary, true, []byte("ab")), frame(fin|rsv1|opContinuation, true, []byte("cd"))),
			"ab", Compressed, 2},
		{"rsv2", frame(fin|rsv2|opBinary, true, []byte("x")), "", Malformed, 1},
		{"rsv1_on_ping", frame(fin|rsv1|opPing, true, nil), "", Malformed, 0},
		{"continuation_without_message", frame(fin|opContinuation, true, []byte("x")), "", Malformed, 1},
		{"message_inside_fragmented", cat(frame(opBinary, true, []byte("a")), frame(fin|opBinary, true, []byte("b"))), "a", Malformed, 1},
		{"fragmented_ping", frame(opPing, true, []byte("x")), "", Malformed, 1},
		{"long_ping", frame(fin|opPing, true, long), "", Malformed, len(long)},
		{"reserved_opcode", frame(fin|0x3, true, []byte("x")), "", Malformed, 1},
		{"reserved_control_opcode", frame(fin|0xb, true, []byte("x")), "", Malformed, 1},
		{"length_64_top_bit", frameWithLength(fin|opBinary, true, 127, []byte{0x80, 0, 0, 0, 0, 0, 0, 1}, []byte("x")), "", Malformed, 1},
		{"close_ends_direction", cat(frame(fin|opBinary, true, []byte("bye")), frame(fin|opClose, true, []byte("\x03\xe8")), frame(fin|opBinary, true, []byte("after"))),
			"bye", Closed, 2 + 2 + 4 + 5},
		{"http_not_frames", []byte("GET / HTTP/1.1\r\n\r\n"), "", Malformed, 16}, // 'G': opcode 7
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole; a byte at a time; with a one-byte output buffer.
			for _, split := range []struct {
				name      string
				piece, to int
			}{{"whole", len(tt.in), 1 << 20}, {"bytewise", 1, 1 << 20}, {"small_out", 7, 1}} {
				var r Reader
				got, consumed := readAll(&r, tt.in, split.piece, split.to)
				if string(got) != tt.want || r.Status() != tt.status {
					t.Errorf("%s: wrote %q (%d bytes), status %v; want %q, %v", split.name, trim(got), len(got), r.Status(), trim([]byte(tt.want)), tt.status)
				}
				// A frame ruled out on its header leaves its payload.
				if rest := len(tt.in) - consumed; rest != tt.rest {
					t.Errorf("%s: %d bytes left unconsumed, want %d", split.name, rest, tt.rest)
				}
			}
		})
	}
}

// readAll feeds in to r in pieces of up to piece bytes, with an output
// buffer of to bytes, and returns what r wrote and how much it consumed.
func readAll(r *Reader, in []byte, piece, to int) (got []byte, consumed int) {
	out := make([]byte, to)
	for consumed < len(in) {
		end := min(consumed+piece, len(in))
		c, w := r.Read(in[consumed:end], out)
		got = append(got, out[:w]...)
		consumed += c
		if c == 0 && w == 0 {
			break // stopped
		}
	}
	return got, consumed
}

func trim(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// TestReaderStopsConsuming checks that once its status is final a Reader
// consumes and writes nothing, however much more it is given.
func TestReaderStopsConsuming(t *testing.T) {
	for _, in := range [][]byte{
		frame(fin|opClose, true, nil),
		frame(fin|rsv1|opBinary, true, []byte("zz")),
		frame(fin|0x3, false, nil),
	} {
		var r Reader
		r.Read(in, make([]byte, 64))
		if c, w := r.Read(frame(fin|opBinary, true, []byte("more")), make([]byte, 64)); c != 0 || w != 0 || r.Status() == Reading {
			t.Errorf("after %x: consumed %d, wrote %d, status %v", in, c, w, r.Status())
		}
	}
}

func TestReaderDoesNotAllocate(t *testing.T) {
	in := cat(frame(opBinary, true, []byte(strings.Repeat("p", 300))), frame(fin|opPing, true, nil), frame(fin|opContinuation, true, []byte("q")))
	out := make([]byte, 128)
	var r Reader
	allocs := testing.AllocsPerRun(1000, func() {
		for b := in; len(b) > 0; {
			c, _ := r.Read(b, out)
			b = b[c:]
		}
	})
	if allocs != 0 || r.Status() != Reading {
		t.Errorf("%v allocs per run, status %v", allocs, r.Status())
	}
}

// FuzzReader checks that however the bytes are cut into pieces, and
// however small the output buffer, a Reader writes the same payload and
// ends in the same status as one that reads them whole, and never
// writes more payload than it consumed.
func FuzzReader(f *testing.F) {
	f.Add(frame(fin|opBinary, true, []byte("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")), uint8(3), uint8(2))
	f.Add(cat(frame(opBinary, true, []byte("ab")), frame(fin|opPing, false, []byte("p")), frame(fin|opContinuation, true, []byte("cd"))), uint8(1), uint8(1))
	f.Add(frame(fin|opBinary, false, bytes.Repeat([]byte("z"), 200)), uint8(5), uint8(9))
	f.Add(frameWithLength(fin|opBinary, true, 127, []byte{0, 0, 0, 0, 0, 0, 0, 4}, []byte("abcd")), uint8(2), uint8(3))
	f.Add(frame(fin|rsv1|opText, true, []byte("x")), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, piece, to uint8) {
		var whole Reader
		want, _ := readAll(&whole, in, len(in), len(in)+1)
		var cut Reader
		got, consumed := readAll(&cut, in, int(piece)+1, int(to)+1)
		if !bytes.Equal(got, want) || cut.Status() != whole.Status() {
			t.Fatalf("in pieces of %d: %x, %v; whole: %x, %v", int(piece)+1, got, cut.Status(), want, whole.Status())
		}
		if len(got) > consumed || consumed > len(in) {
			t.Fatalf("wrote %d bytes, consumed %d of %d", len(got), consumed, len(in))
		}
	})
}
