package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// TestDNSProxyAnswersAtLinkLocal: a quarantined device that asks the
// router's link-local address for DNS (a resolver announced so) is
// redirected by the kernel to the link-local address of the interface
// the query came in on, not to the addresses the proxy took from the
// router's identity; the proxy listens there too, so the device gets the
// notice answer instead of a refusal, over UDP and TCP.
func TestDNSProxyAnswersAtLinkLocal(t *testing.T) {
	testenv.RequireRoot(t, "needs root (network namespaces, nftables)")
	const (
		routerV4, routerV6 = "192.168.9.1", "fd09::1"
		proxyPort          = 5354
	)
	deviceMAC, _ := hwaddr.Parse("02:00:00:00:09:10")
	router := netnstest.New(t, "iotgwll", "router")
	device := netnstest.New(t, "iotgwll", "device")
	netnstest.NoDAD(t, router, device)
	netnstest.CmdIn(t, router, "ip", "link", "add", "br-lan", "type", "bridge")
	netnstest.BridgeHost(t, router, "br-lan", netnstest.LANHost{NS: device, Port: "lan0", MAC: deviceMAC.String(),
		V4: "192.168.9.10/24", V6: "fd09::10/64"}, routerV4, routerV6)
	netnstest.CmdIn(t, router, "ip", "addr", "add", routerV4+"/24", "dev", "br-lan")
	netnstest.CmdIn(t, router, "ip", "addr", "add", routerV6+"/64", "dev", "br-lan", "nodad")
	netnstest.CmdIn(t, router, "ip", "link", "set", "br-lan", "up")

	cfg := config.Default()
	cfg.LAN.Interfaces = []string{"br-lan"}
	cfg.Daemon.RouterAddresses = nil
	cfg.DNSProxy.Port = proxyPort
	// The kernel gives the bridge its link-local address once a port is
	// up, a moment after.
	var addrs, linkLocal []netip.Addr
	for deadline := time.Now().Add(10 * time.Second); len(linkLocal) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		err := netnstest.Run(router, func() error {
			addrs, _, _ = routerIdentity(cfg)
			linkLocal = linkLocalAddrs(cfg.LAN.Interfaces, systemInterface)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(linkLocal) == 0 {
		t.Fatal("br-lan got no link-local address")
	}

	quarantineIn(t, router, quarantine.Config{
		RouterAddrs:   addrs,
		LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("192.168.9.0/24"), netip.MustParsePrefix("fd09::/64")},
		LANInterfaces: cfg.LAN.Interfaces,
		NoticePort:    8088,
		DNSProxyPort:  proxyPort,
	}, quarantine.Entry{MAC: deviceMAC, Mode: quarantine.ModeBlock,
		Addrs: []netip.Addr{netip.MustParseAddr("192.168.9.10"), netip.MustParseAddr("fd09::10")}})

	serveProxy(t, router, proxyConfig(cfg, proxySite{addrs: append(addrs, linkLocal...)}))

	for _, network := range []string{"udp", "tcp"} {
		for _, ll := range linkLocal {
			to := net.JoinHostPort(ll.WithZone("eth0").String(), "53")
			c, err := netnstest.Dial(device, network, to, 3*time.Second)
			if err != nil {
				t.Errorf("%s to %s: %v", network, to, err)
				continue
			}
			got, err := netnstest.QueryA(c, 3*time.Second)
			c.Close()
			if err != nil || !got.Equal(net.ParseIP(routerV4)) {
				t.Errorf("%s query to %s: %v, %v; want the notice address %s from the proxy", network, to, got, err, routerV4)
			}
		}
	}
}

// TestDNSProxyFollowsAddressMessages: an address added to the LAN bridge
// (a renumbering, a prefix delegated, the link-local address a bridge
// gets with its first port) is listened on once the kernel tells of it.
// The poll is an hour here, so only the netlink messages netwatch
// follows can bring the proxy there before the deadline.
func TestDNSProxyFollowsAddressMessages(t *testing.T) {
	testenv.RequireRoot(t, "needs root (network namespaces)")
	const (
		routerV4  = "192.168.8.1"
		proxyPort = 5355
	)
	deviceMAC, _ := hwaddr.Parse("02:00:00:00:08:10")
	router := netnstest.New(t, "iotgwaddr", "router")
	device := netnstest.New(t, "iotgwaddr", "device")
	netnstest.NoDAD(t, router, device)
	netnstest.CmdIn(t, router, "ip", "link", "add", "br-lan", "type", "bridge")
	netnstest.BridgeHost(t, router, "br-lan", netnstest.LANHost{NS: device, Port: "lan0", MAC: deviceMAC.String(),
		V4: "192.168.8.10/24", V6: "fd08::10/64"}, routerV4, "fd08::1")
	netnstest.CmdIn(t, router, "ip", "addr", "add", routerV4+"/24", "dev", "br-lan")
	netnstest.CmdIn(t, router, "ip", "link", "set", "br-lan", "up")

	cfg := config.Default()
	cfg.LAN.Interfaces = []string{"br-lan"}
	cfg.Daemon.RouterAddresses = nil
	cfg.DNSProxy.Port = proxyPort
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := netwatch.New(netwatch.Config{Interfaces: cfg.LAN.Interfaces, LeaseFiles: []string{}, NetNSPath: "/run/netns/" + router},
		netwatch.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if err := w.Run(ctx, make(chan netwatch.Event, 64)); err != nil {
			t.Errorf("netwatch: %v", err)
		}
	})

	current := func() proxySite {
		var site proxySite
		err := netnstest.Run(router, func() error { site = proxySiteFrom(cfg, systemInterface); return nil })
		if err != nil {
			t.Errorf("reading the router's addresses: %v", err)
		}
		return site
	}
	build := func(site proxySite) (*dnsproxy.Proxy, error) {
		return dnsproxy.New(proxyConfig(cfg, site), dnsproxy.Deps{Quarantine: &dnsproxy.AddrSet{}, Logger: discard})
	}
	wake := addrWake{changed: w.AddrChanged, poll: time.Hour, quiet: addrQuiet, most: addrMost}
	up := make(chan struct{})
	var started sync.Once
	wg.Go(func() {
		// keepServing's part: start again when the addresses changed,
		// on the thread in the router's namespace, where the sockets
		// are made.
		err := netnstest.Run(router, func() error {
			for {
				err := serveDNSProxy(ctx, func() { started.Do(func() { close(up) }) }, current, wake, build)
				if ctx.Err() != nil || !errors.Is(err, errAddressesChanged) {
					return err
				}
			}
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("proxy: %v", err)
		}
	})
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy did not start")
	}

	// The answer is the address the query reached, or for IPv6 the
	// bridge's first IPv4 address.
	for _, tt := range []struct {
		name, add, query, want string
	}{
		{"second_ipv4", "192.168.8.2/24", "192.168.8.2", "192.168.8.2"},
		{"unique_local_ipv6", "fd08::1/64", "fd08::1", routerV4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			netnstest.CmdIn(t, router, "ip", "addr", "add", tt.add, "dev", "br-lan", "nodad")
			to := net.JoinHostPort(tt.query, strconv.Itoa(proxyPort))
			var got net.IP
			var err error
			// The deadline only stops a broken test from hanging.
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				var c net.Conn
				if c, err = netnstest.Dial(device, "udp", to, time.Second); err != nil {
					continue
				}
				got, err = netnstest.QueryA(c, 500*time.Millisecond)
				c.Close()
				if err == nil {
					break
				}
			}
			if err != nil || !got.Equal(net.ParseIP(tt.want)) {
				t.Errorf("query to %s after the address was added: %v, %v; want the notice address %s", to, got, err, tt.want)
			}
		})
	}
}

