package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
)

// TestDNSProxyFollowsAddresses: the DNS proxy is built from the router's
// addresses and the LAN's prefixes at each start, so a LAN without its
// IPv4 address yet fails a start (keepServing tries again) instead of
// the daemon, and a proxy whose addresses or prefixes change ends to be
// started with the new ones: a prefix delegated later, on a router
// whose addresses are configured, is a LAN whose sources it answers.
func TestDNSProxyFollowsAddresses(t *testing.T) {
	var mu sync.Mutex
	addrs := []netip.Addr{netip.MustParseAddr("fd00::1")} // IPv6 only: DHCPv4 not answered yet
	var onLink []netip.Prefix
	current := func() proxySite {
		mu.Lock()
		defer mu.Unlock()
		return proxySite{addrs: addrs, onLink: onLink}
	}
	build := func(s proxySite) (*dnsproxy.Proxy, error) {
		cfg := proxyConfigFor(s.addrs)
		return dnsproxy.New(cfg, dnsproxy.Deps{Quarantine: &dnsproxy.AddrSet{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	changed := func(what string, change func()) {
		t.Helper()
		upc := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- serveDNSProxy(context.Background(), func() { close(upc) }, current, addrWake{poll: 10 * time.Millisecond}, build)
		}()
		select {
		case <-upc:
		case err := <-done:
			t.Fatalf("the proxy did not start: %v", err)
		}
		mu.Lock()
		change()
		mu.Unlock()
		select {
		case err := <-done:
			if !errors.Is(err, errAddressesChanged) {
				t.Fatalf("after %s: %v, want errAddressesChanged", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("after %s the proxy went on serving as it was built", what)
		}
	}
	ctx := context.Background()
	if err := serveDNSProxy(ctx, func() {}, current, addrWake{poll: 10 * time.Millisecond}, build); err == nil || !strings.Contains(err.Error(), "notice IPv4") {
		t.Fatalf("start without an IPv4 address: %v, want the proxy's refusal", err)
	}

	mu.Lock()
	addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	mu.Unlock()
	changed("a new address", func() { addrs = append(slices.Clip(addrs), netip.MustParseAddr("::1")) })
	changed("a prefix delegated", func() { onLink = []netip.Prefix{netip.MustParsePrefix("2001:db8:7:1::/64")} })

	// Ended by its context, it says nothing of addresses.
	ctx, cancel := context.WithCancel(ctx)
	upc := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serveDNSProxy(ctx, func() { close(upc) }, current, addrWake{poll: time.Hour}, build) }()
	<-upc
	cancel()
	if err := <-done; errors.Is(err, errAddressesChanged) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestDNSProxyWokenByAddressMessage: an address message ends a proxy
// whose addresses changed long before the poll would have; one that
// changed nothing leaves it serving.
func TestDNSProxyWokenByAddressMessage(t *testing.T) {
	var mu sync.Mutex
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	current := func() proxySite {
		mu.Lock()
		defer mu.Unlock()
		return proxySite{addrs: addrs}
	}
	build := func(s proxySite) (*dnsproxy.Proxy, error) {
		return dnsproxy.New(proxyConfigFor(s.addrs), dnsproxy.Deps{Quarantine: &dnsproxy.AddrSet{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	var sig testSignal
	var reads sync.WaitGroup
	counted := func() proxySite { defer reads.Done(); return current() }
	wake := addrWake{changed: sig.wait, poll: time.Hour, quiet: time.Millisecond, most: time.Millisecond}
	upc := make(chan struct{})
	done := make(chan error, 1)
	reads.Add(2) // at the start, and the check at once
	go func() { done <- serveDNSProxy(context.Background(), func() { close(upc) }, counted, wake, build) }()
	<-upc
	reads.Wait()

	// Nothing changed: each message is one read, and the next read
	// comes only if the one before left the proxy serving (the channel
	// it waits on is taken before it reads).
	for range 2 {
		reads.Add(1)
		sig.notify()
		reads.Wait()
	}

	mu.Lock()
	addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	mu.Unlock()
	reads.Add(1)
	sig.notify()
	select {
	case err := <-done:
		if !errors.Is(err, errAddressesChanged) {
			t.Fatalf("%v, want errAddressesChanged", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the address message did not end the proxy built with the old addresses")
	}
}

// proxyConfigFor is what proxyConfig makes of the addresses, on a free
// port and with loopback allowed (the test has no LAN).
func proxyConfigFor(addrs []netip.Addr) dnsproxy.Config {
	pc := dnsproxy.Config{Upstream: netip.MustParseAddrPort("127.0.0.1:1"), AllQuarantined: true}
	for _, a := range addrs {
		pc.Listen = append(pc.Listen, netip.AddrPortFrom(a, 0))
		if a.Is4() && !pc.NoticeV4.IsValid() {
			pc.NoticeV4 = a
		}
	}
	return pc
}

// TestProxyConfigKeepsTheLANOut: an update domain's answer may not allow
// an address of the LAN, also one in its delegated global IPv6 prefix,
// which the configured private prefixes do not cover; and the proxy
// answers those prefixes only.
func TestProxyConfigKeepsTheLANOut(t *testing.T) {
	lookup := func(name string) (ifaceIdentity, error) {
		if name != "br-lan" {
			return ifaceIdentity{}, errors.New("no such interface")
		}
		return ifaceIdentity{prefixes: []netip.Prefix{
			netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("2a01:db8:1:1::/64"), netip.MustParsePrefix("fe80::/64"),
		}}, nil
	}
	cfg := config.Default()
	onLink := onLinkPrefixes([]string{"br-lan", "br-guest"}, lookup)
	pc := proxyConfig(cfg, proxySite{addrs: []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("2a01:db8:1:1::1")}, onLink: onLink})
	covered := func(a netip.Addr) bool {
		for _, p := range pc.NotAllowed {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, a := range []string{"2a01:db8:1:1::55", "192.168.1.20", "2a01:db8:1:1::1"} {
		if !covered(netip.MustParseAddr(a)) {
			t.Errorf("%s, on the LAN, may be allowed: NotAllowed %v", a, pc.NotAllowed)
		}
	}
	if covered(netip.MustParseAddr("2a01:db8:2::7")) {
		t.Errorf("an internet address is kept out: NotAllowed %v", pc.NotAllowed)
	}
	// The proxy answers the LAN alone: a LAN host forging an internet
	// source would have the router send the answers there.
	client := func(a netip.Addr) bool {
		return len(pc.Clients) == 0 || slices.ContainsFunc(pc.Clients, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	for _, tt := range []struct {
		addr   string
		answer bool
	}{
		{"192.168.1.20", true}, {"2a01:db8:1:1::55", true}, {"fe80::1234", true}, {"10.1.2.3", true},
		{"203.0.113.9", false}, {"2a01:db8:2::7", false},
	} {
		if got := client(netip.MustParseAddr(tt.addr)); got != tt.answer {
			t.Errorf("queries from %s answered: %v, want %v (Clients %v)", tt.addr, got, tt.answer, pc.Clients)
		}
	}
	if slices.ContainsFunc(onLink, func(p netip.Prefix) bool { return p.Addr().IsLinkLocalUnicast() }) {
		t.Errorf("link-local prefix in %v", onLink)
	}
}

// TestProxyConfigLinkLocalClients: of fe80::/10 the proxy answers
// link-local unicast sources, fe80::/64 (RFC 4291 §2.5.6), whatever
// lan.prefixes holds; the rest of the /10 is no host's address.
func TestProxyConfigLinkLocalClients(t *testing.T) {
	cfg := config.Default()
	cfg.LAN.Prefixes = []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}
	pc := proxyConfig(cfg, proxySite{addrs: []netip.Addr{netip.MustParseAddr("192.168.1.1")}})
	for _, tt := range []struct {
		addr   string
		answer bool
	}{
		{"fe80::1234", true},
		{"fe80::ffff:ffff:ffff:ffff", true},
		{"fe80:0:0:1::1", false},
		{"fe80:1::1", false},
		{"febf::1", false},
		{"192.168.1.20", true},
		{"10.1.2.3", false},
	} {
		got := slices.ContainsFunc(pc.Clients, func(p netip.Prefix) bool { return p.Contains(netip.MustParseAddr(tt.addr)) })
		if got != tt.answer {
			t.Errorf("queries from %s answered: %v, want %v (Clients %v)", tt.addr, got, tt.answer, pc.Clients)
		}
	}
}

// TestProxyConfigLinkLocal: a link-local address is listened on only with
// its interface as zone (a socket cannot bind one without), and never
// stands for the notice page nor becomes an invalid prefix.
func TestProxyConfigLinkLocal(t *testing.T) {
	lookup := func(name string) (ifaceIdentity, error) {
		if name != "br-lan" {
			return ifaceIdentity{}, errors.New("no such interface")
		}
		return ifaceIdentity{addrs: []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fe80::1")}}, nil
	}
	linkLocal := linkLocalAddrs([]string{"br-lan", "br-guest"}, lookup)
	if want := []netip.Addr{netip.MustParseAddr("fe80::1%br-lan")}; !slices.Equal(linkLocal, want) {
		t.Fatalf("linkLocalAddrs = %v, want %v", linkLocal, want)
	}
	cfg := config.Default()
	routerAddrs := append([]netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fe80::1")}, linkLocal...)
	pc := proxyConfig(cfg, proxySite{addrs: routerAddrs})
	port := uint16(cfg.DNSProxy.Port)
	want := []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("192.168.1.1"), port), netip.AddrPortFrom(linkLocal[0], port)}
	if !slices.Equal(pc.Listen, want) {
		t.Errorf("Listen = %v, want %v", pc.Listen, want)
	}
	if pc.NoticeV6.IsValid() {
		t.Errorf("NoticeV6 = %v, want none (a link-local address is no answer to give)", pc.NoticeV6)
	}
	for _, p := range pc.NotAllowed {
		if !p.IsValid() {
			t.Errorf("NotAllowed holds an invalid prefix: %v", pc.NotAllowed)
		}
	}
}

// TestProxySiteReadsEachInterfaceOnce: the site is read at every address
// message and poll; each interface's addresses are read once for it, not
// once for each thing the proxy takes from them.
func TestProxySiteReadsEachInterfaceOnce(t *testing.T) {
	cfg := config.Default()
	cfg.LAN.Interfaces = []string{"br-lan", "br-guest"}
	reads := map[string]int{}
	lookup := func(name string) (ifaceIdentity, error) {
		reads[name]++
		return ifaceIdentity{
			addrs:    []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fe80::1")},
			prefixes: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fe80::/64")},
		}, nil
	}
	site := proxySiteFrom(cfg, lookup)
	if len(site.addrs) == 0 || len(site.onLink) == 0 {
		t.Errorf("site %+v: want addresses and prefixes", site)
	}
	for _, name := range cfg.LAN.Interfaces {
		if reads[name] != 1 {
			t.Errorf("%s read %d times, want once", name, reads[name])
		}
	}
}

// TestProxySiteLinks: the proxy learns each LAN interface's addresses,
// so that a quarantined device on br-guest is answered with br-guest's
// address, not br-lan's; a change of them, also on a router whose
// addresses are configured, starts the proxy again.
func TestProxySiteLinks(t *testing.T) {
	ifaces := map[string][]netip.Addr{
		"br-lan":   {netip.MustParseAddr("192.168.77.1"), netip.MustParseAddr("2001:db8:77:1::1"), netip.MustParseAddr("fe80::1")},
		"br-guest": {netip.MustParseAddr("192.168.78.1"), netip.MustParseAddr("2001:db8:77:2::1"), netip.MustParseAddr("fe80::1")},
	}
	lookup := func(name string) (ifaceIdentity, error) {
		addrs, ok := ifaces[name]
		if !ok {
			return ifaceIdentity{}, errors.New("no such interface")
		}
		return ifaceIdentity{addrs: slices.Clone(addrs)}, nil
	}
	cfg := config.Default()
	cfg.LAN.Interfaces = []string{"br-lan", "br-guest", "br-iot"} // br-iot is down
	site := proxySiteFrom(cfg, lookup)
	pc := proxyConfig(cfg, site)
	want := []dnsproxy.Link{{Name: "br-lan", Addrs: ifaces["br-lan"]}, {Name: "br-guest", Addrs: ifaces["br-guest"]}}
	if !slices.EqualFunc(pc.Links, want, func(a, b dnsproxy.Link) bool { return a.Name == b.Name && slices.Equal(a.Addrs, b.Addrs) }) {
		t.Errorf("Links = %v, want %v", pc.Links, want)
	}

	cfg.Daemon.RouterAddresses = []netip.Addr{netip.MustParseAddr("192.168.77.1")}
	before := proxySiteFrom(cfg, lookup)
	ifaces["br-guest"][0] = netip.MustParseAddr("192.168.79.1")
	if after := proxySiteFrom(cfg, lookup); after.same(before) {
		t.Errorf("br-guest renumbered, site %+v taken as the same as %+v", after, before)
	}
}
