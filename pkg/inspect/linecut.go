package inspect

import "bytes"

// LineCutter cuts one direction of a stream into lines, for the analyzers
// of line-based message heads (HTTP, RTSP, SIP) and for Lines. It owns the
// one piece of state that takes: whether the rest of a line is being
// dropped, because it outgrew the limit (thrown away as it arrives rather
// than held in the engine's stream buffer for an end that may never come)
// or because a gap cut off its start. The zero value is at the start of a
// line.
type LineCutter struct {
	skipping bool // dropping the rest of an over-long or cut line
}

// Next cuts the next line out of data. ok says that line holds a complete
// line, without its CR LF (or bare LF); n counts the bytes consumed, line
// end included. more says whether the bytes after n may be read on.
//
// When data holds no complete line, more is false and n is 0: the partial
// line is left for the next segment. Once a partial line reaches max
// bytes, n is len(data) instead and the line is dropped up to and
// including its end, which may come segments later; the call that drops
// the end returns ok false and more true. A line that arrives whole is
// returned whatever its length.
func (c *LineCutter) Next(data []byte, max int) (line []byte, n int, ok, more bool) {
	if c.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil, len(data), false, false
		}
		c.skipping = false
		return nil, i + 1, false, true
	}
	line, n, ok = NextLine(data)
	if !ok {
		if len(data) >= max {
			c.skipping = true
			return nil, len(data), false, false
		}
		return nil, 0, false, false
	}
	return line, n, true, true
}

// Reset returns the cutter to the start of a line, as after a gap in the
// stream.
func (c *LineCutter) Reset() { c.skipping = false }

// Skip drops what comes up to and including the next line end: after a
// gap that lost the start of a line, its tail is not a line.
func (c *LineCutter) Skip() { c.skipping = true }
