package advisory

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testKey signs test feeds; otherKey is a key the holder does not trust.
var (
	testKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestHolder holds baseFeed (version 2030-01-01.1) and trusts testKey.
func newTestHolder(t *testing.T, opts Options) *Holder {
	t.Helper()
	f, err := ParseFeed([]byte(baseFeed))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	return newHolder(f, []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}, opts)
}

func signedFeed(version string) (feed, sig []byte) {
	feed = []byte(withFeedVersion(baseFeed, version))
	return feed, Sign(testKey, feed)
}

func TestEmbeddedFeedIsSignedAndVerifies(t *testing.T) {
	h, err := NewHolder(Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("NewHolder: %v", err)
	}
	if v := h.Current().Version; v != "2026-11-27.1" {
		t.Errorf("embedded feed version %q", v)
	}
	feed, _ := embedded.ReadFile("feed.json")
	sig, _ := embedded.ReadFile("feed.json.sig")
	keys, err := embeddedKeys()
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(feed, []byte(`"fixed": "2016.74"`), []byte(`"fixed": "2016.75"`), 1)
	if bytes.Equal(tampered, feed) {
		t.Fatal("tampering did not change the feed")
	}
	if _, err := verifyAndParse(keys, tampered, sig); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered embedded feed: %v, want ErrSignature", err)
	}
	if _, err := Verify(feed, sig, Options{}); err != nil {
		t.Errorf("Verify(embedded): %v", err)
	}
}

func TestLoadBytes(t *testing.T) {
	good, goodSig := signedFeed("2030-01-02.1")
	old, oldSig := signedFeed("2029-12-31.1")
	sameVersion := []byte(strings.Replace(baseFeed, "end of life", "end of life, reworded", 1))
	schema2 := []byte(strings.Replace(withFeedVersion(baseFeed, "2030-01-02.1"), `"schema": 1`, `"schema": 2`, 1))
	corrupt := []byte(withFeedVersion(baseFeed, "2030-01-02.1")[:200])
	altered := bytes.Replace(good, []byte(`"critical"`), []byte(`"low"`), 1)
	base := []byte(baseFeed)

	tests := []struct {
		name      string
		feed, sig []byte
		want      error
		active    string
	}{
		{"newer_feed", good, goodSig, nil, "2030-01-02.1"},
		{"same_bytes_again", base, Sign(testKey, base), nil, "2030-01-01.1"},
		{"corrupt_json_signed", corrupt, Sign(testKey, corrupt), ErrInvalid, "2030-01-01.1"},
		{"altered_after_signing", altered, goodSig, ErrSignature, "2030-01-01.1"},
		{"wrong_key", good, Sign(otherKey, good), ErrSignature, "2030-01-01.1"},
		{"no_signature", good, nil, ErrSignature, "2030-01-01.1"},
		{"garbage_signature", good, []byte("ed25519 " + KeyID(testKey.Public().(ed25519.PublicKey)) + " !!!"), ErrSignature, "2030-01-01.1"},
		{"signature_of_another_feed", good, oldSig, ErrSignature, "2030-01-01.1"},
		{"downgrade", old, oldSig, ErrDowngrade, "2030-01-01.1"},
		{"same_version_other_content", sameVersion, Sign(testKey, sameVersion), ErrDowngrade, "2030-01-01.1"},
		{"schema_mismatch", schema2, Sign(testKey, schema2), ErrSchema, "2030-01-01.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHolder(t, Options{})
			before := h.Current()
			err := h.LoadBytes(tc.feed, tc.sig, "test")
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("LoadBytes = %v, want %v", err, tc.want)
			}
			if got := h.Current().Version; got != tc.active {
				t.Errorf("active version %q, want %q", got, tc.active)
			}
			if err != nil && h.Current() != before {
				t.Error("a rejected feed replaced the active one")
			}
		})
	}
}

