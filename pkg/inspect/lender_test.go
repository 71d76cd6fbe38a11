package inspect

import "testing"

// TestLender: what is lent is capped, in all and per client host
// bucket, counted back when given back, and reused.
func TestLender(t *testing.T) {
	const max = 64
	l := NewLender[[16]byte](max)
	var lent []*[16]byte
	var hosts []uint32
	for host := uint32(0); ; host++ {
		got := 0
		for {
			b := l.Get(host)
			if b == nil {
				break
			}
			lent, hosts = append(lent, b), append(hosts, host)
			got++
		}
		if got > max/HostShareDiv {
			t.Fatalf("host %d borrowed %d, want at most %d", host, got, max/HostShareDiv)
		}
		if l.LentTo(host) != got {
			t.Fatalf("host %d holds %d, counted %d", host, got, l.LentTo(host))
		}
		if got == 0 {
			break
		}
	}
	if len(lent) != max || l.Lent() != max {
		t.Fatalf("%d lent (counted %d), want %d", len(lent), l.Lent(), max)
	}
	l.Put(lent[0], hosts[0])
	if b := l.Get(99); b != lent[0] {
		t.Errorf("what was given back is not lent again")
	}
	for i, b := range lent {
		h := hosts[i]
		if i == 0 {
			h = 99
		}
		l.Put(b, h)
	}
	if l.Lent() != 0 || l.LentTo(0) != 0 || l.LentTo(99) != 0 {
		t.Errorf("after all came back: %d lent, %d and %d to hosts 0 and 99", l.Lent(), l.LentTo(0), l.LentTo(99))
	}
}
