package alert

import (
	"bytes"
	"cmp"
	"container/list"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotgw/iotgw/pkg/store"
)

// Outbox is the durable queue alerts wait in until delivered; the store's
// outbox (*store.Store). Items come back from Pending after a restart.
type Outbox interface {
	// Enqueue keeps payload; urgent asks for it to reach flash promptly.
	Enqueue(payload json.RawMessage, urgent bool) (store.OutboxItem, error)
	Pending(limit int) []store.OutboxItem
	Ack(id uint64) error
	Reschedule(id uint64, next time.Time) error // a failed delivery
	SetNextAttempt(id uint64, next time.Time) error
}

// Options are the Dispatcher's collaborators and limits; zero fields take
// the defaults.
type Options struct {
	Outbox Outbox // required
	Logger *slog.Logger
	// Now is the clock (time.Now when nil); quiet hours, rate limits and
	// back-off read it.
	Now func() time.Time
	// Location overrides Config.TimeZone for quiet hours.
	Location *time.Location
	// DedupEntries bounds the dedup memory (default 4096 keys, least
	// recently used forgotten first).
	DedupEntries int
	// MaxPending bounds alerts waiting for delivery across all channels
	// (default store.DefaultMaxOutbox); each channel gets an equal share,
	// at least 8, and a full share drops that channel's oldest alert.
	MaxPending int
	// MinBackoff and MaxBackoff bound the retry delay, which doubles from
	// MinBackoff (default 30s) to MaxBackoff (default 1h).
	MinBackoff, MaxBackoff time.Duration
	// SendTimeout bounds one delivery attempt (default 30s).
	SendTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultDedupEntries = 4096
	DefaultMinBackoff   = 30 * time.Second
	DefaultMaxBackoff   = time.Hour
	DefaultSendTimeout  = 30 * time.Second
	minChannelShare     = 8
	// maxIdle bounds a worker's sleep, so a clock set at boot (NTP) is
	// noticed within a minute.
	maxIdle = time.Minute
)

// ErrUnknownChannel is returned by SendTest for a name not configured.
var ErrUnknownChannel = errors.New("alert: no such channel")

// Dispatcher deduplicates alerts, queues each in the outbox once per
// channel that wants it, and delivers them: per channel in order, within
// its rate limit (coalescing a backlog into a digest), holding non-urgent
// alerts through quiet hours, retrying failures with back-off. Notify,
// SendTest, MarkSeen, Status and Reconfigure are safe for concurrent use;
// Run delivers. One Dispatcher per outbox.
type Dispatcher struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	outbox Outbox

	// setMu guards the channel set, what goes with it, and the start of
	// workers; Notify holds it shared while it queues, so that a channel
	// Reconfigure took out gets nothing after it returned.
	setMu    sync.RWMutex
	baseURL  string
	timeZone string
	channels []*channel
	share    int
	runCtx   context.Context // Run's, while it runs
	workers  sync.WaitGroup

	mu    sync.Mutex // guards dedup
	dedup *lru
}

// channel is one configured destination and its queue.
type channel struct {
	settings
	sender Sender
	redact redactor
	bucket *bucket
	wake   chan struct{} // capacity 1
	// off is set when the owner switched the channel off on the page: it
	// takes no new alerts (queued ones are still delivered).
	off atomic.Bool
	// stop ends the channel's worker, done is closed once it has ended;
	// both nil until Run starts it. Under Dispatcher.setMu.
	stop context.CancelFunc
	done chan struct{}

	mu     sync.Mutex
	queue  []*item // by outbox id: FIFO
	status ChannelStatus
	// pushedOut counts the alerts a full queue dropped, for the log.
	pushedOut uint64
}

// item is one alert waiting for one channel.
type item struct {
	id       uint64
	alert    Alert
	attempts int
	next     time.Time
	planned  time.Time // when next was set after a failure; zero when not
	inFlight bool
	// alone: a digest holding it was refused for good; it is sent on its
	// own, so that one part the service refuses does not drop the rest.
	alone bool
}

