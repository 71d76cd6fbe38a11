// Package daemon is `iotgw run`: it wires the packet pipeline, policy, the
// nftables quarantine, the state store and the API together and keeps
// them consistent. It owns the order of events — finding → verdict →
// kernel → store — and the safety rules: the router, its management
// addresses and trusted devices are never quarantined, at most
// max_auto_quarantine devices are quarantined without the owner's
// confirmation, kernel state is reconciled with the store on start, and a
// crash leaves the quarantines in the kernel.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/iotgw/iotgw/internal/wallclock"
	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/pipeline"
	"github.com/iotgw/iotgw/pkg/policy"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// Enforcer is the kernel side of quarantine: pkg/quarantine's NFTables,
// or its Fake in tests.
type Enforcer interface {
	Reconcile(ctx context.Context, entries []quarantine.Entry) error
	Quarantine(ctx context.Context, e quarantine.Entry) error
	// Release lifts a quarantine and deletes the connections its
	// redirects left, of the entry's addresses and of addrs: the daemon
	// passes those it had the entry hold, since an entry that ran out or
	// that protection took out is gone from the kernel by then.
	Release(ctx context.Context, mac hwaddr.MAC, addrs ...netip.Addr) error
	SetProtected(ctx context.Context, macs []hwaddr.MAC, addrs []netip.Addr) error
	// SetRouterAddrs replaces the router's own addresses, which are
	// protected like SetProtected's but kept out of the bridge's sets,
	// where they would open a path past every quarantine.
	SetRouterAddrs(ctx context.Context, addrs []netip.Addr) error
	Current(ctx context.Context) ([]quarantine.Entry, error)
}

// Store persists state; *store.Store.
type Store interface {
	Snapshot() store.State
	PutDevice(d store.DeviceRecord) error
	PutVerdict(v store.Verdict) error
	PutQuarantine(q store.Quarantine) error
	DeleteQuarantine(mac hwaddr.MAC)
	Release(dec store.Decision) error
	PutDecision(d store.Decision) error
	DeleteDecision(mac hwaddr.MAC)
	SetAlertHolds(holds json.RawMessage) error
	Stats() store.Stats
	// Sync has the changes made so far on flash before it returns.
	Sync(ctx context.Context) error
}

// Auditor queues active audits; *audit.Scheduler.
type Auditor interface {
	Consider(t audit.Target) bool
	Request(t audit.Target) error
	// LastAudit is when the device's last audit ended (in the future
	// while a lockout hold lasts), saved with its record.
	LastAudit(mac hwaddr.MAC) (time.Time, bool)
}

// Notifier sends alerts to the owner; *alert.Dispatcher. Notify must not
// block on the network.
type Notifier interface {
	Notify(a alert.Alert) int
}

// learningPeriod: on a first start with no stored state, devices already
// on the LAN are learnt quietly instead of each raising a "new device"
// alert.
const learningPeriod = 10 * time.Minute

// Deps are the daemon's collaborators.
type Deps struct {
	Enforcer Enforcer
	Store    Store
	// OpenSource opens the live packet source; called again after it fails.
	OpenSource func(ctx context.Context) (capture.Source, error)
	Logger     *slog.Logger
	Version    string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Reading reads Now's clock and a monotonic one, which a step of
	// Now's does not move, at one instant (a fake clock's, in tests);
	// nil: Now and its own monotonic reading.
	Reading func() (time.Time, time.Duration)
	// Alerts, when set, receives what the owner is told on the phone.
	Alerts Notifier
	// UPnP, when set, fetches the descriptions devices announce over SSDP.
	UPnP interface {
		Offer(mac hwaddr.MAC, addrs []netip.Addr, location string) bool
	}
	// Audits, when set, runs the active audit of devices.
	Audits Auditor
	// Advisories holds the advisory feed; nil: the built-in feed. When a
	// newer feed is loaded, every device's software is matched again.
	Advisories *advisory.Holder
	// Blocked, when set, is told the addresses of devices in block and
	// updates-only quarantine whenever they change (the DNS proxy answers
	// them with the notice page).
	Blocked func(addrs []netip.Addr)
	// HolderOf, when set, names the MAC the kernel's neighbour table has
	// for a LAN address (netwatch.HolderOf): the owner's device at a
	// login. The kernel learns it from the frames that carry the login's
	// connection; the inventory keeps an address with a device that took
	// it until that device leaves it, and so can name a squatter. Nil:
	// the inventory's word (tests, captures read from a file).
	HolderOf func(netip.Addr) (hwaddr.MAC, bool)
	// KeepAccounting, when set, turns conntrack accounting on again if
	// something turned it off, and reports whether it was off
	// (quarantine.KeepConntrackAccounting); the capture's first cut
	// needs it. Checked once a minute.
	KeepAccounting func() (wasOff bool, err error)
}

// Options are the safety settings that are not in the policy table.
type Options struct {
	// RouterAddrs and RouterMACs are the router's own: never quarantined.
	RouterAddrs []netip.Addr
	RouterMACs  []hwaddr.MAC
	// SourceName names the live source in events and status.
	SourceName string
	// MaxEvents is the size of the recent-event ring the API serves.
	MaxEvents int
}

// Daemon is one running iotgw.
type Daemon struct {
	cfg  *config.Config
	opt  Options
	deps Deps
	log  *slog.Logger
	now  func() time.Time

	mu       sync.Mutex // guards everything below, and the pipeline
	pipe     *pipeline.Pipeline
	meta     map[hwaddr.MAC]*deviceMeta
	recent   []*event.Event // ring of the latest events
	next     int
	total    uint64
	subs     map[int]chan *event.Event
	nextSub  int
	problems map[string]string
	// damper holds back the phone's share of the problems' comings and
	// goings (alert.ProblemHoldDown); problems is the live state.
	damper *alert.ProblemDamper
	// newDevices bounds the new-device alerts of a flood.
	newDevices alert.NewDeviceLimiter
	started    time.Time
	// wall tells the steps of the wall clock at each reading
	// (followClockLocked).
	wall wallStep
	// owners are where the owner logged in to the page from, most recent
	// last.
	owners []ownerSeen
	// feed is the advisory feed devices were last matched against.
	feed *advisory.Feed
	// quietUntil ends the first-start learning period.
	quietUntil time.Time
	// reconsidered is when the devices were last offered for another
	// audit.
	reconsidered time.Time
	capState     string
	// capLoss is the open source's loss counter (nil: none, or not
	// open); capLostBefore what closed sources lost; lossSteps the loss
	// checks (checkCaptureLoss); busySteps, shareSteps, linkWideSteps
	// and reclaimSteps the checks of uninspected connections
	// (checkInspection).
	capLoss       capture.LossReporter
	capLostBefore uint64
	lossSteps     minuteDelta
	busySteps     minuteDelta
	shareSteps    minuteDelta
	linkWideSteps minuteDelta
	reclaimSteps  minuteDelta
	// handedOverAt is when device records were last handed to the store.
	handedOverAt time.Time

	kernelMu sync.Mutex // serialises changes to the kernel
	// protectedFailed: the last update of the protected sets failed,
	// and the kernel check tries it again. kernelMu held.
	protectedFailed bool
	work            *workQueue
}

// deviceMeta is what the daemon adds to the inventory's view of a device.
type deviceMeta struct {
	decision   store.Decision
	quarantine *store.Quarantine
	verdict    policy.Verdict
	// awaiting says why policy's quarantine waits for the owner's
	// confirmation (max_auto_quarantine reached, a shared MAC); "" when
	// it does not. overLimit: it waits because of the limit, until the
	// owner answers, policy no longer calls for it, or a reload.
	awaiting  string
	overLimit bool
	// kernelAddrs are the addresses the kernel's quarantine entry has.
	kernelAddrs []netip.Addr
	// awayAt is the last sign of life before netwatch reported the device
	// away; zero while present.
	awayAt time.Time
	// updateClaim is the reason to give when the device said it was
	// updated and a finding was withdrawn for it; cleared at the next
	// change of its quarantine.
	updateClaim string
	// announced is set once the owner was told about the device (or it
	// was known before this start).
	announced bool
	// traffic is the device's bytes per trafficBucket, a ring of the
	// last trafficBuckets; lastBytes is the inventory's count when last
	// sampled.
	traffic   [trafficBuckets]api.TrafficPoint
	lastBytes uint64
	// retryAt is when a kernel change policy wanted, which failed, is
	// tried again (zero: none failed), after retryDelay, doubled per
	// failure up to maxCommitRetry.
	retryAt    time.Time
	retryDelay time.Duration
	// datedByRun: quarantine's times were read off this run's clock, so
	// a step of the clock moves them (followClockLocked).
	datedByRun bool
	// expiryMark is when quarantine's running out counts as a release
	// (releaseMark at its start): findings first seen after it may bring
	// it back. Unlike quarantine's dates, a step of the clock does not
	// move it: it is compared with the findings' times, which stay as
	// the clock read them. Zero: the quarantine's start (one restored,
	// or kept from the kernel).
	expiryMark time.Time
	// strongByRun: verdict.StrongSince, where the grace period runs
	// from, was found by this run, and a step of its clock moves it, as
	// quarantines.
	strongByRun bool
}

