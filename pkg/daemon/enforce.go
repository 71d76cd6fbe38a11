package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/policy"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// enforceLoop evaluates devices whose findings changed and makes the
// kernel follow the verdict. It is the only place policy changes the
// kernel, so verdicts for one device are applied in order.
func (d *Daemon) enforceLoop(ctx context.Context) {
	for {
		for ctx.Err() == nil {
			mac, ok := d.work.pop()
			if !ok {
				break
			}
			d.evaluate(ctx, mac)
			d.work.done()
		}
		select {
		case <-ctx.Done():
			return
		case <-d.work.wake:
		}
	}
}

// plan is what should happen to a device's quarantine.
type plan struct {
	apply   bool // quarantine (or update the addresses of) the device
	release bool
	why     string // for a release: who or what ended the quarantine
	entry   quarantine.Entry
	record  store.Quarantine
	// released, on the owner's release or an expiry, is recorded (and
	// saved) as the decision's ReleasedAt together with the release, so
	// that no evaluation sees the device neither quarantined nor
	// released.
	released time.Time
	// stale, set on policy's plans, reports under d.mu whether the plan no
	// longer follows from the device's state (the owner acted meanwhile).
	stale func(m *deviceMeta) bool
	// moved is the clock's steps followed when record was dated
	// (wallStep.moved): commit moves it by those followed since, while
	// the kernel took it.
	moved time.Duration
	// expiryMark, set on a new quarantine, becomes the device's
	// deviceMeta.expiryMark.
	expiryMark time.Time
}

// evaluate runs policy for one device and applies the outcome.
func (d *Daemon) evaluate(ctx context.Context, mac hwaddr.MAC) {
	p, v, changed, now := d.policyPlan(mac)
	if changed {
		d.persistVerdict(mac, v, now)
	}
	if p.apply || p.release {
		d.applyPlan(ctx, mac, p)
		return
	}
	// Policy wants no change (any more): a commit of this device that
	// failed before is moot.
	d.commitRetry(mac, false)
	d.clearProblem(commitProblem(mac))
}

// commitProblem keys a device's failed commit among the problems: another
// device's success says nothing of this one.
func commitProblem(mac hwaddr.MAC) string { return alert.AreaNFTables + "/" + mac.String() }

// policyPlan evaluates policy for one device now, keeps the verdict and
// plans the kernel change, which commit drops if the device's quarantine
// or release changed in between. It returns the time it read.
func (d *Daemon) policyPlan(mac hwaddr.MAC) (plan, policy.Verdict, bool, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.followClockLocked()
	dev, _ := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	in := d.devicePolicyInput(mac, dev)
	v := policy.Evaluate(&d.cfg.Policy, in, now)
	m := d.metaFor(mac)
	changed := v.Action != m.verdict.Action || v.Note != m.verdict.Note || len(v.Reasons) != len(m.verdict.Reasons) ||
		!v.StrongSince.Equal(m.verdict.StrongSince)
	if !v.StrongSince.Equal(m.verdict.StrongSince) {
		m.strongByRun = !v.StrongSince.IsZero()
	}
	m.verdict = v
	p := d.planLocked(mac, m, dev, v, now)
	d.pinLocked(mac, m)
	q, released, cfg, steps := m.quarantine, m.decision.ReleasedAt, d.cfg, d.wall.steps
	// A reload in between (to monitor mode, another policy) makes the
	// plan another policy's; a step of the clock, one dated by the
	// clock before it.
	p.stale = func(m *deviceMeta) bool {
		return m.quarantine != q || !m.decision.ReleasedAt.Equal(released) || d.cfg != cfg || d.wall.steps != steps
	}
	return p, v, changed, now
}

