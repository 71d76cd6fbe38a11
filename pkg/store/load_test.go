package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// peakHeap runs f and returns the most the heap grew over what it held
// before, sampled every millisecond. The collector runs at a tenth over
// the live heap meanwhile, so that the figure is what f holds rather
// than the garbage the default setting lets pile up between collections
// (which would at most double it). Sampling can only miss a peak, never
// invent one.
func peakHeap(f func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak - base
}

// hostileFile is a state file of devices with perDevice findings each,
// all alike, up to size bytes: what a damaged or hostile file can hold
// within the read limit, far over the findings a device keeps.
func hostileFile(size, perDevice int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"schema":1,"devices":[`)
	for i := 0; i == 0 || b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"mac":"02:00:00:%02x:%02x:%02x","findings":[`, i>>16&255, i>>8&255, i&255)
		for j := range perDevice {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"v":1,"time":"2026-03-04T05:%02d:%02d Z","type":"finding","kind":"weak_tls","severity":"low","evidence":{"a":"","b":"","c":"","d":"","e":"","f":"","g":"","h":""}}`, j/60%60, j%60)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`],"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"block","since":"2026-03-04T05:06:07Z","by":"owner"}]}`)
	return bytes.ReplaceAll(b.Bytes(), []byte(" Z"), []byte("Z"))
}

