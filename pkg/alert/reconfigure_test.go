package alert

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/store"
)

// hook is a webhook receiver on loopback: got has the alerts it took,
// and while fail is set it answers 500; hold makes it wait for the
// client to give up: entered is told when a request came, cut when the
// client gave it up.
type hook struct {
	*httptest.Server
	got          chan Alert
	fail, hold   bool
	entered, cut chan struct{}
}

func newHook(t *testing.T, fail, hold bool) *hook {
	h := &hook{got: make(chan Alert, 16), fail: fail, hold: hold, entered: make(chan struct{}, 16), cut: make(chan struct{}, 16)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		_ = json.NewDecoder(r.Body).Decode(&a)
		if h.hold {
			h.entered <- struct{}{}
			<-r.Context().Done()
			h.cut <- struct{}{}
			return
		}
		if h.fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		h.got <- a
	}))
	t.Cleanup(h.Close)
	return h
}

// TestReconfigure: a channel taken out stops at once, its send in flight
// included, and its queue is dropped; one whose URL changed sends its
// queue, back-off forgotten, to the new URL with its counters and the
// owner's switch kept; base_url applies to the next alert.
func TestReconfigure(t *testing.T) {
	held, failing, fixed := newHook(t, false, true), newHook(t, true, false), newHook(t, false, false)
	outbox := &memOutbox{}
	cfg := Config{Channels: []ChannelConfig{
		webhookChannel("held", func(c *ChannelConfig) { c.URL = held.URL }),
		webhookChannel("moved", func(c *ChannelConfig) { c.URL = failing.URL }),
		webhookChannel("muted", nil),
	}}
	d, err := New(cfg, Options{Outbox: outbox, MinBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetEnabled("muted", false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	d.Notify(testAlert(1, false))
	d.Notify(testAlert(2, true))
	// The failing channel tried and waits an hour; the held one is
	// sending.
	testenv.Receive(t, held.entered, "send to the held channel")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if st := status(d, "moved"); st.Failed > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failing channel never tried")
		}
	}

	cfg.BaseURL = "http://192.168.1.1:8080"
	cfg.Channels = []ChannelConfig{
		webhookChannel("moved", func(c *ChannelConfig) { c.URL = fixed.URL }),
		webhookChannel("muted", nil),
	}
	if err := d.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	testenv.Receive(t, held.cut, "cancel of the send in flight to the channel taken out")
	titles := map[string]bool{}
	for range 2 {
		titles[testenv.Receive(t, fixed.got, "queued alert at the new URL").Title] = true
	}
	if !titles["alert 1"] || !titles["alert 2"] {
		t.Errorf("new URL got %v, want the two queued alerts", titles)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		st := status(d, "moved")
		if st.Failed > 0 && st.Sent == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moved channel's counters %+v: want the failures before and the 2 sent", st)
		}
	}
	if st := status(d, "muted"); st.Enabled {
		t.Error("the owner's switch of an unchanged channel was lost")
	}
	if _, ok := statusOf(d, "held"); ok {
		t.Error("the channel taken out is still shown")
	}
	d.Notify(Alert{Kind: KindNewDevice, Severity: 3, Title: "after", Body: "b", Device: &Device{MAC: "02:00:00:00:00:01"}})
	if a := testenv.Receive(t, fixed.got, "alert after the reload"); a.URL != "http://192.168.1.1:8080/devices/02:00:00:00:00:01" {
		t.Errorf("link %q, want the new base_url's", a.URL)
	}
	// Nothing the channel taken out held is left to send at a restart.
	for deadline := time.Now().Add(5 * time.Second); outbox.len() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("outbox holds %d alerts, want none", outbox.len())
		}
	}

	// An invalid section changes nothing.
	bad := cfg
	bad.Channels = []ChannelConfig{{Type: TypeWebhook, Name: "short", URL: fixed.URL, Secret: "short"}}
	if err := d.Reconfigure(bad); err == nil {
		t.Error("an invalid section was taken")
	}
	if _, ok := statusOf(d, "moved"); !ok {
		t.Error("an invalid section took channels out")
	}
}

