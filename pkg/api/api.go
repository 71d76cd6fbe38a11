// Package api is the one door into a running daemon: JSON over HTTP, served
// on a Unix socket for the CLI and, behind the login of pkg/web, to the
// owner's browser. It owns the request and response types (documented in
// docs/api.md), input validation and the handlers; the daemon implements
// Backend.
package api

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotgw/iotgw/internal/devname"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/policy"
)

// Version is the API's path prefix.
const Version = "/api/v1"

// Device is one device as the owner sees it.
type Device struct {
	MAC       string         `json:"mac"`
	Name      string         `json:"name,omitempty"`
	Vendor    string         `json:"vendor,omitempty"`
	Type      string         `json:"type,omitempty"`
	Model     string         `json:"model,omitempty"`
	Addrs     []string       `json:"addresses,omitempty"`
	Hostnames []string       `json:"hostnames,omitempty"`
	FirstSeen time.Time      `json:"first_seen"`
	LastSeen  time.Time      `json:"last_seen"`
	Away      bool           `json:"away,omitempty"`
	State     string         `json:"state"` // ok, alert, pending, quarantined, trusted
	Verdict   policy.Verdict `json:"verdict"`
	// Awaiting says why policy's quarantine waits for the owner's
	// confirmation; "" when it does not.
	Awaiting   string            `json:"awaiting,omitempty"`
	Quarantine *Quarantine       `json:"quarantine,omitempty"`
	Trusted    bool              `json:"trusted,omitempty"`
	Findings   []*event.Event    `json:"findings,omitempty"`
	Identity   map[string]string `json:"identity,omitempty"`
	Software   []Software        `json:"software,omitempty"`
	Scorecard  any               `json:"scorecard,omitempty"`
	Traffic    []TrafficPoint    `json:"traffic,omitempty"`
}

// DisplayName is what the owner calls the device, on the page and at
// the console alike: the name they gave, else vendor and type, else the
// host name it gave itself last, else the MAC (devname's rule, which
// alerts follow too).
func (d Device) DisplayName() string {
	p := devname.Parts{Name: d.Name, Vendor: d.Vendor, Type: d.KnownType(), MAC: d.MAC}
	if n := len(d.Hostnames); n > 0 {
		p.Hostname = d.Hostnames[n-1]
	}
	return p.String()
}

// KnownType is the device's type, empty when no signal named one: the
// daemon's "unknown" says nothing worth a place in a name.
func (d Device) KnownType() string {
	if d.Type == device.TypeUnknown {
		return ""
	}
	return d.Type
}

// Software is a product and version the device showed, and where.
type Software struct {
	Product string `json:"product"`
	Version string `json:"version,omitempty"`
	Source  string `json:"source"`
	// Disputed are claims that named another version ("dhcp 1.36.1"),
	// not believed over Source.
	Disputed []string `json:"disputed,omitempty"`
	// Distribution names the distribution (Linux, or FreeBSD's base
	// system) whose build this is
	// ("Debian"), which may carry fixes its version does not show;
	// empty for an upstream build.
	Distribution string `json:"distribution,omitempty"`
}

// TrafficPoint is a device's traffic in one interval, for the timeline.
type TrafficPoint struct {
	Start time.Time `json:"start"`
	Bytes uint64    `json:"bytes"`
}

// Device states.
const (
	StateOK          = "ok"
	StateAlert       = "alert"
	StatePending     = "pending"
	StateQuarantined = "quarantined"
	StateTrusted     = "trusted"
)

// Quarantine describes an enforced quarantine.
type Quarantine struct {
	Mode   string    `json:"mode"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until,omitzero"`
	By     string    `json:"by"` // "policy", ByOwner, ByUpdate or ByFirewall
	Reason string    `json:"reason,omitempty"`
}

// Quarantine.By values other than policy's own.
const (
	// ByOwner: the owner asked for the quarantine.
	ByOwner = "owner"
	// ByUpdate: policy's quarantine, kept after the device reported an
	// update until the owner releases it.
	ByUpdate = "update"
	// ByFirewall: kept from the firewall's rules at start-up when the
	// saved state had lost it, and with it who asked for it.
	ByFirewall = "firewall"
)

