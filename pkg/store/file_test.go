package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/statefile"
	"github.com/iotgw/iotgw/pkg/event"
)

// validFile is a complete state file as the store writes it.
func validFile(t *testing.T) []byte {
	t.Helper()
	h := newHarness(t)
	s := h.open()
	fill(t, s, sampleState())
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCorruptFileMovedAside: whatever is at the path, Open starts with an
// empty state, keeps a copy of the bad file under a new name, says so in
// one warning and writes a fresh file over it.
func TestCorruptFileMovedAside(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		reason  string // in the log line
	}{
		{"zero_length", nil, "empty file"},
		{"whitespace_only", []byte(" \n\t"), "empty file"},
		{"all_zeros_torn_write", make([]byte, 4096), "not a JSON object"},
		{"binary_garbage", []byte("\x00\x01\xfe\xffPK\x03\x04"), "not a JSON object"},
		{"bad_json", []byte(`{"schema":1,"devices":[}`), "invalid character"},
		{"top_level_array", []byte(`[{"schema":1}]`), "not a JSON object"},
		{"top_level_null", []byte(`null`), "not a JSON object"},
		{"two_documents", []byte(`{"schema":1}{"schema":1}`), "invalid character"},
		{"negative_schema", []byte(`{"schema":-1}`), "invalid schema -1"},
		{"fractional_schema", []byte(`{"schema":1.5}`), "cannot unmarshal number 1.5"},
		{"string_schema", []byte(`{"schema":"1"}`), "cannot unmarshal string"},
		{"payload_not_json", []byte(`{"schema":1,"outbox":[{"id":1,"payload":nope}]}`), "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.writeFile(tt.content)
			s := h.open()
			checkMovedAside(t, h, s, tt.reason)
			moved, err := os.ReadFile(h.path + ".corrupt-20260304T050607Z")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(moved, tt.content) {
				t.Error("the moved file's content changed")
			}
		})
	}
}

