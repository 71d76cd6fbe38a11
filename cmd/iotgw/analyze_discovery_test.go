package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestAnalyzeCountsUninspectedDiscovery: SSDP searches from forty
// addresses, beyond the quarter of the inspections broadcast and
// multicast flows may hold, are counted as uninspected connections and
// told in the text.
func TestAnalyzeCountsUninspectedDiscovery(t *testing.T) {
	small := filepath.Join(t.TempDir(), "small.toml")
	if err := os.WriteFile(small, []byte("[inspect]\nmax_inspected = 8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const searches, part = 40, 2
	capture := ssdpSearches(t, searches)
	_, stdout, _ := run(t, "analyze", "--config", small, "--quiet", "--json", "--findings-only", capture)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum struct {
		Counters struct {
			Uninspected uint64 `json:"uninspected"`
		} `json:"counters"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	_, text, _ := run(t, "analyze", "--config", small, "--quiet", capture)
	if got := sum.Counters.Uninspected; got != searches-part || !strings.Contains(text, fmt.Sprintf("%d new connections not inspected", got)) {
		t.Errorf("%d searches uninspected, told: %v; want %d", got, strings.Contains(text, "not inspected"), searches-part)
	}
}

// ssdpSearches writes a capture of n SSDP searches, each from another
// address on the LAN.
func ssdpSearches(t *testing.T, n int) string {
	t.Helper()
	group := net.IP{239, 255, 255, 250}
	search := "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"
	var frames [][]byte
	for i := range n {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0x02, 0, 0, 0, 1, byte(i)}, DstMAC: net.HardwareAddr{0x01, 0, 0x5e, 0x7f, 0xff, 0xfa},
			EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 4, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 168, 1, byte(100 + i)}, DstIP: group}
		udp := &layers.UDP{SrcPort: 40000, DstPort: 1900}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(search)); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, buf.Bytes())
	}
	return writeCapture(t, "ssdp.pcap", 65535, frames)
}