// Bounds of the delay before a failed kernel change is tried again: the
// firewall's reload that refused it takes about a second, a kernel that
// keeps refusing must not be hammered.
const (
	minCommitRetry = 5 * time.Second
	maxCommitRetry = 5 * time.Minute
)

// The traffic picture on the device page: four hours in 5-minute steps.
const (
	trafficBucket  = 5 * time.Minute
	trafficBuckets = 48
)

// New builds a daemon; Run starts it.
func New(cfg *config.Config, opt Options, deps Deps) (*Daemon, error) {
	if deps.Enforcer == nil || deps.Store == nil || deps.OpenSource == nil {
		return nil, errors.New("daemon: enforcer, store and packet source are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = 1000
	}
	d := &Daemon{
		cfg:      cfg,
		opt:      opt,
		deps:     deps,
		log:      deps.Logger,
		now:      deps.Now,
		meta:     map[hwaddr.MAC]*deviceMeta{},
		recent:   make([]*event.Event, opt.MaxEvents),
		subs:     map[int]chan *event.Event{},
		problems: map[string]string{},
		damper:   alert.NewProblemDamper(),
		work:     newWorkQueue(),
	}
	p, err := pipeline.New(cfg, pipeline.Options{Sinks: []inspect.Sink{d}, Advisories: deps.Advisories, OnPanic: d.analyzerPanicLocked,
		Router: d.isRouterLocked, RouterMAC: d.isRouterMACLocked})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.pipe = p
	return d, nil
}

// Run restores state, reconciles the kernel and runs until ctx ends, and
// then returns nil, also when ctx ends while it starts. On return the
// quarantines stay in the kernel.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	d.started = d.now() // the control socket may ask for Status already
	d.wall.step(d.reading())
	d.mu.Unlock()
	if err := d.restore(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // asked to stop while starting: no failure
		}
		return err
	}
	d.rematchOnNewFeed()
	// Start-up parsed the embedded tables, the rules, the feed and the
	// pages; give that garbage back to the kernel once, so that the
	// router does not keep the start-up peak for the daemon's lifetime
	// (about 3 MiB idle, 1 MiB with 100,000 flows: BENCHMARKS.md).
	debug.FreeOSMemory()
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); d.kernelLoop(ctx) }()
	go func() { defer wg.Done(); d.enforceLoop(ctx) }()
	go func() { defer wg.Done(); d.tickLoop(ctx) }()
	go func() { defer wg.Done(); d.captureLoop(ctx) }()
	<-ctx.Done()
	wg.Wait()
	d.saveHolds()
	d.persistAll()
	return nil
}

// readKernel reads the kernel's quarantines, trying again a few times:
// what it cannot read, the first reconcile deletes, and the entries only
// the kernel holds are those whose saved record was lost.
func (d *Daemon) readKernel(ctx context.Context) ([]quarantine.Entry, error) {
	const tries = 3
	for i := 1; ; i++ {
		kernel, err := d.deps.Enforcer.Current(ctx)
		if err == nil || i == tries || !sleep(ctx, 500*time.Millisecond) {
			return kernel, err
		}
	}
}

// restore loads the store, rebuilds the daemon's view and makes the
// kernel match it: the same entries, once, however often it runs.
func (d *Daemon) restore(ctx context.Context) error {
	snap := d.deps.Store.Snapshot()
	loaded := d.deps.Store.Stats()
	d.restoreHolds(snap.AlertHolds)
	if loaded.LoadError != "" {
		d.problem(alert.AreaStateLost, loaded.LoadError)
	}
	if loaded.Downgrade != "" {
		d.problem(alert.AreaStateNewer, loaded.Downgrade)
	}
	// Read as the wall clock's last reading: a step since Run's is
	// followed here, not at the next reading, which would move what the
	// restore dates anew now by a step its date already has.
	d.mu.Lock()
	now := d.followClockLocked()
	d.mu.Unlock()
	kernel, err := d.readKernel(ctx)
	if err != nil {
		d.log.Warn("cannot read the kernel's quarantines; keeping only the saved ones", "err", err)
	}
	d.mu.Lock()
	for _, dec := range snap.Decisions {
		d.metaFor(dec.MAC).decision = dec
	}
	d.restoreOwnersLocked(snap.Decisions)
	var entries []quarantine.Entry
	var expired []hwaddr.MAC
	expiredAddrs := map[hwaddr.MAC][]netip.Addr{}
	for i := range snap.Quarantines {
		q := snap.Quarantines[i]
		datedByRun := false
		if !wallclock.Set(q.Since) {
			// Dated by a clock NTP had not set yet: its length is all
			// that is known. It starts again now when the clock is set,
			// and follows the clock's step when it is not.
			datedByRun = true
			if wallclock.Set(now) {
				q.Since, q.Until = d.redate(q, now)
			}
		}
		if !q.Until.IsZero() && !q.Until.After(now) {
			// It ran out while the daemon was down: a release, as it
			// would have been at run time, so that the stored findings
			// do not bring it back with a new term.
			if err := d.storeRelease(q.MAC, d.metaFor(q.MAC).noteRelease(q.Since, now)); err != nil {
				d.log.Warn("expiry of a quarantine not saved", "mac", q.MAC, "err", err)
			}
			expired = append(expired, q.MAC)
			expiredAddrs[q.MAC] = d.unprotectedLocked(addrsOf(snap, q.MAC))
			continue
		}
		d.metaFor(q.MAC).quarantine = &q
		d.metaFor(q.MAC).datedByRun = datedByRun
		mode, err := quarantine.ParseMode(q.Mode)
		if err != nil {
			mode = quarantine.ModeBlock
		}
		addrs := d.unprotectedLocked(addrsOf(snap, q.MAC))
		entries = append(entries, quarantine.Entry{MAC: q.MAC, Addrs: addrs, Mode: mode, Expires: q.Until})
	}
	entries = append(entries, d.keepKernelOnlyLocked(kernel, now)...)
	for _, v := range snap.Verdicts {
		m := d.metaFor(v.MAC)
		if !v.StrongSince.IsZero() && !wallclock.Set(v.StrongSince) {
			// A grace period started by a clock NTP had not set yet, as a
			// quarantine dated so: it starts again now when the clock is
			// set, and follows the clock's step when it is not.
			m.strongByRun = true
			if wallclock.Set(now) {
				v.StrongSince = now
				if err := d.deps.Store.PutVerdict(v); err != nil {
					d.log.Warn("grace period dated before NTP not saved with its new start", "mac", v.MAC, "err", err)
				}
			}
		}
		m.verdict = policy.Verdict{Action: config.Action(v.Action), Enforce: v.Enforce, Note: v.Note, StrongSince: v.StrongSince}
	}
	d.pipe.Restore(snap.Devices)
	seeder, _ := d.deps.Audits.(interface{ Seed(hwaddr.MAC, time.Time) })
	for _, dev := range snap.Devices {
		d.metaFor(dev.MAC).announced = true
		if seeder != nil && !dev.LastAudit.IsZero() {
			seeder.Seed(dev.MAC, dev.LastAudit)
		}
	}
	if len(snap.Devices) == 0 {
		d.quietUntil = now.Add(learningPeriod)
	}
	// Alerts already raised for stored findings are not raised again.
	if seen, ok := d.deps.Alerts.(interface{ MarkSeen(...alert.Alert) }); ok {
		var known []alert.Alert
		for _, rec := range snap.Devices {
			ad := alert.Device{MAC: rec.MAC.String()}
			for i := range rec.Findings {
				if a, ok := alert.FromEvent(&rec.Findings[i], ad); ok {
					known = append(known, a)
				}
			}
		}
		seen.MarkSeen(known...)
	}
	d.mu.Unlock()

	if err := d.updateProtected(ctx); err != nil {
		return fmt.Errorf("daemon: protected sets: %w", err)
	}
	entries, skipped, err := d.reconcileStored(ctx, entries)
	if err != nil {
		d.problem(alert.AreaNFTables, fmt.Sprintf("reconcile failed: %v", err))
		return fmt.Errorf("daemon: reconcile quarantines: %w", err)
	}
	d.removeLeftovers(ctx)
	d.releaseExpired(ctx, expired, expiredAddrs, entries)
	// Told as at run time: the owner's phone (and Home Assistant's
	// quarantine sensor) still has the device quarantined.
	for _, mac := range expired {
		d.log.Info("device released", "mac", mac, "why", "the quarantine's time ran out")
		d.notify(func(dev alert.Device) alert.Alert {
			return alert.FromRelease(mac, dev, now, "the quarantine's time ran out")
		}, mac)
	}
	d.mu.Lock()
	for _, e := range entries {
		d.metaFor(e.MAC).kernelAddrs = e.Addrs
	}
	for mac, why := range skipped {
		// Re-applying a record the kernel refuses would fail every start
		// (and every kernel check): protection wins, the record goes.
		d.log.Warn("stored quarantine not restored", "mac", mac, "err", why)
		d.metaFor(mac).quarantine = nil
		d.deps.Store.DeleteQuarantine(mac)
	}
	for mac, m := range d.meta {
		d.pinLocked(mac, m)
	}
	blocked := d.blockedAddrsLocked()
	// Restored devices are evaluated once: the policy re-derives
	// quarantines from stored findings, which a crash between the kernel
	// and the store write would otherwise lose until the next finding.
	for mac := range d.meta {
		d.scheduleLocked(mac)
	}
	proxyOn := d.cfg.DNSProxy.Enabled
	d.mu.Unlock()
	if d.deps.Blocked != nil {
		d.deps.Blocked(blocked)
	}
	d.log.Info("state restored", "devices", len(snap.Devices), "quarantines", len(entries), "decisions", len(snap.Decisions))
	// Only the DNS proxy's answers for the update domains fill the sets
	// of addresses updates-only devices may reach.
	if n := countMode(entries, quarantine.ModeUpdatesOnly); n > 0 && !proxyOn {
		d.log.Warn("updates-only quarantines reach no update host: the DNS proxy is off (dnsproxy.enabled = false); they are held as in block", "devices", n)
	}
	return nil
}

