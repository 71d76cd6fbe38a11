package quarantine

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// enforcer is the method set a consumer (the daemon) declares; both
// backends must satisfy it.
type enforcer interface {
	Reconcile(ctx context.Context, entries []Entry) error
	Quarantine(ctx context.Context, e Entry) error
	Release(ctx context.Context, mac hwaddr.MAC, addrs ...netip.Addr) error
	SetAllowed(ctx context.Context, addrs []netip.Addr, ttl time.Duration) error
	SetProtected(ctx context.Context, macs []hwaddr.MAC, addrs []netip.Addr) error
	SetRouterAddrs(ctx context.Context, addrs []netip.Addr) error
	Current(ctx context.Context) ([]Entry, error)
	Uninstall(ctx context.Context) ([]string, error)
}

// dnsRedirectSwitch is what the daemon declares to put mode "all" of the
// DNS proxy in and take it out again.
type dnsRedirectSwitch interface {
	SetDNSRedirectAll(ctx context.Context, on bool) error
}

var (
	_ enforcer          = (*Fake)(nil)
	_ enforcer          = (*NFTables)(nil)
	_ dnsRedirectSwitch = (*Fake)(nil)
	_ dnsRedirectSwitch = (*NFTables)(nil)
)

// clock is a settable time source for expiry tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func mustMAC(s string) hwaddr.MAC {
	m, err := hwaddr.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

var (
	camera  = mustMAC("02:00:00:00:00:10")
	plug    = mustMAC("02:00:00:00:00:11")
	laptop  = mustMAC("02:00:00:00:00:99")
	testCfg = Config{
		RouterAddrs: addrs("10.99.0.1", "fd99::1"),
		LANPrefixes: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64")},
		NoticePort:  8080,
	}
)

