package store

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the state file reader. Whatever it
// accepts must come out within the caps, and writing that state and
// reading it back must give the same state.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"v0.json", "v1.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{}`, `null`, `{"schema":1}`, `{"schema":2}`, `{"schema":1,"devices":[null]}`,
		`{"schema":1,"outbox":[{"id":5,"payload":1},{"id":5,"payload":2},{"id":0,"payload":3}],"next_outbox_id":2}`,
		`{"quarantines":[{"mac":"c0:56:e3:00:00:01","owner":true,"expires":null}]}`,
		`{"schema":1,"quarantines":[{"mac":"00:00:00:00:00:00","mode":"","by":"x"}]}`,
		`{"schema":1,"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"block","by":"firewall"}]}`,
		`{"schema":1,"quarantines":[{"mac":"c0:56:e3:00:00:01","since":"x"}],"devices":{}}`,
		`{"schema":1,"devices":[{"mac":"c0:56:e3:00:00:01","findings":[{"severity":"severe"},{"severity":"high"}]}]}`,
		`{"schema":3,"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":{"x":1}}],"verdicts":[{"mac":"c0:56:e3:00:00:02"}],` +
			`"devices":[{"mac":"c0:56:e3:00:00:02","findings":[{"severity":"high"}]}],"outbox":[{"id":3,"payload":1}]}`,
	} {
		f.Add([]byte(s))
	}
	opts := Options{MaxDevices: 8, MaxFindingsPerDevice: 4, MaxOutbox: 4}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, _, err := decode(data, opts.MaxFindingsPerDevice)
		if err != nil {
			return
		}
		s := newStore(opts)
		s.adopt(doc)
		first := s.Snapshot()
		checkInvariants(t, s, first)

		again, _, err := encode(s.document(), math.MaxInt)
		if err != nil {
			t.Fatalf("cannot encode an accepted state: %v", err)
		}
		doc2, from, err := decode(again, opts.MaxFindingsPerDevice)
		if err != nil || from != SchemaVersion {
			t.Fatalf("cannot read back what was written (schema %d): %v\n%s", from, err, again)
		}
		s2 := newStore(opts)
		if len(doc2.unreadable) != 0 {
			t.Errorf("unreadable records on the second read: %+v", doc2.unreadable)
		}
		if dropped := s2.adopt(doc2); dropped != 0 {
			t.Errorf("%d records dropped on the second read", dropped)
		}
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(s2.Snapshot())
		if !bytes.Equal(a, b) {
			t.Errorf("state changed through a write and a read:\n%s\n%s", a, b)
		}
	})
}

func checkInvariants(t *testing.T, s *Store, st State) {
	t.Helper()
	o := s.opts
	if len(st.Devices) > o.MaxDevices || len(st.Verdicts) > o.MaxDevices || len(st.Quarantines) > o.MaxDevices ||
		len(st.Decisions) > o.MaxDevices || len(st.Outbox) > o.MaxOutbox {
		t.Fatalf("over a cap: %d devices, %d verdicts, %d quarantines, %d decisions, %d alerts",
			len(st.Devices), len(st.Verdicts), len(st.Quarantines), len(st.Decisions), len(st.Outbox))
	}
	for _, d := range st.Devices {
		if d.MAC.IsZero() || len(d.Findings) > o.MaxFindingsPerDevice || len(d.Addrs) > MaxAddrs {
			t.Fatalf("device record out of bounds: %+v", d)
		}
	}
	for _, q := range st.Quarantines {
		if q.MAC.IsZero() || q.Mode == "" || !q.By.Valid() {
			t.Fatalf("quarantine record invalid: %+v", q)
		}
	}
	var last uint64
	for _, it := range st.Outbox {
		if it.ID <= last || !json.Valid(it.Payload) {
			t.Fatalf("outbox out of order or invalid: %+v", st.Outbox)
		}
		last = it.ID
	}
	if s.nextID <= last {
		t.Fatalf("next outbox id %d would reuse %d", s.nextID, last)
	}
}