// planLocked decides the kernel change for a verdict. d.mu held.
func (d *Daemon) planLocked(mac hwaddr.MAC, m *deviceMeta, dev *device.Device, v policy.Verdict, now time.Time) plan {
	q := m.quarantine
	addrs := d.entryAddrsLocked(mac, m, dev)
	// An expired quarantine ends whoever set it, as a release as of its
	// start: the findings it was for do not bring it back; new ones,
	// first seen while it lasted, may.
	if q != nil && !q.Until.IsZero() && !now.Before(q.Until) {
		released := q.Since
		if !m.expiryMark.IsZero() {
			released = m.expiryMark
		}
		return plan{release: true, why: "the quarantine's time ran out", released: released}
	}
	wants := v.Enforce && (v.Action == config.ActionQuarantine || v.Action == config.ActionIsolate)
	var sharedWhy string
	var shared bool
	if dev != nil && wants {
		sharedWhy, shared = dev.SharedMAC(now)
	}
	switch {
	case q != nil && d.macProtectedLocked(mac, m):
		// The kernel's protected sets already released it (protection
		// wins, whoever quarantined it); the daemon's view follows.
		return plan{release: true, why: "the device is protected"}
	case q != nil && (q.By == store.ActorOwner || q.By == store.ActorFirewall || q.By == store.ActorUpdate):
		// The owner's quarantine stands until the owner releases it, and
		// so does one kept from the kernel (its findings are lost); the
		// device's new addresses still follow it.
		return d.followPlan(mac, *q, m, addrs)
	case q != nil && !v.Enforce:
		// Monitor mode does not tighten the kernel, so switching to it
		// keeps the quarantines in place (new addresses are not
		// followed); they end by expiry or when the owner releases
		// them. An address the device no longer holds still leaves its
		// entry: DHCP may have given it to another device, which the
		// entry would block.
		kept := slices.DeleteFunc(slices.Clone(m.kernelAddrs), func(a netip.Addr) bool { return !slices.Contains(addrs, a) })
		if len(kept) < len(m.kernelAddrs) {
			return d.entryPlan(mac, *q, kept)
		}
		return plan{}
	case q != nil && !wants && m.updateClaim != "":
		// The device's own word that it was updated does not free it: a
		// device that was taken over can say so too. The quarantine
		// waits for the owner (store.ActorUpdate).
		rec := *q
		rec.By, rec.Reason = store.ActorUpdate, m.updateClaim
		if addrsMoved(m, addrs) {
			return d.entryPlan(mac, rec, addrs)
		}
		return d.entryPlan(mac, rec, m.kernelAddrs)
	case q != nil && !wants && v.Enforce && (v.Pending == config.ActionQuarantine || v.Pending == config.ActionIsolate):
		// The grace period began again (a threshold reached anew):
		// policy still wants the device held, at its new addresses.
		return d.followPlan(mac, *q, m, addrs)
	case q != nil && !wants && (dev == nil || dev.FirstSeen.After(q.Since)):
		// The device's record is younger than its quarantine: the
		// findings it was for were lost (the inventory or the store ran
		// full), not answered. It holds until it expires or the owner
		// releases it, following the device's addresses.
		return d.followPlan(mac, *q, m, addrs)
	case q != nil && !wants:
		return plan{release: true, why: "policy no longer calls for it"} // policy quarantined it, and no longer wants it
	case q != nil && q.By == store.ActorPolicy && shared:
		// Found to stand for several hosts after policy held it: the
		// owner decides, as for a new quarantine.
		m.awaiting = awaitShared + sharedWhy
		return plan{release: true, why: "its MAC is shared: " + sharedWhy}
	case q != nil:
		// Policy's quarantine follows the verdict: isolated for one
		// finding, blocked when a worse one arrives, and back.
		if mode := d.policyModeLocked(v); mode != q.Mode {
			rec := *q
			rec.Mode, rec.Reason = mode, reasonText(v)
			return d.entryPlan(mac, rec, addrs)
		}
		if addrsMoved(m, addrs) {
			return d.entryPlan(mac, *q, addrs)
		}
		return plan{}
	case !wants:
		m.awaiting, m.overLimit = "", false
		return plan{}
	}
	if shared {
		// Quarantining the MAC would cut off every host behind it, not
		// only the one policy is about.
		if m.awaiting == "" {
			d.log.Warn("quarantine needs the owner's confirmation: the device's MAC stands for several hosts",
				"mac", mac, "why", sharedWhy)
		}
		m.awaiting = awaitShared + sharedWhy
		return plan{}
	}
	// Beyond the limit each quarantine waits for the owner, also once
	// the limit frees: a bad rule or feed that reached it would go on
	// quarantining a device for every one the owner releases.
	if m.overLimit || d.policyQuarantinesLocked() >= d.cfg.Policy.MaxAutoQuarantine {
		if m.awaiting == "" {
			d.log.Warn("quarantine needs the owner's confirmation: too many devices quarantined by policy",
				"mac", mac, "limit", d.cfg.Policy.MaxAutoQuarantine)
		}
		m.overLimit = true
		m.awaiting = overLimitText(d.cfg.Policy.MaxAutoQuarantine)
		return plan{}
	}
	m.awaiting = ""
	rec := store.Quarantine{MAC: mac, Mode: d.policyModeLocked(v), Since: now, By: store.ActorPolicy, Reason: reasonText(v)}
	if d.cfg.Policy.QuarantineFor.Duration > 0 {
		rec.Until = now.Add(d.cfg.Policy.QuarantineFor.Duration)
	}
	p := d.entryPlan(mac, rec, addrs)
	p.expiryMark = releaseMark(dev, now)
	return p
}

