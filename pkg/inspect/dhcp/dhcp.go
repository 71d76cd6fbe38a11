// Package dhcp reads DHCPv4 (RFC 2131/2132) and DHCPv6 (RFC 8415) client
// messages for device fingerprinting: what a device calls itself, which
// options it asks for, which software says it sent the request. It only
// reports observations; the device layer turns them into an identity.
//
// Every observation is event.KindDHCP, TypeObservation, SeverityInfo.
// The event's Device is the flow endpoint on the DHCP client's side (the
// sender of a client message, the receiver of a server reply), which for
// DHCP is often 0.0.0.0, a broadcast address or a relay agent: the device
// layer must key KindDHCP events by evidence client_mac when present.
//
// Evidence keys (a contract with the device layer; absent when the message
// lacks the field):
//
//	protocol      "dhcpv4" or "dhcpv6"
//	message_type  discover, request, decline, release, inform, ack (v4);
//	              solicit, request, confirm, renew, rebind, release,
//	              decline, information_request (v6); "type_N" otherwise
//	xid           transaction id, 8 lower-case hex digits
//	client_mac    aa:bb:cc:dd:ee:ff: v4 chaddr; v6 the MAC inside a
//	              DUID-LLT or DUID-LL with Ethernet hardware type
//	client_ip     v4 ciaddr, when the client already has an address
//	relay_ip      v4 giaddr, when a relay agent forwarded the message;
//	              v6 the link-address of the innermost Relay-Forward
//	              ("::" when the relay left it unspecified): the message
//	              is a client's that the sender relayed
//	hostname      v4 option 12, trailing NULs removed, printable ASCII
//	prl           v4 option 55 as decimal codes "1,3,6,15" (the classic
//	              DHCP fingerprint, order preserved)
//	max_msg_size  v4 option 57, decimal
//	vendor_class  v4 option 60; v6 option 16 data instances joined by ","
//	vendor_enterprise  v6 option 16 IANA enterprise number, decimal
//	client_id     v4 option 61, lower-case hex (at most 64 bytes)
//	client_duid   v6 option 1, lower-case hex (at most 64 bytes)
//	user_class    v4 option 77: RFC 3004 instances joined by ",", or the
//	              whole option as one string when it is not RFC 3004
//	fqdn          v4 option 81 / v6 option 39 domain name, no trailing dot
//	requested_ip  v4 option 50
//	server_id     v4 option 54
//	vendor_specific  v4 option 43, lower-case hex (at most 64 bytes)
//	mud_url       v4 option 161 (RFC 8520 Manufacturer Usage Description)
//	oro           v6 option 6 as decimal codes "23,24,25" (the DHCPv6
//	              fingerprint, order preserved)
//
// A DHCPv4 ACK that assigns an address is reported too, as message_type
// "ack" with client_mac, xid and:
//
//	assigned_ip   yiaddr, the address the server gave client_mac
//	server_id     option 54
//	router        first address of option 3
//	dns_servers   option 6, at most 4 addresses joined by ","
//	domain        option 15
//	relay_ip      giaddr, when the ACK goes to a relay agent (the
//	              flow's receiver is then the relay, not the client)
//
// Other server replies, BOOTP without DHCP's magic cookie, and retransmits
// of a message already reported on the flow (v4: the same bytes but for
// the secs field; v6: the same DUID, transaction and type) are not
// reported.
package dhcp

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is DHCPv4 and DHCPv6.
type Protocol struct {
	pool inspect.FreeList[analyzer]
	seed maphash.Seed // for the hashes of DHCPv4 messages (feedV4)
}

// New returns the DHCP protocol.
func New() *Protocol { return &Protocol{seed: maphash.MakeSeed()} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "dhcp" }

