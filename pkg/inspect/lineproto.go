package inspect

import (
	"math"
	"strings"

	"github.com/iotgw/iotgw/pkg/event"
)

// What the analyzers of line-based login protocols (POP3, SMTP, IMAP,
// FTP) share: the loop that cuts each direction into lines and
// resynchronises after a gap, and the greeting banner. None allocate on
// the per-packet path.

// LineHandler is the protocol side of Lines: what a line means, and which
// bytes are not lines at all.
type LineHandler interface {
	// Raw takes the leading bytes of b, sent in dir, that are not lines (a
	// message body, a literal) and returns how many; 0 when b starts with
	// a line.
	Raw(dir Dir, b []byte) int
	// ClientLine and ServerLine handle one line, without its terminator.
	ClientLine(f *Flow, line []byte)
	ServerLine(f *Flow, line []byte)
}

// Lines feeds a TCP stream to a LineHandler line by line. It owns the
// resynchronisation after a gap: in a direction that lost bytes, what
// precedes the next line feed is the tail of a line whose start is gone,
// and is dropped rather than read as a command or reply. Its zero value
// is in step in both directions.
type Lines struct {
	cut [2]LineCutter
}

// Feed implements Analyzer.Feed for h: it hands h the non-line bytes and
// the complete lines of data and returns how many bytes it consumed; an
// incomplete last line is left for the next call.
func (l *Lines) Feed(h LineHandler, f *Flow, dir Dir, data []byte) int {
	// A line may end the analysis (StartTLS, StopInspection): the flow
	// then has another analyzer or none, and the rest of data is not h's.
	reader := f.analyzer()
	consumed := 0
	for consumed < len(data) {
		rest := data[consumed:]
		if n := h.Raw(dir, rest); n > 0 {
			consumed += n
			continue
		}
		// No length limit: the engine's stream buffer bounds a line.
		line, n, ok, more := l.cut[dir].Next(rest, math.MaxInt)
		consumed += n
		if !ok {
			if more {
				continue // the tail of a line cut by a gap, dropped
			}
			return consumed
		}
		if dir == ToServer {
			h.ClientLine(f, line)
		} else {
			h.ServerLine(f, line)
		}
		if f.analyzer() != reader {
			return len(data)
		}
	}
	return consumed
}

// Resync drops the bytes sent in dir up to the next line feed: call it
// from Analyzer.Gap when the stream lost its place at a line boundary.
func (l *Lines) Resync(dir Dir) { l.cut[dir].Skip() }

// FirstLine is the first line of b without its terminator, or all of b
// when no line is complete yet: what Protocol.Match looks at.
func FirstLine(b []byte) []byte {
	if line, _, ok := NextLine(b); ok {
		return line
	}
	return b
}

// EmitGreeting reports a server's greeting as a banner of protocol ("pop3"),
// keeping at most 160 printable bytes of text.
func EmitGreeting(f *Flow, protocol string, text []byte) {
	k := greetingKey{protocol, Scrubbed(text, 160)}
	f.Emit(SubjectServer, f.engine.greetings.copyOf(k, func() *event.Event {
		return &event.Event{
			Type:     event.TypeObservation,
			Kind:     event.KindBanner,
			Severity: event.SeverityInfo,
			Summary:  strings.ToUpper(protocol) + " server greeting",
			Evidence: event.Evidence{"protocol": protocol, "banner": k.banner},
		}
	}))
}

// greetingKey is what a greeting's banner follows from: the text as
// scrubbed.
type greetingKey struct{ protocol, banner string }