// TestDNSProxyAnswersRedirectedQueriesOnTheirLink: a quarantined device
// on a guest bridge that asks a resolver of its own (a hard-coded
// 8.8.8.8 or 2001:4860:4860::8888), or the router's address on the
// other bridge, is redirected by the kernel to an address of the guest
// bridge, and is answered with the guest bridge's addresses in both
// families, not br-lan's, over UDP and TCP, though the guest bridge has
// a second IPv4 address and both a unique local and a global IPv6
// prefix. Which IPv6 address the kernel's redirect takes is the
// kernel's choice; the answer is one of the guest bridge's.
func TestDNSProxyAnswersRedirectedQueriesOnTheirLink(t *testing.T) {
	testenv.RequireRoot(t, "needs root (network namespaces, nftables)")
	const proxyPort = 5356
	deviceMAC, _ := hwaddr.Parse("02:00:00:00:0a:10")
	router := netnstest.New(t, "iotgwrd", "router")
	device := netnstest.New(t, "iotgwrd", "device")
	netnstest.NoDAD(t, router, device)
	for _, br := range []string{"br-lan", "br-guest"} {
		netnstest.CmdIn(t, router, "ip", "link", "add", br, "type", "bridge")
	}
	netnstest.BridgeHost(t, router, "br-guest", netnstest.LANHost{NS: device, Port: "guest0", MAC: deviceMAC.String(),
		V4: "192.168.10.10/24", V6: "2001:db8:10::10/64"}, "192.168.10.1", "2001:db8:10::1")
	netnstest.CmdIn(t, device, "ip", "addr", "add", "fd10::10/64", "dev", "eth0", "nodad")
	for _, a := range [][2]string{
		{"br-lan", "192.168.9.1/24"}, {"br-lan", "fd09::1/64"},
		{"br-guest", "192.168.10.1/24"}, {"br-guest", "10.10.10.1/24"}, {"br-guest", "2001:db8:10::1/64"}, {"br-guest", "fd10::1/64"},
	} {
		netnstest.CmdIn(t, router, "ip", "addr", "add", a[1], "dev", a[0], "nodad")
	}
	for _, br := range []string{"br-lan", "br-guest"} {
		netnstest.CmdIn(t, router, "ip", "link", "set", br, "up")
	}
	guest := map[string]bool{"192.168.10.1": true, "10.10.10.1": true, "2001:db8:10::1": true, "fd10::1": true}

	cfg := config.Default()
	cfg.LAN.Interfaces = []string{"br-lan", "br-guest"}
	cfg.Daemon.RouterAddresses = nil
	cfg.DNSProxy.Port = proxyPort
	var site proxySite
	if err := netnstest.Run(router, func() error { site = proxySiteFrom(cfg, systemInterface); return nil }); err != nil {
		t.Fatal(err)
	}
	quarantineIn(t, router, quarantine.Config{
		RouterAddrs:   site.addrs,
		LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
		LANInterfaces: cfg.LAN.Interfaces,
		NoticePort:    8088,
		DNSProxyPort:  proxyPort,
	}, quarantine.Entry{MAC: deviceMAC, Mode: quarantine.ModeBlock})
	serveProxy(t, router, proxyConfig(cfg, site))

	for _, server := range []string{"8.8.8.8", "192.168.9.1", "2001:4860:4860::8888", "fd09::1"} {
		for _, network := range []string{"udp", "tcp"} {
			for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
				to := net.JoinHostPort(server, "53")
				var r *dns.Msg
				err := netnstest.Run(device, func() (err error) {
					q := new(dns.Msg)
					q.SetQuestion("cloud.example.test.", qtype)
					r, _, err = (&dns.Client{Net: network, Timeout: 3 * time.Second}).Exchange(q, to)
					return err
				})
				if err != nil {
					t.Errorf("%s %s to %s: %v", network, dns.TypeToString[qtype], to, err)
					continue
				}
				var got []string
				for _, rr := range r.Answer {
					switch rr := rr.(type) {
					case *dns.A:
						got = append(got, rr.A.String())
					case *dns.AAAA:
						got = append(got, rr.AAAA.String())
					}
				}
				if len(got) != 1 || !guest[got[0]] {
					t.Errorf("%s %s to %s answered %v; want one of br-guest's addresses", network, dns.TypeToString[qtype], to, got)
				}
			}
		}
	}
}

// quarantineIn puts iotgw's tables of cfg in the namespace router, with
// entries quarantined and no device protected.
func quarantineIn(t *testing.T, router string, cfg quarantine.Config, entries ...quarantine.Entry) {
	t.Helper()
	n, err := quarantine.NewNFTables(cfg, quarantine.WithNetNSFd(netnstest.Fd(t, router)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
}

// serveProxy starts a DNS proxy of cfg in the namespace router, once it
// listens; it stops, and its error is reported, when the test ends.
func serveProxy(t *testing.T, router string, cfg dnsproxy.Config) {
	t.Helper()
	p, err := dnsproxy.New(cfg, dnsproxy.Deps{Quarantine: &dnsproxy.AddrSet{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- netnstest.Run(router, func() error { return p.Serve(ctx, func() { close(up) }) }) }()
	select {
	case <-up:
	case err := <-done:
		cancel()
		t.Fatalf("the proxy did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})
}
