package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenkeySignVerify runs the maintainer procedure end to end in a
// temporary directory: make a key, sign the shipped feed, verify it with
// the new public key, and refuse what must be refused.
func TestGenkeySignVerify(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "feed.key"), filepath.Join(dir, "feed.pem")
	feed := filepath.Join(dir, "feed.json")
	b, err := os.ReadFile("../../feed.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(feed, b, 0o644); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"genkey", []string{"-genkey", "-key", key, "-pub", pub}, ""},
		{"genkey_never_overwrites", []string{"-genkey", "-key", key, "-pub", pub}, "exists"},
		{"verify_unsigned", []string{"-verify", "-pub", pub, feed}, "no such file"},
		{"sign", []string{"-key", key, feed}, ""},
		{"verify_with_new_key", []string{"-verify", "-pub", pub, feed}, ""},
		{"verify_with_embedded_keys_only", []string{"-verify", feed}, "not trusted"},
		{"sign_without_key", []string{feed}, "needs -key"},
		{"sign_with_public_key", []string{"-key", pub, feed}, "PRIVATE KEY"},
		{"keyid", []string{"-keyid", "-pub", pub}, ""},
	}
	for _, s := range steps {
		err := run(s.args)
		switch {
		case s.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
			t.Fatalf("%s: error %v, want one containing %q", s.name, err, s.wantErr)
		}
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	invalid := filepath.Join(dir, "invalid.json")
	if err := os.WriteFile(invalid, []byte(`{"schema":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-key", key, invalid}); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("signing an invalid feed: %v, want a refusal", err)
	}
	if _, err := os.Stat(invalid + ".sig"); !os.IsNotExist(err) {
		t.Error("a signature was written for an invalid feed")
	}
}
