package quarantine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// layoutVersion is bumped whenever the rules change in a way the rule texts
// below do not show; it is part of the structure tag. 2: DNS redirect,
// packet-count capture rules. 4: capture folded into forward.
const layoutVersion = 4

// Base chain priorities. A drop in any base chain is final, so ours need not
// run before fw4's to win. Input and NAT run just before fw4's (filter 0,
// dstnat -100) so that a quarantined device's packets cost fw4 nothing and
// our redirect is the NAT that applies (the first NAT chain to bind a
// mapping wins). Forward runs after fw4's, so that its capture sees only
// what every verdict let pass: it is the one chain of ours that every
// forwarded packet crosses.
const (
	prioFilter        = -10  // filter - 10
	prioDstNAT        = -110 // dstnat - 10
	prioForward       = 10   // filter + 10
	prioBridgeFilter  = -210 // bridge filter (-200) - 10
	prioBridgeCapture = -190 // bridge filter + 10
)

type setDef struct {
	name     string
	kind     keyKind
	timeout  bool
	interval bool
	// flow: a set the packet path fills with UDP flows (address .
	// address . port . port of kind's family), which iotgw never writes.
	flow bool
}

// Flow sets: how long an exchange the owner started stays recognised
// without a packet from the owner, and how many are remembered (a full set
// only stops recognising new answers, it never stops the owner's frames).
const (
	flowTimeout = 2 * time.Minute
	flowMax     = 1024
)

// keyType is the set's key type as the kernel knows it.
func (d setDef) keyType() nftables.SetDatatype {
	if d.flow {
		return nftables.MustConcatSetType(d.kind.datatype(), d.kind.datatype(), nftables.TypeInetService, nftables.TypeInetService)
	}
	return d.kind.datatype()
}

// ownerFlowSets remember the UDP exchanges protected devices start in the
// bridge, so that the answers of a quarantined device to them can pass.
func ownerFlowSets() []setDef {
	return []setDef{{name: "owner_udp_v4", kind: keyV4, timeout: true, flow: true}, {name: "owner_udp_v6", kind: keyV6, timeout: true, flow: true}}
}

type chainDef struct {
	name  string
	hook  *nftables.ChainHook // nil: a regular chain, reached by jump
	prio  int32
	typ   nftables.ChainType
	rules []ruleDef
}

// ruleDef is one rule twice: as nft lists it and as kernel expressions. The
// real-kernel test checks that `nft list` prints exactly text for exprs.
type ruleDef struct {
	text  string
	exprs []expr.Any
}

type tableDef struct {
	family nftables.TableFamily
	sets   []setDef
	chains []chainDef
}

// layout is everything static: both tables, their sets and chains, the LAN
// interval sets' content and the tag every rule carries.
type layout struct {
	name         string
	tag          string // rule comment; differs whenever the structure does
	inet, bridge tableDef
	lan          map[string][]netip.Prefix // interval set name → prefixes
	// bridgeCapture: the bridge table has a capture chain.
	bridgeCapture bool
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return "inet"
}

// match is a piece of a rule: its nft text and expressions.
type match struct {
	text  string
	exprs []expr.Any
}

func rule(parts ...match) ruleDef {
	var texts []string
	var exprs []expr.Any
	for _, p := range parts {
		texts = append(texts, p.text)
		exprs = append(exprs, p.exprs...)
	}
	return ruleDef{text: strings.Join(texts, " "), exprs: exprs}
}

// builder makes matches for one table family; inet and bridge need
// different dependencies in front of a header match (as nft adds them).
type builder struct{ family nftables.TableFamily }

func load(key expr.MetaKey) *expr.Meta { return &expr.Meta{Key: key, Register: 1} }

func eq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }

func lookup(set string, invert bool) *expr.Lookup {
	return &expr.Lookup{SourceRegister: 1, SetName: set, Invert: invert}
}

func payload(base expr.PayloadBase, offset, n uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: n}
}

// etherTypeIs is the bridge family's dependency of an IPv4 (k keyV4) or
// IPv6 header match, as nft adds it: the frame's protocol.
func etherTypeIs(k keyKind) []expr.Any {
	if k == keyV6 {
		return metaProtocol("ip6", unix.ETH_P_IPV6).exprs
	}
	return metaProtocol("ip", unix.ETH_P_IP).exprs
}

// metaProtocol matches frames of an EtherType (nft's name for it given),
// read after the one VLAN tag the kernel takes off a frame as it arrives.
func metaProtocol(name string, ethertype uint16) match {
	return match{
		text:  "meta protocol " + name,
		exprs: []expr.Any{load(expr.MetaKeyPROTOCOL), eq(binary.BigEndian.AppendUint16(nil, ethertype))},
	}
}

// isARP is the dependency of an ARP header match, as nft adds it in the
// bridge family: the Ethernet type field.
func isARP() []expr.Any {
	return []expr.Any{payload(expr.PayloadBaseLLHeader, 12, 2), eq(binary.BigEndian.AppendUint16(nil, unix.ETH_P_ARP))}
}

// ether matches the source (or destination) MAC against a set. In the inet
// family the link-layer header is only there for Ethernet devices, which
// nft checks with meta iiftype (host byte order, as the kernel stores it).
func (b builder) ether(dir string, set string) match { return b.etherLookup(dir, set, false) }

// etherNotIn matches the source (or destination) MAC outside a set.
func (b builder) etherNotIn(dir string, set string) match { return b.etherLookup(dir, set, true) }

func (b builder) etherLookup(dir string, set string, invert bool) match {
	var exprs []expr.Any
	if b.family != nftables.TableFamilyBridge {
		exprs = append(exprs, load(expr.MetaKeyIIFTYPE), eq(binary.NativeEndian.AppendUint16(nil, unix.ARPHRD_ETHER)))
	}
	offset := uint32(0)
	if dir == "saddr" {
		offset = 6
	}
	op := " @"
	if invert {
		op = " != @"
	}
	exprs = append(exprs, payload(expr.PayloadBaseLLHeader, offset, 6), lookup(set, invert))
	return match{text: "ether " + dir + op + set, exprs: exprs}
}

// ipSaddr is where an IPv4 (k keyV4) or IPv6 header keeps its source
// address, and what nft calls the header; the destination follows it.
func ipSaddr(k keyKind) (proto string, offset, n uint32) {
	if k == keyV6 {
		return "ip6", 8, 16
	}
	return "ip", 12, 4
}

// noneQuarantined matches an IPv4 (k keyV4) or IPv6 frame whose MACs and
// addresses are all outside the bridge's quarantined sets. ARP and other
// frames that are not IP never match, nor does one whose type hides
// behind a second VLAN tag; a single tag the kernel takes off, and the
// frame is read as an untagged one (by every rule of the table).
func noneQuarantined(k keyKind) match {
	proto, offset, n := ipSaddr(k)
	macs, addrs := setName(quarantinedPrefix, keyMAC), setName(quarantinedPrefix, k)
	exprs := etherTypeIs(k)
	exprs = append(exprs,
		payload(expr.PayloadBaseLLHeader, 6, 6), lookup(macs, true),
		payload(expr.PayloadBaseLLHeader, 0, 6), lookup(macs, true),
		payload(expr.PayloadBaseNetworkHeader, offset, n), lookup(addrs, true),
		payload(expr.PayloadBaseNetworkHeader, offset+n, n), lookup(addrs, true))
	return match{
		text:  fmt.Sprintf("ether saddr != @%[1]s ether daddr != @%[1]s %[2]s saddr != @%[3]s %[2]s daddr != @%[3]s", macs, proto, addrs),
		exprs: exprs,
	}
}

// unquarantinedSource matches IPv4 (k keyV4) or IPv6 packets whose
// source address is in no mode's set.
func (b builder) unquarantinedSource(k keyKind) []match {
	var ms []match
	for _, m := range modes {
		ms = append(ms, b.addr(k, "saddr", setName(m.setPrefix(), k), true))
	}
	return ms
}

