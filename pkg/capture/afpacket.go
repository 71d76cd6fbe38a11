//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// retK is the classic BPF opcode "return constant".
const retK = 0x06

// AFPacket reads Ethernet frames from TPACKET_V3 rings, one per
// interface. Frames are handed out straight from the ring (zero copy):
// a frame stays valid until the next ReadPacket.
//
// With several interfaces each ring has a goroutine that reads one frame,
// hands it over and waits until the reader asks for the next frame: still
// no copy, and at most one frame per ring in flight.
type AFPacket struct {
	rings   []*ring
	ctx     context.Context
	missing []string // interfaces left out (SkipMissing)
	changed atomic.Bool
	probeMu sync.Mutex
	probe   *ifaceProbe // SkipMissing only; nil once released

	stopped  atomic.Bool
	done     chan struct{} // closed when ctx ends or Close is called
	stopOnce sync.Once
	stopCtx  func() bool
	pumps    sync.WaitGroup
	frames   chan muxFrame // several rings only

	readMu   sync.Mutex // held by ReadPacket; guards the fields below
	lent     bool       // the caller may still be reading the last frame
	pending  *ring      // ring whose frame was last returned (several rings)
	closing  bool       // Close was called while a frame was lent
	released bool       // rings unmapped and sockets closed

	packets atomic.Uint64
	statsMu sync.Mutex // guards the rings' socket counters and the sockets' lifetime
	kernel  uint64
	drops   uint64
}

type ring struct {
	name    string
	tp      *tpRing
	release chan struct{} // the reader is done with this ring's frame
	routed  *routedCopies // several rings only: the sent copies to drop
}

type muxFrame struct {
	ring *ring
	data []byte
	info Info
	err  error
}

// OpenAFPacket opens a ring on each of cfg.Interfaces with cfg.Filter
// attached. The source stops when ctx ends: ReadPacket then returns
// ctx.Err() within the poll timeout.
func OpenAFPacket(ctx context.Context, cfg AFPacketConfig) (*AFPacket, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	filter := cfg.Filter
	if filter == nil {
		filter = []bpf.RawInstruction{{Op: retK, K: acceptWhole}}
	}
	filter = withSnaplen(filter, uint32(cfg.Snaplen))
	a := &AFPacket{ctx: ctx, done: make(chan struct{})}
	if cfg.SkipMissing {
		// Made here, in the caller's network namespace, which the
		// checks later ask about whatever thread they run on.
		if a.probe, err = newIfaceProbe(); err != nil {
			return nil, err
		}
	}
	for _, name := range cfg.Interfaces {
		if a.probe != nil {
			ok, err := a.probe.up(name)
			if err != nil {
				a.release()
				return nil, err
			}
			if !ok {
				a.missing = append(a.missing, name)
				continue
			}
		}
		r, err := openRing(name, cfg, filter)
		if err != nil {
			a.release()
			return nil, err
		}
		a.rings = append(a.rings, r)
	}
	// With SkipMissing, none there is no error: the source reads nothing
	// and ends, for the caller to open it again, once the watcher sees
	// one up (a bridge a network restart took away and brings back).
	// Without, a missing interface already failed openRing.
	if len(a.rings) > 1 {
		// A packet routed between two captured interfaces is seen on
		// both: keep one copy, so that the inspectors see each packet once.
		names := make([]string, len(a.rings))
		for i, r := range a.rings {
			names[i] = r.name
		}
		rcs, err := newRoutedCopies(names)
		if err != nil {
			a.release()
			return nil, err
		}
		for i, r := range a.rings {
			r.routed = rcs[i]
		}
	}
	if len(a.missing) > 0 {
		go a.watchMissing(cfg.MissingCheck)
	}
	a.stopCtx = context.AfterFunc(ctx, a.stop)
	if len(a.rings) > 1 {
		a.frames = make(chan muxFrame)
		for _, r := range a.rings {
			a.pumps.Add(1)
			go a.pump(r)
		}
	}
	return a, nil
}

func openRing(name string, cfg AFPacketConfig, filter []bpf.RawInstruction) (*ring, error) {
	tp, err := openTPRing(name, cfg, filter)
	if err != nil {
		return nil, fmt.Errorf("afpacket %s: %w", name, err)
	}
	return &ring{name: name, tp: tp, release: make(chan struct{}, 1)}, nil
}

func (a *AFPacket) stop() {
	a.stopOnce.Do(func() {
		a.stopped.Store(true)
		close(a.done)
	})
}

// end is the error a stopped source returns: the context's,
// ErrInterfacesChanged once a missing interface appeared, or io.EOF after
// Close.
func (a *AFPacket) end() error {
	if err := a.ctx.Err(); err != nil {
		return err
	}
	if a.changed.Load() {
		return ErrInterfacesChanged
	}
	return io.EOF
}

// Missing implements MissingReporter: the interfaces left out at open.
func (a *AFPacket) Missing() []string { return slices.Clone(a.missing) }

// watchMissing looks for the missing interfaces every interval and stops
// the source when one exists.
func (a *AFPacket) watchMissing(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
		}
		for _, name := range a.missing {
			if up, known := a.up(name); known && up {
				a.changed.Store(true)
				a.stop()
				return
			}
		}
	}
}

func (a *AFPacket) closeProbe() {
	a.probeMu.Lock()
	defer a.probeMu.Unlock()
	a.probe.close()
	a.probe = nil
}