// policyModeLocked is the quarantine mode a verdict calls for. d.mu held.
func (d *Daemon) policyModeLocked(v policy.Verdict) string {
	if v.Action == config.ActionIsolate {
		return string(quarantine.ModeIsolate)
	}
	return d.cfg.Policy.QuarantineMode
}

// pinLocked keeps a quarantined device in the inventory: a blocked device
// is quiet, so the first to be evicted, and its findings hold its
// quarantine. So does one whose quarantine waits (its grace period, the
// owner's confirmation), up to maxWaitingPins of them: new MACs (which
// the device itself can make up) must not evict it and its findings
// before the wait ends. d.mu held.
func (d *Daemon) pinLocked(mac hwaddr.MAC, m *deviceMeta) {
	pin := m.quarantine != nil
	if !pin && m.waiting() {
		n := 0
		for other, om := range d.meta {
			if other != mac && om.quarantine == nil && om.waiting() && d.pipe.Inventory().Pinned(device.Key{MAC: other}) {
				n++
			}
		}
		pin = n < maxWaitingPins
	}
	d.pipe.Inventory().Pin(device.Key{MAC: mac}, pin)
}

// maxWaitingPins bounds the devices pinned while their quarantine waits:
// a flood of made-up devices with findings must not pin the inventory
// full.
const maxWaitingPins = 32

// awaitShared begins why a device with a shared MAC waits for the owner.
const awaitShared = "its MAC stands for several devices, and blocking it would cut them all off: "

// waiting: policy wants the device quarantined, after its grace period
// or once the owner confirms.
func (m *deviceMeta) waiting() bool {
	return m.awaiting != "" || !m.verdict.PendingUntil.IsZero()
}

// protectedMACsLocked lists the MACs of the kernel's protected set: the
// owner's devices seen at logins, and those trusted by the owner or the
// configuration. Not the router's own: its
// traffic never arrives from the LAN with its own source MAC, so there
// the set would only let a device that forges it (it learns it by ARP)
// past every quarantine rule. The daemon refuses to quarantine them
// instead. d.mu held.
func (d *Daemon) protectedMACsLocked() []hwaddr.MAC {
	var macs []hwaddr.MAC
	for _, o := range d.owners {
		if !o.mac.IsZero() {
			macs = append(macs, o.mac)
		}
	}
	for mac, m := range d.meta {
		if m.decision.Trusted {
			macs = append(macs, mac)
		}
	}
	for _, r := range d.cfg.Policy.Devices {
		if r.Trusted {
			macs = append(macs, r.MAC)
		}
	}
	return macs
}

// macProtectedLocked: the device is protected by its MAC (the router's,
// an owner's device seen at a login, a trusted one), whatever addresses
// it holds. d.mu held.
func (d *Daemon) macProtectedLocked(mac hwaddr.MAC, m *deviceMeta) bool {
	return d.routerOrOwnerMAC(mac) || d.trustedLocked(mac, m)
}

// routerOrOwnerMAC: mac is the router's or an owner's device seen at a
// login. d.mu held.
func (d *Daemon) routerOrOwnerMAC(mac hwaddr.MAC) bool {
	return slices.Contains(d.opt.RouterMACs, mac) ||
		slices.ContainsFunc(d.owners, func(o ownerSeen) bool { return o.mac == mac })
}

// trustedLocked: the owner or the configuration trusts the device, so it
// is in the kernel's protected set and never quarantined. d.mu held.
func (d *Daemon) trustedLocked(mac hwaddr.MAC, m *deviceMeta) bool {
	return m.decision.Trusted || d.configTrustedLocked(mac)
}

