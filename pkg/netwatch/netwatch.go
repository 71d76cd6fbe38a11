// Package netwatch owns LAN presence: which devices are on the router's
// LAN, at which addresses, and when they leave. It follows the kernel's
// neighbour (ARP/NDP), link and address tables over rtnetlink and the DHCP
// lease files of dnsmasq and odhcpd, and reports changes as events:
// NeighborSeen, LeaseSeen, DeviceAway for devices, LinkChanged and
// AddressChanged for the router's own LAN interfaces.
//
// Memory is bounded: at most Config.MaxDevices devices are tracked (the
// least recently active is forgotten first), eight addresses per device,
// 1024 links and router addresses, 1 MB and 4096 leases per lease file.
// Events go to a channel the consumer sizes; when it is full they are
// dropped and counted, never waited for, and what was dropped is sent
// again later (a neighbour by listing the kernel's table afresh, a lease
// at the next poll, an away device at the next check).
package netwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultAwayAfter    = 30 * time.Minute
	DefaultPollInterval = 5 * time.Second
	DefaultMaxDevices   = 4096
)

// DefaultInterfaces is OpenWrt's LAN bridge.
func DefaultInterfaces() []string { return []string{"br-lan"} }

// DefaultLeaseFiles are OpenWrt's default lease files: dnsmasq's
// (dhcp.@dnsmasq[0].leasefile) and odhcpd's (dhcp.odhcpd.leasefile).
func DefaultLeaseFiles() []string { return []string{"/tmp/dhcp.leases", "/tmp/hosts/odhcpd"} }

// Config says what to watch. The zero value watches OpenWrt's defaults.
type Config struct {
	// Interfaces are the LAN interfaces. Neighbours of devices on the
	// ports of a bridge appear on the bridge, so name the bridge. Nil
	// means DefaultInterfaces.
	Interfaces []string
	// AwayAfter is how long a device may show no sign of life before it
	// is reported away; 0 means DefaultAwayAfter.
	AwayAfter time.Duration
	// LeaseFiles are dnsmasq lease files or odhcpd state files (the
	// format is recognised line by line). Nil means DefaultLeaseFiles; an
	// empty list reads none. A file that does not exist is read as empty.
	LeaseFiles []string
	// PollInterval is how often the lease files are checked for a
	// change; 0 means DefaultPollInterval.
	PollInterval time.Duration
	// MaxDevices caps the devices tracked; 0 means DefaultMaxDevices.
	MaxDevices int
	// NetNSPath is the network namespace to watch, e.g.
	// /run/netns/NAME; empty means the daemon's own.
	NetNSPath string
}

// Bounds on the router's own state.
const (
	maxLinks    = 1024 // links whose MAC is remembered as the router's
	maxOwnAddrs = 1024 // router addresses remembered
	maxIfName   = 15   // IFNAMSIZ - 1
)

// Watcher reports LAN presence. Create it with New, start it with Run.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	clock  clock
	source kernelSource

	// Resubscription back-off after the kernel subscription fails.
	minBackoff, maxBackoff time.Duration

	running atomic.Bool
	stats   counters
	// addrChanged is notified of every address message on a LAN
	// interface (see AddrChanged).
	addrChanged broadcast
}

// counters are written by Run's goroutine and read by Stats.
type counters struct {
	dropped, resubscribes, leaseGarbage, leaseNoMAC, leaseTruncated, evicted atomic.Uint64
	devices                                                                  atomic.Int64
}

// Stats are the watcher's counters since it was created.
type Stats struct {
	Dropped           uint64 // events the consumer's channel had no room for
	Resubscribes      uint64 // times the kernel subscription was set up again
	LeaseLinesSkipped uint64 // lease-file lines neither format writes, or that a client may have written
	LeasesWithoutMAC  uint64 // leases that name no Ethernet MAC
	LeasesTruncated   uint64 // leases ignored past the per-file caps
	Evicted           uint64 // devices forgotten because MaxDevices were tracked
	Devices           int    // devices tracked now
}

// Option changes how a Watcher works.
type Option func(*Watcher)

// WithLogger sets the logger (default slog.Default()). The watcher logs
// subscription failures, unreadable lease files and dropped events; it
// never logs host names.
func WithLogger(l *slog.Logger) Option {
	return func(w *Watcher) {
		if l != nil {
			w.log = l
		}
	}
}

