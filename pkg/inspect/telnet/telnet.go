// Package telnet finds logins typed at a Telnet server's login and
// password prompts (RFC 854) and the server's verdict on each attempt,
// and reports what the server shows before its first prompt as a banner
// for fingerprinting ("(none) login:" is a BusyBox device without a host
// name): only on a connection seen from its start, up to the client's
// first keystroke or a loss, since anything later may be the echo of
// what was typed or a session's output. Option negotiation (RFC 855) is
// stripped byte by byte, so a
// command or subnegotiation split anywhere across segments is understood;
// a user name announced with NEW-ENVIRON (RFC 1572) or AUTHENTICATION NAME
// (RFC 2941) stands in for one the server did not ask for.
//
// Lines typed ahead of the prompt that wants them answer the prompts in
// turn, but a prompt the analyzer does not recognise must not shift them:
// with no user prompt recognised, the line typed after a password prompt
// is the password (the one typed before it the user); and a line typed
// after the user name, when the server decides with no password prompt
// recognised, is reported as the password with the outcome unknown,
// never as an empty password accepted. After an attempt the server
// decided, lines typed ahead of a password prompt with no user prompt
// recognised cannot be placed for certain: the first may answer a user
// prompt not recognised or the password asked again alone, and lines
// typed before the refusal were never seen as type-ahead. They are read
// as in a first attempt, never paired with the last attempt's user, and
// the login they make is reported with the outcome unknown, whatever the
// server answers.
package telnet

