// Package store owns the daemon's state on the router's flash: devices
// (identity, addresses, first and last seen, redacted findings), verdicts,
// quarantines, the owner's decisions and the alert outbox. It keeps the
// state in memory, safe for concurrent use, and writes it as one JSON
// document.
//
// The default path is /etc/iotgw/state.json. On OpenWrt /etc lives on the
// flash overlay: it survives a reboot, and with the path listed in
// /lib/upgrade/keep.d it survives a sysupgrade too, so quarantines and
// owner decisions are still there after either. /tmp would be RAM and
// forget them. Because flash wears, writes are coalesced: routine changes
// (devices, findings, verdicts, the outbox) are written at most once per
// write interval (default 10 minutes); a device that is merely seen again,
// or repeats a finding it already has, causes no write of its own; owner
// actions and quarantine changes are written at once, in the background,
// but at most once per UrgentWriteGap (10 s), a burst within the gap in
// one write at its end, and Sync has an owner's action on flash before
// the owner is told it is done; and a final write happens when Run's
// context ends.
//
// MaxBytes (default 4 MiB) caps the file and, by an estimate, the
// findings held in memory; beyond it the oldest findings go first.
// Quarantines and decisions are never dropped. README.md has the format,
// every cap and the configuration keys.
//
// Every write replaces the file atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory): after a crash at any
// point the file holds either the old or the new state. A file that cannot
// be read as a state (empty, not JSON, an invalid schema) is copied aside to
// <name>.corrupt-<timestamp> with a warning, the daemon starts empty, and
// the empty state is written over it at once; one damaged after its
// beginning (truncated, over the read limit) is copied aside too, but what
// precedes the damage is kept and written back, and the file holds the
// quarantines and decisions first. The copy is on flash before anything
// replaces the file, so a power cut in between finds the damaged file
// again at the next start, not an empty directory. A file a newer build
// wrote (found after a downgrade) is copied to <name>.newer-<timestamp>,
// and its quarantines, the owner's decisions and its devices without
// their findings are read; if no copy can be made, nothing is written
// over it. Within a readable file, a
// record that cannot be read (a value a newer build added) is left out on
// its own with a warning, and a copy of the file as read is kept under
// the same name. Opening never fails and never panics.
//
// The store only ever receives events whose evidence is already redacted
// (see pkg/event); it holds no password and no personal datum in clear.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/iotgw/iotgw/internal/statefile"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Defaults for Options.
const (
	DefaultPath                 = "/etc/iotgw/state.json"
	DefaultWriteInterval        = 10 * time.Minute
	DefaultMaxBytes             = 4 << 20
	DefaultMaxDevices           = 2048
	DefaultMaxFindingsPerDevice = 64 // as many as the device inventory keeps
	DefaultMaxOutbox            = 256
	// MinMaxBytes is the smallest size cap honoured; smaller values are
	// raised to it.
	MinMaxBytes = 64 << 10
	// MaxMaxBytes is the largest size cap honoured; larger values are
	// lowered to it. Opening a file at this cap holds ~3 times the file
	// live (TestOpenMemoryBounded); one written at 16 MiB needs ~50 MiB
	// of heap, more than a router with 128 MB can spare.
	MaxMaxBytes = 8 << 20
	// UrgentWriteGap is the least time between two background writes of
	// urgent changes (quarantines, urgent alerts): the first is written
	// at once, those that follow within the gap together at its end. A
	// flood of new devices each quarantined for a default password would
	// otherwise rewrite the whole state for each one, as fast as the
	// flash takes it; this way it costs at most 6 writes a minute, and a
	// power cut loses at most the last 10 s of automatic quarantines,
	// which policy finds again when the devices try their logins.
	UrgentWriteGap = 10 * time.Second
	// OwnerWriteGap is the least time between two writes for owner
	// actions (Sync): a click on the page waits at most this long to be
	// on flash, and a script driving the API costs at most one write a
	// second.
	OwnerWriteGap = time.Second
	// SyncWait is the longest Sync waits, for the gap and the write, when
	// its caller's context does not end sooner: an owner's page is
	// answered even when the flash stops answering.
	SyncWait = 5 * time.Second
)

// Errors returned by the mutating methods.
var (
	ErrInvalid  = errors.New("store: invalid record")
	ErrFull     = errors.New("store: table full")
	ErrNotFound = errors.New("store: no such item")
)

