package store

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestMigrateV0Golden reads a schema 0 file (testdata/v0.json: no schema
// field, a quarantine's end called "expires", its author a boolean
// "owner", exempt kinds as one string) and checks the state it becomes,
// then that the next write upgrades the file.
func TestMigrateV0Golden(t *testing.T) {
	for _, explicit := range []bool{false, true} {
		name := "schema_absent"
		if explicit {
			name = "schema_0"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			data, err := os.ReadFile(filepath.Join("testdata", "v0.json"))
			if err != nil {
				t.Fatal(err)
			}
			if explicit {
				data = []byte(strings.Replace(string(data), "{", `{"schema": 0,`, 1))
			}
			h.writeFile(data)
			s := h.open()
			want := State{
				Devices: []DeviceRecord{{
					MAC: mac(1), Identity: Identity{Vendor: "Hikvision", Category: "camera"},
					Addrs:     []netip.Addr{netip.MustParseAddr("192.168.1.10")},
					FirstSeen: at("2025-11-29T20:00:00Z"), LastSeen: at("2025-11-30T07:59:00Z"),
					Findings: []event.Event{{
						V: 1, Time: at("2025-11-29T20:01:00Z"), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
						Severity: event.SeverityHigh, Capability: event.CapNoDefaultPasswords, Provision: "5.1-1",
						Device:   event.Endpoint{MAC: "c0:56:e3:00:00:01", IP: "192.168.1.10"},
						Summary:  "Telnet login with factory-default credentials",
						Evidence: event.Evidence{"protocol": "telnet", "user": "ro***", "password_class": "default", "accepted": "yes"},
					}},
				}},
				Quarantines: []Quarantine{
					{MAC: mac(1), Mode: "block", Since: at("2025-11-29T20:01:01Z"), Until: at("2025-12-06T20:01:01Z"), Reason: "factory-default password", By: ActorPolicy},
					{MAC: mac(3), Mode: "isolate", Since: at("2025-11-30T07:00:00Z"), Reason: "quarantined by the owner", By: ActorOwner},
					{MAC: mac(4), Mode: "updates-only", Since: at("2025-11-30T07:30:00Z"), Reason: "outdated firmware", By: ActorPolicy},
				},
				Decisions: []Decision{
					{MAC: mac(2), Name: "Living room TV", Exempt: []event.Kind{event.KindPlaintextProtocol, event.KindWeakTLS}, Updated: at("2025-11-30T06:00:00Z")},
					{MAC: mac(3), Updated: at("2025-11-30T07:00:00Z")},
				},
				Outbox: []OutboxItem{{ID: 2, Created: at("2025-11-30T07:00:00Z"), Attempts: 1, NextAttempt: at("2025-11-30T08:00:00Z"),
					Payload: json.RawMessage(`{"title":"Camera quarantined"}`)}},
			}
			diffJSON(t, s.Snapshot(), want)
			if strings.Contains(h.logs.String(), "set aside") || !strings.Contains(h.logs.String(), "schema=0") {
				t.Errorf("want a plain load of schema 0:\n%s", h.logs)
			}
			if !s.Stats().Dirty {
				t.Error("an upgraded file should be written with the next write")
			}
			if it, err := s.Enqueue(json.RawMessage(`{}`), false); err != nil || it.ID != 3 {
				t.Errorf("next outbox id %d (%v), want 3 from next_outbox_id", it.ID, err)
			}

			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			doc := h.fileDoc()
			if doc["schema"] != float64(SchemaVersion) {
				t.Errorf("schema after the write: %v", doc["schema"])
			}
			for _, q := range doc["quarantines"].([]any) {
				m := q.(map[string]any)
				if _, ok := m["expires"]; ok {
					t.Errorf("old field expires still written: %v", m)
				}
				if _, ok := m["owner"]; ok {
					t.Errorf("old field owner still written: %v", m)
				}
			}
			want.Outbox = s.Snapshot().Outbox
			diffJSON(t, h.open().Snapshot(), want)
		})
	}
}

func TestMigrateKeepsLargeNumbersExact(t *testing.T) {
	// Generic JSON would turn 2^53+1 into a float and lose the last bit.
	in := []byte(`{"next_outbox_id": 9007199254740993, "outbox": [{"id": 9007199254740992, "payload": {}}]}`)
	doc, from, err := decode(in, DefaultMaxFindingsPerDevice)
	if err != nil || from != 0 {
		t.Fatalf("decode: %v (schema %d)", err, from)
	}
	if doc.NextOutboxID != 9007199254740993 || doc.Outbox[0].ID != 9007199254740992 {
		t.Errorf("ids %d, %d changed by the migration", doc.NextOutboxID, doc.Outbox[0].ID)
	}
}

