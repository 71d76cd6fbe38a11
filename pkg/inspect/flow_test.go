package inspect

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// TestFlowTableModel runs random inserts, lookups and removals against a
// Go map. A small table makes long probe runs that wrap around the
// index, which is where backward-shift deletion can lose an entry.
func TestFlowTableModel(t *testing.T) {
	for _, max := range []int{16, 100, 1500} {
		rng := rand.New(rand.NewPCG(1, uint64(max)))
		tab := newFlowTable(max)
		model := map[FlowKey]bool{}
		key := func() FlowKey {
			// Few distinct keys, so that lookups and removals hit.
			n := rng.IntN(3 * max)
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}), 40000)
			b := netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), 443)
			return FlowKey{A: a, B: b, Proto: layers.IPProtocolTCP}
		}
		for step := range 20000 {
			k := key()
			switch op := rng.IntN(3); {
			case op == 0 && !model[k] && !tab.full():
				// Either end may be the client; the key is the same.
				client, server := k.A, k.B
				if rng.IntN(2) == 0 {
					client, server = server, client
				}
				f := tab.insert(client, server, k.Proto)
				if f.Key() != k || f.Client != client || !f.inUse {
					t.Fatalf("max %d step %d: insert gave flow %+v for %v", max, step, f.Key(), k)
				}
				model[k] = true
			case op == 1 && model[k]:
				tab.remove(tab.lookup(k))
				delete(model, k)
			default:
				f := tab.lookup(k)
				if (f != nil) != model[k] {
					t.Fatalf("max %d step %d: lookup(%v) found %v, model says %v", max, step, k, f != nil, model[k])
				}
				if f != nil && f.Key() != k {
					t.Fatalf("max %d step %d: lookup(%v) returned the flow of %v", max, step, k, f.Key())
				}
			}
			if tab.len() != len(model) {
				t.Fatalf("max %d step %d: table holds %d flows, model %d", max, step, tab.len(), len(model))
			}
		}
		listed := 0
		tab.each(func(f *Flow) {
			listed++
			if !model[f.Key()] {
				t.Errorf("max %d: LRU list holds %v, which was removed", max, f.Key())
			}
		})
		if listed != len(model) {
			t.Errorf("max %d: LRU list holds %d flows, want %d", max, listed, len(model))
		}
		if slots := len(tab.chunks)*flowChunk - flowChunk + len(tab.chunks[len(tab.chunks)-1]); slots > max {
			t.Errorf("max %d: %d slots allocated, more than the cap", max, slots)
		}
	}
}
