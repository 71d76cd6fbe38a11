package inspecttest

import "bytes"

// BER is a BER type-length-value with a definite length (short form, or
// long form of one or two bytes), for synthetic SNMP datagrams.
func BER(tag byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	out := []byte{tag}
	switch n := len(body); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, body...)
}
