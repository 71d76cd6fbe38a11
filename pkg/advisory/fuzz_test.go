package advisory

import (
	"encoding/json"
	"testing"
)

// FuzzParseVersion: any string either fails to parse or gives a version
// that equals itself, stays within the length cap and parses again to an
// equal version.
func FuzzParseVersion(f *testing.F) {
	for _, tc := range versionOrder {
		f.Add(tc.a)
	}
	f.Add("1.19.4 (2014-05-21 10:31:57 CST)")
	f.Add("build")
	f.Add("v-1_")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if len(v.String()) == 0 || len(v.String()) > maxVersionLen {
			t.Fatalf("ParseVersion(%q) = %q: length out of range", s, v)
		}
		if v.Compare(v) != 0 {
			t.Fatalf("%q is not equal to itself", s)
		}
		w, err := ParseVersion(v.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", v, err)
		}
		if w.Compare(v) != 0 || w.Prefix() != v.Prefix() {
			t.Fatalf("re-parse of %q differs", v)
		}
	})
}

// FuzzCompareVersions: the order is antisymmetric and transitive on any
// three strings, parsable or not.
func FuzzCompareVersions(f *testing.F) {
	f.Add("0.94.14rc21", "0.94.14", "0.94.13")
	f.Add("7.4p1", "7.4", "7.4.1")
	f.Add("1.0.2k", "1.0.2", "1.0.2-beta1")
	f.Add("V5.5.0 build 170602", "V5.5 build 170602", "V5.5.0.1")
	f.Add("T-KTM2AKUC-1234.5", "T-KTM2BBUC-1", "unknown")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if ab != -ba {
			t.Fatalf("antisymmetry: cmp(%q,%q)=%d cmp(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		bc, ac := CompareVersions(b, c), CompareVersions(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("transitivity: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
		if ab >= 0 && bc >= 0 && ac < 0 {
			t.Fatalf("transitivity: %q >= %q >= %q but %q < %q", a, b, c, a, c)
		}
	})
}

// FuzzParseFeed: any bytes either fail with an error or give a feed whose
// ids are unique, that matches without panicking, and that survives a
// marshal/parse round trip.
func FuzzParseFeed(f *testing.F) {
	// The small base feed covers every field; the 48 KB shipped feed as a
	// seed would make each execution (and minimisation) slow.
	f.Add([]byte(baseFeed))
	f.Add([]byte(`{"schema":1}`))
	f.Add([]byte(`{"schema":1,"version":"2030-01-01.1","generated":"2030-01-01T00:00:00Z","products":[{"id":"a","name":"A"}],"advisories":[{"id":"X","summary":"s","severity":"low","affected":[{"package":{"name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1"},{"last_affected":"2"},{"introduced":"3"}]}]}],"references":[{"type":"WEB","url":"https://x.example/"}]}]}`))
	probes := []Software{
		{Product: "dropbear", Version: "2014.63"},
		{Product: "boa", Version: "0.94.14rc21"},
		{Product: "a", Version: "1.5"},
		{Product: "acme:cam-100", Version: "V1.0.0 build 200101"},
		{Product: "hikvision:ds-2cd2132f-is", Version: "V5.4.0 build 160530"},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		feed, err := ParseFeed(b)
		if err != nil {
			return
		}
		ids := map[string]bool{}
		for _, a := range feed.Advisories {
			if ids[a.ID] {
				t.Fatalf("duplicate id %q accepted", a.ID)
			}
			ids[a.ID] = true
		}
		for _, m := range feed.Match(probes) {
			if m.Advisory == nil || m.Version.IsZero() {
				t.Fatalf("match without advisory or version: %+v", m)
			}
		}
		out, err := json.Marshal(feed)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ParseFeed(out)
		if err != nil {
			t.Fatalf("a valid feed does not survive a round trip: %v\n%s", err, out)
		}
		if len(again.Advisories) != len(feed.Advisories) {
			t.Fatal("round trip changed the number of advisories")
		}
	})
}
