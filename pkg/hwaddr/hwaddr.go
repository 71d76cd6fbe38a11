// Package hwaddr owns the 48-bit MAC address value type that keys devices
// across iotgw. It is a comparable array, so it can be a map key and be
// copied out of a packet without allocating.
package hwaddr

import (
	"encoding/hex"
	"fmt"
)

// MAC is an IEEE 802 MAC-48 address.
type MAC [6]byte

// Zero is the all-zero address, used as "unknown".
var Zero MAC

// FromBytes copies the first six bytes of b. It returns Zero if b is short.
func FromBytes(b []byte) MAC {
	var m MAC
	if len(b) >= 6 {
		copy(m[:], b[:6])
	}
	return m
}

// Parse reads colon, dash or dot-less hex forms ("aa:bb:cc:dd:ee:ff",
// "aa-bb-cc-dd-ee-ff", "aabbccddeeff"), case-insensitive.
func Parse(s string) (MAC, error) {
	var m MAC
	var digits [12]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '-' || c == '.':
			continue
		case isHex(c):
			if n == len(digits) {
				return Zero, fmt.Errorf("invalid MAC address %q: too long", s)
			}
			digits[n] = c
			n++
		default:
			return Zero, fmt.Errorf("invalid MAC address %q: unexpected %q", s, c)
		}
	}
	if n != len(digits) {
		return Zero, fmt.Errorf("invalid MAC address %q: want 12 hex digits, have %d", s, n)
	}
	if _, err := hex.Decode(m[:], digits[:]); err != nil {
		return Zero, fmt.Errorf("invalid MAC address %q: %w", s, err)
	}
	return m, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// String formats as lower-case colon-separated hex.
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	var b [17]byte
	for i, v := range m {
		if i > 0 {
			b[i*3-1] = ':'
		}
		b[i*3] = digits[v>>4]
		b[i*3+1] = digits[v&0xf]
	}
	return string(b[:])
}

// IsZero reports whether m is the all-zero address.
func (m MAC) IsZero() bool { return m == Zero }

// IsMulticast reports whether the group bit is set (this includes broadcast).
func (m MAC) IsMulticast() bool { return m[0]&0x01 != 0 }

// IsLocallyAdministered reports whether the U/L bit is set. Phones and
// laptops that randomise their address per network ("private Wi-Fi
// address") set it, so such a MAC says nothing about the vendor.
func (m MAC) IsLocallyAdministered() bool { return m[0]&0x02 != 0 }

// IsUnicastGlobal reports whether m is a vendor-assigned unicast address,
// the only kind whose first three bytes name a manufacturer.
func (m MAC) IsUnicastGlobal() bool {
	return !m.IsZero() && !m.IsMulticast() && !m.IsLocallyAdministered()
}

// OUI returns the first three bytes as a 24-bit number.
func (m MAC) OUI() uint32 { return uint32(m[0])<<16 | uint32(m[1])<<8 | uint32(m[2]) }

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
