// Package quarantine enforces quarantine verdicts with nftables. It owns two
// tables of its own ("inet iotgw" and "bridge iotgw") whose chains and rules
// are static; which devices are quarantined, which update hosts they may
// reach and which devices are protected lives only in set elements. Every
// change is one atomic netlink batch. The policy decides, this package only
// enforces; it never touches any other table and never flushes the ruleset.
//
// Two implementations share one method set: NFTables (the kernel, through
// github.com/google/nftables) and Fake (in memory, for tests of consumers).
package quarantine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Mode says how hard a device is cut off.
type Mode string

// The quarantine modes.
const (
	// ModeBlock: DHCP, DNS to the router and the notice page only; plain
	// HTTP anywhere is redirected to the notice page, DNS anywhere to the
	// DNS proxy (Config.DNSProxyPort); LAN peers are cut.
	ModeBlock Mode = "block"
	// ModeIsolate: no internet; LAN allowed unless Config.IsolateLAN.
	ModeIsolate Mode = "isolate"
	// ModeUpdatesOnly: like block, but the hosts in the allow sets (firmware
	// update servers) stay reachable on what downloads use, TCP 80 and
	// 443 and UDP 443 (QUIC), and are not redirected, except for DNS,
	// which goes to the DNS proxy whatever the address.
	ModeUpdatesOnly Mode = "updates-only"
)

var modes = [...]Mode{ModeBlock, ModeIsolate, ModeUpdatesOnly}

// setPrefix names the sets of a mode: block_mac, isolate_v4, updates_v6 …
func (m Mode) setPrefix() string {
	switch m {
	case ModeBlock:
		return "block"
	case ModeIsolate:
		return "isolate"
	case ModeUpdatesOnly:
		return "updates"
	}
	return ""
}

// ParseMode reads a mode name as written in Mode's constants.
func ParseMode(s string) (Mode, error) {
	for _, m := range modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("quarantine: unknown mode %q (want block, isolate or updates-only)", s)
}

// Entry is one quarantined device.
type Entry struct {
	MAC   hwaddr.MAC
	Addrs []netip.Addr // IPv4 and IPv6 addresses the device uses now
	Mode  Mode
	// Expires is when the kernel lifts the quarantine by itself (set element
	// timeout). Zero: until released.
	Expires time.Time
}

// Errors a caller can test with errors.Is.
var (
	// ErrProtected: the entry names a protected MAC or address (the router,
	// the owner's management device, a trusted device). The lockout guard.
	ErrProtected = errors.New("quarantine: device is protected")
	// ErrInvalid: the entry or argument cannot be enforced as given.
	ErrInvalid = errors.New("quarantine: invalid")
	// ErrAllowFull: SetAllowed refused addresses because their family's
	// allow set holds MaxAllowed elements; the others were applied.
	ErrAllowFull = errors.New("quarantine: allow set full")
	// ErrConntrack: the rules are in the kernel, but deleting the
	// device's tracked connections failed, so some it had may go on. The
	// quarantine itself stands.
	ErrConntrack = errors.New("quarantine applied, but its device's open connections could not be cut")
)

// MaxAllowed caps the elements of each allow set (allow_v4, allow_v6).
// An update domain resolving to a large pool (a wildcard or CDN name)
// must not grow the sets, and the read-back of every change, without end.
const MaxAllowed = 1024

// CaptureConfig sets up the byte-budget capture fast path: the first Bytes
// bytes and the first Packets packets of each direction of every TCP and
// UDP connection are copied to NFLOG group Group, at most Snaplen bytes per
// packet. With PacketMark, nothing is copied: the rules mark the packets
// past the budget for the AF_PACKET capture's filter instead.
type CaptureConfig struct {
	Enabled bool
	Group   uint16
	Snaplen uint32
	Bytes   uint64
	// Packets: the first Packets-1 packets of each direction are copied
	// whatever their size (the kernel's counter already includes the
	// packet being matched). Without it a first reply that GRO or the
	// sender's TSO made larger than Bytes would never be copied. Zero:
	// DefaultCapturePackets.
	Packets uint64
	// Mark is two bits of the connection mark (ct mark) that the rules may
	// set: the lower once the original direction's budget is spent, the
	// higher once the reply direction's is. A packet whose direction has
	// its bit is passed on a test of the mark, which costs the kernel
	// less than reading the byte and packet counters. No other bit is
	// touched.
	// Zero: DefaultCaptureMark.
	Mark uint32
	// PacketMark, when not zero, is one bit of the packet mark (meta
	// mark) that the forward rules set on every forwarded packet of a
	// direction whose budget is spent, instead of copying the first
	// packets to NFLOG (Group and Snaplen are then unused). The
	// AF_PACKET capture's filter drops packets with the bit (see
	// capture.PortSet.SpentMark): the forward hook runs after the
	// routing decision and before the packet is handed to the LAN
	// interface, whose transmit tap sees the mark. No other bit is
	// touched. Only the bridge table's copy of the rules is left out:
	// frames bridged between LAN ports are copied to the capture
	// before the bridge's forward hook.
	PacketMark uint32
}

