package main

import (
	"cmp"
	"strconv"
	"strings"
	"testing"
)

// apk-tools' version tokens, in the order its comparison relies on.
const (
	tokInitial = iota
	tokDigit
	tokLetter
	tokSuffix
	tokSuffixNo
	tokHash
	tokRevision
	tokEnd
	tokInvalid
)

// suffixRank orders apk's suffixes; no suffix ranks between rc and cvs.
var suffixRank = map[string]int{"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}

const suffixNone = 5

type apkToken struct {
	kind   int
	value  string
	suffix int
}

// span splits s after its longest prefix of bytes in set.
func span(s, set string) (string, string) {
	i := 0
	for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
		i++
	}
	return s[:i], s[i:]
}

const digits, lower, hex = "0123456789", "abcdefghijklmnopqrstuvwxyz", "0123456789abcdef"

// apkTokens splits a version as apk-tools v3's version.c does, ending
// with tokEnd, or tokInvalid where the grammar breaks.
func apkTokens(v string) []apkToken {
	first, v := span(v, digits)
	if first == "" {
		return []apkToken{{kind: tokInvalid}}
	}
	toks := []apkToken{{kind: tokInitial, value: first}}
	for {
		if v == "" {
			return append(toks, apkToken{kind: tokEnd})
		}
		prev := toks[len(toks)-1].kind
		var t apkToken
		switch c := v[0]; {
		case c >= 'a' && c <= 'z' && prev <= tokDigit:
			t, v = apkToken{kind: tokLetter, value: v[:1]}, v[1:]
		case c == '.' && prev <= tokDigit:
			t.kind = tokDigit
			t.value, v = span(v[1:], digits)
		case c >= '0' && c <= '9' && prev == tokSuffix:
			t.kind = tokSuffixNo
			t.value, v = span(v, digits)
		case c == '_' && prev <= tokSuffixNo:
			t.kind = tokSuffix
			t.value, v = span(v[1:], lower)
			t.suffix = suffixRank[t.value]
		case c == '~' && prev < tokHash:
			t.kind = tokHash
			t.value, v = span(v[1:], hex)
		case strings.HasPrefix(v, "-r") && prev < tokRevision:
			t.kind = tokRevision
			t.value, v = span(v[2:], digits)
		default:
			return append(toks, apkToken{kind: tokInvalid})
		}
		if t.value == "" || (t.kind == tokSuffix && t.suffix == 0) {
			return append(toks, apkToken{kind: tokInvalid})
		}
		toks = append(toks, t)
	}
}

// tokenCmp compares two tokens of one kind: numbers as numbers (a
// number after a dot with a leading zero as a string), a suffix by its
// rank, a letter or hash as a string.
func tokenCmp(a, b apkToken) int {
	switch {
	case a.kind == tokSuffix:
		return cmp.Compare(a.suffix, b.suffix)
	case a.kind == tokDigit && (a.value[0] == '0' || b.value[0] == '0'), a.kind == tokLetter, a.kind == tokHash:
		return strings.Compare(a.value, b.value)
	}
	x, _ := strconv.ParseUint(a.value, 10, 64)
	y, _ := strconv.ParseUint(b.value, 10, 64)
	return cmp.Compare(x, y)
}

// apkCompare is apk-tools v3's version comparison: the first token that
// differs decides; where one version goes on, it is the later one,
// unless it goes on with a pre-release suffix (alpha … rc).
func apkCompare(a, b string) int {
	ta, tb := apkTokens(a), apkTokens(b)
	i := 0
	for ; ta[i].kind == tb[i].kind && ta[i].kind < tokEnd; i++ {
		if c := tokenCmp(ta[i], tb[i]); c != 0 {
			return c
		}
	}
	x, y := ta[i], tb[i]
	switch {
	case x.kind == y.kind:
		return 0
	case x.kind == tokSuffix && x.suffix < suffixNone:
		return -1
	case y.kind == tokSuffix && y.suffix < suffixNone:
		return 1
	}
	return -cmp.Compare(x.kind, y.kind)
}

// The comparison above against orders apk's documentation states:
// pre-release suffixes before the version, post-release ones after it,
// a letter after those, -r revisions by number.
func TestAPKCompareKnownOrders(t *testing.T) {
	ascending := []string{
		"1.0_alpha1", "1.0_beta1", "1.0_pre1", "1.0_rc1", "1.0_rc1-r5", "1.0", "1.0-r1", "1.0-r9", "1.0-r10",
		"1.0_cvs1", "1.0_svn1", "1.0_git1", "1.0_git2", "1.0_git10", "1.0_hg1", "1.0_p1", "1.0a", "1.0b", "1.0.1", "1.1", "1.10", "2",
	}
	for i := 1; i < len(ascending); i++ {
		a, b := ascending[i-1], ascending[i]
		if apkCompare(a, b) != -1 || apkCompare(b, a) != 1 {
			t.Errorf("want %s < %s: compare gives %d, reversed %d", a, b, apkCompare(a, b), apkCompare(b, a))
		}
	}
	if apkCompare("1.0-r1", "1.0-r1") != 0 {
		t.Error("1.0-r1 does not equal itself")
	}
}

