package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iotgw/iotgw/internal/connlimit"
	"github.com/iotgw/iotgw/internal/freebind"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// maxForm caps the body of a form or API request.
const maxForm = 8192

// Options configure the server.
type Options struct {
	// Addrs are the addresses to listen on: the router's LAN addresses.
	// An unspecified address (0.0.0.0, ::) is refused.
	Addrs []netip.AddrPort
	// Forbidden are addresses the server must never listen on (the
	// router's WAN addresses); Listen refuses them.
	Forbidden []netip.Addr
	// Hostnames are accepted in the Host header besides the listen
	// addresses; any other Host is refused, which stops DNS rebinding.
	// There is no default name: one a LAN device could claim (by asking
	// DHCP for it) would let it pose as the page.
	Hostnames []string
	// TLS, when set, serves HTTPS (see LoadOrCreateCertificate) and
	// marks cookies Secure.
	TLS *tls.Certificate
	// Policy returns the effective policy for the read-only policy page;
	// nil hides it. ConfigPath names the file to edit.
	Policy     func() config.Policy
	ConfigPath string
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OwnerAt, when set, is told the address of every successful login:
	// the device the owner manages iotgw from is never quarantined.
	OwnerAt func(addr netip.Addr)
	// ForgetOwners, when set, is called when a new password is stored
	// (the first-run setup, also after a reset, and a change), which
	// ends every session: the devices OwnerAt was told of are the
	// owner's no more until they log in again, but the one at keep, the
	// browser that set the password, of which OwnerAt then hears again.
	ForgetOwners func(keep netip.Addr)
	// HolderOf, when set, returns the MAC that holds a client's address
	// on the LAN (netwatch.HolderOf): a device's connections from all the
	// addresses it gives itself then hold at most half of MaxConns (each
	// address still holds its own MaxConnsPerSource). Without it, or for
	// an address it knows no MAC for, only IPv6 addresses are grouped, by
	// /64.
	HolderOf func(netip.Addr) (hwaddr.MAC, bool)
}

// Server is the web page and the authenticated JSON API.
type Server struct {
	opt     Options
	backend api.Backend
	store   AuthStore
	alerts  AlertSettings
	log     *slog.Logger
	now     func() time.Time

	api       http.Handler
	mux       *http.ServeMux
	sessions  *sessions
	logins    *limiter
	setups    *limiter
	setupLog  *logBudget
	passwords *passwordChecker
	hosts     map[string]bool
	// hashing lets one password hash run at a time: each costs argon2id's
	// memory, and a login flood must not multiply it.
	hashing chan struct{}
	// setupMu makes the first-run setup happen once.
	setupMu sync.Mutex
	// sessionRecheck is how often an event stream checks its session
	// (the constant; shorter in tests).
	sessionRecheck time.Duration
	// guestIdle is how long a connection without a logged-in session
	// stays idle (guestIdleTimeout; shorter in tests).
	guestIdle time.Duration
	// writeStall is how long one write to a client may wait
	// (writeStallTimeout; shorter in tests).
	writeStall time.Duration
}

// New builds the server. alerts may be nil (no alert engine): the alert
// page then says so. On a first start (no password, no pending code) it
// creates the setup code.
func New(opt Options, backend api.Backend, store AuthStore, alerts AlertSettings) (*Server, error) {
	if backend == nil || store == nil {
		return nil, errors.New("web: a backend and an auth store are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	pc, err := newPasswordChecker()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	pending, err := EnsureSetupCode(store)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if pending {
		opt.Logger.Info("web page not set up yet: read the one-time setup code with `iotgw setup-code` and open the page")
	}
	s := &Server{
		opt:            opt,
		backend:        backend,
		store:          store,
		alerts:         alerts,
		log:            opt.Logger,
		now:            opt.Now,
		api:            api.Handler(backend, opt.Logger),
		sessions:       newSessions(opt.Now),
		sessionRecheck: sessionRecheck,
		guestIdle:      guestIdleTimeout,
		writeStall:     writeStallTimeout,
		logins:         newLimiter(opt.Now, true),
		setups:         newLimiter(opt.Now, false),
		setupLog:       newLogBudget(opt.Now),
		passwords:      pc,
		hosts:          map[string]bool{},
		hashing:        make(chan struct{}, 1),
	}
	for _, a := range opt.Addrs {
		s.hosts[a.Addr().Unmap().String()] = true
	}
	for _, h := range opt.Hostnames {
		s.hosts[canonicalHost(h)] = true // as a Host header is: "router.lan." is "router.lan"
	}
	s.mux = s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler: security headers and the Host check
// for every response, the refusal of state-changing requests from other
// sites, then the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer the page's own
	// forms would post Origin "null", which a page elsewhere can send too.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !s.hostAllowed(r.Host) {
		http.Error(w, "unknown host name: open the page by the router's address, or add the name to [web] hostnames", http.StatusMisdirectedRequest)
		return
	}
	if isStateChanging(r.Method) && s.fromOtherSite(r) {
		pageError(w, r, http.StatusForbidden, "refused: the request came from another site")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// fromOtherSite reports whether the browser says a request came from
// another origin: Sec-Fetch-Site, or an Origin other than the page's.
// The form tokens alone do not settle it: the login and setup forms'
// token is a cookie, which a sibling host under the page's name can
// plant over plain HTTP, and wrong passwords the owner's browser is made
// to send lock the owner's own address out. Origin "null" is refused: a
// page elsewhere gets it by asking for no referrer, and over plain HTTP
// browsers send no Sec-Fetch-Site; the page's own forms carry its origin
// under its same-origin referrer policy. A client that sends neither
// header (curl) is no browser to be misused.
func (s *Server) fromOtherSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	scheme := "http"
	if s.opt.TLS != nil {
		scheme = "https"
	}
	u, err := url.Parse(origin)
	return err != nil || u.Scheme != scheme || !strings.EqualFold(u.Host, r.Host)
}

func (s *Server) hostAllowed(hostport string) bool { return s.hosts[canonicalHost(hostport)] }

// canonicalHost is the host of a Host header as the page knows its names:
// without port, brackets or trailing dot, lower case, an address in its
// plain form.
func canonicalHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().WithZone("").String()
	}
	return host
}

