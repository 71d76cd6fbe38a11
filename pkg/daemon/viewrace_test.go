package daemon

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
)

// The page encodes device views and events after the daemon's lock is
// released while the pipeline folds repeats into the same findings: the
// views must be copies. Meaningful under -race, which make test uses.
func TestViewsDoNotShareFindings(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	var f *event.Event
	for _, dv := range h.d.Devices() {
		if len(dv.Findings) > 0 {
			f = dv.Findings[0]
			break
		}
	}
	if f == nil {
		t.Fatal("no finding to repeat")
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for range 200 {
			r := *f
			h.d.mu.Lock()
			h.d.pipe.Inject(&r)
			h.d.mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			if _, err := json.Marshal(h.d.Devices()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			if _, err := json.Marshal(h.d.Events(api.EventFilter{Limit: 50})); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	dev, _ := h.d.Device(camera)
	var folded bool
	for _, g := range dev.Findings {
		folded = folded || g.Count > 1
	}
	if !folded {
		t.Error("the repeats were not folded into the device's finding")
	}
}
