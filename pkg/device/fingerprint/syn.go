package fingerprint

import (
	"strconv"
)

// SYN is what a TCP SYN says about the sender's stack: the initial TTL
// (the observed TTL rounded up to 32, 64, 128 or 255), the window, the
// MSS and the order of the TCP options, as p0f reads them. It is a fixed
// size value: recording one does not allocate.
type SYN struct {
	TTL     uint8
	Window  uint16
	MSS     uint16 // 0 when absent
	WScale  int8   // -1 when absent
	Options [maxSYNOptions]byte
	NOpts   uint8
}

const maxSYNOptions = 16

// TCP option kinds (RFC 9293, RFC 7323, RFC 2018).
const (
	optEOL       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSACKPerm  = 4
	optSACK      = 5
	optTimestamp = 8
)

// InitialTTL rounds an observed TTL up to the usual initial values.
func InitialTTL(ttl uint8) uint8 {
	switch {
	case ttl <= 32:
		return 32
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}

// ParseSYN reads a SYN's fields and raw TCP option bytes. Malformed
// options end the list where they stop making sense; it never fails and
// never allocates.
func ParseSYN(ttl uint8, window uint16, opts []byte) SYN {
	s := SYN{TTL: InitialTTL(ttl), Window: window, WScale: -1}
	for i := 0; i < len(opts) && int(s.NOpts) < maxSYNOptions; {
		kind := opts[i]
		s.Options[s.NOpts] = kind
		s.NOpts++
		if kind == optEOL {
			i++
			continue // p0f counts trailing EOL padding
		}
		if kind == optNOP {
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return s
		}
		n := int(opts[i+1])
		switch {
		case kind == optMSS && n == 4:
			s.MSS = uint16(opts[i+2])<<8 | uint16(opts[i+3])
		case kind == optWScale && n == 3:
			s.WScale = int8(min(opts[i+2], 14))
		}
		i += n
	}
	return s
}

// String is the signature rules match: "ttl:window:mss:options", options
// as letters in wire order (M mss, N nop, W window scale, S SACK
// permitted, K SACK, T timestamps, E end of list, ? other), e.g.
// "64:64240:1460:M,S,T,N,W".
func (s SYN) String() string {
	b := make([]byte, 0, 32)
	b = strconv.AppendUint(b, uint64(s.TTL), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(s.Window), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(s.MSS), 10)
	b = append(b, ':')
	for i := range int(s.NOpts) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, optionLetter(s.Options[i]))
	}
	return string(b)
}

func optionLetter(k byte) byte {
	switch k {
	case optEOL:
		return 'E'
	case optNOP:
		return 'N'
	case optMSS:
		return 'M'
	case optWScale:
		return 'W'
	case optSACKPerm:
		return 'S'
	case optSACK:
		return 'K'
	case optTimestamp:
		return 'T'
	}
	return '?'
}