// New checks cfg and returns a watcher.
func New(cfg Config, opts ...Option) (*Watcher, error) {
	if cfg.Interfaces == nil {
		cfg.Interfaces = DefaultInterfaces()
	}
	if cfg.LeaseFiles == nil {
		cfg.LeaseFiles = DefaultLeaseFiles()
	}
	if cfg.AwayAfter == 0 {
		cfg.AwayAfter = DefaultAwayAfter
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxDevices == 0 {
		cfg.MaxDevices = DefaultMaxDevices
	}
	switch {
	case len(cfg.Interfaces) == 0:
		return nil, errors.New("netwatch: no LAN interface configured")
	case cfg.AwayAfter < time.Second:
		return nil, fmt.Errorf("netwatch: away_after %v is shorter than a second", cfg.AwayAfter)
	case cfg.PollInterval < 100*time.Millisecond:
		return nil, fmt.Errorf("netwatch: lease poll interval %v is shorter than 100ms", cfg.PollInterval)
	case cfg.MaxDevices < 0:
		return nil, fmt.Errorf("netwatch: max devices %d is negative", cfg.MaxDevices)
	}
	for _, name := range cfg.Interfaces {
		if name == "" || len(name) > maxIfName {
			return nil, fmt.Errorf("netwatch: invalid interface name %q", name)
		}
	}
	for _, p := range cfg.LeaseFiles {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("netwatch: lease file %q is not an absolute path", p)
		}
	}
	if cfg.NetNSPath != "" {
		if _, err := os.Stat(cfg.NetNSPath); err != nil {
			return nil, fmt.Errorf("netwatch: network namespace: %w", err)
		}
	}
	w := &Watcher{
		cfg:        cfg,
		log:        slog.Default(),
		clock:      wallClock{},
		source:     newNetlinkSource(cfg.NetNSPath),
		minBackoff: time.Second,
		maxBackoff: time.Minute,
	}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// Stats returns the counters; safe to call while Run runs.
func (w *Watcher) Stats() Stats {
	return Stats{
		Dropped:           w.stats.dropped.Load(),
		Resubscribes:      w.stats.resubscribes.Load(),
		LeaseLinesSkipped: w.stats.leaseGarbage.Load(),
		LeasesWithoutMAC:  w.stats.leaseNoMAC.Load(),
		LeasesTruncated:   w.stats.leaseTruncated.Load(),
		Evicted:           w.stats.evicted.Load(),
		Devices:           int(w.stats.devices.Load()),
	}
}

// AddrChanged returns a channel that is closed when Run next handles a
// change of an address on a LAN interface: the kernel's notification of
// an address added, removed or updated (RTM_NEWADDR, RTM_DELADDR), or
// one found by the listing a new subscription makes (after ENOBUFS).
// It is closed also when the router's addresses end up as they were,
// and never while Run does not run. Take it before reading the
// addresses, so that a change made while they are read closes it. It
// does not depend on room in Run's event channel; a change made while
// the subscription is broken is told once the next one lists the
// tables, so a consumer that must not miss one polls too.
func (w *Watcher) AddrChanged() <-chan struct{} { return w.addrChanged.wait() }

// kernelQueue is the buffer between the kernel subscription and Run's
// loop.
const kernelQueue = 256

// Run watches until ctx ends, sending events to out without ever waiting
// for room in it: size out for bursts (1024 is plenty for a home network).
// It returns nil when ctx ends; a failing kernel subscription is logged
// and set up again with back-off. Run may be called once.
func (w *Watcher) Run(ctx context.Context, out chan<- Event) error {
	if out == nil {
		return errors.New("netwatch: Run needs an event channel")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("netwatch: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	updates := make(chan kernelUpdate, kernelQueue)
	resync := make(chan struct{}, 1)
	wg.Go(func() { w.subscribe(ctx, updates, resync) })

	l := newLoop(w, out)
	awayTick := w.clock.NewTicker(awayCheckInterval(w.cfg.AwayAfter))
	defer awayTick.Stop()
	pollTick := w.clock.NewTicker(w.cfg.PollInterval)
	defer pollTick.Stop()
	l.pollLeases()
	var reportedDrops uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-updates:
			l.handle(u)
		case <-awayTick.C():
			l.checkAway()
			l.sendRemovals()
			if l.needResync {
				select {
				case resync <- struct{}{}:
					l.needResync = false
				default:
				}
			}
			if d := w.stats.dropped.Load(); d != reportedDrops {
				w.log.Warn("netwatch: consumer too slow, events dropped (they are sent again later)",
					"dropped", d-reportedDrops)
				reportedDrops = d
			}
		case <-pollTick.C():
			l.pollLeases()
		}
	}
}

// awayCheckInterval is how often devices are checked for absence: often
// enough that an absence is reported within a quarter of away_after, at
// most once a minute and at least once a second.
func awayCheckInterval(awayAfter time.Duration) time.Duration {
	return min(max(awayAfter/4, time.Second), time.Minute)
}

// subscribe keeps a kernel subscription going until ctx ends. A request
// on resync replaces the subscription with a new one, which lists the
// kernel's tables again: that re-sends what the consumer had no room for.
func (w *Watcher) subscribe(ctx context.Context, updates chan<- kernelUpdate, resync <-chan struct{}) {
	backoff := w.minBackoff
	for ctx.Err() == nil {
		subCtx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		started := time.Now()
		go func() { errc <- w.source.Subscribe(subCtx, updates) }()
		select {
		case err := <-errc:
			cancel()
			if ctx.Err() != nil {
				return
			}
			w.stats.resubscribes.Add(1)
			if time.Since(started) > w.maxBackoff {
				backoff = w.minBackoff // it had been working
			}
			w.log.Warn("netwatch: kernel subscription failed, subscribing again", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, w.maxBackoff)
		case <-resync:
			cancel()
			<-errc
			w.stats.resubscribes.Add(1)
			backoff = w.minBackoff
		case <-ctx.Done():
			cancel()
			<-errc
			return
		}
	}
}