// Clock is the store's source of time and of the write-interval ticker;
// tests drive it by hand.
type Clock interface {
	Now() time.Time
	// NewTicker returns a channel that receives every d, and a stop func.
	NewTicker(d time.Duration) (<-chan time.Time, func())
	// NewTimer returns a channel that receives once, after d, and a stop
	// func.
	NewTimer(d time.Duration) (<-chan time.Time, func())
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

func (systemClock) NewTimer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// Options configure a store; zero fields take the defaults.
type Options struct {
	Path string
	// WriteInterval: routine changes are written at most once per interval.
	WriteInterval time.Duration
	// MaxBytes caps the file, and the findings held in memory by an
	// estimate of their size. Beyond it the oldest findings are left out
	// first, then the least recently seen devices that have neither a
	// quarantine nor a decision, then the oldest outbox items;
	// quarantines and decisions are always written.
	MaxBytes int
	// MaxDevices caps each table: devices, verdicts, quarantines,
	// decisions. Full device and verdict tables forget the least recently
	// seen entry without a quarantine or decision; full quarantine and
	// decision tables refuse with ErrFull.
	MaxDevices           int
	MaxFindingsPerDevice int
	// MaxOutbox caps pending alerts; a full outbox drops its oldest item.
	MaxOutbox int
	Logger    *slog.Logger
	Clock     Clock
}

func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.WriteInterval <= 0 {
		o.WriteInterval = DefaultWriteInterval
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.MaxBytes = min(max(o.MaxBytes, MinMaxBytes), MaxMaxBytes)
	if o.MaxDevices <= 0 {
		o.MaxDevices = DefaultMaxDevices
	}
	if o.MaxFindingsPerDevice <= 0 {
		o.MaxFindingsPerDevice = DefaultMaxFindingsPerDevice
	}
	if o.MaxOutbox <= 0 {
		o.MaxOutbox = DefaultMaxOutbox
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return o
}

// Stats describe the store's writes.
type Stats struct {
	Writes       uint64    // files written since Open
	UrgentWrites uint64    // of which were prompted by an owner action or quarantine change
	Bytes        int       // size of the last file written
	BytesTotal   uint64    // bytes written since Open (flash wear)
	LastWrite    time.Time // zero before the first write
	LastError    error     // of the last write attempt; nil after a success
	// Left out of the last file because of MaxBytes.
	TrimmedFindings, TrimmedDevices, TrimmedVerdicts, TrimmedOutbox int
	// OverCap: the last file exceeded MaxBytes with only quarantines and
	// decisions left.
	OverCap bool
	// FindingsForgotten counts findings forgotten in memory because all
	// findings together were over MaxBytes.
	FindingsForgotten uint64
	// OutboxDropped counts alerts dropped because the outbox was full.
	OutboxDropped uint64
	Dirty         bool // changes not yet written (seen-again data aside: last-seen times, repeat counts)
	// LoadError says why the state file found at start was not used:
	// damaged, and set aside or not; empty when it was read or absent.
	// An unreadable file is LastError until a write succeeds.
	LoadError string
	// Downgrade says what became of a state file a newer iotgw wrote,
	// found at start (after a downgrade): kept aside, and what was read
	// of it; empty when none was found.
	Downgrade string
}

// Store is the daemon's persisted state. All methods are safe for
// concurrent use. Records held inside are never modified in place, so a
// write can encode them without holding the lock.
type Store struct {
	opts   Options
	log    *slog.Logger
	clock  Clock
	urgent chan struct{} // capacity 1: pending urgent writes coalesce

	writeMu sync.Mutex // one file write at a time

	// ownerTurn (capacity 1) holds a token while a Sync waits for the
	// gap or writes: one at a time, and one waiting for its turn can
	// still give up.
	ownerTurn      chan struct{}
	lastOwnerWrite time.Time     // when Sync last tried a write; guarded by ownerTurn
	syncWait       time.Duration // SyncWait; tests shorten it

	mu          sync.Mutex
	devices     map[hwaddr.MAC]*DeviceRecord
	verdicts    map[hwaddr.MAC]*Verdict
	quarantines map[hwaddr.MAC]*Quarantine
	decisions   map[hwaddr.MAC]*Decision
	outbox      []OutboxItem // by ID; payloads never modified
	muted       map[string]bool
	alertHolds  json.RawMessage // the alert engine's own JSON; never modified
	nextID      uint64
	gen         uint64 // bumped by every change worth a write
	writtenGen  uint64 // gen of the last file written
	// seenGen is bumped by device updates that change only seen-again
	// data (see onlySeenChanged): they ride along with the next write, or
	// the final one, but never cause a write of their own, so a quiet
	// network, or a device repeating what it is known for, costs no
	// flash writes.
	seenGen        uint64
	writtenSeenGen uint64
	stats          Stats
	lastTrim       trimReport
	// findingBytes estimates the findings' encoded size (see budget.go).
	findingBytes int
	// forgotUntil is, per device, the newest finding the budget forgot:
	// writers hand the whole record in again, and what was forgotten
	// must stay so, or a network over budget would rewrite the file at
	// every interval.
	forgotUntil  map[hwaddr.MAC]time.Time
	warnedBudget bool
	// held says why this run never writes over the file: it could not be
	// read for a reason other than its content (EIO, EACCES) and may be
	// sound, or a newer build wrote it and no copy of it could be kept.
	held error
	// readFile reads the state file (statefile.Read), copyFile keeps a
	// copy of it aside (statefile.Copy); tests replace them.
	readFile func(path string, limit int64) ([]byte, error)
	copyFile func(dst, src string) error
}

// Open loads the state at opts.Path. A missing file gives an empty store;
// an unreadable or corrupt one is set aside, and unreadable records
// within a readable one are left out (see the package doc).
// Leftover temporary files from an interrupted write are removed. Open
// never fails: problems are logged and the store starts empty.
func Open(opts Options) *Store {
	s := newStore(opts)
	s.load()
	return s
}

// newStore returns an empty store that has not read its file.
func newStore(opts Options) *Store {
	opts = opts.withDefaults()
	return &Store{
		opts:        opts,
		log:         opts.Logger.With("component", "store"),
		clock:       opts.Clock,
		urgent:      make(chan struct{}, 1),
		ownerTurn:   make(chan struct{}, 1),
		syncWait:    SyncWait,
		devices:     make(map[hwaddr.MAC]*DeviceRecord),
		forgotUntil: make(map[hwaddr.MAC]time.Time),
		verdicts:    make(map[hwaddr.MAC]*Verdict),
		quarantines: make(map[hwaddr.MAC]*Quarantine),
		decisions:   make(map[hwaddr.MAC]*Decision),
		muted:       make(map[string]bool),
		nextID:      1,
		readFile:    statefile.Read,
		copyFile:    statefile.Copy,
	}
}

// changedLocked records a change; urgent ones wake the writer.
func (s *Store) changedLocked(urgent bool) {
	s.gen++
	if urgent {
		select {
		case s.urgent <- struct{}{}:
		default:
		}
	}
}

// PutDevice stores d, replacing any record for its MAC (a zero LastAudit
// keeps the one stored). Routine: written with the next interval's write,
// unless its LastAudit changed. At MaxDevices, the least recently seen
// device without a quarantine or decision is forgotten.
func (s *Store) PutDevice(d DeviceRecord) error {
	if d.MAC.IsZero() {
		return fmt.Errorf("%w: device without a MAC", ErrInvalid)
	}
	rec := d.normalize(s.opts.MaxFindingsPerDevice)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.devices[d.MAC]; !ok && len(s.devices) >= s.opts.MaxDevices {
		if !s.evictDeviceLocked() {
			return fmt.Errorf("%w: %d devices, all quarantined or decided by the owner", ErrFull, len(s.devices))
		}
	}
	old := s.devices[d.MAC]
	if old != nil && rec.LastAudit.IsZero() {
		// A writer that does not know (audits switched off) keeps it:
		// the hold after signs of a lockout must outlive that.
		rec.LastAudit = old.LastAudit
	}
	if until, ok := s.forgotUntil[d.MAC]; ok {
		rec.forgetUntil(until)
	}
	s.setDeviceLocked(d.MAC, &rec)
	s.enforceBudgetLocked()
	if old != nil && onlySeenChanged(old, s.devices[d.MAC]) {
		s.seenGen++
		return nil
	}
	// A new audit time is written promptly: a hold after signs of a
	// lockout lost to a power cut would let the device be audited again
	// at once. Audits are rare; the flash does not notice.
	s.changedLocked(old == nil && !rec.LastAudit.IsZero() || old != nil && !old.LastAudit.Equal(rec.LastAudit))
	return nil
}

// onlySeenChanged reports whether two records differ at most in
// seen-again data: LastSeen and their findings' Count and LastTime. A
// camera that retries its default login every few seconds changes only
// those; were that a change worth a write, every interval would rewrite
// the whole state for it. Field by field, not reflect.DeepEqual, which costs hundreds of
// allocations per device; TestOnlySeenChangedCoversEveryField keeps the
// list complete.
func onlySeenChanged(a, b *DeviceRecord) bool {
	if a.MAC != b.MAC || a.Identity != b.Identity || !slices.Equal(a.Addrs, b.Addrs) ||
		!a.FirstSeen.Equal(b.FirstSeen) || a.DroppedFindings != b.DroppedFindings || !a.LastAudit.Equal(b.LastAudit) ||
		len(a.Findings) != len(b.Findings) {
		return false
	}
	for i := range a.Findings {
		if !sameEvent(&a.Findings[i], &b.Findings[i]) {
			return false
		}
	}
	return true
}

// sameEvent reports whether two findings are the same but for a repeat:
// Count and LastTime are left out (see onlySeenChanged).
func sameEvent(a, b *event.Event) bool {
	return a.V == b.V && a.Time.Equal(b.Time) && a.Type == b.Type && a.Kind == b.Kind && a.Severity == b.Severity &&
		a.Capability == b.Capability && a.Provision == b.Provision && a.Device == b.Device &&
		(a.Flow == nil) == (b.Flow == nil) && (a.Flow == nil || *a.Flow == *b.Flow) &&
		a.Summary == b.Summary && maps.Equal(a.Evidence, b.Evidence) && a.Source == b.Source &&
		a.Packet == b.Packet && a.Verified == b.Verified
}

// keptLocked: the device of mac has a quarantine or an owner decision,
// so its records are the last to go when a table is full.
func (s *Store) keptLocked(mac hwaddr.MAC) bool {
	return s.quarantines[mac] != nil || s.decisions[mac] != nil
}

// evictDeviceLocked forgets the least recently seen device that has no
// quarantine or decision, and its verdict.
func (s *Store) evictDeviceLocked() bool {
	var victim *DeviceRecord
	for mac, d := range s.devices {
		if s.keptLocked(mac) {
			continue
		}
		if victim == nil || d.LastSeen.Before(victim.LastSeen) ||
			d.LastSeen.Equal(victim.LastSeen) && macLess(d.MAC, victim.MAC) {
			victim = d
		}
	}
	if victim == nil {
		return false
	}
	s.setDeviceLocked(victim.MAC, nil)
	delete(s.verdicts, victim.MAC)
	s.log.Debug("device table full; forgot least recently seen device", "max_devices", s.opts.MaxDevices)
	return true
}

// DeleteDevice forgets a device and its verdict (an owner action: written
// promptly). Its quarantine and decision stay until removed on their own.
func (s *Store) DeleteDevice(mac hwaddr.MAC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.devices[mac]
	_, hadVerdict := s.verdicts[mac]
	if !had && !hadVerdict {
		return
	}
	s.setDeviceLocked(mac, nil)
	delete(s.verdicts, mac)
	s.changedLocked(true)
}

// PutVerdict stores policy's verdict for v.MAC. Routine: policy
// recomputes verdicts after a restart anyway.
func (s *Store) PutVerdict(v Verdict) error {
	if v.MAC.IsZero() {
		return fmt.Errorf("%w: verdict without a MAC", ErrInvalid)
	}
	rec := v.normalize(s.opts.MaxFindingsPerDevice)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.verdicts[v.MAC]; !ok && len(s.verdicts) >= s.opts.MaxDevices {
		// The oldest goes, but not one of a device with a quarantine or
		// an owner decision (kept as the devices table keeps them); if
		// all are, the oldest of those.
		var victim, anyVictim *Verdict
		older := func(a, b *Verdict) bool {
			return b == nil || a.Time.Before(b.Time) || a.Time.Equal(b.Time) && macLess(a.MAC, b.MAC)
		}
		for _, old := range s.verdicts {
			if older(old, anyVictim) {
				anyVictim = old
			}
			if !s.keptLocked(old.MAC) && older(old, victim) {
				victim = old
			}
		}
		if victim == nil {
			victim = anyVictim
		}
		delete(s.verdicts, victim.MAC)
	}
	s.verdicts[v.MAC] = &rec
	s.changedLocked(false)
	return nil
}

// PutQuarantine records that q.MAC is quarantined, replacing an earlier
// record. Written promptly.
func (s *Store) PutQuarantine(q Quarantine) error {
	switch {
	case q.MAC.IsZero():
		return fmt.Errorf("%w: quarantine without a MAC", ErrInvalid)
	case q.Mode == "":
		return fmt.Errorf("%w: quarantine of %s without a mode", ErrInvalid, q.MAC)
	case !q.By.Valid():
		return fmt.Errorf("%w: quarantine of %s by %q (want policy, owner or firewall)", ErrInvalid, q.MAC, q.By)
	}
	rec := q.normalize()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.quarantines[q.MAC]; !ok && len(s.quarantines) >= s.opts.MaxDevices {
		return fmt.Errorf("%w: %d quarantines", ErrFull, len(s.quarantines))
	}
	s.quarantines[q.MAC] = &rec
	s.changedLocked(true)
	return nil
}

// DeleteQuarantine records that mac is released. Written promptly.
func (s *Store) DeleteQuarantine(mac hwaddr.MAC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.quarantines[mac]; !ok {
		return
	}
	delete(s.quarantines, mac)
	s.changedLocked(true)
}

// Release records that dec.MAC is released and stores dec, the decision
// that says so, as one change: a write between the two would keep the
// release without the decision that stops policy from quarantining the
// device again after a restart. The quarantine goes even when the
// decision does not fit (ErrFull). Written promptly.
func (s *Store) Release(dec Decision) error { return s.putDecision(dec, true) }

// PutDecision stores the owner's decision about d.MAC, replacing an
// earlier one. Written promptly.
func (s *Store) PutDecision(d Decision) error { return s.putDecision(d, false) }

// putDecision stores d; release deletes d.MAC's quarantine in the same
// change, whether or not d fits.
func (s *Store) putDecision(d Decision, release bool) error {
	if d.MAC.IsZero() {
		return fmt.Errorf("%w: decision without a MAC", ErrInvalid)
	}
	rec := d.normalize()
	s.mu.Lock()
	defer s.mu.Unlock()
	if release {
		delete(s.quarantines, d.MAC)
		s.changedLocked(true)
	}
	if _, ok := s.decisions[rec.MAC]; !ok && len(s.decisions) >= s.opts.MaxDevices {
		return fmt.Errorf("%w: %d decisions", ErrFull, len(s.decisions))
	}
	s.decisions[rec.MAC] = &rec
	s.changedLocked(true)
	return nil
}

// DeleteDecision forgets the owner's decision about mac. Written promptly.
func (s *Store) DeleteDecision(mac hwaddr.MAC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.decisions[mac]; !ok {
		return
	}
	delete(s.decisions, mac)
	s.changedLocked(true)
}

// Limits on muted alert channels: the configuration names the channels
// and allows no more than MaxMutedAlertChannels; the caps keep a damaged
// file from growing the store.
const (
	MaxMutedAlertChannels = 32
	maxChannelNameLen     = 64
)

// SetAlertChannelMuted records that the owner switched the alert channel
// name off (muted) or on again. Written promptly.
func (s *Store) SetAlertChannelMuted(name string, muted bool) error {
	if name == "" || len(name) > maxChannelNameLen {
		return fmt.Errorf("%w: alert channel name of %d bytes", ErrInvalid, len(name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.muted[name] == muted {
		return nil
	}
	if muted {
		if len(s.muted) >= MaxMutedAlertChannels {
			return fmt.Errorf("%w: %d muted alert channels", ErrFull, len(s.muted))
		}
		s.muted[name] = true
	} else {
		delete(s.muted, name)
	}
	s.changedLocked(true)
	return nil
}

// MutedAlertChannels returns the alert channels the owner switched off,
// sorted.
func (s *Store) MutedAlertChannels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mutedLocked()
}

func (s *Store) mutedLocked() []string {
	if len(s.muted) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(s.muted))
}

// MaxAlertHolds bounds the alert engine's hold-down memory: a few dozen
// problem areas and the new-device count fit many times over.
const MaxAlertHolds = 16 << 10

// SetAlertHolds records the alert engine's hold-down memory (its own
// JSON, at most MaxAlertHolds bytes), so that a restart does not repeat
// alerts the owner already had; none (empty) clears it, as the engine
// hands in when it holds nothing. Routine: written with the next
// interval's write, and not at all when it is what the store holds
// already, so that the daemon may hand it in at every tick.
func (s *Store) SetAlertHolds(holds json.RawMessage) error {
	if len(holds) > MaxAlertHolds {
		return fmt.Errorf("%w: alert holds of %d bytes (max %d)", ErrInvalid, len(holds), MaxAlertHolds)
	}
	var compact json.RawMessage
	if len(holds) > 0 {
		var err error
		if compact, err = compactJSON(holds); err != nil {
			return fmt.Errorf("%w: alert holds: %v", ErrInvalid, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Equal(compact, s.alertHolds) {
		return nil
	}
	s.alertHolds = compact
	s.changedLocked(false)
	return nil
}

// Enqueue adds an alert to the outbox, due now. payload must be valid
// JSON of at most 8 KiB. A full outbox drops its oldest item. Routine,
// unless urgent: an alert acknowledged before the next interval never
// reaches flash, but an urgent one (a quarantine) is written at once (or
// at the end of UrgentWriteGap), so that a power cut while the internet
// is down does not lose it.
func (s *Store) Enqueue(payload json.RawMessage, urgent bool) (OutboxItem, error) {
	if len(payload) > maxPayloadLen {
		return OutboxItem{}, fmt.Errorf("%w: alert payload of %d bytes (max %d)", ErrInvalid, len(payload), maxPayloadLen)
	}
	compact, err := compactJSON(payload)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("%w: alert payload: %v", ErrInvalid, err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outbox) >= s.opts.MaxOutbox {
		s.outbox = slices.Delete(s.outbox, 0, 1)
		s.stats.OutboxDropped++
		s.log.Warn("alert outbox full; dropped the oldest alert", "max_outbox", s.opts.MaxOutbox)
	}
	it := OutboxItem{ID: s.nextID, Created: now, NextAttempt: now, Payload: compact}
	s.nextID++
	s.outbox = append(s.outbox, it)
	s.changedLocked(urgent)
	return it.clone(), nil
}

// Pending returns up to limit outbox items (limit <= 0: all), those due
// soonest first, then in the order they were enqueued. Items not yet due
// are included, so the caller can sleep until the first NextAttempt.
func (s *Store) Pending(limit int) []OutboxItem {
	s.mu.Lock()
	items := slices.Clone(s.outbox)
	s.mu.Unlock()
	slices.SortStableFunc(items, func(a, b OutboxItem) int { return a.NextAttempt.Compare(b.NextAttempt) })
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	for i := range items {
		items[i] = items[i].clone()
	}
	return items
}

// Ack removes a delivered alert. Routine.
func (s *Store) Ack(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.outboxIndexLocked(id)
	if i < 0 {
		return fmt.Errorf("%w: alert %d", ErrNotFound, id)
	}
	s.outbox = slices.Delete(s.outbox, i, i+1)
	s.changedLocked(false)
	return nil
}

// Reschedule counts a failed delivery of alert id and sets when to try
// again. Routine.
func (s *Store) Reschedule(id uint64, next time.Time) error {
	return s.retime(id, next, 1)
}

// SetNextAttempt moves when to try alert id again, without counting a
// delivery: an urgent alert queued behind it cuts its wait. Routine.
func (s *Store) SetNextAttempt(id uint64, next time.Time) error {
	return s.retime(id, next, 0)
}

func (s *Store) retime(id uint64, next time.Time, failed int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.outboxIndexLocked(id)
	if i < 0 {
		return fmt.Errorf("%w: alert %d", ErrNotFound, id)
	}
	s.outbox[i].Attempts += failed
	s.outbox[i].NextAttempt = next
	s.changedLocked(false)
	return nil
}

// compactJSON returns a compact copy of a JSON value.
func compactJSON(b []byte) (json.RawMessage, error) {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (s *Store) outboxIndexLocked(id uint64) int {
	i, ok := slices.BinarySearchFunc(s.outbox, id, func(it OutboxItem, id uint64) int {
		switch {
		case it.ID < id:
			return -1
		case it.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return i
}

// Snapshot returns a deep copy of the whole state, records sorted by MAC.
func (s *Store) Snapshot() State {
	doc := s.document()
	return State{
		Devices:     copyRecords(doc.Devices, DeviceRecord.clone),
		Verdicts:    copyRecords(doc.Verdicts, Verdict.clone),
		Quarantines: copyRecords(doc.Quarantines, func(q Quarantine) Quarantine { return q }),
		Decisions:   copyRecords(doc.Decisions, Decision.clone),
		Outbox:      copyRecords(doc.Outbox, OutboxItem.clone),

		MutedAlertChannels: slices.Clone(doc.MutedAlerts),
		AlertHolds:         slices.Clone(doc.AlertHolds),
	}
}

// copyRecords deep-copies shared records for a caller; empty is nil.
func copyRecords[T any](recs []*T, clone func(T) T) []T {
	if len(recs) == 0 {
		return nil
	}
	out := make([]T, len(recs))
	for i, r := range recs {
		out[i] = clone(*r)
	}
	return out
}

// Stats returns the write statistics.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Dirty = s.gen != s.writtenGen
	return st
}

// Run writes changes in the background until ctx ends: routine changes
// once per write interval, urgent ones at once but at most one write per
// UrgentWriteGap (those within the gap together at its end). When ctx
// ends it writes what is left and returns that write's error. Call Run
// once; changes made after it returned are written only by Flush.
func (s *Store) Run(ctx context.Context) error {
	tick, stopTick := s.clock.NewTicker(s.opts.WriteInterval)
	defer stopTick()
	var (
		lastUrgent time.Time        // when an urgent write was last tried; zero: never
		gapEnd     <-chan time.Time // set while urgent changes wait for the gap's end
		stopGap    = func() {}
	)
	defer func() { stopGap() }()
	urgentWrite := func() {
		// A failed write is logged and kept in Stats, and retried on the
		// next tick or at the next gap's end: failing flash is not
		// hammered either.
		if tried, _ := s.flush(causeUrgent); tried {
			lastUrgent = s.clock.Now()
		}
	}
	for {
		select {
		case <-ctx.Done():
			_, err := s.flush(causeFinal)
			return err
		case <-s.urgent:
			if gapEnd != nil {
				continue // written at the gap's end
			}
			if wait := gapLeft(lastUrgent, s.clock.Now(), UrgentWriteGap); wait > 0 {
				gapEnd, stopGap = s.clock.NewTimer(wait)
				continue
			}
			urgentWrite()
		case <-gapEnd:
			gapEnd, stopGap = nil, func() {}
			urgentWrite()
		case <-tick:
			_, _ = s.flush(causeRoutine)
		}
	}
}

// Flush writes the state now if anything changed since the last write,
// including seen-again data (last-seen times, repeat counts).
func (s *Store) Flush() error {
	_, err := s.flush(causeFinal)
	return err
}

// Sync writes the changes made so far before it returns, for an owner's
// action (a quarantine, a release, a trust from the page or the CLI) that
// must be on flash, power cut or not, when the owner is told it is done.
// Such writes are at most one per OwnerWriteGap: a Sync within the gap
// after the last one waits for its end, Syncs waiting together share one
// write, and one whose changes a write took already returns at once.
// Seen-again data waits, as it does in Run. If ctx ends first, or
// SyncWait passes, Sync returns ctx's error: the changes are left to Run,
// and a write under way goes on without the caller.
func (s *Store) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.syncWait)
	defer cancel()
	select {
	case s.ownerTurn <- struct{}{}:
	case <-ctx.Done():
		return syncGaveUp(ctx)
	}
	// The write cannot be cut short; the caller can stop waiting for it.
	// One at most goes on alone: it holds the turn until it ends.
	done := make(chan error, 1)
	go func() {
		defer func() { <-s.ownerTurn }()
		done <- s.syncTurn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return syncGaveUp(ctx)
	}
}

func syncGaveUp(ctx context.Context) error {
	return fmt.Errorf("state not written yet, left to the background writer: %w", ctx.Err())
}

// syncTurn is Sync's wait for the gap and its write; the caller holds
// the turn.
func (s *Store) syncTurn(ctx context.Context) error {
	if !s.unwritten() {
		return nil
	}
	if wait := gapLeft(s.lastOwnerWrite, s.clock.Now(), OwnerWriteGap); wait > 0 {
		gapEnd, stop := s.clock.NewTimer(wait)
		defer stop()
		select {
		case <-gapEnd:
		case <-ctx.Done():
			return syncGaveUp(ctx)
		}
	}
	tried, err := s.flush(causeUrgent)
	if tried {
		s.lastOwnerWrite = s.clock.Now()
	}
	return err
}

// gapLeft is how long a write at now still waits for the end of the gap
// after the write tried at last (zero: none yet); zero or less: none. At
// most gap, whatever the clock did since: set back, it would otherwise
// hold the write for the size of the step.
func gapLeft(last, now time.Time, gap time.Duration) time.Duration {
	if last.IsZero() {
		return 0
	}
	return min(last.Add(gap).Sub(now), gap)
}

// unwritten reports whether a change worth a write is not on flash. A
// write under way ends first: it may hold the change.
func (s *Store) unwritten() bool {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen != s.writtenGen
}

// cause is why a write happens.
type cause int

const (
	causeRoutine cause = iota // the interval's tick
	causeUrgent               // an owner action or quarantine change
	causeFinal                // shutdown or Flush: seen-again data counts too
)

// flush writes the state if c calls for it, and reports whether it tried.
func (s *Store) flush(c cause) (bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.held != nil {
		s.mu.Unlock()
		return false, fmt.Errorf("state file %s not written: %w", s.opts.Path, s.held)
	}
	gen, seenGen := s.gen, s.seenGen
	if gen == s.writtenGen && (c != causeFinal || seenGen == s.writtenSeenGen) {
		s.mu.Unlock()
		return false, nil
	}
	doc := s.documentLocked()
	s.mu.Unlock()
	doc.sort()
	doc.Written = s.clock.Now().UTC()
	data, trim, err := encode(doc, s.opts.MaxBytes)
	if err == nil {
		err = statefile.Write(s.opts.Path, data)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.stats.LastError
	s.stats.LastError = err
	if err != nil {
		// Once per failure: a full or read-only overlay fails every
		// retry alike, and the daemon tells the owner from LastError.
		level := slog.LevelError
		if prev != nil && prev.Error() == err.Error() {
			level = slog.LevelDebug
		}
		s.log.Log(context.Background(), level, "cannot write state; will retry", "path", s.opts.Path, "err", err)
		return true, err
	}
	if prev != nil {
		s.log.Info("state written again", "path", s.opts.Path)
	}
	s.writtenGen, s.writtenSeenGen = gen, seenGen
	s.stats.Writes++
	if c == causeUrgent {
		s.stats.UrgentWrites++
	}
	s.stats.Bytes = len(data)
	s.stats.BytesTotal += uint64(len(data))
	s.stats.LastWrite = doc.Written
	s.stats.TrimmedFindings, s.stats.TrimmedDevices, s.stats.TrimmedOutbox = trim.findings, trim.devices, trim.outbox
	s.stats.TrimmedVerdicts = trim.verdicts
	s.stats.OverCap = trim.overCap
	s.logTrimLocked(trim, len(data))
	return true, nil
}

// logTrimLocked warns when the size cap starts or changes what it leaves
// out; the same trim on every write is only worth a debug line.
func (s *Store) logTrimLocked(t trimReport, size int) {
	if t == (trimReport{}) {
		s.lastTrim = t
		return
	}
	level := slog.LevelWarn
	if t == s.lastTrim {
		level = slog.LevelDebug
	}
	s.lastTrim = t
	msg := "state over its size cap; left out the oldest findings"
	if t.overCap {
		msg = "state over its size cap even with only quarantines and decisions; written anyway"
	}
	s.log.Log(context.Background(), level, msg, "path", s.opts.Path, "max_bytes", s.opts.MaxBytes, "bytes", size,
		"findings_left_out", t.findings, "devices_left_out", t.devices, "alerts_left_out", t.outbox,
		"verdicts_left_out", t.verdicts)
}

// document copies the tables' record pointers, sorted; the records
// themselves are immutable and shared.
func (s *Store) document() *document {
	s.mu.Lock()
	doc := s.documentLocked()
	s.mu.Unlock()
	doc.sort()
	return doc
}

func (s *Store) documentLocked() *document {
	doc := &document{
		Schema:       SchemaVersion,
		NextOutboxID: s.nextID,
		Devices:      mapValues(s.devices),
		Verdicts:     mapValues(s.verdicts),
		Quarantines:  mapValues(s.quarantines),
		Decisions:    mapValues(s.decisions),
		Outbox:       make([]*OutboxItem, len(s.outbox)),
		MutedAlerts:  s.mutedLocked(),
		AlertHolds:   s.alertHolds,
	}
	for i := range s.outbox {
		it := s.outbox[i] // copy: Reschedule changes the slice element
		doc.Outbox[i] = &it
	}
	return doc
}

// sort orders records by MAC, as the file has them.
func (doc *document) sort() {
	slices.SortFunc(doc.Devices, func(a, b *DeviceRecord) int { return macCompare(a.MAC, b.MAC) })
	slices.SortFunc(doc.Verdicts, func(a, b *Verdict) int { return macCompare(a.MAC, b.MAC) })
	slices.SortFunc(doc.Quarantines, func(a, b *Quarantine) int { return macCompare(a.MAC, b.MAC) })
	slices.SortFunc(doc.Decisions, func(a, b *Decision) int { return macCompare(a.MAC, b.MAC) })
}

func mapValues[T any](m map[hwaddr.MAC]*T) []*T {
	out := make([]*T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func macCompare(a, b hwaddr.MAC) int { return bytes.Compare(a[:], b[:]) }

func macLess(a, b hwaddr.MAC) bool { return macCompare(a, b) < 0 }
