// Package dnsproxy owns iotgw's optional DNS forwarder on the router's LAN
// addresses. It stands between LAN clients and the router's resolver
// (dnsmasq on OpenWrt): quarantined clients get the notice page's address
// for every name except the owner's allow-listed update domains, whose
// addresses it resolves upstream and hands to the quarantine's allow sets;
// everyone else gets the upstream's answer unchanged. It reports which names
// each client resolves, rate-bounded. Which clients reach it is decided by
// nftables rules outside this package (see README.md).
package dnsproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/internal/connlimit"
	"github.com/iotgw/iotgw/internal/freebind"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// QuarantineLookup says whether a client, by the source address of its
// query, is quarantined. It is called once per query from many goroutines:
// it must be fast and safe for concurrent use. AddrSet is one implementation.
type QuarantineLookup interface {
	IsQuarantined(client netip.Addr) bool
}

// AllowSetter lets quarantined devices reach addrs for ttl. The quarantine
// backends (quarantine.NFTables, quarantine.Fake) have this method; it
// returns when ctx ends, also while waiting for another change.
type AllowSetter interface {
	SetAllowed(ctx context.Context, addrs []netip.Addr, ttl time.Duration) error
}

// Observation says that a client asked for a name.
type Observation struct {
	Client netip.Addr
	// Name is without the trailing dot, in DNS presentation format
	// (unusual bytes escaped as \DDD), in the case the client wrote it:
	// names compare in lower case, but a token that mixes cases
	// ("Xk3Lm9Qw2Er7") is an identifier the observer may mask
	// (inspect.IDMaskedName), which lower case would hide.
	Name string
	At   time.Time
}

// Observer receives observations from one goroutine, in order. A slow
// observer loses observations (counted in Stats), it never slows queries.
type Observer interface {
	Observe(Observation)
}

// Defaults for the zero values of Config.
const (
	DefaultPort            = 5354
	DefaultNoticeTTL       = 30 * time.Second
	DefaultAllowTTLMin     = time.Minute
	DefaultAllowTTLMax     = time.Hour
	DefaultUpstreamTimeout = 2 * time.Second
	DefaultMaxUpstream     = 128
	DefaultMaxTCPConns     = 64
	DefaultMaxUDPSize      = 1232 // the DNS flag day 2020 value: no IP fragmentation
)

