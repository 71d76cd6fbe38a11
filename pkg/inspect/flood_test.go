package inspect_test

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/protocols"
)

// TestFloodDoesNotHideLogins: LAN hosts (a compromised camera, a
// misbehaving app) open thousands of connections that send a few bytes
// and go quiet: partial command lines, ClientHellos cut short, a byte of
// telnet. A factory-default login another device sends afterwards, over
// telnet, FTP or HTTP, is still found: a few seconds later when one host
// floods, or two whose flows each take four stream buffers, since each
// holds only its share of the inspections and of the buffers; a minute
// later when sixteen do, since the flood's idle flows then give their
// inspections up, and seconds later when the flood is of datagrams.
func TestFloodDoesNotHideLogins(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	// A TLS record announcing 512 bytes of handshake, of which the
	// ClientHello's first few come.
	cutHello := "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + string(make([]byte, 40))
	floods := []struct {
		name, port, data string
		hosts            int
		loginAfter       time.Duration
		flows            int                                                              // 0: 3000
		open             func(e *inspect.Engine, client, server string, at time.Duration) // nil: a handshake, then data
		reclaims         bool                                                             // the flood fills the pool: the login takes an idle inspection
		buffers          bool                                                             // the flood's hosts reach their share of stream buffers
	}{
		{name: "partial_ftp_lines", port: "21", data: "USER a\r\nPA", hosts: 1, loginAfter: 5 * time.Second},
		{name: "cut_client_hellos", port: "443", data: cutHello, hosts: 1, loginAfter: 5 * time.Second},
		{name: "idle_telnet", port: "23", data: "\xff\xfb\x1f", hosts: 1, loginAfter: 5 * time.Second},
		{name: "ftp_holes_both_ways_from_2_hosts", port: "21", hosts: 2, loginAfter: 5 * time.Second, flows: 400, open: ftpHolesBothWays, buffers: true},
		{name: "partial_ftp_lines_from_16_hosts", port: "21", data: "USER a\r\nPA", hosts: 16, loginAfter: 65 * time.Second, reclaims: true},
		{name: "cut_client_hellos_from_16_hosts", port: "443", data: cutHello, hosts: 16, loginAfter: 65 * time.Second, reclaims: true},
		// Datagrams need no handshake, so any number of addresses can
		// send them; their flows give way after a few seconds.
		{name: "dns_queries_from_16_hosts", port: "53", hosts: 16, loginAfter: 15 * time.Second, reclaims: true,
			open: func(e *inspect.Engine, client, server string, at time.Duration) {
				inspecttest.NewUDP(e, client, server).Wait(at).Client(dnsQuery)
			}},
	}
	logins := []struct {
		name, proto, server string
		script              func(c *inspecttest.Conv)
	}{
		{"telnet", "telnet", "192.168.1.50:23", func(c *inspecttest.Conv) {
			c.Server("login: ").ClientChars("root\r\n").Server("Password: ").ClientChars("xc3511\r\n").Server("\r\n# ")
		}},
		{"ftp", "ftp", "192.168.1.50:21", func(c *inspecttest.Conv) {
			c.Server("220 NAS FTP\r\n").Client("USER admin\r\n").Server("331 Password required\r\n").
				Client("PASS admin\r\n").Server("230 Logged in\r\n")
		}},
		// The password split over two segments: its first half waits in
		// a stream buffer.
		{"ftp_split_password", "ftp", "192.168.1.50:21", func(c *inspecttest.Conv) {
			c.Server("220 NAS FTP\r\n").Client("USER admin\r\n").Server("331 Password required\r\n").
				Client("PASS ad").Client("min\r\n").Server("230 Logged in\r\n")
		}},
		{"http", "http", "192.168.1.50:80", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nHost: nas\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin")) + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}},
	}
	for _, fl := range floods {
		for _, lg := range logins {
			t.Run(fl.name+"/"+lg.name, func(t *testing.T) {
				var col inspecttest.Collector
				e := routerEngine(t, &col, cl)
				var flood []netip.Addr
				for h := range fl.hosts {
					flood = append(flood, netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + h)}))
				}
				open := fl.open
				if open == nil {
					open = func(e *inspect.Engine, client, server string, at time.Duration) {
						inspecttest.NewTCPAt(e, client, server, at).Client(fl.data)
					}
				}
				flows := fl.flows
				if flows == 0 {
					flows = 3000
				}
				for i := range flows {
					open(e, netip.AddrPortFrom(flood[i%len(flood)], uint16(10000+i)).String(),
						fmt.Sprintf("198.51.100.%d:%s", 1+i%200, fl.port), time.Duration(i)*time.Millisecond)
				}
				if e.Stats.HostLimit+e.Stats.InspectLimit == 0 {
					t.Fatalf("the flood took no more inspections than it was given: %+v", e.Stats)
				}
				c := inspecttest.NewTCPAt(e, victim(t, e, flood)+":50000", lg.server, fl.loginAfter)
				lg.script(c)
				c.Close()
				var found bool
				for _, ev := range col.Kind(event.KindDefaultCredentials) {
					found = found || ev.Evidence["protocol"] == lg.proto && ev.Device.IP == "192.168.1.50"
				}
				if !found {
					t.Errorf("the default %s login was missed after the flood (%d inspections refused for the cap, %d for the share; %d stream buffers missing)",
						lg.proto, e.Stats.InspectLimit, e.Stats.HostLimit, e.Stats.BufferFull)
				}
				if fl.buffers && e.Stats.HostBuffers == 0 {
					t.Errorf("no stream buffer refused for a host's share: the flood did not take its hosts' shares")
				}
				if fl.reclaims && (e.Stats.InspectLimit == 0 || e.Stats.Reclaimed == 0) {
					t.Errorf("%d flows refused for the cap, %d idle inspections reclaimed: the flood did not fill the pool, or the login took no idle inspection",
						e.Stats.InspectLimit, e.Stats.Reclaimed)
				}
			})
		}
	}
}

