package inspect

import "testing"

// An analyzer learns that Feed closed it by its zeroed fields, so Put
// must zero whether or not the list keeps the value.
func TestFreeListPutZeroes(t *testing.T) {
	type state struct{ open bool }
	var l FreeList[state]
	vals := make([]*state, maxSpare+2)
	for i := range vals {
		vals[i] = l.Get()
		vals[i].open = true
	}
	// The last two Puts find the list full.
	for i, v := range vals {
		l.Put(v)
		if v.open {
			t.Fatalf("Put number %d (list holding %d) left the value unzeroed", i+1, len(l.items))
		}
	}
	if len(l.items) != maxSpare {
		t.Errorf("%d spares kept, want %d", len(l.items), maxSpare)
	}
}
