// Package dns reads unicast DNS (UDP and TCP port 53) and multicast DNS
// with DNS-SD (RFC 6762/6763, UDP port 5353) for device fingerprinting:
// which names a device looks up, and what it announces about itself on
// the LAN (host name, addresses, services, model and firmware in TXT
// records). It only reports observations (TypeObservation, SeverityInfo);
// the device layer turns them into an identity.
//
// Unicast DNS: one event.KindDNSQuery per query name and type per flow,
// reported when the response arrives (or when the flow ends without one).
// The event's Device is the flow's client, the querying device. Only the
// client's own query files a lookup: a response completes a query seen
// on the flow (same name, type and message id) and is otherwise
// ignored, as is a query from the server side. Anyone can send a
// datagram "from 8.8.8.8:53" to a client port (from the LAN, or through
// a forwarded port), and the name it carries would be a domain vote on
// the device; a capture that starts after the query loses that lookup.
// The addresses of an answer to a LAN device's query also name those
// servers for that device's own flows (Engine.NoteServerName), by which
// its cleartext use of one service over many addresses is told as one.
// Evidence keys (a contract with the device layer):
//
//	name       the first question's name, lower case, no trailing dot,
//	           a label that holds an identifier as "..."
//	           (inspect.IDMaskedName: judged in the case the query
//	           wrote it)
//	qtype      its type: "A", "AAAA", "HTTPS", "TYPE65280"
//	answers    A and AAAA values of the response, at most 8, joined by ","
//	rcode      the response code when it is not NOERROR ("NXDOMAIN")
//	iterative  "yes" when the client's query, seen on the flow, did not
//	           ask for recursion (RD clear): a recursive resolver (unbound
//	           behind a Pi-hole) asking an authoritative server, most
//	           likely for its clients; stub resolvers always ask for
//	           recursion. Never from a response's RD bit, which is the
//	           responder's to set
//
// mDNS: one event.KindMDNS per distinct announcement per flow. A response
// (solicited or not) and the proposed records of a probe describe the
// sender, which is the event's Device; the known answers a query carries
// describe other devices and are ignored. A response naming several hosts
// (a Bonjour Sleep Proxy answering for a sleeping Mac beside its own
// records, an mDNS reflector packing relayed records with its own) is
// split by host, at most 4, those with an address record of the
// sender's address first: when there are such hosts, only they are
// reported, else one event per host with address records, for the
// device layer to check against the sender's addresses; records tied to
// no one host are left out. Evidence keys:
//
//	hostname   the host name of A/AAAA records (else of an SRV target or
//	           a reverse-lookup PTR target) under .local, without ".local"
//	addresses  A and AAAA values under .local, at most 8, joined by ","
//	services   DNS-SD service types announced, "_ipp._tcp,_hap._tcp",
//	           lower case, at most 8
//	instance   the first service instance name ("Anna’s MacBook Pro")
//	txt_<key>  TXT values of the keys md, model, fv, ty, manufacturer,
//	           usb_mfg, usb_mdl, vendor, fn, ve, version, osxvers, am, rp
//	           (key in lower case, value at most 64 bytes)
//	several_hosts  "yes" on each host's event of a response split by host
//	           where no host has the sender's address: a Thread border
//	           router (a HomePod) relays its accessories' records, by
//	           their addresses on the mesh's prefix. The device layer
//	           then takes a host as the sender's only by an address the
//	           sender used
//	queried_services  for a query: the service types it browses for
//
// Host and instance names and TXT values are UTF-8 (RFC 6763 4.1.1, 6.5:
// "Anna’s MacBook Pro", a Cast fn "Küche"), cleaned as
// inspect.CleanText does: control and format characters and invalid
// UTF-8 dropped, cut on a character boundary.
//
// Allocation: messages are read in place by the package's own wire reader
// (bounded names, compression pointers only backwards); strings are made
// only for what is reported. Retransmitted queries and repeated
// announcements do not allocate.
package dns

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is unicast DNS and mDNS.
type Protocol struct {
	pool inspect.FreeList[analyzer]
	seed maphash.Seed // for the hashes of mDNS announcements (mdnsMessage)
}

// New returns the DNS protocol.
func New() *Protocol { return &Protocol{seed: maphash.MakeSeed()} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "dns" }

// Port is the port of unicast DNS; the device inventory reads a DNS
// server's answers from it too.
const Port = 53

const portMDNS = 5353

