package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeClock hands out a time that moves only by Advance, and an
// unbuffered tick channel: a send on it returns only once Run has taken
// the tick. Its timers fire when Advance reaches their end.
type fakeClock struct {
	mu       sync.Mutex
	now      time.Time
	tick     chan time.Time
	interval time.Duration
	timers   []*fakeTimer
	waits    []time.Duration // every timer asked for, in order
}

type fakeTimer struct {
	end time.Time
	c   chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0, tick: make(chan time.Time)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the time on by d and fires the timers that end by then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.end.After(c.now) {
			return false
		}
		t.c <- c.now
		return true
	})
}

func (c *fakeClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.interval = d
	return c.tick, func() {}
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{end: c.now.Add(d), c: make(chan time.Time, 1)}
	c.waits = append(c.waits, d)
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	return t.c, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timers = slices.DeleteFunc(c.timers, func(o *fakeTimer) bool { return o == t })
	}
}

// pending is how many timers wait to fire.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// timerWaits returns the durations of every timer asked for.
func (c *fakeClock) timerWaits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t     *testing.T
	path  string
	clock *fakeClock
	logs  *logBuffer
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, path: filepath.Join(t.TempDir(), "iotgw", "state.json"), clock: newFakeClock(), logs: &logBuffer{}}
}

