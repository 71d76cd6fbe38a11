package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
)

// memOutbox is an in-memory Outbox that records what happened to it.
type memOutbox struct {
	mu          sync.Mutex
	next        uint64
	items       []store.OutboxItem
	urgent      []bool // per item enqueued, whether it was asked to reach flash at once
	acks        []uint64
	reschedules int
}

func (o *memOutbox) Enqueue(p json.RawMessage, urgent bool) (store.OutboxItem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	it := store.OutboxItem{ID: o.next, Payload: slices.Clone(p)}
	o.items = append(o.items, it)
	o.urgent = append(o.urgent, urgent)
	return it, nil
}

func (o *memOutbox) Pending(int) []store.OutboxItem {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.items)
}

func (o *memOutbox) Ack(id uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, it := range o.items {
		if it.ID == id {
			o.items = slices.Delete(o.items, i, i+1)
			o.acks = append(o.acks, id)
			return nil
		}
	}
	return store.ErrNotFound
}

func (o *memOutbox) Reschedule(id uint64, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.items {
		if o.items[i].ID == id {
			o.items[i].Attempts++
			o.items[i].NextAttempt = next
			o.reschedules++
			return nil
		}
	}
	return store.ErrNotFound
}

func (o *memOutbox) SetNextAttempt(id uint64, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.items {
		if o.items[i].ID == id {
			o.items[i].NextAttempt = next
			return nil
		}
	}
	return store.ErrNotFound
}

func (o *memOutbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}

// recorder is a Sender that records alerts and fails on demand.
type recorder struct {
	mu   sync.Mutex
	got  []Alert
	fail func(a Alert) error
}

func (r *recorder) Send(_ context.Context, a Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(a); err != nil {
			return err
		}
	}
	r.got = append(r.got, a)
	return nil
}

func (r *recorder) titles() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.got {
		out = append(out, a.Title)
	}
	return out
}

// harness is a Dispatcher over a memOutbox with recorders for senders.
type harness struct {
	t      *testing.T
	clock  *testclock.Clock
	outbox *memOutbox
	d      *Dispatcher
	rec    map[string]*recorder
}

var berlin = mustLoc("Europe/Berlin")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func newHarness(t *testing.T, cfg Config, outbox *memOutbox) *harness {
	t.Helper()
	if outbox == nil {
		outbox = &memOutbox{}
	}
	h := &harness{t: t, clock: testclock.New(time.Date(2026, 3, 4, 12, 0, 0, 0, berlin)), outbox: outbox, rec: map[string]*recorder{}}
	d, err := New(cfg, Options{Outbox: outbox, Now: h.clock.Now, Location: berlin})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range d.channels {
		r := &recorder{}
		ch.sender = r
		h.rec[ch.Name] = r
	}
	h.d = d
	return h
}

// drain runs every channel's steps until none is busy.
func (h *harness) drain() {
	h.t.Helper()
	for range 1000 {
		busy := false
		for _, ch := range h.d.channels {
			if _, b := h.d.step(context.Background(), ch); b {
				busy = true
			}
		}
		if !busy {
			return
		}
	}
	h.t.Fatal("dispatcher never settled")
}

func webhookChannel(name string, extra func(*ChannelConfig)) ChannelConfig {
	c := ChannelConfig{Type: TypeWebhook, Name: name, URL: "http://127.0.0.1:9/hook", Secret: "0123456789abcdef", Rate: "off"}
	if extra != nil {
		extra(&c)
	}
	return c
}

func testAlert(n int, urgent bool) Alert {
	return Alert{Kind: KindNewDevice, Severity: event.SeverityLow, Urgent: urgent,
		Title: fmt.Sprintf("alert %d", n), Body: "b", DedupKey: fmt.Sprintf("k%d", n)}
}

func TestDedupSameFindingOnce(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	ev := credEvent("yes")
	dev := Device{Name: "Hall camera"}
	a1, _ := FromEvent(ev, dev)
	later := *ev
	later.Time = later.Time.Add(time.Hour)
	later.Count = 7
	a2, _ := FromEvent(&later, Device{Name: "Hall camera", IP: "192.168.1.99"})
	changed := credEvent("no")
	a3, _ := FromEvent(changed, dev)
	if n := h.d.Notify(a1); n != 1 {
		t.Fatalf("first alert queued for %d channels, want 1", n)
	}
	if n := h.d.Notify(a2); n != 0 {
		t.Errorf("same finding seen again (new time, count and address) was queued again")
	}
	if n := h.d.Notify(a3); n != 1 {
		t.Errorf("a changed finding (login refused instead of accepted) was not queued")
	}
	// Facts that alternate (a login accepted on one connection, refused
	// on the next) alert once each, not at every change.
	for range 5 {
		if n := h.d.Notify(a1) + h.d.Notify(a3); n != 0 {
			t.Fatalf("a finding changing back to what was alerted was queued %d times", n)
		}
	}
	h.drain()
	if got := len(h.rec["hook"].got); got != 2 {
		t.Errorf("sent %d alerts, want 2", got)
	}
}

