package main

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/config"
)

// In nflog mode the capture interfaces are not used: an owner whose
// bridge is not br-lan names it in [lan] only, and the router's
// addresses must come from there, or the DNS proxy has nothing to
// listen on and the daemon stops. Loopback stands in for the bridge.
func TestRouterIdentityFromLANInterfaces(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatalf("no loopback interface: %v", err)
	}
	cfg := config.Default()
	cfg.Capture.Mode = "nflog"
	cfg.Capture.Interfaces = []string{"iotgw-none0"}
	cfg.LAN.Interfaces = []string{lo.Name}
	addrs, _, unread := routerIdentity(cfg)
	if len(unread) != 0 {
		t.Fatal(unread)
	}
	if !slices.Contains(addrs, netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("router addresses %v, want those of the LAN interface %s", addrs, lo.Name)
	}
}

func TestRouterIdentityInterfaces(t *testing.T) {
	mac := func(s string) net.HardwareAddr {
		m, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	system := map[string]ifaceIdentity{
		"br-home": {mac: mac("02:00:00:00:00:01"), addrs: []netip.Addr{netip.MustParseAddr("192.168.7.1"), netip.MustParseAddr("fd00::1")}},
		"br-lan":  {mac: mac("02:00:00:00:00:02"), addrs: []netip.Addr{netip.MustParseAddr("192.168.1.1")}},
		"eth1":    {mac: mac("02:00:00:00:00:02"), addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		"wg0":     {addrs: []netip.Addr{netip.MustParseAddr("10.9.0.1")}},
	}
	lookup := func(name string) (ifaceIdentity, error) {
		id, ok := system[name]
		if !ok {
			return ifaceIdentity{}, errors.New("no such network interface")
		}
		return id, nil
	}
	for _, tc := range []struct {
		name      string
		mode      string
		lan       []string
		capture   []string
		router    []string // daemon.router_addresses
		wantAddrs []string
		wantMACs  []string
		unread    []string // interfaces that cannot be read
	}{
		{name: "nflog_bridge_named_in_lan_only", mode: "nflog", lan: []string{"br-home"}, capture: []string{"br-lan-missing"},
			wantAddrs: []string{"192.168.7.1", "fd00::1"}, wantMACs: []string{"02:00:00:00:00:01"}},
		{name: "nflog_ignores_capture_interfaces", mode: "nflog", lan: []string{"br-home"}, capture: []string{"br-lan"},
			wantAddrs: []string{"192.168.7.1", "fd00::1"}, wantMACs: []string{"02:00:00:00:00:01"}},
		{name: "afpacket_same_interface_once", mode: "afpacket", lan: []string{"br-lan"}, capture: []string{"br-lan"},
			wantAddrs: []string{"192.168.1.1"}, wantMACs: []string{"02:00:00:00:00:02"}},
		{name: "afpacket_adds_capture_interfaces", mode: "afpacket", lan: []string{"br-home"}, capture: []string{"eth1"},
			wantAddrs: []string{"192.168.7.1", "fd00::1", "10.0.0.1"}, wantMACs: []string{"02:00:00:00:00:01", "02:00:00:00:00:02"}},
		{name: "shared_mac_once", mode: "afpacket", lan: []string{"br-lan"}, capture: []string{"eth1"},
			wantAddrs: []string{"192.168.1.1", "10.0.0.1"}, wantMACs: []string{"02:00:00:00:00:02"}},
		// A guest bridge switched off: the rest is read, the daemon runs.
		{name: "afpacket_capture_interface_missing", mode: "afpacket", lan: []string{"br-home"}, capture: []string{"br-home", "br-gone"},
			wantAddrs: []string{"192.168.7.1", "fd00::1"}, wantMACs: []string{"02:00:00:00:00:01"}, unread: []string{"br-gone"}},
		{name: "afpacket_lan_interface_missing", mode: "afpacket", lan: []string{"br-gone"}, capture: []string{"br-lan"},
			wantAddrs: []string{"192.168.1.1"}, wantMACs: []string{"02:00:00:00:00:02"}, unread: []string{"br-gone"}},
		{name: "pcap_lan_interface_missing", mode: "pcap", lan: []string{"br-gone"}, capture: []string{"br-gone"}, unread: []string{"br-gone"}},
		{name: "no_mac_no_problem", mode: "nflog", lan: []string{"wg0"}, wantAddrs: []string{"10.9.0.1"}},
		{name: "configured_addresses_win", mode: "nflog", lan: []string{"br-home"}, router: []string{"192.168.7.254"},
			wantAddrs: []string{"192.168.7.254"}, wantMACs: []string{"02:00:00:00:00:01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Capture.Mode, cfg.Capture.Interfaces, cfg.LAN.Interfaces = tc.mode, tc.capture, tc.lan
			for _, a := range tc.router {
				cfg.Daemon.RouterAddresses = append(cfg.Daemon.RouterAddresses, netip.MustParseAddr(a))
			}
			addrs, macs, unread := routerIdentityFrom(cfg, lookup)
			if len(unread) != len(tc.unread) {
				t.Errorf("unread %v, want %v", unread, tc.unread)
			}
			for i := range min(len(unread), len(tc.unread)) {
				if !strings.Contains(unread[i].Error(), "interface "+tc.unread[i]) {
					t.Errorf("unread[%d] = %v, want interface %s", i, unread[i], tc.unread[i])
				}
			}
			var gotAddrs, gotMACs []string
			for _, a := range addrs {
				gotAddrs = append(gotAddrs, a.String())
			}
			for _, m := range macs {
				gotMACs = append(gotMACs, m.String())
			}
			if !slices.Equal(gotAddrs, tc.wantAddrs) || !slices.Equal(gotMACs, tc.wantMACs) {
				t.Errorf("addresses %v, MACs %v; want %v, %v", gotAddrs, gotMACs, tc.wantAddrs, tc.wantMACs)
			}
		})
	}
}
