package device

import (
	"strconv"
	"strings"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// internetUDP counts the UDP datagrams a device sent to internet unicast
// addresses on ports whose traffic is not known to be encrypted (see
// udpExempt): nothing on the packet path judges UDP payloads the way a
// ServerHello judges a TCP connection, so such traffic keeps the device
// from a pass on secure communication (unknown, never a finding: CoAP on
// 5683 may be OSCORE-protected, a vendor's protocol on a high port may
// be encrypted). It is bounded: a saturating count and the first
// distinct ports, for the reason text.
//
// It is not saved, as no traffic count is (the store keeps a device's
// findings, not what kept a pass away): a restart forgets it with the
// internet TCP connections counted and the LAN flows in clear
// (lanCleartext). A device whose TLS connection is seen after a restart
// before its next such datagram passes until that datagram comes, the
// window a device with an internet connection in clear already has.
// Devices that speak UDP to a server do so periodically (telemetry,
// keep-alives, syslog), so it is short; saving this count alone would
// grow the store's record for one of the three.
type internetUDP struct {
	n     uint32                      // datagrams, saturating
	ports [maxInternetUDPPorts]uint16 // first distinct destination ports; 0: empty
	more  bool                        // a port found no room
}

const maxInternetUDPPorts = 4

// add counts a datagram to port. It does not allocate.
func (u *internetUDP) add(port uint16) {
	if u.n < ^uint32(0) {
		u.n++
	}
	u.addPort(port)
}

// addPort keeps port while there is room.
func (u *internetUDP) addPort(port uint16) {
	if port == 0 {
		return // no port to name; the count stands
	}
	for i, p := range u.ports {
		switch p {
		case port:
			return
		case 0:
			u.ports[i] = port
			return
		}
	}
	u.more = true
}

// merge adds o's datagrams and ports to u.
func (u *internetUDP) merge(o internetUDP) {
	if n := u.n + o.n; n >= u.n {
		u.n = n
	} else {
		u.n = ^uint32(0)
	}
	for _, p := range o.ports {
		u.addPort(p)
	}
	u.more = u.more || o.more
}

// reason names the ports for the scorecard ("" when nothing was sent).
func (u *internetUDP) reason() string {
	if u.n == 0 {
		return ""
	}
	var ports []string
	for _, p := range u.ports {
		if p != 0 {
			ports = append(ports, strconv.Itoa(int(p)))
		}
	}
	switch {
	case len(ports) == 0:
		return "sent UDP to the internet on a port not known to be encrypted"
	case u.more:
		return "sent UDP to internet ports " + strings.Join(ports, ", ") + " and others not known to be encrypted"
	case len(ports) == 1:
		return "sent UDP to internet port " + ports[0] + " not known to be encrypted"
	}
	return "sent UDP to internet ports " + strings.Join(ports, ", ") + " not known to be encrypted"
}

// udpExempt reports whether UDP to port carries traffic that is either
// encrypted by design or infrastructure provision 5.5-1's pass is not
// about. Ports are IANA's Service Name and Transport Protocol Port
// Number Registry's unless said otherwise. mDNS (5353), SSDP (1900),
// LLMNR and NetBIOS are not listed: they go to multicast or broadcast
// addresses, never counted, and one sent to an internet host is clear
// text like any other.
func udpExempt(port uint16) bool {
	switch port {
	case 53: // DNS (RFC 1035): name resolution, infrastructure the DNS analyzers read
		return true
	case 67, 68: // DHCP (RFC 2131): address set-up, off the LAN only through a relay
		return true
	case 123: // NTP (RFC 5905): the clock, which certificate checks need first
		return true
	case 443: // QUIC (RFC 9000, HTTP/3 RFC 9114): TLS 1.3 built in (RFC 9001); DTLS VPNs share it
		return true
	case 853: // DNS over QUIC (RFC 9250) and over DTLS (RFC 8094)
		return true
	case 500, 4500: // IKEv2 (RFC 7296) and IPsec ESP in UDP for NAT traversal (RFC 3948)
		return true
	case 1194: // OpenVPN (IANA "openvpn")
		return true
	case 3478: // STUN and TURN (RFC 8489, RFC 8656): address discovery and relay set-up, not the media
		return true
	case 5349: // STUN and TURN over TLS or DTLS (RFC 7350)
		return true
	case 5684: // CoAP over DTLS, "coaps" (RFC 7252 §9, DTLS 1.2); CoAP in clear is 5683, counted
		return true
	case 51820: // WireGuard: not in IANA's registry; the project's default port (wireguard.com/quickstart)
		return true
	}
	// Google's public STUN servers (stun.l.google.com:19302-19309), which
	// WebRTC stacks use by default; not in IANA's registry.
	return port >= 19302 && port <= 19309
}

// clearUDPService: a port a UDP service in clear listens on, not a
// client's ephemeral one: the well-known ones, MQTT-SN and CoAP.
func clearUDPService(port uint16) bool {
	return port < 1024 || port == 1883 || port == 5683
}

// countsAsInternetUDP reports whether p is a UDP datagram to an internet
// unicast address that udpExempt does not cover, by its destination
// port or its source port: a datagram from 53, 123 or 500 is that
// service's answer (a DNS server's, an IKE responder's) to a client's
// ephemeral port, and one from 51820, 1194 or 3478 a LAN VPN or STUN
// server's to a roaming phone. Above 1024 a source port may be a
// client's ephemeral one by chance, so it exempts only an answer to an
// ephemeral port, not a datagram to a service's (below 1024, MQTT-SN,
// CoAP). A device could still send clear UDP from one of those ports
// to go uncounted; the count keeps a pass from being wrong by
// accident, not a device bent on it. A group MAC (broadcast,
// multicast) or a multicast, broadcast, link-local or LAN address is no
// internet host. It does not allocate.
func (inv *Inventory) countsAsInternetUDP(p *inspect.Packet) bool {
	// The ports first: most of a LAN's UDP is DNS, NTP and QUIC, and
	// they cost less to rule out than the address.
	if p.Kind != inspect.KindUDP || udpExempt(p.DstPort) || udpExempt(p.SrcPort) && (p.SrcPort < 1024 || !clearUDPService(p.DstPort)) {
		return false
	}
	dst := p.Dst.Unmap()
	return dst.IsGlobalUnicast() && !(p.HasMAC && p.DstMAC.IsMulticast()) && !inv.isLocal(dst)
}