// addr matches the IPv4 or IPv6 source or destination against a set.
func (b builder) addr(k keyKind, dir string, set string, invert bool) match {
	var dep []expr.Any
	proto, offset, n := ipSaddr(k)
	if dir == "daddr" {
		offset += n
	}
	if b.family == nftables.TableFamilyBridge {
		dep = etherTypeIs(k)
	} else {
		nfproto := byte(unix.NFPROTO_IPV4)
		if k == keyV6 {
			nfproto = unix.NFPROTO_IPV6
		}
		dep = []expr.Any{load(expr.MetaKeyNFPROTO), eq([]byte{nfproto})}
	}
	op := " "
	if invert {
		op = " != "
	}
	exprs := append(dep, payload(expr.PayloadBaseNetworkHeader, offset, n), lookup(set, invert))
	return match{text: proto + " " + dir + op + "@" + set, exprs: exprs}
}

func dport(proto string, port uint16) match {
	p := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		p = unix.IPPROTO_UDP
	}
	return match{
		text: fmt.Sprintf("%s dport %d", proto, port),
		exprs: []expr.Any{
			load(expr.MetaKeyL4PROTO), eq([]byte{p}),
			payload(expr.PayloadBaseTransportHeader, 2, 2), eq(binary.BigEndian.AppendUint16(nil, port)),
		},
	}
}

func icmpv6Type(name string, typ byte) match {
	return l4Type("icmpv6", unix.IPPROTO_ICMPV6, name, typ)
}

func icmpType(name string, typ byte) match {
	return l4Type("icmp", unix.IPPROTO_ICMP, name, typ)
}

func l4Type(proto string, number byte, name string, typ byte) match {
	return match{
		text: proto + " type " + name,
		exprs: []expr.Any{
			load(expr.MetaKeyL4PROTO), eq([]byte{number}),
			payload(expr.PayloadBaseTransportHeader, 0, 1), eq([]byte{typ}),
		},
	}
}

// tcpAck matches TCP segments with ACK set: every segment of a connection
// but its first.
func tcpAck() match {
	const ack = 0x10
	return match{
		text: "tcp flags & ack == ack",
		exprs: []expr.Any{
			load(expr.MetaKeyL4PROTO), eq([]byte{unix.IPPROTO_TCP}),
			payload(expr.PayloadBaseTransportHeader, 13, 1),
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{ack}, Xor: []byte{0}},
			eq([]byte{ack}),
		},
	}
}

// udpFlow loads a UDP packet's flow of kind k into registers from 1 on, as
// nft lays out a concatenation: forward (saddr . daddr . sport . dport),
// or reversed for the answer's view. Its text is nft's, without the
// braces.
func udpFlow(k keyKind, reversed bool) (string, []expr.Any) {
	proto, offset, n := ipSaddr(k)
	// Registers of the four fields: 32-bit registers start at 8, and
	// 16-byte ones (1 to 4) span four of them; nft numbers each field by
	// the smallest register that names its start.
	regs := [4]uint32{1, 9, 10, 11}
	if k == keyV6 {
		regs = [4]uint32{1, 2, 3, 17}
	}
	src, dst := offset, offset+n
	sport, dport := uint32(0), uint32(2)
	text := proto + " saddr . " + proto + " daddr . udp sport . udp dport"
	if reversed {
		src, dst, sport, dport = dst, src, dport, sport
		text = proto + " daddr . " + proto + " saddr . udp dport . udp sport"
	}
	exprs := append(l4proto("udp", unix.IPPROTO_UDP).exprs, etherTypeIs(k)...)
	exprs = append(exprs,
		&expr.Payload{DestRegister: regs[0], Base: expr.PayloadBaseNetworkHeader, Offset: src, Len: n},
		&expr.Payload{DestRegister: regs[1], Base: expr.PayloadBaseNetworkHeader, Offset: dst, Len: n},
		&expr.Payload{DestRegister: regs[2], Base: expr.PayloadBaseTransportHeader, Offset: sport, Len: 2},
		&expr.Payload{DestRegister: regs[3], Base: expr.PayloadBaseTransportHeader, Offset: dport, Len: 2})
	return text, exprs
}

// rememberFlow adds (or refreshes) a UDP packet's flow in set.
func rememberFlow(k keyKind, set string) match {
	text, exprs := udpFlow(k, false)
	return match{
		text:  "update @" + set + " { " + text + " }",
		exprs: append(exprs, &expr.Dynset{SrcRegKey: 1, SetName: set, Operation: uint32(unix.NFT_DYNSET_OP_UPDATE)}),
	}
}

// answersFlow matches a UDP packet that answers a flow in set.
func answersFlow(k keyKind, set string) match {
	text, exprs := udpFlow(k, true)
	return match{text: text + " @" + set, exprs: append(exprs, lookup(set, false))}
}

// unicast matches frames to one host: not broadcast, not multicast.
func unicast() match {
	return both(metaByte("pkttype", expr.MetaKeyPKTTYPE, "!=", "broadcast", unix.PACKET_BROADCAST),
		metaByte("pkttype", expr.MetaKeyPKTTYPE, "!=", "multicast", unix.PACKET_MULTICAST))
}

// pkttype matches frames of one kind of destination (broadcast,
// multicast).
func pkttype(name string, t byte) match {
	return metaByte("pkttype", expr.MetaKeyPKTTYPE, "==", name, t)
}

// metaByte compares a one-byte meta key with a value (op "==" or "!="),
// printed as nft does: "meta l4proto tcp", "meta pkttype != broadcast".
func metaByte(field string, key expr.MetaKey, op, name string, v byte) match {
	cmpOp, text := expr.CmpOpEq, "meta "+field+" "+name
	if op == "!=" {
		cmpOp, text = expr.CmpOpNeq, "meta "+field+" != "+name
	}
	return match{text: text, exprs: []expr.Any{load(key), &expr.Cmp{Op: cmpOp, Register: 1, Data: []byte{v}}}}
}

// both is a and then b, as one match.
func both(a, b match) match {
	return match{text: a.text + " " + b.text, exprs: append(slices.Clip(a.exprs), b.exprs...)}
}

// arpIP matches an ARP packet (Ethernet, IPv4) whose sender ("saddr") or
// target ("daddr") IPv4 address is in set.
func arpIP(dir, set string) match {
	offset := uint32(14)
	if dir == "daddr" {
		offset = 24
	}
	return match{
		text:  "arp " + dir + " ip @" + set,
		exprs: append(isARP(), payload(expr.PayloadBaseNetworkHeader, offset, 4), lookup(set, false)),
	}
}

// An address a frame's sender states about itself, for senderPair.
type claimedAddr int

const (
	arpSaddr     claimedAddr = iota // ARP sender address
	ip6Saddr                        // IPv6 source address
	ndTargetAddr                    // neighbour advert's target
)

// senderPair matches a frame whose source MAC and the address it states
// about itself are a pair in set: a quarantined device speaking of its
// own address, not of another quarantined device's. The MAC takes two
// registers (1, padded to 8 bytes), the address starts at the third.
func senderPair(what claimedAddr, set string) match {
	var dep []expr.Any
	var text string
	var addr *expr.Payload
	switch what {
	case arpSaddr:
		dep = isARP()
		text, addr = "arp saddr ip", &expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: 14, Len: 4}
	case ip6Saddr:
		dep = etherTypeIs(keyV6)
		text, addr = "ip6 saddr", &expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16}
	case ndTargetAddr:
		// After type, code, checksum and four bytes; nft 1.0.6 has no
		// name for the field and prints the raw load.
		text, addr = "@th,64,128", &expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 8, Len: 16}
	}
	addr.DestRegister = 10 // the third 32-bit register
	exprs := append(dep, payload(expr.PayloadBaseLLHeader, 6, 6), addr, lookup(set, false))
	return match{text: "ether saddr . " + text + " @" + set, exprs: exprs}
}

