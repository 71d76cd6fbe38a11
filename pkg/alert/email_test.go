package alert

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/iotgw/iotgw/pkg/store"
)

// selfSigned makes a certificate for 127.0.0.1 and writes it as a PEM
// file the channel's ca_file can name.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "iotgw test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// mailbox is an SMTP server backend that records sessions.
type mailbox struct {
	mu       sync.Mutex
	mechs    []string // offered AUTH mechanisms
	user     string
	password string
	rcptCode int // reply to RCPT TO (0: accept)
	// refuse: a message holding it is refused with 554 at the end of
	// DATA, as a spam or virus filter does.
	refuse   string
	msgs     []delivered
	authSeen []authAttempt
}

type delivered struct {
	from string
	to   []string
	data []byte
	tls  bool
}

type authAttempt struct {
	mech, user, password string
	tls                  bool
}

type mailSession struct {
	box  *mailbox
	conn *smtp.Conn
	auth bool
	cur  delivered
}

func (b *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{box: b, conn: c}, nil
}

func (s *mailSession) isTLS() bool { _, ok := s.conn.TLSConnectionState(); return ok }

func (s *mailSession) AuthMechanisms() []string { return s.box.mechs }

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		s.box.mu.Lock()
		defer s.box.mu.Unlock()
		s.box.authSeen = append(s.box.authSeen, authAttempt{mech, user, pass, s.isTLS()})
		if user != s.box.user || pass != s.box.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication failed"}
		}
		s.auth = true
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
}

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(resp))
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if len(s.box.mechs) > 0 && !s.auth {
		return smtp.ErrAuthRequired
	}
	s.cur = delivered{from: from, tls: s.isTLS()}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if c := s.box.rcptCode; c != 0 {
		return &smtp.SMTPError{Code: c, EnhancedCode: smtp.EnhancedCode{c / 100, 1, 1}, Message: "no"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.box.refuse != "" && bytes.Contains(b, []byte(s.box.refuse)) {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "spam message rejected"}
	}
	s.cur.data = b
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.cur)
	s.box.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.cur = delivered{} }
func (s *mailSession) Logout() error { return nil }

// startSMTP serves box on 127.0.0.1; with cert it offers STARTTLS, with
// implicit it speaks TLS from the first byte.
func startSMTP(t *testing.T, box *mailbox, cert *tls.Certificate, implicit bool) string {
	t.Helper()
	srv := smtp.NewServer(box)
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = cert == nil
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{*cert}}
		if implicit {
			l = tls.NewListener(l, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func (b *mailbox) messages() []delivered {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]delivered(nil), b.msgs...)
}

func sendMail(t *testing.T, cc ChannelConfig, a Alert) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return buildSender(t, cc).Send(ctx, a)
}

func TestEmailSTARTTLSAndAuth(t *testing.T) {
	cert, caFile := selfSigned(t)
	for _, mech := range []string{sasl.Plain, sasl.Login} {
		t.Run(mech, func(t *testing.T) {
			box := &mailbox{mechs: []string{mech}, user: "iotgw@example.com", password: "p4ss-w0rd!"}
			addr := startSMTP(t, box, &cert, false)
			cc := ChannelConfig{Type: TypeEmail, Server: addr, CAFile: caFile, Username: "iotgw@example.com", Password: "p4ss-w0rd!",
				From: "iotgw <iotgw@example.com>", To: []string{"Owner <owner@example.com>", "second@example.org"}}
			a := sampleAlert()
			if err := sendMail(t, cc, a); err != nil {
				t.Fatal(err)
			}
			msgs := box.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			m := msgs[0]
			if !m.tls || m.from != "iotgw@example.com" || strings.Join(m.to, ",") != "owner@example.com,second@example.org" {
				t.Errorf("envelope from %q to %v tls %v", m.from, m.to, m.tls)
			}
			if len(box.authSeen) != 1 || box.authSeen[0].mech != mech || !box.authSeen[0].tls {
				t.Errorf("auth %+v: want one %s login inside TLS", box.authSeen, mech)
			}
			checkMessage(t, m.data, a, 2)
			if !strings.Contains(string(m.data), a.URL) {
				t.Error("the message lacks the device page link")
			}
		})
	}
}