func statusOf(d *Dispatcher, name string) (ChannelStatus, bool) {
	for _, st := range d.Status() {
		if st.Name == name {
			return st, true
		}
	}
	return ChannelStatus{}, false
}

func status(d *Dispatcher, name string) ChannelStatus {
	st, _ := statusOf(d, name)
	return st
}

// TestReconfigureSharesTheOutbox: a reload that adds a channel shrinks
// every channel's share, and a queue that a broken channel filled under
// the old share is cut to the new one at once, its oldest ordinary
// alerts first. Otherwise the new channel's alerts push the broken one's
// out of the store's outbox, the oldest first whether urgent or not, and
// a quarantine alert queued for the broken channel is gone at the next
// restart.
func TestReconfigureSharesTheOutbox(t *testing.T) {
	const maxPending = 16
	path := t.TempDir() + "/state.json"
	st := store.Open(store.Options{Path: path, MaxOutbox: maxPending})
	cfg := Config{Channels: []ChannelConfig{webhookChannel("broken", nil)}}
	d, err := New(cfg, Options{Outbox: st, MaxPending: maxPending})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing runs: the channel is as one whose service is down.
	d.Notify(testAlert(0, true))
	for i := 1; i < maxPending; i++ {
		d.Notify(testAlert(i, false))
	}
	cfg.Channels = append(cfg.Channels, webhookChannel("new", nil))
	if err := d.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	share := maxPending / 2
	if got := status(d, "broken").Pending; got != share {
		t.Errorf("the broken channel holds %d alerts after the reload, want its new share of %d", got, share)
	}
	for i := maxPending; i < maxPending+share; i++ {
		d.Notify(testAlert(i, false))
	}
	queued := map[string]bool{}
	for _, it := range st.Pending(0) {
		var env envelope
		if err := json.Unmarshal(it.Payload, &env); err != nil {
			t.Fatal(err)
		}
		queued[env.Channel+"/"+env.Alert.Title] = true
	}
	if !queued["broken/alert 0"] {
		t.Error("the urgent alert queued for the broken channel was pushed out of the outbox by the new channel's alerts")
	}
	if n := len(st.Pending(0)); n > maxPending {
		t.Errorf("outbox holds %d alerts, over its %d", n, maxPending)
	}
	if dropped := st.Stats().OutboxDropped; dropped != 0 {
		t.Errorf("the store's outbox dropped %d alerts: the channels' shares overran it", dropped)
	}
}

// TestReconfigureNeverHoldsNotify: a reload that changes an MQTT channel
// closes its old connection, which waits for a test alert the owner sent
// on it to a broker that does not answer (up to the connection's 15 s).
// Notify, which the packet path calls, must not wait meanwhile: the
// reload closes the old sender after it let go of the channel set.
func TestReconfigureNeverHoldsNotify(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c // and never answer its CONNECT
		}
	}()
	cfg := Config{Channels: []ChannelConfig{{Type: TypeMQTT, URL: "mqtt://" + l.Addr().String(), ClientID: "before"}}}
	d, err := New(cfg, Options{Outbox: &memOutbox{}, SendTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tested := make(chan error, 1)
	go func() { tested <- d.SendTest(context.Background(), TypeMQTT) }()
	conn := testenv.Receive(t, accepted, "connection of the test alert")
	defer func() {
		conn.Close()
		l.Close()
		<-tested
	}()

	cfg.Channels[0].ClientID = "after"
	reconfigured := make(chan error, 1)
	go func() { reconfigured <- d.Reconfigure(cfg) }()
	for i := range 20 {
		notified := make(chan int, 1)
		go func() { notified <- d.Notify(testAlert(i, false)) }()
		select {
		case <-notified:
		case <-time.After(2 * time.Second):
			t.Fatal("Notify waited for the reload, which waited for a test alert to a silent broker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn.Close()
	if err := testenv.Receive(t, reconfigured, "end of the reload"); err != nil {
		t.Fatal(err)
	}
}
