package advisory

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// SchemaVersion is the feed file format this build reads. A feed with any
// other "schema" is rejected: adding fields keeps the number, changing the
// meaning of one bumps it.
const SchemaVersion = 1

// Limits on a feed, so that a hostile or broken feed costs bounded memory.
const (
	maxAdvisories     = 5000
	maxAffectedPerAdv = 64
	maxRangesPerAff   = 16
	maxEventsPerRange = 32
	maxVersionsPerAff = 256
	maxAliasesPerAdv  = 64
	maxReferences     = 32
	maxProducts       = 1000
	maxAliasesPerProd = 16
	maxSummaryLen     = 600
	maxURLLen         = 400
	maxIDLen          = 64
	maxProductNameLen = 96
	maxSourceCount    = 32
	maxProductDisplay = 80
)

// Errors a load can fail with, for errors.Is. Each is wrapped with the
// detail that explains it.
var (
	// ErrInvalid: the feed is not well-formed JSON or breaks a rule of the
	// format (duplicate id, malformed range, unknown severity…).
	ErrInvalid = errors.New("invalid advisory feed")
	// ErrSchema: the feed's schema number is not the one this build reads.
	ErrSchema = errors.New("unsupported advisory feed schema")
)

// Feed is a validated advisory feed. It is immutable once parsed, so any
// number of goroutines may read it.
type Feed struct {
	Schema     int        `json:"schema"`
	Version    string     `json:"version"` // "YYYY-MM-DD.N", increasing
	Generated  time.Time  `json:"generated"`
	Sources    []Source   `json:"sources,omitempty"`
	Products   []Product  `json:"products"`
	Advisories []Advisory `json:"advisories"`

	serial   feedSerial
	digest   [sha256.Size]byte
	products map[string]string // alias or id (lower-case) → id
	index    map[string][]affectedRef
	globs    []affectedRef // vendor:model patterns
}

// Source names where the feed's data comes from.
type Source struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Product declares a canonical product id and the names it appears under
// on the wire.
type Product struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

// Advisory is one entry of the feed, shaped after the OSV schema.
type Advisory struct {
	ID               string         `json:"id"`
	Aliases          []string       `json:"aliases,omitempty"` // CVE ids
	Summary          string         `json:"summary"`
	Severity         event.Severity `json:"severity"`
	Affected         []Affected     `json:"affected"`
	References       []Reference    `json:"references"`
	DatabaseSpecific Extra          `json:"database_specific"`
}

// Extra holds iotgw's own fields of an advisory.
type Extra struct {
	// Exploited: known exploited in the wild (CISA KEV lists it).
	Exploited bool `json:"exploited"`
	// EndOfLife: the software is no longer maintained; no fixed version
	// will come.
	EndOfLife bool `json:"end_of_life"`
}

// Affected names a product and the versions of it an advisory covers.
type Affected struct {
	Package  Package  `json:"package"`
	Ranges   []Range  `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`

	intervals []interval
	exact     []Version
}

// Package names the product: a canonical id ("dropbear") or vendor
// firmware as "vendor:model", where the model may use the wildcards * and ?.
type Package struct {
	Name string `json:"name"`
}

// Range is an OSV range of type ECOSYSTEM: events in ascending order, each
// "introduced" followed by a "fixed" or "last_affected", or open to the end.
type Range struct {
	Type   string       `json:"type"`
	Events []RangeEvent `json:"events"`
}

// RangeEvent is one OSV event; exactly one field is set.
type RangeEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
}

// Reference is an OSV reference.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// interval is one affected stretch: from (inclusive; fromStart when the
// range was introduced at "0") to fixed (exclusive) or lastAffected
// (inclusive), or open.
type interval struct {
	fromStart    bool
	from         Version
	fixed        Version // zero when none
	lastAffected Version // zero when none
}

type affectedRef struct {
	adv     int // index into Advisories
	aff     int // index into Advisories[adv].Affected
	pattern string
}

// feedSerial is the parsed "version": date, then serial number that day.
type feedSerial struct {
	date time.Time
	n    int
}

