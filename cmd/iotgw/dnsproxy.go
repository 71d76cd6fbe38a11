package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/iotgw/iotgw/pkg/dnsproxy"
)

// errAddressesChanged ends a DNS proxy whose router addresses changed, for
// keepServing to start it again on the new ones.
var errAddressesChanged = fmt.Errorf("the router's LAN addresses changed: %w", errServeAgain)

// proxyAddressCheck is how often the router's LAN addresses are compared
// with those the DNS proxy listens on.
const proxyAddressCheck = 10 * time.Second

// serveDNSProxy runs a DNS proxy on the router's LAN addresses as they are
// now: at boot the LAN may have no IPv4 address yet (it comes by DHCP
// from an upstream router slower to start), and an IPv6 prefix can change
// at any time. build fails without an address to listen on or to answer
// with, which keepServing retries; when current changes while the proxy
// serves, it ends with errAddressesChanged and is started again.
func serveDNSProxy(ctx context.Context, up func(), current func() []netip.Addr, every time.Duration,
	build func([]netip.Addr) (*dnsproxy.Proxy, error)) error {
	addrs := current()
	p, err := build(addrs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if now := current(); !sameAddrs(now, addrs) {
				close(changed)
				cancel()
				return
			}
		}
	}()
	err = p.Serve(ctx, up)
	select {
	case <-changed:
		return errAddressesChanged
	default:
	}
	return err
}

// sameAddrs: a and b hold the same addresses, in any order.
func sameAddrs(a, b []netip.Addr) bool {
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