func TestLoadBytesErrorMessages(t *testing.T) {
	h := newTestHolder(t, Options{})
	good, _ := signedFeed("2030-01-02.1")
	err := h.LoadBytes(good, Sign(otherKey, good), "https://feeds.example/advisories.json")
	for _, want := range []string{"https://feeds.example/advisories.json", KeyID(otherKey.Public().(ed25519.PublicKey)), "not trusted"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	old, oldSig := signedFeed("2029-12-31.1")
	err = h.LoadBytes(old, oldSig, "file")
	if err == nil || !strings.Contains(err.Error(), "2029-12-31.1 is older than the active 2030-01-01.1") {
		t.Errorf("downgrade error %q does not name both versions", err)
	}
}

func TestLoadBytesSizeCap(t *testing.T) {
	h := newTestHolder(t, Options{MaxFeedBytes: 100})
	good, sig := signedFeed("2030-01-02.1")
	if err := h.LoadBytes(good, sig, "test"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("LoadBytes over the cap = %v, want ErrTooLarge", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good, sig := signedFeed("2030-01-02.1")
	feedPath := filepath.Join(dir, "advisories.json")
	write := func(name string, b []byte) {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(feedPath, good)

	h := newTestHolder(t, Options{})
	if err := h.LoadFile(feedPath, ""); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing signature file: %v, want not-exist", err)
	}
	write(feedPath+".sig", sig)
	if err := h.LoadFile(feedPath, ""); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if h.Current().Version != "2030-01-02.1" {
		t.Errorf("active %q after LoadFile", h.Current().Version)
	}

	other := filepath.Join(dir, "other.sig")
	newer, newerSig := signedFeed("2030-01-03.1")
	write(feedPath, newer)
	write(other, newerSig)
	if err := h.LoadFile(feedPath, other); err != nil || h.Current().Version != "2030-01-03.1" {
		t.Errorf("LoadFile with explicit sig path: %v, active %q", err, h.Current().Version)
	}

	small := newTestHolder(t, Options{MaxFeedBytes: 64})
	if err := small.LoadFile(feedPath, other); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file over the cap: %v, want ErrTooLarge", err)
	}
}

// feedServer serves routes on loopback; a route is a handler per path.
func feedServer(t *testing.T, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func serveBytes(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(b) }
}

func TestLoadURL(t *testing.T) {
	good, sig := signedFeed("2030-01-02.1")
	truncated := func(w http.ResponseWriter, _ *http.Request) {
		// Announce the whole feed, send half, then drop the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(good)))
		_, _ = w.Write(good[:len(good)/2])
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
	}
	chunkedHuge := func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte(" "), 1024)
		for i := 0; i < 64; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
	announcedHuge := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(10<<20))
		_, _ = w.Write(good)
	}
	stall := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

	tests := []struct {
		name   string
		feed   http.HandlerFunc
		sig    http.HandlerFunc
		opts   Options
		want   error
		active string
	}{
		{"good", serveBytes(good), serveBytes(sig), Options{}, nil, "2030-01-02.1"},
		{"truncated_download", truncated, serveBytes(sig), Options{}, io.ErrUnexpectedEOF, "2030-01-01.1"},
		{"oversized_announced", announcedHuge, serveBytes(sig), Options{MaxFeedBytes: 32 << 10}, ErrTooLarge, "2030-01-01.1"},
		{"oversized_chunked", chunkedHuge, serveBytes(sig), Options{MaxFeedBytes: 32 << 10}, ErrTooLarge, "2030-01-01.1"},
		{"feed_not_found", http.NotFound, serveBytes(sig), Options{}, nil, "2030-01-01.1"},
		{"signature_not_found", serveBytes(good), http.NotFound, Options{}, nil, "2030-01-01.1"},
		{"wrong_key", serveBytes(good), serveBytes(Sign(otherKey, good)), Options{}, ErrSignature, "2030-01-01.1"},
		{"server_stalls", stall, serveBytes(sig), Options{FetchTimeout: 50 * time.Millisecond}, context.DeadlineExceeded, "2030-01-01.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := feedServer(t, map[string]http.HandlerFunc{"/feed.json": tc.feed, "/feed.json.sig": tc.sig})
			h := newTestHolder(t, tc.opts)
			err := h.LoadURL(context.Background(), srv.URL+"/feed.json")
			switch {
			case tc.active == "2030-01-02.1" && err != nil:
				t.Fatalf("LoadURL: %v", err)
			case tc.active != "2030-01-02.1" && err == nil:
				t.Fatal("LoadURL succeeded, want an error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("LoadURL = %v, want %v", err, tc.want)
			}
			if got := h.Current().Version; got != tc.active {
				t.Errorf("active %q, want %q", got, tc.active)
			}
		})
	}
}