// ssdpSearch is an SSDP search for every device.
const ssdpSearch = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"

// dnsQuery asks for example.com's A record.
const dnsQuery = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"

// TestForgedFlowsDoNotBlindADevice: a LAN host forging another
// device's address sends data segments, without handshakes, on 200
// connections "from" it, each a partial FTP line kept alive with a byte
// every 50 seconds: the device's share of the inspections is full and
// none of them is idle. The device's own FTP login, whose handshake the
// router sees, still takes the inspection of one of them. So it does
// behind DNS queries, which need no handshake to forge, kept alive with
// one every 5 seconds: a datagram flow is a flow whose handshake was not
// seen. And behind SSDP searches and mDNS queries to the link's groups
// from nine addresses, which no flow takes from them but which hold at
// most a quarter of the pool between them.
func TestForgedFlowsDoNotBlindADevice(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	const device = "192.168.1.30"
	nineOthers := []string{"192.168.1.100", "192.168.1.101", "192.168.1.102", "192.168.1.103",
		"192.168.1.104", "192.168.1.105", "192.168.1.106", "192.168.1.107", "192.168.1.108"}
	// Forged FTP connections, a byte every 50 seconds; the login comes
	// 10 seconds after the last.
	ftp := func(e *inspect.Engine, client string, i int) func() {
		c := inspecttest.JoinTCP(e, client, fmt.Sprintf("198.51.100.%d:21", 1+i%200)).Client("USER a\r\nPA")
		return func() { c.Wait(50 * time.Second).Client("S") }
	}
	// DNS queries to ever new ports, one every 5 seconds; the login
	// comes a second after the last.
	dns := func(e *inspect.Engine, client string, i int) func() {
		c := inspecttest.NewUDP(e, client, fmt.Sprintf("198.51.100.%d:53", 1+i%200)).Client(dnsQuery)
		return func() { c.Wait(5 * time.Second).Client(dnsQuery) }
	}
	// Discovery to the link's groups from ever new ports, one every 5
	// seconds: SSDP searches and mDNS queries, which every device sends
	// and which hold no conversation with any one host.
	group := func(server, data string) func(e *inspect.Engine, client string, i int) func() {
		return func(e *inspect.Engine, client string, _ int) func() {
			c := inspecttest.NewUDP(e, client, server).Client(data)
			return func() { c.Wait(5 * time.Second).Client(data) }
		}
	}
	ssdp, mdns := group("239.255.255.250:1900", ssdpSearch), group("224.0.0.251:5353", dnsQuery)
	for _, tc := range []struct {
		name    string
		senders []string // the addresses the flows are forged from
		perAddr int
		forge   func(e *inspect.Engine, client string, i int) (keepAlive func())
		rounds  int
		loginAt time.Duration
	}{
		// More than the device's share, in its name.
		{"in_the_devices_name", []string{device}, 200, ftp, 2, 110 * time.Second},
		// The whole pool, over nine other addresses.
		{"over_nine_other_addresses", nineOthers, 128, ftp, 2, 110 * time.Second},
		{"datagrams_in_the_devices_name", []string{device}, 200, dns, 3, 16 * time.Second},
		{"datagrams_over_nine_other_addresses", nineOthers, 128, dns, 3, 16 * time.Second},
		// Link-wide discovery keeps its inspections, but the class of
		// them holds only a part of the pool.
		{"ssdp_over_nine_other_addresses", nineOthers, 128, ssdp, 3, 16 * time.Second},
		{"mdns_over_nine_other_addresses", nineOthers, 128, mdns, 3, 16 * time.Second},
		// More than the device's share of discovery, in its name.
		{"ssdp_in_the_devices_name", []string{device}, 200, ssdp, 3, 16 * time.Second},
		{"mdns_in_the_devices_name", []string{device}, 200, mdns, 3, 16 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var col inspecttest.Collector
			e := routerEngine(t, &col, cl)
			var forged []func()
			for _, from := range tc.senders {
				for i := range tc.perAddr {
					forged = append(forged, tc.forge(e, fmt.Sprintf("%s:%d", from, 10000+i), i))
				}
			}
			for range tc.rounds {
				for _, keepAlive := range forged {
					keepAlive()
				}
			}
			if e.Stats.FlowsRefusedBusy+e.Stats.FlowsRefusedShare+e.Stats.FlowsRefusedLinkWide == 0 {
				t.Fatalf("the forged flows took no more inspections than there are: %+v", e.Stats)
			}
			c := inspecttest.NewTCPAt(e, device+":50000", "192.168.1.50:21", tc.loginAt)
			c.Server("220 NAS FTP\r\n").Client("USER admin\r\n").Server("331 Password required\r\n").
				Client("PASS admin\r\n").Server("230 Logged in\r\n")
			c.Close()
			var found bool
			for _, ev := range col.Kind(event.KindDefaultCredentials) {
				found = found || ev.Evidence["protocol"] == "ftp" && ev.Device.IP == "192.168.1.50"
			}
			if !found {
				t.Errorf("the device's default FTP login was missed behind forged flows (refused: %d for the share, %d busy, %d link-wide; %d inspections taken)",
					e.Stats.FlowsRefusedShare, e.Stats.FlowsRefusedBusy, e.Stats.FlowsRefusedLinkWide, e.Stats.Reclaimed)
			}
		})
	}
}

