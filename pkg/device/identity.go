package device

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/device/fingerprint"
	"github.com/iotgw/iotgw/pkg/event"
)

// Identity is what the inventory concludes a device is. Each attribute
// carries a confidence and the evidence behind it.
type Identity struct {
	Vendor   Attribute `json:"vendor"`
	Type     Attribute `json:"type"` // one of fingerprint.DeviceTypes, or "unknown"
	Model    Attribute `json:"model"`
	Firmware Attribute `json:"firmware"`
	OS       Attribute `json:"os"`
	// RegisteredVendor is the IEEE registrant of the MAC's OUI, as
	// registered; empty for private and unregistered addresses.
	RegisteredVendor string `json:"oui_vendor,omitempty"`
	// PrivateMAC is true for a locally administered MAC (a phone's
	// "private Wi-Fi address"): its first bytes name no vendor.
	PrivateMAC bool `json:"private_mac,omitempty"`
	// SYN is the TCP SYN signature of the device's first connection,
	// "ttl:window:mss:options" (see fingerprint.SYN).
	SYN string `json:"tcp_syn,omitempty"`
	// DNSServer is set once the device was seen answering DNS for other
	// hosts of the LAN (a Pi-hole, a NAS or a second router forwarding
	// the household's lookups), or resolving names iteratively as a
	// recursive resolver does (asking servers across the internet
	// without recursion): the names it resolves are theirs, and domains
	// do not vote on what it is.
	DNSServer bool `json:"dns_server,omitempty"`
}

// TypeUnknown is the device type when no signal names one.
const TypeUnknown = "unknown"

// Attribute is one conclusion about a device.
type Attribute struct {
	Value string `json:"value,omitempty"`
	// Confidence in [0, 1]: see docs/fingerprinting.md.
	Confidence float64 `json:"confidence,omitempty"`
	// Evidence behind Value, strongest first.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Alternatives are rival values with their combined weights: the
	// evidence disagrees.
	Alternatives []Alternative `json:"alternatives,omitempty"`
}

// OnlyChip reports whether the value rests on chip evidence alone (see
// Evidence.Chip): a vendor that made a part of the device, not known to
// have made the device.
func (a Attribute) OnlyChip() bool {
	if a.Value == "" || len(a.Evidence) == 0 {
		return false
	}
	for _, ev := range a.Evidence {
		if !ev.Chip {
			return false
		}
	}
	return true
}

// Alternative is a rival value of an attribute.
type Alternative struct {
	Value string  `json:"value"`
	Score float64 `json:"score"`
}

// Evidence is one signal that a rule matched.
type Evidence struct {
	Signal string    `json:"signal"` // fingerprint.Signal: "dhcp_vendor_class"
	Source string    `json:"source"` // observation kind ("dhcp", "banner/telnet"), "oui" or "tcp_syn"
	Value  string    `json:"value"`  // the value the rule matched
	Rule   string    `json:"rule"`   // rule id in rules.toml or dhcp_prl.toml
	Weight float64   `json:"weight"`
	Time   time.Time `json:"time"`
	// Chip is set on a vendor vote of a rule that names the maker of a
	// part of the device (radio chip, module, SDK), not of the device.
	Chip bool `json:"chip,omitempty"`
}

type field uint8

const (
	fieldVendor field = iota
	fieldType
	fieldModel
	fieldFirmware
	fieldOS
	numFields
)

// vote is one rule's say on one attribute.
type vote struct {
	field field
	key   string // normalised value: votes with equal keys combine
	value string
	ev    Evidence
	// also are the other sources of repeats folded into this vote (the
	// same rule matching a Server header in SSDP and in the fetched
	// description), at most maxAlso: a firmware's confirmations.
	also []string
	// srcAt and alsoAt are when ev.Source and each of also last reported
	// the value (ev.Time is the latest of any): firmware ranks equal
	// sources by the latest report of its firmest, which a claim folded
	// in must not refresh.
	srcAt  time.Time
	alsoAt []time.Time
}

// confirm folds src's report at ts into v and reports whether src is a
// new source of it. When also is full, a firmer src takes the place of
// a claim (sourceSlot).
func (v *vote) confirm(src string, ts time.Time) bool {
	if ts.After(v.ev.Time) {
		v.ev.Time = ts
	}
	if src == v.ev.Source {
		if ts.After(v.srcAt) {
			v.srcAt = ts
		}
		return false
	}
	if i := slices.Index(v.also, src); i >= 0 {
		if ts.After(v.alsoAt[i]) {
			v.alsoAt[i] = ts
		}
		return false
	}
	switch i := sourceSlot(v.also, src); {
	case i == len(v.also):
		v.also, v.alsoAt = append(v.also, src), append(v.alsoAt, ts)
		return true
	case i >= 0:
		v.also[i], v.alsoAt[i] = src, ts
		return true
	}
	return false
}

