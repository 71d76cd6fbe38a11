// Package audit owns the active baseline audit of LAN devices: a polite
// check of the device's common IoT ports with banner grabs, a bounded
// default-login test (telnet, SSH, HTTP Basic/Digest, RTSP, FTP) with the
// factory-default list, and the fetch of UPnP device descriptions. It only
// ever talks to private, unique-local or link-local addresses of the
// device it was asked about, and turns what it learns into events: the
// findings default_credentials (verified) and exposed_service, and the
// observations banner, upnp and audit (see docs/fingerprinting.md).
//
// Passwords tried are never logged or put in an event; a finding carries
// the redacted user and password shapes only, like the passive findings.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

// ErrNotLAN is returned for a target or URL outside the LAN: the audit
// never sends a packet there.
var ErrNotLAN = errors.New("audit: address is not a LAN address")

// ErrNotPresent is returned for a device the kernel does not place at any
// of its addresses now (HolderOf): it left, and its last address may be
// another host's. Nothing was sent; the audit is not counted as done.
var ErrNotPresent = errors.New("audit: device not at its addresses now")

// ErrWithdrawn ends an audit whose Target.Keep said no more logins: the
// device is trusted, protected or gone since the audit began. What it
// tried counts; no default_login result is filed.
var ErrWithdrawn = errors.New("audit: withdrawn: the device may not be audited now")

// Dialer opens TCP connections; *net.Dialer is one. Tests and the lab
// pass their own.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// CandidateLister yields the default pairs to try for a protocol, the
// vendor's own first; *creds.Classifier is one.
type CandidateLister interface {
	Candidates(protocol, vendor string) []creds.Candidate
}

// Options configure an Auditor. Zero values take the defaults named.
type Options struct {
	// MaxAttempts caps the logins tried per device across all protocols
	// (default 10).
	MaxAttempts int
	// AttemptDelay separates two login attempts (default 1 s).
	AttemptDelay time.Duration
	// PortDelay separates two port checks (default 100 ms).
	PortDelay time.Duration
	// ConnectTimeout bounds a TCP connect (default 1 s).
	ConnectTimeout time.Duration
	// BannerTimeout bounds the wait for a service banner (default 1 s).
	BannerTimeout time.Duration
	// ResponseTimeout bounds one login exchange: prompts, the verdict
	// (default 5 s; real login programs delay a failure by 2 to 3 s).
	ResponseTimeout time.Duration
	// Ports are the TCP ports checked (default DefaultPorts()).
	Ports []uint16
	// LAN, when set, further restricts targets to these prefixes; an
	// address must be private, unique-local or link-local in any case.
	LAN []netip.Prefix
	// OnLAN, when set, must confirm that the kernel sends to an address
	// through a LAN interface: the configured prefixes cover all of RFC
	// 1918 by default, which also holds an ISP modem behind the WAN
	// (double NAT) and the router's own addresses, and a device can claim
	// any address nobody else holds.
	OnLAN func(netip.Addr) bool
	// HolderOf, when set, gives the MAC the kernel's neighbour table has
	// for an address now; an address it does not place at the target's
	// MAC is not audited. The inventory keeps a device's last address
	// after it left, and a host that took the address since (the owner's
	// NAS with a static address, a trusted device) must not get another
	// device's port check and login attempts. Its false is taken as
	// nobody holding the address: a lookup that can fail in passing
	// tries again itself (netwatch.HolderOf does).
	HolderOf func(netip.Addr) (hwaddr.MAC, bool)
	// Candidates is the default-credential list (required).
	Candidates CandidateLister
	// Dialer opens connections (default a net.Dialer).
	Dialer Dialer
	// Logger gets progress and errors, never a credential (default
	// slog.Default()).
	Logger *slog.Logger
	// Now is the clock of the events (default time.Now).
	Now func() time.Time
}