// countMode is how many of entries are quarantines in mode.
func countMode(entries []quarantine.Entry, mode quarantine.Mode) int {
	n := 0
	for _, e := range entries {
		if e.Mode == mode {
			n++
		}
	}
	return n
}

// releaseExpired releases the quarantines that ran out while the daemon
// was down, as it would have at run time: the kernel timed their elements
// out by itself, but not the connections their DNS redirect left, which a
// device asking from a fixed source port keeps alive (and answered by the
// DNS proxy) for as long as it asks. addrs are the addresses each entry
// held; a device the kernel holds again (entries, a later quarantine kept
// from the kernel) is left alone.
func (d *Daemon) releaseExpired(ctx context.Context, expired []hwaddr.MAC, addrs map[hwaddr.MAC][]netip.Addr, entries []quarantine.Entry) {
	d.kernelMu.Lock()
	defer d.kernelMu.Unlock()
	for _, mac := range expired {
		if slices.ContainsFunc(entries, func(e quarantine.Entry) bool { return e.MAC == mac }) {
			continue
		}
		err := d.deps.Enforcer.Release(ctx, mac, addrs[mac]...)
		switch {
		case errors.Is(err, quarantine.ErrConntrack):
			d.problem(alert.AreaConntrack, fmt.Sprintf("%s: %v", mac, err))
		case err != nil:
			d.log.Warn("releasing a quarantine that ran out while stopped", "mac", mac, "err", err)
		}
	}
}

// keepKernelOnlyLocked keeps the quarantines the kernel holds and the
// saved state does not: the state was lost (set aside as corrupt,
// deleted) or the daemon died between the kernel change and the write.
// Reconciling them away would free every quarantined device; the kernel
// is the better record. A saved release does not make the kernel's entry
// stale: while the daemon runs the kernel follows the saved state within
// a second, and a quarantine reaches the kernel before the file, so a
// kernel-only entry of a device released before is a later quarantine
// whose write was lost (a crash, a full overlay). Not kept: one that is
// protected, or expired. d.mu held.
func (d *Daemon) keepKernelOnlyLocked(kernel []quarantine.Entry, now time.Time) []quarantine.Entry {
	var kept []quarantine.Entry
	for _, e := range kernel {
		m := d.metaFor(e.MAC)
		if m.quarantine != nil || d.macProtectedLocked(e.MAC, m) {
			continue
		}
		if !e.Expires.IsZero() && !e.Expires.After(now) {
			continue
		}
		rec := store.Quarantine{MAC: e.MAC, Mode: string(e.Mode), Since: now, Until: e.Expires, By: store.ActorFirewall,
			Reason: "Kept from the firewall's rules at start-up: iotgw's saved state did not have it. Release it here if it should not be."}
		if err := d.deps.Store.PutQuarantine(rec); err != nil {
			d.log.Warn("quarantine kept from the kernel not saved", "mac", e.MAC, "err", err)
		}
		m.quarantine, m.datedByRun = &rec, true
		e.Addrs = d.unprotectedLocked(e.Addrs)
		kept = append(kept, e)
		d.log.Warn("quarantine kept from the kernel: the saved state did not have it", "mac", e.MAC, "mode", e.Mode)
	}
	return kept
}

// leftoverRemover is what an Enforcer offers to delete the tables it
// built under a name configured before.
type leftoverRemover interface {
	RemoveLeftovers(ctx context.Context) ([]string, error)
}

// removeLeftovers deletes the tables of a table name configured before
// (quarantine.table changed while the daemon was stopped), once the
// configured ones hold their quarantines: left, they would go on
// blocking the devices the owner releases. A failure is the problem
// "nftables/leftovers" until the next start.
func (d *Daemon) removeLeftovers(ctx context.Context) {
	r, ok := d.deps.Enforcer.(leftoverRemover)
	if !ok {
		return
	}
	d.kernelMu.Lock()
	deleted, err := r.RemoveLeftovers(ctx)
	d.kernelMu.Unlock()
	if err != nil {
		d.problem(problemLeftovers, "the tables of a table name configured before could not be deleted, and go on enforcing: "+err.Error())
		return
	}
	if len(deleted) > 0 {
		d.log.Info("deleted the tables of a table name configured before; their quarantines are in the configured ones", "tables", deleted)
	}
}

// reconcileStored makes the kernel hold the stored quarantines. Entries
// the enforcer leaves out (protected since, or invalid) are returned with
// the reason rather than stopping the daemon: it would stop again on every
// restart. Entries it applied without a protected address stay. Other
// errors are fatal.
func (d *Daemon) reconcileStored(ctx context.Context, entries []quarantine.Entry) ([]quarantine.Entry, map[hwaddr.MAC]error, error) {
	d.kernelMu.Lock()
	defer d.kernelMu.Unlock()
	err := d.deps.Enforcer.Reconcile(ctx, entries)
	var rerr *quarantine.ReconcileError
	if err == nil || !errors.As(err, &rerr) {
		return entries, nil, err
	}
	if errors.Is(err, quarantine.ErrConntrack) {
		d.problem(alert.AreaConntrack, err.Error())
	}
	d.log.Warn("stored quarantines restored with changes", "err", err)
	var kept []quarantine.Entry
	for _, e := range entries {
		if _, out := rerr.Skipped[e.MAC]; !out {
			kept = append(kept, e)
		}
	}
	return kept, rerr.Skipped, nil
}

func addrsOf(s store.State, mac hwaddr.MAC) []netip.Addr {
	for _, dev := range s.Devices {
		if dev.MAC == mac {
			return dev.Addrs
		}
	}
	return nil
}

func (d *Daemon) metaFor(mac hwaddr.MAC) *deviceMeta {
	m, ok := d.meta[mac]
	if !ok {
		m = &deviceMeta{decision: store.Decision{MAC: mac}}
		d.meta[mac] = m
	}
	return m
}

// captureLoop reads the live source, reopening it after failures.
func (d *Daemon) captureLoop(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		src, err := d.deps.OpenSource(ctx)
		if err != nil {
			d.problem("capture", fmt.Sprintf("cannot open the packet source: %v", err))
			d.setCapture("down")
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		d.clearProblem("capture")
		d.noteMissingInterfaces(src)
		d.setCapture("running")
		loss, _ := src.(capture.LossReporter)
		d.mu.Lock()
		d.capLoss = loss
		d.mu.Unlock()
		backoff = time.Second
		err = d.readSource(ctx, src)
		d.mu.Lock()
		d.capLostBefore, d.capLoss = d.capturedLostLocked(), nil
		d.mu.Unlock()
		src.Close()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, capture.ErrInterfacesChanged) {
			d.log.Info("a capture interface came up, went down or went away: opening the capture again", "detail", err)
			continue
		}
		d.problem("capture", fmt.Sprintf("packet source stopped: %v", err))
		d.setCapture("down")
		if !sleep(ctx, backoff) {
			return
		}
	}
}

// noteMissingInterfaces raises a problem naming the capture interfaces
// src left out because they do not exist, or clears it.
func (d *Daemon) noteMissingInterfaces(src capture.Source) {
	var missing []string
	if mr, ok := src.(capture.MissingReporter); ok {
		missing = mr.Missing()
	}
	if len(missing) == 0 {
		d.clearProblem(alert.AreaCaptureInterfaces)
		return
	}
	d.problem(alert.AreaCaptureInterfaces, "missing or down: "+strings.Join(missing, ", "))
}