// firmest is the firmest basis of some reports and the latest report
// at that basis: what a firmware ranks by, which a claim folded in
// beside a served report must not refresh.
type firmest struct {
	basis event.Trust
	at    time.Time
	any   bool
}

func (f *firmest) add(b event.Trust, at time.Time) {
	switch {
	case !f.any || b > f.basis:
		f.basis, f.at, f.any = b, at, true
	case b == f.basis && at.After(f.at):
		f.at = at
	}
}

// firm is the firmest basis of v's sources and the latest report of a
// source of that basis.
func (v *vote) firm() firmest {
	var f firmest
	f.add(event.SourceTrust(v.ev.Source), v.srcAt)
	for i, src := range v.also {
		f.add(event.SourceTrust(src), v.alsoAt[i])
	}
	return f
}

// announcedAt is the latest report of v by a source that reports on the
// device's own schedule (see announced), zero when none did.
func (v *vote) announcedAt() time.Time {
	var at time.Time
	if announced(v.ev.Source) {
		at = v.srcAt
	}
	for i, src := range v.also {
		if announced(src) && v.alsoAt[i].After(at) {
			at = v.alsoAt[i]
		}
	}
	return at
}

// Bounds of what identifies one device.
const (
	maxVotes        = 128
	maxEvidence     = 6
	maxAlternatives = 3
	maxHostnames    = 8
)

// ouiWeight is what the registrant of a MAC's OUI says about the vendor
// when no OUI rule says otherwise: the maker of the network interface is
// usually, not always, the maker of the device.
const ouiWeight = 0.5

// addVote records a vote, folding a repeat of the same rule and value;
// a firmware vote replaces the one of the same rule and source, unless
// other sources named the old firmware too.
func (inv *Inventory) addVote(d *Device, f field, value string, ev Evidence) {
	if d.Identity.DNSServer && ev.Signal == string(fingerprint.SigDomain) {
		return // see markDNSServer
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return
	}
	if f == fieldVendor {
		value = inv.vendors.Canonical(value)
	}
	key := voteKey(f, value)
	if key == "" {
		return
	}
	for i := range d.votes {
		v := &d.votes[i]
		if v.field != f {
			continue
		}
		if f == fieldFirmware && v.key != key {
			// A source naming another firmware no longer confirms this
			// one, whatever the rule: a forged NOTIFY repeating the old
			// firmware must not find the Server header's confirmation
			// still on it. A report older than the confirmation changes
			// nothing.
			if j := slices.Index(v.also, ev.Source); j >= 0 && !ev.Time.Before(v.alsoAt[j]) {
				v.also, v.alsoAt = slices.Delete(v.also, j, j+1), slices.Delete(v.alsoAt, j, j+1)
				d.dirty = true
			}
		}
		if v.ev.Rule != ev.Rule {
			continue
		}
		if v.key == key {
			// A repeat of a firmware the identity does not show moves the
			// report times its ranking and ageing go by: the update a
			// device keeps announcing, the version it serves again.
			if v.confirm(ev.Source, ev.Time) || (f == fieldFirmware && v.value != d.Identity.Firmware.Value) {
				d.dirty = true
			}
			return
		}
		if f == fieldFirmware && v.ev.Source == ev.Source {
			// The same rule and source naming another firmware: the
			// device was updated (or downgraded), and only its latest
			// report counts; an older one arriving late changes nothing.
			if ev.Time.Before(v.srcAt) {
				return
			}
			if len(v.also) == 0 {
				v.key, v.value, v.ev, v.srcAt = key, value, ev, ev.Time
				d.dirty = true
				return
			}
			// Other sources named the old firmware too, and still do:
			// it stays theirs (a forged NOTIFY must not carry the Server
			// header's confirmation to its own firmware), and this
			// source's new one gets a vote of its own. Read the source
			// before deleting it: in one assignment Go may call
			// slices.Delete first, which clears the slot.
			v.ev.Source, v.srcAt = v.also[0], v.alsoAt[0]
			v.also, v.alsoAt = slices.Delete(v.also, 0, 1), slices.Delete(v.alsoAt, 0, 1)
			d.dirty = true
		}
	}
	v := vote{field: f, key: key, value: value, ev: ev, srcAt: ev.Time}
	if len(d.votes) < maxVotes {
		d.votes = append(d.votes, v)
		d.dirty = true
		return
	}
	d.DroppedEvents++
	if i := d.claimVoteToReplace(ev.Source); i >= 0 {
		d.votes[i] = v
		d.dirty = true
	}
}