func newTestFake(t *testing.T, cfg Config) (*Fake, *clock) {
	t.Helper()
	c := &clock{t: epoch}
	f, err := NewFake(cfg, WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

// elementLines returns Dump's element lines only, without the rules.
func elementLines(dump string) string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		if strings.HasPrefix(l, "add element ") && !strings.Contains(l, " lan_v") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestFake(t *testing.T) {
	ctx := context.Background()
	type step func(f *Fake, c *clock) error
	quarantine := func(e Entry) step { return func(f *Fake, _ *clock) error { return f.Quarantine(ctx, e) } }
	release := func(m hwaddr.MAC) step { return func(f *Fake, _ *clock) error { return f.Release(ctx, m) } }
	protect := func(m []hwaddr.MAC, a []netip.Addr) step {
		return func(f *Fake, _ *clock) error { return f.SetProtected(ctx, m, a) }
	}
	allow := func(ttl time.Duration, a ...string) step {
		return func(f *Fake, _ *clock) error { return f.SetAllowed(ctx, addrs(a...), ttl) }
	}
	reconcile := func(es ...Entry) step { return func(f *Fake, _ *clock) error { return f.Reconcile(ctx, es) } }
	advance := func(d time.Duration) step { return func(_ *Fake, c *clock) error { c.t = c.t.Add(d); return nil } }
	block := Entry{MAC: camera, Addrs: addrs("10.99.0.10", "fd99::10"), Mode: ModeBlock}

	tests := []struct {
		name    string
		steps   []step
		lastErr error  // errors.Is target for the last step; nil: all succeed
		errText string // what the last step's error must also say
		want    []Entry
		dump    string // element lines
	}{
		{
			name:  "block",
			steps: []step{quarantine(block)},
			want:  []Entry{block},
			dump: `add element inet iotgw protected_v4 { 10.99.0.1 }
add element inet iotgw protected_v6 { fd99::1 }
add element inet iotgw block_mac { 02:00:00:00:00:10 comment "02:00:00:00:00:10" }
add element inet iotgw block_v4 { 10.99.0.10 comment "02:00:00:00:00:10" }
add element inet iotgw block_v6 { fd99::10 comment "02:00:00:00:00:10" }
add element inet iotgw quarantined_mac { 02:00:00:00:00:10 }
add element bridge iotgw block_mac { 02:00:00:00:00:10 comment "02:00:00:00:00:10" }
add element bridge iotgw block_v4 { 10.99.0.10 comment "02:00:00:00:00:10" }
add element bridge iotgw block_v6 { fd99::10 comment "02:00:00:00:00:10" }
add element bridge iotgw block_pair_v4 { 02:00:00:00:00:10 . 10.99.0.10 comment "02:00:00:00:00:10" }
add element bridge iotgw block_pair_v6 { 02:00:00:00:00:10 . fd99::10 comment "02:00:00:00:00:10" }
add element bridge iotgw quarantined_mac { 02:00:00:00:00:10 }
add element bridge iotgw quarantined_v4 { 10.99.0.10 }
add element bridge iotgw quarantined_v6 { fd99::10 }`,
		},
		{
			name:  "mapped_and_duplicate_addresses_normalised",
			steps: []step{quarantine(Entry{MAC: camera, Addrs: addrs("::ffff:10.99.0.10", "10.99.0.10"), Mode: ModeBlock})},
			want:  []Entry{{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeBlock}},
		},
		{
			name:  "release",
			steps: []step{quarantine(block), release(camera)},
			want:  nil,
			dump: `add element inet iotgw protected_v4 { 10.99.0.1 }
add element inet iotgw protected_v6 { fd99::1 }`,
		},
		{
			name:  "release_unknown_is_no_error",
			steps: []step{release(plug)},
		},
		{
			name: "expire",
			steps: []step{
				quarantine(Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate, Expires: epoch.Add(time.Hour)}),
				quarantine(Entry{MAC: plug, Mode: ModeBlock, Expires: epoch.Add(3 * time.Hour)}),
				advance(2 * time.Hour),
			},
			want: []Entry{{MAC: plug, Mode: ModeBlock, Expires: epoch.Add(3 * time.Hour)}},
		},
		{
			name: "expiry_shown_as_time_left",
			steps: []step{
				quarantine(Entry{MAC: plug, Mode: ModeUpdatesOnly, Expires: epoch.Add(90 * time.Minute)}),
				advance(30 * time.Minute),
			},
			want: []Entry{{MAC: plug, Mode: ModeUpdatesOnly, Expires: epoch.Add(90 * time.Minute)}},
			dump: `add element inet iotgw protected_v4 { 10.99.0.1 }
add element inet iotgw protected_v6 { fd99::1 }
add element inet iotgw updates_mac { 02:00:00:00:00:11 expires 1h0m0s comment "02:00:00:00:00:11" }
add element inet iotgw quarantined_mac { 02:00:00:00:00:11 }
add element bridge iotgw updates_mac { 02:00:00:00:00:11 expires 1h0m0s comment "02:00:00:00:00:11" }
add element bridge iotgw quarantined_mac { 02:00:00:00:00:11 }`,
		},
		{
			name:    "protected_mac_refused",
			steps:   []step{protect([]hwaddr.MAC{camera}, nil), quarantine(block)},
			lastErr: ErrProtected,
		},
		{
			name:    "protected_address_refused",
			steps:   []step{quarantine(Entry{MAC: plug, Mode: ModeBlock}), protect([]hwaddr.MAC{laptop}, addrs("10.99.0.10")), quarantine(block)},
			lastErr: ErrProtected,
			want:    []Entry{{MAC: plug, Mode: ModeBlock}},
		},
		{
			name:    "router_address_refused",
			steps:   []step{quarantine(Entry{MAC: camera, Addrs: addrs("fd99::1"), Mode: ModeIsolate})},
			lastErr: ErrProtected,
		},
		{
			name:  "protecting_a_quarantined_device_releases_it",
			steps: []step{quarantine(block), quarantine(Entry{MAC: plug, Addrs: addrs("10.99.0.11", "10.99.0.12"), Mode: ModeBlock}), protect([]hwaddr.MAC{camera}, addrs("10.99.0.12"))},
			want:  []Entry{{MAC: plug, Addrs: addrs("10.99.0.11"), Mode: ModeBlock}},
		},
		{
			name:  "mode_switch",
			steps: []step{quarantine(block), quarantine(Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate})},
			want:  []Entry{{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate}},
			dump: `add element inet iotgw protected_v4 { 10.99.0.1 }
add element inet iotgw protected_v6 { fd99::1 }
add element inet iotgw isolate_mac { 02:00:00:00:00:10 comment "02:00:00:00:00:10" }
add element inet iotgw isolate_v4 { 10.99.0.10 comment "02:00:00:00:00:10" }
add element inet iotgw quarantined_mac { 02:00:00:00:00:10 }
add element bridge iotgw isolate_mac { 02:00:00:00:00:10 comment "02:00:00:00:00:10" }
add element bridge iotgw isolate_v4 { 10.99.0.10 comment "02:00:00:00:00:10" }
add element bridge iotgw isolate_pair_v4 { 02:00:00:00:00:10 . 10.99.0.10 comment "02:00:00:00:00:10" }
add element bridge iotgw quarantined_mac { 02:00:00:00:00:10 }
add element bridge iotgw quarantined_v4 { 10.99.0.10 }`,
		},
		{
			name:  "address_moves_to_the_device_that_has_it_now",
			steps: []step{quarantine(block), quarantine(Entry{MAC: plug, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate})},
			want: []Entry{
				{MAC: camera, Addrs: addrs("fd99::10"), Mode: ModeBlock},
				{MAC: plug, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate},
			},
		},
		{
			name:  "reconcile_replaces_everything",
			steps: []step{quarantine(block), reconcile(Entry{MAC: plug, Addrs: addrs("10.99.0.11"), Mode: ModeUpdatesOnly})},
			want:  []Entry{{MAC: plug, Addrs: addrs("10.99.0.11"), Mode: ModeUpdatesOnly}},
		},
		{
			name: "reconcile_skips_protected_applies_rest",
			steps: []step{protect([]hwaddr.MAC{laptop}, nil), reconcile(
				Entry{MAC: laptop, Mode: ModeBlock},
				Entry{MAC: plug, Mode: ModeBlock},
			)},
			lastErr: ErrProtected,
			want:    []Entry{{MAC: plug, Mode: ModeBlock}},
		},
		{
			// A stored entry still names an address the owner's phone
			// has now: the camera stays quarantined by its MAC and its
			// other addresses.
			name: "reconcile_drops_protected_address_keeps_entry",
			steps: []step{protect(nil, addrs("10.99.0.50")), reconcile(
				Entry{MAC: camera, Addrs: addrs("10.99.0.50", "10.99.0.10", "fd99::10"), Mode: ModeBlock},
				Entry{MAC: plug, Mode: ModeBlock},
			)},
			lastErr: ErrProtected,
			errText: "10.99.0.50 dropped from the entry of " + camera.String(),
			want:    []Entry{block, {MAC: plug, Mode: ModeBlock}},
		},
		{
			name:    "reconcile_drops_router_address_keeps_mac",
			steps:   []step{reconcile(Entry{MAC: camera, Addrs: addrs("10.99.0.1", "fd99::1"), Mode: ModeIsolate})},
			lastErr: ErrProtected,
			errText: "10.99.0.1, fd99::1 dropped",
			want:    []Entry{{MAC: camera, Mode: ModeIsolate}},
		},
		{
			name: "reconcile_skips_protected_mac_with_addresses",
			steps: []step{protect([]hwaddr.MAC{camera}, nil), reconcile(
				Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeBlock},
			)},
			lastErr: ErrProtected,
			errText: camera.String() + " is a protected MAC",
		},
		{
			name:    "reconcile_skips_invalid_applies_rest",
			steps:   []step{reconcile(Entry{MAC: hwaddr.Zero, Mode: ModeBlock}, Entry{MAC: plug, Mode: ModeBlock})},
			lastErr: ErrInvalid,
			want:    []Entry{{MAC: plug, Mode: ModeBlock}},
		},
		{name: "zero_mac", steps: []step{quarantine(Entry{Mode: ModeBlock})}, lastErr: ErrInvalid},
		{name: "multicast_mac", steps: []step{quarantine(Entry{MAC: mustMAC("01:00:5e:00:00:01"), Mode: ModeBlock})}, lastErr: ErrInvalid},
		{name: "broadcast_mac", steps: []step{quarantine(Entry{MAC: mustMAC("ff:ff:ff:ff:ff:ff"), Mode: ModeBlock})}, lastErr: ErrInvalid},
		{name: "unknown_mode", steps: []step{quarantine(Entry{MAC: camera, Mode: "drop-all"})}, lastErr: ErrInvalid},
		{name: "already_expired", steps: []step{quarantine(Entry{MAC: camera, Mode: ModeBlock, Expires: epoch})}, lastErr: ErrInvalid},
		{name: "unspecified_address", steps: []step{quarantine(Entry{MAC: camera, Addrs: addrs("0.0.0.0"), Mode: ModeBlock})}, lastErr: ErrInvalid},
		{name: "multicast_address", steps: []step{quarantine(Entry{MAC: camera, Addrs: addrs("ff02::1"), Mode: ModeBlock})}, lastErr: ErrInvalid},
		{name: "refused_change_leaves_state", steps: []step{quarantine(block), quarantine(Entry{MAC: camera, Addrs: addrs("10.99.0.1"), Mode: ModeIsolate})}, lastErr: ErrProtected, want: []Entry{block}},
		{
			name:  "allow_refresh_never_shortens",
			steps: []step{allow(time.Hour, "198.18.0.2"), allow(time.Minute, "198.18.0.2", "2001:2::2")},
			dump: `add element inet iotgw protected_v4 { 10.99.0.1 }
add element inet iotgw protected_v6 { fd99::1 }
add element inet iotgw allow_v4 { 198.18.0.2 expires 1h0m0s }
add element inet iotgw allow_v6 { 2001:2::2 expires 1m0s }`,
		},
		{
			name:  "allow_expires",
			steps: []step{allow(time.Minute, "198.18.0.2"), advance(time.Minute)},
			dump: `add element inet iotgw protected_v4 { 10.99.0.1 }
add element inet iotgw protected_v6 { fd99::1 }`,
		},
		{name: "allow_zero_ttl", steps: []step{allow(0, "198.18.0.2")}, lastErr: ErrInvalid},
		{name: "allow_unspecified", steps: []step{allow(time.Minute, "::")}, lastErr: ErrInvalid},
		{name: "protect_zero_mac", steps: []step{protect([]hwaddr.MAC{hwaddr.Zero}, nil)}, lastErr: ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newTestFake(t, testCfg)
			for i, s := range tc.steps {
				err := s(f, c)
				switch {
				case i == len(tc.steps)-1 && tc.lastErr != nil:
					if !errors.Is(err, tc.lastErr) || !strings.Contains(err.Error(), tc.errText) {
						t.Fatalf("last step: got error %v, want %v saying %q", err, tc.lastErr, tc.errText)
					}
				case err != nil:
					t.Fatalf("step %d: %v", i, err)
				}
			}
			got, err := f.Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("Current:\n got %+v\nwant %+v", got, tc.want)
			}
			if tc.dump != "" {
				if d := elementLines(f.Dump()); d != tc.dump {
					t.Errorf("Dump elements:\n%s\nwant:\n%s", d, tc.dump)
				}
			}
		})
	}
}

