package quarantine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The daemon reconciles every second so that tables someone deleted come
// back within one. Reading them whole costs about 40 netlink dumps (4 ms
// and 800 KB of garbage on a fast x86; far more on a router's MIPS core),
// so a Reconcile that would change nothing is answered from the state the
// last batch applied, as long as the ruleset's generation, which the
// kernel bumps at every change by anyone, is the one that batch left.
// The generation is read before the tables and after the batch; unless
// the batch alone moved it (by one, or not at all when it was empty),
// someone else changed the ruleset meanwhile and the next call reads the
// tables whole. fullCheckEvery reads them whole now and then all the same
// (a wall clock stepped back expires elements sooner than the state
// expects).
const fullCheckEvery = 30 * time.Second

var errGenerationMoved = errors.New("quarantine: the ruleset changed while a batch was applied")

// generation reads the ruleset's generation (NFT_MSG_GETGEN).
func generation(sock *netlink.Conn) (uint32, error) {
	msgs, err := sock.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, // nfgenmsg
	})
	if err != nil {
		return 0, fmt.Errorf("quarantine: ruleset generation: %w", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("quarantine: ruleset generation: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), ad.Err()
			}
		}
	}
	return 0, errors.New("quarantine: ruleset generation: not in the answer")
}

// noteApplied records the state a batch just made the kernel hold, and
// the generation it left; before is the generation read ahead of the
// tables. n.mu held.
func (n *NFTables) noteApplied(st *state, sock *netlink.Conn, now time.Time, before uint32, beforeErr error, queued bool) {
	n.last, n.fullAt = st, now
	after, afterErr := generation(sock)
	n.gen, n.genErr = ownGeneration(before, beforeErr, after, afterErr, queued)
}

// ownGeneration is the generation a batch left, or an error when it
// cannot be trusted to be the batch's alone: unread, or moved by more
// than the batch's one step (no step at all for an empty batch, which
// sends nothing).
func ownGeneration(before uint32, beforeErr error, after uint32, afterErr error, queued bool) (uint32, error) {
	switch {
	case afterErr != nil:
		return 0, afterErr
	case beforeErr != nil:
		return 0, beforeErr
	case after != before && (after != before+1 || !queued):
		return 0, errGenerationMoved
	}
	return after, nil
}

// reconcileUnchanged answers Reconcile without reading the tables when
// nobody changed the ruleset since the last batch and entries would change
// nothing in it: ok is then true and skipped is what Reconcile returns.
func (n *NFTables) reconcileUnchanged(ctx context.Context, entries []Entry) (skipped error, ok bool) {
	if err := n.mu.lock(ctx); err != nil {
		return nil, false
	}
	defer n.mu.unlock()
	now := n.opts.now()
	if n.last == nil || n.genErr != nil || now.Sub(n.fullAt) >= fullCheckEvery {
		return nil, false
	}
	_, sock, err := n.conn()
	if err != nil {
		return nil, false
	}
	defer sock.Close()
	if gen, err := generation(sock); err != nil || gen != n.gen {
		return nil, false
	}
	have := n.last.clone()
	have.expire(now)
	want := have.clone()
	skipped = want.reconcile(entries, n.cfg, now)
	if !maps.EqualFunc(have.entries, want.entries, sameEntry) {
		return nil, false
	}
	n.unchangedAnswers++
	return skipped, true
}

func sameEntry(a, b Entry) bool {
	return a.MAC == b.MAC && a.Mode == b.Mode && a.Expires.Equal(b.Expires) && slices.Equal(a.Addrs, b.Addrs)
}
