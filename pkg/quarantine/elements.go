package quarantine

import (
	"fmt"
	"maps"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/google/nftables"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// keyKind is the type of a set's keys.
type keyKind int

const (
	keyMAC keyKind = iota
	keyV4
	keyV6
	// A quarantined device's MAC and one of its addresses ("mac . addr"):
	// what the bridge lets it say about itself.
	keyPairV4
	keyPairV6
)

func (k keyKind) datatype() nftables.SetDatatype {
	switch k {
	case keyV4:
		return nftables.TypeIPAddr
	case keyV6:
		return nftables.TypeIP6Addr
	case keyPairV4:
		return nftables.MustConcatSetType(nftables.TypeEtherAddr, nftables.TypeIPAddr)
	case keyPairV6:
		return nftables.MustConcatSetType(nftables.TypeEtherAddr, nftables.TypeIP6Addr)
	}
	return nftables.TypeEtherAddr
}

func (k keyKind) suffix() string {
	switch k {
	case keyV4:
		return "v4"
	case keyV6:
		return "v6"
	case keyPairV4:
		return "pair_v4"
	case keyPairV6:
		return "pair_v6"
	}
	return "mac"
}

// pairSep joins a pair key's MAC and address, as nft prints them.
const pairSep = " . "

// pairKey is the key of mac and a in a pair set.
func pairKey(mac hwaddr.MAC, a netip.Addr) string { return mac.String() + pairSep + a.String() }

func pairKind(a netip.Addr) keyKind {
	if a.Is4() {
		return keyPairV4
	}
	return keyPairV6
}

// element is one set element. key is the canonical text of the key (MAC in
// colon form, address as netip prints it), which is also how it is sorted
// and printed; the kernel bytes are derived from it.
type element struct {
	key     string
	expires time.Time // zero: no timeout
	comment string    // owner MAC of a quarantined address
}

// keyBytes encodes a key the way nftables stores it: MAC and addresses in
// network byte order, exactly their wire bytes.
func (k keyKind) keyBytes(key string) ([]byte, error) {
	if k == keyPairV4 || k == keyPairV6 {
		// The MAC is padded to the 8 bytes of two registers.
		macText, addrText, ok := strings.Cut(key, pairSep)
		if !ok {
			return nil, fmt.Errorf("pair key %q without %q", key, pairSep)
		}
		m, err := hwaddr.Parse(macText)
		if err != nil {
			return nil, err
		}
		a, err := netip.ParseAddr(addrText)
		if err != nil {
			return nil, err
		}
		if pairKind(a) != k {
			return nil, fmt.Errorf("pair key %q: wrong address family", key)
		}
		return append(append(m[:], 0, 0), a.AsSlice()...), nil
	}
	if k == keyMAC {
		m, err := hwaddr.Parse(key)
		if err != nil {
			return nil, err
		}
		return m[:], nil
	}
	a, err := netip.ParseAddr(key)
	if err != nil {
		return nil, err
	}
	return a.AsSlice(), nil
}

// keyText decodes kernel key bytes; ok is false if they do not fit the kind.
func (k keyKind) keyText(b []byte) (string, bool) {
	switch {
	case k == keyMAC && len(b) == 6:
		return hwaddr.FromBytes(b).String(), true
	case k == keyV4 && len(b) == 4:
		return netip.AddrFrom4([4]byte(b)).String(), true
	case k == keyV6 && len(b) == 16:
		return netip.AddrFrom16([16]byte(b)).String(), true
	case k == keyPairV4 && len(b) == 12:
		return pairKey(hwaddr.FromBytes(b[:6]), netip.AddrFrom4([4]byte(b[8:]))), true
	case k == keyPairV6 && len(b) == 24:
		return pairKey(hwaddr.FromBytes(b[:6]), netip.AddrFrom16([16]byte(b[8:]))), true
	}
	return "", false
}

func addrKind(a netip.Addr) keyKind {
	if a.Is4() {
		return keyV4
	}
	return keyV6
}

func setName(prefix string, k keyKind) string { return prefix + "_" + k.suffix() }

// contents maps set name to its elements by key.
type contents map[string]map[string]element

func (c contents) add(set string, e element) {
	if c[set] == nil {
		c[set] = map[string]element{}
	}
	c[set][e.key] = e
}

// dynamicSets are the sets whose elements change at run time, with their
// key kinds, in the order they are listed; withAllow adds the allow sets
// (the inet table only).
func dynamicSets(withAllow bool) []setDef {
	var sets []setDef
	prefixes := []string{"protected"}
	for _, m := range modes {
		prefixes = append(prefixes, m.setPrefix())
	}
	if withAllow {
		prefixes = append(prefixes, "allow")
	}
	for _, p := range prefixes {
		kinds := []keyKind{keyMAC, keyV4, keyV6}
		switch {
		case p == "allow":
			kinds = kinds[1:]
		case p != "protected" && !withAllow:
			// The bridge's: pairs of a quarantined MAC and its address.
			kinds = append(kinds, keyPairV4, keyPairV6)
		}
		for _, k := range kinds {
			sets = append(sets, setDef{name: setName(p, k), kind: k, timeout: p != "protected"})
		}
	}
	// Every quarantined MAC and address, of any mode, without timeouts:
	// the bridge's fast path (a frame naming none of them passes at once)
	// and, MACs only, the inet forward chain's test for connections from
	// addresses an entry lacks. An element outliving its quarantine until
	// the next change only sends packets the long way.
	quarantined := []keyKind{keyMAC, keyV4, keyV6}
	if withAllow {
		quarantined = quarantined[:1]
	}
	for _, k := range quarantined {
		sets = append(sets, setDef{name: setName(quarantinedPrefix, k), kind: k})
	}
	return sets
}

// quarantinedPrefix names the sets of every quarantined MAC and address.
const quarantinedPrefix = "quarantined"

// contents renders the state as set elements, as the inet table holds
// them (see forBridge for the bridge's). The router's own addresses are
// always in the protected sets.
func (s *state) contents(cfg Config) contents {
	c := contents{}
	for _, d := range dynamicSets(true) {
		c[d.name] = map[string]element{}
	}
	for m := range s.protectedMACs {
		c.add("protected_mac", element{key: m.String()})
	}
	for a := range s.protectedAddrs {
		c.add(setName("protected", addrKind(a)), element{key: a.String()})
	}
	for _, a := range cfg.RouterAddrs {
		c.add(setName("protected", addrKind(a)), element{key: a.String()})
	}
	for a, exp := range s.allowed {
		c.add(setName("allow", addrKind(a)), element{key: a.String(), expires: exp})
	}
	for mac, e := range s.entries {
		p := e.Mode.setPrefix()
		c.add(setName(p, keyMAC), element{key: mac.String(), expires: e.Expires, comment: mac.String()})
		c.add(setName(quarantinedPrefix, keyMAC), element{key: mac.String()})
		for _, a := range e.Addrs {
			c.add(setName(p, addrKind(a)), element{key: a.String(), expires: e.Expires, comment: mac.String()})
			c.add(setName(p, pairKind(a)), element{key: pairKey(mac, a), expires: e.Expires, comment: mac.String()})
			c.add(setName(quarantinedPrefix, addrKind(a)), element{key: a.String()})
		}
	}
	return c
}

// forBridge is c as the bridge table holds it: the protected address
// sets without the router's own addresses (routers), whoever protected
// them. A frame from or to one of them never crosses the bridge
// legitimately (the router sends it, or takes it in, itself), so there
// they would only open a channel through any quarantine: a LAN device
// claiming the router's address as its source would reach a quarantined
// device, and the quarantined device's frames naming the router as
// destination would reach any MAC they are sent to. The other sets are
// shared with c, not copied.
func (c contents) forBridge(routers []netip.Addr) contents {
	out := maps.Clone(c)
	for _, k := range []keyKind{keyV4, keyV6} {
		name := setName("protected", k)
		kept := maps.Clone(c[name])
		for _, a := range routers {
			delete(kept, a.String())
		}
		out[name] = kept
	}
	return out
}

// forTable is c as the table of family f holds it.
func (c contents) forTable(f nftables.TableFamily, cfg Config) contents {
	if f == nftables.TableFamilyBridge {
		return c.forBridge(cfg.RouterAddrs)
	}
	return c
}

// stateFrom reads the state back from set elements. Addresses are joined to
// their device by the element comment (the owner MAC); an address without a
// known owner is dropped, which is what Reconcile then deletes.
func stateFrom(c contents) *state {
	s := newState()
	for key := range c["protected_mac"] {
		if m, err := hwaddr.Parse(key); err == nil {
			s.protectedMACs[m] = true
		}
	}
	for _, set := range []string{"protected_v4", "protected_v6"} {
		for key := range c[set] {
			if a, err := netip.ParseAddr(key); err == nil {
				s.protectedAddrs[a] = true
			}
		}
	}
	for _, set := range []string{"allow_v4", "allow_v6"} {
		for key, e := range c[set] {
			if a, err := netip.ParseAddr(key); err == nil {
				s.allowed[a] = e.expires
			}
		}
	}
	for _, m := range modes {
		p := m.setPrefix()
		for key, e := range c[setName(p, keyMAC)] {
			mac, err := hwaddr.Parse(key)
			if err != nil {
				continue
			}
			s.entries[mac] = Entry{MAC: mac, Mode: m, Expires: e.expires}
		}
		for _, k := range []keyKind{keyV4, keyV6} {
			for key, e := range c[setName(p, k)] {
				a, err1 := netip.ParseAddr(key)
				mac, err2 := hwaddr.Parse(e.comment)
				owner, ok := s.entries[mac]
				if err1 != nil || err2 != nil || !ok || owner.Mode != m {
					continue
				}
				owner.Addrs = append(owner.Addrs, a)
				s.entries[mac] = owner
			}
		}
	}
	for mac, e := range s.entries {
		sortAddrs(e.Addrs)
		s.entries[mac] = e
	}
	return s
}

// expiryTolerance absorbs the kernel's jiffy rounding of timeouts, so that
// reading back and re-applying the same expiry is no change.
const expiryTolerance = time.Second

func sameElement(a, b element) bool {
	if a.comment != b.comment || a.expires.IsZero() != b.expires.IsZero() {
		return false
	}
	d := a.expires.Sub(b.expires)
	return d <= expiryTolerance && d >= -expiryTolerance
}

// change is what one batch does to one set: delete, then add. An element
// whose expiry or owner changed is in both (the kernel does not update a
// timeout in place).
type change struct {
	set      string
	del, add []element
}

// diff lists the changes that turn have into want, in set order.
func diff(have, want contents, sets []setDef) []change {
	var out []change
	for _, d := range sets {
		var ch change
		ch.set = d.name
		for key, h := range have[d.name] {
			w, ok := want[d.name][key]
			if !ok || !sameElement(h, w) {
				ch.del = append(ch.del, h)
			}
		}
		for key, w := range want[d.name] {
			h, ok := have[d.name][key]
			if !ok || !sameElement(h, w) {
				ch.add = append(ch.add, w)
			}
		}
		if len(ch.del)+len(ch.add) > 0 {
			sortElements(ch.del)
			sortElements(ch.add)
			out = append(out, ch)
		}
	}
	return out
}

// timeoutFor is the element timeout that makes an element expire at exp;
// ok is false if it has already expired.
func timeoutFor(exp, now time.Time) (time.Duration, bool) {
	if exp.IsZero() {
		return 0, true
	}
	d := exp.Sub(now)
	if d < time.Millisecond {
		return 0, false
	}
	return d.Truncate(time.Millisecond), true
}

// sortElements orders elements by key value: addresses numerically, MACs by
// their fixed-width text.
func sortElements(es []element) {
	sort.Slice(es, func(i, j int) bool { return keyLess(es[i].key, es[j].key) })
}

func keyLess(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 == nil && err2 == nil {
		return x.Less(y)
	}
	return a < b
}
