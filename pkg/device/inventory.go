// Package device owns the inventory of devices on the LAN: who they are
// (keyed by MAC, or by address where a capture has no link layer), which
// addresses and host names they used and when, what they are (an
// Identity built from every fingerprint signal, with the evidence), which
// software versions they run, the findings and observations about them,
// and the baseline scorecard. It decides nothing about quarantine; policy
// reads it.
//
// An Inventory is not safe for concurrent use: the pipeline's goroutine
// owns it.
package device

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/device/fingerprint"
	"github.com/iotgw/iotgw/pkg/device/oui"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/dns"
)

// Key identifies a device: its MAC when known, else its IP address.
type Key struct {
	MAC hwaddr.MAC
	IP  netip.Addr // set only when MAC is zero
}

func (k Key) String() string {
	if !k.MAC.IsZero() {
		return k.MAC.String()
	}
	return k.IP.String()
}

// Limits bound what one device and the inventory may hold.
const (
	maxAddrs       = 16
	maxFindings    = 64
	maxObservation = 64
	// kindShare is the findings of one kind a full list keeps when
	// another kind needs room (crowding).
	kindShare = maxFindings / 4
)

// Device is what the inventory knows about one device.
type Device struct {
	Key       Key
	FirstSeen time.Time
	LastSeen  time.Time
	Addrs     []netip.Addr // most recent last, at most maxAddrs
	// Addresses are Addrs with when each was first and last used, in the
	// same order.
	Addresses []Address
	// Hostnames the device gave itself (DHCP, mDNS), most recent last, at
	// most maxHostnames.
	Hostnames []Hostname
	// Identity is what the device is, from every signal seen.
	Identity Identity
	// Software versions seen, at most maxSoftware.
	Software []Software
	Packets  uint64
	Bytes    uint64
	// Findings, one per DedupKey, with Count and LastTime updated on repeats.
	Findings []*event.Event
	// Observations, one per DedupKey, likewise.
	Observations []*event.Event
	// DroppedEvents counts events beyond the per-device caps.
	DroppedEvents int

	votes []vote
	dirty bool // votes changed since Identity was computed
	// filed indexes Findings and Observations by DedupKey.
	filed map[string]*event.Event
	// onLink is set once frames or the neighbour table show the device on
	// this link: DHCP relayed for it is then a forgery. relayed is set
	// while what it is and its host names come from relayed DHCP.
	onLink, relayed bool
	// viaRouter: an address-keyed device of another segment, known from
	// frames the router forwarded; no device of this link takes its
	// address or its findings.
	viaRouter bool
	// swGen counts changes to Software; swMatched is the count the
	// advisory matcher last saw.
	swGen, swMatched uint64
	syn              fingerprint.SYN
	synTime          time.Time
	hasSYN           bool
	synVoted         bool
	traffic          trafficCounts
	lanClear         lanCleartext
	// iterServers are the internet servers the device asked without
	// recursion, until one more marks it (see askedIteratively).
	iterServers [iterativeServers - 1]netip.Addr
	// foreignDHCP is when the device last sent DHCPv4 for another client
	// (see SharedMAC).
	foreignDHCP time.Time
}

// SharedMAC says whether the device's MAC seems to stand for several
// hosts, and why: within the last day it sent DHCPv4 for another client
// (a foreign chaddr, and no relay agent's address), as a repeater in
// client mode that puts its own MAC on its clients' frames does, or a
// relayd pseudo-bridge. A quarantine of that MAC would cut off every
// host behind it. A device can make itself look so with one forged
// message (the owner is then asked, rather than the device quarantined
// at once: the safe mistake); it cannot make another device look so
// without sending from that device's MAC. Two IPv4 addresses used at
// once are no sign: one forged ARP gives them.
func (d *Device) SharedMAC(now time.Time) (why string, shared bool) {
	if d.foreignDHCP.IsZero() || now.Sub(d.foreignDHCP) >= foreignDHCPMemory || d.foreignDHCP.After(now.Add(foreignDHCPMemory)) {
		return "", false
	}
	return "it sent DHCP for other devices' MACs (a repeater or bridge that puts its own MAC on its clients' frames)", true
}

// foreignDHCPMemory is how long DHCP for another client marks a MAC
// shared: its clients renew their leases at half their time, hours.
const foreignDHCPMemory = 24 * time.Hour