// configTrustedLocked: a policy.devices rule trusts the device. d.mu held.
func (d *Daemon) configTrustedLocked(mac hwaddr.MAC) bool {
	for _, r := range d.cfg.Policy.Devices {
		if r.MAC == mac && r.Trusted {
			return true
		}
	}
	return false
}

// entryPlan plans putting rec's device in the kernel at addrs. d.mu
// held.
func (d *Daemon) entryPlan(mac hwaddr.MAC, rec store.Quarantine, addrs []netip.Addr) plan {
	mode, err := quarantine.ParseMode(rec.Mode)
	if err != nil {
		mode = quarantine.ModeBlock
	}
	return plan{apply: true, record: rec, entry: quarantine.Entry{MAC: mac, Addrs: addrs, Mode: mode, Expires: rec.Until}, moved: d.wall.moved}
}

// followPlan keeps a quarantine that holds as it is (rec) and re-sends it
// only when the device's addresses (addrs) moved: an address DHCP gave to
// another device must leave the entry, else the kernel cuts that device
// off, and a new one must join it.
func (d *Daemon) followPlan(mac hwaddr.MAC, rec store.Quarantine, m *deviceMeta, addrs []netip.Addr) plan {
	if addrsMoved(m, addrs) {
		return d.entryPlan(mac, rec, addrs)
	}
	return plan{}
}

// addrsMoved: the kernel entry's addresses are no longer the device's
// current ones (addrs, from entryAddrsLocked), even when it now has
// none: an address DHCP gave to another device must leave the entry, and
// the MAC elements still hold the device.
func addrsMoved(m *deviceMeta, addrs []netip.Addr) bool {
	return !sameAddrs(addrs, m.kernelAddrs)
}

// entryAddrsLocked is what the kernel entry of mac's device (dev, nil
// when the inventory does not hold it) should hold: its addresses but
// protected ones, which the enforcer would drop, so that the kernel and
// m.kernelAddrs agree. A device the inventory does not hold (a
// quarantine kept from the kernel after the saved state was lost, the
// device gone since) keeps the entry's addresses, since nothing says
// they changed, except those another device holds now: DHCP gave them
// on, and the entry would cut that device off (the owner's phone, which
// could then not reach the page to release it). d.mu held.
func (d *Daemon) entryAddrsLocked(mac hwaddr.MAC, m *deviceMeta, dev *device.Device) []netip.Addr {
	if dev != nil {
		return d.unprotectedLocked(dev.Addrs)
	}
	inv := d.pipe.Inventory()
	return slices.DeleteFunc(d.unprotectedLocked(m.kernelAddrs), func(a netip.Addr) bool {
		holder, held := inv.HolderOf(a)
		return held && holder != mac
	})
}

// sameAddrs: a and b hold the same addresses, in any order. The
// inventory moves an address last whenever the device uses it, which
// changes nothing in the kernel: compared in order, a device alternating
// between its IPv4 and IPv6 addresses would re-send its entry, write the
// state and log at every evaluation.
func sameAddrs(a, b []netip.Addr) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, netip.Addr.Compare)
	slices.SortFunc(b, netip.Addr.Compare)
	return slices.Equal(a, b)
}

func (d *Daemon) policyQuarantinesLocked() int {
	n := 0
	for _, m := range d.meta {
		if m.quarantine != nil && m.quarantine.By == store.ActorPolicy {
			n++
		}
	}
	return n
}

func reasonText(v policy.Verdict) string {
	if len(v.Reasons) == 0 {
		return v.Note
	}
	return v.Reasons[0].Summary
}

// applyPlan makes policy's change; a kernel failure is reported as a
// problem, and the device is evaluated again after a back-off (see
// commitRetry) or at its next finding.
func (d *Daemon) applyPlan(ctx context.Context, mac hwaddr.MAC, p plan) {
	key := commitProblem(mac)
	if err := d.commit(ctx, mac, p); err != nil {
		d.commitRetry(mac, true)
		d.problem(key, fmt.Sprintf("%s: %v", mac, err))
		return
	}
	d.commitRetry(mac, false)
	d.clearProblem(key)
}

// commitRetry schedules the next attempt after a failed kernel change,
// minCommitRetry after the first failure and twice as long after each
// next one up to maxCommitRetry, or, with failed false, forgets it.
func (d *Daemon) commitRetry(mac hwaddr.MAC, failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.meta[mac]
	if !ok {
		return
	}
	if !failed {
		m.retryAt, m.retryDelay = time.Time{}, 0
		return
	}
	m.retryDelay = min(max(2*m.retryDelay, minCommitRetry), maxCommitRetry)
	m.retryAt = d.now().Add(m.retryDelay)
}

