// Package smtp finds SMTP AUTH logins (RFC 4954: PLAIN, LOGIN, CRAM-MD5,
// XOAUTH2) and the server's verdict on them, reports the server's greeting
// as a banner, and stops at STARTTLS. Message bodies (DATA, BDAT) stream
// through unread and unbuffered.
package smtp

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/sasl"
)

// Protocol is SMTP, for relay (25) and submission (587, 2525).
type Protocol struct {
	pool inspect.FreeList[analyzer]
	// scratch decodes one SASL message at a time; the engine feeds one
	// flow at a time, so every flow can share it.
	scratch sasl.Scratch
}

// New returns the SMTP protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "smtp" }

func onPort(f *inspect.Flow) bool {
	switch f.Server().Port() {
	case 25, 587, 2525:
		return true
	}
	return false
}

// Match implements inspect.Protocol: a 220 greeting that names SMTP (or
// mail, and not FTP, whose greetings also start with 220), EHLO/HELO from
// the client, or the SMTP ports.
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	line := inspect.FirstLine(b)
	if dir == inspect.ToClient && inspect.HasPrefixFold(line, "220") {
		ftp := inspect.ContainsFold(line, "ftp")
		if inspect.ContainsFold(line, "smtp") || (!ftp && (onPort(f) || inspect.ContainsFold(line, "mail"))) {
			return inspect.ContentMatch
		}
	}
	if dir == inspect.ToServer {
		cmd, _ := inspect.CutWord(line)
		if inspect.EqualFold(cmd, "EHLO") || inspect.EqualFold(cmd, "HELO") {
			return inspect.ContentMatch
		}
		if onPort(f) && (inspect.EqualFold(cmd, "AUTH") || inspect.EqualFold(cmd, "STARTTLS") || inspect.HasPrefixFold(line, "MAIL FROM:")) {
			return inspect.ContentMatch
		}
	}
	if onPort(f) {
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

// command is a client command whose reply the analyzer waits for.
type command uint8

const (
	cmdNone command = iota
	cmdAuth
	cmdStartTLS
	cmdData
)

// maxBDAT bounds a BDAT chunk size read from the wire, so that the count
// of bytes to skip cannot overflow.
const maxBDAT = 1 << 40

type analyzer struct {
	proto   *Protocol
	lines   inspect.Lines
	auth    sasl.Exchange
	pending inspect.PendingLogin

	greeted   bool // the greeting's last line arrived
	spoke     bool // the client sent a line
	sawBanner bool
	// Reply matching. Clients pipeline (RFC 2920), but AUTH, STARTTLS and
	// DATA end a group: at most one of them is in flight, after the
	// replies to the commands sent before it.
	waiting uint32  // replies due to plain commands, before any special one
	special command // the special command in flight
	after   uint32  // plain commands sent while it was in flight
	sawGo   bool    // DATA got its 354 go-ahead

	inBody bool // client bytes are message content up to the "." line
	body   inspect.DotBody
	bdat   uint64 // BDAT chunk bytes still to skip
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	return a.lines.Feed(a, f, dir, data)
}

// Raw implements inspect.LineHandler: message content (DATA, BDAT)
// streams through unread.
func (a *analyzer) Raw(dir inspect.Dir, b []byte) int {
	switch {
	case dir != inspect.ToServer:
		return 0
	case a.inBody:
		n, end := a.body.Scan(b)
		if end {
			a.inBody = false
		}
		return n
	case a.bdat > 0:
		n := min(uint64(len(b)), a.bdat)
		a.bdat -= n
		return int(n)
	}
	return 0
}

// ClientLine implements inspect.LineHandler: a command, or a SASL
// response.
func (a *analyzer) ClientLine(f *inspect.Flow, line []byte) {
	// A client speaks after the greeting; when the capture missed it
	// (a connection joined late), the next server line already answers
	// this command. On a connection seen from its start the server's
	// first line is its greeting, even after a client that did not wait
	// for it (a script piping its commands in).
	if !f.Opened() {
		a.greeted = true
	}
	a.spoke = true
	if a.auth.Active() {
		a.respond(f, line)
		return
	}
	cmd, arg := inspect.CutWord(line)
	switch {
	case inspect.EqualFold(cmd, "AUTH"):
		mech, initial := inspect.CutWord(arg)
		a.auth.Start(mech)
		a.expect(cmdAuth)
		if len(initial) > 0 {
			a.respond(f, initial)
		}
	case inspect.EqualFold(cmd, "STARTTLS"):
		a.expect(cmdStartTLS)
	case inspect.EqualFold(cmd, "DATA"):
		// The body follows the 354 go-ahead; reading it as body from here
		// on means no line of it is ever taken for a command, and a
		// refusal of DATA ends body mode again.
		a.expect(cmdData)
		a.inBody, a.body = true, inspect.DotBody{}
	case inspect.EqualFold(cmd, "BDAT"):
		// RFC 3030: the chunk follows at once, without waiting.
		size, _ := inspect.CutWord(arg)
		a.bdat = parseSize(size)
		a.expect(cmdNone)
	default:
		a.expect(cmdNone)
	}
}

// respond hands a client line to the SASL exchange.
func (a *analyzer) respond(f *inspect.Flow, line []byte) {
	a.auth.Handle(line, &a.proto.scratch, func(l inspect.Login) {
		l.Protocol = "smtp"
		l.Mechanism = "AUTH " + l.Mechanism
		a.pending.Keep(f, &l)
	})
}

// expect records a command whose reply is due.
func (a *analyzer) expect(c command) {
	switch {
	case a.special != cmdNone:
		a.after = inc(a.after)
	case c == cmdNone:
		a.waiting = inc(a.waiting)
	default:
		a.special, a.sawGo = c, false
	}
}

func inc(n uint32) uint32 {
	if n == ^uint32(0) {
		return n
	}
	return n + 1
}

// ServerLine implements inspect.LineHandler: a reply, or a line of the
// greeting.
func (a *analyzer) ServerLine(f *inspect.Flow, line []byte) {
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
		return
	}
	code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	final := len(line) == 3 || line[3] != '-'
	if !a.greeted && (!a.spoke || code == 220 || code == 421 || code == 554) {
		// The greeting answers no command; its first line names the
		// server. Another reply after the client spoke says that the
		// server sent none, and answers the first command.
		if code == 220 && !a.sawBanner {
			a.sawBanner = true
			inspect.EmitGreeting(f, "smtp", bytes.TrimLeft(line[3:], "- "))
		}
		a.greeted = final
		return
	}
	a.greeted = true
	if !final {
		return
	}
	if code == 334 || code == 354 {
		// Intermediate replies belong to the command in flight: every
		// reply before it has arrived.
		a.waiting = 0
	} else if a.waiting > 0 {
		a.waiting--
		return
	}
	switch a.special {
	case cmdAuth:
		if code == 334 {
			a.auth.Challenge(line[3:], &a.proto.scratch)
			return
		}
		a.auth.End()
		switch {
		case code/100 == 2:
			a.pending.Report(f, inspect.OutcomeAccepted)
		case code == 535:
			// RFC 4954: authentication credentials invalid.
			a.pending.Report(f, inspect.OutcomeRejected)
		default:
			// The password was not judged: a temporary failure (4xx),
			// a mechanism too weak or encryption required first (534,
			// 538; Gmail's 530 "Must issue a STARTTLS command first"),
			// AUTH not offered (503), an unknown mechanism (504), a
			// response cancelled or not decoded (501).
			a.pending.Report(f, inspect.OutcomeUnknown)
		}
	case cmdStartTLS:
		if code == 220 {
			f.StartTLS()
			return
		}
	case cmdData:
		if code == 354 {
			a.sawGo = true
			return
		}
		if !a.sawGo {
			a.inBody = false // DATA refused: no body follows
		}
	case cmdNone:
		return
	}
	a.special, a.waiting, a.after = cmdNone, a.after, 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseSize reads a BDAT chunk size; junk reads as 0.
func parseSize(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		if !isDigit(c) || n > maxBDAT {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// Gap loses the place in the conversation: replies can no longer be
// matched to commands. Body mode is kept, so that content is never read
// as commands.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	a.auth.End()
	a.special, a.waiting, a.after = cmdNone, 0, 0
	if dir == inspect.ToServer {
		a.bdat = 0
		if a.inBody {
			return
		}
	}
	a.lines.Resync(dir)
}

// EarlyGap implements inspect.EarlyGapper: only the greeting, or part
// of it, was lost, so the replies after it answer the commands in order
// and a SASL exchange goes on; a 220 after it answers a command
// (STARTTLS).
func (a *analyzer) EarlyGap(*inspect.Flow) { a.greeted = true }

func (a *analyzer) Close(f *inspect.Flow) {
	a.pending.Report(f, inspect.OutcomeUnknown)
	a.proto.pool.Put(a)
}
