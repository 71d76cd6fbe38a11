package main

import (
	"context"
	"log/slog"
	"net/netip"
)

// followOnLink gives set the prefixes on the LAN interfaces, at once and
// again whenever current reads others at one of wake's wake-ups: an
// ISP's delegated IPv6 prefix comes after boot and changes when it likes,
// and inspection must count the LAN's global addresses as the LAN.
func followOnLink(ctx context.Context, current func() []netip.Prefix, wake addrWake, set func([]netip.Prefix), log *slog.Logger) {
	var last []netip.Prefix
	first := true
	wake.follow(ctx, func() bool {
		now := current()
		if first || !sameSet(now, last) {
			set(now)
			last = now
			log.Info("LAN prefixes on the interfaces", "prefixes", now)
		}
		first = false
		return true
	})
}