// ValidPacketMark reports whether m can be CaptureConfig.PacketMark: one
// bit.
func ValidPacketMark(m uint32) bool { return bits.OnesCount32(m) == 1 }

// DefaultPacketMark is the packet mark bit afpacket capture asks for by
// default: bit 29. The packet mark is shared by everything on the router
// that routes, shapes or filters by it; this bit is outside what the
// usual OpenWrt packages take: mwan3 (0x3F00), SQM's and qos-scripts'
// marks (the low byte), pbr and vpn-policy-routing (0x00FF0000),
// Tailscale (0x40000, 0x80000 in its mask 0xFF0000), WireGuard's usual
// fwmark 0xCA6C and Kubernetes' 0x4000 and 0x8000. fw4 sets none.
const DefaultPacketMark = 0x20000000

// DefaultCapturePackets is CaptureConfig.Packets unless set: the
// handshake's packet and the first data packet of each direction.
const DefaultCapturePackets = 4

// ValidCaptureMark reports whether m can be CaptureConfig.Mark: two bits.
func ValidCaptureMark(m uint32) bool { return bits.OnesCount32(m) == 2 }

// originalBit is the lower bit of Mark: the original direction is spent.
func (c CaptureConfig) originalBit() uint32 { return c.Mark & -c.Mark }

// replyBit is the higher bit of Mark: the reply direction is spent.
func (c CaptureConfig) replyBit() uint32 { return c.Mark &^ c.originalBit() }

// DefaultCaptureMark is CaptureConfig.Mark unless set: bits 14 and 15, next
// to mwan3's default mask (0x3F00) and below the bits that SQM's ctinfo
// scripts (0xFF000000) and policy routing (0x00FF0000) usually take.
const DefaultCaptureMark = 0x0000C000

// ValidOwnerMark reports whether m can be Config.OwnerMark: one bit.
func ValidOwnerMark(m uint32) bool { return bits.OnesCount32(m) == 1 }

// DefaultOwnerMark is Config.OwnerMark unless set: bit 23. It is outside
// the capture's bits (DefaultCaptureMark), mwan3's (0x3F00) and those of
// SQM's ctinfo scripts (0xFF000000); it is the top bit of the byte
// policy routing takes (0x00FF0000), whose marks count up from its
// bottom (pbr's one per interface from 0x00010000, Tailscale's 0x40000
// and 0x80000).
const DefaultOwnerMark = 0x00800000

// Config is what the rules are built from. A change of any field rebuilds
// the tables on the next Reconcile (atomically, keeping all elements).
type Config struct {
	// RouterAddrs are the router's own addresses; they are always protected.
	RouterAddrs []netip.Addr
	// LANPrefixes are the networks "isolate" still lets a device reach.
	LANPrefixes []netip.Prefix
	// NoticePort is the router's TCP port of the notice page.
	NoticePort uint16
	// IsolateLAN makes "isolate" cut LAN peers too, like "block".
	IsolateLAN bool
	Capture    CaptureConfig
	// DNSProxyPort is the port the DNS proxy listens on, on the router's
	// LAN addresses. Non-zero: DNS (udp and tcp port 53, to any address)
	// of quarantined devices (every mode) is redirected there, and the
	// limited chain accepts it instead of port 53 (either from a source
	// routed back out of the interface it came in on only). Zero: no DNS
	// redirect at all.
	DNSProxyPort uint16
	// DNSRedirectAll redirects DNS sent to the router itself by every
	// LAN client (LANInterfaces, protected devices excepted) to the
	// proxy as well. Needs DNSProxyPort and LANInterfaces. Every LAN
	// client's DNS then depends on the daemon: install it once the proxy
	// listens and take it out on a clean stop (SetDNSRedirectAll).
	DNSRedirectAll bool
	// LANInterfaces names the router's LAN interfaces (br-lan …), for
	// DNSRedirectAll, and for the isolate mode's LAN: LANPrefixes count
	// only through these (with none, through any interface). At most
	// MaxLANInterfaces.
	LANInterfaces []string
	// TableName names both tables; default "iotgw".
	TableName string
	// OwnerMark is one bit of the connection mark (ct mark) that the
	// forward rules set on every connection a protected MAC opens
	// through the router. A quarantined device's replies on such a
	// connection pass whatever its address, so that the owner reaches
	// it at an address its entry lacks (not learnt yet). No other bit
	// is touched; it must not be one of Capture.Mark's. Zero:
	// DefaultOwnerMark.
	OwnerMark uint32
}

