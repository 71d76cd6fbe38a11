package main

import (
	"context"
	"log/slog"
	"net/netip"
)

// followOnLink gives set the prefixes on the LAN interfaces, at once and
// again whenever current reads others at one of wake's wake-ups: an
// ISP's delegated IPv6 prefix comes after boot and changes when it likes,
// and inspection must count the LAN's global addresses as the LAN. When
// set fails (the quarantine's batch refused), it is given them again at
// the next wake-up, the poll at the latest: the same prefixes read again
// would otherwise never be retried.
func followOnLink(ctx context.Context, current func() []netip.Prefix, wake addrWake, set func([]netip.Prefix) error, log *slog.Logger) {
	var last []netip.Prefix
	first, failed := true, false
	wake.follow(ctx, func() bool {
		now := current()
		changed := first || !sameSet(now, last)
		if changed {
			log.Info("LAN prefixes on the interfaces", "prefixes", now)
		}
		if changed || failed {
			err := set(now)
			if failed = err != nil; failed {
				log.Warn("LAN prefixes not all taken; trying again at the next address message or poll", "err", err)
			}
		}
		first, last = false, now
		return true
	})
}
