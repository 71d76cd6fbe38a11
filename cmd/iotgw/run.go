package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/iotgw/iotgw/internal/capdrop"
	"github.com/iotgw/iotgw/internal/connlimit"
	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/daemon"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/notice"
	"github.com/iotgw/iotgw/pkg/pipeline"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "", stderr)
	load := configFlagSet(fs)
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	// From the first moment: Go's default for SIGHUP is to exit, and
	// procd's triggers send one around boot, while the daemon may still
	// be starting. One that comes early waits in the channel.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, path, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw run: %v\n", err)
		return exitUsage
	}
	log := newLogger(stdout, stderr, cfg.Daemon.LogLevel)
	// The package leaves the key to the daemon (see pipeline.EnsureKey).
	if sf := cfg.Inspect.SecretFile; sf != "" {
		made, err := pipeline.EnsureKey(sf)
		if err != nil {
			log.Error("stopped", "err", err)
			return 1
		}
		if made {
			log.Info("made the key for the hashes of captured passwords", "file", sf)
		}
	}
	for _, w := range configWarnings(cfg, path) {
		log.Warn(w)
	}
	if st, err := capdrop.ReadState(0); err == nil {
		log.Info("privileges", "capabilities", st.Effective, "no_new_privs", st.NoNewPrivs)
	}
	if err := serve(ctx, cfg, path, hup, log); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	return exitOK
}

// newLogger writes warnings and errors to stderr and the rest to
// stdout: procd logs a service's stdout at daemon.info and its stderr at
// daemon.err, so this keeps an owner's `logread` filter for errors quiet
// while the daemon works normally.
func newLogger(stdout, stderr io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		// procd adds its own timestamps to logd lines.
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	return slog.New(levelSplit{low: slog.NewTextHandler(stdout, opts), high: slog.NewTextHandler(stderr, opts)})
}

// levelSplit hands records below slog.LevelWarn to low, the rest to high.
type levelSplit struct{ low, high slog.Handler }

func (h levelSplit) pick(l slog.Level) slog.Handler {
	if l < slog.LevelWarn {
		return h.low
	}
	return h.high
}

func (h levelSplit) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h levelSplit) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h levelSplit) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelSplit{low: h.low.WithAttrs(attrs), high: h.high.WithAttrs(attrs)}
}

func (h levelSplit) WithGroup(name string) slog.Handler {
	return levelSplit{low: h.low.WithGroup(name), high: h.high.WithGroup(name)}
}