func (d *Daemon) readSource(ctx context.Context, src capture.Source) error {
	d.mu.Lock()
	d.pipe.SetSource(d.opt.SourceName)
	d.mu.Unlock()
	for ctx.Err() == nil {
		data, info, err := src.ReadPacket()
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.pipe.HandleFrame(data, info)
		d.mu.Unlock()
	}
	return ctx.Err()
}

// capturedLostLocked is what every live source lost since start. d.mu
// held.
func (d *Daemon) capturedLostLocked() uint64 {
	n := d.capLostBefore
	if d.capLoss != nil {
		n += d.capLoss.Lost()
	}
	return n
}

// Capture loss and uninspected connections: checked once a minute; this
// many packets lost, or new connections left uninspected, in one raise
// the problem, a minute without any clears it. A few in a burst are no
// news; a steady count means logins go unnoticed.
//
// Uninspected connections are counted once each, however many packets
// they carry, and each may hide a login, so their threshold is lower.
// A burst past the inspections or a device's share (an app opening
// dozens of connections at once) leaves a few out until others end;
// twenty in a minute means the pool or a share stays full.
const (
	lossCheck            = time.Minute
	lossThreshold        = 100
	uninspectedThreshold = 20
)

// minuteDelta follows a counter that only grows, minute by minute.
type minuteDelta struct {
	at   time.Time
	last uint64
}

// step returns how much n grew since the last step and true, once a
// minute has passed since then; false before, and at the first step,
// which only starts the count.
func (m *minuteDelta) step(now time.Time, n uint64) (uint64, bool) {
	if !m.at.IsZero() && now.Sub(m.at) < lossCheck {
		return 0, false
	}
	first := m.at.IsZero()
	delta := n - m.last
	m.at, m.last = now, n
	return delta, !first
}

// checkCaptureLoss raises the problem capture-loss while the packet
// source keeps losing packets.
func (d *Daemon) checkCaptureLoss(now time.Time) {
	d.mu.Lock()
	delta, ok := d.lossSteps.step(now, d.capturedLostLocked())
	d.mu.Unlock()
	d.minuteProblem(alert.AreaCaptureLoss, delta, lossThreshold, ok, fmt.Sprintf("%d packets lost in the last minute", delta))
}

// checkInspection raises the problem inspection-full while new
// connections keep going uninspected: every inspection busy, their
// device at its share, or broadcast and multicast ones at their part.
func (d *Daemon) checkInspection(now time.Time) {
	d.mu.Lock()
	es := d.pipe.Engine().Stats
	refusedBusy, minutePassed := d.busySteps.step(now, es.FlowsRefusedBusy)
	refusedShare, _ := d.shareSteps.step(now, es.FlowsRefusedShare)
	refusedLinkWide, _ := d.linkWideSteps.step(now, es.FlowsRefusedLinkWide)
	reclaimed, _ := d.reclaimSteps.step(now, es.Reclaimed)
	d.mu.Unlock()
	refused := refusedBusy + refusedShare + refusedLinkWide
	detail := fmt.Sprintf("%d new connections uninspected in the last minute: %d with every inspection busy, %d from a device at its share, "+
		"%d broadcast or multicast ones beyond their quarter of the inspections; "+
		"inspections taken from connections idle for a minute or joined without a handshake: %d", refused, refusedBusy, refusedShare, refusedLinkWide, reclaimed)
	d.minuteProblem(alert.AreaInspectionFull, refused, uninspectedThreshold, minutePassed, detail)
}

// minuteProblem raises area when a minute counted threshold or more,
// and clears it after a minute that counted none.
func (d *Daemon) minuteProblem(area string, delta, threshold uint64, ok bool, detail string) {
	switch {
	case !ok:
	case delta >= threshold:
		d.problem(area, detail)
	case delta == 0:
		d.clearProblem(area)
	}
}

func sleep(ctx context.Context, dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// tickLoop re-evaluates devices whose verdict depends on time (grace
// periods, expiring quarantines) and persists device records.
func (d *Daemon) tickLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.tick(d.now())
	}
}

// tick is one round of tickLoop's work.
func (d *Daemon) tick(now time.Time) {
	d.mu.Lock()
	d.followClockLocked()
	var due []hwaddr.MAC
	for mac, m := range d.meta {
		if !m.verdict.PendingUntil.IsZero() && !now.Before(m.verdict.PendingUntil) {
			due = append(due, mac)
		}
		if q := m.quarantine; q != nil && !q.Until.IsZero() && !now.Before(q.Until) {
			due = append(due, mac)
		}
		if !m.retryAt.IsZero() && !now.Before(m.retryAt) {
			due = append(due, mac)
		}
		// A quarantine waiting for the owner may no longer have to: the
		// shared MAC's mark ran out. (One waiting for the limit waits
		// for the owner or a reload.)
		if m.awaiting != "" {
			due = append(due, mac)
		}
	}
	d.mu.Unlock()
	for _, mac := range due {
		d.schedule(mac)
	}
	d.announceNew(now)
	d.sampleTraffic(now)
	d.rematchOnNewFeed()
	d.persistDevices(now)
	d.checkStore()
	d.checkCaptureLoss(now)
	d.checkInspection(now)
	d.announceProblems(now)
	d.saveHolds()
}

// announceProblems sends the problem alerts the hold-down let through by
// now: that a problem is over, once it stayed clear long enough; that
// one which came back is still there.
func (d *Daemon) announceProblems(now time.Time) {
	d.mu.Lock()
	due := d.damper.Due(now)
	d.mu.Unlock()
	d.notifyAll(due)
}

// saveHolds hands the problems' hold-down and the new-device bound to
// the store, which writes them with its routine writes, and not at all
// while they stay the same: a restart goes on where this run left off
// rather than tell the owner again.
func (d *Daemon) saveHolds() {
	d.mu.Lock()
	holds, err := alert.SaveHolds(d.damper, &d.newDevices)
	d.mu.Unlock()
	if err == nil {
		err = d.deps.Store.SetAlertHolds(holds)
	}
	if err != nil {
		d.log.Warn("alert hold-down not saved; a restart may repeat alerts", "err", err)
	}
}

// restoreHolds takes up the hold-down and the new-device bound where the
// last run left them. Memory it cannot read costs only itself: the
// alerts start afresh, as at a first start.
func (d *Daemon) restoreHolds(holds json.RawMessage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := alert.RestoreHolds(holds, d.damper, &d.newDevices, d.now()); err != nil {
		d.log.Warn("saved alert hold-down unreadable; problems and new devices may be told again", "err", err)
	}
}

// notifyAll hands alerts to the alert channels, if there are any.
func (d *Daemon) notifyAll(alerts []alert.Alert) {
	if d.deps.Alerts == nil {
		return
	}
	for _, a := range alerts {
		d.deps.Alerts.Notify(a)
	}
}

// checkStore shows the owner a state that cannot be saved, and clears
// the problem once a write succeeds.
func (d *Daemon) checkStore() {
	if err := d.deps.Store.Stats().LastError; err != nil {
		d.problem(alert.AreaState, err.Error())
		return
	}
	d.clearProblem(alert.AreaState)
}

// Emit implements the pipeline's sink: events are kept for the API,
// streamed to subscribers, and findings trigger policy. It runs on the
// capture goroutine with d.mu held.
func (d *Daemon) Emit(ev *event.Event) {
	if isVisit(ev.Kind) && d.pipe.Inventory().BrowsesAt(ev.Device) {
		// What a phone or a computer looks up is its user's browsing,
		// and what a LAN resolver asks upstream its clients': the
		// inventory matched the name against its rules and forgot it,
		// and neither the event log nor a stream shows it.
		return
	}
	d.recent[d.next] = ev
	d.next = (d.next + 1) % len(d.recent)
	d.total++
	for _, ch := range d.subs {
		select {
		case ch <- ev:
		default: // a slow reader misses events
		}
	}
	mac, err := hwaddr.Parse(ev.Device.MAC)
	known := err == nil && !mac.IsZero()
	if !ev.IsFinding() {
		if ev.Kind == event.KindSSDP && d.deps.UPnP != nil && d.cfg.Audit.FetchUPnP && ev.Evidence["location"] != "" {
			d.offerUPnPLocked(ev)
		}
		if ev.Kind == event.KindFirmwareUpdated && known {
			// A finding was withdrawn on the device's word: planLocked
			// decides what becomes of a quarantine it held.
			if m := d.meta[mac]; m != nil && m.quarantine != nil {
				m.updateClaim = fmt.Sprintf("It now reports %s %s (was %s, %s). Release it here if you updated it; "+
					"a device that was taken over can claim an update too.", ev.Evidence["product"], ev.Evidence["to"], ev.Evidence["from"], ev.Evidence["advisory"])
			}
			d.scheduleLocked(mac)
		}
		if ev.Kind == event.KindAdvisoryWithdrawn && known {
			d.scheduleLocked(mac) // policy decides again without the finding
		}
		return
	}
	if d.deps.Alerts != nil {
		if a, ok := alert.FromEvent(ev, d.alertDeviceLocked(ev.Device)); ok {
			d.deps.Alerts.Notify(a)
		}
	}
	if known {
		d.scheduleLocked(mac)
	}
}

