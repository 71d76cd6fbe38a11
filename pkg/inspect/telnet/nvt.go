package telnet

// Telnet commands (RFC 854) and the options whose subnegotiation carries
// a user name.
const (
	cmdSE   = 240 // end of subnegotiation
	cmdEC   = 247 // erase character
	cmdEL   = 248 // erase line
	cmdSB   = 250 // start of subnegotiation
	cmdWILL = 251
	cmdDONT = 254
	cmdIAC  = 255

	optEnviron        = 36 // RFC 1408
	optAuthentication = 37 // RFC 2941
	optEncrypt        = 38 // RFC 2946
	optNewEnviron     = 39 // RFC 1572
)

// nvtEvent is what one byte of a Telnet stream means once negotiation is
// stripped.
type nvtEvent uint8

const (
	evNone      nvtEvent = iota // negotiation, a NUL, the LF or NUL of a line end
	evData                      // the byte is data
	evLineEnd                   // CR (with its LF or NUL), or a bare LF
	evEraseChar                 // BS, DEL or IAC EC
	evEraseLine                 // ^U or IAC EL
	evSubneg                    // a subnegotiation ended: see option and sub
)

type nvtState uint8

const (
	stData      nvtState = iota
	stCR                 // a CR ended a line; an LF or NUL after it belongs to it
	stIAC                // after IAC
	stOption             // after IAC WILL/WONT/DO/DONT, waiting for the option
	stSubOption          // after IAC SB, waiting for the option
	stSub                // inside a subnegotiation
	stSubIAC             // IAC inside a subnegotiation
)

// maxSub bounds the subnegotiation bytes kept; NEW-ENVIRON IS with a
// handful of variables fits. Longer ones are dropped, not parsed.
const maxSub = 256

// nvtDecoder turns one direction of a Telnet connection into data bytes
// and line edits, one byte at a time, so that a command or subnegotiation
// split anywhere across segments is understood.
type nvtDecoder struct {
	state   nvtState
	option  byte // option of the current subnegotiation
	subLen  int
	subOver bool // the subnegotiation outgrew sub
	sub     [maxSub]byte
}

// subnegotiation returns the option and the parameter bytes of the
// subnegotiation that just ended; ok is false when it was too long to keep.
func (d *nvtDecoder) subnegotiation() (option byte, params []byte, ok bool) {
	return d.option, d.sub[:d.subLen], !d.subOver
}

// next decodes byte b.
func (d *nvtDecoder) next(b byte) nvtEvent {
	switch d.state {
	case stCR:
		d.state = stData
		if b == '\n' || b == 0 {
			return evNone
		}
		return d.next(b)
	case stIAC:
		d.state = stData
		switch {
		case b == cmdIAC:
			return evData
		case b == cmdSB:
			d.state = stSubOption
		case b >= cmdWILL: // WILL, WONT, DO, DONT
			d.state = stOption
		case b == cmdEC:
			return evEraseChar
		case b == cmdEL:
			return evEraseLine
		}
		// Other commands (NOP, DM, BRK, IP, AO, AYT, GA) and invalid
		// bytes after IAC carry no data.
		return evNone
	case stOption:
		d.state = stData
		return evNone
	case stSubOption:
		d.state = stSub
		d.option, d.subLen, d.subOver = b, 0, false
		return evNone
	case stSub:
		if b == cmdIAC {
			d.state = stSubIAC
			return evNone
		}
		d.keep(b)
		return evNone
	case stSubIAC:
		switch b {
		case cmdIAC:
			d.state = stSub
			d.keep(cmdIAC)
			return evNone
		case cmdSE:
			d.state = stData
			return evSubneg
		}
		// IAC and a command inside a subnegotiation: the peer ended it
		// without SE. Drop it and read the command.
		d.state = stIAC
		return d.next(b)
	}
	switch b {
	case cmdIAC:
		d.state = stIAC
		return evNone
	case '\r':
		d.state = stCR
		return evLineEnd
	case '\n':
		return evLineEnd
	case 0:
		return evNone
	case 0x08, 0x7f:
		return evEraseChar
	case 0x15:
		return evEraseLine
	}
	return evData
}

// plainRun is the length of b's leading run of bytes that are data in
// stData and leave the state there: printable ASCII, and the bytes above
// DEL but IAC. Control bytes are left to next, the common ones (CR, LF,
// BS, ESC) and the rest alike.
func plainRun(b []byte) int {
	for i, c := range b {
		if c < 0x20 || c == 0x7f || c == cmdIAC {
			return i
		}
	}
	return len(b)
}

// keepRun takes, inside a subnegotiation (stSub), the parameter bytes
// before the next IAC at once, as next would take them one by one, and
// returns how many it took.
func (d *nvtDecoder) keepRun(b []byte) int {
	n := 0
	for n < len(b) && b[n] != cmdIAC { // runs are short: no call to IndexByte
		n++
	}
	c := copy(d.sub[d.subLen:], b[:n])
	d.subLen += c
	d.subOver = d.subOver || c < n
	return n
}

func (d *nvtDecoder) keep(b byte) {
	if d.subLen == len(d.sub) {
		d.subOver = true
		return
	}
	d.sub[d.subLen] = b
	d.subLen++
}

// NEW-ENVIRON (RFC 1572) and AUTHENTICATION (RFC 2941) subcommands.
const (
	envIS      = 0
	envINFO    = 2
	envVAR     = 0
	envVALUE   = 1
	envESC     = 2
	envUSERVAR = 3

	authNAME = 3
)

// userFromSubneg extracts the user name a client announces: the USER
// variable of NEW-ENVIRON (or the older ENVIRON, read with the same codes,
// as BSD clients send it) IS or INFO, or AUTHENTICATION NAME. It copies the
// name into dst and returns its length; ok is false when the
// subnegotiation names no user.
func userFromSubneg(option byte, p []byte, dst []byte) (n int, ok bool) {
	if len(p) == 0 {
		return 0, false
	}
	switch option {
	case optAuthentication:
		if p[0] != authNAME || len(p) < 2 {
			return 0, false
		}
		return copy(dst, p[1:]), true
	case optNewEnviron, optEnviron:
		if p[0] != envIS && p[0] != envINFO {
			return 0, false
		}
		return envUser(p[1:], dst)
	}
	return 0, false
}

// envUser walks a NEW-ENVIRON variable list for VAR "USER".
func envUser(p []byte, dst []byte) (n int, ok bool) {
	var name [8]byte
	for i := 0; i < len(p); {
		kind := p[i]
		if kind != envVAR && kind != envUSERVAR {
			return 0, false
		}
		nameLen, next := envField(p, i+1, name[:])
		i = next
		isUser := kind == envVAR && string(name[:nameLen]) == "USER"
		if i < len(p) && p[i] == envVALUE {
			valueLen, next := envField(p, i+1, dst)
			i = next
			if isUser {
				return valueLen, true
			}
		}
	}
	return 0, false
}

// envField unescapes a variable name or value starting at p[i] into dst
// (truncating at its size) and returns the length written and the index
// of the type byte that ends the field.
func envField(p []byte, i int, dst []byte) (n, next int) {
	for i < len(p) {
		c := p[i]
		switch c {
		case envVAR, envVALUE, envUSERVAR:
			return n, i
		case envESC:
			i++
			if i == len(p) {
				return n, i
			}
			c = p[i]
		}
		if n < len(dst) {
			dst[n] = c
			n++
		}
		i++
	}
	return n, i
}
