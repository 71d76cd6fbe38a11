package store

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// State is everything the store persists, as plain data. Its JSON form is
// the file's body (the file adds "schema", "written" and
// "next_outbox_id"). Records are sorted by MAC, outbox items by ID.
type State struct {
	Devices     []DeviceRecord `json:"devices,omitempty"`
	Verdicts    []Verdict      `json:"verdicts,omitempty"`
	Quarantines []Quarantine   `json:"quarantines,omitempty"`
	Decisions   []Decision     `json:"decisions,omitempty"`
	Outbox      []OutboxItem   `json:"outbox,omitempty"`
	// MutedAlertChannels are the alert channels the owner switched off
	// on the page, sorted.
	MutedAlertChannels []string `json:"muted_alert_channels,omitempty"`
	// AlertHolds is the alert engine's hold-down memory, its own JSON
	// (store.SetAlertHolds).
	AlertHolds json.RawMessage `json:"alert_holds,omitempty"`
}

// DeviceRecord is what the store keeps about one LAN device. Devices known
// only by an IP address are not persisted: on the router every LAN device
// has a MAC, and quarantine works by MAC.
type DeviceRecord struct {
	MAC       hwaddr.MAC   `json:"mac"`
	Identity  Identity     `json:"identity,omitzero"`
	Addrs     []netip.Addr `json:"addrs,omitempty"` // most recent last, at most MaxAddrs
	FirstSeen time.Time    `json:"first_seen,omitzero"`
	LastSeen  time.Time    `json:"last_seen,omitzero"`
	// Findings are already-redacted events, at most
	// Options.MaxFindingsPerDevice; when there are more, the newest (by
	// LastTime, else Time) are kept.
	Findings []event.Event `json:"findings,omitempty"`
	// DroppedFindings counts findings the caller or the store did not keep.
	DroppedFindings int `json:"dropped_findings,omitempty"`
	// LastAudit is when the device's last active audit ended, in the
	// future while a hold after signs of a lockout lasts: a restart
	// neither audits it again early nor forgets to audit it again.
	LastAudit time.Time `json:"last_audit,omitzero"`
}

// Identity is the fingerprint summary shown to the owner.
type Identity struct {
	Vendor   string `json:"vendor,omitempty"`
	Model    string `json:"model,omitempty"`
	Firmware string `json:"firmware,omitempty"`
	Category string `json:"category,omitempty"` // "camera", "plug", "tv", …
	Hostname string `json:"hostname,omitempty"` // as the device announced it (DHCP, mDNS)
}

// Verdict is the last decision policy took about a device, with the
// reasons the owner reads.
type Verdict struct {
	MAC     hwaddr.MAC `json:"mac"`
	Action  string     `json:"action"` // quarantine, isolate, alert, ignore
	Enforce bool       `json:"enforce,omitempty"`
	Reasons []Reason   `json:"reasons,omitempty"` // at most Options.MaxFindingsPerDevice
	Note    string     `json:"note,omitempty"`
	// StrongSince is when the device began to call for isolation or
	// quarantine (policy.Verdict.StrongSince): its grace period's start.
	StrongSince time.Time `json:"strong_since,omitzero"`
	Time        time.Time `json:"time,omitzero"`
}

// Reason is one finding's contribution to a verdict.
type Reason struct {
	Kind     event.Kind     `json:"kind"`
	Severity event.Severity `json:"severity"`
	Action   string         `json:"action"`
	Summary  string         `json:"summary,omitempty"`
}

// MaxPayload is the most bytes of one outbox payload.
const MaxPayload = 8 << 10

// Actor says who put a device in quarantine.
type Actor string

// Actors.
const (
	ActorPolicy Actor = "policy"
	ActorOwner  Actor = "owner"
	// ActorFirewall: the kernel's rules held the quarantine at start-up
	// but the saved state did not (lost, or the daemon died before
	// writing it). Like the owner's, it stands until the owner releases
	// it or it expires: the findings behind it are gone.
	ActorFirewall Actor = "firewall"
	// ActorUpdate: policy's quarantine for outdated software, after the
	// device reported another version. Its word alone does not free a
	// device that may be compromised: the quarantine stands until the
	// owner, who knows whether they updated it, releases it, or it
	// expires.
	ActorUpdate Actor = "update"
)

