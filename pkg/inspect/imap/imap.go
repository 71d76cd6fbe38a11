// Package imap finds IMAP logins (RFC 3501 and RFC 9051: LOGIN with atoms,
// quoted strings or literals; AUTHENTICATE with PLAIN, LOGIN, CRAM-MD5,
// XOAUTH2, OAUTHBEARER, with or without SASL-IR) and the tagged verdict on
// them (up to four logins a client sends ahead of their replies each wait
// for the reply with their tag), reports the server's greeting as a
// banner, and stops at STARTTLS.
// Literals that are not login arguments (APPEND messages, FETCH bodies)
// stream through unread and unbuffered.
package imap

import (
	"bytes"
	"strings"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/sasl"
)

// Protocol is IMAP.
type Protocol struct {
	pool inspect.FreeList[analyzer]
	// scratch decodes one SASL message at a time; the engine feeds one
	// flow at a time, so every flow can share it.
	scratch sasl.Scratch
}

// New returns the IMAP protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "imap" }

// Match implements inspect.Protocol: an untagged OK or PREAUTH greeting
// (naming IMAP when off port 143), or a tagged CAPABILITY, LOGIN,
// AUTHENTICATE or STARTTLS from the client.
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	onPort := f.Server().Port() == 143
	line := inspect.FirstLine(b)
	switch dir {
	case inspect.ToClient:
		if inspect.HasPrefixFold(line, "* OK") || inspect.HasPrefixFold(line, "* PREAUTH") {
			if onPort || inspect.ContainsFold(line, "imap") {
				return inspect.ContentMatch
			}
		}
	case inspect.ToServer:
		tag, rest := inspect.CutWord(line)
		cmd, _ := inspect.CutWord(rest)
		if len(tag) > 0 && tag[0] != '*' && tag[0] != '+' {
			for _, c := range [...]string{"CAPABILITY", "LOGIN", "AUTHENTICATE", "STARTTLS"} {
				if inspect.EqualFold(cmd, c) {
					return inspect.ContentMatch
				}
			}
		}
	}
	if onPort {
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

const (
	maxTag = 64
	maxArg = 256
	// maxPending bounds the logins awaiting their tagged verdict: a
	// client may send several LOGIN commands before the first answer
	// (RFC 3501 section 5.5). Past it the oldest is reported unknown.
	maxPending = 4
	// maxLiteral bounds a literal size read from the wire, so that the
	// count of bytes to skip cannot overflow.
	maxLiteral = 1 << 40
)

// tag is a command tag kept to recognise the tagged reply to it.
type tag struct {
	b [maxTag]byte
	n int // 0: none
}

func (t *tag) set(b []byte) {
	t.n = 0
	if len(b) <= len(t.b) {
		t.n = copy(t.b[:], b)
	}
}

func (t *tag) is(b []byte) bool { return t.n > 0 && bytes.Equal(t.b[:t.n], b) }

// pendingLogin is a login and the tag of the command whose tagged reply
// is its verdict.
type pendingLogin struct {
	tag   tag
	login inspect.PendingLogin
}

// login collects the two astring arguments of LOGIN, which may arrive as
// literals spread over several segments.
type login struct {
	args    [2][maxArg]byte
	argLen  [2]int
	n       int  // arguments complete
	capture bool // the literal being read is argument n
	bad     bool // malformed or oversized: not reported
}

// appendArg adds bytes to argument n.
func (l *login) appendArg(b []byte) {
	if l.bad {
		return
	}
	if len(b) > maxArg-l.argLen[l.n] {
		l.fail()
		return
	}
	l.argLen[l.n] += copy(l.args[l.n][l.argLen[l.n]:], b)
}

// fail marks the LOGIN not to be reported and wipes its arguments: part
// of the password may be among them, and the command's end, which would
// reset them, may never be seen.
func (l *login) fail() {
	l.bad = true
	l.args, l.argLen = [2][maxArg]byte{}, [2]int{}
}

type analyzer struct {
	proto   *Protocol
	lines   inspect.Lines
	auth    sasl.Exchange
	greeted bool

	// pending holds the logins awaiting their verdicts, oldest first.
	pending  [maxPending]pendingLogin
	npending int

	authTag tag // the AUTHENTICATE in progress
	tlsTag  tag // a STARTTLS awaiting its reply

	// The client command being read; it continues after each literal.
	inCommand bool
	isLogin   bool
	cmdTag    tag
	login     login

	// literal counts the literal bytes still to come per direction.
	literal [2]uint64
	// inResponse is set when an untagged server response continues after
	// its literal.
	inResponse bool
	// lost, per direction: bytes sent in it were lost, and its lines are
	// dropped up to one that starts a command (from the server, a status
	// response), where the conversation is taken up again.
	lost [2]bool
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	return a.lines.Feed(a, f, dir, data)
}

// Raw implements inspect.LineHandler: a literal is skipped, or captured
// when it is a LOGIN argument.
func (a *analyzer) Raw(dir inspect.Dir, b []byte) int {
	if a.literal[dir] == 0 {
		return 0
	}
	n := min(uint64(len(b)), a.literal[dir])
	if dir == inspect.ToServer && a.login.capture {
		a.login.appendArg(b[:n])
	}
	a.literal[dir] -= n
	if a.literal[dir] == 0 && dir == inspect.ToServer && a.login.capture {
		a.login.capture = false
		a.login.n++
	}
	return int(n)
}

// ClientLine implements inspect.LineHandler: a command, its text after a
// literal, or a SASL response.
func (a *analyzer) ClientLine(f *inspect.Flow, line []byte) {
	a.greeted = true
	if a.lost[inspect.ToServer] {
		if !startsCommand(line) {
			return
		}
		a.lost[inspect.ToServer] = false
	}
	switch {
	case a.inCommand:
		a.continueCommand(f, line)
	case a.auth.Active():
		a.respond(f, line)
	default:
		a.command(f, line)
	}
}

func (a *analyzer) command(f *inspect.Flow, line []byte) {
	t, rest := inspect.CutWord(line)
	name, args := inspect.CutWord(rest)
	if len(t) == 0 {
		return
	}
	switch {
	case inspect.EqualFold(name, "LOGIN"):
		a.inCommand, a.isLogin, a.login = true, true, login{}
		a.cmdTag.set(t)
		a.continueCommand(f, args)
	case inspect.EqualFold(name, "AUTHENTICATE"):
		mech, initial := inspect.CutWord(args)
		a.auth.Start(mech)
		a.authTag.set(t)
		if len(initial) > 0 {
			a.respond(f, initial)
		}
	case inspect.EqualFold(name, "STARTTLS"):
		a.tlsTag.set(t)
	default:
		a.inCommand, a.isLogin = true, false
		a.cmdTag.set(t)
		a.continueCommand(f, args)
	}
}

// continueCommand reads command text up to the end of a line: the rest of
// a command line, or what follows a literal.
func (a *analyzer) continueCommand(f *inspect.Flow, text []byte) {
	if !a.isLogin {
		if n, ok := trailingLiteral(text); ok {
			a.literal[inspect.ToServer] = n
			return
		}
		a.inCommand = false
		return
	}
	l := &a.login
	for {
		text = bytes.TrimLeft(text, " ")
		if len(text) == 0 || l.bad {
			break
		}
		if l.n == len(l.args) {
			break // arguments beyond the two of LOGIN
		}
		switch text[0] {
		case '{':
			n, ok := trailingLiteral(text)
			if !ok || len(text) != literalLen(text) {
				l.fail()
				break
			}
			a.literal[inspect.ToServer] = n
			if n == 0 {
				l.n++ // an empty argument; the command goes on after it
			} else {
				l.capture = true
			}
			return
		case '"':
			text = l.quoted(text)
		default:
			i := bytes.IndexByte(text, ' ')
			if i < 0 {
				i = len(text)
			}
			l.appendArg(text[:i])
			l.n++
			text = text[i:]
		}
	}
	if l.bad {
		// Skip the literal a malformed LOGIN may still announce.
		if n, ok := trailingLiteral(text); ok {
			a.literal[inspect.ToServer] = n
			return
		}
	}
	a.inCommand = false
	if !l.bad && l.n == len(l.args) {
		a.report(f, &inspect.Login{
			Mechanism: "LOGIN",
			User:      l.args[0][:l.argLen[0]],
			Secret:    l.args[1][:l.argLen[1]],
		}, &a.cmdTag)
	}
	// Classified or not to be: the password must not outlive the command.
	*l = login{}
}

// quoted reads a quoted string (RFC 3501 section 4.3: \" and \\ are the
// only escapes) into the current argument and returns the text after it.
func (l *login) quoted(text []byte) []byte {
	for i := 1; i < len(text); i++ {
		switch c := text[i]; c {
		case '\\':
			if i+1 == len(text) {
				l.fail()
				return nil
			}
			i++
			l.appendArg(text[i : i+1])
		case '"':
			l.n++
			return text[i+1:]
		default:
			l.appendArg(text[i : i+1])
		}
	}
	l.fail() // a quoted string does not span lines
	return nil
}

// trailingLiteral reads the literal announcement that ends a line, "{n}",
// "{n+}" (RFC 7888) or "~{n}" (RFC 3516): n bytes follow the line.
func trailingLiteral(line []byte) (uint64, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := line[open+1 : len(line)-1]
	if len(digits) > 0 && digits[len(digits)-1] == '+' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' || n > maxLiteral {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// literalLen is the length of the literal announcement that ends text.
func literalLen(text []byte) int {
	return len(text) - bytes.LastIndexByte(text, '{')
}

// respond hands a client line to the SASL exchange.
func (a *analyzer) respond(f *inspect.Flow, line []byte) {
	a.auth.Handle(line, &a.proto.scratch, func(l inspect.Login) {
		l.Mechanism = "AUTHENTICATE " + l.Mechanism
		a.report(f, &l, &a.authTag)
	})
}

// report classifies a login at once and keeps it for the reply tagged
// t. With maxPending logins waiting, the oldest is reported unknown.
func (a *analyzer) report(f *inspect.Flow, l *inspect.Login, t *tag) {
	l.Protocol = "imap"
	if a.npending == len(a.pending) {
		a.settle(f, 0, inspect.OutcomeUnknown)
	}
	p := &a.pending[a.npending]
	a.npending++
	p.tag = *t
	p.login.Keep(f, l)
}

// settle reports pending login i with outcome o and forgets it.
func (a *analyzer) settle(f *inspect.Flow, i int, o inspect.Outcome) {
	a.pending[i].login.Report(f, o)
	copy(a.pending[i:a.npending], a.pending[i+1:a.npending])
	a.npending--
	a.pending[a.npending] = pendingLogin{}
}

// pendingFor is the oldest pending login whose verdict the reply tagged
// t is, or -1.
func (a *analyzer) pendingFor(t []byte) int {
	for i := range a.npending {
		if a.pending[i].tag.is(t) {
			return i
		}
	}
	return -1
}

// ServerLine implements inspect.LineHandler: a tagged or untagged
// response, its text after a literal, or a continuation.
func (a *analyzer) ServerLine(f *inspect.Flow, line []byte) {
	if a.lost[inspect.ToClient] {
		if !startsStatus(line) {
			return
		}
		a.lost[inspect.ToClient] = false
	}
	if a.inResponse {
		a.literal[inspect.ToClient], a.inResponse = trailingLiteral(line)
		return
	}
	first := !a.greeted
	a.greeted = true
	t, rest := inspect.CutWord(line)
	switch {
	case len(t) == 0:
	case t[0] == '*':
		// Untagged data may carry literals: FETCH bodies and the like.
		a.literal[inspect.ToClient], a.inResponse = trailingLiteral(line)
		// Only on a connection seen from its start: joined later, the
		// first "* OK" is any status. Who PREAUTH logged in is left out.
		if first && f.Opened() && (inspect.HasPrefixFold(rest, "OK") || inspect.HasPrefixFold(rest, "PREAUTH")) {
			inspect.EmitGreeting(f, "imap", withoutAccount(rest))
		}
	case t[0] == '+':
		// A continuation: a SASL challenge, or the go-ahead for a literal.
		a.auth.Challenge(line[1:], &a.proto.scratch)
	default:
		a.tagged(f, t, rest)
	}
}

func (a *analyzer) tagged(f *inspect.Flow, t, rest []byte) {
	status, _ := inspect.CutWord(rest)
	ok := inspect.EqualFold(status, "OK")
	if !ok && !inspect.EqualFold(status, "NO") && !inspect.EqualFold(status, "BAD") {
		return
	}
	if a.authTag.is(t) {
		a.authTag.n = 0
		a.auth.End()
	}
	if i := a.pendingFor(t); i >= 0 {
		switch {
		case ok:
			a.settle(f, i, inspect.OutcomeAccepted)
		case inspect.EqualFold(status, "BAD"), inspect.ContainsFold(rest, "[UNAVAILABLE]"), inspect.ContainsFold(rest, "[EXPIRED]"),
			inspect.ContainsFold(rest, "[PRIVACYREQUIRED]"), inspect.ContainsFold(rest, "[AUTHORIZATIONFAILED]"):
			// A malformed command, a server that cannot check now
			// (RFC 5530), a password that was right but is out of date
			// or not for the identity asked, a login refused before its
			// check for want of TLS (Dovecot's default): no refusal of
			// the password.
			a.settle(f, i, inspect.OutcomeUnknown)
		default:
			a.settle(f, i, inspect.OutcomeRejected)
		}
	}
	if a.inCommand && a.cmdTag.is(t) {
		// The server refused the command before its literal was sent; a
		// LOGIN's arguments so far go with it.
		a.inCommand, a.login = false, login{}
		a.literal[inspect.ToServer] = 0
	}
	if a.tlsTag.is(t) {
		a.tlsTag.n = 0
		if ok {
			f.StartTLS()
		}
	}
}

// Gap takes the conversation up again at the next line that starts a
// command with its tag (from the server, a status response): the lost
// bytes may hold the end of a literal being skipped, whose announced
// length then reaches past it into the commands after. No line before
// is read, though one in the rest of a literal that looks like a
// command is taken for one. The first line after the gap is not
// dropped unread: a capture loses whole segments, and the next one often
// starts with a whole command; a fragment of a line is dropped all the
// same unless it starts like a command. Tags still match replies to
// commands, so a pending verdict survives.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	a.auth.End()
	a.literal[dir], a.lost[dir] = 0, true
	if dir == inspect.ToServer {
		// A LOGIN cut by the gap is not reported: its arguments go.
		a.inCommand, a.login = false, login{}
	} else {
		a.inResponse = false
		// The greeting, if not seen yet, was in the lost bytes: the
		// next status is any, one that may name a person.
		a.greeted = true
	}
}

// EarlyGap implements inspect.EarlyGapper: only the greeting, or part
// of it, was lost, so a continuation request after it answers the
// AUTHENTICATE in flight, whose exchange goes on, and the next line is
// read, whatever it starts with. The next status is any, one that may
// name a person.
func (a *analyzer) EarlyGap(*inspect.Flow) {
	a.literal[inspect.ToClient], a.inResponse = 0, false
	a.greeted = true
}

// commandNames are the commands of IMAP4rev1 and IMAP4rev2 (RFC 3501,
// RFC 9051) and of common extensions.
var commandNames = [...]string{
	"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN",
	"ENABLE", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME",
	"SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS",
	"APPEND", "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH",
	"FETCH", "STORE", "COPY", "MOVE", "UID", "ID", "COMPRESS",
	"GETQUOTA", "GETQUOTAROOT", "SORT", "THREAD",
}

// startsCommand reports whether line starts with a tag and one of
// commandNames.
func startsCommand(line []byte) bool {
	t, rest := inspect.CutWord(line)
	name, _ := inspect.CutWord(rest)
	return isTag(t) && inspect.EqualFoldAny(name, commandNames[:])
}

// startsStatus reports whether line is a status response: tagged OK,
// NO or BAD, or untagged OK, NO, BAD, BYE or PREAUTH.
func startsStatus(line []byte) bool {
	t, rest := inspect.CutWord(line)
	status, _ := inspect.CutWord(rest)
	if inspect.EqualFoldAny(status, []string{"OK", "NO", "BAD"}) {
		return string(t) == "*" || isTag(t)
	}
	return string(t) == "*" && (inspect.EqualFold(status, "BYE") || inspect.EqualFold(status, "PREAUTH"))
}

// isTag reports whether t is a command tag: ASTRING-CHARs but "+"
// (RFC 3501 section 9), so no "*", no quote, no bracket of a list.
func isTag(t []byte) bool {
	if len(t) == 0 {
		return false
	}
	for _, c := range t {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\+`, c) >= 0 {
			return false
		}
	}
	return true
}

func (a *analyzer) Close(f *inspect.Flow) {
	for a.npending > 0 {
		a.settle(f, 0, inspect.OutcomeUnknown)
	}
	a.proto.pool.Put(a)
}

// withoutAccount cuts a greeting before the account a PREAUTH names
// ("PREAUTH IMAP4rev1 server logged in as Smith", RFC 3501).
func withoutAccount(greeting []byte) []byte {
	for i := range greeting {
		if inspect.HasPrefixFold(greeting[i:], "logged in") {
			return greeting[:i]
		}
	}
	return greeting
}