// Defaults.
const (
	DefaultMaxAttempts     = 10
	DefaultAttemptDelay    = time.Second
	DefaultPortDelay       = 100 * time.Millisecond
	DefaultConnectTimeout  = time.Second
	DefaultBannerTimeout   = time.Second
	DefaultResponseTimeout = 5 * time.Second

	// maxBanner is the most bytes of a banner read.
	maxBanner = 256
	// maxPorts bounds the port list of one audit.
	maxPorts = 64
)

// DefaultPorts returns the common IoT service ports: FTP, SSH, telnet, HTTP,
// RTSP, HTTPS, MQTT, UPnP HTTP servers and the alternate telnet and web
// ports. UDP services (SSDP 1900, WS-Discovery 3702) are not probed: a
// connect check says nothing about them, and SSDP is seen passively.
func DefaultPorts() []uint16 {
	return []uint16{21, 22, 23, 80, 443, 554, 1883, 2323, 5000, 8000, 8080, 8443, 49152}
}

// Target is a device to audit.
type Target struct {
	MAC hwaddr.MAC
	// Addrs are the device's known addresses, the one it used last
	// last (as the inventory keeps them); the audit uses the latest LAN
	// one, IPv4 before IPv6: an older one may belong to another host
	// since.
	Addrs []netip.Addr
	// Vendor is the identified vendor ("" when unknown): its defaults are
	// tried first.
	Vendor string
	// OpenPorts are ports already seen serving (optional); they are
	// checked along with Options.Ports.
	OpenPorts []uint16
	// Begin, when set, is called once, just before the first login
	// attempt: the scheduler saves the audit's start then, so that a crash
	// in its middle does not let a restart audit the device again at
	// once, adding up login attempts that could lock the device's account.
	Begin func()
	// Keep, when set, is asked before each login attempt: false ends the
	// login test at once with ErrWithdrawn. The scheduler asks the daemon
	// whether the device may still be audited: the owner who marks it
	// trusted while its audit runs may be doing so because the failed
	// logins just set off its alarm.
	Keep func() bool
}

// Stop says why a login test ended.
type Stop string

const (
	StopFound     Stop = "found"     // a default login was accepted
	StopCap       Stop = "cap"       // MaxAttempts reached
	StopExhausted Stop = "exhausted" // every candidate of every service tried
	StopLockout   Stop = "lockout"   // the device showed signs of locking out
	StopNoService Stop = "no_service"
	StopCancelled Stop = "cancelled"
)

// Report is what one audit did.
type Report struct {
	Addr      netip.Addr
	OpenPorts []uint16
	// Services are the login services tested ("telnet:23", "http:80").
	Services []string
	// Untested are the open login services not tried to the end of their
	// list: dropped because they did not behave as the protocol says (no
	// prompt recognised, a broken answer), or not tested at all (a web
	// page asking for no Basic or Digest credentials, a second telnet or
	// web port).
	Untested []string
	Attempts int
	Stop     Stop
	// LockoutSign: after an accepted login, the device showed signs of
	// locking out at the check with a random password. The scheduler
	// holds it from every audit for LockoutHold, as after Stop lockout.
	LockoutSign bool
	// Found describes the accepted default login (redacted), if any.
	Found *Found
}

// Found is an accepted default login, redacted.
type Found struct {
	Protocol string
	Port     uint16
	User     string // redacted
}

// Auditor runs audits. It holds no state between audits and is safe for
// concurrent use, though the Scheduler runs one audit at a time.
type Auditor struct {
	opts Options
	log  *slog.Logger
}