// claimVoteToReplace is the index of the vote a full list gives up for
// a vote from source: the claim added last, when source is firmer than
// a claim; else -1. Claims are what anyone on the LAN can send in a
// device's name, and a flood of made-up ones must not keep out the
// firmware the device's own server gives; the first words (its OUI's,
// its first DHCP) stay.
func (d *Device) claimVoteToReplace(source string) int {
	if event.SourceTrust(source) == event.TrustClaim {
		return -1
	}
	for i := len(d.votes) - 1; i >= 0; i-- {
		if d.votes[i].firm().basis == event.TrustClaim {
			return i
		}
	}
	return -1
}

func voteKey(f field, v string) string {
	switch f {
	case fieldVendor:
		return strings.Join(words(v), "")
	case fieldFirmware:
		return v
	}
	return strings.ToLower(v)
}

// addMatch turns a rule match into votes and software.
func (inv *Inventory) addMatch(d *Device, m fingerprint.Match, ev Evidence) {
	ev.Rule, ev.Weight = m.Rule.ID, m.Weight
	vendorEv := ev
	vendorEv.Chip = m.Rule.Chip
	vendor := m.Vendor
	if m.Rule.KnownVendor {
		if _, known := inv.vendors.Lookup(vendor); !known {
			vendor = "" // a name the owner chose, or a maker's unknown here
		}
	}
	inv.addVote(d, fieldVendor, vendor, vendorEv)
	inv.addVote(d, fieldType, m.Type, ev)
	inv.addVote(d, fieldModel, m.Model, ev)
	inv.addVote(d, fieldFirmware, m.Firmware, ev)
	inv.addVote(d, fieldOS, m.OS, ev)
	if m.Software != "" {
		d.addSoftware(Software{Product: m.Software, Version: m.Version, Source: ev.Source, Seen: ev.Time, Distribution: m.Distribution})
	}
}

// refresh recomputes d.Identity when something changed. It runs when an
// observation arrives and when devices are read, never on the packet
// path.
func (inv *Inventory) refresh(d *Device) {
	if d.hasSYN && !d.synVoted {
		d.synVoted = true
		sig := d.syn.String()
		d.Identity.SYN = sig
		inv.rules.Match(fingerprint.SigTCPSYN, sig, func(m fingerprint.Match) {
			inv.addMatch(d, m, Evidence{Signal: string(fingerprint.SigTCPSYN), Source: "tcp_syn", Value: sig, Time: d.synTime})
		})
	}
	if !d.dirty {
		return
	}
	d.dirty = false
	id := &d.Identity
	skipDomains := runsApps(d.votes)
	id.Vendor = inv.combine(d.votes, fieldVendor, skipDomains)
	id.Type = inv.combine(d.votes, fieldType, skipDomains)
	if id.Type.Value == "" {
		id.Type.Value = TypeUnknown
	}
	id.Model = inv.combine(d.votes, fieldModel, skipDomains)
	id.Firmware = inv.combine(d.votes, fieldFirmware, skipDomains)
	id.OS = inv.combine(d.votes, fieldOS, skipDomains)
	// The firmware of a known model is software the advisory feed can
	// name ("samsung:ue55tu7100").
	if fw := id.Firmware; fw.Value != "" {
		if p := firmwareProduct(id.Vendor.Value, id.Model.Value); p != "" {
			ev := fw.Evidence[0]
			s := Software{Product: p, Version: fw.Value, Source: ev.Source}
			key := voteKey(fieldFirmware, fw.Value)
			var firm firmest
			for i := range d.votes {
				if v := &d.votes[i]; v.field == fieldFirmware && v.key == key {
					for _, src := range append([]string{v.ev.Source}, v.also...) {
						s.Also, _ = withSource(s.Also, s.Source, src) // every source that named it
					}
					// Seen is of its firmest sources, as combine
					// ranks it.
					vf := v.firm()
					firm.add(vf.basis, vf.at)
				}
			}
			s.Seen = firm.at
			d.setFirmware(s)
		}
	}
}