// TestDiscoveryReadBesideUnicastFloods: a device's SSDP and mDNS
// announcements, two of the link-wide inspections, far fewer than their
// part of the pool, stay read while floods of other hosts fill the rest
// and take each other's inspections: DNS queries from nine addresses, then
// connections whose handshakes were seen (which take datagram flows'
// inspections at once), then more queries once the first are idle (which
// take theirs). The device's later announcements, a new USN and a new
// host name, are reported.
func TestDiscoveryReadBesideUnicastFloods(t *testing.T) {
	const device = "192.168.1.30"
	notify := func(nt string) string {
		return "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: " + nt + "\r\nNTS: ssdp:alive\r\n" +
			"SERVER: Linux/3.10 UPnP/1.0 MiniUPnPd/1.6\r\nUSN: uuid:cam-1::" + nt + "\r\nLOCATION: http://" + device + ":49152/desc.xml\r\n\r\n"
	}
	var col inspecttest.Collector
	e := routerEngine(t, &col, nil)
	ssdp := inspecttest.NewUDP(e, device+":1900", "239.255.255.250:1900").Client(notify("upnp:rootdevice"))
	mdns := inspecttest.NewUDP(e, device+":5353", "224.0.0.251:5353").Client(mdnsAnnouncement("cam", 192, 168, 1, 30))
	var flood []netip.Addr
	for h := range 9 {
		flood = append(flood, netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + h)}))
	}
	queries := func(port uint16, at time.Duration) {
		for i := range 9 * 128 {
			client := netip.AddrPortFrom(flood[i%9], port+uint16(i/9)).String()
			inspecttest.NewUDP(e, client, fmt.Sprintf("198.51.100.%d:53", 1+i%200)).Wait(at).Client(dnsQuery)
		}
	}
	queries(10000, 0)
	for i := range 9 * 20 {
		client := netip.AddrPortFrom(flood[i%9], uint16(20000+i)).String()
		inspecttest.NewTCPAt(e, client, fmt.Sprintf("198.51.100.%d:21", 1+i%200), 5*time.Second).Client("USER a\r\nPA")
	}
	queries(30000, 20*time.Second)
	if e.Stats.FlowsRefusedBusy == 0 || e.Stats.Reclaimed == 0 {
		t.Fatalf("%d flows refused, %d inspections taken: the floods did not fill the pool", e.Stats.FlowsRefusedBusy, e.Stats.Reclaimed)
	}
	ssdp.Wait(25 * time.Second).Client(notify("urn:schemas-upnp-org:device:Basic:1"))
	mdns.Wait(25 * time.Second).Client(mdnsAnnouncement("cam-2", 192, 168, 1, 30))
	e.Flush()
	var basic, renamed bool
	for _, ev := range col.Kind(event.KindSSDP) {
		basic = basic || ev.Device.IP == device && ev.Evidence["nt"] == "urn:schemas-upnp-org:device:Basic:1"
	}
	for _, ev := range col.Kind(event.KindMDNS) {
		renamed = renamed || ev.Evidence["hostname"] == "cam-2"
	}
	if !basic || !renamed {
		t.Errorf("after the floods, the device's SSDP announcement reported: %v, its mDNS one: %v (%d link-wide flows refused, %d inspections taken)",
			basic, renamed, e.Stats.FlowsRefusedLinkWide, e.Stats.Reclaimed)
	}
}

