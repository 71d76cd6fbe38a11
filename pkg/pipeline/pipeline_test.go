package pipeline

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/store"
)

// steadyFlow is one long-lived connection of the per-packet benchmark: a
// client segment that produces no finding, sent again and again with the
// sequence number advanced.
type steadyFlow struct {
	frame []byte
	seq   uint32
}

// tcpOffset is where the TCP header starts in the frames below.
const tcpOffset = 14 + 20

func steadyFrame(t testing.TB, srcPort, dstPort uint16, payload string) []byte {
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP{192, 168, 1, 10}, DstIP: net.IP{203, 0, 113, 5}}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(srcPort), DstPort: layers.TCPPort(dstPort), Seq: 1, ACK: true, PSH: true, Window: 502}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{0xc0, 0x56, 0xe3, 1, 2, 3}, DstMAC: net.HardwareAddr{0x94, 0x83, 0xc4, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// steadyFlows are connections of the protocols a home network carries,
// each past its handshake and login, so that what remains is the
// per-packet cost of every analyzer in steady state.
func steadyFlows(t testing.TB) []*steadyFlow {
	payloads := []struct {
		port uint16
		data string
	}{
		{80, "GET /api/v1/telemetry?ts=1700000000 HTTP/1.1\r\nHost: cloud.example.com\r\nUser-Agent: iot/1.0\r\nAccept: */*\r\n\r\n"},
		{8080, "GET /snapshot.jpg HTTP/1.1\r\nHost: 192.168.1.20\r\n\r\n"},
		{1883, "\x30\x1e\x00\x0asensors/t1{\"temp\":21.5,\"rh\":40}"}, // MQTT PUBLISH QoS 0
		{25, "Received: from cam by mail; Tue, 1 Jan 2026 00:00:00 +0000\r\nX-Data: aGVsbG8gd29ybGQ=\r\n"},
		{21, "NOOP\r\n"},
		{554, "GET_PARAMETER rtsp://192.168.1.20/stream RTSP/1.0\r\nCSeq: 9\r\nSession: 12345678\r\n\r\n"},
		{9999, "status=ok uptime=12345 load=0.10 0.12 0.09 version=1.2.3\n"}, // generic text
	}
	var flows []*steadyFlow
	for i := 0; i < 64; i++ {
		p := payloads[i%len(payloads)]
		flows = append(flows, &steadyFlow{frame: steadyFrame(t, uint16(30000+i), p.port, p.data), seq: 1})
	}
	return flows
}

func (s *steadyFlow) next() []byte {
	binary.BigEndian.PutUint32(s.frame[tcpOffset+4:], s.seq)
	s.seq += uint32(len(s.frame) - tcpOffset - 20)
	return s.frame
}

// benchPipeline is a pipeline with every analyzer and an unlimited byte
// budget, so that analyzers keep working on every packet.
func benchPipeline(t testing.TB) *Pipeline {
	cfg := config.Default()
	cfg.Inspect.ByteBudget = 1 << 20
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSteadyStateNoAlloc(t *testing.T) {
	p := benchPipeline(t)
	flows := steadyFlows(t)
	info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: time.Unix(1700000000, 0)}
	for round := 0; round < 4; round++ { // identify flows, emit first-sight observations
		for _, f := range flows {
			p.HandleFrame(f.next(), info)
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		p.HandleFrame(flows[i%len(flows)].next(), info)
		i++
	})
	if allocs != 0 {
		t.Errorf("steady state allocates %.2f times per packet with every analyzer enabled", allocs)
	}
	if p.Engine().Stats.FlowsCreated != uint64(len(flows)) {
		t.Errorf("%d flows created, want %d", p.Engine().Stats.FlowsCreated, len(flows))
	}
}

// BenchmarkSteadyState is the per-packet cost of decode, flow lookup,
// stream delivery and every analyzer on established connections.
func BenchmarkSteadyState(b *testing.B) {
	p := benchPipeline(b)
	flows := steadyFlows(b)
	info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: time.Unix(1700000000, 0)}
	for round := 0; round < 4; round++ {
		for _, f := range flows {
			p.HandleFrame(f.next(), info)
		}
	}
	var bytes int
	for _, f := range flows {
		bytes += len(f.frame)
	}
	b.SetBytes(int64(bytes / len(flows)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.HandleFrame(flows[i%len(flows)].next(), info)
	}
}

// The bundled capture, through the whole pipeline: the devices and
// findings scripts/lab/README.md lists.
func TestDemoCapture(t *testing.T) {
	p, err := New(config.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(inspecttest.RepoFile(t, "testdata/demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := p.Run(context.Background(), "demo.pcap", src, nil); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	want := map[string][]event.Kind{
		"c0:56:e3:1a:2b:3c": {event.KindDefaultCredentials, event.KindPlaintextProtocol},                           // camera
		"50:c7:bf:0a:1b:2c": {event.KindPlaintextCredentials, event.KindPersonalData, event.KindPlaintextProtocol}, // plug
		"8c:79:f5:3d:4e:5f": {event.KindFirmwareOverHTTP, event.KindPlaintextProtocol},                             // TV
		"3c:a9:f4:6a:7b:8c": nil,                                                                                   // laptop
	}
	for _, d := range p.Inventory().Devices() {
		kinds, ok := want[d.Key.String()]
		if !ok {
			continue
		}
		delete(want, d.Key.String())
		got := map[event.Kind]bool{}
		for _, f := range d.Findings {
			got[f.Kind] = true
		}
		for _, k := range kinds {
			if !got[k] {
				t.Errorf("%s: no %s finding (has %v)", d.Key, k, got)
			}
		}
		if kinds == nil && len(got) > 0 {
			t.Errorf("%s: the well-behaved laptop has findings %v", d.Key, got)
		}
	}
	for k := range want {
		t.Errorf("device %s not in the inventory", k)
	}
}

// A flood of half-open connections and garbage payloads from ever new
// addresses and MACs costs CPU, never memory beyond the configured caps.
func TestFloodStaysWithinCaps(t *testing.T) {
	cfg := config.Default()
	cfg.Inspect.MaxFlows = 4096
	cfg.Inspect.MaxDevices = 256
	cfg.Inspect.MaxBuffers = 128
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	syn := steadyFrame(t, 1, 23, "")
	junk := steadyFrame(t, 1, 80, "GET /\x00\xff\xfe garbage without an end of line, many bytes of it ......")
	info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: time.Unix(1700000000, 0)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 300000
	for i := 0; i < n; i++ {
		frame := syn
		if i%2 == 1 {
			frame = junk
		} else {
			frame[tcpOffset+13] = 0x02 // SYN only
		}
		frame[6+5] = byte(i)                                     // source MAC
		binary.BigEndian.PutUint16(frame[6+3:], uint16(i>>8))    // more of it
		binary.BigEndian.PutUint16(frame[14+12+2:], uint16(i))   // source IP, low half
		binary.BigEndian.PutUint16(frame[tcpOffset:], uint16(i)) // source port
		info.Timestamp = info.Timestamp.Add(time.Microsecond)
		p.HandleFrame(frame, info)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := p.Engine().Flows(); got > cfg.Inspect.MaxFlows {
		t.Errorf("%d flows, cap %d", got, cfg.Inspect.MaxFlows)
	}
	if got := p.Inventory().Len(); got > cfg.Inspect.MaxDevices {
		t.Errorf("%d devices, cap %d", got, cfg.Inspect.MaxDevices)
	}
	if p.Engine().Stats.FlowsEvicted < n-uint64(cfg.Inspect.MaxFlows)-1 {
		t.Errorf("only %d flows evicted", p.Engine().Stats.FlowsEvicted)
	}
	// Flow slots are allocated as the table fills, up to its cap; buffers
	// and the other tables are capped too: what may grow is bounded by
	// the caps above (a few MB).
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 16<<20 {
		t.Errorf("heap grew by %d MB during the flood", grow>>20)
	}
}

// TestRestoreLeavesAddressesToTheRecords: a finding saved while the camera
// had .101 does not give it .101 back at a restart, when a DHCP lease gave
// it to the phone since: the camera's quarantine entry would cut the phone
// off.
func TestRestoreLeavesAddressesToTheRecords(t *testing.T) {
	p, err := New(config.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	camera, phone := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0c}, hwaddr.MAC{0xf0, 0x99, 0, 0, 0, 1}
	old, now := netip.MustParseAddr("192.168.1.101"), netip.MustParseAddr("192.168.1.120")
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p.Restore([]store.DeviceRecord{
		{MAC: camera, Addrs: []netip.Addr{now}, FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour), Findings: []event.Event{{
			V: 1, Time: t0.Add(time.Hour), Type: event.TypeFinding, Kind: event.KindDefaultCredentials, Severity: event.SeverityHigh,
			Device: event.Endpoint{MAC: camera.String(), IP: old.String(), Local: true}, Summary: "default password",
			Evidence: event.Evidence{"protocol": "telnet", "password_class": "default"}}}},
		{MAC: phone, Addrs: []netip.Addr{old}, FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour)},
	})
	for mac, want := range map[hwaddr.MAC][]netip.Addr{camera: {now}, phone: {old}} {
		d, ok := p.Inventory().Lookup(device.Key{MAC: mac})
		if !ok || !slices.Equal(d.Addrs, want) {
			t.Errorf("%s: addresses %v after the restart, want %v", mac, d.Addrs, want)
		}
	}
	if d, _ := p.Inventory().Lookup(device.Key{MAC: camera}); len(d.Findings) != 1 {
		t.Errorf("camera's findings after the restart: %v", d.Findings)
	}
}

// TestRestoreRemasksFirmwareURLs: a firmware_over_http finding saved by
// an earlier version, whose URL named the device's IMEI as the file
// name, comes back without it, in the evidence and the summary; one with
// nothing to hide comes back as saved.
func TestRestoreRemasksFirmwareURLs(t *testing.T) {
	const imei = "357938035643809"
	tests := []struct {
		name, url, request, want string
	}{
		{"imei_file", "fw.vendor.example/fota/" + imei + ".bin", "", "fw.vendor.example/fota/..."},
		{"userinfo_host", "admin:hunter22@fw.vendor.example/fw.bin", "", ".../fw.bin"},
		{"check_with_serial", "api.vendor.example/ota/SN12345678/check", "update_check", "api.vendor.example/ota/.../check"},
		{"nothing_to_hide", "fw.vendor.example/fw/cam_5.7.3.bin", "", "fw.vendor.example/fw/cam_5.7.3.bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(config.Default(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			camera := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0c}
			ev := event.Event{V: 1, Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Type: event.TypeFinding,
				Kind: event.KindFirmwareOverHTTP, Severity: event.SeverityMedium, Device: event.Endpoint{MAC: camera.String(), Local: true},
				Summary:  "Firmware or software update downloaded over plain HTTP from " + tt.url,
				Evidence: event.Evidence{"url": tt.url, "status": "200"}}
			if tt.request != "" {
				ev.Evidence["request"] = tt.request
			}
			p.Restore([]store.DeviceRecord{{MAC: camera, Findings: []event.Event{ev}}})
			d, ok := p.Inventory().Lookup(device.Key{MAC: camera})
			if !ok || len(d.Findings) != 1 {
				t.Fatalf("findings after the restart: %v", d)
			}
			got := d.Findings[0]
			if got.Evidence["url"] != tt.want || !strings.HasSuffix(got.Summary, "from "+tt.want) {
				t.Errorf("url %q, summary %q: want %q", got.Evidence["url"], got.Summary, tt.want)
			}
			for _, s := range []string{imei, "hunter22", "SN12345678"} {
				if strings.Contains(got.Evidence["url"]+got.Summary, s) {
					t.Errorf("%q is still in the restored finding", s)
				}
			}
		})
	}
}

// TestRestoreRemasksServerNames: a plaintext_protocol or weak_tls finding
// saved by an earlier version, whose server name held the device's
// identifier, comes back with the label as "...", in the evidence and
// the summary; a service's own name comes back as saved.
func TestRestoreRemasksServerNames(t *testing.T) {
	tests := []struct {
		name      string
		kind      event.Kind
		key, host string
		summary   string // with %s for the host
		want      string
	}{
		{"plaintext_mac_label", event.KindPlaintextProtocol, "server_name", "a1b2c3d4e5f6.iot.vendor.example",
			"Unencrypted HTTP to %s (203.0.113.5:80) on the internet", "....iot.vendor.example"},
		{"weak_tls_serial_label", event.KindWeakTLS, "sni", "sn-357938035643809.devices.example",
			"Weak TLS: TLS 1.0 to %s", "....devices.example"},
		{"service_name_kept", event.KindPlaintextProtocol, "server_name", "iot-as-mqtt.cn-shanghai.aliyuncs.com",
			"Unencrypted MQTT to %s (203.0.113.5:1883) on the internet", "iot-as-mqtt.cn-shanghai.aliyuncs.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(config.Default(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			camera := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0c}
			p.Restore([]store.DeviceRecord{{MAC: camera, Findings: []event.Event{{V: 1,
				Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Type: event.TypeFinding, Kind: tt.kind,
				Severity: event.SeverityLow, Device: event.Endpoint{MAC: camera.String(), Local: true},
				Summary: strings.ReplaceAll(tt.summary, "%s", tt.host), Evidence: event.Evidence{tt.key: tt.host}}}}})
			d, ok := p.Inventory().Lookup(device.Key{MAC: camera})
			if !ok || len(d.Findings) != 1 {
				t.Fatalf("findings after the restart: %v", d)
			}
			got := d.Findings[0]
			if want := strings.ReplaceAll(tt.summary, "%s", tt.want); got.Evidence[tt.key] != tt.want || got.Summary != want {
				t.Errorf("%s %q, summary %q: want %q, %q", tt.key, got.Evidence[tt.key], got.Summary, tt.want, want)
			}
		})
	}
}
