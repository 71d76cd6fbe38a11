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
		{"fifo", fifo, 5, "not a regular file", ErrNotRegular},
		{"directory", dir, 5, "not a regular file", ErrNotRegular},
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

// TestCopy: a copy holds the source's bytes, mode 0600, and leaves the
// source as it was; a source that is not a regular file is refused
// without hanging (a FIFO), and a failed copy leaves no file behind.
func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "state.json")
	content := []byte(`{"schema":1,"devices":[` + strings.Repeat(" ", 100<<10) + `]}`)
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		dst  string
		err  error // errors.Is; nil: the copy is made
	}{
		{"file", src, filepath.Join(dir, "aside", "state.json.corrupt-1"), nil},
		{"fifo", fifo, filepath.Join(dir, "fifo.corrupt-1"), ErrNotRegular},
		{"directory", dir, filepath.Join(dir, "dir.corrupt-1"), ErrNotRegular},
		{"missing", filepath.Join(dir, "none"), filepath.Join(dir, "none.corrupt-1"), os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Copy(tt.dst, tt.src)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("Copy: %v, want %v", err, tt.err)
				}
				if _, err := os.Lstat(tt.dst); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a refused copy left %s: %v", tt.dst, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(tt.dst)
			if err != nil || !slices.Equal(got, content) {
				t.Errorf("copy holds %d bytes (%v), want the source's %d", len(got), err, len(content))
			}
			if fi, err := os.Stat(tt.dst); err != nil || fi.Mode() != 0o600 {
				t.Errorf("copy's mode: %v, %v; want 0600", fi.Mode(), err)
			}
			if got, err := os.ReadFile(tt.src); err != nil || !slices.Equal(got, content) {
				t.Errorf("the source changed: %d bytes, %v", len(got), err)
			}
			for _, name := range entries(t, filepath.Dir(tt.dst)) {
				if strings.Contains(name, TempInfix) {
					t.Errorf("temporary file %s left", name)
				}
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
