package advisory

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// baseFeed is a small valid feed; rejection tests change one thing in it.
const baseFeed = `{
 "schema": 1,
 "version": "2030-01-01.1",
 "generated": "2030-01-01T00:00:00Z",
 "sources": [{"name": "test", "url": "https://example.org/"}],
 "products": [{"id": "dropbear", "name": "Dropbear SSH"}, {"id": "boa", "name": "Boa"}],
 "advisories": [
  {
   "id": "TEST-1",
   "aliases": ["CVE-2016-7406"],
   "summary": "test advisory",
   "severity": "critical",
   "affected": [{"package": {"name": "dropbear"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2016.74"}]}]}],
   "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2016-7406"}],
   "database_specific": {"exploited": false, "end_of_life": false}
  },
  {
   "id": "TEST-2",
   "summary": "end of life",
   "severity": "high",
   "affected": [{"package": {"name": "boa"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]},
                {"package": {"name": "acme:cam-?00*"}, "versions": ["V1.0.0 build 200101"]}],
   "references": [{"type": "WEB", "url": "https://example.org/boa"}],
   "database_specific": {"exploited": false, "end_of_life": true}
  }
 ]
}`

func withFeedVersion(b, version string) string {
	return strings.Replace(b, `"version": "2030-01-01.1"`, `"version": "`+version+`"`, 1)
}

func TestParseFeedBase(t *testing.T) {
	f, err := ParseFeed([]byte(baseFeed))
	if err != nil {
		t.Fatalf("ParseFeed: %v", err)
	}
	if len(f.Advisories) != 2 || f.Version != "2030-01-01.1" {
		t.Fatalf("feed = %+v", f)
	}
	got := matchIDs(f,
		Software{Product: "dropbear", Version: "2015.71"},
		Software{Product: "boa", Version: "0.94.13"},
		Software{Product: "ACME:CAM-100X", Version: "V1.0.0 build 200101"},
		Software{Product: "acme:cam-1000", Version: "V1.0.0 build 200102"},
	)
	want := []string{"TEST-1", "TEST-2", "TEST-2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("matches %v, want %v", got, want)
	}
}

func TestParseFeedRejects(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     error
	}{
		{"not_json", `{`, `[`, ErrInvalid},
		{"truncated", `]` + "\n}", ``, ErrInvalid},
		{"trailing_data", "]\n}", "]\n}{}", ErrInvalid},
		{"schema_2", `"schema": 1`, `"schema": 2`, ErrSchema},
		{"schema_missing", `"schema": 1,`, ``, ErrSchema},
		{"feed_version_not_dated", `"2030-01-01.1"`, `"7"`, ErrInvalid},
		{"feed_version_bad_date", `"2030-01-01.1"`, `"2030-13-01.1"`, ErrInvalid},
		{"generated_missing", `"generated": "2030-01-01T00:00:00Z",`, ``, ErrInvalid},
		{"duplicate_id", `"id": "TEST-2"`, `"id": "TEST-1"`, ErrInvalid},
		{"bad_id", `"id": "TEST-2"`, `"id": "TEST 2"`, ErrInvalid},
		{"bad_cve", `"CVE-2016-7406"]`, `"CVE-16-7406"]`, ErrInvalid},
		{"severity_info", `"severity": "high"`, `"severity": "info"`, ErrInvalid},
		{"severity_unknown", `"severity": "high"`, `"severity": "urgent"`, ErrInvalid},
		{"severity_missing", `"severity": "high",`, ``, ErrInvalid},
		{"summary_missing", `"summary": "end of life",`, ``, ErrInvalid},
		{"summary_control_char", `"summary": "end of life"`, `"summary": "end\u0007of life"`, ErrInvalid},
		{"no_references", `"references": [{"type": "WEB", "url": "https://example.org/boa"}]`, `"references": []`, ErrInvalid},
		{"reference_javascript", `https://example.org/boa`, `javascript:alert(1)`, ErrInvalid},
		{"reference_type", `"type": "WEB"`, `"type": "HOMEPAGE"`, ErrInvalid},
		{"no_affected", `"affected": [{"package": {"name": "dropbear"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2016.74"}]}]}]`, `"affected": []`, ErrInvalid},
		{"undeclared_product", `{"name": "dropbear"}`, `{"name": "openssh"}`, ErrInvalid},
		{"upper_case_product", `{"name": "dropbear"}`, `{"name": "Dropbear"}`, ErrInvalid},
		{"bad_vendor_pattern", `acme:cam-?00*`, `acme:[cam`, ErrInvalid},
		{"empty_model", `acme:cam-?00*`, `acme:`, ErrInvalid},
		{"range_type_semver", `"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed"`, `"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed"`, ErrInvalid},
		{"no_events", `"events": [{"introduced": "0"}]`, `"events": []`, ErrInvalid},
		{"fixed_first", `[{"introduced": "0"}, {"fixed": "2016.74"}]`, `[{"fixed": "2016.74"}]`, ErrInvalid},
		{"two_fields_in_event", `{"fixed": "2016.74"}`, `{"fixed": "2016.74", "last_affected": "2016.73"}`, ErrInvalid},
		{"empty_event", `{"fixed": "2016.74"}`, `{}`, ErrInvalid},
		{"zero_not_first", `[{"introduced": "0"}, {"fixed": "2016.74"}]`, `[{"introduced": "2014.1"}, {"fixed": "2016.74"}, {"introduced": "0"}]`, ErrInvalid},
		{"events_descending", `[{"introduced": "0"}, {"fixed": "2016.74"}]`, `[{"introduced": "2017.1"}, {"fixed": "2016.74"}]`, ErrInvalid},
		{"events_equal", `[{"introduced": "0"}, {"fixed": "2016.74"}]`, `[{"introduced": "2016.74"}, {"fixed": "2016.74"}]`, ErrInvalid},
		{"introduced_twice", `[{"introduced": "0"}, {"fixed": "2016.74"}]`, `[{"introduced": "2014.1"}, {"introduced": "2015.1"}]`, ErrInvalid},
		{"prefixes_differ", `[{"introduced": "0"}, {"fixed": "2016.74"}]`, `[{"introduced": "a-1.0"}, {"fixed": "b-2.0"}]`, ErrInvalid},
		{"unparsable_version", `"fixed": "2016.74"`, `"fixed": "latest"`, ErrInvalid},
		{"version_not_as_written", `"fixed": "2016.74"`, `"fixed": " 2016.74"`, ErrInvalid},
		{"exact_version_unparsable", `"V1.0.0 build 200101"`, `"n/a"`, ErrInvalid},
		{"neither_ranges_nor_versions", `, "versions": ["V1.0.0 build 200101"]`, ``, ErrInvalid},
		{"no_advisories", `"advisories": [`, `"advisories": [], "x": [`, ErrInvalid},
		{"product_alias_twice", `{"id": "boa", "name": "Boa"}`, `{"id": "boa", "name": "Boa", "aliases": ["dropbear"]}`, ErrInvalid},
		{"product_upper_case", `{"id": "boa", "name": "Boa"}`, `{"id": "Boa", "name": "Boa"}`, ErrInvalid},
		{"source_without_url", `"url": "https://example.org/"`, `"url": ""`, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(baseFeed, tc.from) {
				t.Fatalf("test case does not apply: %q not in the base feed", tc.from)
			}
			b := strings.Replace(baseFeed, tc.from, tc.to, 1)
			f, err := ParseFeed([]byte(b))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseFeed = %v, %v; want %v", f, err, tc.want)
			}
		})
	}
}

