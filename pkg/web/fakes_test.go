package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// fakeBackend is an api.Backend that records every state-changing call.
type fakeBackend struct {
	mu      sync.Mutex
	devices map[string]*api.Device
	calls   []string
	filters []api.EventFilter
	events  []*event.Event
	// fail makes the next state change return this error (and change
	// nothing), as the daemon does.
	fail error
}

const cameraMAC = "c0:56:e3:1a:2b:3c"

func newFakeBackend(now time.Time) *fakeBackend {
	f := &fakeBackend{devices: map[string]*api.Device{}}
	f.devices[cameraMAC] = &api.Device{
		MAC: cameraMAC, Vendor: "Hikvision", Type: "camera", Addrs: []string{"192.168.50.101"},
		FirstSeen: now.Add(-2 * time.Hour), LastSeen: now.Add(-time.Minute), State: api.StateAlert,
		Findings: []*event.Event{{Time: now.Add(-90 * time.Minute), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
			Severity: event.SeverityCritical, Provision: "5.1-1", Summary: "telnet login with the factory default password of Hikvision",
			Evidence: event.Evidence{"user": "admin", "password": "ad***"}}},
	}
	return f
}

func (f *fakeBackend) Status() api.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return api.Status{Mode: "enforce", Capture: "running", Devices: len(f.devices)}
}

func (f *fakeBackend) Devices() []api.Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Device
	for _, d := range f.devices {
		out = append(out, *d)
	}
	return out
}

func (f *fakeBackend) Device(mac hwaddr.MAC) (api.Device, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[mac.String()]
	if !ok {
		return api.Device{}, false
	}
	return *d, true
}

func (f *fakeBackend) Events(flt api.EventFilter) []*event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	return f.events
}

func (f *fakeBackend) change(call string, mac hwaddr.MAC, apply func(d *api.Device)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if err := f.fail; err != nil {
		f.fail = nil
		return err
	}
	d, ok := f.devices[mac.String()]
	if !ok {
		return api.ErrNotFound
	}
	apply(d)
	return nil
}

func (f *fakeBackend) Quarantine(_ context.Context, mac hwaddr.MAC, mode string, dur time.Duration) error {
	return f.change(fmt.Sprintf("quarantine %s %s %s", mac, mode, dur), mac, func(d *api.Device) {
		d.State, d.Quarantine = api.StateQuarantined, &api.Quarantine{Mode: mode, By: "owner"}
	})
}

func (f *fakeBackend) Release(_ context.Context, mac hwaddr.MAC) error {
	return f.change("release "+mac.String(), mac, func(d *api.Device) { d.State, d.Quarantine = api.StateAlert, nil })
}

func (f *fakeBackend) SetTrusted(_ context.Context, mac hwaddr.MAC, trusted bool) error {
	return f.change(fmt.Sprintf("trust %s %v", mac, trusted), mac, func(d *api.Device) { d.Trusted = trusted })
}

func (f *fakeBackend) SetName(_ context.Context, mac hwaddr.MAC, name string) error {
	return f.change(fmt.Sprintf("name %s %q", mac, name), mac, func(d *api.Device) { d.Name = name })
}

func (f *fakeBackend) Subscribe() (<-chan *event.Event, func()) {
	ch := make(chan *event.Event)
	return ch, func() {}
}

func (f *fakeBackend) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// memStore is an in-memory AuthStore that keeps the clear setup code
// where a test can read it.
type memStore struct {
	mu   sync.Mutex
	st   AuthState
	code string
}

func (m *memStore) LoadAuth() (AuthState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memStore) SaveAuth(st AuthState, code string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st, m.code = st, code
	return nil
}

func (m *memStore) setupCode() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.code
}

// fakeAlerts records toggles and tests.
type fakeAlerts struct {
	mu       sync.Mutex
	channels []ChannelView
	calls    []string
	// testErr is what SendTest returns.
	testErr error
}

func (a *fakeAlerts) Channels() []ChannelView {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]ChannelView(nil), a.channels...)
}

func (a *fakeAlerts) SetEnabled(name string, on bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, fmt.Sprintf("enabled %s %v", name, on))
	for i := range a.channels {
		if a.channels[i].Name == name {
			a.channels[i].Enabled = on
			return nil
		}
	}
	return errors.New("no such channel")
}

