package inspect

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"time"
)

// IP reassembly. A device's large UDP datagram (a SIP REGISTER or INVITE
// whose Digest Authorization takes it past the MTU, an SNMP message, an
// EDNS or mDNS answer) reaches the gateway in IP fragments, and only the
// first of them has ports. The Decoder puts fragments of one datagram
// together, as the receiving host's stack would, and decodes the datagram
// when its last missing piece comes, so that flows and analyzers see it
// as if it had come whole.
//
// Memory is fixed: DefragDatagrams slots of DefragMaxBytes each,
// allocated together on the first fragment a Decoder sees. Fragments of
// one datagram come within milliseconds of each other on a LAN, so a few
// dozen datagrams in flight at once are loss or a flood; when every slot
// is taken, the datagram begun longest ago is given up for the new one.
// A flood of fragments therefore costs CPU and the datagrams it pushes
// out, never memory. The clock is the packets' capture time, never the
// wall clock: a replayed capture reassembles as it did live.
const (
	// DefragDatagrams is how many datagrams are put together at once.
	DefragDatagrams = 32
	// DefragMaxBytes caps a datagram's bytes after its IP headers (its
	// transport header and payload). The datagrams worth reading that
	// fragment on a home LAN are far smaller: a SIP request with Digest
	// and SDP takes a few kilobytes, an EDNS answer at most 4096 bytes,
	// mDNS at most 9000 (RFC 6762), DHCP and SSDP fit one packet; and a
	// TCP connection's byte budget is 16 KiB too. The 32 slots take
	// 512 KiB, where 64 KiB ones would take 2 MiB of a 128 MB router
	// for datagrams (NFS reads, bulk SNMP walks) nothing reads anyway.
	DefragMaxBytes = 16 << 10
	// DefragTimeout is how long after its first fragment an incomplete
	// datagram is given up: Linux's default for IPv4 (ipfrag_time). It
	// bounds how long a datagram that lost a fragment holds its slot.
	DefragTimeout = 30 * time.Second
)

// defragBlocks is how many 8-byte blocks, the unit of fragment offsets,
// a datagram spans at most.
const defragBlocks = DefragMaxBytes / 8

// DefragStats says what became of the datagrams whose fragments the
// decoder saw. Fields only grow.
type DefragStats struct {
	// Reassembled datagrams were decoded whole; an IPv6 "atomic
	// fragment" (offset 0, no more to come, RFC 6946) counts as one.
	Reassembled uint64
	// The datagrams given up, by reason. A datagram given up is not
	// decoded; its fragments that come later are ignored until its slot
	// times out or is taken for another (see Dropped).
	Overlaps   uint64 // two fragments overlap with different bytes
	TooLarge   uint64 // a fragment ends past DefragMaxBytes, or past IP's 65535 bytes
	Malformed  uint64 // a fragment with more to come whose length is no multiple of 8; two ends that disagree; bytes past the end; an IP length of 0
	Cut        uint64 // a fragment cut short by the capture's snap length
	Incomplete uint64 // a fragment still missing DefragTimeout after the first came, or at Flush
	Evicted    uint64 // pushed out, incomplete, by a newer datagram when every slot was taken
}

// Dropped is how many datagrams were given up, for every reason.
func (s *DefragStats) Dropped() uint64 {
	return s.Overlaps + s.TooLarge + s.Malformed + s.Cut + s.Incomplete + s.Evicted
}

// defragKey names a datagram: IPv4's source, destination, protocol and
// identification (RFC 791); IPv6's source, destination and the fragment
// header's identification (RFC 8200). IPv4 addresses take the first 4
// bytes of the arrays.
type defragKey struct {
	src, dst [16]byte
	id       uint32
	proto    IPProtocol // IPv4 only
	v6       bool
}

// fragment is what a fragment's IP header says of it.
type fragment struct {
	key     defragKey
	off     int  // where its data goes in the datagram, in bytes
	more    bool // more fragments follow (IPv4 MF, IPv6 M)
	cut     bool // the capture cut its data short
	unsized bool // its IP length is 0, which no fragment has (RFC 791, RFC 2675) and which would not show a cut
	limit   int  // the furthest end the IP length field can express
	ttl     uint8
	next    IPProtocol // IPv6: the fragment header's next header
}

