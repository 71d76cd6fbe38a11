package advisory

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iotgw/iotgw/internal/inetaddr"
	"github.com/iotgw/iotgw/internal/statefile"
)

// The curated feed, its signature and the project's public keys ship in
// the binary. The feed is verified with the keys at start like any other.
//
//go:embed feed.json feed.json.sig keys/*.pem
var embedded embed.FS

// Defaults for Options.
const (
	DefaultMaxFeedBytes    = 4 << 20
	DefaultFetchTimeout    = 30 * time.Second
	DefaultRefreshInterval = 24 * time.Hour
)

var (
	// ErrDowngrade: the feed is older than, or the same version as but
	// different from, the active one.
	ErrDowngrade = errors.New("advisory feed is not newer than the active one")
	// ErrTooLarge: the feed is bigger than Options.MaxFeedBytes.
	ErrTooLarge = errors.New("advisory feed too large")
)

// Options configure a Holder. The zero value is usable.
type Options struct {
	// TrustedKeys are accepted in addition to the project's embedded keys,
	// for an owner who signs a private feed.
	TrustedKeys []ed25519.PublicKey
	// MaxFeedBytes caps a feed file or download (DefaultMaxFeedBytes when 0).
	MaxFeedBytes int64
	// FetchTimeout bounds one LoadURL (DefaultFetchTimeout when 0).
	FetchTimeout time.Duration
	// Client fetches feeds; nil means feedClient's.
	Client *http.Client
	// Logger receives load results; nil means slog.Default().
	Logger *slog.Logger
	// KeepPath, when set, is where the newest feed installed (from a
	// file or a URL) is kept with its signature, and read back, verified
	// like any other, when the Holder is made: a restart neither falls
	// back to the built-in feed until the next download nor accepts a
	// signed feed older than the newest one already seen.
	KeepPath string
}

// Holder keeps the active feed. Readers call Current, lock-free; loads are
// serialised, verified (signature, schema, validity, version) and swap the
// feed atomically, so a rejected feed leaves the previous one in place.
type Holder struct {
	cur     atomic.Pointer[Feed]
	mu      sync.Mutex // serialises loads: check-then-swap
	keys    []ed25519.PublicKey
	max     int64
	timeout time.Duration
	client  *http.Client
	log     *slog.Logger
	keep    string
	// retryFirst is the first delay before a failed Refresh tries again
	// (feedRetryFirst; tests shorten it).
	retryFirst time.Duration
}

// NewHolder verifies the embedded feed with the embedded keys and makes it
// the active feed.
func NewHolder(opts Options) (*Holder, error) {
	keys, err := embeddedKeys()
	if err != nil {
		return nil, err
	}
	feed, err := embedded.ReadFile("feed.json")
	if err != nil {
		return nil, fmt.Errorf("embedded advisory feed: %w", err)
	}
	sig, err := embedded.ReadFile("feed.json.sig")
	if err != nil {
		return nil, fmt.Errorf("embedded advisory feed signature: %w", err)
	}
	f, err := verifyAndParse(keys, feed, sig)
	if err != nil {
		return nil, fmt.Errorf("embedded advisory feed: %w", err)
	}
	return newHolder(f, append(keys, opts.TrustedKeys...), opts), nil
}

// Verify checks a feed's signature against the embedded keys and
// opts.TrustedKeys, then parses and validates it, without installing it.
func Verify(feed, sig []byte, opts Options) (*Feed, error) {
	keys, err := embeddedKeys()
	if err != nil {
		return nil, err
	}
	return verifyAndParse(append(keys, opts.TrustedKeys...), feed, sig)
}

func verifyAndParse(keys []ed25519.PublicKey, feed, sig []byte) (*Feed, error) {
	if err := verify(keys, feed, sig); err != nil {
		return nil, err
	}
	return ParseFeed(feed)
}