// Status is the daemon's health.
type Status struct {
	Version     string    `json:"version"`
	Started     time.Time `json:"started"`
	Mode        string    `json:"mode"` // monitor or enforce
	Capture     string    `json:"capture"`
	CaptureLost uint64    `json:"capture_lost"` // packets the kernel had but the daemon never read (full ring or buffer)
	Devices     int       `json:"devices"`
	Quarantined int       `json:"quarantined"`
	Packets     uint64    `json:"packets"`
	Flows       int       `json:"flows"`
	Events      uint64    `json:"events"`
	Problems    []string  `json:"problems,omitempty"` // capture stopped, nftables failed …
}

// QuarantineRequest asks for a device to be quarantined by the owner.
type QuarantineRequest struct {
	Mode string `json:"mode,omitempty"` // block, isolate, updates-only; default from config
	For  string `json:"for,omitempty"`  // duration ("24h"); empty: until released
}

// TrustRequest marks a device trusted or not.
type TrustRequest struct {
	Trusted bool `json:"trusted"`
}

// NameRequest names a device.
type NameRequest struct {
	Name string `json:"name"`
}

// EventFilter selects events for the event log.
type EventFilter struct {
	MAC      hwaddr.MAC
	Kind     event.Kind
	Type     event.Type
	MinSev   event.Severity
	Since    time.Time
	Limit    int
	Findings bool
}

// Error is the body of every failed request.
type Error struct {
	Error string `json:"error"`
}

// Backend is what the handlers ask of the daemon. Every method that
// changes something either succeeds or changes nothing.
type Backend interface {
	Status() Status
	Devices() []Device
	Device(mac hwaddr.MAC) (Device, bool)
	Events(f EventFilter) []*event.Event
	Quarantine(ctx context.Context, mac hwaddr.MAC, mode string, d time.Duration) error
	Release(ctx context.Context, mac hwaddr.MAC) error
	SetTrusted(ctx context.Context, mac hwaddr.MAC, trusted bool) error
	SetName(ctx context.Context, mac hwaddr.MAC, name string) error
	// Subscribe streams new events until cancel is called; slow readers
	// miss events rather than slow the daemon.
	Subscribe() (events <-chan *event.Event, cancel func())
}

// Auditor is an optional Backend extra: run the active audit of a device
// now (POST /api/v1/devices/{mac}/audit).
type Auditor interface {
	Audit(ctx context.Context, mac hwaddr.MAC) error
}

// Errors a Backend returns, mapped to HTTP statuses by the handlers.
var (
	ErrNotFound  = errors.New("no such device")
	ErrProtected = errors.New("the device is protected (the router, the owner's device or trusted) and cannot be quarantined")
	ErrInvalid   = errors.New("invalid request")
	ErrConflict  = errors.New("conflicting state")
)

// ParseMAC validates a MAC address from a path or form.
func ParseMAC(s string) (hwaddr.MAC, error) {
	m, err := hwaddr.Parse(s)
	if err != nil {
		return hwaddr.Zero, err
	}
	if m.IsZero() || m.IsMulticast() {
		return hwaddr.Zero, errors.New("not a device's MAC address (zero or multicast)")
	}
	return m, nil
}

// ParseDuration validates a quarantine duration: empty means until
// released; otherwise between one minute and one year.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("duration: use a number with a unit, like 30m, 24h or 168h")
	}
	if d < time.Minute || d > 366*24*time.Hour {
		return 0, errors.New("duration: between 1m and 8784h (a year)")
	}
	return d, nil
}

// ParseMode validates a quarantine mode; empty is allowed (the default).
func ParseMode(s string) (string, error) {
	switch s {
	case "", "block", "isolate", "updates-only":
		return s, nil
	}
	return "", errors.New("mode: want block, isolate or updates-only")
}

// ParseName is the device name the owner typed, without the spaces
// around it, checked by ValidName: the page's form and the API name a
// device alike, and a name of spaces clears the owner's name rather than
// set one that shows as nothing.
func ParseName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := ValidName(s); err != nil {
		return "", err
	}
	return s, nil
}

// ValidName checks a device name the owner typed: at most 64 printable
// characters (as the page's maxlength counts them, not bytes: a name in
// Cyrillic or Chinese takes two to three bytes a character), no control
// characters. An empty name is valid: it clears the owner's name, and
// the device is called by its automatic name again.
func ValidName(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("name: not UTF-8 text")
	}
	if utf8.RuneCountInString(s) > 64 {
		return errors.New("name: at most 64 characters (empty: its automatic name)")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("name: no control characters")
		}
	}
	return nil
}

// AddrStrings formats addresses for Device.Addrs.
func AddrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}