// l4proto matches every packet of a transport protocol, fragments too.
func l4proto(name string, number byte) match {
	return metaByte("l4proto", expr.MetaKeyL4PROTO, "==", name, number)
}

// established matches replies and related packets.
func established() match {
	return ctState("established,related", expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
}

// opening matches the first packet of a connection (ct state new), which
// is always of the original direction.
func opening() match { return ctState("new", expr.CtStateBitNEW) }

// ctState matches packets whose connection is in one of the states named
// (as nft prints them) by bits. ct state is a host byte order bitmask in
// the kernel.
func ctState(names string, bits uint32) match {
	return match{
		text: "ct state " + names,
		exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
		},
	}
}

// notTCPOrUDP matches any packet that is neither TCP nor UDP.
func notTCPOrUDP() match {
	return both(metaByte("l4proto", expr.MetaKeyL4PROTO, "!=", "tcp", unix.IPPROTO_TCP),
		metaByte("l4proto", expr.MetaKeyL4PROTO, "!=", "udp", unix.IPPROTO_UDP))
}

// ctBudgetSpent matches packets of a connection direction ("original" or
// "reply") once that direction has carried at least bytes bytes and
// packets packets (the kernel's counters already include the packet being
// matched). The kernel keeps the counters in host byte order; like nft,
// convert them to network order so that "at least" compares big-endian on
// every CPU.
func ctBudgetSpent(dir string, bytes, packets uint64) match {
	d := ctDirNumber(dir)
	exprs := ctDirection(dir).exprs
	for _, c := range []struct {
		key expr.CtKey
		min uint64
	}{{expr.CtKeyBYTES, bytes}, {expr.CtKeyPKTS, packets}} {
		exprs = append(exprs,
			&expr.Ct{Key: c.key, Register: 1, Direction: uint32(d)},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 8, Size: 8},
			&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: binary.BigEndian.AppendUint64(nil, c.min)})
	}
	return match{
		text:  fmt.Sprintf("ct direction %[1]s ct %[1]s bytes >= %[2]d ct %[1]s packets >= %[3]d", dir, bytes, packets),
		exprs: exprs,
	}
}

// ctUncounted matches packets of a connection without counters: one the
// kernel tracked before accounting was on, whose "ct packets" reads 0
// until it ends. A counted connection's count holds at least the packet
// that made it, so it never reads 0. The count is of both directions: a
// reply direction reads 0 until its first counted packet, also when
// packets related to it (an ICMP error, before any reply) or ones
// conntrack ignores come its way first.
func ctUncounted() match {
	return match{
		text:  "ct packets 0",
		exprs: []expr.Any{&expr.Ct{Key: expr.CtKeyPKTS, Register: 1}, eq(make([]byte, 8))},
	}
}

// The kernel's ct status bits (include/uapi/linux/netfilter/
// nf_conntrack_common.h).
const (
	ipsExpected  = 1 << 0
	ipsSeenReply = 1 << 1
)

// repliedNotExpected matches connections that have seen a reply (those a
// quarantine let start, as ct state established does) and that no
// conntrack helper expected: an expected one (FTP data, SIP media) starts
// with its parent's mark, which says nothing about its own budget. One
// test of the status word, as nft prints it.
func repliedNotExpected() match {
	return match{
		text: "ct status seen-reply / expected,seen-reply",
		exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binary.NativeEndian.AppendUint32(nil, ipsExpected|ipsSeenReply), Xor: make([]byte, 4)},
			eq(binary.NativeEndian.AppendUint32(nil, ipsSeenReply)),
		},
	}
}

// ctDirNumber is the kernel's number of a connection direction.
func ctDirNumber(dir string) byte {
	if dir == "reply" {
		return 1 // IP_CT_DIR_REPLY
	}
	return 0 // IP_CT_DIR_ORIGINAL
}

// ctDirection matches packets of one direction of their connection.
func ctDirection(dir string) match {
	return match{
		text:  "ct direction " + dir,
		exprs: []expr.Any{&expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1}, eq([]byte{ctDirNumber(dir)})},
	}
}

// ctMarkAll matches connections whose mark has every bit of mask set. The
// kernel keeps the mark in host byte order.
func ctMarkAll(mask uint32) match {
	m := binary.NativeEndian.AppendUint32(nil, mask)
	return match{
		text: fmt.Sprintf("ct mark & 0x%08x == 0x%08x", mask, mask),
		exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: m},
		},
	}
}

// ctMarkSet sets bits in the connection's mark and keeps the others. The
// kernel raises a conntrack event only when the mark changes.
func ctMarkSet(bits uint32) match {
	return match{
		text: fmt.Sprintf("ct mark set ct mark | 0x%08x", bits),
		exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binary.NativeEndian.AppendUint32(nil, ^bits), Xor: binary.NativeEndian.AppendUint32(nil, bits)},
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true},
		},
	}
}

// metaMarkSet sets bits in the packet's mark and keeps the others, which
// routing, shaping or other firewalls may use. The kernel keeps the mark
// in host byte order.
func metaMarkSet(bits uint32) match {
	return match{
		text: fmt.Sprintf("meta mark set meta mark | 0x%08x", bits),
		exprs: []expr.Any{
			load(expr.MetaKeyMARK),
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binary.NativeEndian.AppendUint32(nil, ^bits), Xor: binary.NativeEndian.AppendUint32(nil, bits)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		},
	}
}

// iifname and oifname match the input or output interface by
// its exact name, which the kernel compares as IFNAMSIZ bytes, zero
// padded.
func iifname(name string) match { return ifname("iifname", expr.MetaKeyIIFNAME, expr.CmpOpEq, name) }

func oifname(name string) match { return ifname("oifname", expr.MetaKeyOIFNAME, expr.CmpOpEq, name) }

func ifname(text string, key expr.MetaKey, op expr.CmpOp, name string) match {
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	return match{
		text:  fmt.Sprintf("%s %q", text, name),
		exprs: []expr.Any{load(key), &expr.Cmp{Op: op, Register: 1, Data: data}},
	}
}

// fibDaddrLocal matches packets addressed to one of the router's own
// addresses. The route type is a host byte order u32.
func fibDaddrLocal() match {
	return match{
		text: "fib daddr type local",
		exprs: []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			eq(binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)),
		},
	}
}

// fibSaddrNotLocal matches packets whose source address is none of the
// router's own (any interface's). The route type is a host byte order
// u32.
func fibSaddrNotLocal() match {
	return match{
		text: "fib saddr type != local",
		exprs: []expr.Any{
			&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
		},
	}
}

// fibSaddrIifExists matches packets whose source address the router
// routes back out of the interface they came in on (a reverse-path
// check, as fw4's include does): a LAN device's own address, not an
// internet one it made up. The result is a host byte order u32, 1 when
// a route exists.
func fibSaddrIifExists() match {
	return match{
		text: "fib saddr . iif oif exists",
		exprs: []expr.Any{
			&expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true, FlagPRESENT: true},
			eq(binary.NativeEndian.AppendUint32(nil, 1)),
		},
	}
}

func nflog(group uint16, snaplen uint32) match {
	return match{
		text: fmt.Sprintf("log group %d snaplen %d", group, snaplen),
		exprs: []expr.Any{&expr.Log{
			Key:   1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_SNAPLEN,
			Group: group, Snaplen: snaplen,
		}},
	}
}

func redirectTo(port uint16) match {
	return match{
		text: fmt.Sprintf("redirect to :%d", port),
		exprs: []expr.Any{
			&expr.Immediate{Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
			&expr.Redir{RegisterProtoMin: 1, Flags: unix.NF_NAT_RANGE_PROTO_SPECIFIED},
		},
	}
}

func verdict(kind expr.VerdictKind) match {
	names := map[expr.VerdictKind]string{expr.VerdictAccept: "accept", expr.VerdictDrop: "drop", expr.VerdictReturn: "return"}
	return match{text: names[kind], exprs: []expr.Any{&expr.Verdict{Kind: kind}}}
}

func jump(chain string) match {
	return match{text: "jump " + chain, exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}}
}