func TestParseFeedIgnoresUnknownFields(t *testing.T) {
	b := strings.Replace(baseFeed, `"schema": 1,`, `"schema": 1, "future_field": {"x": 1},`, 1)
	if _, err := ParseFeed([]byte(b)); err != nil {
		t.Errorf("a feed with an added field must load: %v", err)
	}
}

// TestShippedFeed holds the curated feed to stricter rules than a loaded
// one: no unknown (misspelt) fields, an NVD reference for every CVE, at
// least 30 advisories, only the agreed product ids.
func TestShippedFeed(t *testing.T) {
	b, err := embedded.ReadFile("feed.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFeed(b, true)
	if err != nil {
		t.Fatalf("shipped feed, strict: %v", err)
	}
	if len(f.Advisories) < 30 {
		t.Errorf("%d advisories, want at least 30", len(f.Advisories))
	}
	agreed := map[string]bool{
		"busybox": true, "dropbear": true, "boa": true, "lighttpd": true, "goahead": true, "uhttpd": true,
		"rompager": true, "miniupnpd": true, "libupnp": true, "openssh": true, "vsftpd": true,
		"openssl": true, "mosquitto": true, "dnsmasq": true,
	}
	for _, p := range f.Products {
		if !agreed[p.ID] {
			t.Errorf("product id %q is not one agreed with the device layer", p.ID)
		}
	}
	for _, a := range f.Advisories {
		urls := map[string]bool{}
		for _, r := range a.References {
			urls[r.URL] = true
		}
		for _, c := range a.CVEs() {
			if !urls["https://nvd.nist.gov/vuln/detail/"+c] {
				t.Errorf("%s: no NVD reference for %s", a.ID, c)
			}
		}
		if len(a.CVEs()) == 0 && !a.DatabaseSpecific.EndOfLife {
			t.Errorf("%s: no CVE and not end of life", a.ID)
		}
	}
}

// TestFeedRoundTrip: a parsed feed marshals back to a feed that parses to
// the same content, so tools can rewrite the file.
func TestFeedRoundTrip(t *testing.T) {
	b, err := embedded.ReadFile("feed.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFeed(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseFeed(out)
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	again, _ := json.Marshal(g)
	if string(again) != string(out) {
		t.Error("marshal → parse → marshal changed the feed")
	}
}

func TestFeedAtLeast(t *testing.T) {
	f, err := ParseFeed([]byte(baseFeed)) // 2030-01-01.1
	if err != nil {
		t.Fatal(err)
	}
	for version, want := range map[string]bool{
		"2030-01-01.1": true,
		"2029-12-31.9": true,
		"2030-01-01.2": false,
		"2030-01-02.1": false,
		"":             false, // a finding saved before findings named their feed
		"2030-1-1.1":   false,
	} {
		if got := f.AtLeast(version); got != want {
			t.Errorf("AtLeast(%q) = %v, want %v", version, got, want)
		}
	}
}
