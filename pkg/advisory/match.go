package advisory

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// Provision is the ETSI EN 303 645 provision an outdated_firmware finding
// bears on: 5.3-8, "security updates shall be timely". A device running a
// version with a published fix (or software abandoned by its maintainers)
// has not received security updates in time; the network cannot tell
// whether an update mechanism exists (5.3-2), only that it was not used.
const Provision = "5.3-8"

// maxSourceLen caps the Software.Source text copied into evidence.
const maxSourceLen = 64

// maxDistributionLen caps the Software.Distribution text copied into
// evidence.
const maxDistributionLen = 32

// Software is one product and version seen on a device. It has the same
// fields as the device package's Software; the device layer converts
// (advisory must not import device, which imports advisory to match).
type Software struct {
	Product string    // as seen on the wire or a canonical id: "BusyBox", "dropbear", "hikvision:ds-2cd2132f-is"
	Version string    // "1.19.4", "2014.63", "V5.4.0 build 160530"
	Source  string    // where it was seen: "banner/ssh", "upnp"…
	Also    []string  // other sources that reported the same version
	Seen    time.Time // when it was last seen
	// Disputed are claims of other versions the device layer did not
	// believe ("dhcp 1.36.1"); matching ignores them.
	Disputed []string
	// Distribution names the distribution (Linux, or FreeBSD's base
	// system) whose build this is
	// ("Debian"), empty for an upstream build: such a build may carry a
	// fix without the version changing, and the finding says so.
	Distribution string
}

// Match is one advisory that applies to one piece of software.
type Match struct {
	Software Software
	// Product is the canonical product id the software matched as.
	Product string
	// Version is the software's parsed version.
	Version  Version
	Advisory *Advisory
	// Fixed is the first fixed version of the matched range; empty when
	// the range has none (end of life, or only a last affected version).
	Fixed string
	// LastAffected is the last affected version when the advisory names
	// that instead of a fix.
	LastAffected string
	// Feed is the version of the feed that matched.
	Feed string
}

// canonicalProduct maps a product name as seen on the wire to the feed's
// canonical id ("Portable SDK for UPnP devices" → "libupnp"). Vendor
// firmware ("Hikvision:DS-2CD2132F-IS") is lower-cased and kept. It
// returns "" for a product the feed does not know.
func (f *Feed) canonicalProduct(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if id, ok := f.products[n]; ok {
		return id
	}
	if vendor, model, ok := strings.Cut(n, ":"); ok && len(n) <= maxProductNameLen &&
		vendorRE.MatchString(vendor) && wireModelRE.MatchString(model) {
		return n
	}
	return ""
}

// Canonical is the product id and parsed version the feed matches s by;
// ok is false where it cannot match s at all: the product unknown or the
// version unreadable. Without ok the other results mean nothing.
func (f *Feed) Canonical(s Software) (id string, v Version, ok bool) {
	if id = f.canonicalProduct(s.Product); id == "" {
		return "", Version{}, false
	}
	v, err := ParseVersion(s.Version)
	return id, v, err == nil
}

// Match returns the advisories that apply to each piece of software, in
// the order of sw and then of the feed. Software whose product the feed
// does not know, or whose version does not parse, matches nothing: an
// unreadable version never falls into a range by accident, not even one
// introduced at "0". Each advisory matches a piece of software at most
// once. Cost: for each item, the advisories of its product plus the
// vendor:model patterns.
func (f *Feed) Match(sw []Software) []Match {
	var out []Match
	for _, s := range sw {
		id, v, ok := f.Canonical(s)
		if !ok {
			continue
		}
		first := len(out)
		consider := func(ref affectedRef) {
			for _, m := range out[first:] {
				if m.Advisory == &f.Advisories[ref.adv] {
					return
				}
			}
			af := &f.Advisories[ref.adv].Affected[ref.aff]
			if m, ok := af.match(v); ok {
				m.Software, m.Product, m.Version, m.Advisory, m.Feed = s, id, v, &f.Advisories[ref.adv], f.Version
				out = append(out, m)
			}
		}
		for _, ref := range f.index[id] {
			consider(ref)
		}
		if strings.Contains(id, ":") {
			for _, ref := range f.globs {
				if ok, _ := path.Match(ref.pattern, id); ok {
					consider(ref)
				}
			}
		}
	}
	return out
}