// markDNSServer records that d answers DNS for other LAN hosts, or
// resolves iteratively, and drops its domain votes for good. A
// forwarder looks up upstream every name its clients ask for, from its
// own address: the Fire TV's lookups through a NAS would make the NAS
// "Amazon, tv". Capping domain votes below the device's own evidence
// (see strongDirect) does not help one that says little of itself.
// Dropping them rather than skipping them in combine keeps the
// household's names from filling d's votes (maxVotes) and crowding out
// its own later evidence. The names of its connections (TLS SNI, HTTP
// Host) go too: a router that also NATs, or a filtering proxy, carries
// its clients' connections from its address, and nothing tells them
// from its own.
func (d *Device) markDNSServer() {
	if d.Identity.DNSServer {
		return
	}
	d.Identity.DNSServer = true
	d.votes = slices.DeleteFunc(d.votes, func(v vote) bool { return v.ev.Signal == string(fingerprint.SigDomain) })
	d.dirty = true
}

// runsApps reports whether signals other than domains say the device is
// a phone or a computer, or runs Android, iOS, macOS or Windows: a device
// whose owner installs apps. Its domains then name the apps (the Hue,
// Sonos or camera app resolving its vendor's cloud), not what the device
// is. Android counts whatever the form factor: a Fire TV or an Android
// TV box installs the same apps as a phone.
func runsApps(votes []vote) bool {
	for i := range votes {
		v := &votes[i]
		if v.ev.Signal == string(fingerprint.SigDomain) {
			continue
		}
		switch {
		case v.field == fieldType && (v.key == "phone" || v.key == "computer"):
			return true
		case v.field == fieldOS && (v.key == "android" || v.key == "ios" || v.key == "macos" || v.key == "windows"):
			return true
		}
	}
	return false
}

type candidate struct {
	key, value string
	// firm is the firmest basis of its own votes' sources and their
	// latest report at it.
	firm      firmest
	own       []*vote // votes for this value itself
	score     float64 // with the votes of its ancestors
	depth     int
	maxWeight float64
	// announced is the latest report of it by an announced source;
	// stale: a firmware of a firmer basis than claims that another
	// firmware was announced servedFresh after (see Software.stale).
	announced time.Time
	stale     bool
	// direct: a vote of it or of an ancestor comes from the device
	// itself (not a domain it resolved, nor a chip maker's vendor).
	direct bool
}

// strongDirect is the score from the device's own signals above which
// domain votes cannot outvote them: the OUI registrant's weight, which
// names the maker on its own.
const strongDirect = 0.5

// isDirect reports whether a vote comes from what the device says of
// itself and names its maker or kind: not a domain it resolved (a DNS
// forwarder resolves every household device's), nor a chip maker.
func (v *vote) isDirect() bool {
	return v.ev.Signal != string(fingerprint.SigDomain) && !v.ev.Chip
}

