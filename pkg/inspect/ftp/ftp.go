// Package ftp finds FTP logins (USER/PASS, RFC 959) and the server's verdict
// on them, and reports the server's greeting as a banner for fingerprinting.
package ftp

import (
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

type analyzer struct {
	proto     *Protocol
	lines     inspect.Lines
	pending   inspect.PendingLogin
	user      [maxUser]byte
	userLen   int
	sawBanner bool
	authTLS   bool // AUTH sent, waiting for 234
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	return a.lines.Feed(a, f, dir, data)
}

// Raw implements inspect.LineHandler: every FTP control byte is in a line.
func (*analyzer) Raw(inspect.Dir, []byte) int { return 0 }

// ClientLine implements inspect.LineHandler: a command.
func (a *analyzer) ClientLine(f *inspect.Flow, line []byte) {
	cmd, arg := inspect.CutWord(line)
	switch {
	case inspect.EqualFold(cmd, "USER"):
		a.pending.Report(f, inspect.OutcomeUnknown)
		a.userLen = copy(a.user[:], arg)
	case inspect.EqualFold(cmd, "PASS"):
		a.pending.Keep(f, &inspect.Login{
			Protocol:  "ftp",
			Mechanism: "USER/PASS",
			User:      a.user[:a.userLen],
			Secret:    arg,
			Anonymous: anonymousUser(a.user[:a.userLen]),
		})
	case inspect.EqualFold(cmd, "AUTH"):
		// AUTH TLS (RFC 4217): after the server's 234 the control
		// connection is TLS.
		a.pending.Report(f, inspect.OutcomeUnknown)
		a.authTLS = true
	}
}

// ServerLine implements inspect.LineHandler: a reply.
func (a *analyzer) ServerLine(f *inspect.Flow, line []byte) {
	if len(line) < 3 {
		return
	}
	code := line[:3]
	if !a.sawBanner && code[0] == '2' && code[1] == '2' && code[2] == '0' {
		a.sawBanner = true
		inspect.EmitGreeting(f, "ftp", line[3:])
		return
	}
	if a.authTLS {
		a.authTLS = false
		if code[0] == '2' && code[1] == '3' && code[2] == '4' {
			f.StartTLS()
			return
		}
	}
	switch {
	case code[0] == '2' && code[1] == '3' && code[2] == '0': // 230 logged in
		a.pending.Report(f, inspect.OutcomeAccepted)
	case code[0] == '2' && code[1] == '0' && code[2] == '2': // 202 superfluous: already in
		a.pending.Report(f, inspect.OutcomeAccepted)
	case code[0] == '5', code[0] == '4' && code[1] == '3' && code[2] == '0': // 530 and kin, 430 invalid user or password: refused
		a.pending.Report(f, inspect.OutcomeRejected)
	case code[0] == '4': // 421 too many users and kin: not judged
		a.pending.Report(f, inspect.OutcomeUnknown)
	}
}

// Gap drops, in dir, the tail of the line whose start was lost: it is
// neither a command nor a reply.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) { a.lines.Resync(dir) }

func (a *analyzer) Close(f *inspect.Flow) {
	a.pending.Report(f, inspect.OutcomeUnknown)
	a.proto.pool.Put(a)
}

// anonymousUser reports the user names of anonymous FTP (RFC 1635), whose
// password is by convention the client's e-mail address.
func anonymousUser(user []byte) bool {
	return inspect.EqualFold(user, "anonymous") || inspect.EqualFold(user, "ftp")
}
