package audit

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// fakeRunner records audits and lets the test release them one by one.
type fakeRunner struct {
	mu      sync.Mutex
	order   []hwaddr.MAC
	running int
	most    int // most audits running at once
	gate    chan struct{}
	stop    Stop // how each audit ends (default StopExhausted)
	cut     int  // logins tried before an audit is cut short
}

func (f *fakeRunner) Audit(ctx context.Context, t Target) (Report, []*event.Event, error) {
	f.mu.Lock()
	f.order = append(f.order, t.MAC)
	f.running++
	f.most = max(f.most, f.running)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
	select {
	case <-f.gate:
	case <-ctx.Done():
		return Report{Attempts: f.cut}, nil, ctx.Err()
	}
	stop := f.stop
	if stop == "" {
		stop = StopExhausted
	}
	return Report{Stop: stop}, []*event.Event{{Kind: event.KindAudit, Device: event.Endpoint{MAC: t.MAC.String()}}}, nil
}

type sliceSink struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (s *sliceSink) Emit(ev *event.Event) { s.mu.Lock(); s.evs = append(s.evs, ev); s.mu.Unlock() }

func mac(n byte) hwaddr.MAC { return hwaddr.MAC{2, 0, 0, 0, 0, n} }

func tgt(n byte) Target {
	return Target{MAC: mac(n), Addrs: []netip.Addr{netip.AddrFrom4([4]byte{192, 168, 1, n})}}
}