// TestMarkSeenWhateverTheName: findings marked seen at start (the daemon
// knows only the MAC then) are not alerted again once the device has its
// name, nor when the owner renames it.
func TestMarkSeenWhateverTheName(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	ev := credEvent("yes")
	seen, _ := FromEvent(ev, Device{MAC: ev.Device.MAC})
	h.d.MarkSeen(seen)
	for _, name := range []string{"ipcam-1a2b", "Hall camera"} {
		a, _ := FromEvent(ev, Device{MAC: ev.Device.MAC, Name: name})
		if a.Title == seen.Title {
			t.Fatalf("the title does not name the device: %q", a.Title)
		}
		if n := h.d.Notify(a); n != 0 {
			t.Errorf("a finding marked seen was queued again as %q", a.Title)
		}
	}
}

func TestDedupMarkSeenAndBound(t *testing.T) {
	outbox := &memOutbox{}
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	d, err := New(cfg, Options{Outbox: outbox, DedupEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	seen := testAlert(1, false)
	d.MarkSeen(seen)
	if d.Notify(seen) != 0 {
		t.Error("an alert marked seen at start was queued")
	}
	d.Notify(testAlert(2, false))
	d.Notify(testAlert(3, false)) // pushes key 1 out of a 2-entry memory
	if d.dedup.order.Len() != 2 {
		t.Errorf("dedup memory holds %d keys, cap 2", d.dedup.order.Len())
	}
	if d.Notify(seen) != 1 {
		t.Error("a forgotten key was still deduplicated")
	}
}

func TestFiltersMinSeverityAndKinds(t *testing.T) {
	cfg := Config{Channels: []ChannelConfig{
		webhookChannel("all", func(c *ChannelConfig) { c.MinSeverity = "info" }),
		webhookChannel("default", nil),
		webhookChannel("high", func(c *ChannelConfig) { c.MinSeverity = "high" }),
		webhookChannel("quarantine-only", func(c *ChannelConfig) { c.Kinds = []string{"quarantined"} }),
	}}
	h := newHarness(t, cfg, nil)
	h.d.Notify(FromNewDevice(Device{MAC: "02:00:00:00:00:01"}, h.clock.Now()))                                // low
	h.d.Notify(FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", By: store.ActorPolicy}, Device{})) // high
	h.d.Notify(FromRelease(mac(1), Device{}, h.clock.Now(), "released by you"))                               // info
	h.drain()
	want := map[string][]Kind{
		"all":             {KindNewDevice, KindQuarantined, KindReleased},
		"default":         {KindNewDevice, KindQuarantined},
		"high":            {KindQuarantined},
		"quarantine-only": {KindQuarantined},
	}
	for name, kinds := range want {
		var got []Kind
		for _, a := range h.rec[name].got {
			got = append(got, a.Kind)
		}
		if !slices.Equal(got, kinds) {
			t.Errorf("channel %s got %v, want %v", name, got, kinds)
		}
	}
}

func TestQuietHours(t *testing.T) {
	cfg := Config{Channels: []ChannelConfig{webhookChannel("phone", func(c *ChannelConfig) { c.QuietHours = "22:00-07:00" })}}
	h := newHarness(t, cfg, nil)
	h.clock.Set(time.Date(2026, 3, 4, 23, 30, 0, 0, berlin))
	h.d.Notify(testAlert(1, false))
	h.d.Notify(testAlert(2, true))
	h.d.Notify(testAlert(3, false))
	h.drain()
	if got := h.rec["phone"].titles(); !slices.Equal(got, []string{"alert 2"}) {
		t.Fatalf("during quiet hours sent %v, want only the urgent alert 2", got)
	}
	next, _ := h.d.step(context.Background(), h.d.channels[0])
	if want := time.Date(2026, 3, 5, 7, 0, 0, 0, berlin); !next.Equal(want) {
		t.Errorf("held alerts wake at %v, want the end of quiet hours %v", next, want)
	}
	h.clock.Set(time.Date(2026, 3, 5, 6, 59, 0, 0, berlin))
	h.drain()
	if len(h.rec["phone"].got) != 1 {
		t.Fatalf("sent before quiet hours ended: %v", h.rec["phone"].titles())
	}
	h.clock.Set(time.Date(2026, 3, 5, 7, 0, 0, 0, berlin))
	h.drain()
	if got := h.rec["phone"].titles(); !slices.Equal(got, []string{"alert 2", "alert 1", "alert 3"}) {
		t.Errorf("after quiet hours sent %v, want the held alerts in order after the urgent one", got)
	}
}

func TestQuietHoursWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window string
		at     time.Time
		active bool
		end    time.Time
	}{
		{"overnight_evening", "22:00-07:00", time.Date(2026, 1, 1, 22, 0, 0, 0, berlin), true, time.Date(2026, 1, 2, 7, 0, 0, 0, berlin)},
		{"overnight_morning", "22:00-07:00", time.Date(2026, 1, 2, 6, 59, 59, 0, berlin), true, time.Date(2026, 1, 2, 7, 0, 0, 0, berlin)},
		{"overnight_day", "22:00-07:00", time.Date(2026, 1, 2, 7, 0, 0, 0, berlin), false, time.Date(2026, 1, 3, 7, 0, 0, 0, berlin)},
		{"daytime_window", "09:00-17:30", time.Date(2026, 1, 2, 17, 29, 0, 0, berlin), true, time.Date(2026, 1, 2, 17, 30, 0, 0, berlin)},
		{"daytime_outside", "09:00-17:30", time.Date(2026, 1, 2, 8, 0, 0, 0, berlin), false, time.Date(2026, 1, 2, 17, 30, 0, 0, berlin)},
		// Clocks go forward at 02:00 on 29 March 2026 in Berlin: 7:00 is
		// still 7:00 local, 8 hours (not 9) after 23:00.
		{"dst_spring_forward", "22:00-07:00", time.Date(2026, 3, 28, 23, 0, 0, 0, berlin), true, time.Date(2026, 3, 29, 7, 0, 0, 0, berlin)},
		{"utc_instant_read_locally", "22:00-07:00", time.Date(2026, 1, 1, 21, 30, 0, 0, time.UTC), true, time.Date(2026, 1, 2, 7, 0, 0, 0, berlin)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseQuietHours(tc.window, berlin)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.active(tc.at); got != tc.active {
				t.Errorf("active(%v) = %v, want %v", tc.at, got, tc.active)
			}
			if got := q.endAfter(tc.at); !got.Equal(tc.end) {
				t.Errorf("endAfter(%v) = %v, want %v", tc.at, got, tc.end)
			}
		})
	}
}

