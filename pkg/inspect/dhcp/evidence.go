package dhcp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Evidence bounds: options are at most 255 bytes, but events stay small.
const (
	maxText      = 128 // hostname, vendor class, user class, domain
	maxURL       = 255 // MUD URL: an option's full length
	maxHexBytes  = 64  // client id, DUID, vendor-specific
	maxAddresses = 4   // DNS servers
	// maxListItems bounds an option-code list (option 55, DHCPv6's ORO,
	// which may list 32,767 codes): real clients ask for a few dozen,
	// and a fingerprint of a longer list matches nothing anyway.
	maxListItems = 64
)

func v4TypeName(t byte) string {
	switch t {
	case msgDiscover:
		return "discover"
	case 2:
		return "offer"
	case msgRequest:
		return "request"
	case 4:
		return "decline"
	case msgAck:
		return "ack"
	case 6:
		return "nak"
	case 7:
		return "release"
	case msgInform:
		return "inform"
	}
	return "type_" + strconv.Itoa(int(t))
}

func v6TypeName(t byte) string {
	switch t {
	case v6Solicit:
		return "solicit"
	case v6Advertise:
		return "advertise"
	case v6Request:
		return "request"
	case v6Confirm:
		return "confirm"
	case v6Renew:
		return "renew"
	case v6Rebind:
		return "rebind"
	case v6Reply:
		return "reply"
	case v6Release:
		return "release"
	case v6Decline:
		return "decline"
	case v6Reconfigure:
		return "reconfigure"
	case v6InfoRequest:
		return "information_request"
	case v6RelayForw:
		return "relay_forward"
	case v6RelayRepl:
		return "relay_reply"
	}
	return "type_" + strconv.Itoa(int(t))
}

func v4ClientEvidence(m *v4Message, ev event.Evidence) {
	v4Common(m, ev)
	if m.ciaddr != [4]byte{} {
		ev["client_ip"] = formatIPv4(m.ciaddr[:])
	}
	if m.giaddr != [4]byte{} {
		ev["relay_ip"] = formatIPv4(m.giaddr[:])
	}
	if m.hostname != nil {
		ev["hostname"] = inspect.Printable(bytes.TrimRight(m.hostname, "\x00"), maxText)
	}
	if m.prl != nil {
		ev["prl"] = decimalList(m.prl, 1)
	}
	if m.maxMsgSize != 0 {
		ev["max_msg_size"] = strconv.Itoa(int(m.maxMsgSize))
	}
	if m.vendorClass != nil {
		ev["vendor_class"] = inspect.Printable(bytes.TrimRight(m.vendorClass, "\x00"), maxText)
	}
	if m.clientID != nil {
		ev["client_id"] = boundedHex(m.clientID)
	}
	if m.userClass != nil {
		ev["user_class"] = userClass(m.userClass)
	}
	if m.fqdn != nil {
		if name := v4FQDN(m.fqdn); name != "" {
			ev["fqdn"] = name
		}
	}
	if m.requestedIP != nil && [4]byte(m.requestedIP) != [4]byte{} {
		ev["requested_ip"] = formatIPv4(m.requestedIP)
	}
	if m.serverID != nil {
		ev["server_id"] = formatIPv4(m.serverID)
	}
	if m.vendorSpecific != nil {
		ev["vendor_specific"] = boundedHex(m.vendorSpecific)
	}
	if m.mudURL != nil {
		ev["mud_url"] = inspect.Printable(m.mudURL, maxURL)
	}
}

func v4AckEvidence(m *v4Message, ev event.Evidence) {
	v4Common(m, ev)
	ev["assigned_ip"] = formatIPv4(m.yiaddr[:])
	if m.giaddr != [4]byte{} {
		// Sent to the relay agent, which hands it on: the flow's
		// receiver is the relay, not the client.
		ev["relay_ip"] = formatIPv4(m.giaddr[:])
	}
	if m.serverID != nil {
		ev["server_id"] = formatIPv4(m.serverID)
	}
	if m.router != nil {
		ev["router"] = formatIPv4(m.router)
	}
	if m.dnsServers != nil {
		ev["dns_servers"] = ipv4List(m.dnsServers)
	}
	if m.domain != nil {
		ev["domain"] = inspect.Printable(bytes.TrimRight(m.domain, "\x00"), maxText)
	}
}

func v4Common(m *v4Message, ev event.Evidence) {
	ev["protocol"] = "dhcpv4"
	ev["message_type"] = v4TypeName(m.msgType)
	ev["xid"] = formatXID(m.xid)
	if m.hasMAC {
		ev["client_mac"] = formatMAC(m.chaddr)
	}
}