// Config is the proxy's configuration. Zero durations and limits take the
// defaults above.
type Config struct {
	// Listen are the router's LAN addresses with the proxy's port; UDP and
	// TCP are served on each. Port 0 picks a free port (tests).
	Listen []netip.AddrPort
	// Upstream is the only resolver queries are ever sent to; default
	// 127.0.0.1:53 (dnsmasq).
	Upstream netip.AddrPort
	// NoticeV4 is the address quarantined clients get for every name that
	// is not allow-listed (the router's LAN address), unless Links names
	// a better one. Required.
	NoticeV4 netip.Addr
	// NoticeV6, if set, answers AAAA queries of quarantined clients,
	// unless Links names a better address; without either they get an
	// empty answer (NODATA).
	NoticeV6 netip.Addr
	// Links, if set, are the router's LAN interfaces with their
	// addresses. A quarantined client is then answered with the router's
	// address on the link its query came in on, which it can reach: the
	// listen address the query reached (where the kernel's redirect sends
	// it: an address of the interface it arrived on), or for the other
	// family the first listen address of that interface, link-local ones
	// aside. A guest bridge's device answered with br-lan's address
	// would find that address cut off by its quarantine for anything but
	// the notice page's port. A listen address on no link, or a link
	// without a listen address of the family asked, takes NoticeV4 and
	// NoticeV6.
	Links []Link
	// UpdateDomains are resolved for real for quarantined clients, with
	// every name below them ("example.com" covers "fw.example.com").
	UpdateDomains []string
	// LANPrefixes are the home network's: reverse lookups (PTR) of
	// addresses in them are forwarded for quarantined clients, no other
	// reverse names.
	LANPrefixes []netip.Prefix
	// AllQuarantined treats every client as quarantined, whatever the
	// Quarantine lookup says: right when only quarantined devices are
	// sent to the proxy (by their MAC), since one that takes a new
	// address is not in the lookup yet.
	AllQuarantined bool
	// Clients, if set, are the sources the proxy answers (the LAN's
	// prefixes); a query from any other is dropped: the answer goes to
	// whatever host the source names, so a LAN host forging an internet
	// address would have the router send that host answers many times
	// the query's size. Empty: every source.
	Clients []netip.Prefix
	// NotAllowed are prefixes no update host's address is taken from:
	// the LAN's prefixes and the router's own addresses (special-purpose
	// ranges are left out anyway).
	NotAllowed []netip.Prefix
	// LocalDomains are forwarded for quarantined clients too (the router's
	// own names); default "lan". So are A and AAAA of single-label names
	// and PTR of addresses in LANPrefixes.
	LocalDomains []string
	// NoticeTTL is the TTL of notice answers.
	NoticeTTL time.Duration
	// AllowTTLMin and AllowTTLMax bound how long an update host's address
	// stays in the allow sets: the answer's TTL, raised to the minimum and
	// capped at the maximum. Answers to quarantined clients are capped to
	// the same value, so that no client caches an address longer than it
	// is allowed.
	AllowTTLMin, AllowTTLMax time.Duration
	// UpstreamTimeout bounds one forwarded query (UDP and the TCP retry
	// together) and one allow-set update.
	UpstreamTimeout time.Duration
	// MaxUpstream bounds the queries in flight to the upstream; a query
	// beyond it, or beyond a quarter of it from one client address or
	// half of it from one IPv6 /64, is answered SERVFAIL at once.
	MaxUpstream int
	// MaxTCPConns bounds open client TCP connections per listen address;
	// further connections wait in the kernel's accept queue. One client
	// address may hold a quarter of them, and the addresses of one device
	// (Deps.HolderOf), or the IPv6 addresses without a MAC in one /64,
	// half; further connections from them are closed.
	MaxTCPConns int
	// MaxUDPSize is the largest UDP answer the proxy sends or asks the
	// upstream for (EDNS payload size).
	MaxUDPSize int
}

// Link is one of the router's LAN interfaces.
type Link struct {
	// Name is the interface's: the zone of a link-local listen address
	// on it.
	Name string
	// Addrs are the interface's addresses, without zone.
	Addrs []netip.Addr
}

// noticeAddrs are the addresses a quarantined client's A and AAAA
// queries are answered with; an invalid one gives NODATA.
type noticeAddrs struct{ v4, v6 netip.Addr }

// Deps are the proxy's collaborators.
type Deps struct {
	// Quarantine is required.
	Quarantine QuarantineLookup
	// Allow is required when UpdateDomains is not empty.
	Allow AllowSetter
	// Observer is optional.
	Observer Observer
	// Logger is optional (default slog.Default()).
	Logger *slog.Logger
	// Now is optional (default time.Now); tests pass a fake clock.
	Now func() time.Time
	// HolderOf is optional: the MAC that holds a client's address on the
	// LAN (netwatch.HolderOf), so that a device's TCP connections from all
	// the addresses it gives itself hold at most half of MaxTCPConns
	// (each address still holds its own quarter). Without it, or for an
	// address it knows no MAC for, only IPv6 addresses are grouped, by
	// /64.
	HolderOf func(netip.Addr) (hwaddr.MAC, bool)
}

// Stats are counters since New.
type Stats struct {
	Queries             uint64 // queries that passed the header check (UDP and TCP)
	TCPQueries          uint64 // of which over TCP
	Forwarded           uint64 // answered from the upstream
	NoticeAnswers       uint64 // answered with the notice address or NODATA
	UpdateLookups       uint64 // names in UpdateDomains, whoever asked
	AllowUpdates        uint64 // SetAllowed calls
	AllowErrors         uint64 // SetAllowed calls that failed
	UpstreamErrors      uint64 // SERVFAIL: the upstream failed, timed out or sent what cannot be packed
	Overloaded          uint64 // SERVFAIL because MaxUpstream queries, or the client's share of them, were in flight
	Malformed           uint64 // FORMERR, NOTIMP, BADVERS or dropped as unparsable
	Outsiders           uint64 // datagrams and TCP connections from a source outside Config.Clients, dropped unread
	Truncated           uint64 // UDP answers cut to the client's size
	ObservationsOut     uint64 // observations handed to the Observer
	ObservationsDropped uint64 // lost to the rate bound or a slow Observer
}

