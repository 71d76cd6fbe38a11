package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// TestAlertHolds: the alert engine's hold-down memory survives a
// restart with the routine writes; handed in unchanged it causes no
// write; too big, or not JSON, it is refused; and one found too big in
// the file is left out alone, the quarantines beside it kept.
func TestAlertHolds(t *testing.T) {
	holds := json.RawMessage(`{"problems":[{"area":"capture","told":true}]}`)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, path string)
	}{
		{"survives_a_restart", func(t *testing.T, path string) {
			s := Open(Options{Path: path})
			if err := s.SetAlertHolds(holds); err != nil {
				t.Fatal(err)
			}
			if !s.Stats().Dirty {
				t.Error("new holds are not written")
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := s.SetAlertHolds(holds); err != nil || s.Stats().Dirty {
				t.Errorf("the same holds again: err %v, dirty %v; want no write", err, s.Stats().Dirty)
			}
			if got := Open(Options{Path: path}).Snapshot().AlertHolds; string(got) != string(holds) {
				t.Errorf("after a restart %s, want %s", got, holds)
			}
		}},
		// The alert engine hands in none when nothing is held (no
		// problem in its hour, no new device): that clears what the
		// store holds, and none again is no write and no error.
		{"none_clears", func(t *testing.T, path string) {
			s := Open(Options{Path: path})
			if err := s.SetAlertHolds(nil); err != nil || s.Stats().Dirty {
				t.Errorf("none at first: err %v, dirty %v; want neither", err, s.Stats().Dirty)
			}
			if err := s.SetAlertHolds(holds); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := s.SetAlertHolds(nil); err != nil {
				t.Fatalf("none after some: %v", err)
			}
			if !s.Stats().Dirty {
				t.Error("holds cleared are not written")
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := s.SetAlertHolds(nil); err != nil || s.Stats().Dirty {
				t.Errorf("none again: err %v, dirty %v; want no write", err, s.Stats().Dirty)
			}
			if got := Open(Options{Path: path}).Snapshot().AlertHolds; got != nil {
				t.Errorf("after a restart %s, want none", got)
			}
		}},
		{"refused_when_too_big_or_not_json", func(t *testing.T, path string) {
			s := Open(Options{Path: path})
			big := json.RawMessage(`"` + strings.Repeat("x", MaxAlertHolds) + `"`)
			if err := s.SetAlertHolds(big); !errors.Is(err, ErrInvalid) {
				t.Errorf("%d bytes: err %v, want ErrInvalid", len(big), err)
			}
			if err := s.SetAlertHolds(json.RawMessage(`{"problems":`)); !errors.Is(err, ErrInvalid) {
				t.Errorf("not JSON: err %v, want ErrInvalid", err)
			}
			if s.Snapshot().AlertHolds != nil {
				t.Error("refused holds kept")
			}
		}},
		{"too_big_in_the_file_left_out_alone", func(t *testing.T, path string) {
			doc := `{"schema":1,"quarantines":[{"mac":"c0:56:e3:00:00:01","mode":"block","since":"2026-03-04T05:06:07Z","by":"policy"}],"decisions":[],` +
				`"alert_holds":"` + strings.Repeat("x", MaxAlertHolds) + `"}`
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			st := Open(Options{Path: path}).Snapshot()
			if st.AlertHolds != nil {
				t.Errorf("holds of %d bytes read", len(st.AlertHolds))
			}
			if len(st.Quarantines) != 1 || st.Quarantines[0].MAC != (hwaddr.MAC{0xc0, 0x56, 0xe3, 0, 0, 1}) {
				t.Errorf("quarantines %v, want the one in the file", st.Quarantines)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, filepath.Join(t.TempDir(), "state.json"))
		})
	}
}
