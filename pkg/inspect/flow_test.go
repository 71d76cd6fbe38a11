package inspect

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"unsafe"
)

// TestFlowTableModel runs random inserts, lookups and removals against a
// Go map. A small table makes long probe runs that wrap around the
// index, which is where backward-shift deletion can lose an entry.
func TestFlowTableModel(t *testing.T) {
	for _, max := range []int{16, 100, 1500} {
		rng := rand.New(rand.NewPCG(1, uint64(max)))
		e := &Engine{table: newFlowTable(max)}
		tab := e.table
		model := map[FlowKey]bool{}
		var prev FlowKey
		key := func() FlowKey {
			// A third of the time the key of the step before, as packets
			// come in runs of one flow, which lookup remembers: removed,
			// and inserted again, it must not be found in a slot since
			// given to another flow.
			if rng.IntN(3) == 0 && prev.A.IsValid() {
				return prev
			}
			// Few distinct keys, so that lookups and removals hit; half
			// of them with an IPv6 end, whose addresses take an entry
			// of the table's IPv6 pool.
			n := rng.IntN(3 * max)
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}), 40000)
			b := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.1"), 443)
			if n%2 == 1 {
				b = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), 443)
			}
			return makeKey(a, b, IPProtocolTCP)
		}
		ipv6Flows := func() int {
			n := 0
			for k := range model {
				if k.A.Addr().Is6() || k.B.Addr().Is6() {
					n++
				}
			}
			return n
		}
		for step := range 20000 {
			k := key()
			prev = k
			switch op := rng.IntN(3); {
			case op == 0 && !model[k] && !tab.full():
				// Either end may be the client; the key is the same.
				client, server := k.A, k.B
				if rng.IntN(2) == 0 {
					client, server = server, client
				}
				f := tab.insert(e, client, server, k.Proto)
				if f.Key() != k || f.Client() != client || !f.has(flagInUse) {
					t.Fatalf("max %d step %d: insert gave flow %+v for %v", max, step, f.Key(), k)
				}
				model[k] = true
			case op == 1 && model[k]:
				f, _ := tab.lookup(&k)
				tab.remove(f)
				delete(model, k)
			default:
				f, clientIsA := tab.lookup(&k)
				if (f != nil) != model[k] {
					t.Fatalf("max %d step %d: lookup(%v) found %v, model says %v", max, step, k, f != nil, model[k])
				}
				if f != nil && (f.Key() != k || clientIsA != (f.Client() == k.A)) {
					t.Fatalf("max %d step %d: lookup(%v) returned the flow of %v (client %v, said A is client: %v)", max, step, k, f.Key(), f.Client(), clientIsA)
				}
			}
			if tab.len() != len(model) {
				t.Fatalf("max %d step %d: table holds %d flows, model %d", max, step, tab.len(), len(model))
			}
			if n := ipv6Flows(); tab.ipv6.inUse() != n {
				t.Fatalf("max %d step %d: %d IPv6 pool entries lent for %d flows with an IPv6 end", max, step, tab.ipv6.inUse(), n)
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
		slots := 0
		for _, c := range tab.slots.chunks {
			slots += len(c)
		}
		if slots > max {
			t.Errorf("max %d: %d slots allocated, more than the cap", max, slots)
		}
	}
}

// TestFlowEndpoints: the endpoints stored as bytes come back as they went
// in, whatever their family, and only the same endpoint matches.
func TestFlowEndpoints(t *testing.T) {
	tests := []struct{ client, server string }{
		{"192.168.1.10:40000", "203.0.113.5:443"},
		{"[2001:db8::10]:40000", "[2001:db8::1]:443"},
		{"[::ffff:192.168.1.10]:40000", "[2001:db8::1]:53"}, // IPv4-mapped stays IPv6
		{"0.0.0.0:68", "255.255.255.255:67"},
		{"10.0.0.47:40000", "[2001:db8::1]:443"}, // never in one packet, but kept apart
	}
	for _, tt := range tests {
		client, server := netip.MustParseAddrPort(tt.client), netip.MustParseAddrPort(tt.server)
		f := NewFlow(client, server, IPProtocolTCP)
		if f.Client() != client || f.Server() != server {
			t.Errorf("%s → %s came back as %s → %s", client, server, f.Client(), f.Server())
		}
		if !f.isClient(client) || f.isClient(server) || !f.isServer(server) {
			t.Errorf("%s → %s: isClient/isServer disagree", client, server)
		}
		other := netip.AddrPortFrom(client.Addr(), client.Port()+1)
		mapped := netip.AddrPortFrom(netip.AddrFrom16(client.Addr().As16()), client.Port())
		if f.isClient(other) || mapped != client && f.isClient(mapped) {
			t.Errorf("%s: another port or the other family of the same bytes matched", client)
		}
	}
}

// The table holds up to max_flows of these; the documented memory per
// flow (docs/lab.md, iotgw.example.toml) rests on this size.
func TestFlowSize(t *testing.T) {
	limit := uintptr(96)
	if strconv.IntSize == 32 {
		limit = 92 // a 4-byte pointer, int64 aligned to 4
	}
	if size := unsafe.Sizeof(Flow{}); size > limit {
		t.Errorf("Flow is %d bytes, more than %d", size, limit)
	}
}