// isVisit reports whether events of kind name a place a device went:
// a name it looked up, a TLS server name, an HTTP host.
func isVisit(k event.Kind) bool {
	return k == event.KindDNSQuery || k == event.KindTLSClient || k == event.KindHTTPClient
}

// scheduleLocked queues mac for evaluation without blocking. d.mu held.
func (d *Daemon) scheduleLocked(mac hwaddr.MAC) {
	if !d.work.push(mac) {
		// The queue is full; the periodic tick re-evaluates.
		d.metaFor(mac).verdict.PendingUntil = d.now()
	}
}

// schedule is scheduleLocked without d.mu held.
func (d *Daemon) schedule(mac hwaddr.MAC) {
	if !d.work.push(mac) {
		d.mu.Lock()
		d.metaFor(mac).verdict.PendingUntil = d.now()
		d.mu.Unlock()
	}
}

// SetOnLink sets the prefixes on the LAN interfaces, which inspection
// counts as the LAN beside the configured ones (a delegated global IPv6
// prefix).
func (d *Daemon) SetOnLink(prefixes []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pipe.Engine().SetOnLink(prefixes)
}

// SetProblem raises a problem of a part outside the daemon, keyed
// "area" or "area/source" (a listener that cannot open): the page shows
// it and the owner is alerted. detail must not carry a secret.
func (d *Daemon) SetProblem(key, detail string) { d.problem(key, detail) }

// ClearProblem ends a problem SetProblem raised.
func (d *Daemon) ClearProblem(key string) { d.clearProblem(key) }

func (d *Daemon) problem(key, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problemLocked(key, msg)
}

// Problems are kept by source, "area/source" ("nftables/check",
// "nftables/<mac>"), so that each source clears only what it raised. The
// owner hears by area: the first source failing raises the area's alert,
// the last one to recover resolves it, both through the hold-down.
func (d *Daemon) problemLocked(key, msg string) {
	area := problemArea(key)
	failing := d.areaFailingLocked(area)
	changed := d.problems[key] != msg
	d.problems[key] = msg
	if changed {
		d.log.Warn("problem", "area", area, "source", key, "detail", msg)
	}
	if failing {
		return
	}
	now := d.holdDownNowLocked()
	if a := alert.FromProblem(area, msg, now); d.damper.Fail(a, now) && d.deps.Alerts != nil {
		d.deps.Alerts.Notify(a)
	}
}

func problemArea(key string) string {
	area, _, _ := strings.Cut(key, "/")
	return area
}

// areaFailingLocked reports whether a source of area has a problem.
func (d *Daemon) areaFailingLocked(area string) bool {
	for k := range d.problems {
		if problemArea(k) == area {
			return true
		}
	}
	return false
}

// maxPanicStacks is how many analyzer panics are logged with their stack:
// enough for a bug report, few enough that a device repeating the bytes
// cannot fill the log.
const maxPanicStacks = 3

// analyzerPanicLocked hears of an analyzer that panicked on a connection,
// which the engine then stopped inspecting; it runs under d.mu, on the
// capture goroutine. The owner sees a problem per protocol; the log gets
// the first stacks.
func (d *Daemon) analyzerPanicLocked(p inspect.Panic) {
	if p.N <= maxPanicStacks {
		d.log.Error("analyzer panic; the connection is no longer inspected", "protocol", p.Protocol, "panic", p.Reason, "stack", string(p.Stack))
	}
	d.problemLocked(alert.AreaAnalyzer+p.Protocol, "a bug: please report it with the daemon's log")
}

