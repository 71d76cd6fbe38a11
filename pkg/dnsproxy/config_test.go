package dnsproxy

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestNewConfig(t *testing.T) {
	good := func() Config {
		return Config{
			Listen:        []netip.AddrPort{netip.MustParseAddrPort("192.168.1.1:5354")},
			NoticeV4:      netip.MustParseAddr("192.168.1.1"),
			UpdateDomains: []string{"fw.vendor.test"},
		}
	}
	deps := Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}}
	tests := []struct {
		name    string
		change  func(*Config, *Deps)
		wantErr string
	}{
		{"defaults", func(*Config, *Deps) {}, ""},
		{"no_listen", func(c *Config, _ *Deps) { c.Listen = nil }, "no listen address"},
		{"invalid_listen", func(c *Config, _ *Deps) { c.Listen = []netip.AddrPort{{}} }, "not valid"},
		{"no_notice", func(c *Config, _ *Deps) { c.NoticeV4 = netip.Addr{} }, "notice IPv4"},
		{"notice_v4_is_v6", func(c *Config, _ *Deps) { c.NoticeV4 = netip.MustParseAddr("fd00::1") }, "notice IPv4"},
		{"notice_v6_is_v4", func(c *Config, _ *Deps) { c.NoticeV6 = netip.MustParseAddr("192.168.1.1") }, "notice IPv6"},
		{"upstream_is_listen_loop", func(c *Config, _ *Deps) { c.Upstream = c.Listen[0] }, "a loop"},
		{"bad_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"bad..name"} }, "update_domains"},
		{"root_update_domain_would_allow_all", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"."} }, "update_domains"},
		{"empty_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{" "} }, "update_domains"},
		// Anyone registers names below these.
		{"tld_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"com"} }, "public suffix"},
		{"public_suffix_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"CloudFront.net."} }, "public suffix"},
		{"single_label_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"lan"} }, "public suffix"},
		{"registered_update_domain_ok", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"d111111abcdef8.cloudfront.net"} }, ""},
		// Queries carry a name in its ASCII form, which these never match.
		{"unicode_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"fw.bücher.de"} }, "xn--"},
		{"escaped_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{`fw\.vendor.test`} }, "update_domains"},
		{"wildcard_update_domain", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"*.vendor.test"} }, "wildcard"},
		{"glob_local_domain", func(c *Config, _ *Deps) { c.LocalDomains = []string{"lan", "nas*.home.arpa"} }, "wildcard"},
		{"punycode_update_domain_ok", func(c *Config, _ *Deps) { c.UpdateDomains = []string{"fw.xn--bcher-kva.de"} }, ""},
		{"unicode_local_domain", func(c *Config, _ *Deps) { c.LocalDomains = []string{"lan", "büro"} }, "xn--"},
		{"bad_local_domain", func(c *Config, _ *Deps) { c.LocalDomains = []string{"a..b"} }, "local_domains"},
		// Forwarded for quarantined devices: every .com name would resolve.
		{"tld_local_domain", func(c *Config, _ *Deps) { c.LocalDomains = []string{"lan", "Com."} }, "public suffix"},
		{"public_suffix_local_domain", func(c *Config, _ *Deps) { c.LocalDomains = []string{"co.uk"} }, "public suffix"},
		{"private_suffix_local_domain", func(c *Config, _ *Deps) { c.LocalDomains = []string{"duckdns.org"} }, "public suffix"},
		{"reverse_zone_local_domain", func(c *Config, _ *Deps) { c.LocalDomains = []string{"in-addr.arpa"} }, "public suffix"},
		{"negative_timeout", func(c *Config, _ *Deps) { c.UpstreamTimeout = -time.Second }, "negative"},
		{"negative_max_upstream", func(c *Config, _ *Deps) { c.MaxUpstream = -1 }, "negative"},
		{"notice_ttl_too_long", func(c *Config, _ *Deps) { c.NoticeTTL = 2 * time.Hour }, "notice_ttl"},
		{"allow_ttl_min_over_max", func(c *Config, _ *Deps) { c.AllowTTLMin, c.AllowTTLMax = time.Hour, time.Minute }, "allow TTLs"},
		{"udp_size_below_512", func(c *Config, _ *Deps) { c.MaxUDPSize = 100 }, "max_udp_size"},
		{"no_lookup", func(_ *Config, d *Deps) { d.Quarantine = nil }, "Deps.Quarantine"},
		{"update_domains_without_allow", func(_ *Config, d *Deps) { d.Allow = nil }, "Deps.Allow"},
		{"no_update_domains_no_allow_ok", func(c *Config, d *Deps) { c.UpdateDomains, d.Allow = nil, nil }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d := good(), deps
			tt.change(&c, &d)
			p, err := New(c, d)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.cfg.Upstream.String() != "127.0.0.1:53" || p.cfg.NoticeTTL != DefaultNoticeTTL || len(p.names.Load().local) != 1 || p.names.Load().local[0] != "lan." {
					t.Errorf("defaults not applied: %+v", p.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunListenError(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.LocalAddr().(*net.UDPAddr).AddrPort()
	cfg := Config{
		Listen:   []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0"), taken},
		NoticeV4: netip.MustParseAddr("192.168.1.1"),
	}
	p, err := New(cfg, Deps{Quarantine: newFakeLookup(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve(context.Background(), func() {}); err == nil || !strings.Contains(err.Error(), taken.String()) {
		t.Fatalf("Run: %v, want a listen error naming %s", err, taken)
	}
	select {
	case <-p.Ready():
		t.Error("Ready after a failed start")
	default:
	}
}

// TestServeAgainAfterListenError: a Serve that failed to listen may be
// called again, and calls up once it listens.
func TestServeAgainAfterListenError(t *testing.T) {
	busy, taken := portBelowEphemeral(t)
	p, err := New(Config{Listen: []netip.AddrPort{taken}, NoticeV4: netip.MustParseAddr("192.168.1.1")},
		Deps{Quarantine: newFakeLookup(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	upCalled := false
	if err := p.Serve(context.Background(), func() { upCalled = true }); err == nil || upCalled {
		t.Fatalf("Serve on a taken port: %v, up called %v", err, upCalled)
	}
	busy.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Serve(ctx, cancel); err != nil {
		t.Fatalf("Serve once the port is free: %v", err)
	}
	if got := p.Addrs(); len(got) != 1 || got[0] != taken {
		t.Errorf("listened on %v, want %v", got, taken)
	}
}

// portBelowEphemeral holds a loopback UDP port whose TCP twin is free,
// below the kernel's range for outgoing connections (32768 up, by
// default): a port from that range, once let go, can become the local
// port of another test's connection before the proxy binds it again.
func portBelowEphemeral(t *testing.T) (net.PacketConn, netip.AddrPort) {
	t.Helper()
	for range 100 {
		ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(20000+rand.IntN(10000)))
		tcp, err := net.Listen("tcp", ap.String())
		if err != nil {
			continue
		}
		tcp.Close()
		if udp, err := net.ListenPacket("udp", ap.String()); err == nil {
			return udp, ap
		}
	}
	t.Fatal("no free loopback port between 20000 and 30000")
	return nil, netip.AddrPort{}
}

// TestListenAddressNotUpYet: an address not on any interface yet (as an
// IPv6 address in duplicate address detection at boot) can be listened
// on. Nothing is sent to it.
func TestListenAddressNotUpYet(t *testing.T) {
	for _, addr := range []string{"192.0.2.53:0", "[2001:db8::53]:0"} {
		p, err := New(Config{Listen: []netip.AddrPort{netip.MustParseAddrPort(addr)}, NoticeV4: netip.MustParseAddr("192.168.1.1")},
			Deps{Quarantine: newFakeLookup(), Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := p.Serve(ctx, cancel); err != nil {
			t.Errorf("Serve on %s: %v", addr, err)
		}
	}
}

func TestAddrSet(t *testing.T) {
	var s AddrSet
	if s.IsQuarantined(netip.MustParseAddr("192.168.1.23")) {
		t.Error("empty set quarantines")
	}
	if err := s.Replace([]netip.Addr{netip.MustParseAddr("192.168.1.23"), netip.MustParseAddr("fe80::1%br-lan")}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"192.168.1.23", true},
		{"::ffff:192.168.1.23", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"192.168.1.24", false},
	} {
		if got := s.IsQuarantined(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.addr, got, tt.want)
		}
	}
	if err := s.Replace(make([]netip.Addr, MaxAddrSet+1)); err == nil {
		t.Error("oversized set accepted")
	}
	if !s.IsQuarantined(netip.MustParseAddr("192.168.1.23")) {
		t.Error("a refused Replace changed the set")
	}
}
