package device

import (
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/event"
)

// TestDistributionBuildSoftware: a version read from text with a
// distribution's marker is recorded as that distribution's build, every
// product the text names; an upstream build's is not.
func TestDistributionBuildSoftware(t *testing.T) {
	tests := []struct {
		name     string
		kind     event.Kind
		evidence event.Evidence
		want     map[string]string // product version → distribution
	}{
		{"centos_apache", event.KindHTTPServer, event.Evidence{"server": "Apache/2.2.15 (CentOS) mod_ssl/2.2.15 OpenSSL/1.0.1e-fips"},
			map[string]string{"apache 2.2.15": "CentOS", "openssl 1.0.1e": "CentOS"}},
		{"ubuntu_apache", event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.7 (Ubuntu) OpenSSL/1.0.1f"},
			map[string]string{"apache 2.4.7": "Ubuntu", "openssl 1.0.1f": "Ubuntu"}},
		{"debian_openssh", event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"},
			map[string]string{"openssh 9.2p1": "Debian"}},
		{"debian_proftpd", event.KindBanner, event.Evidence{"protocol": "ftp", "banner": "220 ProFTPD 1.3.5e Server (Debian) [::ffff:192.168.1.64]"},
			map[string]string{"proftpd 1.3.5e": "Debian"}},
		{"upstream_apache", event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.7 OpenSSL/1.0.1f"},
			map[string]string{"apache 2.4.7": "", "openssl 1.0.1f": ""}},
		{"upstream_openssh", event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-OpenSSH_9.2p1"},
			map[string]string{"openssh 9.2p1": ""}},
		{"fips_without_distribution", event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.7 (Unix) OpenSSL/1.0.1e-fips"},
			map[string]string{"openssl 1.0.1e": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			const mac = "b8:27:eb:1a:2b:3c"
			inv.File(obs(mac, "192.168.1.64", tt.kind, tt.evidence))
			got := map[string]string{}
			for _, s := range device(t, inv, mac).Software {
				got[s.Product+" "+s.Version] = s.Distribution
			}
			for sw, want := range tt.want {
				if dist, ok := got[sw]; !ok || dist != want {
					t.Errorf("%s: distribution %q (recorded %v), want %q", sw, dist, ok, want)
				}
			}
		})
	}
}

// TestDistributionMarkFollowsFirmestSource: whether a version is a
// distribution's build is the word of its firmest sources. A claim (an
// SSDP SERVER header anyone can send in the device's name) neither marks
// a version the device's own Server header gave as upstream, which
// would turn its quarantine into an alert, nor unmarks one it gave as a
// distribution's; a firmer source decides over a claim; two sources as
// firm that disagree leave it upstream, the reading that quarantines.
func TestDistributionMarkFollowsFirmestSource(t *testing.T) {
	served := func(header string) (event.Kind, event.Evidence) {
		return event.KindHTTPServer, event.Evidence{"server": header}
	}
	claimed := func(header string) (event.Kind, event.Evidence) {
		return event.KindSSDP, event.Evidence{"server": header, "message": "notify", "nt": "upnp:rootdevice"}
	}
	const (
		ubuntu   = "Apache/2.4.7 (Ubuntu) OpenSSL/1.0.1f"
		upstream = "Apache/2.4.7 OpenSSL/1.0.1f"
	)
	type report func(string) (event.Kind, event.Evidence)
	tests := []struct {
		name             string
		first, second    report
		header1, header2 string
		want             string
	}{
		{"served_mark_kept_against_a_claim", served, claimed, ubuntu, upstream, "Ubuntu"},
		{"served_upstream_kept_against_a_claim", served, claimed, upstream, ubuntu, ""},
		{"claimed_mark_taken_back_by_served", claimed, served, ubuntu, upstream, ""},
		{"claimed_upstream_marked_by_served", claimed, served, upstream, ubuntu, "Ubuntu"},
		{"served_both_ways_upstream", served, served, ubuntu, upstream, ""},
		{"served_twice_marked", served, served, ubuntu, ubuntu, "Ubuntu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			const mac = "b8:27:eb:1a:2b:3c"
			for i, r := range []struct {
				rep    report
				header string
			}{{tt.first, tt.header1}, {tt.second, tt.header2}} {
				kind, ev := r.rep(r.header)
				e := obs(mac, "192.168.1.64", kind, ev)
				e.Time = t0.Add(time.Duration(i) * time.Minute)
				inv.File(e)
			}
			var got []string
			for _, s := range device(t, inv, mac).Software {
				if s.Product == "openssl" {
					got = append(got, s.Version+"/"+s.Distribution)
				}
			}
			if len(got) != 1 || got[0] != "1.0.1f/"+tt.want {
				t.Errorf("openssl %q, want one 1.0.1f of distribution %q", got, tt.want)
			}
		})
	}
}