func TestRateLimitCoalescesIntoDigest(t *testing.T) {
	cfg := Config{BaseURL: "http://192.168.1.1", Channels: []ChannelConfig{
		webhookChannel("phone", func(c *ChannelConfig) { c.Rate = "6/min"; c.Burst = 3 }),
	}}
	h := newHarness(t, cfg, nil)
	for i := 1; i <= 10; i++ {
		h.d.Notify(testAlert(i, false))
	}
	h.drain()
	got := h.rec["phone"].got
	// Burst 3: two alone, then the third token carries the rest as one
	// digest, so nothing waits and nothing is dropped.
	if len(got) != 3 || got[0].Title != "alert 1" || got[1].Title != "alert 2" || got[2].Kind != KindDigest {
		t.Fatalf("sent %v, want alert 1, alert 2 and a digest", h.rec["phone"].titles())
	}
	dg := got[2]
	if len(dg.Parts) != 8 || dg.Parts[0].Title != "alert 3" || dg.Parts[7].Title != "alert 10" {
		t.Errorf("digest carries %d parts, want alerts 3 to 10 in order", len(dg.Parts))
	}
	if !strings.Contains(dg.Body, "- alert 3\n") || dg.URL != "http://192.168.1.1/" {
		t.Errorf("digest body %q, url %q", dg.Body, dg.URL)
	}
	if h.outbox.len() != 0 {
		t.Errorf("%d items left in the outbox after the digest", h.outbox.len())
	}
	// The bucket is empty now: the next alert waits for a token (10 s at
	// 6/min), then goes alone.
	h.d.Notify(testAlert(11, false))
	h.drain()
	if len(h.rec["phone"].got) != 3 {
		t.Fatal("an alert beyond the rate went out at once")
	}
	next, _ := h.d.step(context.Background(), h.d.channels[0])
	if want := h.clock.Now().Add(10 * time.Second); !next.Equal(want) {
		t.Errorf("next token at %v, want %v", next, want)
	}
	h.clock.Advance(10 * time.Second)
	h.drain()
	if got := h.rec["phone"].titles(); len(got) != 4 || got[3] != "alert 11" {
		t.Errorf("after a token refilled sent %v", got)
	}
}

func TestRetryBackoffAndOrder(t *testing.T) {
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil), webhookChannel("other", nil)}}
	h := newHarness(t, cfg, nil)
	down := true
	h.rec["hook"].fail = func(Alert) error {
		if down {
			return errors.New("connection refused")
		}
		return nil
	}
	h.d.Notify(testAlert(1, false))
	h.d.Notify(testAlert(2, true))
	h.drain()
	if len(h.rec["other"].got) != 2 {
		t.Errorf("a failing channel held up another: other got %v", h.rec["other"].titles())
	}
	// Back-off doubles from 30 s: 30, 60, 120 … and only the head of the
	// queue is tried, so alert 2 never overtakes alert 1.
	var waits []time.Duration
	for range 4 {
		next, _ := h.d.step(context.Background(), h.d.channels[0])
		waits = append(waits, next.Sub(h.clock.Now()))
		h.clock.Set(next)
		h.d.step(context.Background(), h.d.channels[0])
	}
	if want := []time.Duration{30 * time.Second, 60 * time.Second, 120 * time.Second, 240 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	st := h.d.Status()[0]
	if st.Pending != 2 || st.Failed != 5 || st.LastError != "connection refused" {
		t.Errorf("status %+v", st)
	}
	down = false
	next, _ := h.d.step(context.Background(), h.d.channels[0])
	h.clock.Set(next)
	h.drain()
	if got := h.rec["hook"].titles(); !slices.Equal(got, []string{"alert 1", "alert 2"}) {
		t.Errorf("after recovery sent %v, want alert 1 then alert 2", got)
	}
	if h.outbox.len() != 0 {
		t.Errorf("outbox still holds %d items", h.outbox.len())
	}
}

