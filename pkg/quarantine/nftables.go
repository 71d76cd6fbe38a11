package quarantine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// NFTables enforces quarantine in the kernel. Its methods are safe for
// concurrent use; each change is one netlink batch, applied all or nothing.
// The kernel holds the state: a crash of the daemon leaves every element
// (and its timeout) in place, and nothing else.
//
// google/nftables takes no context; ctx bounds the wait for another
// caller's batch and is checked before reading and before the batch is
// sent.
type NFTables struct {
	mu   ctxMutex
	cfg  Config
	opts options
	// layout is built on first use, after probing for bridge conntrack.
	layout *layout
	// last is what the last batch made the kernel hold (nil after
	// Uninstall): should both tables vanish, the next change starts from
	// it, not from nothing; and a Reconcile that would change nothing is
	// answered from it (see reconcileUnchanged). gen is the ruleset
	// generation that batch left (genErr: it could not be read), fullAt
	// when the kernel was last read whole.
	last   *state
	gen    uint32
	genErr error
	fullAt time.Time
	// unchangedAnswers counts the Reconcile calls answered without
	// reading the kernel, for tests.
	unchangedAnswers int
}

// NewNFTables returns the kernel backend. Nothing is sent to the kernel
// until the first call; call Reconcile at start-up.
func NewNFTables(cfg Config, opts ...Option) (*NFTables, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &NFTables{mu: newCtxMutex(), cfg: cfg, opts: buildOptions(opts)}, nil
}

// conn opens a netlink socket (in the configured namespace) and an
// nftables connection that talks through it via the ct-direction proxy.
// The caller closes the socket.
func (n *NFTables) conn() (*nftables.Conn, *netlink.Conn, error) {
	cfg := &netlink.Config{}
	if n.opts.netns {
		cfg.NetNS = n.opts.netnsFd
	}
	sock, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("quarantine: open netfilter netlink socket: %w", err)
	}
	// A rebuild sends every element in one batch, one sendmsg, and the
	// kernel refuses a message larger than the send buffer (about 200 KB
	// by default, a few thousand elements). As root the buffers may go
	// past the system limits; they only bound what a batch may use.
	if err := sock.SetWriteBuffer(batchBuffer); err != nil {
		sock.Close()
		return nil, nil, fmt.Errorf("quarantine: netlink send buffer: %w", err)
	}
	if err := sock.SetReadBuffer(batchBuffer); err != nil {
		sock.Close()
		return nil, nil, fmt.Errorf("quarantine: netlink receive buffer: %w", err)
	}
	c, err := nftables.New(nftables.WithTestDial(proxy(sock)))
	if err != nil {
		sock.Close()
		return nil, nil, fmt.Errorf("quarantine: open nftables: %w", err)
	}
	return c, sock, nil
}

// BridgeConntrack reports whether the bridge table carries the capture
// chain: capture is enabled and the kernel has bridge conntrack. It is
// known after the first call that changed the kernel.
func (n *NFTables) BridgeConntrack() bool {
	_ = n.mu.lock(context.Background())
	defer n.mu.unlock()
	return n.layout != nil && n.layout.bridgeCapture
}

func (n *NFTables) getLayout(c *nftables.Conn) *layout {
	if n.layout == nil {
		// With a packet mark the bridge table has no capture chain
		// (bridgeTable): nothing to probe for.
		bridgeCT := n.cfg.Capture.Enabled && n.cfg.Capture.PacketMark == 0 && probeBridgeConntrack(c, n.cfg)
		n.layout = newLayout(n.cfg, bridgeCT)
	}
	return n.layout
}

// probeBridgeConntrack asks the kernel to accept a capture rule in a bridge
// table that the same batch deletes again: it fails (EPROTO) if there is no
// nf_conntrack_bridge. Nothing stays behind either way; CreateTable fails
// rather than touch a table of that name that someone else owns.
func probeBridgeConntrack(c *nftables.Conn, cfg Config) bool {
	t := c.CreateTable(&nftables.Table{Family: nftables.TableFamilyBridge, Name: cfg.TableName + "_probe"})
	ch := c.AddChain(&nftables.Chain{Name: "probe", Table: t})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: captureRules(cfg.Capture)[1].exprs})
	c.DelTable(t)
	return c.Flush() == nil
}

// kernelView is what one read of our tables found.
type kernelView struct {
	exists       map[nftables.TableFamily]bool
	structureOK  bool
	inet, bridge contents
}

func (n *NFTables) table(f nftables.TableFamily) *nftables.Table {
	return &nftables.Table{Family: f, Name: n.cfg.TableName}
}