import (
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is Telnet.
type Protocol struct {
	pool inspect.FreeList[analyzer]
}

// New returns the Telnet protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "telnet" }

// Match implements inspect.Protocol: option negotiation first on any port
// (every Telnet server and most clients open with it), or the Telnet
// ports 23 and 2323 (the one Mirai-era devices moved to).
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	if len(b) >= 2 && b[0] == cmdIAC && b[1] >= cmdSB && b[1] <= cmdDONT {
		return inspect.ContentMatch
	}
	if p := f.Server().Port(); p == 23 || p == 2323 {
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

// phase is where a login attempt stands.
type phase uint8

const (
	phaseIdle           phase = iota // no prompt outstanding
	phaseWantUser                    // a login prompt waits for the client's line
	phaseWantPassPrompt              // the user is typed; a password prompt should follow
	phaseWantPass                    // a password prompt waits for the client's line
	phaseVerdict                     // a password is typed; the server's answer is due
	phaseShell                       // logged in: nothing more to find, inspection ends
)

const (
	maxLine       = 128 // a typed user or password; longer lines are garbage
	maxServerLine = 256 // the tail of the server's current line
	maxBanner     = 160 // printable characters of a banner, as docs/events.md promises
	bannerLines   = 3   // meaningful lines before the first prompt kept for the banner
	afterLines    = 8   // lines after a login searched for a firmware banner
	typeAhead     = 2   // lines a client sends before the prompt that wants them
)

// clientLine is the line the client is typing, with its edits applied.
type clientLine struct {
	buf  [maxLine]byte
	n    int
	over bool // outgrew buf, or bytes were lost: the line is unusable
}

func (l *clientLine) add(b byte) {
	if l.n == len(l.buf) {
		l.over = true
		return
	}
	l.buf[l.n] = b
	l.n++
}

// erase and eraseLine wipe what they take back, so that buf holds nothing
// past n: a password typed and erased must not wait for a longer line, or
// Close, to be overwritten.
func (l *clientLine) erase() {
	if l.n > 0 {
		l.n--
		l.buf[l.n] = 0
	}
}

func (l *clientLine) eraseLine() {
	clear(l.buf[:l.n])
	l.n, l.over = 0, false
}

// serverLine is the tail of the line the server is printing.
type serverLine struct {
	buf [maxServerLine]byte
	n   int
	// handled is set once the line told something (a prompt, a verdict)
	// or must not be read: the server is echoing what the client typed.
	handled bool
	seen    int // length of the line when it was handled
}

func (l *serverLine) done() {
	l.handled, l.seen = true, l.n
}

// enter follows the client's Enter, which ends the line on the client's
// terminal: what the server prints next is a new line, unless the server
// has been echoing what was typed after its prompt, in which case the
// rest of the echo up to the server's own line end is skipped.
func (l *serverLine) enter() {
	if l.handled && len(trimSpace(l.buf[l.seen:l.n])) > 0 {
		return
	}
	l.n, l.handled = 0, false
}

func (l *serverLine) add(b byte) {
	if l.n == len(l.buf) {
		l.keepTail()
	}
	l.buf[l.n] = b
	l.n++
}

// addText adds the bytes of text as add adds each.
func (l *serverLine) addText(text []byte) {
	for len(text) > 0 {
		if l.n == len(l.buf) {
			l.keepTail()
		}
		c := copy(l.buf[l.n:], text)
		l.n += c
		text = text[c:]
	}
}

// keepTail makes room in a full line by dropping its first half: prompts
// are at the end of a line.
func (l *serverLine) keepTail() {
	half := len(l.buf) / 2
	l.n = copy(l.buf[:], l.buf[half:])
	l.seen = max(l.seen-half, 0)
}

type analyzer struct {
	proto *Protocol
	nvt   [2]nvtDecoder // indexed by inspect.Dir
	phase phase

	client clientLine
	server serverLine
	// escapes drops the server's terminal escapes: colours in a prompt,
	// the cursor position request after BusyBox ash's.
	escapes inspect.EscapeFilter

	// Lines the client typed while no prompt wanted them (a script
	// sending user and password at once), oldest first.
	queue  [typeAhead]clientLine
	queued int
	// deferred: a password prompt came while lines typed with no user
	// prompt recognised wait in the queue. The first may be a user name
	// typed at a prompt PromptOf does not know ("Usuario:"), so the
	// line typed after the password prompt is the password
	// (passwordAfterPrompt); only if the server goes on without one are
	// the queued lines the login (loginTypedAhead).
	deferred bool
	// guess: the deferred password prompt came after an attempt (see
	// attempted), so which queued line answers which prompt is a guess;
	// the login it settles is uncertain.
	guess bool
	// attempted: a password was typed since the last user prompt
	// recognised, so a user known is that attempt's, not necessarily
	// the next one's.
	attempted bool
	// uncertain: the pending login's pairing is a guess; whatever the
	// server answers, its outcome is unknown.
	uncertain bool
	// typedEarly: the client typed before the first prompt. A pty
	// echoes a script's "root", "xc3511" (with its typing mistakes)
	// before the login prompt: what the server says from then on is no
	// banner.
	typedEarly bool

	user      [maxLine]byte
	userLen   int
	userTyped bool // user holds what the client typed at the last login prompt
	envUser   [maxLine]byte
	envLen    int

	pending  inspect.PendingLogin
	prompted bool // a login or password prompt was seen
	// loginPrompt is the FNV64 of the last user prompt's line: the
	// device's own login prompt shown again is a refusal, never a CLI's
	// prompt (cliPrompt).
	loginPrompt uint64
	gap         bool // bytes of either direction were lost
	// authOption: the Telnet AUTHENTICATION or ENCRYPT option was
	// negotiated, which can log a user in without any prompt.
	authOption bool
	// shellCand: the server's last words are a shell-like prompt before
	// any login prompt (see confirmShell).
	shellCand bool
	// refusal: while a verdict is due, the server said something like
	// "failed". It decides only if no shell prompt follows: a banner
	// after a login may begin "Last failed login".
	refusal bool
	// welcomed: while a verdict is due, the server greeted ("Welcome to
	// …"). Many devices greet before every login prompt, so it decides
	// only if no login prompt follows: a shell prompt, the client's next
	// keystroke or the end of the connection mean accepted.
	welcomed bool

	banner          [maxBanner]byte
	bannerLen       int
	bannerCount     int
	bannerDone      bool
	linesAfterLogin int
	seekFirmware    bool // looking for a firmware banner after a login
	firmwareDone    bool // done looking
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	if dir == inspect.ToServer {
		a.feedClient(f, data)
	} else {
		a.feedServer(f, data)
	}
	return len(data)
}

func (a *analyzer) feedClient(f *inspect.Flow, data []byte) {
	d := &a.nvt[inspect.ToServer]
	l := &a.client
	for len(data) > 0 {
		if d.state == stSub {
			if n := d.keepRun(data); n > 0 {
				data = data[n:]
				continue
			}
		}
		b := data[0]
		data = data[1:]
		ev := d.next(b)
		if a.shellCand && (ev == evData || ev == evLineEnd) {
			a.confirmShell(f)
		}
		if a.phase == phaseVerdict && a.welcomed && !a.refusal && (ev == evData || ev == evLineEnd) {
			// Typing after the greeting, no login prompt came: a session.
			a.accepted(f)
		}
		switch ev {
		case evData:
			if !a.prompted {
				a.typedEarly = true
			}
			l.add(b)
		case evEraseChar:
			l.erase()
		case evEraseLine:
			l.eraseLine()
		case evLineEnd:
			a.clientLineEnd(f)
		case evSubneg:
			if opt, p, ok := d.subnegotiation(); ok {
				a.noteOption(opt)
				if n, ok := userFromSubneg(opt, p, a.envUser[:]); ok {
					a.envLen = n
				}
			}
		}
	}
}

// noteOption remembers a subnegotiation of an option that can log a user
// in without a prompt.
func (a *analyzer) noteOption(opt byte) {
	if opt == optAuthentication || opt == optEncrypt {
		a.authOption = true
	}
}

func (a *analyzer) feedServer(f *inspect.Flow, data []byte) {
	d := &a.nvt[inspect.ToClient]
	l := &a.server
	for len(data) > 0 {
		// Most of what a server sends is text between line ends, commands
		// and escape sequences, or a subnegotiation's parameters: each is
		// taken a run at a time.
		switch {
		case d.state == stSub:
			if n := d.keepRun(data); n > 0 {
				data = data[n:]
				continue
			}
		case d.state == stData && a.escapes.Idle():
			if n := plainRun(data); n > 0 {
				l.addText(data[:n])
				data = data[n:]
				continue
			}
		}
		b := data[0]
		data = data[1:]
		switch d.next(b) {
		case evData:
			if !a.escapes.Skip(b) {
				l.add(b)
			}
		case evSubneg:
			if opt, _, ok := d.subnegotiation(); ok {
				a.noteOption(opt)
			}
		case evEraseChar:
			if l.n > 0 {
				l.n--
				// enter reads buf[seen:n]: seen must not pass n.
				l.seen = min(l.seen, l.n)
			}
		case evLineEnd:
			a.serverLineEnd(f)
			if a.finished(f) {
				return
			}
		}
	}
	// Prompts end no line: what the server printed last is read now.
	if l.n > 0 && !l.handled {
		a.serverText(f, l.buf[:l.n], true)
		a.finished(f)
	}
}

// finished ends inspection once a login went through (or the server
// opened a shell without one) and the search for a firmware banner is
// over: the rest of the session is the owner's and should cost the router
// nothing more. It reports whether it did; a is released then.
func (a *analyzer) finished(f *inspect.Flow) bool {
	if a.phase != phaseShell || (a.seekFirmware && !a.firmwareDone) {
		return false
	}
	f.StopInspection()
	return true
}

func (a *analyzer) clientLineEnd(f *inspect.Flow) {
	l := &a.client
	a.typedLine(f, l.buf[:l.n], l.over)
	clear(l.buf[:l.n])
	l.n, l.over = 0, false
}

// typedLine handles a line the client finished typing; over marks one
// that is unusable.
func (a *analyzer) typedLine(f *inspect.Flow, line []byte, over bool) {
	if a.phase == phaseShell {
		return
	}
	a.server.enter()
	if over {
		// Garbage, or a line partly lost: it is no user and no password,
		// and the lines typed before a deferred password prompt are no
		// login either: the password was typed after it.
		if a.phase == phaseWantUser || a.phase == phaseWantPass {
			a.phase, a.userLen, a.userTyped = phaseIdle, 0, false
		}
		if a.deferred {
			a.deferred, a.guess = false, false
			a.dropQueue()
		}
		return
	}
	switch a.phase {
	case phaseWantUser:
		a.setUser(line)
	case phaseWantPass:
		if a.deferred {
			a.passwordAfterPrompt()
		}
		a.login(f, line)
	case phaseIdle, phaseWantPassPrompt:
		// Typed ahead of the prompt that wants it.
		if len(line) > 0 {
			a.enqueue(line)
		}
	case phaseVerdict:
		// Not typed ahead unless the server refused: a script that sends
		// its commands right after the password must not have them read
		// as the next login.
		if len(line) > 0 && a.refusal {
			a.enqueue(line)
		}
	}
}

func (a *analyzer) setUser(line []byte) {
	a.userLen = copy(a.user[:], line)
	a.userTyped = true
	a.phase = phaseWantPassPrompt
}

// login classifies a typed password and keeps the credential until the
// server's verdict arrives.
func (a *analyzer) login(f *inspect.Flow, secret []byte) {
	a.report(f, inspect.OutcomeUnknown)
	user := a.envUser[:a.envLen]
	if a.userTyped {
		user = a.user[:a.userLen]
	}
	a.pending.Keep(f, &inspect.Login{Protocol: "telnet", Mechanism: "login prompt", User: user, Secret: secret})
	a.phase, a.refusal, a.welcomed = phaseVerdict, false, false
	a.uncertain, a.guess, a.attempted = a.guess, false, true
}

// report reports the pending login with outcome o, or unknown when its
// pairing was a guess.
func (a *analyzer) report(f *inspect.Flow, o inspect.Outcome) {
	if a.uncertain {
		o = inspect.OutcomeUnknown
	}
	a.uncertain = false
	a.pending.Report(f, o)
}

// userKnown reports whether the attempt has a user: typed at a login
// prompt, or announced by a Telnet option.
func (a *analyzer) userKnown() bool { return a.userTyped || a.envLen > 0 }

// passwordAfterPrompt settles a deferred password prompt at the line
// typed after it, which is the password: the first line typed before it
// is the user name when none is known, the rest is dropped.
func (a *analyzer) passwordAfterPrompt() {
	a.deferred = false
	if !a.userKnown() {
		a.dequeue(a.setUser)
	}
	a.dropQueue()
}

// loginTypedAhead settles a deferred password prompt when the server
// goes on with no line typed after it: the lines typed ahead were the
// login. Of two, the first is the user name when none is known: a user
// given at a prompt not recognised must not be taken for the password.
func (a *analyzer) loginTypedAhead(f *inspect.Flow) {
	a.deferred = false
	if a.queued > 1 && !a.userKnown() {
		a.dequeue(a.setUser)
	}
	a.dequeue(func(line []byte) { a.login(f, line) })
	a.guess = false
}

// enqueue keeps a typed-ahead line. The first lines answer the first
// prompts, so when the queue is full the new line is dropped.
func (a *analyzer) enqueue(line []byte) {
	if a.queued == len(a.queue) {
		return
	}
	q := &a.queue[a.queued]
	q.n = copy(q.buf[:], line)
	a.queued++
}

// dequeue hands the oldest type-ahead line, if any, to fn and forgets it.
func (a *analyzer) dequeue(fn func(line []byte)) {
	if a.queued == 0 {
		return
	}
	q := &a.queue[0]
	fn(q.buf[:q.n])
	copy(a.queue[:], a.queue[1:])
	a.queued--
	a.queue[a.queued] = clientLine{}
}

func (a *analyzer) serverLineEnd(f *inspect.Flow) {
	l := &a.server
	text := l.buf[:l.n]
	if !l.handled {
		a.serverText(f, text, false)
	}
	switch {
	case !a.bannerDone && !a.prompted:
		if a.bannerOpen(f) && !a.typedEarly {
			a.addBannerLine(text)
		}
	case a.seekFirmware && !a.firmwareDone:
		a.searchFirmwareBanner(f, text)
	}
	l.n, l.handled = 0, false
}

// serverText reads the server's current line: complete, or unfinished
// (partial) at the end of a segment.
func (a *analyzer) serverText(f *inspect.Flow, text []byte, partial bool) {
	a.shellCand = false
	if a.deferred && a.client.n == 0 && (meaningful(text) || loggedIn(text, partial, false)) {
		// The server goes on after the password prompt while the client
		// types nothing (what it prints as the client types is echo):
		// the lines typed ahead were the login, and this is its verdict.
		a.loginTypedAhead(f)
	}
	if a.phase == phaseShell {
		return
	}
	k := PromptOf(text)
	switch a.phase {
	case phaseVerdict:
		switch {
		case loggedIn(text, partial, a.refusal):
			a.server.done()
			a.accepted(f)
			return
		case refused(text):
			a.server.done()
			a.refusal = true
			return
		case k == PromptPassword && passwordChange(text):
			// "New password:", "(current) UNIX password:": in, and made
			// to change it; what is typed next is no login.
			a.server.done()
			a.accepted(f)
			return
		case k == PromptUser && a.cliPrompt(text, partial, a.refusal):
			a.server.done()
			a.accepted(f)
			return
		case k != PromptNone:
			// Asked again: the attempt failed. The prompt is read below.
			a.report(f, inspect.OutcomeRejected)
			a.phase = phaseIdle
		case !a.refusal && inspect.ContainsFold(text, "welcome"):
			a.server.done()
			a.welcomed = true
			return
		}
	case phaseWantPassPrompt:
		switch {
		case loggedIn(text, partial, false) || k == PromptUser && a.cliPrompt(text, partial, false):
			a.server.done()
			if a.queued > 0 {
				a.unrecognisedPassword(f)
			} else {
				// In without a password: report the empty one.
				a.login(f, nil)
			}
			a.accepted(f)
			return
		case refused(text):
			a.server.done()
			a.unrecognisedPassword(f)
			a.phase = phaseIdle
			return
		case a.queued > 0 && k == PromptUser:
			// Asked for a user again: the lines typed since answered
			// something else than the next prompt.
			a.unrecognisedPassword(f)
		}
	}
	if k != PromptNone {
		a.server.done()
		a.prompt(f, k, text)
		return
	}
	if partial && !a.prompted && !a.bannerDone && isShellPrompt(text) {
		// Maybe a shell without a login, maybe a banner line cut at a
		// segment's end ("#####", "Main menu>") that a login prompt
		// follows: the client's next keystroke, while this is still the
		// last thing the server said, decides (confirmShell).
		a.shellCand = true
	}
}

// cliPrompt reports whether text, which PromptOf reads as a user prompt,
// is a CLI's prompt that says the login just typed went through: it
// waits for input on an unfinished line, is one word and a '>' ("User>",
// as "admin>" or "router>" are), comes with no refusal said, and is not
// the device's own login prompt shown again. At the start of a session,
// after a refusal or as "User Name>" it is a login prompt.
func (a *analyzer) cliPrompt(text []byte, partial, afterRefusal bool) bool {
	return partial && !afterRefusal && oneWordAngle(text) && inspect.FNV64(trimSpace(text)) != a.loginPrompt
}

// confirmShell runs at the client's first keystroke after a shell-like
// prompt before any login prompt, which the server's next words would
// have cancelled (serverText): it was a shell given without a login: what came before it is the banner,
// what follows is the owner's session, none of our business.
func (a *analyzer) confirmShell(f *inspect.Flow) {
	a.shellCand = false
	text := a.server.buf[:a.server.n]
	a.server.done()
	a.finishBanner(f, text)
	a.phase = phaseShell
	if a.openShell(f, text) {
		f.ReportNoLogin("no login")
	}
}

// openShell reports whether a confirmed shell prompt shows a LAN server
// that asks nobody for a login: the connection was seen from its start
// and nothing of it was lost; the client typed nothing that could have
// answered a prompt the capture missed and gave no user by Telnet
// options; no authentication option ran; nothing says a login happened;
// and the prompt is a shell's ('#' or '$'), not a menu's or CLI's '>'.
func (a *analyzer) openShell(f *inspect.Flow, prompt []byte) bool {
	if !f.Opened() || !f.ServerLocal || a.gap || a.typedEarly || a.queued > 0 || a.envLen > 0 || a.authOption {
		return false
	}
	if t := trimRight(prompt); len(t) == 0 || t[len(t)-1] != '#' && t[len(t)-1] != '$' {
		return false
	}
	for _, m := range lastLoginMarks {
		if inspect.ContainsFold(a.banner[:a.bannerLen], m) || inspect.ContainsFold(prompt, m) {
			return false
		}
	}
	return true
}

// unrecognisedPassword settles an attempt whose user was typed and that
// the server decided with no password prompt recognised in between, when
// the client typed a line since: it answered a prompt worded in a way
// PromptOf does not know ("Kennwort:"), or was typed ahead of a shell
// that asked for nothing. It is reported as the password, the outcome
// unknown: it is never an empty password accepted, nor the next user
// name. Without such a line nothing is reported.
func (a *analyzer) unrecognisedPassword(f *inspect.Flow) {
	if a.queued == 0 {
		return
	}
	a.dequeue(func(line []byte) { a.login(f, line) })
	a.report(f, inspect.OutcomeUnknown)
	a.dropQueue()
}

// dropQueue forgets and wipes the lines typed ahead.
func (a *analyzer) dropQueue() {
	a.queued = 0
	clear(a.queue[:])
}

func (a *analyzer) accepted(f *inspect.Flow) {
	a.report(f, inspect.OutcomeAccepted)
	a.phase = phaseShell
	a.seekFirmware = true
	a.deferred, a.guess = false, false
	a.dropQueue()
}

func (a *analyzer) prompt(f *inspect.Flow, k PromptKind, text []byte) {
	a.prompted = true
	a.finishBanner(f, text)
	switch k {
	case PromptUser:
		a.loginPrompt = inspect.FNV64(trimSpace(text))
		a.phase, a.userLen, a.userTyped, a.deferred = phaseWantUser, 0, false, false
		a.guess, a.attempted = false, false
		a.dequeue(a.setUser)
	case PromptPassword:
		// Without a user prompt answered, lines typed ahead may hold a
		// user name given at a prompt not recognised: wait for the line
		// typed after this one.
		a.deferred = a.queued > 0 && a.phase != phaseWantPassPrompt
		if a.deferred && a.attempted {
			// The user typed for the last attempt may have been asked
			// again at a prompt not recognised, answered by a queued
			// line or by one typed before the refusal and never
			// queued: it is no longer this attempt's.
			a.guess = true
			clear(a.user[:a.userLen])
			a.userLen, a.userTyped = 0, false
		}
		a.phase = phaseWantPass
		if !a.deferred {
			a.dequeue(func(line []byte) { a.login(f, line) })
		}
	}
}

// bannerOpen reports whether what the server says now can be part of its
// banner: the connection was seen from its start (one joined later may
// be in the middle of a session) and nothing was lost. A line must also
// come before the client typed anything, or it may be the echo of what
// was typed; the prompt that ends the banner is the server's own words.
func (a *analyzer) bannerOpen(f *inspect.Flow) bool {
	return f.Opened() && !a.gap
}

func (a *analyzer) addBannerLine(line []byte) {
	if !meaningful(line) || a.bannerCount == bannerLines {
		return
	}
	a.bannerCount++
	a.appendBanner(line)
}

func (a *analyzer) appendBanner(text []byte) {
	text = trimSpace(text)
	if len(text) == 0 {
		return
	}
	if a.bannerLen > 0 {
		a.bannerLen += copy(a.banner[a.bannerLen:], " | ")
	}
	a.bannerLen += copy(a.banner[a.bannerLen:], text)
}

// finishBanner adds the prompt that ends the banner and reports it once.
func (a *analyzer) finishBanner(f *inspect.Flow, prompt []byte) {
	if a.bannerDone {
		return
	}
	if a.bannerOpen(f) {
		a.appendBanner(prompt)
	}
	a.emitBanner(f, "pre_login", a.banner[:a.bannerLen])
	a.bannerDone = true
}

// searchFirmwareBanner looks for the line a BusyBox shell prints on login,
// which names the firmware's BusyBox version and build date. Only that
// line is reported: the rest of a session is the owner's.
func (a *analyzer) searchFirmwareBanner(f *inspect.Flow, line []byte) {
	a.linesAfterLogin++
	if inspect.ContainsFold(line, "busybox v") {
		a.emitBanner(f, "after_login", line)
		a.firmwareDone = true
	} else if a.linesAfterLogin == afterLines {
		a.firmwareDone = true
	}
}

func (a *analyzer) emitBanner(f *inspect.Flow, stage string, text []byte) {
	if len(trimSpace(text)) == 0 {
		return
	}
	f.Emit(inspect.SubjectServer, &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindBanner,
		Severity: event.SeverityInfo,
		Summary:  "Telnet server banner",
		Evidence: event.Evidence{
			"protocol": "telnet",
			"banner":   inspect.Scrubbed(text, maxBanner),
			"stage":    stage,
		},
	})
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return trimRight(b)
}

// Gap drops what the lost bytes interrupted: the negotiation state and
// the current line. The client's line must not be read as a user or
// password; the server's is read afresh, since a prompt is at its end.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	a.gap = true
	a.nvt[dir] = nvtDecoder{}
	if dir == inspect.ToServer {
		a.client.over = true
		return
	}
	a.server.n, a.server.handled = 0, false
}

func (a *analyzer) Close(f *inspect.Flow) {
	if !a.bannerDone && a.bannerLen > 0 {
		a.finishBanner(f, nil)
	}
	if a.deferred {
		a.loginTypedAhead(f)
	}
	outcome := inspect.OutcomeUnknown
	switch {
	case a.phase == phaseVerdict && a.refusal:
		outcome = inspect.OutcomeRejected
	case a.phase == phaseVerdict && a.welcomed:
		outcome = inspect.OutcomeAccepted
	}
	a.report(f, outcome)
	a.proto.pool.Put(a)
}
