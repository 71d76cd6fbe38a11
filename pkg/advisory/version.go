package advisory

import (
	"errors"
	"fmt"
	"strings"
)

// Limits on a version string. Versions come from banners and device
// descriptions, which an attacker controls; anything longer is not a
// version.
const (
	maxVersionLen    = 64
	maxVersionTokens = 24
)

// errNoDigit rejects strings such as "unknown" or "beta".
var errNoDigit = errors.New("no digit")

// tokenClass orders the kinds of token. A missing token (the end of a
// shorter version) and a numeric zero share classZero, so 1.0 == 1.0.0.
type tokenClass uint8

const (
	classPre   tokenClass = iota // dev, alpha, beta, pre, test, rc: before the release
	classZero                    // 0, or nothing at all
	classAlpha                   // other letters: 1.0.2k, 7.4p1, after the release
	classNum                     // positive numbers
)

type token struct {
	class tokenClass
	rank  uint8  // order of pre-release words (classPre only)
	text  string // digits without leading zeros, or lower-case letters
}

// preReleaseRank orders the words that mark a version before its
// release. Single letters (a, b) are not among them: OpenSSL's 1.0.2a
// comes after 1.0.2. dnsmasq's test releases (2.78test2) come before its
// release candidates.
func preReleaseRank(word string) (uint8, bool) {
	switch word {
	case "dev":
		return 0, true
	case "alpha":
		return 1, true
	case "beta":
		return 2, true
	case "pre":
		return 3, true
	case "test":
		return 4, true
	case "rc":
		return 5, true
	}
	return 0, false
}

// Version is a parsed version string as devices print it. Its zero value
// is not a valid version; use ParseVersion.
//
// Parsing lower-cases the string, drops a trailing parenthesised comment
// ("1.19.4 (2014-05-21 10:31:57 CST)"), splits off a model prefix
// ("T-KTM2AKUC-1234.5" has prefix "t-ktm2akuc"), drops a leading "v",
// splits the rest into runs of digits and runs of letters (every other
// allowed character separates), and puts what follows the word "build"
// into a final build component. docs/advisories.md states the ordering.
type Version struct {
	raw    string
	prefix string
	main   []token
	build  []token
	hasBld bool
}

// String returns the version as it was given, trimmed.
func (v Version) String() string { return v.raw }

// IsZero reports whether v is the zero Version (not parsed).
func (v Version) IsZero() bool { return v.raw == "" }

// Prefix is the lower-case model label before the numeric part, empty for
// most versions. Versions with different prefixes are not comparable in a
// meaningful way.
func (v Version) Prefix() string { return v.prefix }

// Comparable reports whether v and w have the same prefix, so that their
// order says something about age.
func (v Version) Comparable(w Version) bool { return v.prefix == w.prefix }

// ParseVersion parses a version string such as "2014.63", "1.19.4",
// "V5.5.0 build 170602", "0.94.14rc21", "7.4p1", "1.0.2k" or
// "T-KTM2AKUC-1234.5".
func ParseVersion(s string) (Version, error) {
	raw := strings.TrimSpace(s)
	// A trailing comment after a space ("1.2.3 (2016-05-12)") is no part
	// of the version; a parenthesis inside one ("HS110(UK)_1.5.4") makes
	// it no version this parser can order.
	if i := strings.IndexByte(raw, '('); i > 0 && (raw[i-1] == ' ' || raw[i-1] == '\t') && strings.HasSuffix(raw, ")") {
		raw = strings.TrimSpace(raw[:i])
	}
	if raw == "" {
		return Version{}, fmt.Errorf("version %q: empty", s)
	}
	if len(raw) > maxVersionLen {
		return Version{}, fmt.Errorf("version of %d bytes: longer than %d", len(raw), maxVersionLen)
	}
	for i := 0; i < len(raw); i++ {
		if !versionByte(raw[i]) {
			return Version{}, fmt.Errorf("version %q: character %q not allowed", raw, raw[i])
		}
	}
	lower := strings.ToLower(raw)
	v := Version{raw: raw}
	rest := lower
	if p, r, ok := splitPrefix(lower); ok {
		v.prefix, rest = p, r
	}
	if len(rest) > 1 && rest[0] == 'v' && isDigit(rest[1]) {
		rest = rest[1:]
	}
	digits := false
	n := 0
	for i := 0; i < len(rest); {
		c := rest[i]
		if !isDigit(c) && !isLetter(c) {
			i++
			continue
		}
		j := i
		for j < len(rest) && isDigit(rest[j]) == isDigit(c) && (isDigit(rest[j]) || isLetter(rest[j])) {
			j++
		}
		word := rest[i:j]
		i = j
		if n++; n > maxVersionTokens {
			return Version{}, fmt.Errorf("version %q: more than %d parts", raw, maxVersionTokens)
		}
		if word == "build" && !v.hasBld {
			v.hasBld = true
			continue
		}
		t := makeToken(word)
		digits = digits || isDigit(word[0])
		if v.hasBld {
			v.build = append(v.build, t)
		} else {
			v.main = append(v.main, t)
		}
	}
	if !digits {
		return Version{}, fmt.Errorf("version %q: %w", raw, errNoDigit)
	}
	return v, nil
}

