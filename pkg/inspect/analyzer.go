package inspect

import "time"

// Analyzer parses one application protocol on one flow. The engine calls
// it from a single goroutine.
//
// TCP analyzers see each direction as an ordered byte stream; UDP
// analyzers see one datagram per Feed call.
type Analyzer interface {
	// Feed hands over in-order bytes sent in direction dir. It returns how
	// many leading bytes it consumed. The engine keeps the rest (TCP only)
	// and presents it again in front of the next bytes, up to the stream
	// buffer size; an analyzer handed a full buffer must consume some of it
	// or the engine discards the buffer and calls Gap. data is borrowed.
	Feed(f *Flow, dir Dir, data []byte) (consumed int)
	// Gap reports that bytes sent in dir were lost (a capture drop the
	// peer's ACK showed, a hole still open when the direction or the flow
	// ended, a full buffer); the analyzer resynchronises. A segment that
	// merely came early is held and handed on in order, not a gap. Bytes
	// lost before the analyzer was made (or that came while the flow
	// waited for an inspection; for one that took the flow over, by
	// StartTLS or StartWebSocket, after the last ones its predecessor
	// read) are reported before its first Feed, the direction of that
	// Feed last: Gap may come before any Feed.
	Gap(f *Flow, dir Dir)
	// Close ends the flow: report what is pending (a login whose reply
	// was never seen) and release per-flow state. f is invalid afterwards.
	Close(f *Flow)
}

// EarlyGapper is an optional extra for Analyzers that pair a server's
// replies with the client's commands in order: a gap in ToClient whose
// lost bytes the server sent before it had the client's first byte is
// reported by EarlyGap instead of Gap. The engine knows it on a
// connection seen from its start when the lost bytes end at or before
// the acknowledgement number of the segment that carried the client's
// first byte: the client had them when it spoke. They can only have
// been the greeting, or part of it, and no reply to a command is among
// them, so the replies after them still answer the commands in order.
// The bytes after them are read from a line's start: a capture loses
// whole segments, a client speaks after the greeting's last line, and
// what the client had of the greeting after the loss is read before its
// first byte, while no command awaits a reply. Any other gap in ToClient
// is reported by Gap.
type EarlyGapper interface {
	EarlyGap(f *Flow)
}

// Waker is an optional extra for Analyzers that hold something back for
// a while, a verdict that a later answer may still overturn: after
// Flow.WakeAt, Wake is called once that time has come, at the first
// packet the engine handles then, whichever flow it belongs to, so that
// a flow that falls silent (a kernel capture budget spent, an idle
// keep-alive connection) does not keep it back until it closes. now is
// the capture time of that packet. Close, not Wake, is called if the
// flow ends first.
type Waker interface {
	Wake(f *Flow, now time.Time)
}

// Abandoner is an optional extra for Analyzers that borrow from what
// their Protocol shares among flows (tables or buffers lent with a share
// per host): after a panic in one of the analyzer's methods, the engine
// calls Abandon instead of Close, for it to give back what it borrowed
// and report nothing, its state being no longer trusted. Without it, a
// few panics would keep the shared tables lent for good. A panic in
// Abandon is recovered and not reported again.
type Abandoner interface {
	Abandon(f *Flow)
}

// Confidence says how sure a Protocol is that a flow carries it.
type Confidence uint8

const (
	NoMatch      Confidence = iota
	PortMatch               // the port is the protocol's, the bytes don't contradict it
	ContentMatch            // the bytes prove it
)

// Protocol is a registered application protocol: it recognises flows and
// makes an analyzer for each. Implementations keep per-flow state in the
// Analyzer, pooled so that a busy flow table does not allocate.
type Protocol interface {
	// Name is the short protocol name used in events ("ftp", "http").
	Name() string
	// Match looks at the first payload of a flow (from either direction)
	// and its ports.
	Match(f *Flow, dir Dir, payload []byte) Confidence
	// NewAnalyzer returns an analyzer for a flow that Match chose.
	NewAnalyzer(f *Flow) Analyzer
}

