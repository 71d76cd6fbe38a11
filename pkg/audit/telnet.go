package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/telnet"
)

// Telnet protocol bytes (RFC 854, RFC 855).
const (
	tnSE   = 240
	tnSB   = 250
	tnWILL = 251
	tnWONT = 252
	tnDO   = 253
	tnDONT = 254
	tnIAC  = 255
)

// telnetReader separates a telnet server's data from its commands. It
// refuses every option: a WILL gets DONT and a DO gets WONT, once per
// option, so a server repeating its request cannot start a loop; WONT
// and DONT need no answer, as every option is already off. The zero
// value is ready; a command split between two reads is handled.
type telnetReader struct {
	state      uint8
	escapes    inspect.EscapeFilter // colours, BusyBox ash's cursor position request
	verb       byte                 // WILL, WONT, DO or DONT awaiting its option byte
	refusedDo  [4]uint64            // options answered WONT
	refusedWil [4]uint64            // options answered DONT
}

const (
	tsData  = iota
	tsIAC   // after IAC
	tsOpt   // after IAC WILL/WONT/DO/DONT: the option byte is next
	tsSB    // inside a subnegotiation
	tsSBIAC // IAC inside a subnegotiation
)

// feed reads server bytes: data bytes are appended to text, refusals to
// reply. Subnegotiations and other commands are dropped; IAC IAC is a
// data byte 0xff.
func (t *telnetReader) feed(in, text, reply []byte) ([]byte, []byte) {
	for _, b := range in {
		switch t.state {
		case tsData:
			if b == tnIAC {
				t.state = tsIAC
			} else if !t.escapes.Skip(b) {
				text = append(text, b)
			}
		case tsIAC:
			switch {
			case b == tnIAC:
				text = append(text, b)
				t.state = tsData
			case b >= tnWILL:
				t.verb, t.state = b, tsOpt
			case b == tnSB:
				t.state = tsSB
			default: // NOP, GA, DM, AYT …: nothing to answer
				t.state = tsData
			}
		case tsOpt:
			reply = t.refuse(t.verb, b, reply)
			t.state = tsData
		case tsSB:
			if b == tnIAC {
				t.state = tsSBIAC
			}
		case tsSBIAC:
			if b == tnSE {
				t.state = tsData
			} else {
				t.state = tsSB // IAC IAC or a stray command inside SB
			}
		}
	}
	return text, reply
}

// refuse appends the refusal of a WILL or DO of option opt, once per
// option.
func (t *telnetReader) refuse(verb, opt byte, reply []byte) []byte {
	var set *[4]uint64
	var answer byte
	switch verb {
	case tnWILL:
		set, answer = &t.refusedWil, tnDONT
	case tnDO:
		set, answer = &t.refusedDo, tnWONT
	default:
		return reply
	}
	word, bit := opt/64, uint64(1)<<(opt%64)
	if set[word]&bit != 0 {
		return reply
	}
	set[word] |= bit
	return append(reply, tnIAC, answer, opt)
}

// screen is what the tail of a telnet session shows.
type screen uint8

const (
	screenNone     screen = iota
	screenUser            // a login/user name prompt
	screenPassword        // a password prompt
	screenShell           // a shell or CLI prompt
	screenFailed          // a failure message
	screenLocked          // a lockout or rate-limit message
)

// Markers, matched in lower case. A shell prompt at the end wins over
// failure and lockout words in the lines before it (a banner after login
// may say "Last failed login" or "unauthorized access prohibited"), then
// lockout over failure, failure over the other prompts. A failure or
// lockout word on the prompt's own line makes it no prompt ("Login failed
// <1/3>").
var (
	lockoutMarkers = [][]byte{[]byte("too many"), []byte("locked"), []byte("try again later"),
		[]byte("blocked"), []byte("temporarily disabled"), []byte("exceeded")}
	failureMarkers = [][]byte{[]byte("incorrect"), []byte("failed"), []byte("failure"), []byte("invalid"),
		[]byte("denied"), []byte("wrong"), []byte("bad password"), []byte("unauthorized"), []byte("not authorized")}
)

// classify reads the text a server sent since the client's last line:
// a shell prompt at its end, else lockout and failure messages anywhere,
// else the prompt at its end.
func classify(text []byte) screen {
	lower := bytes.ToLower(text)
	prompt := promptAt(lower)
	if prompt == screenShell {
		return screenShell
	}
	for _, m := range lockoutMarkers {
		if bytes.Contains(lower, m) {
			return screenLocked
		}
	}
	for _, m := range failureMarkers {
		if bytes.Contains(lower, m) {
			return screenFailed
		}
	}
	return prompt
}