// TestDamagedFileKeepsOwnerRecords: a file damaged after its beginning
// (cut short by a torn write, bytes after the document, over the read
// limit) keeps the records read whole before the damage. The store
// writes the quarantines and the owner's decisions first, so damage in
// the devices, the bulk of the file, costs neither: the file is copied
// aside with a warning, what was read is written over it at once, and the
// owner is not told of a loss (LoadError). Damage before they were read
// whole is a loss the owner hears of, with what was kept. All of it used
// to be lost with any damage.
func TestDamagedFileKeepsOwnerRecords(t *testing.T) {
	good := validFile(t)
	devices := bytes.Index(good, []byte(`"devices":`))
	if devices < 0 || devices < bytes.Index(good, []byte(`"decisions":`)) {
		t.Fatal("the store does not write the devices after the decisions")
	}
	const (
		q1 = `{"mac":"c0:56:e3:00:00:01","mode":"block","since":"2026-03-04T05:06:07Z","by":"owner"}`
		q2 = `{"mac":"c0:56:e3:00:00:02","mode":"block","since":"2026-03-04T05:06:07Z","by":"policy"}`
		tv = `{"mac":"c0:56:e3:00:00:02","trusted":true}`
	)
	all := func(t *testing.T, st State) {
		want := sampleState()
		want.Outbox = st.Outbox
		diffJSON(t, st, want)
	}
	tests := []struct {
		name    string
		content []byte
		options func(*Options)
		reason  string // in the warning
		lost    string // in LoadError; "" for none
		check   func(t *testing.T, st State)
	}{
		{"truncated_in_devices", good[:devices+(len(good)-devices)/2], nil, "unexpected end of JSON input", "",
			func(t *testing.T, st State) {
				want := sampleState()
				diffJSON(t, st.Quarantines, want.Quarantines)
				diffJSON(t, st.Decisions, want.Decisions)
				diffJSON(t, st.MutedAlertChannels, want.MutedAlertChannels)
				diffJSON(t, st.Verdicts, want.Verdicts)
			}},
		{"truncated_last_byte", good[:len(good)-1], nil, "unexpected end of JSON input", "", all},
		{"trailing_garbage", append(slices.Clone(good), "xyz"...), nil, "invalid character", "", all},
		{"zeros_after_document", append(slices.Clone(good), make([]byte, 512)...), nil, "invalid character", "", all},
		{"bad_json_in_devices", []byte(`{"schema":1,"quarantines":[` + q1 + `],"decisions":[` + tv + `],"devices":[{"mac":}]}`), nil,
			"invalid character", "", func(t *testing.T, st State) {
				if len(st.Quarantines) != 1 || len(st.Decisions) != 1 {
					t.Errorf("quarantines %+v, decisions %+v; want one each", st.Quarantines, st.Decisions)
				}
			}},
		{"truncated_in_quarantines", []byte(`{"schema":1,"quarantines":[` + q1 + `,` + q2[:30]), nil,
			"unexpected end of JSON input", "kept the 1 quarantines, 0 decisions and 0 muted alert channels read before the damage, any after it are lost",
			func(t *testing.T, st State) {
				if len(st.Quarantines) != 1 || st.Quarantines[0].MAC != mac(1) {
					t.Errorf("quarantines %+v, want the first", st.Quarantines)
				}
			}},
		// The muted channels come after the decisions, and are as much
		// the owner's word.
		{"truncated_in_muted_channels", []byte(`{"schema":1,"quarantines":[` + q1 + `],"decisions":[` + tv + `],"muted_alert_channels":["mail","pho`), nil,
			"unexpected end of JSON input", "kept the 1 quarantines, 1 decisions and 1 muted alert channels read before the damage, any after it are lost",
			func(t *testing.T, st State) {
				if len(st.Quarantines) != 1 || len(st.Decisions) != 1 || !slices.Equal(st.MutedAlertChannels, []string{"mail"}) {
					t.Errorf("quarantines %+v, decisions %+v, muted %v; want one each", st.Quarantines, st.Decisions, st.MutedAlertChannels)
				}
			}},
		{"truncated_before_muted_channels", []byte(`{"schema":1,"quarantines":[` + q1 + `],"decisions":[` + tv + `],`), nil,
			"unexpected end of JSON input", "kept the 1 quarantines, 1 decisions and 0 muted alert channels", func(*testing.T, State) {}},
		// Earlier builds left the muted channels out when there were
		// none: a member after the decisions says so.
		{"none_muted_by_earlier_build_truncated_in_devices", []byte(`{"schema":1,"quarantines":[` + q1 + `],"decisions":[` + tv + `],"devices":[{"mac":"c0:56:e3:00:00:01"},{"mac":"c0:5`), nil,
			"unexpected end of JSON input", "", func(t *testing.T, st State) {
				if len(st.Quarantines) != 1 || len(st.Decisions) != 1 || len(st.Devices) != 1 {
					t.Errorf("quarantines %+v, decisions %+v, devices %+v; want one each", st.Quarantines, st.Decisions, st.Devices)
				}
			}},
		// Builds before those wrote the devices first and the muted
		// channels last, after the outbox: reaching the outbox says
		// nothing of them.
		{"devices_first_truncated_in_outbox", []byte(`{"schema":1,"devices":[{"mac":"c0:56:e3:00:00:01"}],"quarantines":[` + q1 + `],"decisions":[` + tv +
			`],"outbox":[{"id":1,"created":"2026-03-04T05:06:07Z","next_attempt":"2026-03-04T05:06:07Z","payload":{"k":"v"}},{"id":2,"cre`), nil,
			"unexpected end of JSON input", "kept the 1 quarantines, 1 decisions and 0 muted alert channels", func(t *testing.T, st State) {
				if len(st.Quarantines) != 1 || len(st.Decisions) != 1 {
					t.Errorf("quarantines %+v, decisions %+v; want one each", st.Quarantines, st.Decisions)
				}
			}},
		// The previous order, devices first: the decisions cannot have
		// been read.
		{"devices_first_truncated", []byte(`{"schema":1,"devices":[{"mac":"c0:56:e3:00:00:01"},{"mac":"c0:5`), nil,
			"unexpected end of JSON input", "kept the 0 quarantines, 0 decisions and 0 muted alert channels",
			func(t *testing.T, st State) {
				if len(st.Devices) != 1 {
					t.Errorf("devices %+v, want the first", st.Devices)
				}
			}},
		{"over_read_limit", []byte(`{"schema":1,"quarantines":[` + q1 + `,` + q2 + `],"decisions":[` + tv + `],"devices":[{"mac":"c0:56:e3:00:00:01","identity":{"vendor":"` +
			strings.Repeat("v", 200<<10) + `"}}]}`),
			func(o *Options) { o.MaxBytes, o.MaxDevices = MinMaxBytes, 8 }, "over the read limit", "",
			func(t *testing.T, st State) {
				if len(st.Quarantines) != 2 || len(st.Decisions) != 1 || len(st.Devices) != 0 {
					t.Errorf("quarantines %+v, decisions %+v, devices %+v; want the two and the one, no device", st.Quarantines, st.Decisions, st.Devices)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			o := h.options()
			if tt.options != nil {
				tt.options(&o)
				if int64(len(tt.content)) <= readLimit(o.MaxBytes, o.MaxDevices) {
					t.Fatalf("file of %d bytes within the read limit", len(tt.content))
				}
			}
			h.writeFile(tt.content)
			s := Open(o)
			st := s.Snapshot()
			tt.check(t, st)
			dst := h.path + ".corrupt-20260304T050607Z"
			if moved, err := os.ReadFile(dst); err != nil || !bytes.Equal(moved, tt.content) {
				t.Errorf("file not set aside as it was: %v", err)
			}
			var line string
			for l := range strings.SplitSeq(h.logs.String(), "\n") {
				if strings.Contains(l, "state file damaged") {
					line = l
				}
			}
			for _, want := range []string{"level=WARN", "copy=" + dst, tt.reason, fmt.Sprintf("owner_records_whole=%v", tt.lost == "")} {
				if !strings.Contains(line, want) {
					t.Errorf("log line %q lacks %q; all logs:\n%s", line, want, h.logs)
				}
			}
			got := s.Stats().LoadError
			if tt.lost == "" && got != "" || !strings.Contains(got, tt.lost) {
				t.Errorf("LoadError %q, want %q", got, tt.lost)
			}
			// What was kept goes back on flash at once, over the damaged
			// file, and reads back the same.
			if !s.Stats().Dirty {
				t.Fatal("what was kept is not to be written")
			}
			stop := h.run(s)
			waitWrites(t, s, 1)
			if st := s.Stats(); st.UrgentWrites != 1 {
				t.Errorf("stats %+v, want one urgent write", st)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			diffJSON(t, Open(o).Snapshot(), s.Snapshot())
		})
	}
}

// TestDamagedFileSurvivesPowerCut: a power cut after Open set a damaged
// file aside and before the first write (Open does not write; Run does)
// leaves the next start what the first one had: the records read before
// the damage, and word of what was lost (LoadError), which the daemon
// turns into the owner's alert. The file used to be renamed away first,
// and the next start found no file: an empty state and no alert.
func TestDamagedFileSurvivesPowerCut(t *testing.T) {
	good := validFile(t)
	devices := bytes.Index(good, []byte(`"devices":`))
	const q1 = `{"mac":"c0:56:e3:00:00:01","mode":"block","since":"2026-03-04T05:06:07Z","by":"owner"}`
	tests := []struct {
		name    string
		content []byte
		lost    bool // LoadError is set
	}{
		{"unreadable", []byte("\x00\x01\xfe\xffPK\x03\x04"), true},
		{"damaged_in_devices", good[:devices+(len(good)-devices)/2], false},
		{"damaged_in_quarantines", []byte(`{"schema":1,"quarantines":[` + q1 + `,{"mac":"c0:5`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.writeFile(tt.content)
			first := h.open()
			want, lost := first.Snapshot(), first.Stats().LoadError
			if (lost != "") != tt.lost {
				t.Fatalf("LoadError %q at the first start", lost)
			}
			// The power goes: no write. The next start:
			h.clock.Advance(time.Second)
			next := h.open()
			if got := next.Stats().LoadError; (got != "") != tt.lost {
				t.Errorf("LoadError %q after a power cut, want it set: %v", got, tt.lost)
			}
			diffJSON(t, next.Snapshot(), want)
			if copies := siblings(h.path, corruptInfix); len(copies) == 0 {
				t.Error("no copy of the damaged file kept")
			}
			// Once written, the file is whole and says nothing was lost.
			if err := next.Flush(); err != nil {
				t.Fatal(err)
			}
			after := h.open()
			if got := after.Stats().LoadError; got != "" {
				t.Errorf("LoadError %q after the write", got)
			}
			diffJSON(t, after.Snapshot(), want)
		})
	}
}

// TestEveryCutOfTheFileIsNoticed loads every prefix of real state files,
// as a torn write or the read limit leaves them: whenever the owner's
// records — quarantines, decisions, muted alert channels — come back
// fewer than the whole file holds, the loss is named in LoadError, which
// the daemon turns into the owner's alert. A cut between the end of the
// decisions and the end of the muted channels used to drop the channels
// with only a warning in the log.
func TestEveryCutOfTheFileIsNoticed(t *testing.T) {
	noneMuted := sampleState()
	noneMuted.MutedAlertChannels = nil
	tests := []struct {
		name  string
		state State
	}{
		{"sample", sampleState()},
		{"none_muted", noneMuted},
		{"owner_records_only", State{Quarantines: noneMuted.Quarantines, Decisions: noneMuted.Decisions}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.open()
			fill(t, s, tt.state)
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(h.path)
			if err != nil {
				t.Fatal(err)
			}
			whole := s.Snapshot()
			failures := 0
			for n := 1; n < len(file) && failures < 5; n++ {
				// The prefix is handed to the store as its file: a copy
				// kept aside is not needed here.
				cut := newStore(h.options())
				cut.readFile = func(string, int64) ([]byte, error) { return file[:n], nil }
				cut.copyFile = func(dst, src string) error { return nil }
				cut.load()
				got, loadErr := cut.Snapshot(), cut.Stats().LoadError
				var lost []string
				if !reflect.DeepEqual(got.Quarantines, whole.Quarantines) {
					lost = append(lost, "quarantines")
				}
				if !reflect.DeepEqual(got.Decisions, whole.Decisions) {
					lost = append(lost, "decisions")
				}
				if !slices.Equal(got.MutedAlertChannels, whole.MutedAlertChannels) {
					lost = append(lost, "muted alert channels")
				}
				if len(lost) > 0 && loadErr == "" {
					failures++
					t.Errorf("file cut after %d of %d bytes (…%s): lost %v, and LoadError is empty", n, len(file), file[max(0, n-40):n], lost)
				}
			}
		})
	}
}

// TestUnreadableRecordsLeftOut: a record the reader cannot parse (a
// value a newer build added, a field of the wrong type) is left out on
// its own; the owner's decisions, the quarantines and every other record
// are loaded, the file is kept as read in a copy beside it, and a warning
// names the table and the reason. It used to move the whole file aside.
func TestUnreadableRecordsLeftOut(t *testing.T) {
	good := string(validFile(t))
	findings := strings.Index(good, `"findings":`) // verdicts' reasons have severities too
	newerSeverity := good[:findings] + strings.Replace(good[findings:], `"severity":"high"`, `"severity":"severe"`, 1)
	if findings < 0 || newerSeverity == good {
		t.Fatal("no finding's severity in the sample file")
	}
	const tv = `"mac":"c0:56:e3:00:00:02"`
	tests := []struct {
		name    string
		content string
		table   string // in the warning
		reason  string
		check   func(t *testing.T, st State)
	}{
		{"finding_of_a_newer_severity", newerSeverity, "findings", "unknown severity", func(t *testing.T, st State) {
			want := sampleState()
			want.Devices[0].Findings, want.Devices[0].DroppedFindings = nil, 1
			diffJSON(t, st, want)
		}},
		{"device_bad_mac", `{"schema":1,"devices":[{"mac":"zz:zz"},{` + tv + `}],"decisions":[{` + tv + `,"trusted":true}]}`,
			"devices", "invalid MAC address", func(t *testing.T, st State) {
				if len(st.Devices) != 1 || len(st.Decisions) != 1 || !st.Decisions[0].Trusted {
					t.Errorf("devices %+v, decisions %+v; want the TV and its decision", st.Devices, st.Decisions)
				}
			}},
		{"decision_wrong_type", `{"schema":1,"decisions":[{"mac":"c0:56:e3:00:00:01","trusted":"yes"},{` + tv + `,"name":"TV"}]}`,
			"decisions", "cannot unmarshal string", func(t *testing.T, st State) {
				if len(st.Decisions) != 1 || st.Decisions[0].Name != "TV" {
					t.Errorf("decisions %+v, want the TV's only", st.Decisions)
				}
			}},
		// Dropping a quarantine would free the device once a reboot has
		// emptied the kernel's sets: it is kept by its MAC instead.
		{"quarantine_kept_by_mac", `{"schema":1,"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"isolate","since":"yesterday","until":"2026-03-05T00:00:00Z","by":"owner"},{"mode":7}]}`,
			"quarantines", "cannot parse", func(t *testing.T, st State) {
				want := []Quarantine{{MAC: mac(1), Mode: "block", By: ActorPolicy}}
				diffJSON(t, st.Quarantines, want)
			}},
		{"quarantine_kept_is_reported", `{"schema":1,"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"block","since":"yesterday","by":"policy"}]}`,
			"quarantines", "kept_as_block_by_mac=1", func(t *testing.T, st State) {
				if len(st.Quarantines) != 1 {
					t.Errorf("quarantines %+v, want one", st.Quarantines)
				}
			}},
		{"devices_not_a_list", `{"schema":1,"devices":{` + tv + `},"decisions":[{` + tv + `,"trusted":true}]}`,
			"devices", "not a list", func(t *testing.T, st State) {
				if len(st.Devices) != 0 || len(st.Decisions) != 1 {
					t.Errorf("devices %+v, decisions %+v; want the decision only", st.Devices, st.Decisions)
				}
			}},
		{"outbox_item_bad_id", `{"schema":1,"next_outbox_id":9,"outbox":[{"id":"one","payload":{}},{"id":4,"payload":{"a":1}}]}`,
			"outbox", "cannot unmarshal string", func(t *testing.T, st State) {
				if len(st.Outbox) != 1 || st.Outbox[0].ID != 4 {
					t.Errorf("outbox %+v, want item 4 only", st.Outbox)
				}
			}},
		{"next_outbox_id_bad", `{"schema":1,"next_outbox_id":"nine","outbox":[{"id":4,"payload":{}}]}`,
			"next_outbox_id", "cannot unmarshal string", func(t *testing.T, st State) {
				if len(st.Outbox) != 1 {
					t.Errorf("outbox %+v, want item 4", st.Outbox)
				}
			}},
		{"muted_channel_not_a_name", `{"schema":1,"muted_alert_channels":["phone",7]}`,
			"muted_alert_channels", "cannot unmarshal number", func(t *testing.T, st State) {
				if !slices.Equal(st.MutedAlertChannels, []string{"phone"}) {
					t.Errorf("muted %v, want phone", st.MutedAlertChannels)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.writeFile([]byte(tt.content))
			s := h.open()
			tt.check(t, s.Snapshot())
			if got := s.Stats().LoadError; got != "" {
				t.Errorf("LoadError %q: nothing the owner decided is lost", got)
			}
			dst := h.path + ".corrupt-20260304T050607Z"
			if kept, err := os.ReadFile(dst); err != nil || string(kept) != tt.content {
				t.Errorf("copy of the file as read: %v, %q", err, kept)
			}
			var line string
			for l := range strings.SplitSeq(h.logs.String(), "\n") {
				if strings.Contains(l, "unreadable records") {
					line = l
				}
			}
			for _, want := range []string{"level=WARN", "table=" + tt.table, tt.reason, "copy=" + dst} {
				if !strings.Contains(line, want) {
					t.Errorf("log line %q lacks %q; all logs:\n%s", line, want, h.logs.String())
				}
			}
			// The next write leaves the unreadable records out, and
			// what was kept reads back as it was.
			if !s.Stats().Dirty {
				t.Error("not dirty: the cleaned state would not be written")
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			before := len(h.logs.String())
			again := h.open()
			if strings.Contains(h.logs.String()[before:], "unreadable") {
				t.Error("the rewritten file still has unreadable records")
			}
			diffJSON(t, again.Snapshot(), s.Snapshot())
		})
	}
}

func TestUnreadablePathMovedAside(t *testing.T) {
	tests := []struct {
		name   string
		make   func(path string) error
		reason string
	}{
		// Opening a FIFO for reading would block until a writer comes.
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "not a regular file"},
		{"over_read_limit", func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(readLimit(DefaultMaxBytes, DefaultMaxDevices) + 1) // sparse: costs no disk
		}, "over the read limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := tt.make(h.path); err != nil {
				t.Fatal(err)
			}
			checkMovedAside(t, h, h.open(), tt.reason)
		})
	}
}