// mdnsAnnouncement is an mDNS response giving host.local the address a.
func mdnsAnnouncement(host string, a ...byte) string {
	b := []byte{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0} // a response, one answer
	b = append(b, byte(len(host)))
	b = append(b, host...)
	b = append(b, 5, 'l', 'o', 'c', 'a', 'l', 0)
	b = append(b, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4) // A, IN with cache flush, 2 minutes
	return string(append(b, a...))
}

// ftpHolesBothWays is an FTP connection that takes four stream buffers
// and keeps them: a partial line and a segment past a hole in each
// direction. The ACKs do not reach past the holes, so nothing says the
// missing bytes were lost rather than late.
func ftpHolesBothWays(e *inspect.Engine, client, server string, at time.Duration) {
	c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	send := func(dir inspect.Dir, seq, ack uint32, data string) {
		p := &inspect.Packet{Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(at), Kind: inspect.KindTCP,
			IPProto: inspect.IPProtocolTCP, TCPFlags: inspect.TCPFlagACK | inspect.TCPFlagPSH, Seq: seq, Ack: ack, Payload: []byte(data)}
		p.Src, p.SrcPort, p.Dst, p.DstPort = c.Addr(), c.Port(), s.Addr(), s.Port()
		if dir == inspect.ToClient {
			p.Src, p.SrcPort, p.Dst, p.DstPort = s.Addr(), s.Port(), c.Addr(), c.Port()
		}
		e.HandlePacket(p)
	}
	send(inspect.ToServer, 1000, 5000, "USER a\r\nPA")
	send(inspect.ToClient, 5000, 1010, "220 NAS")
	send(inspect.ToServer, 1015, 5007, "SS b\r\n")
	send(inspect.ToClient, 5012, 1010, "331 x\r\n")
}

// routerEngine is an engine with a router's configuration (the
// defaults) and every protocol, emitting into col.
func routerEngine(t *testing.T, col *inspecttest.Collector, cl inspect.Classifier) *inspect.Engine {
	t.Helper()
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: protocols.All(), Classifier: cl, Sink: col})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// victim is a LAN client whose fair-share counter is none of the flood's
// hosts', which a collision of the keyed hash (a chance in hundreds for
// sixteen hosts) would make it.
func victim(t *testing.T, e *inspect.Engine, flood []netip.Addr) string {
	t.Helper()
	taken := map[uint32]bool{}
	for _, a := range flood {
		taken[e.HostBucket(a)] = true
	}
	for i := 20; i < 60; i++ {
		a := netip.AddrFrom4([4]byte{192, 168, 1, byte(i)})
		if !taken[e.HostBucket(a)] {
			return a.String()
		}
	}
	t.Fatal("no client address outside the flood's buckets")
	return ""
}

// TestReclaimReportsPendingLogin: an FTP login whose verdict never came
// waits in its flow's queue; when the flow has been idle for a minute
// and a new flow needs its inspection, the login is reported (outcome
// unknown), not dropped with the inspection, and the new flow's login is
// found too.
func TestReclaimReportsPendingLogin(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	var col inspecttest.Collector
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	cfg.MaxInspected = 1
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: protocols.All(), Classifier: cl, Sink: &col})
	if err != nil {
		t.Fatal(err)
	}
	waiting := inspecttest.NewTCP(e, "192.168.1.20:40000", "192.168.1.50:21")
	waiting.Server("220 NAS FTP\r\n").Client("USER admin\r\n").Server("331 Password required\r\n").Client("PASS admin\r\n")
	if n := len(col.Findings()); n != 0 {
		t.Fatalf("%d findings before the verdict or the flow's end", n)
	}
	c := inspecttest.NewTCPAt(e, "192.168.1.21:40000", "192.168.1.51:21", 2*time.Minute)
	c.Server("220 camera FTP\r\n").Client("USER root\r\n").Server("331 Password required\r\n").
		Client("PASS toor\r\n").Server("230 Logged in\r\n")
	got := map[string]string{}
	for _, ev := range col.Kind(event.KindDefaultCredentials) {
		got[ev.Device.IP] = ev.Evidence["accepted"]
	}
	if got["192.168.1.50"] != "unknown" || got["192.168.1.51"] != "yes" || e.Stats.Reclaimed != 1 {
		t.Errorf("default logins found (device: accepted) %v, %d inspections reclaimed; want the idle flow's, unknown, and the new one's, yes, 1",
			got, e.Stats.Reclaimed)
	}
}
