//go:build linux

package capture

import (
	"context"
	"fmt"
)

// Open opens the live source cfg.Mode names: an AF_PACKET ring on
// cfg.Interfaces filtered by FilterFor(cfg.Ports), or the NFLOG group.
// The source ends when ctx does.
func Open(ctx context.Context, cfg LiveConfig) (Source, error) {
	switch cfg.Mode {
	case ModeAFPacket:
		filter, err := FilterFor(cfg.Ports)
		if err != nil {
			return nil, err
		}
		ac := cfg.AFPacket
		ac.Interfaces, ac.Filter = cfg.Interfaces, filter
		src, err := OpenAFPacket(ctx, ac)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return src, nil
	case ModeNFLOG:
		src, err := OpenNFLOG(ctx, cfg.NFLOG)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	return nil, fmt.Errorf("capture: unknown mode %q (want %q or %q)", cfg.Mode, ModeAFPacket, ModeNFLOG)
}
