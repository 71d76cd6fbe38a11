package web

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRemoveTemps: what interrupted writes of the page's files left (a
// copy of the key or the setup code) is removed; other files stay.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	left := []string{KeyFileName + ".tmp-1234", SetupCodeFileName + ".tmp-9", authFileName + ".tmp-77"}
	kept := []string{KeyFileName, SetupCodeFileName, "state.json", "state.json.tmp-5"}
	for _, name := range append(slices.Clone(left), kept...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != len(left) {
		t.Errorf("removed %v, want %v", removed, left)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(kept)
	if !slices.Equal(names, kept) {
		t.Errorf("directory holds %v, want %v", names, kept)
	}
}
