package netwatch

import "testing"

// TestBroadcast: waiters share one channel, closed once by the next
// notify however many follow, and a notify nobody waits for costs
// nothing: a burst of address messages holds no memory.
func TestBroadcast(t *testing.T) {
	var b broadcast
	first, second := b.wait(), b.wait()
	if first != second {
		t.Fatal("two waiters before a notify got different channels")
	}
	b.notify()
	b.notify() // a second close would panic
	select {
	case <-first:
	default:
		t.Fatal("notify left the waiters asleep")
	}
	next := b.wait()
	select {
	case <-next:
		t.Fatal("a wait after the notify is woken by it")
	default:
	}
	b.notify()
	if allocs := testing.AllocsPerRun(100, b.notify); allocs != 0 {
		t.Errorf("notify without a waiter allocates %v times", allocs)
	}
}
