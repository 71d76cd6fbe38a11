package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/iotgw/iotgw/pkg/device/fingerprint"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
)

// Bounds of a description fetch.
const (
	DefaultFetchTimeout = 3 * time.Second
	maxLocation         = 512 // bytes of a LOCATION URL
	maxFetchRedirects   = 3
)

// FetchOptions configure FetchDescription.
type FetchOptions struct {
	// Addrs are the device's known addresses: the URL's host must be one
	// of them.
	Addrs []netip.Addr
	// Timeout bounds the whole fetch (default 3 s).
	Timeout time.Duration
	// Limit caps the description's size (default
	// ssdp.DefaultDescriptionLimit, 64 KiB).
	Limit int64
	// Dialer opens the connection (default a net.Dialer).
	Dialer Dialer
	// OnLAN, when set, must confirm that the kernel sends to the host
	// through a LAN interface (see Options.OnLAN).
	OnLAN func(netip.Addr) bool
	// MAC is the device the description is fetched for, and HolderOf,
	// when set, gives the MAC the kernel's neighbour table places at an
	// address after the connect: another host answering at the device's
	// address (one that took it, or one spoofing ARP) gets no request,
	// and its answer confirms nothing about the device.
	MAC      hwaddr.MAC
	HolderOf func(netip.Addr) (hwaddr.MAC, bool)
}