func newHolder(initial *Feed, keys []ed25519.PublicKey, opts Options) *Holder {
	h := &Holder{
		keys:    keys,
		max:     opts.MaxFeedBytes,
		timeout: opts.FetchTimeout,
		client:  opts.Client,
		log:     opts.Logger,
		keep:    opts.KeepPath,

		retryFirst: feedRetryFirst,
	}
	if h.max <= 0 {
		h.max = DefaultMaxFeedBytes
	}
	if h.timeout <= 0 {
		h.timeout = DefaultFetchTimeout
	}
	if h.client == nil {
		h.client = feedClient()
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.cur.Store(initial)
	h.loadKept()
	return h
}

// The kept feed is one file, so that a power cut while it is written
// cannot pair a feed with another's signature: the signature file's one
// line, then the feed's bytes.

// loadKept installs the kept feed if it is newer than the one in force
// (a firmware upgrade may bring a newer built-in feed).
func (h *Holder) loadKept() {
	if h.keep == "" {
		return
	}
	if _, err := statefile.RemoveTemps(h.keep); err != nil {
		h.log.Warn("temporary files of an interrupted write of the kept advisory feed not removed", "path", h.keep, "err", err)
	}
	b, err := readCapped(h.keep, h.max+maxSigFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		sig, feed, ok := bytes.Cut(b, []byte("\n"))
		if !ok {
			err = fmt.Errorf("%s: no signature line", h.keep)
		} else {
			err = h.load(feed, sig, keptOrigin)
		}
	}
	switch {
	case errors.Is(err, ErrDowngrade):
		h.log.Info("kept advisory feed is not newer than the built-in one; not used", "path", h.keep, "err", err)
	case err != nil:
		h.log.Warn("kept advisory feed not loaded; the next download replaces it", "path", h.keep, "err", err)
	}
}

// keptOrigin names the kept feed in logs, and tells load not to write
// back what it just read.
const keptOrigin = "the kept copy"

// saveKept keeps feed and sig, replacing the copy kept before. Called
// with h.mu held, after f is in force.
func (h *Holder) saveKept(feed, sig []byte, origin string) {
	if h.keep == "" || origin == keptOrigin {
		return
	}
	// The signature file's fields may be split by any white space,
	// new lines too; the kept copy holds them on its first line.
	line := strings.Join(strings.Fields(string(sig)), " ")
	b := make([]byte, 0, len(line)+1+len(feed))
	b = append(append(append(b, line...), '\n'), feed...)
	if err := statefile.Write(h.keep, b); err != nil {
		h.log.Warn("advisory feed in force but not kept; a restart uses the older one until the next download", "path", h.keep, "err", err)
	}
}

func embeddedKeys() ([]ed25519.PublicKey, error) {
	names, err := fs.Glob(embedded, "keys/*.pem")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("embedded advisory keys: none found")
	}
	keys := make([]ed25519.PublicKey, 0, len(names))
	for _, n := range names {
		b, err := embedded.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("embedded advisory key %s: %w", n, err)
		}
		k, err := ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("embedded advisory key %s: %w", n, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Current returns the active feed. It is never nil and never changes
// under the caller: a reload installs a new Feed.
func (h *Holder) Current() *Feed { return h.cur.Load() }

// LoadFile loads a feed and its signature from files; sigPath "" means
// path + ".sig".
func (h *Holder) LoadFile(path, sigPath string) error {
	if sigPath == "" {
		sigPath = path + ".sig"
	}
	feed, err := readCapped(path, h.max)
	if err != nil {
		return err
	}
	sig, err := readCapped(sigPath, maxSigFileSize)
	if err != nil {
		return err
	}
	return h.LoadBytes(feed, sig, path)
}

// readCapped reads a feed or signature file of at most max bytes.
func readCapped(name string, max int64) ([]byte, error) {
	b, err := statefile.Read(name, max)
	switch {
	case errors.Is(err, statefile.ErrTooLarge):
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, name, max)
	case err != nil:
		return nil, fmt.Errorf("advisory feed: %w", err)
	}
	return b, nil
}

// LoadURL fetches a feed from rawURL and its signature from the same URL
// with ".sig" added to the path (http or https), each with the size cap,
// both within FetchTimeout.
// Errors and logs name the URL without its user information and query,
// which may carry a password or token (as the configuration's own errors
// leave the URL out).
func (h *Holder) LoadURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("advisory feed URL: want http(s)://host/path")
	}
	sigURL := *u
	sigURL.Path += ".sig"
	sigURL.RawPath = ""
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	feed, err := h.fetch(ctx, u, h.max)
	if err != nil {
		return err
	}
	sig, err := h.fetch(ctx, &sigURL, maxSigFileSize)
	if err != nil {
		return err
	}
	return h.LoadBytes(feed, sig, shownURL(u))
}