// New checks opts and fills in the defaults.
func New(opts Options) (*Auditor, error) {
	if opts.Candidates == nil {
		return nil, errors.New("audit: no default-credential list")
	}
	if opts.MaxAttempts < 0 || opts.AttemptDelay < 0 || opts.PortDelay < 0 || opts.ConnectTimeout < 0 ||
		opts.BannerTimeout < 0 || opts.ResponseTimeout < 0 {
		return nil, errors.New("audit: negative limit")
	}
	if len(opts.Ports) > maxPorts {
		return nil, fmt.Errorf("audit: %d ports, at most %d", len(opts.Ports), maxPorts)
	}
	for _, p := range opts.Ports {
		if p == 0 {
			return nil, errors.New("audit: port 0")
		}
	}
	setDefault(&opts.MaxAttempts, DefaultMaxAttempts)
	setDefault(&opts.AttemptDelay, DefaultAttemptDelay)
	setDefault(&opts.PortDelay, DefaultPortDelay)
	setDefault(&opts.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&opts.BannerTimeout, DefaultBannerTimeout)
	setDefault(&opts.ResponseTimeout, DefaultResponseTimeout)
	if len(opts.Ports) == 0 { // none named (also "ports = []"): the default list
		opts.Ports = DefaultPorts()
	} else {
		opts.Ports = slices.Clone(opts.Ports)
	}
	if opts.Dialer == nil {
		opts.Dialer = &net.Dialer{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Auditor{opts: opts, log: log.With("component", "audit")}, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// IsLANAddr reports whether a may be probed: a private (RFC 1918),
// unique-local (fc00::/7) or link-local unicast address. Public IPv6
// addresses of LAN devices are left alone: the device's IPv4 or ULA
// address serves the same purpose without the risk of a misconfigured
// prefix aiming the audit at the internet.
func IsLANAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && (a.IsPrivate() || a.IsLinkLocalUnicast())
}

// permitted reports whether a is a LAN address inside the configured
// prefixes, and routed to the LAN when OnLAN can tell.
func (a *Auditor) permitted(addr netip.Addr) bool {
	if !IsLANAddr(addr) {
		return false
	}
	if a.opts.OnLAN != nil && !a.opts.OnLAN(addr) {
		return false
	}
	if len(a.opts.LAN) == 0 {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range a.opts.LAN {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// pickAddr returns the address to audit t at: the latest LAN one, IPv4
// before IPv6, that the kernel places at t's MAC now. A link-local IPv6
// address without a zone cannot be dialled (and would look like a device
// with nothing open), so it is passed over; any other address is taken
// without its zone.
func (a *Auditor) pickAddr(t Target) (netip.Addr, error) {
	var v6 netip.Addr
	elsewhere := false
	for _, addr := range slices.Backward(t.Addrs) {
		addr = addr.Unmap()
		if !addr.IsLinkLocalUnicast() {
			// The kernel heeds a zone on link-local addresses only: on
			// any other the route decides, and OnLAN must judge that.
			addr = addr.WithZone("")
		}
		if !a.permitted(addr) || addr.IsLinkLocalUnicast() && addr.Zone() == "" {
			continue
		}
		if a.opts.HolderOf != nil {
			if mac, ok := a.opts.HolderOf(addr); !ok || mac != t.MAC {
				elsewhere = true
				continue
			}
		}
		if addr.Is4() {
			return addr, nil
		}
		if !v6.IsValid() {
			v6 = addr
		}
	}
	switch {
	case v6.IsValid():
		return v6, nil
	case elsewhere:
		return netip.Addr{}, fmt.Errorf("%w: device %s is not at %v", ErrNotPresent, t.MAC, t.Addrs)
	}
	return netip.Addr{}, fmt.Errorf("%w: device %s has none of %v", ErrNotLAN, t.MAC, t.Addrs)
}

// Audit checks the device's ports, grabs banners and tests default logins
// on the services it found. It returns what it did and the events to file
// about the device; the error is ErrNotLAN for a device without a LAN
// address (nothing was sent) or the context's error.
func (a *Auditor) Audit(ctx context.Context, t Target) (Report, []*event.Event, error) {
	addr, err := a.pickAddr(t)
	if err != nil {
		return Report{}, nil, err
	}
	// An address can change hands during the audit (the device left,
	// the owner's NAS took its address): every connection is checked,
	// and one to another host ends the audit with nothing filed.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &run{a: a, t: t, addr: addr, report: Report{Addr: addr}, moved: cancel}
	a.log.Info("audit start", "device", t.MAC.String(), "addr", addr.String())
	err = r.checkPorts(ctx)
	if err == nil {
		r.grabBanners(ctx)
		r.exposedServices()
		err = r.testLogins(ctx)
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrNotPresent) {
		a.log.Info("audit stopped: the address changed hands", "device", t.MAC.String(), "err", cause)
		return Report{Addr: addr}, nil, cause
	}
	if err != nil && r.report.Stop == "" {
		return r.report, r.events, err
	}
	a.log.Info("audit done", "device", t.MAC.String(), "open", r.report.OpenPorts,
		"attempts", r.report.Attempts, "stop", string(r.report.Stop))
	return r.report, r.events, err
}

// run is the state of one audit.
type run struct {
	a      *Auditor
	t      Target
	addr   netip.Addr
	report Report
	events []*event.Event
	local  netip.AddrPort // the router's side of the last connection
	// checked are the ports the port check tried.
	checked []uint16
	// services are the login services the login test tries.
	services []*service
	// moved ends the audit's context when a connection reached another
	// host than the device.
	moved context.CancelCauseFunc
}

func (r *run) hostPort(port uint16) string {
	return netip.AddrPortFrom(r.addr, port).String()
}

// dial connects to port of the device within the connect timeout.
func (r *run) dial(ctx context.Context, port uint16) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, r.a.opts.ConnectTimeout)
	defer cancel()
	c, err := r.a.opts.Dialer.DialContext(dctx, "tcp", r.hostPort(port))
	if h := r.a.opts.HolderOf; h != nil && ctx.Err() == nil {
		// The connect made the kernel resolve the address anew, and
		// whatever its outcome: a refusal may come from a host that
		// took the address, a timeout from the kernel still trying the
		// device's old MAC. The address must still be the device's, or
		// nothing more is sent and nothing learnt is the device's.
		mac, ok := h(r.addr)
		if !ok || mac != r.t.MAC {
			if c != nil {
				c.Close()
			}
			err := fmt.Errorf("%w: %s", ErrNotPresent, holderText(r.addr, mac, ok, r.t.MAC))
			r.moved(err)
			return nil, err
		}
	}
	if err != nil {
		return nil, &dialError{err}
	}
	if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
		r.local = ap
	}
	return c, nil
}

// holderText says who the kernel places at addr instead of want.
func holderText(addr netip.Addr, mac hwaddr.MAC, ok bool, want hwaddr.MAC) string {
	if !ok {
		return fmt.Sprintf("no host answers at %s now, not %s", addr, want)
	}
	return fmt.Sprintf("%s is at %s now, not %s", addr, mac, want)
}

func (r *run) isOpen(port uint16) bool {
	return slices.Contains(r.report.OpenPorts, port)
}

// newEvent builds an event about the device, tied to a TCP connection
// from the router to port (0: no connection).
func (r *run) newEvent(typ event.Type, kind event.Kind, port uint16, app string) *event.Event {
	ev := &event.Event{
		V:        event.SchemaVersion,
		Time:     r.a.opts.Now().UTC(),
		Type:     typ,
		Kind:     kind,
		Device:   event.Endpoint{MAC: r.t.MAC.String(), IP: r.addr.String(), Local: true},
		Source:   "audit",
		Evidence: event.Evidence{},
	}
	if port != 0 {
		client := event.Endpoint{Local: true}
		if r.local.IsValid() {
			client.IP, client.Port = r.local.Addr().Unmap().String(), r.local.Port()
		}
		ev.Flow = &event.Flow{
			Transport: "tcp",
			Client:    client,
			Server:    event.Endpoint{MAC: r.t.MAC.String(), IP: r.addr.String(), Port: port, Local: true},
			App:       app,
			Direction: event.LANToLAN,
		}
	}
	return ev
}

// dialError is a failed connect: nothing reached the service.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var d *dialError
	return errors.As(err, &d)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func joinPorts(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