// commit changes the kernel, then the daemon's view and the store. A
// kernel failure changes nothing else.
func (d *Daemon) commit(ctx context.Context, mac hwaddr.MAC, p plan) error {
	d.kernelMu.Lock()
	if p.stale != nil {
		d.mu.Lock()
		stale := p.stale(d.metaFor(mac))
		d.mu.Unlock()
		if stale {
			d.kernelMu.Unlock()
			d.schedule(mac) // evaluated again from what is now true
			return nil
		}
	}
	var err error
	if p.release {
		// The addresses the entry held, for the connections its redirects
		// left: an entry that ran out or that protection took out is gone
		// from the kernel already.
		d.mu.Lock()
		held := slices.Clone(d.metaFor(mac).kernelAddrs)
		d.mu.Unlock()
		err = d.deps.Enforcer.Release(ctx, mac, held...)
	} else {
		err = d.putEntry(ctx, &p)
	}
	// The rules are in but old connections were not cut: the quarantine
	// stands (undoing it would leave the device free), the owner hears.
	cutFailed := errors.Is(err, quarantine.ErrConntrack)
	if err != nil && !cutFailed {
		d.kernelMu.Unlock()
		return err
	}
	// The view changes before kernelMu is released, so that the kernel
	// check never reconciles with a view older than the kernel.
	d.mu.Lock()
	m := d.metaFor(mac)
	m.updateClaim = ""
	var released store.Decision
	rec := p.record
	if p.release {
		m.quarantine, m.kernelAddrs, m.expiryMark = nil, nil, time.Time{}
		released = m.noteRelease(p.released, d.now())
	} else {
		// The kernel counts its timeout from when it took the entry: a
		// step of the clock followed meanwhile moves the record too.
		if step := d.wall.moved - p.moved; step != 0 {
			rec = movedBy(rec, step)
		}
		m.quarantine, m.kernelAddrs, m.datedByRun = &rec, p.entry.Addrs, true
		if !p.expiryMark.IsZero() {
			m.expiryMark = p.expiryMark
		}
	}
	d.pinLocked(mac, m)
	blocked := d.blockedAddrsLocked()
	d.mu.Unlock()
	d.kernelMu.Unlock()
	if cutFailed {
		d.problem(alert.AreaConntrack, fmt.Sprintf("%s: %v", mac, err))
	} else if !p.release {
		d.clearProblem(alert.AreaConntrack) // this quarantine's cut worked
	}
	if d.deps.Blocked != nil {
		d.deps.Blocked(blocked)
	}
	if p.release {
		err := d.storeRelease(mac, released)
		d.log.Info("device released", "mac", mac, "why", p.why)
		d.notify(func(dev alert.Device) alert.Alert { return alert.FromRelease(mac, dev, d.now(), p.why) }, mac)
		return err
	}
	d.notify(func(dev alert.Device) alert.Alert { return alert.FromQuarantine(rec, dev) }, mac)
	// The finding that led here must survive a crash with the quarantine:
	// without it, the next start would see no reason and release.
	d.persistDevice(mac)
	d.log.Info("device quarantined", "mac", mac, "mode", p.record.Mode, "by", p.record.By, "reason", p.record.Reason)
	// The view's record, under d.mu: a step of the clock followed since
	// moved it and saved it moved, and p.record would undo that.
	d.mu.Lock()
	defer d.mu.Unlock()
	if q := d.metaFor(mac).quarantine; q != nil {
		return d.deps.Store.PutQuarantine(*q)
	}
	return nil
}

// putEntry hands the kernel p's entry. The kernel turns the entry's end
// into a timeout by its own reading of the clock: a step of the clock
// between p's dating and that reading, not followed yet, would shorten
// the quarantine in the kernel, or have it refused as run out (a step
// forward), or lengthen it (back). So the clock is read after the kernel
// took the entry, and a step followed since p was dated moves p, which
// the kernel takes again. kernelMu held.
func (d *Daemon) putEntry(ctx context.Context, p *plan) error {
	const tries = 3 // more steps than that at once: the owner setting the clock again and again
	for i := 1; ; i++ {
		err := d.deps.Enforcer.Quarantine(ctx, p.entry)
		d.mu.Lock()
		d.followClockLocked()
		step := d.wall.moved - p.moved
		d.mu.Unlock()
		if step == 0 || i == tries {
			return err
		}
		p.record = movedBy(p.record, step)
		p.entry.Expires = p.record.Until
		p.moved += step
	}
}