// clearProblem ends the problem key raised. The owner hears that its
// area is over from announceProblems, once it stayed clear.
func (d *Daemon) clearProblem(key string) {
	area := problemArea(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	_, had := d.problems[key]
	delete(d.problems, key)
	if had && !d.areaFailingLocked(area) {
		d.damper.Clear(area, d.holdDownNowLocked())
	}
}

// holdDownNowLocked reads now for the problems' hold-down: once Run
// started, through followClockLocked, so that a step of the clock since
// the last reading moves the hold-down's times before this new one is
// set, and never moves it too. (A listener may report a problem before
// Run took its first reading.) d.mu held.
func (d *Daemon) holdDownNowLocked() time.Time {
	if d.started.IsZero() {
		return d.now()
	}
	return d.followClockLocked()
}

// alertDeviceLocked describes a device for an alert. d.mu held.
func (d *Daemon) alertDeviceLocked(ep event.Endpoint) alert.Device {
	ad := alert.Device{MAC: ep.MAC, IP: ep.IP}
	mac, err := hwaddr.Parse(ep.MAC)
	if err != nil {
		return ad
	}
	if dev, ok := d.pipe.Inventory().Lookup(device.Key{MAC: mac}); ok {
		ad.Vendor, ad.Model = dev.Identity.Vendor.Value, dev.Identity.Model.Value
		if t := dev.Identity.Type.Value; t != device.TypeUnknown {
			ad.Type = t
		}
		if n := len(dev.Hostnames); n > 0 {
			ad.Hostname = dev.Hostnames[n-1].Name
		}
	}
	if m, ok := d.meta[mac]; ok {
		if m.decision.Name != "" {
			ad.Name = m.decision.Name
		}
		if m.quarantine != nil {
			ad.State = alert.StateQuarantined
		}
	}
	return ad
}

// offerUPnPLocked hands an SSDP announcement's description URL to the
// fetcher. d.mu held.
func (d *Daemon) offerUPnPLocked(ev *event.Event) {
	mac, err := hwaddr.Parse(ev.Device.MAC)
	if err != nil || mac.IsZero() {
		return
	}
	dev, ok := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	if !ok {
		return
	}
	d.deps.UPnP.Offer(mac, append([]netip.Addr(nil), dev.Addrs...), ev.Evidence["location"])
}

// isRouterLocked says whether a connection's client is the router
// itself, for the packet path, which runs with d.mu held.
func (d *Daemon) isRouterLocked(mac hwaddr.MAC, addr netip.Addr) bool {
	return slices.Contains(d.opt.RouterMACs, mac) && slices.Contains(d.opt.RouterAddrs, addr)
}

// isRouterMACLocked says whether mac is one of the router's, for the
// packet path, which runs with d.mu held.
func (d *Daemon) isRouterMACLocked(mac hwaddr.MAC) bool {
	return slices.Contains(d.opt.RouterMACs, mac)
}

// Record files an event that comes from outside the packet path (the
// active audit, the UPnP fetcher), from any goroutine.
func (d *Daemon) Record(ev *event.Event) {
	d.mu.Lock()
	d.pipe.Inject(ev)
	d.mu.Unlock()
}

// AuditTarget is mac's audit target as the daemon knows it now; false
// when the device is gone or protected since it was queued, or, for an
// automatic audit (not requested by the owner), trusted since or found
// to stand for several hosts.
func (d *Daemon) AuditTarget(mac hwaddr.MAC, requested bool) (audit.Target, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dev, ok := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	if !ok || d.isProtected(mac, dev) || !requested && !d.autoAuditLocked(mac, dev, d.metaFor(mac)) {
		return audit.Target{}, false
	}
	return d.auditTargetLocked(dev), true
}

// autoAuditLocked: the automatic audit may try logins on the device: the
// owner does not trust it (its account may lock, its alarm sound), and
// its MAC is not shared, for the audit would go to whichever host behind
// a repeater used an address last, one the owner can neither trust nor
// tell apart by its MAC. d.mu held.
func (d *Daemon) autoAuditLocked(mac hwaddr.MAC, dev *device.Device, m *deviceMeta) bool {
	_, shared := dev.SharedMAC(d.now())
	return !shared && !d.trustedLocked(mac, m)
}

// auditTargetLocked describes a device for the audit. d.mu held.
func (d *Daemon) auditTargetLocked(dev *device.Device) audit.Target {
	return audit.Target{MAC: dev.Key.MAC, Addrs: append([]netip.Addr(nil), dev.Addrs...), Vendor: dev.Identity.Vendor.Value}
}

// announceNew tells the owner about devices that joined the LAN, a flood
// of them bounded (alert.NewDeviceAlertsPerHour), and offers them to the
// active audit.
func (d *Daemon) announceNew(now time.Time) {
	if d.deps.Alerts == nil && d.deps.Audits == nil {
		return
	}
	d.mu.Lock()
	quiet := now.Before(d.quietUntil)
	// Hourly is often enough to notice an audit older than its interval.
	again := d.deps.Audits != nil && now.Sub(d.reconsidered) >= time.Hour
	if again {
		d.reconsidered = now
	}
	var news []alert.Alert
	for _, dev := range d.pipe.Inventory().Devices() {
		mac := dev.Key.MAC
		if mac.IsZero() || d.isProtected(mac, dev) {
			continue
		}
		m := d.metaFor(mac)
		if m.announced {
			// Known before: the scheduler, which the saved audit times
			// seeded, queues it only if its audit is due (or it never
			// had one: queued but not audited before a restart).
			if again && d.autoAuditLocked(mac, dev, m) {
				d.deps.Audits.Consider(d.auditTargetLocked(dev))
			}
			continue
		}
		m.announced = true
		// A device the owner trusts (on the page or in the file) may
		// lock its account or sound an alarm on failed logins.
		if d.deps.Audits != nil && d.autoAuditLocked(mac, dev, m) {
			d.deps.Audits.Consider(d.auditTargetLocked(dev))
		}
		if !quiet && d.deps.Alerts != nil && d.newDevices.Admit(now) {
			ep := event.Endpoint{MAC: mac.String()}
			if n := len(dev.Addrs); n > 0 {
				ep.IP = dev.Addrs[n-1].String()
			}
			news = append(news, alert.FromNewDevice(d.alertDeviceLocked(ep), now))
		}
	}
	if count, ok := d.newDevices.Due(now); ok && d.deps.Alerts != nil {
		news = append(news, count)
	}
	d.mu.Unlock()
	d.notifyAll(news)
}

func (d *Daemon) setCapture(state string) {
	d.mu.Lock()
	d.capState = state
	d.mu.Unlock()
}

// devicePolicyInput builds policy's view of a device. d.mu held.
func (d *Daemon) devicePolicyInput(mac hwaddr.MAC, dev *device.Device) *policy.Device {
	m := d.metaFor(mac)
	// Protection by an address does not free a device already
	// quarantined: it may have taken the address since (a management
	// address whose PC is off); its MAC is what the quarantine holds.
	protected := d.routerOrOwnerMAC(mac) || m.quarantine == nil && d.isProtected(mac, dev)
	in := &policy.Device{MAC: mac, Protected: protected, ReleasedAt: m.decision.ReleasedAt, StrongSince: m.verdict.StrongSince}
	if dev != nil {
		in.Findings = dev.Findings
	}
	dec := m.decision
	if dec.Trusted || len(dec.Exempt) > 0 || dec.Force != "" {
		rule := &config.DeviceRule{MAC: mac, Trusted: dec.Trusted, Force: config.Action(dec.Force)}
		for _, k := range dec.Exempt {
			rule.Exempt = append(rule.Exempt, string(k))
		}
		in.Owner = rule
	}
	return in
}

// isProtected: the router's own MACs and addresses, management addresses.
func (d *Daemon) isProtected(mac hwaddr.MAC, dev *device.Device) bool {
	return d.routerOrOwnerMAC(mac) || d.protectedByAddress(dev)
}

// protectedByAddress: the device holds one of the router's addresses, a
// management address, or the address of an owner's login where no MAC
// was known (the owner's device is protected by its MAC otherwise,
// wherever it is now, so that a device taking the address later is not),
// and uses no other IPv4 address. Anyone can send a frame from a free
// address: a device that does so from a management address whose PC is
// off, while it keeps its own, is not shielded from quarantine by it.
// The kernel's sets still let the PC's traffic through by address, and a
// device quarantined by its MAC is stopped before that rule.
func (d *Daemon) protectedByAddress(dev *device.Device) bool {
	if dev == nil {
		return false
	}
	_, ok := dev.HeldAddress(d.protectedAddrsLocked())
	return ok
}

// Problem sources of the nftables area that are not a device's commit.
const (
	problemProtected = alert.AreaNFTables + "/protected"
	problemCheck     = alert.AreaNFTables + "/check"
	problemLeftovers = alert.AreaNFTables + "/leftovers"
)

// updateProtected pushes the router's and trusted devices' MACs and
// addresses to the kernel's protected sets. The router's addresses go
// first, and as the router's: one it gained since the start (a prefix
// delegated later) is then never in the bridge's sets, not even between
// the two changes. A failure is the problem "nftables/protected" until
// an update goes through; the kernel check tries again.
func (d *Daemon) updateProtected(ctx context.Context) error {
	d.kernelMu.Lock()
	defer d.kernelMu.Unlock()
	return d.updateProtectedLocked(ctx)
}

// updateProtectedLocked is updateProtected with kernelMu held. The sets
// are read under it, so that the kernel keeps the latest of two updates.
func (d *Daemon) updateProtectedLocked(ctx context.Context) error {
	d.mu.Lock()
	macs := d.protectedMACsLocked()
	addrs := d.protectedAddrsLocked()
	routers := slices.Clone(d.opt.RouterAddrs)
	d.mu.Unlock()
	if err := d.deps.Enforcer.SetRouterAddrs(ctx, routers); err != nil {
		d.protectedFailed = true
		d.problem(problemProtected, "updating the router's own addresses: "+err.Error())
		return err
	}
	if err := d.deps.Enforcer.SetProtected(ctx, macs, addrs); err != nil {
		d.protectedFailed = true
		d.problem(problemProtected, "updating the protected devices and addresses: "+err.Error())
		return err
	}
	d.protectedFailed = false
	d.clearProblem(problemProtected)
	// The enforcer dropped these addresses from the quarantine entries
	// that held them; the daemon's record of the entries follows.
	d.mu.Lock()
	for _, m := range d.meta {
		if m.quarantine != nil {
			m.kernelAddrs = d.unprotectedLocked(m.kernelAddrs)
		}
	}
	d.mu.Unlock()
	return nil
}

// protectedAddrsLocked is the kernel's protected address set: the
// router's own addresses, configured management addresses and those the
// owner logged in from while no MAC was known there. An owner's device
// with a known MAC is protected by it (protectedMACsLocked): its login
// address, once the lease moves to another device, must not keep that
// device's quarantine from covering it. d.mu held.
func (d *Daemon) protectedAddrsLocked() []netip.Addr {
	addrs := slices.Concat(d.opt.RouterAddrs, d.cfg.Daemon.ManagementAddresses)
	for _, o := range d.owners {
		if o.addr.IsValid() && o.mac.IsZero() { // a device restored from the store is known by its MAC alone
			addrs = append(addrs, o.addr)
		}
	}
	return addrs
}

// unprotectedLocked returns addrs without the protected ones, in a new
// slice: what a quarantine entry may hold, since the enforcer refuses or
// drops the others. d.mu held.
func (d *Daemon) unprotectedLocked(addrs []netip.Addr) []netip.Addr {
	protected := d.protectedAddrsLocked()
	return slices.DeleteFunc(slices.Clone(addrs), func(a netip.Addr) bool { return slices.Contains(protected, a) })
}

// Status implements api.Backend.
func (d *Daemon) Status() api.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := api.Status{
		Version:     d.deps.Version,
		Started:     d.started,
		Mode:        d.cfg.Policy.Mode,
		Capture:     d.capState,
		CaptureLost: d.capturedLostLocked(),
		Devices:     d.pipe.Inventory().Len(),
		Packets:     d.pipe.Decoder().Stats.Frames,
		Flows:       d.pipe.Engine().Flows(),
		Events:      d.total,
	}
	for _, m := range d.meta {
		if m.quarantine != nil {
			s.Quarantined++
		}
	}
	for k, v := range d.problems {
		s.Problems = append(s.Problems, problemArea(k)+": "+v)
	}
	slices.Sort(s.Problems)
	return s
}

// Reload takes a new configuration's policy (mode, actions, rules,
// thresholds), management addresses and [audit] section, pushes the
// protections they imply to the kernel and re-evaluates every device;
// quarantines stay as they are until the new verdicts say otherwise.
// The audit scheduler is reconfigured by its owner (cmd/iotgw); the
// daemon only offers every device to it again. Packet-path settings need
// a restart.
func (d *Daemon) Reload(cfg *config.Config) {
	d.mu.Lock()
	next := *d.cfg
	next.Policy = cfg.Policy
	next.Daemon.ManagementAddresses = cfg.Daemon.ManagementAddresses
	if !reflect.DeepEqual(next.Audit, cfg.Audit) {
		next.Audit = cfg.Audit
		// Devices announced while the audit was off were never offered
		// to it: the next step offers them all, not within the hour.
		d.reconsidered = time.Time{}
	}
	d.cfg = &next
	// A new policy (a higher limit) is the owner's word on the
	// quarantines waiting for the limit: they are judged again.
	for _, m := range d.meta {
		m.overLimit = false
	}
	d.mu.Unlock()
	// Before the re-evaluation, so that a device no longer trusted can be
	// quarantined and a newly trusted one is released.
	_ = d.updateProtected(context.Background()) // a failure is its problem
	d.mu.Lock()
	macs := make([]hwaddr.MAC, 0, len(d.meta))
	for mac := range d.meta {
		macs = append(macs, mac)
	}
	for _, dev := range d.pipe.Inventory().Devices() {
		if !dev.Key.MAC.IsZero() {
			macs = append(macs, dev.Key.MAC)
		}
	}
	d.mu.Unlock()
	for _, mac := range macs {
		d.schedule(mac)
	}
}