// combine concludes one attribute from the votes: each value's votes
// combine as 1 - Π(1 - w) (independent pieces of evidence), a type or OS
// also counting the votes of its more general values ("Linux" for
// "Android"); the highest score wins (ties: the more specific, for
// firmware the more recently reported, then alphabetical), a firmware
// of a firmer basis (see event.SourceTrust) whatever the scores unless it has
// gone stale (see servedFresh), and a rival
// that is not an ancestor or descendant lowers the confidence to
// s1·s1/(s1+s2). skipDomains leaves the votes of domain rules out (see
// runsApps).
func (inv *Inventory) combine(votes []vote, f field, skipDomains bool) Attribute {
	var cands []*candidate
	byKey := map[string]*candidate{}
	for i := range votes {
		v := &votes[i]
		if v.field != f || (skipDomains && v.ev.Signal == string(fingerprint.SigDomain)) {
			continue
		}
		c := byKey[v.key]
		if c == nil {
			c = &candidate{key: v.key, value: v.value}
			byKey[v.key] = c
			cands = append(cands, c)
		}
		c.own = append(c.own, v)
		vf := v.firm()
		c.firm.add(vf.basis, vf.at)
		if v.ev.Weight > c.maxWeight {
			c.maxWeight, c.value = v.ev.Weight, v.value
		}
		if f == fieldFirmware {
			if at := v.announcedAt(); at.After(c.announced) {
				c.announced = at
			}
		}
	}
	if len(cands) == 0 {
		return Attribute{}
	}
	if f == fieldFirmware {
		// The firm basis of a firmware ages as a served version does in
		// the software list: not reported firmly for a day while the
		// device announces another, it was most likely updated and its
		// server switched off. Its latest is of its firm sources only,
		// so a claim repeating it keeps it no fresher.
		for _, c := range cands {
			for _, o := range cands {
				if c.firm.basis > event.TrustClaim && o != c && o.announced.Sub(c.firm.at) >= servedFresh {
					c.stale = true
				}
			}
		}
	}
	hier := f == fieldType || f == fieldOS
	ancestors := func(c *candidate) []*candidate {
		var out []*candidate
		if !hier {
			return nil
		}
		for p := inv.rules.Parent(c.value); p != "" && len(out) < 8; p = inv.rules.Parent(p) {
			if a := byKey[strings.ToLower(p)]; a != nil {
				out = append(out, a)
			}
		}
		return out
	}
	related := func(a, b *candidate) bool {
		return slices.Contains(ancestors(a), b) || slices.Contains(ancestors(b), a)
	}
	best := 0.0 // of the values the device's own signals support
	for _, c := range cands {
		miss := 1.0
		for _, v := range c.own {
			miss *= 1 - v.ev.Weight
			c.direct = c.direct || v.isDirect()
		}
		anc := ancestors(c)
		c.depth = len(anc)
		for _, a := range anc {
			for _, v := range a.own {
				miss *= 1 - v.ev.Weight
				c.direct = c.direct || v.isDirect()
			}
		}
		c.score = 1 - miss
		if c.direct {
			best = max(best, c.score)
		}
	}
	if best >= strongDirect {
		// Values named by domains alone stay below what the device's
		// own signals say: a NAS forwarding the household's queries
		// (Pi-hole, AdGuard Home) resolves the TV's, the speaker's and
		// the camera's clouds, and their many weak votes must not
		// outvote its OUI and host name. They still support the value
		// they agree with, and name a device that says little itself.
		for _, c := range cands {
			if !c.direct {
				c.score = min(c.score, math.Nextafter(best, 0))
			}
		}
	}
	slices.SortFunc(cands, func(a, b *candidate) int {
		if a.stale != b.stale {
			// Only firmware goes stale: it gives way to the one
			// announced since, as its software entry does.
			if a.stale {
				return 1
			}
			return -1
		}
		if f == fieldFirmware && a.firm.basis != b.firm.basis {
			// A firmware the device served (or the fetched description
			// names) outranks claims anyone can send in its name,
			// however many or heavy: see addSoftware.
			return cmp.Compare(b.firm.basis, a.firm.basis)
		}
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		if a.depth != b.depth {
			return cmp.Compare(b.depth, a.depth)
		}
		if f == fieldFirmware && !a.firm.at.Equal(b.firm.at) {
			// Equal sources disagreeing on firmware: the later report
			// is more likely what runs after an update.
			return b.firm.at.Compare(a.firm.at)
		}
		return cmp.Compare(a.key, b.key)
	})
	win := cands[0]
	attr := Attribute{Value: win.value}
	rival := 0.0
	for _, c := range cands[1:] {
		if related(win, c) {
			continue
		}
		if c.score > rival {
			rival = c.score
		}
		if len(attr.Alternatives) < maxAlternatives {
			attr.Alternatives = append(attr.Alternatives, Alternative{Value: c.value, Score: round2(c.score)})
		}
	}
	attr.Confidence = round2(win.score * win.score / (win.score + rival))
	evs := win.own
	for _, a := range ancestors(win) {
		evs = append(evs, a.own...)
	}
	slices.SortStableFunc(evs, func(a, b *vote) int { return cmp.Compare(b.ev.Weight, a.ev.Weight) })
	for _, v := range evs[:min(len(evs), maxEvidence)] {
		attr.Evidence = append(attr.Evidence, v.ev)
	}
	return attr
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Hostname is a name a device used, with when.
type Hostname struct {
	Name      string    `json:"name"`
	Source    string    `json:"source"` // "dhcp", "mdns"
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// addHostname records a name, the one used most recently last (the one
// the page, alerts and reports show), at most maxHostnames: the least
// recently used goes first.
func (d *Device) addHostname(name, source string, ts time.Time) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" {
		return
	}
	for i := range d.Hostnames {
		h := d.Hostnames[i]
		if strings.EqualFold(h.Name, name) && h.Source == source {
			if ts.Before(h.FirstSeen) {
				d.Hostnames[i].FirstSeen = ts
			}
			if ts.After(h.LastSeen) {
				h.LastSeen = ts
				copy(d.Hostnames[i:], d.Hostnames[i+1:])
				d.Hostnames[len(d.Hostnames)-1] = h
			}
			return
		}
	}
	if len(d.Hostnames) == maxHostnames {
		copy(d.Hostnames, d.Hostnames[1:])
		d.Hostnames = d.Hostnames[:maxHostnames-1]
	}
	d.Hostnames = append(d.Hostnames, Hostname{Name: name, Source: source, FirstSeen: ts, LastSeen: ts})
}
