package dhcp

import "encoding/binary"

// DHCPv6 message types (RFC 8415 section 7.3).
const (
	v6Solicit     = 1
	v6Advertise   = 2
	v6Request     = 3
	v6Confirm     = 4
	v6Renew       = 5
	v6Rebind      = 6
	v6Reply       = 7
	v6Release     = 8
	v6Decline     = 9
	v6Reconfigure = 10
	v6InfoRequest = 11
	v6RelayForw   = 12
	v6RelayRepl   = 13
)

// DHCPv6 option codes read by the parser.
const (
	opt6ClientID    = 1
	opt6ORO         = 6
	opt6RelayMsg    = 9
	opt6VendorClass = 16
	opt6ClientFQDN  = 39
)

// maxRelayDepth bounds how many Relay-Forward envelopes are opened to
// reach the client's message (RFC 8415 allows 32 hops; homes have one).
const maxRelayDepth = 4

// v6Message is a parsed DHCPv6 client or server message (relay envelopes
// removed). Slices point into the datagram.
type v6Message struct {
	msgType     byte
	xid         uint32 // 24 bits
	duid        []byte
	oro         []byte // pairs of bytes
	vendorClass []byte // enterprise number then length-prefixed data
	fqdn        []byte // flags byte then a DNS wire-format name
	// relayLink is the link-address of the innermost Relay-Forward
	// envelope (16 bytes), nil when the message came from its client.
	relayLink []byte
}

// parseV6 parses a DHCPv6 datagram into m, opening Relay-Forward
// envelopes (and noting that it did). It reports false when the datagram is not a well-formed
// DHCPv6 message. It does not allocate.
func parseV6(b []byte, m *v6Message) bool {
	*m = v6Message{}
	for depth := 0; ; depth++ {
		if len(b) < 4 || b[0] == 0 || b[0] > v6RelayRepl {
			return false
		}
		if b[0] != v6RelayForw && b[0] != v6RelayRepl {
			break
		}
		// hop-count(1) link-address(16) peer-address(16), then options.
		if depth == maxRelayDepth || len(b) < 34 {
			return false
		}
		inner, ok := findOption6(b[34:], opt6RelayMsg)
		if !ok {
			return false
		}
		m.relayLink = b[2:18]
		b = inner
	}
	m.msgType = b[0]
	m.xid = uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	opts := b[4:]
	for len(opts) > 0 {
		if len(opts) < 4 {
			return false
		}
		code := binary.BigEndian.Uint16(opts)
		n := int(binary.BigEndian.Uint16(opts[2:]))
		if 4+n > len(opts) {
			return false
		}
		v := opts[4 : 4+n]
		opts = opts[4+n:]
		switch code {
		case opt6ClientID:
			if m.duid == nil && n > 0 {
				m.duid = v
			}
		case opt6ORO:
			if m.oro == nil {
				m.oro = v
			}
		case opt6VendorClass:
			if m.vendorClass == nil && n >= 4 {
				m.vendorClass = v
			}
		case opt6ClientFQDN:
			if m.fqdn == nil && n >= 1 {
				m.fqdn = v
			}
		}
	}
	return true
}

// findOption6 returns the value of the first option code in an option
// list; ok is false when it is absent or the list is malformed.
func findOption6(opts []byte, code uint16) (v []byte, ok bool) {
	for len(opts) >= 4 {
		c := binary.BigEndian.Uint16(opts)
		n := int(binary.BigEndian.Uint16(opts[2:]))
		if 4+n > len(opts) {
			return nil, false
		}
		if c == code {
			return opts[4 : 4+n], true
		}
		opts = opts[4+n:]
	}
	return nil, false
}

// isClientMessage6 reports whether a DHCPv6 message type is sent by a
// client (and so describes the sending device).
func isClientMessage6(t byte) bool {
	switch t {
	case v6Solicit, v6Request, v6Confirm, v6Renew, v6Rebind, v6Release, v6Decline, v6InfoRequest:
		return true
	}
	return false
}

// duidMAC returns the link-layer address inside a DUID-LLT (type 1) or
// DUID-LL (type 3) with an Ethernet hardware type (RFC 8415 section 11).
func duidMAC(duid []byte) (mac [6]byte, ok bool) {
	if len(duid) < 4 || binary.BigEndian.Uint16(duid[2:]) != 1 {
		return mac, false
	}
	switch binary.BigEndian.Uint16(duid) {
	case 1: // type, hardware type, time(4), address(6)
		if len(duid) == 14 {
			return [6]byte(duid[8:]), true
		}
	case 3: // type, hardware type, address(6)
		if len(duid) == 10 {
			return [6]byte(duid[4:]), true
		}
	}
	return mac, false
}