// TestOpenMemoryBounded: opening a state file holds at most a small
// multiple of the file in memory, however many findings it lists per
// device. It used to hold every finding decoded, then a second copy,
// next to three raw copies of the file: ~14 times a hostile file's size
// (10 MiB → ~150 MiB), an out-of-memory at every start on a router. A
// file without a schema field, read as the draft layout, was migrated as
// one generic tree: ~10 times its size.
func TestOpenMemoryBounded(t *testing.T) {
	testenv.SkipShort(t, "writes and reads files of several MiB; not in -short mode")
	tests := []struct {
		name     string
		maxBytes int
		file     func(t *testing.T, path string) []byte
	}{
		{"written_at_the_largest_cap", maxStoreBytesForTest, func(t *testing.T, path string) []byte {
			s := Open(Options{Path: path, MaxBytes: maxStoreBytesForTest})
			for i := range DefaultMaxDevices {
				if err := s.PutDevice(benchDevice(i, DefaultMaxFindingsPerDevice)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"hostile_200_findings_per_device", DefaultMaxBytes, func(t *testing.T, path string) []byte {
			return hostileFile(10<<20, 200)
		}},
		{"hostile_one_device", DefaultMaxBytes, func(t *testing.T, path string) []byte {
			return hostileFile(1, 40000)
		}},
		// No schema field reads as the draft layout, which is migrated:
		// record by record too, not as one tree of the whole file.
		{"hostile_without_schema", DefaultMaxBytes, func(t *testing.T, path string) []byte {
			return bytes.Replace(hostileFile(10<<20, 200), []byte(`"schema":1,`), nil, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			data := tt.file(t, path)
			if int64(len(data)) > readLimit(tt.maxBytes, DefaultMaxDevices) {
				t.Fatalf("file of %d bytes is over the read limit", len(data))
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			var s *Store
			peak := peakHeap(func() { s = Open(Options{Path: path, MaxBytes: tt.maxBytes}) })
			st := s.Snapshot()
			t.Logf("file %d KiB, %d devices: heap peak %d KiB over the start (%.1f× the file)",
				len(data)>>10, len(st.Devices), peak>>10, float64(peak)/float64(len(data)))
			if s.Stats().LoadError != "" || len(st.Devices) == 0 {
				t.Fatalf("not loaded: %q", s.Stats().LoadError)
			}
			// The file, the records kept, one record being read: 2.4 to
			// 3 times the file when measured; 5 to 10 times before
			// findings were read as a stream.
			if limit := 7*uint64(len(data))/2 + 2<<20; peak > limit {
				t.Errorf("heap grew by %d KiB opening a %d KiB file, want at most %d KiB", peak>>10, len(data)>>10, limit>>10)
			}
		})
	}
}

// maxStoreBytesForTest is the largest max_bytes the configuration takes
// (pkg/config).
const maxStoreBytesForTest = 8 << 20

// TestDecodeKeepsNewestFindings: a device's findings are cut to the
// newest while they are read, to the same ones PutDevice would keep of
// them all, and the rest are counted.
func TestDecodeKeepsNewestFindings(t *testing.T) {
	times := func(offsets ...int) []time.Time {
		var out []time.Time
		for _, o := range offsets {
			out = append(out, t0.Add(time.Duration(o)*time.Minute))
		}
		return out
	}
	tests := []struct {
		name  string
		times []time.Time
		max   int
	}{
		{"fewer_than_the_cap", times(3, 1, 2), 4},
		{"in_order", times(1, 2, 3, 4, 5, 6), 3},
		{"reversed", times(6, 5, 4, 3, 2, 1), 3},
		{"shuffled", times(4, 9, 1, 7, 3, 8, 2, 6, 5), 4},
		{"ties_keep_the_later", times(1, 1, 1, 1, 1), 2},
		{"ties_around_the_cut", times(2, 1, 2, 3, 1, 2), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := DeviceRecord{MAC: mac(1), DroppedFindings: 2}
			for i, at := range tt.times {
				rec.Findings = append(rec.Findings, finding(event.KindWeakTLS, at, event.Evidence{"n": fmt.Sprint(i)}))
			}
			b, err := json.Marshal(document{Schema: SchemaVersion, Devices: []*DeviceRecord{&rec}})
			if err != nil {
				t.Fatal(err)
			}
			doc, _, err := decode(b, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(doc.Devices[0])
			want, _ := json.Marshal(rec.normalize(tt.max))
			if !bytes.Equal(got, want) {
				t.Errorf("decoded\n%s\nwant, as PutDevice keeps them\n%s", got, want)
			}
		})
	}
}

// TestWrittenFileWithinReadLimit: whatever the store holds, the file it
// writes is within the read limit, so that it opens again: over the
// cap, the verdicts and devices of quarantined or decided devices are
// left out too, and a quarantine or decision is cut to its encoded bound
// when stored, however its text escapes.
func TestWrittenFileWithinReadLimit(t *testing.T) {
	const devices = 64
	escapes := strings.Repeat("<\x01\xff", 1000) // 6 bytes each in JSON
	h := newHarness(t)
	o := h.options()
	o.MaxBytes, o.MaxDevices = MinMaxBytes, devices
	s := Open(o)
	long := strings.Repeat("v", maxNameLen)
	for i := range devices {
		m := hwaddr.MAC{0x02, 0, 0, 0, 0, byte(i)}
		if err := s.PutDevice(DeviceRecord{MAC: m, LastSeen: t0, Identity: Identity{Vendor: long, Model: long, Hostname: escapes}}); err != nil {
			t.Fatal(err)
		}
		v := Verdict{MAC: m, Action: "quarantine", Time: t0}
		for range DefaultMaxFindingsPerDevice {
			v.Reasons = append(v.Reasons, Reason{Kind: event.KindWeakTLS, Action: "alert", Summary: escapes})
		}
		if err := s.PutVerdict(v); err != nil {
			t.Fatal(err)
		}
		if err := s.PutQuarantine(Quarantine{MAC: m, Mode: escapes, By: ActorPolicy, Since: t0, Until: t0, Reason: escapes}); err != nil {
			t.Fatal(err)
		}
		d := Decision{MAC: m, Name: escapes, Force: escapes, Trusted: true, ReleasedAt: t0, OwnerLogin: t0, Updated: t0}
		for range MaxExempt {
			d.Exempt = append(d.Exempt, event.Kind(escapes))
		}
		if err := s.PutDecision(d); err != nil {
			t.Fatal(err)
		}
	}
	for i := range MaxMutedAlertChannels {
		// Valid UTF-8, to read back as it was.
		if err := s.SetAlertChannelMuted(fmt.Sprintf("%02d", i)+strings.Repeat("<\x01", maxChannelNameLen)[:maxChannelNameLen-2], true); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Snapshot()
	for _, q := range st.Quarantines {
		if b, _ := json.Marshal(q); len(b) > maxQuarantineJSON {
			t.Fatalf("quarantine encodes in %d bytes, bound %d", len(b), maxQuarantineJSON)
		}
	}
	for _, d := range st.Decisions {
		if b, _ := json.Marshal(d); len(b) > maxDecisionJSON {
			t.Fatalf("decision encodes in %d bytes, bound %d", len(b), maxDecisionJSON)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	size, limit := int64(h.fileSize()), readLimit(MinMaxBytes, devices)
	t.Logf("file %d bytes, read limit %d, stats %+v", size, limit, s.Stats())
	if size > limit {
		t.Fatalf("file of %d bytes over the read limit of %d", size, limit)
	}
	if !s.Stats().OverCap {
		t.Error("not over the cap: the test does not reach the bound")
	}
	again := Open(o).Snapshot()
	if len(again.Quarantines) != devices || len(again.Decisions) != devices || len(again.MutedAlertChannels) != MaxMutedAlertChannels {
		t.Errorf("read back %d quarantines, %d decisions, %d muted channels", len(again.Quarantines), len(again.Decisions), len(again.MutedAlertChannels))
	}
}

// TestPlainTextNotCut: the encoded bounds never cut what the per-field
// caps allow of text JSON does not escape.
func TestPlainTextNotCut(t *testing.T) {
	q := Quarantine{MAC: mac(1), Mode: strings.Repeat("m", maxModeLen), Reason: strings.Repeat("r", maxReasonLen),
		By: ActorUpdate, Since: t0, Until: t0}
	d := Decision{MAC: mac(1), Name: strings.Repeat("é", maxOwnerNameLen/2), Force: strings.Repeat("f", maxActionLen),
		Trusted: true, ReleasedAt: t0, OwnerLogin: t0, Updated: t0}
	for range MaxExempt {
		d.Exempt = append(d.Exempt, event.Kind(strings.Repeat("k", maxKindJSON)))
	}
	diffJSON(t, q.normalize(), q)
	diffJSON(t, d.normalize(), d)
}
