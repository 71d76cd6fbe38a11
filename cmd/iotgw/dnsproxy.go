package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
)

// errAddressesChanged ends a DNS proxy whose router addresses or LAN
// prefixes changed, for keepServing to start it again with the new ones.
var errAddressesChanged = fmt.Errorf("the router's LAN addresses or prefixes changed: %w", errServeAgain)

// proxySite is what the DNS proxy is built from: the router's LAN
// addresses, which it listens on, the prefixes on the LAN interfaces,
// whose sources it answers, and the LAN interfaces with their addresses,
// whose own the quarantined devices on each are answered with. A prefix
// may come without an address the router counts as its own (router
// addresses configured, an IPv6 prefix delegated after the start).
type proxySite struct {
	addrs  []netip.Addr
	onLink []netip.Prefix
	links  []dnsproxy.Link
}

func (s proxySite) same(o proxySite) bool {
	return sameSet(s.addrs, o.addrs) && sameSet(s.onLink, o.onLink) &&
		slices.EqualFunc(s.links, o.links, func(a, b dnsproxy.Link) bool { return a.Name == b.Name && sameSet(a.Addrs, b.Addrs) })
}

// serveDNSProxy runs a DNS proxy on the router's LAN addresses as they are
// now: at boot the LAN may have no IPv4 address yet (it comes by DHCP
// from an upstream router slower to start), and an IPv6 prefix can change
// at any time. build fails without an address to listen on or to answer
// with, which keepServing retries; when current changes while the proxy
// serves (read again at each of wake's wake-ups), it ends with
// errAddressesChanged and is started again.
func serveDNSProxy(ctx context.Context, up func(), current func() proxySite, wake addrWake,
	build func(proxySite) (*dnsproxy.Proxy, error)) error {
	site := current()
	p, err := build(site)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{})
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		// The first check, at once, sees a change made since site was read.
		wake.follow(ctx, func() bool {
			if current().same(site) {
				return true
			}
			close(changed)
			cancel()
			return false
		})
	}()
	err = p.Serve(ctx, up)
	cancel()
	<-followed
	select {
	case <-changed:
		return errAddressesChanged
	default:
	}
	return err
}

// sameSet: a and b hold the same elements, in any order.
func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// proxyRules holds the DNS proxy's settings a reload changes (update and
// local domains, upstream) and the proxy built last: a reload reaches
// the one serving, and the one started when the router's addresses
// change is built with them.
type proxyRules struct {
	mu    sync.Mutex
	rules dnsproxy.Rules
	proxy *dnsproxy.Proxy
}

func newProxyRules(cfg *config.Config) *proxyRules {
	return &proxyRules{rules: rulesOf(cfg)}
}

func rulesOf(cfg *config.Config) dnsproxy.Rules {
	return dnsproxy.Rules{UpdateDomains: cfg.DNSProxy.UpdateDomains, LocalDomains: cfg.DNSProxy.LocalDomains, Upstream: cfg.DNSProxy.Upstream}
}

// build makes a proxy of pc with the rules in force.
func (r *proxyRules) build(pc dnsproxy.Config, deps dnsproxy.Deps) (*dnsproxy.Proxy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pc.UpdateDomains, pc.LocalDomains, pc.Upstream = r.rules.UpdateDomains, r.rules.LocalDomains, r.rules.Upstream
	p, err := dnsproxy.New(pc, deps)
	if err != nil {
		return nil, err
	}
	r.proxy = p
	return p, nil
}

// set puts rules in force, on the proxy serving too; rules it refuses
// change nothing.
func (r *proxyRules) set(rules dnsproxy.Rules) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proxy != nil {
		if err := r.proxy.SetRules(rules); err != nil {
			return fmt.Errorf("dns proxy: %w", err)
		}
	}
	r.rules = rules
	return nil
}
