package dnsproxy

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// The namespace test builds a small home network: a router namespace with
// a LAN bridge, the stand-in for dnsmasq on port 53, the nftables redirect
// the quarantine package is asked to install, and the proxy (in a child
// process, so that it can be killed); and two client namespaces, one of
// them quarantined. Nothing leaves these namespaces.

const (
	helperEnv       = "IOTGW_DNSPROXY_HELPER"
	helperListenEnv = "IOTGW_DNSPROXY_HELPER_LISTEN"
	helperQuarEnv   = "IOTGW_DNSPROXY_HELPER_QUARANTINED"

	routerIP      = "10.99.0.1"
	quarantinedIP = "10.99.0.2"
	freeIP        = "10.99.0.3"
	proxyPort     = 5354
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	os.Exit(m.Run())
}

// helperObserver and helperAllow report to the parent on stdout.
type helperObserver struct{}

func (helperObserver) Observe(o Observation) { fmt.Printf("obs %s %s\n", o.Client, o.Name) }

type helperAllow struct{}

func (helperAllow) SetAllowed(_ context.Context, addrs []netip.Addr, ttl time.Duration) error {
	fmt.Printf("allow %v %s\n", addrs, ttl)
	return nil
}

// runHelper runs the proxy in the namespace the process was started in
// until SIGTERM or SIGKILL.
func runHelper() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var quarantined AddrSet
	if err := quarantined.Replace([]netip.Addr{netip.MustParseAddr(os.Getenv(helperQuarEnv))}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := New(Config{
		Listen:        []netip.AddrPort{netip.MustParseAddrPort(os.Getenv(helperListenEnv))},
		NoticeV4:      netip.MustParseAddr(routerIP),
		UpdateDomains: []string{"fw.vendor.test"},
	}, Deps{Quarantine: &quarantined, Allow: helperAllow{}, Observer: helperObserver{}, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		<-p.Ready()
		fmt.Println("ready")
	}()
	if err := p.Serve(ctx, func() {}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// askFrom sends a query from namespace ns to server over network.
func askFrom(ns, network, server, name string) (*dns.Msg, error) {
	var r *dns.Msg
	err := netnstest.Run(ns, func() error {
		c := &dns.Client{Net: network, Timeout: 2 * time.Second}
		var err error
		r, _, err = c.Exchange(query(name, dns.TypeA), server)
		return err
	})
	return r, err
}

func firstA(r *dns.Msg) string {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

// containsAll reports whether every one of want is in got.
func containsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func TestNetnsRedirectedClients(t *testing.T) {
	netnstest.RequireNFTables(t)
	router := netnstest.New(t, "iotgwdns", "rtr")
	quar := netnstest.New(t, "iotgwdns", "cam")
	free := netnstest.New(t, "iotgwdns", "lap")

	netnstest.Cmd(t, "ip", "-n", router, "link", "add", "br0", "type", "bridge")
	netnstest.Cmd(t, "ip", "-n", router, "addr", "add", routerIP+"/24", "dev", "br0")
	netnstest.Cmd(t, "ip", "-n", router, "link", "set", "br0", "up")
	for _, c := range []struct{ ns, ip, port string }{{quar, quarantinedIP, "p-cam"}, {free, freeIP, "p-lap"}} {
		netnstest.Cmd(t, "ip", "-n", router, "link", "add", c.port, "type", "veth", "peer", "name", "eth0", "netns", c.ns)
		netnstest.Cmd(t, "ip", "-n", router, "link", "set", c.port, "master", "br0", "up")
		netnstest.Cmd(t, "ip", "-n", c.ns, "addr", "add", c.ip+"/24", "dev", "eth0")
		netnstest.Cmd(t, "ip", "-n", c.ns, "link", "set", "eth0", "up")
		netnstest.Cmd(t, "ip", "-n", c.ns, "route", "add", "default", "via", routerIP)
	}
	// The rule asked of the quarantine package, keyed here by address: DNS
	// from the quarantined device, to the router or to any resolver it
	// has hard-coded, goes to the proxy.
	rules := fmt.Sprintf(`table inet dnsproxytest {
	chain prerouting {
		type nat hook prerouting priority dstnat - 10; policy accept;
		ip saddr %[1]s udp dport 53 redirect to :%[2]d
		ip saddr %[1]s tcp dport 53 redirect to :%[2]d
	}
}
`, quarantinedIP, proxyPort)
	nft := netnstest.Command(router, "nft", "-f", "-")
	nft.Stdin = strings.NewReader(rules)
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}

	// dnsmasq's stand-in: on the LAN address and on loopback.
	var stopUpstream func()
	if err := netnstest.Run(router, func() error {
		var err error
		_, stopUpstream, err = startUpstreamAt("127.0.0.1:53", routerIP+":53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUpstream)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := netnstest.Command(router, exe, "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"=1",
		fmt.Sprintf("%s=%s:%d", helperListenEnv, routerIP, proxyPort),
		helperQuarEnv+"="+quarantinedIP)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			helper.Process.Kill()
			helper.Wait()
		}
	})
	lines := make(chan string, 64)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "ready" {
			t.Fatalf("helper said %q, want ready", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("proxy helper not ready")
	}

	dnsmasq := routerIP + ":53"
	checks := []struct {
		name, ns, network, server, q, want string
	}{
		{"quarantined_gets_notice_via_redirect", quar, "udp", dnsmasq, "www.example.test.", routerIP},
		{"quarantined_tcp_gets_notice", quar, "tcp", dnsmasq, "www.example.test.", routerIP},
		{"quarantined_hardcoded_resolver_redirected", quar, "udp", "192.0.2.53:53", "other.example.test.", routerIP},
		{"quarantined_update_host_resolved", quar, "udp", dnsmasq, "fw.vendor.test.", "203.0.113.7"},
		{"quarantined_local_name_resolved", quar, "udp", dnsmasq, "nas.lan.", "192.168.1.20"},
		{"free_client_untouched", free, "udp", dnsmasq, "www.example.test.", "198.51.100.10"},
	}
	for _, c := range checks {
		r, err := askFrom(c.ns, c.network, c.server, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := firstA(r); got != c.want {
			t.Errorf("%s: A %q, want %q", c.name, got, c.want)
		}
	}

	// The helper reports observations from a queue of its own: wait for
	// the three names before the crash below cuts its output.
	var got []string
	wantObs := []string{
		"obs " + quarantinedIP + " www.example.test",
		"obs " + quarantinedIP + " other.example.test",
		"obs " + quarantinedIP + " fw.vendor.test",
	}
	for deadline := time.After(30 * time.Second); !containsAll(got, wantObs); {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("helper stopped before reporting its observations: %q", got)
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("helper output lacks observations %q: %q", wantObs, got)
		}
	}

	// A crash: the quarantined device loses DNS (its redirect points at a
	// dead port), the free one keeps it.
	helper.Process.Kill()
	helper.Wait()
	killed = true
	if r, err := askFrom(quar, "udp", dnsmasq, "www.example.test."); err == nil {
		t.Errorf("quarantined client resolved %q with the proxy dead", firstA(r))
	}
	if r, err := askFrom(free, "udp", dnsmasq, "www.example.test."); err != nil || firstA(r) != "198.51.100.10" {
		t.Errorf("free client after the proxy died: %v %v", r, err)
	}

	for l := range lines {
		got = append(got, l)
	}
	if want := "allow [203.0.113.7] 5m0s"; !slices.Contains(got, want) {
		t.Errorf("helper output lacks %q: %q", want, got)
	}
	for _, l := range got {
		if strings.Contains(l, freeIP) {
			t.Errorf("the free client reached the proxy: %q", l)
		}
	}
}