// TestDirectoryAtPathLeftAlone: a directory named as the state file (a
// configuration naming /etc/config) is neither moved aside nor written
// over; nothing is saved, and the page says why.
func TestDirectoryAtPathLeftAlone(t *testing.T) {
	h := newHarness(t)
	inside := filepath.Join(h.path, "network")
	if err := os.MkdirAll(h.path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inside, []byte("config interface 'lan'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := h.open()
	if err := s.PutDevice(DeviceRecord{MAC: mac(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err == nil {
		t.Error("Flush over a directory succeeded")
	}
	if b, err := os.ReadFile(inside); err != nil || string(b) != "config interface 'lan'\n" {
		t.Errorf("the directory's file: %q, %v", b, err)
	}
	if moved := siblings(h.path, corruptInfix); len(moved) != 0 {
		t.Errorf("moved aside: %v", moved)
	}
	if msg := s.Stats().LoadError; !strings.Contains(msg, "is a directory") {
		t.Errorf("load error %q does not say the path is a directory", msg)
	}
}

func checkMovedAside(t *testing.T, h *harness, s *Store, reason string) {
	t.Helper()
	if st := s.Snapshot(); len(st.Devices)+len(st.Quarantines)+len(st.Decisions)+len(st.Verdicts)+len(st.Outbox) != 0 {
		t.Errorf("state not empty: %+v", st)
	}
	dst := h.path + ".corrupt-20260304T050607Z"
	if _, err := os.Lstat(dst); err != nil {
		t.Errorf("not set aside: %v", err)
	}
	logs := h.logs.String()
	var line string
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, "set aside") {
			line = l
		}
	}
	for _, want := range []string{"level=WARN", "path=" + h.path, "copy=" + dst, reason} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q; all logs:\n%s", line, want, logs)
		}
	}
	// And the daemon, so that the owner hears of the loss.
	if got := s.Stats().LoadError; !strings.Contains(got, "set aside as "+dst) || !strings.Contains(got, reason) {
		t.Errorf("LoadError %q, want the reason %q and where the file went", got, reason)
	}
	// The empty state replaces the bad file at once.
	if !s.Stats().Dirty {
		t.Error("the empty state is not to be written over the bad file")
	}
	// The daemon carries on: the next write makes a good file.
	if err := s.PutDecision(Decision{MAC: mac(1), Trusted: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if d := h.open().Snapshot().Decisions; len(d) != 1 {
		t.Errorf("fresh file after the corrupt one: %+v", d)
	}
}

func TestCorruptCopiesBounded(t *testing.T) {
	h := newHarness(t)
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		t.Fatal(err)
	}
	// Two in the same second get distinct names.
	steps := []time.Duration{0, 0, time.Hour, time.Hour, time.Hour}
	for i, d := range steps {
		h.clock.Advance(d)
		if err := os.WriteFile(h.path, []byte(fmt.Sprint("bad ", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		h.open()
	}
	got := siblings(h.path, corruptInfix)
	want := []string{
		h.path + ".corrupt-20260304T060607Z",
		h.path + ".corrupt-20260304T070607Z",
		h.path + ".corrupt-20260304T080607Z",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("copies %v, want the newest %d: %v", got, maxCorruptCopies, want)
	}
	if b, _ := os.ReadFile(want[2]); string(b) != "bad 4" {
		t.Errorf("newest copy holds %q", b)
	}
	h2 := newHarness(t)
	if err := os.MkdirAll(filepath.Dir(h2.path), 0o700); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := os.WriteFile(h2.path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		h2.open()
	}
	if got := siblings(h2.path, corruptInfix); len(got) != 2 || !strings.HasSuffix(got[1], "Z-1") {
		t.Errorf("same-second copies %v, want a -1 suffix on the second", got)
	}
}

// TestCorruptCopiesPrunedByAge: the copies kept beside the state file
// are pruned oldest first by modification time, never the one just made.
// By name, a copy stamped while the clock was behind (a router without an
// RTC before NTP) was deleted at once, and "-10" sorted before "-2".
func TestCorruptCopiesPrunedByAge(t *testing.T) {
	type copyAt struct {
		suffix string // after .corrupt-
		mod    time.Time
	}
	now := time.Now()
	bad := strings.Replace(string(validFile(t)), `"severity":"high"`, `"severity":"severe"`, 1)
	tests := []struct {
		name     string
		clock    time.Time // names the new copy
		content  string    // the state file: moved aside if torn, copied if partly readable
		stateMod time.Time // the state file's; a moved file keeps it
		existing []copyAt
		want     []string // suffixes left, sorted by name
	}{
		{"clock_behind_at_boot", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "{torn", now,
			[]copyAt{{"20260101T000000Z", now.Add(-3 * time.Hour)}, {"20260102T000000Z", now.Add(-2 * time.Hour)}, {"20260103T000000Z", now.Add(-time.Hour)}},
			[]string{"20250101T000000Z", "20260102T000000Z", "20260103T000000Z"}},
		{"suffix_ten_after_two", t0, "{torn", now,
			[]copyAt{{"20260304T050607Z-9", now.Add(-3 * time.Minute)}, {"20260304T050607Z-2", now.Add(-2 * time.Minute)}, {"20260304T050607Z-10", now.Add(-time.Minute)}},
			[]string{"20260304T050607Z", "20260304T050607Z-10", "20260304T050607Z-2"}},
		{"moved_file_oldest", t0, "{torn", now.Add(-10 * time.Hour),
			[]copyAt{{"20260301T000000Z", now.Add(-3 * time.Hour)}, {"20260302T000000Z", now.Add(-2 * time.Hour)}, {"20260303T000000Z", now.Add(-time.Hour)}},
			[]string{"20260302T000000Z", "20260303T000000Z", "20260304T050607Z"}},
		{"copy_while_others_in_the_future", t0, bad, now,
			[]copyAt{{"20260305T000000Z", now.Add(time.Hour)}, {"20260306T000000Z", now.Add(2 * time.Hour)}, {"20260307T000000Z", now.Add(3 * time.Hour)}},
			[]string{"20260304T050607Z", "20260306T000000Z", "20260307T000000Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.clock.now = tt.clock
			if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.existing {
				p := h.path + corruptInfix + c.suffix
				if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, c.mod, c.mod); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(h.path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(h.path, tt.stateMod, tt.stateMod); err != nil {
				t.Fatal(err)
			}
			h.open()
			var got []string
			for _, p := range siblings(h.path, corruptInfix) {
				got = append(got, strings.TrimPrefix(p, h.path+corruptInfix))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("copies left %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRenameIsTheCommitPoint: a crash before the rename leaves temporary
// files, complete or not; they are ignored and removed, and the old state
// is what the daemon starts with.
func TestRenameIsTheCommitPoint(t *testing.T) {
	h := newHarness(t)
	old := h.open()
	fill(t, old, sampleState())
	if err := old.Flush(); err != nil {
		t.Fatal(err)
	}
	// A newer state, complete and synced but never renamed.
	newer := newHarness(t)
	ns := newer.open()
	if err := ns.PutQuarantine(Quarantine{MAC: mac(7), Mode: "block", By: ActorOwner}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Flush(); err != nil {
		t.Fatal(err)
	}
	complete, err := os.ReadFile(newer.path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(h.path)
	leftovers := map[string][]byte{
		"state.json.tmp-1234567": complete,
		"state.json.tmp-7654321": complete[:len(complete)/3],
		"state.json.tmp-":        nil,
	}
	for name, b := range leftovers {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unrelated := filepath.Join(dir, "iotgw.toml.tmp-1")
	if err := os.WriteFile(unrelated, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	diffJSON(t, h.open().Snapshot(), sampleState())
	if got := siblings(h.path, statefile.TempInfix); len(got) != 0 {
		t.Errorf("temporary files left: %v", got)
	}
	if _, err := os.Stat(unrelated); err != nil {
		t.Errorf("removed a file that is not ours: %v", err)
	}
	if !strings.Contains(h.logs.String(), "files=3") {
		t.Errorf("no log line counting the removed files:\n%s", h.logs)
	}
}

// TestInterruptedCopyAsideRemoved: a power cut while a damaged or newer
// state file was being copied aside leaves that copy's temporary file.
// The next start removes it, as it does the state file's own, so it
// neither lies about on flash nor counts as a kept copy, pushing out a
// whole one.
func TestInterruptedCopyAsideRemoved(t *testing.T) {
	h := newHarness(t)
	h.writeFile([]byte("bad"))
	old := time.Now().Add(-time.Hour)
	whole := []string{h.path + corruptInfix + "20260101T000000Z", h.path + corruptInfix + "20260102T000000Z"}
	for i, p := range whole {
		if err := os.WriteFile(p, []byte("whole copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old.Add(time.Duration(i)*time.Minute), old.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	temps := []string{
		h.path + corruptInfix + "20260103T000000Z" + statefile.TempInfix + "1234",
		h.path + newerInfix + "20260103T000000Z" + statefile.TempInfix + "5678",
	}
	for _, p := range temps {
		if err := os.WriteFile(p, []byte("ba"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	h.open()
	for _, p := range temps {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("temporary file of an interrupted copy left: %s (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range whole {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("whole copy %s pruned: %v", filepath.Base(p), err)
		}
	}
	if got := siblings(h.path, corruptInfix); len(got) != maxCorruptCopies {
		t.Errorf("copies %v, want the two whole ones and the new one", got)
	}
}

const crashChildEnv = "IOTGW_STORE_CRASH_CHILD_DIR"

// TestMain turns the test binary into the writer process that
// TestKilledMidWrite kills, or the one TestFullOverlay runs, when that
// test starts it.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
	}
	if dir := os.Getenv(fullChildEnv); dir != "" {
		if err := fullChild(dir, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "full overlay child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild writes generation after generation of a large state and
// says "ready" after the first; it returns only on an error.
func crashChild(dir string) error {
	s := Open(Options{Path: filepath.Join(dir, "state.json")})
	for gen := 1; ; gen++ {
		tag := fmt.Sprint(gen)
		for i := range 200 {
			d := DeviceRecord{MAC: mac(byte(i)), Identity: Identity{Firmware: tag}}
			d.MAC[4] = byte(i >> 8)
			for j := range 10 {
				d.Findings = append(d.Findings, finding(event.KindWeakTLS, t0.Add(time.Duration(j)*time.Second), event.Evidence{"gen": tag}))
			}
			if err := s.PutDevice(d); err != nil {
				return err
			}
		}
		if err := s.PutQuarantine(Quarantine{MAC: mac(0), Mode: "block", Reason: tag, By: ActorPolicy}); err != nil {
			return err
		}
		if err := s.Flush(); err != nil {
			return err
		}
		if gen == 1 {
			fmt.Println("ready")
		}
	}
}

// TestKilledMidWrite kills a writing process at random moments. Whatever
// the moment, the next Open finds one complete generation, never a mix
// and never a corrupt file. (SIGKILL keeps the page cache; power loss is
// covered by the fsyncs, which this test cannot observe.)
func TestKilledMidWrite(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	leftTemp := 0
	for round := range rounds {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0])
		if q := os.Getenv("QEMU"); q != "" && os.Getenv("IOTGW_QEMU") == "1" {
			// Under qemu-user without binfmt_misc (test/openwrt/qemu.sh)
			// the kernel cannot start this binary; its emulator can.
			cmd = exec.Command(q, os.Args[0])
		}
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: child said %q: %v", round, line, err)
		}
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond) // a random moment, not a threshold
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		path := filepath.Join(dir, "state.json")
		if len(siblings(path, statefile.TempInfix)) > 0 {
			leftTemp++
		}

		h := &harness{t: t, path: path, clock: newFakeClock(), logs: &logBuffer{}}
		st := h.open().Snapshot()
		if strings.Contains(h.logs.String(), "set aside") {
			t.Fatalf("round %d: file corrupt after a kill:\n%s", round, h.logs)
		}
		if len(st.Devices) != 200 || len(st.Quarantines) != 1 {
			t.Fatalf("round %d: %d devices, %d quarantines, want 200 and 1", round, len(st.Devices), len(st.Quarantines))
		}
		gen := st.Quarantines[0].Reason
		for _, d := range st.Devices {
			if d.Identity.Firmware != gen || d.Findings[9].Evidence["gen"] != gen {
				t.Fatalf("round %d: device %s from generation %s in a file of generation %s", round, d.MAC, d.Identity.Firmware, gen)
			}
		}
		if got := siblings(path, statefile.TempInfix); len(got) != 0 {
			t.Errorf("round %d: temporary files survive Open: %v", round, got)
		}
	}
	t.Logf("%d of %d kills left a temporary file behind", leftTemp, rounds)
}

// TestGoldenV1 pins the file format: a change here is a format change
// and needs a schema bump and a migration, or is an added field.
func TestGoldenV1(t *testing.T) {
	h := newHarness(t)
	s := h.open()
	fill(t, s, sampleState())
	if _, err := s.Enqueue(json.RawMessage(`{"title":"Camera quarantined","device":"c0:56:e3:00:00:01"}`), false); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		var pretty bytes.Buffer
		_ = json.Indent(&pretty, got, "", "  ")
		t.Errorf("file differs from testdata/v1.json; written:\n%s", pretty.String())
	}
	// And the golden file reads back as the state it was made from.
	h2 := newHarness(t)
	if err := os.MkdirAll(filepath.Dir(h2.path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h2.path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	diffJSON(t, h2.open().Snapshot(), s.Snapshot())
}

// TestReadFailureKeepsFile: a read the system fails (EIO on tired flash)
// is tried again; if it keeps failing, the file is not called corrupt,
// not moved aside and not written over, since it may be sound. A failure
// that passes on a retry loads the state.
func TestReadFailureKeepsFile(t *testing.T) {
	good := validFile(t)
	for _, tc := range []struct {
		name     string
		failures int // reads that fail before they work
		loaded   bool
	}{
		{"passing", 2, true},
		{"lasting", 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.writeFile(good)
			s := newStore(h.options())
			failures := tc.failures
			s.readFile = func(path string, limit int64) ([]byte, error) {
				if failures > 0 {
					failures--
					return nil, &fs.PathError{Op: "read", Path: path, Err: syscall.EIO}
				}
				return statefile.Read(path, limit)
			}
			s.load()
			if got := len(s.Snapshot().Devices) > 0; got != tc.loaded {
				t.Fatalf("state loaded %v, want %v", got, tc.loaded)
			}
			if moved := siblings(h.path, corruptInfix); len(moved) != 0 {
				t.Errorf("moved aside: %v", moved)
			}
			fill(t, s, sampleState())
			err := s.Flush()
			if tc.loaded != (err == nil) {
				t.Errorf("Flush: %v", err)
			}
			if now, _ := os.ReadFile(h.path); !tc.loaded && !bytes.Equal(now, good) {
				t.Error("the unread file was written over")
			}
		})
	}
}
