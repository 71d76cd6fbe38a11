package netwatch

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Bounds of the lease-file parser.
const (
	// maxLeases caps the leases taken from one file; the rest are
	// ignored and counted. A home network has tens.
	maxLeases = 4096
	// maxAddrsPerLease caps the addresses taken from one odhcpd DHCPv6
	// lease line.
	maxAddrsPerLease = 16
	// maxDUID is the longest DUID (RFC 8415: 128 octets plus the type).
	maxDUID = 130
	// maxHostname is the longest DNS name.
	maxHostname = 253
	// maxClientHostname is the longest host name a client can make
	// odhcpd write raw: a DHCPv4 option's length is one octet, and the
	// DHCPv6 FQDN is expanded into a 256-byte buffer.
	maxClientHostname = 255
)

// brokenMarker is what odhcpd writes before a host name it found invalid.
const brokenMarker = `broken\x20`

// lease is one DHCP lease read from a lease file.
type lease struct {
	mac         hwaddr.MAC
	ip          netip.Addr
	hostname    string
	expires     time.Time // zero for an infinite lease
	iface       string    // odhcpd only
	macFromDUID bool
}

// leaseStats counts what the parser did not turn into leases.
type leaseStats struct {
	garbage   int // lines neither format writes
	untrusted int // lines a client's raw host name may have written
	noMAC     int // leases naming no usable Ethernet MAC
	truncated int // leases beyond maxLeases
}

// parseLeases reads a dnsmasq lease file or an odhcpd state file; it tells
// them apart line by line, so either may be given. The formats, as the
// two daemons write them:
//
// dnsmasq (dhcp-leasefile; OpenWrt /tmp/dhcp.leases), one lease a line:
//
//	<expiry> <mac> <ipv4> <hostname|*> <client-id|*>
//	duid <server-duid>
//	<expiry> [T]<iaid> <ipv6> <hostname|*> <client-duid|*>
//
// expiry is Unix seconds, 0 for an infinite lease; the mac of a
// non-Ethernet client is prefixed with its hardware type ("20-…"); the
// DHCPv6 leases follow the "duid" line.
//
// odhcpd (leasefile; OpenWrt /tmp/hosts/odhcpd), one lease a line, behind
// a "#" so that dnsmasq can read the same file as a hosts file:
//
//	# <iface> <duid> <iaid> <hostname|-> <expiry> <host-id> <length> <addr>/<len>…
//	# <iface> <mac> ipv4 <hostname|-> <expiry> <hex-addr> 32 <ipv4>/32
//
// expiry is Unix seconds, -1 for an infinite lease and 0 for an expired
// one; a hostname the client sent invalid is prefixed "broken\x20"; the
// mac is twelve hex digits (older releases) or colon-separated (newer:
// ether_ntoa, so one or two digits per byte). Older releases also write
// the hosts lines "<addr>\t<fqdn>\t<hostname>" into the same file.
//
// A line neither format writes is skipped and counted; so are leases
// without an Ethernet MAC (DHCPv6 leases whose DUID holds none, prefix
// delegations, non-Ethernet clients).
//
// odhcpd releases before openwrt/odhcpd#404 write an invalid host name as
// the client sent it, newlines and all: a client controls up to
// maxClientHostname bytes after the marker, and so whole lines there, as
// well as the start of the line odhcpd ends with its own fields. Nothing
// in the file says where its name really ended, so no line that starts
// within maxClientHostname bytes after a marker is read, the marker's own
// line included: the client with the invalid name gets no lease, and
// neither do the few records written right after it. Records before it,
// and from the next line that starts further on, are read as usual.
func parseLeases(data []byte) ([]lease, leaseStats) {
	var out []lease
	var st leaseStats
	// untrustedTo is the offset in the file up to which a line may start
	// inside a client's raw host name; -1 while there is none.
	untrustedTo := -1
	for off := 0; off < len(data); {
		start := off
		line, rest, _ := bytes.Cut(data[off:], []byte{'\n'})
		off = len(data) - len(rest)
		// A marker inside a host name only widens the window: the safe
		// direction.
		if i := bytes.LastIndex(line, []byte(brokenMarker)); i >= 0 {
			untrustedTo = max(untrustedTo, start+i+len(brokenMarker)+maxClientHostname)
		}
		if start <= untrustedTo {
			st.untrusted++
			continue
		}
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		switch {
		case fields[0] == "#":
			out = parseOdhcpd(fields[1:], out, &st)
		case fields[0] == "duid" && len(fields) == 2:
			// dnsmasq's own DUID, heading its DHCPv6 leases.
		case isDecimal(fields[0]):
			out = parseDnsmasq(fields, out, &st)
		case isAddr(fields[0]) && len(fields) >= 2:
			// A hosts line in an odhcpd state file: the lease line says
			// more.
		default:
			st.garbage++
		}
	}
	return out, st
}

// appendLease appends l unless the file has yielded enough already.
func appendLease(out []lease, l lease, st *leaseStats) []lease {
	if len(out) >= maxLeases {
		st.truncated++
		return out
	}
	return append(out, l)
}

func parseDnsmasq(f []string, out []lease, st *leaseStats) []lease {
	if len(f) != 5 {
		st.garbage++
		return out
	}
	expires, ok := dnsmasqExpiry(f[0])
	ip, err := netip.ParseAddr(f[2])
	if !ok || err != nil || !usableIP(ip) {
		st.garbage++
		return out
	}
	l := lease{ip: ip, expires: expires, hostname: cleanHostname(f[3], "*")}
	if ip.Is4() {
		mac, ok := parseMAC(f[1])
		if !ok {
			if strings.Contains(f[1], "-") || f[1] == "" {
				st.noMAC++ // non-Ethernet hardware type
			} else {
				st.garbage++
			}
			return out
		}
		l.mac = mac
	} else {
		if !isIAID(f[1]) {
			st.garbage++
			return out
		}
		mac, ok := macFromDUID(f[4])
		if !ok {
			st.noMAC++
			return out
		}
		l.mac, l.macFromDUID = mac, true
	}
	return appendLease(out, l, st)
}