func TestBackoffCapAndRetryAfter(t *testing.T) {
	d := &Dispatcher{opts: Options{MinBackoff: 30 * time.Second, MaxBackoff: time.Hour}}
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {8, time.Hour}, {60, time.Hour}, {1 << 30, time.Hour}} {
		if got := d.backoff(tc.attempts); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
	// The service's Retry-After is honoured when longer than the back-off;
	// a day asked for holds an ordinary alert that long, an urgent one at
	// most MaxBackoff.
	for _, tc := range []struct {
		retryAfter time.Duration
		urgent     bool
		want       time.Duration
	}{
		{10 * time.Minute, false, 10 * time.Minute},
		{24 * time.Hour, false, 24 * time.Hour},
		{24 * time.Hour, true, time.Hour},
	} {
		h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
		calls := 0
		h.rec["hook"].fail = func(Alert) error {
			calls++
			if calls == 1 {
				return &SendError{Err: errors.New("HTTP 429"), RetryAfter: tc.retryAfter}
			}
			return nil
		}
		h.d.Notify(testAlert(1, tc.urgent))
		h.drain()
		next, _ := h.d.step(context.Background(), h.d.channels[0])
		if got := next.Sub(h.clock.Now()); got != tc.want {
			t.Errorf("Retry-After %v, urgent %v: the retry is in %v, want %v", tc.retryAfter, tc.urgent, got, tc.want)
		}
	}
}

func TestPermanentErrorDrops(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	h.rec["hook"].fail = func(a Alert) error {
		if a.Title == "alert 1" {
			return permanent(errors.New("HTTP 400 Bad Request"))
		}
		return nil
	}
	h.d.Notify(testAlert(1, false))
	h.d.Notify(testAlert(2, false))
	h.drain()
	if got := h.rec["hook"].titles(); !slices.Equal(got, []string{"alert 2"}) {
		t.Errorf("sent %v, want alert 2 only", got)
	}
	st := h.d.Status()[0]
	if st.Dropped != 1 || st.Pending != 0 || h.outbox.len() != 0 || h.outbox.reschedules != 0 {
		t.Errorf("status %+v, outbox %d, reschedules %d", st, h.outbox.len(), h.outbox.reschedules)
	}
}