// classifyGreeting reads the text before the first line sent: only the
// prompt at its end counts (a legal notice may well say "unauthorized
// access denied"); lockout messages count when no prompt follows them.
func classifyGreeting(text []byte) screen {
	lower := bytes.ToLower(text)
	if sc := promptAt(lower); sc != screenNone {
		return sc
	}
	for _, m := range lockoutMarkers {
		if bytes.Contains(lower, m) {
			return screenLocked
		}
	}
	return screenNone
}

// promptAt reads the prompt at the end of lower-case text: a login or
// password prompt, as passive inspection reads them on its last line, or
// a shell prompt (shellLine).
func promptAt(lower []byte) screen {
	tail := bytes.TrimRight(lower, " \t\r\n\x00")
	switch telnet.PromptOf(tail[bytes.LastIndexAny(tail, "\r\n")+1:]) {
	case telnet.PromptPassword:
		return screenPassword
	case telnet.PromptUser:
		return screenUser
	}
	if shellLine(lower) {
		return screenShell
	}
	return screenNone
}

// shellLine reports whether lower-case text ends in a shell or CLI
// prompt: #, $, > or % as its very last byte (after spaces and NULs only:
// a line that ends in a line break is a message, such as a rule of '#'
// under "Login incorrect", not a prompt), on a line that says nothing of
// failure or lockout ("Login failed <1/3>"), is not a rule of marks
// ("#####") and is not a percentage ("100%").
func shellLine(lower []byte) bool {
	t := bytes.TrimRight(lower, " \t\x00")
	n := len(t)
	if n == 0 || bytes.IndexByte([]byte("#$>%"), t[n-1]) < 0 {
		return false
	}
	if t[n-1] == '%' && n > 1 && t[n-2] >= '0' && t[n-2] <= '9' {
		return false
	}
	line := t[bytes.LastIndexAny(t, "\r\n")+1:]
	if len(bytes.Trim(line, " \t\x00"+string(t[n-1]))) == 0 && bytes.Count(line, t[n-1:]) > 1 {
		return false
	}
	for _, markers := range [][][]byte{failureMarkers, lockoutMarkers} {
		for _, m := range markers {
			if bytes.Contains(line, m) {
				return false
			}
		}
	}
	return true
}

// Bounds of a telnet session's text window.
const (
	maxWindow  = 2048 // text kept since the last send
	keepWindow = 1024 // what is kept when the window overflows
	// settle is how long a verdict (a shell prompt, a failure or
	// lockout message) must stay the last thing said before it counts:
	// a failure message may still be on its way after a prompt, a shell
	// prompt after a banner that says "failed".
	settle = 300 * time.Millisecond
)

// telnetSession reads a telnet server's screens.
type telnetSession struct {
	c      net.Conn
	sent   string // the last line sent
	tr     telnetReader
	window []byte
	buf    []byte
	reply  []byte
}

func newTelnetSession(c net.Conn) *telnetSession {
	return &telnetSession{c: c, buf: make([]byte, 512)}
}

// send writes a line and forgets what the server said before it.
func (s *telnetSession) send(line string) error {
	s.window = s.window[:0]
	s.sent = line
	_, err := io.WriteString(s.c, line+"\r\n")
	return err
}

// screen classifies the window without the echo of the last line sent:
// a terminal that echoes a password ending in '#' or '>' before the
// login program turns echo off must not look like a shell prompt.
func (s *telnetSession) screen(cls func([]byte) screen) screen {
	return cls(withoutEcho(s.window, s.sent))
}

// withoutEcho drops a leading echo of line (after line ends and NULs)
// from text, whole or in part.
func withoutEcho(text []byte, line string) []byte {
	rest := bytes.TrimLeft(text, "\r\n\x00")
	if line == "" || len(rest) == 0 {
		return text
	}
	n := min(len(rest), len(line))
	if string(rest[:n]) != line[:n] {
		return text
	}
	return rest[n:]
}

// until reads until want accepts the screen cls sees, the deadline passes
// or the server closes; it returns the last screen seen. A verdict screen
// (shell, failure, lockout) must survive the settle time without more
// text arriving.
func (s *telnetSession) until(deadline time.Time, cls func([]byte) screen, want func(screen) bool) (screen, error) {
	sc := s.screen(cls)
	for {
		if want(sc) {
			if sc != screenShell && sc != screenFailed && sc != screenLocked {
				return sc, nil
			}
			more, err := s.read(earlier(deadline, time.Now().Add(settle)))
			if err != nil && !isTimeout(err) {
				return s.screen(cls), err
			}
			if !more {
				return sc, nil
			}
			sc = s.screen(cls)
			continue
		}
		if _, err := s.read(deadline); err != nil {
			return s.screen(cls), err
		}
		sc = s.screen(cls)
	}
}