// Listen opens a TCP listener on each configured address. It refuses
// none at all, unspecified addresses and forbidden (WAN) addresses, and
// opens nothing when one address is refused.
func (s *Server) Listen() ([]net.Listener, error) {
	return Listen(s.opt.Addrs, s.opt.Forbidden)
}

// Listen opens listeners on addrs, refusing unspecified and forbidden
// addresses; on any error it closes what it opened.
func Listen(addrs []netip.AddrPort, forbidden []netip.Addr) ([]net.Listener, error) {
	if len(addrs) == 0 {
		return nil, errors.New("web: no address to listen on")
	}
	for _, a := range addrs {
		ip := a.Addr().Unmap()
		switch {
		case !a.IsValid():
			return nil, fmt.Errorf("web: invalid listen address %v", a)
		case ip.IsUnspecified():
			return nil, fmt.Errorf("web: refusing to listen on %v: name the router's LAN addresses", a)
		case slices.ContainsFunc(forbidden, func(f netip.Addr) bool { return f.Unmap() == ip }):
			return nil, fmt.Errorf("web: refusing to listen on %v: it is a WAN address", a)
		}
	}
	var lns []net.Listener
	lc := net.ListenConfig{Control: freebind.Control}
	for _, a := range addrs {
		ln, err := lc.Listen(context.Background(), "tcp", a.String())
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("web: %w", err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// MaxConns is how many connections each of the page's listeners serves at
// once: a few browsers with their live views, and logins.
const MaxConns = 32

// MaxConnsPerSource is how many of them one client address may hold: a
// browser opens up to six to one host, event stream included. The
// addresses of one device (Options.HolderOf) hold at most half of
// MaxConns together, so a device on the LAN holding connections open from
// made-up addresses leaves the owner the other half, and hosts behind one
// extender's MAC each have their own share within the half they share.
const MaxConnsPerSource = 8

// Serve serves on lns (HTTPS when Options.TLS is set) until ctx ends.
func (s *Server) Serve(ctx context.Context, lns []net.Listener) error {
	guests := newGuestIdle(s.guestIdle)
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// Requests end with ctx, so event streams do not hold up Shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnContext: guests.connContext,
		ConnState:   guests.connState,
	}
	// HTTP/1.1 only: iotgw is built without net/http's HTTP/2 (smaller
	// on flash), and ServeTLS would still offer "h2" to browsers by ALPN
	// unless told otherwise.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	if s.opt.TLS != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*s.opt.TLS}, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"}}
	}
	errs := make(chan error, len(lns))
	for _, ln := range lns {
		// Each connection holds a goroutine and buffers, and logins queue
		// for the one argon2id slot: beyond the cap, clients wait in the
		// kernel's backlog instead of in the router's memory.
		ln := connlimit.New(ln, MaxConns, MaxConnsPerSource, connlimit.ByDevice(s.opt.HolderOf))
		go func() {
			var err error
			if s.opt.TLS != nil {
				err = srv.Serve(s.listenTLS(ln, srv.TLSConfig))
			} else {
				err = srv.Serve(stallListener{Listener: ln, timeout: s.writeStall})
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errs <- err
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	if first != nil {
		return fmt.Errorf("web: %w", first)
	}
	return nil
}
