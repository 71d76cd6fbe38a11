package advisory

import (
	"strings"
	"testing"
)

// versionOrder lists pairs of real version strings from device banners,
// SSDP SERVER headers and firmware descriptions with the order expected.
var versionOrder = []struct {
	name string
	a, b string
	want int
}{
	{"dropbear_years", "2014.63", "2016.74", -1},
	{"dropbear_equal", "2016.74", "2016.74", 0},
	{"dropbear_same_year", "2019.77", "2019.78", -1},
	{"busybox_minor", "1.19.4", "1.20.0", -1},
	{"busybox_numeric_not_lexical", "1.19.4", "1.19.10", -1},
	{"busybox_leading_v", "v1.19.4", "1.19.4", 0},
	{"busybox_build_date_comment", "1.19.4 (2014-05-21 10:31:57 CST)", "1.19.4", 0},
	{"hikvision_build", "V5.5.0 build 170602", "V5.5.0 build 170725", -1},
	{"hikvision_release_before_build", "V5.4.0 build 160530", "V5.5.0 build 170602", -1},
	{"hikvision_no_build_is_oldest", "V5.5.0", "V5.5.0 build 170602", -1},
	{"hikvision_short_release", "V5.5 build 170602", "V5.5.0 build 170602", 0},
	{"hikvision_case", "V5.4.5 Build 160928", "v5.4.5 build 160928", 0},
	{"hikvision_build_older_than_next_patch", "V5.5.0 build 170602", "V5.5.0.1", -1},
	{"rompager", "4.07", "4.34", -1},
	{"rompager_leading_zero", "4.07", "4.7", 0},
	{"boa_rc_before_release", "0.94.14rc21", "0.94.14", -1},
	{"boa_rc_after_previous", "0.94.13", "0.94.14rc21", -1},
	{"boa_rc_numbers", "0.94.14rc20", "0.94.14rc21", -1},
	{"lighttpd", "1.4.35", "1.4.50", -1},
	{"openssh_p1_after_release", "7.4p1", "7.4", 1},
	{"openssh_p1_before_next", "7.4p1", "7.5", -1},
	{"openssh_p2", "9.3p1", "9.3p2", -1},
	{"openssh_p10", "9.3p2", "9.3p10", -1},
	{"openssl_letter_after_release", "1.0.2k", "1.0.2", 1},
	{"openssl_letters", "1.0.2k", "1.0.2l", -1},
	{"openssl_double_letters", "1.0.2z", "1.0.2zd", -1},
	{"openssl_y_before_za", "0.9.8y", "0.9.8za", -1},
	{"openssl_z_before_za", "1.0.2z", "1.0.2za", -1},
	{"openssl_two_letters", "1.0.2zd", "1.0.2zf", -1},
	{"openssl_za_before_zh", "0.9.8za", "0.9.8zh", -1},
	{"openssl_two_letters_before_next_series", "1.0.2zl", "1.1.0", -1},
	{"openssl_beta_before_release", "1.0.2-beta1", "1.0.2", -1},
	{"openssl_beta_after_previous_series", "1.0.2-beta1", "1.0.1g", 1},
	{"openssl_series", "1.1.0l", "1.1.1", -1},
	{"openssl_three", "3.0.3", "3.0.12", -1},
	{"libupnp", "1.6.6", "1.6.18", -1},
	{"mosquitto", "2.0.16", "2.0.18", -1},
	{"miniupnpd_date_suffix", "2.0.20170421", "2.0", 1},
	{"vendor_tail", "T-KTM2AKUC-1234.5", "T-KTM2AKUC-1300.1", -1},
	{"vendor_tail_equal", "T-KTM2AKUC-1234.5", "t-ktm2akuc-1234.5", 0},
	{"vendor_with_v", "R7000-V1.0.9.88_10.2.88", "R7000-V1.0.11.100_10.2.100", -1},
	{"underscore_date_build", "V1.0.0_180521", "V1.0.0_190101", -1},
	{"underscore_date_release_wins", "V1.0.0_180521", "V1.0.1_170101", -1},
	{"build_only", "build 200113", "build 200301", -1},
	{"iso_date", "2020-01-13", "2020-02-01", -1},
	{"compact_date", "20200113", "20200201", -1},
	{"dnsmasq_rc", "2.73rc4", "2.73", -1},
	{"dnsmasq_rc_after_previous", "2.72", "2.73rc4", -1},
	{"dnsmasq_test_before_release", "2.78test2", "2.78", -1},
	{"dnsmasq_test_before_rc", "2.78test6", "2.78rc1", -1},
	{"dnsmasq_test_numbers", "2.78test1", "2.78test2", -1},
	{"dnsmasq_test_after_previous", "2.77", "2.78test1", -1},
	{"trailing_zero", "1.0", "1.0.0", 0},
	{"pre_release_words", "1.0alpha", "1.0beta", -1},
	{"pre_before_rc", "1.0pre1", "1.0rc1", -1},
	{"dev_first", "4.1.1-dev", "4.1.1alpha", -1},
	{"many_parts", "1.2.3.4.5.6.7.8.9.10", "1.2.3", 1},
	{"numbers_beyond_uint64", "1.99999999999999999999999", "1.99999999999999999999998", 1},
	{"fips_suffix", "1.0.2k-fips", "1.0.2l", -1},
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range versionOrder {
		t.Run(tc.name, func(t *testing.T) {
			if got := CompareVersions(tc.a, tc.b); got != tc.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := CompareVersions(tc.b, tc.a); got != -tc.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
			}
		})
	}
}

