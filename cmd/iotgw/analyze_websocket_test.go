package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// tcpConversation builds the frames of one TCP connection between a
// LAN client and server, from its handshake on.
type tcpConversation struct {
	t      *testing.T
	macs   [2]net.HardwareAddr // client, server
	ips    [2]net.IP
	ports  [2]uint16
	seq    [2]uint32
	frames [][]byte
}

func newTCPConversation(t *testing.T, clientPort uint16) *tcpConversation {
	c := &tcpConversation{t: t,
		macs:  [2]net.HardwareAddr{{0x3c, 0xa9, 0xf4, 0x6a, 0x7b, 0x8c}, {0xb8, 0x27, 0xeb, 0x10, 0x20, 0x30}},
		ips:   [2]net.IP{{192, 168, 50, 104}, {192, 168, 50, 20}},
		ports: [2]uint16{clientPort, 8080},
		seq:   [2]uint32{1000, 5000},
	}
	c.segment(0, &layers.TCP{SYN: true}, nil)
	c.segment(1, &layers.TCP{SYN: true, ACK: true}, nil)
	c.segment(0, &layers.TCP{ACK: true}, nil)
	return c
}

// segment adds a segment from side (0 client, 1 server) with the flags
// of tcp, which it fills in.
func (c *tcpConversation) segment(side int, tcp *layers.TCP, payload []byte) {
	other := 1 - side
	tcp.SrcPort, tcp.DstPort = layers.TCPPort(c.ports[side]), layers.TCPPort(c.ports[other])
	tcp.Seq, tcp.Ack, tcp.Window = c.seq[side], c.seq[other], 502
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: c.ips[side], DstIP: c.ips[other]}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: c.macs[side], DstMAC: c.macs[other], EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload(payload))
	if err != nil {
		c.t.Fatal(err)
	}
	c.frames = append(c.frames, append([]byte(nil), buf.Bytes()...))
	c.seq[side] += uint32(len(payload))
	if tcp.SYN || tcp.FIN {
		c.seq[side]++
	}
}

func (c *tcpConversation) send(side int, payload []byte) {
	c.segment(side, &layers.TCP{ACK: true, PSH: true}, payload)
}

// mqttOverWebSocket is a dashboard's MQTT login to a broker inside
// WebSocket messages after an HTTP upgrade; with compressed, its CONNECT
// message is marked compressed by permessage-deflate (RSV1).
func mqttOverWebSocket(t *testing.T, clientPort uint16, compressed bool) [][]byte {
	c := newTCPConversation(t, clientPort)
	c.send(0, []byte("GET /mqtt HTTP/1.1\r\nHost: 192.168.50.20:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"))
	c.send(1, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"))
	// MQTT 3.1.1 CONNECT, client "dash", user "hub-app", password
	// "Lamp-Ocean-42", clean session, keep-alive 60 s.
	connect := []byte("\x10\x28\x00\x04MQTT\x04\xc2\x00\x3c\x00\x04dash\x00\x07hub-app\x00\x0dLamp-Ocean-42")
	b0 := byte(0x82) // FIN, binary
	if compressed {
		b0 |= 0x40 // RSV1: permessage-deflate
	}
	c.send(0, append([]byte{b0, byte(len(connect))}, connect...))
	c.send(1, []byte{0x82, 4, 0x20, 2, 0, 0}) // CONNACK, accepted
	return c.frames
}

// TestAnalyzeTellsCompressedWebSocket: a WebSocket connection whose
// inspection stopped at a compressed message is counted in the summary
// and told in the text, beside the WebSocket connections read; one read
// to its end is counted but is no gap.
func TestAnalyzeTellsCompressedWebSocket(t *testing.T) {
	frames := append(mqttOverWebSocket(t, 40001, false), mqttOverWebSocket(t, 40002, true)...)
	path := writeCapture(t, "mqtt-ws-deflate.pcap", 65535, frames)
	_, stdout, stderr := run(t, "analyze", "--config", "/dev/null", "--quiet", "--json", "--findings-only", path)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum struct {
		Counters struct {
			WebSockets          uint64 `json:"websockets"`
			WebSocketCompressed uint64 `json:"websocket_compressed"`
		} `json:"counters"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("%v: %s (stderr %s)", err, trim(stdout), stderr)
	}
	if c := sum.Counters; c.WebSockets != 2 || c.WebSocketCompressed != 1 {
		t.Errorf("%d WebSocket connections, %d stopped at a compressed message; want 2, 1", c.WebSockets, c.WebSocketCompressed)
	}
	// The uncompressed login was read; the compressed one was not.
	events := strings.Join(lines[:len(lines)-1], "\n")
	if n := strings.Count(events, `"mechanism":"CONNECT"`); n != 1 {
		t.Errorf("%d MQTT logins found, want 1:\n%s", n, trim(events))
	}
	_, text, _ := run(t, "analyze", "--config", "/dev/null", "--quiet", path)
	if want := "1 of 2 WebSocket connections read (MQTT over WebSocket) stopped at a compressed message"; !strings.Contains(text, want) {
		t.Errorf("text lacks %q:\n%s", want, text)
	}
	if strings.Contains(stdout+text, "Lamp-Ocean-42") {
		t.Error("the password appears in the output")
	}
}