func TestChannelShareDropsOldest(t *testing.T) {
	outbox := &memOutbox{}
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	d, err := New(cfg, Options{Outbox: outbox, MaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 15; i++ {
		d.Notify(testAlert(i, false))
	}
	st := d.Status()[0]
	if st.Pending != 10 || st.Dropped != 5 || outbox.len() != 10 {
		t.Fatalf("pending %d dropped %d outbox %d, want 10, 5, 10", st.Pending, st.Dropped, outbox.len())
	}
	if first := d.channels[0].queue[0].alert.Title; first != "alert 6" {
		t.Errorf("oldest kept is %q, want alert 6", first)
	}
}

// A full queue drops its oldest ordinary alert before an urgent one: a
// quarantine alert queued during an outage outlives the chatter after it.
func TestChannelShareKeepsUrgent(t *testing.T) {
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	d, err := New(cfg, Options{Outbox: &memOutbox{}, MaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(testAlert(1, true))
	for i := 2; i <= 15; i++ {
		d.Notify(testAlert(i, false))
	}
	q := d.channels[0].queue
	if len(q) != 10 || q[0].alert.Title != "alert 1" || q[1].alert.Title != "alert 7" {
		t.Errorf("kept %d alerts from %q, %q; want 10: the urgent alert 1, then alert 7 on", len(q), q[0].alert.Title, q[1].alert.Title)
	}
}

// An urgent alert queued behind one that a service's Retry-After holds
// for a day waits at most MaxBackoff: the wait ahead of it is shortened,
// and the order kept.
func TestUrgentAlertShortensTheWaitAhead(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	calls := 0
	h.rec["hook"].fail = func(Alert) error {
		calls++
		if calls == 1 {
			return &SendError{Err: errors.New("HTTP 429"), RetryAfter: 24 * time.Hour}
		}
		return nil
	}
	h.d.Notify(testAlert(1, false))
	h.drain()
	h.d.Notify(testAlert(2, true))
	next, _ := h.d.step(context.Background(), h.d.channels[0])
	if wait := next.Sub(h.clock.Now()); wait > h.d.opts.MaxBackoff {
		t.Fatalf("the urgent alert waits %v, want at most %v", wait, h.d.opts.MaxBackoff)
	}
	h.clock.Set(next)
	h.drain()
	if got := h.rec["hook"].titles(); !slices.Equal(got, []string{"alert 1", "alert 2"}) {
		t.Errorf("sent %v, want alert 1 then alert 2", got)
	}
}

func TestRestoreFromOutbox(t *testing.T) {
	outbox := &memOutbox{}
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	h1 := newHarness(t, cfg, outbox)
	h1.rec["hook"].fail = func(Alert) error { return errors.New("down") }
	h1.d.Notify(testAlert(1, false))
	h1.d.Notify(testAlert(2, false))
	h1.drain()
	// A payload for a channel removed from the configuration, and garbage.
	_, _ = outbox.Enqueue(json.RawMessage(`{"v":1,"channel":"gone","alert":{"title":"x"}}`), false)
	_, _ = outbox.Enqueue(json.RawMessage(`[1,2]`), false)

	h2 := newHarness(t, cfg, outbox)
	if got := h2.d.Status()[0].Pending; got != 2 {
		t.Fatalf("restored %d alerts, want 2", got)
	}
	if outbox.len() != 2 {
		t.Errorf("outbox holds %d items, want the 2 for configured channels", outbox.len())
	}
	// Alert 1 was tried once; its retry time comes back with it.
	h2.clock.Set(h1.clock.Now().Add(time.Hour))
	h2.drain()
	if got := h2.rec["hook"].titles(); !slices.Equal(got, []string{"alert 1", "alert 2"}) {
		t.Errorf("after restart sent %v", got)
	}
}

// An urgent alert queued while the ordinary one ahead of it is being
// sent, and one restored after a restart behind a long wait, wait at
// most MaxBackoff too.
func TestUrgentAlertNeverWaitsADay(t *testing.T) {
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	outbox := &memOutbox{}
	h := newHarness(t, cfg, outbox)
	calls := 0
	h.rec["hook"].fail = func(Alert) error {
		calls++
		if calls == 1 {
			h.d.Notify(testAlert(2, true)) // queued during the send
			return &SendError{Err: errors.New("HTTP 429"), RetryAfter: 24 * time.Hour}
		}
		return errors.New("down")
	}
	h.d.Notify(testAlert(1, false))
	h.drain()
	next, _ := h.d.step(context.Background(), h.d.channels[0])
	if wait := next.Sub(h.clock.Now()); wait > h.d.opts.MaxBackoff {
		t.Errorf("queued during the send: the urgent alert waits %v, want at most %v", wait, h.d.opts.MaxBackoff)
	}

	// After a restart, from a wait of a day saved in the outbox.
	for _, it := range outbox.Pending(0) {
		if err := outbox.Reschedule(it.ID, h.clock.Now().Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	h2 := newHarness(t, cfg, outbox)
	h2.clock.Set(h.clock.Now())
	next, _ = h2.d.step(context.Background(), h2.d.channels[0])
	if wait := next.Sub(h2.clock.Now()); wait > h2.d.opts.MaxBackoff {
		t.Errorf("after a restart: the urgent alert waits %v, want at most %v", wait, h2.d.opts.MaxBackoff)
	}
}

// An urgent alert queued behind one a service asked to wait a day cuts
// that wait, in memory and in the outbox, without counting a delivery:
// the backoff after a restart follows the failures there were.
func TestHurryCountsNoDelivery(t *testing.T) {
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	outbox := &memOutbox{}
	h := newHarness(t, cfg, outbox)
	h.rec["hook"].fail = func(Alert) error {
		return &SendError{Err: errors.New("HTTP 429"), RetryAfter: 24 * time.Hour}
	}
	h.d.Notify(testAlert(1, false))
	h.drain()
	h.d.Notify(testAlert(2, true))
	it := outbox.Pending(0)[0]
	if it.Attempts != 1 {
		t.Errorf("the outbox counts %d failed deliveries, there was 1", it.Attempts)
	}
	if limit := h.clock.Now().Add(h.d.opts.MaxBackoff); it.NextAttempt.After(limit) {
		t.Errorf("next attempt %v in the outbox, want at most %v", it.NextAttempt, limit)
	}
}

func TestSendTestAndUnknownChannel(t *testing.T) {
	h := newHarness(t, Config{BaseURL: "http://192.168.1.1:8080/", Channels: []ChannelConfig{
		webhookChannel("hook", func(c *ChannelConfig) { c.QuietHours = "00:00-23:59" })}}, nil)
	if err := h.d.SendTest(context.Background(), "hook"); err != nil {
		t.Fatal(err)
	}
	got := h.rec["hook"].got
	if len(got) != 1 || got[0].Kind != KindTest || got[0].URL != "http://192.168.1.1:8080/" || got[0].ID == "" {
		t.Errorf("test alert %+v", got)
	}
	if err := h.d.SendTest(context.Background(), "nope"); !errors.Is(err, ErrUnknownChannel) {
		t.Errorf("unknown channel: %v", err)
	}
	h.rec["hook"].fail = func(Alert) error { return errors.New("dial tcp: connection refused") }
	if err := h.d.SendTest(context.Background(), "hook"); err == nil || h.d.Status()[0].LastError == "" {
		t.Errorf("a failed test alert reported %v, status %+v", err, h.d.Status()[0])
	}
}

func TestLinks(t *testing.T) {
	h := newHarness(t, Config{BaseURL: "https://router.lan:8443", Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	h.d.Notify(FromNewDevice(Device{MAC: "c0:56:e3:1a:2b:3c"}, h.clock.Now()))
	h.d.Notify(FromProblem(AreaCapture, "read: network is down", h.clock.Now()))
	h.drain()
	got := h.rec["hook"].got
	if got[0].URL != "https://router.lan:8443/devices/c0:56:e3:1a:2b:3c" || got[1].URL != "https://router.lan:8443/" {
		t.Errorf("links %q, %q", got[0].URL, got[1].URL)
	}
}

func TestRunDeliversAndStops(t *testing.T) {
	outbox := &memOutbox{}
	d, err := New(Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, Options{Outbox: outbox})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Alert, 4)
	d.channels[0].sender = senderFunc(func(_ context.Context, a Alert) error { got <- a; return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	d.Notify(testAlert(1, false))
	if a := <-got; a.Title != "alert 1" {
		t.Errorf("delivered %q", a.Title)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Run returns after the worker settled the attempt it was making.
	if outbox.len() != 0 {
		t.Error("the delivered alert was never acknowledged")
	}
}

type senderFunc func(context.Context, Alert) error

func (f senderFunc) Send(ctx context.Context, a Alert) error { return f(ctx, a) }

// limitedOutbox refuses payloads over the store's limit, as the store
// does, and every payload while broken is set.
type limitedOutbox struct {
	memOutbox
	broken bool
}

func (o *limitedOutbox) Enqueue(p json.RawMessage, urgent bool) (store.OutboxItem, error) {
	if o.broken || len(p) > store.MaxPayload {
		return store.OutboxItem{}, fmt.Errorf("%w: payload of %d bytes", store.ErrInvalid, len(p))
	}
	return o.memOutbox.Enqueue(p, urgent)
}

// TestAlertFitsTheOutbox: a device cannot make an alert about itself
// vanish by filling its strings with characters JSON escapes: the alert
// is queued within the outbox's limit. And an alert queued nowhere is
// not remembered as sent.
func TestAlertFitsTheOutbox(t *testing.T) {
	out := &limitedOutbox{}
	d, err := New(Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, Options{Outbox: out})
	if err != nil {
		t.Fatal(err)
	}
	ev := credEvent("yes")
	hostile := strings.Repeat("<&>", 400)
	a, _ := FromEvent(ev, Device{MAC: ev.Device.MAC, Name: hostile, Vendor: hostile, Model: hostile})
	a.Reason = hostile
	a.Body = hostile + hostile
	for k := range a.Facts {
		a.Facts[k] = hostile
	}
	out.broken = true
	if n := d.Notify(a); n != 0 {
		t.Fatalf("queued %d times into a broken outbox", n)
	}
	out.broken = false
	if n := d.Notify(a); n != 1 {
		t.Fatalf("queued %d times, want 1 (after a failure the alert is not taken as sent)", n)
	}
	items := out.Pending(10)
	if len(items) != 1 || len(items[0].Payload) > store.MaxPayload {
		t.Fatalf("outbox %d items", len(items))
	}
	var env envelope
	if err := json.Unmarshal(items[0].Payload, &env); err != nil || env.Alert.Kind != KindDefaultCredentials {
		t.Errorf("payload does not decode: %v %+v", err, env.Alert.Kind)
	}
}

// TestDedupPersonalDataPerKind: a device that sends the owner's e-mail
// address in clear on every poll, in the URL of one request and the body
// of the next, to one relay of its cloud after another, alerts once; the
// same address coming the other way is news.
func TestDedupPersonalDataPerKind(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	pii := func(where, dest, direction string) Alert {
		a, ok := FromEvent(&event.Event{Type: event.TypeFinding, Kind: event.KindPersonalData, Severity: event.SeverityMedium,
			Device:   event.Endpoint{MAC: "c0:56:e3:00:00:03", IP: "192.168.1.30"},
			Evidence: event.Evidence{"data_kind": "email", "sample": "al***", "where": where, "direction": direction, "destination": dest}}, Device{Name: "Scale"})
		if !ok {
			t.Fatal("no alert")
		}
		return a
	}
	queued := 0
	for i := range 10 {
		where := []string{"url", "body"}[i%2]
		queued += h.d.Notify(pii(where, fmt.Sprintf("203.0.113.%d:443", i), "lan_to_wan"))
	}
	if queued != 1 {
		t.Errorf("%d alerts queued for one kind of data sent again and again, want 1", queued)
	}
	if n := h.d.Notify(pii("response_body", "192.168.1.30", "wan_to_lan")); n != 1 {
		t.Errorf("the same data coming from the internet was queued %d times, want 1", n)
	}
}

func TestDedupMemory(t *testing.T) {
	l := newLRU(2)
	l.add("a", 1)
	l.add("a", 2)
	if !l.has("a", 1, true) || !l.has("a", 2, true) || l.has("a", 3, true) || l.has("b", 1, true) {
		t.Fatal("a key does not hold the hashes added")
	}
	if l.has("a", 1, false) || !l.has("a", 2, false) {
		t.Fatal("a state's key is not held at its latest hash alone")
	}
	for h := uint64(3); h <= hashesPerKey+2; h++ {
		l.add("a", h)
	}
	if l.has("a", 1, true) || l.has("a", 2, true) || !l.has("a", hashesPerKey+2, true) {
		t.Errorf("a key holds more than its %d latest hashes", hashesPerKey)
	}
	l.drop("a", hashesPerKey+1) // not the latest: stays
	l.drop("a", hashesPerKey+2)
	if !l.has("a", hashesPerKey+1, true) || l.has("a", hashesPerKey+2, true) {
		t.Error("drop took back another hash than the latest")
	}
	l.add("b", 9)
	l.drop("b", 9)
	if _, ok := l.index["b"]; ok {
		t.Error("a key whose only hash was dropped is still held")
	}
	l.add("b", 9)
	l.add("c", 9)
	if _, ok := l.index["a"]; ok || l.order.Len() != 2 {
		t.Errorf("memory of %d keys, want the 2 most recent", l.order.Len())
	}
}

// TestDedupStateComesBack: a state that comes back is news, unlike a
// finding's facts coming back: quarantined, released, quarantined again
// alert three times, and so do a problem, its end and the problem again.
func TestDedupStateComesBack(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", func(c *ChannelConfig) { c.MinSeverity = "info" })}}, nil)
	cam := hwaddr.MAC{0xc0, 0x56, 0xe3, 0, 0, 1}
	dev := Device{Name: "Hall camera"}
	q := store.Quarantine{MAC: cam, Mode: "block", Since: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), By: store.ActorPolicy, Reason: "default password"}
	at := q.Since
	for i, a := range []Alert{
		FromQuarantine(q, dev),
		FromRelease(cam, dev, at.Add(time.Hour), "released by you"),
		FromQuarantine(q, dev),
		FromProblem(AreaCapture, "ring overrun", at),
		FromProblemResolved(AreaCapture, at.Add(time.Minute)),
		FromProblem(AreaCapture, "ring overrun", at.Add(time.Hour)),
	} {
		if n := h.d.Notify(a); n != 1 {
			t.Errorf("alert %d (%s %q) queued %d times, want once", i, a.Kind, a.Title, n)
		}
	}
}

// TestClockSetBack: a router that booted with its clock a month ahead,
// then NTP set it right: the rate limit refills, and retries planned on
// the wrong time are not held until the real time catches up.
func TestClockSetBack(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("phone", func(c *ChannelConfig) { c.Rate = "6/min"; c.Burst = 1 })}}, nil)
	right := h.clock.Now()
	h.clock.Set(right.Add(30 * 24 * time.Hour))
	failing := true
	h.rec["phone"].fail = func(Alert) error {
		if failing {
			return errors.New("network unreachable")
		}
		return nil
	}
	h.d.Notify(testAlert(1, false)) // takes the one token, fails, waits for a retry
	h.drain()
	h.clock.Set(right)
	failing = false
	h.d.Notify(testAlert(2, true))
	for range 12 {
		h.drain()
		h.clock.Advance(10 * time.Second)
	}
	h.drain()
	sent := 0
	for _, a := range h.rec["phone"].got {
		sent += max(1, len(a.Parts))
	}
	if sent != 2 {
		t.Errorf("%d alerts sent two minutes after the clock was set back, want both", sent)
	}
}

// TestDigestUrgentFirst: a digest lists its urgent and severe parts first,
// so that a service that cuts long messages cuts the new devices, not the
// quarantine.
func TestDigestUrgentFirst(t *testing.T) {
	var parts []Alert
	for i := range 19 {
		parts = append(parts, Alert{Kind: KindNewDevice, Severity: event.SeverityInfo, Title: fmt.Sprintf("New device: plug %d", i)})
	}
	parts = append(parts,
		Alert{Kind: KindPersonalData, Severity: event.SeverityMedium, Title: "Personal data sent in clear by Scale"},
		Alert{Kind: KindQuarantined, Severity: event.SeverityHigh, Urgent: true, Title: "Hall camera quarantined"})
	d := digest(parts)
	lines := strings.Split(d.Body, "\n")
	if lines[0] != "- Hall camera quarantined" || lines[1] != "- Personal data sent in clear by Scale" || lines[2] != "- New device: plug 0" {
		t.Errorf("digest begins %q", lines[:3])
	}
	if d.Parts[len(d.Parts)-1].Title != "Hall camera quarantined" || !d.Urgent || d.Severity != event.SeverityHigh {
		t.Errorf("digest parts reordered, or urgency and severity lost: %+v", d)
	}
}

// TestDigestRefusedPartsAlone: a digest the service refuses for good is
// not the end of its alerts: each is sent on its own, and only one the
// service refuses alone is dropped.
func TestDigestRefusedPartsAlone(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("phone", func(c *ChannelConfig) { c.Rate = "1/min"; c.Burst = 1 })}}, nil)
	h.rec["phone"].fail = func(a Alert) error {
		if a.Kind == KindDigest || a.Title == "alert 2" {
			return &SendError{Err: errors.New("HTTP 400 Bad Request"), Permanent: true}
		}
		return nil
	}
	h.d.Notify(testAlert(0, false)) // takes the token
	h.drain()
	for i := 1; i <= 3; i++ {
		h.d.Notify(testAlert(i, i == 3))
	}
	for range 10 {
		h.clock.Advance(time.Minute)
		h.drain()
	}
	var titles []string
	for _, a := range h.rec["phone"].got {
		titles = append(titles, a.Title)
	}
	if want := []string{"alert 0", "alert 1", "alert 3"}; !slices.Equal(titles, want) {
		t.Errorf("sent %q, want %q", titles, want)
	}
	if st := h.d.channel("phone").status; st.Dropped != 1 {
		t.Errorf("%d alerts dropped, want the one refused on its own", st.Dropped)
	}
}

// TestUrgentAlertReachesFlashAtOnce: the outbox is asked to write an
// urgent alert at once, a routine one with its next routine write.
func TestUrgentAlertReachesFlashAtOnce(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	h.d.Notify(testAlert(1, false))
	h.d.Notify(testAlert(2, true))
	if !slices.Equal(h.outbox.urgent, []bool{false, true}) {
		t.Errorf("outbox asked for writes at once %v, want [false true]", h.outbox.urgent)
	}
}

// TestFullQueueKeepsUrgentAcrossARestart: a channel whose service is
// down fills its share of the store's outbox; each alert after that makes
// room by dropping the channel's oldest ordinary alert, before it is
// queued, so that the store, full, never drops its own oldest, which is
// the quarantine alert the channel keeps. After a restart the urgent
// alert is still there, and the store held every alert the channel did.
func TestFullQueueKeepsUrgentAcrossARestart(t *testing.T) {
	const maxPending = 16
	path := t.TempDir() + "/state.json"
	st := store.Open(store.Options{Path: path, MaxOutbox: maxPending})
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	d, err := New(cfg, Options{Outbox: st, MaxPending: maxPending})
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(testAlert(0, true))
	for i := 1; i < 3*maxPending; i++ {
		d.Notify(testAlert(i, false))
	}
	if p := status(d, "hook").Pending; len(st.Pending(0)) != p {
		t.Errorf("the store holds %d alerts, the channel %d", len(st.Pending(0)), p)
	}
	if n := st.Stats().OutboxDropped; n != 0 {
		t.Errorf("the store dropped %d alerts itself", n)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}

	d2, err := New(cfg, Options{Outbox: store.Open(store.Options{Path: path, MaxOutbox: maxPending}), MaxPending: maxPending})
	if err != nil {
		t.Fatal(err)
	}
	q := d2.channels[0].queue
	if len(q) != maxPending || q[0].alert.Title != "alert 0" || q[1].alert.Title != fmt.Sprintf("alert %d", 2*maxPending+1) {
		var titles []string
		for _, it := range q {
			titles = append(titles, it.alert.Title)
		}
		t.Errorf("after a restart the channel holds %q; want %d: the urgent alert 0, then the newest", titles, maxPending)
	}
}

// TestFullQueueLogsAFewLines: a flood of alerts into a channel that
// cannot deliver (a device announcing a new MAC address every moment,
// the service down) drops the oldest, counted on the page, and logs
// the first drops and then every power of two, as the retries do: a few
// lines, not one per alert, which would push everything else out of a
// router's small log.
func TestFullQueueLogsAFewLines(t *testing.T) {
	var logs bytes.Buffer
	cfg := Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}
	d, err := New(cfg, Options{Outbox: &memOutbox{}, MaxPending: 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const flood = 10 + 1000
	for i := range flood {
		d.Notify(testAlert(i, false))
	}
	if st := status(d, "hook"); st.Dropped != 1000 {
		t.Errorf("dropped %d, want 1000", st.Dropped)
	}
	lines := strings.Count(logs.String(), "alert queue of a channel is full")
	if lines < 1 || lines > 11 {
		t.Errorf("%d log lines for 1000 alerts dropped, want 1 to 11 (1, 2, 4 … 512 and the count):\n%s", lines, clip(logs.String(), 400))
	}
	if !strings.Contains(logs.String(), "dropped=512") {
		t.Errorf("the log does not count the drops:\n%s", clip(logs.String(), 400))
	}
}

// TestProblemAlertsRideWithRoutineWrites: a daemon problem is urgent for
// the phone, but the daemon finds it again after a restart, so its alert
// waits for the next routine write instead of costing one of its own: a
// problem that comes and goes (packets lost every other minute on a busy
// evening) would otherwise rewrite the whole state on flash at every
// turn. The alert that the saved state was lost tells of something a
// restart does not find again, and is written at once.
func TestProblemAlertsRideWithRoutineWrites(t *testing.T) {
	h := newHarness(t, Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, nil)
	now := h.clock.Now()
	for i := range 3 {
		h.d.Notify(FromProblem(AreaCaptureLoss, fmt.Sprintf("%d packets lost in the last minute", 100+i), now))
		h.d.Notify(FromProblemResolved(AreaCaptureLoss, now))
	}
	h.d.Notify(FromProblem(AreaStateLost, "the state file was damaged", now))
	h.d.Notify(FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: now, By: store.ActorPolicy}, Device{}))
	want := []bool{false, false, false, false, false, false, true, true}
	if !slices.Equal(h.outbox.urgent, want) {
		t.Errorf("outbox asked for writes at once %v, want %v", h.outbox.urgent, want)
	}
}