func (h *harness) options() Options {
	return Options{
		Path:   h.path,
		Clock:  h.clock,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (h *harness) open() *Store { return Open(h.options()) }

// writeFile puts content where the store reads its state file.
func (h *harness) writeFile(content []byte) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.path, content, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// run starts s.Run and returns a func that cancels it and returns its
// result.
func (h *harness) run(s *Store) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop := func() error {
		cancel()
		return <-done
	}
	h.t.Cleanup(func() { cancel() })
	return stop
}

func (h *harness) fileDoc() map[string]any {
	h.t.Helper()
	b, err := os.ReadFile(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatalf("state file is not JSON: %v", err)
	}
	return m
}

// waitFor polls until cond holds. It has no timeout of its own: the test
// binary's deadline ends a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline, ok := t.Deadline()
	for !cond() {
		if ok && time.Until(deadline) < time.Second {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitWrites(t *testing.T, s *Store, n uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d writes", n), func() bool { return s.Stats().Writes >= n })
}

func mac(last byte) hwaddr.MAC { return hwaddr.MAC{0xc0, 0x56, 0xe3, 0, 0, last} }

func finding(kind event.Kind, at time.Time, ev event.Evidence) event.Event {
	return event.Event{
		V: event.SchemaVersion, Time: at, Type: event.TypeFinding, Kind: kind, Severity: event.SeverityHigh,
		Capability: event.CapNoDefaultPasswords, Provision: "5.1-1", Device: event.Endpoint{MAC: "c0:56:e3:00:00:01", IP: "192.168.1.10"},
		Flow:    &event.Flow{Transport: "tcp", Client: event.Endpoint{IP: "192.168.1.10", Port: 40000}, Server: event.Endpoint{IP: "203.0.113.5", Port: 21}, App: "ftp", Direction: event.LANToWAN},
		Summary: "FTP login with factory-default credentials", Evidence: ev,
	}
}

func sampleState() State {
	cam, tv := mac(1), mac(2)
	return State{
		Devices: []DeviceRecord{
			{MAC: cam, Identity: Identity{Vendor: "Hikvision", Model: "DS-2CD", Firmware: "5.4.0", Category: "camera"},
				Addrs:     []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("fe80::1")},
				FirstSeen: t0, LastSeen: t0.Add(time.Hour), LastAudit: t0.Add(30 * time.Minute),
				Findings: []event.Event{finding(event.KindDefaultCredentials, t0, event.Evidence{"protocol": "ftp", "user": "ad***", "password_class": "default"})}},
			{MAC: tv, Identity: Identity{Vendor: "Samsung", Category: "tv"}, FirstSeen: t0, LastSeen: t0},
		},
		Verdicts: []Verdict{{MAC: cam, Action: "quarantine", Enforce: true, Time: t0,
			Reasons: []Reason{{Kind: event.KindDefaultCredentials, Severity: event.SeverityHigh, Action: "quarantine", Summary: "default login"}}}},
		Quarantines: []Quarantine{{MAC: cam, Mode: "block", Since: t0, Until: t0.Add(24 * time.Hour), Reason: "default credentials", By: ActorPolicy}},
		Decisions: []Decision{{MAC: tv, Name: "Living room TV", Exempt: []event.Kind{event.KindPlaintextProtocol}, Force: "alert",
			ReleasedAt: t0, Updated: t0}},
		MutedAlertChannels: []string{"mail", "phone"},
	}
}

func fill(t *testing.T, s *Store, st State) {
	t.Helper()
	for _, d := range st.Devices {
		if err := s.PutDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range st.Verdicts {
		if err := s.PutVerdict(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range st.Quarantines {
		if err := s.PutQuarantine(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range st.Decisions {
		if err := s.PutDecision(d); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range st.MutedAlertChannels {
		if err := s.SetAlertChannelMuted(name, true); err != nil {
			t.Fatal(err)
		}
	}
}

func diffJSON(t *testing.T, got, want any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	t.Fatalf("state differs\ngot:  %s\nwant: %s", g, w)
}

func TestRoundTripSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	want := sampleState()
	fill(t, s, want)
	it, err := s.Enqueue(json.RawMessage(`{"title":"Camera quarantined"}`), false)
	if err != nil {
		t.Fatal(err)
	}
	want.Outbox = []OutboxItem{it}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	diffJSON(t, h.open().Snapshot(), want)

	fi, err := os.Stat(h.path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode %v, want 0600: it describes the owner's devices", perm)
	}
}

func TestDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Path != DefaultPath || o.WriteInterval != DefaultWriteInterval || o.MaxBytes != DefaultMaxBytes {
		t.Errorf("defaults %+v", o)
	}
	if o := (Options{MaxBytes: 1000}).withDefaults(); o.MaxBytes != MinMaxBytes {
		t.Errorf("tiny MaxBytes became %d, want %d", o.MaxBytes, MinMaxBytes)
	}
	if o := (Options{MaxBytes: 16 << 20}).withDefaults(); o.MaxBytes != MaxMaxBytes {
		t.Errorf("MaxBytes of 16 MiB became %d, want %d", o.MaxBytes, MaxMaxBytes)
	}
	h := newHarness(t)
	s := h.open()
	stop := h.run(s)
	h.clock.tick <- t0 // Run has set up its ticker
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if h.clock.interval != DefaultWriteInterval {
		t.Errorf("ticker interval %v, want %v", h.clock.interval, DefaultWriteInterval)
	}
}

// TestRoutineChangesCoalesce is the flash budget: a hundred routine
// changes within one interval cost one write.
func TestRoutineChangesCoalesce(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	stop := h.run(s)
	for i := range 100 {
		d := DeviceRecord{MAC: mac(byte(i)), LastSeen: t0.Add(time.Duration(i) * time.Second)}
		if err := s.PutDevice(d); err != nil {
			t.Fatal(err)
		}
		if err := s.PutVerdict(Verdict{MAC: d.MAC, Action: "alert"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Enqueue(json.RawMessage(`{}`), false); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 0 || !st.Dirty {
		t.Fatalf("before the tick: %+v, want no write yet and dirty", st)
	}
	h.clock.tick <- t0.Add(DefaultWriteInterval)
	h.clock.tick <- t0.Add(2 * DefaultWriteInterval) // nothing changed since: no write
	if err := stop(); err != nil {                   // nothing left: no final write
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Writes != 1 || st.UrgentWrites != 0 || st.Dirty {
		t.Fatalf("stats %+v, want exactly one routine write", st)
	}
	if got := len(h.fileDoc()["devices"].([]any)); got != 100 {
		t.Errorf("file has %d devices, want 100", got)
	}
}

// TestQuietNetworkCostsNoWrites: devices that are only seen again change
// nothing worth a flash write; their last-seen times go out with the next
// real change or at shutdown.
func TestQuietNetworkCostsNoWrites(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	devs := sampleState().Devices
	for _, d := range devs {
		if err := s.PutDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	// The writer starts after the devices are in: running, it could
	// write the first one's urgent change before the others came, and a
	// slow machine (qemu) does so.
	stop := h.run(s)
	h.clock.tick <- t0
	for i := range 50 {
		for _, d := range devs {
			d.LastSeen = t0.Add(time.Duration(i+1) * time.Minute)
			if err := s.PutDevice(d); err != nil {
				t.Fatal(err)
			}
		}
		h.clock.tick <- t0.Add(time.Duration(i+1) * time.Minute)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 2 {
		t.Errorf("stats %+v, want the first write and the final one only", st)
	}
	for _, d := range h.open().Snapshot().Devices {
		if want := t0.Add(50 * time.Minute); !d.LastSeen.Equal(want) {
			t.Errorf("%s last seen %v after shutdown, want %v", d.MAC, d.LastSeen, want)
		}
	}
	// A real change, however small, is written with the next tick.
	s = h.open()
	stop = h.run(s)
	d := devs[0]
	d.Findings[0].Verified = true
	if err := s.PutDevice(d); err != nil {
		t.Fatal(err)
	}
	h.clock.tick <- t0
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 1 {
		t.Errorf("stats %+v, want one write for a finding now verified", st)
	}
}

// TestRepeatedFindingCostsNoWrites: a device repeating a finding it
// already has (a camera retrying its default login every few seconds)
// changes only the finding's count and last time. Like a last-seen time,
// that rides along with the next real change or the final write; it used
// to cost a whole-state write at every interval.
func TestRepeatedFindingCostsNoWrites(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	d := sampleState().Devices[0]
	if err := s.PutDevice(d); err != nil {
		t.Fatal(err)
	}
	stop := h.run(s)
	h.clock.tick <- t0
	repeat := func(i int) {
		t.Helper()
		at := t0.Add(time.Duration(i) * time.Minute)
		d.Findings[0].Count, d.Findings[0].LastTime, d.LastSeen = i+1, at, at
		if err := s.PutDevice(d); err != nil {
			t.Fatal(err)
		}
		h.clock.tick <- at
	}
	for i := 1; i <= 60; i++ {
		repeat(i)
	}
	h.clock.tick <- t0.Add(time.Hour) // Run takes it once the last tick's write, if any, is done
	if st := s.Stats(); st.Writes != 1 || st.Dirty {
		t.Fatalf("stats %+v after an hour of repeats, want the first write only", st)
	}
	// Anything else about the finding is a real change: written at the
	// next tick, repeats included.
	d.Findings[0].Severity = event.SeverityCritical
	repeat(61)
	waitWrites(t, s, 2)
	if got := h.open().Snapshot().Devices[0].Findings[0]; got.Count != 62 || got.Severity != event.SeverityCritical {
		t.Errorf("file has count %d, severity %v; want 62, critical", got.Count, got.Severity)
	}
	for i := 62; i <= 70; i++ {
		repeat(i)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 3 {
		t.Errorf("stats %+v, want the final write to take the last repeats", st)
	}
	got := h.open().Snapshot().Devices[0]
	if want := t0.Add(70 * time.Minute); got.Findings[0].Count != 71 || !got.Findings[0].LastTime.Equal(want) || !got.LastSeen.Equal(want) {
		t.Errorf("after shutdown the file has count %d, last time %v, last seen %v; want 71, %v, %v",
			got.Findings[0].Count, got.Findings[0].LastTime, got.LastSeen, want, want)
	}
	// Flush, as the CLI calls it, takes them too.
	s = h.open()
	d.Findings[0].Count = 72
	if err := s.PutDevice(d); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := h.open().Snapshot().Devices[0].Findings[0].Count; got != 72 {
		t.Errorf("after Flush the file has count %d, want 72", got)
	}
}

// TestOnlySeenChangedCoversEveryField: a change to any field but
// LastSeen and a finding's Count and LastTime is a change worth a write. If event.Event or DeviceRecord
// gains a field, the field counts below fail until onlySeenChanged
// compares it.
func TestOnlySeenChangedCoversEveryField(t *testing.T) {
	if n := reflect.TypeFor[event.Event]().NumField(); n != 16 {
		t.Errorf("event.Event has %d fields; update sameEvent and this test", n)
	}
	if n := reflect.TypeFor[DeviceRecord]().NumField(); n != 8 {
		t.Errorf("DeviceRecord has %d fields; update onlySeenChanged and this test", n)
	}
	base := func() DeviceRecord {
		d := sampleState().Devices[0]
		d.Findings[0].Source, d.Findings[0].Packet, d.Findings[0].Count = "br-lan", 7, 1
		return d.clone()
	}
	f := func(change func(e *event.Event)) func(d *DeviceRecord) {
		return func(d *DeviceRecord) { change(&d.Findings[0]) }
	}
	tests := []struct {
		name   string
		change func(d *DeviceRecord)
		same   bool
	}{
		{"last_seen_only", func(d *DeviceRecord) { d.LastSeen = d.LastSeen.Add(time.Hour) }, true},
		{"same_instant_other_zone", func(d *DeviceRecord) { d.FirstSeen = d.FirstSeen.In(time.FixedZone("CET", 3600)) }, true},
		{"identity", func(d *DeviceRecord) { d.Identity.Firmware = "5.4.1" }, false},
		{"addrs", func(d *DeviceRecord) { d.Addrs = d.Addrs[:1] }, false},
		{"first_seen", func(d *DeviceRecord) { d.FirstSeen = d.FirstSeen.Add(-time.Hour) }, false},
		{"dropped_findings", func(d *DeviceRecord) { d.DroppedFindings++ }, false},
		{"last_audit", func(d *DeviceRecord) { d.LastAudit = d.LastSeen.Add(time.Hour) }, false},
		{"finding_added", func(d *DeviceRecord) { d.Findings = append(d.Findings, d.Findings[0]) }, false},
		{"event_v", f(func(e *event.Event) { e.V++ }), false},
		{"event_time", f(func(e *event.Event) { e.Time = e.Time.Add(time.Second) }), false},
		{"event_type", f(func(e *event.Event) { e.Type = event.TypeObservation }), false},
		{"event_kind", f(func(e *event.Event) { e.Kind = event.KindWeakTLS }), false},
		{"event_severity", f(func(e *event.Event) { e.Severity = event.SeverityLow }), false},
		{"event_capability", f(func(e *event.Event) { e.Capability = event.CapSecureCommunication }), false},
		{"event_provision", f(func(e *event.Event) { e.Provision = "5.5-1" }), false},
		{"event_device", f(func(e *event.Event) { e.Device.IP = "192.168.1.11" }), false},
		{"event_flow", f(func(e *event.Event) { e.Flow.Server.Port = 2121 }), false},
		{"event_flow_gone", f(func(e *event.Event) { e.Flow = nil }), false},
		{"event_summary", f(func(e *event.Event) { e.Summary += "." }), false},
		{"event_evidence", f(func(e *event.Event) { e.Evidence["accepted"] = "yes" }), false},
		{"event_source", f(func(e *event.Event) { e.Source = "wlan0" }), false},
		{"event_packet", f(func(e *event.Event) { e.Packet++ }), false},
		{"event_verified", f(func(e *event.Event) { e.Verified = true }), false},
		{"event_count", f(func(e *event.Event) { e.Count++ }), true},
		{"event_last_time", f(func(e *event.Event) { e.LastTime = e.Time.Add(time.Minute) }), true},
		{"event_repeat_and_seen", func(d *DeviceRecord) {
			d.Findings[0].Count++
			d.Findings[0].LastTime = d.LastSeen.Add(time.Hour)
			d.LastSeen = d.Findings[0].LastTime
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := base(), base()
			tt.change(&b)
			if got := onlySeenChanged(&a, &b); got != tt.same {
				t.Errorf("onlySeenChanged = %v, want %v", got, tt.same)
			}
		})
	}
}

// TestUrgentChangesWrittenPromptly: owner actions and quarantine changes
// reach the file without waiting for the interval's tick.
func TestUrgentChangesWrittenPromptly(t *testing.T) {
	cam := mac(1)
	tests := []struct {
		name   string
		change func(s *Store) error
		check  func(doc map[string]any) bool
	}{
		{"quarantine", func(s *Store) error {
			return s.PutQuarantine(Quarantine{MAC: cam, Mode: "block", Since: t0, By: ActorPolicy})
		}, func(doc map[string]any) bool { return strings.Contains(fmt.Sprint(doc["quarantines"]), cam.String()) }},
		{"release", func(s *Store) error { s.DeleteQuarantine(mac(9)); return nil },
			func(doc map[string]any) bool { return fmt.Sprint(doc["quarantines"]) == "[]" }},
		{"owner_decision", func(s *Store) error {
			return s.PutDecision(Decision{MAC: cam, Trusted: true, Updated: t0})
		}, func(doc map[string]any) bool { return strings.Contains(fmt.Sprint(doc["decisions"]), cam.String()) }},
		{"owner_forgets_decision", func(s *Store) error { s.DeleteDecision(mac(9)); return nil },
			func(doc map[string]any) bool { return fmt.Sprint(doc["decisions"]) == "[]" }},
		{"owner_forgets_device", func(s *Store) error { s.DeleteDevice(mac(9)); return nil },
			func(doc map[string]any) bool { return doc["devices"] == nil }},
		{"owner_mutes_alert_channel", func(s *Store) error { return s.SetAlertChannelMuted("phone", true) },
			func(doc map[string]any) bool { return fmt.Sprint(doc["muted_alert_channels"]) == "[old phone]" }},
		{"owner_unmutes_alert_channel", func(s *Store) error { return s.SetAlertChannelMuted("old", false) },
			func(doc map[string]any) bool { return fmt.Sprint(doc["muted_alert_channels"]) == "[]" }},
		{"audit_ended", func(s *Store) error { return s.PutDevice(DeviceRecord{MAC: mac(9), LastAudit: t0}) },
			func(doc map[string]any) bool { return strings.Contains(fmt.Sprint(doc["devices"]), "last_audit") }},
		{"urgent_alert_queued", func(s *Store) error {
			_, err := s.Enqueue(json.RawMessage(`{"title":"Hall camera quarantined"}`), true)
			return err
		}, func(doc map[string]any) bool {
			return strings.Contains(fmt.Sprint(doc["outbox"]), "Hall camera quarantined")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			seed := h.open()
			fill(t, seed, State{
				Devices:     []DeviceRecord{{MAC: mac(9)}},
				Quarantines: []Quarantine{{MAC: mac(9), Mode: "isolate", By: ActorOwner}},
				Decisions:   []Decision{{MAC: mac(9), Name: "old"}},

				MutedAlertChannels: []string{"old"},
			})
			if err := seed.Flush(); err != nil {
				t.Fatal(err)
			}
			s := h.open()
			stop := h.run(s)
			if err := tt.change(s); err != nil {
				t.Fatal(err)
			}
			waitWrites(t, s, 1) // no tick was sent
			if st := s.Stats(); st.UrgentWrites != 1 {
				t.Errorf("stats %+v, want one urgent write", st)
			}
			if !tt.check(h.fileDoc()) {
				t.Errorf("file does not show the change: %v", h.fileDoc())
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if w := s.Stats().Writes; w != 1 {
				t.Errorf("%d writes, want 1: nothing was left for the final write", w)
			}
		})
	}
}

// TestUrgentFloodCoalesces is the flash budget for urgent changes: a
// flood of new devices, each quarantined for a default password, 300 in
// 6 s, used to cost a whole-state write per quarantine (210 writes of a
// 3 MB state, 613 MB). The first is written at once; those within
// UrgentWriteGap after it wait for the gap's end and go out in one write;
// the final write takes the rest.
func TestUrgentFloodCoalesces(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	stop := h.run(s)
	quarantine := func(i int) {
		t.Helper()
		h.clock.Advance(20 * time.Millisecond)
		q := Quarantine{MAC: hwaddr.MAC{0xc0, 0x56, 0xe3, 0, byte(i >> 8), byte(i)}, Mode: "block", Since: h.clock.Now(), By: ActorPolicy}
		if err := s.PutQuarantine(q); err != nil {
			t.Fatal(err)
		}
		// Run took the wake-up, so whatever it wrote for the change
		// before is written.
		waitFor(t, "the writer to take the change", func() bool { return len(s.urgent) == 0 })
	}
	quarantines := func() int { return len(h.fileDoc()["quarantines"].([]any)) }

	quarantine(0)
	waitWrites(t, s, 1) // at once: no tick was sent
	first := h.clock.Now()
	for i := 1; i < 300; i++ {
		quarantine(i)
	}
	if st := s.Stats(); st.Writes != 1 {
		stop()
		t.Fatalf("%d writes for 300 quarantines within %v, want the first one only until the gap ends", st.Writes, UrgentWriteGap)
	}
	waitFor(t, "the writer to wait for the gap's end", func() bool { return h.clock.pending() == 1 })
	if waits := h.clock.timerWaits(); len(waits) != 1 || waits[0] <= 0 || waits[0] > UrgentWriteGap {
		t.Fatalf("timers %v, want one of at most %v", waits, UrgentWriteGap)
	}
	h.clock.Advance(first.Add(UrgentWriteGap).Sub(h.clock.Now()) - time.Millisecond)
	if st := s.Stats(); st.Writes != 1 {
		t.Fatalf("%d writes before the gap ended, want 1", st.Writes)
	}
	h.clock.Advance(time.Millisecond)
	waitWrites(t, s, 2)
	if n := quarantines(); n != 300 {
		t.Fatalf("file has %d quarantines at the gap's end, want all 300", n)
	}

	// A change right after that write waits for the next gap's end; one
	// after a quiet gap is written at once again.
	quarantine(300)
	waitFor(t, "the writer to wait for the gap's end", func() bool { return h.clock.pending() == 1 })
	h.clock.Advance(UrgentWriteGap)
	waitWrites(t, s, 3)
	h.clock.Advance(UrgentWriteGap)
	quarantine(301)
	waitWrites(t, s, 4)
	if n := quarantines(); n != 302 {
		t.Fatalf("file has %d quarantines, want 302", n)
	}

	// Shutdown writes what waits for the gap, routine changes too.
	quarantine(302)
	if err := s.PutDevice(DeviceRecord{MAC: mac(1), Identity: Identity{Vendor: "Shelly"}}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 5 || st.UrgentWrites != 4 || st.Dirty {
		t.Fatalf("stats %+v, want 4 urgent writes and the final one", st)
	}
	if got := h.open().Snapshot(); len(got.Quarantines) != 303 || len(got.Devices) != 1 {
		t.Errorf("after shutdown the file has %d quarantines and %d devices, want 303 and 1", len(got.Quarantines), len(got.Devices))
	}
}

// TestSyncForOwnerActions: an owner's action is on flash when Sync
// returns, without Run. Such writes are at most one per OwnerWriteGap:
// a Sync within the gap waits for its end, Syncs that wait together
// share one write, and one whose change a write took returns at once.
func TestSyncForOwnerActions(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	decide := func(i int) {
		t.Helper()
		if err := s.PutDecision(Decision{MAC: mac(byte(i)), Name: fmt.Sprintf("device %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	decisions := func() int { return len(h.fileDoc()["decisions"].([]any)) }
	syncing := func(ctx context.Context) <-chan error {
		done := make(chan error, 1)
		go func() { done <- s.Sync(ctx) }()
		return done
	}

	decide(1)
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 1 || st.Dirty || decisions() != 1 {
		t.Fatalf("stats %+v, %d decisions in the file; want the first written at once", st, decisions())
	}
	if waits := h.clock.timerWaits(); len(waits) != 0 {
		t.Fatalf("the first Sync waited %v", waits)
	}
	if err := s.Sync(context.Background()); err != nil || s.Stats().Writes != 1 {
		t.Fatalf("Sync with nothing new: %v, %d writes; want no write", err, s.Stats().Writes)
	}

	// Within the gap: both wait for its end and share one write.
	decide(2)
	first := syncing(context.Background())
	waitFor(t, "Sync to wait for the gap's end", func() bool { return h.clock.pending() == 1 })
	decide(3)
	second := syncing(context.Background())
	if st := s.Stats(); st.Writes != 1 {
		t.Fatalf("%d writes within the gap, want 1", st.Writes)
	}
	if waits := h.clock.timerWaits(); len(waits) != 1 || waits[0] <= 0 || waits[0] > OwnerWriteGap {
		t.Fatalf("timers %v, want one of at most %v", waits, OwnerWriteGap)
	}
	h.clock.Advance(OwnerWriteGap)
	for _, done := range []<-chan error{first, second} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Writes != 2 || st.Dirty || decisions() != 3 {
		t.Fatalf("stats %+v, %d decisions in the file; want one more write with both", st, decisions())
	}

	// A caller that gives up leaves the change to Run.
	decide(4)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := syncing(ctx)
	waitFor(t, "Sync to wait for the gap's end", func() bool { return h.clock.pending() == 1 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync after its context ended: %v, want context.Canceled", err)
	}
	if st := s.Stats(); st.Writes != 2 || !st.Dirty {
		t.Fatalf("stats %+v, want the change still to be written", st)
	}
}

// TestGapLeft: the wait for a write gap's end, for Run's urgent writes
// and Sync's. A clock set back since the last write waits one gap at
// most, not the size of the step too.
func TestGapLeft(t *testing.T) {
	const gap = 10 * time.Second
	for _, tt := range []struct {
		name      string
		last, now time.Time
		want      time.Duration // > 0: wait that long; else none
	}{
		{"no_write_yet", time.Time{}, t0, 0},
		{"within_the_gap", t0, t0.Add(3 * time.Second), 7 * time.Second},
		{"gap_just_ended", t0, t0.Add(gap), 0},
		{"long_after", t0, t0.Add(time.Hour), -time.Hour + gap},
		{"clock_set_back_a_day", t0, t0.Add(-24 * time.Hour), gap},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := gapLeft(tt.last, tt.now, gap)
			if (got > 0) != (tt.want > 0) || got > 0 && got != tt.want {
				t.Errorf("gapLeft = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSyncBoundedWhenFlashHangs: a write that does not end (dead flash,
// an fsync stuck in the driver) keeps neither the owner's action nor the
// page waiting for ever. Sync returns when its context ends, or after
// SyncWait for a caller without a deadline (the page's alert switch),
// whether the hung write is the background writer's or another Sync's;
// the change stays to be written. Sync used to wait for a write under
// way, and for another Sync, without looking at its context.
func TestSyncBoundedWhenFlashHangs(t *testing.T) {
	tests := []struct {
		name          string
		syncWait      time.Duration
		ctxTimeout    time.Duration // 0: context.Background()
		behindAnother bool          // another Sync waits for the hung write first
	}{
		{"context_ends", time.Hour, 20 * time.Millisecond, false},
		{"no_deadline_of_the_caller", 20 * time.Millisecond, 0, false},
		{"behind_another_sync", time.Hour, 20 * time.Millisecond, true},
		{"behind_another_sync_no_deadline", 20 * time.Millisecond, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.open()
			s.syncWait = tt.syncWait
			if err := s.PutDecision(Decision{MAC: mac(1), Trusted: true}); err != nil {
				t.Fatal(err)
			}
			s.writeMu.Lock() // a write under way that does not end
			hung := true
			defer func() {
				if hung {
					s.writeMu.Unlock()
				}
			}()
			var other chan error
			if tt.behindAnother {
				other = make(chan error, 1)
				go func() { other <- s.Sync(context.Background()) }()
				waitFor(t, "the other Sync to take its turn", func() bool { return len(s.ownerTurn) == 1 })
			}
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			done := make(chan error, 1)
			go func() { done <- s.Sync(ctx) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Sync while the flash hangs: %v, want context.DeadlineExceeded", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Sync still waits for a write that does not end")
			}
			if !s.Stats().Dirty {
				t.Error("the change counts as written")
			}

			// The flash answers again: the change is written, by the
			// Sync that waited for it or by the next one.
			s.writeMu.Unlock()
			hung = false
			if other != nil {
				<-other
			}
			if err := s.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Dirty || st.Writes == 0 {
				t.Errorf("stats %+v after the flash answered, want the change written", st)
			}
		})
	}
}

func TestNoOpChangesDoNotWrite(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	stop := h.run(s)
	s.DeleteQuarantine(mac(1)) // none of these exist
	s.DeleteDecision(mac(1))
	s.DeleteDevice(mac(1))
	if err := s.SetAlertChannelMuted("phone", false); err != nil {
		t.Fatal(err)
	}
	h.clock.tick <- t0
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 0 {
		t.Errorf("stats %+v, want no write", st)
	}
	if _, err := os.Stat(h.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a state file was created for an empty store: %v", err)
	}
}

func TestFinalWriteOnShutdown(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	stop := h.run(s)
	if err := s.PutDevice(DeviceRecord{MAC: mac(1), Identity: Identity{Vendor: "Shelly"}}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 1 || st.Dirty {
		t.Fatalf("stats %+v, want the final write", st)
	}
	if got := h.open().Snapshot().Devices; len(got) != 1 || got[0].Identity.Vendor != "Shelly" {
		t.Errorf("after restart: %+v", got)
	}
}

func TestWriteFailureIsKeptAndRetried(t *testing.T) {
	h := newHarness(t)
	// A regular file where the state directory should be: every write
	// fails, even for root.
	if err := os.WriteFile(filepath.Dir(h.path), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := h.open()
	stop := h.run(s)
	if err := s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", By: ActorPolicy}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the urgent write to fail", func() bool { return s.Stats().LastError != nil })
	if st := s.Stats(); !st.Dirty || st.Writes != 0 {
		t.Fatalf("stats %+v, want still dirty", st)
	}
	if !strings.Contains(h.logs.String(), "cannot write state") {
		t.Errorf("no log line for the failed write:\n%s", h.logs)
	}
	if err := os.Remove(filepath.Dir(h.path)); err != nil {
		t.Fatal(err)
	}
	h.clock.tick <- t0.Add(time.Minute) // the retry
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.LastError != nil || st.Dirty || st.Writes != 1 {
		t.Fatalf("stats %+v, want the retry to succeed", st)
	}
	if q := h.open().Snapshot().Quarantines; len(q) != 1 {
		t.Errorf("quarantine not persisted by the retry: %+v", q)
	}
}

func TestInvalidRecordsRefused(t *testing.T) {
	s := newHarness(t).open()
	tests := []struct {
		name string
		err  error
	}{
		{"device_without_mac", s.PutDevice(DeviceRecord{})},
		{"verdict_without_mac", s.PutVerdict(Verdict{Action: "alert"})},
		{"decision_without_mac", s.PutDecision(Decision{Trusted: true})},
		{"quarantine_without_mac", s.PutQuarantine(Quarantine{Mode: "block", By: ActorPolicy})},
		{"quarantine_without_mode", s.PutQuarantine(Quarantine{MAC: mac(1), By: ActorPolicy})},
		{"quarantine_by_nobody", s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block"})},
		{"quarantine_by_stranger", s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", By: "neighbour"})},
		{"alert_channel_without_name", s.SetAlertChannelMuted("", true)},
		{"alert_channel_name_too_long", s.SetAlertChannelMuted(strings.Repeat("x", maxChannelNameLen+1), true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", tt.err)
			}
		})
	}
	if st := s.Snapshot(); len(st.Devices)+len(st.Verdicts)+len(st.Decisions)+len(st.Quarantines)+len(st.MutedAlertChannels) != 0 {
		t.Errorf("refused records were stored: %+v", st)
	}
	if s.Stats().Dirty {
		t.Error("refused records made the store dirty")
	}
}

func TestTableCaps(t *testing.T) {
	h := newHarness(t)
	o := h.options()
	o.MaxDevices = 3
	o.MaxFindingsPerDevice = 2
	o.MaxOutbox = 2
	s := Open(o)

	t.Run("muted_alert_channels", func(t *testing.T) {
		for i := range MaxMutedAlertChannels {
			if err := s.SetAlertChannelMuted(fmt.Sprint("ch", i), true); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetAlertChannelMuted("one-too-many", true); !errors.Is(err, ErrFull) {
			t.Errorf("muting channel %d: %v, want ErrFull", MaxMutedAlertChannels+1, err)
		}
		if err := s.SetAlertChannelMuted("ch0", false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAlertChannelMuted("one-too-many", true); err != nil {
			t.Errorf("muting after one was switched on again: %v", err)
		}
		if got := len(s.MutedAlertChannels()); got != MaxMutedAlertChannels {
			t.Errorf("%d muted channels, want %d", got, MaxMutedAlertChannels)
		}
	})

	t.Run("devices_forget_least_recently_seen_unprotected", func(t *testing.T) {
		if err := s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", By: ActorPolicy}); err != nil {
			t.Fatal(err)
		}
		for i := byte(1); i <= 4; i++ { // mac(1) is the oldest but quarantined
			if err := s.PutDevice(DeviceRecord{MAC: mac(i), LastSeen: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		var got []hwaddr.MAC
		for _, d := range s.Snapshot().Devices {
			got = append(got, d.MAC)
		}
		if want := []hwaddr.MAC{mac(1), mac(3), mac(4)}; !reflect.DeepEqual(got, want) {
			t.Errorf("devices %v, want %v", got, want)
		}
	})
	t.Run("quarantines_refuse_when_full", func(t *testing.T) {
		for i := byte(2); i <= 3; i++ {
			if err := s.PutQuarantine(Quarantine{MAC: mac(i), Mode: "block", By: ActorPolicy}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutQuarantine(Quarantine{MAC: mac(4), Mode: "block", By: ActorPolicy}); !errors.Is(err, ErrFull) {
			t.Errorf("fourth quarantine: %v, want ErrFull", err)
		}
		if err := s.PutQuarantine(Quarantine{MAC: mac(3), Mode: "isolate", By: ActorOwner}); err != nil {
			t.Errorf("replacing a quarantine in a full table: %v", err)
		}
	})
	t.Run("devices_refuse_when_all_protected", func(t *testing.T) {
		// mac(2) is quarantined but has no record: quarantine mac(4) needs
		// room first.
		s.DeleteQuarantine(mac(2))
		if err := s.PutQuarantine(Quarantine{MAC: mac(4), Mode: "block", By: ActorPolicy}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutDevice(DeviceRecord{MAC: mac(5)}); !errors.Is(err, ErrFull) {
			t.Errorf("device beyond a table of quarantined devices: %v, want ErrFull", err)
		}
	})
	t.Run("decisions_refuse_when_full", func(t *testing.T) {
		for i := byte(1); i <= 3; i++ {
			if err := s.PutDecision(Decision{MAC: mac(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutDecision(Decision{MAC: mac(4)}); !errors.Is(err, ErrFull) {
			t.Errorf("fourth decision: %v, want ErrFull", err)
		}
	})
	t.Run("verdicts_keep_protected_devices", func(t *testing.T) {
		s := Open(Options{Path: filepath.Join(t.TempDir(), "state.json"), MaxDevices: 3})
		if err := s.PutQuarantine(Quarantine{MAC: mac(9), Mode: "block", By: ActorPolicy}); err != nil {
			t.Fatal(err)
		}
		for i, m := range []hwaddr.MAC{mac(9), mac(1), mac(2), mac(3)} { // mac(9): the oldest, quarantined
			if err := s.PutVerdict(Verdict{MAC: m, Action: "alert", Time: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		var got []hwaddr.MAC
		for _, v := range s.Snapshot().Verdicts {
			got = append(got, v.MAC)
		}
		if !slices.Contains(got, mac(9)) || slices.Contains(got, mac(1)) {
			t.Errorf("verdicts of %v, want the quarantined device's kept and the oldest other's gone", got)
		}
	})
	t.Run("verdicts_forget_oldest", func(t *testing.T) {
		for i := byte(1); i <= 4; i++ {
			if err := s.PutVerdict(Verdict{MAC: mac(i), Action: "alert", Time: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		v := s.Snapshot().Verdicts
		if len(v) != 3 || v[0].MAC != mac(2) {
			t.Errorf("verdicts %+v, want the newest three", v)
		}
	})
	t.Run("findings_keep_newest", func(t *testing.T) {
		d := DeviceRecord{MAC: mac(3), Findings: []event.Event{
			finding(event.KindWeakTLS, t0.Add(3*time.Minute), nil),
			finding(event.KindDefaultCredentials, t0, nil), // oldest, dropped
			finding(event.KindPlaintextProtocol, t0.Add(time.Minute), nil),
		}}
		d.Findings[1].LastTime = t0.Add(-time.Hour)
		if err := s.PutDevice(d); err != nil {
			t.Fatal(err)
		}
		got := s.Snapshot().Devices[1]
		if len(got.Findings) != 2 || got.Findings[0].Kind != event.KindWeakTLS || got.Findings[1].Kind != event.KindPlaintextProtocol || got.DroppedFindings != 1 {
			t.Errorf("findings %+v dropped %d, want weak_tls, plaintext_protocol in order and one dropped", got.Findings, got.DroppedFindings)
		}
	})
	t.Run("outbox_drops_oldest", func(t *testing.T) {
		for i := range 3 {
			if _, err := s.Enqueue(json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), false); err != nil {
				t.Fatal(err)
			}
		}
		p := s.Pending(0)
		if len(p) != 2 || string(p[0].Payload) != `{"n":1}` || s.Stats().OutboxDropped != 1 {
			t.Errorf("pending %+v, want the newest two and one dropped", p)
		}
	})
}

func TestLongStringsClipped(t *testing.T) {
	s := newHarness(t).open()
	name := strings.Repeat("é", 100) // 200 bytes
	addrs := make([]netip.Addr, 20)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{192, 168, 1, byte(i)})
	}
	// An owner's name of 64 characters is kept whole, four bytes each.
	if err := s.PutDecision(Decision{MAC: mac(2), Name: strings.Repeat("🙂", 64)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDecision(Decision{MAC: mac(1), Name: name + name + name, Exempt: make([]event.Kind, 40)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDevice(DeviceRecord{MAC: mac(1), Addrs: addrs, Identity: Identity{Hostname: name}}); err != nil {
		t.Fatal(err)
	}
	st := s.Snapshot()
	d := st.Decisions[0]
	if len(d.Name) != maxOwnerNameLen || d.Name != strings.Repeat("é", maxOwnerNameLen/2) || len(d.Exempt) != MaxExempt {
		t.Errorf("name of %d bytes, %d exempt kinds", len(d.Name), len(d.Exempt))
	}
	if d := st.Decisions[1]; d.Name != strings.Repeat("🙂", 64) {
		t.Errorf("a name of 64 characters cut to %q", d.Name)
	}
	dev := st.Devices[0]
	if len(dev.Addrs) != MaxAddrs || dev.Addrs[MaxAddrs-1] != addrs[19] || len(dev.Identity.Hostname) != maxNameLen {
		t.Errorf("addrs %v hostname of %d bytes, want the %d most recent and %d bytes", dev.Addrs, len(dev.Identity.Hostname), MaxAddrs, maxNameLen)
	}
	if got := clip("a€", 3); got != "a" {
		t.Errorf("clip split a rune: %q", got)
	}
}

func TestOutbox(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	var ids []uint64
	for i := range 3 {
		it, err := s.Enqueue(json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), false)
		if err != nil {
			t.Fatal(err)
		}
		if it.Created != t0 || it.NextAttempt != t0 || it.Attempts != 0 {
			t.Errorf("new item %+v, want created and due now", it)
		}
		ids = append(ids, it.ID)
	}
	// The first failed and waits; the others are due first.
	if err := s.Reschedule(ids[0], t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p := s.Pending(2)
	if len(p) != 2 || p[0].ID != ids[1] || p[1].ID != ids[2] {
		t.Errorf("pending %+v, want items 2 and 3", p)
	}
	p[0].Payload[0] = 'X' // a caller's copy
	if err := s.Ack(ids[1]); err != nil {
		t.Fatal(err)
	}
	p = s.Pending(0)
	if len(p) != 2 || p[0].ID != ids[2] || string(p[0].Payload) != `{"n":2}` || p[1].ID != ids[0] || p[1].Attempts != 1 {
		t.Errorf("pending %+v", p)
	}
	if err := s.Ack(ids[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("second ack: %v, want ErrNotFound", err)
	}
	if err := s.Reschedule(999, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("reschedule of an unknown id: %v, want ErrNotFound", err)
	}
	// Moving the next attempt counts no delivery.
	if err := s.SetNextAttempt(ids[0], t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if p := s.Pending(0); p[1].ID != ids[0] || !p[1].NextAttempt.Equal(t0.Add(time.Minute)) || p[1].Attempts != 1 {
		t.Errorf("after SetNextAttempt: %+v, want due in a minute, one attempt", p[1])
	}
	if err := s.SetNextAttempt(999, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetNextAttempt of an unknown id: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{``, `{"a":`, `not json`, `{"big":"` + strings.Repeat("x", maxPayloadLen) + `"}`} {
		if _, err := s.Enqueue(json.RawMessage(bad), false); !errors.Is(err, ErrInvalid) {
			t.Errorf("payload %.20q: %v, want ErrInvalid", bad, err)
		}
	}
	// Ids are never reused, even after every item is acknowledged and the
	// daemon restarts.
	for _, it := range s.Pending(0) {
		if err := s.Ack(it.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	it, err := h.open().Enqueue(json.RawMessage(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if it.ID != ids[2]+1 {
		t.Errorf("id after restart %d, want %d", it.ID, ids[2]+1)
	}
}

func TestSnapshotsAndInputsAreCopies(t *testing.T) {
	s := newHarness(t).open()
	in := sampleState()
	fill(t, s, in)
	// Change the caller's records after handing them over.
	in.Devices[0].Findings[0].Evidence["user"] = "changed"
	in.Devices[0].Findings[0].Flow.App = "changed"
	in.Devices[0].Addrs[0] = netip.MustParseAddr("10.9.9.9")
	in.Decisions[0].Exempt[0] = "changed"
	in.Verdicts[0].Reasons[0].Summary = "changed"
	// And the snapshot's.
	snap := s.Snapshot()
	snap.Devices[0].Findings[0].Evidence["protocol"] = "changed"
	snap.Decisions[0].Exempt[0] = "changed"

	diffJSON(t, s.Snapshot(), sampleState())
}

// TestConcurrentUse is for -race: web handlers, the policy loop, the alert
// engine and the writer at once.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	stop := h.run(s)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				m := mac(byte(g*50 + i))
				_ = s.PutDevice(DeviceRecord{MAC: m, Findings: []event.Event{finding(event.KindWeakTLS, t0, event.Evidence{"n": fmt.Sprint(i)})}})
				_ = s.PutVerdict(Verdict{MAC: m, Action: "alert"})
				if i%10 == 0 {
					_ = s.PutQuarantine(Quarantine{MAC: m, Mode: "block", By: ActorPolicy})
					s.DeleteQuarantine(m)
					_ = s.PutDecision(Decision{MAC: m, Name: "x"})
				}
				if it, err := s.Enqueue(json.RawMessage(`{}`), false); err == nil {
					_ = s.Reschedule(it.ID, t0)
					_ = s.Ack(it.ID)
				}
				_ = s.Snapshot()
				_ = s.Pending(5)
				_ = s.Stats()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			h.clock.tick <- t0
			_ = s.Flush()
		}
	})
	wg.Wait()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Dirty || st.LastError != nil {
		t.Fatalf("stats %+v", st)
	}
	diffJSON(t, h.open().Snapshot(), s.Snapshot())
}

// A release and the decision that records it are one change: nothing
// reading the store sees the quarantine gone without the decision, which
// a write at that moment would keep and a restart would undo.
func TestReleaseIsOneChange(t *testing.T) {
	s := newHarness(t).open()
	released := Decision{MAC: mac(1), ReleasedAt: t0, Updated: t0}
	// The store holds the quarantine before the reader starts looking.
	if err := s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", Since: t0, By: ActorPolicy}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	seen := make(chan string, 1)
	go func() {
		defer close(seen)
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := s.Snapshot()
			if len(st.Quarantines) == 0 && len(st.Decisions) == 0 {
				seen <- "neither the quarantine nor the release"
				return
			}
		}
	}()
	for i := range 20000 {
		if err := s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", Since: t0, By: ActorPolicy}); err != nil {
			t.Fatal(err)
		}
		s.DeleteDecision(mac(1))
		// The reader may look here: the quarantine is still there.
		if err := s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", Since: t0.Add(time.Duration(i)), By: ActorPolicy}); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(released); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if what, ok := <-seen; ok {
		t.Errorf("a reader saw %s", what)
	}
	st := s.Snapshot()
	if len(st.Quarantines) != 0 || len(st.Decisions) != 1 || !st.Decisions[0].ReleasedAt.Equal(t0) {
		t.Errorf("after the release: quarantines %v, decisions %v", st.Quarantines, st.Decisions)
	}
}

// A release whose decision does not fit still ends the quarantine.
func TestReleaseWithDecisionsFull(t *testing.T) {
	h := newHarness(t)
	o := h.options()
	o.MaxDevices = 1
	s := Open(o)
	if err := s.PutDecision(Decision{MAC: mac(2), Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", By: ActorPolicy}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(Decision{MAC: mac(1), ReleasedAt: t0}); !errors.Is(err, ErrFull) {
		t.Errorf("release with a full decision table: %v, want ErrFull", err)
	}
	if q := s.Snapshot().Quarantines; len(q) != 0 {
		t.Errorf("quarantines %v after the release", q)
	}
}

// A file with more devices than a lowered MaxDevices allows keeps the
// most recently seen.
func TestLoweredDeviceCapKeepsRecent(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	for i := byte(1); i <= 5; i++ {
		if err := s.PutDevice(DeviceRecord{MAC: mac(i), LastSeen: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	o := h.options()
	o.MaxDevices = 3
	var kept []hwaddr.MAC
	for _, d := range Open(o).Snapshot().Devices {
		kept = append(kept, d.MAC)
	}
	if want := []hwaddr.MAC{mac(3), mac(4), mac(5)}; !slices.Equal(kept, want) {
		t.Errorf("kept %v, want the three seen last %v", kept, want)
	}
}

// A device's audit time is replaced by a later one but not erased by a
// writer that does not know it (the daemon with audits switched off).
func TestAuditTimeNotErased(t *testing.T) {
	s := newHarness(t).open()
	tests := []struct {
		put, want time.Time
	}{
		{t0, t0},
		{time.Time{}, t0},
		{t0.Add(time.Hour), t0.Add(time.Hour)},
		{time.Time{}, t0.Add(time.Hour)},
	}
	for i, tt := range tests {
		if err := s.PutDevice(DeviceRecord{MAC: mac(1), LastSeen: t0, LastAudit: tt.put}); err != nil {
			t.Fatal(err)
		}
		if got := s.Snapshot().Devices[0].LastAudit; !got.Equal(tt.want) {
			t.Errorf("step %d: last audit %v, want %v", i, got, tt.want)
		}
	}
}
