package netwatch

import (
	"context"
	"fmt"
)

// Snapshot is the kernel's view of the LAN at one moment.
type Snapshot struct {
	Links     []LinkChanged    // the LAN interfaces that exist
	Addresses []AddressChanged // the router's addresses on them (Added set)
	Neighbors []NeighborSeen   // the devices in their neighbour tables
}

// Snapshot lists the LAN interfaces, the router's addresses on them and
// the neighbours on them, filtered as Run filters them, for reconciling
// state at start-up. It lists at most MaxDevices neighbours. It does not
// need Run and does not change what Run reports.
func (w *Watcher) Snapshot(ctx context.Context) (Snapshot, error) {
	updates, err := w.source.List(ctx, w.cfg.MaxDevices)
	if err != nil {
		return Snapshot{}, fmt.Errorf("netwatch: snapshot: %w", err)
	}
	// Replay the listing into a private loop whose consumer has room for
	// everything, so that the filters are Run's own.
	out := make(chan Event, len(updates))
	l := newLoop(&Watcher{cfg: w.cfg, log: w.log, clock: w.clock}, out) // Run's counters stay untouched
	for _, kind := range []updateKind{kindLink, kindAddr, kindNeigh} {
		for _, u := range updates {
			if u.kind == kind {
				l.handle(u)
			}
		}
	}
	close(out)
	var s Snapshot
	for ev := range out {
		switch ev := ev.(type) {
		case LinkChanged:
			s.Links = append(s.Links, ev)
		case AddressChanged:
			s.Addresses = append(s.Addresses, ev)
		case NeighborSeen:
			s.Neighbors = append(s.Neighbors, ev)
		}
	}
	return s, nil
}
