package quarantine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// fw4Ruleset stands in for OpenWrt's firewall, which lives beside our
// tables and must survive everything we do.
const fw4Ruleset = `table inet fw4 {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept comment "fw4: keep established"
	}
}
`

// kernelSetup returns a backend working in a fresh namespace that already
// holds fw4's table.
func kernelSetup(t *testing.T, cfg Config) (*NFTables, string) {
	t.Helper()
	netnstest.RequireNFTables(t)
	ns := netnstest.New(t, "iotgwq", "nft")
	loadRuleset(t, ns, fw4Ruleset)
	n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	return n, ns
}

func loadRuleset(t *testing.T, ns, ruleset string) {
	t.Helper()
	cmd := netnstest.Command(ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}
}

// listRuleset prints the whole ruleset with rule handles (a rebuild would
// change them) and without the time left of elements (which runs on).
func listRuleset(t *testing.T, ns string) string {
	t.Helper()
	return expiresRE.ReplaceAllString(netnstest.CmdIn(t, ns, "nft", "-a", "list", "ruleset"), "")
}

var (
	expiresRE  = regexp.MustCompile(` expires [0-9dhms]+`)
	timeLeftRE = regexp.MustCompile(` (timeout|expires) [0-9dhms]+`)
)

func fw4Listing(t *testing.T, ns string) string {
	t.Helper()
	return netnstest.CmdIn(t, ns, "nft", "list", "table", "inet", "fw4")
}

// chainRules parses `nft list table` output into chain → rule texts, with
// comments cut off.
func chainRules(listing string) map[string][]string {
	out := map[string][]string{}
	chain := ""
	for _, line := range strings.Split(listing, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "chain "):
			chain = strings.Fields(line)[1]
			out[chain] = []string{}
		case line == "}":
			chain = ""
		case chain != "" && line != "" && !strings.HasPrefix(line, "type "):
			if i := strings.Index(line, ` comment "`); i >= 0 {
				line = line[:i]
			}
			out[chain] = append(out[chain], line)
		}
	}
	return out
}

func kernelEntries() []Entry {
	return []Entry{
		{MAC: camera, Addrs: addrs("10.99.0.10", "fd99::10"), Mode: ModeBlock, Expires: time.Now().Add(time.Hour)},
		{MAC: plug, Addrs: addrs("10.99.0.11"), Mode: ModeIsolate},
		{MAC: mustMAC("02:00:00:00:00:12"), Addrs: addrs("10.99.0.12"), Mode: ModeUpdatesOnly},
	}
}

// TestNFTablesLayoutMatchesNFT proves that the expressions we build by hand
// are what each rule's text says: nft must print exactly that text back.
func TestNFTablesLayoutMatchesNFT(t *testing.T) {
	proxyOnly := dnsCfg()
	proxyOnly.DNSRedirectAll = false
	proxyOnly.IsolateLAN = true
	proxyOnly.Capture = CaptureConfig{Enabled: true, Group: 7, Snaplen: 512, Bytes: 8192, Packets: 3}
	all := dnsCfg()
	all.Capture = CaptureConfig{Enabled: true, Group: 7, Snaplen: 512, Bytes: 8192}
	marking := dnsCfg()
	marking.Capture = CaptureConfig{Enabled: true, Bytes: 8192, PacketMark: DefaultPacketMark}
	for i, cfg := range []Config{testCfg, proxyOnly, all, marking} {
		n, ns := kernelSetup(t, cfg)
		if err := n.Reconcile(context.Background(), kernelEntries()); err != nil {
			t.Fatal(err)
		}
		for _, def := range []tableDef{n.layout.inet, n.layout.bridge} {
			got := chainRules(netnstest.CmdIn(t, ns, "nft", "list", "table", familyName(def.family), "iotgw"))
			if len(got) != len(def.chains) {
				t.Errorf("%s: kernel has chains %v, layout %d", familyName(def.family), got, len(def.chains))
			}
			for _, c := range def.chains {
				var want []string
				for _, r := range c.rules {
					want = append(want, r.text)
				}
				if strings.Join(got[c.name], "\n") != strings.Join(want, "\n") {
					t.Errorf("config %d %s chain %s:\nnft lists:\n%s\nlayout says:\n%s", i, familyName(def.family), c.name,
						strings.Join(got[c.name], "\n"), strings.Join(want, "\n"))
				}
			}
			// The sets the packet path fills are made as nft would make them.
			for _, d := range def.sets {
				if !d.flow {
					continue
				}
				out := netnstest.CmdIn(t, ns, "nft", "list", "set", familyName(def.family), "iotgw", d.name)
				for _, want := range []string{"type " + d.keyType().Name + "\n", fmt.Sprintf("size %d\n", flowMax), "flags dynamic,timeout\n", "timeout 2m\n"} {
					if !strings.Contains(out, want) {
						t.Errorf("config %d: set %s lacks %q:\n%s", i, d.name, want, out)
					}
				}
			}
		}
		// This kernel may or may not have bridge conntrack; either way
		// the probe left no table behind.
		if out := netnstest.CmdIn(t, ns, "nft", "list", "tables"); strings.Contains(out, "_probe") {
			t.Errorf("probe table left behind:\n%s", out)
		}
		t.Logf("bridge conntrack: %v", n.BridgeConntrack())
	}
}