type slotState uint8

const (
	slotFree slotState = iota
	slotOpen           // fragments coming
	slotDead           // given up: later fragments are ignored
	slotDone           // complete; a Packet points into its buffer
)

// defragMeta is one slot's state. The slots' metadata lie together,
// apart from their buffers, so that finding a datagram's slot reads a
// few cache lines.
type defragMeta struct {
	key   defragKey
	first int64 // capture time of the datagram's first fragment, ns
	total int32 // the datagram's length once its last fragment came; -1 before
	high  int32 // end of the furthest bytes stored: what a release wipes
	got   int32 // 8-byte blocks stored
	state slotState
	ttl   uint8      // of the fragment at offset 0
	next  IPProtocol // IPv6: the next header of the fragment at offset 0
}

// defragger holds the slots. It is not safe for concurrent use.
type defragger struct {
	meta [DefragDatagrams]defragMeta
	have [DefragDatagrams][defragBlocks / 64]uint64 // blocks stored
	bufs [DefragDatagrams][DefragMaxBytes]byte
	// delivered is the slot the last completed datagram's Packet points
	// into, released by the next Decode; -1: none.
	delivered int
}

func newDefragger() *defragger {
	return &defragger{delivered: -1}
}

// reassemble takes a fragment: b starts with its IP header (version 4 or
// 6), data is what decodeIPv4 or decodeIPv6 returned after it (for IPv6,
// from the fragment header on). When the fragment completes its datagram,
// it returns the datagram's bytes after the IP headers and leaves p
// describing the datagram (its transport in IPProto, Reassembled set);
// otherwise ok is false and p stays a fragment.
func (d *Decoder) reassemble(b, data []byte, version uint8, p *Packet) (payload []byte, ok bool) {
	d.Stats.Fragments++
	var fr fragment
	if version == 4 {
		flags := binary.BigEndian.Uint16(b[6:8])
		total := int(binary.BigEndian.Uint16(b[2:4]))
		fr = fragment{
			off:     int(flags&0x1fff) * 8,
			more:    flags&0x2000 != 0,
			cut:     total > len(b),
			unsized: total == 0,
			limit:   0xffff - int(b[0]&0x0f)*4,
			ttl:     b[8],
		}
		copy(fr.key.src[:], b[12:16])
		copy(fr.key.dst[:], b[16:20])
		fr.key.id = uint32(binary.BigEndian.Uint16(b[4:6]))
		fr.key.proto = IPProtocol(b[9])
		if !reassembles(fr.key.proto, false) {
			return nil, false
		}
	} else {
		// Next header, reserved, offset in 8-byte units and the M flag,
		// identification.
		if len(data) < 8 {
			p.Truncated = true
			return nil, false
		}
		offFlags := binary.BigEndian.Uint16(data[2:4])
		// The reassembled packet's payload length counts the extension
		// headers before the fragment header: data and b share an array,
		// so their capacities differ by what lies between.
		unfragmentable := cap(b) - cap(data) - 40
		length := int(binary.BigEndian.Uint16(b[4:6]))
		fr = fragment{
			off:     int(offFlags &^ 7),
			more:    offFlags&1 != 0,
			cut:     length > len(b)-40,
			unsized: length == 0,
			limit:   0xffff - unfragmentable,
			ttl:     b[7],
			next:    IPProtocol(data[0]),
		}
		fr.key.src, fr.key.dst = [16]byte(b[8:24]), [16]byte(b[24:40])
		fr.key.id = binary.BigEndian.Uint32(data[4:8])
		fr.key.v6 = true
		data = data[8:]
		if !reassembles(fr.next, true) {
			return nil, false
		}
		if fr.off == 0 && !fr.more {
			// An atomic fragment is a whole packet and is processed as
			// one, apart from any other fragments of its identification
			// (RFC 6946); one the capture cut is given up like any cut
			// fragment, not counted as a whole datagram.
			switch {
			case fr.cut:
				d.Stats.Defrag.Cut++
				return nil, false
			case fr.unsized:
				d.Stats.Defrag.Malformed++
				return nil, false
			}
			d.Stats.Defrag.Reassembled++
			p.Fragment, p.Reassembled = false, true
			p.IPProto, data = skipIPv6Ext(fr.next, data, p)
			return data, true
		}
	}
	if d.defrag == nil {
		d.defrag = newDefragger()
	}
	whole, m := d.defrag.add(&fr, data, p.Timestamp.UnixNano(), &d.Stats.Defrag)
	if m == nil {
		return nil, false
	}
	p.Fragment, p.Reassembled = false, true
	p.TTL = m.ttl
	if version == 6 {
		p.IPProto, whole = skipIPv6Ext(m.next, whole, p)
	}
	return whole, true
}