// A feed URL's password or token (user information, query) reaches no
// error and no log, as the configuration's errors leave the URL out.
func TestLoadURLHidesCredentials(t *testing.T) {
	const secret = "CorrectHorseBattery"
	good, goodSig := signedFeed("2030-01-02.1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/feed.json":
			w.Write(good)
		case "/feed.json.sig":
			w.Write(goodSig)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var logs bytes.Buffer
	h := newTestHolder(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	base := strings.Replace(srv.URL, "http://", "http://feed:"+secret+"@", 1)
	var errs []string
	for _, u := range []string{base + "/missing.json", base + "/missing.json?token=" + secret, "https://feed:" + secret + "@/feed.json", "http://feed:" + secret + "@127.0.0.1:1/feed.json?token=" + secret} {
		if err := h.LoadURL(context.Background(), u); err == nil {
			t.Errorf("LoadURL(%s) succeeded", u)
		} else {
			errs = append(errs, err.Error())
		}
	}
	if err := h.LoadURL(context.Background(), base+"/feed.json?token="+secret); err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(errs, "\n") + logs.String(); strings.Contains(all, secret) {
		t.Errorf("the feed URL's secret is in an error or the log:\n%s", all)
	}
	if !strings.Contains(strings.Join(errs, "\n"), "/missing.json: HTTP status 404") {
		t.Errorf("errors %q: want the URL's path and the status", errs)
	}
}

func TestLoadURLRejectsSchemes(t *testing.T) {
	h := newTestHolder(t, Options{})
	for _, u := range []string{"file:///etc/passwd", "ftp://example.org/feed.json", "http:///feed.json", "::"} {
		if err := h.LoadURL(context.Background(), u); err == nil {
			t.Errorf("LoadURL(%q) succeeded", u)
		}
	}
}

// TestConcurrentReadersDuringReload: readers never see a half-installed
// feed and never see versions go backwards. Run with -race.
func TestConcurrentReadersDuringReload(t *testing.T) {
	h := newTestHolder(t, Options{})
	const reloads = 40
	feeds := make([][2][]byte, reloads)
	for i := range feeds {
		f, s := signedFeed(fmt.Sprintf("2030-01-02.%d", i+1))
		feeds[i] = [2][]byte{f, s}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := h.Current().serial
			for ctx.Err() == nil {
				f := h.Current()
				if f.serial.compare(last) < 0 {
					errs <- fmt.Errorf("version went back from %v to %s", last, f.Version)
					return
				}
				last = f.serial
				if len(f.Match([]Software{{Product: "dropbear", Version: "2014.63"}})) != 1 {
					errs <- fmt.Errorf("feed %s: dropbear 2014.63 not matched", f.Version)
					return
				}
			}
		}()
	}
	for _, f := range feeds {
		if err := h.LoadBytes(f[0], f[1], "test"); err != nil {
			t.Error(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := h.Current().Version; got != fmt.Sprintf("2030-01-02.%d", reloads) {
		t.Errorf("active %q after all reloads", got)
	}
}

func TestRefresh(t *testing.T) {
	good, sig := signedFeed("2030-01-02.1")
	srv := feedServer(t, map[string]http.HandlerFunc{
		"/feed.json":     failFirst(1, good), // Refresh must retry
		"/feed.json.sig": serveBytes(sig),
	})
	h := newTestHolder(t, Options{})
	refreshUntil(t, h, srv.URL+"/feed.json", time.Millisecond, "2030-01-02.1", "Refresh never installed the new feed")
}

// failFirst answers the first n requests 503, the later ones b.
func failFirst(n int, b []byte) http.HandlerFunc {
	var mu sync.Mutex
	served := 0
	return func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		served++
		failing := served <= n
		mu.Unlock()
		if failing {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(b)
	}
}

// refreshUntil runs h.Refresh of url every interval until the feed
// installed is version want, failing with why if that takes more than a
// hang guard's time.
func refreshUntil(t *testing.T, h *Holder, url string, interval time.Duration, want, why string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Refresh(ctx, url, interval)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.After(10 * time.Second) // a hang guard, not a measurement
	for h.Current().Version != want {
		select {
		case <-deadline:
			t.Fatal(why)
		case <-time.After(time.Millisecond):
		}
	}
}

// TestRefreshRetriesSoon: a router whose clock NTP has not set yet
// refuses the feed server's certificate, and its WAN may come up after
// the daemon: a failed download is tried again within minutes, not after
// a whole refresh interval.
func TestRefreshRetriesSoon(t *testing.T) {
	good, sig := signedFeed("2030-01-02.1")
	srv := feedServer(t, map[string]http.HandlerFunc{
		"/feed.json":     failFirst(3, good),
		"/feed.json.sig": serveBytes(sig),
	})
	h := newTestHolder(t, Options{})
	h.retryFirst = time.Millisecond
	refreshUntil(t, h, srv.URL+"/feed.json", DefaultRefreshInterval, "2030-01-02.1", "a failed download was not tried again before the refresh interval")
}

func TestRefreshRetryDelays(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		want     []time.Duration
	}{
		{"daily", 24 * time.Hour, []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}},
		{"short_interval", 3 * time.Minute, []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []time.Duration
			retry := time.Duration(0)
			for range tc.want {
				retry = nextRetry(retry, feedRetryFirst, tc.interval)
				got = append(got, retry)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("retry delays %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	pemBytes, err := MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"pem": pemBytes, "base64": []byte("  " + b64(pub) + "\n")} {
		k, err := ParsePublicKey(in)
		if err != nil || !k.Equal(pub) {
			t.Errorf("%s: ParsePublicKey = %v, %v", name, k, err)
		}
	}
	privPEM, _ := MarshalPrivateKey(testKey)
	for name, in := range map[string][]byte{"private_key_pem": privPEM, "short": []byte("AAAA"), "empty": nil} {
		if _, err := ParsePublicKey(in); err == nil {
			t.Errorf("%s: ParsePublicKey accepted it", name)
		}
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil || !priv.Equal(testKey) {
		t.Errorf("ParsePrivateKey round trip: %v", err)
	}
	if _, err := ParsePrivateKey(pemBytes); err == nil {
		t.Error("ParsePrivateKey accepted a public key")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestLoadURLSignatureNextToPathNotQuery(t *testing.T) {
	good, sig := signedFeed("2030-01-02.1")
	var sigQuery string
	srv := feedServer(t, map[string]http.HandlerFunc{
		"/feed.json": serveBytes(good),
		"/feed.json.sig": func(w http.ResponseWriter, r *http.Request) {
			sigQuery = r.URL.RawQuery
			_, _ = w.Write(sig)
		},
	})
	h := newTestHolder(t, Options{})
	if err := h.LoadURL(context.Background(), srv.URL+"/feed.json?channel=stable"); err != nil {
		t.Fatalf("LoadURL: %v", err)
	}
	if sigQuery != "channel=stable" {
		t.Errorf("signature fetched with query %q, want channel=stable", sigQuery)
	}
}

// TestKeptFeed: the newest feed installed survives a restart, and with it
// the refusal of older signed feeds; a kept copy that is damaged, older
// than the built-in feed or missing leaves the built-in feed in force.
func TestKeptFeed(t *testing.T) {
	newer, newerSig := signedFeed("2030-01-03.1")
	between, betweenSig := signedFeed("2030-01-02.1")
	older, olderSig := signedFeed("2029-12-31.1")
	kept := func(feed, sig []byte) []byte { return append(append(bytes.TrimSpace(sig), '\n'), feed...) }
	tests := []struct {
		name   string
		file   []byte // the kept file at start; nil: none
		active string // after the restart
	}{
		{"none", nil, "2030-01-01.1"},
		{"newer", kept(newer, newerSig), "2030-01-03.1"},
		{"older_than_built_in", kept(older, olderSig), "2030-01-01.1"},
		{"signature_of_another_feed", kept(newer, betweenSig), "2030-01-01.1"},
		{"altered", bytes.Replace(kept(newer, newerSig), []byte(`"critical"`), []byte(`"low"`), 1), "2030-01-01.1"},
		{"truncated", kept(newer, newerSig)[:300], "2030-01-01.1"},
		{"no_signature_line", newer, "2030-01-01.1"},
		{"empty", []byte{}, "2030-01-01.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "advisory-feed.signed")
			if tc.file != nil {
				if err := os.WriteFile(path, tc.file, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h := newTestHolder(t, Options{KeepPath: path})
			if got := h.Current().Version; got != tc.active {
				t.Errorf("active version after the restart %q, want %q", got, tc.active)
			}
		})
	}

	t.Run("round_trip", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state", "advisory-feed.signed")
		first := newTestHolder(t, Options{KeepPath: path})
		if err := first.LoadBytes(newer, newerSig, "https://feed.example/f.json"); err != nil {
			t.Fatal(err)
		}
		before, err := os.Stat(path)
		if err != nil {
			t.Fatalf("newest feed not kept: %v", err)
		}
		second := newTestHolder(t, Options{KeepPath: path})
		if got := second.Current().Version; got != "2030-01-03.1" {
			t.Fatalf("active version after the restart %q, want the kept 2030-01-03.1", got)
		}
		// Between the built-in and the kept version: accepted by a
		// holder that forgot, refused by one that kept.
		if err := second.LoadBytes(between, betweenSig, "replay"); !errors.Is(err, ErrDowngrade) {
			t.Errorf("an older signed feed after the restart: %v, want %v", err, ErrDowngrade)
		}
		after, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) {
			t.Error("the kept copy was written again when it was read back")
		}
	})

	// A signature file's fields may be split by any white space, new
	// lines too: verify takes them, and so must the kept copy, or an
	// attacker on the path of a plain-http feed URL who adds a new line
	// would keep the feed from being kept, and reopen the rollback.
	for name, sig := range map[string][]byte{
		"signature_after_a_new_line":  append([]byte("\n"), newerSig...),
		"signature_fields_on_lines":   bytes.Replace(newerSig, []byte(" "), []byte("\n"), -1),
		"signature_with_crlf_and_tab": bytes.Replace(bytes.TrimSpace(newerSig), []byte(" "), []byte("\t"), 1),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "advisory-feed.signed")
			if err := newTestHolder(t, Options{KeepPath: path}).LoadBytes(newer, sig, "test"); err != nil {
				t.Fatal(err)
			}
			if got := newTestHolder(t, Options{KeepPath: path}).Current().Version; got != "2030-01-03.1" {
				t.Errorf("active version after the restart %q, want the kept 2030-01-03.1", got)
			}
		})
	}

	t.Run("fifo_does_not_hang", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "advisory-feed.signed")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := newTestHolder(t, Options{KeepPath: path}).Current().Version; got != "2030-01-01.1" {
			t.Errorf("active version %q, want the built-in 2030-01-01.1", got)
		}
	})

	t.Run("interrupted_write_cleared", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "advisory-feed.signed")
		if err := os.WriteFile(path+".tmp-123", kept(newer, newerSig), 0o600); err != nil {
			t.Fatal(err)
		}
		newTestHolder(t, Options{KeepPath: path})
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left after the start: %v", entries)
		}
	})

	t.Run("not_kept_still_in_force", func(t *testing.T) {
		path := t.TempDir() // a directory: the write fails
		h := newTestHolder(t, Options{KeepPath: path})
		if err := h.LoadBytes(newer, newerSig, "test"); err != nil {
			t.Fatalf("a feed that could not be kept was refused: %v", err)
		}
		if got := h.Current().Version; got != "2030-01-03.1" {
			t.Errorf("active version %q, want 2030-01-03.1", got)
		}
	})
}