func TestNFTablesReconcile(t *testing.T) {
	ctx := context.Background()
	cfg := dnsCfg()
	cfg.Capture = CaptureConfig{Enabled: true, Group: 7, Snaplen: 512, Bytes: 8192}
	n, ns := kernelSetup(t, cfg)
	fw4 := fw4Listing(t, ns)
	entries := kernelEntries()

	if err := n.SetProtected(ctx, []hwaddr.MAC{laptop}, addrs("10.99.0.99")); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAllowed(ctx, addrs("198.18.0.2", "2001:2::2"), 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	first := listRuleset(t, ns)
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if second := listRuleset(t, ns); second != first {
		t.Errorf("second Reconcile changed the kernel:\n%s\nfirst:\n%s", second, first)
	}

	// A restart after a crash: a new backend (no memory of the old one)
	// finds everything in place and changes nothing.
	restarted, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	if err := restarted.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if after := listRuleset(t, ns); after != first {
		t.Errorf("Reconcile after restart changed the kernel:\n%s\nbefore:\n%s", after, first)
	}

	got, err := n.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("Current: %+v", got)
	}
	for i, e := range got {
		want := entries[i]
		if e.MAC != want.MAC || e.Mode != want.Mode || strings.Join(addrStrings(e.Addrs), ",") != strings.Join(addrStrings(want.Addrs), ",") {
			t.Errorf("Current[%d] = %+v, want %+v", i, e, want)
		}
		if d := e.Expires.Sub(want.Expires); d > 2*time.Second || d < -2*time.Second || e.Expires.IsZero() != want.Expires.IsZero() {
			t.Errorf("Current[%d] expires %v, want %v", i, e.Expires, want.Expires)
		}
	}

	// Element timeouts are in the kernel, as nft -j shows them.
	elems := jsonElements(t, ns, "block_mac")
	if len(elems) != 1 || elems[0].Val != camera.String() || elems[0].Timeout < 3590 || elems[0].Expires < 3590 || elems[0].Comment != camera.String() {
		t.Errorf("block_mac elements: %+v", elems)
	}
	if elems := jsonElements(t, ns, "allow_v6"); len(elems) != 1 || elems[0].Timeout != 600 {
		t.Errorf("allow_v6 elements: %+v", elems)
	}

	// Release and mode switch touch only the elements of that device.
	if err := n.Release(ctx, plug); err != nil {
		t.Fatal(err)
	}
	if err := n.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate}); err != nil {
		t.Fatal(err)
	}
	got, _ = n.Current(ctx)
	if len(got) != 2 || got[0].MAC != camera || got[0].Mode != ModeIsolate || len(got[0].Addrs) != 1 || !got[0].Expires.IsZero() {
		t.Errorf("after release and mode switch: %+v", got)
	}
	for _, set := range []string{"block_mac", "block_v4", "block_v6"} {
		if e := jsonElements(t, ns, set); len(e) != 0 {
			t.Errorf("%s still holds %+v", set, e)
		}
	}

	// The lockout guard: protected MACs and addresses, the router's own
	// included, are refused, and the refusal changes nothing.
	before := listRuleset(t, ns)
	for _, e := range []Entry{
		{MAC: laptop, Mode: ModeBlock},
		{MAC: plug, Addrs: addrs("10.99.0.99"), Mode: ModeBlock},
		{MAC: plug, Addrs: addrs("fd99::1"), Mode: ModeIsolate},
	} {
		if err := n.Quarantine(ctx, e); !errors.Is(err, ErrProtected) {
			t.Errorf("Quarantine(%+v): got %v, want ErrProtected", e, err)
		}
	}
	if after := listRuleset(t, ns); after != before {
		t.Errorf("refused Quarantine changed the kernel:\n%s", after)
	}

	if got := fw4Listing(t, ns); got != fw4 {
		t.Errorf("fw4 changed:\n%s\nwas:\n%s", got, fw4)
	}
	if _, err := n.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	tables := netnstest.CmdIn(t, ns, "nft", "list", "tables")
	if tables != "table inet fw4\n" {
		t.Errorf("after Uninstall the tables are:\n%s", tables)
	}
	if got := fw4Listing(t, ns); got != fw4 {
		t.Errorf("fw4 changed by Uninstall:\n%s", got)
	}
	if got, err := n.Current(ctx); err != nil || len(got) != 0 {
		t.Errorf("Current after Uninstall: %+v, %v", got, err)
	}
	if _, err := n.Uninstall(ctx); err != nil {
		t.Errorf("second Uninstall: %v", err)
	}
}