// reassembles reports whether datagrams of the protocol proto (IPv4's
// protocol, or the next header in an IPv6 fragment header) are put
// together: those the decoder reads on from, TCP, UDP, the tunnels, and
// in IPv6 the extension headers it skips before them. Fragments of
// others (ICMP, ESP) are counted and left alone: they would only take
// slots.
func reassembles(proto IPProtocol, v6 bool) bool {
	switch proto {
	case IPProtocolTCP, IPProtocolUDP, IPProtocolIPIP, IPProtocolIPv6:
		return true
	case IPProtocolHopByHop, IPProtocolRouting, IPProtocolDestOpts:
		return v6
	}
	return false
}

// add stores the fragment fr with data, at capture time now. When it
// completes its datagram, add returns the datagram's bytes and its slot's
// state; they stay until release.
func (g *defragger) add(fr *fragment, data []byte, now int64, st *DefragStats) ([]byte, *defragMeta) {
	g.expire(now, st)
	// The last datagram's slot is released only now: a tunnelled
	// fragment inside it (data) is copied first.
	prev := g.delivered
	g.delivered = -1
	whole, m := g.store(fr, data, now, st)
	if prev >= 0 && prev != g.delivered {
		g.free(prev)
	}
	return whole, m
}

func (g *defragger) store(fr *fragment, data []byte, now int64, st *DefragStats) ([]byte, *defragMeta) {
	i := g.find(&fr.key)
	if i < 0 {
		i = g.take(st)
		g.meta[i] = defragMeta{key: fr.key, first: now, total: -1, state: slotOpen}
	}
	m := &g.meta[i]
	if m.state == slotDead {
		return nil, nil
	}
	end := fr.off + len(data)
	switch {
	case fr.cut:
		g.drop(i, &st.Cut)
		return nil, nil
	case fr.unsized:
		g.drop(i, &st.Malformed)
		return nil, nil
	case end > fr.limit || end > DefragMaxBytes:
		g.drop(i, &st.TooLarge)
		return nil, nil
	case fr.more && len(data)%8 != 0,
		m.total >= 0 && (end > int(m.total) || !fr.more && end != int(m.total)),
		!fr.more && int(m.high) > end:
		g.drop(i, &st.Malformed)
		return nil, nil
	case g.conflicts(i, fr.off, data):
		// Which of two different versions of the same bytes the
		// receiver keeps depends on its stack (the first, the last, or
		// neither): an evasion, not a datagram. Choosing one would let
		// the sender show the inspector other bytes than the device
		// reads, so neither is read, and the drop is counted.
		g.drop(i, &st.Overlaps)
		return nil, nil
	}
	copy(g.bufs[i][fr.off:end], data)
	m.got += int32(g.mark(i, fr.off, end))
	m.high = max(m.high, int32(end))
	if !fr.more {
		m.total = int32(end)
	}
	if fr.off == 0 {
		m.ttl, m.next = fr.ttl, fr.next
	}
	if m.total < 0 || m.got != (m.total+7)/8 {
		return nil, nil
	}
	m.state = slotDone
	g.delivered = i
	st.Reassembled++
	return g.bufs[i][:m.total], m
}

