package main

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// followOnLink gives set the prefixes on the LAN interfaces, at once and
// again whenever current reads others at a tick: an ISP's delegated IPv6
// prefix comes after boot and changes when it likes, and inspection must
// count the LAN's global addresses as the LAN.
func followOnLink(ctx context.Context, current func() []netip.Prefix, tick <-chan time.Time, set func([]netip.Prefix), log *slog.Logger) {
	var last []netip.Prefix
	for first := true; ; first = false {
		now := current()
		if first || !sameSet(now, last) {
			set(now)
			last = now
			log.Info("LAN prefixes on the interfaces", "prefixes", now)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