// match reports whether v is affected, and the fix of the interval it
// fell in.
func (af *Affected) match(v Version) (Match, bool) {
	for _, e := range af.exact {
		if e.Comparable(v) && e.Compare(v) == 0 {
			return Match{}, true
		}
	}
	for i := range af.intervals {
		iv := &af.intervals[i]
		if iv.contains(v) {
			var m Match
			if !iv.fixed.IsZero() {
				m.Fixed = iv.fixed.String()
			}
			if !iv.lastAffected.IsZero() {
				m.LastAffected = iv.lastAffected.String()
			}
			return m, true
		}
	}
	return Match{}, false
}

// CVEs lists the advisory's CVE aliases.
func (a *Advisory) CVEs() []string {
	var out []string
	for _, al := range a.Aliases {
		if strings.HasPrefix(al, "CVE-") {
			out = append(out, al)
		}
	}
	return out
}

// EventSeverity is the severity of a finding from this advisory: the
// advisory's own, raised to critical when it is known to be exploited.
func (a *Advisory) EventSeverity() event.Severity {
	if a.DatabaseSpecific.Exploited {
		return event.SeverityCritical
	}
	return a.Severity
}

// ToEvent turns a match into an outdated_firmware finding about device,
// at time at. Its evidence carries only data the feed validated (product
// id, advisory, CVEs, URLs), the parsed version string, the sources that
// reported it and, for a distribution's build, the distribution's name.
func ToEvent(m Match, device event.Endpoint, at time.Time) *event.Event {
	a := m.Advisory
	cves := strings.Join(a.CVEs(), ",")
	fixed := m.Fixed
	switch {
	case fixed == "" && m.LastAffected != "":
		fixed = "after " + m.LastAffected
	case fixed == "":
		fixed = "none"
	}
	ev := &event.Event{
		V:          event.SchemaVersion,
		Time:       at,
		Type:       event.TypeFinding,
		Kind:       event.KindOutdatedFirmware,
		Severity:   a.EventSeverity(),
		Capability: event.CapSoftwareUpdates,
		Provision:  Provision,
		Device:     device,
		Summary:    summary(m, cves),
		Evidence: event.Evidence{
			"product":     m.Product,
			"version":     m.Version.String(),
			"advisory":    a.ID,
			"fixed":       fixed,
			"exploited":   yesNo(a.DatabaseSpecific.Exploited),
			"end_of_life": yesNo(a.DatabaseSpecific.EndOfLife),
			"url":         a.References[0].URL,
			"feed":        m.Feed,
		},
	}
	if cves != "" {
		ev.Evidence["cve"] = cves
	}
	var sources []string
	for _, src := range append([]string{m.Software.Source}, m.Software.Also...) {
		if src != "" && len(src) <= maxSourceLen && printable(src) && !strings.Contains(src, ",") {
			sources = append(sources, src)
		}
	}
	if len(sources) > 0 {
		ev.Evidence["software_source"] = strings.Join(sources, ",")
	}
	if dist := distribution(m.Software); dist != "" {
		ev.Evidence[event.EvidenceDistributionBuild] = "yes"
		ev.Evidence[event.EvidenceDistribution] = dist
	}
	return ev
}

// distribution is s's distribution when it is a name fit for evidence
// and text: letters and spaces, at most maxDistributionLen bytes; else
// "" (an upstream build, or a name no marker gave).
func distribution(s Software) string {
	d := s.Distribution
	if d == "" || len(d) > maxDistributionLen || strings.TrimSpace(d) != d {
		return ""
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == ' ') {
			return ""
		}
	}
	return d
}

func summary(m Match, cves string) string {
	a := m.Advisory
	what := m.Product + " " + m.Version.String()
	ids := cves
	if ids == "" {
		ids = a.ID
	}
	var b strings.Builder
	switch {
	case a.DatabaseSpecific.EndOfLife:
		fmt.Fprintf(&b, "%s is end-of-life software that gets no security fixes (%s)", what, ids)
	default:
		fmt.Fprintf(&b, "%s has known vulnerabilities (%s)", what, ids)
	}
	switch {
	case m.Fixed != "":
		fmt.Fprintf(&b, "; fixed in %s", m.Fixed)
	case m.LastAffected != "":
		fmt.Fprintf(&b, "; fixed after %s", m.LastAffected)
	}
	if a.DatabaseSpecific.Exploited {
		b.WriteString("; exploited in the wild")
	}
	if dist := distribution(m.Software); dist != "" {
		fmt.Fprintf(&b, "; a distribution build (%s): the fix may be backported without the version changing, check %s's security tracker", dist, dist)
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