func v6Evidence(m *v6Message, ev event.Evidence) {
	ev["protocol"] = "dhcpv6"
	ev["message_type"] = v6TypeName(m.msgType)
	ev["xid"] = formatXID(m.xid)
	if m.duid != nil {
		ev["client_duid"] = boundedHex(m.duid)
		if mac, ok := duidMAC(m.duid); ok {
			ev["client_mac"] = formatMAC(mac)
		}
	}
	if m.relayLink != nil {
		ev["relay_ip"] = netip.AddrFrom16([16]byte(m.relayLink)).String()
	}
	if m.oro != nil {
		ev["oro"] = decimalList(m.oro, 2)
	}
	if m.vendorClass != nil {
		ev["vendor_enterprise"] = strconv.FormatUint(uint64(binary.BigEndian.Uint32(m.vendorClass)), 10)
		if s := lengthPrefixedList(m.vendorClass[4:], 2); s != "" {
			ev["vendor_class"] = s
		}
	}
	if m.fqdn != nil {
		if name := wireName(m.fqdn[1:]); name != "" {
			ev["fqdn"] = name
		}
	}
}

// formatXID writes a transaction id as 8 lower-case hex digits.
func formatXID(x uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], x)
	return hex.EncodeToString(b[:])
}

func formatMAC(m [6]byte) string { return hwaddr.MAC(m).String() }

func formatIPv4(b []byte) string { return netip.AddrFrom4([4]byte(b)).String() }

func ipv4List(b []byte) string {
	var out []byte
	for i := 0; i+4 <= len(b) && i/4 < maxAddresses; i += 4 {
		if i > 0 {
			out = append(out, ',')
		}
		out = netip.AddrFrom4([4]byte(b[i:])).AppendTo(out)
	}
	return string(out)
}

// decimalList formats a list of width-byte big-endian codes as "1,3,6".
func decimalList(b []byte, width int) string {
	b = b[:min(len(b), maxListItems*width)]
	out := make([]byte, 0, len(b)*4)
	for i := 0; i+width <= len(b); i += width {
		if i > 0 {
			out = append(out, ',')
		}
		v := uint64(b[i])
		if width == 2 {
			v = uint64(binary.BigEndian.Uint16(b[i:]))
		}
		out = strconv.AppendUint(out, v, 10)
	}
	return string(out)
}

func boundedHex(b []byte) string {
	return hex.EncodeToString(b[:min(len(b), maxHexBytes)])
}

// userClass formats option 77. RFC 3004 makes it a list of length-prefixed
// instances; Windows and others send one plain string instead, which is
// kept whole when the bytes do not parse as instances.
func userClass(b []byte) string {
	if s := lengthPrefixedList(b, 1); s != "" {
		return s
	}
	return inspect.Printable(b, maxText)
}

// lengthPrefixedList formats a sequence of (length, data) instances with a
// width-byte length as "a,b,c"; "" when the bytes are not such a sequence.
func lengthPrefixedList(b []byte, width int) string {
	var out []byte
	for len(b) > 0 {
		if len(b) < width {
			return ""
		}
		n := int(b[0])
		if width == 2 {
			n = int(binary.BigEndian.Uint16(b))
		}
		b = b[width:]
		if n == 0 || n > len(b) {
			return ""
		}
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, inspect.Printable(b[:n], maxText)...)
		b = b[n:]
	}
	if len(out) > maxText {
		out = out[:maxText]
	}
	return string(out)
}

// v4FQDN reads option 81 (RFC 4702): flags, two obsolete rcodes, then the
// name, in DNS wire format when the E flag is set and ASCII otherwise.
func v4FQDN(b []byte) string {
	if len(b) < 3 {
		return ""
	}
	const flagE = 0x04
	name := b[3:]
	if b[0]&flagE != 0 {
		return wireName(name)
	}
	return inspect.Printable(bytes.TrimRight(bytes.TrimRight(name, "\x00"), "."), maxText)
}

// wireName decodes an uncompressed DNS wire-format name (RFC 1035 3.1) as
// dotted text without the trailing dot; "" when malformed.
func wireName(b []byte) string {
	var out []byte
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 {
			break
		}
		if n > 63 || 1+n > len(b) {
			return ""
		}
		if len(out) > 0 {
			out = append(out, '.')
		}
		out = append(out, b[1:1+n]...)
		b = b[1+n:]
	}
	return inspect.Printable(out, maxText)
}