// Valid reports whether a is one of the actors.
func (a Actor) Valid() bool {
	return a == ActorPolicy || a == ActorOwner || a == ActorFirewall || a == ActorUpdate
}

// Quarantine is one device cut off by iotgw. The daemon reconciles the
// kernel's nftables sets with these records on start.
type Quarantine struct {
	MAC    hwaddr.MAC `json:"mac"`
	Mode   string     `json:"mode"` // block, isolate, updates-only
	Since  time.Time  `json:"since"`
	Until  time.Time  `json:"until,omitzero"` // zero: until released
	Reason string     `json:"reason,omitempty"`
	By     Actor      `json:"by"`
}

// Decision is what the owner decided about a device. It outranks policy.
type Decision struct {
	MAC     hwaddr.MAC   `json:"mac"`
	Name    string       `json:"name,omitempty"` // the owner's name for the device
	Trusted bool         `json:"trusted,omitempty"`
	Exempt  []event.Kind `json:"exempt,omitempty"` // finding kinds policy ignores for this device
	Force   string       `json:"force,omitempty"`  // action taken regardless of findings
	// ReleasedAt is when the owner last released the device from
	// quarantine; policy does not quarantine it again for findings it
	// already knew then.
	ReleasedAt time.Time `json:"released_at,omitzero"`
	// OwnerLogin is when the owner last logged in to the page from the
	// device, which protects it from quarantine like a management
	// address (the daemon keeps the latest few).
	OwnerLogin time.Time `json:"owner_login,omitzero"`
	Updated    time.Time `json:"updated,omitzero"`
}

// OutboxItem is one pending alert message. The payload is the alert
// engine's own JSON, opaque to the store, built from redacted events.
type OutboxItem struct {
	ID          uint64          `json:"id"`
	Created     time.Time       `json:"created"`
	Attempts    int             `json:"attempts,omitempty"`
	NextAttempt time.Time       `json:"next_attempt"`
	Payload     json.RawMessage `json:"payload"`
}

// Per-record caps that do not depend on Options. Longer strings are cut at
// a UTF-8 boundary; extra list entries are dropped.
const (
	MaxAddrs      = 16
	MaxExempt     = 32
	maxNameLen    = 128 // identity fields
	maxReasonLen  = 512 // quarantine reasons, verdict notes and summaries
	maxActionLen  = 32
	maxModeLen    = 32
	maxPayloadLen = MaxPayload
)

// maxOwnerNameLen holds the 64 characters api.ValidName allows an
// owner-given name, of up to four bytes each.
const maxOwnerNameLen = 64 * utf8.UTFMax

// Encoded size bounds of one quarantine and one decision, and of one
// exempt kind (the longest kind is 21 bytes). The size cap never leaves
// these records out, so the read limit must hold all of them at
// MaxDevices (readLimit); normalize cuts free text until a record fits,
// which for text without characters JSON escapes never happens.
const (
	maxQuarantineJSON = 1 << 10
	maxDecisionJSON   = 3 << 10
	maxKindJSON       = 48
)

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 { // continuation byte: back up to a rune start
		i--
	}
	return s[:i]
}

// clipJSON cuts s, as clip does, to what JSON encodes in at most n bytes
// (quotes aside). It counts an escaped character at the longest form
// encoding/json may give it (\u00XX), so it never undercounts.
func clipJSON(s string, n int) string {
	used := 0
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		enc := w
		switch {
		case r == utf8.RuneError, r < 0x20, r == '<', r == '>', r == '&', r == '\u2028', r == '\u2029':
			enc = 6
		case r == '"', r == '\\':
			enc = 2
		}
		if used+enc > n {
			return s[:i]
		}
		used += enc
		i += w
	}
	return s
}

// findingTime is the time that orders findings: when last seen.
func findingTime(e *event.Event) time.Time {
	if !e.LastTime.IsZero() {
		return e.LastTime
	}
	return e.Time
}