func TestFakeReconcileIdempotent(t *testing.T) {
	ctx := context.Background()
	f, c := newTestFake(t, testCfg)
	entries := []Entry{
		{MAC: camera, Addrs: addrs("10.99.0.10", "fd99::10"), Mode: ModeBlock, Expires: epoch.Add(time.Hour)},
		{MAC: plug, Addrs: addrs("10.99.0.11"), Mode: ModeIsolate},
	}
	if err := f.SetProtected(ctx, []hwaddr.MAC{laptop}, addrs("10.99.0.99")); err != nil {
		t.Fatal(err)
	}
	if err := f.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	first := f.Dump()
	if err := f.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if second := f.Dump(); second != first {
		t.Errorf("second Reconcile changed the dump:\n%s\nfirst:\n%s", second, first)
	}
	// Protected and allowed elements survive a reconcile.
	if !strings.Contains(first, "protected_mac { 02:00:00:00:00:99 }") || !strings.Contains(first, "10.99.0.99") {
		t.Errorf("protected elements missing:\n%s", first)
	}
	c.t = c.t.Add(2 * time.Hour)
	if err := f.Reconcile(ctx, entries); !errors.Is(err, ErrInvalid) {
		t.Errorf("reconcile of an expired entry: got %v, want ErrInvalid", err)
	}
	if got, _ := f.Current(ctx); len(got) != 1 || got[0].MAC != plug {
		t.Errorf("after expiry: %+v", got)
	}
}