func goTo(chain string) match {
	return match{text: "goto " + chain, exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}}}
}

func accept() match { return verdict(expr.VerdictAccept) }

func drop() match { return verdict(expr.VerdictDrop) }

var addrKinds = []keyKind{keyV4, keyV6}

// newLayout builds the static part from the configuration. bridgeCT says
// whether the kernel has bridge conntrack (nf_conntrack_bridge), without
// which the bridge table has no capture chain.
func newLayout(cfg Config, bridgeCT bool) *layout {
	l := &layout{name: cfg.TableName, lan: lanSets(cfg.LANPrefixes), bridgeCapture: cfg.Capture.Enabled && cfg.Capture.PacketMark == 0 && bridgeCT}
	l.inet = inetTable(cfg)
	l.bridge = bridgeTable(cfg, bridgeCT)
	l.tag = ruleTagPrefix + l.fingerprint()
	return l
}

// updateServices are what an updates-only device may send an allowed
// address: what firmware downloads use, HTTP and HTTPS over TCP and
// HTTP/3 (QUIC) over UDP 443. An update host is often a CDN front that
// answers on other ports too (a relay, a VPN); DNS goes to the proxy or
// the router, NTP to no update host.
func updateServices() []match {
	return []match{dport("tcp", 80), dport("tcp", 443), dport("udp", 443)}
}

// reachable lists, per mode, the tests of where a quarantined device may
// send forwarded packets (block: nowhere): the mode chains' and
// unlearnt_source's.
func reachable(b builder, cfg Config) map[Mode][][]match {
	reach := map[Mode][][]match{}
	for _, k := range addrKinds {
		for _, service := range updateServices() {
			reach[ModeUpdatesOnly] = append(reach[ModeUpdatesOnly], []match{b.addr(k, "daddr", setName("allow", k), false), service})
		}
		if cfg.IsolateLAN {
			continue
		}
		// The LAN prefixes count on the LAN interfaces only: by default
		// they are all private ranges, which beyond the WAN port hold
		// the ISP's modem and its resolver (a double NAT), the internet's
		// doorstep for an isolate device.
		lan := b.addr(k, "daddr", setName("lan", k), false)
		if len(cfg.LANInterfaces) == 0 {
			reach[ModeIsolate] = append(reach[ModeIsolate], []match{lan})
		}
		for _, ifname := range cfg.LANInterfaces {
			reach[ModeIsolate] = append(reach[ModeIsolate], []match{oifname(ifname), lan})
		}
	}
	return reach
}

// ownNames lists the chains and sets that some configuration builds in a
// table of family f: those of one with every optional part (capture, the
// DNS proxy, LAN interfaces, bridge conntrack).
func ownNames(f nftables.TableFamily) (chains, sets []string) {
	def := everyTable(f)
	for _, c := range def.chains {
		chains = append(chains, c.name)
	}
	for _, s := range def.sets {
		sets = append(sets, s.name)
	}
	return chains, sets
}

// everyTable is the table of family f with every optional part built.
func everyTable(f nftables.TableFamily) tableDef {
	every := newLayout(Config{
		NoticePort: 1, DNSProxyPort: 1, LANInterfaces: []string{"lan"},
		Capture: CaptureConfig{Enabled: true, Bytes: 1, Packets: 1},
	}, true)
	if f == nftables.TableFamilyBridge {
		return every.bridge
	}
	return every.inet
}

// lanSets sorts the LAN prefixes into the interval sets by family. A
// prefix inside another (a bridge's /24 within 192.168.0.0/16) is left
// out: nft refuses overlapping intervals in a set, and so may a kernel.
func lanSets(prefixes []netip.Prefix) map[string][]netip.Prefix {
	lan := map[string][]netip.Prefix{"lan_v4": nil, "lan_v6": nil}
	for i, p := range prefixes {
		p = p.Masked()
		if slices.ContainsFunc(prefixes, func(q netip.Prefix) bool {
			return q.Bits() < p.Bits() && q.Contains(p.Addr())
		}) || slices.ContainsFunc(prefixes[:i], func(q netip.Prefix) bool { return q.Masked() == p }) {
			continue
		}
		name := "lan_v6"
		if p.Addr().Is4() {
			name = "lan_v4"
		}
		lan[name] = append(lan[name], p)
	}
	return lan
}