// splitPrefix finds a model label: the shortest leading part that starts
// with a letter (other than a "v" followed by a digit), ends before a '-'
// or '_', and is followed by a digit or "v<digit>". "t-ktm2akuc-1234.5"
// gives "t-ktm2akuc"; "1.0.2k-fips" and "v1.0.0_180521" give none.
func splitPrefix(s string) (prefix, rest string, ok bool) {
	if s == "" || !isLetter(s[0]) || (s[0] == 'v' && len(s) > 1 && isDigit(s[1])) {
		return "", s, false
	}
	for i := 1; i < len(s)-1; i++ {
		if s[i] != '-' && s[i] != '_' {
			continue
		}
		r := s[i+1:]
		if isDigit(r[0]) || (len(r) > 1 && r[0] == 'v' && isDigit(r[1])) {
			return s[:i], r, true
		}
	}
	return "", s, false
}

func makeToken(word string) token {
	if isDigit(word[0]) {
		t := strings.TrimLeft(word, "0")
		if t == "" {
			return token{class: classZero}
		}
		return token{class: classNum, text: t}
	}
	if r, ok := preReleaseRank(word); ok {
		return token{class: classPre, rank: r, text: word}
	}
	return token{class: classAlpha, text: word}
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
// Prefixes compare first (as strings), then the main parts, then the build
// parts; a missing part counts as zero.
func (v Version) Compare(w Version) int {
	if c := strings.Compare(v.prefix, w.prefix); c != 0 {
		return c
	}
	if c := compareTokens(v.main, w.main); c != 0 {
		return c
	}
	return compareTokens(v.build, w.build)
}

func compareTokens(a, b []token) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := tokenAt(a, i), tokenAt(b, i)
		if c := compareToken(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func tokenAt(ts []token, i int) token {
	if i < len(ts) {
		return ts[i]
	}
	return token{class: classZero}
}

func compareToken(x, y token) int {
	if x.class != y.class {
		if x.class < y.class {
			return -1
		}
		return 1
	}
	switch x.class {
	case classPre:
		return cmpInt(int(x.rank), int(y.rank))
	case classAlpha:
		return strings.Compare(x.text, y.text)
	case classNum:
		if c := cmpInt(len(x.text), len(y.text)); c != 0 {
			return c
		}
		return strings.Compare(x.text, y.text)
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CompareVersions compares two version strings: -1, 0 or +1 as a is older
// than, equal to or newer than b. A string that does not parse sorts
// before every one that does, and unparsable strings sort among
// themselves byte by byte, so the order stays total; callers that must not
// act on an unparsable version (advisory matching) use ParseVersion.
func CompareVersions(a, b string) int {
	va, errA := ParseVersion(a)
	vb, errB := ParseVersion(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.Compare(vb)
}

func versionByte(c byte) bool {
	if isDigit(c) || isLetter(c) {
		return true
	}
	switch c {
	case '.', '-', '_', '+', '~', ':', '/', ' ':
		return true
	}
	return false
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