func TestSchedulerQueue(t *testing.T) {
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r := &fakeRunner{gate: make(chan struct{})}
	sink := &sliceSink{}
	done := make(chan Target, 10)
	s, err := NewScheduler(r, sink, SchedulerOptions{NewDevices: true, QueueSize: 3, Now: clock,
		Logger: quietLogger(), Done: func(t Target, _ Report, _ error) { done <- t }})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Consider(tgt(1)) || !s.Consider(tgt(2)) || !s.Consider(tgt(2)) || !s.Consider(tgt(3)) {
		t.Fatal("consider refused")
	}
	if s.Consider(tgt(4)) {
		t.Error("queue over its size")
	}
	// The owner's requests go first; automatic audits make room for
	// them, the last one first; a queue of requests only refuses.
	if err := s.Request(tgt(5)); err != nil { // 3 gives way: 5 1 2
		t.Errorf("request on a queue full of automatic audits: %v", err)
	}
	if err := s.Request(tgt(2)); err != nil { // already queued: moves to the front: 2 5 1
		t.Fatal(err)
	}
	if err := s.Request(tgt(6)); err != nil { // 1 gives way: 6 2 5
		t.Fatal(err)
	}
	if err := s.Request(tgt(7)); !errors.Is(err, ErrQueueFull) {
		t.Errorf("request on a queue full of requests: %v", err)
	}
	if s.Queued() != 3 {
		t.Errorf("queued %d", s.Queued())
	}
	s.Seed(mac(9), now.Add(-time.Hour))
	if s.Consider(tgt(9)) {
		t.Error("audited an hour ago, queued again")
	}
	s.Seed(mac(8), now.Add(-8*24*time.Hour))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	for i := 0; i < 3; i++ {
		r.gate <- struct{}{}
		<-done
	}
	if !s.Consider(tgt(8)) {
		t.Error("audit older than the interval not queued")
	}
	r.gate <- struct{}{}
	<-done
	if s.Consider(tgt(2)) {
		t.Error("just audited, queued again")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	// The requests that ran no longer count: automatic audits make room
	// again.
	if !s.Consider(tgt(10)) || !s.Consider(tgt(11)) || !s.Consider(tgt(12)) {
		t.Fatal("consider refused on an empty queue")
	}
	if err := s.Request(tgt(13)); err != nil {
		t.Errorf("request after the earlier ones ran: %v", err)
	}
	want := []hwaddr.MAC{mac(6), mac(2), mac(5), mac(8)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.order) != len(want) {
		t.Fatalf("order %v, want %v", r.order, want)
	}
	for i := range want {
		if r.order[i] != want[i] {
			t.Fatalf("order %v, want %v", r.order, want)
		}
	}
	if r.most != 1 {
		t.Errorf("%d audits at once", r.most)
	}
	if len(sink.evs) != 4 {
		t.Errorf("%d events", len(sink.evs))
	}
}

func TestSchedulerOffByDefault(t *testing.T) {
	r := &fakeRunner{gate: make(chan struct{})}
	s, err := NewScheduler(r, &sliceSink{}, SchedulerOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Consider(tgt(1)) {
		t.Error("automatic audit without NewDevices")
	}
	if err := s.Request(tgt(1)); err != nil || s.Queued() != 1 {
		t.Errorf("on-demand request: %v, queued %d", err, s.Queued())
	}
}

func TestSchedulerRemembersBounded(t *testing.T) {
	s, err := NewScheduler(&fakeRunner{}, &sliceSink{}, SchedulerOptions{NewDevices: true, Remember: 2, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	s.Seed(mac(1), base.Add(-3*time.Minute))
	s.Seed(mac(2), base.Add(-2*time.Minute))
	s.Seed(mac(3), base.Add(-time.Minute))
	if len(s.last) != 2 {
		t.Fatalf("%d remembered, cap 2", len(s.last))
	}
	if _, ok := s.last[mac(1)]; ok {
		t.Error("oldest not forgotten")
	}
}

// runScheduler makes a scheduler of runner, sink and opts and runs it
// until ctx ends.
func runScheduler(ctx context.Context, t *testing.T, runner Runner, sink Sink, opts SchedulerOptions) *Scheduler {
	t.Helper()
	s, err := NewScheduler(runner, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(ctx)
	return s
}

// TestSchedulerAudits runs the real Auditor through the scheduler against
// a fake telnet device.
func TestSchedulerAudits(t *testing.T) {
	d := newMapDialer()
	f := &fakeTelnet{user: "root", password: "xc3511"}
	d.route(lan("23"), f.start(t))
	a := newAuditor(t, d, nil)
	sink := &sliceSink{}
	done := make(chan Report, 1)
	s := runScheduler(t.Context(), t, a, sink, SchedulerOptions{Logger: quietLogger(), Done: func(_ Target, r Report, _ error) { done <- r }})
	if err := s.Request(target()); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Found == nil || r.Found.Protocol != "telnet" {
		t.Fatalf("report %+v", r)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(findKind(sink.evs, event.KindDefaultCredentials)) != 1 {
		t.Errorf("events %v", sink.evs)
	}
}

// TestSchedulerRequestLimits: the owner's requests bypass Interval, but
// not MinRequestGap, and a device that showed signs of locking out is
// held from every audit for LockoutHold.
func TestSchedulerRequestLimits(t *testing.T) {
	clk := testclock.New(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
	clock, advance := clk.Now, clk.Advance
	r := &fakeRunner{gate: make(chan struct{}, 10)}
	done := make(chan Target, 10)
	s := runScheduler(t.Context(), t, r, &sliceSink{}, SchedulerOptions{NewDevices: true, Interval: time.Hour, Now: clock,
		Logger: quietLogger(), Done: func(t Target, _ Report, _ error) { done <- t }})
	audit := func(tg Target) {
		t.Helper()
		if err := s.Request(tg); err != nil {
			t.Fatal(err)
		}
		r.gate <- struct{}{}
		<-done
	}

	audit(tgt(1))
	if err := s.Request(tgt(1)); !errors.Is(err, ErrTooSoon) {
		t.Errorf("a second request at once: %v, want ErrTooSoon", err)
	}
	advance(MinRequestGap)
	audit(tgt(1)) // allowed again, though within Interval

	r.mu.Lock()
	r.stop = StopLockout
	r.mu.Unlock()
	audit(tgt(2))
	advance(MinRequestGap + time.Hour) // past the gap and the Interval
	if err := s.Request(tgt(2)); !errors.Is(err, ErrTooSoon) {
		t.Errorf("a request after a lockout: %v, want ErrTooSoon", err)
	}
	if s.Consider(tgt(2)) {
		t.Error("an automatic audit was queued after a lockout")
	}
	advance(LockoutHold)
	if err := s.Request(tgt(2)); err != nil {
		t.Errorf("a request after the hold: %v", err)
	}
}

// While a device's audit runs, neither a request nor Consider queues it
// again: its time is recorded only at the end, so either would slip past
// the request gap and a lockout it may be about to show.
func TestSchedulerNoSecondAuditWhileRunning(t *testing.T) {
	r := &fakeRunner{gate: make(chan struct{})}
	s := runScheduler(t.Context(), t, r, &sliceSink{}, SchedulerOptions{NewDevices: true, Logger: quietLogger()})
	if err := s.Request(tgt(1)); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, r, 1)
	if err := s.Request(tgt(1)); !errors.Is(err, ErrTooSoon) {
		t.Errorf("a request during the audit: %v, want ErrTooSoon", err)
	}
	if s.Consider(tgt(1)) || s.Queued() != 0 {
		t.Error("Consider queued the device whose audit runs")
	}
}

// The target is taken again when its audit starts: its addresses then,
// and no audit of a device gone or protected since it was queued, nor an
// automatic one of a device trusted since; Current hears which were
// requested.
func TestSchedulerTakesTargetAtStart(t *testing.T) {
	r := &fakeRunner{gate: make(chan struct{}, 3)}
	now := netip.MustParseAddr("192.168.1.77")
	var mu sync.Mutex
	asked := map[hwaddr.MAC]bool{} // mac → requested
	current := func(m hwaddr.MAC, requested bool) (Target, bool) {
		mu.Lock()
		asked[m] = requested
		mu.Unlock()
		if m == mac(2) || m == mac(3) && !requested {
			return Target{}, false // gone or protected; trusted since
		}
		return Target{MAC: m, Addrs: []netip.Addr{now}}, true
	}
	started := make(chan Target, 3)
	s, err := NewScheduler(r, &sliceSink{}, SchedulerOptions{NewDevices: true, Current: current, Logger: quietLogger(),
		Done: func(t Target, _ Report, _ error) { started <- t }})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []byte{1, 2} {
		if err := s.Request(tgt(n)); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Consider(tgt(3)) {
		t.Fatal("device 3 not queued")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	for range 3 {
		r.gate <- struct{}{}
	}
	got := <-started
	if got.MAC != mac(1) || len(got.Addrs) != 1 || got.Addrs[0] != now {
		t.Errorf("audited %v at %v, want %v at %v", got.MAC, got.Addrs, mac(1), now)
	}
	askedAll := func() bool { mu.Lock(); defer mu.Unlock(); return len(asked) == 3 }
	for deadline := time.Now().Add(5 * time.Second); !askedAll() && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	mu.Lock()
	want := map[hwaddr.MAC]bool{mac(1): true, mac(2): true, mac(3): false}
	if !maps.Equal(asked, want) {
		t.Errorf("Current asked with requested = %v, want %v", asked, want)
	}
	mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.order) != 1 {
		t.Errorf("audits run %v, want only the device still there", r.order)
	}
}

// An audit cut short by shutdown after trying logins counts as done, and
// the daemon hears of it to save the time: restarts must not add up to
// more tries than one audit makes. One that tried none is not remembered.
func TestSchedulerAuditCutShort(t *testing.T) {
	for _, tried := range []int{0, 3} {
		r := &fakeRunner{gate: make(chan struct{}), cut: tried}
		var done []hwaddr.MAC
		var mu sync.Mutex
		s, err := NewScheduler(r, &sliceSink{}, SchedulerOptions{Logger: quietLogger(),
			Done: func(t Target, _ Report, _ error) { mu.Lock(); done = append(done, t.MAC); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Request(tgt(1)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error)
		go func() { ran <- s.Run(ctx) }()
		waitRunning(t, r, 1)
		cancel()
		<-ran
		_, remembered := s.LastAudit(mac(1))
		mu.Lock()
		heard := len(done) == 1
		mu.Unlock()
		if remembered != (tried > 0) || heard != (tried > 0) {
			t.Errorf("%d logins tried before shutdown: remembered %v, daemon told %v; want both %v", tried, remembered, heard, tried > 0)
		}
	}
}

func waitRunning(t *testing.T, r *fakeRunner, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		running := r.running
		r.mu.Unlock()
		if running == n {
			return
		}
	}
	t.Fatalf("%d audits never ran", n)
}

// Consider after a restart: a device never audited is queued, one
// audited (as Seed tells) within Interval is not until Interval has
// passed, and one held after a lockout sign stays held.
func TestSchedulerConsiderSeeded(t *testing.T) {
	clk := testclock.New(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
	s, err := NewScheduler(&fakeRunner{}, &sliceSink{}, SchedulerOptions{NewDevices: true, Interval: time.Hour, Now: clk.Now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	s.Seed(mac(1), clk.Now())
	s.Seed(mac(2), clk.Now().Add(LockoutHold)) // held, as after a lockout sign
	if !s.Consider(tgt(3)) {
		t.Error("a device never audited was not queued")
	}
	if s.Consider(tgt(1)) {
		t.Error("a device audited within the interval was queued")
	}
	clk.Advance(time.Hour)
	if !s.Consider(tgt(1)) {
		t.Error("a device whose audit is older than the interval was not queued")
	}
	if s.Consider(tgt(2)) {
		t.Error("a device held after a lockout sign was queued")
	}
}

// Seed gives the scheduler audits of an earlier run: a saved time never
// replaces a later one it knows, and LastAudit reports what it holds.
func TestSchedulerSeed(t *testing.T) {
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	s, err := NewScheduler(&fakeRunner{}, &sliceSink{}, SchedulerOptions{NewDevices: true, Now: func() time.Time { return base }, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LastAudit(mac(1)); ok {
		t.Fatal("LastAudit knows a device never audited")
	}
	tests := []struct {
		seed time.Time
		want time.Time
	}{
		{base.Add(-time.Hour), base.Add(-time.Hour)},
		{base.Add(-2 * time.Hour), base.Add(-time.Hour)}, // older: ignored
		{base.Add(LockoutHold), base.Add(LockoutHold)},   // a hold
		{base, base.Add(LockoutHold)},                    // the hold stays
	}
	for i, tt := range tests {
		s.Seed(mac(1), tt.seed)
		if got, ok := s.LastAudit(mac(1)); !ok || !got.Equal(tt.want) {
			t.Errorf("step %d: LastAudit = %v %v, want %v", i, got, ok, tt.want)
		}
	}
	if err := s.Request(tgt(1)); !errors.Is(err, ErrTooSoon) {
		t.Errorf("Request of a seeded held device: %v, want ErrTooSoon", err)
	}
}

// TestSchedulerNotPresent: a device the kernel places at none of its
// addresses is not counted as audited: nothing was sent, and it is audited
// when it is back; the next device's audit goes on.
func TestSchedulerNotPresent(t *testing.T) {
	d := newMapDialer()
	f := &fakeTelnet{user: "root", password: "xc3511"}
	d.route(lan("23"), f.start(t))
	gone := target()
	gone.MAC = mac(9)
	a := newAuditor(t, d, func(o *Options) {
		// The kernel has the address at the device of target(), not at
		// the one that left.
		o.HolderOf = func(netip.Addr) (hwaddr.MAC, bool) { return target().MAC, true }
	})
	type result struct {
		mac hwaddr.MAC
		err error
	}
	done := make(chan result, 2)
	s := runScheduler(t.Context(), t, a, &sliceSink{}, SchedulerOptions{Logger: quietLogger(),
		Done: func(tg Target, _ Report, err error) { done <- result{tg.MAC, err} }})
	for _, tg := range []Target{gone, target()} {
		if err := s.Request(tg); err != nil {
			t.Fatal(err)
		}
	}
	ended := map[hwaddr.MAC]error{}
	for range 2 {
		r := <-done
		ended[r.mac] = r.err
	}
	if err := ended[gone.MAC]; !errors.Is(err, ErrNotPresent) {
		t.Errorf("the audit of the device that left ended %v, want %v", err, ErrNotPresent)
	}
	if err, ok := ended[target().MAC]; !ok || err != nil {
		t.Errorf("the audit of the device at the address ended %v (ran %v), want done", err, ok)
	}
	if at, ok := s.LastAudit(gone.MAC); ok {
		t.Errorf("the device that left is remembered as audited at %v", at)
	}
	if f.attempts.Load() == 0 {
		t.Error("the device at the address got no login attempt")
	}
}

// beginRunner starts the logins of every audit (Target.Begin), then waits
// for the gate.
type beginRunner struct {
	begun chan hwaddr.MAC
	gate  chan struct{}
}

func (b beginRunner) Audit(ctx context.Context, t Target) (Report, []*event.Event, error) {
	t.Begin()
	b.begun <- t.MAC
	select {
	case <-b.gate:
	case <-ctx.Done():
		return Report{Attempts: 1}, nil, ctx.Err()
	}
	return Report{Stop: StopExhausted, Attempts: 3}, nil, nil
}

// TestSchedulerSavesStart: when an audit is about to try logins, its start
// is its audit time and is handed on to be saved: a crash in its middle
// must not let a restart audit the device again at once.
func TestSchedulerSavesStart(t *testing.T) {
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := beginRunner{begun: make(chan hwaddr.MAC, 1), gate: make(chan struct{})}
	var mu sync.Mutex
	var saved []string
	s, err := NewScheduler(r, &sliceSink{}, SchedulerOptions{Logger: quietLogger(), Now: func() time.Time { return clock },
		Started: func(tg Target) {
			mu.Lock()
			defer mu.Unlock()
			saved = append(saved, "started "+tg.MAC.String())
		},
		Done: func(tg Target, _ Report, _ error) {
			mu.Lock()
			defer mu.Unlock()
			saved = append(saved, "done "+tg.MAC.String())
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if err := s.Request(tgt(1)); err != nil {
		t.Fatal(err)
	}
	<-r.begun
	if at, ok := s.LastAudit(mac(1)); !ok || !at.Equal(clock) {
		t.Errorf("audit time while the logins run: %v, %v; want its start %v", at, ok, clock)
	}
	mu.Lock()
	if len(saved) != 1 || saved[0] != "started "+mac(1).String() {
		t.Errorf("handed on %q, want the start", saved)
	}
	mu.Unlock()
	cancel() // the daemon stops in the middle
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(saved) != 2 || saved[1] != "done "+mac(1).String() {
		t.Errorf("handed on %q, want the start, then the end", saved)
	}
}

// TestSchedulerReconfigure: a reload's new runner cancels the running
// audit, which runs again with it when it tried no login; switching off
// cancels the running audit, empties the queue and refuses requests; the
// memory of audits outlasts both.
func TestSchedulerReconfigure(t *testing.T) {
	old := &fakeRunner{gate: make(chan struct{})}
	next := &fakeRunner{gate: make(chan struct{}), cut: 2}
	done := make(chan Target, 10)
	s, err := NewScheduler(old, &sliceSink{}, SchedulerOptions{Logger: quietLogger(),
		Done: func(t Target, _ Report, _ error) { done <- t }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	started := func(r *fakeRunner, n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			r.mu.Lock()
			got := len(r.order)
			r.mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("runner began %d audits, want %d", got, n)
			}
		}
	}
	if err := s.Request(tgt(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Request(tgt(2)); err != nil {
		t.Fatal(err)
	}
	started(old, 1)
	old.mu.Lock()
	cut := old.order[0] // the later request went first
	old.mu.Unlock()

	// New options: the audit under the old ones stops; it tried no
	// login, so it runs again first, with the new runner.
	s.Reconfigure(next, false, 0)
	started(next, 1)
	next.mu.Lock()
	first := next.order[0]
	next.mu.Unlock()
	if first != cut {
		t.Errorf("the new runner began with %s, want the cut audit of %s", first, cut)
	}

	// Off: the running audit stops at once and counts (it tried
	// logins); the queue is emptied; requests are refused.
	s.Reconfigure(nil, true, 0)
	select {
	case got := <-done:
		if got.MAC != cut {
			t.Errorf("done %s, want %s", got.MAC, cut)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the running audit did not stop when the audit was switched off")
	}
	if n := s.Queued(); n != 0 {
		t.Errorf("%d audits still queued while off", n)
	}
	if err := s.Request(tgt(3)); !errors.Is(err, ErrOff) {
		t.Errorf("request while off: %v, want ErrOff", err)
	}
	if s.Consider(tgt(3)) {
		t.Error("consider while off queued a device")
	}
	if _, ok := s.LastAudit(cut); !ok {
		t.Error("the cut audit that tried logins is not remembered")
	}

	// On again: the memory stayed, so the device just audited waits.
	s.Reconfigure(&fakeRunner{gate: make(chan struct{})}, true, 0)
	if err := s.Request(Target{MAC: cut}); !errors.Is(err, ErrTooSoon) {
		t.Errorf("request of a device just audited, after switching on again: %v, want ErrTooSoon", err)
	}
	if err := s.Request(tgt(3)); err != nil {
		t.Errorf("request after switching on again: %v", err)
	}
}

// TestSchedulerWithdrawsMidAudit: the owner marks a device trusted (or
// starts using it, or it goes) while its automatic audit runs, perhaps
// because the failed logins just set off its alarm: the audit tries no
// further login. What it tried counts, and no default_login result is
// filed for a test it did not finish.
func TestSchedulerWithdrawsMidAudit(t *testing.T) {
	f := &fakeTelnet{user: "root", password: "unique-pw-93"}
	d := newMapDialer()
	d.route(lan("23"), f.start(t))
	const before = 2 // logins the device saw when the owner trusted it
	current := func(m hwaddr.MAC, requested bool) (Target, bool) {
		if f.attempts.Load() >= before && !requested {
			return Target{}, false // trusted since
		}
		return target(), true
	}
	type end struct {
		r   Report
		err error
	}
	done := make(chan end, 1)
	sink := &sliceSink{}
	s := runScheduler(t.Context(), t, newAuditor(t, d, nil), sink, SchedulerOptions{NewDevices: true, Current: current, Logger: quietLogger(),
		Done: func(_ Target, r Report, err error) { done <- end{r, err} }})
	if !s.Consider(target()) {
		t.Fatal("not queued")
	}
	var got end
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the audit did not end")
	}
	if n := f.attempts.Load(); n != before || got.r.Attempts != before {
		t.Errorf("the device saw %d logins, the report says %d; want %d: none after it was trusted", n, got.r.Attempts, before)
	}
	if !errors.Is(got.err, ErrWithdrawn) {
		t.Errorf("audit ended with %v, want ErrWithdrawn", got.err)
	}
	if _, ok := s.LastAudit(devMAC); !ok {
		t.Error("the logins it tried do not count")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if obs := auditCheck(sink.evs, "default_login"); obs != nil {
		t.Errorf("a withdrawn test filed %q", obs.Summary)
	}
}

// TestSchedulerCutShortFilesWhatItFound: an audit cut short by shutdown
// or a reload after a default login was accepted (during the check with
// a random password that follows it) counts as done, so its finding must
// be filed: dropped, the device would wait a whole interval for the next
// audit to find the default again.
func TestSchedulerCutShortFilesWhatItFound(t *testing.T) {
	for _, how := range []string{"shutdown", "audit_switched_off"} {
		t.Run(how, func(t *testing.T) {
			f := &fakeTelnet{user: "root", password: "xc3511"}
			d := newMapDialer()
			d.route(lan("23"), f.start(t))
			// The check after the accepted login waits AttemptDelay: the
			// cut comes then.
			a := newAuditor(t, d, func(o *Options) { o.AttemptDelay = time.Minute })
			sink := &sliceSink{}
			done := make(chan error, 1)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s := runScheduler(ctx, t, a, sink, SchedulerOptions{Logger: quietLogger(),
				Done: func(_ Target, _ Report, err error) { done <- err }})
			if err := s.Request(target()); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); f.attempts.Load() == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no login reached the device")
				}
			}
			time.Sleep(time.Second) // the shell prompt settles; the check waits
			if how == "shutdown" {
				cancel()
			} else {
				s.Reconfigure(nil, false, 0)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the audit did not stop")
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if found := findKind(sink.evs, event.KindDefaultCredentials); len(found) != 1 {
				t.Errorf("%d default_credentials findings filed, want the one accepted before the cut", len(found))
			}
		})
	}
}

// TestSchedulerStep: NTP (or the owner) steps the router's clock after a
// device was audited and another held after a lockout sign. The times
// the scheduler dated move with the step: no early audit after a step
// forward (the hold would end at once), no late one after a step back.
// A time Seed gave, dated by an earlier run's clock, stays.
func TestSchedulerStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		step time.Duration
	}{
		{"forward_a_year", 365 * 24 * time.Hour},
		{"forward_two_days", 48 * time.Hour},
		{"back_a_day", -24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testclock.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			r := &fakeRunner{gate: make(chan struct{}, 10)}
			done := make(chan Target, 10)
			s := runScheduler(t.Context(), t, r, &sliceSink{}, SchedulerOptions{NewDevices: true, Interval: time.Hour, Now: clk.Now,
				Logger: quietLogger(), Done: func(t Target, _ Report, _ error) { done <- t }})
			audited := clk.Now()
			auditGated(t, s, r, done, tgt(1), StopExhausted)
			auditGated(t, s, r, done, tgt(2), StopLockout)
			seeded := audited.Add(-30 * time.Minute)
			s.Seed(mac(3), seeded)

			clk.Set(audited.Add(tc.step))
			s.Step(tc.step)
			for _, want := range []struct {
				mac byte
				at  time.Time
			}{
				{1, audited.Add(tc.step)},
				{2, audited.Add(LockoutHold + tc.step)},
				{3, seeded},
			} {
				if got, _ := s.LastAudit(mac(want.mac)); !got.Equal(want.at) {
					t.Errorf("device %d: last audit %s after the step, want %s", want.mac, got, want.at)
				}
			}
			clk.Advance(time.Minute)
			if s.Consider(tgt(1)) {
				t.Error("a device audited a minute ago was queued again")
			}
			clk.Advance(LockoutHold + MinRequestGap)
			if err := s.Request(tgt(2)); err != nil {
				t.Errorf("a request once the lockout hold is over: %v", err)
			}
		})
	}
}

// auditGated requests an audit of tg that r ends by stop, lets it run,
// waits until done tells it ended, and returns its time as s keeps it.
func auditGated(t *testing.T, s *Scheduler, r *fakeRunner, done <-chan Target, tg Target, stop Stop) time.Time {
	t.Helper()
	r.mu.Lock()
	r.stop = stop
	r.mu.Unlock()
	if err := s.Request(tg); err != nil {
		t.Fatal(err)
	}
	r.gate <- struct{}{}
	<-done
	at, _ := s.LastAudit(tg.MAC)
	return at
}

// TestSchedulerStepNoticedLate: NTP steps the clock and an audit ends
// before the daemon reads the clock again and hands the step to Step (up
// to five seconds later). That audit was dated by the set clock: Step
// leaves it, and moves only what was dated before the step.
func TestSchedulerStepNoticedLate(t *testing.T) {
	for _, tc := range []struct {
		name string
		step time.Duration
	}{
		{"forward_a_year", 365 * 24 * time.Hour},
		{"back_a_day", -24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testclock.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			r := &fakeRunner{gate: make(chan struct{}, 10)}
			done := make(chan Target, 10)
			s := runScheduler(t.Context(), t, r, &sliceSink{}, SchedulerOptions{Interval: time.Hour, Now: clk.Now, Reading: clk.Reading,
				Logger: quietLogger(), Done: func(t Target, _ Report, _ error) { done <- t }})
			before := auditGated(t, s, r, done, tgt(1), StopExhausted)
			clk.Advance(time.Minute)
			clk.Set(clk.Now().Add(tc.step)) // NTP
			clk.Advance(time.Second)
			after := auditGated(t, s, r, done, tgt(2), StopExhausted)
			held := auditGated(t, s, r, done, tgt(3), StopLockout)
			clk.Advance(time.Second)
			s.Step(tc.step) // the daemon notices the step
			for _, want := range []struct {
				mac byte
				at  time.Time
			}{
				{1, before.Add(tc.step)},
				{2, after},
				{3, held},
			} {
				if got, _ := s.LastAudit(mac(want.mac)); !got.Equal(want.at) {
					t.Errorf("device %d: last audit %s after the step, want %s", want.mac, got, want.at)
				}
			}
		})
	}
}

// TestSchedulerNewDevicesOff: the owner who switches automatic audits
// off by a reload (new_devices = false) gets none after it: the devices
// Consider queued are dropped, the running automatic audit is not put
// back, and the owner's requests stay.
func TestSchedulerNewDevicesOff(t *testing.T) {
	old := &fakeRunner{gate: make(chan struct{})}
	next := &fakeRunner{gate: make(chan struct{}, 10)}
	done := make(chan Target, 10)
	s, err := NewScheduler(old, &sliceSink{}, SchedulerOptions{NewDevices: true, Logger: quietLogger(),
		Done: func(t Target, _ Report, _ error) { done <- t }})
	if err != nil {
		t.Fatal(err)
	}
	for n := byte(1); n <= 3; n++ {
		if !s.Consider(tgt(n)) {
			t.Fatalf("device %d not queued", n)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		old.mu.Lock()
		begun := len(old.order)
		old.mu.Unlock()
		if begun == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first automatic audit did not begin")
		}
	}
	if err := s.Request(tgt(4)); err != nil {
		t.Fatal(err)
	}

	s.Reconfigure(next, false, 0)
	next.gate <- struct{}{}
	select {
	case got := <-done:
		if got.MAC != mac(4) {
			t.Errorf("audited %s after automatic audits were switched off, want only the request %s", got.MAC, mac(4))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the requested audit did not run")
	}
	if n := s.Queued(); n != 0 {
		t.Errorf("%d automatic audits still queued after new_devices was switched off", n)
	}
}
