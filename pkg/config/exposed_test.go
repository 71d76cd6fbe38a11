package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/alert"
)

func TestExposedFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	withChannel := func(secret string) *Config {
		c := Default()
		c.Alert.Channels = make([]alert.ChannelConfig, 1)
		c.Inspect.SecretFile = secret
		return c
	}
	tests := []struct {
		name   string
		cfg    *Config
		config string
		want   []string // substrings, one per warning
	}{
		{"both_private", withChannel(write("key1", 0o600)), write("c1.toml", 0o600), nil},
		{"config_world_readable", withChannel(""), write("c2.toml", 0o644), []string{"configuration " + dir + "/c2.toml is readable by others (mode 0644"}},
		{"config_without_channels", Default(), write("c3.toml", 0o644), nil},
		{"key_group_readable", withChannel(write("key2", 0o640)), write("c4.toml", 0o600), []string{"secret_file " + dir + "/key2 is readable by others (mode 0640"}},
		{"key_missing", withChannel(filepath.Join(dir, "none")), write("c5.toml", 0o600), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExposedFiles(tt.cfg, tt.config)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q, want %q in it", got[i], w)
				}
			}
		})
	}
}

// TestExposedFileOwner: a private key file owned by another user than
// root (or the daemon's own) is named: that user can change it.
func TestExposedFileOwner(t *testing.T) {
	testenv.RequireRoot(t, "needs root to give a file to another user")
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(key, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Inspect.SecretFile = key
	got := ExposedFiles(c, filepath.Join(t.TempDir(), "absent.toml"))
	if len(got) != 1 || !strings.Contains(got[0], "is owned by uid 65534") {
		t.Errorf("warnings %q, want one naming uid 65534", got)
	}
}