// read reads once before the deadline, answers option requests and
// reports whether text arrived.
func (s *telnetSession) read(deadline time.Time) (bool, error) {
	if err := s.c.SetReadDeadline(deadline); err != nil {
		return false, err
	}
	n, err := s.c.Read(s.buf)
	before := len(s.window)
	s.window, s.reply = s.tr.feed(s.buf[:n], s.window, s.reply[:0])
	if len(s.window) > maxWindow {
		s.window = append(s.window[:0], s.window[len(s.window)-keepWindow:]...)
		before = 0
	}
	if len(s.reply) > 0 {
		if _, werr := s.c.Write(s.reply); werr != nil && err == nil {
			err = werr
		}
	}
	return len(s.window) > before, err
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// shellPrompt reports whether text ends in a shell's prompt ('#' for
// root, '$'), not a menu's or CLI's '>', which may lead to a login.
func shellPrompt(text []byte) bool {
	t := bytes.TrimRight(text, " \t\x00")
	return len(t) > 0 && (t[len(t)-1] == '#' || t[len(t)-1] == '$')
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// telnetLogin tries one candidate on one connection: wait for a login or
// password prompt, send the user, then the password, and read the
// verdict.
func (r *run) telnetLogin(ctx context.Context, port uint16, cand creds.Candidate) (attempt, error) {
	c, err := r.dial(ctx, port)
	if err != nil {
		return attempt{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	deadline := time.Now().Add(r.a.opts.ResponseTimeout)
	s := newTelnetSession(c)
	res := attempt{mechanism: "login prompt"}

	isPrompt := func(sc screen) bool { return sc == screenUser || sc == screenPassword || sc == screenLocked }
	sc, err := s.until(deadline, classifyGreeting, isPrompt)
	switch {
	case sc == screenLocked:
		res.outcome = outcomeLockout
		return res, nil
	case sc == screenShell && (err == nil || isTimeout(err)) && shellPrompt(s.window):
		// Still a shell prompt after the whole wait, and no login
		// prompt: the device gives a shell to anyone who connects.
		res.outcome, res.noLogin, res.mechanism = outcomeAccepted, true, "no login"
		r.telnetBye(s, res)
		return res, nil
	case !isPrompt(sc):
		return res, fmt.Errorf("telnet: no login prompt: %w", orEOF(err))
	}
	if sc == screenUser {
		if err := s.send(cand.User); err != nil {
			return res, fmt.Errorf("telnet: send user: %w", err)
		}
		// An account without a password goes straight to the shell.
		sc, err = s.until(deadline, classify, func(sc screen) bool { return sc != screenNone && sc != screenUser })
		switch sc {
		case screenPassword:
		case screenShell, screenFailed, screenLocked:
			res.sent = true // the user name alone was the whole login
			res.outcome = verdict(sc)
			r.telnetBye(s, res)
			return res, nil
		default:
			return res, fmt.Errorf("telnet: no password prompt: %w", orEOF(err))
		}
	} else {
		res.noUser = true
	}
	if err := s.send(cand.Password); err != nil {
		return res, fmt.Errorf("telnet: send password: %w", err)
	}
	res.sent = true
	sc, err = s.until(deadline, classify, func(sc screen) bool { return sc != screenNone })
	if sc == screenNone {
		if err == nil || isTimeout(err) || errors.Is(err, io.EOF) {
			// Closed or silent after the password: not accepted.
			res.outcome = outcomeRejected
			return res, nil
		}
		return res, fmt.Errorf("telnet: verdict: %w", err)
	}
	res.outcome = verdict(sc)
	r.telnetBye(s, res)
	return res, nil
}

// verdict maps the screen after a login to its outcome: a shell is
// acceptance; a failure message, or a new login or password prompt, is
// rejection.
func verdict(sc screen) outcome {
	switch sc {
	case screenShell:
		return outcomeAccepted
	case screenLocked:
		return outcomeLockout
	}
	return outcomeRejected
}

// telnetBye leaves an accepted session without running anything.
func (r *run) telnetBye(s *telnetSession, res attempt) {
	if res.outcome == outcomeAccepted {
		s.send("exit")
	}
}

func orEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}
