package pipeline

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
	"github.com/iotgw/iotgw/pkg/policy"
	"github.com/iotgw/iotgw/pkg/store"
)

// TestForgedAnnouncementDoesNotQuarantine: one SSDP NOTIFY anyone on the
// LAN can send with a device's MAC and address, naming an exploited
// server version, makes an alert and no quarantine; the same version
// named over a connection with the device does: the Server header of the
// description the router fetches, or of the device's own HTTP answer.
func TestForgedAnnouncementDoesNotQuarantine(t *testing.T) {
	victim, mac, ts, stack, notify := announcer()
	client := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	tests := []struct {
		name    string
		confirm func(p *Pipeline)
	}{
		{"fetched_description", func(p *Pipeline) {
			p.Inject(audit.UPnPEvent(mac, netip.MustParseAddr("192.168.1.30"), "http://192.168.1.30:80/description.xml",
				ssdp.Description{Server: stack}, ts.Add(time.Second)))
		}},
		{"own_http_answer", func(p *Pipeline) {
			tcpExchange(t, p, peer{client, net.IP{192, 168, 1, 10}, 40000}, peer{victim, net.IP{192, 168, 1, 30}, 80},
				"GET / HTTP/1.1\r\nHost: 192.168.1.30\r\n\r\n", "HTTP/1.1 200 OK\r\nServer: GoAhead-Webs/2.5.0\r\nContent-Length: 0\r\n\r\n",
				ts.Add(time.Second), true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			p, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			p.HandleFrame(frame(t, victim, net.IP{192, 168, 1, 30}, net.IP{239, 255, 255, 250}, &layers.UDP{SrcPort: 1900, DstPort: 1900}, notify),
				capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: ts})
			verdict := func() (config.Action, int) {
				for _, d := range p.Inventory().Devices() {
					if d.MAC() != mac {
						continue
					}
					n := 0
					for _, f := range d.Findings {
						if f.Kind == event.KindOutdatedFirmware {
							n++
						}
					}
					return policy.Evaluate(&cfg.Policy, &policy.Device{MAC: mac, Findings: d.Findings}, time.Time{}).Action, n
				}
				t.Fatal("no such device")
				return "", 0
			}
			if action, n := verdict(); n == 0 || action == config.ActionQuarantine {
				t.Fatalf("after the NOTIFY: %d outdated findings, verdict %s; want a finding that does not quarantine", n, action)
			}
			tt.confirm(p)
			if action, _ := verdict(); action != config.ActionQuarantine {
				t.Errorf("after the confirmation: verdict %s, want quarantine", action)
			}
		})
	}
}

// announcer is the device of the forged-announcement tests: its MAC, the
// capture's start, the exploited server stack it announces (GoAhead 2.5.0,
// CVE-2017-17562) and its SSDP NOTIFY naming it.
func announcer() (net.HardwareAddr, hwaddr.MAC, time.Time, string, string) {
	victim := net.HardwareAddr{0xec, 0xb5, 0xfa, 0x11, 0x22, 0x33}
	mac, _ := hwaddr.Parse(victim.String())
	const stack = "Linux/3.14 UPnP/1.0 GoAhead-Webs/2.5.0"
	notify := "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=100\r\n" +
		"LOCATION: http://192.168.1.30:80/description.xml\r\nSERVER: " + stack + "\r\n" +
		"NTS: ssdp:alive\r\nNT: upnp:rootdevice\r\nUSN: uuid:2f402f80-da50-11e1-9b23-001788000001::upnp:rootdevice\r\n\r\n"
	return victim, mac, time.Unix(1700000000, 0), stack, notify
}

// frame builds an Ethernet/IPv4 frame, or IPv6 between IPv6 addresses,
// carrying transport (UDP, TCP or ICMPv6) and payload.
func frame(t *testing.T, src net.HardwareAddr, srcIP, dstIP net.IP, transport gopacket.SerializableLayer, payload string) []byte {
	t.Helper()
	type checksummed interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	}
	var ip interface {
		gopacket.NetworkLayer
		gopacket.SerializableLayer
	}
	etherType := layers.EthernetTypeIPv4
	proto := layers.IPProtocolTCP
	switch transport.(type) {
	case *layers.UDP:
		proto = layers.IPProtocolUDP
	case *layers.ICMPv6:
		proto = layers.IPProtocolICMPv6
	}
	if srcIP.To4() == nil {
		etherType = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: proto, SrcIP: srcIP, DstIP: dstIP}
	} else {
		ip = &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: srcIP, DstIP: dstIP}
	}
	if l, ok := transport.(checksummed); ok {
		_ = l.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: src, DstMAC: net.HardwareAddr{0x94, 0x83, 0xc4, 0, 0, 1}, EthernetType: etherType},
		ip, transport, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// peer is one end of a TCP connection tcpExchange sends.