func (a *fakeAlerts) SendTest(_ context.Context, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "test "+name)
	return a.testErr
}

func (a *fakeAlerts) recorded() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// rig is a server with fakes, driven in-process.
type rig struct {
	t       *testing.T
	srv     *Server
	backend *fakeBackend
	store   *memStore
	alerts  *fakeAlerts
	clock   *testclock.Clock
	base    string // scheme and host the browser uses
	owners  []netip.Addr
	// keptOwner is the address the last ForgetOwners kept.
	keptOwner netip.Addr
}

const routerAddr = "192.168.50.1"

func newRig(t *testing.T, https bool) *rig {
	t.Helper()
	c := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	r := &rig{t: t, backend: newFakeBackend(c.Now()), store: &memStore{}, clock: c,
		alerts: &fakeAlerts{channels: []ChannelView{{Name: "phone", Kind: "ntfy", Target: "ntfy.sh/…", Enabled: true}}}}
	opt := Options{
		Addrs:        []netip.AddrPort{netip.MustParseAddrPort(routerAddr + ":8443")},
		Hostnames:    []string{"router.lan", "NAS.Home."}, // a name as written in a zone file
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:          c.Now,
		OwnerAt:      func(a netip.Addr) { r.owners = append(r.owners, a) },
		ForgetOwners: func(keep netip.Addr) { r.owners, r.keptOwner = nil, keep },
	}
	r.base = "http://" + routerAddr + ":8443"
	if https {
		cert, err := LoadOrCreateCertificate(t.TempDir(), []netip.Addr{netip.MustParseAddr(routerAddr)}, nil, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		opt.TLS = &cert
		r.base = "https://" + routerAddr + ":8443"
	}
	srv, err := New(opt, r.backend, r.store, r.alerts)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	return r
}

// browser is one client: a cookie jar and an address.
type browser struct {
	r      *rig
	jar    *cookiejar.Jar
	remote string
}

func (r *rig) browser(remote string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return &browser{r: r, jar: jar, remote: remote + ":40000"}
}

// do sends one request through the server's handler; header may add
// headers.
func (b *browser) do(method, path string, form url.Values, header http.Header) *http.Response {
	b.r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, b.r.base+path, body)
	req.RemoteAddr = b.remote
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.r.srv.ServeHTTP(rec, req)
	resp := rec.Result()
	b.jar.SetCookies(req.URL, resp.Cookies())
	return resp
}

func (b *browser) get(path string) (*http.Response, string) {
	b.r.t.Helper()
	resp := b.do(http.MethodGet, path, nil, nil)
	return resp, readBody(b.r.t, resp)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.r.t.Helper()
	resp := b.do(http.MethodPost, path, form, nil)
	return resp, readBody(b.r.t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken reads the CSRF token of the page at path.
func (b *browser) formToken(path string) string {
	b.r.t.Helper()
	resp, body := b.get(path)
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		b.r.t.Fatalf("GET %s: %s, no CSRF field in the page:\n%s", path, resp.Status, body)
	}
	return m[1]
}

const goodPassword = "correct horse battery staple"

// setUp does the first-run setup and leaves b logged in.
func (b *browser) setUp() {
	b.r.t.Helper()
	tok := b.formToken("/setup")
	resp, body := b.post("/setup", url.Values{"csrf": {tok}, "code": {b.r.store.setupCode()}, "password": {goodPassword}, "confirm": {goodPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		b.r.t.Fatalf("setup: %s\n%s", resp.Status, body)
	}
}

// logIn logs b in with password and returns the response.
func (b *browser) logIn(password string) (*http.Response, string) {
	b.r.t.Helper()
	tok := b.formToken("/login")
	return b.post("/login", url.Values{"csrf": {tok}, "password": {password}})
}

// serveHost answers a GET of path with the Host header host.
func (r *rig) serveHost(host, path string) int {
	req := httptest.NewRequest(http.MethodGet, "http://"+routerAddr+path, nil)
	req.Host = host
	req.RemoteAddr = "192.168.50.104:40000"
	rec := httptest.NewRecorder()
	r.srv.ServeHTTP(rec, req)
	return rec.Code
}

func mustMAC(t *testing.T, s string) hwaddr.MAC {
	t.Helper()
	m, err := hwaddr.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