func TestParseVersionFields(t *testing.T) {
	tests := []struct {
		in, str, prefix string
	}{
		{"  1.19.4  ", "1.19.4", ""},
		{"T-KTM2AKUC-1234.5", "T-KTM2AKUC-1234.5", "t-ktm2akuc"},
		{"R7000-V1.0.9.88_10.2.88", "R7000-V1.0.9.88_10.2.88", "r7000"},
		{"V1.0.0_180521", "V1.0.0_180521", ""},
		{"1.0.2k-fips", "1.0.2k-fips", ""},
		{"7.4p1 Debian-10+deb9u7", "7.4p1 Debian-10+deb9u7", ""},
		{"BusyBox v1.19.4 (2014-05-21)", "BusyBox v1.19.4", ""},
	}
	for _, tc := range tests {
		v, err := ParseVersion(tc.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tc.in, err)
			continue
		}
		if v.String() != tc.str || v.Prefix() != tc.prefix {
			t.Errorf("ParseVersion(%q) = %q prefix %q, want %q prefix %q", tc.in, v, v.Prefix(), tc.str, tc.prefix)
		}
	}
}

func TestVersionComparable(t *testing.T) {
	a, _ := ParseVersion("T-KTM2AKUC-1234.5")
	b, _ := ParseVersion("T-KTM2BBUC-1300.1")
	c, _ := ParseVersion("T-KTM2AKUC-1300.1")
	if a.Comparable(b) {
		t.Error("different model prefixes must not be comparable")
	}
	if !a.Comparable(c) {
		t.Error("same model prefix must be comparable")
	}
}

func TestParseVersionRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"blank", "   "},
		{"word", "unknown"},
		{"pre_release_word_only", "beta"},
		{"lone_v", "v"},
		{"comment_only", "(none)"},
		// A parenthesis inside, not a trailing comment: no orderable
		// version ("HS110" would sort below every number).
		{"parenthesis_inside", "HS110(UK)_1.5.4"},
		{"comment_not_at_the_end", "1.2 (x) 3"},
		{"nul", "1.2\x00"},
		{"newline", "1.2\n3"},
		{"non_ascii", "1.2é"},
		{"shell", "$(reboot)"},
		{"semicolon", "1.2;rm -rf"},
		{"quote", `1.2"`},
		{"too_long", "1." + strings.Repeat("1", maxVersionLen)},
		{"too_many_parts", strings.Repeat("1.", maxVersionTokens) + "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := ParseVersion(tc.in); err == nil {
				t.Errorf("ParseVersion(%q) = %q, want an error", tc.in, v)
			}
		})
	}
}

func TestCompareVersionsUnparsableSortsFirst(t *testing.T) {
	if CompareVersions("unknown", "0.1") != -1 || CompareVersions("0.1", "unknown") != 1 {
		t.Error("an unparsable version must sort before a parsable one")
	}
	if CompareVersions("abc", "abd") != -1 || CompareVersions("abc", "abc") != 0 {
		t.Error("unparsable versions must sort byte by byte")
	}
}

// sampleVersions is every string of the tables plus unparsable ones, for
// the order properties.
func sampleVersions() []string {
	var s []string
	for _, tc := range versionOrder {
		s = append(s, tc.a, tc.b)
	}
	return append(s, "", "unknown", "$(reboot)", "1.0.0", "0", "v0", "build 1", "1 build")
}

func TestCompareVersionsIsATotalOrder(t *testing.T) {
	s := sampleVersions()
	cmp := make([][]int, len(s)) // each pair compared once; triples read the table
	for i, a := range s {
		cmp[i] = make([]int, len(s))
		for j, b := range s {
			cmp[i][j] = CompareVersions(a, b)
		}
	}
	for i := range s {
		if cmp[i][i] != 0 {
			t.Errorf("%q is not equal to itself", s[i])
		}
		for j := range s {
			if cmp[i][j] != -cmp[j][i] {
				t.Errorf("antisymmetry: cmp(%q,%q)=%d, cmp(%q,%q)=%d", s[i], s[j], cmp[i][j], s[j], s[i], cmp[j][i])
			}
			for k := range s {
				ab, bc, ac := cmp[i][j], cmp[j][k], cmp[i][k]
				if ab <= 0 && bc <= 0 && ac > 0 {
					t.Errorf("transitivity: %q <= %q <= %q but %q > %q", s[i], s[j], s[k], s[i], s[k])
				}
				if ab == 0 && bc == 0 && ac != 0 {
					t.Errorf("equality not transitive: %q, %q, %q", s[i], s[j], s[k])
				}
			}
		}
	}
}

func BenchmarkParseVersion(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseVersion("V5.4.0 build 160530"); err != nil {
			b.Fatal(err)
		}
	}
}