// FetchDescription fetches and parses the UPnP device description at an
// SSDP LOCATION URL. It refuses (with ErrNotLAN) a URL whose host is not
// an address literal, not a LAN address, or not one of opts.Addrs, and a
// redirect to any other host; it never uses a proxy from the environment.
func FetchDescription(ctx context.Context, location string, opts FetchOptions) (ssdp.Description, error) {
	u, host, err := checkLocation(location, opts.Addrs)
	if err != nil {
		return ssdp.Description{}, err
	}
	if opts.OnLAN != nil && !opts.OnLAN(host) {
		return ssdp.Description{}, fmt.Errorf("%w: %s is not reached through the LAN", ErrNotLAN, host)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	dialer := opts.Dialer
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				// Belt and braces: whatever the URL says, connect only
				// to the device's address.
				ap, err := netip.ParseAddrPort(addr)
				if err != nil || ap.Addr() != host {
					return nil, fmt.Errorf("%w: dial %s", ErrNotLAN, addr)
				}
				c, err := dialer.DialContext(ctx, network, addr)
				if err != nil || opts.HolderOf == nil {
					return c, err
				}
				if mac, ok := opts.HolderOf(host); !ok || mac != opts.MAC {
					c.Close()
					return nil, fmt.Errorf("%w: %s answers for %s, not %s", ErrNotPresent, mac, host, opts.MAC)
				}
				return c, nil
			},
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: maxHeaderBytes,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxFetchRedirects {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "http" || hostAddr(req.URL) != host {
				return fmt.Errorf("%w: redirect to %s", ErrNotLAN, req.URL.Host)
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return ssdp.Description{}, fmt.Errorf("upnp fetch: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return ssdp.Description{}, fmt.Errorf("upnp fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ssdp.Description{}, fmt.Errorf("upnp fetch: status %d", resp.StatusCode)
	}
	desc, err := ssdp.ParseDescription(resp.Body, opts.Limit)
	if err != nil {
		return ssdp.Description{}, fmt.Errorf("upnp fetch: %w", err)
	}
	desc.Server = resp.Header.Get("Server")
	return desc, nil
}

// checkLocation parses a LOCATION URL and checks that its host is a LAN
// address of the device.
func checkLocation(location string, addrs []netip.Addr) (*url.URL, netip.Addr, error) {
	if len(location) > maxLocation {
		return nil, netip.Addr{}, fmt.Errorf("upnp fetch: location longer than %d bytes", maxLocation)
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("upnp fetch: %w", err)
	}
	if u.Scheme != "http" || u.User != nil {
		return nil, netip.Addr{}, fmt.Errorf("upnp fetch: want a plain http URL")
	}
	host := hostAddr(u)
	if !host.IsValid() {
		return nil, netip.Addr{}, fmt.Errorf("%w: host %q is not an address", ErrNotLAN, u.Hostname())
	}
	if host.Zone() != "" {
		// The zone names the interface to use: the device's choice
		// ("%wan") must not pick the router's WAN side.
		return nil, netip.Addr{}, fmt.Errorf("%w: %s names an interface", ErrNotLAN, host)
	}
	if !IsLANAddr(host) {
		return nil, netip.Addr{}, fmt.Errorf("%w: %s", ErrNotLAN, host)
	}
	if !slices.ContainsFunc(addrs, func(a netip.Addr) bool { return a.Unmap().WithZone("") == host.WithZone("") }) {
		return nil, netip.Addr{}, fmt.Errorf("%w: %s is not an address of the device", ErrNotLAN, host)
	}
	return u, host, nil
}

// hostAddr is the address literal of u's host, or the zero Addr.
func hostAddr(u *url.URL) netip.Addr {
	a, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// UPnPEvent is the upnp observation of a fetched description, about the
// device at addr (evidence: fingerprint.UPnPEvidence, the serial number
// redacted). The friendly name, which may be personal, stays out of the
// summary.
func UPnPEvent(mac hwaddr.MAC, addr netip.Addr, location string, desc ssdp.Description, now time.Time) *event.Event {
	ev := &event.Event{
		V:        event.SchemaVersion,
		Time:     now.UTC(),
		Type:     event.TypeObservation,
		Kind:     event.KindUPnP,
		Severity: event.SeverityInfo,
		Device:   event.Endpoint{MAC: mac.String(), IP: addr.Unmap().String(), Local: true},
		Source:   "audit",
		Evidence: fingerprint.UPnPEvidence(desc),
	}
	if u, err := url.Parse(location); err == nil {
		if ap, err := netip.ParseAddrPort(u.Host); err == nil {
			ev.Flow = &event.Flow{
				Transport: "tcp",
				Client:    event.Endpoint{Local: true},
				Server:    event.Endpoint{MAC: mac.String(), IP: ap.Addr().Unmap().String(), Port: ap.Port(), Local: true},
				App:       "upnp",
				Direction: event.LANToLAN,
			}
		}
	}
	ev.Summary = "UPnP device description"
	if m, n := desc.Device.Manufacturer, desc.Device.ModelName; m != "" || n != "" {
		ev.Summary += ": " + m + " " + n
	}
	return ev
}

// FetchLimiter allows one description fetch per device and location per
// interval (24 h by default). It remembers at most its size (default
// 1024) pairs, forgetting the oldest first. It is safe for concurrent
// use.
type FetchLimiter struct {
	mu    sync.Mutex
	every time.Duration
	size  int
	last  map[fetchKey]time.Time
}

type fetchKey struct {
	mac      hwaddr.MAC
	location string
}

// Defaults of a FetchLimiter.
const (
	DefaultFetchEvery = 24 * time.Hour
	DefaultFetchSlots = 1024
)

// NewFetchLimiter returns a limiter; zero values take the defaults.
func NewFetchLimiter(every time.Duration, size int) *FetchLimiter {
	if every <= 0 {
		every = DefaultFetchEvery
	}
	if size <= 0 {
		size = DefaultFetchSlots
	}
	return &FetchLimiter{every: every, size: size, last: make(map[fetchKey]time.Time)}
}

// Allow reports whether mac's description at location may be fetched at
// now, and if so records the fetch.
func (l *FetchLimiter) Allow(mac hwaddr.MAC, location string, now time.Time) bool {
	if len(location) > maxLocation {
		return false
	}
	k := fetchKey{mac, location}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[k]; ok && now.Sub(t) < l.every && !now.Before(t) {
		return false
	}
	if _, ok := l.last[k]; !ok && len(l.last) >= l.size {
		l.evictOldest()
	}
	l.last[k] = now
	return true
}

// forget drops the record of mac's fetch of location.
func (l *FetchLimiter) forget(mac hwaddr.MAC, location string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.last, fetchKey{mac, location})
}

// evictOldest forgets the oldest fetch: O(size), once per new pair when
// full.
func (l *FetchLimiter) evictOldest() {
	var oldest fetchKey
	var t time.Time
	first := true
	for k, v := range l.last {
		if first || v.Before(t) {
			oldest, t, first = k, v, false
		}
	}
	delete(l.last, oldest)
}

// UPnPFetcher fetches descriptions off the packet path: Offer queues a
// LOCATION seen in an ssdp observation (non-blocking; a full queue drops
// it), Run fetches one at a time and files the upnp observation with
// sink. Each device and location is fetched at most once per limiter
// interval.
type UPnPFetcher struct {
	limiter *FetchLimiter
	sink    Sink
	opts    FetchOptions
	log     *slog.Logger
	now     func() time.Time
	queue   chan upnpJob
}

type upnpJob struct {
	mac      hwaddr.MAC
	addrs    []netip.Addr
	location string
}

// DefaultFetchQueue bounds the locations waiting for a fetch.
const DefaultFetchQueue = 32

// NewUPnPFetcher returns a fetcher; opts.Addrs is ignored (each Offer
// names the device's addresses). A nil limiter gets the defaults.
func NewUPnPFetcher(limiter *FetchLimiter, sink Sink, opts FetchOptions, log *slog.Logger) *UPnPFetcher {
	if limiter == nil {
		limiter = NewFetchLimiter(0, 0)
	}
	if log == nil {
		log = slog.Default()
	}
	return &UPnPFetcher{limiter: limiter, sink: sink, opts: opts, log: log.With("component", "upnp-fetch"),
		now: time.Now, queue: make(chan upnpJob, DefaultFetchQueue)}
}

// Offer queues the description at location of the device with mac and
// addrs, unless it was fetched within the limiter's interval or the queue
// is full. It reports whether the fetch was queued.
func (f *UPnPFetcher) Offer(mac hwaddr.MAC, addrs []netip.Addr, location string) bool {
	if _, _, err := checkLocation(location, addrs); err != nil {
		return false
	}
	if !f.limiter.Allow(mac, location, f.now()) {
		return false
	}
	select {
	case f.queue <- upnpJob{mac, slices.Clone(addrs), location}:
		return true
	default:
		f.limiter.forget(mac, location) // not fetched: may be offered again
		return false
	}
}

// Run fetches queued descriptions until ctx is done.
func (f *UPnPFetcher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case job := <-f.queue:
			opts := f.opts
			opts.Addrs, opts.MAC = job.addrs, job.mac
			desc, err := FetchDescription(ctx, job.location, opts)
			if err != nil {
				f.log.Info("upnp description not fetched", "device", job.mac.String(), "err", err)
				continue
			}
			_, host, _ := checkLocation(job.location, job.addrs)
			f.sink.Emit(UPnPEvent(job.mac, host, job.location, desc, f.now()))
		}
	}
}