// TestUninstallAfterFlush: `uninstall-rules`, which knows only the
// table's name, deletes tables emptied by hand (`nft flush table`) that a
// configuration with every optional chain built: their empty chains are
// still iotgw's.
func TestUninstallAfterFlush(t *testing.T) {
	ctx := context.Background()
	full := dnsCfg()
	full.Capture = CaptureConfig{Enabled: true, Group: 3, Snaplen: 256, Bytes: 4096, Packets: 8, Mark: 0x00300000}
	n, ns := kernelSetup(t, full)
	if err := n.Reconcile(ctx, kernelEntries()); err != nil {
		t.Fatal(err)
	}
	netnstest.CmdIn(t, ns, "nft", "flush", "table", "inet", "iotgw")
	netnstest.CmdIn(t, ns, "nft", "flush", "table", "bridge", "iotgw")
	minimal, err := NewNFTables(Config{NoticePort: 8080}, WithNetNSFd(netnstest.Fd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := minimal.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if tables := netnstest.CmdIn(t, ns, "nft", "list", "tables"); tables != "table inet fw4\n" {
		t.Errorf("after Uninstall the tables are:\n%s", tables)
	}
}

// TestUninstallFindsRenamedTables: the owner renamed the table (or the
// TOML that names it is broken at removal): uninstall-rules with the
// default name still deletes the tables iotgw built under the other
// name, and leaves alone fw4's and a table whose rules are not iotgw's.
func TestUninstallFindsRenamedTables(t *testing.T) {
	ctx := context.Background()
	renamed := testCfg
	renamed.TableName = "iotgw_home"
	old, ns := kernelSetup(t, renamed)
	if err := old.Reconcile(ctx, kernelEntries()); err != nil {
		t.Fatal(err)
	}
	// Someone else's table with a chain of one of iotgw's names, and
	// another program's whose rule comment happens to start "iotgw ".
	loadRuleset(t, ns, "table inet mine {\n\tchain forward {\n\t\ttype filter hook forward priority 10; policy accept;\n\t\tcounter comment \"mine\"\n\t}\n}\n")
	loadRuleset(t, ns, "table inet nas_rules {\n\tset allowed {\n\t\ttype ipv4_addr\n\t}\n\tchain prerouting {\n\t\ttype filter hook prerouting priority 0; policy accept;\n\t\tip saddr @allowed counter comment \"iotgw exception: NAS\"\n\t}\n}\n")
	n, err := NewNFTables(Config{NoticePort: 8080}, WithNetNSFd(netnstest.Fd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := n.Uninstall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"inet iotgw_home", "bridge iotgw_home"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
	if tables := netnstest.CmdIn(t, ns, "nft", "list", "tables"); tables != "table inet fw4\ntable inet mine\ntable inet nas_rules\n" {
		t.Errorf("after Uninstall the tables are:\n%s", tables)
	}
}

// TestNFTablesRebuild changes the configuration and damages the table by
// hand: Reconcile rebuilds, in one batch, keeping every element.
func TestNFTablesRebuild(t *testing.T) {
	ctx := context.Background()
	n, ns := kernelSetup(t, testCfg)
	entries := kernelEntries()
	if err := n.SetProtected(ctx, []hwaddr.MAC{laptop}, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAllowed(ctx, addrs("198.18.0.2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	want, _ := n.Current(ctx)

	moved := movedNotice(t, ns)
	if err := moved.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	listing := netnstest.CmdIn(t, ns, "nft", "list", "table", "inet", "iotgw")
	if !strings.Contains(listing, "redirect to :8443") || strings.Contains(listing, ":8080") || !strings.Contains(listing, moved.layout.tag) {
		t.Errorf("not rebuilt for the new notice port:\n%s", listing)
	}
	for _, must := range []string{"02:00:00:00:00:99", "198.18.0.2"} {
		if !strings.Contains(listing, must) {
			t.Errorf("rebuild lost %s:\n%s", must, listing)
		}
	}
	if got, _ := moved.Current(ctx); len(got) != len(want) {
		t.Errorf("rebuild lost entries: %+v, want %+v", got, want)
	}

	// A rule deleted by hand is noticed and the table rebuilt.
	handle := regexp.MustCompile(`ip saddr @block_v4 drop comment "[^"]*" # handle (\d+)`).FindStringSubmatch(netnstest.CmdIn(t, ns, "nft", "-a", "list", "chain", "inet", "iotgw", "forward"))
	if handle == nil {
		t.Fatal("rule to delete not found")
	}
	netnstest.CmdIn(t, ns, "nft", "delete", "rule", "inet", "iotgw", "forward", "handle", handle[1])
	if err := moved.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(netnstest.CmdIn(t, ns, "nft", "list", "chain", "inet", "iotgw", "forward"), "ip saddr @block_v4 drop") {
		t.Error("deleted rule not restored")
	}

	// A table deleted by hand (say, `fw4 reload` gone wrong) comes back
	// with its elements on the next change.
	netnstest.CmdIn(t, ns, "nft", "delete", "table", "bridge", "iotgw")
	if err := moved.Quarantine(ctx, Entry{MAC: plug, Mode: ModeBlock}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(netnstest.CmdIn(t, ns, "nft", "list", "set", "bridge", "iotgw", "block_mac"), plug.String()) {
		t.Error("bridge table not rebuilt with its elements")
	}

	// The inet table deleted alone: rebuilt from the bridge table, the
	// allowed update host taken from what was last applied (the bridge
	// has no allow sets).
	netnstest.CmdIn(t, ns, "nft", "delete", "table", "inet", "iotgw")
	if err := moved.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if set := netnstest.CmdIn(t, ns, "nft", "list", "set", "inet", "iotgw", "allow_v4"); !strings.Contains(set, "198.18.0.2") {
		t.Errorf("inet table rebuilt without the allowed update host:\n%s", set)
	}

	// Both tables deleted (a script flushing the whole ruleset): the next
	// Reconcile, the daemon's kernel check, brings back the protected
	// device and the allowed update host with the entries.
	netnstest.CmdIn(t, ns, "nft", "delete", "table", "inet", "iotgw")
	netnstest.CmdIn(t, ns, "nft", "delete", "table", "bridge", "iotgw")
	if err := moved.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	listing = netnstest.CmdIn(t, ns, "nft", "list", "table", "inet", "iotgw")
	for _, must := range []string{laptop.String(), "198.18.0.2"} {
		if !strings.Contains(listing, must) {
			t.Errorf("rebuilt after both tables were deleted without %s:\n%s", must, listing)
		}
	}

	// A table emptied by hand (`nft flush table`) keeps iotgw's chains
	// without rules: still ours, rebuilt.
	netnstest.CmdIn(t, ns, "nft", "flush", "table", "inet", "iotgw")
	if err := moved.Reconcile(ctx, entries); err != nil {
		t.Fatalf("after nft flush table: %v", err)
	}
	if !strings.Contains(netnstest.CmdIn(t, ns, "nft", "list", "chain", "inet", "iotgw", "forward"), "ip saddr @block_v4 drop") {
		t.Error("flushed table not rebuilt")
	}
}

// ruleHandle returns the handle of the first rule of inet iotgw's chain
// whose text contains part.
func ruleHandle(t *testing.T, ns, chain, part string) string {
	t.Helper()
	for _, line := range strings.Split(netnstest.CmdIn(t, ns, "nft", "-a", "list", "chain", "inet", "iotgw", chain), "\n") {
		if _, h, ok := strings.Cut(line, "# handle "); ok && strings.Contains(line, part) {
			return strings.TrimSpace(h)
		}
	}
	t.Fatalf("no rule with %q in chain %s", part, chain)
	return ""
}

// TestNFTablesSetDNSRedirectAll puts the redirect for all clients in and
// takes it out: each switch is a rebuild that keeps every element, a
// repeated switch changes nothing, and a daemon upgrade from the previous
// layout (a capture rule missing) rebuilds too.
func TestNFTablesSetDNSRedirectAll(t *testing.T) {
	ctx := context.Background()
	old := testCfg
	old.Capture = CaptureConfig{Enabled: true, Group: 7, Snaplen: 512, Bytes: 8192}
	n, ns := kernelSetup(t, old)
	if err := n.SetProtected(ctx, []hwaddr.MAC{laptop}, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAllowed(ctx, addrs("198.18.0.2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	entries := kernelEntries()
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	// Stand-in for the previous release's table: same sets, a rule
	// set without one of the new rules.
	netnstest.CmdIn(t, ns, "nft", "delete", "rule", "inet", "iotgw", "capture", "handle", ruleHandle(t, ns, "capture", "log group"))
	// The elements of both tables, without the time left (a rebuild
	// re-adds them with what remains).
	elements := func() string {
		var out []string
		set := ""
		for _, line := range strings.Split(netnstest.CmdIn(t, ns, "nft", "list", "ruleset"), "\n") {
			line = strings.TrimSpace(line)
			if name, ok := strings.CutPrefix(line, "set "); ok {
				set = name
			} else if strings.HasPrefix(line, "elements = ") {
				out = append(out, set+" "+timeLeftRE.ReplaceAllString(line, ""))
			}
		}
		return strings.Join(out, "\n")
	}
	before := elements()
	if strings.Count(before, "\n") < 12 {
		t.Fatalf("too few elements to compare:\n%s", before)
	}

	cfg := dnsCfg()
	cfg.DNSRedirectAll = false
	cfg.Capture = old.Capture
	upgraded, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	if err := upgraded.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	listing := netnstest.CmdIn(t, ns, "nft", "list", "table", "inet", "iotgw")
	for _, want := range []string{"jump dns", "redirect to :5354", "ct original packets >= 4", "log group 7", upgraded.layout.tag} {
		if !strings.Contains(listing, want) {
			t.Errorf("upgrade: no %q in\n%s", want, listing)
		}
	}
	if strings.Contains(listing, "fib daddr") {
		t.Error("upgrade: redirect for all installed before it was asked for")
	}
	if got := elements(); got != before {
		t.Errorf("upgrade changed elements:\n%s\nwant:\n%s", got, before)
	}

	for _, on := range []bool{true, true, false, false} {
		prev := listRuleset(t, ns)
		if err := upgraded.SetDNSRedirectAll(ctx, on); err != nil {
			t.Fatal(err)
		}
		now := listRuleset(t, ns)
		if got := strings.Count(now, "fib daddr type local"); got != 4*boolInt(on) {
			t.Errorf("on=%v: %d redirects for all, want %d", on, got, 4*boolInt(on))
		}
		if repeated := strings.Contains(prev, "fib daddr") == on; repeated && now != prev {
			t.Errorf("on=%v repeated changed the kernel:\n%s\nwas:\n%s", on, now, prev)
		}
		if got := elements(); got != before {
			t.Errorf("on=%v changed elements:\n%s\nwant:\n%s", on, got, before)
		}
	}
	// A failed switch keeps the previous setting.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := upgraded.SetDNSRedirectAll(cancelled, true); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled switch: %v", err)
	}
	if err := upgraded.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(netnstest.CmdIn(t, ns, "nft", "list", "table", "inet", "iotgw"), "fib daddr") {
		t.Error("a cancelled switch took effect later")
	}
}

// TestNFTablesForeignTable: another firewall's table name is refused
// before anything is sent; a table someone else made under a name the
// name check cannot know (fw4's rules, loaded as "otherfw") is refused by
// the ownership check: Reconcile, Quarantine and Uninstall refuse, and
// the table survives all three. So does a table of ours that someone
// added a rule of their own to.
func TestNFTablesForeignTable(t *testing.T) {
	ctx := context.Background()
	named := testCfg
	named.TableName = "fw4"
	if _, err := NewNFTables(named); !errors.Is(err, ErrInvalid) {
		t.Errorf("fw4's table name: got %v, want ErrInvalid", err)
	}
	cfg := testCfg
	cfg.TableName = "otherfw"
	n, ns := kernelSetup(t, cfg)
	loadRuleset(t, ns, strings.Replace(fw4Ruleset, "table inet fw4", "table inet otherfw", 1))
	other := netnstest.CmdIn(t, ns, "nft", "list", "table", "inet", "otherfw")
	if err := n.Reconcile(ctx, kernelEntries()); !errors.Is(err, errForeignTable) {
		t.Errorf("Reconcile into a foreign table: got %v, want errForeignTable", err)
	}
	if err := n.Quarantine(ctx, Entry{MAC: camera, Mode: ModeBlock}); !errors.Is(err, errForeignTable) {
		t.Errorf("Quarantine into a foreign table: got %v, want errForeignTable", err)
	}
	if _, err := n.Uninstall(ctx); !errors.Is(err, errForeignTable) {
		t.Errorf("Uninstall of a foreign table: got %v, want errForeignTable", err)
	}
	if got := netnstest.CmdIn(t, ns, "nft", "list", "table", "inet", "otherfw"); got != other {
		t.Errorf("the foreign table changed:\n%s\nwas:\n%s", got, other)
	}
	if tables := netnstest.CmdIn(t, ns, "nft", "list", "tables"); tables != "table inet fw4\ntable inet otherfw\n" {
		t.Errorf("tables now:\n%s", tables)
	}

	// Our own table with a rule someone added by hand: not ours alone any
	// more, so neither rebuilt nor deleted.
	own, ns := kernelSetup(t, testCfg)
	if err := own.Reconcile(ctx, kernelEntries()); err != nil {
		t.Fatal(err)
	}
	netnstest.CmdIn(t, ns, "nft", "add", "rule", "bridge", "iotgw", "forward", "counter", "comment", `"mine"`)
	before := listRuleset(t, ns)
	if err := own.Reconcile(ctx, kernelEntries()); !errors.Is(err, errForeignTable) {
		t.Errorf("Reconcile with a foreign rule: got %v, want errForeignTable", err)
	}
	if _, err := own.Uninstall(ctx); !errors.Is(err, errForeignTable) {
		t.Errorf("Uninstall with a foreign rule: got %v, want errForeignTable", err)
	}
	if after := listRuleset(t, ns); after != before {
		t.Errorf("refused changes changed the kernel:\n%s\nwas:\n%s", after, before)
	}
}

// TestNFTablesReconcileDropsProtectedAddr: an entry holding an address
// that is protected now still puts the device's MAC and other addresses
// into the kernel.
func TestNFTablesReconcileDropsProtectedAddr(t *testing.T) {
	ctx := context.Background()
	n, ns := kernelSetup(t, testCfg)
	if err := n.SetProtected(ctx, nil, addrs("10.99.0.50")); err != nil {
		t.Fatal(err)
	}
	err := n.Reconcile(ctx, []Entry{{MAC: camera, Addrs: addrs("10.99.0.50", "10.99.0.10"), Mode: ModeBlock}})
	if !errors.Is(err, ErrProtected) || !strings.Contains(err.Error(), "10.99.0.50") {
		t.Errorf("Reconcile: got %v, want ErrProtected naming 10.99.0.50", err)
	}
	for set, want := range map[string]string{"block_mac": camera.String(), "block_v4": "10.99.0.10"} {
		if got := jsonElements(t, ns, set); len(got) != 1 || got[0].Val != want {
			t.Errorf("%s holds %+v, want %s only", set, got, want)
		}
	}
}

// TestNFTablesElementTimeout lets the kernel expire an entry.
func TestNFTablesElementTimeout(t *testing.T) {
	ctx := context.Background()
	n, _ := kernelSetup(t, testCfg)
	if err := n.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeBlock, Expires: time.Now().Add(1500 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := n.Current(ctx); len(got) != 1 {
		t.Fatalf("Current: %+v", got)
	}
	time.Sleep(2500 * time.Millisecond)
	if got, err := n.Current(ctx); err != nil || len(got) != 0 {
		t.Errorf("after the timeout: %+v, %v", got, err)
	}
}

// movedNotice returns a backend for ns whose layout differs (notice page on
// 8443): its first change rebuilds the tables.
func movedNotice(t *testing.T, ns string) *NFTables {
	t.Helper()
	cfg := testCfg
	cfg.NoticePort = 8443
	n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, ns)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNFTablesAllowCap(t *testing.T) {
	n, ns := kernelSetup(t, testCfg)
	count := func(set string) int { return len(jsonElements(t, ns, set)) }
	checkAllowCap(t, n, count)
	// Both sets full must still survive a rebuild, which sends every
	// element in one batch.
	ctx := context.Background()
	more := make([]netip.Addr, MaxAllowed-1)
	a := netip.MustParseAddr("2001:2::2")
	for i := range more {
		more[i], a = a, a.Next()
	}
	if err := n.SetAllowed(ctx, more, time.Hour); err != nil {
		t.Fatalf("filling allow_v6: %v", err)
	}
	if err := movedNotice(t, ns).Reconcile(ctx, nil); err != nil {
		t.Fatalf("rebuild with full allow sets: %v", err)
	}
	if v4, v6 := count("allow_v4"), count("allow_v6"); v4 != MaxAllowed || v6 != MaxAllowed {
		t.Errorf("after the rebuild: allow_v4 %d, allow_v6 %d; want %d each", v4, v6, MaxAllowed)
	}
}

type jsonElement struct {
	Val     string
	Timeout int
	Expires int
	Comment string
}

// rawElements reads the elements of a set of family's iotgw table with
// nft -j, undecoded.
func rawElements(t *testing.T, ns, family, set string) []json.RawMessage {
	t.Helper()
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(netnstest.CmdIn(t, ns, "nft", "-j", "list", "set", family, "iotgw", set)), &doc); err != nil {
		t.Fatal(err)
	}
	var out []json.RawMessage
	for _, obj := range doc.Nftables {
		if obj.Set != nil {
			out = append(out, obj.Set.Elem...)
		}
	}
	return out
}

// jsonElements reads a set of inet iotgw with nft -j.
func jsonElements(t *testing.T, ns, set string) []jsonElement {
	t.Helper()
	var out []jsonElement
	for _, raw := range rawElements(t, ns, "inet", set) {
		var e jsonElement
		var timed struct {
			Elem struct {
				Val     string `json:"val"`
				Timeout int    `json:"timeout"`
				Expires int    `json:"expires"`
				Comment string `json:"comment"`
			} `json:"elem"`
		}
		if json.Unmarshal(raw, &timed) == nil && timed.Elem.Val != "" {
			e = jsonElement(timed.Elem)
		} else if err := json.Unmarshal(raw, &e.Val); err != nil {
			t.Fatalf("element %s: %v", raw, err)
		}
		out = append(out, e)
	}
	return out
}

func TestEnableConntrackAccounting(t *testing.T) {
	netnstest.RequireNFTables(t)
	ns := netnstest.New(t, "iotgwq", "acct")
	err := netnstest.Run(ns, func() error {
		if err := EnableConntrackAccounting(); err != nil {
			return err
		}
		b, err := os.ReadFile(conntrackAcctPath)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) != "1" {
			return errors.New("nf_conntrack_acct is " + string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func addrStrings(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// TestNFTablesWaitEndsWithContext: a caller waiting while another change
// holds the tables gives up when its context ends, before it touches the
// kernel, and the backend is usable again once the other change is done.
func TestNFTablesWaitEndsWithContext(t *testing.T) {
	n, err := NewNFTables(Config{NoticePort: 8080})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.mu.lock(context.Background()); err != nil { // another change in flight
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.SetAllowed(ctx, []netip.Addr{netip.MustParseAddr("203.0.113.7")}, time.Minute) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SetAllowed while the tables are busy: %v, want the context's error", err)
	}
	n.mu.unlock()
	if err := n.mu.lock(context.Background()); err != nil {
		t.Fatalf("lock after the wait gave up: %v", err)
	}
	n.mu.unlock()
}

// TestNFTablesLargeBatch: a rebuild carries every element in one batch.
// With the most the sets can hold (a thousand quarantined devices with a
// dozen addresses, full allow sets) it must still apply, whatever the
// size of one set's element list.
func TestNFTablesLargeBatch(t *testing.T) {
	ctx := context.Background()
	n, ns := kernelSetup(t, dnsCfg())
	var entries []Entry
	for i := range 1000 {
		mac := hwaddr.MAC{0x02, 0x10, 0, 0, byte(i >> 8), byte(i)}
		e := Entry{MAC: mac, Mode: ModeBlock, Expires: time.Now().Add(time.Hour)}
		e.Addrs = append(e.Addrs, netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)}))
		for j := range 11 {
			e.Addrs = append(e.Addrs, netip.AddrFrom16([16]byte{0xfd, 0x42, 12: 1, 13: byte(j), 14: byte(i >> 8), 15: byte(i)}))
		}
		entries = append(entries, e)
	}
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatalf("Reconcile %d entries: %v", len(entries), err)
	}
	var allowed []netip.Addr
	for i := range MaxAllowed {
		allowed = append(allowed, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}),
			netip.AddrFrom16([16]byte{0x20, 0x01, 0x02, 14: byte(i >> 8), 15: byte(i)}))
	}
	if err := n.SetAllowed(ctx, allowed, 10*time.Minute); err != nil {
		t.Fatalf("SetAllowed %d addresses: %v", len(allowed), err)
	}
	// A rebuild sends all of it again in one batch.
	if err := n.SetDNSRedirectAll(ctx, false); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	got, err := n.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("Current holds %d entries, want %d", len(got), len(entries))
	}
	for _, set := range []struct {
		name string
		want int
	}{{"block_mac", 1000}, {"block_v4", 1000}, {"block_v6", 11000}, {"allow_v4", MaxAllowed}, {"allow_v6", MaxAllowed}} {
		if n := len(jsonElements(t, ns, set.name)); n != set.want {
			t.Errorf("%s holds %d elements, want %d", set.name, n, set.want)
		}
	}
	// The bridge's MAC and address pairs, one per address; each element
	// carries its owner's MAC as its comment.
	for _, set := range []struct {
		name string
		want int
	}{{"block_pair_v4", 1000}, {"block_pair_v6", 11000}} {
		if n := strings.Count(netnstest.CmdIn(t, ns, "nft", "list", "set", "bridge", "iotgw", set.name), "comment "); n != set.want {
			t.Errorf("bridge %s holds %d elements, want %d", set.name, n, set.want)
		}
	}
	// The bridge's fast path knows every quarantined MAC and address.
	for _, set := range []struct {
		name string
		want int
	}{{"quarantined_mac", 1000}, {"quarantined_v4", 1000}, {"quarantined_v6", 11000}} {
		if n := len(rawElements(t, ns, "bridge", set.name)); n != set.want {
			t.Errorf("bridge %s holds %d elements, want %d", set.name, n, set.want)
		}
	}
}

// TestNFTablesReconcileUnchanged: the daemon's check every second is
// answered without reading the tables while nobody changed the ruleset
// and the entries are the same; anything else reads them whole.
func TestNFTablesReconcileUnchanged(t *testing.T) {
	ctx := context.Background()
	netnstest.RequireNFTables(t)
	ns := netnstest.New(t, "iotgwq", "gen")
	loadRuleset(t, ns, fw4Ruleset)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	n, err := NewNFTables(testCfg, WithNetNSFd(netnstest.Fd(t, ns)), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	entries := kernelEntries()
	step := func(what string, entries []Entry, wantRead bool) {
		t.Helper()
		before := n.unchangedAnswers
		if err := n.Reconcile(ctx, entries); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if read := n.unchangedAnswers == before; read != wantRead {
			t.Errorf("%s: read the kernel %v, want %v", what, read, wantRead)
		}
	}
	step("first", entries, true)
	step("again", entries, false)
	now = now.Add(time.Second)
	step("a second later", entries, false)

	netnstest.CmdIn(t, ns, "nft", "delete", "table", "bridge", "iotgw")
	step("after a table was deleted by hand", entries, true)
	if !strings.Contains(netnstest.CmdIn(t, ns, "nft", "list", "tables"), "bridge iotgw") {
		t.Error("deleted table not restored")
	}
	step("restored", entries, false)

	step("an entry fewer", entries[1:], true)
	if got, _ := n.Current(ctx); len(got) != len(entries)-1 {
		t.Errorf("entries %+v, want %d", got, len(entries)-1)
	}
	step("same again", entries[1:], false)

	now = now.Add(fullCheckEvery)
	step("after the full check interval", entries[1:], true)
}

// BenchmarkReconcileUnchanged is the daemon's check every second when
// nothing changed (BENCHMARKS.md).
func BenchmarkReconcileUnchanged(b *testing.B) {
	testenv.RequireRoot(b, "needs root for network namespaces and nftables")
	ctx := context.Background()
	ns := netnstest.New(b, "iotgwb", "nft")
	n, err := NewNFTables(testCfg, WithNetNSFd(netnstest.Fd(b, ns)))
	if err != nil {
		b.Fatal(err)
	}
	entries := kernelEntries()
	if err := n.Reconcile(ctx, entries); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := n.Reconcile(ctx, entries); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOwnGeneration(t *testing.T) {
	broken := errors.New("netlink: broken")
	for _, tc := range []struct {
		name          string
		before, after uint32
		beforeErr     error
		afterErr      error
		empty         bool // the batch sent nothing
		want          uint32
		wantErr       error
	}{
		{"our_batch", 41, 42, nil, nil, false, 42, nil},
		{"empty_batch", 41, 41, nil, nil, true, 41, nil},
		// An empty batch sends nothing: a step is someone else's (a
		// `nft flush ruleset` between the read and the check).
		{"empty_batch_someone_else", 41, 42, nil, nil, true, 0, errGenerationMoved},
		{"wraps", 0xffffffff, 0, nil, nil, false, 0, nil},
		{"someone_else_too", 41, 43, nil, nil, false, 0, errGenerationMoved},
		{"unread_before", 0, 42, broken, nil, false, 0, broken},
		{"unread_after", 41, 0, nil, broken, false, 0, broken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ownGeneration(tc.before, tc.beforeErr, tc.after, tc.afterErr, !tc.empty)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("got %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestNFTablesFlowtables: fw4's ruleset without offloading has no
// flowtable, and a kernel without flowtable support is no error.
func TestNFTablesFlowtables(t *testing.T) {
	n, _ := kernelSetup(t, testCfg)
	got, err := n.Flowtables(context.Background())
	if err != nil || len(got) != 0 {
		t.Errorf("Flowtables: %v, %v; want none", got, err)
	}
}

// TestNFTablesSetLANPrefixes gives the isolate mode's LAN a guest bridge's
// prefixes, one of them inside a configured one: the kernel takes them
// (no overlapping intervals), the quarantine stays, and the same
// prefixes again change nothing.
func TestNFTablesSetLANPrefixes(t *testing.T) {
	ctx := context.Background()
	cfg := testCfg
	cfg.LANInterfaces = []string{"br-lan", "br-guest"}
	n, ns := kernelSetup(t, cfg)
	if err := n.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeIsolate}); err != nil {
		t.Fatal(err)
	}
	prefixes := append(slices.Clone(cfg.LANPrefixes),
		netip.MustParsePrefix("10.99.0.128/25"), netip.MustParsePrefix("10.98.0.0/24"), netip.MustParsePrefix("2001:db8:77:2::/64"))
	if err := n.SetLANPrefixes(ctx, prefixes); err != nil {
		t.Fatal(err)
	}
	for set, want := range map[string]string{
		"lan_v4":     "elements = { 10.98.0.0/24, 10.99.0.0/24 }",
		"lan_v6":     "elements = { 2001:db8:77:2::/64,",
		"isolate_v4": "10.99.0.10",
	} {
		if got := netnstest.CmdIn(t, ns, "nft", "list", "set", "inet", "iotgw", set); !strings.Contains(got, want) {
			t.Errorf("set %s, want %q in it:\n%s", set, want, got)
		}
	}
	before := listRuleset(t, ns)
	if err := n.SetLANPrefixes(ctx, prefixes); err != nil {
		t.Fatal(err)
	}
	if after := listRuleset(t, ns); after != before {
		t.Errorf("the same prefixes again changed the kernel:\n%s\nwas:\n%s", after, before)
	}
}