// Quarantine implements api.Backend: the owner quarantines a device.
func (d *Daemon) Quarantine(ctx context.Context, mac hwaddr.MAC, mode string, dur time.Duration) error {
	d.mu.Lock()
	// Dated as the clock's step is followed: read before a step the
	// daemon has not followed yet, the record would be moved by it again.
	now := d.followClockLocked()
	if mode == "" {
		mode = d.cfg.Policy.QuarantineMode // Reload swaps d.cfg under d.mu
	}
	dev, known := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	if !known && d.meta[mac] == nil {
		d.mu.Unlock()
		return api.ErrNotFound
	}
	// Protection by an address does not stop the owner: a device can
	// send from a management address whose PC is off, and the owner who
	// saw it do so must be able to hold it by its MAC (the kernel stops
	// its frames before it lets the address through).
	if d.macProtectedLocked(mac, d.metaFor(mac)) {
		d.mu.Unlock()
		return api.ErrProtected
	}
	rec := store.Quarantine{MAC: mac, Mode: mode, Since: now, By: store.ActorOwner, Reason: "quarantined by the owner"}
	if dur > 0 {
		rec.Until = now.Add(dur)
	}
	p := d.entryPlan(mac, rec, d.entryAddrsLocked(mac, d.metaFor(mac), dev))
	p.expiryMark = releaseMark(dev, now)
	d.mu.Unlock()
	if err := d.applyOwner(ctx, mac, p); err != nil {
		return err
	}
	d.keepOwnerAction(ctx, "quarantine", mac)
	return nil
}

// Release implements api.Backend: the owner releases a device. Policy
// will not quarantine it again for what it knew now.
func (d *Daemon) Release(ctx context.Context, mac hwaddr.MAC) error {
	now := d.now()
	d.mu.Lock()
	m, ok := d.meta[mac]
	if !ok || m.quarantine == nil {
		d.mu.Unlock()
		if _, known := d.lookup(mac); !known {
			return api.ErrNotFound
		}
		return fmt.Errorf("%w: the device is not quarantined", api.ErrConflict)
	}
	// What policy would say right after the release: with every
	// finding known, only a force rule (in enforce mode, untrusted)
	// quarantines again at once, whatever the release says.
	dev, _ := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	in := d.devicePolicyInput(mac, dev)
	released := releaseMark(dev, now)
	in.ReleasedAt = released
	v := policy.Evaluate(&d.cfg.Policy, in, now)
	d.mu.Unlock()
	if v.Enforce && (v.Action == config.ActionQuarantine || v.Action == config.ActionIsolate) {
		return fmt.Errorf("%w: policy would quarantine it again at once (%s); change the configuration's rule for it (policy.devices) to release it", api.ErrConflict, v.Note)
	}
	if err := d.applyOwner(ctx, mac, plan{release: true, why: "released by you", released: released}); err != nil {
		return err
	}
	d.keepOwnerAction(ctx, "release", mac)
	return nil
}

// releaseMark is when the owner's release at now takes effect (or the
// running out of a quarantine dated now, deviceMeta.expiryMark): now, or
// the time of dev's newest finding if that is later. Policy quarantines
// again only for findings after it, and a finding dated by the clock
// before it was set back (NTP correcting a clock that ran ahead, the
// owner) lies in the new clock's future: counted as new, it would undo
// the release. A finding seen before that time is excused too, for at
// most the size of the step; the owner released the device, and erring
// that way keeps their word.
func releaseMark(dev *device.Device, now time.Time) time.Time {
	mark := now
	if dev != nil {
		for _, f := range dev.Findings {
			if f.Time.After(mark) {
				mark = f.Time
			}
		}
	}
	return mark
}

// applyOwner applies an owner's change and reports a kernel failure to
// the caller (nothing else changed).
func (d *Daemon) applyOwner(ctx context.Context, mac hwaddr.MAC, p plan) error {
	err := d.commit(ctx, mac, p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, quarantine.ErrProtected):
		return api.ErrProtected
	}
	return fmt.Errorf("nftables: %w", err)
}

