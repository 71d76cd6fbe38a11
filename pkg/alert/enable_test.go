package alert

import (
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/store"
)

// A channel switched off takes no new alerts until switched on again.
func TestSetEnabled(t *testing.T) {
	st := store.Open(store.Options{Path: t.TempDir() + "/state.json"})
	d, err := New(Config{Channels: []ChannelConfig{{Type: "webhook", Name: "hook", URL: "http://127.0.0.1:9/x", Secret: "0123456789abcdef0123"}}}, Options{Outbox: st})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if err := d.SetEnabled("hook", false); err != nil {
		t.Fatal(err)
	}
	if n := d.Notify(FromTest(now)); n != 0 {
		t.Errorf("switched-off channel took %d alerts", n)
	}
	if s := d.Status(); len(s) != 1 || s[0].Enabled {
		t.Errorf("status %+v", s)
	}
	if err := d.SetEnabled("hook", true); err != nil {
		t.Fatal(err)
	}
	if n := d.Notify(FromProblem(AreaCapture, "capture stopped", now.Add(time.Minute))); n != 1 {
		t.Errorf("switched-on channel took %d alerts", n)
	}
	if err := d.SetEnabled("nope", true); err == nil {
		t.Error("unknown channel accepted")
	}
}
