package pipeline

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/policy"
)

// distroHost is the device of the distribution-build tests: a Raspberry
// Pi serving HTTP and SSH, its MAC, and a laptop that connects to it.
var (
	distroHost   = net.HardwareAddr{0xb8, 0x27, 0xeb, 0x1a, 0x2b, 0x3c}
	distroLaptop = peer{net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}, net.IP{192, 168, 1, 10}, 40000}
)

func distroMAC() hwaddr.MAC {
	mac, _ := hwaddr.Parse(distroHost.String())
	return mac
}

// serveHeader plays the laptop's request to the Pi's web server and its
// answer with the Server header, on a connection seen from its start.
func serveHeader(t *testing.T, p *Pipeline, server string, at time.Time, port uint16) {
	t.Helper()
	client := distroLaptop
	client.port = port
	tcpExchange(t, p, client, peer{distroHost, net.IP{192, 168, 1, 64}, 443},
		"GET / HTTP/1.1\r\nHost: 192.168.1.64\r\n\r\n", "HTTP/1.1 200 OK\r\nServer: "+server+"\r\nContent-Length: 0\r\n\r\n", at, true)
}

// distroVerdict is policy's verdict on the Pi under cfg, and its
// outdated_firmware findings about product.
func distroVerdict(t *testing.T, p *Pipeline, cfg *config.Config, product string) (config.Action, []*event.Event) {
	t.Helper()
	for _, d := range p.Inventory().Devices() {
		if d.MAC() != distroMAC() {
			continue
		}
		var out []*event.Event
		for _, f := range d.Findings {
			if f.Kind == event.KindOutdatedFirmware && f.Evidence["product"] == product {
				out = append(out, f)
			}
		}
		return policy.Evaluate(&cfg.Policy, &policy.Device{MAC: distroMAC(), Findings: d.Findings}, time.Time{}).Action, out
	}
	t.Fatal("no such device")
	return "", nil
}

// TestDistributionBuildDoesNotQuarantine: Debian, Ubuntu and CentOS
// backport security fixes without changing the upstream version: their
// OpenSSL 1.0.1e and 1.0.1f are patched against Heartbleed (an exploited
// advisory), Debian 12's OpenSSH 9.2p1 against regreSSHion. A version
// read beside a distribution's marker makes a finding that says so and
// alerts, in enforce mode too; the same version built upstream still
// quarantines.
func TestDistributionBuildDoesNotQuarantine(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	web := func(server string) func(*testing.T, *Pipeline) {
		return func(t *testing.T, p *Pipeline) { serveHeader(t, p, server, ts, 40000) }
	}
	ssh := func(banner string) func(*testing.T, *Pipeline) {
		return func(t *testing.T, p *Pipeline) {
			tcpExchange(t, p, distroLaptop, peer{distroHost, net.IP{192, 168, 1, 64}, 22},
				"SSH-2.0-OpenSSH_9.6\r\n", banner+"\r\n", ts, true)
		}
	}
	tests := []struct {
		name    string
		serve   func(*testing.T, *Pipeline)
		product string
		// anyOutdated quarantines on any outdated_firmware finding,
		// not only exploited ones (regreSSHion is not marked
		// exploited in the feed).
		anyOutdated bool
		distro      string // "" for an upstream build
		want        config.Action
	}{
		{"centos_openssl", web("Apache/2.2.15 (CentOS) mod_ssl/2.2.15 OpenSSL/1.0.1e-fips"), "openssl", false, "CentOS", config.ActionAlert},
		{"ubuntu_openssl", web("Apache/2.4.7 (Ubuntu) OpenSSL/1.0.1f"), "openssl", false, "Ubuntu", config.ActionAlert},
		{"upstream_openssl", web("Apache/2.4.7 OpenSSL/1.0.1f"), "openssl", false, "", config.ActionQuarantine},
		{"upstream_fips_openssl", web("Apache/2.4.7 (Unix) OpenSSL/1.0.1e-fips"), "openssl", false, "", config.ActionQuarantine},
		{"debian_openssh", ssh("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"), "openssh", true, "Debian", config.ActionAlert},
		{"upstream_openssh", ssh("SSH-2.0-OpenSSH_9.2p1"), "openssh", true, "", config.ActionQuarantine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Policy.Mode = "enforce"
			cfg.Policy.QuarantineExploitedOnly = !tt.anyOutdated
			p, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt.serve(t, p)
			action, findings := distroVerdict(t, p, cfg, tt.product)
			if len(findings) == 0 {
				t.Fatalf("no %s finding", tt.product)
			}
			for _, f := range findings {
				mark, dist := f.Evidence["distribution_build"], f.Evidence["distribution"]
				switch {
				case tt.distro != "" && (mark != "yes" || dist != tt.distro || !strings.Contains(f.Summary, "check "+tt.distro+"'s security tracker")):
					t.Errorf("finding %q evidence %v: want it marked a %s build", f.Summary, f.Evidence, tt.distro)
				case tt.distro == "" && (mark != "" || dist != "" || strings.Contains(f.Summary, "backported")):
					t.Errorf("finding %q evidence %v: an upstream build marked", f.Summary, f.Evidence)
				}
			}
			if action != tt.want {
				t.Errorf("verdict %s, want %s", action, tt.want)
			}
		})
	}
}
