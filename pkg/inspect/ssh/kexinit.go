package ssh

import "encoding/binary"

// SSH_MSG_KEXINIT (RFC 4253 section 7.1) is the first binary packet each
// side sends, in clear: a cookie and ten name-lists, of which the first
// six decide the algorithms of the connection.
const (
	msgKexInit = 20
	cookieLen  = 16
	// maxPacket bounds a packet's length (RFC 4253 section 6.1: an
	// implementation must take 35000 bytes; KEXINITs are a few KiB).
	maxPacket = 35000
	// maxNameLen is the longest algorithm name (RFC 4251 section 6: 64
	// characters); a longer one is read as no name at all.
	maxNameLen = 64
	// maxNames bounds the names kept of one list: OpenSSH 9 offers about
	// twenty host key algorithms, certificates included. A name past it
	// is not kept, so an algorithm it would have decided is unknown.
	maxNames = 32
)

// list numbers the name-lists this package reads, in their KEXINIT
// order; the compression and language lists after them are not read.
type list uint8

const (
	listKex list = iota
	listHostKey
	listCipherC2S
	listCipherS2C
	listMACC2S
	listMACS2C
	numLists
)

// names is one side's offer: the lists' names as hashes (FNV-1a), which
// is all the negotiation compares, and each name's grade.
type names struct {
	hash  [numLists][maxNames]uint64
	grade [numLists][maxNames]algorithm
	n     [numLists]uint8
	// cut marks a list longer than maxNames: what it lacks is unknown.
	cut [numLists]bool
}

// add keeps one name of list l.
func (o *names) add(l list, h uint64, g algorithm) {
	i := o.n[l]
	if int(i) == maxNames {
		o.cut[l] = true
		return
	}
	o.hash[l][i], o.grade[l][i] = h, g
	o.n[l]++
}

// reset empties o for another connection: a list reads no further than
// its count.
func (o *names) reset() {
	o.n = [numLists]uint8{}
	o.cut = [numLists]bool{}
}

// has reports whether list l holds the name hashed h.
func (o *names) has(l list, h uint64) bool {
	for _, x := range o.hash[l][:o.n[l]] {
		if x == h {
			return true
		}
	}
	return false
}

// kexReader reads the KEXINIT of one direction from a byte stream cut
// anywhere, keeping nothing of it but the names it hands to a names: it
// needs no buffer however the packet is split.
type kexReader struct {
	hdr    [5]byte // packet_length, padding_length
	hdrLen uint8
	// left is what remains of the payload (the packet without its
	// padding) once the header is read.
	left int
	// field counts what the payload's start has been read of: the
	// message number, then the cookie's bytes.
	field int
	l     list
	// lenBuf collects the current list's length; listLeft is what
	// remains of its bytes once known.
	lenBuf   [4]byte
	lenLen   uint8
	listLeft int
	inList   bool
	// The name being read: its bytes up to maxNameLen, its hash.
	name    [maxNameLen]byte
	nameLen int
	hash    uint64
	done    bool // the lists were read
	failed  bool // not a KEXINIT this package reads
}

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// feed reads b, the direction's next bytes, into o. It returns how many
// bytes it read: all of b until the lists are read or the packet is found
// to be no KEXINIT (done or failed set), then none.
func (r *kexReader) feed(b []byte, o *names) int {
	n := 0
	for n < len(b) && !r.done && !r.failed {
		n += r.step(b[n:], o)
	}
	return n
}

// step consumes a prefix of b: header bytes, the start of the payload, a
// list's length or a run of a list's bytes.
func (r *kexReader) step(b []byte, o *names) int {
	if int(r.hdrLen) < len(r.hdr) {
		k := copy(r.hdr[r.hdrLen:], b)
		r.hdrLen += uint8(k)
		if int(r.hdrLen) == len(r.hdr) {
			// Compared as sent, unsigned: int is 32 bits on MIPS and ARM
			// routers, where a length past 2^31 would turn negative.
			size := binary.BigEndian.Uint32(r.hdr[:4])
			pad := uint32(r.hdr[4])
			// RFC 4253 section 6: at least 4 bytes of padding, and a
			// payload that holds at least the message number.
			if size > maxPacket || pad < 4 || size < pad+1+1+cookieLen+4*uint32(numLists) {
				r.failed = true
				return k
			}
			r.left = int(size - pad - 1)
		}
		return k
	}
	if r.field < 1+cookieLen {
		if r.field == 0 && b[0] != msgKexInit {
			r.failed = true
			return 0
		}
		k := min(len(b), 1+cookieLen-r.field, r.left)
		r.field += k
		return r.take(k)
	}
	if !r.inList {
		k := min(len(b), len(r.lenBuf)-int(r.lenLen))
		if k > r.left {
			r.failed = true
			return 0
		}
		copy(r.lenBuf[r.lenLen:], b[:k])
		r.lenLen += uint8(k)
		if int(r.lenLen) == len(r.lenBuf) {
			// Unsigned, as the packet's length: see above.
			size := binary.BigEndian.Uint32(r.lenBuf[:])
			if size > uint32(r.left-k) {
				r.failed = true
				return 0
			}
			r.listLeft = int(size)
			r.lenLen, r.inList = 0, true
			r.startName()
			if r.listLeft == 0 {
				r.endList(o)
			}
		}
		return r.take(k)
	}
	k := min(len(b), r.listLeft)
	for _, c := range b[:k] {
		if c == ',' {
			r.endName(o)
			r.startName()
			continue
		}
		if r.nameLen < maxNameLen {
			r.name[r.nameLen] = c
		}
		r.nameLen++
		r.hash = (r.hash ^ uint64(c)) * fnvPrime
	}
	r.listLeft -= k
	if r.listLeft == 0 {
		r.endList(o)
	}
	return r.take(k)
}

// take counts k bytes of the payload as read.
func (r *kexReader) take(k int) int {
	r.left -= k
	return k
}

func (r *kexReader) startName() { r.nameLen, r.hash = 0, fnvOffset }

// endName keeps the name just read; an empty one (an empty list, two
// commas) is none.
func (r *kexReader) endName(o *names) {
	if r.nameLen == 0 {
		return
	}
	g := algUnknown
	if r.nameLen <= maxNameLen {
		g = grade(r.l, r.name[:r.nameLen])
	}
	o.add(r.l, r.hash, g)
}

func (r *kexReader) endList(o *names) {
	r.endName(o)
	r.inList = false
	if r.l++; r.l == numLists {
		r.done = true
	}
}