// Policy is the policy in force (it changes on reload).
func (d *Daemon) Policy() config.Policy {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg.Policy
}

// SetAudit gives the daemon the UPnP fetcher and the audit scheduler
// (either may be nil). Call it before Run.
func (d *Daemon) SetAudit(upnp *audit.UPnPFetcher, sched *audit.Scheduler) {
	if upnp != nil {
		d.deps.UPnP = upnp
	}
	if sched != nil {
		d.deps.Audits = sched
	}
}

// SaveAuditTime saves the device whose audit is about to try logins or
// just ended: its record carries the scheduler's time of it (its start
// until it ends, in the future while a lockout hold lasts), so that a
// restart, even after a crash in the middle, neither audits the device
// again early nor forgets to.
func (d *Daemon) SaveAuditTime(mac hwaddr.MAC) { d.persistDevice(mac) }

// kernelCheck is how often the kernel's quarantine state is compared with
// the daemon's: a firewall restart that flushes every table (OpenWrt's
// "service firewall stop") takes iotgw's with it, and they are back
// within this time.
const kernelCheck = time.Second

// offloadCheck is how often the daemon looks for flow offloading, which
// the owner switches on in the firewall's settings.
const offloadCheck = time.Minute

// flowtableLister is what an Enforcer offers to find flow offloading.
type flowtableLister interface {
	Flowtables(ctx context.Context) ([]string, error)
}

// kernelLoop keeps the kernel's quarantines equal to the daemon's; when
// they already are, Reconcile changes nothing.
func (d *Daemon) kernelLoop(ctx context.Context) {
	t := time.NewTicker(kernelCheck)
	defer t.Stop()
	var offloadChecked time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now := d.now(); now.Sub(offloadChecked) >= offloadCheck {
			offloadChecked = now
			d.checkOffload(ctx)
			d.checkFW4Include(ctx)
			d.checkAccounting()
		}
		d.checkKernel(ctx)
	}
}

// checkOffload raises the problem "offload" while the ruleset holds a
// flowtable: fw4's flow offloading takes connections out of the forward
// hook after their handshake, so the capture never sees their logins or
// personal data. Quarantines hold all the same.
func (d *Daemon) checkOffload(ctx context.Context) {
	lister, ok := d.deps.Enforcer.(flowtableLister)
	if !ok {
		return
	}
	names, err := lister.Flowtables(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("looking for flow offloading", "err", err)
		}
		return
	}
	if len(names) == 0 {
		d.clearProblem(alert.AreaOffload)
		return
	}
	d.problem(alert.AreaOffload, "flowtables "+strings.Join(names, ", "))
}

// checkAccounting turns conntrack accounting on again when it was
// turned off while the daemon ran, and says so: the connections opened
// meanwhile carry no counters, and the capture passed none of their
// bytes.
func (d *Daemon) checkAccounting() {
	if d.deps.KeepAccounting == nil {
		return
	}
	wasOff, err := d.deps.KeepAccounting()
	switch {
	case err != nil:
		d.log.Warn("checking conntrack accounting", "err", err)
	case wasOff:
		d.log.Warn("conntrack accounting was off, turned on again: connections opened while it was off are not inspected")
	}
}

// fw4Reader is what an Enforcer offers to check that fw4's input chain
// holds the OpenWrt package's rules for iotgw's redirects.
type fw4Reader interface {
	FW4InputMissing(ctx context.Context) (missing []string, ok bool, err error)
}

// checkFW4Include raises the problem "fw4-include" while fw4's input
// chain lacks a rule of quarantine.FW4Input for the configured ports (the
// package's include missing or not reloaded after a change of port): a
// zone whose input is reject rejects quarantined devices' redirected DNS
// and HTTP. Without fw4 (not OpenWrt, or its firewall stopped) there is
// nothing to check.
func (d *Daemon) checkFW4Include(ctx context.Context) {
	r, ok := d.deps.Enforcer.(fw4Reader)
	if !ok {
		return
	}
	missing, ok, err := r.FW4InputMissing(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("reading fw4's input chain", "err", err)
		}
		return
	}
	if !ok || len(missing) == 0 {
		d.clearProblem(alert.AreaFW4Include)
		return
	}
	d.problem(alert.AreaFW4Include, "fw4's input chain lacks: "+strings.Join(missing, "; "))
}

// checkKernel makes the kernel's quarantines equal to the daemon's view,
// after trying again an update of the protected sets that failed. The
// view is read under kernelMu: read before it, a quarantine committed
// meanwhile would be missing, and deleted (conntrack flows and all).
func (d *Daemon) checkKernel(ctx context.Context) {
	d.kernelMu.Lock()
	defer d.kernelMu.Unlock()
	// A failed update of the protected sets (a transient netlink error)
	// would otherwise wait for the next change of the owner's devices or
	// the router's addresses, which may never come. Before the
	// quarantines, as at the start: protection wins.
	if d.protectedFailed && ctx.Err() == nil {
		_ = d.updateProtectedLocked(ctx) // a failure stays its problem
	}
	d.mu.Lock()
	now := d.followClockLocked()
	var entries []quarantine.Entry
	for mac, m := range d.meta {
		q := m.quarantine
		// A device protected since (trusted by a reload) is out of the
		// kernel, and its evaluation releases it: the kernel would
		// refuse its entry and the check report that as a failure.
		if q == nil || (!q.Until.IsZero() && !q.Until.After(now)) || d.macProtectedLocked(mac, m) {
			continue
		}
		mode, err := quarantine.ParseMode(q.Mode)
		if err != nil {
			mode = quarantine.ModeBlock
		}
		entries = append(entries, quarantine.Entry{MAC: mac, Addrs: m.kernelAddrs, Mode: mode, Expires: q.Until})
	}
	d.mu.Unlock()
	cut, err := splitConntrack(d.deps.Enforcer.Reconcile(ctx, entries))
	if cut != nil && ctx.Err() == nil {
		// The rules are in place; the connections of what it re-applied
		// were not cut. That is the conntrack problem, as for a commit:
		// under the check's key, the next check (which changes and cuts
		// nothing) would tell the owner it was resolved.
		d.problem(alert.AreaConntrack, fmt.Sprintf("keeping the quarantine rules in place: %v", cut))
	}
	if err != nil {
		if ctx.Err() == nil {
			d.problem(problemCheck, fmt.Sprintf("keeping the quarantine rules in place: %v", err))
		}
		return
	}
	d.clearProblem(problemCheck)
}

// splitConntrack separates from an enforcer's error the failed deletion
// of connections (cut, errors.Is ErrConntrack: the rules went in) from
// the rest (rest), either nil when absent.
func splitConntrack(err error) (cut, rest error) {
	if !errors.Is(err, quarantine.ErrConntrack) {
		return nil, err
	}
	var rerr *quarantine.ReconcileError
	if !errors.As(err, &rerr) {
		return err, nil
	}
	var others []error
	for _, e := range rerr.Unwrap() {
		if errors.Is(e, quarantine.ErrConntrack) {
			cut = errors.Join(cut, e)
		} else {
			others = append(others, e)
		}
	}
	return cut, errors.Join(others...)
}

// rematchOnNewFeed matches every device's software again once a newer
// advisory feed is in force; the first call, at start, withdraws the
// restored findings the feed in force no longer supports.
func (d *Daemon) rematchOnNewFeed() {
	if d.deps.Advisories == nil {
		return
	}
	cur := d.deps.Advisories.Current()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.feed == nil {
		// Findings restored from the store may come from another feed
		// (a firmware upgrade brings a newer built-in one).
		d.feed = cur
		d.pipe.WithdrawUnsupported()
		return
	}
	if cur != d.feed {
		d.feed = cur
		d.log.Info("advisory feed changed: matching every device again", "version", cur.Version)
		d.pipe.RematchAdvisories()
	}
}