// read looks at both tables: do they exist, do they have exactly the
// layout's structure, and what elements do their sets hold.
func (n *NFTables) read(c *nftables.Conn, sock *netlink.Conn, l *layout, now time.Time) (*kernelView, error) {
	v := &kernelView{exists: map[nftables.TableFamily]bool{}, structureOK: true}
	for _, def := range []tableDef{l.inet, l.bridge} {
		tables, err := c.ListTablesOfFamily(def.family)
		if err != nil {
			return nil, fmt.Errorf("quarantine: list %s tables: %w", familyName(def.family), err)
		}
		for _, t := range tables {
			if t.Name == n.cfg.TableName {
				v.exists[def.family] = true
			}
		}
		if !v.exists[def.family] {
			v.structureOK = false
			continue
		}
		t := n.table(def.family)
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("quarantine: list sets of %s %s: %w", familyName(def.family), t.Name, err)
		}
		ok, err := matchesStructure(c, sock, t, def, sets, l.tag)
		if err != nil {
			return nil, err
		}
		// A table that matches the layout holds only iotgw's rules; one
		// that does not will be rebuilt, so it must be iotgw's.
		if !ok {
			if err := checkOwned(c, sock, t); err != nil {
				return nil, err
			}
		}
		v.structureOK = v.structureOK && ok
		got, err := readContents(c, sets, dynamicSets(def.family == nftables.TableFamilyINet), now)
		if err != nil {
			return nil, err
		}
		if def.family == nftables.TableFamilyINet {
			v.inet = got
		} else {
			v.bridge = got
		}
	}
	return v, nil
}

// ruleTagPrefix starts the comment of every rule iotgw puts in: of any
// layout version, so an older release's table is still recognised as ours.
const ruleTagPrefix = "iotgw "

// errForeignTable: a table under our name is someone else's.
var errForeignTable = errors.New("quarantine: table is not iotgw's")

// checkOwned refuses a table holding a chain or rule iotgw did not put
// there: rebuilding or deleting it (both start by deleting the table)
// would wipe another firewall, say fw4's if the configured name is "fw4".
// An empty chain counts as foreign unless iotgw builds a chain of its
// name under some configuration: every chain iotgw builds has rules, but
// `nft flush table` empties them, and iotgw must then rebuild or delete
// its table whichever configuration built it (`uninstall-rules` knows
// only the table's name).
func checkOwned(c *nftables.Conn, sock *netlink.Conn, t *nftables.Table) error {
	own, _ := ownNames(t.Family)
	chains, err := c.ListChainsOfTableFamily(t.Family)
	if err != nil {
		return fmt.Errorf("quarantine: list chains of %s %s: %w", familyName(t.Family), t.Name, err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != t.Name {
			continue
		}
		tags, err := ruleTags(sock, t, ch.Name)
		if err != nil {
			return fmt.Errorf("quarantine: list rules of %s %s chain %s: %w", familyName(t.Family), t.Name, ch.Name, err)
		}
		foreign := len(tags) == 0 && !slices.Contains(own, ch.Name)
		for _, tag := range tags {
			foreign = foreign || !strings.HasPrefix(tag, ruleTagPrefix)
		}
		if foreign {
			return fmt.Errorf("%w: %s %s chain %s holds no rule or one without the %q comment; not deleting or rebuilding it (delete it by hand if it is iotgw's)",
				errForeignTable, familyName(t.Family), t.Name, ch.Name, ruleTagPrefix+"<fingerprint>")
		}
	}
	return nil
}

// builtByUs reports whether a table under another name than ours is
// provably one iotgw built (under a name configured before): every chain
// and set has a name iotgw gives, and its rules, one at least, all carry
// the same tag of iotgw's form ("iotgw " and eight hex digits). A rule
// comment that merely starts "iotgw " does not make another program's
// table ours.
func builtByUs(c *nftables.Conn, sock *netlink.Conn, t *nftables.Table) bool {
	sets, err := c.GetSets(t)
	if err != nil {
		return false
	}
	ownChains, ownSets := ownNames(t.Family)
	for _, s := range sets {
		if !slices.Contains(ownSets, s.Name) {
			return false
		}
	}
	chains, err := c.ListChainsOfTableFamily(t.Family)
	if err != nil {
		return false
	}
	var tag string
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != t.Name {
			continue
		}
		if !slices.Contains(ownChains, ch.Name) {
			return false
		}
		tags, err := ruleTags(sock, t, ch.Name)
		if err != nil {
			return false
		}
		for _, g := range tags {
			if !isLayoutTag(g) || (tag != "" && g != tag) {
				return false
			}
			tag = g
		}
	}
	return tag != ""
}

