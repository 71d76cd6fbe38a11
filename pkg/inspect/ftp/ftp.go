// Package ftp finds FTP logins (USER/PASS, RFC 959) and the server's verdict
// on them, and reports the server's greeting as a banner for fingerprinting.
package ftp

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is the FTP control-connection protocol.
type Protocol struct {
	pool inspect.FreeList[analyzer]
}

// New returns the FTP protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "ftp" }

// Match implements inspect.Protocol: the port, a greeting that names FTP,
// or a USER command on the FTP port.
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	onPort := f.Server().Port() == 21 || f.Server().Port() == 2121
	if dir == inspect.ToClient && inspect.HasPrefixFold(b, "220") && namesFTP(f, inspect.FirstLine(b)) {
		return inspect.ContentMatch
	}
	if onPort {
		if dir == inspect.ToServer && (inspect.HasPrefixFold(b, "USER ") || inspect.HasPrefixFold(b, "AUTH ")) {
			return inspect.ContentMatch
		}
		if dir == inspect.ToClient && inspect.HasPrefixFold(b, "220") {
			return inspect.ContentMatch
		}
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

// namesFTP: a 220 greeting names FTP ("ProFTPD", "vsFTPd", "Microsoft
// FTP Service"). SMTP greets with 220 too, and a mail server's name may
// hold the letters ("mail.giftpack.com ESMTP"): not one that says SMTP,
// nor one on a mail port.
func namesFTP(f *inspect.Flow, line []byte) bool {
	switch f.Server().Port() {
	case 25, 465, 587, 2525:
		return false
	}
	return inspect.ContainsFold(line, "ftp") && !inspect.ContainsFold(line, "smtp")
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

const maxUser = 128

// command is what the analyzer needs to know of a command to read the
// reply to it.
type command uint8

const (
	cmdOther command = iota
	cmdUser          // the reply says whether the user needs a password
	cmdPass          // the reply is the verdict on a login
	cmdAuth          // AUTH: 234 starts TLS
)

// userReply is what the server answered to the last USER, which decides
// what its reply to a PASS says of the password.
type userReply uint8

const (
	// userAsked: the reply to PASS is the verdict. USER got 331 or 332,
	// or 230 (a PASS sent all the same is taken as the login's
	// password), or no USER was answered (a capture joined after it).
	userAsked userReply = iota
	// userRefused: USER got 530; the user cannot log in, whatever the
	// reply to PASS ("230 Already logged in." is vsftpd's to a second
	// user's PASS).
	userRefused
	// userNoCheck: no password is checked: USER was not understood, or
	// a PASS was already answered.
	userNoCheck
)

type analyzer struct {
	proto    *Protocol
	lines    inspect.Lines
	commands inspect.CommandQueue[command]
	// user is the last USER's name, the one a PASS sent after it logs in.
	user    [maxUser]byte
	userLen int
	// waiting holds the names of the queued USERs: a 230 logs in the
	// user it answers, whatever USER was sent after.
	waiting   waitingUsers
	sawBanner bool
	userReply userReply
	// inWithoutPassword: USER got 230 and no PASS has followed yet; if
	// none does, the login had no password.
	inWithoutPassword inspect.PendingLogin
	gap               bool // bytes were lost: a reply may answer another command
	// multiline holds the code of a multi-line reply being read
	// ("230-…" up to "230 …"); zero outside one.
	multiline [3]byte
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	return a.lines.Feed(a, f, dir, data)
}

// Raw implements inspect.LineHandler: every FTP control byte is in a line.
func (*analyzer) Raw(inspect.Dir, []byte) int { return 0 }

// ClientLine implements inspect.LineHandler: a command. Each command gets
// one final reply, in order (RFC 959 section 4.2), so a client that sends
// several before the first reply is still paired.
func (a *analyzer) ClientLine(f *inspect.Flow, line []byte) {
	cmd, arg := inspect.CutWord(line)
	if inspect.EqualFold(cmd, "PASS") {
		a.inWithoutPassword = inspect.PendingLogin{} // the PASS is the login
	} else {
		a.inWithoutPassword.Report(f, inspect.OutcomeAccepted)
	}
	switch {
	case inspect.EqualFold(cmd, "USER"):
		a.userLen = copy(a.user[:], arg)
		if a.commands.Push(cmdUser) >= 0 {
			a.waiting.push(arg)
		}
	case inspect.EqualFold(cmd, "PASS"):
		a.commands.Login(f, &inspect.Login{
			Protocol:  "ftp",
			Mechanism: "USER/PASS",
			User:      a.user[:a.userLen],
			Secret:    arg,
			Anonymous: anonymousUser(a.user[:a.userLen]),
		}, a.commands.Push(cmdPass))
	case inspect.EqualFold(cmd, "AUTH"):
		// AUTH TLS (RFC 4217): after the server's 234 the control
		// connection is TLS.
		a.commands.Push(cmdAuth)
	default:
		a.commands.Push(cmdOther)
	}
}

// ServerLine implements inspect.LineHandler: a reply, or a line of one.
func (a *analyzer) ServerLine(f *inspect.Flow, line []byte) {
	var code [3]byte
	first := a.multiline == [3]byte{}
	if first {
		if len(line) < 3 || !isCode(line[:3]) {
			return
		}
		code = [3]byte(line[:3])
		if len(line) > 3 && line[3] == '-' {
			a.multiline = code
		}
	} else {
		// Only "code SP" ends a multi-line reply; the lines before it
		// may look like anything, replies included.
		if len(line) < 4 || [3]byte(line[:3]) != a.multiline || line[3] != ' ' {
			return
		}
		code, a.multiline = a.multiline, [3]byte{}
	}
	greeting := !a.sawBanner && code == [3]byte{'2', '2', '0'}
	if greeting && first {
		text := line[3:]
		if a.multiline != [3]byte{} {
			text = text[1:] // the "-" that says more lines follow
		}
		inspect.EmitGreeting(f, "ftp", text)
	}
	if a.multiline != [3]byte{} || code[0] == '1' {
		return // the reply goes on, or is a preliminary one
	}
	if greeting {
		a.sawBanner = true // the greeting answers no command
		return
	}
	c, queued := a.commands.Pop()
	if !queued {
		return
	}
	switch c.Kind {
	case cmdAuth:
		if code == [3]byte{'2', '3', '4'} {
			f.StartTLS()
		}
	case cmdUser:
		a.userAnswered(f, code, a.waiting.pop())
	case cmdPass:
		a.commands.Settle(f, c, a.passVerdict(code))
	}
}

// userAnswered notes the reply to the USER of user, nil when its name
// was not kept. A 230 logs the user in with no password asked: unless a
// PASS follows, the login is reported with an empty password.
func (a *analyzer) userAnswered(f *inspect.Flow, code [3]byte, user []byte) {
	switch string(code[:]) {
	case "331", "332":
		a.userReply = userAsked
	case "530":
		a.userReply = userRefused
	case "230":
		a.userReply = userAsked
		if next, ok := a.commands.Next(); ok && next.Kind == cmdPass {
			return // sent before the reply: the PASS is the login
		}
		a.inWithoutPassword.Keep(f, &inspect.Login{
			Protocol:  "ftp",
			Mechanism: "USER/PASS",
			User:      user,
			Anonymous: anonymousUser(user),
		})
		switch {
		case a.gap:
			// The 230 may answer another command.
			a.inWithoutPassword.Report(f, inspect.OutcomeUnknown)
		case a.waiting.len() > 0 || user != nil && !bytes.Equal(user, a.user[:a.userLen]):
			// A USER sent after it names the user a later PASS logs
			// in: no PASS is this login's. The USERs queued behind it
			// tell, whatever their names (the same one again, or none
			// kept); one past the command queue, by its name alone.
			a.inWithoutPassword.Report(f, inspect.OutcomeAccepted)
		}
	default:
		a.userReply = userNoCheck
	}
}

// passVerdict is what the reply to PASS says of its login, given the
// reply to the USER before it; the next PASS checks nothing until a USER
// is asked for its password again.
func (a *analyzer) passVerdict(code [3]byte) inspect.Outcome {
	o := verdict(code)
	switch a.userReply {
	case userRefused:
		o = inspect.OutcomeRejected
	case userNoCheck:
		o = inspect.OutcomeUnknown
	}
	a.userReply = userNoCheck
	return o
}

// verdict is what the final reply to PASS says of the login.
func verdict(code [3]byte) inspect.Outcome {
	switch {
	case code[0] == '2' && code[1] == '3' && code[2] == '0': // 230 logged in
		return inspect.OutcomeAccepted
	case code[0] == '2' && code[1] == '0' && code[2] == '2': // 202 superfluous: already in
		return inspect.OutcomeAccepted
	case code[0] == '5', code[0] == '4' && code[1] == '3' && code[2] == '0': // 530 and kin, 430 invalid user or password: refused
		return inspect.OutcomeRejected
	}
	return inspect.OutcomeUnknown // 421 too many users and kin, 332 need account: not judged
}

func isCode(b []byte) bool {
	return b[0] >= '1' && b[0] <= '5' && b[1] >= '0' && b[1] <= '9' && b[2] >= '0' && b[2] <= '9'
}

// Gap drops, in dir, the tail of the line whose start was lost: it is
// neither a command nor a reply. Replies can no longer be matched to
// commands, so the logins waiting for theirs get none.
func (a *analyzer) Gap(f *inspect.Flow, dir inspect.Dir) {
	a.gap = true
	a.lines.Resync(dir)
	if dir == inspect.ToClient {
		a.multiline = [3]byte{} // the reply's end may be lost; a client gap leaves it as it was
	}
	a.commands.Lost(f)
	a.waiting.clear()
}

// EarlyGap implements inspect.EarlyGapper: only the greeting, or part
// of it, was lost, so the replies after it answer the commands in order.
// A multi-line greeting's end may have been lost with it, and a 220
// after it answers a command.
func (a *analyzer) EarlyGap(*inspect.Flow) {
	a.multiline = [3]byte{}
	a.sawBanner = true
}

func (a *analyzer) Close(f *inspect.Flow) {
	a.inWithoutPassword.Report(f, inspect.OutcomeAccepted)
	a.commands.Close(f)
	a.proto.pool.Put(a)
}

// maxWaitingUsers bounds the names kept of USERs awaiting their
// replies; a 230 to a USER beyond logs in a user whose name is unknown.
const maxWaitingUsers = 4

// waitingUsers is a queue of the names of USER commands awaiting their
// replies, in the order sent. Once full, the USERs after are counted,
// not named, until their replies, so that names and replies stay paired.
type waitingUsers struct {
	names      [maxWaitingUsers][maxUser]byte
	lens       [maxWaitingUsers]int
	head, size int
	unnamed    int // USERs queued without their names, after the named ones
}

func (w *waitingUsers) push(name []byte) {
	if w.size == len(w.names) || w.unnamed > 0 {
		w.unnamed++
		return
	}
	i := (w.head + w.size) % len(w.names)
	w.lens[i] = copy(w.names[i][:], name)
	w.size++
}

// pop takes the oldest USER's name off the queue, nil when it was not
// kept. The name is valid until the next push.
func (w *waitingUsers) pop() []byte {
	if w.size == 0 {
		if w.unnamed > 0 {
			w.unnamed--
		}
		return nil
	}
	i := w.head
	w.head = (w.head + 1) % len(w.names)
	w.size--
	return w.names[i][:w.lens[i]]
}

// len is how many USERs await their replies, named or not.
func (w *waitingUsers) len() int { return w.size + w.unnamed }

// clear forgets the USERs waiting: after a gap, replies are no longer
// paired with commands.
func (w *waitingUsers) clear() { w.head, w.size, w.unnamed = 0, 0, 0 }

// anonymousUser reports the user names of anonymous FTP (RFC 1635), whose
// password is by convention the client's e-mail address.
func anonymousUser(user []byte) bool {
	return inspect.EqualFold(user, "anonymous") || inspect.EqualFold(user, "ftp")
}