func inetTable(cfg Config) tableDef {
	b := builder{nftables.TableFamilyINet}
	sets := dynamicSets(true)
	sets = append(sets,
		setDef{name: "lan_v4", kind: keyV4, interval: true},
		setDef{name: "lan_v6", kind: keyV6, interval: true})

	// Quarantined devices reach only DHCP, DNS and the notice page on the
	// router (and, for IPv6 to work at all, neighbour discovery). Their
	// DNS goes to port 53 when there is no DNS proxy; with one, it
	// arrives redirected on the proxy's port, and port 53 stays shut: a
	// query that reaches it was not redirected, because it joined a
	// connection NAT had seen already (one a LAN peer opened, whose
	// address and port the device took), and the router's resolver
	// would look its name up on the internet.
	limited := chainDef{name: "limited", rules: []ruleDef{
		rule(dport("udp", 67), accept()),
		rule(dport("udp", 547), accept()),
	}}
	// DNS and the notice page only from an address on the LAN side: the
	// answer goes to the source, from the address the device asked (the
	// router's WAN address, say), so a query from an internet address
	// the device made up would carry the name it chose to that host, and
	// a SYN the SYN-ACK with its source port and sequence number.
	dnsPort := uint16(53)
	if cfg.DNSProxyPort != 0 {
		dnsPort = cfg.DNSProxyPort
	}
	limited.rules = append(limited.rules,
		rule(dport("udp", dnsPort), fibSaddrIifExists(), accept()),
		rule(dport("tcp", dnsPort), fibSaddrIifExists(), accept()),
		rule(dport("tcp", cfg.NoticePort), fibSaddrIifExists(), accept()),
		rule(icmpv6Type("nd-router-solicit", 133), accept()),
		rule(icmpv6Type("nd-neighbor-solicit", 135), accept()),
		rule(icmpv6Type("nd-neighbor-advert", 136), accept()),
		rule(drop()))

	// MAC first: a source address is easy to forge, the MAC a device sends
	// from is what identifies it at the router's port. Protected devices
	// are accepted before any quarantine rule of their kind.
	input := chainDef{name: "input", hook: nftables.ChainHookInput, prio: prioFilter, typ: nftables.ChainTypeFilter}
	// Replies on connections the router opened (the active audit, UPnP
	// description fetches, the owner's shell on the router) pass first: a
	// quarantined device's answer to them must not die in "limited".
	input.rules = append(input.rules, rule(established(), ctDirection("reply"), accept()))
	// A protected MAC is the owner's only from an address no entry
	// holds: a quarantined device copying the owner's MAC into its
	// frames, from its own address, meets that address's rule below.
	for _, k := range addrKinds {
		input.rules = append(input.rules, rule(slices.Concat([]match{b.ether("saddr", "protected_mac")}, b.unquarantinedSource(k), []match{accept()})...))
	}
	for _, m := range modes {
		input.rules = append(input.rules, rule(b.ether("saddr", setName(m.setPrefix(), keyMAC)), jump("limited")))
	}
	for _, k := range addrKinds {
		input.rules = append(input.rules, rule(b.addr(k, "saddr", setName("protected", k), false), accept()))
	}
	for _, k := range addrKinds {
		for _, m := range modes {
			input.rules = append(input.rules, rule(b.addr(k, "saddr", setName(m.setPrefix(), k), false), jump("limited")))
		}
	}

	// What each mode does with forwarded traffic from (out) and to (in)
	// the device. The mode chains are reached by goto and end every path
	// with a verdict, so a packet they let pass is never matched twice.
	outOf := map[Mode]match{ModeBlock: drop(), ModeUpdatesOnly: goTo("updates_out"), ModeIsolate: goTo("isolate_out")}
	into := map[Mode]match{ModeBlock: drop(), ModeUpdatesOnly: goTo("updates_in"), ModeIsolate: goTo("isolate_in")}

	// pass is what becomes of a forwarded packet that no quarantine stops:
	// accepted, or with capture on, handed to the capture rules.
	pass := accept()
	forward := chainDef{name: "forward", hook: nftables.ChainHookForward, prio: prioForward, typ: nftables.ChainTypeFilter}
	// Quarantine deletes the connections of the entry's addresses only. A
	// connection the device opened before from an address the entry
	// lacks (an IPv6 privacy address not learnt yet, one pushed out of
	// the addresses kept per device) would ride the fast paths below: a
	// quarantined MAC's packets in the original direction from such an
	// address meet its mode's rules first. Other devices' packets pay one
	// lookup in the original direction; replies (downloads) none.
	// The chain only returns or drops: what it lets go on meets the
	// rules after the jump, which hand it to capture once.
	reach := reachable(b, cfg)
	unlearnt := chainDef{name: "unlearnt_source"}
	forward.rules = append(forward.rules, rule(ctDirection("original"), b.ether("saddr", setName(quarantinedPrefix, keyMAC)), jump(unlearnt.name)))
	for _, m := range modes {
		mac := b.ether("saddr", setName(m.setPrefix(), keyMAC))
		for _, k := range addrKinds {
			unlearnt.rules = append(unlearnt.rules, rule(mac, b.addr(k, "saddr", setName(m.setPrefix(), k), false), verdict(expr.VerdictReturn)))
		}
		for _, to := range reach[m] {
			unlearnt.rules = append(unlearnt.rules, rule(slices.Concat([]match{mac}, to, []match{verdict(expr.VerdictReturn)})...))
		}
		unlearnt.rules = append(unlearnt.rules, rule(mac, drop()))
	}
	if cfg.Capture.Enabled {
		pass = goTo("capture")
		// A direction whose budget is spent is done with: tests of its
		// status, direction and mark, which the kernel reads inline, are
		// the cheapest there are for nearly every packet a router
		// forwards.
		forward.rules = append(forward.rules, spentFastPath(cfg.Capture)...)
	}
	// A quarantined device's replies are checked by its MAC, in a chain
	// of their own ahead of fw4's (it only drops or returns, so it grants
	// nothing): a connection started towards an address the device's
	// entry lacks (an IPv6 address not learnt yet), from the WAN, another
	// LAN segment or a LAN host sending through the router, passes the
	// address rules, its replies would ride the established fast path,
	// and fw4's flow offloading, at priority 0, would take a UDP one out
	// of the hooks at its first reply. What its mode lets into the device
	// may be answered: replies to the router's and the management
	// addresses (a management address over a VPN), and an isolate
	// device's to the LAN. So may the connections the owner's devices
	// known by their MAC alone open, whose replies name an address no set
	// holds: they carry the owner mark, set below on their first packet,
	// whatever address of the device they were opened to. Replies from
	// an address the entry holds to the LAN return too: the forward rules
	// judged their connection's first packet. Only replies from a
	// quarantined MAC in from a LAN interface (from anywhere, when none
	// is named) go further than the jump's one lookup.
	earlyForward := chainDef{name: "forward_early", hook: nftables.ChainHookForward, prio: prioFilter, typ: nftables.ChainTypeFilter}
	quarantinedReplies := chainDef{name: "lan_replies"}
	fromQuarantined := []match{ctDirection("reply"), b.ether("saddr", setName(quarantinedPrefix, keyMAC)), jump(quarantinedReplies.name)}
	if len(cfg.LANInterfaces) == 0 {
		earlyForward.rules = append(earlyForward.rules, rule(fromQuarantined...))
	}
	for _, in := range cfg.LANInterfaces {
		earlyForward.rules = append(earlyForward.rules, rule(slices.Concat([]match{iifname(in)}, fromQuarantined)...))
	}
	// Out of a LAN interface; out of any when none is named.
	toLAN := [][]match{nil}
	if len(cfg.LANInterfaces) > 0 {
		toLAN = toLAN[:0]
		for _, out := range cfg.LANInterfaces {
			toLAN = append(toLAN, []match{oifname(out)})
		}
	}
	// The owner mark answers the owner's devices, which are on the LAN:
	// a reply on a marked connection goes back out of a LAN interface.
	// The rule that sets it reads the owner's MAC, not the source address,
	// which a frame copying that MAC may make an internet host's: the
	// device's replies, and that host's packets as the connection's
	// original direction, would then pass.
	for _, out := range toLAN {
		quarantinedReplies.rules = append(quarantinedReplies.rules, rule(slices.Concat([]match{ctMarkAll(cfg.OwnerMark)}, out, []match{verdict(expr.VerdictReturn)})...))
	}
	for _, m := range modes {
		mac := b.ether("saddr", setName(m.setPrefix(), keyMAC))
		for _, k := range addrKinds {
			quarantinedReplies.rules = append(quarantinedReplies.rules, rule(mac, b.addr(k, "daddr", setName("protected", k), false), verdict(expr.VerdictReturn)))
		}
		for _, k := range addrKinds {
			learnt := b.addr(k, "saddr", setName(m.setPrefix(), k), false)
			for _, out := range toLAN {
				quarantinedReplies.rules = append(quarantinedReplies.rules, rule(slices.Concat([]match{mac}, out, []match{learnt, verdict(expr.VerdictReturn)})...))
			}
		}
		// The isolate chains let the LAN in (in through a LAN
		// interface), so a reply may go back out of one: reachable's
		// tests, with the destination the original source.
		if m == ModeIsolate {
			for _, to := range reach[m] {
				quarantinedReplies.rules = append(quarantinedReplies.rules, rule(slices.Concat([]match{mac}, to, []match{verdict(expr.VerdictReturn)})...))
			}
		}
		quarantinedReplies.rules = append(quarantinedReplies.rules, rule(mac, drop()))
	}
	// Established connections pass next, so that the rest of the forwarded
	// packets costs a conntrack test instead of a lookup in every set. A
	// quarantined device has no established connection: its first packet
	// is dropped below, and Quarantine deletes the connections it had (and
	// with them their marks). What passes here are replies on connections a
	// rule below let start, such as the owner (protected) opening a
	// quarantined camera's page.
	forward.rules = append(forward.rules, rule(established(), pass))
	// A protected MAC is the owner's only with a source address that is
	// none of a quarantined device's and that the router routes back out
	// of the interface it came in on. A quarantined device that copies
	// the owner's MAC into a frame (one is enough: the rest of the
	// connection rides the fast paths) would otherwise open a connection
	// from its own address, or one from another segment's host to
	// itself, whose replies the established rule and lan_replies let
	// through: a relay out of its quarantine. From a quarantined address
	// the frame is judged as that device's; a forged source from another
	// segment or the WAN meets the address rules below, as anyone's.
	// Only packets that are not established pay the lookups.
	owner := []match{b.ether("saddr", "protected_mac"), fibSaddrIifExists()}
	for _, k := range addrKinds {
		for _, m := range modes {
			forward.rules = append(forward.rules, rule(b.ether("saddr", "protected_mac"), b.addr(k, "saddr", setName(m.setPrefix(), k), false), outOf[m]))
		}
	}
	// The owner mark goes on the first packet of a connection, which is
	// of its original direction, from the owner's device out to the LAN:
	// lan_replies lets the other end's replies through. Connections to
	// the internet stay unmarked, leaving the bit alone where other
	// programs' marks matter most (policy routing). A quarantined MAC is
	// never a protected one (protecting it releases it), so the
	// connections it opens never carry the mark. What else from the
	// owner's device gets this far (invalid, untracked, to the WAN)
	// passes unmarked.
	for _, out := range toLAN {
		forward.rules = append(forward.rules, rule(slices.Concat([]match{opening()}, owner, out, []match{ctMarkSet(cfg.OwnerMark), pass})...))
	}
	forward.rules = append(forward.rules, rule(append(owner, pass)...))
	for _, m := range modes {
		forward.rules = append(forward.rules, rule(b.ether("saddr", setName(m.setPrefix(), keyMAC)), outOf[m]))
	}
	// A protected source address passes unless it is one of the router's
	// own: the router never forwards what it sends itself, so a packet
	// from its address is forged (from the WAN, say, naming the router's
	// GUA) and would otherwise pass ahead of the rules that drop what is
	// sent to a quarantined address. The kernel drops such IPv4 packets as
	// martians before any hook; IPv6 has no such check. The route lookup
	// costs only the packets whose source is protected.
	for _, k := range addrKinds {
		forward.rules = append(forward.rules, rule(b.addr(k, "saddr", setName("protected", k), false), fibSaddrNotLocal(), pass))
	}
	for _, k := range addrKinds {
		for _, m := range modes {
			forward.rules = append(forward.rules, rule(b.addr(k, "saddr", setName(m.setPrefix(), k), false), outOf[m]))
		}
	}
	for _, k := range addrKinds {
		for _, m := range modes {
			forward.rules = append(forward.rules, rule(b.addr(k, "daddr", setName(m.setPrefix(), k), false), into[m]))
		}
	}
	if cfg.Capture.Enabled {
		forward.rules = append(forward.rules, rule(pass))
	}

	updatesOut := chainDef{name: "updates_out"}
	// updates_in only drops: the replies an updates-only device gets
	// passed forward's established rule before the goto, and an allowed
	// host opens nothing towards the device.
	updatesIn := chainDef{name: "updates_in"}
	isolateOut := chainDef{name: "isolate_out"}
	isolateIn := chainDef{name: "isolate_in"}
	for _, to := range reach[ModeUpdatesOnly] {
		updatesOut.rules = append(updatesOut.rules, rule(slices.Concat(to, []match{pass})...))
	}
	// Routed to another LAN segment, an isolate device's DNS is
	// redirected to the proxy; DNS over TLS and QUIC, which no redirect
	// can answer, is dropped, as the bridge does on its own segment.
	if cfg.DNSProxyPort != 0 && len(reach[ModeIsolate]) > 0 {
		for _, proto := range []string{"udp", "tcp"} {
			isolateOut.rules = append(isolateOut.rules, rule(dport(proto, 853), drop()))
		}
	}
	for _, to := range reach[ModeIsolate] {
		isolateOut.rules = append(isolateOut.rules, rule(slices.Concat(to, []match{pass})...))
	}
	for _, k := range addrKinds {
		if cfg.IsolateLAN {
			continue
		}
		if len(cfg.LANInterfaces) == 0 {
			isolateIn.rules = append(isolateIn.rules, rule(b.addr(k, "saddr", setName("lan", k), false), pass))
		}
		for _, ifname := range cfg.LANInterfaces {
			isolateIn.rules = append(isolateIn.rules, rule(iifname(ifname), b.addr(k, "saddr", setName("lan", k), false), pass))
		}
	}
	for _, c := range []*chainDef{&updatesOut, &updatesIn, &isolateOut, &isolateIn} {
		c.rules = append(c.rules, rule(drop()))
	}

	// Plain HTTP of block and updates-only devices goes to the notice page:
	// redirect rewrites the destination to the address of the interface
	// the packet came in on, i.e. the router's own LAN address. Only the
	// first packet of a connection passes a NAT chain.
	notice := chainDef{name: "notice", rules: []ruleDef{rule(dport("tcp", 80), redirectTo(cfg.NoticePort))}}
	// Their DNS, and isolate devices' too, goes to the DNS proxy, whatever
	// resolver they ask (a hard-coded 8.8.8.8 too), ahead of the allow
	// accepts so that DNS to an allowed host is redirected as well. The
	// router's own resolver would look any name up on the internet for an
	// isolate device: a tunnel out (iodine) through "no internet".
	redirected := []Mode{ModeBlock, ModeUpdatesOnly}
	dnsRedirected := []Mode{ModeBlock, ModeUpdatesOnly, ModeIsolate}
	dnsProxy := cfg.DNSProxyPort != 0
	dns := chainDef{name: "dns", rules: []ruleDef{
		rule(dport("udp", 53), redirectTo(cfg.DNSProxyPort)),
		rule(dport("tcp", 53), redirectTo(cfg.DNSProxyPort)),
	}}
	pre := chainDef{name: "prerouting", hook: nftables.ChainHookPrerouting, prio: prioDstNAT, typ: nftables.ChainTypeNAT}
	// As in input: from a quarantined address, a protected MAC's
	// packets meet that address's rules below, the redirects too (one
	// copied frame per query would otherwise reach the router's
	// resolver: a DNS tunnel).
	for _, k := range addrKinds {
		pre.rules = append(pre.rules, rule(slices.Concat([]match{b.ether("saddr", "protected_mac")}, b.unquarantinedSource(k), []match{accept()})...))
	}
	if dnsProxy {
		for _, m := range dnsRedirected {
			pre.rules = append(pre.rules, rule(b.ether("saddr", setName(m.setPrefix(), keyMAC)), jump("dns")))
		}
	}
	// The allow accepts spare plain HTTP to an allowed host the notice
	// redirect; they need no ports: updates_out holds what passes to
	// updateServices.
	for _, k := range addrKinds {
		pre.rules = append(pre.rules, rule(b.ether("saddr", "updates_mac"), b.addr(k, "daddr", setName("allow", k), false), accept()))
	}
	for _, m := range redirected {
		pre.rules = append(pre.rules, rule(b.ether("saddr", setName(m.setPrefix(), keyMAC)), jump("notice")))
	}
	for _, k := range addrKinds {
		pre.rules = append(pre.rules, rule(b.addr(k, "saddr", setName("protected", k), false), accept()))
	}
	if dnsProxy {
		for _, k := range addrKinds {
			for _, m := range dnsRedirected {
				pre.rules = append(pre.rules, rule(b.addr(k, "saddr", setName(m.setPrefix(), k), false), jump("dns")))
			}
		}
	}
	for _, k := range addrKinds {
		pre.rules = append(pre.rules, rule(b.addr(k, "saddr", setName("updates", k), false), b.addr(k, "daddr", setName("allow", k), false), accept()))
		for _, m := range redirected {
			pre.rules = append(pre.rules, rule(b.addr(k, "saddr", setName(m.setPrefix(), k), false), jump("notice")))
		}
	}
	// Mode "all": DNS to the router from anyone else on the LAN goes to
	// the proxy too. Last, after the protected accepts: the owner's
	// devices keep talking to the router's resolver directly, and never
	// lose DNS to a dead daemon.
	if cfg.DNSRedirectAll {
		for _, ifname := range cfg.LANInterfaces {
			for _, proto := range []string{"udp", "tcp"} {
				pre.rules = append(pre.rules, rule(iifname(ifname), fibDaddrLocal(), dport(proto, 53), redirectTo(cfg.DNSProxyPort)))
			}
		}
	}

	chains := []chainDef{input, forward, pre, limited, unlearnt, updatesOut, updatesIn, isolateOut, isolateIn, notice, earlyForward, quarantinedReplies}
	if dnsProxy {
		chains = append(chains, dns)
	}
	if cfg.Capture.Enabled {
		chains = append(chains, chainDef{name: "capture", rules: captureRules(cfg.Capture)})
	}
	return tableDef{family: nftables.TableFamilyINet, sets: sets, chains: chains}
}