// conflicts reports whether data, to go at off, differs from bytes slot
// i holds already. The checks before it make sure that every stored block
// it overlaps holds as many bytes as data has there.
func (g *defragger) conflicts(i, off int, data []byte) bool {
	have := &g.have[i]
	buf := &g.bufs[i]
	end := off + len(data)
	for blk, last := off/8, (end+7)/8; blk < last; {
		w, n, mask := blockWord(blk, last)
		for stored := have[w] & mask; stored != 0; stored &= stored - 1 {
			lo := (w*64 + bits.TrailingZeros64(stored)) * 8
			hi := min(lo+8, end)
			if !bytes.Equal(buf[lo:hi], data[lo-off:hi-off]) {
				return true
			}
		}
		blk += n
	}
	return false
}

// mark records the blocks from off to end as stored in slot i and
// returns how many were not before.
func (g *defragger) mark(i, off, end int) int {
	have := &g.have[i]
	added := 0
	for blk, last := off/8, (end+7)/8; blk < last; {
		w, n, mask := blockWord(blk, last)
		added += bits.OnesCount64(mask &^ have[w])
		have[w] |= mask
		blk += n
	}
	return added
}

// blockWord returns the word of a block map that holds block blk, how
// many of the blocks from blk to last it holds, and their bits.
func blockWord(blk, last int) (w, n int, mask uint64) {
	w = blk / 64
	n = min(last, (w+1)*64) - blk
	return w, n, (^uint64(0) >> (64 - n)) << (blk % 64)
}

// find returns the open or dead slot of key k, or -1.
func (g *defragger) find(k *defragKey) int {
	for i := range g.meta {
		m := &g.meta[i]
		if (m.state == slotOpen || m.state == slotDead) && m.key == *k {
			return i
		}
	}
	return -1
}

// take returns a free slot, freeing one when none is: a dead one (given
// up already, it costs nothing) or else the open one begun longest ago,
// which is counted as evicted. The slot of the datagram delivered last
// is not taken: its bytes may be the fragment being stored.
func (g *defragger) take(st *DefragStats) int {
	victim := -1
	for i := range g.meta {
		m := &g.meta[i]
		switch {
		case m.state == slotFree:
			return i
		case m.state == slotDone:
			continue
		case victim < 0:
			victim = i
			continue
		}
		v := &g.meta[victim]
		if m.state == v.state && m.first < v.first || m.state == slotDead && v.state == slotOpen {
			victim = i
		}
	}
	if g.meta[victim].state == slotOpen {
		st.Evicted++
	}
	g.free(victim)
	return victim
}

// expire frees the slots of datagrams begun DefragTimeout or more before
// now, counting the incomplete ones. A datagram begun after now was begun
// before the capture clock stepped back: its time is counted from now.
func (g *defragger) expire(now int64, st *DefragStats) {
	for i := range g.meta {
		m := &g.meta[i]
		if m.state != slotOpen && m.state != slotDead {
			continue
		}
		if m.first > now {
			m.first = now
			continue
		}
		if now-m.first >= int64(DefragTimeout) {
			if m.state == slotOpen {
				st.Incomplete++
			}
			g.free(i)
		}
	}
}

// drop gives up slot i's datagram for the reason counted by reason: its
// bytes are wiped and its later fragments ignored.
func (g *defragger) drop(i int, reason *uint64) {
	*reason++
	m := g.meta[i]
	g.free(i)
	g.meta[i] = defragMeta{key: m.key, first: m.first, total: -1, state: slotDead}
}

// release frees the slot of the datagram delivered last.
func (g *defragger) release() {
	g.free(g.delivered)
	g.delivered = -1
}

// free wipes slot i, whose bytes may be a login's, and makes it free.
func (g *defragger) free(i int) {
	m := &g.meta[i]
	clear(g.bufs[i][:m.high])
	if m.got > 0 {
		clear(g.have[i][:])
	}
	*m = defragMeta{}
}

// flush gives up every incomplete datagram and wipes every slot.
func (g *defragger) flush(st *DefragStats) {
	for i := range g.meta {
		if g.meta[i].state == slotOpen {
			st.Incomplete++
		}
		g.free(i)
	}
	g.delivered = -1
}
