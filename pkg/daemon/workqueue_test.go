package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

func TestWorkQueue(t *testing.T) {
	q := newWorkQueue()
	a, b := hwaddr.MAC{2, 0, 0, 0, 0, 1}, hwaddr.MAC{2, 0, 0, 0, 0, 2}
	for _, mac := range []hwaddr.MAC{a, b, a, b, a} {
		if !q.push(mac) {
			t.Fatal("push refused below the cap")
		}
	}
	if n := q.pending(); n != 2 {
		t.Fatalf("pending %d after queuing two devices five times, want 2", n)
	}
	if got, ok := q.pop(); !ok || got != a {
		t.Fatalf("pop = %v %v, want %v first", got, ok, a)
	}
	// Queued again while being evaluated: evaluated again afterwards.
	q.push(a)
	if n := q.pending(); n != 3 {
		t.Fatalf("pending %d, want 3 (one busy, two waiting)", n)
	}
	q.done()
	if got, _ := q.pop(); got != b {
		t.Fatalf("pop = %v, want %v", got, b)
	}
	q.done()
	if got, _ := q.pop(); got != a {
		t.Fatalf("pop = %v, want %v again", got, a)
	}
	q.done()
	if _, ok := q.pop(); ok || q.pending() != 0 {
		t.Fatalf("queue not empty: pending %d", q.pending())
	}
	for i := range maxQueued {
		if !q.push(hwaddr.MAC{2, 1, 0, byte(i >> 16), byte(i >> 8), byte(i)}) {
			t.Fatalf("push %d refused below the cap", i)
		}
	}
	if q.push(hwaddr.MAC{2, 2, 0, 0, 0, 0}) {
		t.Error("push beyond the cap accepted")
	}
}

// Switching to enforce with a thousand devices known evaluates every one
// of them: the camera with a default login is quarantined at once.
func TestReloadEvaluatesEveryDevice(t *testing.T) {
	fake := newFake(t)
	cfg := enforcingConfig()
	cfg.Policy.Mode = "monitor"
	h := start(t, cfg, fake, t.TempDir())
	defer h.stop()
	h.settle()
	for i := range 1000 {
		mac := hwaddr.MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		h.d.seen(mac, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), "", "neighbour", time.Now())
	}
	h.d.sampleTraffic(time.Now()) // the 5-second tick: every device gets its traffic record
	h.settle()
	if len(quarantined(t, fake)) != 0 {
		t.Fatal("monitor mode quarantined")
	}
	h.d.Reload(enforcingConfig())
	h.settle()
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		dev, _ := h.d.Device(camera)
		t.Errorf("after switching to enforce, the camera is not quarantined; verdict %+v", dev.Verdict)
	}
}