// spentFastPath passes the packets of a direction whose mark bit says its
// budget is spent, on connections that have seen a reply and that no
// helper expected. Per direction: a download's data passes as soon as its
// own budget is spent, whatever its acknowledgements have come to.
func spentFastPath(c CaptureConfig) []ruleDef {
	return []ruleDef{
		// Replies first: a home network mostly downloads.
		rule(slices.Concat([]match{repliedNotExpected(), ctDirection("reply"), ctMarkAll(c.replyBit())}, spentVerdict(c))...),
		rule(slices.Concat([]match{repliedNotExpected(), ctDirection("original"), ctMarkAll(c.originalBit())}, spentVerdict(c))...),
	}
}

// spentVerdict is what becomes of a packet whose direction's budget is
// spent: it passes, with afpacket capture marked for the capture filter
// to drop.
func spentVerdict(c CaptureConfig) []match {
	if c.PacketMark != 0 {
		return []match{metaMarkSet(c.PacketMark), verdict(expr.VerdictReturn)}
	}
	return []match{verdict(expr.VerdictReturn)}
}

// captureRules copy the first bytes and the first packets of each direction
// of every TCP and UDP connection to NFLOG. Nearly every packet a router
// forwards belongs to a direction whose budget is spent, so they test that
// first, in one rule per direction, and note it in the connection's mark
// for the cheaper test in front of them. Needs conntrack accounting
// (nf_conntrack_acct); a connection without counters counts as spent.
//
// With a packet mark (afpacket capture) nothing is copied here: the rules
// for spent directions also mark the packet, and what is left passes
// unmarked to the capture's filter.
func captureRules(c CaptureConfig) []ruleDef {
	rules := []ruleDef{
		// Replies first: a home network mostly downloads.
		rule(slices.Concat([]match{ctBudgetSpent("reply", c.Bytes, c.Packets), ctMarkSet(c.replyBit())}, spentVerdict(c))...),
		rule(slices.Concat([]match{ctBudgetSpent("original", c.Bytes, c.Packets), ctMarkSet(c.originalBit())}, spentVerdict(c))...),
		// A connection older than accounting (opened while it was off:
		// before the daemon's first start where boot leaves it off): the
		// first bytes of both its directions are gone, and its counters
		// would never say so.
		rule(slices.Concat([]match{ctUncounted(), ctMarkSet(c.Mark)}, spentVerdict(c))...),
	}
	if c.PacketMark != 0 {
		return rules
	}
	return append(rules, rule(notTCPOrUDP(), verdict(expr.VerdictReturn)), rule(nflog(c.Group, c.Snaplen)))
}