// Match implements inspect.Protocol: UDP on the DHCP ports, proven by a
// magic cookie (v4) or a known message type (v6).
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if f.IsTCP() {
		return inspect.NoMatch
	}
	switch {
	case isV6Flow(f):
		if len(b) >= 4 && b[0] >= v6Solicit && b[0] <= v6RelayRepl {
			return inspect.ContentMatch
		}
		return inspect.PortMatch
	case isV4Flow(f):
		if len(b) >= v4OffOptions && (b[0] == bootRequest || b[0] == bootReply) &&
			binary.BigEndian.Uint32(b[v4OffCookie:]) == magicCookie {
			return inspect.ContentMatch
		}
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

func isV4Flow(f *inspect.Flow) bool {
	return isPort(f, 67) || isPort(f, 68)
}

func isV6Flow(f *inspect.Flow) bool {
	return isPort(f, 546) || isPort(f, 547)
}

func isPort(f *inspect.Flow, p uint16) bool {
	return f.Client().Port() == p || f.Server().Port() == p
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(f *inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	a.v6 = isV6Flow(f)
	return a
}

// recentMessages is how many reported messages a flow remembers to drop
// retransmits. A broadcast flow (0.0.0.0:68 to 255.255.255.255:67) carries
// every client on the link, so it is more than one.
const recentMessages = 8

type analyzer struct {
	proto  *Protocol
	v6     bool
	m4     v4Message
	m6     v6Message
	recent [recentMessages]uint64
	next   int
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	if a.v6 {
		a.feedV6(f, dir, data)
	} else {
		a.feedV4(f, dir, data)
	}
	return len(data)
}

func (a *analyzer) Gap(*inspect.Flow, inspect.Dir) {}

func (a *analyzer) Close(*inspect.Flow) {
	a.proto.pool.Put(a)
}

// receiver is the Subject of the end a datagram goes to.
func receiver(dir inspect.Dir) inspect.Subject {
	if dir == inspect.ToServer {
		return inspect.SubjectServer
	}
	return inspect.SubjectClient
}

func (a *analyzer) feedV4(f *inspect.Flow, dir inspect.Dir, data []byte) {
	m := &a.m4
	if !parseV4(data, m) {
		return
	}
	var subject inspect.Subject
	switch {
	case m.op == bootRequest:
		subject = dir.Sender()
	case m.msgType == msgAck && m.yiaddr != [4]byte{}:
		subject = receiver(dir)
	default:
		return
	}
	// A retransmit differs from the original only in secs (bytes 8-9).
	// The message is hundreds of bytes: maphash, not FNV a byte at a
	// time.
	var h maphash.Hash
	h.SetSeed(a.proto.seed)
	h.Write(data[:8])
	h.Write(data[10:])
	if !a.remember(hash(h.Sum64())) {
		return
	}
	ev := newObservation()
	ev.Summary = "DHCP " + v4TypeName(m.msgType)
	if m.hasMAC {
		ev.Summary += " from " + formatMAC(m.chaddr)
	}
	if m.op == bootRequest {
		v4ClientEvidence(m, ev.Evidence)
	} else {
		v4AckEvidence(m, ev.Evidence)
	}
	f.Emit(subject, ev)
}

func (a *analyzer) feedV6(f *inspect.Flow, dir inspect.Dir, data []byte) {
	m := &a.m6
	if !parseV6(data, m) || !isClientMessage6(m.msgType) {
		return
	}
	// A retransmit differs from the original only in its Elapsed Time
	// option; the client, transaction and type identify it.
	if !a.remember(newHash().bytes(m.duid).uint32(m.xid).byte(m.msgType)) {
		return
	}
	ev := newObservation()
	ev.Summary = "DHCPv6 " + v6TypeName(m.msgType)
	v6Evidence(m, ev.Evidence)
	if mac, ok := ev.Evidence["client_mac"]; ok {
		ev.Summary += " from " + mac
	}
	f.Emit(dir.Sender(), ev)
}

// remember records h among the flow's recent messages; false means it was
// already there.
func (a *analyzer) remember(h hash) bool {
	for _, r := range a.recent {
		if r == uint64(h) {
			return false
		}
	}
	a.recent[a.next] = uint64(h)
	a.next = (a.next + 1) % recentMessages
	return true
}

func newObservation() *event.Event {
	return &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindDHCP,
		Severity: event.SeverityInfo,
		Evidence: event.Evidence{},
	}
}

// hash is FNV-1a, built without allocating.
type hash uint64

func newHash() hash { return 14695981039346656037 }

func (h hash) byte(c byte) hash { return (h ^ hash(c)) * 1099511628211 }

func (h hash) bytes(b []byte) hash {
	for _, c := range b {
		h = h.byte(c)
	}
	return h.byte(byte(len(b)))
}

func (h hash) uint32(v uint32) hash {
	return h.byte(byte(v >> 24)).byte(byte(v >> 16)).byte(byte(v >> 8)).byte(byte(v))
}