// checkMessage parses the message as a mail reader would.
func checkMessage(t *testing.T, data []byte, a Alert, wantTo int) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != "[iotgw] "+a.Title {
		t.Errorf("subject %q (%v)", subject, err)
	}
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "iotgw@example.com" {
		t.Errorf("from %q", h.Get("From"))
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != wantTo {
		t.Errorf("to %q", h.Get("To"))
	}
	if d, err := h.Date(); err != nil || !d.Equal(testClockNow()) {
		t.Errorf("date %q (%v)", h.Get("Date"), err)
	}
	if h.Get("Message-ID") != "<"+a.ID+"@example.com>" || h.Get("X-Iotgw-Alert-Id") != a.ID {
		t.Errorf("message id %q", h.Get("Message-ID"))
	}
	if h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("Content-Transfer-Encoding") != "quoted-printable" || h.Get("MIME-Version") != "1.0" {
		t.Errorf("MIME headers %v", h)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(text(a)+"\n", "\n", "\r\n"); string(body) != want {
		t.Errorf("body\n%q\nwant\n%q", body, want)
	}
}

func TestEmailImplicitTLSAndNonASCII(t *testing.T) {
	cert, caFile := selfSigned(t)
	box := &mailbox{mechs: []string{sasl.Plain}, user: "u", password: "p"}
	addr := startSMTP(t, box, &cert, true)
	cc := ChannelConfig{Type: TypeEmail, Server: addr, TLS: "tls", CAFile: caFile, Username: "u", Password: "p",
		From: "iotgw@example.com", To: []string{"owner@example.com"}}
	a := FromNewDevice(Device{MAC: "02:00:00:00:00:07", Name: "Küchenwaage ⚖"}, testClockNow())
	a.ID = "id-7"
	if err := sendMail(t, cc, a); err != nil {
		t.Fatal(err)
	}
	msgs := box.messages()
	if len(msgs) != 1 || !msgs[0].tls {
		t.Fatalf("messages %+v", msgs)
	}
	checkMessage(t, msgs[0].data, a, 1)
}

func TestEmailRefusesPlaintext(t *testing.T) {
	// A server that offers no STARTTLS (or an attacker who stripped it):
	// the password is never sent, nothing is delivered, and it is retried.
	box := &mailbox{mechs: []string{sasl.Plain}, user: "u", password: "secret-pw"}
	addr := startSMTP(t, box, nil, false)
	cc := ChannelConfig{Type: TypeEmail, Server: addr, Username: "u", Password: "secret-pw",
		From: "iotgw@example.com", To: []string{"owner@example.com"}}
	err := sendMail(t, cc, sampleAlert())
	var se *SendError
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") || (errors.As(err, &se) && se.Permanent) {
		t.Errorf("got %v, want a retryable STARTTLS refusal", err)
	}
	if len(box.authSeen) != 0 || len(box.messages()) != 0 {
		t.Errorf("auth attempts %v, messages %d", box.authSeen, len(box.messages()))
	}
}

func TestEmailLANRelayPlaintext(t *testing.T) {
	box := &mailbox{}
	addr := startSMTP(t, box, nil, false)
	cc := ChannelConfig{Type: TypeEmail, Server: addr, TLS: "none", InsecurePlaintext: true,
		From: "iotgw@example.com", To: []string{"owner@example.com"}}
	a := sampleAlert()
	if err := sendMail(t, cc, a); err != nil {
		t.Fatal(err)
	}
	msgs := box.messages()
	if len(msgs) != 1 || msgs[0].tls {
		t.Fatalf("messages %+v", msgs)
	}
	checkMessage(t, msgs[0].data, a, 1)
}

func TestEmailReplies(t *testing.T) {
	cert, caFile := selfSigned(t)
	for _, tc := range []struct {
		name      string
		password  string
		rcptCode  int
		permanent bool
	}{
		{"wrong_password_535", "wrong", 0, true},
		{"recipient_rejected_550", "p", 550, true},
		{"recipient_deferred_451", "p", 451, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			box := &mailbox{mechs: []string{sasl.Plain}, user: "u", password: "p", rcptCode: tc.rcptCode}
			addr := startSMTP(t, box, &cert, false)
			cc := ChannelConfig{Type: TypeEmail, Server: addr, CAFile: caFile, Username: "u", Password: tc.password,
				From: "iotgw@example.com", To: []string{"owner@example.com"}}
			err := sendMail(t, cc, sampleAlert())
			var se *SendError
			isPermanent := errors.As(err, &se) && se.Permanent
			if err == nil || isPermanent != tc.permanent {
				t.Errorf("got %v (permanent %v), want permanent %v", err, isPermanent, tc.permanent)
			}
			if len(box.messages()) != 0 {
				t.Error("a message was delivered")
			}
		})
	}
}