// toProtectedChain is where frames to the owner's (protected) devices go
// in the bridge. The owner can manage a quarantined device on the same
// LAN: frames from a protected device pass, and so do the device's
// answers to it. Without conntrack in the bridge family (OpenWrt does not
// load it) an answer is told from an opening by the frame alone: TCP only
// with ACK set (no SYN, nor a SYN cut into fragments, whose flags no rule
// can read), ICMP only as echo replies and errors, UDP only as an answer
// to a flow the owner's device started, which the forward chain remembers
// (a dynamic set is this table's conntrack). ARP and neighbour discovery
// pass only about the sender's own quarantined addresses: claiming the
// router's would take over the owner's traffic. Everything else (other
// protocols, frames whose protocol hides behind a second VLAN tag)
// returns to the quarantine rules, so a quarantined device cannot open a
// connection to, probe or mislead the owner's devices.
func toProtectedChain(b builder, cut []Mode) chainDef {
	toProtected := chainDef{name: "to_protected", rules: []ruleDef{
		rule(tcpAck(), accept()),
		rule(l4proto("tcp", unix.IPPROTO_TCP), verdict(expr.VerdictReturn)),
	}}
	for _, t := range []struct {
		name string
		typ  byte
	}{{"echo-reply", 0}, {"destination-unreachable", 3}, {"time-exceeded", 11}, {"parameter-problem", 12}} {
		toProtected.rules = append(toProtected.rules, rule(icmpType(t.name, t.typ), accept()))
	}
	toProtected.rules = append(toProtected.rules, rule(l4proto("icmp", unix.IPPROTO_ICMP), verdict(expr.VerdictReturn)))
	for _, t := range []struct {
		name string
		typ  byte
	}{{"destination-unreachable", 1}, {"packet-too-big", 2}, {"time-exceeded", 3}, {"parameter-problem", 4}, {"echo-reply", 129}} {
		toProtected.rules = append(toProtected.rules, rule(icmpv6Type(t.name, t.typ), accept()))
	}
	for _, m := range cut {
		own := setName(m.setPrefix(), keyPairV6)
		toProtected.rules = append(toProtected.rules,
			rule(icmpv6Type("nd-neighbor-solicit", 135), senderPair(ip6Saddr, own), accept()),
			rule(icmpv6Type("nd-neighbor-advert", 136), senderPair(ndTargetAddr, own), accept()))
	}
	toProtected.rules = append(toProtected.rules, rule(l4proto("ipv6-icmp", unix.IPPROTO_ICMPV6), verdict(expr.VerdictReturn)))
	for _, set := range ownerFlowSets() {
		toProtected.rules = append(toProtected.rules, rule(answersFlow(set.kind, set.name), accept()))
	}
	for _, m := range cut {
		toProtected.rules = append(toProtected.rules, rule(senderPair(arpSaddr, setName(m.setPrefix(), keyPairV4)), accept()))
	}
	return toProtected
}

// fromProtectedChain is where frames from the owner's (protected) MACs
// go in the bridge: they pass, and their unicast UDP flows are
// remembered for the answers. Not from an address a quarantined device
// holds: a quarantined device copying the owner's MAC into its frames
// would cross the bridge to the peers its mode cuts it from (isolated,
// to their resolvers), so such a frame returns to the rules after the
// jump, which judge it by its addresses as any device's (isolate_dns
// too). Frames that are not IP pass, as they did: ARP is the owner's
// way to its quarantined devices.
func fromProtectedChain(b builder) chainDef {
	c := chainDef{name: "from_protected"}
	for _, k := range addrKinds {
		c.rules = append(c.rules, rule(b.addr(k, "saddr", setName(quarantinedPrefix, k), false), verdict(expr.VerdictReturn)))
	}
	for _, set := range ownerFlowSets() {
		c.rules = append(c.rules, rule(unicast(), rememberFlow(set.kind, set.name)))
	}
	c.rules = append(c.rules, rule(accept()))
	return c
}

// isolateDNSChain drops, in the bridge, what an isolate device sends its
// LAN peers that a resolver would take: DNS over UDP and TCP (53), over
// TLS (tcp 853) and over QUIC (udp 853), whatever the address (a
// link-local resolver too), and frames whose type hides behind a second
// VLAN tag, whose ports no rule can read (a single tag the kernel takes
// off; a host's kernel takes priority tags off and answers). mDNS (5353)
// and LLMNR (5355) resolve local names only, and pass. Everything else
// returns.
func isolateDNSChain() chainDef {
	c := chainDef{name: "isolate_dns"}
	for _, port := range []uint16{53, 853} {
		for _, proto := range []string{"udp", "tcp"} {
			c.rules = append(c.rules, rule(dport(proto, port), drop()))
		}
	}
	c.rules = append(c.rules,
		rule(metaProtocol("8021q", unix.ETH_P_8021Q), drop()),
		rule(metaProtocol("8021ad", unix.ETH_P_8021AD), drop()))
	return c
}