// envelope is the outbox payload.
type envelope struct {
	V       int    `json:"v"`
	Channel string `json:"channel"`
	Alert   Alert  `json:"alert"`
}

// ChannelStatus is what the page shows about a channel.
type ChannelStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
	Pending int    `json:"pending"`
	// Sent counts messages delivered (a digest is one); Failed counts
	// failed attempts; Dropped counts alerts given up: refused by the
	// service, or pushed out by a full queue.
	Sent          uint64    `json:"sent"`
	Failed        uint64    `json:"failed"`
	Dropped       uint64    `json:"dropped"`
	LastSent      time.Time `json:"last_sent,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
	NextAttempt   time.Time `json:"next_attempt,omitzero"`
}

// New validates cfg, builds the channels and takes over the alerts the
// outbox still holds (from before a restart). Alerts queued for a channel
// no longer configured are dropped with a warning.
func New(cfg Config, opts Options) (*Dispatcher, error) {
	if opts.Outbox == nil {
		return nil, errors.New("alert: an outbox is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DedupEntries <= 0 {
		opts.DedupEntries = DefaultDedupEntries
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = store.DefaultMaxOutbox
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = DefaultSendTimeout
	}
	all, err := cfg.build(opts.Location)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{opts: opts, log: opts.Logger.With("component", "alert"), now: opts.Now,
		baseURL: strings.TrimRight(cfg.BaseURL, "/"), timeZone: cfg.TimeZone, outbox: opts.Outbox, dedup: newLRU(opts.DedupEntries)}
	for i := range all {
		d.channels = append(d.channels, d.newChannel(&all[i]))
	}
	d.share = shareOf(opts, len(d.channels))
	d.restore()
	return d, nil
}

// shareOf is each of n channels' share of Options.MaxPending.
func shareOf(opts Options, n int) int {
	return max(minChannelShare, opts.MaxPending/max(n, 1))
}

func (d *Dispatcher) newChannel(s *settings) *channel {
	ch := &channel{settings: *s, sender: newSender(s, d.opts), redact: newRedactor(s.secrets()),
		bucket: newBucket(s.rate, s.burst), wake: make(chan struct{}, 1)}
	ch.status.Name, ch.status.Type = s.Name, s.Type
	if s.plainWarning != "" {
		d.log.Warn("alert channel "+s.plainWarning, "channel", s.Name)
	}
	return ch
}

// Reconfigure puts a reloaded [alert] section in force without a
// restart. A channel whose settings are unchanged goes on as it was. One
// taken out stops at once, an attempt in flight included, and its
// queued alerts are dropped. One whose settings changed (a new URL, a
// token, quiet hours, the time zone) gets a new sender at once and keeps
// its queue, the owner's switch, its counters and, at the same rate and
// burst, its rate limit. A new one starts, and the queues that go on
// are cut to the shares of the new number of channels. An invalid
// section changes nothing.
func (d *Dispatcher) Reconfigure(cfg Config) error {
	all, err := cfg.build(d.opts.Location)
	if err != nil {
		return err
	}
	type handover struct{ from, to *channel }
	var changed []handover
	var gone []*channel

	d.setMu.Lock()
	sameZone := d.opts.Location != nil || cfg.TimeZone == d.timeZone
	old := make(map[string]*channel, len(d.channels))
	for _, ch := range d.channels {
		old[ch.Name] = ch
	}
	next := make([]*channel, 0, len(all))
	for i := range all {
		s := &all[i]
		o := old[s.Name]
		delete(old, s.Name)
		if o != nil && sameZone && sameSettings(&o.settings, s) {
			next = append(next, o)
			continue
		}
		ch := d.newChannel(s)
		next = append(next, ch)
		if o == nil {
			d.startLocked(ch)
			continue
		}
		ch.off.Store(o.off.Load())
		changed = append(changed, handover{from: o, to: ch})
		d.stopLocked(o)
	}
	for _, o := range d.channels {
		if _, ok := old[o.Name]; ok {
			gone = append(gone, o)
			d.stopLocked(o)
		}
	}
	d.channels, d.share = next, shareOf(d.opts, len(next))
	d.baseURL, d.timeZone = strings.TrimRight(cfg.BaseURL, "/"), cfg.TimeZone
	// A new channel shrank the shares: the queues that go on are cut to
	// theirs now, or together they overrun the outbox, which then drops
	// its oldest alerts, whoever's, urgent or not.
	for _, ch := range next {
		ch.mu.Lock()
		for len(ch.queue) > d.share {
			if !d.dropOldestLocked(ch) {
				break // the rest is being sent
			}
		}
		ch.mu.Unlock()
	}
	d.setMu.Unlock()

	// The old workers end promptly: their sends are cancelled.
	for _, h := range changed {
		d.waitStopped(h.from)
	}
	for _, o := range gone {
		d.waitStopped(o)
		o.mu.Lock()
		for _, it := range o.queue {
			d.ack(it.id)
		}
		if n := len(o.queue); n > 0 {
			d.log.Warn("dropping the queued alerts of a channel taken out of the configuration", "channel", o.Name, "alerts", n)
		}
		o.queue = nil
		o.mu.Unlock()
		closeSender(o)
	}
	d.setMu.Lock()
	for _, h := range changed {
		d.handOverLocked(h.from, h.to)
		d.startLocked(h.to)
	}
	d.setMu.Unlock()
	// Not under setMu, which Notify waits for on the packet path: an MQTT
	// sender's Close waits for a test alert sent on it to give up.
	for _, h := range changed {
		closeSender(h.from)
	}
	return nil
}

// sameSettings: a channel built from b would send as one built from a.
func sameSettings(a, b *settings) bool {
	if !reflect.DeepEqual(a.ChannelConfig, b.ChannelConfig) {
		return false
	}
	if a.roots == nil || b.roots == nil {
		return a.roots == b.roots
	}
	return a.roots.Equal(b.roots)
}

// handOverLocked gives to what from held: its queue, due now, before
// what to was given since, its counters and, at the same rate and burst,
// its tokens.
// from's worker has ended. d.setMu held.
func (d *Dispatcher) handOverLocked(from, to *channel) {
	from.mu.Lock()
	defer from.mu.Unlock()
	to.mu.Lock()
	defer to.mu.Unlock()
	// The waits were the old settings' failures (a wrong URL or token
	// the owner just fixed): the new ones are tried at once.
	for _, it := range from.queue {
		if !it.next.IsZero() {
			it.next, it.planned = time.Time{}, time.Time{}
			if err := d.outbox.SetNextAttempt(it.id, it.next); err != nil && !errors.Is(err, store.ErrNotFound) {
				d.log.Warn("cannot reschedule an alert in the outbox", "err", err)
			}
		}
	}
	to.queue = append(from.queue, to.queue...)
	from.queue = nil
	slices.SortStableFunc(to.queue, func(a, b *item) int { return cmp.Compare(a.id, b.id) })
	for len(to.queue) > d.share {
		d.dropOldestLocked(to)
	}
	st := from.status
	st.Name, st.Type = to.Name, to.Type
	to.status, to.pushedOut = st, from.pushedOut
	if from.rate == to.rate && from.burst == to.burst {
		to.bucket = from.bucket
	}
}

// startLocked starts ch's worker if Run runs. d.setMu held.
func (d *Dispatcher) startLocked(ch *channel) {
	if d.runCtx == nil || d.runCtx.Err() != nil {
		return
	}
	ctx, stop := context.WithCancel(d.runCtx)
	done := make(chan struct{})
	ch.stop, ch.done = stop, done
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		defer close(done)
		d.work(ctx, ch)
	}()
}

// stopLocked cancels ch's worker, if it runs. d.setMu held.
func (d *Dispatcher) stopLocked(ch *channel) {
	if ch.stop != nil {
		ch.stop()
	}
}

// waitStopped waits for ch's worker, stopped, to end.
func (d *Dispatcher) waitStopped(ch *channel) {
	d.setMu.RLock()
	done := ch.done
	d.setMu.RUnlock()
	if done != nil {
		<-done
	}
}

func closeSender(ch *channel) {
	if c, ok := ch.sender.(io.Closer); ok {
		_ = c.Close()
	}
}

// newSender builds the Sender for a validated channel.
func newSender(s *settings, opts Options) Sender {
	h := httpSender{client: newHTTPClient(s), now: opts.Now, service: s.Type}
	switch s.Type {
	case TypeNtfy:
		return newNtfy(s, h)
	case TypeGotify:
		return newGotify(s, h)
	case TypePushover:
		return newPushover(s, h)
	case TypeTelegram:
		return newTelegram(s, h)
	case TypeWebhook:
		return newWebhook(s, h)
	case TypeEmail:
		return newEmail(s, opts.Now)
	case TypeMQTT:
		return newMQTT(s)
	}
	panic("alert: unvalidated channel type " + s.Type) // build rejects unknown types
}

// restore adopts the outbox's items, oldest first.
func (d *Dispatcher) restore() {
	items := d.outbox.Pending(0)
	slices.SortFunc(items, func(a, b store.OutboxItem) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	for _, it := range items {
		var env envelope
		err := json.Unmarshal(it.Payload, &env)
		ch := d.channel(env.Channel)
		if err != nil || ch == nil {
			d.log.Warn("dropping a queued alert for a channel that is no longer configured",
				"channel", clip(env.Channel, 64), "alert_id", it.ID)
			d.ack(it.ID)
			continue
		}
		// An alert never tried is due now, whatever clock the outbox keeps.
		q := &item{id: it.ID, alert: env.Alert, attempts: it.Attempts}
		if it.Attempts > 0 {
			q.next = it.NextAttempt
		}
		ch.queue = append(ch.queue, q)
	}
	for _, ch := range d.channels {
		for len(ch.queue) > d.share {
			d.dropOldestLocked(ch)
		}
		// Waits saved before a restart hold urgent alerts no longer than
		// when they were queued.
		if slices.ContainsFunc(ch.queue, func(it *item) bool { return it.alert.Urgent }) {
			d.hurryLocked(ch)
		}
	}
}

func (d *Dispatcher) channel(name string) *channel {
	for _, ch := range d.channels {
		if ch.Name == name {
			return ch
		}
	}
	return nil
}

// Notify queues a for every channel that wants it, unless an alert with
// the same DedupKey and content was already queued (then it returns 0).
// It fills a's ID, its time if unset and, from base_url, its URL. It returns the number of
// channels the alert was queued for. It does not block on the network.
func (d *Dispatcher) Notify(a Alert) int {
	d.setMu.RLock()
	defer d.setMu.RUnlock()
	d.prepareLocked(&a)
	var h uint64
	if a.DedupKey != "" {
		h = a.contentHash()
		d.mu.Lock()
		seen := d.dedup.has(a.DedupKey, h, a.isFinding())
		if !seen {
			d.dedup.add(a.DedupKey, h)
		}
		d.mu.Unlock()
		if seen {
			return 0
		}
	}
	n, failed := 0, false
	for _, ch := range d.channels {
		if ch.off.Load() || !ch.accepts(&a) {
			continue
		}
		payload, err := encodePayload(envelope{V: 1, Channel: ch.Name, Alert: a})
		var it store.OutboxItem
		ch.mu.Lock()
		if err == nil {
			// Room first: the shares add up to the outbox's cap, and a
			// full outbox drops its oldest alert, urgent or not, where
			// the channel would drop its oldest ordinary one.
			if len(ch.queue) >= d.share {
				d.dropOldestLocked(ch)
			}
			it, err = d.outbox.Enqueue(payload, a.writeAtOnce())
		}
		if err != nil {
			ch.mu.Unlock()
			failed = true
			d.log.Error("cannot queue an alert", "channel", ch.Name, "kind", a.Kind, "err", err)
			continue
		}
		ch.queue = append(ch.queue, &item{id: it.ID, alert: a})
		if a.Urgent {
			d.hurryLocked(ch)
		}
		ch.mu.Unlock()
		select {
		case ch.wake <- struct{}{}:
		default:
		}
		n++
	}
	if n == 0 && failed && a.DedupKey != "" {
		// Queued nowhere: the same alert must get another chance.
		d.mu.Lock()
		d.dedup.drop(a.DedupKey, h)
		d.mu.Unlock()
	}
	return n
}

// encodePayload encodes an outbox entry within store.MaxPayload. Without
// HTML escaping: a device's name or banner full of '<', '>' and '&' would
// grow sixfold. An entry still too large (every field near its limit)
// loses detail before it is refused: the body, the reason and the facts
// are cut shorter, then the facts go.
func encodePayload(env envelope) (json.RawMessage, error) {
	for step := 0; ; step++ {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(env); err != nil {
			return nil, fmt.Errorf("encode alert: %w", err)
		}
		if buf.Len() <= store.MaxPayload {
			return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
		}
		a := &env.Alert
		switch step {
		case 0:
			a.Body, a.Reason = clipText(a.Body, 300), clip(a.Reason, 128)
			facts := make(map[string]string, len(a.Facts))
			for k, v := range a.Facts {
				facts[k] = clip(v, 32)
			}
			a.Facts = facts
		case 1:
			a.Facts = nil
		default:
			return nil, fmt.Errorf("alert of %d bytes is over the outbox limit of %d", buf.Len(), store.MaxPayload)
		}
	}
}

// MarkSeen records alerts as already sent, without sending them: the
// daemon calls it at start with the alerts its stored findings would
// raise, so a restart does not repeat them.
func (d *Dispatcher) MarkSeen(alerts ...Alert) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range alerts {
		if alerts[i].DedupKey != "" {
			d.dedup.add(alerts[i].DedupKey, alerts[i].contentHash())
		}
	}
}

// prepareLocked fills the alert's ID, time and link. d.setMu held.
func (d *Dispatcher) prepareLocked(a *Alert) {
	if a.ID == "" {
		a.ID = strings.ToLower(rand.Text())
	}
	if a.Time.IsZero() {
		a.Time = d.now()
	}
	if a.URL == "" && d.baseURL != "" {
		a.URL = d.baseURL + "/"
		if a.Device != nil && a.Device.MAC != "" {
			a.URL = d.baseURL + "/devices/" + url.PathEscape(a.Device.MAC)
		}
	}
}

// dropOldestLocked gives up the channel's oldest alert not being sent,
// and reports whether there was one. ch.mu held (or ch not yet shared).
// The oldest ordinary alert goes first: an urgent one (a quarantine) is
// dropped only when nothing else is left to drop.
func (d *Dispatcher) dropOldestLocked(ch *channel) bool {
	i := slices.IndexFunc(ch.queue, func(it *item) bool { return !it.inFlight && !it.alert.Urgent })
	if i < 0 {
		i = slices.IndexFunc(ch.queue, func(it *item) bool { return !it.inFlight })
	}
	if i < 0 {
		return false
	}
	it := ch.queue[i]
	ch.queue = slices.Delete(ch.queue, i, i+1)
	ch.status.Dropped++
	ch.pushedOut++
	// A flood logs the 1st, 2nd, 4th, 8th … drop, not a line per alert
	// that would push the rest out of a router's small log; an urgent
	// alert's drop is always worth its line.
	if n := ch.pushedOut; n&(n-1) == 0 || it.alert.Urgent {
		d.log.Warn("alert queue of a channel is full; dropped its oldest alert",
			"channel", ch.Name, "max", d.share, "kind", it.alert.Kind, "urgent", it.alert.Urgent, "dropped", n)
	}
	d.ack(it.id)
	return true
}

// hurryLocked shortens the waits ahead of a newly queued urgent alert to
// MaxBackoff: nothing overtakes a waiting alert on its channel, and a
// service's Retry-After on an ordinary one (up to 24 h) must not hold a
// quarantine alert that long. ch.mu held.
func (d *Dispatcher) hurryLocked(ch *channel) {
	limit := d.now().Add(d.opts.MaxBackoff)
	for _, it := range ch.queue {
		if it.next.After(limit) {
			it.next = limit
			if err := d.outbox.SetNextAttempt(it.id, it.next); err != nil && !errors.Is(err, store.ErrNotFound) {
				d.log.Warn("cannot reschedule an alert in the outbox", "err", err)
			}
		}
	}
}

func (d *Dispatcher) ack(id uint64) {
	if err := d.outbox.Ack(id); err != nil && !errors.Is(err, store.ErrNotFound) {
		d.log.Warn("cannot remove a delivered alert from the outbox", "err", err)
	}
}

// SendTest sends a test alert to the named channel at once, bypassing
// quiet hours, rate limit and outbox, and returns the outcome for the
// page (secrets removed from the error).
func (d *Dispatcher) SendTest(ctx context.Context, name string) error {
	d.setMu.RLock()
	ch := d.channel(name)
	a := FromTest(d.now())
	d.prepareLocked(&a)
	d.setMu.RUnlock()
	if ch == nil {
		return fmt.Errorf("%w: %q", ErrUnknownChannel, name)
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.SendTimeout)
	defer cancel()
	err := ch.redact.err(ch.sender.Send(ctx, a))
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if err != nil {
		ch.status.LastError, ch.status.LastErrorTime = err.Error(), d.now()
		return err
	}
	ch.status.LastSent = d.now()
	return nil
}

// Status describes every channel, in configuration order.
func (d *Dispatcher) Status() []ChannelStatus {
	d.setMu.RLock()
	defer d.setMu.RUnlock()
	out := make([]ChannelStatus, 0, len(d.channels))
	for _, ch := range d.channels {
		ch.mu.Lock()
		st := ch.status
		st.Enabled = !ch.off.Load()
		st.Pending = len(ch.queue)
		if len(ch.queue) > 0 {
			st.NextAttempt = ch.queue[0].next
		}
		ch.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// SetEnabled switches a channel on or off, as the owner does on the page.
// The dispatcher does not remember it across restarts (the daemon keeps
// it in its store); the configuration file decides which channels exist.
func (d *Dispatcher) SetEnabled(name string, on bool) error {
	d.setMu.RLock()
	defer d.setMu.RUnlock()
	for _, ch := range d.channels {
		if ch.Name == name {
			ch.off.Store(!on)
			return nil
		}
	}
	return fmt.Errorf("alert: no channel named %q", name)
}

// Run delivers queued alerts until ctx ends, one worker per channel
// (Reconfigure starts and stops them too), then closes the channels'
// connections. What is not delivered stays in the outbox for the next
// start.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.setMu.Lock()
	d.runCtx = ctx
	for _, ch := range d.channels {
		d.startLocked(ch)
	}
	d.setMu.Unlock()
	<-ctx.Done()
	d.setMu.Lock()
	d.runCtx = nil
	chans := d.channels
	d.setMu.Unlock()
	d.workers.Wait()
	for _, ch := range chans {
		closeSender(ch)
	}
	return nil
}

func (d *Dispatcher) work(ctx context.Context, ch *channel) {
	for ctx.Err() == nil {
		next, busy := d.step(ctx, ch)
		if busy {
			continue
		}
		wait := maxIdle
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(d.now()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-ch.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// step makes at most one delivery attempt on ch. It returns busy when it
// attempted one (call again), else when something next falls due (zero:
// nothing waits).
func (d *Dispatcher) step(ctx context.Context, ch *channel) (next time.Time, busy bool) {
	now := d.now()
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	ch.mu.Lock()
	quiet := ch.quiet != nil && ch.quiet.active(now)
	var ready []*item
	for _, it := range ch.queue {
		if quiet && !it.alert.Urgent {
			earliest(ch.quiet.endAfter(now)) // held; urgent alerts behind it may pass
			continue
		}
		if now.Before(it.planned) || it.next.After(now.Add(maxRetryAfter)) {
			// The clock was set back since the retry was planned (no
			// wait is that long, and the outbox's retry times are read
			// back at start): the wait it was given means nothing.
			it.next, it.planned = now, time.Time{}
		}
		if it.next.After(now) {
			earliest(it.next) // waiting for a retry: nothing behind it may overtake
			break
		}
		ready = append(ready, it)
		if len(ready) == maxDigestParts {
			break
		}
	}
	if len(ready) == 0 {
		ch.mu.Unlock()
		return next, false
	}
	if slices.ContainsFunc(ready, func(it *item) bool { return it.alone }) {
		ready = ready[:1]
	}
	if ch.bucket != nil {
		tokens := ch.bucket.available(now)
		if tokens < 1 {
			earliest(ch.bucket.nextToken(now))
			ch.mu.Unlock()
			return next, false
		}
		if tokens >= 2 {
			ready = ready[:1]
		}
		ch.bucket.take()
	} else {
		ready = ready[:1]
	}
	for _, it := range ready {
		it.inFlight = true
	}
	ch.mu.Unlock()

	msg := ready[0].alert
	if len(ready) > 1 {
		parts := make([]Alert, len(ready))
		for i, it := range ready {
			parts[i] = it.alert
		}
		msg = digest(parts)
		d.setMu.RLock()
		msg.URL = d.baseURL
		d.setMu.RUnlock()
		if msg.URL != "" {
			msg.URL += "/"
		}
	}
	sctx, cancel := context.WithTimeout(ctx, d.opts.SendTimeout)
	err := ch.redact.err(ch.sender.Send(sctx, msg))
	cancel()
	d.settle(ctx, ch, ready, err)
	return time.Time{}, true
}

// settle records the outcome of an attempt on the items it carried.
func (d *Dispatcher) settle(ctx context.Context, ch *channel, batch []*item, err error) {
	now := d.now()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, it := range batch {
		it.inFlight = false
	}
	if err != nil && ctx.Err() != nil {
		return // shutting down: the alerts stay queued as they were
	}
	var se *SendError
	errors.As(err, &se)
	if err != nil && se != nil && se.Permanent && len(batch) > 1 {
		// The service refused the digest (its size, one part's text):
		// each part gets a chance of its own before any is dropped.
		d.log.Warn("digest refused by the channel; sending its alerts one by one", "channel", ch.Name,
			"alerts", len(batch), "err", err)
		for _, it := range batch {
			it.alone = true
		}
		return
	}
	if err == nil || (se != nil && se.Permanent) {
		if err == nil {
			ch.status.Sent++
			ch.status.LastSent = now
		} else {
			ch.status.Dropped += uint64(len(batch))
			ch.status.LastError, ch.status.LastErrorTime = err.Error(), now
			d.log.Error("alert refused by the channel; dropped", "channel", ch.Name,
				"kind", batch[0].alert.Kind, "alerts", len(batch), "err", err)
		}
		ch.queue = slices.DeleteFunc(ch.queue, func(it *item) bool { return slices.Contains(batch, it) })
		for _, it := range batch {
			d.ack(it.id)
		}
		return
	}
	ch.status.Failed++
	ch.status.LastError, ch.status.LastErrorTime = err.Error(), now
	attempts := batch[0].attempts + 1
	delay := d.backoff(attempts)
	if se != nil && se.RetryAfter > delay {
		delay = se.RetryAfter
		// Nothing overtakes a waiting alert on its channel: an urgent one
		// (a quarantine), in the batch or queued behind it while it was
		// sent, waits at most MaxBackoff, whatever the service asked for
		// (up to 24 h).
		if slices.ContainsFunc(ch.queue, func(it *item) bool { return it.alert.Urgent }) {
			delay = min(delay, d.opts.MaxBackoff)
		}
	}
	if attempts&(attempts-1) == 0 { // 1, 2, 4, 8 …: a long outage logs a few lines, not thousands
		d.log.Warn("cannot deliver alert; will retry", "channel", ch.Name, "attempts", attempts,
			"retry_in", delay, "err", err)
	}
	for _, it := range batch {
		it.attempts++
		it.next, it.planned = now.Add(delay), now
		if err := d.outbox.Reschedule(it.id, it.next); err != nil && !errors.Is(err, store.ErrNotFound) {
			d.log.Warn("cannot reschedule an alert in the outbox", "err", err)
		}
	}
}

// backoff is the delay before attempt n+1: MinBackoff doubled per failed
// attempt, at most MaxBackoff.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	delay := d.opts.MinBackoff
	for i := 1; i < attempts && delay < d.opts.MaxBackoff; i++ {
		delay *= 2
	}
	return min(delay, d.opts.MaxBackoff)
}

// lru maps dedup keys to the content hashes alerted under them, the
// hashesPerKey most recent of each, forgetting the least recently used
// key beyond its capacity. More than one hash per key: a finding whose
// facts alternate (personal data in the URL of one request and the body
// of the next, a login accepted on one connection and refused on
// another) would otherwise alert at every change.
type lru struct {
	cap   int
	order *list.List // front: most recent; values are *lruEntry
	index map[string]*list.Element
}

const hashesPerKey = 4

type lruEntry struct {
	key    string
	hashes [hashesPerKey]uint64
	n      int // hashes held; the newest at (n-1) % hashesPerKey
}

func newLRU(capacity int) *lru {
	return &lru{cap: capacity, order: list.New(), index: make(map[string]*list.Element, capacity)}
}

// has reports whether hash was alerted under key: any of its hashes
// when any is set, else only the latest. A finding whose facts alternate
// is not news; a state that comes back (quarantined after a release, a
// problem after it was resolved) is.
func (l *lru) has(key string, hash uint64, any bool) bool {
	e, ok := l.index[key]
	if !ok {
		return false
	}
	l.order.MoveToFront(e)
	en := e.Value.(*lruEntry)
	if !any {
		return en.n > 0 && en.hashes[(en.n-1)%hashesPerKey] == hash
	}
	return slices.Contains(en.hashes[:min(en.n, hashesPerKey)], hash)
}

// add records hash under key, in place of the oldest of its hashes when
// it holds hashesPerKey.
func (l *lru) add(key string, hash uint64) {
	e, ok := l.index[key]
	if !ok {
		e = l.order.PushFront(&lruEntry{key: key})
		l.index[key] = e
		if l.order.Len() > l.cap {
			old := l.order.Back()
			l.order.Remove(old)
			delete(l.index, old.Value.(*lruEntry).key)
		}
	}
	l.order.MoveToFront(e)
	en := e.Value.(*lruEntry)
	en.hashes[en.n%hashesPerKey] = hash
	en.n++
}

// drop takes back the add of hash under key, which was the latest.
func (l *lru) drop(key string, hash uint64) {
	e, ok := l.index[key]
	if !ok {
		return
	}
	en := e.Value.(*lruEntry)
	if en.n == 0 || en.hashes[(en.n-1)%hashesPerKey] != hash {
		return
	}
	en.n--
	en.hashes[en.n%hashesPerKey] = 0
	if en.n == 0 {
		l.order.Remove(e)
		delete(l.index, key)
	}
}