type peer struct {
	mac  net.HardwareAddr
	ip   net.IP
	port uint16
}

// tcpExchange sends a connection from client to server as a capture sees
// it: the handshake when opened (else frames a capture joins late, or
// that anyone made up with the server's MAC), the client's request, the
// server's answer; a millisecond apart from at.
func tcpExchange(t *testing.T, p *Pipeline, client, server peer, request, answer string, at time.Time, opened bool) {
	t.Helper()
	n := 0
	send := func(from, to peer, tcp *layers.TCP, payload string) {
		tcp.SrcPort, tcp.DstPort, tcp.Window = layers.TCPPort(from.port), layers.TCPPort(to.port), 512
		p.HandleFrame(frame(t, from.mac, from.ip, to.ip, tcp, payload),
			capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: at.Add(time.Duration(n) * time.Millisecond)})
		n++
	}
	if opened {
		send(client, server, &layers.TCP{SYN: true}, "")
		send(server, client, &layers.TCP{SYN: true, ACK: true, Ack: 1}, "")
		send(client, server, &layers.TCP{ACK: true, Seq: 1, Ack: 1}, "")
	}
	send(client, server, &layers.TCP{ACK: true, PSH: true, Seq: 1, Ack: 1}, request)
	send(server, client, &layers.TCP{ACK: true, PSH: true, Seq: 1, Ack: 1 + uint32(len(request))}, answer)
	p.Flush()
}

// TestPassiveSSHBanner: a camera's SSH server names its version in clear
// at every connection; passive inspection files it as software, which the
// advisory feed matches (dropbear 2014.63: CVE-2016-7406 and kin).
func TestPassiveSSHBanner(t *testing.T) {
	p, err := New(config.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	camera := net.HardwareAddr{0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}
	laptop := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	ts := time.Unix(1700000000, 0)
	tcpExchange(t, p, peer{laptop, net.IP{192, 168, 1, 10}, 40000}, peer{camera, net.IP{192, 168, 1, 64}, 22},
		"SSH-2.0-OpenSSH_9.2p1\r\n", "SSH-2.0-dropbear_2014.63\r\n", ts, true)
	mac, _ := hwaddr.Parse(camera.String())
	for _, d := range p.Inventory().Devices() {
		if d.MAC() != mac {
			continue
		}
		for _, f := range d.Findings {
			if f.Kind == event.KindOutdatedFirmware && f.Evidence["product"] == "dropbear" && f.Evidence["software_source"] == "banner/ssh" {
				return
			}
		}
		t.Fatalf("software %+v, findings %d: no dropbear advisory from the passive banner", d.Software, len(d.Findings))
	}
	t.Fatal("no camera in the inventory")
}

// TestRestartKeepsAConfirmation: after a restart the software is learnt
// again one source at a time; the first SSDP NOTIFY must not downgrade a
// restored finding the fetched description had confirmed (the daemon
// would release the device as policy no longer calling for it).
func TestRestartKeepsAConfirmation(t *testing.T) {
	victim, mac, ts, stack, notify := announcer()
	cfg := config.Default()
	verdict := func(p *Pipeline) config.Action {
		for _, d := range p.Inventory().Devices() {
			if d.MAC() == mac {
				return policy.Evaluate(&cfg.Policy, &policy.Device{MAC: mac, Findings: d.Findings}, time.Time{}).Action
			}
		}
		t.Fatal("no such device")
		return ""
	}
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.HandleFrame(frame(t, victim, net.IP{192, 168, 1, 30}, net.IP{239, 255, 255, 250}, &layers.UDP{SrcPort: 1900, DstPort: 1900}, notify),
		capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: ts})
	p.Inject(audit.UPnPEvent(mac, netip.MustParseAddr("192.168.1.30"), "http://192.168.1.30:80/description.xml",
		ssdp.Description{Server: stack}, ts.Add(time.Second)))
	if a := verdict(p); a != config.ActionQuarantine {
		t.Fatalf("before the restart: %s, want quarantine", a)
	}
	rec := savedRecord(p, mac)
	restarted, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	restarted.Restore([]store.DeviceRecord{rec})
	restarted.HandleFrame(frame(t, victim, net.IP{192, 168, 1, 30}, net.IP{239, 255, 255, 250}, &layers.UDP{SrcPort: 1900, DstPort: 1900}, notify),
		capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: ts.Add(time.Hour)})
	if a := verdict(restarted); a != config.ActionQuarantine {
		t.Errorf("after the restart and a NOTIFY: %s, want the confirmed quarantine kept", a)
	}
}

