package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"
)

// Email sends a plain-text message over SMTP: STARTTLS (or implicit TLS)
// unless the owner set tls = "none" with insecure_plaintext for a LAN
// relay, then AUTH PLAIN or LOGIN when a user name is configured.
type Email struct {
	server    string // host:port
	host      string
	mode      string // starttls, tls, none
	plainOK   bool   // insecure_plaintext
	user      string
	password  string
	from      *mail.Address
	to        []*mail.Address
	tlsConfig *tls.Config
	now       func() time.Time
	helo      string
}

func newEmail(s *settings, now func() time.Time) *Email {
	host, _, _ := net.SplitHostPort(s.Server)
	e := &Email{server: s.Server, host: host, mode: s.TLS, plainOK: s.InsecurePlaintext,
		user: s.Username, password: s.Password, tlsConfig: s.tlsConfig(host), now: now, helo: heloName()}
	e.from, _ = mail.ParseAddress(s.From)
	for _, t := range s.To {
		a, _ := mail.ParseAddress(t)
		e.to = append(e.to, a)
	}
	return e
}

// heloName is the router's host name when it is a valid domain label
// sequence, else "localhost".
func heloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || len(h) > 253 || strings.Trim(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		return "localhost"
	}
	return h
}

// Send implements Sender.
func (e *Email) Send(ctx context.Context, a Alert) error {
	err := e.send(ctx, e.message(a))
	var te *textproto.Error
	if errors.Is(err, errMessageRefused) && errors.As(err, &te) && te.Code >= 500 && a.Device != nil {
		// A spam or virus filter refused the text, which quotes what
		// the device calls itself: a device named like a filter's test
		// string would otherwise silence the mail about it.
		if err2 := e.send(ctx, e.message(withoutDeviceText(a))); err2 != nil {
			err = fmt.Errorf("%v; without the device's text: %w", err, err2)
		} else {
			err = nil
		}
	}
	if err != nil {
		return classifySMTP(err)
	}
	return nil
}

// errMessageRefused is wrapped by the error of a reply to the end of
// DATA: the server refused the message itself.
var errMessageRefused = errors.New("message refused")

// withoutDeviceText is a's stand-in for a mail filter that refused its
// text: its title and body hold nothing the device chose (names,
// banners, a reason quoting them), only what the alert is about, the
// device's MAC address and the link to its page.
func withoutDeviceText(a Alert) Alert {
	about := strings.ReplaceAll(string(a.Kind), "_", " ")
	device := "device " + orWord(a.Device.MAC, a.Device.IP)
	a.Title = fmt.Sprintf("Alert about %s: %s", device, about)
	a.Body = fmt.Sprintf("The mail server refused this alert (%s) about %s: its text quotes what the device calls itself. Open the device's page to read it.",
		about, device)
	return a
}