// Match implements inspect.Protocol: the DNS ports, proven by a header
// and question that parse.
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	switch {
	case isPort(f, Port):
		if f.IsTCP() {
			if len(b) < 2 {
				return inspect.PortMatch
			}
			b = b[2:]
		}
	case !f.IsTCP() && isPort(f, portMDNS):
	default:
		return inspect.NoMatch
	}
	var h header
	var name [maxName]byte
	if parseHeader(b, &h, &name) && h.opcode == 0 && h.qd <= maxQuestions {
		return inspect.ContentMatch
	}
	return inspect.PortMatch
}

func isPort(f *inspect.Flow, p uint16) bool {
	return f.Client().Port() == p || f.Server().Port() == p
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(f *inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	a.tcp = f.IsTCP()
	a.mdns = !a.tcp && isPort(f, portMDNS)
	return a
}

const (
	maxQuestions = 64 // more in one message is not a real client
	maxPending   = 2  // queries awaiting a response: resolvers send A and AAAA together
	// maxTCPMessage is the largest DNS-over-TCP message read; a larger one
	// (zone transfers) is skipped. It fits the engine's default stream
	// buffer with the length prefix.
	maxTCPMessage = 4094
)

type analyzer struct {
	proto     *Protocol
	tcp, mdns bool
	hdr       header
	name      [maxName]byte // the current message's first question name
	pending   [maxPending]pendingQuery
	// reported holds what the flow already reported: query names and
	// types (unicast), announcement contents (mDNS).
	reported hashRing
	// seen holds mDNS datagrams and question sets already handled.
	seen hashRing
	// TCP framing per direction: bytes of an oversized message left to
	// skip, and whether a gap lost the framing.
	skip [2]int
	lost [2]bool
	// addrs are the A and AAAA values answers read last, for the
	// engine's names of servers (noteNames) without reading them twice.
	addrs  [maxAnswers]netip.Addr
	nAddrs int
}

// maxIDs is how many message ids of a query's retransmits are kept: a
// stub may send each retry with a new id, and the answer may be to any.
const maxIDs = 4

// pendingQuery is a query awaiting its response.
type pendingQuery struct {
	used      bool
	iterative bool // the client asked for no recursion
	nIDs      uint8
	ids       [maxIDs]uint16 // of the client's sends, the first ones
	key       uint64
	qtype     uint16
	nameLen   uint8
	name      [maxName]byte
}

// hasID reports whether the client sent the query with message id id.
func (p *pendingQuery) hasID(id uint16) bool {
	for _, v := range p.ids[:p.nIDs] {
		if v == id {
			return true
		}
	}
	return false
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	if !a.tcp {
		a.message(f, dir, data)
		return len(data)
	}
	consumed := 0
	for !a.lost[dir] {
		rest := data[consumed:]
		if len(rest) == 0 {
			return consumed
		}
		if a.skip[dir] > 0 {
			n := min(a.skip[dir], len(rest))
			a.skip[dir] -= n
			consumed += n
			continue
		}
		if len(rest) < 2 {
			return consumed
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n > maxTCPMessage {
			a.skip[dir] = n
			consumed += 2
			continue
		}
		if len(rest) < 2+n {
			return consumed
		}
		a.message(f, dir, rest[2:2+n])
		consumed += 2 + n
	}
	return len(data)
}

// Gap loses the TCP framing of a direction for good: a length prefix
// cannot be found again in the middle of a stream.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	a.lost[dir] = true
}

func (a *analyzer) Close(f *inspect.Flow) {
	for i := range a.pending {
		a.flushPending(f, i)
	}
	a.proto.pool.Put(a)
}

func (a *analyzer) message(f *inspect.Flow, dir inspect.Dir, b []byte) {
	h := &a.hdr
	if !parseHeader(b, h, &a.name) || h.opcode != 0 || h.qd > maxQuestions {
		return
	}
	if a.mdns {
		a.mdnsMessage(f, dir, b)
		return
	}
	a.unicastMessage(f, dir, b)
}

// hashRing remembers the last hashes added, without allocating.
type hashRing struct {
	h    [32]uint64
	next int
}

func (r *hashRing) has(h uint64) bool {
	for _, v := range r.h {
		if v == h {
			return true
		}
	}
	return false
}

func (r *hashRing) add(h uint64) {
	r.h[r.next] = h
	r.next = (r.next + 1) % len(r.h)
}
