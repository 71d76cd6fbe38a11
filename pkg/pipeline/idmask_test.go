package pipeline

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// TestNoEventShowsTheDeviceIdentifier: a camera whose cloud host is
// named after its MAC looks the name up, sends it as a TLS server name
// and as an HTTP Host, and uploads in clear: no event of any analyzer
// shows the MAC, in its summary or its evidence, and the events that
// name the host show it masked.
func TestNoEventShowsTheDeviceIdentifier(t *testing.T) {
	const id = "a4cf129b3e01"
	const host, masked = id + ".iot.vendor.example", "....iot.vendor.example"
	col := &inspecttest.Collector{}
	p, err := New(config.Default(), Options{Sinks: []inspect.Sink{col}})
	if err != nil {
		t.Fatal(err)
	}
	e := p.Engine()
	inspecttest.NewUDP(e, "192.168.1.10:30000", "192.168.1.1:53").Lookup(1, host, netip.MustParseAddr("203.0.113.50"))
	inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.50:443").ClientBytes(clientHello(t, host)).Close()
	inspecttest.NewTCP(e, "192.168.1.10:40001", "203.0.113.50:80").
		Client("POST /api/telemetry HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: camd/1.2\r\nContent-Length: 2\r\n\r\n{}").Close()
	e.Flush()

	named := map[string]string{} // kind → the host as the event names it
	for _, ev := range col.Events {
		text := []string{ev.Summary}
		for k, v := range ev.Evidence {
			text = append(text, k+"="+v)
			if k == "name" || k == "sni" || k == "host" || k == "server_name" {
				named[string(ev.Kind)] = v
			}
		}
		if s := strings.Join(text, " "); strings.Contains(strings.ToLower(s), id) {
			t.Errorf("%s shows the identifier: %s", ev.Kind, s)
		}
	}
	for _, k := range []event.Kind{event.KindDNSQuery, event.KindTLSClient, event.KindHTTPClient, event.KindPlaintextProtocol} {
		if named[string(k)] != masked {
			t.Errorf("%s names the host %q, want %q", k, named[string(k)], masked)
		}
	}
}

// clientHello is the first TLS record a Go client sends to serverName.
func clientHello(t *testing.T, serverName string) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		defer client.Close()
		_ = tls.Client(client, &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}).Handshake()
	}()
	header := make([]byte, 5)
	if _, err := io.ReadFull(server, header); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint16(header[3:]))
	if _, err := io.ReadFull(server, body); err != nil {
		t.Fatal(err)
	}
	return append(header, body...)
}