// DefaultTableName is the name of iotgw's tables unless Config says otherwise.
const DefaultTableName = "iotgw"

// foreignTables are table names other firewalls use, with their owner:
// iotgw deletes and rebuilds the tables it is given, which would wipe
// theirs.
var foreignTables = map[string]string{
	"fw4":       "OpenWrt's firewall (fw4)",
	"firewalld": "firewalld's",
	"filter":    "iptables-nft's",
	"nat":       "iptables-nft's",
	"mangle":    "iptables-nft's",
	"raw":       "iptables-nft's",
	"security":  "iptables-nft's",
	"broute":    "ebtables-nft's",
}

// maxTableName leaves room for the "_probe" suffix of the bridge conntrack
// probe table within the kernel's 255-byte limit on names.
const maxTableName = 255 - len("_probe")

// CheckTableName accepts a name for iotgw's tables: a plain nft
// identifier, which needs no quoting on an nft command line (`nft list
// table inet NAME`), and not the name of another firewall's table.
func CheckTableName(name string) error {
	ok := name != "" && len(name) <= maxTableName
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_' || r == '-')) {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("%q is not an nft identifier (a letter, then letters, digits, '_' or '-'; at most %d bytes)", name, maxTableName)
	}
	if owner, ok := foreignTables[name]; ok {
		return fmt.Errorf("%q is %s table: iotgw deletes and rebuilds its tables, so they need a name of their own (default %q)", name, owner, DefaultTableName)
	}
	return nil
}

// MaxLANInterfaces caps Config.LANInterfaces: each costs a few rules.
const MaxLANInterfaces = 32

func (c Config) withDefaults() (Config, error) {
	if c.TableName == "" {
		c.TableName = DefaultTableName
	}
	if err := CheckTableName(c.TableName); err != nil {
		return c, fmt.Errorf("%w config: table name: %w", ErrInvalid, err)
	}
	if c.NoticePort == 0 {
		return c, fmt.Errorf("%w config: notice port is 0", ErrInvalid)
	}
	if c.Capture.Enabled && (c.Capture.Bytes == 0 || (c.Capture.Snaplen == 0 && c.Capture.PacketMark == 0)) {
		return c, fmt.Errorf("%w config: capture needs a byte budget and a snap length", ErrInvalid)
	}
	if c.Capture.PacketMark != 0 && !ValidPacketMark(c.Capture.PacketMark) {
		return c, fmt.Errorf("%w config: capture packet mark 0x%08x: want exactly one bit", ErrInvalid, c.Capture.PacketMark)
	}
	if c.Capture.Packets == 0 {
		c.Capture.Packets = DefaultCapturePackets
	}
	if c.Capture.Mark == 0 {
		c.Capture.Mark = DefaultCaptureMark
	}
	if !ValidCaptureMark(c.Capture.Mark) {
		return c, fmt.Errorf("%w config: capture mark 0x%08x: want exactly two bits", ErrInvalid, c.Capture.Mark)
	}
	if c.OwnerMark == 0 {
		c.OwnerMark = DefaultOwnerMark
	}
	if !ValidOwnerMark(c.OwnerMark) {
		return c, fmt.Errorf("%w config: owner mark 0x%08x: want exactly one bit", ErrInvalid, c.OwnerMark)
	}
	if c.OwnerMark&c.Capture.Mark != 0 {
		return c, fmt.Errorf("%w config: owner mark 0x%08x is a bit of the capture mark 0x%08x", ErrInvalid, c.OwnerMark, c.Capture.Mark)
	}
	if c.DNSProxyPort != 0 && c.DNSProxyPort == c.NoticePort {
		return c, fmt.Errorf("%w config: DNS proxy port %d is the notice port", ErrInvalid, c.DNSProxyPort)
	}
	if len(c.LANInterfaces) > MaxLANInterfaces {
		return c, fmt.Errorf("%w config: %d LAN interfaces, at most %d", ErrInvalid, len(c.LANInterfaces), MaxLANInterfaces)
	}
	c.LANInterfaces = append([]string(nil), c.LANInterfaces...)
	for _, name := range c.LANInterfaces {
		if !ValidInterfaceName(name) {
			return c, fmt.Errorf("%w config: LAN interface name %q", ErrInvalid, name)
		}
	}
	if c.DNSRedirectAll && (c.DNSProxyPort == 0 || len(c.LANInterfaces) == 0) {
		return c, fmt.Errorf("%w config: DNS redirect for all clients needs the proxy port and the LAN interfaces", ErrInvalid)
	}
	routers := make([]netip.Addr, 0, len(c.RouterAddrs))
	for _, a := range c.RouterAddrs {
		if !a.IsValid() {
			return c, fmt.Errorf("%w config: invalid router address", ErrInvalid)
		}
		routers = append(routers, a.Unmap().WithZone(""))
	}
	c.RouterAddrs = routers
	return c, nil
}