// FlowObserver is told about every flow's start and end; an optional
// extra for Protocols that aggregate across flows (plaintext use per
// destination, scanning). FlowStarted runs when the flow is created (for
// TCP usually on the SYN, before any payload); FlowClosed when it ends,
// expires or is evicted. Neither may keep f.
type FlowObserver interface {
	FlowStarted(f *Flow)
	FlowClosed(f *Flow)
}

// FlowIdentifiedObserver is told once when a flow's protocol is known
// (f.App() is set), before its analyzer reads the first bytes; an
// optional extra for Protocols that report a flow's protocol without
// waiting for its end (a connection may stay open for days). A UDP flow
// whose first datagram is its server's (the answer to a request sent to
// a group) is told when its client first sends on it, before the
// analyzer reads that, and never if it does not: until then the client
// has taken no part in it. It may not keep f.
type FlowIdentifiedObserver interface {
	FlowIdentified(f *Flow)
}

// CleartextObserver is told when an analyzer has found that a flow
// carries its content in clear (Flow.ReportCleartext), for protocols
// whose analyzer, not the protocol alone, decides that: an HTTP
// connection that only fetched signed OCSP answers or made a
// captive-portal check carries nothing worth encrypting. It may not keep
// f.
type CleartextObserver interface {
	CleartextUsed(f *Flow)
}

// PayloadScanner looks for personal data in plaintext payloads and reports
// what it finds on the flow. Analyzers that understand a protocol's
// framing (HTTP bodies, MQTT publishes) hand it the parts worth scanning;
// where names the part ("url", "body", "mqtt_payload"), and cut says
// which ends of b are not the ends of what was sent.
type PayloadScanner interface {
	ScanPayload(f *Flow, dir Dir, where string, b []byte, cut Cut)
}

// Parts of messages that the scanner treats in a way of their own.
const (
	// WhereResponseBody is an HTTP response's body: a web page, whose
	// free text from the internet is the site's, not the owner's.
	WhereResponseBody = "response_body"
	// WhereURL and WhereForm are a request target and a URL-encoded form
	// body, handed on decoded: a value after "=" runs to the next "&",
	// spaces and all.
	WhereURL  = "url"
	WhereForm = "form"
	// WhereMQTTCommand is a Tasmota command published over MQTT, handed
	// on as Tasmota's console takes it: the command, the last level of
	// its topic (TasmotaCommand), a space and the payload.
	WhereMQTTCommand = "mqtt_command"
)

// Cut says which ends of a payload handed to a PayloadScanner are where
// the caller cut it (a buffer's or chunk's limit, a TCP segment boundary,
// the byte budget) rather than the ends of the message: a number that
// runs into a cut may be the front or the tail of a longer one.
type Cut uint8

const (
	CutStart Cut = 1 << iota // bytes sent before b are not in it
	CutEnd                   // bytes sent after b are not in it, or may follow
)

// CutEndIf is CutEnd if cut is true, else no cut: for a payload whose
// start is the message's and whose end may not be.
func CutEndIf(cut bool) Cut {
	if cut {
		return CutEnd
	}
	return 0
}

// FreeList recycles per-flow analyzer state so that steady-state traffic
// does not allocate. It keeps at most maxSpare free items: after a burst
// of flows the rest goes back to the garbage collector, and the engine's
// MaxInspected bounds how many are alive at once.
type FreeList[T any] struct {
	items []*T
}

const maxSpare = 128

// Get returns a zeroed *T, reused when one is free.
func (l *FreeList[T]) Get() *T {
	if n := len(l.items); n > 0 {
		v := l.items[n-1]
		l.items = l.items[:n-1]
		return v
	}
	return new(T)
}

// Put zeroes v and keeps it for reuse, up to maxSpare. It zeroes v even
// when the list is full: analyzers test their own fields to learn that
// Feed closed them (StartTLS, StopInspection).
func (l *FreeList[T]) Put(v *T) {
	var zero T
	*v = zero
	if len(l.items) < maxSpare {
		l.items = append(l.items, v)
	}
}