func TestFakeUninstall(t *testing.T) {
	ctx := context.Background()
	f, _ := newTestFake(t, testCfg)
	if f.Dump() != "" {
		t.Fatal("dump before install is not empty")
	}
	if err := f.Quarantine(ctx, Entry{MAC: camera, Mode: ModeBlock}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if d := f.Dump(); d != "" {
		t.Errorf("dump after uninstall:\n%s", d)
	}
	if got, _ := f.Current(ctx); len(got) != 0 {
		t.Errorf("entries after uninstall: %+v", got)
	}
}

func TestFakeCancelledContext(t *testing.T) {
	f, _ := newTestFake(t, testCfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Quarantine(ctx, Entry{MAC: camera, Mode: ModeBlock}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestFakeAllowCap(t *testing.T) {
	f, _ := newTestFake(t, testCfg)
	checkAllowCap(t, f, func(set string) int {
		n := 0
		for a := range f.st.allowed {
			if a.Is4() == (set == "allow_v4") {
				n++
			}
		}
		return n
	})
}

// checkAllowCap fills allow_v4 to MaxAllowed and checks that a new address
// beyond it is refused, while a refresh and the other family still apply.
func checkAllowCap(t *testing.T, e enforcer, count func(set string) int) {
	t.Helper()
	ctx := context.Background()
	full := make([]netip.Addr, MaxAllowed)
	a := netip.MustParseAddr("198.18.0.0")
	for i := range full {
		full[i], a = a, a.Next()
	}
	// In chunks, as the DNS proxy hands addresses over.
	for i := 0; i < len(full); i += 128 {
		if err := e.SetAllowed(ctx, full[i:i+128], time.Hour); err != nil {
			t.Fatalf("filling the set: %v", err)
		}
	}
	err := e.SetAllowed(ctx, []netip.Addr{full[0], a, netip.MustParseAddr("2001:2::1")}, 2*time.Hour)
	if !errors.Is(err, ErrAllowFull) || !strings.Contains(err.Error(), a.String()) {
		t.Errorf("beyond the cap: got %v, want ErrAllowFull naming %s", err, a)
	}
	var fullErr *AllowFullError
	if !errors.As(err, &fullErr) || !slices.Equal(fullErr.Refused, []netip.Addr{a}) {
		t.Errorf("refused addresses %+v, want only %s", fullErr, a)
	}
	if n := count("allow_v4"); n != MaxAllowed {
		t.Errorf("allow_v4 holds %d, want the cap %d", n, MaxAllowed)
	}
	if n := count("allow_v6"); n != 1 {
		t.Errorf("allow_v6 holds %d, want 1", n)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "minimal", cfg: Config{NoticePort: 8080}, ok: true},
		{name: "no_notice_port", cfg: Config{}},
		{name: "capture_without_budget", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Snaplen: 256}}},
		{name: "capture_without_snaplen", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Bytes: 4096}}},
		{name: "capture_default_mark", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Bytes: 4096, Snaplen: 256}}, ok: true},
		{name: "capture_mark_two_bits", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Bytes: 4096, Snaplen: 256, Mark: 0x81}}, ok: true},
		{name: "capture_mark_one_bit", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Bytes: 4096, Snaplen: 256, Mark: 0x80}}},
		{name: "capture_mark_three_bits", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Bytes: 4096, Snaplen: 256, Mark: 0x7}}},
		{name: "packet_mark_without_snaplen", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Bytes: 4096, PacketMark: DefaultPacketMark}}, ok: true},
		{name: "packet_mark_without_budget", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, PacketMark: DefaultPacketMark}}},
		{name: "packet_mark_two_bits", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Enabled: true, Bytes: 4096, PacketMark: 0x30000000}}},
		{name: "owner_mark_other_bit", cfg: Config{NoticePort: 1, OwnerMark: 0x00000001}, ok: true},
		{name: "owner_mark_two_bits", cfg: Config{NoticePort: 1, OwnerMark: 0x00000003}},
		{name: "owner_mark_in_default_capture_mark", cfg: Config{NoticePort: 1, OwnerMark: 0x00004000}},
		{name: "owner_mark_in_capture_mark", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Mark: 0x00c00000}}},
		{name: "owner_mark_beside_capture_mark", cfg: Config{NoticePort: 1, Capture: CaptureConfig{Mark: 0x00c00000}, OwnerMark: 0x00010000}, ok: true},
		{name: "invalid_router_address", cfg: Config{NoticePort: 1, RouterAddrs: []netip.Addr{{}}}},
		{name: "dns_proxy", cfg: Config{NoticePort: 8080, DNSProxyPort: 5354}, ok: true},
		{name: "dns_proxy_on_notice_port", cfg: Config{NoticePort: 8080, DNSProxyPort: 8080}},
		{name: "dns_all", cfg: Config{NoticePort: 8080, DNSProxyPort: 5354, DNSRedirectAll: true, LANInterfaces: []string{"br-lan", "br-guest"}}, ok: true},
		{name: "dns_all_without_port", cfg: Config{NoticePort: 8080, DNSRedirectAll: true, LANInterfaces: []string{"br-lan"}}},
		{name: "dns_all_without_interfaces", cfg: Config{NoticePort: 8080, DNSProxyPort: 5354, DNSRedirectAll: true}},
		{name: "interface_name_15_bytes", cfg: Config{NoticePort: 1, LANInterfaces: []string{"abcdefghijklmno"}}, ok: true},
		{name: "interface_name_16_bytes", cfg: Config{NoticePort: 1, LANInterfaces: []string{"abcdefghijklmnop"}}},
		{name: "interface_name_empty", cfg: Config{NoticePort: 1, LANInterfaces: []string{""}}},
		{name: "interface_name_wildcard", cfg: Config{NoticePort: 1, LANInterfaces: []string{"br-*"}}},
		{name: "interface_name_quote", cfg: Config{NoticePort: 1, LANInterfaces: []string{`br"lan`}}},
		{name: "interface_name_space", cfg: Config{NoticePort: 1, LANInterfaces: []string{"br lan"}}},
		{name: "interface_name_slash", cfg: Config{NoticePort: 1, LANInterfaces: []string{"br/lan"}}},
		{name: "interface_name_dotdot", cfg: Config{NoticePort: 1, LANInterfaces: []string{".."}}},
		{name: "interface_name_non_ascii", cfg: Config{NoticePort: 1, LANInterfaces: []string{"brü"}}},
		{name: "too_many_interfaces", cfg: Config{NoticePort: 1, LANInterfaces: manyInterfaces(MaxLANInterfaces + 1)}},
		{name: "interfaces_at_the_cap", cfg: Config{NoticePort: 1, LANInterfaces: manyInterfaces(MaxLANInterfaces)}, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFake(tc.cfg)
			_, err2 := NewNFTables(tc.cfg)
			if (err == nil) != tc.ok || (err2 == nil) != tc.ok {
				t.Errorf("NewFake: %v, NewNFTables: %v, want ok=%v", err, err2, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func manyInterfaces(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("lan%d", i)
	}
	return out
}

// dnsCfg is testCfg with the DNS proxy and its "all" mode on two LANs.
func dnsCfg() Config {
	cfg := testCfg
	cfg.DNSProxyPort = 5354
	cfg.DNSRedirectAll = true
	cfg.LANInterfaces = []string{"br-lan", "br-guest"}
	return cfg
}

// TestFakeDNSRules checks which DNS rules each configuration gets and
// where they sit in the prerouting chain.
func TestFakeDNSRules(t *testing.T) {
	proxyOnly := dnsCfg()
	proxyOnly.DNSRedirectAll = false
	tests := []struct {
		name    string
		cfg     Config
		present []string
		absent  []string
	}{
		{
			name: "proxy_off",
			cfg:  testCfg,
			present: []string{
				"add rule inet iotgw limited udp dport 53 fib saddr . iif oif exists accept",
				"add rule inet iotgw limited tcp dport 53 fib saddr . iif oif exists accept",
			},
			absent: []string{"jump dns", "add chain inet iotgw dns", "5354", "fib daddr", "isolate_dns", "853"},
		},
		{
			name: "proxy_quarantined_only",
			cfg:  proxyOnly,
			present: []string{
				"add chain inet iotgw dns\n",
				"add rule inet iotgw dns udp dport 53 redirect to :5354",
				"add rule inet iotgw dns tcp dport 53 redirect to :5354",
				"add rule inet iotgw prerouting ether saddr @block_mac jump dns",
				"add rule inet iotgw prerouting ether saddr @updates_mac jump dns",
				"add rule inet iotgw prerouting ip saddr @block_v4 jump dns",
				"add rule inet iotgw prerouting ip saddr @updates_v4 jump dns",
				"add rule inet iotgw prerouting ip6 saddr @block_v6 jump dns",
				"add rule inet iotgw prerouting ip6 saddr @updates_v6 jump dns",
				// Isolate devices' DNS too: the router's resolver would
				// look any name up on the internet for them.
				"add rule inet iotgw prerouting ether saddr @isolate_mac jump dns",
				"add rule inet iotgw prerouting ip saddr @isolate_v4 jump dns",
				"add rule inet iotgw limited udp dport 5354 fib saddr . iif oif exists accept",
				"add rule inet iotgw limited tcp dport 5354 fib saddr . iif oif exists accept",
				// Nor through a resolver on the LAN, in the bridge.
				"add chain bridge iotgw isolate_dns\n",
				"add rule bridge iotgw forward ether saddr @isolate_mac jump isolate_dns",
				"add rule bridge iotgw isolate_dns udp dport 53 drop",
				"add rule bridge iotgw isolate_dns tcp dport 53 drop",
				"add rule bridge iotgw isolate_dns udp dport 853 drop",
				"add rule bridge iotgw isolate_dns tcp dport 853 drop",
				"add rule bridge iotgw isolate_dns meta protocol 8021q drop",
				"add rule bridge iotgw isolate_dns meta protocol 8021ad drop",
				// Routed to another LAN segment, DNS over TLS and QUIC
				// is dropped.
				"add rule inet iotgw isolate_out udp dport 853 drop",
				"add rule inet iotgw isolate_out tcp dport 853 drop",
			},
			// DNS that reaches port 53 was not redirected (see
			// TestSpoofedDNSReachesNoResolver).
			absent: []string{"fib daddr", "prerouting iifname", "5353", "limited udp dport 53 ", "limited tcp dport 53 "},
		},
		{
			// The LAN is cut for isolate devices: nothing to single out.
			name:   "proxy_isolate_lan",
			cfg:    isolateLAN(proxyOnly),
			absent: []string{"isolate_dns", "853"},
		},
		{
			name: "proxy_all",
			cfg:  dnsCfg(),
			present: []string{
				`add rule inet iotgw prerouting iifname "br-lan" fib daddr type local udp dport 53 redirect to :5354`,
				`add rule inet iotgw prerouting iifname "br-lan" fib daddr type local tcp dport 53 redirect to :5354`,
				`add rule inet iotgw prerouting iifname "br-guest" fib daddr type local udp dport 53 redirect to :5354`,
				`add rule inet iotgw prerouting iifname "br-guest" fib daddr type local tcp dport 53 redirect to :5354`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := newTestFake(t, tc.cfg)
			if err := f.Reconcile(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			dump := f.Dump()
			for _, want := range tc.present {
				if !strings.Contains(dump, want) {
					t.Errorf("dump lacks %q", want)
				}
			}
			for _, not := range tc.absent {
				if strings.Contains(dump, not) {
					t.Errorf("dump has %q", not)
				}
			}
			if tc.cfg.DNSProxyPort != 0 {
				checkPreroutingOrder(t, dump)
			}
			checkIsolateDNSOrder(t, dump)
		})
	}
}

// TestFakeUpdatesOnlyPorts: an updates-only device may send an allowed
// address only what firmware downloads use (TCP 80 and 443, UDP 443),
// over IPv4 and IPv6, in the mode's chain and on the way past
// unlearnt_source; every rule naming an allow set in the forward path
// says which.
func TestFakeUpdatesOnlyPorts(t *testing.T) {
	capture := dnsCfg()
	capture.Capture = CaptureConfig{Enabled: true, Group: 5, Snaplen: 256, Bytes: 4096}
	want := []string{
		"ip daddr @allow_v4 tcp dport 80", "ip daddr @allow_v4 tcp dport 443", "ip daddr @allow_v4 udp dport 443",
		"ip6 daddr @allow_v6 tcp dport 80", "ip6 daddr @allow_v6 tcp dport 443", "ip6 daddr @allow_v6 udp dport 443",
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"plain", testCfg},
		{"dns_proxy_capture_lan_interfaces", capture},
		{"isolate_lan", isolateLAN(testCfg)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := newTestFake(t, tc.cfg)
			if err := f.Reconcile(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			dump := f.Dump()
			for _, chain := range []string{"updates_out", "unlearnt_source"} {
				var got []string
				for r := range ruleIndex(dump, "inet", chain) {
					r = strings.TrimPrefix(r, "ether saddr @updates_mac ")
					if strings.Contains(r, "daddr @allow_") {
						got = append(got, withoutVerdict(r))
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
					t.Errorf("%s: towards the allow sets\n%s\nwant\n%s", chain, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// withoutVerdict is a rule's matches: its text without the verdict.
func withoutVerdict(rule string) string {
	for _, v := range []string{" accept", " drop", " return", " goto ", " jump "} {
		if i := strings.LastIndex(rule, v); i >= 0 {
			return rule[:i]
		}
	}
	return rule
}

// checkPreroutingOrder: in the prerouting chain each DNS jump comes after
// the protected accept of its key kind and before every allow accept and
// notice jump of that kind; the "all" redirects come last.
func checkPreroutingOrder(t *testing.T, dump string) {
	t.Helper()
	var rules []string
	for _, l := range strings.Split(dump, "\n") {
		if r, ok := strings.CutPrefix(l, "add rule inet iotgw prerouting "); ok {
			rules = append(rules, r)
		}
	}
	index := func(prefix, contains string) (first, last int) {
		first, last = -1, -1
		for i, r := range rules {
			if strings.HasPrefix(r, prefix) && strings.Contains(r, contains) {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		return first, last
	}
	for _, kind := range []struct{ prefix, protected string }{
		{"ether saddr", "@protected_mac ip"}, // from an address no entry holds
		{"ip saddr", "@protected_v4 accept"},
		{"ip6 saddr", "@protected_v6 accept"},
	} {
		_, prot := index(kind.prefix, kind.protected)
		dnsFirst, dnsLast := index(kind.prefix, "jump dns")
		allowFirst, _ := index(kind.prefix, "daddr @allow_")
		noticeFirst, _ := index(kind.prefix, "jump notice")
		if prot < 0 || dnsFirst < 0 || allowFirst < 0 || noticeFirst < 0 {
			t.Fatalf("%s: rules missing in %q", kind.prefix, rules)
		}
		if !(prot < dnsFirst && dnsLast < allowFirst && dnsLast < noticeFirst) {
			t.Errorf("%s: protected accept at %d, DNS jumps %d–%d, allow accepts from %d, notice from %d", kind.prefix, prot, dnsFirst, dnsLast, allowFirst, noticeFirst)
		}
	}
	if all, _ := index("iifname", ""); all >= 0 {
		for _, r := range rules[all:] {
			if !strings.HasPrefix(r, "iifname") {
				t.Errorf("rule %q after the redirect for all", r)
			}
		}
	}
}

// isolateLAN is cfg with IsolateLAN set.
func isolateLAN(cfg Config) Config {
	cfg.IsolateLAN = true
	return cfg
}

// checkIsolateDNSOrder: in the bridge's forward chain, the jumps for an
// isolate device's DNS, by its MAC and by its addresses (once: not for
// a frame the MAC's jump took), where there are any, come after the
// owner's frames go to from_protected (which returns those from a
// quarantined address) and before frames to the owner's devices are let
// through to_protected, which would take a query's TCP segments; in
// isolate_out, the drops of DNS over TLS and QUIC come before the LAN
// is let through.
func checkIsolateDNSOrder(t *testing.T, dump string) {
	t.Helper()
	bridge, isolateOut := ruleIndex(dump, "bridge", "forward"), ruleIndex(dump, "inet", "isolate_out")
	if _, ok := bridge["ether saddr @isolate_mac jump isolate_dns"]; ok {
		owner, toOwner := bridge["ether saddr @protected_mac jump from_protected"], bridge["ether daddr @protected_mac jump to_protected"]
		for _, by := range []string{"ether saddr @isolate_mac", "ip saddr @isolate_v4 ether saddr != @isolate_mac", "ip6 saddr @isolate_v6 ether saddr != @isolate_mac"} {
			jump, ok := bridge[by+" jump isolate_dns"]
			if !ok || !(owner < jump && jump < toOwner) {
				t.Errorf("bridge forward: owner's frames to from_protected at %d, isolate DNS jump by %s %d (%v), frames to the owner %d", owner, by, jump, ok, toOwner)
			}
		}
		fromProtected := ruleIndex(dump, "bridge", "from_protected")
		for _, from := range []string{"ip saddr @quarantined_v4", "ip6 saddr @quarantined_v6"} {
			if _, ok := fromProtected[from+" return"]; !ok {
				t.Errorf("bridge from_protected: no %q return", from)
			}
		}
	}
	for r, i := range isolateOut {
		if strings.Contains(r, "853") && i > 1 {
			t.Errorf("isolate_out: %q at %d, after the LAN is let through", r, i)
		}
	}
}

// ruleIndex maps each rule of a chain in the dump, without its comment,
// to its first position in the chain.
func ruleIndex(dump, family, chain string) map[string]int {
	at := map[string]int{}
	n := 0
	for _, l := range strings.Split(dump, "\n") {
		if r, ok := strings.CutPrefix(l, "add rule "+family+" iotgw "+chain+" "); ok {
			r, _, _ = strings.Cut(r, " comment")
			if _, seen := at[r]; !seen {
				at[r] = n
			}
			n++
		}
	}
	return at
}

// TestFakeSetDNSRedirectAll switches mode "all" on and off: the rules come
// and go, the elements stay, and an impossible switch is refused.
func TestFakeSetDNSRedirectAll(t *testing.T) {
	ctx := context.Background()
	cfg := dnsCfg()
	cfg.DNSRedirectAll = false
	f, _ := newTestFake(t, cfg)
	if err := f.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeBlock}); err != nil {
		t.Fatal(err)
	}
	elements := elementLines(f.Dump())
	for _, on := range []bool{true, true, false, false, true} {
		if err := f.SetDNSRedirectAll(ctx, on); err != nil {
			t.Fatal(err)
		}
		dump := f.Dump()
		if got := strings.Count(dump, "fib daddr type local"); got != 4*boolInt(on) {
			t.Errorf("on=%v: %d redirects for all, want %d", on, got, 4*boolInt(on))
		}
		if got := elementLines(dump); got != elements {
			t.Errorf("on=%v: elements changed:\n%s\nwant:\n%s", on, got, elements)
		}
	}
	noIfaces, _ := newTestFake(t, Config{NoticePort: 8080, DNSProxyPort: 5354})
	if err := noIfaces.SetDNSRedirectAll(ctx, true); !errors.Is(err, ErrInvalid) {
		t.Errorf("all without LAN interfaces: got %v, want ErrInvalid", err)
	}
	if err := noIfaces.SetDNSRedirectAll(ctx, false); err != nil {
		t.Errorf("switching off what is off: %v", err)
	}
}

// TestFakeSetRouterAddrs: an address the router gains is protected in
// the inet table and in no set of the bridge's, whoever else protects
// it, and leaves the entry that held it; one it loses is its no more. An
// invalid list changes nothing.
func TestFakeSetRouterAddrs(t *testing.T) {
	ctx := context.Background()
	f, _ := newTestFake(t, testCfg)
	if err := f.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs("10.99.0.10", "fd99::10"), Mode: ModeBlock}); err != nil {
		t.Fatal(err)
	}
	gained := append(slices.Clone(testCfg.RouterAddrs), netip.MustParseAddr("fd99::10"))
	if err := f.SetRouterAddrs(ctx, gained); err != nil {
		t.Fatal(err)
	}
	if err := f.SetProtected(ctx, nil, gained); err != nil {
		t.Fatal(err)
	}
	got := elementLines(f.Dump())
	for _, w := range []struct {
		line string
		has  bool
	}{
		{`add element inet iotgw protected_v6 { fd99::1, fd99::10 }`, true},
		{`add element bridge iotgw protected_v6`, false},
		{`add element bridge iotgw block_v6`, false}, // the entry lost it
		{`add element inet iotgw block_v4 { 10.99.0.10 comment "02:00:00:00:00:10" }`, true},
	} {
		if has := strings.Contains(got, w.line); has != w.has {
			t.Errorf("after gaining fd99::10: has %q: %v, want %v\n%s", w.line, has, w.has, got)
		}
	}
	if err := f.Quarantine(ctx, Entry{MAC: plug, Addrs: addrs("fd99::10"), Mode: ModeBlock}); !errors.Is(err, ErrProtected) {
		t.Errorf("quarantine of the router's new address: %v, want ErrProtected", err)
	}
	if err := f.SetRouterAddrs(ctx, []netip.Addr{{}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid router address: %v, want ErrInvalid", err)
	}
	if err := f.SetRouterAddrs(ctx, testCfg.RouterAddrs); err != nil {
		t.Fatal(err)
	}
	// Lost with SetRouterAddrs alone: the SetProtected that follows may
	// fail, and the bridge keeps it out no more.
	if got := elementLines(f.Dump()); strings.Contains(got, "fd99::10") {
		t.Errorf("after losing fd99::10, before SetProtected:\n%s", got)
	}
	if err := f.SetProtected(ctx, nil, testCfg.RouterAddrs); err != nil {
		t.Fatal(err)
	}
	if err := f.Quarantine(ctx, Entry{MAC: plug, Addrs: addrs("fd99::10"), Mode: ModeBlock}); err != nil {
		t.Errorf("quarantine of an address the router lost: %v", err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeBlock, ModeIsolate, ModeUpdatesOnly} {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("updates"); err == nil {
		t.Error(`ParseMode("updates") succeeded`)
	}
}

// TestFakeDumpGolden pins the whole layout: any change of a rule shows up
// here as a diff to review (go test -update rewrites the file).
func TestFakeDumpGolden(t *testing.T) {
	ctx := context.Background()
	cfg := dnsCfg()
	cfg.Capture = CaptureConfig{Enabled: true, Group: 5, Snaplen: 256, Bytes: 4096}
	f, c := newTestFake(t, cfg)
	steps := []error{
		f.SetProtected(ctx, []hwaddr.MAC{laptop}, addrs("10.99.0.99")),
		f.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs("10.99.0.10", "fd99::10"), Mode: ModeBlock}),
		f.Quarantine(ctx, Entry{MAC: plug, Addrs: addrs("10.99.0.11"), Mode: ModeUpdatesOnly, Expires: c.t.Add(24 * time.Hour)}),
		f.SetAllowed(ctx, addrs("198.18.0.2"), 5*time.Minute),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got := f.Dump()
	path := filepath.Join("testdata", "fake.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("Dump differs from %s (go test -update to accept):\n%s", path, got)
	}
}

// TestFakeSetLANPrefixes replaces the LAN an isolate device reaches: the
// sets hold the new prefixes, one inside another once (the kernel
// refuses overlapping intervals), and the elements stay.
func TestFakeSetLANPrefixes(t *testing.T) {
	ctx := context.Background()
	f, _ := newTestFake(t, testCfg)
	if err := f.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate}); err != nil {
		t.Fatal(err)
	}
	elements := elementLines(f.Dump())
	for _, tc := range []struct {
		name     string
		prefixes []string
		want     []string
	}{
		{"configured", []string{"10.99.0.0/24", "fd99::/64"}, []string{
			"add element inet iotgw lan_v4 { 10.99.0.0/24 }",
			"add element inet iotgw lan_v6 { fd99::/64 }",
		}},
		{"a guest bridge's prefixes too", []string{"10.99.0.0/24", "fd99::/64", "10.98.0.0/24", "2001:db8:77:2::/64"}, []string{
			"add element inet iotgw lan_v4 { 10.99.0.0/24, 10.98.0.0/24 }",
			"add element inet iotgw lan_v6 { fd99::/64, 2001:db8:77:2::/64 }",
		}},
		{"inside a configured one, or twice", []string{"10.0.0.0/8", "fd00::/8", "10.99.0.0/24", "fd99::/64", "10.0.0.0/8", "2001:db8:77:2::/64"}, []string{
			"add element inet iotgw lan_v4 { 10.0.0.0/8 }",
			"add element inet iotgw lan_v6 { fd00::/8, 2001:db8:77:2::/64 }",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prefixes []netip.Prefix
			for _, p := range tc.prefixes {
				prefixes = append(prefixes, netip.MustParsePrefix(p))
			}
			if err := f.SetLANPrefixes(ctx, prefixes); err != nil {
				t.Fatal(err)
			}
			dump := f.Dump()
			for _, want := range tc.want {
				if !strings.Contains(dump, want+"\n") {
					t.Errorf("no %q in\n%s", want, dump)
				}
			}
			if got := elementLines(dump); got != elements {
				t.Errorf("elements changed:\n%s\nwant:\n%s", got, elements)
			}
		})
	}
}