// TestScorecardDistributionBuild: an advisory matched on a distribution's
// build, which may carry the fix under the upstream version (every
// Raspberry Pi on Debian 12 runs OpenSSH 9.2p1 patched against
// regreSSHion), leaves the provision on known-vulnerable software
// unknown and sends the owner to the distribution's tracker; its finding
// says so. The same version built upstream fails it.
func TestScorecardDistributionBuild(t *testing.T) {
	tests := []struct {
		name     string
		kind     event.Kind
		evidence event.Evidence
		software string // product and version the provision's reasons name
		cve      string // of a finding about it
		want     Status
		reason   string
	}{
		{"debian_openssh", event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"},
			"openssh 9.2p1", "CVE-2024-6387", Unknown,
			"distribution build (Debian): the fix may be backported; check Debian's security tracker for openssh 9.2p1 ("},
		{"ubuntu_openssl", event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.7 (Ubuntu) OpenSSL/1.0.1f"},
			"openssl 1.0.1f", "CVE-2014-0160", Unknown,
			"distribution build (Ubuntu): the fix may be backported; check Ubuntu's security tracker for openssl 1.0.1f ("},
		{"upstream_openssh", event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-OpenSSH_9.2p1"},
			"openssh 9.2p1", "CVE-2024-6387", Fail, "CVE-2024-6387"},
		{"upstream_openssl", event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.7 OpenSSL/1.0.1f"},
			"openssl 1.0.1f", "CVE-2014-0160", Fail, "CVE-2014-0160"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			const mac = "b8:27:eb:1a:2b:3c"
			inv.File(obs(mac, "192.168.1.64", tt.kind, tt.evidence))
			for _, m := range advisoryMatches(t, device(t, inv, mac)) {
				inv.Emit(advisory.ToEvent(m, event.Endpoint{MAC: mac, IP: "192.168.1.64", Local: true}, t0))
			}
			d := device(t, inv, mac)
			distro := tt.want == Unknown
			seen := false
			for _, f := range d.Findings {
				if f.Kind != event.KindOutdatedFirmware || !strings.Contains(f.Evidence["cve"], tt.cve) {
					continue
				}
				seen = true
				if event.DistributionBuild(f) != distro || distro && !strings.Contains(f.Summary, "the fix may be backported") {
					t.Errorf("finding %q evidence %v: distribution build %v, want %v", f.Summary, f.Evidence, event.DistributionBuild(f), distro)
				}
			}
			if !seen {
				t.Fatalf("no finding about %s (software %+v)", tt.cve, d.Software)
			}
			st, reasons := vulnerableSoftware(t, Scorecard(d, nil), tt.software)
			if st != tt.want || !strings.Contains(strings.Join(reasons, " "), tt.reason) {
				t.Errorf("provision %s %q, want %s with %q", st, reasons, tt.want, tt.reason)
			}
		})
	}
}

// vulnerableSoftware is the status and reasons of the software-updates
// provision whose reasons name software ("openssh 9.2p1"): the one on
// known-vulnerable software, whatever its number.
func vulnerableSoftware(t *testing.T, c Card, software string) (Status, []string) {
	t.Helper()
	for _, cp := range c.Capabilities {
		if cp.Capability != event.CapSoftwareUpdates {
			continue
		}
		for _, p := range cp.Provisions {
			if strings.Contains(strings.Join(p.Reasons, " "), software) {
				return p.Status, p.Reasons
			}
		}
		t.Fatalf("no software-updates provision names %s: %+v", software, cp.Provisions)
	}
	t.Fatal("no software-updates capability")
	return "", nil
}