// serve runs the daemon until ctx ends.
func serve(ctx context.Context, cfg *config.Config, cfgPath string, hup <-chan os.Signal, log *slog.Logger) error {
	// First: a second `iotgw run` (by hand, beside procd's) stops here,
	// before it changes the firewall or the state the running one owns.
	ctl, ctlDone, err := listenSocket(cfg.Daemon.Socket)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer ctlDone()
	defer ctl.Close()
	release, err := claimNetns()
	if err != nil {
		return err
	}
	defer release()
	routerAddrs, routerMACs, unread := routerIdentity(cfg)
	for _, err := range unread {
		log.Warn("router identity: an interface cannot be read now; its addresses and MAC are not known to be the router's", "err", err)
	}
	qcfg := redirectPorts(cfg)
	qcfg.RouterAddrs = routerAddrs
	qcfg.LANPrefixes = isolateLAN(cfg, onLinkPrefixes(cfg.LAN.Interfaces, systemInterface))
	qcfg.IsolateLAN = cfg.Quarantine.IsolateLAN
	qcfg.TableName = cfg.Quarantine.Table
	qcfg.OwnerMark = uint32(cfg.Quarantine.ConntrackMark)
	qcfg.LANInterfaces = cfg.LAN.Interfaces
	qcfg.Capture = captureRules(cfg)
	if qcfg.Capture.Enabled {
		if err := quarantine.EnableConntrackAccounting(); err != nil {
			return fmt.Errorf("conntrack accounting: %w", err)
		}
	}
	enforcer, err := quarantine.NewNFTables(qcfg)
	if err != nil {
		return err
	}
	st := store.Open(store.Options{Path: cfg.Store.Path, WriteInterval: cfg.Store.WriteInterval.Duration, MaxBytes: cfg.Store.MaxBytes, Logger: log})
	adv, err := advisoryHolder(cfg, log)
	if err != nil {
		return err
	}
	alerts, err := alert.New(cfg.Alert, alert.Options{Outbox: st, Logger: log})
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	restoreMutedChannels(alerts, st, log)
	live := liveConfig(cfg)
	watcher, err := netwatch.New(netwatch.Config{Interfaces: cfg.LAN.Interfaces, AwayAfter: cfg.LAN.AwayAfter.Duration, LeaseFiles: cfg.LAN.LeaseFiles}, netwatch.WithLogger(log))
	if err != nil {
		return err
	}
	var blocked *dnsproxy.AddrSet
	if cfg.DNSProxy.Enabled {
		blocked = &dnsproxy.AddrSet{}
	}
	d, err := daemon.New(cfg, daemon.Options{
		RouterAddrs: routerAddrs,
		RouterMACs:  routerMACs,
		SourceName:  cfg.Capture.Mode,
	}, daemon.Deps{
		Enforcer:   enforcer,
		Store:      st,
		Alerts:     alerts,
		Advisories: adv,
		OpenSource: func(ctx context.Context) (capture.Source, error) { return openSource(ctx, cfg, live) },
		Logger:     log,
		Version:    version,
		HolderOf:   netwatch.HolderOf(cfg.LAN.Interfaces),
		KeepAccounting: func() (bool, error) {
			if !qcfg.Capture.Enabled {
				return false, nil
			}
			return quarantine.KeepConntrackAccounting()
		},
		Blocked: func(addrs []netip.Addr) {
			if blocked != nil {
				if err := blocked.Replace(addrs); err != nil {
					log.Warn("dns proxy: quarantined addresses", "err", err)
				}
			}
		},
	})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	run("store", st.Run)
	run("control socket", func(ctx context.Context) error {
		return serveHTTP(ctx, ctl, &http.Server{Handler: api.Handler(d, log), ReadHeaderTimeout: 10 * time.Second})
	})
	// The listeners retry on their own: none failing stops enforcement.
	wake := newAddrWake(watcher.AddrChanged)
	background := func(key string, serve func(ctx context.Context, up func()) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keepServing(ctx, key, d, log, wake, serve)
		}()
	}
	background(alert.AreaNotice, func(ctx context.Context, up func()) error {
		ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Quarantine.NoticePort)))
		if err != nil {
			return err
		}
		up()
		return serveNotice(ctx, ln, notice.Handler(d), netwatch.OnLAN(cfg.LAN.Interfaces), netwatch.HolderOf(cfg.LAN.Interfaces))
	})
	settings := newAlertSettings(alerts, st)
	if cfg.Web.Enabled {
		background(alert.AreaWeb, func(ctx context.Context, up func()) error {
			return serveWeb(ctx, cfg, cfgPath, d, settings, log, up)
		})
	}
	audits, upnp, err := newAuditControl(cfg, d, log, auditorFor(cfg, log))
	if err != nil {
		return err
	}
	if err := audits.set(cfg.Audit); err != nil {
		return err
	}
	run("upnp fetcher", upnp.Run)
	run("audit", audits.sched.Run)
	run("daemon", d.Run)
	run("lan prefixes", func(ctx context.Context) error {
		// The tables were built with the prefixes at start: only a change
		// rebuilds them.
		isolating := qcfg.LANPrefixes
		followOnLink(ctx, func() []netip.Prefix { return onLinkPrefixes(cfg.LAN.Interfaces, systemInterface) },
			wake, func(onLink []netip.Prefix) error {
				d.SetOnLink(onLink)
				lan := isolateLAN(cfg, onLink)
				if sameSet(lan, isolating) {
					return nil
				}
				if err := enforcer.SetLANPrefixes(ctx, lan); err != nil {
					return fmt.Errorf("quarantine: the LAN an isolated device reaches keeps its previous prefixes: %w", err)
				}
				isolating = lan
				return nil
			}, log)
		return nil
	})
	run("alerts", alerts.Run)
	if cfg.Advisory.FeedURL != "" {
		run("advisory feed", func(ctx context.Context) error {
			adv.Refresh(ctx, cfg.Advisory.FeedURL, cfg.Advisory.RefreshInterval.Duration)
			return nil
		})
	}
	presence := make(chan netwatch.Event, 1024)
	run("netwatch", func(ctx context.Context) error { return watcher.Run(ctx, presence) })
	wg.Add(1)
	go func() { defer wg.Done(); d.Presence(ctx, presence) }()
	var dnsRules *proxyRules
	if cfg.DNSProxy.Enabled {
		dnsRules = newProxyRules(cfg)
		deps := dnsproxy.Deps{Quarantine: blocked, Allow: enforcer, Observer: d, Logger: log, HolderOf: netwatch.HolderOf(cfg.LAN.Interfaces)}
		current := func() proxySite { return proxySiteFrom(cfg, systemInterface) }
		background(alert.AreaDNSProxy, func(ctx context.Context, up func()) error {
			return serveDNSProxy(ctx, up, current, wake, func(site proxySite) (*dnsproxy.Proxy, error) {
				return dnsRules.build(proxyConfig(cfg, site), deps)
			})
		})
	}
	reloadOnHUP(ctx, hup, &reloader{running: cfg, path: cfgPath, d: d, adv: adv, audits: audits, alerts: settings, dns: dnsRules, log: log})
	log.Info("iotgw running", "version", version, "capture", cfg.Capture.Mode, "interfaces", cfg.Capture.Interfaces,
		"mode", cfg.Policy.Mode, "router", routerAddrs)
	wg.Wait()
	// The store's own loop wrote when ctx ended, but the daemon's last
	// records and the alerts' last acknowledgements came after it.
	if err := st.Flush(); err != nil {
		log.Error("last write of the state failed", "err", err)
	}
	close(errs)
	return <-errs
}

