package daemon

import (
	"sync"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// maxQueued bounds the devices waiting for evaluation: well above any
// inventory (max_devices is at most a few thousand), so only a flood of
// forged MACs reaches it, and those the periodic tick picks up.
const maxQueued = 16384

// workQueue holds the devices waiting for evaluation, each once, oldest
// first. Unlike a buffered channel it does not drop a device when many
// arrive at once: a reload queues every known device.
type workQueue struct {
	mu     sync.Mutex
	queued map[hwaddr.MAC]struct{}
	order  []hwaddr.MAC
	busy   int           // taken by the worker and not yet done
	wake   chan struct{} // signalled when a device is queued
}

func newWorkQueue() *workQueue {
	return &workQueue{queued: map[hwaddr.MAC]struct{}{}, wake: make(chan struct{}, 1)}
}

// push queues mac unless it is already waiting. It reports false only
// when the queue is full.
func (q *workQueue) push(mac hwaddr.MAC) bool {
	q.mu.Lock()
	_, waiting := q.queued[mac]
	full := !waiting && len(q.order) >= maxQueued
	if !waiting && !full {
		q.queued[mac] = struct{}{}
		q.order = append(q.order, mac)
	}
	q.mu.Unlock()
	if full {
		return false
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// pop takes the oldest waiting device; done must follow once it is
// evaluated.
func (q *workQueue) pop() (hwaddr.MAC, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return hwaddr.MAC{}, false
	}
	mac := q.order[0]
	q.order[0] = hwaddr.MAC{}
	q.order = q.order[1:]
	if len(q.order) == 0 {
		q.order = nil // let the backing array go after a burst
	}
	delete(q.queued, mac)
	q.busy++
	return mac, true
}

func (q *workQueue) done() {
	q.mu.Lock()
	q.busy--
	q.mu.Unlock()
}

// pending counts the devices waiting or being evaluated.
func (q *workQueue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order) + q.busy
}
