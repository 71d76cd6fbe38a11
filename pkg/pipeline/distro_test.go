package pipeline

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/policy"
	"github.com/iotgw/iotgw/pkg/store"
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

// announce sends an SSDP NOTIFY in the Pi's name (anyone on the LAN can)
// with the SERVER header server.
func announce(t *testing.T, p *Pipeline, server string, at time.Time) {
	t.Helper()
	notify := "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=100\r\n" +
		"LOCATION: http://192.168.1.64:80/description.xml\r\nSERVER: " + server + "\r\n" +
		"NTS: ssdp:alive\r\nNT: upnp:rootdevice\r\nUSN: uuid:2f402f80-da50-11e1-9b23-b827eb1a2b3c::upnp:rootdevice\r\n\r\n"
	p.HandleFrame(frame(t, distroHost, net.IP{192, 168, 1, 64}, net.IP{239, 255, 255, 250}, &layers.UDP{SrcPort: 1900, DstPort: 1900}, notify),
		capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: at})
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

// TestDistributionBuildSurvivesRestart: the mark is saved with the
// finding and holds after a restart, through the store's file. Nor does
// an SSDP NOTIFY in the device's name change it before the device's own
// server speaks again: one marking the version a distribution's must not
// turn a quarantine into an alert, nor one without the mark an alert
// into a quarantine.
func TestDistributionBuildSurvivesRestart(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	const (
		ubuntu   = "Apache/2.4.7 (Ubuntu) OpenSSL/1.0.1f"
		upstream = "Apache/2.4.7 OpenSSL/1.0.1f"
	)
	tests := []struct {
		name     string
		served   string
		announce string // after the restart; "" for none
		distro   string
		want     config.Action
	}{
		{"ubuntu_build", ubuntu, "", "Ubuntu", config.ActionAlert},
		{"ubuntu_build_then_upstream_announced", ubuntu, "Linux/3.10 UPnP/1.0 " + upstream, "Ubuntu", config.ActionAlert},
		{"upstream_build", upstream, "", "", config.ActionQuarantine},
		{"upstream_build_then_ubuntu_announced", upstream, "Linux/3.10 UPnP/1.0 " + ubuntu, "", config.ActionQuarantine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			path := filepath.Join(t.TempDir(), "state.json")
			p, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			serveHeader(t, p, tt.served, ts, 40000)
			st := store.Open(store.Options{Path: path})
			if err := st.PutDevice(savedRecord(p, distroMAC())); err != nil {
				t.Fatal(err)
			}
			if err := st.Flush(); err != nil {
				t.Fatal(err)
			}

			restarted, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			restarted.Restore(store.Open(store.Options{Path: path}).Snapshot().Devices)
			check := func(when string) {
				t.Helper()
				action, findings := distroVerdict(t, restarted, cfg, "openssl")
				if len(findings) == 0 {
					t.Fatalf("%s: no openssl finding", when)
				}
				for _, f := range findings {
					if f.Evidence["distribution"] != tt.distro || (f.Evidence["distribution_build"] == "yes") != (tt.distro != "") {
						t.Errorf("%s: finding evidence %v, want distribution %q", when, f.Evidence, tt.distro)
					}
				}
				if action != tt.want {
					t.Errorf("%s: verdict %s, want %s", when, action, tt.want)
				}
			}
			check("after the restart")
			if tt.announce != "" {
				announce(t, restarted, tt.announce, ts.Add(time.Hour))
				check("after a NOTIFY")
			}
			serveHeader(t, restarted, tt.served, ts.Add(2*time.Hour), 40001)
			check("after the device's own answer")
		})
	}
}