// proxySiteFrom reads the DNS proxy's site: the router's addresses with
// the LAN interfaces' link-local ones, the prefixes on them and their
// addresses. Each interface is read once, though four questions are
// asked of it.
func proxySiteFrom(cfg *config.Config, lookup func(string) (ifaceIdentity, error)) proxySite {
	type answer struct {
		id  ifaceIdentity
		err error
	}
	read := map[string]answer{}
	once := func(name string) (ifaceIdentity, error) {
		a, ok := read[name]
		if !ok {
			a.id, a.err = lookup(name)
			read[name] = a
		}
		return a.id, a.err
	}
	addrs, _, _ := routerIdentityFrom(cfg, once)
	return proxySite{
		addrs:  append(addrs, linkLocalAddrs(cfg.LAN.Interfaces, once)...),
		onLink: onLinkPrefixes(cfg.LAN.Interfaces, once),
		links:  lanLinks(cfg.LAN.Interfaces, once),
	}
}

// lanLinks are the named interfaces with their addresses; an interface
// missing now is left out.
func lanLinks(names []string, lookup func(string) (ifaceIdentity, error)) []dnsproxy.Link {
	var out []dnsproxy.Link
	for _, name := range names {
		if id, err := lookup(name); err == nil {
			out = append(out, dnsproxy.Link{Name: name, Addrs: id.addrs})
		}
	}
	return out
}

// isolateLAN is the LAN an isolated device still reaches, and the DNS
// proxy answers: the configured prefixes and those on the LAN interfaces
// (a delegated global IPv6 prefix, a guest bridge's own). A new slice.
func isolateLAN(cfg *config.Config, onLink []netip.Prefix) []netip.Prefix {
	return slices.Concat(cfg.LAN.Prefixes, onLink)
}

// routerIdentity is the router's own addresses and MACs: the addresses
// configured, or else those of the LAN interfaces, and the MACs of the
// LAN interfaces. In afpacket mode the capture interfaces count too: that
// is where the daemon sees the router's own traffic. The other modes do
// not use the capture interfaces, and an owner whose bridge is not br-lan
// names it in [lan] only. An interface missing now (a guest bridge whose
// Wi-Fi is off) gives nothing and is named in unread: the capture leaves
// it out until it is up, and netwatch learns the router's addresses and
// MAC on it then if it is a [lan] interface too.
func routerIdentity(cfg *config.Config) (addrs []netip.Addr, macs []hwaddr.MAC, unread []error) {
	return routerIdentityFrom(cfg, systemInterface)
}