// AtLeast reports whether f is the feed of the given version or a newer
// one; false for a version that is not a feed's (a finding saved before
// findings named their feed).
func (f *Feed) AtLeast(version string) bool {
	s, err := parseFeedVersion(version)
	return err == nil && f.serial.compare(s) >= 0
}

func (s feedSerial) compare(o feedSerial) int {
	if c := s.date.Compare(o.date); c != 0 {
		return c
	}
	return cmpInt(s.n, o.n)
}

var (
	feedVersionRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})\.([1-9]\d{0,5})$`)
	idRE          = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	cveRE         = regexp.MustCompile(`^CVE-\d{4}-\d{4,7}$`)
	productIDRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._+-]*$`)
	vendorRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	modelRE       = regexp.MustCompile(`^[a-z0-9*?][a-z0-9._+*?-]*$`)
	wireModelRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._+-]*$`)
	aliasRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9 ._+/-]*$`)
)

// referenceType reports whether t is an OSV reference type.
func referenceType(t string) bool {
	switch t {
	case "ADVISORY", "ARTICLE", "DETECTION", "DISCUSSION", "REPORT", "FIX", "INTRODUCED", "PACKAGE", "EVIDENCE", "WEB":
		return true
	}
	return false
}

// ParseFeed decodes and validates a feed. It does not check a signature;
// Holder does that before calling it. Unknown fields are ignored, so a
// newer feed that adds fields still loads.
func ParseFeed(b []byte) (*Feed, error) {
	return parseFeed(b, false)
}

func parseFeed(b []byte, strict bool) (*Feed, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	var f Feed
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the feed object", ErrInvalid)
	}
	if f.Schema != SchemaVersion {
		return nil, fmt.Errorf("%w: feed schema %d, this build reads schema %d", ErrSchema, f.Schema, SchemaVersion)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	f.digest = sha256.Sum256(b)
	return &f, nil
}

func parseFeedVersion(s string) (feedSerial, error) {
	m := feedVersionRE.FindStringSubmatch(s)
	if m == nil {
		return feedSerial{}, fmt.Errorf("version %q: want YYYY-MM-DD.N", s)
	}
	d, err := time.Parse(time.DateOnly, m[1])
	if err != nil {
		return feedSerial{}, fmt.Errorf("version %q: %v", s, err)
	}
	n, _ := strconv.Atoi(m[2]) // the pattern allows at most six digits
	return feedSerial{date: d, n: n}, nil
}

func (f *Feed) validate() error {
	var err error
	if f.serial, err = parseFeedVersion(f.Version); err != nil {
		return err
	}
	if f.Generated.IsZero() {
		return errors.New(`"generated" is missing`)
	}
	if len(f.Sources) > maxSourceCount {
		return fmt.Errorf("%d sources, at most %d", len(f.Sources), maxSourceCount)
	}
	for i, s := range f.Sources {
		if s.Name == "" || !validURL(s.URL) {
			return fmt.Errorf("source %d: needs a name and an http(s) URL", i)
		}
	}
	if err := f.indexProducts(); err != nil {
		return err
	}
	if len(f.Advisories) == 0 {
		return errors.New("no advisories")
	}
	if len(f.Advisories) > maxAdvisories {
		return fmt.Errorf("%d advisories, at most %d", len(f.Advisories), maxAdvisories)
	}
	f.index = make(map[string][]affectedRef)
	ids := make(map[string]bool, len(f.Advisories))
	for i := range f.Advisories {
		a := &f.Advisories[i]
		if err := f.validateAdvisory(i, a); err != nil {
			return fmt.Errorf("advisory %d (%q): %w", i, a.ID, err)
		}
		if ids[a.ID] {
			return fmt.Errorf("advisory id %q appears twice", a.ID)
		}
		ids[a.ID] = true
	}
	return nil
}