// Proxy is the DNS forwarder. Create it with New, start it with Serve.
type Proxy struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	now   func() time.Time
	up    exchanger
	slots *upstreamSlots
	// names are the update and local domains, which SetRules replaces.
	names atomic.Pointer[domains]
	allow *allowCache
	// allowPause holds allow-set updates back (Unix nanoseconds) after
	// one failed, so that a failing backend is not asked at every query.
	allowPause atomic.Int64
	observe    *observations

	// noticeAt is the answer for a listen address's link (Config.Links),
	// by the listen address; fallback, for any other.
	noticeAt map[netip.Addr]noticeAddrs
	fallback noticeAddrs

	// wrapTCP, when set (by tests), wraps each TCP listener before the
	// connection limit.
	wrapTCP func(net.Listener) net.Listener

	readyOnce sync.Once
	ready     chan struct{}
	addrsMu   sync.Mutex
	addrs     []netip.AddrPort

	st counters
}

type counters struct {
	queries, tcpQueries, forwarded, notice, updateLookups atomic.Uint64
	allowUpdates, allowErrors, upstreamErrors, overloaded atomic.Uint64
	malformed, truncated, outsiders                       atomic.Uint64
}

// domains are the names forwarded for quarantined clients, canonical
// FQDNs.
type domains struct {
	updates, local []string
}

// newDomains checks and canonicalises the domains of cfg, with defaults
// applied.
func newDomains(cfg Config, deps Deps) (*domains, error) {
	updates, err := updateDomains(cfg.UpdateDomains)
	if err != nil {
		return nil, fmt.Errorf("dnsproxy: update_domains: %w", err)
	}
	if len(updates) > 0 && deps.Allow == nil {
		return nil, errors.New("dnsproxy: Deps.Allow is required with update domains")
	}
	local, err := localDomains(cfg.LocalDomains)
	if err != nil {
		return nil, fmt.Errorf("dnsproxy: local_domains: %w", err)
	}
	return &domains{updates: updates, local: local}, nil
}

// New checks cfg, fills in defaults and returns a proxy that is not yet
// listening.
func New(cfg Config, deps Deps) (*Proxy, error) {
	if err := applyDefaults(&cfg); err != nil {
		return nil, err
	}
	if deps.Quarantine == nil {
		return nil, errors.New("dnsproxy: Deps.Quarantine is required")
	}
	names, err := newDomains(cfg, deps)
	if err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	p := &Proxy{
		cfg:      cfg,
		deps:     deps,
		noticeAt: noticeByListenAddr(cfg),
		fallback: noticeAddrs{v4: cfg.NoticeV4, v6: cfg.NoticeV6},
		log:      deps.Logger.With("component", "dnsproxy"),
		now:      deps.Now,
		up:       newUpstream(cfg),
		slots:    newUpstreamSlots(cfg.MaxUpstream),
		allow:    newAllowCache(quarantine.MaxAllowed),
		observe:  newObservations(deps.Observer, deps.Now),
		ready:    make(chan struct{}),
	}
	p.names.Store(names)
	return p, nil
}