// shownURL is u as errors and logs name it: no user information, no
// query.
func shownURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery = nil, "", false
	return c.String()
}

// feedClient fetches feeds. A redirect is followed only on the same
// host, or to https elsewhere, and no host but the configured one is
// dialled at an address that is not public (a name may resolve into the
// LAN): the signature keeps a bad feed out, but not the request itself,
// and a feed server (or anyone on the path of an http:// feed URL) must
// not make the router send requests into its LAN. The feed is fetched
// directly, not through a proxy from the environment (which would be
// dialled at a LAN address too). A feed's headers are small; Go's
// default allows 10 MB of them.
func feedClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = dialFeed
	tr.MaxResponseHeaderBytes = 16 << 10
	return &http.Client{Transport: tr, CheckRedirect: feedRedirect}
}

// feedHostKey is the context key under which fetch names the configured
// URL's host and port: the one service the client may reach at a LAN or
// loopback address (a feed mirrored on the LAN); not another port of
// that host, which a redirect could name.
type feedHostKey struct{}

// dialFeed dials addr; for any service but the configured one, only at
// a public address, checked on the address the name resolved to.
func dialFeed(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if addr != ctx.Value(feedHostKey{}) {
		d.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			if ap, err := netip.ParseAddrPort(address); err != nil || !inetaddr.Public(ap.Addr().Unmap()) {
				return errors.New("refused: not a public address")
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// hostPort is u's host and port as the transport dials it: the scheme's
// port when u names none.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// maxFeedRedirects is enough for a release download's hop to its storage.
const maxFeedRedirects = 5

func feedRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxFeedRedirects {
		return fmt.Errorf("more than %d redirects", maxFeedRedirects)
	}
	first := via[0].URL
	if req.URL.Scheme == first.Scheme && req.URL.Host == first.Host {
		return nil
	}
	if req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %s refused: only https leaves the feed's host", shownURL(req.URL))
	}
	host := req.URL.Hostname()
	if a, err := netip.ParseAddr(host); err == nil && !inetaddr.Public(a.Unmap()) || strings.EqualFold(host, "localhost") {
		return fmt.Errorf("redirect to %s refused: not a public address", shownURL(req.URL))
	}
	return nil
}

func (h *Holder) fetch(ctx context.Context, u *url.URL, max int64) ([]byte, error) {
	shown := shownURL(u)
	ctx = context.WithValue(ctx, feedHostKey{}, hostPort(u))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("advisory feed %s: %w", shown, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// Its *url.Error names the URL with the query; a redirect's
		// target is named as shown.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
			if to, perr := url.Parse(ue.URL); perr == nil && to.String() != u.String() {
				err = fmt.Errorf("redirected to %s: %w", shownURL(to), err)
			}
		}
		return nil, fmt.Errorf("advisory feed %s: %w", shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("advisory feed %s: HTTP status %s", shown, resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: %s announces %d bytes, the cap is %d", ErrTooLarge, shown, resp.ContentLength, max)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("advisory feed %s: download incomplete after %d bytes: %w", shown, len(b), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, shown, max)
	}
	return b, nil
}

// LoadBytes verifies and installs a feed given as bytes; origin names it in
// errors and logs. Loading the bytes of the active feed again is a no-op.
// On error the active feed stays; logging the error is the caller's.
func (h *Holder) LoadBytes(feed, sig []byte, origin string) error {
	if err := h.load(feed, sig, origin); err != nil {
		return fmt.Errorf("advisory feed from %s: %w", origin, err)
	}
	return nil
}

func (h *Holder) load(feed, sig []byte, origin string) error {
	if int64(len(feed)) > h.max {
		return fmt.Errorf("%w: %d bytes, the cap is %d", ErrTooLarge, len(feed), h.max)
	}
	f, err := verifyAndParse(h.keys, feed, sig)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.Current()
	switch c := f.serial.compare(cur.serial); {
	case c == 0 && f.digest == cur.digest:
		return nil
	case c == 0:
		return fmt.Errorf("%w: version %s is active with different content", ErrDowngrade, cur.Version)
	case c < 0:
		return fmt.Errorf("%w: version %s is older than the active %s", ErrDowngrade, f.Version, cur.Version)
	}
	h.cur.Store(f)
	h.log.Info("advisory feed loaded", "origin", origin, "version", f.Version,
		"previous", cur.Version, "advisories", len(f.Advisories))
	h.saveKept(feed, sig, origin)
	return nil
}

// StaleAfter is how old the feed in force may be, by its "generated"
// time, before Refresh warns at each attempt: a feed server that keeps
// serving the same feed, or a path that replays it, would otherwise hold
// the router on it in silence, while a failed download is logged.
const StaleAfter = 30 * 24 * time.Hour

// warnIfStale logs when the feed in force is older than StaleAfter.
func (h *Holder) warnIfStale(now time.Time) {
	f := h.Current()
	if age := now.Sub(f.Generated); age > StaleAfter {
		h.log.Warn("advisory feed in force is old: the feed server has served nothing newer",
			"active", f.Version, "generated", f.Generated.Format(time.DateOnly), "days", int(age.Hours()/24))
	}
}

// Refresh loads the feed at rawURL now and then every interval
// (DefaultRefreshInterval when not positive) until ctx ends. Failures are
// logged and the active feed stays; a failed load is tried again after
// feedRetryFirst, then after twice as long each time, at most every
// interval or every feedRetryMax: a router whose clock NTP has not set
// yet refuses the server's certificate, and its WAN may come up after
// the daemon, so the first load at boot often fails. A server that
// answers with nothing newer (ErrDowngrade) waits for the next interval.
func (h *Holder) Refresh(ctx context.Context, rawURL string, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultRefreshInterval
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	var retry time.Duration
	for {
		wait := interval
		err := h.LoadURL(ctx, rawURL)
		switch {
		case ctx.Err() != nil:
		case err != nil && !errors.Is(err, ErrDowngrade):
			retry = nextRetry(retry, h.retryFirst, interval)
			wait = retry
			h.log.Warn("advisory feed refresh failed; keeping the active feed",
				"active", h.Current().Version, "retry_in", retry, "err", err)
		case err != nil:
			retry = 0
			h.log.Warn("advisory feed refresh failed; keeping the active feed",
				"active", h.Current().Version, "err", err)
		default:
			retry = 0
		}
		if ctx.Err() == nil {
			h.warnIfStale(time.Now())
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Delays before a failed feed download is tried again (Refresh).
const (
	feedRetryFirst = 30 * time.Second
	feedRetryMax   = time.Hour
)

// nextRetry is the delay after prev (zero: the first failure) before the
// next attempt: first, then doubling, at most interval or feedRetryMax.
func nextRetry(prev, first, interval time.Duration) time.Duration {
	if prev <= 0 {
		return min(first, interval)
	}
	return min(2*prev, interval, feedRetryMax)
}