// TestMigrateV0RecordByRecord: a schema 0 record the migration does not
// recognise costs that record at most, never the file: the quarantines
// and the owner's other decisions load. It used to move the whole file
// aside, so that after a reboot quarantined devices went free and
// trusted ones lost their trust.
func TestMigrateV0RecordByRecord(t *testing.T) {
	const (
		quarantine = `{"mac":"c0:56:e3:00:00:01","mode":"block","since":"2024-01-01T00:00:00Z","owner":true}`
		trusted    = `{"mac":"c0:56:e3:00:00:02","trusted":true}`
	)
	tests := []struct {
		name        string
		content     string
		quarantines []Quarantine
		decisions   []Decision
		warning     string // a log line that must be there; "" for none
	}{
		{"exempt_already_a_list",
			`{"quarantines":[` + quarantine + `],"decisions":[` + trusted + `,{"mac":"c0:56:e3:00:00:03","exempt":["weak_tls"]}]}`,
			[]Quarantine{{MAC: mac(1), Mode: "block", Since: at("2024-01-01T00:00:00Z"), By: ActorOwner}},
			[]Decision{{MAC: mac(2), Trusted: true}, {MAC: mac(3), Exempt: []event.Kind{event.KindWeakTLS}}},
			""},
		{"exempt_a_number",
			`{"quarantines":[` + quarantine + `],"decisions":[` + trusted + `,{"mac":"c0:56:e3:00:00:03","exempt":7}]}`,
			[]Quarantine{{MAC: mac(1), Mode: "block", Since: at("2024-01-01T00:00:00Z"), By: ActorOwner}},
			[]Decision{{MAC: mac(2), Trusted: true}},
			"table=decisions records=1"},
		{"owner_not_a_boolean",
			`{"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"isolate","owner":"yes"}],"decisions":[` + trusted + `]}`,
			[]Quarantine{{MAC: mac(1), Mode: "isolate", By: ActorPolicy}},
			[]Decision{{MAC: mac(2), Trusted: true}},
			"quarantine with an unknown author"},
		{"author_already_set",
			`{"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"block","by":"owner"}]}`,
			[]Quarantine{{MAC: mac(1), Mode: "block", By: ActorOwner}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.writeFile([]byte(tt.content))
			s := h.open()
			st := s.Snapshot()
			diffJSON(t, st.Quarantines, tt.quarantines)
			diffJSON(t, st.Decisions, tt.decisions)
			if got := s.Stats().LoadError; got != "" {
				t.Errorf("LoadError %q, want none", got)
			}
			logs := h.logs.String()
			if strings.Contains(logs, "set aside") {
				t.Errorf("file set aside:\n%s", logs)
			}
			if tt.warning != "" && !strings.Contains(logs, tt.warning) {
				t.Errorf("logs lack %q:\n%s", tt.warning, logs)
			}
			if tt.warning == "" && strings.Contains(logs, "level=WARN") {
				t.Errorf("unexpected warning:\n%s", logs)
			}
		})
	}
}

