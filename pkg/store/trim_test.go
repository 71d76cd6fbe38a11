package store

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

func (h *harness) openCapped(maxBytes int) *Store {
	o := h.options()
	o.MaxBytes = maxBytes
	return Open(o)
}

func (h *harness) fileSize() int {
	h.t.Helper()
	fi, err := os.Stat(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	return int(fi.Size())
}

// TestSizeCapDropsOldestFindingsFirst: over the cap, the file leaves out
// findings oldest first, across devices, and counts them per device. (The
// store's memory budget usually forgets them before a write; this is the
// exact backstop, tested on its own.)
func TestSizeCapDropsOldestFindingsFirst(t *testing.T) {
	s := newStore(Options{MaxBytes: 64 << 20})
	// 40 devices × 10 findings ≈ 200 KiB, at times interleaved across
	// devices so that "oldest" is not "first device".
	for d := range 40 {
		rec := DeviceRecord{MAC: mac(byte(d)), LastSeen: t0}
		for f := range 10 {
			ts := t0.Add(time.Duration(f*40+(d*7)%40) * time.Minute)
			rec.Findings = append(rec.Findings, finding(event.KindPlaintextProtocol, ts, event.Evidence{"port": fmt.Sprint(f)}))
		}
		if err := s.PutDevice(rec); err != nil {
			t.Fatal(err)
		}
	}
	data, trim, err := encode(s.document(), MinMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > MinMaxBytes {
		t.Fatalf("file of %d bytes, cap %d", len(data), MinMaxBytes)
	}
	// One finding is ~500 bytes: the cut may overshoot by a few.
	if len(data) < MinMaxBytes-2048 {
		t.Errorf("file of %d bytes: left out more than needed for a cap of %d", len(data), MinMaxBytes)
	}
	if trim.findings == 0 || trim.devices != 0 || trim.overCap {
		t.Fatalf("trim %+v, want findings left out and nothing else", trim)
	}
	// Every finding kept is at least as new as every finding left out,
	// and the per-device counts add up.
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	kept := make(map[string]bool)
	var oldestKept time.Time
	counted := 0
	for _, d := range doc.Devices {
		counted += d.DroppedFindings
		for _, f := range d.Findings {
			kept[d.MAC.String()+f.Time.String()] = true
			if oldestKept.IsZero() || f.Time.Before(oldestKept) {
				oldestKept = f.Time
			}
		}
	}
	if counted != trim.findings || len(kept)+counted != 400 {
		t.Errorf("%d kept, %d counted as dropped, trim %d, want 400 in all", len(kept), counted, trim.findings)
	}
	for _, d := range s.Snapshot().Devices {
		if len(d.Findings) != 10 {
			t.Fatalf("encoding changed the state in memory: %d findings on %s", len(d.Findings), d.MAC)
		}
		for _, f := range d.Findings {
			if !kept[d.MAC.String()+f.Time.String()] && !f.Time.Before(oldestKept) {
				t.Errorf("left out a finding of %v while keeping one of %v", f.Time, oldestKept)
			}
		}
	}
}

// TestMemoryBudgetForgetsOldestFindings: findings held in memory stay
// within MaxBytes (estimated), the newest are kept, and the file then
// needs no trimming.
func TestMemoryBudgetForgetsOldestFindings(t *testing.T) {
	h := newHarness(t)
	s := h.openCapped(MinMaxBytes)
	for d := range 100 { // ~ 1 MiB of findings
		rec := DeviceRecord{MAC: mac(byte(d)), LastSeen: t0}
		for f := range 20 {
			rec.Findings = append(rec.Findings, finding(event.KindPlaintextProtocol, t0.Add(time.Duration(d*20+f)*time.Second), nil))
		}
		if err := s.PutDevice(rec); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	est := s.findingBytes
	s.mu.Unlock()
	if est > MinMaxBytes {
		t.Errorf("findings estimated at %d bytes in memory, budget %d", est, MinMaxBytes)
	}
	st := s.Snapshot()
	total, forgotten := 0, 0
	for _, d := range st.Devices {
		total += len(d.Findings)
		forgotten += d.DroppedFindings
	}
	if total+forgotten != 2000 || uint64(forgotten) != s.Stats().FindingsForgotten {
		t.Errorf("%d kept + %d forgotten (stats %d), want 2000", total, forgotten, s.Stats().FindingsForgotten)
	}
	// The newest device keeps all its findings, the oldest none.
	if last := st.Devices[99]; len(last.Findings) != 20 || len(st.Devices[0].Findings) != 0 {
		t.Errorf("newest device has %d findings, oldest %d", len(last.Findings), len(st.Devices[0].Findings))
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if fst := s.Stats(); fst.TrimmedFindings != 0 || fst.Bytes > MinMaxBytes {
		t.Errorf("write stats %+v: the budget should leave nothing for the file cap", fst)
	}
	if n := strings.Count(h.logs.String(), "level=WARN msg=\"findings over the store's size budget"); n != 1 {
		t.Errorf("%d budget warnings, want 1:\n%s", n, h.logs)
	}
}

// TestBudgetTrimStaysQuiet: writers hand whole records in again every
// few seconds; findings the budget forgot stay forgotten, so a quiet
// network over the budget costs no writes, while a finding seen again
// comes back.
func TestBudgetTrimStaysQuiet(t *testing.T) {
	h := newHarness(t)
	s := h.openCapped(MinMaxBytes)
	stop := h.run(s)
	var devs []DeviceRecord
	for d := range 20 {
		rec := DeviceRecord{MAC: mac(byte(d)), LastSeen: t0}
		for f := range 10 {
			ts := t0.Add(time.Duration(f*20+d) * time.Minute)
			rec.Findings = append(rec.Findings, finding(event.KindPlaintextProtocol, ts, event.Evidence{"port": fmt.Sprint(f)}))
		}
		devs = append(devs, rec)
	}
	put := func(i int) {
		for _, d := range devs {
			d.LastSeen = t0.Add(time.Duration(i) * time.Minute)
			if err := s.PutDevice(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(0)
	h.clock.tick <- t0
	forgotten := s.Stats().FindingsForgotten
	if forgotten == 0 {
		t.Fatal("nothing forgotten: the test does not reach the budget")
	}
	for i := 1; i <= 10; i++ {
		put(i) // only last seen changed
		h.clock.tick <- t0.Add(time.Duration(i) * time.Minute)
	}
	if st := s.Stats(); st.FindingsForgotten != forgotten {
		t.Errorf("%d findings forgotten after the first trim, %d after ten quiet intervals: the trim did not stay", forgotten, st.FindingsForgotten)
	}
	// The oldest finding of device 0, seen again, is kept once more.
	d := devs[0]
	d.Findings = slices.Clone(d.Findings)
	d.Findings[0].LastTime = t0.Add(24 * time.Hour)
	if err := s.PutDevice(d); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Writes != 2 {
		t.Errorf("%d writes, want the first and the final one (with the finding seen again)", st.Writes)
	}
	got := h.open().Snapshot().Devices[0]
	if !slices.ContainsFunc(got.Findings, func(e event.Event) bool { return e.LastTime.Equal(t0.Add(24 * time.Hour)) }) {
		t.Errorf("the finding seen again was not kept: %+v", got.Findings)
	}
}

func TestEventCostTracksEncodedSize(t *testing.T) {
	plain := finding(event.KindWeakTLS, t0, nil)
	plain.Flow = nil
	rich := benchDevice(1, 1).Findings[0]
	rich.Source = "br-lan"
	rich.Packet = 123456
	rich.Verified = true
	for _, e := range []event.Event{plain, finding(event.KindDefaultCredentials, t0, event.Evidence{"protocol": "ftp", "user": "ad***"}), rich} {
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		ratio := float64(eventCost(&e)) / float64(len(b))
		if ratio < 0.9 || ratio > 1.5 {
			t.Errorf("estimate %d for %d encoded bytes (ratio %.2f): %s", eventCost(&e), len(b), ratio, b)
		}
	}
}

// TestSizeCapKeepsQuarantinedDevices: with findings gone and the file
// still too big, whole devices go, least recently seen first, but never
// one that is quarantined or decided by the owner.
func TestSizeCapKeepsQuarantinedDevices(t *testing.T) {
	h := newHarness(t)
	s := h.openCapped(MinMaxBytes)
	long := strings.Repeat("v", maxNameLen)
	for d := range 200 { // ~ 120 KiB of identities
		rec := DeviceRecord{MAC: mac(byte(d)), LastSeen: t0.Add(time.Duration(d) * time.Minute),
			Identity: Identity{Vendor: long, Model: long, Firmware: long}}
		rec.MAC[4] = byte(d >> 8)
		if err := s.PutDevice(rec); err != nil {
			t.Fatal(err)
		}
		if err := s.PutVerdict(Verdict{MAC: rec.MAC, Action: "alert"}); err != nil {
			t.Fatal(err)
		}
	}
	// The two least recently seen devices are the protected ones.
	if err := s.PutQuarantine(Quarantine{MAC: mac(0), Mode: "block", By: ActorPolicy}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDecision(Decision{MAC: mac(1), Trusted: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if h.fileSize() > MinMaxBytes || st.TrimmedDevices == 0 || st.OverCap {
		t.Fatalf("file of %d bytes, stats %+v", h.fileSize(), st)
	}
	// The same trim on the next write is worth a debug line, not a second
	// warning.
	if err := s.PutVerdict(Verdict{MAC: mac(1), Action: "ignore"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h.logs.String(), "level=WARN msg=\"state over its size cap"); n != 1 {
		t.Errorf("%d trim warnings after two identical trims, want 1:\n%s", n, h.logs)
	}
	if !strings.Contains(h.logs.String(), "devices_left_out=") {
		t.Errorf("trim warning lacks the count:\n%s", h.logs)
	}
	loaded := h.open().Snapshot()
	if loaded.Devices[0].MAC != mac(0) || loaded.Devices[1].MAC != mac(1) {
		t.Errorf("protected devices left out; first kept: %s, %s", loaded.Devices[0].MAC, loaded.Devices[1].MAC)
	}
	if len(loaded.Devices) != len(loaded.Verdicts) {
		t.Errorf("%d devices but %d verdicts: a verdict must go with its device", len(loaded.Devices), len(loaded.Verdicts))
	}
	// The unprotected ones kept are the most recently seen.
	last := loaded.Devices[len(loaded.Devices)-1]
	if want := t0.Add(199 * time.Minute); !last.LastSeen.Equal(want) {
		t.Errorf("most recently seen device missing: last kept seen %v", last.LastSeen)
	}
	if len(loaded.Devices)+st.TrimmedDevices != 200 {
		t.Errorf("%d kept + %d left out != 200", len(loaded.Devices), st.TrimmedDevices)
	}
}

func TestSizeCapDropsOldestAlertsLast(t *testing.T) {
	h := newHarness(t)
	o := h.options()
	o.MaxBytes = MinMaxBytes
	o.MaxOutbox = 100
	s := Open(o)
	big := `{"body":"` + strings.Repeat("a", 4000) + `"}`
	for range 30 { // ~ 120 KiB
		if _, err := s.Enqueue(json.RawMessage(big), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if h.fileSize() > MinMaxBytes || st.TrimmedOutbox == 0 {
		t.Fatalf("file of %d bytes, stats %+v", h.fileSize(), st)
	}
	p := h.open().Pending(0)
	if len(p)+st.TrimmedOutbox != 30 || p[len(p)-1].ID != 30 || p[0].ID != uint64(st.TrimmedOutbox+1) {
		t.Errorf("kept ids %d..%d, want the newest", p[0].ID, p[len(p)-1].ID)
	}
}

// TestSizeCapNeverDropsQuarantines: quarantines and decisions alone over
// the cap are written anyway, with a warning.
func TestSizeCapNeverDropsQuarantines(t *testing.T) {
	h := newHarness(t)
	s := h.openCapped(MinMaxBytes)
	reason := strings.Repeat("r", maxReasonLen)
	for i := range 200 { // ~ 120 KiB
		q := Quarantine{MAC: mac(byte(i)), Mode: "block", By: ActorPolicy, Reason: reason}
		q.MAC[4] = byte(i >> 8)
		if err := s.PutQuarantine(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutDevice(DeviceRecord{MAC: mac(250)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if !st.OverCap || st.TrimmedDevices != 1 || h.fileSize() <= MinMaxBytes {
		t.Fatalf("stats %+v, file of %d bytes", st, h.fileSize())
	}
	if !strings.Contains(h.logs.String(), "written anyway") {
		t.Errorf("no warning:\n%s", h.logs)
	}
	if got := len(h.openCapped(MinMaxBytes).Snapshot().Quarantines); got != 200 {
		t.Errorf("%d quarantines read back, want 200", got)
	}
}
