package quarantine

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Fake is the in-memory backend for tests of consumers. It shares the
// kernel backend's semantics (validation, protected refusal, mode switch,
// expiry by its clock, reconcile) and prints what the kernel would hold.
type Fake struct {
	mu        sync.Mutex
	cfg       Config
	now       func() time.Time
	layout    *layout
	installed bool
	st        *state
	// flowtables is what Flowtables reports (SetFlowtables).
	flowtables []string
	// fw4Missing and fw4 are what FW4InputMissing reports
	// (SetFW4InputMissing).
	fw4Missing []string
	fw4        bool
}

// SetFW4InputMissing sets what FW4InputMissing reports: whether fw4's
// input chain is there (ok), and which of FW4Input's rules it lacks.
func (f *Fake) SetFW4InputMissing(missing []string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fw4Missing, f.fw4 = append([]string(nil), missing...), ok
}

// FW4InputMissing reports what SetFW4InputMissing set; a new fake has no
// fw4.
func (f *Fake) FW4InputMissing(context.Context) ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.fw4Missing...), f.fw4, nil
}

// SetFlowtables sets the flowtables Flowtables reports, as if fw4's flow
// offloading were switched on (names given) or off (none).
func (f *Fake) SetFlowtables(names []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flowtables = append([]string(nil), names...)
}

// Flowtables reports the flowtables SetFlowtables set.
func (f *Fake) Flowtables(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.flowtables...), nil
}

// NewFake returns an empty fake; like the kernel backend it installs its
// tables on the first change. WithClock makes expiry testable.
func NewFake(cfg Config, opts ...Option) (*Fake, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	return &Fake{cfg: cfg, now: o.now, layout: newLayout(cfg, false), st: newState()}, nil
}

func (f *Fake) apply(ctx context.Context, mutate func(s *state, now time.Time) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	now := f.now()
	f.st.expire(now)
	// Work on a copy, as the kernel backend works on what it read: a
	// refused change leaves nothing behind.
	next := stateFrom(f.st.contents(f.cfg))
	if err := mutate(next, now); err != nil {
		return err
	}
	f.st, f.installed = next, true
	return nil
}

// Reconcile: see NFTables.Reconcile.
func (f *Fake) Reconcile(ctx context.Context, entries []Entry) error {
	var skipped error
	err := f.apply(ctx, func(s *state, now time.Time) error {
		skipped = s.reconcile(entries, f.cfg, now)
		return nil
	})
	if err != nil {
		return err
	}
	return skipped
}

// Quarantine: see NFTables.Quarantine.
func (f *Fake) Quarantine(ctx context.Context, e Entry) error {
	return f.apply(ctx, func(s *state, now time.Time) error { return s.quarantine(e, f.cfg, now) })
}

// Release: see NFTables.Release. The fake has no connections, so addrs
// change nothing.
func (f *Fake) Release(ctx context.Context, mac hwaddr.MAC, addrs ...netip.Addr) error {
	return f.apply(ctx, func(s *state, _ time.Time) error {
		delete(s.entries, mac)
		return nil
	})
}

// SetAllowed: see NFTables.SetAllowed.
func (f *Fake) SetAllowed(ctx context.Context, addrs []netip.Addr, ttl time.Duration) error {
	return setAllowed(ctx, f.apply, addrs, ttl)
}

// SetProtected: see NFTables.SetProtected.
func (f *Fake) SetProtected(ctx context.Context, macs []hwaddr.MAC, addrs []netip.Addr) error {
	return f.apply(ctx, func(s *state, _ time.Time) error { return s.protect(macs, addrs) })
}

// SetRouterAddrs: see NFTables.SetRouterAddrs.
func (f *Fake) SetRouterAddrs(ctx context.Context, addrs []netip.Addr) error {
	return f.apply(ctx, func(s *state, _ time.Time) error {
		cfg, err := withRouterAddrs(f.cfg, addrs) // f.mu held
		if err != nil {
			return err
		}
		s.setRouterAddrs(f.cfg.RouterAddrs, cfg.RouterAddrs)
		f.cfg = cfg
		return nil
	})
}

// SetDNSRedirectAll: see NFTables.SetDNSRedirectAll.
func (f *Fake) SetDNSRedirectAll(ctx context.Context, on bool) error {
	return f.reconfigure(ctx, func(c *Config) { c.DNSRedirectAll = on })
}

// SetLANPrefixes: see NFTables.SetLANPrefixes.
func (f *Fake) SetLANPrefixes(ctx context.Context, prefixes []netip.Prefix) error {
	return f.reconfigure(ctx, func(c *Config) { c.LANPrefixes = slices.Clone(prefixes) })
}

// reconfigure: see NFTables.reconfigure.
func (f *Fake) reconfigure(ctx context.Context, change func(*Config)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := f.cfg
	change(&cfg)
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	f.cfg, f.layout, f.installed = cfg, newLayout(cfg, false), true
	return nil
}

// Current: see NFTables.Current.
func (f *Fake) Current(ctx context.Context) ([]Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.st.expire(f.now())
	return f.st.current(), nil
}

// Uninstall: see NFTables.Uninstall; the fake holds its own two tables
// only.
func (f *Fake) Uninstall(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var deleted []string
	if f.installed {
		deleted = []string{"inet " + f.cfg.TableName, "bridge " + f.cfg.TableName}
	}
	f.st, f.installed = newState(), false
	return deleted, nil
}

// Dump prints both tables as nft commands: tables, sets, chains and rules
// in layout order, then every set's elements sorted, with the time left
// by the fake's clock. Tests compare it with golden text.
func (f *Fake) Dump() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.installed {
		return ""
	}
	now := f.now()
	f.st.expire(now)
	all := f.st.contents(f.cfg)
	var sb strings.Builder
	for _, t := range []tableDef{f.layout.inet, f.layout.bridge} {
		c := all.forTable(t.family, f.cfg)
		sb.WriteString(t.structure(f.layout.name, f.layout.tag))
		fam := familyName(t.family)
		for _, d := range t.sets {
			var items []string
			if d.interval {
				for _, p := range f.layout.lan[d.name] {
					items = append(items, p.String())
				}
			}
			for _, e := range sortedElements(c[d.name]) {
				item := e.key
				if !e.expires.IsZero() {
					item += " expires " + e.expires.Sub(now).String()
				}
				if e.comment != "" {
					item += fmt.Sprintf(" comment %q", e.comment)
				}
				items = append(items, item)
			}
			if len(items) > 0 {
				fmt.Fprintf(&sb, "add element %s %s %s { %s }\n", fam, f.layout.name, d.name, strings.Join(items, ", "))
			}
		}
	}
	return sb.String()
}