// bridgeTable cuts LAN-to-LAN traffic, which a bridge forwards between its
// ports without ever passing the inet hooks.
func bridgeTable(cfg Config, bridgeCT bool) tableDef {
	b := builder{nftables.TableFamilyBridge}
	cut := []Mode{ModeBlock, ModeUpdatesOnly}
	if cfg.IsolateLAN {
		cut = append(cut, ModeIsolate)
	}
	forward := chainDef{name: "forward", hook: nftables.ChainHookForward, prio: prioBridgeFilter, typ: nftables.ChainTypeFilter}
	toProtected := toProtectedChain(b, cut)
	// Most frames are between devices none of which is quarantined: they
	// pass at the first rule, after four lookups, rather than the thirty
	// below (a third of a LAN-to-LAN transfer's throughput). The owner's
	// UDP exchanges are remembered only from frames that name a
	// quarantined MAC or address: only a quarantined device's answers
	// need them, and a frame to one goes the long way.
	for _, k := range addrKinds {
		forward.rules = append(forward.rules, rule(noneQuarantined(k), accept()))
	}
	// The owner's devices are protected by MAC, or by address (a
	// management address): frames from them pass (a protected MAC's from
	// an address no entry holds, see from_protected), frames to them go
	// through to_protected, both before a quarantined MAC is dropped.
	// A source address is trusted only after the quarantined source MACs
	// are dropped: a quarantined device claiming the owner's address
	// stays cut. The owner's UDP flows are remembered for their answers,
	// unicast ones only: a broadcast's (DHCP's) or multicast's answer
	// would come from anyone.
	//
	// An isolate device reaches its LAN peers, but no resolver among them
	// (a Pi-hole, often handed out by DHCP), which would look any name up
	// on the internet for it: the tunnel the redirect to the DNS proxy
	// closes on the router. Ahead of the frames to the owner's devices:
	// the owner's resolver is no exception. Without a proxy the router's
	// resolver answers it anyway, and with IsolateLAN its LAN is cut. By
	// its MAC, and by its addresses as the router's redirect does: a
	// device that takes a new MAC, or copies the owner's, keeps the
	// isolate addresses it sends from. A frame the MAC's jump took
	// through isolate_dns is not taken again: an isolate device's LAN
	// traffic is most of what crosses the chain's long way.
	isolateDNS, cutDNS := isolateDNSChain(), cfg.DNSProxyPort != 0 && !cfg.IsolateLAN
	fromProtected := fromProtectedChain(b)
	forward.rules = append(forward.rules, rule(b.ether("saddr", "protected_mac"), jump(fromProtected.name)))
	if cutDNS {
		isolateMAC := setName(ModeIsolate.setPrefix(), keyMAC)
		forward.rules = append(forward.rules, rule(b.ether("saddr", isolateMAC), jump(isolateDNS.name)))
		for _, k := range addrKinds {
			forward.rules = append(forward.rules, rule(b.addr(k, "saddr", setName(ModeIsolate.setPrefix(), k), false), b.etherNotIn("saddr", isolateMAC), jump(isolateDNS.name)))
		}
	}
	forward.rules = append(forward.rules, rule(b.ether("daddr", "protected_mac"), jump(toProtected.name)))
	for _, k := range addrKinds {
		forward.rules = append(forward.rules, rule(b.addr(k, "daddr", setName("protected", k), false), jump(toProtected.name)))
	}
	// An ARP reply to a device protected by address carries its address
	// in the ARP header only.
	forward.rules = append(forward.rules, rule(arpIP("daddr", setName("protected", keyV4)), jump(toProtected.name)))
	// A quarantined device may still ask who has an address (to answer
	// the owner), about itself: broadcast ARP with its own sender address,
	// solicited-node solicitations from its own. Only the owner's devices
	// can answer it (the answers of others are dropped below).
	for _, m := range cut {
		forward.rules = append(forward.rules,
			rule(pkttype("broadcast", unix.PACKET_BROADCAST), senderPair(arpSaddr, setName(m.setPrefix(), keyPairV4)), accept()),
			rule(pkttype("multicast", unix.PACKET_MULTICAST), icmpv6Type("nd-neighbor-solicit", 135), senderPair(ip6Saddr, setName(m.setPrefix(), keyPairV6)), accept()))
	}
	for _, m := range cut {
		forward.rules = append(forward.rules, rule(b.ether("saddr", setName(m.setPrefix(), keyMAC)), drop()))
	}
	for _, set := range ownerFlowSets() {
		forward.rules = append(forward.rules, rule(unicast(), b.addr(set.kind, "saddr", setName("protected", set.kind), false), rememberFlow(set.kind, set.name)))
	}
	for _, k := range addrKinds {
		forward.rules = append(forward.rules, rule(b.addr(k, "saddr", setName("protected", k), false), accept()))
	}
	forward.rules = append(forward.rules, rule(arpIP("saddr", setName("protected", keyV4)), accept()))
	for _, m := range cut {
		forward.rules = append(forward.rules, rule(b.ether("daddr", setName(m.setPrefix(), keyMAC)), drop()))
	}
	for _, k := range addrKinds {
		for _, m := range cut {
			for _, dir := range []string{"saddr", "daddr"} {
				forward.rules = append(forward.rules, rule(b.addr(k, dir, setName(m.setPrefix(), k), false), drop()))
			}
		}
	}
	chains := []chainDef{forward, fromProtected, toProtected}
	if cutDNS {
		chains = append(chains, isolateDNS)
	}
	// Marking a bridged frame would be in vain: the capture on the
	// bridge has its copy before the bridge's forward hook.
	if cfg.Capture.Enabled && cfg.Capture.PacketMark == 0 && bridgeCT {
		chains = append(chains, chainDef{
			name: "capture", hook: nftables.ChainHookForward, prio: prioBridgeCapture, typ: nftables.ChainTypeFilter,
			rules: append(spentFastPath(cfg.Capture), captureRules(cfg.Capture)...),
		})
	}
	return tableDef{family: nftables.TableFamilyBridge, sets: append(dynamicSets(false), ownerFlowSets()...), chains: chains}
}

// fingerprint hashes everything static, so that any change of rules, sets
// or LAN prefixes shows as a different tag.
func (l *layout) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "v%d\n", layoutVersion)
	for _, t := range []tableDef{l.inet, l.bridge} {
		fmt.Fprintf(h, "%s\n", t.structure(l.name, ""))
	}
	for _, name := range []string{"lan_v4", "lan_v6"} {
		fmt.Fprintf(h, "%s %v\n", name, l.lan[name])
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

// structure prints the table's sets, chains and rules as nft commands; tag,
// if set, is appended to every rule as its comment.
func (t tableDef) structure(name, tag string) string {
	var sb strings.Builder
	fam := familyName(t.family)
	fmt.Fprintf(&sb, "add table %s %s\n", fam, name)
	for _, s := range t.sets {
		flags := "timeout"
		if s.interval {
			flags = "interval"
		}
		switch {
		case s.flow:
			fmt.Fprintf(&sb, "add set %s %s %s { type %s; size %d; flags dynamic,timeout; timeout %s; }\n",
				fam, name, s.name, s.keyType().Name, flowMax, flowTimeout)
		case !s.timeout && !s.interval:
			fmt.Fprintf(&sb, "add set %s %s %s { type %s; }\n", fam, name, s.name, s.kind.datatype().Name)
		default:
			fmt.Fprintf(&sb, "add set %s %s %s { type %s; flags %s; }\n", fam, name, s.name, s.kind.datatype().Name, flags)
		}
	}
	for _, c := range t.chains {
		if c.hook == nil {
			fmt.Fprintf(&sb, "add chain %s %s %s\n", fam, name, c.name)
			continue
		}
		fmt.Fprintf(&sb, "add chain %s %s %s { type %s hook %s priority %d; policy accept; }\n",
			fam, name, c.name, c.typ, hookName(*c.hook), c.prio)
	}
	for _, c := range t.chains {
		for _, r := range c.rules {
			comment := ""
			if tag != "" {
				comment = fmt.Sprintf(" comment %q", tag)
			}
			fmt.Fprintf(&sb, "add rule %s %s %s %s%s\n", fam, name, c.name, r.text, comment)
		}
	}
	return sb.String()
}

func hookName(h nftables.ChainHook) string {
	switch h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return fmt.Sprintf("hook%d", h)
}