// up asks the probe whether interface name exists and is up; known is
// false without a probe (SkipMissing off, or released) or when the lookup
// failed.
func (a *AFPacket) up(name string) (up, known bool) {
	a.probeMu.Lock()
	defer a.probeMu.Unlock()
	if a.probe == nil {
		return false, false
	}
	up, err := a.probe.up(name)
	return up, err == nil
}

// ReadPacket returns the next frame, borrowed from the ring until the
// next call, and only while the source is reachable: a source dropped
// without Close has its rings unmapped by the garbage collector. After Close it returns io.EOF, after the context ends its
// error.
func (a *AFPacket) ReadPacket() ([]byte, Info, error) {
	a.readMu.Lock()
	defer a.readMu.Unlock()
	a.lent = false
	if a.pending != nil {
		a.pending.release <- struct{}{} // capacity 1, and the pump sent only one frame
		a.pending = nil
	}
	if a.stopped.Load() {
		if a.closing {
			a.release()
		}
		return nil, Info{}, a.end()
	}
	var f muxFrame
	if len(a.rings) == 1 {
		f = a.readRing(a.rings[0])
	} else {
		// With no ring (every interface missing) frames is nil: the
		// wait ends with the source.
		select {
		case f = <-a.frames:
		case <-a.done:
			return nil, Info{}, a.end()
		}
	}
	if f.err != nil {
		return nil, Info{}, f.err
	}
	a.lent = true
	if len(a.rings) > 1 {
		a.pending = f.ring
	}
	a.packets.Add(1)
	return f.data, f.info, nil
}

// readRing waits for the next frame of r, looking at the stop flag after
// every poll timeout.
func (a *AFPacket) readRing(r *ring) muxFrame {
	for {
		if a.stopped.Load() {
			return muxFrame{err: a.end()}
		}
		data, info, err := r.tp.next()
		switch {
		case errors.Is(err, errPollTimeout):
			continue
		case err != nil:
			// Down or deleted (a guest bridge switched off): the ring
			// is dead. Opened again, the source leaves the interface
			// out and reads the others. ENETDOWN says so even when
			// the name is back by now: a ring whose interface was
			// deleted reads nothing again, whatever took its name.
			// Without SkipMissing (no probe) nothing is left out, and
			// a source opened again on a down interface would end so
			// at once: the error is the caller's.
			if up, known := a.up(r.name); known && (!up || errors.Is(err, unix.ENETDOWN)) {
				return muxFrame{err: fmt.Errorf("afpacket %s: %w (%w)", r.name, ErrInterfacesChanged, err)}
			}
			return muxFrame{err: fmt.Errorf("afpacket %s: %w", r.name, err)}
		}
		if r.routed != nil && info.Outgoing && r.routed.copied(data) {
			continue // the received copy came, or comes, from another ring
		}
		return muxFrame{ring: r, data: data, info: info}
	}
}

// pump feeds r's frames to ReadPacket, one at a time: it reads the next
// frame only after the reader released the last, which keeps it valid.
func (a *AFPacket) pump(r *ring) {
	defer a.pumps.Done()
	for {
		f := a.readRing(r)
		if f.err != nil && a.stopped.Load() {
			return
		}
		select {
		case a.frames <- f:
		case <-a.done:
			return
		}
		if f.err != nil {
			return
		}
		select {
		case <-r.release:
		case <-a.done:
			return
		}
	}
}

// Close stops the source. A ReadPacket blocked in another goroutine
// returns within the poll timeout. If the last frame may still be in use
// (Close called while the reader holds a frame) the kernel stops filling
// the rings at once and their memory is released on the next ReadPacket
// (or when the source is garbage collected); otherwise it is released
// now.
func (a *AFPacket) Close() error {
	a.stop()
	a.pumps.Wait()
	// The watcher is gone with the pumps' done; the probe has no
	// finalizer to wait for, unlike the rings.
	a.closeProbe()
	a.readMu.Lock()
	defer a.readMu.Unlock()
	if a.released {
		return nil
	}
	if !a.lent {
		a.release()
		return nil
	}
	a.closing = true
	var errs []error
	a.statsMu.Lock()
	defer a.statsMu.Unlock()
	for _, r := range a.rings {
		if err := r.tp.setFilter([]bpf.RawInstruction{{Op: retK, K: 0}}); err != nil {
			errs = append(errs, fmt.Errorf("afpacket %s: detach: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// release unmaps the rings and closes their sockets, keeping the final
// counters. The caller holds readMu (or is the only user).
func (a *AFPacket) release() {
	a.statsMu.Lock()
	defer a.statsMu.Unlock()
	if a.released {
		return
	}
	a.collectLocked()
	for _, r := range a.rings {
		r.tp.close()
	}
	a.closeProbe()
	a.released = true
	if a.stopCtx != nil {
		a.stopCtx()
	}
}

// collectLocked adds what the kernel counted since the last call.
func (a *AFPacket) collectLocked() {
	for _, r := range a.rings {
		p, d, err := r.tp.stats()
		if err != nil {
			continue
		}
		a.kernel += uint64(p)
		a.drops += uint64(d)
	}
}

// Lost implements LossReporter: the ring's drops.
func (a *AFPacket) Lost() uint64 { return a.Stats().Drops }

// Stats returns the counters; safe to call from any goroutine.
func (a *AFPacket) Stats() AFPacketStats {
	a.statsMu.Lock()
	defer a.statsMu.Unlock()
	if !a.released {
		a.collectLocked()
	}
	return AFPacketStats{Packets: a.packets.Load(), Kernel: a.kernel, Drops: a.drops}
}