func (e *Email) send(ctx context.Context, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.server)
	if err != nil {
		return fmt.Errorf("e-mail: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A cancelled context must also end a blocked read or write.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn = &cappedConn{Conn: conn, left: maxSMTPRead}
	if e.mode == "tls" {
		tc := tls.Client(conn, e.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("e-mail: TLS with %s: %w", e.server, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		return fmt.Errorf("e-mail: %s: %w", e.server, err)
	}
	defer c.Close()
	if err := c.Hello(e.helo); err != nil {
		return fmt.Errorf("e-mail: EHLO: %w", err)
	}
	if e.mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			// Not permanent: an attacker on the path can strip it.
			return fmt.Errorf("e-mail: %s does not offer STARTTLS; refusing to send in clear (for a LAN relay without TLS set tls = \"none\" and insecure_plaintext = true)", e.server)
		}
		if err := c.StartTLS(e.tlsConfig); err != nil {
			return fmt.Errorf("e-mail: STARTTLS: %w", err)
		}
	}
	if e.user != "" {
		auth, err := e.auth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("e-mail: AUTH: %w", err)
		}
	}
	if err := c.Mail(e.from.Address); err != nil {
		return fmt.Errorf("e-mail: MAIL FROM: %w", err)
	}
	for _, to := range e.to {
		if err := c.Rcpt(to.Address); err != nil {
			return fmt.Errorf("e-mail: RCPT TO: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("e-mail: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("e-mail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("e-mail: %w: %w", errMessageRefused, err)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

// auth picks PLAIN, else LOGIN, from what the server offers.
func (e *Email) auth(c *smtp.Client) (smtp.Auth, error) {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return nil, permanent(fmt.Errorf("e-mail: %s offers no AUTH, but a username is configured", e.server))
	}
	list := strings.Fields(strings.ToUpper(mechs))
	switch {
	case slices.Contains(list, "PLAIN"):
		return &plainAuth{user: e.user, password: e.password, plainOK: e.plainOK}, nil
	case slices.Contains(list, "LOGIN"):
		return &loginAuth{user: e.user, password: e.password, plainOK: e.plainOK}, nil
	}
	return nil, permanent(fmt.Errorf("e-mail: %s offers AUTH %s; iotgw speaks PLAIN and LOGIN", e.server, clip(mechs, 100)))
}

var errPlaintextAuth = errors.New("e-mail: refusing to send the password over an unencrypted connection (set insecure_plaintext = true for a LAN relay)")

// plainAuth is AUTH PLAIN (RFC 4616). Unlike net/smtp's PlainAuth it
// allows a LAN relay without TLS when the owner said so, and refuses
// otherwise whatever the host name.
type plainAuth struct {
	user, password string
	plainOK        bool
}

func (a *plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.plainOK {
		return "", nil, errPlaintextAuth
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.password), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("e-mail: unexpected AUTH PLAIN challenge")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism many servers still offer.
type loginAuth struct {
	user, password string
	plainOK        bool
	step           int
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.plainOK {
		return "", nil, errPlaintextAuth
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("e-mail: unexpected AUTH LOGIN challenge")
}

// message is the RFC 5322 message: headers, then a quoted-printable
// UTF-8 body.
func (e *Email) message(a Alert) []byte {
	var b bytes.Buffer
	to := make([]string, len(e.to))
	for i, t := range e.to {
		to[i] = t.String()
	}
	domain := "iotgw.invalid"
	if _, d, ok := strings.Cut(e.from.Address, "@"); ok {
		domain = d
	}
	id := a.ID
	if id == "" {
		id = fmt.Sprintf("%d", e.now().UnixNano())
	}
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", e.from.String())
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", headerText("[iotgw] "+a.Title))
	hdr("Date", e.now().Format(time.RFC1123Z))
	// The alert id in the Message-ID lets a mail client fold a repeat.
	hdr("Message-ID", "<"+id+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	hdr("X-Iotgw-Alert-Id", id)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(text(a), "\n", "\r\n")
	_, _ = qp.Write([]byte(body + "\r\n"))
	_ = qp.Close()
	return b.Bytes()
}

// classifySMTP makes 5xx replies permanent (the server refused the
// message, the sender or the login); 4xx replies and network errors are
// retried.
func classifySMTP(err error) error {
	var se *SendError
	if errors.As(err, &se) {
		return err
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent(err)
	}
	return err
}

// maxSMTPRead bounds what one session reads from the server: replies are
// short lines and a TLS handshake a few kilobytes. net/smtp reads a reply
// of any length, and before STARTTLS anyone on the path can send one; a
// server that sends more is cut off rather than held in memory.
const maxSMTPRead = 256 << 10

var errSMTPTooLong = errors.New("the server sent more than an SMTP session needs")

// cappedConn is a connection that reads at most left bytes.
type cappedConn struct {
	net.Conn
	left int
}

func (c *cappedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errSMTPTooLong
	}
	n, err := c.Conn.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}