// The grammar the packager checks is the one apk's tokens accept.
func TestAPKVersionGrammar(t *testing.T) {
	tests := []struct {
		version string
		valid   bool
	}{
		{"0.1.0-r1", true},
		{"0.1.0_git20231114221320-r1", true},
		{"0.1.0_git20231114221320_p1-r1", true},
		{"1.2.3a_rc1_p2~0123abcd-r10", true},
		{"1", true},
		{"0.1.0+git20231114.221320.0123abcd-1", false}, // the ipk's
		{"0.1.0-1", false},                             // Debian's revision
		{"0.1.0-rc1", false},
		{"0.1.0_foo1", false},
		{"0.1.0-r", false},
		{"0.1.0-r1_p1", false},
		{"0.1.0a1", false},
		{"v0.1.0", false},
		{"0.1.", false},
		{"0.1.0~", false},
		{"", false},
	}
	for _, tc := range tests {
		toks := apkTokens(tc.version)
		byTokens := toks[len(toks)-1].kind == tokEnd
		if byTokens != tc.valid || validAPKVersion(tc.version) != tc.valid {
			t.Errorf("%q: apk's tokens say valid=%v, validAPKVersion %v; want %v", tc.version, byTokens, validAPKVersion(tc.version), tc.valid)
		}
	}
}

// The apk versions sort as the ipk versions of the same builds do
// (TestVersionOrder): a build after its release, before the next, after
// the builds of earlier commits; a tree with changes after its commit.
func TestAPKVersionOrder(t *testing.T) {
	ordered := []struct {
		name  string
		src   source
		feed  string
		want  string
		equal bool // to the one before
	}{
		{"the release before", source{Tag: "0.0.9"}, "0.0.9", "0.0.9-r1", false},
		{"a build after 0.0.9", source{Epoch: 1696161600, Commit: "abcdef01"}, "0.0.9", "0.0.9_git20231001120000-r1", false},
		{"the release", source{Tag: "0.1.0"}, "0.1.0", "0.1.0-r1", false},
		{"a build after it", commitA, "0.1.0", "0.1.0_git20231114221320-r1", false},
		{"the same commit with changes", dirtyA, "0.1.0", "0.1.0_git20231114221320_p1-r1", false},
		{"the tag with changes, never the release", dirtyTag, "0.1.0", "0.1.0_git20231114221320_p1-r1", true},
		{"a later commit of the same day", commitB, "0.1.0", "0.1.0_git20231114221420-r1", false},
		{"a commit of the next day", commitC, "0.1.0", "0.1.0_git20231115221320-r1", false},
		{"the next release", source{Tag: "0.1.1"}, "0.1.1", "0.1.1-r1", false},
		{"a build after that", source{Epoch: 1700086400, Commit: "00000001"}, "0.1.1", "0.1.1_git20231115221320-r1", false},
		{"a major release", source{Tag: "1.0.0"}, "1.0.0", "1.0.0-r1", false},
	}
	var prev string
	for i, v := range ordered {
		got, err := v.src.apkVersion(v.feed, "1")
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if got != v.want {
			t.Errorf("%s: version %q, want %q", v.name, got, v.want)
		}
		want := -1
		if v.equal {
			want = 0
		}
		if i > 0 && apkCompare(prev, got) != want {
			t.Errorf("%s (%s) against the one before (%s): compare %d, want %d", v.name, got, prev, apkCompare(prev, got), want)
		}
		prev = got
	}
	// A later release of the feed's packaging sorts after the earlier.
	r1, _ := commitA.apkVersion("0.1.0", "1")
	r2, _ := commitA.apkVersion("0.1.0", "2")
	if apkCompare(r1, r2) != -1 {
		t.Errorf("%s does not sort before %s", r1, r2)
	}
}

// A tag or release apk cannot express stops the build, rather than
// writing a package apk refuses.
func TestAPKVersionRefused(t *testing.T) {
	for _, tc := range []struct {
		src           source
		feed, release string
	}{
		{source{Tag: "1.0.0-rc1"}, "1.0.0", "1"},
		{source{Epoch: 1700000000}, "1.0.0", "1a"},
		{source{Epoch: 1700000000}, "v1.0.0", "1"},
	} {
		if v, err := tc.src.apkVersion(tc.feed, tc.release); err == nil {
			t.Errorf("tag %q, PKG_VERSION %q, PKG_RELEASE %q: version %q, want an error", tc.src.Tag, tc.feed, tc.release, v)
		}
	}
}

// The scripts lose their "#!" lines only, as package-pack.mk's sed does.
func TestWithoutShebang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"#!/bin/sh\necho a\n", "echo a\n"},
		{"  #!/bin/sh\n# comment\necho '#!'\n", "# comment\necho '#!'\n"},
		{"", ""},
		{"echo a", "echo a"},
	}
	for _, tc := range tests {
		if got := withoutShebang(tc.in); got != tc.want {
			t.Errorf("withoutShebang(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