func (f *Feed) indexProducts() error {
	if len(f.Products) > maxProducts {
		return fmt.Errorf("%d products, at most %d", len(f.Products), maxProducts)
	}
	f.products = make(map[string]string, len(f.Products)*2)
	for i, p := range f.Products {
		if !productIDRE.MatchString(p.ID) || len(p.ID) > maxProductNameLen {
			return fmt.Errorf("product %d: id %q is not a lower-case product id", i, p.ID)
		}
		if p.Name == "" || len(p.Name) > maxProductDisplay {
			return fmt.Errorf("product %q: needs a name of at most %d bytes", p.ID, maxProductDisplay)
		}
		if len(p.Aliases) > maxAliasesPerProd {
			return fmt.Errorf("product %q: %d aliases, at most %d", p.ID, len(p.Aliases), maxAliasesPerProd)
		}
		for _, name := range append([]string{p.ID}, p.Aliases...) {
			if !aliasRE.MatchString(name) || len(name) > maxProductNameLen {
				return fmt.Errorf("product %q: alias %q must be lower case", p.ID, name)
			}
			if other, dup := f.products[name]; dup {
				return fmt.Errorf("product name %q belongs to both %q and %q", name, other, p.ID)
			}
			f.products[name] = p.ID
		}
	}
	return nil
}

func (f *Feed) validateAdvisory(i int, a *Advisory) error {
	if !idRE.MatchString(a.ID) || len(a.ID) > maxIDLen {
		return errors.New("id must be letters, digits, '.', '_' or '-'")
	}
	if len(a.Aliases) > maxAliasesPerAdv {
		return fmt.Errorf("%d aliases, at most %d", len(a.Aliases), maxAliasesPerAdv)
	}
	for _, al := range a.Aliases {
		if strings.HasPrefix(al, "CVE-") && !cveRE.MatchString(al) {
			return fmt.Errorf("alias %q is not a CVE id", al)
		}
		if !idRE.MatchString(al) || len(al) > maxIDLen {
			return fmt.Errorf("alias %q is not an advisory id", al)
		}
	}
	if a.Summary == "" || len(a.Summary) > maxSummaryLen || !printable(a.Summary) {
		return fmt.Errorf("summary must be printable text of 1–%d bytes", maxSummaryLen)
	}
	if a.Severity < event.SeverityLow || a.Severity > event.SeverityCritical {
		return fmt.Errorf("severity %q: want low, medium, high or critical", a.Severity)
	}
	if len(a.References) == 0 || len(a.References) > maxReferences {
		return fmt.Errorf("needs 1–%d references", maxReferences)
	}
	for _, r := range a.References {
		if !referenceType(r.Type) {
			return fmt.Errorf("reference type %q is not an OSV reference type", r.Type)
		}
		if !validURL(r.URL) {
			return fmt.Errorf("reference %q is not an http(s) URL", r.URL)
		}
	}
	if len(a.Affected) == 0 || len(a.Affected) > maxAffectedPerAdv {
		return fmt.Errorf("needs 1–%d affected entries", maxAffectedPerAdv)
	}
	for j := range a.Affected {
		af := &a.Affected[j]
		name := af.Package.Name
		if err := f.validatePackageName(name); err != nil {
			return err
		}
		if err := af.compile(); err != nil {
			return fmt.Errorf("affected %q: %w", name, err)
		}
		ref := affectedRef{adv: i, aff: j}
		if strings.ContainsAny(name, "*?") {
			ref.pattern = name
			f.globs = append(f.globs, ref)
		} else {
			f.index[name] = append(f.index[name], ref)
		}
	}
	return nil
}

// validatePackageName accepts a declared product id or "vendor:model".
func (f *Feed) validatePackageName(name string) error {
	if len(name) > maxProductNameLen {
		return fmt.Errorf("package name %q is longer than %d", name, maxProductNameLen)
	}
	if vendor, model, ok := strings.Cut(name, ":"); ok {
		if !vendorRE.MatchString(vendor) || !modelRE.MatchString(model) {
			return fmt.Errorf("package %q: want lower-case vendor:model", name)
		}
		if _, err := path.Match(model, ""); err != nil {
			return fmt.Errorf("package %q: %v", name, err)
		}
		return nil
	}
	if id, ok := f.products[name]; !ok || id != name {
		return fmt.Errorf("package %q is not a product id declared under \"products\"", name)
	}
	return nil
}