// ifaceIdentity is what routerIdentity reads of a network interface.
type ifaceIdentity struct {
	mac      net.HardwareAddr
	addrs    []netip.Addr
	prefixes []netip.Prefix // on-link, of addrs
}

// onLinkPrefixes are the prefixes on the named interfaces, link-local
// ones aside; an interface missing now gives none.
func onLinkPrefixes(names []string, lookup func(string) (ifaceIdentity, error)) []netip.Prefix {
	var out []netip.Prefix
	for _, name := range names {
		id, err := lookup(name)
		if err != nil {
			continue
		}
		for _, p := range id.prefixes {
			if !p.Addr().IsLinkLocalUnicast() && !p.Addr().IsLoopback() && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// linkLocalAddrs are the IPv6 link-local addresses of the named
// interfaces, each with its interface as zone; an interface missing now
// gives none.
func linkLocalAddrs(names []string, lookup func(string) (ifaceIdentity, error)) []netip.Addr {
	var out []netip.Addr
	for _, name := range names {
		id, err := lookup(name)
		if err != nil {
			continue
		}
		for _, a := range id.addrs {
			if a.Is6() && a.IsLinkLocalUnicast() {
				out = append(out, a.WithZone(name))
			}
		}
	}
	return out
}

func systemInterface(name string) (ifaceIdentity, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return ifaceIdentity{}, err
	}
	ias, err := ifi.Addrs()
	if err != nil {
		return ifaceIdentity{}, err
	}
	id := ifaceIdentity{mac: ifi.HardwareAddr}
	for _, ia := range ias {
		if p, err := netip.ParsePrefix(ia.String()); err == nil {
			id.addrs = append(id.addrs, p.Addr())
			id.prefixes = append(id.prefixes, p.Masked())
		}
	}
	return id, nil
}

func routerIdentityFrom(cfg *config.Config, lookup func(string) (ifaceIdentity, error)) ([]netip.Addr, []hwaddr.MAC, []error) {
	names := slices.Clone(cfg.LAN.Interfaces)
	if cfg.Capture.Mode == capture.ModeAFPacket {
		for _, name := range cfg.Capture.Interfaces {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	addrs := slices.Clone(cfg.Daemon.RouterAddresses)
	var macs []hwaddr.MAC
	var unread []error
	for _, name := range names {
		id, err := lookup(name)
		if err != nil {
			unread = append(unread, fmt.Errorf("interface %s: %w", name, err))
			continue
		}
		if len(id.mac) == 6 {
			if m := hwaddr.FromBytes(id.mac); !slices.Contains(macs, m) {
				macs = append(macs, m)
			}
		}
		if len(cfg.Daemon.RouterAddresses) > 0 {
			continue
		}
		for _, a := range id.addrs {
			if !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
	}
	return addrs, macs, unread
}

// proxyConfig listens on the router's LAN addresses (site.addrs) and
// answers quarantined devices with the router's address on their own
// LAN interface (site.links), or else the first of them (the notice
// page). Answers for update domains may allow no address of the LAN: its
// configured prefixes (private ranges by default), the prefixes on its
// interfaces (site.onLink: a delegated global IPv6 prefix is the LAN
// too) and the router's own addresses. It answers the same LAN's sources, and IPv6
// link-local ones, no others (a forged internet source). A link-local
// address with its interface as zone is listened on and nothing else:
// the kernel redirects a query
// sent to the router's link-local address (a resolver announced so, or
// every LAN query in the "all" mode) to the link-local address of the
// interface it came in on.
func proxyConfig(cfg *config.Config, site proxySite) dnsproxy.Config {
	pc := dnsproxy.Config{
		Upstream:      cfg.DNSProxy.Upstream,
		UpdateDomains: cfg.DNSProxy.UpdateDomains,
		LocalDomains:  cfg.DNSProxy.LocalDomains,
		Links:         site.links,
		NotAllowed:    isolateLAN(cfg, site.onLink),
		LANPrefixes:   cfg.LAN.Prefixes,
		// Link-local unicast is fe80::/64 (RFC 4291 §2.5.6); the rest
		// of fe80::/10 is no host's.
		Clients: append(isolateLAN(cfg, site.onLink), netip.MustParsePrefix("fe80::/64")),
		// Only quarantined devices' DNS is redirected here (by MAC).
		AllQuarantined: true,
	}
	for _, a := range site.addrs {
		if a.Zone() == "" {
			pc.NotAllowed = append(pc.NotAllowed, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	for _, a := range site.addrs {
		if a.IsLinkLocalUnicast() && a.Zone() != "" {
			pc.Listen = append(pc.Listen, netip.AddrPortFrom(a, uint16(cfg.DNSProxy.Port)))
			continue
		}
		if a.IsLoopback() || a.IsLinkLocalUnicast() {
			continue
		}
		pc.Listen = append(pc.Listen, netip.AddrPortFrom(a, uint16(cfg.DNSProxy.Port)))
		if a.Is4() && !pc.NoticeV4.IsValid() {
			pc.NoticeV4 = a
		}
		if a.Is6() && !pc.NoticeV6.IsValid() {
			pc.NoticeV6 = a
		}
	}
	return pc
}

func liveConfig(cfg *config.Config) capture.LiveConfig {
	live := capture.DefaultLiveConfig()
	live.Mode = cfg.Capture.Mode
	live.Interfaces = cfg.Capture.Interfaces
	live.AFPacket.NumBlocks = cfg.Capture.RingBlocks
	// A guest bridge switched off must not stop the capture of the rest.
	live.AFPacket.SkipMissing = true
	live.Ports.AllPayload = cfg.Capture.AllPorts
	live.NFLOG.Group = uint16(cfg.Capture.NFLOGGroup)
	live.Ports.SpentMark = captureRules(cfg).PacketMark
	return live
}

// captureRules is the budget part of iotgw's forward rules: in nflog
// mode they copy each direction's first bytes to NFLOG; in afpacket mode
// with a packet mark they mark the packets past the budget, which the
// ring's filter then drops. Both read conntrack's counters.
func captureRules(cfg *config.Config) quarantine.CaptureConfig {
	c := quarantine.CaptureConfig{Enabled: true, Bytes: uint64(cfg.Capture.BudgetBytes), Mark: uint32(cfg.Capture.ConntrackMark)}
	switch {
	case cfg.Capture.Mode == capture.ModeNFLOG:
		c.Group, c.Snaplen = uint16(cfg.Capture.NFLOGGroup), uint32(cfg.Capture.NFLOGSnaplen)
	case cfg.Capture.Mode == capture.ModeAFPacket && cfg.Capture.PacketMark != 0:
		c.PacketMark = uint32(cfg.Capture.PacketMark)
	default:
		return quarantine.CaptureConfig{}
	}
	return c
}

// openSource opens the configured live source; mode "pcap" replays a
// capture file once and then waits, for demonstrations and tests of the
// daemon without live traffic.
func openSource(ctx context.Context, cfg *config.Config, live capture.LiveConfig) (capture.Source, error) {
	if cfg.Capture.Mode != "pcap" {
		return capture.Open(ctx, live)
	}
	f, err := capture.OpenFile(cfg.Capture.File)
	if err != nil {
		return nil, err
	}
	return &replayOnce{f: f, ctx: ctx}, nil
}

// replayOnce plays a capture file, then blocks until ctx ends (a quiet
// network) rather than ending the source.
type replayOnce struct {
	f   *capture.File
	ctx context.Context
}

func (r *replayOnce) ReadPacket() ([]byte, capture.Info, error) {
	data, info, err := r.f.ReadPacket()
	if errors.Is(err, io.EOF) {
		<-r.ctx.Done()
		return nil, capture.Info{}, r.ctx.Err()
	}
	return data, info, err
}

func (r *replayOnce) Close() error { return r.f.Close() }

// listenSocket listens on a Unix socket at path, replacing a stale one a
// daemon that died left behind but never the socket of one that runs: a
// second `iotgw run` that took the path, failed on one of its ports and
// deleted the path on its way out left the running daemon unreachable
// to iotgw status, quarantine and release. done removes the path if it
// is still this socket.
func listenSocket(path string) (ln *net.UnixListener, done func(), err error) {
	if err := claimSocketPath(path); err != nil {
		return nil, nil, err
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, nil, err
	}
	ln = l.(*net.UnixListener)
	// Close would unlink the path, whoever's socket is there by then.
	ln.SetUnlinkOnClose(false)
	mine, err := os.Lstat(path)
	if err != nil {
		_ = ln.Close()
		return nil, nil, fmt.Errorf("the socket just made: %w", err)
	}
	return ln, func() {
		if fi, err := os.Lstat(path); err == nil && os.SameFile(fi, mine) {
			_ = os.Remove(path)
		}
	}, nil
}

// claimSocketPath frees path for a new socket: nothing is there, or a
// socket nobody listens on, which it removes. A socket that accepts a
// connection belongs to a running daemon; anything else at the path is
// not iotgw's to delete.
func claimSocketPath(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket (check daemon.socket)", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("another iotgw is running on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// A full backlog or a timeout is a listener too busy to
		// answer, not a dead one.
		return fmt.Errorf("%s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the stale socket: %w", err)
	}
	return nil
}

// maxNoticeConns caps the notice page's connections: it answers devices
// the daemon distrusts, so none may hold more than a small share of the
// router's memory.
const maxNoticeConns = 64

// maxNoticeConnsPerSource is one client address's share of them: a
// device's browser and its own software retrying, while other quarantined
// devices are served. A device's addresses hold half of them together.
const maxNoticeConnsPerSource = 8

// serveNotice serves the notice page on ln. Its clients are quarantined
// devices: small headers, short timeouts, few connections. holderOf
// names the MAC at a client's address, so that a device holds at most
// half the connections whatever addresses it gives itself (nil: only IPv6
// addresses are grouped, by /64); each address holds its own share.
func serveNotice(ctx context.Context, ln net.Listener, h http.Handler, fromLAN func(netip.Addr) bool, holderOf func(netip.Addr) (hwaddr.MAC, bool)) error {
	ln = lanListener{Listener: ln, fromLAN: fromLAN}
	return serveHTTP(ctx, connlimit.New(ln, maxNoticeConns, maxNoticeConnsPerSource, connlimit.ByDevice(holderOf)), &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    4 << 10,
	})
}

// lanListener accepts only the connections whose client fromLAN admits
// and closes the others unanswered. The notice page listens on every
// address, since the redirect sends a device to whichever router address
// it reached, and admits neighbours on the LAN interfaces: the WAN side
// is never served, whatever the firewall allows.
type lanListener struct {
	net.Listener
	fromLAN func(netip.Addr) bool
}

func (l lanListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tcp, ok := c.RemoteAddr().(*net.TCPAddr); ok && l.fromLAN(tcp.AddrPort().Addr()) {
			return c, nil
		}
		c.Close()
	}
}

// serveHTTP runs srv on ln until ctx ends.
func serveHTTP(ctx context.Context, ln net.Listener, srv *http.Server) error {
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// keptFeedName is the newest advisory feed installed, kept beside the
// state file.
const keptFeedName = "advisory-feed.signed"

// advisoryHolder holds the newest of the built-in advisory feed, the one
// kept from an earlier run and a signed one from advisory.feed_file; a
// feed that fails verification is logged and the one before stays.
func advisoryHolder(cfg *config.Config, log *slog.Logger) (*advisory.Holder, error) {
	opts := advisory.Options{
		MaxFeedBytes: int64(cfg.Advisory.MaxFeedBytes),
		FetchTimeout: cfg.Advisory.FetchTimeout.Duration,
		Logger:       log,
		KeepPath:     filepath.Join(filepath.Dir(cfg.Store.Path), keptFeedName),
	}
	for _, k := range cfg.Advisory.TrustedKeys {
		pub, err := advisory.ParsePublicKey([]byte(k))
		if err != nil {
			return nil, fmt.Errorf("advisory.trusted_keys: %w", err)
		}
		opts.TrustedKeys = append(opts.TrustedKeys, pub)
	}
	h, err := advisory.NewHolder(opts)
	if err != nil {
		return nil, err
	}
	loadFeedFile(h, cfg, log)
	return h, nil
}

func loadFeedFile(h *advisory.Holder, cfg *config.Config, log *slog.Logger) {
	f := cfg.Advisory.FeedFile
	if f == "" {
		return
	}
	if err := h.LoadFile(f, f+".sig"); err != nil {
		log.Warn("advisory feed not loaded; keeping the one in force", "file", f, "err", err)
	}
}