// noticeByListenAddr is, for each listen address on one of cfg.Links,
// the notice addresses of its link: itself for its own family, the
// link's first other listen address for the other, link-local ones
// aside; NoticeV4 or NoticeV6 where the link has none.
func noticeByListenAddr(cfg Config) map[netip.Addr]noticeAddrs {
	var listen []netip.Addr
	for _, a := range cfg.Listen {
		listen = append(listen, a.Addr())
	}
	out := map[netip.Addr]noticeAddrs{}
	for _, l := range cfg.Links {
		onLink := func(a netip.Addr) bool {
			if a.Zone() != "" {
				return a.Zone() == l.Name
			}
			return slices.Contains(l.Addrs, a)
		}
		first := func(is func(netip.Addr) bool, def netip.Addr) netip.Addr {
			for _, a := range listen {
				if onLink(a) && is(a) && !a.IsLinkLocalUnicast() {
					return a
				}
			}
			return def
		}
		link := noticeAddrs{v4: first(netip.Addr.Is4, cfg.NoticeV4), v6: first(netip.Addr.Is6, cfg.NoticeV6)}
		for _, a := range listen {
			if !onLink(a) {
				continue
			}
			n := link
			switch {
			case a.IsLinkLocalUnicast():
			case a.Is4():
				n.v4 = a
			default:
				n.v6 = a
			}
			out[a] = n
		}
	}
	return out
}

// Rules are the settings a running proxy takes without listening anew:
// what a configuration reload may change. Zero values take the defaults
// of Config.
type Rules struct {
	UpdateDomains []string
	LocalDomains  []string
	Upstream      netip.AddrPort
}

// SetRules puts r in force for the queries that come after it. An update
// host's address already allowed stays so until its TTL ends (at most
// AllowTTLMax): the kernel's allow sets have no owner per name. Invalid
// rules change nothing.
func (p *Proxy) SetRules(r Rules) error {
	cfg := p.cfg
	cfg.UpdateDomains, cfg.LocalDomains, cfg.Upstream = r.UpdateDomains, r.LocalDomains, r.Upstream
	if err := applyDefaults(&cfg); err != nil {
		return err
	}
	// The addresses bound, which a listen port 0 leaves out of cfg.
	if slices.Contains(p.Addrs(), cfg.Upstream) {
		return fmt.Errorf("dnsproxy: upstream %s is a listen address (a loop)", cfg.Upstream)
	}
	names, err := newDomains(cfg, p.deps)
	if err != nil {
		return err
	}
	if u, ok := p.up.(*upstream); ok {
		u.setAddr(cfg.Upstream)
	}
	p.names.Store(names)
	return nil
}

