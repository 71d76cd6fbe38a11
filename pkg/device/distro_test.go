package device

import (
	"testing"
	"time"

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