// isLayoutTag: s is a rule tag as layout.fingerprint makes them.
func isLayoutTag(s string) bool {
	fp, ok := strings.CutPrefix(s, ruleTagPrefix)
	if !ok || len(fp) != 8 {
		return false
	}
	for _, c := range fp {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// matchesStructure compares a table's sets, chains and rules with the
// layout. Rules are compared by their tag, which changes with any change
// of the layout; a rule added or removed by hand changes the count.
func matchesStructure(c *nftables.Conn, sock *netlink.Conn, t *nftables.Table, def tableDef, sets []*nftables.Set, tag string) (bool, error) {
	byName := map[string]*nftables.Set{}
	for _, s := range sets {
		byName[s.Name] = s
	}
	for _, d := range def.sets {
		s, ok := byName[d.name]
		want := d.keyType()
		if !ok || s.KeyType.GetNFTMagic() != want.GetNFTMagic() || s.HasTimeout != d.timeout || s.Interval != d.interval || s.Dynamic != d.flow {
			return false, nil
		}
	}
	chains, err := c.ListChainsOfTableFamily(t.Family)
	if err != nil {
		return false, fmt.Errorf("quarantine: list chains: %w", err)
	}
	have := map[string]*nftables.Chain{}
	for _, ch := range chains {
		if ch.Table != nil && ch.Table.Name == t.Name {
			have[ch.Name] = ch
		}
	}
	if len(have) != len(def.chains) {
		return false, nil
	}
	for _, d := range def.chains {
		ch, ok := have[d.name]
		if !ok || (d.hook == nil) != (ch.Hooknum == nil) {
			return false, nil
		}
		if d.hook != nil && (*ch.Hooknum != *d.hook || int32(*ch.Priority) != d.prio || ch.Type != d.typ) {
			return false, nil
		}
		tags, err := ruleTags(sock, t, d.name)
		if err != nil {
			return false, fmt.Errorf("quarantine: list rules of %s: %w", d.name, err)
		}
		if len(tags) != len(d.rules) {
			return false, nil
		}
		for _, got := range tags {
			if got != tag {
				return false, nil
			}
		}
	}
	return true, nil
}

// ruleTags lists the comments of a chain's rules. It reads the rule dump
// itself: the library's GetRules cannot decode the u8 direction of our ct
// counter loads (see ctdir.go), and only the comments matter here.
func ruleTags(sock *netlink.Conn, t *nftables.Table, chain string) ([]string, error) {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: []byte(t.Name + "\x00")},
		{Type: unix.NFTA_RULE_CHAIN, Data: []byte(chain + "\x00")},
	})
	if err != nil {
		return nil, err
	}
	replies, err := sock.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{byte(t.Family), unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, m := range replies {
		if m.Header.Type != newRuleType || len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, err
		}
		tag := ""
		for ad.Next() {
			if ad.Type() == unix.NFTA_RULE_USERDATA {
				tag, _ = userdata.GetString(ad.Bytes(), userdata.TypeComment)
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

// readContents reads the elements of those wanted sets that exist. An
// element whose key does not fit the set's kind (a set of an older layout)
// is left out.
func readContents(c *nftables.Conn, sets []*nftables.Set, wanted []setDef, now time.Time) (contents, error) {
	byName := map[string]*nftables.Set{}
	for _, s := range sets {
		byName[s.Name] = s
	}
	out := contents{}
	for _, d := range wanted {
		out[d.name] = map[string]element{}
		s, ok := byName[d.name]
		if !ok {
			continue
		}
		elems, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("quarantine: read set %s: %w", d.name, err)
		}
		for _, e := range elems {
			key, ok := d.kind.keyText(e.Key)
			if !ok {
				continue
			}
			el := element{key: key, comment: e.Comment}
			if e.Timeout != 0 || e.Expires != 0 {
				el.expires = now.Add(e.Expires)
			}
			out.add(d.name, el)
		}
	}
	return out, nil
}

// apply runs one change: read the kernel, let mutate edit the state read
// from it, and send one batch that makes the kernel match. If our tables
// are missing or differ from the layout, the batch deletes and recreates
// them with all elements: atomic, so no packet ever sees them half built.
func (n *NFTables) apply(ctx context.Context, mutate func(s *state, now time.Time) error) error {
	if err := n.mu.lock(ctx); err != nil {
		return err
	}
	defer n.mu.unlock()
	return n.applyLocked(ctx, mutate)
}

func (n *NFTables) applyLocked(ctx context.Context, mutate func(s *state, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, sock, err := n.conn()
	if err != nil {
		return err
	}
	defer sock.Close()
	l := n.getLayout(c)
	now := n.opts.now()
	genBefore, genErr := generation(sock)
	v, err := n.read(c, sock, l, now)
	if err != nil {
		return err
	}
	// The state is what the inet table holds; if only the bridge table
	// survived (someone deleted the other), take it from there.
	have := v.inet
	if !v.exists[nftables.TableFamilyINet] && v.exists[nftables.TableFamilyBridge] {
		have = v.bridge
	}
	st := stateFrom(have)
	switch {
	case v.exists[nftables.TableFamilyINet] || n.last == nil:
	case !v.exists[nftables.TableFamilyBridge]:
		// Both tables gone (deleted by hand, a script flushing the whole
		// ruleset): the protected devices and the allowed update hosts
		// come back with the entries, not only what the caller passes.
		st = n.last.clone()
	default:
		// The bridge table has no allow sets: the update hosts come
		// from what was last applied.
		st.allowed = maps.Clone(n.last.allowed)
	}
	st.inetLost = !v.exists[nftables.TableFamilyINet]
	st.expire(now)
	if err := mutate(st, now); err != nil {
		return err
	}
	want := st.contents(n.cfg)
	queued := true
	if v.structureOK {
		queued, err = n.queueDiff(c, v, want, now)
	} else {
		err = n.queueRebuild(c, l, v, want, now)
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("quarantine: apply batch: %w", err)
	}
	n.noteApplied(st, sock, now, genBefore, genErr, queued)
	return nil
}

// queueDiff queues the element changes that make the tables hold want,
// and reports whether there were any.
func (n *NFTables) queueDiff(c *nftables.Conn, v *kernelView, want contents, now time.Time) (bool, error) {
	queued := false
	for _, t := range []struct {
		family nftables.TableFamily
		have   contents
	}{{nftables.TableFamilyINet, v.inet}, {nftables.TableFamilyBridge, v.bridge}} {
		defs := dynamicSets(t.family == nftables.TableFamilyINet)
		kinds := map[string]setDef{}
		for _, d := range defs {
			kinds[d.name] = d
		}
		for _, ch := range diff(t.have, want.forTable(t.family, n.cfg), defs) {
			queued = queued || len(ch.del) > 0 || len(ch.add) > 0
			d := kinds[ch.set]
			s := &nftables.Set{Table: n.table(t.family), Name: d.name, HasTimeout: d.timeout}
			if len(ch.del) > 0 {
				els, err := kernelElements(d.kind, ch.del, time.Time{})
				if err != nil {
					return false, err
				}
				for part := range slices.Chunk(els, maxElemsPerMessage) {
					if err := c.SetDeleteElements(s, part); err != nil {
						return false, fmt.Errorf("quarantine: delete from %s: %w", d.name, err)
					}
				}
			}
			if len(ch.add) > 0 {
				els, err := kernelElements(d.kind, ch.add, now)
				if err != nil {
					return false, err
				}
				if err := addElements(c, s, els); err != nil {
					return false, fmt.Errorf("quarantine: add to %s: %w", d.name, err)
				}
			}
		}
	}
	return queued, nil
}

func (n *NFTables) queueRebuild(c *nftables.Conn, l *layout, v *kernelView, want contents, now time.Time) error {
	for _, def := range []tableDef{l.inet, l.bridge} {
		want := want.forTable(def.family, n.cfg)
		if v.exists[def.family] {
			c.DelTable(n.table(def.family))
		}
		t := c.AddTable(n.table(def.family))
		for _, d := range def.sets {
			s := &nftables.Set{
				Table: t, Name: d.name, KeyType: d.keyType(),
				HasTimeout: d.timeout, Interval: d.interval, KeyByteOrder: binaryutil.BigEndian,
			}
			if d.flow {
				// No NFT_SET_CONCAT flag: as nft, which sets it only with
				// intervals (kernels before 5.6 refuse it).
				s.Dynamic, s.Timeout, s.Size = true, flowTimeout, flowMax
				if err := c.AddSet(s, nil); err != nil {
					return fmt.Errorf("quarantine: add set %s: %w", d.name, err)
				}
				continue
			}
			var els []nftables.SetElement
			var err error
			if d.interval {
				els = intervalElements(d.kind, l.lan[d.name])
			} else {
				els, err = kernelElements(d.kind, sortedElements(want[d.name]), now)
			}
			if err != nil {
				return err
			}
			first := els[:min(len(els), maxElemsPerMessage)]
			if err := c.AddSet(s, first); err != nil {
				return fmt.Errorf("quarantine: add set %s: %w", d.name, err)
			}
			if err := addElements(c, s, els[len(first):]); err != nil {
				return fmt.Errorf("quarantine: add to set %s: %w", d.name, err)
			}
		}
		chains := map[string]*nftables.Chain{}
		for _, d := range def.chains {
			ch := &nftables.Chain{Name: d.name, Table: t}
			if d.hook != nil {
				prio := nftables.ChainPriority(d.prio)
				policy := nftables.ChainPolicyAccept
				ch.Hooknum, ch.Priority, ch.Type, ch.Policy = d.hook, &prio, d.typ, &policy
			}
			chains[d.name] = c.AddChain(ch)
		}
		tag := userdata.AppendString(nil, userdata.TypeComment, l.tag)
		for _, d := range def.chains {
			for _, r := range d.rules {
				c.AddRule(&nftables.Rule{Table: t, Chain: chains[d.name], Exprs: r.exprs, UserData: tag})
			}
		}
	}
	return nil
}

func sortedElements(m map[string]element) []element {
	out := make([]element, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sortElements(out)
	return out
}

// kernelElements encodes elements; with a zero now, timeouts are left out
// (deletions only need the key). Elements that expired meanwhile are
// skipped.
func kernelElements(k keyKind, els []element, now time.Time) ([]nftables.SetElement, error) {
	out := make([]nftables.SetElement, 0, len(els))
	for _, e := range els {
		key, err := k.keyBytes(e.key)
		if err != nil {
			return nil, fmt.Errorf("quarantine: element %q: %w", e.key, err)
		}
		se := nftables.SetElement{Key: key, Comment: e.comment}
		if !now.IsZero() {
			timeout, live := timeoutFor(e.expires, now)
			if !live {
				continue
			}
			se.Timeout = timeout
		}
		out = append(out, se)
	}
	return out, nil
}

// intervalElements encodes prefixes for an interval set the way nft does:
// each merged range [first, last] as a start element and an end element
// one past last (flagged interval end), after a leading end element at the
// zero address.
func intervalElements(k keyKind, prefixes []netip.Prefix) []nftables.SetElement {
	type span struct{ first, last netip.Addr }
	var spans []span
	for _, p := range prefixes {
		spans = append(spans, span{p.Masked().Addr(), lastAddr(p)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].first.Less(spans[j].first) })
	var merged []span
	for _, s := range spans {
		if n := len(merged); n > 0 {
			cur := &merged[n-1]
			if next := cur.last.Next(); !next.IsValid() || !next.Less(s.first) {
				if cur.last.Less(s.last) {
					cur.last = s.last
				}
				continue
			}
		}
		merged = append(merged, s)
	}
	zero := netip.IPv4Unspecified()
	if k == keyV6 {
		zero = netip.IPv6Unspecified()
	}
	var out []nftables.SetElement
	if len(merged) > 0 && merged[0].first != zero {
		out = append(out, nftables.SetElement{Key: zero.AsSlice(), IntervalEnd: true})
	}
	for _, s := range merged {
		out = append(out, nftables.SetElement{Key: s.first.AsSlice()})
		if end := s.last.Next(); end.IsValid() {
			out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Reconcile makes the kernel hold exactly entries (besides the protected
// and allow sets, which it keeps). Run it at start-up: it (re)builds our
// tables if they are missing or of another layout, in the same batch as
// their elements, and otherwise only adds and deletes elements; a second
// run changes nothing. Entries that are invalid or have a protected MAC
// are skipped, protected addresses dropped from their entry; each is named
// in the returned error (errors.Is ErrProtected / ErrInvalid) and
// everything else is applied all the same. A table of our name that is
// not iotgw's (see checkOwned) fails it and is left alone.
//
// The connections of addresses it adds (a rebuilt table, an entry that
// gained an address) are deleted as Quarantine deletes them; those of
// entries the kernel already held are left alone, since a check that
// changes nothing must not cut an updates-only device's downloads.
//
// A call that would change nothing, while the ruleset's generation is the
// one the last batch left, is answered without reading the tables (at
// most fullCheckEvery apart).
func (n *NFTables) Reconcile(ctx context.Context, entries []Entry) error {
	if skipped, ok := n.reconcileUnchanged(ctx, entries); ok {
		return skipped
	}
	var skipped error
	var cut connectionsToCut
	err := n.apply(ctx, func(s *state, now time.Time) error {
		before := s.entries
		if s.inetLost {
			// Connections opened while nothing held the entries (a
			// firewall restart deletes every table) would go on under
			// the established-connection accept: cut them all.
			before = nil
		}
		skipped = s.reconcile(entries, n.cfg, now)
		cut = n.connectionsToCut(s, before, s.entries)
		return nil
	})
	if err != nil {
		return err
	}
	if err := n.cutConnections(cut); err != nil {
		rerr, ok := skipped.(*ReconcileError)
		if !ok {
			rerr = &ReconcileError{Skipped: map[hwaddr.MAC]error{}}
		}
		rerr.errs = append(rerr.errs, fmt.Errorf("%w: %w", ErrConntrack, err))
		return rerr
	}
	return skipped
}

// connectionsToCut are the tracked connections a change of entries ends:
// those of addrs and of the addresses the neighbour tables hold for macs,
// but never a protected address's (a quarantined device answering ARP for
// the owner's address must not cut the owner's connections).
type connectionsToCut struct {
	addrs     []netip.Addr
	macs      []hwaddr.MAC
	protected func(netip.Addr) bool
}

// connectionsToCut picks, under the lock, what going from the entries
// before to those after ends: every connection of a device newly
// quarantined or put in another mode, which must meet its new rules (its
// addresses, and for the addresses the entry lacks, its MAC); of a device
// kept in its mode, only those of addresses it did not have, the others'
// having been cut when they came.
func (n *NFTables) connectionsToCut(s *state, before, after map[hwaddr.MAC]Entry) connectionsToCut {
	var c connectionsToCut
	for mac, e := range after {
		old, had := before[mac]
		if !had || old.Mode != e.Mode {
			c.macs = append(c.macs, mac)
			c.addrs = append(c.addrs, e.Addrs...)
			continue
		}
		for _, a := range e.Addrs {
			if !slices.Contains(old.Addrs, a) {
				c.addrs = append(c.addrs, a)
			}
		}
	}
	protected, routers := maps.Clone(s.protectedAddrs), slices.Clone(n.cfg.RouterAddrs)
	c.protected = func(a netip.Addr) bool { return protected[a] || containsAddr(routers, a) }
	return c
}

// Quarantine adds or replaces one device's entry (a mode switch is one
// batch). It refuses protected devices with ErrProtected.
//
// Established connections pass iotgw's forward chain without set lookups
// (the fast path for every other device), so the device's tracked
// connections are deleted once the batch is in, of its entry's addresses
// and of those the neighbour tables hold for its MAC: what it opened
// before the quarantine does not go on. Re-applied in the same mode (new
// addresses), only the new addresses' connections are deleted.
//
// A failed deletion returns ErrConntrack: the quarantine stands anyway.
func (n *NFTables) Quarantine(ctx context.Context, e Entry) error {
	var cut connectionsToCut
	if err := n.apply(ctx, func(s *state, now time.Time) error {
		before := map[hwaddr.MAC]Entry{}
		if old, had := s.entries[e.MAC]; had && !s.inetLost {
			before[e.MAC] = old
		}
		if err := s.quarantine(e, n.cfg, now); err != nil {
			return err
		}
		cut = n.connectionsToCut(s, before, map[hwaddr.MAC]Entry{e.MAC: s.entries[e.MAC]})
		return nil
	}); err != nil {
		return err
	}
	if err := n.cutConnections(cut); err != nil {
		return fmt.Errorf("%w: %w", ErrConntrack, err)
	}
	return nil
}

func (n *NFTables) cutConnections(c connectionsToCut) error {
	neighbours, nerr := neighbourAddrs(n.opts, c.macs)
	addrs := slices.Clone(c.addrs)
	for _, a := range neighbours {
		if !c.protected(a) && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	_, err := flushConntrack(n.opts, addrs)
	switch {
	case err == nil:
		return nerr
	case nerr != nil:
		return fmt.Errorf("%w; %w", err, nerr)
	}
	return err
}

// Release lifts a device's quarantine; releasing a device that is not
// quarantined is no error.
//
// The connections its redirects left (to the DNS proxy, the notice page)
// are deleted once the batch is in, of the addresses the entry held and
// of addrs, those the caller knew the entry by: by the time a quarantine
// is released for running out, the kernel has timed its elements out, and
// protection takes an entry out before the caller releases it, so the
// entry alone would name none (the last batch's state still does, until
// the next batch). A failed deletion returns ErrConntrack, the release
// standing anyway.
func (n *NFTables) Release(ctx context.Context, mac hwaddr.MAC, addrs ...netip.Addr) error {
	flush := slices.Clone(addrs)
	var routers []netip.Addr
	if err := n.apply(ctx, func(s *state, _ time.Time) error {
		routers = slices.Clone(n.cfg.RouterAddrs)
		held := s.entries[mac].Addrs
		if n.last != nil {
			held = slices.Concat(held, n.last.entries[mac].Addrs)
		}
		for _, a := range held {
			if !slices.Contains(flush, a) {
				flush = append(flush, a)
			}
		}
		delete(s.entries, mac)
		return nil
	}); err != nil {
		return err
	}
	if _, err := flushRedirected(n.opts, flush, routers); err != nil {
		return fmt.Errorf("%w: %w", ErrConntrack, err)
	}
	return nil
}

// SetAllowed lets updates-only devices reach addrs on TCP 80 and 443 and
// UDP 443 for ttl (refreshing, never shortening, an earlier expiry). New
// addresses beyond MaxAllowed per family are refused with ErrAllowFull;
// the rest is applied.
func (n *NFTables) SetAllowed(ctx context.Context, addrs []netip.Addr, ttl time.Duration) error {
	return setAllowed(ctx, n.apply, addrs, ttl)
}

// SetProtected replaces the protected MACs and addresses (the router's own
// are always added). Protection wins: a quarantined device that becomes
// protected is released.
func (n *NFTables) SetProtected(ctx context.Context, macs []hwaddr.MAC, addrs []netip.Addr) error {
	return n.apply(ctx, func(s *state, _ time.Time) error { return s.protect(macs, addrs) })
}

// SetRouterAddrs replaces the router's own addresses (Config.RouterAddrs)
// as they change while iotgw runs: a LAN interface that comes up late, an
// IPv6 prefix delegated after the start or renumbered. Like those the
// backend was made with, they are always protected, leave any entry that
// holds one, and never enter the bridge table's sets (see forBridge):
// protected through SetProtected alone, an address learnt later would
// open the bridge's channel through every quarantine. One no longer in
// addrs is protected no more, from this batch on (see
// state.setRouterAddrs). If the batch fails, the previous addresses stay.
func (n *NFTables) SetRouterAddrs(ctx context.Context, addrs []netip.Addr) error {
	if err := n.mu.lock(ctx); err != nil {
		return err
	}
	defer n.mu.unlock()
	cfg, err := withRouterAddrs(n.cfg, addrs)
	if err != nil {
		return err
	}
	old := n.cfg
	n.cfg = cfg
	err = n.applyLocked(ctx, func(s *state, _ time.Time) error {
		s.setRouterAddrs(old.RouterAddrs, cfg.RouterAddrs)
		return nil
	})
	if err != nil {
		n.cfg = old
	}
	return err
}

// SetDNSRedirectAll installs (on) or removes the DNS redirect for every LAN
// client (Config.DNSRedirectAll) by rebuilding the tables in one batch,
// keeping every element. Turn it on once the proxy listens and off on a
// clean stop: while it is in, every LAN client's DNS to the router depends
// on the daemon. If the batch fails, the previous setting stays.
func (n *NFTables) SetDNSRedirectAll(ctx context.Context, on bool) error {
	return n.reconfigure(ctx, func(c *Config) { c.DNSRedirectAll = on })
}

// SetLANPrefixes replaces Config.LANPrefixes, the networks an isolate
// device still reaches through the LAN interfaces, by rebuilding the
// tables in one batch that keeps every element: the prefixes on the LAN
// interfaces are the LAN too, and an ISP delegates a global IPv6 prefix
// after boot and renumbers it when it likes. The same prefixes again
// change nothing. If the batch fails, the previous prefixes stay.
func (n *NFTables) SetLANPrefixes(ctx context.Context, prefixes []netip.Prefix) error {
	return n.reconfigure(ctx, func(c *Config) { c.LANPrefixes = slices.Clone(prefixes) })
}

// reconfigure rebuilds the tables for the configuration change makes, in
// one batch that keeps every element; a change that leaves the layout as
// it is changes nothing in the kernel. If the batch fails, the previous
// configuration stays.
func (n *NFTables) reconfigure(ctx context.Context, change func(*Config)) error {
	if err := n.mu.lock(ctx); err != nil {
		return err
	}
	defer n.mu.unlock()
	cfg := n.cfg
	change(&cfg)
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	oldCfg, oldLayout := n.cfg, n.layout
	n.cfg = cfg
	if oldLayout != nil {
		n.layout = newLayout(cfg, oldLayout.bridgeCapture)
	}
	err = n.applyLocked(ctx, func(*state, time.Time) error { return nil })
	if err != nil {
		n.cfg, n.layout = oldCfg, oldLayout
	}
	return err
}

// Current reads the quarantine entries back from the kernel's sets, with
// the expiry their remaining timeouts give. No tables: no entries. The
// tables iotgw built under a name configured before (see
// RemoveLeftovers) count too, for the devices the configured ones do not
// hold: until they are deleted, the kernel enforces their entries as
// well.
func (n *NFTables) Current(ctx context.Context) ([]Entry, error) {
	return withConn(ctx, n, n.current)
}

func (n *NFTables) current(c *nftables.Conn, sock *netlink.Conn) ([]Entry, error) {
	t := n.table(nftables.TableFamilyINet)
	tables, err := c.ListTablesOfFamily(t.Family)
	if err != nil {
		return nil, fmt.Errorf("quarantine: list tables: %w", err)
	}
	var read []*nftables.Table
	if hasTable(tables, t.Name) {
		read = append(read, t)
	}
	leftovers, err := n.leftovers(c, sock)
	if err != nil {
		return nil, err
	}
	read = append(read, leftovers...)
	now := n.opts.now()
	st := newState()
	for _, t := range read {
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("quarantine: list sets of %s %s: %w", familyName(t.Family), t.Name, err)
		}
		got, err := readContents(c, sets, dynamicSets(t.Family == nftables.TableFamilyINet), now)
		if err != nil {
			return nil, err
		}
		for mac, e := range stateFrom(got).entries {
			if _, had := st.entries[mac]; !had {
				st.entries[mac] = e
			}
		}
	}
	st.expire(now)
	return st.current(), nil
}

// leftovers lists the inet and bridge tables, inet first, that iotgw
// built under another name than the configured one (see builtByUs).
func (n *NFTables) leftovers(c *nftables.Conn, sock *netlink.Conn) ([]*nftables.Table, error) {
	var out []*nftables.Table
	for _, family := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyBridge} {
		tables, err := c.ListTablesOfFamily(family)
		if err != nil {
			return nil, fmt.Errorf("quarantine: list %s tables: %w", familyName(family), err)
		}
		for _, t := range tables {
			if t.Name != n.cfg.TableName && builtByUs(c, sock, t) {
				out = append(out, &nftables.Table{Name: t.Name, Family: family})
			}
		}
	}
	return out, nil
}

// RemoveLeftovers deletes, in one batch, the tables iotgw built under a
// name configured before (quarantine.table changed while it was
// stopped), and returns them ("inet iotgw_old"). Left in place, they go
// on enforcing what they held when it stopped: a device released since
// stays blocked by them, one trusted since is not protected in them.
// Call it once the configured tables hold the quarantines (Reconcile
// with those Current read from the leftovers too), so that no device
// goes free in between. Only one daemon may run in a network namespace:
// the tables of another, under another name, are leftovers to this one.
func (n *NFTables) RemoveLeftovers(ctx context.Context) ([]string, error) {
	return withConn(ctx, n, func(c *nftables.Conn, sock *netlink.Conn) ([]string, error) {
		leftovers, err := n.leftovers(c, sock)
		if err != nil || len(leftovers) == 0 {
			return nil, err
		}
		return deleteTables(c, leftovers)
	})
}

// deleteTables deletes tables in one batch and names them ("inet iotgw").
func deleteTables(c *nftables.Conn, tables []*nftables.Table) ([]string, error) {
	var deleted []string
	for _, t := range tables {
		c.DelTable(t)
		deleted = append(deleted, familyName(t.Family)+" "+t.Name)
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("quarantine: delete tables: %w", err)
	}
	return deleted, nil
}

// Uninstall deletes our two tables, and nothing else, in one batch, and
// returns the tables deleted ("inet iotgw"). A table of that name that is
// not iotgw's (see checkOwned) fails it, and nothing is deleted.
//
// It also deletes the inet and bridge tables of other names that iotgw
// built: whose every chain is iotgw's and whose rules, one at least, all
// carry its tag. The package's removal knows the configured name only
// from a TOML that may have been broken, or renamed the table since.
func (n *NFTables) Uninstall(ctx context.Context) ([]string, error) {
	return withConn(ctx, n, n.uninstall)
}

func (n *NFTables) uninstall(c *nftables.Conn, sock *netlink.Conn) ([]string, error) {
	n.last = nil
	var doomed []*nftables.Table
	for _, family := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyBridge} {
		tables, err := c.ListTablesOfFamily(family)
		if err != nil {
			return nil, fmt.Errorf("quarantine: list %s tables: %w", familyName(family), err)
		}
		if !hasTable(tables, n.cfg.TableName) {
			continue
		}
		if err := checkOwned(c, sock, n.table(family)); err != nil {
			return nil, err
		}
		doomed = append(doomed, n.table(family))
	}
	leftovers, err := n.leftovers(c, sock)
	if err != nil {
		return nil, err
	}
	return deleteTables(c, append(doomed, leftovers...))
}

// withConn runs do under n's lock with a connection to the kernel,
// unless ctx ended while it waited for the lock.
func withConn[T any](ctx context.Context, n *NFTables, do func(c *nftables.Conn, sock *netlink.Conn) (T, error)) (T, error) {
	var zero T
	if err := n.mu.lock(ctx); err != nil {
		return zero, err
	}
	defer n.mu.unlock()
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	c, sock, err := n.conn()
	if err != nil {
		return zero, err
	}
	defer sock.Close()
	return do(c, sock)
}

func hasTable(tables []*nftables.Table, name string) bool {
	for _, t := range tables {
		if t.Name == name {
			return true
		}
	}
	return false
}

// ctxMutex is a mutex whose waiters give up when their context ends: a
// batch can take long on a busy router, and a DNS query waiting to allow
// an update host must not wait past its own deadline.
type ctxMutex chan struct{}

func newCtxMutex() ctxMutex { return make(ctxMutex, 1) }

func (m ctxMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("quarantine: wait for the kernel tables: %w", ctx.Err())
	}
}

func (m ctxMutex) unlock() { <-m }

const (
	// batchBuffer is the netlink socket's send and receive buffer: room
	// for a rebuild of the fullest tables (tens of thousands of elements
	// at about 100 bytes each).
	batchBuffer = 8 << 20
	// maxElemsPerMessage keeps one message's element list under the 64
	// KiB a netlink attribute's 16-bit length can describe (elements with
	// an IPv6 key, a timeout and a MAC comment take about 100 bytes);
	// google/nftables v0.3.0 does not split it.
	maxElemsPerMessage = 512
)

// addElements queues els in messages of at most maxElemsPerMessage, all
// in the same batch, so the change stays atomic.
func addElements(c *nftables.Conn, s *nftables.Set, els []nftables.SetElement) error {
	for part := range slices.Chunk(els, maxElemsPerMessage) {
		if err := c.SetAddElements(s, part); err != nil {
			return err
		}
	}
	return nil
}