// compile parses the ranges and versions of an affected entry and checks
// their shape.
func (af *Affected) compile() error {
	if len(af.Ranges) == 0 && len(af.Versions) == 0 {
		return errors.New("needs ranges or versions")
	}
	if len(af.Ranges) > maxRangesPerAff || len(af.Versions) > maxVersionsPerAff {
		return fmt.Errorf("at most %d ranges and %d versions", maxRangesPerAff, maxVersionsPerAff)
	}
	for _, s := range af.Versions {
		v, err := ParseVersion(s)
		if err != nil || v.String() != s {
			return fmt.Errorf("version %q does not parse as written", s)
		}
		af.exact = append(af.exact, v)
	}
	for k, r := range af.Ranges {
		if r.Type != "ECOSYSTEM" {
			return fmt.Errorf("range %d: type %q, only ECOSYSTEM is supported", k, r.Type)
		}
		ivs, err := compileEvents(r.Events)
		if err != nil {
			return fmt.Errorf("range %d: %w", k, err)
		}
		af.intervals = append(af.intervals, ivs...)
	}
	return nil
}

// compileEvents turns an ordered OSV event list into intervals: each
// "introduced" opens one, the next "fixed" or "last_affected" closes it.
// Versions must increase strictly and share one prefix.
func compileEvents(events []RangeEvent) ([]interval, error) {
	if len(events) == 0 || len(events) > maxEventsPerRange {
		return nil, fmt.Errorf("needs 1–%d events", maxEventsPerRange)
	}
	var (
		out  []interval
		open = -1 // index in out of the interval awaiting its end
		prev Version
	)
	for i, e := range events {
		set := 0
		for _, s := range []string{e.Introduced, e.Fixed, e.LastAffected} {
			if s != "" {
				set++
			}
		}
		if set != 1 {
			return nil, fmt.Errorf("event %d: exactly one of introduced, fixed, last_affected", i)
		}
		if e.Introduced == "0" {
			if i != 0 {
				return nil, fmt.Errorf("event %d: introduced \"0\" only as the first event", i)
			}
			out = append(out, interval{fromStart: true})
			open = len(out) - 1
			continue
		}
		raw := e.Introduced + e.Fixed + e.LastAffected
		v, err := ParseVersion(raw)
		if err != nil || v.String() != raw {
			return nil, fmt.Errorf("event %d: version %q does not parse as written", i, raw)
		}
		if !prev.IsZero() {
			if !prev.Comparable(v) {
				return nil, fmt.Errorf("event %d: %q and %q have different prefixes", i, prev, v)
			}
			if prev.Compare(v) >= 0 {
				return nil, fmt.Errorf("event %d: %q is not after %q", i, v, prev)
			}
		}
		prev = v
		switch {
		case e.Introduced != "":
			if open >= 0 {
				return nil, fmt.Errorf("event %d: introduced while a range is open", i)
			}
			out = append(out, interval{from: v})
			open = len(out) - 1
		case open < 0:
			return nil, fmt.Errorf("event %d: fixed or last_affected without introduced", i)
		case e.Fixed != "":
			out[open].fixed, open = v, -1
		default:
			out[open].lastAffected, open = v, -1
		}
	}
	return out, nil
}

// contains reports whether v falls in the interval. A bound with another
// prefix than v makes the interval say nothing about v.
func (iv *interval) contains(v Version) bool {
	if !iv.fromStart {
		if !iv.from.Comparable(v) || v.Compare(iv.from) < 0 {
			return false
		}
	}
	switch {
	case !iv.fixed.IsZero():
		return iv.fixed.Comparable(v) && v.Compare(iv.fixed) < 0
	case !iv.lastAffected.IsZero():
		return iv.lastAffected.Comparable(v) && v.Compare(iv.lastAffected) <= 0
	}
	return true
}

func validURL(u string) bool {
	return len(u) <= maxURLLen && printable(u) && !strings.ContainsAny(u, " \"<>") &&
		(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) && len(u) > len("https://")
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}
