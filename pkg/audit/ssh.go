package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

// sshService tries passwords over SSH, one connection per candidate. It
// uses the "password" method, or "keyboard-interactive" when the server
// offers only that (PAM-backed servers, many appliances), never both on
// one connection, so that one candidate costs the device one failed
// login.
type sshService struct {
	r           *run
	port        uint16
	interactive bool // the server refused "password": use keyboard-interactive
	probed      bool // the handshake without authentication was made
}

// login tries one candidate. The host key is not checked: the audit tests
// the device and trusts nothing it says; no session is opened after an
// accepted login. Before the first candidate, a handshake offering no
// method at all finds a server that needs no authentication: x/crypto/ssh
// asks for "none" before the password, so such a server would otherwise
// seem to accept whatever default was tried first.
func (s *sshService) login(ctx context.Context, cand creds.Candidate) (attempt, error) {
	if !s.probed {
		s.probed = true
		res, err := s.withoutAuth(ctx, cand.User)
		if err != nil || res.outcome != outcomeRejected {
			return res, err
		}
	}
	res, err := s.try(ctx, cand)
	if errors.Is(err, errSSHMethod) && !s.interactive {
		s.interactive = true
		return s.try(ctx, cand)
	}
	return res, err
}

// withoutAuth makes a handshake offering no authentication method: only
// "none" is asked, which servers do not count as a failed login (OpenSSH
// counts the first "none" of a connection as no failure). Success is a
// login without any password (noLogin); otherwise the outcome is
// rejected and nothing was sent.
func (s *sshService) withoutAuth(ctx context.Context, user string) (attempt, error) {
	res := attempt{mechanism: "no login"}
	kexDone, authErr, err := s.handshake(ctx, user, nil)
	if err != nil {
		return res, err
	}
	if authErr == nil {
		res.outcome, res.noLogin = outcomeAccepted, true
		return res, nil
	}
	switch {
	case lockoutText(authErr.Error()):
		res.outcome = outcomeLockout
	case !kexDone:
		return res, fmt.Errorf("ssh: before authentication: %w", authErr)
	}
	return res, nil
}

// errSSHMethod says the server does not offer the method used.
var errSSHMethod = errors.New("ssh: authentication method not offered")

func (s *sshService) try(ctx context.Context, cand creds.Candidate) (attempt, error) {
	res := attempt{mechanism: "password"}
	method := ssh.Password(cand.Password)
	if s.interactive {
		res.mechanism = "keyboard-interactive"
		answered := false
		method = ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			switch {
			case len(questions) == 0:
				return nil, nil
			case len(questions) > 1:
				return nil, errors.New("more than one question")
			case answered:
				// A server that asks again after a wrong password would
				// take several failed logins for the one counted.
				return nil, errors.New("asked for the password again")
			}
			answered = true
			return []string{cand.Password}, nil
		})
	}
	kexDone, authErr, err := s.handshake(ctx, cand.User, []ssh.AuthMethod{method})
	if err != nil {
		return res, err
	}
	if authErr == nil {
		res.sent, res.outcome = true, outcomeAccepted
		return res, nil
	}
	msg := authErr.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		// "attempted methods [none]" means the method was not on offer:
		// no password was sent.
		if strings.Contains(msg, "attempted methods [none]") {
			return res, errSSHMethod
		}
		res.sent = true
		res.outcome = outcomeRejected
		if lockoutText(msg) {
			res.outcome = outcomeLockout
		}
		return res, nil
	case lockoutText(msg):
		res.sent, res.outcome = true, outcomeLockout
		return res, nil
	}
	if !kexDone {
		return res, fmt.Errorf("ssh: before authentication: %w", authErr)
	}
	// Transport errors during authentication (the server hung up after
	// the password) may have cost the device a failed login: count it.
	res.sent = true
	res.outcome = outcomeRejected
	return res, nil
}

// handshake dials the SSH port and makes one client handshake as user,
// offering auth (nil offers only "none"), bounded by the response timeout
// and by ctx. Both the probe without authentication and every candidate
// go through it, so that they dial, time out and treat the server alike.
// Any host key is taken: the audit tests the device, it does not trust
// it. An accepted login is closed at once, its channels refused: no
// session is opened.
//
// err is a failure to reach the port; authErr is the handshake's own
// error, nil when the server accepted the login; kexDone says whether key
// exchange had ended before it, so that the caller can tell an answer to
// the login from a transport failure that sent nothing.
func (s *sshService) handshake(ctx context.Context, user string, auth []ssh.AuthMethod) (kexDone bool, authErr, err error) {
	c, err := s.r.dial(ctx, s.port)
	if err != nil {
		return false, nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := c.SetDeadline(time.Now().Add(s.r.a.opts.ResponseTimeout)); err != nil {
		return false, nil, fmt.Errorf("ssh: set deadline: %w", err)
	}
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: auth,
		// The callback marks the end of key exchange.
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { kexDone = true; return nil },
		ClientVersion:   "SSH-2.0-iotgw_audit",
		Timeout:         s.r.a.opts.ResponseTimeout,
	}
	conn, chans, reqs, authErr := ssh.NewClientConn(c, s.r.hostPort(s.port), cfg)
	if authErr != nil {
		return kexDone, authErr, nil
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		for ch := range chans {
			ch.Reject(ssh.Prohibited, "audit")
		}
	}()
	conn.Close()
	return kexDone, nil, nil
}

// lockoutText reports whether a server message says it is refusing
// logins for a while.
func lockoutText(msg string) bool {
	lower := []byte(strings.ToLower(msg))
	for _, m := range lockoutMarkers {
		if bytes.Contains(lower, m) {
			return true
		}
	}
	return false
}
