package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/store"
)

// The owner's on/off switch of an alert channel is kept in the store and
// applied again after a restart; a switch of a channel the configuration
// no longer has is forgotten.
func TestAlertSwitchSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	channels := func(names ...string) alert.Config {
		var cfg alert.Config
		for _, n := range names {
			// Never contacted: nothing is sent in this test.
			cfg.Channels = append(cfg.Channels, alert.ChannelConfig{Type: alert.TypeNtfy, Name: n, URL: "http://127.0.0.1:9", Topic: n})
		}
		return cfg
	}
	start := func(cfg alert.Config) (alertSettings, *store.Store) {
		st := store.Open(store.Options{Path: path, Logger: log})
		d, err := alert.New(cfg, alert.Options{Outbox: st, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		restoreMutedChannels(d, st, log)
		return newAlertSettings(d, st), st
	}
	enabled := func(a alertSettings) map[string]bool {
		m := map[string]bool{}
		for _, c := range a.Channels() {
			m[c.Name] = c.Enabled
		}
		return m
	}

	a, _ := start(channels("phone", "tablet", "mail"))
	if err := a.SetEnabled("phone", false); err != nil {
		t.Fatal(err)
	}
	if err := a.SetEnabled("mail", false); err != nil {
		t.Fatal(err)
	}
	if err := a.SetEnabled("nosuch", false); err == nil {
		t.Error("switching off a channel that does not exist succeeded")
	}
	if got := enabled(a); got["phone"] || !got["tablet"] || got["mail"] {
		t.Errorf("before the restart: %v, want phone and mail off", got)
	}

	// Restart with "mail" taken out of the configuration. No Flush: the
	// owner's switch is on flash when the page is told it is done.
	a, st := start(channels("phone", "tablet"))
	if got := enabled(a); got["phone"] || !got["tablet"] {
		t.Errorf("after the restart: %v, want phone off and tablet on", got)
	}
	if got := st.MutedAlertChannels(); !slices.Equal(got, []string{"phone"}) {
		t.Errorf("store keeps %v switched off, want [phone]", got)
	}

	// Switched on again, it stays on after the next restart.
	if err := a.SetEnabled("phone", true); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	a, _ = start(channels("phone", "tablet", "mail"))
	if got := enabled(a); !got["phone"] || !got["tablet"] || !got["mail"] {
		t.Errorf("after switching on and restarting: %v, want all on", got)
	}
}

// gapClock is a store clock that stands still and whose timers fire
// when the test closes fire: the store's wait for the owner write gap
// lasts as long as a test needs.
type gapClock struct {
	fire   chan time.Time
	mu     sync.Mutex
	timers int // handed out
}

func (*gapClock) Now() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

func (*gapClock) NewTicker(time.Duration) (<-chan time.Time, func()) { return nil, func() {} }

func (c *gapClock) NewTimer(time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers++
	return c.fire, func() {}
}

func (c *gapClock) waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timers > 0
}

// TestAlertSwitchWaitsForFlashUnlocked: a switch on the page waits for
// the store's write (the owner write gap, a slow flash) without the lock
// that a reload of the configuration needs too. It used to hold it: a
// SIGHUP waited for the flash until the store gave up (SyncWait), and
// the switch it waited for was not written.
func TestAlertSwitchWaitsForFlashUnlocked(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cfg alert.Config
	for _, n := range []string{"phone", "tablet"} {
		// Never contacted: nothing is sent in this test.
		cfg.Channels = append(cfg.Channels, alert.ChannelConfig{Type: alert.TypeNtfy, Name: n, URL: "http://127.0.0.1:9", Topic: n})
	}
	clock := &gapClock{fire: make(chan time.Time)}
	st := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "state.json"), Logger: log, Clock: clock})
	d, err := alert.New(cfg, alert.Options{Outbox: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	a := newAlertSettings(d, st)
	if err := a.SetEnabled("phone", false); err != nil { // written at once
		t.Fatal(err)
	}
	switched := make(chan error, 1)
	go func() { switched <- a.SetEnabled("tablet", false) }()
	for !clock.waiting() {
		time.Sleep(time.Millisecond) // until the switch waits for the gap's end
	}

	// The gap ends only after the reload: one that waited for the switch
	// finds it given up.
	if err := a.reconfigure(cfg, log); err != nil {
		t.Fatal(err)
	}
	close(clock.fire)
	if err := <-switched; err != nil {
		t.Fatal(err)
	}
	if s := st.Stats(); s.Dirty || s.Writes != 2 {
		t.Errorf("store %+v after the gap's end; want the switch written", s)
	}
}

// setup-code before the daemon made its certificate says so: the owner is
// to compare its fingerprint before typing the code.
func TestSetupCodeWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "iotgw.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[store]\npath = %q\n", filepath.Join(dir, "state.json"))), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "setup-code", "--config", conf, "--reset")
	if code != exitOK || !strings.Contains(out, "certificate is not made yet") || strings.Contains(out, "fingerprint\n") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
