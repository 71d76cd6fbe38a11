package mqtt

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/http"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// WebSocket frame header bits (RFC 6455 section 5.2).
const (
	wsFin          = 0x80
	wsRSV1         = 0x40
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsPing         = 0x9
)

// wsFrame builds a WebSocket frame: b0 is FIN, RSV and opcode. A
// client's frame is masked (masked), a server's not.
func wsFrame(b0 byte, masked bool, payload []byte) []byte {
	out := []byte{b0, 0}
	switch n := len(payload); {
	case n < 126:
		out[1] = byte(n)
	case n <= 0xffff:
		out[1] = 126
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out[1] = 127
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	out[1] |= 0x80
	key := []byte{0x5e, 0x91, 0x0c, 0xd7}
	out = append(out, key...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// wsMessage is payload as one masked binary frame, from the client.
func wsMessage(payload []byte) []byte { return wsFrame(wsFin|wsBinary, true, payload) }

// upgradeRequest and upgradeAnswer are a WebSocket handshake (RFC 6455
// section 1.3) as browsers' MQTT clients and mosquitto's libwebsockets
// send them, offering and choosing the subprotocol(s) given ("" for
// no Sec-WebSocket-Protocol header).
func upgradeRequest(offer string) string {
	h := "GET /mqtt HTTP/1.1\r\nHost: broker.example:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if offer != "" {
		h += "Sec-WebSocket-Protocol: " + offer + "\r\n"
	}
	return h + "\r\n"
}

func upgradeAnswer(chosen string) string {
	h := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	if chosen != "" {
		h += "Sec-WebSocket-Protocol: " + chosen + "\r\n"
	}
	return h + "\r\n"
}

// longSubprotocol is a subprotocol name longer than the HTTP analyzer
// keeps.
const longSubprotocol = "com.example.telemetry-stream.v2.protocol"

// TestWebSocket plays MQTT sessions carried in WebSocket messages after
// an HTTP upgrade: the logins and the brokers' verdicts are reported as
// for MQTT over TCP, with transport "websocket".
func TestWebSocket(t *testing.T) {
	v311 := connect(connectOpts{clientID: "web-ui-7", user: str("admin"), pass: str(secret)})
	v31 := connect(connectOpts{name: "MQIsdp", level: 3, clientID: "web-ui-7", user: str("admin"), pass: str(secret)})
	// A 5.0 CONNECT long enough for a 16-bit frame length.
	long := connect(connectOpts{level: 5, props: userProperty(400), clientID: "web-ui-7", user: str("admin"), pass: str(secret)})
	accepted := inspecttest.Login{User: "a***", Mechanism: "CONNECT", Class: "unique", Accepted: "yes"}
	tests := []struct {
		name           string
		offer, chosen  string
		answer         string // the server's handshake, if not upgradeAnswer(chosen)
		client, server []byte // after the handshake
		step           int    // the client's bytes go in segments of this size; 0: one
		want           []inspecttest.Login
		compressed     uint64
	}{
		{"one_frame", "mqtt", "mqtt", "", wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0,
			[]inspecttest.Login{accepted}, 0},
		{"refused", "mqtt", "mqtt", "", wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(5)), 0,
			[]inspecttest.Login{{User: "a***", Mechanism: "CONNECT", Class: "unique", Accepted: "no"}}, 0},
		{"mqtt31_subprotocol", "mqttv3.1", "mqttv3.1", "", wsMessage(v31), wsFrame(wsFin|wsBinary, false, connack(0)), 0,
			[]inspecttest.Login{accepted}, 0},
		{"offer_of_two", "mqtt, mqttv3.1", "mqtt", "", wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0,
			[]inspecttest.Login{accepted}, 0},
		// The CONNECT in fragments, a ping between them, every frame
		// cut across TCP segments.
		{"fragmented_across_segments", "mqtt", "mqtt", "",
			cat(wsFrame(wsBinary, true, v311[:9]), wsFrame(wsFin|wsPing, true, []byte("?")),
				wsFrame(wsContinuation, true, v311[9:20]), wsFrame(wsFin|wsContinuation, true, v311[20:])),
			wsFrame(wsFin|wsBinary, false, connack(0)), 3, []inspecttest.Login{accepted}, 0},
		{"length_16", "mqtt", "mqtt", "", wsMessage(long), wsFrame(wsFin|wsBinary, false, connack5(0)), 100,
			[]inspecttest.Login{accepted}, 0},
		// A message holding the CONNECT and a PUBLISH, the next one a
		// PINGREQ: packet and message boundaries need not meet.
		{"packets_across_messages", "mqtt", "mqtt", "",
			cat(wsMessage(cat(v311, publish(0, "a/b", "x")[:3])), wsMessage(cat(publish(0, "a/b", "x")[3:], []byte{0xc0, 0}))),
			wsFrame(wsFin|wsBinary, false, connack(0)), 0, []inspecttest.Login{accepted}, 0},
		// Some brokers leave the subprotocol out of the answer; the
		// client's offer names it.
		{"answer_without_subprotocol", "mqtt", "", "", wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0,
			[]inspecttest.Login{accepted}, 0},
		{"unmasked_client", "mqtt", "mqtt", "", wsFrame(wsFin|wsBinary, false, v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0,
			[]inspecttest.Login{accepted}, 0},
		{"text_frame", "mqtt", "mqtt", "", wsFrame(wsFin|wsText, true, v311), nil, 0,
			[]inspecttest.Login{{User: "a***", Mechanism: "CONNECT", Class: "unique", Accepted: "unknown"}}, 0},
		{"compressed_not_read", "mqtt", "mqtt", "", wsFrame(wsFin|wsRSV1|wsBinary, true, v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0,
			nil, 1},
		{"other_subprotocol", "chat", "chat", "", wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0, nil, 0},
		{"no_subprotocol", "", "", "", wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0, nil, 0},
		// The answer names a subprotocol too long to keep: it chose that
		// one, not the offer's mqtt.
		{"long_other_subprotocol_chosen", "mqtt, " + longSubprotocol, longSubprotocol, "", wsMessage(v311),
			wsFrame(wsFin|wsBinary, false, connack(0)), 0, nil, 0},
		{"upgrade_to_other_protocol", "mqtt", "", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
			wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0, nil, 0},
		{"upgrade_refused", "mqtt", "", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
			wsMessage(v311), wsFrame(wsFin|wsBinary, false, connack(0)), 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, http.New(nil), New(nil))
			c := inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:8080")
			answer := tt.answer
			if answer == "" {
				answer = upgradeAnswer(tt.chosen)
			}
			c.Client(upgradeRequest(tt.offer)).Server(answer)
			step := tt.step
			if step == 0 {
				step = len(tt.client)
			}
			for b := tt.client; len(b) > 0; b = b[min(step, len(b)):] {
				c.ClientBytes(b[:min(step, len(b))])
			}
			if tt.server != nil {
				c.ServerBytes(tt.server)
			}
			c.Close()
			e.Flush()
			inspecttest.CheckLogins(t, col, "mqtt", "192.168.1.10", tt.want)
			for _, l := range col.Findings() {
				if l.Evidence["transport"] != inspect.TransportWebSocket || l.Flow.App != "http" {
					t.Errorf("evidence %v on an %s flow, want transport websocket on http", l.Evidence, l.Flow.App)
				}
			}
			banners := col.Kind(event.KindBanner)
			if len(tt.want) > 0 && (len(banners) != 1 || banners[0].Evidence["client_id"] != "web-ui-7" || banners[0].Evidence["transport"] != "websocket") {
				t.Errorf("client observations %v, want one of web-ui-7 over websocket", banners)
			}
			if e.Stats.WebSocketCompressed != tt.compressed {
				t.Errorf("%d flows stopped at a compressed frame, want %d", e.Stats.WebSocketCompressed, tt.compressed)
			}
			if inspecttest.Leaks(t, col.Events, secret) {
				t.Error("the password leaked into an event")
			}
		})
	}
}

// TestWebSocketLongFields: over WebSocket as over TCP, a client
// identifier or Will longer than the kept prefix does not cost the login
// after it, in one message or in fragments cut across segments.
func TestWebSocketLongFields(t *testing.T) {
	v311 := connect(connectOpts{clientID: strings.Repeat("i", 3000), user: str("admin"), pass: str(secret), will: true,
		willTopic: strings.Repeat("t", 3000), willPayload: strings.Repeat("v", 3000)})
	v5 := connect(connectOpts{level: 5, clientID: strings.Repeat("i", 3000), user: str("admin"), pass: str(secret),
		props: userProperty(3000), will: true, willProps: []byte{0}, willTopic: "t", willPayload: "gone"})
	tests := []struct {
		name    string
		client  []byte
		connack []byte
		step    int
	}{
		{"v311_one_message", wsMessage(v311), connack(0), 0},
		{"v311_fragments", cat(wsFrame(wsBinary, true, v311[:2500]), wsFrame(wsFin|wsPing, true, []byte("?")),
			wsFrame(wsFin|wsContinuation, true, v311[2500:])), connack(0), 700},
		{"v5_small_segments", wsMessage(v5), connack5(0), 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, http.New(nil), New(nil))
			c := inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:8080")
			c.Client(upgradeRequest("mqtt")).Server(upgradeAnswer("mqtt"))
			step := tt.step
			if step == 0 {
				step = len(tt.client)
			}
			for b := tt.client; len(b) > 0; b = b[min(step, len(b)):] {
				c.ClientBytes(b[:min(step, len(b))])
			}
			c.ServerBytes(wsFrame(wsFin|wsBinary, false, tt.connack))
			c.Close()
			e.Flush()
			inspecttest.CheckLogins(t, col, "mqtt", "192.168.1.10",
				[]inspecttest.Login{{User: "a***", Mechanism: "CONNECT", Class: "unique", Accepted: "yes"}})
			if banners := col.Kind(event.KindBanner); len(banners) != 1 || banners[0].Evidence["client_id"] != strings.Repeat("i", 64) {
				t.Errorf("client observations %v", banners)
			}
			if inspecttest.Leaks(t, col.Events, secret) {
				t.Error("the password leaked into an event")
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestWebSocketPublishDoesNotAllocate sends PUBLISH packets in masked
// frames after a login over WebSocket: the frame reader and the analyzer
// allocate nothing.
func TestWebSocketPublishDoesNotAllocate(t *testing.T) {
	sc := &countingScanner{}
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	cfg.ByteBudget = inspect.MaxByteBudget
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{http.New(nil), New(sc)}, Sink: &inspecttest.Collector{}})
	if err != nil {
		t.Fatal(err)
	}
	s := &steadyFlow{e: e, p: &inspect.Packet{}, seq: [2]uint32{1000, 5000},
		client: netip.MustParseAddr("192.168.1.10"), server: netip.MustParseAddr("192.168.1.20")}
	s.send(inspect.ToServer, []byte(upgradeRequest("mqtt")))
	s.send(inspect.ToClient, []byte(upgradeAnswer("mqtt")))
	s.send(inspect.ToServer, wsMessage(connect(connectOpts{clientID: "x", user: str("admin"), pass: str(secret)})))
	s.send(inspect.ToClient, wsFrame(wsFin|wsBinary, false, connack(0)))
	frame := wsMessage(publish(1, "home/livingroom/temperature", `{"t":21.5,"h":40}`))
	allocs := testing.AllocsPerRun(200, func() { s.send(inspect.ToServer, frame) })
	if allocs != 0 {
		t.Errorf("%v allocations per PUBLISH frame, want 0", allocs)
	}
	if sc.n < 400 || e.Stats.WebSockets != 1 {
		t.Errorf("scanner saw %d parts, %d WebSocket flows: the publishes were not read", sc.n, e.Stats.WebSockets)
	}
}

// TestWebSocketRecording reads testdata/mqtt-ws.pcap, recorded by
// scripts/detection/record-mqtt-ws.sh between Debian's mosquitto 2.0.11
// with a websockets listener and a dashboard client: a made-up account's
// wrong password, refused, then the right one, accepted, its CONNECT in
// three fragments (three TCP segments) with a ping between the first two,
// and a PUBLISH after it.
func TestWebSocketRecording(t *testing.T) {
	sc := &recordingScanner{}
	col, err := inspecttest.RunFile(t, "testdata/mqtt-ws.pcap", nil, http.New(nil), New(sc))
	if err != nil {
		t.Fatal(err)
	}
	type login struct{ user, password, accepted, transport, device string }
	var got []login
	for _, l := range col.Findings() {
		ev := l.Evidence
		if ev["protocol"] != "mqtt" || ev["mechanism"] != "CONNECT" || ev["password_class"] != "unique" {
			t.Errorf("evidence %v", ev)
		}
		got = append(got, login{ev["user"], ev["password"], ev["accepted"], ev["transport"], l.Device.IP})
	}
	want := []login{
		{"hu***", "Qu***", "no", "websocket", "192.168.53.10"},
		{"hu***", "La***", "yes", "websocket", "192.168.53.10"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("logins %v, want %v", got, want)
	}
	// One client observation per connection, each of the dashboard.
	banners := col.Kind(event.KindBanner)
	if len(banners) != len(want) {
		t.Errorf("%d client observations, want %d", len(banners), len(want))
	}
	for _, b := range banners {
		if b.Evidence["client_id"] != "hub-dashboard-01" || b.Evidence["transport"] != "websocket" {
			t.Errorf("client observation %v", b.Evidence)
		}
	}
	if topics := sc.where("mqtt_topic"); !slices.Equal(topics, []string{"home/hall/light"}) {
		t.Errorf("scanned topics %q, want the PUBLISH's", topics)
	}
	for _, s := range []string{"Lantern-Quarry-58", "Quarry-Lantern-85", "hub-app"} {
		if inspecttest.Leaks(t, col.Events, s) {
			t.Errorf("%q leaked into an event", s)
		}
	}
}

// TestWebSocketAfterBytesReadByNone: a client's bytes that came while
// every inspection was busy were read by no analyzer, so the frames the
// client sends after the upgrade's answer, the first one the flow's
// analyzer read, do not start where the frame reader would begin: here
// the bytes after the refused ones are the end of a message's payload,
// which happens to read as a frame holding a CONNECT. Nothing of that
// direction is read as frames; no login is reported.
func TestWebSocketAfterBytesReadByNone(t *testing.T) {
	key := []byte{0x5e, 0x91, 0x0c, 0xd7} // wsFrame's masking key
	inner := wsFrame(wsFin|wsBinary, false, connect(connectOpts{clientID: "web-ui-7", user: str("admin"), pass: str(secret)}))
	// A message whose masked payload ends in inner's bytes.
	off := len(publish(0, "cam/log", string(inner))) - len(inner)
	data := make([]byte, len(inner))
	for i, c := range inner {
		data[i] = c ^ key[(off+i)&3]
	}
	outer := wsMessage(publish(0, "cam/log", string(data)))
	cut := len(outer) - len(inner)
	if !bytes.Equal(outer[cut:], inner) {
		t.Fatal("the message does not end in the inner frame")
	}

	col := &inspecttest.Collector{}
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("mqtt test key")
	cfg.MaxInspected = 1
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{http.New(nil), New(nil)}, Sink: col})
	if err != nil {
		t.Fatal(err)
	}
	busy := inspecttest.NewTCP(e, "192.168.1.11:40001", "203.0.113.5:80").Client("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c := inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:8080")
	c.ClientBytes(cat([]byte(upgradeRequest("mqtt")), outer[:cut])) // every inspection busy
	busy.Close()
	c.Server(upgradeAnswer("mqtt")).ClientBytes(outer[cut:]).ServerBytes(wsFrame(wsFin|wsBinary, false, connack(0)))
	c.Close()
	e.Flush()
	if e.Stats.FlowsRefusedBusy != 1 || e.Stats.WebSockets != 1 {
		t.Fatalf("%d flows refused, %d handed to WebSocket: want 1 and 1", e.Stats.FlowsRefusedBusy, e.Stats.WebSockets)
	}
	inspecttest.CheckLogins(t, col, "mqtt", "192.168.1.10", nil)
	if inspecttest.Leaks(t, col.Events, secret) {
		t.Error("the password leaked into an event")
	}
}
