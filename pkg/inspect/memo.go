package inspect

import "github.com/iotgw/iotgw/pkg/event"

// maxMemoEvents bounds an eventMemo.
const maxMemoEvents = 1024

// eventMemo keeps the events built from some content, by that content:
// a device repeats its login or its greeting on every connection, and
// building the evidence map and summary again costs more than filing the
// event. Keys hold only what an event may show (redacted, hashed or
// scrubbed), never a secret. Emptied when full: an entry is cheap to
// build again.
type eventMemo[K comparable] map[K]*event.Event

// copyOf returns a copy of the event built for k, building it with build
// the first time. Copies share the evidence map and summary, as every
// consumer of an event does; the memo's own event never leaves it, so
// what the engine adds to a copy (time, flow, device) is not the next
// one's.
func (m eventMemo[K]) copyOf(k K, build func() *event.Event) *event.Event {
	t, ok := m[k]
	if !ok {
		t = build()
		if len(m) >= maxMemoEvents {
			clear(m)
		}
		m[k] = t
	}
	ev := *t
	return &ev
}
