package inspect

import (
	"bytes"
	"testing"
)

func TestLineCutter(t *testing.T) {
	tests := []struct {
		name         string
		skipping     bool // the cutter is dropping an over-long line
		data         string
		max          int
		line         string
		n            int
		ok, more     bool
		stillSkipped bool // skipping after the call
	}{
		{"crlf", false, "ab\r\ncd", 8, "ab", 4, true, true, false},
		{"bare_lf", false, "ab\ncd", 8, "ab", 3, true, true, false},
		{"empty_line", false, "\r\nx", 8, "", 2, true, true, false},
		{"lone_cr_kept", false, "a\rb\n", 8, "a\rb", 4, true, true, false},
		{"partial", false, "abc", 8, "", 0, false, false, false},
		{"partial_one_short_of_max", false, "abcdefg", 8, "", 0, false, false, false},
		{"partial_reaches_max", false, "abcdefgh", 8, "", 8, false, false, true},
		{"whole_line_over_max", false, "abcdefghij\r\n", 8, "abcdefghij", 12, true, true, false},
		{"skipping_no_end", true, "more junk", 8, "", 9, false, false, true},
		{"skipping_end", true, "junk\r\nnext\r\n", 8, "", 6, false, true, false},
		{"skipping_end_is_last_byte", true, "\n", 8, "", 1, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := LineCutter{skipping: tt.skipping}
			line, n, ok, more := c.Next([]byte(tt.data), tt.max)
			if string(line) != tt.line || n != tt.n || ok != tt.ok || more != tt.more {
				t.Errorf("Next(%q, %d) = %q, %d, %v, %v; want %q, %d, %v, %v", tt.data, tt.max, line, n, ok, more, tt.line, tt.n, tt.ok, tt.more)
			}
			if c.skipping != tt.stillSkipped {
				t.Errorf("skipping = %v, want %v", c.skipping, tt.stillSkipped)
			}
			c.Reset()
			if c.skipping {
				t.Error("Reset left the cutter skipping")
			}
		})
	}
}

func TestLineCutterStream(t *testing.T) {
	tests := []struct {
		name     string
		segments []string
		max      int
		lines    []string
	}{
		{"one_segment", []string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, 64, []string{"GET / HTTP/1.1", "Host: a", ""}},
		{"split_lines", []string{"GET / HT", "TP/1.1\r", "\nHost: a\r\n", "\r\n"}, 64, []string{"GET / HTTP/1.1", "Host: a", ""}},
		{"long_line_dropped", []string{"a: 0123", "456789", "abc\r\nb: 1\r\n"}, 8, []string{"b: 1"}},
		{"long_line_dropped_at_its_end", []string{"a: 01234567", "\r\nb: 1\r\n"}, 8, []string{"b: 1"}},
		{"long_line_whole", []string{"a: 0123456789\r\nb: 1\r\n"}, 8, []string{"a: 0123456789", "b: 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cutStream(t, tt.segments, tt.max)
			if len(got) != len(tt.lines) {
				t.Fatalf("lines %+v, want %q", got, tt.lines)
			}
			for i := range got {
				if got[i].line != tt.lines[i] {
					t.Errorf("line %d = %q, want %q", i, got[i].line, tt.lines[i])
				}
			}
		})
	}
}

// cutLine is a line a LineCutter returned and where it began in the
// stream.
type cutLine struct {
	off  int
	line string
}

// cutStream feeds segments to a LineCutter as the engine feeds an
// analyzer: what a call leaves unconsumed is kept and the next segment
// appended to it. It checks each call's progress and returns the lines.
func cutStream(t *testing.T, segments []string, max int) []cutLine {
	t.Helper()
	var c LineCutter
	var pending []byte
	var lines []cutLine
	off := 0 // stream offset of pending[0]
	for _, s := range segments {
		pending = append(pending, s...)
		for len(pending) > 0 {
			line, n, ok, more := c.Next(pending, max)
			switch {
			case n < 0 || n > len(pending):
				t.Fatalf("consumed %d of %d bytes", n, len(pending))
			case more && n == 0:
				t.Fatal("more without progress")
			case !more && n != 0 && n != len(pending):
				t.Fatalf("stopped after %d of %d bytes", n, len(pending))
			case ok && (pending[n-1] != '\n' || !bytes.HasPrefix(pending, line) || len(line) < n-2):
				t.Fatalf("line %q is not the %d bytes it consumed of %q", line, n, pending)
			}
			if ok {
				lines = append(lines, cutLine{off, string(line)})
			}
			pending, off = pending[n:], off+n
			if !more {
				break
			}
		}
	}
	return lines
}

func FuzzLineCutter(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), uint8(3), uint8(16))
	f.Add([]byte("a: 0123456789abcdef\r\nb: 1\nc\r\r\n"), uint8(5), uint8(8))
	f.Add([]byte("\n\n\r\n"), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, seg, max uint8) {
		step, limit := int(seg%32)+1, int(max%64)+1
		var segments []string
		for rest := data; len(rest) > 0; rest = rest[min(step, len(rest)):] {
			segments = append(segments, string(rest[:min(step, len(rest))]))
		}
		got := cutStream(t, segments, limit)
		// Every complete line shorter than the limit comes out, in order;
		// a longer one only when it arrived in one piece.
		i := 0
		for off := 0; ; {
			line, n, ok := NextLine(data[off:])
			if !ok {
				break
			}
			switch {
			case i < len(got) && got[i].off == off:
				if got[i].line != string(line) {
					t.Fatalf("line at %d = %q, want %q", off, got[i].line, line)
				}
				i++
			case n-1 < limit:
				t.Fatalf("line %q at %d missing from %+v", line, off, got)
			}
			off += n
		}
		if i != len(got) {
			t.Fatalf("lines %+v are not those of the input", got[i:])
		}
	})
}