// TestFeedRedirects: a feed server may move the download on its own host
// or to https elsewhere, but not make the router send a request to
// another host in clear or to a LAN or loopback address.
func TestFeedRedirects(t *testing.T) {
	good, sig := signedFeed("2030-01-02.1")
	var lanHits atomic.Int32
	lan := feedServer(t, map[string]http.HandlerFunc{"/": func(http.ResponseWriter, *http.Request) { lanHits.Add(1) }})
	to := func(target string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) }
	}
	feed := feedServer(t, map[string]http.HandlerFunc{
		"/moved.json":             to("/feed.json"),
		"/moved.json.sig":         to("/feed.json.sig"),
		"/feed.json":              serveBytes(good),
		"/feed.json.sig":          serveBytes(sig),
		"/to-lan.json":            to(lan.URL + "/cgi-bin/reboot"),
		"/to-https-loopback.json": to("https://127.0.0.2:1/cgi-bin/reboot"),
		"/to-localhost.json":      to("https://localhost:1/x"),
		"/loop.json":              to("/loop.json"),
	})
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"/moved.json", true},
		{"/to-lan.json", false},
		{"/to-https-loopback.json", false},
		{"/to-localhost.json", false},
		{"/loop.json", false},
	} {
		t.Run(tt.path, func(t *testing.T) {
			h := newTestHolder(t, Options{})
			err := h.LoadURL(context.Background(), feed.URL+tt.path)
			if (err == nil) != tt.ok {
				t.Errorf("LoadURL(%s): %v, want success %v", tt.path, err, tt.ok)
			}
		})
	}
	if n := lanHits.Load(); n != 0 {
		t.Errorf("the LAN server got %d requests", n)
	}
}

