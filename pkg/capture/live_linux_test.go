//go:build linux

package capture

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// TestOpen opens each mode through the one switch, in a namespace with a
// veth, and reads a frame from the AF_PACKET source.
func TestOpen(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.8.1/24", device, "eth0", "10.98.8.2/24")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tests := []struct {
		name    string
		mode    string
		ifaces  []string
		wantErr string
	}{
		{"afpacket", ModeAFPacket, []string{"lan0"}, ""},
		{"nflog", ModeNFLOG, nil, ""},
		{"unknown_mode", "pcap", nil, "unknown mode"},
		{"missing_interface", ModeAFPacket, []string{"nosuch0"}, "nosuch0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultLiveConfig()
			cfg.Mode, cfg.Interfaces = tt.mode, tt.ifaces
			var src Source
			var err error
			// Open's error is the subject of the test; nsErr is entering
			// the namespace.
			if nsErr := netnstest.Run(router, func() error {
				src, err = Open(ctx, cfg)
				return nil
			}); nsErr != nil {
				t.Fatal(nsErr)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || src != nil {
					t.Fatalf("Open = %v, %v; want nil and an error containing %q", src, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if tt.mode != ModeAFPacket {
				return
			}
			got := make(chan string, 1)
			go func() {
				for {
					data, _, err := src.ReadPacket()
					if err != nil {
						got <- err.Error()
						return
					}
					if f := decodeSeen(data, Info{}); f.dport == 53 {
						got <- string(f.payload)
						return
					}
				}
			}()
			if err := netnstest.Run(device, func() error {
				c, err := net.ListenPacket("udp4", ":0")
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = c.WriteTo([]byte("open-dns"), &net.UDPAddr{IP: net.IPv4(10, 98, 8, 1), Port: 53})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case s := <-got:
				if s != "open-dns" {
					t.Fatalf("read %q", s)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no frame")
			}
		})
	}
}
