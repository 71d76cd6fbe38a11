package main

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/config"
)

// TestAdvisoryFeedKeptBesideState: a feed the daemon installed is in
// force again after a restart, read from beside the state file.
func TestAdvisoryFeedKeptBesideState(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub, err := advisory.MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	builtIn, err := os.ReadFile("../../pkg/advisory/feed.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "state.json")
	cfg.Advisory.TrustedKeys = []string{string(pub)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	first, err := advisoryHolder(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	was := first.Current().Version
	newer := bytes.Replace(builtIn, []byte(`"version": "`+was+`"`), []byte(`"version": "2099-01-01.1"`), 1)
	if err := first.LoadBytes(newer, advisory.Sign(priv, newer), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg.Store.Path), keptFeedName)); err != nil {
		t.Errorf("feed not kept beside the state file: %v", err)
	}
	second, err := advisoryHolder(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Current().Version; got != "2099-01-01.1" {
		t.Errorf("feed in force after a restart %q, want the one installed before, 2099-01-01.1 (built-in %s)", got, was)
	}
}