// TestNewerSchemaKeepsOwnerRecords: a state file a newer build wrote,
// found after a firmware downgrade, keeps its quarantines, the owner's
// decisions and muted channels, and its devices without their findings;
// it is kept aside, byte for byte, before anything replaces it, and the
// owner is told (Downgrade). It used to be set aside as corrupt and the
// daemon started empty: every quarantine and decision gone.
func TestNewerSchemaKeepsOwnerRecords(t *testing.T) {
	const newer = `{"schema":2,"written":"2027-01-01T00:00:00Z","next_outbox_id":9,
 "zones":[{"name":"guest","isolated":true}],
 "quarantines":[
  {"mac":"c0:56:e3:00:00:01","mode":"block","since":"2026-12-01T00:00:00Z","by":"owner","zone":"guest"},
  {"mac":"c0:56:e3:00:00:02","mode":"vlan-jail","since":"2026-12-01T00:00:00Z","by":"policy"},
  {"mac":"c0:56:e3:00:00:03","mode":{"kind":"block"},"since":"2026-12-01T00:00:00Z","by":"policy"}],
 "decisions":[{"mac":"c0:56:e3:00:00:04","name":"Living room TV","trusted":true,"updated":"2026-12-01T00:00:00Z"}],
 "muted_alert_channels":["phone"],
 "outbox":[{"id":8,"created":"2026-12-01T00:00:00Z","payload":{"v":2,"alert":{"kind":"zone_breach"}}}],
 "verdicts":[{"mac":"c0:56:e3:00:00:05","action":"quarantine","enforce":true,"time":"2026-12-01T00:00:00Z"}],
 "devices":[{"mac":"c0:56:e3:00:00:05","identity":{"vendor":"Hikvision"},"first_seen":"2026-11-01T00:00:00Z","last_seen":"2026-12-01T00:00:00Z",
   "findings":[{"v":2,"time":"2026-12-01T00:00:00Z","type":"finding","kind":"default_credentials","severity":"high","device":{"mac":"c0:56:e3:00:00:05"},"summary":"default login"}],
   "dropped_findings":4}]}`
	h := newHarness(t)
	h.writeFile([]byte(newer))
	s := h.open()
	st := s.Snapshot()
	since := at("2026-12-01T00:00:00Z")
	diffJSON(t, st.Quarantines, []Quarantine{
		{MAC: mac(1), Mode: "block", Since: since, By: ActorOwner},
		// A mode this version does not know is the daemon's to read
		// (it enforces it as a block); a record it cannot parse stays a
		// block by its MAC.
		{MAC: mac(2), Mode: "vlan-jail", Since: since, By: ActorPolicy},
		{MAC: mac(3), Mode: "block", By: ActorPolicy},
	})
	diffJSON(t, st.Decisions, []Decision{{MAC: mac(4), Name: "Living room TV", Trusted: true, Updated: since}})
	diffJSON(t, st.MutedAlertChannels, []string{"phone"})
	if len(st.Devices) != 1 || st.Devices[0].Identity.Vendor != "Hikvision" || len(st.Devices[0].Findings) != 0 || st.Devices[0].DroppedFindings != 0 {
		t.Errorf("devices %+v, want the camera without its findings", st.Devices)
	}
	if len(st.Verdicts)+len(st.Outbox) != 0 {
		t.Errorf("verdicts %+v, outbox %+v; want none read from a newer file", st.Verdicts, st.Outbox)
	}
	copyPath := h.path + ".newer-20260304T050607Z"
	stats := s.Stats()
	if !strings.Contains(stats.Downgrade, "schema 2") || !strings.Contains(stats.Downgrade, copyPath) ||
		!strings.Contains(stats.Downgrade, "3 quarantines, 1 decisions and 1 devices") {
		t.Errorf("Downgrade %q, want the schema, the copy and what was kept", stats.Downgrade)
	}
	if stats.LoadError != "" {
		t.Errorf("LoadError %q: nothing the owner decided was lost", stats.LoadError)
	}
	if copies := siblings(h.path, corruptInfix); len(copies) != 0 {
		t.Errorf("set aside as corrupt: %v", copies)
	}
	// Until the first write the newer file stays where it was: a power
	// cut finds it again.
	if b, _ := os.ReadFile(h.path); string(b) != newer {
		t.Error("the newer file changed before the first write")
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(copyPath); err != nil || string(b) != newer {
		t.Errorf("the newer file's copy: %v, changed %v", err, string(b) != newer)
	}
	if schema, _ := h.fileDoc()["schema"].(float64); schema != SchemaVersion {
		t.Errorf("written in schema %v, want %d", h.fileDoc()["schema"], SchemaVersion)
	}
	again := h.open()
	if got := again.Stats().Downgrade; got != "" {
		t.Errorf("Downgrade %q after this version wrote the file", got)
	}
	diffJSON(t, again.Snapshot().Quarantines, st.Quarantines)
	diffJSON(t, again.Snapshot().Decisions, st.Decisions)
}

// TestCopyAsideFails: a copy that cannot be made (a full overlay) of a
// damaged file leaves the next write to replace it, and says so; of a
// newer build's file, nothing is written over it.
func TestCopyAsideFails(t *testing.T) {
	errFull := &os.PathError{Op: "write", Path: "state.json.tmp-1", Err: os.ErrInvalid}
	tests := []struct {
		name      string
		content   string
		overwrite bool   // the first write replaces the file
		note      string // in LoadError, or Downgrade
	}{
		{"damaged", `{"schema":1,"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"bl`, true, "could not be set aside"},
		{"newer", `{"schema":2,"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"block","by":"owner"}]}`, false, "saves nothing until a copy can be kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.writeFile([]byte(tt.content))
			s := newStore(h.options())
			s.copyFile = func(dst, src string) error { return errFull }
			s.load()
			if st := s.Stats(); !strings.Contains(st.LoadError+st.Downgrade, tt.note) {
				t.Errorf("LoadError %q, Downgrade %q; want %q", st.LoadError, st.Downgrade, tt.note)
			}
			if err := s.PutDecision(Decision{MAC: mac(2), Trusted: true}); err != nil {
				t.Fatal(err)
			}
			err := s.Flush()
			b, _ := os.ReadFile(h.path)
			if replaced := string(b) != tt.content; replaced != tt.overwrite || (err == nil) != tt.overwrite {
				t.Errorf("Flush: %v; file replaced %v, want %v", err, replaced, tt.overwrite)
			}
			if !tt.overwrite && s.Stats().LastError == nil {
				t.Error("no LastError while nothing can be saved")
			}
		})
	}
}