// dnsmasqExpiry reads Unix seconds; 0 is an infinite lease.
func dnsmasqExpiry(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxUnix {
		return time.Time{}, false
	}
	if n == 0 {
		return time.Time{}, true
	}
	return time.Unix(n, 0).UTC(), true
}

// maxUnix bounds the expiry times accepted (year 2500).
const maxUnix = 16725225600

func parseOdhcpd(f []string, out []lease, st *leaseStats) []lease {
	// iface, id, iaid|"ipv4", hostname, expiry, assigned, length, addrs…
	if len(f) < 7 {
		st.garbage++
		return out
	}
	n, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || n < -1 || n > maxUnix {
		st.garbage++
		return out
	}
	if n == 0 {
		return out // expired
	}
	var expires time.Time
	if n > 0 {
		expires = time.Unix(n, 0).UTC()
	}
	base := lease{iface: f[0], hostname: cleanHostname(f[3], "-"), expires: expires}

	if f[2] == "ipv4" {
		mac, ok := parseMAC(f[1])
		if !ok || len(f) != 8 || f[6] != "32" {
			st.garbage++
			return out
		}
		p, err := netip.ParsePrefix(f[7])
		if err != nil || !p.Addr().Is4() || p.Bits() != 32 || !usableIP(p.Addr()) {
			st.garbage++
			return out
		}
		base.mac, base.ip = mac, p.Addr()
		return appendLease(out, base, st)
	}

	if !isHex(f[2], 8) || !isHex(f[5], 16) {
		st.garbage++
		return out
	}
	length, err := strconv.Atoi(f[6])
	if err != nil || length < 0 || length > 128 {
		st.garbage++
		return out
	}
	if length != 128 {
		return out // a delegated prefix: a router behind this one, not a host
	}
	mac, ok := macFromDUID(f[1])
	if !ok {
		st.noMAC++
		return out
	}
	base.mac, base.macFromDUID = mac, true
	addrs := f[7:]
	if len(addrs) > maxAddrsPerLease {
		addrs = addrs[:maxAddrsPerLease]
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil || !p.Addr().Is6() || p.Bits() != 128 || !usableIP(p.Addr()) {
			st.garbage++
			continue
		}
		l := base
		l.ip = p.Addr()
		out = appendLease(out, l, st)
	}
	return out
}

// parseMAC reads a unicast Ethernet MAC written as twelve hex digits or as
// six colon-separated groups of one or two hex digits.
func parseMAC(s string) (hwaddr.MAC, bool) {
	var m hwaddr.MAC
	if len(s) == 12 {
		if _, err := hex.Decode(m[:], []byte(s)); err != nil {
			return hwaddr.Zero, false
		}
		return checkMAC(m)
	}
	groups := strings.Split(s, ":")
	if len(groups) != 6 {
		return hwaddr.Zero, false
	}
	for i, g := range groups {
		if !isHex(g, 2) {
			return hwaddr.Zero, false
		}
		v, _ := strconv.ParseUint(g, 16, 8) // one or two hex digits: cannot fail
		m[i] = byte(v)
	}
	return checkMAC(m)
}

// macFromDUID returns the Ethernet address in a DUID-LLT or DUID-LL
// (RFC 8415 §11.2, §11.4), written as hex with or without colons.
func macFromDUID(s string) (hwaddr.MAC, bool) {
	const (
		duidLLT      = 1
		duidLL       = 3
		hwTypeEther  = 1
		lltHeaderLen = 8 // type, hardware type, time
		llHeaderLen  = 4 // type, hardware type
	)
	s = strings.ReplaceAll(s, ":", "")
	if len(s) > 2*maxDUID || len(s)%2 != 0 {
		return hwaddr.Zero, false
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < llHeaderLen {
		return hwaddr.Zero, false
	}
	typ := uint16(b[0])<<8 | uint16(b[1])
	hw := uint16(b[2])<<8 | uint16(b[3])
	var ll []byte
	switch {
	case hw != hwTypeEther:
		return hwaddr.Zero, false
	case typ == duidLLT:
		ll = b[min(lltHeaderLen, len(b)):]
	case typ == duidLL:
		ll = b[llHeaderLen:]
	}
	if len(ll) != 6 {
		return hwaddr.Zero, false
	}
	return checkMAC(hwaddr.FromBytes(ll))
}

// checkMAC returns m if it can name a device.
func checkMAC(m hwaddr.MAC) (hwaddr.MAC, bool) {
	if !usableMAC(m) {
		return hwaddr.Zero, false
	}
	return m, true
}

// usableMAC reports whether m can name a device: unicast and not zero.
func usableMAC(m hwaddr.MAC) bool { return !m.IsZero() && !m.IsMulticast() }

// usableIP reports whether ip can be a device's address.
func usableIP(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsLoopback() &&
		ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// cleanHostname returns s if it is a plausible host name, and "" for the
// format's placeholder or anything else: a lease file's host names come
// from the clients.
func cleanHostname(s, none string) string {
	if s == none || len(s) > maxHostname {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return s
}

func isDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isHex reports whether s is 1 to max hex digits.
func isHex(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isIAID reports whether s is a dnsmasq IAID: decimal, "T" for a
// temporary address.
func isIAID(s string) bool {
	s = strings.TrimPrefix(s, "T")
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
