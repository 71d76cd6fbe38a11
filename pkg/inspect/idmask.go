package inspect

import "net/netip"

// Device identifiers in what a device names. A device picks the names it
// looks up, the TLS server name it sends and the Host it asks for, and
// vendors build them from the device's identity: its MAC
// ("a4cf129b3e01.dl.vendor.example", "cam-00112233aabb.example.net"), a
// serial or an IMEI ("sn-357938035643809.devices.example"), a token. An
// event that shows such a name shows the device's identifier to whoever
// reads the owner's page, the store or an alert. The rule here finds
// identifiers by their shape, and masks the labels that hold one as
// "...", so that each place a name becomes event text masks it alike.

// Identifier shapes: a run of this many digits is a phone number, an
// IMEI or a serial, not a version or a date (8 digits); a run of this
// many hex digits with a digit among them is a MAC address or a token;
// a word this long that mixes upper case, lower case and digits is a
// token.
const (
	idDigits = 9
	idHex    = 12
	idToken  = 12
)

// MinIdentifierLen is the length of the shortest word in which
// Identifying finds anything but an "@" or a "%": a caller that splits
// text into words can pass the shorter ones over.
const MinIdentifierLen = min(idDigits, idHex, idToken)

// Identifying reports whether s (a path segment, a host label, a word)
// holds something that may identify a device or its owner: an "@" or
// "%40" (an address), a percent escape (whatever it hides), a MAC address
// written with ':' or '-', nine digits in a row, twelve hex digits in a
// row with a digit among them, or a word of twelve or more characters
// (split at '.', '-' and '_') mixing upper case, lower case and digits.
// Names a CDN or a vendor gives its own servers are not that shape
// ("d3rlzbr8ymv9u5.cloudfront.net", "s3.eu-west-1.amazonaws.com"); a
// shard name that happens to be is taken for one.
func Identifying[T ~string | ~[]byte](s T) bool {
	if isMACLike(s) {
		return true
	}
	digits, hexRun, hexDigit := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '@' || c == '%':
			return true
		case isDigit(c):
			digits++
			hexRun++
			hexDigit = true
		case IsHex(c):
			digits = 0
			hexRun++
		default:
			digits, hexRun, hexDigit = 0, 0, false
		}
		if digits >= idDigits || hexRun >= idHex && hexDigit {
			return true
		}
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' && s[i] != '-' && s[i] != '_' {
			continue
		}
		if i-start >= idToken && mixedCase(s[start:i]) {
			return true
		}
		start = i + 1
	}
	return false
}

// isMACLike: six pairs of hex digits joined by ':' or '-', the same
// throughout.
func isMACLike[T ~string | ~[]byte](s T) bool {
	for i := 0; i+17 <= len(s); i++ {
		mac := s[i : i+17]
		ok := true
		for j := 0; ok && j < len(mac); j++ {
			if c := mac[j]; j%3 == 2 {
				ok = (c == ':' || c == '-') && c == mac[2]
			} else {
				ok = IsHex(c)
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// mixedCase reports whether w has upper case letters, lower case letters
// and digits: generated, not named.
func mixedCase[T ~string | ~[]byte](w T) bool {
	var upper, lower, digit bool
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case isDigit(c):
			digit = true
		}
	}
	return upper && lower && digit
}

// AppendIDMaskedHost appends host with each label that holds an
// identifier (Identifying) as "...": "a4cf129b3e01.dl.vendor.example" is
// "....dl.vendor.example". host is a DNS name, a TLS server name or a
// Host header's value: a port at its end (':' and one to five digits)
// is kept, as is an IPv6 address in brackets ("[2001:db8::1]:8080"),
// which is an address, not a name. Masking what it masked again changes
// nothing.
func AppendIDMaskedHost[T ~string | ~[]byte](dst []byte, host T) []byte {
	name, port := splitPort(host)
	if ipv6Literal(name) {
		return append(dst, host...)
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '.' {
			continue
		}
		if label := name[start:i]; Identifying(label) {
			dst = append(dst, "..."...)
		} else {
			dst = append(dst, label...)
		}
		if i < len(name) {
			dst = append(dst, '.')
		}
		start = i + 1
	}
	return append(dst, port...)
}

// IDMaskedHost is host as AppendIDMaskedHost masks it; host itself,
// without allocating, when nothing in it is masked. Call it when an
// event is built, not per packet.
func IDMaskedHost(host string) string {
	var buf [300]byte // a DNS name (255) and a port fit
	masked := AppendIDMaskedHost(buf[:0], host)
	if string(masked) == host {
		return host
	}
	return string(masked)
}

// AppendIDMaskedName appends a DNS name as events show it: each label
// that holds an identifier as "..." (as AppendIDMaskedHost), judged in
// the case the device wrote it, then in lower case. Lower case first
// would hide a token ("Xk3Lm9Qw2Er7", which mixes cases) that the same
// name as a TLS server name shows masked.
func AppendIDMaskedName[T ~string | ~[]byte](dst []byte, name T) []byte {
	start := len(dst)
	dst = AppendIDMaskedHost(dst, name)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; c >= 'A' && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst
}

// IDMaskedName is name as AppendIDMaskedName has it; name itself,
// without allocating, when that changes nothing.
func IDMaskedName(name string) string {
	var buf [300]byte // a DNS name (255) fits
	masked := AppendIDMaskedName(buf[:0], name)
	if string(masked) == name {
		return name
	}
	return string(masked)
}

// splitPort cuts a port (':' and one to five digits) off the end of
// host: a Host header's. A longer number after a ':' is no port and
// stays in the name, where it is judged.
func splitPort[T ~string | ~[]byte](host T) (name, port T) {
	for i := len(host) - 1; i >= 0 && len(host)-i <= 6; i-- {
		switch c := host[i]; {
		case c == ':' && i < len(host)-1:
			return host[:i], host[i:]
		case !isDigit(c):
			return host, host[len(host):]
		}
	}
	return host, host[len(host):]
}

// ipv6Literal: name is an IPv6 address in brackets, as a Host header
// writes one. (An IPv4 address's labels hold no identifier.)
func ipv6Literal[T ~string | ~[]byte](name T) bool {
	if len(name) < 3 || name[0] != '[' || name[len(name)-1] != ']' {
		return false
	}
	a, err := netip.ParseAddr(string(name[1 : len(name)-1]))
	return err == nil && a.Is6()
}