func cloneEvent(e event.Event) event.Event {
	e.Evidence = maps.Clone(e.Evidence)
	if e.Flow != nil {
		f := *e.Flow
		e.Flow = &f
	}
	return e
}

func (d DeviceRecord) clone() DeviceRecord {
	d.Addrs = slices.Clone(d.Addrs)
	if d.Findings != nil {
		fs := make([]event.Event, len(d.Findings))
		for i := range d.Findings {
			fs[i] = cloneEvent(d.Findings[i])
		}
		d.Findings = fs
	}
	return d
}

func (v Verdict) clone() Verdict {
	v.Reasons = slices.Clone(v.Reasons)
	return v
}

func (d Decision) clone() Decision {
	d.Exempt = slices.Clone(d.Exempt)
	return d
}

func (o OutboxItem) clone() OutboxItem {
	o.Payload = slices.Clone(o.Payload)
	return o
}

// normalize returns a private copy of d within the caps.
func (d DeviceRecord) normalize(maxFindings int) DeviceRecord {
	d.Identity = Identity{
		Vendor:   clip(d.Identity.Vendor, maxNameLen),
		Model:    clip(d.Identity.Model, maxNameLen),
		Firmware: clip(d.Identity.Firmware, maxNameLen),
		Category: clip(d.Identity.Category, maxNameLen),
		Hostname: clip(d.Identity.Hostname, maxNameLen),
	}
	if n := len(d.Addrs); n > MaxAddrs {
		d.Addrs = d.Addrs[n-MaxAddrs:]
	}
	if extra := len(d.Findings) - maxFindings; extra > 0 {
		d.Findings = newestFindings(d.Findings, maxFindings)
		d.DroppedFindings += extra
	}
	return d.clone()
}

// newestFindings keeps the n newest findings in their original order.
func newestFindings(fs []event.Event, n int) []event.Event {
	order := make([]int, len(fs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return findingTime(&fs[a]).Compare(findingTime(&fs[b]))
	})
	keep := make([]bool, len(fs))
	for _, i := range order[len(fs)-n:] {
		keep[i] = true
	}
	out := make([]event.Event, 0, n)
	for i := range fs {
		if keep[i] {
			out = append(out, fs[i])
		}
	}
	return out
}

func (v Verdict) normalize(maxReasons int) Verdict {
	v.Action = clip(v.Action, maxActionLen)
	v.Note = clip(v.Note, maxReasonLen)
	if len(v.Reasons) > maxReasons {
		v.Reasons = v.Reasons[:maxReasons] // strongest first, as policy orders them
	}
	v = v.clone()
	for i := range v.Reasons {
		v.Reasons[i].Action = clip(v.Reasons[i].Action, maxActionLen)
		v.Reasons[i].Summary = clip(v.Reasons[i].Summary, maxReasonLen)
	}
	return v
}

func (q Quarantine) normalize() Quarantine {
	q.Mode = clipJSON(q.Mode, maxModeLen)
	q.Reason = clip(q.Reason, maxReasonLen)
	reason := q.Reason
	q.Reason = ""
	if rest, err := json.Marshal(q); err == nil { // an error fails the write, not this
		reason = clipJSON(reason, maxQuarantineJSON-len(rest)-len(`,"reason":""`))
	}
	q.Reason = reason
	return q
}

func (d Decision) normalize() Decision {
	d.Force = clipJSON(d.Force, maxActionLen)
	if len(d.Exempt) > MaxExempt {
		d.Exempt = d.Exempt[:MaxExempt]
	}
	d = d.clone()
	for i, k := range d.Exempt {
		d.Exempt[i] = event.Kind(clipJSON(string(k), maxKindJSON))
	}
	name := clip(d.Name, maxOwnerNameLen)
	d.Name = ""
	if rest, err := json.Marshal(d); err == nil {
		name = clipJSON(name, maxDecisionJSON-len(rest)-len(`,"name":""`))
	}
	d.Name = name
	return d
}
