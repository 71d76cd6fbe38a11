// Package pop3 finds POP3 logins (RFC 1939 USER/PASS and APOP, RFC 5034
// AUTH with PLAIN, LOGIN, CRAM-MD5, XOAUTH2) and the server's verdict on
// them, reports the server's greeting as a banner, and stops at STLS.
// Multi-line responses (RETR, TOP, LIST, CAPA) stream through unread and
// unbuffered.
package pop3

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/sasl"
)

// Protocol is POP3.
type Protocol struct {
	pool inspect.FreeList[analyzer]
	// scratch decodes one SASL message at a time; the engine feeds one
	// flow at a time, so every flow can share it.
	scratch sasl.Scratch
}

// New returns the POP3 protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "pop3" }

// Match implements inspect.Protocol: on port 110 a "+OK" greeting or a
// POP3 command; elsewhere a "+OK" greeting that names POP or carries an
// APOP timestamp (a bare "+OK" is also what Redis answers).
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	onPort := f.Server().Port() == 110
	line := inspect.FirstLine(b)
	if dir == inspect.ToClient && inspect.HasPrefixFold(line, "+OK") {
		if onPort || inspect.ContainsFold(line, "pop") || timestamp(line) != nil {
			return inspect.ContentMatch
		}
	}
	if !onPort {
		return inspect.NoMatch
	}
	if dir == inspect.ToServer {
		cmd, _ := inspect.CutWord(line)
		for _, c := range [...]string{"USER", "APOP", "AUTH", "CAPA", "STLS"} {
			if inspect.EqualFold(cmd, c) {
				return inspect.ContentMatch
			}
		}
	}
	return inspect.PortMatch
}

