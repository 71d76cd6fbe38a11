// Package plaintext owns the generic fallback analyzer and the findings
// that need more than one flow. The analyzer takes the text flows that no
// real protocol claims and hands their payload to the personal-data
// scanner. As a flow observer it aggregates cleartext application
// protocols that devices use towards the internet (plaintext_protocol
// findings) and between LAN devices (plaintext_protocol observations),
// and spots devices that scan the internet for telnet and other
// management ports the way Mirai-style malware does (scanning).
//
// The Protocol must be registered last: it matches any text payload with
// the lowest confidence (PortMatch), and the engine gives ties to the
// earlier protocol, so every real protocol that recognises a flow wins.
package plaintext

import (
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is the generic text protocol. One instance serves one engine.
type Protocol struct {
	scanner inspect.PayloadScanner
	pool    inspect.FreeList[analyzer]
	join    [2 * carrySize]byte // scratch: the end of one payload joined to the start of the next
	use     useTable
	scan    scanTable
}

var (
	_ inspect.Protocol               = (*Protocol)(nil)
	_ inspect.FlowObserver           = (*Protocol)(nil)
	_ inspect.FlowIdentifiedObserver = (*Protocol)(nil)
	_ inspect.CleartextObserver      = (*Protocol)(nil)
)

// New returns the generic text protocol, which hands payload to scanner.
// With a nil scanner it claims no flows and only observes them.
func New(scanner inspect.PayloadScanner) *Protocol {
	return &Protocol{scanner: scanner}
}

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "text" }

// Match implements inspect.Protocol: text claims a flow only with the
// lowest confidence, so that any other protocol interested in it wins.
// Binary payloads are not inspected at all.
func (p *Protocol) Match(_ *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if p.scanner == nil || !looksText(b) {
		return inspect.NoMatch
	}
	return inspect.PortMatch
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

const (
	// textSample is how much of a payload decides whether it is text.
	textSample = 64
	// chunk bounds one scanner call, so that its per-call caps on
	// findings stay meaningful on large payloads; chunks overlap by
	// carrySize bytes so that nothing shorter is cut in two. The scanner
	// is told which ends of a chunk are cuts: a number there may be part
	// of a longer one, which the overlapping chunk sees whole.
	chunk = 2048
	// carrySize is the end of the previous payload kept per direction,
	// to find data split across two segments: enough for a whole NMEA
	// sentence (at most 82 bytes).
	carrySize = 96
)

// looksText reports whether at least 80% of the first bytes of b are
// printable ASCII, tab, CR, LF or valid multi-byte UTF-8.
func looksText(b []byte) bool {
	if len(b) > textSample {
		b = b[:textSample]
	}
	if len(b) == 0 {
		return false
	}
	text := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 0x20 <= c && c < 0x7f || c == '\t' || c == '\r' || c == '\n' {
				text++
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError {
			text += n
		} else if i+n == len(b) && !utf8.FullRune(b[i:]) {
			text += n // a character cut by the sample's end
		}
		i += n
	}
	return text*5 >= len(b)*4
}

// analyzer is the per-flow state: the end of the last payload in each
// direction.
type analyzer struct {
	proto *Protocol
	carry [2][carrySize]byte
	nc    [2]int
	// fed counts the bytes fed in each direction up to carrySize+1, which
	// a gap sets it to: above 0, the next payload does not start the
	// direction's stream; up to carrySize, the carry starts at its first
	// byte.
	fed [2]int
}

// Feed implements inspect.Analyzer. It consumes everything: the scanner
// sees each payload in bounded chunks, and the seam between two payloads
// through the carried end of the previous one. A TCP segment ends where
// the sender's text need not: its end is a cut, and what lies at it is
// read in the next seam, or at Close.
func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	p := a.proto
	if !f.IsTCP() {
		// A datagram is a message of its own: its ends are real, and it
		// joins no other.
		p.scanChunks(f, dir, data, 0)
		return len(data)
	}
	if n := a.nc[dir]; n > 0 {
		j := copy(p.join[:], a.carry[dir][:n])
		j += copy(p.join[j:], data[:min(len(data), carrySize)])
		cut := inspect.CutEnd
		if a.fed[dir] > carrySize {
			cut |= inspect.CutStart
		}
		p.scanText(f, dir, p.join[:j], cut)
		// join is shared by every flow: the seam must not outlive this one.
		clear(p.join[:j])
	}
	cut := inspect.CutEnd
	if a.fed[dir] > 0 {
		cut |= inspect.CutStart
	}
	p.scanChunks(f, dir, data, cut)
	a.keepEnd(dir, data)
	a.fed[dir] = min(a.fed[dir]+len(data), carrySize+1)
	return len(data)
}

// scanChunks hands data to the scanner in chunks of at most chunk bytes
// that overlap by carrySize; edges says which ends of data are cuts, and
// every end of a chunk inside data is one.
func (p *Protocol) scanChunks(f *inspect.Flow, dir inspect.Dir, data []byte, edges inspect.Cut) {
	for off := 0; off < len(data); off += chunk - carrySize {
		end := min(off+chunk, len(data))
		cut := edges
		if off > 0 {
			cut |= inspect.CutStart
		}
		if end < len(data) {
			cut |= inspect.CutEnd
		}
		p.scanText(f, dir, data[off:end], cut)
		if end == len(data) {
			break
		}
	}
}

func (p *Protocol) scanText(f *inspect.Flow, dir inspect.Dir, b []byte, cut inspect.Cut) {
	if looksText(b) {
		p.scanner.ScanPayload(f, dir, "payload", b, cut)
	}
}

// keepEnd remembers the last carrySize bytes sent in dir.
func (a *analyzer) keepEnd(dir inspect.Dir, data []byte) {
	c := &a.carry[dir]
	if len(data) >= carrySize {
		a.nc[dir] = copy(c[:], data[len(data)-carrySize:])
		return
	}
	keep := min(a.nc[dir], carrySize-len(data))
	copy(c[:], c[a.nc[dir]-keep:a.nc[dir]])
	a.nc[dir] = keep + copy(c[keep:], data)
}

// Gap implements inspect.Analyzer: bytes were lost, so the carried end
// no longer joins what comes next, and is wiped rather than left behind.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	clear(a.carry[dir][:a.nc[dir]])
	a.nc[dir] = 0
	a.fed[dir] = carrySize + 1
}

// Close implements inspect.Analyzer. A direction whose end is real
// (Flow.Ended: its stream reached the close, by FIN, reset, timeout or
// the end of the capture, with nothing lost after the bytes read, no
// budget cut and no stop) has its carried end scanned once more, now that
// the end is known not to be a cut. Put zeroes the analyzer, carry included, so no flow's
// bytes wait in the pool.
func (a *analyzer) Close(f *inspect.Flow) {
	for dir := inspect.ToServer; dir <= inspect.ToClient; dir++ {
		if a.nc[dir] == 0 || !f.Ended(dir) {
			continue
		}
		var cut inspect.Cut
		if a.fed[dir] > carrySize {
			cut = inspect.CutStart
		}
		a.proto.scanText(f, dir, a.carry[dir][:a.nc[dir]], cut)
	}
	a.proto.pool.Put(a)
}
