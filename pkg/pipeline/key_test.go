package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnsureKey makes a missing or empty key file, 0600 in a 0700 directory,
// that HashKey takes; a file with content stays as it is, even a short
// one, which HashKey refuses.
func TestEnsureKey(t *testing.T) {
	hexKey := regexp.MustCompile(`^[0-9a-f]{64}$`)
	tests := []struct {
		name     string
		existing *string // nil: no file
		made     bool
	}{
		{name: "missing", made: true},
		{name: "empty", existing: ptr(""), made: true},
		{name: "owners_key", existing: ptr("the owner's own key, kept\n")},
		{name: "short_key_kept", existing: ptr("0123456789\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "iotgw")
			path := filepath.Join(dir, "secret")
			if tt.existing != nil {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(*tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := KeyToMake(path); got != tt.made {
				t.Errorf("KeyToMake %v, want %v", got, tt.made)
			}
			made, err := EnsureKey(path)
			if err != nil || made != tt.made {
				t.Fatalf("EnsureKey: made %v, err %v; want made %v", made, err, tt.made)
			}
			key, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.made {
				if string(key) != *tt.existing {
					t.Errorf("key %q changed, want %q", key, *tt.existing)
				}
				return
			}
			if !hexKey.Match(key) {
				t.Errorf("key %q: want 64 hex digits", key)
			}
			if _, err := HashKey(path); err != nil {
				t.Errorf("HashKey refuses the key made: %v", err)
			}
			for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir} {
				if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
					t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
			// Made once: a second call keeps it.
			if made, err := EnsureKey(path); made || err != nil {
				t.Errorf("second EnsureKey: made %v, err %v", made, err)
			}
			if again, _ := os.ReadFile(path); string(again) != string(key) {
				t.Error("the second call changed the key")
			}
		})
	}
	// Two keys made apart differ: they come from the generator.
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, p := range []string{a, b} {
		if _, err := EnsureKey(p); err != nil {
			t.Fatal(err)
		}
	}
	ka, _ := os.ReadFile(a)
	kb, _ := os.ReadFile(b)
	if string(ka) == string(kb) {
		t.Errorf("two keys alike: %q", ka)
	}
}

func ptr(s string) *string { return &s }

// HashKey reads a key file, not whatever the path names: a FIFO would
// hang check-config and the start, a device such as /dev/urandom (typed
// for "a random key") or a huge file would be read without end.
func TestHashKeyRefusesWhatIsNoKeyFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("0123456789abcdef"), 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"fifo", fifo, "not a regular file"},
		{"directory", dir, "not a regular file"},
		{"over_the_limit", huge, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := HashKey(tc.path)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("HashKey(%s): %v, want an error saying %q", tc.name, err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("HashKey(%s) still reading after 5s", tc.name)
			}
		})
	}
}
