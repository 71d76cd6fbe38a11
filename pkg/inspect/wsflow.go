package inspect

import "github.com/iotgw/iotgw/pkg/inspect/websocket"

// WebSocketProtocol is an optional extra for Protocols that also run as
// a WebSocket subprotocol (RFC 6455 section 1.9) on a connection an HTTP
// upgrade turned into WebSocket (Flow.StartWebSocket): MQTT as "mqtt".
type WebSocketProtocol interface {
	// WebSocketSubprotocol reports whether name, the subprotocol an
	// upgrade agreed on (Sec-WebSocket-Protocol), is the protocol.
	WebSocketSubprotocol(name []byte) bool
	// NewWebSocketAnalyzer returns an analyzer for a flow's WebSocket
	// messages. It is fed the payload of their data frames, unmasked, as
	// one stream per direction (frame and message boundaries are not
	// kept), and must consume all it is fed; it is never woken (Waker).
	NewWebSocketAnalyzer(f *Flow) Analyzer
}

// TransportWebSocket is the transport (Login.Transport, and the
// "transport" evidence of what a WebSocket analyzer reports) of a
// protocol carried in WebSocket messages.
const TransportWebSocket = "websocket"

// wsChunk is how much unmasked payload a WebSocket analyzer is fed at a
// time, from the engine's scratch.
const wsChunk = 1024

// StartWebSocket says the connection carries WebSocket frames after
// what the analyzer consumed in the current Feed call: an HTTP upgrade
// answered 101 Switching Protocols, whose agreed subprotocol is
// subprotocol. If a registered protocol runs as it (WebSocketProtocol),
// the analyzer is closed, and a frame reader takes over the flow's
// inspection (its byte budget, stream buffers and seat): the frames that
// follow in either direction, from the bytes the current Feed call
// leaves unconsumed on, are read, and their messages' payload goes to
// that protocol's analyzer. StartWebSocket then returns true, and the
// caller returns from Feed at once with the count it consumed.
// Otherwise it changes nothing and returns false.
//
// A frame whose payload is compressed (permessage-deflate) stops
// inspection (EngineStats.WebSocketCompressed); so do framing errors and
// Close frames once both directions have ended.
func (f *Flow) StartWebSocket(subprotocol []byte) bool {
	in := f.inspection()
	if in == nil || f.has(flagStopped) || !f.IsTCP() {
		return false
	}
	e := f.engine
	var sub WebSocketProtocol
	for _, p := range e.protocols {
		if wp, ok := p.(WebSocketProtocol); ok && wp.WebSocketSubprotocol(subprotocol) {
			sub = wp
			break
		}
	}
	if sub == nil {
		return false
	}
	old := in.analyzer
	ws := e.webSockets.Get()
	ws.inner = sub.NewWebSocketAnalyzer(f)
	// handedOn tells feedStream to give the new analyzer the bytes the
	// old one left; a wake the old one asked for is not the new one's.
	in.analyzer, in.handedOn, in.wake = ws, true, 0
	e.Stats.WebSockets++
	old.Close(f)
	e.lostBeforeTakeover(f)
	return true
}

// handedOn reports whether in, which f's analyzer read until now, was
// handed to another analyzer (StartWebSocket) rather than stopped or
// replaced, and clears the mark.
func (e *Engine) handedOn(f *Flow, in *inspection) bool {
	if f.inspection() != in || !in.handedOn {
		return false
	}
	in.handedOn = false
	return true
}

// webSocketAnalyzer reads a flow's WebSocket frames, both directions,
// and feeds their payload to the subprotocol's analyzer.
type webSocketAnalyzer struct {
	inner  Analyzer
	frames [2]websocket.Reader
	lost   [2]bool // a gap broke the direction's framing
}

// Feed implements Analyzer: it consumes all of data.
func (w *webSocketAnalyzer) Feed(f *Flow, dir Dir, data []byte) int {
	r := &w.frames[dir]
	scratch := f.engine.wsPayload[:]
	for rest := data; len(rest) > 0 && !w.lost[dir] && r.Status() == websocket.Reading; {
		c, n := r.Read(rest, scratch)
		rest = rest[c:]
		if n == 0 {
			continue
		}
		w.inner.Feed(f, dir, scratch[:n])
		clear(scratch[:n]) // it may hold a password
		if w.inner == nil {
			return len(data) // the inner analyzer stopped inspection
		}
	}
	switch r.Status() {
	case websocket.Compressed:
		f.engine.Stats.WebSocketCompressed++
		f.StopInspection()
	case websocket.Malformed:
		w.inner.Gap(f, dir) // the rest of the direction is not read
		w.stopIfDone(f)
	case websocket.Closed:
		w.stopIfDone(f)
	}
	return len(data)
}

// stopIfDone stops inspection once neither direction is read any more.
func (w *webSocketAnalyzer) stopIfDone(f *Flow) {
	for dir := range w.frames {
		if !w.lost[dir] && w.frames[dir].Status() == websocket.Reading {
			return
		}
	}
	f.StopInspection()
}

// Gap implements Analyzer: with bytes missing, the direction's frame
// boundaries are lost for good.
func (w *webSocketAnalyzer) Gap(f *Flow, dir Dir) {
	w.lost[dir] = true
	w.inner.Gap(f, dir)
}

// Close implements Analyzer.
func (w *webSocketAnalyzer) Close(f *Flow) {
	inner := w.inner
	f.engine.webSockets.Put(w)
	inner.Close(f)
}
