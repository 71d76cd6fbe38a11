package dhcp

import "encoding/binary"

// BOOTP fixed header layout (RFC 951, RFC 2131 section 2).
const (
	v4OffCiaddr  = 12
	v4OffYiaddr  = 16
	v4OffGiaddr  = 24
	v4OffChaddr  = 28
	v4OffSname   = 44
	v4OffFile    = 108
	v4OffCookie  = 236
	v4OffOptions = 240
	v4SnameLen   = 64
	v4FileLen    = 128

	bootRequest = 1
	bootReply   = 2
)

// magicCookie opens the options of a DHCP message (RFC 2131 3): 99.130.83.99.
const magicCookie = 0x63825363

// DHCPv4 option codes read by the parser.
const (
	optPad            = 0
	optRouter         = 3
	optDNSServers     = 6
	optHostname       = 12
	optDomain         = 15
	optVendorSpecific = 43
	optRequestedIP    = 50
	optOverload       = 52
	optMessageType    = 53
	optServerID       = 54
	optPRL            = 55
	optMaxMsgSize     = 57
	optVendorClass    = 60
	optClientID       = 61
	optUserClass      = 77
	optClientFQDN     = 81
	optMUDURL         = 161
	optEnd            = 255
)

// DHCPv4 message types (option 53).
const (
	msgDiscover = 1
	msgRequest  = 3
	msgAck      = 5
	msgInform   = 8
)

// v4Message is a parsed DHCPv4 message. Its slices point into the datagram
// it was parsed from and are valid only as long as that datagram is.
type v4Message struct {
	op     byte
	xid    uint32
	hasMAC bool // Ethernet-like hardware address of 6 bytes
	chaddr [6]byte
	ciaddr [4]byte
	yiaddr [4]byte
	giaddr [4]byte

	// Options, first occurrence of each. RFC 3396 lets a long option be
	// split over several instances; clients do not do that for the
	// options read here, so concatenation is not worth a buffer.
	msgType        byte
	hostname       []byte
	prl            []byte
	vendorClass    []byte
	clientID       []byte
	userClass      []byte
	fqdn           []byte
	mudURL         []byte
	vendorSpecific []byte
	domain         []byte
	dnsServers     []byte
	router         []byte // 4 bytes when present
	requestedIP    []byte // 4 bytes when present
	serverID       []byte // 4 bytes when present
	maxMsgSize     uint16
	overload       byte
}

// parseV4 parses a BOOTP/DHCPv4 datagram into m, which it resets first. It
// reports false for datagrams that are not DHCP: too short, an unknown op,
// or a magic cookie other than DHCP's; the options of such a datagram are
// never read, so nothing from it can be mistaken for DHCP. A truncated
// option ends the option list; what came before it stands. It does not
// allocate.
func parseV4(b []byte, m *v4Message) bool {
	*m = v4Message{}
	if len(b) < v4OffOptions {
		return false
	}
	if b[0] != bootRequest && b[0] != bootReply {
		return false
	}
	if binary.BigEndian.Uint32(b[v4OffCookie:]) != magicCookie {
		return false
	}
	m.op = b[0]
	m.xid = binary.BigEndian.Uint32(b[4:8])
	// htype 1 (Ethernet) and 6 (IEEE 802) carry a 6-byte MAC.
	if (b[1] == 1 || b[1] == 6) && b[2] == 6 {
		m.hasMAC = true
		m.chaddr = [6]byte(b[v4OffChaddr : v4OffChaddr+6])
	}
	m.ciaddr = [4]byte(b[v4OffCiaddr : v4OffCiaddr+4])
	m.yiaddr = [4]byte(b[v4OffYiaddr : v4OffYiaddr+4])
	m.giaddr = [4]byte(b[v4OffGiaddr : v4OffGiaddr+4])

	m.readOptions(b[v4OffOptions:], true)
	// Option 52 (RFC 2132 9.3): the file field, then the sname field, hold
	// more options. Option 52 inside them is ignored.
	if m.overload&1 != 0 {
		m.readOptions(b[v4OffFile:v4OffFile+v4FileLen], false)
	}
	if m.overload&2 != 0 {
		m.readOptions(b[v4OffSname:v4OffSname+v4SnameLen], false)
	}
	return m.msgType != 0
}

// readOptions walks one option area; main is true for the options field,
// the only place option 52 may appear.
func (m *v4Message) readOptions(b []byte, main bool) {
	for i := 0; i < len(b); {
		code := b[i]
		if code == optPad {
			i++
			continue
		}
		if code == optEnd || i+1 >= len(b) {
			return
		}
		n := int(b[i+1])
		start := i + 2
		if start+n > len(b) {
			return
		}
		m.setOption(code, b[start:start+n], main)
		i = start + n
	}
}

func (m *v4Message) setOption(code byte, v []byte, main bool) {
	first := func(dst *[]byte) {
		if *dst == nil {
			*dst = v
		}
	}
	switch code {
	case optMessageType:
		if len(v) == 1 && m.msgType == 0 {
			m.msgType = v[0]
		}
	case optOverload:
		if main && len(v) == 1 {
			m.overload = v[0]
		}
	case optMaxMsgSize:
		if len(v) == 2 && m.maxMsgSize == 0 {
			m.maxMsgSize = binary.BigEndian.Uint16(v)
		}
	case optRequestedIP:
		if len(v) == 4 {
			first(&m.requestedIP)
		}
	case optServerID:
		if len(v) == 4 {
			first(&m.serverID)
		}
	case optRouter:
		if len(v) >= 4 {
			if m.router == nil {
				m.router = v[:4]
			}
		}
	case optDNSServers:
		if len(v) >= 4 {
			first(&m.dnsServers)
		}
	case optHostname:
		first(&m.hostname)
	case optDomain:
		first(&m.domain)
	case optPRL:
		first(&m.prl)
	case optVendorClass:
		first(&m.vendorClass)
	case optClientID:
		first(&m.clientID)
	case optUserClass:
		first(&m.userClass)
	case optClientFQDN:
		first(&m.fqdn)
	case optMUDURL:
		first(&m.mudURL)
	case optVendorSpecific:
		first(&m.vendorSpecific)
	}
}