// TestForgedNotifyDoesNotOverrideServedVersion: the camera's own HTTP
// answer names its GoAhead version; NOTIFYs anyone on the LAN can send
// in its name, first confirming that version and then naming another,
// neither take back the served version with its finding (the camera
// would look updated and leave quarantine) nor put a vulnerable version
// beside a patched one.
func TestForgedNotifyDoesNotOverrideServedVersion(t *testing.T) {
	victim, mac, ts, _, _ := announcer()
	client := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	notify := func(version string) string {
		return "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=100\r\n" +
			"LOCATION: http://192.168.1.30:80/description.xml\r\nSERVER: Linux/3.14 UPnP/1.0 GoAhead-Webs/" + version + "\r\n" +
			"NTS: ssdp:alive\r\nNT: upnp:rootdevice\r\nUSN: uuid:2f402f80-da50-11e1-9b23-001788000001::upnp:rootdevice\r\n\r\n"
	}
	tests := []struct {
		served, first, then string
		findings            int
		action              config.Action
	}{
		{served: "2.5.0", first: "2.5.0", then: "3.6.5", findings: 1, action: config.ActionQuarantine},
		{served: "3.6.5", first: "3.6.5", then: "2.5.0", findings: 0, action: config.ActionIgnore},
	}
	for _, tt := range tests {
		t.Run("served_"+tt.served+"_claimed_"+tt.then, func(t *testing.T) {
			cfg := config.Default()
			p, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tcpExchange(t, p, peer{client, net.IP{192, 168, 1, 10}, 40000}, peer{victim, net.IP{192, 168, 1, 30}, 80},
				"GET / HTTP/1.1\r\nHost: 192.168.1.30\r\n\r\n", "HTTP/1.1 200 OK\r\nServer: GoAhead-Webs/"+tt.served+"\r\nContent-Length: 0\r\n\r\n", ts, true)
			for i, v := range []string{tt.first, tt.then} {
				p.HandleFrame(frame(t, victim, net.IP{192, 168, 1, 30}, net.IP{239, 255, 255, 250}, &layers.UDP{SrcPort: 1900, DstPort: 1900}, notify(v)),
					capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: ts.Add(time.Duration(i+2) * time.Minute)})
			}
			if d, goahead := goAheadFindings(t, p, mac); d != nil {
				var outdated []string
				for _, f := range goahead {
					outdated = append(outdated, f.Evidence["version"]+" from "+f.Evidence["software_source"])
				}
				if len(outdated) != tt.findings {
					t.Errorf("goahead findings %q, want %d about the served %s (software %+v)", outdated, tt.findings, tt.served, d.Software)
				}
				for _, o := range d.Observations {
					if o.Kind == event.KindFirmwareUpdated {
						t.Errorf("observed %q", o.Summary)
					}
				}
				if a := policy.Evaluate(&cfg.Policy, &policy.Device{MAC: mac, Findings: d.Findings}, time.Time{}).Action; a != tt.action {
					t.Errorf("verdict %s, want %s", a, tt.action)
				}
				return
			}
			t.Fatal("no such device")
		})
	}
}

// TestRestartKeepsAServedVersion: after a restart the device's software
// is learnt again, one report at a time. A NOTIFY in the camera's name
// naming a patched GoAhead before its HTTP server is seen again does not
// withdraw the finding its own Server header gave (the camera would
// leave a pending quarantine); the camera's own answer naming the
// patched version does.
func TestRestartKeepsAServedVersion(t *testing.T) {
	victim, mac, ts, _, _ := announcer()
	client := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	answer := func(t *testing.T, p *Pipeline, version string, at time.Time, port uint16) {
		tcpExchange(t, p, peer{client, net.IP{192, 168, 1, 10}, port}, peer{victim, net.IP{192, 168, 1, 30}, 80},
			"GET / HTTP/1.1\r\nHost: 192.168.1.30\r\n\r\n", "HTTP/1.1 200 OK\r\nServer: GoAhead-Webs/"+version+"\r\nContent-Length: 0\r\n\r\n", at, true)
	}
	findings := func(p *Pipeline) int {
		_, goahead := goAheadFindings(t, p, mac)
		return len(goahead)
	}
	cfg := config.Default()
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	answer(t, p, "2.5.0", ts, 40000)
	rec := savedRecord(p, mac)
	if n := findings(p); n != 1 {
		t.Fatalf("before the restart: %d goahead findings, want 1", n)
	}
	restarted, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	restarted.Restore([]store.DeviceRecord{rec})
	notify := "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=100\r\n" +
		"LOCATION: http://192.168.1.30:80/description.xml\r\nSERVER: Linux/3.14 UPnP/1.0 GoAhead-Webs/3.6.5\r\n" +
		"NTS: ssdp:alive\r\nNT: upnp:rootdevice\r\nUSN: uuid:2f402f80-da50-11e1-9b23-001788000001::upnp:rootdevice\r\n\r\n"
	restarted.HandleFrame(frame(t, victim, net.IP{192, 168, 1, 30}, net.IP{239, 255, 255, 250}, &layers.UDP{SrcPort: 1900, DstPort: 1900}, notify),
		capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: ts.Add(time.Hour)})
	if n := findings(restarted); n != 1 {
		t.Errorf("after the restart and a NOTIFY naming 3.6.5: %d goahead findings, want the served 2.5.0's kept", n)
	}
	answer(t, restarted, "3.6.5", ts.Add(2*time.Hour), 40001)
	if n := findings(restarted); n != 0 {
		t.Errorf("after the camera's own answer naming 3.6.5: %d goahead findings, want none", n)
	}
}