// sampleTraffic adds each device's bytes since the last tick to its
// current 5-minute bucket.
func (d *Daemon) sampleTraffic(now time.Time) {
	start := now.Truncate(trafficBucket)
	slot := int(start.Unix()/int64(trafficBucket/time.Second)) % trafficBuckets
	var forgotten []hwaddr.MAC
	defer func() {
		// A device forgotten is evaluated no more: its failed commit
		// would stay a problem for ever.
		for _, mac := range forgotten {
			d.clearProblem(commitProblem(mac))
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	devs := d.pipe.Inventory().Devices()
	present := make(map[hwaddr.MAC]bool, len(devs))
	for _, dev := range devs {
		if dev.Key.MAC.IsZero() {
			continue
		}
		present[dev.Key.MAC] = true
		m := d.metaFor(dev.Key.MAC)
		delta := dev.Bytes - m.lastBytes
		if dev.Bytes < m.lastBytes {
			delta = dev.Bytes // the inventory forgot and relearnt the device
		}
		m.lastBytes = dev.Bytes
		p := &m.traffic[slot]
		if !p.Start.Equal(start) {
			*p = api.TrafficPoint{Start: start}
		}
		p.Bytes += delta
	}
	forgotten = d.pruneMetaLocked(present)
}

// pruneMetaLocked forgets devices the inventory evicted: a LAN device
// sending from spoofed MACs would otherwise grow the map (and the device
// list) without bound. Quarantines and the owner's decisions stay; the
// store's MaxDevices bounds those. It returns the devices it forgot.
// d.mu held.
func (d *Daemon) pruneMetaLocked(present map[hwaddr.MAC]bool) []hwaddr.MAC {
	var forgotten []hwaddr.MAC
	for mac, m := range d.meta {
		if !present[mac] && m.quarantine == nil && !m.decided() {
			delete(d.meta, mac)
			forgotten = append(forgotten, mac)
		}
	}
	return forgotten
}

// noteRelease records a release (the owner's, or an expiry) at at in the
// device's decision, unless a later one is there: policy does not
// quarantine it again for findings it knew then. It returns the decision
// to save with the release.
func (m *deviceMeta) noteRelease(at, updated time.Time) store.Decision {
	if at.After(m.decision.ReleasedAt) {
		m.decision.ReleasedAt, m.decision.Updated = at, updated
	}
	return m.decision
}

// decided: the owner said something about the device that must outlive
// its eviction from the inventory.
func (m *deviceMeta) decided() bool { return holdsDecision(m.decision) }

func holdsDecision(dec store.Decision) bool {
	return dec.Name != "" || dec.Trusted || len(dec.Exempt) > 0 || dec.Force != "" || !dec.ReleasedAt.IsZero() || !dec.OwnerLogin.IsZero()
}

// saveDecision stores dec, or deletes the stored one once dec says
// nothing any more (a name cleared, an owner's login pushed out by newer
// ones), so that the store's table of decisions does not fill with empty
// records.
func (d *Daemon) saveDecision(dec store.Decision) error {
	if !holdsDecision(dec) {
		d.deps.Store.DeleteDecision(dec.MAC)
		return nil
	}
	return d.deps.Store.PutDecision(dec)
}

// storeRelease removes mac's stored quarantine and stores dec, the
// decision that records the release, in the same change; by
// saveDecision's rule a decision that holds nothing is not stored, and
// the quarantine goes alone.
func (d *Daemon) storeRelease(mac hwaddr.MAC, dec store.Decision) error {
	if !holdsDecision(dec) {
		d.deps.Store.DeleteQuarantine(mac)
		return nil
	}
	return d.deps.Store.Release(dec)
}

// trafficLocked is a device's traffic buckets of the last four hours,
// oldest first. d.mu held.
func trafficLocked(m *deviceMeta, now time.Time) []api.TrafficPoint {
	var out []api.TrafficPoint
	since := now.Add(-trafficBucket * trafficBuckets)
	for _, p := range m.traffic {
		if !p.Start.IsZero() && p.Start.After(since) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// maxOwners bounds the management devices learnt from logins.
const maxOwners = 8

// ownerSeen is one login: the address, and the MAC that held it then
// (zero if none was known).
type ownerSeen struct {
	addr netip.Addr
	mac  hwaddr.MAC
}

// OwnerAt records an address the owner logged in to the page from: the
// device there, by its MAC when the inventory knows who holds the address,
// is protected from quarantine like a configured management address (the
// most recent few are kept, and saved with the device's decisions, so
// that a restart does not quarantine the owner's laptop before the owner
// can log in again). A device pushed out of the few by a newer one is
// judged again at once, as ForgetOwners judges those it forgets.
func (d *Daemon) OwnerAt(addr netip.Addr) {
	addr = addr.Unmap()
	now := d.now()
	d.mu.Lock()
	if slices.Contains(d.cfg.Daemon.ManagementAddresses, addr) {
		d.mu.Unlock()
		return
	}
	o := ownerSeen{addr: addr, mac: d.holderOfLocked(addr)}
	if m, ok := d.meta[o.mac]; ok && m.quarantine != nil {
		// A quarantined device cannot reach the page: it holds the
		// address by ARP or neighbour adverts it sent the router, which
		// it still may, claiming the owner's. Its MAC would free it; the
		// login protects the address alone.
		d.log.Warn("owner's login from an address a quarantined device claims: protecting the address, not the device",
			"addr", addr, "mac", o.mac)
		o.mac = hwaddr.MAC{}
	}
	unchanged := false
	if i := slices.IndexFunc(d.owners, func(x ownerSeen) bool { return x == o || !o.mac.IsZero() && x.mac == o.mac }); i >= 0 {
		// Logged in again from the same device: it becomes the most
		// recent, the others stay.
		unchanged = d.owners[i] == o
		d.owners = slices.Delete(d.owners, i, i+1)
	}
	d.owners = append(d.owners, o)
	var save []store.Decision
	var gone hwaddr.MAC
	if len(d.owners) > maxOwners {
		if gone = d.owners[0].mac; !gone.IsZero() {
			m := d.metaFor(gone)
			m.decision.OwnerLogin, m.decision.Updated = time.Time{}, now
			save = append(save, m.decision)
		}
		d.owners = d.owners[1:]
	}
	if !o.mac.IsZero() {
		m := d.metaFor(o.mac)
		m.decision.OwnerLogin, m.decision.Updated = now, now
		save = append(save, m.decision)
	}
	d.mu.Unlock()
	for _, dec := range save {
		if err := d.saveDecision(dec); err != nil {
			d.log.Warn("the owner's device not saved", "mac", dec.MAC, "err", err)
		}
	}
	if unchanged {
		return
	}
	_ = d.updateProtected(context.Background()) // a failure is its problem
	// The device pushed out is no longer the owner's: judged again at
	// once, as ForgetOwners judges those it forgets, after the smaller
	// protected sets.
	if !gone.IsZero() {
		d.schedule(gone)
	}
}

// holderOfLocked names the MAC that holds the LAN address addr now: the
// kernel's neighbour table's (Deps.HolderOf) when there is one, else the
// inventory's; zero when none does. d.mu held.
func (d *Daemon) holderOfLocked(addr netip.Addr) hwaddr.MAC {
	var mac hwaddr.MAC
	if d.deps.HolderOf != nil {
		mac, _ = d.deps.HolderOf(addr)
	} else {
		mac, _ = d.pipe.Inventory().HolderOf(addr)
	}
	return mac
}

// ForgetOwners forgets the devices OwnerAt learnt, in the store too, but
// the one at keep: the page's password was changed, or set anew after a
// reset, which ended every session. A device that logged in with the old
// password (a browser the owner lost, someone the owner changed it to
// keep out) is then no longer the owner's, and is judged again at once,
// as a restart would judge it: policy may quarantine it, until it logs
// in with the new password. The browser that set the password, at keep,
// stays the owner's throughout: forgotten and then told of again
// (OwnerAt), it could be quarantined in between.
func (d *Daemon) ForgetOwners(keep netip.Addr) {
	keep = keep.Unmap()
	now := d.now()
	d.mu.Lock()
	var kept hwaddr.MAC
	if keep.IsValid() {
		kept = d.holderOfLocked(keep)
	}
	owners := slices.DeleteFunc(slices.Clone(d.owners), func(o ownerSeen) bool {
		return !(o.addr.IsValid() && o.addr == keep || !kept.IsZero() && o.mac == kept)
	})
	var save []store.Decision
	var forgotten []hwaddr.MAC
	for mac, m := range d.meta {
		if !m.decision.OwnerLogin.IsZero() && (kept.IsZero() || mac != kept) {
			m.decision.OwnerLogin, m.decision.Updated = time.Time{}, now
			save = append(save, m.decision)
			forgotten = append(forgotten, mac)
		}
	}
	forgot := len(owners) < len(d.owners) || len(forgotten) > 0
	d.owners = owners
	d.mu.Unlock()
	for _, dec := range save {
		if err := d.saveDecision(dec); err != nil {
			d.log.Warn("the owner's former device not saved", "mac", dec.MAC, "err", err)
		}
	}
	if !forgot {
		return
	}
	// Before the re-evaluation, so that a device no longer protected
	// can be quarantined.
	_ = d.updateProtected(context.Background()) // a failure is its problem
	for _, mac := range forgotten {
		d.schedule(mac)
	}
}

// restoreOwnersLocked takes back the owner's devices from the saved
// decisions, latest login last. d.mu held.
func (d *Daemon) restoreOwnersLocked(decisions []store.Decision) {
	var seen []store.Decision
	for _, dec := range decisions {
		if !dec.OwnerLogin.IsZero() && !dec.MAC.IsZero() {
			seen = append(seen, dec)
		}
	}
	slices.SortFunc(seen, func(a, b store.Decision) int { return a.OwnerLogin.Compare(b.OwnerLogin) })
	if len(seen) > maxOwners {
		seen = seen[len(seen)-maxOwners:]
	}
	for _, dec := range seen {
		d.owners = append(d.owners, ownerSeen{mac: dec.MAC})
	}
}