func TestEmailUntrustedCertificate(t *testing.T) {
	cert, _ := selfSigned(t)
	box := &mailbox{mechs: []string{sasl.Plain}, user: "u", password: "p"}
	addr := startSMTP(t, box, &cert, false)
	cc := ChannelConfig{Type: TypeEmail, Server: addr, Username: "u", Password: "p",
		From: "iotgw@example.com", To: []string{"owner@example.com"}}
	err := sendMail(t, cc, sampleAlert())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a certificate no one vouches for gave %v", err)
	}
	if len(box.authSeen) != 0 {
		t.Error("the password was sent to an unverified server")
	}
}

// TestEmailEndlessReply: a server (or anyone on the path before STARTTLS)
// that answers with a reply of megabytes is cut off, not held in memory.
func TestEmailEndlessReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	line := "550-" + strings.Repeat("x", 1000) + "\r\n"
	// The server writes until the client hangs up. What it manages to
	// write is what the client read plus the two sockets' buffers, which
	// loopback lets grow to tens of megabytes, so the bound below is far
	// above both and far below what "endless" stands for here.
	const endless, hungUpBefore = 1 << 30, 128 << 20
	sent := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		io.WriteString(c, "220 mx.example.net ESMTP\r\n")
		r.ReadString('\n') // EHLO
		io.WriteString(c, "250 mx.example.net\r\n")
		r.ReadString('\n') // MAIL FROM
		n := 0
		for n < endless {
			m, err := io.WriteString(c, line)
			n += m
			if err != nil {
				break
			}
		}
		sent <- n
	}()
	cc := ChannelConfig{Type: TypeEmail, Server: ln.Addr().String(), TLS: "none", InsecurePlaintext: true,
		From: "iotgw@example.com", To: []string{"owner@example.com"}}
	err = sendMail(t, cc, sampleAlert())
	if err == nil || !strings.Contains(err.Error(), errSMTPTooLong.Error()) {
		t.Fatalf("Send: %v, want %v", err, errSMTPTooLong)
	}
	if n := <-sent; n >= hungUpBefore {
		t.Errorf("the server wrote %d bytes before the client hung up", n)
	}
}

// TestEmailContentRefused: a device that names itself like a spam or
// virus test string must not silence the mail about it. A message whose
// text a filter refuses is sent again without any text the device chose.
func TestEmailContentRefused(t *testing.T) {
	const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
	cert, caFile := selfSigned(t)
	device := Device{MAC: "c0:56:e3:00:00:01", Name: gtube, Vendor: gtube, Model: gtube}
	newDevice := FromNewDevice(device, testClockNow())
	newDevice.URL = "http://192.168.1.1:8080/devices/c0:56:e3:00:00:01"
	quarantine := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: testClockNow(), By: store.ActorPolicy,
		Reason: "telnet banner " + gtube}, device)
	for _, tc := range []struct {
		name      string
		refuse    string
		alert     Alert
		want      []string // in the message delivered; nil: none is
		permanent bool
	}{
		{"named_like_gtube", gtube, newDevice, []string{"c0:56:e3:00:00:01", newDevice.URL, "new device"}, false},
		{"reason_quotes_the_device", gtube, quarantine, []string{"c0:56:e3:00:00:01", "quarantined"}, false},
		{"every_message_refused", "iotgw", newDevice, nil, true},
		{"no_device_text_to_take_out", "iotgw", FromTest(testClockNow()), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			box := &mailbox{mechs: []string{sasl.Plain}, user: "u", password: "p", refuse: tc.refuse}
			addr := startSMTP(t, box, &cert, false)
			cc := ChannelConfig{Type: TypeEmail, Server: addr, CAFile: caFile, Username: "u", Password: "p",
				From: "iotgw@example.com", To: []string{"owner@example.com"}}
			err := sendMail(t, cc, tc.alert)
			msgs := box.messages()
			if tc.want == nil {
				var se *SendError
				if err == nil || !errors.As(err, &se) || se.Permanent != tc.permanent || len(msgs) != 0 {
					t.Fatalf("got %v and %d messages, want a refusal (permanent %v)", err, len(msgs), tc.permanent)
				}
				return
			}
			if err != nil || len(msgs) != 1 {
				t.Fatalf("got %v and %d messages, want the alert delivered once", err, len(msgs))
			}
			msg, err := mail.ReadMessage(bytes.NewReader(msgs[0].data))
			if err != nil {
				t.Fatal(err)
			}
			subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
			text := subject + "\n" + string(body)
			if strings.Contains(text, "GTUBE") {
				t.Errorf("the message delivered quotes the device:\n%s", text)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
					t.Errorf("the message delivered lacks %q:\n%s", w, text)
				}
			}
		})
	}
}
