package netwatch

import (
	"context"
	"net/netip"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// updateKind says which rtnetlink group a kernelUpdate came from.
type updateKind uint8

const (
	kindNeigh updateKind = iota + 1
	kindLink
	kindAddr
	// kindListStart starts a subscription's listing of the tables.
	kindListStart
	// kindListEnd ends the listing of the table named by listed, which
	// was complete and consistent: what it did not mention is gone.
	kindListEnd
)

// kernelUpdate is one rtnetlink notification, listed entry or mark around
// a listing, reduced to what the watcher needs and with the interface
// index already resolved to a name. One flat value type, so that it
// travels through channels without allocation.
type kernelUpdate struct {
	kind    updateKind
	deleted bool // RTM_DEL*
	index   int  // interface index
	iface   string

	// Neighbours.
	family       int    // AF_INET, AF_INET6, AF_BRIDGE …
	state        uint16 // NUD_* bits
	flags        uint8  // NTF_* bits
	ip           netip.Addr
	mac          hwaddr.MAC
	hasMAC       bool          // a 6-byte link-layer address was present
	confirmedAgo time.Duration // since the device last confirmed the entry
	updatedAgo   time.Duration // since the entry entered its state

	// Links (mac is the interface's own address).
	up bool

	// Addresses.
	prefix netip.Prefix

	// The table a kindListEnd closes.
	listed updateKind
}

// kernelSource is the kernel's neighbour, link and address tables, behind
// which sits rtnetlink (netlinkSource) or, in tests, a fake.
type kernelSource interface {
	// Subscribe first lists the current links, addresses and neighbours:
	// a kindListStart, then each table in that order, each followed by
	// a kindListEnd naming it. Then it delivers changes to updates until
	// ctx ends (it returns nil) or the subscription breaks, for instance
	// when the kernel overran the socket buffer (it returns the error).
	// Changes made while it lists are delivered after the listing, even
	// those the listing already shows. It blocks while updates is full.
	Subscribe(ctx context.Context, updates chan<- kernelUpdate) error
	// List returns the current links, addresses and neighbours at most
	// max of each kind.
	List(ctx context.Context, max int) ([]kernelUpdate, error)
}
