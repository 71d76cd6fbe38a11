package device

import (
	"slices"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// Software is one product and version seen on a device: a banner's
// server software, a UPnP stack, or the device's firmware. The advisory
// matcher compares these with its feed.
type Software struct {
	// Product is a lower-case canonical id: "busybox", "dropbear", "boa",
	// "lighttpd", "goahead", "uhttpd", "rompager", "miniupnpd",
	// "libupnp", "openssh", "vsftpd", "openssl", "mosquitto", … or
	// "<vendor>:<model>" for firmware ("samsung:ue55tu7100").
	Product string `json:"product"`
	// Version as seen ("1.19.3", "2014.63", "T-KTM2AKUC-1234.5"); empty
	// when the product names none (GoAhead-Webs).
	Version string `json:"version,omitempty"`
	// Source is where it was seen: the observation kind and, for banners,
	// the protocol ("banner/telnet", "http_server", "ssdp", "upnp",
	// "mdns", "dhcp").
	Source string `json:"source"`
	// Also are the other sources that reported this version, at most
	// maxAlso: each one reporting another version later takes this one
	// back, unless a source of a firmer basis reported it too (see
	// addSoftware).
	Also []string `json:"also,omitempty"`
	// Seen is when a source of its firmest basis last reported it: a
	// claim repeating a served version does not keep it fresh (see
	// servedFresh).
	Seen time.Time `json:"seen"`
	// Disputed are claims ("dhcp 1.36.1": source and version) that named
	// another version of the product while a firmer source reported this
	// one, at most maxDisputed, the latest last. They are not believed:
	// the device may have changed since its firmer source last spoke, or
	// someone else sent them in its name.
	Disputed []string `json:"disputed,omitempty"`
	// Distribution names the distribution (Linux, or FreeBSD's base
	// system) whose package this is
	// ("Debian", "Ubuntu", "Red Hat"…), by a marker in the text the
	// version was read from ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3";
	// see fingerprint.Distribution): such a build may carry fixes the
	// upstream version does not, so a match is the distribution's
	// tracker's to confirm. Empty for an upstream build, or one whose
	// text does not say. It is what the firmest sources of the version
	// say (see confirmAll).
	Distribution string `json:"distribution,omitempty"`
}

// Bounds of one Software: a version has a handful of sources, and what
// disputes it is a note.
const (
	maxAlso     = 4
	maxDisputed = 4
)

// reportedBy: source reported this version.
func (s *Software) reportedBy(source string) bool {
	return s.Source == source || slices.Contains(s.Also, source)
}

// A report's basis is how firmly its source's report of a version is
// the device's own word (event.SourceTrust, which policy reads too). A
// report takes back no version and outvotes no firmware that a firmer
// source reported: a neighbour must not make a patched device look
// outdated, nor hide a vulnerable version, by announcing another in its
// name.

// servedFresh is how long a version a firmer source reported stands
// against another version announced since (by a claim, or in the
// description the router fetched after a NOTIFY). A banner is seen only
// when a client connects to the device; announcements come on the
// device's own schedule (SSDP every half hour or so, DHCP at each
// renewal, mostly within half a day). A day without the banner while the
// device announces another version is an update that switched the server
// off, or moved it, far more often than a forger who waited out a day
// in which no client used the device.
const servedFresh = 24 * time.Hour

// announced reports whether source reports versions on the device's own
// schedule, without a client connecting: its claims, and the description
// the router fetches when one names it.
func announced(source string) bool {
	return source == "upnp" || event.SourceTrust(source) == event.TrustClaim
}

// stale reports whether s, reporting o's product, may take o's place
// although a firmer source reported o: s is announced and o has not been
// reported firmly for servedFresh.
func (s *Software) stale(o *Software) bool {
	return announced(s.Source) && s.Seen.Sub(o.Seen) >= servedFresh
}

// basis is the firmest basis of the sources that reported s.
func (s *Software) basis() event.Trust {
	return sourcesBasis(s.Source, s.Also)
}

func sourcesBasis(first string, also []string) event.Trust {
	b := event.SourceTrust(first)
	for _, src := range also {
		b = max(b, event.SourceTrust(src))
	}
	return b
}

// withSource adds src to also, the sources beside first, at most
// maxAlso, and reports whether it did. When full, a firmer src takes the
// place of a claim: a handful of forged claims confirming a version must
// not keep out the source that stands for it.
func withSource(also []string, first, src string) ([]string, bool) {
	if src == first || slices.Contains(also, src) {
		return also, false
	}
	switch i := sourceSlot(also, src); {
	case i == len(also):
		return append(also, src), true
	case i >= 0:
		also[i] = src
		return also, true
	}
	return also, false
}

// sourceSlot is where src, a new source, goes among also, sources of
// one report that hold at most maxAlso: len(also) while there is room;
// when full, a claim's index for a firmer src; else -1.
func sourceSlot(also []string, src string) int {
	if len(also) < maxAlso {
		return len(also)
	}
	if event.SourceTrust(src) > event.TrustClaim {
		for i, a := range also {
			if event.SourceTrust(a) == event.TrustClaim {
				return i
			}
		}
	}
	return -1
}

// dispute notes the claim that source reports version on s, once; the
// oldest note goes when full. The note is built only when added: a
// forger repeating a disputed NOTIFY must not cost an allocation each.
func (s *Software) dispute(source, version string) {
	for _, c := range s.Disputed {
		if len(c) == len(source)+1+len(version) && c[len(source)] == ' ' && c[:len(source)] == source && c[len(source)+1:] == version {
			return
		}
	}
	s.addDispute(source + " " + version)
}

// addDispute notes claim ("source version"), once.
func (s *Software) addDispute(claim string) {
	if slices.Contains(s.Disputed, claim) {
		return
	}
	if len(s.Disputed) >= maxDisputed {
		s.Disputed = slices.Delete(s.Disputed, 0, 1)
	}
	s.Disputed = append(s.Disputed, claim)
}

// Supersedes reports whether s may stand for its product in place of a
// version that sources reported (a comma list, as an outdated_firmware
// finding's software_source): whether a source of s is at least as firm
// as the firmest of them. A finding outlives a restart, the software it
// came from does not; until the device's server speaks again, a claim
// must not take back what it said. An empty list (a finding filed
// before sources were recorded) counts as a connection: policy
// quarantines on such a finding, and a claim must not take it back.
func (s *Software) Supersedes(sources string) bool {
	need := event.TrustConnection
	if sources != "" {
		need = event.TrustClaim
		for src := range strings.SplitSeq(sources, ",") {
			need = max(need, event.SourceTrust(src))
		}
	}
	return s.basis() >= need
}

// maxSoftware bounds a device's software list; beyond it new products are
// dropped (a device runs a handful), but for a firmer report, which takes
// the place of one only claims named (staleClaim).
const maxSoftware = 16

// addSoftware records product/version, refreshing Seen for a repeat and
// noting another source that reports it.
//
// A source reporting another version of a product it reported before
// takes that version back (the device was updated or downgraded, and the
// stale version must not keep matching advisories), unless a source of a
// firmer basis reported it too: a telnet banner's BusyBox stays when
// DHCP names another, which anyone can send in the device's name, while
// the banner is seen. An older report of the first source arriving late
// changes nothing.
//
// A claim naming another version than a firmer source reports is noted
// on that version (Disputed), not recorded: it would match advisories
// the device's own server disproves. Likewise a firmer report supersedes
// the versions of the product only claims named. A report without a
// version ("GoAhead-Webs") disproves none. Sources beyond claims keep
// their own reports beside each other (two servers of a device may run
// different builds). A firmer version not reported firmly for
// servedFresh gives way to one announced since (see stale).
func (d *Device) addSoftware(s Software) {
	b := s.basis()
	for i := 0; i < len(d.Software); {
		o := &d.Software[i]
		if o.Product != s.Product || o.Version == s.Version || !o.reportedBy(s.Source) {
			i++
			continue
		}
		if o.Source == s.Source && s.Seen.Before(o.Seen) {
			return // an older report arriving late
		}
		if o.basis() > b {
			i++ // a firmer source still reports it
			continue
		}
		d.Software = slices.Delete(d.Software, i, i+1)
		d.swGen++
	}
	if announced(s.Source) && s.Version != "" {
		for i := 0; i < len(d.Software); {
			o := &d.Software[i]
			if o.Product != s.Product || o.Version == s.Version || o.Version == "" || o.basis() == event.TrustClaim || !s.stale(o) {
				i++
				continue
			}
			// Not served for a day while the device announces another
			// version: it was updated and switched the server off, and
			// the old version must not match advisories for good.
			d.Software = slices.Delete(d.Software, i, i+1)
			d.swGen++
		}
	}
	for i := range d.Software {
		o := &d.Software[i]
		if o.Product == s.Product && o.Version == s.Version {
			d.confirmAll(o, &s)
			for _, c := range s.Disputed {
				o.addDispute(c)
			}
			return
		}
	}
	rival := func(o *Software) bool { return o.Product == s.Product && o.Version != "" && s.Version != "" }
	if b == event.TrustClaim {
		disputed := false
		for i := range d.Software {
			if o := &d.Software[i]; rival(o) && o.basis() > event.TrustClaim {
				o.dispute(s.Source, s.Version)
				disputed = true
			}
		}
		if disputed {
			return
		}
	} else {
		for i := 0; i < len(d.Software); {
			o := &d.Software[i]
			if !rival(o) || o.basis() > event.TrustClaim {
				i++
				continue
			}
			s.dispute(o.Source, o.Version)
			d.Software = slices.Delete(d.Software, i, i+1)
			d.swGen++
		}
	}
	if len(d.Software) >= maxSoftware {
		d.DroppedEvents++
		i := -1
		if b > event.TrustClaim {
			i = staleClaim(d.Software)
		}
		if i < 0 {
			return
		}
		d.Software = slices.Delete(d.Software, i, i+1)
	}
	d.Software = append(d.Software, s)
	d.swGen++
}

// staleClaim is the index of the entry only claims reported that was
// seen longest ago, -1 when there is none. A full list gives it up for a
// firmer report: a neighbour announcing made-up products in a device's
// name must not keep out the version its own server gives, whose
// advisories policy quarantines on.
func staleClaim(list []Software) int {
	w := -1
	for i := range list {
		if list[i].basis() == event.TrustClaim && (w < 0 || list[i].Seen.Before(list[w].Seen)) {
			w = i
		}
	}
	return w
}

// confirmAll records that s's sources reported o's version too, and
// refreshes o.Seen when s is as firm as o's firmest source.
//
// Whether o is a distribution's build is the word of its firmest
// sources, as its version is: a firmer s decides; one as firm keeps the
// mark only when it says the same (upstream, the reading that
// quarantines, wins a tie); a weaker one changes nothing. So a claim
// neither marks a version the device's own server gave as upstream,
// which would turn its quarantine into an alert, nor unmarks one it
// gave as a distribution's.
func (d *Device) confirmAll(o, s *Software) {
	switch sb, ob := s.basis(), o.basis(); {
	case o.Distribution == s.Distribution || sb < ob:
	case sb > ob:
		o.Distribution = s.Distribution
		d.swGen++
	case o.Distribution != "":
		o.Distribution = ""
		d.swGen++
	}
	d.confirm(o, s.Source)
	for _, src := range s.Also {
		d.confirm(o, src)
	}
	if s.Seen.After(o.Seen) && s.basis() >= o.basis() {
		o.Seen = s.Seen
	}
}

// confirm records that src reported o's version too: a confirmation,
// which policy weighs, and which may make o's basis firmer.
func (d *Device) confirm(o *Software, src string) {
	var added bool
	if o.Also, added = withSource(o.Also, o.Source, src); added {
		d.swGen++
	}
}

// setFirmware records s, the firmware of the device's identified model,
// in place of any other version of it: a device runs one firmware, the
// one its Identity names (combine ranks firmware of a firmer basis
// first, so a claim does not replace a served one here either).
func (d *Device) setFirmware(s Software) {
	for i := range d.Software {
		o := &d.Software[i]
		if o.Product != s.Product {
			continue
		}
		if o.Version == s.Version {
			d.confirmAll(o, &s)
		} else {
			*o = s
			d.swGen++
		}
		return
	}
	d.addSoftware(s)
}

// SoftwareChanged reports whether Software gained or changed an entry
// since the last MarkSoftwareMatched: the advisory matcher then looks
// again.
func (d *Device) SoftwareChanged() bool { return d.swGen != d.swMatched }

// MarkSoftwareMatched records that the advisory matcher has seen Software.
func (d *Device) MarkSoftwareMatched() { d.swMatched = d.swGen }

// firmwareProduct is the product id of a device's firmware:
// "<vendor>:<model>", lower case, the vendor without spaces or
// punctuation ("TP-Link", "HS110" → "tplink:hs110").
func firmwareProduct(vendor, model string) string {
	v := strings.Join(words(vendor), "")
	m := strings.ToLower(strings.Join(strings.Fields(model), "-"))
	if v == "" || m == "" {
		return ""
	}
	return v + ":" + m
}
