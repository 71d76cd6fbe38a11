package event

import "strings"

// Trust is how firmly a software source (an outdated_firmware finding's
// software_source, a device's Software.Source) is the device's own word.
// The device layer lets no report replace a version a firmer source
// reported, and policy quarantines on no finding only claims support:
// both read this one list, so they cannot disagree.
type Trust uint8

const (
	// TrustClaim: one datagram anyone on the LAN can send with the
	// device's MAC and address: DHCP, SSDP, mDNS and WS-Discovery
	// announcements, SIP and SNMP; and any source not listed below,
	// until someone says why it is firmer.
	TrustClaim Trust = iota
	// TrustConnection: over a connection with the device, but not what
	// its server answered: its client strings (User-Agent, MQTT client
	// id).
	TrustConnection
	// TrustServed: what the device served as the server of a TCP
	// connection: banners and HTTP Server headers the router saw pass,
	// and the UPnP description the router fetched itself after checking
	// in the neighbour table that the device's MAC holds the address.
	TrustServed
)

// SourceTrust is the trust level of a software source.
func SourceTrust(source string) Trust {
	switch source {
	case "http_client", "banner/mqtt":
		return TrustConnection
	case "http_server", "upnp", "banner/ftp", "banner/imap", "banner/pop3", "banner/rtsp", "banner/smtp", "banner/ssh", "banner/telnet":
		return TrustServed
	}
	return TrustClaim
}

// ClaimsOnly reports whether every source in the comma list sources (an
// outdated_firmware finding's software_source) is a claim: one
// connectionless datagram anyone on the LAN can send in a device's name.
// An empty list (a finding filed before sources were recorded) is not.
// Policy quarantines on no finding only claims support, and the
// scorecard fails no provision on one.
func ClaimsOnly(sources string) bool {
	if sources == "" {
		return false
	}
	for src := range strings.SplitSeq(sources, ",") {
		if SourceTrust(src) != TrustClaim {
			return false
		}
	}
	return true
}