// savedRecord is what the daemon saves of the device mac: its times,
// addresses and findings (software is not saved).
func savedRecord(p *Pipeline, mac hwaddr.MAC) store.DeviceRecord {
	var rec store.DeviceRecord
	for _, d := range p.Inventory().Devices() {
		if d.MAC() == mac {
			rec = store.DeviceRecord{MAC: mac, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen, Addrs: d.Addrs}
			for _, f := range d.Findings {
				rec.Findings = append(rec.Findings, *f)
			}
		}
	}
	return rec
}

// TestMadeUpServerAnswer: two frames anyone on the LAN can send, a
// request and "the device's" answer on a connection whose opening was
// never seen, carry only a claim's weight: a served exploited version
// this way quarantines nothing, replaces no version the device served on
// a connection seen from its start, and withdraws no finding such a
// version gave.
func TestMadeUpServerAnswer(t *testing.T) {
	victim, mac, ts, _, _ := announcer()
	attacker := peer{net.HardwareAddr{0x02, 0, 0, 0, 0, 0x66}, net.IP{192, 168, 1, 66}, 0}
	device := peer{victim, net.IP{192, 168, 1, 30}, 80}
	answer := func(p *Pipeline, version string, at time.Time, port uint16, opened bool) {
		attacker.port = port
		tcpExchange(t, p, attacker, device, "GET / HTTP/1.1\r\nHost: 192.168.1.30\r\n\r\n",
			"HTTP/1.1 200 OK\r\nServer: GoAhead-Webs/"+version+"\r\nContent-Length: 0\r\n\r\n", at, opened)
	}
	tests := []struct {
		name       string
		served     string // on an opened connection first, if set
		madeUp     string
		wantSource string // of the goahead finding; "" for none
		want       config.Action
	}{
		{name: "exploited_version_alone", madeUp: "2.5.0", wantSource: "http_server/joined", want: config.ActionAlert},
		{name: "after_a_served_patched_version", served: "3.6.5", madeUp: "2.5.0", want: config.ActionIgnore},
		{name: "patched_version_after_a_served_exploited_one", served: "2.5.0", madeUp: "3.6.5", wantSource: "http_server", want: config.ActionQuarantine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			p, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.served != "" {
				answer(p, tt.served, ts, 40001, true)
			}
			answer(p, tt.madeUp, ts.Add(time.Minute), 40002, false)
			if d, goahead := goAheadFindings(t, p, mac); d != nil {
				var sources []string
				for _, f := range goahead {
					sources = append(sources, f.Evidence["software_source"])
				}
				if want := []string{tt.wantSource}; tt.wantSource == "" && len(sources) != 0 || tt.wantSource != "" && !slices.Equal(sources, want) {
					t.Errorf("goahead findings from %q, want from %q (software %+v)", sources, tt.wantSource, d.Software)
				}
				if a := policy.Evaluate(&cfg.Policy, &policy.Device{MAC: mac, Findings: d.Findings}, time.Time{}).Action; a != tt.want {
					t.Errorf("verdict %s, want %s", a, tt.want)
				}
				return
			}
			t.Fatal("no such device")
		})
	}
}

// goAheadFindings are the outdated_firmware findings about GoAhead of the
// device mac, and the device; nil when the inventory has no such device.
func goAheadFindings(t *testing.T, p *Pipeline, mac hwaddr.MAC) (*device.Device, []*event.Event) {
	t.Helper()
	for _, d := range p.Inventory().Devices() {
		if d.MAC() != mac {
			continue
		}
		var out []*event.Event
		for _, f := range d.Findings {
			if f.Kind == event.KindOutdatedFirmware && f.Evidence["product"] == "goahead" {
				out = append(out, f)
			}
		}
		return d, out
	}
	return nil, nil
}