func applyDefaults(cfg *Config) error {
	if len(cfg.Listen) == 0 {
		return errors.New("dnsproxy: no listen address")
	}
	for _, a := range cfg.Listen {
		if !a.IsValid() {
			return fmt.Errorf("dnsproxy: listen address %s is not valid", a)
		}
	}
	if !cfg.Upstream.IsValid() {
		cfg.Upstream = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 53)
	}
	for _, a := range cfg.Listen {
		if a == cfg.Upstream {
			return fmt.Errorf("dnsproxy: upstream %s is a listen address (a loop)", a)
		}
	}
	if !cfg.NoticeV4.Is4() {
		return fmt.Errorf("dnsproxy: notice IPv4 address %q is missing or not IPv4", cfg.NoticeV4)
	}
	if cfg.NoticeV6.IsValid() && !cfg.NoticeV6.Is6() {
		return fmt.Errorf("dnsproxy: notice IPv6 address %s is not IPv6", cfg.NoticeV6)
	}
	if cfg.LocalDomains == nil {
		cfg.LocalDomains = []string{"lan"}
	}
	setDur := func(d *time.Duration, def time.Duration, name string) error {
		if *d < 0 {
			return fmt.Errorf("dnsproxy: %s %s is negative", name, *d)
		}
		if *d == 0 {
			*d = def
		}
		return nil
	}
	setInt := func(n *int, def int, name string) error {
		if *n < 0 {
			return fmt.Errorf("dnsproxy: %s %d is negative", name, *n)
		}
		if *n == 0 {
			*n = def
		}
		return nil
	}
	for _, err := range []error{
		setDur(&cfg.NoticeTTL, DefaultNoticeTTL, "notice_ttl"),
		setDur(&cfg.AllowTTLMin, DefaultAllowTTLMin, "allow_ttl_min"),
		setDur(&cfg.AllowTTLMax, DefaultAllowTTLMax, "allow_ttl_max"),
		setDur(&cfg.UpstreamTimeout, DefaultUpstreamTimeout, "upstream_timeout"),
		setInt(&cfg.MaxUpstream, DefaultMaxUpstream, "max_upstream"),
		setInt(&cfg.MaxTCPConns, DefaultMaxTCPConns, "max_tcp_conns"),
		setInt(&cfg.MaxUDPSize, DefaultMaxUDPSize, "max_udp_size"),
	} {
		if err != nil {
			return err
		}
	}
	if cfg.NoticeTTL < time.Second || cfg.NoticeTTL > time.Hour {
		return fmt.Errorf("dnsproxy: notice_ttl %s is outside 1s…1h", cfg.NoticeTTL)
	}
	if cfg.AllowTTLMin < time.Second || cfg.AllowTTLMax < cfg.AllowTTLMin || cfg.AllowTTLMax > 24*time.Hour {
		return fmt.Errorf("dnsproxy: allow TTLs %s…%s are not 1s ≤ min ≤ max ≤ 24h", cfg.AllowTTLMin, cfg.AllowTTLMax)
	}
	if cfg.MaxUDPSize < dns.MinMsgSize || cfg.MaxUDPSize > dns.MaxMsgSize {
		return fmt.Errorf("dnsproxy: max_udp_size %d is outside %d…%d", cfg.MaxUDPSize, dns.MinMsgSize, dns.MaxMsgSize)
	}
	return nil
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Queries:             p.st.queries.Load(),
		TCPQueries:          p.st.tcpQueries.Load(),
		Forwarded:           p.st.forwarded.Load(),
		NoticeAnswers:       p.st.notice.Load(),
		UpdateLookups:       p.st.updateLookups.Load(),
		AllowUpdates:        p.st.allowUpdates.Load(),
		AllowErrors:         p.st.allowErrors.Load(),
		UpstreamErrors:      p.st.upstreamErrors.Load(),
		Overloaded:          p.st.overloaded.Load(),
		Malformed:           p.st.malformed.Load(),
		Outsiders:           p.st.outsiders.Load(),
		Truncated:           p.st.truncated.Load(),
		ObservationsOut:     p.observe.out.Load(),
		ObservationsDropped: p.observe.dropped.Load(),
	}
}

// Ready is closed the first time Serve listens on every address, and
// stays closed if it fails later. A redirect of every device's DNS to the
// proxy belongs after it: a redirect to a port nobody listens on breaks
// the redirected clients' DNS.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Addrs returns the addresses Serve last listened on (UDP and TCP share
// each), with the port filled in; nil before Ready.
func (p *Proxy) Addrs() []netip.AddrPort {
	p.addrsMu.Lock()
	defer p.addrsMu.Unlock()
	return append([]netip.AddrPort(nil), p.addrs...)
}

// Serve listens on every configured address, calls up, and serves until
// ctx ends, then shuts the servers down and returns nil. It returns an
// error if a listener cannot be opened (nothing is left open then) or a
// server fails; it may then be called again.
func (p *Proxy) Serve(ctx context.Context, up func()) error {
	servers, err := p.listen(ctx)
	if err != nil {
		return err
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { p.serve(ctx, w, r) })
	errc := make(chan error, len(servers))
	startedc := make(chan struct{}, len(servers))
	for _, s := range servers {
		s.Handler = handler
		s.MsgAcceptFunc = p.accept
		s.DecorateReader = func(r dns.Reader) dns.Reader { return clientsOnly{Reader: r, p: p} }
		s.MsgInvalidFunc = func([]byte, error) { p.st.malformed.Add(1) }
		s.UDPSize = p.cfg.MaxUDPSize
		s.NotifyStartedFunc = func() { startedc <- struct{}{} }
		go func() { errc <- s.ActivateAndServe() }()
	}
	// Shutting down a server that has not started yet is a no-op that
	// would leave it running: wait until all have started.
	runErr := waitStarted(len(servers), startedc, errc)
	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	var wg sync.WaitGroup
	if runErr == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.observe.deliver(obsCtx)
		}()
		p.readyOnce.Do(func() { close(p.ready) })
		p.log.Info("dns proxy listening", "addrs", p.Addrs(), "upstream", p.cfg.Upstream)
		up()
		select {
		case <-ctx.Done():
		case err := <-errc:
			runErr = fmt.Errorf("dnsproxy: server: %w", err)
		}
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*p.cfg.UpstreamTimeout)
	defer cancel()
	for _, s := range servers {
		// A server that failed or never started reports "not started".
		_ = s.ShutdownContext(shutdown)
	}
	closeServers(servers)
	stopObs()
	wg.Wait()
	return runErr
}

