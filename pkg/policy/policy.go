// Package policy turns what is known about a device into a verdict: leave
// it, alert the owner, isolate it from the internet or quarantine it. It is
// pure: no I/O, no clock, no kernel; the same input gives the same verdict,
// and every verdict carries the reasons the owner will read.
package policy

import (
	"fmt"
	"sort"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Device is the part of a device's state that policy reads.
type Device struct {
	MAC      hwaddr.MAC // zero when the device is known only by address
	Name     string
	Findings []*event.Event
	// Protected devices are never quarantined or isolated: the router
	// itself, its management addresses, the owner's own device.
	// ProtectedAs names what protects it in the verdict's note
	// ("management address"); empty: "router or management device".
	Protected   bool
	ProtectedAs string
	// Owner holds decisions the owner made at run time (on the page or
	// with the CLI); they take precedence over the configuration file's
	// rule for the same device.
	Owner *config.DeviceRule
	// ReleasedAt is when the owner last released the device from
	// quarantine: findings first seen before then were known to the owner
	// and no longer quarantine or isolate it (they still alert).
	ReleasedAt time.Time
	// StrongSince is the previous verdict's StrongSince: since when the
	// device has called for isolation or quarantine. While it still does,
	// this start stands: the caller moves it with steps of the wall
	// clock, which leave the findings' times as they were read.
	StrongSince time.Time
}

// Reason is one finding's contribution to a verdict.
type Reason struct {
	Kind     event.Kind     `json:"kind"`
	Severity event.Severity `json:"severity"`
	Action   config.Action  `json:"action"`
	Summary  string         `json:"summary"`
}

// Verdict is policy's decision about one device.
type Verdict struct {
	Action  config.Action `json:"action,omitempty"`  // empty until policy has evaluated the device
	Reasons []Reason      `json:"reasons,omitempty"` // strongest action first
	// Enforce is false in monitor mode: the action is reported, not taken.
	Enforce bool `json:"enforce"`
	// Note explains an override (trusted, protected, forced, pending).
	Note string `json:"note,omitempty"`
	// PendingUntil is set while a quarantine or isolation waits out the
	// grace period; Action is alert until then.
	PendingUntil time.Time `json:"pending_until,omitzero"`
	// Pending is the action that takes effect at PendingUntil.
	Pending config.Action `json:"pending,omitempty"`
	// StrongSince is when the device began to call for isolation or
	// quarantine, zero while it does not: the grace period runs from
	// here. A finding with a threshold counts from when the count
	// reached it, not from its first sighting. Pass it back as
	// Device.StrongSince.
	StrongSince time.Time `json:"strong_since,omitzero"`
}

// rank orders actions from mildest to strongest.
func rank(a config.Action) int {
	switch a {
	case config.ActionAlert:
		return 1
	case config.ActionIsolate:
		return 2
	case config.ActionQuarantine:
		return 3
	}
	return 0
}

// Evaluate decides what to do about d under rules p at time now. A zero
// now (offline analysis) ignores the grace period.
func Evaluate(p *config.Policy, d *Device, now time.Time) Verdict {
	v := Verdict{Action: config.ActionIgnore, Enforce: p.Mode == "enforce"}
	rule := ruleFor(p, d)
	// counts per kind, and those since the owner's release: only findings
	// the owner has not seen count towards a threshold for isolating or
	// quarantining again.
	// Findings policy passes over (below min_severity, of a kind the
	// owner exempted) count towards no threshold either. Towards
	// isolating or quarantining (strong) count only the findings that
	// call for it themselves: a default login not seen accepted, a
	// version only announced (which anyone can send in the device's
	// name), count towards alerting.
	counts, strong, sinceRelease := map[event.Kind]int{}, map[event.Kind]int{}, map[event.Kind]int{}
	for _, f := range d.Findings {
		if !f.IsFinding() || f.Severity < p.MinSeverity || rule != nil && contains(rule.Exempt, string(f.Kind)) {
			continue
		}
		counts[f.Kind] += max(f.Count, 1)
		if rank(actionFor(p, f)) < rank(config.ActionIsolate) {
			continue
		}
		strong[f.Kind] += max(f.Count, 1)
		if !d.ReleasedAt.IsZero() && f.Time.After(d.ReleasedAt) {
			sinceRelease[f.Kind] += max(f.Count, 1)
		}
	}
	var firstStrong time.Time // earliest finding calling for isolate or more
	for _, f := range d.Findings {
		if !f.IsFinding() || f.Severity < p.MinSeverity {
			continue
		}
		kind := string(f.Kind)
		if rule != nil && contains(rule.Exempt, kind) {
			continue
		}
		n, threshold := p.Thresholds[kind]
		if threshold && counts[f.Kind] < n {
			continue
		}
		a := actionFor(p, f)
		if a == config.ActionIgnore {
			continue
		}
		if rank(a) >= rank(config.ActionIsolate) && threshold && strong[f.Kind] < n {
			a = config.ActionAlert // too few of the kind call for it
		}
		if rank(a) >= rank(config.ActionIsolate) && !d.ReleasedAt.IsZero() {
			if !f.Time.After(d.ReleasedAt) || threshold && sinceRelease[f.Kind] < n {
				a = config.ActionAlert // the owner released the device knowing this
			}
		}
		v.Reasons = append(v.Reasons, Reason{Kind: f.Kind, Severity: f.Severity, Action: a, Summary: f.Summary})
		if rank(a) > rank(v.Action) {
			v.Action = a
		}
		if rank(a) >= rank(config.ActionIsolate) {
			// A finding counts from its first sighting; one with a
			// threshold from when the count got there, which is at the
			// latest now (StrongSince carries it to later evaluations).
			from := f.Time
			if _, ok := p.Thresholds[kind]; ok && now.After(from) {
				from = now
			}
			if !now.IsZero() && from.After(now) {
				// Dated before the clock was set back: it counts from
				// now, not from the step's size on.
				from = now
			}
			if firstStrong.IsZero() || from.Before(firstStrong) {
				firstStrong = from
			}
		}
	}
	sort.SliceStable(v.Reasons, func(i, j int) bool {
		ri, rj := v.Reasons[i], v.Reasons[j]
		if rank(ri.Action) != rank(rj.Action) {
			return rank(ri.Action) > rank(rj.Action)
		}
		return ri.Severity > rj.Severity
	})
	if rule != nil && rule.Force != "" {
		v.Action = rule.Force
		v.Note = fmt.Sprintf("forced to %s by the owner's rule", rule.Force)
	}
	if rank(v.Action) >= rank(config.ActionIsolate) {
		v.StrongSince = firstStrong
		if !d.StrongSince.IsZero() && d.StrongSince.After(d.ReleasedAt) && (now.IsZero() || !d.StrongSince.After(now)) {
			// Called for it without a break since; a release is a break,
			// and what calls for it anew waits its own grace period.
			// Kept even when a finding dates from before it: the clock
			// may have been set since, which moves StrongSince (the
			// caller's) but not the findings' times. One in the clock's
			// future was dated before the clock was set back and not
			// moved (saved by a run whose clock ran ahead): kept, it
			// would hold the grace period on for the step's size.
			v.StrongSince = d.StrongSince
		}
		switch {
		case rule != nil && rule.Trusted:
			v.Note = fmt.Sprintf("trusted by the owner: would otherwise %s", v.Action)
			v.Action = config.ActionAlert
		case d.Protected:
			as := d.ProtectedAs
			if as == "" {
				as = "router or management device"
			}
			v.Note = fmt.Sprintf("protected (%s): would otherwise %s", as, v.Action)
			v.Action = config.ActionAlert
		case rule != nil && rule.Force != "":
			// The owner's explicit choice is not delayed.
		case !now.IsZero() && p.Grace.Duration > 0 && now.Before(v.StrongSince.Add(p.Grace.Duration)):
			v.Pending, v.PendingUntil = v.Action, v.StrongSince.Add(p.Grace.Duration)
			v.Note = fmt.Sprintf("%s at %s unless the owner trusts the device", v.Action, v.PendingUntil.Format(time.RFC3339))
			v.Action = config.ActionAlert
		}
	}
	return v
}

func actionFor(p *config.Policy, f *event.Event) config.Action {
	a, ok := p.Actions[string(f.Kind)]
	if !ok {
		a = p.DefaultAction
	}
	if f.Kind == event.KindOutdatedFirmware && a == config.ActionQuarantine && p.QuarantineExploitedOnly && f.Evidence["exploited"] != "yes" {
		return config.ActionAlert
	}
	if f.Kind == event.KindOutdatedFirmware && (a == config.ActionQuarantine || a == config.ActionIsolate) && forgeableOnly(f.Evidence["software_source"]) {
		return config.ActionAlert
	}
	// A distribution's build may carry the fix without its version
	// changing (Debian 12's OpenSSH 9.2p1 is patched against
	// CVE-2024-6387): the version is no proof, and the owner checks the
	// distribution's security tracker, which the finding names.
	if (a == config.ActionQuarantine || a == config.ActionIsolate) && event.DistributionBuild(f) {
		return config.ActionAlert
	}
	// A default tried whose answer was not seen may have been refused
	// (a scan from the internet against a forwarded port, a capture
	// that missed the reply), and a connection whose opening was not
	// seen may be two frames anyone made up in the device's name: both
	// alert, as the scorecard leaves 5.1-1 undecided for them.
	if f.Kind == event.KindDefaultCredentials && (a == config.ActionQuarantine || a == config.ActionIsolate) && !f.SeenAccepted() {
		return config.ActionAlert
	}
	return a
}

// forgeableOnly reports whether every source in the comma list sources
// is a claim (event.SourceTrust): one connectionless datagram anyone on
// the LAN can send in a device's name (SSDP and mDNS announcements,
// DHCP, SIP and SNMP over UDP), or a source not classed. A version only
// they report alerts; it takes one seen over a connection with the
// device (a TCP banner, a Server header, the UPnP description the router
// fetches) to quarantine. The device layer reads the same list: a claim
// takes back no version a firmer source reported.
func forgeableOnly(sources string) bool {
	return event.ClaimsOnly(sources) // "": findings filed before sources were recorded
}

// ruleFor is the device rule Evaluate applies to d: the owner's run-time
// decisions, or else the configuration's rule for its MAC; nil if
// neither.
func ruleFor(p *config.Policy, d *Device) *config.DeviceRule {
	if d.Owner != nil {
		return d.Owner
	}
	return deviceRule(p, d.MAC)
}

func deviceRule(p *config.Policy, mac hwaddr.MAC) *config.DeviceRule {
	if mac.IsZero() {
		return nil
	}
	for i := range p.Devices {
		if p.Devices[i].MAC == mac {
			return &p.Devices[i]
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