// withRouterAddrs is cfg with the router's own addresses replaced by
// addrs, checked and normalised as the backends' constructors do.
func withRouterAddrs(cfg Config, addrs []netip.Addr) (Config, error) {
	cfg.RouterAddrs = addrs
	return cfg.withDefaults()
}

// ValidInterfaceName accepts what the kernel accepts as an interface name
// (1 to 15 bytes, not "." or "..", no '/', ':' or white space), less what
// nft would read as a wildcard or could not print back plainly.
func ValidInterfaceName(name string) bool {
	if name == "" || len(name) >= unix.IFNAMSIZ || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`/:*"\`, r) {
			return false
		}
	}
	return true
}

// Option tunes a backend.
type Option func(*options)

type options struct {
	netns   bool
	netnsFd int
	now     func() time.Time
}

// WithNetNSFd makes the NFTables backend work in the network namespace the
// file descriptor refers to, instead of the caller's.
func WithNetNSFd(fd int) Option { return func(o *options) { o.netns, o.netnsFd = true, fd } }

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func buildOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// state is the content of iotgw's sets, as one model both backends share:
// the fake keeps it, the kernel backend reads it from and writes it to the
// set elements.
type state struct {
	entries        map[hwaddr.MAC]Entry
	protectedMACs  map[hwaddr.MAC]bool
	protectedAddrs map[netip.Addr]bool
	// allowed maps update-host addresses to their expiry (zero: none).
	allowed map[netip.Addr]time.Time
	// inetLost: the inet table was missing when the state was read, so
	// no entry held the routed traffic then. Not kept from one read to
	// the next.
	inetLost bool
}

func newState() *state {
	return &state{
		entries:        map[hwaddr.MAC]Entry{},
		protectedMACs:  map[hwaddr.MAC]bool{},
		protectedAddrs: map[netip.Addr]bool{},
		allowed:        map[netip.Addr]time.Time{},
	}
}

// clone returns a copy of s that shares nothing with it.
func (s *state) clone() *state {
	c := &state{
		entries:        make(map[hwaddr.MAC]Entry, len(s.entries)),
		protectedMACs:  maps.Clone(s.protectedMACs),
		protectedAddrs: maps.Clone(s.protectedAddrs),
		allowed:        maps.Clone(s.allowed),
	}
	for mac, e := range s.entries {
		e.Addrs = slices.Clone(e.Addrs)
		c.entries[mac] = e
	}
	return c
}

// expire drops what the kernel would have timed out by now.
func (s *state) expire(now time.Time) {
	for mac, e := range s.entries {
		if !e.Expires.IsZero() && !e.Expires.After(now) {
			delete(s.entries, mac)
		}
	}
	for a, exp := range s.allowed {
		if !exp.IsZero() && !exp.After(now) {
			delete(s.allowed, a)
		}
	}
}

// current lists the entries sorted by MAC, addresses sorted.
func (s *state) current() []Entry {
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		if len(e.Addrs) == 0 {
			e.Addrs = nil
		} else {
			e.Addrs = append([]netip.Addr(nil), e.Addrs...)
			sortAddrs(e.Addrs)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return macLess(out[i].MAC, out[j].MAC) })
	return out
}

func macLess(a, b hwaddr.MAC) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func sortAddrs(as []netip.Addr) {
	sort.Slice(as, func(i, j int) bool { return as[i].Less(as[j]) })
}

// checkProtected refuses an entry that names a protected MAC or address;
// routers are the addresses of the router itself.
func (s *state) checkProtected(e Entry, routers []netip.Addr) error {
	if s.protectedMACs[e.MAC] {
		return fmt.Errorf("%w: %s is a protected MAC", ErrProtected, e.MAC)
	}
	for _, a := range e.Addrs {
		if s.protectedAddr(a, routers) {
			return fmt.Errorf("%w: %s (of %s) is a protected address", ErrProtected, a, e.MAC)
		}
	}
	return nil
}

func (s *state) protectedAddr(a netip.Addr, routers []netip.Addr) bool {
	return s.protectedAddrs[a] || containsAddr(routers, a)
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

// normalizeEntry checks e and returns it with unmapped, de-duplicated,
// sorted addresses.
func normalizeEntry(e Entry, now time.Time) (Entry, error) {
	if e.MAC.IsZero() || e.MAC.IsMulticast() {
		return e, fmt.Errorf("%w entry: MAC %s is not a unicast device address", ErrInvalid, e.MAC)
	}
	if e.Mode.setPrefix() == "" {
		return e, fmt.Errorf("%w entry %s: unknown mode %q", ErrInvalid, e.MAC, e.Mode)
	}
	if !e.Expires.IsZero() && !e.Expires.After(now) {
		return e, fmt.Errorf("%w entry %s: already expired at %s", ErrInvalid, e.MAC, e.Expires.Format(time.RFC3339))
	}
	addrs := make([]netip.Addr, 0, len(e.Addrs))
	for _, a := range e.Addrs {
		a = a.Unmap().WithZone("")
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			return e, fmt.Errorf("%w entry %s: address %s cannot be a device's", ErrInvalid, e.MAC, a)
		}
		if !containsAddr(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	sortAddrs(addrs)
	e.Addrs = addrs
	return e, nil
}

// put records e, taking its addresses away from any other entry (an address
// belongs to one device at a time; DHCP may have moved it).
func (s *state) put(e Entry) {
	delete(s.entries, e.MAC)
	for mac, other := range s.entries {
		kept := other.Addrs[:0:0]
		for _, a := range other.Addrs {
			if !containsAddr(e.Addrs, a) {
				kept = append(kept, a)
			}
		}
		other.Addrs = kept
		s.entries[mac] = other
	}
	s.entries[e.MAC] = e
}

// quarantine validates e against the protected sets and records it.
func (s *state) quarantine(e Entry, cfg Config, now time.Time) error {
	e, err := normalizeEntry(e, now)
	if err != nil {
		return err
	}
	if err := s.checkProtected(e, cfg.RouterAddrs); err != nil {
		return err
	}
	s.put(e)
	return nil
}

// reconcile replaces all entries with the given ones. Entries that are
// invalid or whose MAC is protected are skipped. Protected addresses are
// only dropped from their entry, the rest of it is applied: a stored entry
// may hold an address DHCP has since given to a protected device, and
// skipping the entry would free the quarantined one. The returned error
// names each skipped entry and dropped address (errors.Is ErrProtected /
// ErrInvalid).
func (s *state) reconcile(entries []Entry, cfg Config, now time.Time) error {
	s.entries = map[hwaddr.MAC]Entry{}
	var errs []error
	skipped := map[hwaddr.MAC]error{}
	for _, given := range entries {
		e, err := normalizeEntry(given, now)
		if err == nil {
			// The MAC alone: a protected MAC skips the whole entry.
			err = s.checkProtected(Entry{MAC: e.MAC}, nil)
		}
		if err != nil {
			errs = append(errs, err)
			skipped[given.MAC] = err
			continue
		}
		kept := e.Addrs[:0:0]
		var dropped []string
		for _, a := range e.Addrs {
			if s.protectedAddr(a, cfg.RouterAddrs) {
				dropped = append(dropped, a.String())
			} else {
				kept = append(kept, a)
			}
		}
		if len(dropped) > 0 {
			errs = append(errs, fmt.Errorf("%w: %s dropped from the entry of %s, the rest applied", ErrProtected, strings.Join(dropped, ", "), e.MAC))
		}
		e.Addrs = kept
		s.put(e)
	}
	if len(errs) == 0 {
		return nil
	}
	return &ReconcileError{Skipped: skipped, errs: errs}
}

// ReconcileError is what Reconcile did not apply as given: the entries it
// left out whole (Skipped, by MAC, with the reason: a protected MAC, an
// invalid entry), the protected addresses it dropped from entries it
// applied, and a failure to cut the connections of entries it added. It
// wraps ErrProtected, ErrInvalid or ErrConntrack.
type ReconcileError struct {
	Skipped map[hwaddr.MAC]error
	errs    []error
}

func (e *ReconcileError) Error() string { return errors.Join(e.errs...).Error() }

func (e *ReconcileError) Unwrap() []error { return e.errs }

// allow adds update-host addresses, never shortening a longer expiry. New
// addresses beyond MaxAllowed per family are not added but returned as
// refused; refreshing an address already allowed always works.
func (s *state) allow(addrs []netip.Addr, ttl time.Duration, now time.Time) (refused []netip.Addr, err error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("%w allow: ttl %s is not positive", ErrInvalid, ttl)
	}
	exp := now.Add(ttl)
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			return nil, fmt.Errorf("%w allow: address %s", ErrInvalid, a)
		}
	}
	var v4, v6 int
	for a := range s.allowed {
		if a.Is4() {
			v4++
		} else {
			v6++
		}
	}
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		old, ok := s.allowed[a]
		if ok && (old.IsZero() || old.After(exp)) {
			continue
		}
		if !ok {
			n := &v6
			if a.Is4() {
				n = &v4
			}
			if *n >= MaxAllowed {
				refused = append(refused, a)
				continue
			}
			*n++
		}
		s.allowed[a] = exp
	}
	return refused, nil
}

// setAllowed is SetAllowed for either backend: it applies what fits and
// names the refused addresses in an ErrAllowFull error.
func setAllowed(ctx context.Context, apply func(context.Context, func(*state, time.Time) error) error, addrs []netip.Addr, ttl time.Duration) error {
	var refused []netip.Addr
	err := apply(ctx, func(s *state, now time.Time) (err error) {
		refused, err = s.allow(addrs, ttl, now)
		return err
	})
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		return &AllowFullError{Refused: refused, Asked: len(addrs)}
	}
	return nil
}

// AllowFullError is SetAllowed's ErrAllowFull: Refused are the addresses
// not applied because their family's allow set was full; the others of
// the Asked were.
type AllowFullError struct {
	Refused []netip.Addr
	Asked   int
}

func (e *AllowFullError) Error() string {
	return fmt.Sprintf("%v (%d per family): %d of %d addresses refused, first %s", ErrAllowFull, MaxAllowed, len(e.Refused), e.Asked, e.Refused[0])
}

// Is makes errors.Is(err, ErrAllowFull) hold.
func (e *AllowFullError) Is(target error) bool { return target == ErrAllowFull }

// protect replaces the protected sets. Protection wins over quarantine: an
// entry whose MAC becomes protected is released, and protected addresses are
// taken out of the entries that had them.
func (s *state) protect(macs []hwaddr.MAC, addrs []netip.Addr) error {
	pm := map[hwaddr.MAC]bool{}
	for _, m := range macs {
		if m.IsZero() || m.IsMulticast() {
			return fmt.Errorf("%w protect: MAC %s", ErrInvalid, m)
		}
		pm[m] = true
	}
	pa := map[netip.Addr]bool{}
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if !a.IsValid() || a.IsUnspecified() {
			return fmt.Errorf("%w protect: address %s", ErrInvalid, a)
		}
		pa[a] = true
	}
	s.protectedMACs, s.protectedAddrs = pm, pa
	for mac := range s.entries {
		if pm[mac] {
			delete(s.entries, mac)
		}
	}
	s.dropAddrs(func(a netip.Addr) bool { return pa[a] })
	return nil
}

// setRouterAddrs applies a change of the router's own addresses from
// old to routers: they leave every entry, and one the router lost leaves
// the protected addresses too. The kernel's protected set holds the
// router's addresses beside the others, so the state read back from it
// has them there: kept, a lost one would stay protected in the inet
// table and, no longer kept out as the router's, enter the bridge's set
// until the next SetProtected, which may fail. One that is protected
// for another reason (a management address) comes back with that.
func (s *state) setRouterAddrs(old, routers []netip.Addr) {
	for _, a := range old {
		if !containsAddr(routers, a) {
			delete(s.protectedAddrs, a)
		}
	}
	s.dropAddrs(func(a netip.Addr) bool { return containsAddr(routers, a) })
}

// dropAddrs takes the addresses drop reports out of every entry; the
// entries stay, held by their MACs.
func (s *state) dropAddrs(drop func(netip.Addr) bool) {
	for mac, e := range s.entries {
		e.Addrs = slices.DeleteFunc(slices.Clone(e.Addrs), drop)
		s.entries[mac] = e
	}
}
