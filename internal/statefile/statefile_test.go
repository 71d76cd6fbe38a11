package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	for _, content := range []string{`{"schema":1}`, `{"schema":2}`, ``} {
		if err := Write(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("file holds %q, want %q", got, content)
		}
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	if got := entries(t, filepath.Dir(path)); len(got) != 1 {
		t.Errorf("directory holds %v after three writes, want the file only", got)
	}
}

func TestWriteCleansUpOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	// A non-empty directory cannot be renamed over: the write fails at
	// the commit point.
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte(`{"schema":1}`)); err == nil {
		t.Fatal("write over a directory succeeded")
	}
	for _, name := range entries(t, dir) {
		if strings.Contains(name, TempInfix) {
			t.Errorf("temporary file %s left after a failed write", name)
		}
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		limit int64
		want  string // content, or a part of the error
		err   error  // errors.Is, when set
	}{
		{"within_limit", file, 5, "12345", nil},
		{"over_limit", file, 4, "over the read limit", ErrTooLarge},
		// Opening a FIFO for reading would block until a writer came.
		{"fifo", fifo, 5, "not a regular file", nil},
		{"directory", dir, 5, "not a regular file", nil},
		{"missing", filepath.Join(dir, "none"), 5, "no such file", os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Read(tt.path, tt.limit)
			switch {
			case err == nil && string(b) != tt.want:
				t.Errorf("Read = %q, want %q", b, tt.want)
			case err != nil && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Read: %v, want an error saying %q", err, tt.want)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Errorf("Read: %v, want %v", err, tt.err)
			}
		})
	}
}

// TestReadPrefix: the beginning of a file over a limit, with Read's
// checks.
func TestReadPrefix(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		n    int64
		want string // content, or a part of the error
	}{
		{"shorter", file, 9, "12345"},
		{"exact", file, 5, "12345"},
		{"longer", file, 3, "123"},
		{"directory", dir, 5, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ReadPrefix(tt.path, tt.n)
			if err == nil && string(b) != tt.want || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadPrefix = %q, %v; want %q", b, err, tt.want)
			}
		})
	}
}

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, name := range []string{"state.json", "state.json.tmp-1", "state.json.tmp-22", "other.json.tmp-3", "state.json.corrupt-1"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveTemps(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want the two temporary files of state.json", removed)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"other.json.tmp-3", "state.json", "state.json.corrupt-1"}) {
		t.Errorf("directory holds %v", got)
	}
	if removed, err := RemoveTemps(filepath.Join(dir, "missing", "state.json")); err != nil || len(removed) != 0 {
		t.Errorf("in a missing directory: %v, %v; want nothing and no error", removed, err)
	}
}