// waitStarted waits until n servers have started or one has failed.
func waitStarted(n int, started <-chan struct{}, errc <-chan error) error {
	for range n {
		select {
		case <-started:
		case err := <-errc:
			return fmt.Errorf("dnsproxy: server: %w", err)
		}
	}
	return nil
}

// closeServers closes every socket; closing one twice is harmless.
func closeServers(servers []*dns.Server) {
	for _, s := range servers {
		if s.PacketConn != nil {
			s.PacketConn.Close()
		}
		if s.Listener != nil {
			s.Listener.Close()
		}
	}
}

// listen opens UDP and TCP sockets on every listen address. With port 0 the
// TCP socket takes the port the kernel gave the UDP socket, so that both
// transports share one port as DNS clients expect.
func (p *Proxy) listen(ctx context.Context) ([]*dns.Server, error) {
	var (
		lc      = net.ListenConfig{Control: freebind.Control}
		servers []*dns.Server
		addrs   []netip.AddrPort
	)
	for _, want := range p.cfg.Listen {
		pc, ln, bound, err := listenPair(ctx, &lc, want)
		if err != nil {
			closeServers(servers)
			return nil, err
		}
		if p.wrapTCP != nil {
			ln = p.wrapTCP(ln)
		}
		limited := connlimit.New(ln, p.cfg.MaxTCPConns, max(p.cfg.MaxTCPConns/4, 1), connlimit.ByDevice(p.deps.HolderOf))
		servers = append(servers,
			&dns.Server{PacketConn: pc},
			&dns.Server{Listener: writeDeadlines{limited}})
		addrs = append(addrs, bound)
	}
	p.addrsMu.Lock()
	p.addrs = addrs
	p.addrsMu.Unlock()
	return servers, nil
}

// portRetries bounds the attempts to find a port free for UDP and TCP.
const portRetries = 16

func listenPair(ctx context.Context, lc *net.ListenConfig, want netip.AddrPort) (net.PacketConn, net.Listener, netip.AddrPort, error) {
	for range portRetries {
		pc, err := lc.ListenPacket(ctx, "udp", want.String())
		if err != nil {
			return nil, nil, netip.AddrPort{}, fmt.Errorf("dnsproxy: %w", err)
		}
		bound := netip.AddrPortFrom(want.Addr(), pc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		ln, err := lc.Listen(ctx, "tcp", bound.String())
		if err == nil {
			return pc, ln, bound, nil
		}
		pc.Close()
		if want.Port() != 0 {
			return nil, nil, netip.AddrPort{}, fmt.Errorf("dnsproxy: %w", err)
		}
	}
	return nil, nil, netip.AddrPort{}, fmt.Errorf("dnsproxy: no port free for both udp and tcp on %s", want.Addr())
}

// tcpWriteTimeout bounds the writing of one answer to a TCP client.
// miekg/dns sets no write deadline (its Server.WriteTimeout is not used),
// so a client that stops reading would block the server's write for as
// long as it keeps the connection open, and hold its share of
// MaxTCPConns with a single connection.
const tcpWriteTimeout = 2 * time.Second

// writeDeadlines gives each connection it accepts a deadline on every
// write.
type writeDeadlines struct{ net.Listener }

func (l writeDeadlines) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return deadlineConn{c}, nil
}

// deadlineConn closes itself when a write fails, so that the server stops
// at its next read instead of answering, and waiting out the deadline
// for, each query the client queued.
type deadlineConn struct{ net.Conn }

func (c deadlineConn) Write(b []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		c.Close()
	}
	return n, err
}
