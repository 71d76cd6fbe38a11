package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/store"
)

// receiver is the far end of the outage test: it records, per channel,
// the alert titles it received.
type receiver struct {
	mu     sync.Mutex
	titles map[string][]string
	ids    map[string]int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	switch req.URL.Path {
	case "/hook": // the webhook: an alert, or a digest of several
		var a Alert
		if err := json.Unmarshal(body, &a); err != nil {
			r.mu.Unlock()
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		parts := []Alert{a}
		if a.Kind == KindDigest {
			parts = a.Parts
		}
		for _, p := range parts {
			r.titles["webhook"] = append(r.titles["webhook"], p.Title)
			r.ids[p.ID]++
		}
	case "/phone": // ntfy: the title is a header
		r.titles["ntfy"] = append(r.titles["ntfy"], req.Header.Get("Title"))
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) count(ch string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.titles[ch])
}

// TestOutageExactlyOnceInOrder: the receiver is down, alerts queue in a
// real store file, the daemon restarts (a new store and Dispatcher over
// the same file), the receiver comes back, and every alert arrives
// exactly once per channel, in order — through a digest where the rate
// limit asks for one.
func TestOutageExactlyOnceInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the receiver is down: connections are refused
	cfg := Config{Channels: []ChannelConfig{
		{Type: TypeWebhook, URL: "http://" + addr + "/hook", Secret: "0123456789abcdef"}, // default rate 10/min, burst 5
		{Type: TypeNtfy, URL: "http://" + addr, Topic: "phone", Rate: "off"},
	}}
	opts := func(s *store.Store) Options {
		return Options{Outbox: s, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	}
	const n = 20
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("alert %d", i))
	}

	// Before the restart: everything fails and is rescheduled.
	st1 := store.Open(store.Options{Path: path})
	ctx1, stop1 := context.WithCancel(context.Background())
	var wg1 sync.WaitGroup
	wg1.Go(func() { st1.Run(ctx1) })
	d1, err := New(cfg, opts(st1))
	if err != nil {
		t.Fatal(err)
	}
	wg1.Go(func() { _ = d1.Run(ctx1) })
	for i := 1; i <= n; i++ {
		if d1.Notify(testAlert(i, false)) != 2 {
			t.Fatalf("alert %d not queued for both channels", i)
		}
	}
	waitFor(t, "both channels to fail a few times", func() bool {
		st := d1.Status()
		return st[0].Failed >= 3 && st[1].Failed >= 3
	})
	stop1()
	wg1.Wait() // the store's final write is done

	// The restart: a new store over the same file, a new Dispatcher.
	st2 := store.Open(store.Options{Path: path})
	if got := len(st2.Pending(0)); got != 2*n {
		t.Fatalf("the file kept %d alerts, want %d", got, 2*n)
	}
	rc := &receiver{titles: map[string][]string{}, ids: map[string]int{}}
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: rc}
	go func() { _ = srv.Serve(l2) }()
	defer srv.Close()

	ctx2, stop2 := context.WithCancel(context.Background())
	var wg2 sync.WaitGroup
	wg2.Go(func() { st2.Run(ctx2) })
	d2, err := New(cfg, opts(st2))
	if err != nil {
		t.Fatal(err)
	}
	wg2.Go(func() { _ = d2.Run(ctx2) })
	// A delivery leaves the outbox when its response is back, a moment
	// after the receiver counted it; stopping before then would leave it
	// for the next start (at least once), which is not what this tests.
	waitFor(t, "every alert to arrive and leave the outbox", func() bool {
		return rc.count("webhook") >= n && rc.count("ntfy") >= n && len(st2.Pending(0)) == 0
	})
	stop2()
	wg2.Wait()

	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, ch := range []string{"webhook", "ntfy"} {
		if got := rc.titles[ch]; !slices.Equal(got, want) {
			t.Errorf("%s received %v, want each of alert 1 … alert %d once in order", ch, got, n)
		}
	}
	for id, c := range rc.ids {
		if c != 1 {
			t.Errorf("alert id %s received %d times", id, c)
		}
	}
	if left := st2.Pending(0); len(left) != 0 {
		t.Errorf("%d alerts left in the outbox", len(left))
	}
	// 5 tokens: 4 alone, then one digest of the other 16.
	if st := d2.Status()[0]; st.Sent != 5 {
		t.Errorf("webhook sent %d messages, want 4 alerts and a digest", st.Sent)
	}
}

// waitFor polls cond; the bound only keeps a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 6000 {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