// keepOwnerAction has the owner's action on flash before the page or the
// CLI is told it is done: a power cut right after "released" must not
// bring the quarantine back at the next start. A write that fails
// changes nothing for the owner's action, which stands in the kernel and
// in memory: the store retries, and the daemon shows the owner the state
// problem.
func (d *Daemon) keepOwnerAction(ctx context.Context, action string, mac hwaddr.MAC) {
	if err := d.deps.Store.Sync(ctx); err != nil {
		d.log.Warn("the owner's action is not on flash yet; the store writes it later", "action", action, "mac", mac, "err", err)
	}
}

// SetTrusted implements api.Backend. A trusted device is released and
// added to the kernel's protected sets.
func (d *Daemon) SetTrusted(ctx context.Context, mac hwaddr.MAC, trusted bool) error {
	if _, known := d.lookup(mac); !known {
		return api.ErrNotFound
	}
	now := d.now()
	d.mu.Lock()
	if !trusted && d.configTrustedLocked(mac) {
		d.mu.Unlock()
		return fmt.Errorf("%w: the configuration's rule for this device trusts it (policy.devices); change the rule to stop trusting it", api.ErrConflict)
	}
	m := d.metaFor(mac)
	old := m.decision
	m.decision.Trusted, m.decision.Updated = trusted, now
	quarantined := m.quarantine != nil
	d.mu.Unlock()
	// takeBack undoes the trust alone, in the daemon and in the store:
	// the release, or the owner renaming the device meanwhile, saved the
	// decision with it, and the next start would go by that, while a
	// name given meanwhile must stay.
	takeBack := func() {
		d.mu.Lock()
		m.decision.Trusted = old.Trusted
		if m.decision.Updated.Equal(now) {
			m.decision.Updated = old.Updated
		}
		dec := m.decision
		d.mu.Unlock()
		if err := d.saveDecision(dec); err != nil {
			d.log.Warn("the device's trust, taken back, not saved", "mac", mac, "err", err)
		}
	}
	if trusted && quarantined {
		if err := d.applyOwner(ctx, mac, plan{release: true, why: "you marked the device trusted"}); err != nil {
			takeBack()
			return err
		}
	}
	if err := d.updateProtected(ctx); err != nil {
		takeBack()
		if trusted && quarantined {
			// Released for a trust it does not have: policy judges it
			// again, as the next start would.
			d.schedule(mac)
		}
		return fmt.Errorf("nftables: %w", err)
	}
	d.mu.Lock()
	dec := m.decision
	d.mu.Unlock()
	if err := d.saveDecision(dec); err != nil {
		return err
	}
	d.keepOwnerAction(ctx, "trust", mac)
	d.schedule(mac)
	return nil
}

// SetName implements api.Backend.
func (d *Daemon) SetName(ctx context.Context, mac hwaddr.MAC, name string) error {
	if _, known := d.lookup(mac); !known {
		return api.ErrNotFound
	}
	d.mu.Lock()
	m := d.metaFor(mac)
	m.decision.Name, m.decision.Updated = name, d.now()
	dec := m.decision
	d.mu.Unlock()
	if err := d.saveDecision(dec); err != nil {
		return err
	}
	d.keepOwnerAction(ctx, "name", mac)
	return nil
}

// lookup reports whether the daemon knows mac.
func (d *Daemon) lookup(mac hwaddr.MAC) (*device.Device, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dev, ok := d.pipe.Inventory().Lookup(device.Key{MAC: mac})
	if ok {
		return dev, true
	}
	_, ok = d.meta[mac]
	return nil, ok
}

// notify sends the alert build makes for mac's device, when alerts are on.
func (d *Daemon) notify(build func(alert.Device) alert.Alert, mac hwaddr.MAC) {
	if d.deps.Alerts == nil {
		return
	}
	d.mu.Lock()
	dev := d.alertDeviceLocked(event.Endpoint{MAC: mac.String()})
	d.mu.Unlock()
	d.deps.Alerts.Notify(build(dev))
}

// overLimitText says to the owner why a quarantine waits for them: policy
// had already quarantined as many devices as it may without asking.
func overLimitText(limit int) string {
	devices := "devices were"
	if limit == 1 {
		devices = "device was"
	}
	return fmt.Sprintf("when policy called for it, %d %s already quarantined automatically, "+
		"the most it quarantines without asking you (policy.max_auto_quarantine in the configuration)", limit, devices)
}
