package event

import (
	"encoding/json"
	"io"
)

// Writer writes events as JSON lines, the format docs/events.md defines.
// The first write error is kept and returned by Err; later events are
// dropped.
type Writer struct {
	enc          *json.Encoder
	observations bool
	err          error
}

// NewWriter writes to w; with observations false only findings are
// written.
func NewWriter(w io.Writer, observations bool) *Writer {
	return &Writer{enc: json.NewEncoder(w), observations: observations}
}

// Emit writes ev as one line.
func (w *Writer) Emit(ev *Event) {
	if w.err != nil || (!w.observations && !ev.IsFinding()) {
		return
	}
	w.err = w.enc.Encode(ev)
}

// Err is the first write error, if any.
func (w *Writer) Err() error { return w.err }