// TestDialFeed: a host a redirect named (a name may resolve into the LAN)
// is dialled only at a public address; the configured feed host may be
// on the LAN.
func TestDialFeed(t *testing.T) {
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	for _, tt := range []struct {
		name, feedHost string
		ok             bool
	}{
		{"configured_host_on_loopback", addr, true},
		{"other_host_at_loopback", "feed.example:443", false},
		{"configured_host_other_port", "127.0.0.1:1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := conns.Load()
			c, err := dialFeed(context.WithValue(context.Background(), feedHostKey{}, tt.feedHost), "tcp", addr)
			if err == nil {
				c.Close()
			}
			if (err == nil) != tt.ok {
				t.Fatalf("dialFeed: %v, want success %v", err, tt.ok)
			}
			if tt.ok {
				// Counted before the next case looks.
				for conns.Load() == before {
					time.Sleep(time.Millisecond)
				}
				return
			}
			// The refusal comes before connect: nothing reached the server.
			for i := 0; i < 20 && conns.Load() == before; i++ {
				time.Sleep(time.Millisecond)
			}
			if conns.Load() != before {
				t.Error("the refused dial reached the server")
			}
		})
	}
}

// TestStaleFeedWarned: a feed in force past StaleAfter is logged at each
// refresh, a fresh one is not.
func TestStaleFeedWarned(t *testing.T) {
	generated := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // baseFeed's
	for _, tt := range []struct {
		name string
		now  time.Time
		warn bool
	}{
		{"fresh", generated.Add(24 * time.Hour), false},
		{"just_inside", generated.Add(StaleAfter), false},
		{"stale", generated.Add(StaleAfter + 24*time.Hour), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newTestHolder(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			h.warnIfStale(tt.now)
			if got := strings.Contains(logs.String(), "advisory feed in force is old"); got != tt.warn {
				t.Errorf("warned %v, want %v: %s", got, tt.warn, logs.String())
			}
		})
	}
}
