package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// fragmentedSIP writes a capture of a phone's SIP INVITE with Digest
// credentials, 2 KB with its SDP, in three IPv4 fragments sent last
// first, the PBX's 200 OK, and a stray fragment whose datagram never
// completes.
func fragmentedSIP(t *testing.T) string {
	t.Helper()
	return fragmentedSIPSnap(t, 65535)
}

// fragmentedSIPSnap is fragmentedSIP captured with the snap length
// snaplen: longer frames are cut to it, as tcpdump -s cuts them.
func fragmentedSIPSnap(t *testing.T, snaplen int) string {
	t.Helper()
	phone, pbx := net.HardwareAddr{0xc0, 0x56, 0xe3, 1, 2, 3}, net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	phoneIP, pbxIP := net.IP{192, 168, 1, 2}, net.IP{192, 168, 1, 1}
	serialise := func(ls ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	datagram := func(src, dst net.IP, id uint16, payload string) (*layers.IPv4, []byte) {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst, Id: id}
		u := &layers.UDP{SrcPort: 5060, DstPort: 5060}
		if err := u.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		return ip, serialise(ip, u, gopacket.Payload(payload))[20:]
	}
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=- 1 1 IN IP4 192.168.1.2\r\ns=-\r\nc=IN IP4 192.168.1.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 96\r\n")
	for i := range 60 {
		fmt.Fprintf(&sdp, "a=rtpmap:%d codec-%02d/8000\r\n", 96+i, i)
	}
	invite := "INVITE sip:100@pbx SIP/2.0\r\nCall-ID: f1\r\nCSeq: 2 INVITE\r\n" +
		"Authorization: Digest username=\"voi18062\",realm=\"pbx\",uri=\"sip:100@pbx\",nonce=\"1701af566be1\",response=\"397a7781e627ff0a8f94195c18d7909f\"\r\n" +
		fmt.Sprintf("Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", sdp.Len(), sdp.String())
	ip, body := datagram(phoneIP, pbxIP, 77, invite)
	var frames [][]byte
	for off := 0; off < len(body); off += 1480 {
		end := min(off+1480, len(body))
		ip.FragOffset, ip.Flags = uint16(off/8), 0
		if end < len(body) {
			ip.Flags = layers.IPv4MoreFragments
		}
		eth := &layers.Ethernet{SrcMAC: phone, DstMAC: pbx, EthernetType: layers.EthernetTypeIPv4}
		frames = append([][]byte{serialise(eth, ip, gopacket.Payload(body[off:end]))}, frames...)
	}
	if len(frames) != 2 {
		t.Fatalf("%d fragments", len(frames))
	}
	// A stray second fragment of another datagram.
	ip.Id, ip.FragOffset, ip.Flags = 78, 185, 0
	frames = append(frames, serialise(&layers.Ethernet{SrcMAC: phone, DstMAC: pbx, EthernetType: layers.EthernetTypeIPv4}, ip, gopacket.Payload("tail")))
	okIP, okBody := datagram(pbxIP, phoneIP, 9, "SIP/2.0 200 OK\r\nCall-ID: f1\r\nCSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n")
	frames = append(frames, serialise(&layers.Ethernet{SrcMAC: pbx, DstMAC: phone, EthernetType: layers.EthernetTypeIPv4}, okIP, gopacket.Payload(okBody)))

	return writeCapture(t, "sip-fragments.pcap", snaplen, frames)
}

// writeCapture writes frames, a millisecond apart, to a pcap file named
// name in a temporary directory, cut to snaplen as tcpdump -s cuts them,
// and returns its path.
func writeCapture(t *testing.T, name string, snaplen int, frames [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	for i, b := range frames {
		ci := gopacket.CaptureInfo{Timestamp: at.Add(time.Duration(i) * time.Millisecond), CaptureLength: min(len(b), snaplen), Length: len(b)}
		if err := w.WritePacket(ci, b[:ci.CaptureLength]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// fragmentSummary is what the last line of analyze --json says of
// fragments and findings.
type fragmentSummary struct {
	Counters struct {
		Fragments         uint64 `json:"fragments"`
		Reassembled       uint64 `json:"reassembled"`
		ReassemblyDropped uint64 `json:"reassembly_dropped"`
		ReassemblyCut     uint64 `json:"reassembly_cut"`
	} `json:"counters"`
	Devices []struct {
		Findings []struct {
			Kind     string            `json:"kind"`
			Evidence map[string]string `json:"evidence"`
		} `json:"findings"`
	} `json:"devices"`
}

// analyzeFragments runs analyze --json on path and reads its summary.
func analyzeFragments(t *testing.T, path string) (fragmentSummary, string) {
	t.Helper()
	_, stdout, stderr := run(t, "analyze", "--config", "/dev/null", "--quiet", "--json", path)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum fragmentSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("%v: %s (stderr %s)", err, trim(stdout), stderr)
	}
	return sum, stdout
}

// TestAnalyzeReassembles: a login in a fragmented datagram is found, and
// the summary counts the fragments, the datagram reassembled and the one
// left incomplete, in JSON and in the text.
func TestAnalyzeReassembles(t *testing.T) {
	path := fragmentedSIP(t)
	sum, stdout := analyzeFragments(t, path)
	if c := sum.Counters; c.Fragments != 3 || c.Reassembled != 1 || c.ReassemblyDropped != 1 {
		t.Errorf("counters %+v, want 3 fragments, 1 datagram reassembled, 1 dropped", c)
	}
	found := false
	for _, d := range sum.Devices {
		for _, f := range d.Findings {
			if f.Kind == "plaintext_credentials" && f.Evidence["protocol"] == "sip" && f.Evidence["accepted"] == "yes" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no accepted SIP login found: %s", trim(stdout))
	}
	_, text, _ := run(t, "analyze", "--config", "/dev/null", "--quiet", path)
	if !strings.Contains(text, "3 IP fragments: 1 datagrams reassembled and inspected, 1 dropped") || strings.Contains(text, "not reassembled") {
		t.Errorf("text does not tell the fragments:\n%s", text)
	}
}

// TestAnalyzeCutFragments: the same capture taken with a snap length
// shorter than the first fragment: the datagram is not put together from
// the cut fragment (the login in it is not read as if whole), and the
// summary says how many datagrams a cut fragment cost, in JSON and in
// the text.
func TestAnalyzeCutFragments(t *testing.T) {
	path := fragmentedSIPSnap(t, 1000)
	sum, _ := analyzeFragments(t, path)
	if c := sum.Counters; c.Fragments != 3 || c.Reassembled != 0 || c.ReassemblyDropped != 2 || c.ReassemblyCut != 1 {
		t.Errorf("counters %+v, want 3 fragments, none reassembled, 2 dropped, 1 of them cut", c)
	}
	for _, d := range sum.Devices {
		for _, f := range d.Findings {
			if f.Evidence["protocol"] == "sip" {
				t.Errorf("a SIP finding from a datagram whose first fragment was cut: %+v", f)
			}
		}
	}
	_, text, _ := run(t, "analyze", "--config", "/dev/null", "--quiet", path)
	if !strings.Contains(text, "3 IP fragments: 0 datagrams reassembled and inspected, 2 dropped") ||
		!strings.Contains(text, "1 of the dropped datagrams had a fragment cut by the capture's snap length") {
		t.Errorf("text does not tell the cut fragment:\n%s", text)
	}
}