// Address is one address of a device with when it was used.
type Address struct {
	Addr      netip.Addr `json:"addr"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
}

// trafficCounts are what the scorecard needs to pass provision 5.5-1: how
// many connections the device opened to the internet, and how many of
// them were seen to negotiate TLS 1.2 or newer with a strong suite.
//
// A ServerHello is credited only to a connection whose SYN was counted:
// conns remembers the latest counted ones, so that a retransmitted SYN
// is not counted again however other SYNs interleave, and a ServerHello
// counts once, for its own connection. One whose connection is no
// longer remembered (more than wanConnSlots opened since) or was never
// counted (a joined connection, a SYN missed) credits nothing: the
// count of TLS connections can only fall short of the connections, and
// the scorecard then says unknown, never pass.
//
// The store does not save them: a restarted daemon judges the traffic
// it sees from then on (see internetUDP).
type trafficCounts struct {
	wanConns  uint32 // SYNs to addresses outside the LAN, retransmits not counted
	tlsStrong uint32 // counted connections whose ServerHello was TLS >= 1.2, less those of a weak suite
	tlsWeak   uint32 // counted connections whose ServerHello was older or of a weak suite
	conns     [wanConnSlots]wanConn
	next      uint8 // the slot the next counted connection takes
	// udp: datagrams to the internet that nothing judged, which keep
	// the pass away whatever the TCP connections did.
	udp internetUDP
}

// lanCleartext records the device's part, as client or server, in
// application flows in clear between LAN devices: plaintext_protocol
// observations (telnet, FTP, RTSP, MQTT, mail, HTTP content its analyzer
// judged worth encrypting) and logins seen on the wire. Secure
// communication passes on no internet evidence while it uses them. It
// keeps a count and the first reasons: bounded, and never forgotten the
// way an observation of a full list is.
type lanCleartext struct {
	n       uint32 // events seen: flows and the logins on them
	reasons [maxLANClearReasons]string
	more    bool // a reason found no room
}

const maxLANClearReasons = 3

// add counts a flow in clear and keeps its reason while there is room:
// plain names the use ("sent telnet in clear to …"), login the same with
// a login seen, which stands for it, so one flow gives one reason. The
// reasons come as bytes, made a string only when kept: nearly every
// event repeats a reason kept already.
func (l *lanCleartext) add(plain, login []byte, isLogin bool) {
	want := plain
	if isLogin {
		want = login
	}
	l.n++
	for i, r := range l.reasons {
		switch {
		case r == string(want) || (!isLogin && r == string(login)):
			return
		case isLogin && r == string(plain):
			l.reasons[i] = string(login)
			return
		case r == "":
			l.reasons[i] = string(want)
			return
		}
	}
	l.more = true
}

// lanReasons writes a device's two reasons for lanCleartext.add, each
// given in parts, into inv's reused buffer.
func (inv *Inventory) lanReasons(plain, login [4]string) (p, l []byte) {
	b := inv.reason[:0]
	for _, s := range plain {
		b = append(b, s...)
	}
	n := len(b)
	for _, s := range login {
		b = append(b, s...)
	}
	inv.reason = b
	return b[:n], b[n:]
}

// noteLANCleartext marks the client and the server of a LAN flow in
// clear: ev is a plaintext_protocol observation of a flow between LAN
// devices, or a login seen on the wire on one (not the audit's own,
// verified logins: the router's). A made-up event can only keep a pass
// away, never give one.
func (inv *Inventory) noteLANCleartext(ev *event.Event) {
	f := ev.Flow
	if f == nil || !f.Client.Local || !f.Server.Local {
		return
	}
	proto := ev.Evidence["protocol"]
	if proto == "" {
		proto = f.App
	}
	login := false
	switch ev.Kind {
	case event.KindPlaintextProtocol:
		if ev.IsFinding() || ev.Evidence["scope"] != "lan" {
			return
		}
	case event.KindPlaintextCredentials, event.KindDefaultCredentials, event.KindWeakCredentials:
		if ev.Verified {
			return
		}
		login = true
	default:
		return
	}
	if proto == "" {
		proto = "an unnamed protocol"
	}
	if c := inv.existing(f.Client); c != nil {
		plain, loginText := inv.lanReasons(
			[4]string{"sent ", proto, " in clear to ", f.Server.IP},
			[4]string{"sent a ", proto, " login in clear to ", f.Server.IP})
		c.lanClear.add(plain, loginText, login)
	}
	if d := inv.existing(f.Server); d != nil {
		plain, loginText := inv.lanReasons(
			[4]string{"serves ", proto, " in clear on the LAN"},
			[4]string{"took a ", proto, " login in clear from ", f.Client.IP})
		d.lanClear.add(plain, loginText, login)
	}
}

// wanConnSlots bounds the connections a device's TLS credit can be
// matched to: a ServerHello comes a round trip after its SYN, and a
// device opens a handful of connections in that time.
const wanConnSlots = 16

// wanConn is one counted internet connection of a device, by its SYN.
type wanConn struct {
	dst     netip.Addr
	dstPort uint16
	srcPort uint16
	seq     uint32
	tls     uint8 // tlsNone, tlsStrong, tlsWeak or tlsUnknown: what it was credited
}

const (
	tlsNone uint8 = iota
	tlsStrong
	tlsWeak
	// tlsUnknown: TLS 1.2 or newer with a suite the TLS analyzer does not
	// know: counted neither strong nor weak, so the connection keeps the
	// device from a pass without failing it.
	tlsUnknown
)

// count counts a SYN to dst:dstPort from srcPort with sequence number
// seq, unless it retransmits a remembered one. It does not allocate.
func (t *trafficCounts) count(dst netip.Addr, dstPort, srcPort uint16, seq uint32) {
	for i := range t.conns {
		c := &t.conns[i]
		if c.srcPort == srcPort && c.dstPort == dstPort && c.dst == dst && c.dst.IsValid() {
			if c.seq == seq {
				return // a retransmitted SYN
			}
			// The same ports again with another sequence number: a new
			// connection in the old one's place.
			*c = wanConn{dst: dst, dstPort: dstPort, srcPort: srcPort, seq: seq}
			t.wanConns++
			return
		}
	}
	t.conns[t.next] = wanConn{dst: dst, dstPort: dstPort, srcPort: srcPort, seq: seq}
	t.next = (t.next + 1) % wanConnSlots
	t.wanConns++
}

// conn returns the remembered connection from srcPort to dst:dstPort,
// or nil.
func (t *trafficCounts) conn(dst netip.Addr, dstPort, srcPort uint16) *wanConn {
	for i := range t.conns {
		c := &t.conns[i]
		if c.srcPort == srcPort && c.dstPort == dstPort && c.dst == dst && c.dst.IsValid() {
			return c
		}
	}
	return nil
}

// MAC returns the device's MAC, zero when unknown.
func (d *Device) MAC() hwaddr.MAC { return d.Key.MAC }

// Filed is the event filed under d with dedup key key (event.DedupKey),
// or nil.
func (d *Device) Filed(key string) *event.Event { return d.filed[key] }

// Inventory holds devices, at most max of them; beyond that the device
// seen least recently is forgotten.
type Inventory struct {
	devices map[Key]*Device
	// recent are the devices get returned last, the latest first:
	// packets come in runs from one device, or from the two ends of a
	// conversation in turn, and a hit skips hashing the key. A device
	// leaving devices leaves recent too.
	recent  [2]*Device
	byIP    map[netip.Addr]Key
	max     int
	isLocal func(netip.Addr) bool
	// routed, when set, says that a frame from mac with source addr was
	// forwarded by the router (see SetRouted).
	routed func(mac hwaddr.MAC, addr netip.Addr) bool
	// pinned are the devices Pin keeps: a set beside devices, so that it
	// holds for a device not (or no longer) in it.
	pinned map[Key]struct{}
	// evicting is evict's reused list of candidates.
	evicting []evictCandidate
	Dropped  int // devices forgotten because the inventory was full
	matches  map[matchKey][]fingerprint.Match
	key      []byte // file's dedup key, reused
	reason   []byte // noteLANCleartext's reasons, reused
	texts    endpointTexts

	tables
}

// tables are the embedded fingerprint data, parsed once per process.
type tables struct {
	oui     *oui.Table
	rules   *fingerprint.Rules
	vendors *Vendors
}

func loadTables() (tables, error) {
	o, err := oui.Embedded()
	if err != nil {
		return tables{}, err
	}
	r, err := fingerprint.Embedded()
	if err != nil {
		return tables{}, err
	}
	v, err := EmbeddedVendors()
	if err != nil {
		return tables{}, err
	}
	return tables{oui: o, rules: r, vendors: v}, nil
}

// NewInventory returns an empty inventory. isLocal says which addresses
// belong to the LAN: only those become devices from packets.
//
// It panics if the fingerprint data built into the binary does not parse:
// that data is constant and its tests parse it, so this is a build defect,
// like a regexp.MustCompile of a constant.
func NewInventory(max int, isLocal func(netip.Addr) bool) *Inventory {
	t, err := loadTables()
	if err != nil {
		panic(fmt.Sprintf("device: embedded fingerprint data: %v", err))
	}
	return &Inventory{
		devices: make(map[Key]*Device),
		byIP:    make(map[netip.Addr]Key),
		pinned:  make(map[Key]struct{}),
		matches: make(map[matchKey][]fingerprint.Match),
		max:     max,
		isLocal: isLocal,
		tables:  t,
	}
}

// SetRouted tells the inventory which frames the router forwarded: one of
// its MACs with a source address that is not its own (a device of another
// LAN segment, seen where the router sends its packets on). Such a frame
// names no device by its MAC: ObservePacket passes over it, and an event
// about such an endpoint is filed by its address. Called on the goroutine
// that handles packets.
func (inv *Inventory) SetRouted(routed func(mac hwaddr.MAC, addr netip.Addr) bool) {
	inv.routed = routed
}

func (inv *Inventory) isRouted(mac hwaddr.MAC, addr netip.Addr) bool {
	return inv.routed != nil && inv.routed(mac, addr)
}

// ObservePacket implements inspect.PacketObserver: a LAN source address
// with a MAC makes or refreshes a device, and its first SYN gives its
// stack's signature. A device's DNS response to another LAN host marks
// it a DNS server (see answersLANHost). A capture without a link layer
// makes no device from packets (events make them, by address); its
// packets from port 53 are read for such a response, which marks the
// device known by the source address, and its SYNs and UDP datagrams to
// the internet count for that device (countsAsInternetUDP). Known
// devices cost no allocation.
func (inv *Inventory) ObservePacket(p *inspect.Packet) {
	switch {
	case p.Kind == inspect.KindARP:
		// The sender fields are what the frame says about someone: only
		// a frame from that MAC says it about itself (else any device
		// could give the owner's laptop another address, and take its
		// live one).
		if (p.HasMAC && p.SrcMAC != p.ARPSenderMAC) || p.ARPSenderMAC.IsZero() || p.ARPSenderMAC.IsMulticast() {
			return
		}
		if p.ARPSenderIP.IsValid() && !p.ARPSenderIP.IsUnspecified() && inv.isLocal(p.ARPSenderIP) && !inv.isRouted(p.ARPSenderMAC, p.ARPSenderIP) {
			inv.touch(p.ARPSenderMAC, p.ARPSenderIP, p.Timestamp, 0)
		}
	case p.Src.IsValid() && inv.isLocal(p.Src):
		var d *Device
		switch {
		case p.HasMAC:
			if !p.SrcMAC.IsZero() && !p.SrcMAC.IsMulticast() && !inv.isRouted(p.SrcMAC, p.Src) {
				d = inv.touch(p.SrcMAC, p.Src, p.Timestamp, p.Length)
			}
		case p.SrcPort == dns.Port:
			// No link layer: events made the device, by its address.
			if k, ok := inv.byIP[p.Src.Unmap()]; ok {
				d = inv.devices[k]
			}
		case p.Kind == inspect.KindTCP && p.TCPFlags&(inspect.TCPFlagSYN|inspect.TCPFlagACK) == inspect.TCPFlagSYN:
			// No link layer (NFLOG): the device known by the address
			// counts the connection, as its ServerHellos are filed
			// by address too. Its stack signature is not taken: a
			// forwarding hook sees the TTL already decremented.
			if k, ok := inv.byIP[p.Src.Unmap()]; ok && p.Dst.IsValid() && !inv.isLocal(p.Dst) {
				if d := inv.devices[k]; d != nil {
					d.traffic.count(p.Dst.Unmap(), p.DstPort, p.SrcPort, p.Seq)
				}
			}
			return
		case p.Kind == inspect.KindUDP:
			// No link layer: the device known by the address, as for
			// a SYN, so that NFLOG keeps the same passes away.
			if inv.countsAsInternetUDP(p) {
				if k, ok := inv.byIP[p.Src.Unmap()]; ok {
					if d := inv.devices[k]; d != nil {
						d.traffic.udp.add(p.DstPort)
					}
				}
			}
			return
		}
		if d == nil {
			return
		}
		if p.Kind == inspect.KindTCP && p.TCPFlags&(inspect.TCPFlagSYN|inspect.TCPFlagACK) == inspect.TCPFlagSYN {
			inv.observeSYN(d, p)
		}
		if p.Kind == inspect.KindUDP && inv.countsAsInternetUDP(p) {
			d.traffic.udp.add(p.DstPort)
		}
		if p.SrcPort == dns.Port && inv.answersLANHost(p) {
			d.markDNSServer()
		}
	}
}

// answersLANHost reports whether p, from port 53, is a DNS server's
// response to another host of the LAN: a UDP datagram, or a TCP segment
// whose data starts as a DNS message does (a length, then a header),
// with the response bit set, to a LAN unicast address other than its
// source. The packet path keeps no stream state, so a later segment of a
// long answer whose bytes read so counts too: it is still the server's
// answer. A response to port 53 counts: it answers a resolver bound to
// the port, a LAN host all the same. A handshake or a reset is not one:
// a scan or the router's port audit gets those from any host listening
// on the port, or not, and a reset's data are no answer. Nor is a
// broadcast: the prefix length is not known here, so a subnet's
// broadcast address (192.168.1.255) reads as a host's; a frame to a
// group MAC (ff:ff:ff:ff:ff:ff, a multicast's) is not to a host, and
// where the packet names no destination MAC (no link layer, a Linux
// cooked capture) the address must be one a device is known by. It
// does not allocate.
func (inv *Inventory) answersLANHost(p *inspect.Packet) bool {
	const dnsFlags = 2 // offset of the QR bit's byte in a DNS header
	msg := p.Payload
	switch {
	case p.Kind == inspect.KindTCP:
		if p.TCPFlags&inspect.TCPFlagRST != 0 || len(msg) < 2 {
			return false
		}
		msg = msg[2:] // the message's length
	case p.Kind != inspect.KindUDP:
		return false
	}
	if len(msg) < 12 || msg[dnsFlags]&0x80 == 0 {
		return false
	}
	if !p.Dst.IsValid() || p.Dst == p.Src || p.Dst.IsMulticast() || !inv.isLocal(p.Dst) {
		return false
	}
	if !p.DstMAC.IsZero() {
		return !p.DstMAC.IsMulticast()
	}
	_, known := inv.byIP[p.Dst.Unmap()]
	return known
}

// observeSYN keeps the first SYN's stack signature and counts connections
// to the internet. It does not allocate.
func (inv *Inventory) observeSYN(d *Device, p *inspect.Packet) {
	if !d.hasSYN {
		d.syn = fingerprint.ParseSYN(p.TTL, p.Window, p.TCPOptions)
		d.synTime = p.Timestamp
		d.hasSYN = true
	}
	if !p.Dst.IsValid() || inv.isLocal(p.Dst) {
		return
	}
	d.traffic.count(p.Dst.Unmap(), p.DstPort, p.SrcPort, p.Seq)
}

func (inv *Inventory) touch(mac hwaddr.MAC, ip netip.Addr, ts time.Time, n int) *Device {
	if mac.IsZero() {
		return nil
	}
	d := inv.get(Key{MAC: mac}, ts)
	d.LastSeen = ts
	d.Packets++
	d.Bytes += uint64(n)
	if !d.onLink {
		d.seenOnLink()
	}
	if ip.IsValid() && !ip.IsUnspecified() {
		inv.addAddr(d, ip, ts, false)
	}
	return d
}

// addAddr records that d used ip at ts. assigned is set when the router
// itself gave ip to d (a lease from its DHCP server).
func (inv *Inventory) addAddr(d *Device, ip netip.Addr, ts time.Time, assigned bool) {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return // not an address of the device
	}
	if n := len(d.Addrs); n > 0 && d.Addrs[n-1] == ip {
		if a := &d.Addresses[n-1]; ts.After(a.LastSeen) {
			a.LastSeen = ts
		}
		return
	}
	if i := slices.Index(d.Addrs, ip); i >= 0 {
		// Move to the end: most recent last.
		a := d.Addresses[i]
		copy(d.Addrs[i:], d.Addrs[i+1:])
		copy(d.Addresses[i:], d.Addresses[i+1:])
		d.Addrs[len(d.Addrs)-1] = ip
		if ts.After(a.LastSeen) {
			a.LastSeen = ts
		}
		d.Addresses[len(d.Addresses)-1] = a
	} else {
		if !inv.claim(d, ip, ts, assigned) {
			return
		}
		if len(d.Addrs) == maxAddrs {
			// The oldest address leaves the device, and its index entry
			// with it: a device sending from ever new addresses must not
			// grow the index.
			if inv.byIP[d.Addrs[0]] == d.Key {
				delete(inv.byIP, d.Addrs[0])
			}
			copy(d.Addrs, d.Addrs[1:])
			d.Addrs = d.Addrs[:maxAddrs-1]
			copy(d.Addresses, d.Addresses[1:])
			d.Addresses = d.Addresses[:maxAddrs-1]
		}
		d.Addrs = append(d.Addrs, ip)
		d.Addresses = append(d.Addresses, Address{Addr: ip, FirstSeen: ts, LastSeen: ts})
	}
	if k, ok := inv.byIP[ip]; ok && k != d.Key && k.MAC.IsZero() && !d.Key.MAC.IsZero() {
		// Events arrived for the address before its MAC was known (a DHCP
		// ACK, a capture that starts mid-flow): the MAC device takes them.
		if old, ok := inv.devices[k]; ok && !old.viaRouter {
			inv.merge(d, old)
		}
	}
	inv.byIP[ip] = d.Key
}

// claim decides whether d, which does not hold ip, may take it at ts,
// and takes it from the MAC device holding it when so: an address belongs
// to one device at a time, else a reused address would stay in the old
// device's quarantine entry and block the new one.
//
// Frames, ARP, neighbour entries and DHCP messages seen on the LAN are all
// what the devices say about themselves: a device can send them with any
// address (and a quarantined one with a new MAC, to shed its address from
// the block sets). So they take ip only from a holder that has moved on
// (see movedOn), which is how reuse looks; a spoofer then strips only
// addresses their holders no longer use, and cannot claim live ones (else
// it could look protected with the owner's address). A lease from the
// router's own DHCP server is authoritative: the server hands out an
// address only once the previous lease is gone.
//
// It allocates nothing; it runs only for addresses new to d.
func (inv *Inventory) claim(d *Device, ip netip.Addr, ts time.Time, assigned bool) bool {
	k, ok := inv.byIP[ip]
	if !ok || k == d.Key || d.Key.MAC.IsZero() {
		return true
	}
	prev, ok := inv.devices[k]
	if !ok {
		return true
	}
	if k.MAC.IsZero() {
		// An address-keyed device addAddr merges, unless it is another
		// segment's: a frame here claiming its address is a forgery.
		return !prev.viaRouter
	}
	i := slices.Index(prev.Addrs, ip)
	if i < 0 {
		return true // prev dropped it from its most recent maxAddrs
	}
	if !assigned && !movedOn(prev.Addresses, i, ts) {
		return false
	}
	prev.Addrs = slices.Delete(prev.Addrs, i, i+1)
	prev.Addresses = slices.Delete(prev.Addresses, i, i+1)
	return true
}

// addrIdle is how long a holder must have left an IPv4, global or unique
// local IPv6 address unused before packets may move it to another device.
const addrIdle = 10 * time.Minute

// HeldAddress returns the one of addrs the device used last, when the
// device is at it: it used no IPv4 address outside addrs within addrIdle
// before then. Anyone can send a frame from a free address: a device
// that does so from one of addrs (a management address whose PC is off)
// while it keeps its own is not at it; a PC moved from its DHCP address
// to a static one is, once it has left the old one unused that long.
func (d *Device) HeldAddress(addrs []netip.Addr) (netip.Addr, bool) {
	var held *Address
	for i, a := range d.Addresses {
		if slices.Contains(addrs, a.Addr) && (held == nil || a.LastSeen.After(held.LastSeen)) {
			held = &d.Addresses[i]
		}
	}
	if held == nil {
		return netip.Addr{}, false
	}
	for _, a := range d.Addresses {
		if a.Addr.Is4() && !slices.Contains(addrs, a.Addr) && a.LastSeen.After(held.LastSeen.Add(-addrIdle)) {
			return netip.Addr{}, false
		}
	}
	return held.Addr, true
}

// movedOn reports whether a device with addrs (most recent last) has left
// addrs[i]: it used an address of the same kind after it (IPv4, IPv6
// link-local or other IPv6, since a device keeps a link-local address
// beside its others), and has left addrs[i] unused for addrIdle before
// now. The idle time matters for IPv6, where a host sends from a stable
// address, temporary ones and a ULA at the same time, and for IPv4,
// where a later address can be planted on a device (a neighbour entry
// the kernel made from a forged ARP) to make its live one look left.
func movedOn(addrs []Address, i int, now time.Time) bool {
	a := addrs[i].Addr
	if !a.IsLinkLocalUnicast() && now.Sub(addrs[i].LastSeen) < addrIdle {
		return false
	}
	for _, b := range addrs[i+1:] {
		if sameKind(a, b.Addr) {
			return true
		}
	}
	return false
}

// sameKind reports whether a and b are both IPv4, both IPv6 link-local
// or both other IPv6 addresses.
func sameKind(a, b netip.Addr) bool {
	return a.Is4() == b.Is4() && a.IsLinkLocalUnicast() == b.IsLinkLocalUnicast()
}

// forget takes d out of the devices map.
func (inv *Inventory) forget(d *Device) {
	delete(inv.devices, d.Key)
	for i := range inv.recent {
		if inv.recent[i] == d {
			inv.recent[i] = nil
		}
	}
}

// merge moves what is known about the address-keyed device old into d.
func (inv *Inventory) merge(d, old *Device) {
	inv.forget(old)
	if old.FirstSeen.Before(d.FirstSeen) {
		d.FirstSeen = old.FirstSeen
	}
	if old.LastSeen.After(d.LastSeen) {
		d.LastSeen = old.LastSeen
	}
	d.Packets += old.Packets
	d.Bytes += old.Bytes
	d.DroppedEvents += old.DroppedEvents
	for _, ev := range old.Findings {
		inv.file(d, ev)
	}
	for _, ev := range old.Observations {
		inv.file(d, ev)
	}
	// Both devices' names, one entry per name and source with the first
	// and last use of either, in the order they were last used: the one
	// used last stays last, and a full list drops the stalest.
	names := append(slices.Clone(d.Hostnames), old.Hostnames...)
	merged := names[:0]
	for _, h := range names {
		i := slices.IndexFunc(merged, func(m Hostname) bool { return strings.EqualFold(m.Name, h.Name) && m.Source == h.Source })
		if i < 0 {
			merged = append(merged, h)
			continue
		}
		if h.FirstSeen.Before(merged[i].FirstSeen) {
			merged[i].FirstSeen = h.FirstSeen
		}
		if h.LastSeen.After(merged[i].LastSeen) {
			merged[i].LastSeen = h.LastSeen
		}
	}
	slices.SortStableFunc(merged, func(a, b Hostname) int { return a.LastSeen.Compare(b.LastSeen) })
	merged = merged[max(0, len(merged)-maxHostnames):]
	d.Hostnames = append(d.Hostnames[:0], merged...)
	if old.Identity.DNSServer {
		d.markDNSServer() // before old's votes come: its domains go
	}
	for _, srv := range old.iterServers {
		if srv.IsValid() {
			d.askedIteratively(srv)
		}
	}
	for _, v := range old.votes {
		// Each source at its own time: the confirmations are what gives
		// a served firmware its rank.
		ev := v.ev
		ev.Time = v.srcAt
		inv.addVote(d, v.field, v.value, ev)
		for i, src := range v.also {
			ev.Source, ev.Time = src, v.alsoAt[i]
			inv.addVote(d, v.field, v.value, ev)
		}
	}
	for _, sw := range old.Software {
		d.addSoftware(sw)
	}
	// The counts add up; old's remembered connections are not carried
	// over, so a ServerHello of one of them credits nothing (unknown,
	// not pass).
	n, more := d.lanClear.n+old.lanClear.n, d.lanClear.more || old.lanClear.more
	for _, r := range old.lanClear.reasons {
		if r != "" {
			d.lanClear.add([]byte(r), []byte(r), false) // seldom: devices merge once
		}
	}
	d.lanClear.n, d.lanClear.more = n, d.lanClear.more || more
	d.traffic.wanConns += old.traffic.wanConns
	d.traffic.tlsStrong += old.traffic.tlsStrong
	d.traffic.tlsWeak += old.traffic.tlsWeak
	d.traffic.udp.merge(old.traffic.udp)
	if !d.hasSYN && old.hasSYN {
		d.syn, d.synTime, d.hasSYN = old.syn, old.synTime, true
	}
	inv.refresh(d)
}

func (inv *Inventory) get(k Key, ts time.Time) *Device {
	if d := inv.recent[0]; d != nil && d.Key == k {
		return d
	}
	if d := inv.recent[1]; d != nil && d.Key == k {
		inv.remember(d)
		return d
	}
	if d, ok := inv.devices[k]; ok {
		inv.remember(d)
		return d
	}
	if len(inv.devices) >= inv.max {
		inv.evict()
	}
	d := &Device{Key: k, FirstSeen: ts, LastSeen: ts, dirty: true}
	inv.devices[k] = d
	inv.remember(d)
	inv.identifyMAC(d, ts)
	return d
}

// remember puts d first in recent, the device there before it second.
func (inv *Inventory) remember(d *Device) { inv.recent[0], inv.recent[1] = d, inv.recent[0] }

// identifyMAC adds what a new device's MAC says: a private address, or
// the OUI's registrant and the rules about it.
func (inv *Inventory) identifyMAC(d *Device, ts time.Time) {
	mac := d.Key.MAC
	if mac.IsZero() {
		return
	}
	if mac.IsLocallyAdministered() {
		d.Identity.PrivateMAC = true
		return
	}
	v, ok := inv.oui.Lookup(mac.OUI())
	if !ok {
		return
	}
	d.Identity.RegisteredVendor = v.Name
	ev := Evidence{Signal: string(fingerprint.SigOUI), Source: "oui", Value: v.Name, Time: ts}
	ruled := false
	inv.rules.Match(fingerprint.SigOUI, v.Name, func(m fingerprint.Match) {
		ruled = ruled || m.Vendor != ""
		inv.addMatch(d, m, ev)
	})
	if !ruled {
		ev.Rule, ev.Weight = "oui-registrant", ouiWeight
		inv.addVote(d, fieldVendor, v.Short, ev)
	}
}

// evictCandidate is a device evict may forget: lower rank first, then
// the one seen longest ago.
type evictCandidate struct {
	d    *Device
	rank int // 0: no findings; 1: findings; 2: pinned
}

// evict makes room for a new device by forgetting those seen longest ago,
// a sixteenth of the inventory at once: one sort serves many new devices,
// where a scan per device would let a flood of made-up MACs cost a pass
// over the whole inventory per frame. Devices without findings go first,
// then those with findings (a quarantine may be waiting on them), a
// pinned one only when every device is pinned.
func (inv *Inventory) evict() {
	cands := inv.evicting[:0]
	unpinned := 0
	for _, d := range inv.devices {
		c := evictCandidate{d: d}
		switch {
		case inv.isPinned(d.Key):
			c.rank = 2
		case len(d.Findings) > 0:
			c.rank, unpinned = 1, unpinned+1
		default:
			unpinned++
		}
		cands = append(cands, c)
	}
	slices.SortFunc(cands, func(a, b evictCandidate) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return a.d.LastSeen.Compare(b.d.LastSeen)
	})
	n := min(max(1, inv.max/16), unpinned)
	if n == 0 {
		n = min(1, len(cands))
	}
	for _, c := range cands[:n] {
		inv.forget(c.d)
		for _, a := range c.d.Addrs {
			if inv.byIP[a] == c.d.Key {
				delete(inv.byIP, a)
			}
		}
		inv.Dropped++
	}
	clear(cands)
	inv.evicting = cands[:0]
}

func (inv *Inventory) isPinned(k Key) bool {
	_, ok := inv.pinned[k]
	return ok
}

// Emit implements inspect.Sink: the event is filed under its device, and
// an observation adds to its identity.
func (inv *Inventory) Emit(ev *event.Event) { inv.File(ev) }

// File files ev like Emit and returns the device it went to, or nil when
// the event is about no device of this network.
func (inv *Inventory) File(ev *event.Event) *Device {
	// A WAN server's banner seen from a LAN client says nothing about a
	// device of this network; captures with no LAN side keep everything.
	if !ev.Device.Local && ev.Flow != nil && (ev.Flow.Client.Local || ev.Flow.Server.Local) {
		inv.noteWANServer(ev)
		return nil
	}
	d, t := inv.deviceFor(ev)
	if d == nil {
		return nil
	}
	if ev.Time.After(d.LastSeen) {
		d.LastSeen = ev.Time
	}
	inv.file(d, ev)
	inv.noteLANCleartext(ev)
	if ev.Kind == event.KindWeakTLS {
		d.noteWeakSuite(ev)
	}
	if (ev.Kind == event.KindMDNS || ev.Kind == event.KindWSD) && !inv.announcedBy(d, ev.Evidence["addresses"], ev.Evidence["several_hosts"] == "yes") {
		t = trustNone
	}
	if ev.Kind == event.KindDNSQuery && ev.Evidence["iterative"] == "yes" {
		inv.noteIterative(d, ev)
	}
	if !ev.IsFinding() && t != trustNone {
		inv.learn(d, ev, t)
	}
	return d
}

// iterativeServers is how many internet servers a device must ask
// without recursion to count as a recursive resolver. Resolving one name
// iteratively asks a root, a TLD's and the name's own servers; a stub
// clearing RD for an odd lookup (a diagnostic tool, a buggy SDK) asks
// one, and a LAN server asked so says nothing of the internet's names.
const iterativeServers = 3

// noteIterative counts a lookup d asked without recursion (dns_query
// evidence iterative=yes, which the DNS analyzer takes only from the
// client's own query) towards marking it a DNS server: a recursive
// resolver's lookups are its clients' names, even where the capture
// does not see it answer them.
func (inv *Inventory) noteIterative(d *Device, ev *event.Event) {
	f := ev.Flow
	if f == nil || f.Client.IP != ev.Device.IP {
		return
	}
	srv, err := netip.ParseAddr(f.Server.IP)
	if err != nil || inv.isLocal(srv.Unmap()) {
		return
	}
	d.askedIteratively(srv.Unmap())
}

// askedIteratively records that d asked srv without recursion, and marks
// d once it asked iterativeServers distinct servers so. The servers are
// kept in a fixed array: no allocation, and nothing more once marked.
func (d *Device) askedIteratively(srv netip.Addr) {
	if d.Identity.DNSServer {
		return
	}
	for i, a := range d.iterServers {
		switch a {
		case srv:
			return
		case netip.Addr{}:
			d.iterServers[i] = srv
			return
		}
	}
	d.markDNSServer()
}

// trust is how far an event's content describes the device it is filed
// under.
type trust uint8

const (
	trustOwn     trust = iota // what the device says of itself
	trustRelayed              // DHCP a relay forwarded for it: unverifiable
	trustNone                 // about another device, or unverifiable
)

// seenOnLink records that frames or the neighbour table show d on this
// link. Relayed DHCP said to be its own before was forged (a client here
// talks to the server itself), so what it gave is dropped.
func (d *Device) seenOnLink() {
	d.onLink = true
	if !d.relayed {
		return
	}
	d.relayed = false
	d.votes = slices.DeleteFunc(d.votes, func(v vote) bool { return v.ev.Source == string(event.KindDHCP) })
	d.Hostnames = slices.DeleteFunc(d.Hostnames, func(h Hostname) bool { return h.Source == string(event.KindDHCP) })
	d.dirty = true
}

// noteWANServer counts the TLS version an internet server negotiated with
// a LAN device, for that device's scorecard: once per connection, and
// only for a connection whose SYN the device was counted for. A joined
// connection (its opening not seen) credits nothing: two made-up frames
// would otherwise cover a connection in clear. Nor does a suite the TLS
// analyzer does not know: it may be a private, broken one.
func (inv *Inventory) noteWANServer(ev *event.Event) {
	f := ev.Flow
	if ev.Kind != event.KindTLSServer || !f.Client.Local || f.Server.Local || f.Joined {
		return
	}
	d := inv.existing(f.Client)
	if d == nil {
		return
	}
	c := d.traffic.wanConnOf(f)
	if c == nil || c.tls != tlsNone {
		return
	}
	v, err := strconv.ParseUint(ev.Evidence["tls_version_id"], 0, 16)
	switch {
	case err != nil:
	case v >= 0x0303 && ev.Evidence["cipher_strength"] == "unknown": // TLS 1.2
		c.tls = tlsUnknown
	case v >= 0x0303:
		c.tls = tlsStrong
		d.traffic.tlsStrong++
	default:
		c.tls = tlsWeak
		d.traffic.tlsWeak++
	}
}

// wanConnOf returns the remembered connection of f, or nil.
func (t *trafficCounts) wanConnOf(f *event.Flow) *wanConn {
	dst, err := netip.ParseAddr(f.Server.IP)
	if err != nil || f.Server.Port == 0 || f.Client.Port == 0 {
		return nil
	}
	return t.conn(dst.Unmap(), f.Server.Port, f.Client.Port)
}

// noteWeakSuite moves an internet session of d from strong to weak when
// the TLS analyzer found its suite weak. noteWANServer counted its
// ServerHello by version alone; the analyzer, which grades suites, says
// so at the flow's end in a weak_tls finding against the device as the
// client, with reason weak_cipher. With reason old_version too the
// version was below TLS 1.2, and the session already counts as weak.
func (d *Device) noteWeakSuite(ev *event.Event) {
	f := ev.Flow
	if f == nil || f.Server.Local || !f.Client.Local || f.Client.IP != ev.Device.IP {
		return
	}
	weakSuite := false
	for r := range strings.SplitSeq(ev.Evidence["reason"], ",") {
		switch r {
		case "old_version":
			return
		case "weak_cipher":
			weakSuite = true
		}
	}
	if !weakSuite {
		return
	}
	// Only the connection's own strong credit moves; one not remembered
	// is left as it is, and the finding itself keeps the device from a
	// pass.
	if t := &d.traffic; t.tlsStrong > 0 {
		c := t.wanConnOf(f)
		if c == nil || c.tls != tlsStrong {
			return
		}
		c.tls = tlsWeak
		t.tlsStrong--
		t.tlsWeak++
	}
}

// announcedBy reports whether an mDNS announcement from d whose address
// records name addrs (a comma list) is d's own, or a WS-Discovery
// message whose XAddrs name them (a discovery proxy answers for the
// devices it knows, and anyone can send a camera's Hello): no address record, or
// one that is d's, or none that is someone else's. A responder puts its
// address records beside its host name, services and TXT records (RFC
// 6763 12), and the DNS analyzer splits an announcement naming several
// hosts into one per host; so addresses of someone else's relay that
// host's records: an access point reflecting mDNS between its networks,
// a Bonjour Sleep Proxy answering for a sleeping Mac. An address is d's
// when d used it, and someone else's when another device holds it, or
// when d holds another of its kind that a host has only one of (IPv4,
// IPv6 link-local); otherwise nothing contradicts it (a host announces
// its link-local address over IPv4 before it sends from it, and has many
// global IPv6 addresses). One address of d's makes the host d, whatever
// the others (an address just moved to d); one of someone else's makes
// it another host, whatever unknown global IPv6 addresses it has beside.
// severalHosts: the announcement is one host of several, none with the
// address d sent it from, or one match of a WS-Discovery message of
// several; then only an address of d's makes it d's. A
// Thread border router (a HomePod) relays its accessories' records with
// their addresses on the mesh's prefix, which nothing above contradicts:
// it was named after the Eve sensor it relayed.
func (inv *Inventory) announcedBy(d *Device, addrs string, severalHosts bool) bool {
	if addrs == "" {
		return !severalHosts
	}
	other := severalHosts
	for s := range strings.SplitSeq(addrs, ",") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		a = a.Unmap()
		if slices.Contains(d.Addrs, a) {
			return true
		}
		if k, ok := inv.byIP[a]; ok && k != d.Key {
			other = true
			continue
		}
		single := a.Is4() || a.IsLinkLocalUnicast()
		if single && slices.ContainsFunc(d.Addrs, func(b netip.Addr) bool { return sameKind(a, b) }) {
			other = true
		}
	}
	return !other
}

// existing finds the device of an endpoint without making one.
func (inv *Inventory) existing(ep event.Endpoint) *Device {
	if mac, ok := inv.texts.mac(ep.MAC); ok && !mac.IsZero() {
		return inv.devices[Key{MAC: mac}]
	}
	ip := inv.texts.ip(ep.IP)
	if !ip.IsValid() {
		return nil
	}
	if k, ok := inv.byIP[ip.Unmap()]; ok {
		return inv.devices[k]
	}
	return nil
}

// learn adds what an observation says about the device it is filed under.
// Relayed DHCP gives no software: whoever sends it can name any client,
// and software is what raises findings.
// joinedSource marks the source of what a server sent on a connection
// whose opening was not seen ("http_server/joined"): two made-up frames
// with a device's MAC, one of them "its" answer, are such a connection,
// and event.SourceTrust gives a source it does not list only a claim's
// trust, on which policy quarantines nothing.
func joinedSource(ev *event.Event, source string) string {
	if ev.Flow != nil && ev.Flow.Joined {
		return source + "/joined"
	}
	return source
}

func (inv *Inventory) learn(d *Device, ev *event.Event, t trust) {
	if t == trustRelayed {
		d.relayed = true
	}
	source := string(ev.Kind)
	switch ev.Kind {
	case event.KindBanner:
		if p := ev.Evidence["protocol"]; p != "" {
			source += "/" + p
		}
		source = joinedSource(ev, source)
	case event.KindHTTPServer:
		source = joinedSource(ev, source)
	case event.KindDHCP:
		if ev.Evidence["message_type"] != "ack" {
			d.addHostname(ev.Evidence["hostname"], "dhcp", ev.Time)
			if t == trustOwn && d.namedByDHCP() {
				// Its own word replaces what a lease said: anyone can
				// have the server record d's MAC with a name.
				d.Hostnames = slices.DeleteFunc(d.Hostnames, func(h Hostname) bool { return h.Source == SourceLease })
			}
		}
	case event.KindMDNS:
		d.addHostname(ev.Evidence["hostname"], "mdns", ev.Time)
	}
	inv.rules.Signals(ev, func(sig fingerprint.Signal, value string) {
		base := Evidence{Signal: string(sig), Source: source, Value: value, Time: ev.Time}
		for _, m := range inv.match(sig, value) {
			if t == trustRelayed {
				m.Software = ""
			}
			inv.addMatch(d, m, base)
		}
	})
	inv.refresh(d)
}

// maxMatchCache bounds the memo of rule matches; the same few server
// headers, banners and domains come back again and again, and matching
// them runs regular expressions.
const maxMatchCache = 2048

type matchKey struct {
	sig   fingerprint.Signal
	value string
}

// match is rules.Match, memoised.
func (inv *Inventory) match(sig fingerprint.Signal, value string) []fingerprint.Match {
	k := matchKey{sig, value}
	if ms, ok := inv.matches[k]; ok {
		return ms
	}
	var ms []fingerprint.Match
	inv.rules.Match(sig, value, func(m fingerprint.Match) { ms = append(ms, m) })
	if len(inv.matches) >= maxMatchCache {
		clear(inv.matches)
	}
	inv.matches[k] = ms
	return ms
}

// file adds ev to d's findings or observations, folding repeats.
func (inv *Inventory) file(d *Device, ev *event.Event) {
	list := &d.Observations
	limit := maxObservation
	if ev.IsFinding() {
		list, limit = &d.Findings, maxFindings
	}
	inv.key = ev.AppendDedupKey(inv.key[:0])
	if d.filed == nil {
		d.filed = make(map[string]*event.Event)
	}
	if old, ok := d.filed[string(inv.key)]; ok {
		old.Count = max(old.Count, 1) + max(ev.Count, 1)
		latest := old.LastSeen()
		if ev.Kind == KindAudit && !ev.Time.Before(latest) {
			// An audit's result is a state: the latest one stands
			// ("stopped" one week, "none_found" the next).
			old.Summary, old.Evidence = ev.Summary, ev.Evidence
		}
		if ev.Kind == event.KindPlaintextProtocol && ev.Evidence["server_name"] != "" && !ev.Time.Before(latest) {
			// A service known by name moves between addresses (a
			// CDN's DNS): the finding tells the latest one, which a
			// restart gives back to the engine under the name
			// (pipeline.Restore), as the device's cached answer holds
			// it.
			old.Summary, old.Evidence, old.Flow = ev.Summary, ev.Evidence, ev.Flow
		}
		if ev.Time.After(old.LastTime) && !ev.Time.Before(old.Time) {
			// Not for one that arrives late: LastTime before Time would
			// make the next late audit result look like the latest.
			old.LastTime = ev.Time
		}
		if ev.Severity > old.Severity {
			old.Severity = ev.Severity
		}
		return
	}
	if len(*list) >= limit {
		d.DroppedEvents++
		// Full: a finding displaces the least severe, oldest one if it
		// is more severe, so that the default login after 64 plaintext
		// connections still reaches policy while findings of the same
		// weight cannot push out the reason for a quarantine. Nor can
		// one kind keep the others out (displaced). A pinned
		// (quarantined) device keeps the findings it has. An audit's
		// result displaces the routine observation seen longest ago: it
		// is a state, one per check, that the scorecard needs however
		// many connections a phone has filled the list with. Other
		// observations keep the first ones.
		i := -1
		switch {
		case ev.IsFinding():
			if _, pinned := inv.pinned[d.Key]; !pinned {
				i = displaced(*list, ev)
			}
		case ev.Kind == KindAudit:
			i = weakest(*list, isAudit)
		}
		if i < 0 {
			return
		}
		delete(d.filed, (*list)[i].DedupKey())
		*list = slices.Delete(*list, i, i+1)
	}
	*list = append(*list, ev)
	d.filed[string(inv.key)] = ev
}

// weakest is the index of the least severe event, the one last seen
// longest ago among equals, passing over those keep holds (nil: none);
// -1 when it holds them all.
func weakest(list []*event.Event, keep func(*event.Event) bool) int {
	w := -1
	for i, ev := range list {
		if keep != nil && keep(ev) {
			continue
		}
		if w < 0 || ev.Severity < list[w].Severity || ev.Severity == list[w].Severity && ev.LastSeen().Before(list[w].LastSeen()) {
			w = i
		}
	}
	return w
}

func isAudit(ev *event.Event) bool { return ev.Kind == KindAudit }

// displaced is the index of the finding a full list gives up for ev, -1
// when it keeps them all: the weakest of a crowding kind (crowding), or
// else the least severe finding seen longest ago if ev is more severe.
// A kind holding its share or more takes that place only from itself or
// from a kind holding more than its share: else the next finding of the
// crowding kind, more severe, would push out the advisory that has just
// taken the place of one of its findings.
func displaced(list []*event.Event, ev *event.Event) int {
	if i := crowding(list, ev.Kind); i >= 0 {
		return i
	}
	var keep func(*event.Event) bool
	if kindCount(list, ev.Kind) >= kindShare {
		keep = func(f *event.Event) bool { return f.Kind != ev.Kind && kindCount(list, f.Kind) <= kindShare }
	}
	i := weakest(list, keep)
	if i < 0 || ev.Severity <= list[i].Severity {
		return -1
	}
	return i
}

// kindCount is the number of findings of kind in list.
func kindCount(list []*event.Event, kind event.Kind) int {
	n := 0
	for _, f := range list {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// crowding is the index of the finding a full list gives up for one of
// kind, which holds fewer than kindShare of them: the weakest (see
// weakest) of the kind holding the most, if that is more than its
// share; else -1. Personal data sent to ever new addresses, or weak
// TLS to as many servers, which anyone can send in a device's name,
// must not keep the default login or the advisory that policy
// quarantines on out of the list, however severe they are: the
// crowding kind keeps its share, the most severe of it. It allocates
// nothing; a list holds few kinds.
func crowding(list []*event.Event, kind event.Kind) int {
	if kindCount(list, kind) >= kindShare {
		return -1
	}
	var most event.Kind
	mostN := kindShare
	for _, f := range list {
		if f.Kind != most {
			if n := kindCount(list, f.Kind); n > mostN {
				most, mostN = f.Kind, n
			}
		}
	}
	if most == "" {
		return -1
	}
	return weakest(list, func(f *event.Event) bool { return f.Kind != most })
}

// deviceFor finds or makes the device an event is about, and says how
// far the event's content describes it.
func (inv *Inventory) deviceFor(ev *event.Event) (d *Device, t trust) {
	ts := ev.Time
	macText, withIP := ev.Device.MAC, true
	foreign := false
	if ev.Kind == event.KindDHCP && (ev.Evidence["client_mac"] != "" || ev.Evidence["relay_ip"] != "") {
		macText, t, foreign = inv.dhcpClient(ev)
		// A relayed message comes from the relay's address.
		withIP = t != trustRelayed
	}
	viaRouter := false
	ip := inv.texts.ip(ev.Device.IP)
	if macText != "" {
		mac, parsed := inv.texts.mac(macText)
		viaRouter = parsed && ip.IsValid() && inv.isRouted(mac, ip.Unmap())
		if parsed && !mac.IsZero() && !mac.IsMulticast() && !viaRouter {
			d := inv.get(Key{MAC: mac}, ts)
			if withIP && ip.IsValid() {
				inv.addAddr(d, ip, ts, false)
			}
			if foreign && ts.After(d.foreignDHCP) {
				d.foreignDHCP = ts
			}
			return d, t
		}
	}
	if !ip.IsValid() {
		return nil, trustNone
	}
	ip = ip.Unmap()
	if k, ok := inv.byIP[ip]; ok {
		if d, ok := inv.devices[k]; ok {
			d.viaRouter = d.viaRouter || viaRouter && k.MAC.IsZero()
			return d, t
		}
	}
	d = inv.get(Key{IP: ip}, ts)
	d.viaRouter = viaRouter
	inv.addAddr(d, ip, ts, false)
	return d, t
}

// dhcpClient picks the MAC a DHCP message is filed under. The client
// hardware address in it (chaddr, or the MAC inside a DHCPv6 DUID) is
// whatever the sender wrote: any LAN client could name another device
// and plant a host name and software on it. So it names the device only
// when the frame came from that MAC, when no frame MAC is known (a
// capture without a link layer, a reply to a client that has not sent on
// the flow) and no relay handled the message, or when a relay agent
// forwarded the message (DHCPv4 giaddr, a DHCPv6 Relay-Forward, an ACK
// sent to a relay: relay_ip) for a client not seen on this link; the
// address of a relayed message is the relay's, with or without a frame
// MAC.
// Otherwise the frame's sender gets the message: a DHCPv6 client sends
// its own messages and its DUID may keep another interface's MAC, so
// its content is still its own unless relayed; a relayed message, or a
// DHCPv4 message with a foreign chaddr, describes another client (a
// MAC-rewriting repeater's, or a forger's victim) and is trusted for
// nothing; foreign says so, for the sender's SharedMAC.
func (inv *Inventory) dhcpClient(ev *event.Event) (macText string, t trust, foreign bool) {
	client := ev.Evidence["client_mac"]
	cm, ok := inv.texts.mac(client)
	if !ok || cm.IsZero() {
		return ev.Device.MAC, trustNone, false
	}
	relayed := ev.Evidence["relay_ip"] != ""
	if ev.Device.MAC == "" && !relayed {
		return client, trustOwn, false
	}
	if fm, ok := inv.texts.mac(ev.Device.MAC); ok && fm == cm {
		return client, trustOwn, false
	}
	if ev.Evidence["protocol"] == "dhcpv6" && !relayed {
		return ev.Device.MAC, trustOwn, false
	}
	if relayed {
		// A client seen on this link talks to the server itself; a
		// relayed message for it is forged.
		if d, ok := inv.devices[Key{MAC: cm}]; !ok || !d.onLink {
			return client, trustRelayed, false
		}
		return ev.Device.MAC, trustNone, false
	}
	// Only what the frame's sender sent for another client marks it: an
	// answer (an ACK) is filed under its receiver, whose MAC anyone
	// answering in the server's name could address it to.
	return ev.Device.MAC, trustNone, clientMessage(ev.Evidence["message_type"])
}

// clientMessage: a DHCPv4 message type only a client sends (the analyzer
// files such a message, a BOOTREQUEST, under its sender).
func clientMessage(t string) bool {
	switch t {
	case "discover", "request", "decline", "release", "inform":
		return true
	}
	return false
}

// HolderOf returns the MAC of the device that holds ip, if a device known
// by its MAC does.
func (inv *Inventory) HolderOf(ip netip.Addr) (hwaddr.MAC, bool) {
	k, ok := inv.byIP[ip.Unmap()]
	if !ok || k.MAC.IsZero() {
		return hwaddr.MAC{}, false
	}
	return k.MAC, true
}

// BrowsesAt reports whether what the device an event names (by MAC, or
// else by address) looks up is people's browsing: it is one whose owner
// installs apps (runsApps: a phone or a computer), or a DNS server on the
// LAN (a Pi-hole forwarding its clients' lookups as its own). It creates
// no device.
func (inv *Inventory) BrowsesAt(ep event.Endpoint) bool {
	d := inv.existing(ep)
	return d != nil && (d.Identity.DNSServer || runsApps(d.votes))
}

// Restore makes the device of mac as a saved record had it: first and
// last seen, and its addresses (oldest first), before its saved findings
// are filed. A restarted daemon must not take a device for new, which
// would make every quarantine older than the device's record.
func (inv *Inventory) Restore(mac hwaddr.MAC, first, last time.Time, addrs []netip.Addr) {
	if mac.IsZero() {
		return
	}
	d := inv.get(Key{MAC: mac}, last)
	if !first.IsZero() && (d.FirstSeen.IsZero() || first.Before(d.FirstSeen)) {
		d.FirstSeen = first
	}
	if last.After(d.LastSeen) {
		d.LastSeen = last
	}
	for _, a := range addrs {
		inv.addAddr(d, a, last, false)
	}
}

// RestoreFinding files a finding saved by an earlier run under the device
// of mac, as it was. The address it names is the one the device used
// then, which another device may hold now (a DHCP lease moved on): it
// does not touch the device's addresses, which Restore gave it.
func (inv *Inventory) RestoreFinding(mac hwaddr.MAC, ev *event.Event) {
	if mac.IsZero() {
		return
	}
	inv.file(inv.get(Key{MAC: mac}, ev.Time), ev)
}

// Withdraw takes finding f off d: what it reported no longer holds (the
// device runs a fixed version now). It reports whether f was d's.
func (inv *Inventory) Withdraw(d *Device, f *event.Event) bool {
	i := slices.Index(d.Findings, f)
	if i < 0 {
		return false
	}
	d.Findings = slices.Delete(d.Findings, i, i+1)
	delete(d.filed, f.DedupKey())
	return true
}

// Pin keeps the device of k, now or when it comes, from eviction (unless
// every device is pinned) and its findings from being displaced, while
// pinned is set: a quarantined device is usually quiet, so the oldest,
// and its findings are what holds its quarantine. The caller bounds how
// many it pins (the daemon: its quarantines).
func (inv *Inventory) Pin(k Key, pinned bool) {
	if pinned {
		inv.pinned[k] = struct{}{}
	} else {
		delete(inv.pinned, k)
	}
}

// Pinned reports whether k is pinned.
func (inv *Inventory) Pinned(k Key) bool {
	_, ok := inv.pinned[k]
	return ok
}

// Lookup returns the device with key k, its identity up to date.
func (inv *Inventory) Lookup(k Key) (*Device, bool) {
	d, ok := inv.devices[k]
	if ok {
		inv.refresh(d)
	}
	return d, ok
}

// Devices returns every device, those with findings first, then by key,
// their identities up to date.
func (inv *Inventory) Devices() []*Device {
	// Each key's text once, not twice per comparison: the daemon lists a
	// full inventory every few seconds with the packet path waiting.
	type entry struct {
		d   *Device
		key string
	}
	all := make([]entry, 0, len(inv.devices))
	for _, d := range inv.devices {
		inv.refresh(d)
		all = append(all, entry{d, d.Key.String()})
	}
	sort.Slice(all, func(i, j int) bool {
		fi, fj := len(all[i].d.Findings) > 0, len(all[j].d.Findings) > 0
		if fi != fj {
			return fi
		}
		return all[i].key < all[j].key
	})
	out := make([]*Device, len(all))
	for i, e := range all {
		out[i] = e.d
	}
	return out
}

// Len is the number of devices.
func (inv *Inventory) Len() int { return len(inv.devices) }

// Seen sources of leases from the router's DHCP server. A lease moves an
// address from the device that held it: the server hands it out only
// once the previous lease is gone. A DHCPv6 lease names no MAC, only the
// client's DUID, which may hold another interface's MAC (a laptop's
// Ethernet one while it runs on Wi-Fi) or any MAC the client wrote:
// its address goes to that MAC only as what a device says about itself.
const (
	SourceLease     = "lease"
	SourceLeaseDUID = "lease-duid"
)

// Seen records that mac used ip at ts, from outside the packet path: the
// kernel's neighbour table or a DHCP lease (source SourceLease or
// SourceLeaseDUID). A hostname from a DHCPv4 lease is kept as the
// device's name for itself until the device's own DHCP names it (see
// namedByDHCP); one from a DHCPv6 lease is not kept.
func (inv *Inventory) Seen(mac hwaddr.MAC, ip netip.Addr, hostname, source string, ts time.Time) {
	if mac.IsZero() || mac.IsMulticast() {
		return
	}
	d := inv.get(Key{MAC: mac}, ts)
	if ts.After(d.LastSeen) {
		d.LastSeen = ts
	}
	if source != SourceLease && source != SourceLeaseDUID && !d.onLink {
		// The router's neighbour table lists devices on its own links; its
		// DHCP server also leases to clients behind a relay.
		d.seenOnLink()
	}
	if ip.IsValid() && !ip.IsUnspecified() {
		inv.addAddr(d, ip, ts, source == SourceLease)
	}
	if hostname != "" && source != SourceLeaseDUID && !d.namedByDHCP() {
		d.addHostname(hostname, source, ts)
		d.dirty = true
	}
}

// namedByDHCP reports whether d's own DHCP messages gave it a host name.
// The server records the name of whoever sent a message with d's MAC in
// chaddr, which any LAN host can write: the packet path files such a
// message under its sender, but the lease file keeps the name under d.
// So a lease's name stands in only while d's own word is missing; a
// DUID's MAC, which the client wrote (and may be another interface's),
// names nothing.
func (d *Device) namedByDHCP() bool {
	return slices.ContainsFunc(d.Hostnames, func(h Hostname) bool { return h.Source == string(event.KindDHCP) })
}
