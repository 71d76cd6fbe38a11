package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
)

// Fingerprinter computes JA3 and JA4 client fingerprints. It keeps its
// scratch space between calls, so that only the returned strings are
// allocated; it is not safe for concurrent use. The scratch grows to a
// few times the largest hello it has seen, which the analyzer bounds.
type Fingerprinter struct {
	text []byte
	vals []uint16
}

// JA3 returns the JA3 hash of h: the MD5, in hex, of
// "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats"
// with decimal values joined by '-' and GREASE values left out. It is
// "" for an SSL 2.0 format hello, which JA3 does not define.
func (fp *Fingerprinter) JA3(h *ClientHello) string {
	if h.SSLv2 {
		return ""
	}
	sum := md5.Sum(fp.JA3String(h))
	var out [2 * md5.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// JA3String returns the text that JA3 hashes; it is valid until the next
// call on fp.
func (fp *Fingerprinter) JA3String(h *ClientHello) []byte {
	b := strconv.AppendUint(fp.text[:0], uint64(h.Version), 10)
	b = append(b, ',')
	b = appendDecimals(b, h.CipherSuites)
	b = append(b, ',')
	first := true
	eachExtension(h.Extensions, func(typ uint16, _ []byte) {
		if isGREASE(typ) {
			return
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(typ), 10)
	})
	b = append(b, ',')
	b = appendDecimals(b, h.SupportedGroups)
	b = append(b, ',')
	for i, f := range h.PointFormats {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(f), 10)
	}
	fp.text = b
	return b
}

// appendDecimals appends the non-GREASE two-byte values of list in
// decimal, joined by '-'.
func appendDecimals(b, list []byte) []byte {
	first := true
	for i := 0; i+1 < len(list); i += 2 {
		v := binary.BigEndian.Uint16(list[i:])
		if isGREASE(v) {
			continue
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// eachExtension calls fn for every extension of a block that Decode has
// validated.
func eachExtension(block []byte, fn func(typ uint16, data []byte)) {
	r := reader{b: block}
	for !r.empty() {
		typ := r.u16()
		data := r.vec16()
		if r.err != nil {
			return
		}
		fn(typ, data)
	}
}

// ja4Len is the length of a JA4 fingerprint: "t13d1516h2_" and two
// 12-digit hashes joined by '_'.
const ja4Len = 10 + 1 + 12 + 1 + 12

// JA4 returns the JA4 fingerprint of h for TLS over TCP, following the
// FoxIO JA4 specification (technical_details/JA4.md in FoxIO-LLC/ja4):
//
//	t, version (highest non-GREASE supported_versions entry, else the
//	legacy version; "00" when unknown), d or i (SNI present or not),
//	2-digit cipher and extension counts (GREASE excluded, capped at 99),
//	first and last character of the first ALPN value ("00" if none),
//	"_", the first 12 hex digits of the SHA-256 of the sorted cipher
//	list, "_", the same of the sorted extension list without SNI and
//	ALPN followed by "_" and the signature algorithms in wire order.
//
// Lists are 4-digit lower-case hex joined by ','. It is "" for an SSL 2.0
// format hello.
func (fp *Fingerprinter) JA4(h *ClientHello) string {
	if h.SSLv2 {
		return ""
	}
	var out [ja4Len]byte
	out[0] = 't'
	copy(out[1:3], ja4Version(h.MaxVersion()))
	out[3] = 'i'
	if h.HasServerName {
		out[3] = 'd'
	}

	ciphers := fp.vals[:0]
	for i := 0; i+1 < len(h.CipherSuites); i += 2 {
		if v := binary.BigEndian.Uint16(h.CipherSuites[i:]); !isGREASE(v) {
			ciphers = append(ciphers, v)
		}
	}
	putCount(out[4:6], len(ciphers))
	slices.Sort(ciphers)
	fp.hashList(out[11:23], ciphers, nil)

	// Extensions counted with SNI and ALPN, hashed without them. The
	// cipher list is hashed: its space is reused.
	count := 0
	exts := ciphers[:0]
	eachExtension(h.Extensions, func(typ uint16, _ []byte) {
		if isGREASE(typ) {
			return
		}
		count++
		if typ != extServerName && typ != extALPN {
			exts = append(exts, typ)
		}
	})
	putCount(out[6:8], count)
	ja4ALPN(out[8:10], h.FirstALPN())
	out[10] = '_'
	out[23] = '_'
	slices.Sort(exts)
	fp.hashList(out[24:36], exts, h.SignatureAlgorithms)
	fp.vals = exts[:0]
	return string(out[:])
}

// hashList writes into dst the first 12 hex digits of the SHA-256 of
// list as JA4 spells it, then "_" and the non-GREASE values of tail
// (two bytes each, wire order) when there are any; an empty list is
// twelve zeros.
func (fp *Fingerprinter) hashList(dst []byte, list []uint16, tail []byte) {
	if len(list) == 0 {
		copy(dst, "000000000000")
		return
	}
	b := fp.text[:0]
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHex16(b, v)
	}
	sep := byte('_')
	for i := 0; i+1 < len(tail); i += 2 {
		v := binary.BigEndian.Uint16(tail[i:])
		if isGREASE(v) {
			continue
		}
		b = append(b, sep)
		sep = ','
		b = appendHex16(b, v)
	}
	fp.text = b
	sum := sha256.Sum256(b)
	hex.Encode(dst, sum[:6])
}

func appendHex16(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
}

// putCount writes n as two decimal digits, 99 at most.
func putCount(dst []byte, n int) {
	n = min(n, 99)
	dst[0] = byte('0' + n/10)
	dst[1] = byte('0' + n%10)
}

// ja4Version is the JA4 code of a protocol version.
func ja4Version(v uint16) string {
	switch v {
	case versionTLS13:
		return "13"
	case versionTLS12:
		return "12"
	case versionTLS11:
		return "11"
	case versionTLS10:
		return "10"
	case versionSSL3:
		return "s3"
	case versionSSL2:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// ja4ALPN writes the first and last character of the first ALPN value,
// or of its hex form when either is not an ASCII letter or digit; "00"
// when there is none.
func ja4ALPN(dst []byte, alpn []byte) {
	if len(alpn) == 0 {
		dst[0], dst[1] = '0', '0'
		return
	}
	first, last := alpn[0], alpn[len(alpn)-1]
	if isAlnum(first) && isAlnum(last) {
		dst[0], dst[1] = first, last
		return
	}
	dst[0], dst[1] = hexDigits[first>>4], hexDigits[last&0xf]
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
