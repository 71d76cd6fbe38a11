package advisory

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

func embeddedFeed(t testing.TB) *Feed {
	t.Helper()
	h, err := NewHolder(Options{})
	if err != nil {
		t.Fatalf("NewHolder: %v", err)
	}
	return h.Current()
}

func matchIDs(f *Feed, sw ...Software) []string {
	var ids []string
	for _, m := range f.Match(sw) {
		ids = append(ids, m.Advisory.ID)
	}
	return ids
}

// TestMatchBanners: product and version as banners and device
// descriptions show them, and the advisories of the shipped feed that must
// (and only those that must) apply.
func TestMatchBanners(t *testing.T) {
	f := embeddedFeed(t)
	tests := []struct {
		name             string
		product, version string
		want             []string
	}{
		{"dropbear_2014", "dropbear", "2014.63", []string{"IOTGW-2016-0001", "IOTGW-2017-0001", "IOTGW-2018-0001", "IOTGW-2020-0001"}},
		{"dropbear_fixed_bound_excluded", "dropbear", "2016.74", []string{"IOTGW-2017-0001", "IOTGW-2018-0001", "IOTGW-2020-0001"}},
		{"dropbear_last_affected_included", "dropbear", "2018.76", []string{"IOTGW-2018-0001", "IOTGW-2020-0001"}},
		{"dropbear_after_last_affected", "dropbear", "2019.78", []string{"IOTGW-2020-0001"}},
		{"dropbear_current", "dropbear", "2022.83", nil},
		{"busybox_1_19_4", "BusyBox", "v1.19.4", []string{"IOTGW-2011-0001", "IOTGW-2016-0002", "IOTGW-2017-0002", "IOTGW-2018-0002", "IOTGW-2019-0001", "IOTGW-2021-0001", "IOTGW-2022-0001", "IOTGW-2022-0003"}},
		{"busybox_banner_with_build_date", "BusyBox", "v1.35.0 (2022-01-17 19:57:02 CET)", []string{"IOTGW-2022-0001", "IOTGW-2022-0002", "IOTGW-2022-0003"}},
		{"busybox_fixed", "busybox", "1.36.1", nil},
		{"boa_rc21_end_of_life", "Boa", "0.94.14rc21", []string{"IOTGW-EOL-BOA"}},
		{"boa_0_94_13", "boa", "0.94.13", []string{"IOTGW-EOL-BOA"}},
		{"lighttpd_1_4_35", "lighttpd", "1.4.35", []string{"IOTGW-2018-0003"}},
		{"lighttpd_1_4_59", "lighttpd", "1.4.59", []string{"IOTGW-2022-0004", "IOTGW-2022-0005"}},
		{"lighttpd_fixed", "lighttpd", "1.4.67", nil},
		{"rompager_4_07", "RomPager", "4.07", []string{"IOTGW-2014-0002"}},
		{"rompager_alias", "Allegro RomPager", "4.07", []string{"IOTGW-2014-0002"}},
		{"rompager_fixed", "rompager", "4.34", nil},
		{"goahead_webs_2_5", "GoAhead-Webs", "2.5.0", []string{"IOTGW-2017-0003"}},
		{"goahead_5_1_1", "goahead", "5.1.1", []string{"IOTGW-2021-0002"}},
		{"goahead_3_6_5", "goahead", "3.6.5", nil},
		{"libupnp_ssdp_server_name", "Portable SDK for UPnP devices", "1.6.6", []string{"IOTGW-2012-0001", "IOTGW-2016-0003", "IOTGW-2020-0002"}},
		{"libupnp_1_6_18", "libupnp", "1.6.18", []string{"IOTGW-2016-0003", "IOTGW-2020-0002"}},
		{"libupnp_current", "libupnp", "1.14.18", nil},
		{"miniupnpd_1_0", "miniupnpd", "1.0", []string{"IOTGW-2013-0001", "IOTGW-2013-0002", "IOTGW-2017-0004"}},
		{"miniupnpd_1_9", "miniupnpd", "1.9", []string{"IOTGW-2017-0004"}},
		{"miniupnpd_dated_2_0", "miniupnpd", "2.0.20170421", nil},
		{"openssh_7_4p1", "OpenSSH", "7.4p1", []string{"IOTGW-2018-0004", "IOTGW-2023-0001", "IOTGW-2023-0002"}},
		{"openssh_8_9p1_regresshion", "openssh", "8.9p1", []string{"IOTGW-2023-0001", "IOTGW-2023-0002", "IOTGW-2024-0001"}},
		{"openssh_9_3p2", "openssh", "9.3p2", []string{"IOTGW-2023-0002", "IOTGW-2024-0001"}},
		{"openssh_4_3p2", "openssh", "4.3p2", []string{"IOTGW-2015-0001", "IOTGW-2016-0004", "IOTGW-2018-0004", "IOTGW-2023-0001", "IOTGW-2023-0002", "IOTGW-2024-0001"}},
		{"openssh_fixed", "openssh", "9.8p1", nil},
		// A release without the portable suffix (OpenBSD's, a vendor's build)
		// sorts before its p1: the bounds are releases.
		{"openssh_fixed_release", "openssh", "9.8", nil},
		{"openssh_8_5_release", "openssh", "8.5", []string{"IOTGW-2023-0001", "IOTGW-2023-0002", "IOTGW-2024-0001"}},
		{"openssl_heartbleed", "OpenSSL", "1.0.1f", []string{"IOTGW-2014-0003", "IOTGW-2014-0004", "IOTGW-2016-0005", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_heartbleed_fixed", "openssl", "1.0.1g", []string{"IOTGW-2014-0004", "IOTGW-2016-0005", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_1_0_2_beta1_listed", "openssl", "1.0.2-beta1", []string{"IOTGW-2014-0003", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_1_0_2k", "openssl", "1.0.2k", []string{"IOTGW-2022-0006", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_1_0_2zf_after_fix", "openssl", "1.0.2zf", []string{"IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_1_0_2zc_before_fix", "openssl", "1.0.2zc", []string{"IOTGW-2022-0006", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_0_9_8zh_after_fix", "openssl", "0.9.8zh", []string{"IOTGW-2016-0005", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_1_1_1k", "openssl", "1.1.1k", []string{"IOTGW-2022-0006", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_1_1_1w_end_of_life", "openssl", "1.1.1w", []string{"IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_3_0_1", "openssl", "3.0.1", []string{"IOTGW-2022-0006", "IOTGW-2022-0007", "IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_3_0_15_end_of_life", "openssl", "3.0.15", []string{"IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_3_4_1_end_of_life", "openssl", "3.4.1", []string{"IOTGW-EOL-OPENSSL-3.4"}},
		{"openssl_3_5_supported", "openssl", "3.5.0", nil},
		{"vsftpd_backdoor_version", "vsftpd", "2.3.4", []string{"IOTGW-2011-0002"}},
		{"vsftpd_next", "vsftpd", "2.3.5", nil},
		{"dnsmasq_2_72", "dnsmasq", "2.72", []string{"IOTGW-2015-0002", "IOTGW-2017-0005", "IOTGW-2021-0003", "IOTGW-2024-0002"}},
		{"dnsmasq_rc3_before_fix", "dnsmasq", "2.73rc3", []string{"IOTGW-2015-0002", "IOTGW-2017-0005", "IOTGW-2021-0003", "IOTGW-2024-0002"}},
		{"dnsmasq_rc4_fixed", "dnsmasq", "2.73rc4", []string{"IOTGW-2017-0005", "IOTGW-2021-0003", "IOTGW-2024-0002"}},
		{"dnsmasq_test_before_fix", "dnsmasq", "2.78test2", []string{"IOTGW-2017-0005", "IOTGW-2021-0003", "IOTGW-2024-0002"}},
		{"dnsmasq_2_80", "dnsmasq", "2.80", []string{"IOTGW-2021-0003", "IOTGW-2024-0002"}},
		{"dnsmasq_current", "dnsmasq", "2.90", nil},
		{"mosquitto_1_3_1", "mosquitto", "1.3.1", []string{"IOTGW-2017-0006", "IOTGW-2023-0004"}},
		{"mosquitto_1_4_10", "mosquitto", "1.4.10", []string{"IOTGW-2017-0006", "IOTGW-2023-0003", "IOTGW-2023-0004"}},
		{"mosquitto_2_0_15", "Eclipse Mosquitto", "2.0.15", []string{"IOTGW-2023-0003", "IOTGW-2023-0004"}},
		{"mosquitto_current", "mosquitto", "2.0.18", nil},
		{"hikvision_last_affected", "hikvision:DS-2CD2132F-IS", "V5.4.0 build 160530", []string{"IOTGW-2017-0007"}},
		{"hikvision_next_build", "hikvision:ds-2cd2132f-is", "V5.4.0 build 160531", nil},
		{"hikvision_fixed_firmware", "hikvision:ds-2cd2132f-is", "V5.5.0 build 170725", nil},
		{"hikvision_before_introduced", "hikvision:ds-2cd2132f-is", "V5.1.0 build 130101", nil},
		{"hikvision_ptz_series", "hikvision:ds-2df5286-ael", "V5.3.0 build 151016", []string{"IOTGW-2017-0007"}},
		{"hikvision_other_series", "hikvision:ds-2cd2032-i", "V5.3.0 build 150513", nil},
		{"hikvision_no_build_counts_as_oldest", "hikvision:ds-2cd2132f-is", "V5.4.0", []string{"IOTGW-2017-0007"}},
		{"hikvision_foreign_number", "hikvision:ds-2cd2132f-is", "2014.63", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := matchIDs(f, Software{Product: tc.product, Version: tc.version})
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %s: matched %v, want %v", tc.product, tc.version, got, tc.want)
			}
		})
	}
}

// TestMatchNegative: what must never produce a finding.
func TestMatchNegative(t *testing.T) {
	f := embeddedFeed(t)
	tests := []struct {
		name             string
		product, version string
	}{
		{"unknown_product", "nginx", "1.2.3"},
		{"empty_product", "", "1.0"},
		{"declared_product_without_advisories", "uhttpd", "1.0"},
		{"empty_version_end_of_life", "boa", ""},
		{"word_version_end_of_life", "Boa", "unknown"},
		{"hostile_version_end_of_life", "boa", "$(reboot)"},
		{"empty_version", "dropbear", ""},
		{"banner_instead_of_version", "dropbear", "dropbear_2014.63"},
		{"control_characters", "busybox", "1.19\x1b[2J"},
		{"vendor_unknown_model", "hikvision:ds-7608ni-k2", "V3.4.0 build 150101"},
		{"vendor_bad_syntax", "hikvision:", "V5.4.0 build 160530"},
		{"vendor_wildcard_in_product", "hikvision:ds-2cd2*", "V5.4.0 build 160530"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchIDs(f, Software{Product: tc.product, Version: tc.version}); len(got) != 0 {
				t.Errorf("%q %q matched %v, want nothing", tc.product, tc.version, got)
			}
		})
	}
}

func TestMatchKeepsInputOrder(t *testing.T) {
	f := embeddedFeed(t)
	sw := []Software{
		{Product: "vsftpd", Version: "2.3.4"},
		{Product: "nginx", Version: "1.0"},
		{Product: "RomPager", Version: "4.07"},
	}
	ms := f.Match(sw)
	if len(ms) != 2 || ms[0].Product != "vsftpd" || ms[1].Product != "rompager" {
		t.Fatalf("matches = %+v, want vsftpd then rompager", ms)
	}
	if !reflect.DeepEqual(ms[1].Software, sw[2]) || ms[1].Fixed != "4.34" || ms[1].Version.String() != "4.07" {
		t.Errorf("match = %+v, want the input software, fixed 4.34 and version 4.07", ms[1])
	}
}

func TestToEvent(t *testing.T) {
	f := embeddedFeed(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	dev := event.Endpoint{MAC: "c0:56:e3:1a:2b:3c", IP: "192.168.50.101", Local: true}

	tests := []struct {
		name         string
		sw           Software
		severity     event.Severity
		evidence     event.Evidence
		summaryParts []string
		summaryLacks []string
	}{
		{
			name:     "exploited_raises_to_critical",
			sw:       Software{Product: "OpenSSL", Version: "1.0.1f", Source: "tls banner"},
			severity: event.SeverityCritical,
			evidence: event.Evidence{
				"product": "openssl", "version": "1.0.1f", "advisory": "IOTGW-2014-0003",
				"cve": "CVE-2014-0160", "fixed": "1.0.1g", "exploited": "yes", "end_of_life": "no",
				"url": "https://nvd.nist.gov/vuln/detail/CVE-2014-0160", "software_source": "tls banner",
			},
			summaryParts: []string{"openssl 1.0.1f", "CVE-2014-0160", "fixed in 1.0.1g", "exploited"},
			summaryLacks: []string{"distribution", "backported"},
		},
		// A distribution's build of the same version: marked, and the
		// summary sends the owner to the distribution's tracker.
		{
			name:     "distribution_build",
			sw:       Software{Product: "OpenSSL", Version: "1.0.1f", Source: "http_server", Distribution: "Ubuntu"},
			severity: event.SeverityCritical,
			evidence: event.Evidence{
				"product": "openssl", "version": "1.0.1f", "advisory": "IOTGW-2014-0003",
				"cve": "CVE-2014-0160", "fixed": "1.0.1g", "exploited": "yes", "end_of_life": "no",
				"url": "https://nvd.nist.gov/vuln/detail/CVE-2014-0160", "software_source": "http_server",
				"distribution_build": "yes", "distribution": "Ubuntu",
			},
			summaryParts: []string{"openssl 1.0.1f", "CVE-2014-0160", "distribution build (Ubuntu)", "may be backported", "check Ubuntu's security tracker"},
		},
		// A name no marker gives (not letters and spaces) reaches
		// neither the evidence nor the summary.
		{
			name:     "distribution_name_not_a_name",
			sw:       Software{Product: "OpenSSL", Version: "1.0.1f", Source: "http_server", Distribution: "<b>Debian</b>"},
			severity: event.SeverityCritical,
			evidence: event.Evidence{
				"product": "openssl", "version": "1.0.1f", "advisory": "IOTGW-2014-0003",
				"cve": "CVE-2014-0160", "fixed": "1.0.1g", "exploited": "yes", "end_of_life": "no",
				"url": "https://nvd.nist.gov/vuln/detail/CVE-2014-0160", "software_source": "http_server",
			},
			summaryLacks: []string{"Debian", "distribution"},
		},
		{
			name:     "end_of_life_has_no_fix",
			sw:       Software{Product: "Boa", Version: "0.94.14rc21"},
			severity: event.SeverityHigh,
			evidence: event.Evidence{
				"product": "boa", "version": "0.94.14rc21", "advisory": "IOTGW-EOL-BOA",
				"cve": "CVE-2009-4496,CVE-2017-9833", "fixed": "none", "exploited": "no", "end_of_life": "yes",
				"url": "https://nvd.nist.gov/vuln/detail/CVE-2009-4496",
			},
			summaryParts: []string{"boa 0.94.14rc21", "end-of-life"},
		},
		{
			name:     "last_affected",
			sw:       Software{Product: "dropbear", Version: "2018.76", Source: strings.Repeat("x", maxSourceLen+1)},
			severity: event.SeverityMedium,
			evidence: event.Evidence{
				"product": "dropbear", "version": "2018.76", "advisory": "IOTGW-2018-0001",
				"cve": "CVE-2018-15599", "fixed": "after 2018.76", "exploited": "no", "end_of_life": "no",
				"url": "https://nvd.nist.gov/vuln/detail/CVE-2018-15599",
			},
			summaryParts: []string{"fixed after 2018.76"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := f.Match([]Software{tc.sw})
			if len(ms) == 0 {
				t.Fatal("no match")
			}
			ev := ToEvent(ms[0], dev, at)
			tc.evidence["feed"] = f.Version // the feed that matched
			if ev.Kind != event.KindOutdatedFirmware || ev.Type != event.TypeFinding ||
				ev.Capability != event.CapSoftwareUpdates || ev.Provision != Provision ||
				ev.Device != dev || !ev.Time.Equal(at) || ev.V != event.SchemaVersion {
				t.Errorf("event header = %+v", ev)
			}
			if ev.Severity != tc.severity {
				t.Errorf("severity = %v, want %v", ev.Severity, tc.severity)
			}
			if len(ev.Evidence) != len(tc.evidence) {
				t.Errorf("evidence = %v, want %v", ev.Evidence, tc.evidence)
			}
			for k, v := range tc.evidence {
				if ev.Evidence[k] != v {
					t.Errorf("evidence[%s] = %q, want %q", k, ev.Evidence[k], v)
				}
			}
			for _, p := range tc.summaryParts {
				if !strings.Contains(ev.Summary, p) {
					t.Errorf("summary %q lacks %q", ev.Summary, p)
				}
			}
			for _, p := range tc.summaryLacks {
				if strings.Contains(ev.Summary, p) {
					t.Errorf("summary %q says %q", ev.Summary, p)
				}
			}
		})
	}
}

func TestToEventDedupKeysDifferPerAdvisory(t *testing.T) {
	f := embeddedFeed(t)
	ms := f.Match([]Software{{Product: "dropbear", Version: "2014.63"}})
	keys := map[string]bool{}
	for _, m := range ms {
		keys[ToEvent(m, event.Endpoint{MAC: "02:00:00:00:00:01"}, time.Time{}).DedupKey()] = true
	}
	if len(keys) != len(ms) || len(ms) < 2 {
		t.Errorf("%d matches gave %d distinct dedup keys", len(ms), len(keys))
	}
}

func BenchmarkMatch(b *testing.B) {
	f := embeddedFeed(b)
	sw := []Software{
		{Product: "BusyBox", Version: "v1.19.4"},
		{Product: "dropbear", Version: "2014.63"},
		{Product: "hikvision:ds-2cd2132f-is", Version: "V5.4.0 build 160530"},
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(f.Match(sw)) == 0 {
			b.Fatal("no match")
		}
	}
}