// timestamp returns the APOP timestamp "<...>" of a greeting, or nil.
func timestamp(greeting []byte) []byte {
	i := bytes.IndexByte(greeting, '<')
	if i < 0 {
		return nil
	}
	j := bytes.IndexByte(greeting[i:], '>')
	if j < 0 {
		return nil
	}
	return greeting[i : i+j+1]
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

// command is what the analyzer needs to know of a command to read the
// server's status reply to it.
type command uint8

const (
	cmdOther command = iota
	cmdMulti         // +OK is followed by a dot-terminated body
	cmdLogin         // PASS, APOP: the reply is the verdict
	cmdAuth          // AUTH: challenges, then the verdict
	cmdSTLS
)

const (
	maxUser      = 256
	maxTimestamp = 128
	// maxGreeting bounds the greeting kept while it may still be a
	// multi-line reply's status line: more than EmitGreeting reads.
	maxGreeting = 512
)

type analyzer struct {
	proto    *Protocol
	lines    inspect.Lines
	auth     sasl.Exchange
	commands inspect.CommandQueue[command] // awaiting a status reply
	// authSlot is the queue slot of the AUTH command whose exchange is
	// running, -1 if it was not queued.
	authSlot int

	greeted bool
	// undecided: the first server line, a "+OK" kept in greetingText,
	// is the greeting or the status of the multi-line reply to a command
	// sent before it; the next server line tells which.
	undecided    bool
	greetingText [maxGreeting]byte
	greetingLen  int
	timestamp    [maxTimestamp]byte // the greeting's APOP timestamp
	timestampLen int
	apopDigest   [md5.Size]byte
	user         [maxUser]byte // from USER, for PASS
	userLen      int

	inBody bool // server bytes are a multi-line response up to the "." line
	body   inspect.DotBody
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	return a.lines.Feed(a, f, dir, data)
}

// Raw implements inspect.LineHandler: a multi-line response streams
// through unread.
func (a *analyzer) Raw(dir inspect.Dir, b []byte) int {
	if dir != inspect.ToClient || !a.inBody {
		return 0
	}
	n, end := a.body.Scan(b)
	if end {
		a.inBody = false
	}
	return n
}

// ClientLine implements inspect.LineHandler: a command, or a SASL
// response.
func (a *analyzer) ClientLine(f *inspect.Flow, line []byte) {
	// A client speaks after the greeting; when the capture missed it
	// (a connection joined late), the next server line already answers
	// this command. On a connection seen from its start the server's
	// first line is its greeting (RFC 1939 section 4), even after a
	// client that did not wait for it (a script piping its commands in).
	if !f.Opened() {
		a.greeted = true
	}
	if a.auth.Active() {
		a.respond(f, line)
		return
	}
	cmd, arg := inspect.CutWord(line)
	switch {
	case inspect.EqualFold(cmd, "USER"):
		a.userLen = copy(a.user[:], arg)
		a.commands.Push(cmdOther)
	case inspect.EqualFold(cmd, "PASS"):
		slot := a.commands.Push(cmdLogin)
		a.login(f, &inspect.Login{Mechanism: "USER/PASS", User: a.user[:a.userLen], Secret: arg}, slot)
	case inspect.EqualFold(cmd, "APOP"):
		a.apop(f, arg, a.commands.Push(cmdLogin))
	case inspect.EqualFold(cmd, "AUTH"):
		mech, initial := inspect.CutWord(arg)
		if len(mech) == 0 {
			a.commands.Push(cmdMulti) // lists the mechanisms
			return
		}
		a.auth.Start(mech)
		a.authSlot = a.commands.Push(cmdAuth)
		if len(initial) > 0 {
			a.respond(f, initial)
		}
	case inspect.EqualFold(cmd, "STLS"):
		a.commands.Push(cmdSTLS)
	case inspect.EqualFold(cmd, "CAPA"), inspect.EqualFold(cmd, "RETR"), inspect.EqualFold(cmd, "TOP"):
		a.commands.Push(cmdMulti)
	case inspect.EqualFold(cmd, "LIST"), inspect.EqualFold(cmd, "UIDL"):
		if len(arg) == 0 {
			a.commands.Push(cmdMulti) // the whole listing; with an argument, one line
		} else {
			a.commands.Push(cmdOther)
		}
	default:
		a.commands.Push(cmdOther)
	}
}

// apop reads "APOP name digest": the digest is MD5 of the greeting's
// timestamp and the password (RFC 1939 section 7), so the password can be
// tested but not read. slot is the command's in the queue.
func (a *analyzer) apop(f *inspect.Flow, arg []byte, slot int) {
	i := bytes.LastIndexByte(arg, ' ')
	if i < 0 {
		return
	}
	user, hexDigest := bytes.TrimRight(arg[:i], " "), arg[i+1:]
	if len(hexDigest) != 2*md5.Size {
		return
	}
	// With the timestamp, the digest is enough to test passwords offline:
	// it is wiped once used, and on failure, as hex.Decode writes first.
	defer clear(a.apopDigest[:])
	if _, err := hex.Decode(a.apopDigest[:], hexDigest); err != nil {
		return
	}
	l := inspect.Login{Mechanism: "APOP", User: user, Kind: inspect.SecretHashed}
	if a.timestampLen > 0 {
		// A slice, not a copy: the copy would be a digest the wipe misses.
		ts, digest := a.timestamp[:a.timestampLen], a.apopDigest[:]
		l.Verify = func(candidate []byte) bool {
			h := md5.New()
			h.Write(ts)
			h.Write(candidate)
			var sum [md5.Size]byte
			return bytes.Equal(h.Sum(sum[:0]), digest)
		}
	}
	a.login(f, &l, slot)
}

// respond hands a client line to the SASL exchange.
func (a *analyzer) respond(f *inspect.Flow, line []byte) {
	a.auth.Handle(line, &a.proto.scratch, func(l inspect.Login) {
		l.Mechanism = "AUTH " + l.Mechanism
		a.login(f, &l, a.authSlot)
	})
}

// login classifies a login at once and keeps it for the verdict on the
// command in the queue's slot.
func (a *analyzer) login(f *inspect.Flow, l *inspect.Login, slot int) {
	l.Protocol = "pop3"
	a.commands.Login(f, l, slot)
}

// ServerLine implements inspect.LineHandler: a status reply, a SASL
// challenge, or the greeting.
func (a *analyzer) ServerLine(f *inspect.Flow, line []byte) {
	ok := inspect.HasPrefixFold(line, "+OK")
	if a.undecided && a.decide(f, line, ok) {
		return
	}
	if !a.greeted {
		a.greeted = true
		if !a.answersFirst(line, ok) {
			if ok {
				a.greeting(f, line)
			}
			return
		}
		if ok {
			// The command waiting may be CAPA, whose "+OK" the greeting
			// looks like.
			a.undecided = true
			a.greetingLen = copy(a.greetingText[:], line)
			// An APOP sent before the next line decides needs the
			// timestamp of what is most likely the greeting.
			a.keepTimestamp(line)
			return
		}
	}
	if len(line) > 0 && line[0] == '+' && !ok {
		// "+ challenge": a SASL continuation (RFC 5034).
		if c, ok := a.commands.Next(); ok && c.Kind == cmdAuth {
			a.auth.Challenge(line[1:], &a.proto.scratch)
		}
		return
	}
	if !ok && !inspect.HasPrefixFold(line, "-ERR") {
		return
	}
	c, queued := a.commands.Pop()
	if !queued {
		return
	}
	switch c.Kind {
	case cmdMulti:
		if ok {
			a.inBody, a.body = true, inspect.DotBody{}
		}
	case cmdAuth, cmdLogin:
		a.auth.End()
		switch {
		case ok:
			a.commands.Settle(f, c, inspect.OutcomeAccepted)
		case judgedNone(line):
			a.commands.Settle(f, c, inspect.OutcomeUnknown)
		default:
			a.commands.Settle(f, c, inspect.OutcomeRejected)
		}
	case cmdSTLS:
		if ok {
			f.StartTLS()
		}
	}
}

// judgedNone reports whether an -ERR reply to a login says that the
// password was not what failed: the mailbox is busy, the system failed
// (RFC 3206 [IN-USE], [SYS/TEMP], [SYS/PERM]), the last login was too
// recent (RFC 2449 [LOGIN-DELAY]), or the login was refused for want of
// TLS before any check (Dovecot's default, whose [AUTH] code alone would
// read as a refusal of the credentials).
func judgedNone(line []byte) bool {
	for _, s := range [...]string{
		"[IN-USE]", "[SYS/", "[LOGIN-DELAY]",
		"Plaintext authentication disallowed", "Plaintext authentication disabled", "not allowed until SSL/TLS",
	} {
		if inspect.ContainsFold(line, s) {
			return true
		}
	}
	return false
}

// answersFirst reports whether line, the first from the server of a
// connection seen from its start, may answer the client's first command
// rather than greet: the client spoke first, and the server may have
// sent no greeting. A SASL continuation is no greeting. A "+OK" while
// the first command's reply is multi-line may be either: decide tells
// which at the next line.
func (a *analyzer) answersFirst(line []byte, ok bool) bool {
	c, spoke := a.commands.Next()
	switch {
	case !spoke:
		return false
	case ok:
		return c.Kind == cmdMulti
	}
	return len(line) > 0 && line[0] == '+'
}

// decide reads the server line after an undecided first "+OK" and
// reports whether it took line up. A status reply there ("+OK",
// "-ERR") says the first line was the greeting, and line the reply to
// the first command; it is left for ServerLine. Any other line is the
// first of the multi-line response the first "+OK" opened: a listing
// (CAPA, AUTH) has no line that starts like a status reply, while a
// command whose body might (RETR, TOP) is refused before a login.
func (a *analyzer) decide(f *inspect.Flow, line []byte, ok bool) bool {
	a.undecided = false
	if ok || inspect.HasPrefixFold(line, "-ERR") {
		a.greeting(f, a.greetingText[:a.greetingLen])
		return false
	}
	if c, queued := a.commands.Pop(); queued && c.Kind == cmdMulti && string(line) != "." {
		a.inBody, a.body = true, inspect.DotBody{}
	}
	return true
}

func (a *analyzer) greeting(f *inspect.Flow, line []byte) {
	a.keepTimestamp(line)
	// On a connection joined after its start the first reply seen may be
	// any "+OK", one naming the account ("+OK anna has 3 messages").
	if f.Opened() {
		inspect.EmitGreeting(f, "pop3", line[len("+OK"):])
	}
}

// keepTimestamp keeps the APOP timestamp of a greeting, none if it has
// none or one too long.
func (a *analyzer) keepTimestamp(greeting []byte) {
	a.timestampLen = 0
	if ts := timestamp(greeting); len(ts) <= len(a.timestamp) {
		a.timestampLen = copy(a.timestamp[:], ts)
	}
}

// Gap loses the place in the conversation: replies can no longer be
// matched to commands, and a multi-line response may have ended unseen.
func (a *analyzer) Gap(f *inspect.Flow, dir inspect.Dir) {
	a.auth.End()
	a.commands.Lost(f)
	// The command an undecided first "+OK" may answer is forgotten too.
	a.undecided = false
	if dir == inspect.ToClient {
		// The greeting, if not seen yet, was in the lost bytes: the next
		// line is a reply, one that may name the account.
		a.greeted = true
		a.inBody = false
	}
	a.lines.Resync(dir)
}

// EarlyGap implements inspect.EarlyGapper: only the greeting, or part
// of it, was lost, so the replies after it answer the commands in order
// and a SASL exchange goes on. The next line is a reply, one that may
// name the account.
func (a *analyzer) EarlyGap(*inspect.Flow) { a.greeted = true }

func (a *analyzer) Close(f *inspect.Flow) {
	a.commands.Close(f)
	a.proto.pool.Put(a)
}
