package smtp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/ftp"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/sasl"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestCorpus(t *testing.T) {
	tests := []struct {
		file      string
		logins    int
		user      string // redacted
		mechanism string
		accepted  string
		banner    bool
	}{
		// AUTH LOGIN galunt / V1v1tr0n, then a 6512-byte DATA line.
		{"sv-smtp-bug-5981.pcap", 1, "ga***", "AUTH LOGIN", "yes", true},
		// AUTH PLAIN with an initial response: 12345678@aol.com / passwd.
		{"arkime-smtp-data-250.pcap", 1, "12***", "AUTH PLAIN", "yes", true},
		// STARTTLS: what follows is TLS, no plaintext login.
		{"arkime-smtp-starttls.pcap", 0, "", "", "", true},
		// Snaplen 68: no payload worth reading.
		{"zeek-tcp-truncated-header.pcap", 0, "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			logins := c.Kind(event.KindPlaintextCredentials)
			if len(logins) != tt.logins || len(c.Findings()) != tt.logins {
				t.Fatalf("got %d logins (%d findings), want %d: %v", len(logins), len(c.Findings()), tt.logins, c.Events)
			}
			for _, l := range logins {
				ev := l.Evidence
				if ev["user"] != tt.user || ev["accepted"] != tt.accepted || ev["protocol"] != "smtp" || ev["mechanism"] != tt.mechanism || ev["password_class"] != "unique" {
					t.Errorf("evidence %v, want user %s mechanism %s accepted %s", ev, tt.user, tt.mechanism, tt.accepted)
				}
			}
			banners := c.Kind(event.KindBanner)
			if tt.banner != (len(banners) == 1) {
				t.Fatalf("%d banners, want one: %v", len(banners), tt.banner)
			}
			if tt.banner && (banners[0].Evidence["protocol"] != "smtp" || !strings.Contains(banners[0].Evidence["banner"], "ESMTP")) {
				t.Errorf("banner evidence %v", banners[0].Evidence)
			}
			for _, secret := range []string{"V1v1tr0n", "passwd", "12345678@aol.com", "galunt"} {
				if inspecttest.Leaks(t, c.Events, secret) {
					t.Errorf("%q leaked into an event", secret)
				}
			}
		})
	}
}

// TestCorpusBesideFTP runs the SMTP captures with FTP registered first:
// the two share the 220 greeting, and neither may take the other's flows.
func TestCorpusBesideFTP(t *testing.T) {
	for _, file := range []string{"sv-smtp-bug-5981.pcap", "arkime-smtp-data-250.pcap"} {
		c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, file), nil, ftp.New(), New())
		if err != nil {
			t.Fatal(err)
		}
		if l := c.Kind(event.KindPlaintextCredentials); len(l) != 1 || l[0].Flow.App != "smtp" {
			t.Errorf("%s: logins %v, want one on an smtp flow", file, l)
		}
	}
	c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "zeek-ftp-ipv4.pcap"), nil, New(), ftp.New())
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Kind(event.KindPlaintextCredentials); len(l) != 1 || l[0].Flow.App != "ftp" {
		t.Errorf("ftp capture: logins %v, want one on an ftp flow", l)
	}
}

// TestGreetingWithFTPLetters: FTP comes first among the protocols and a
// 220 greeting naming FTP is its; a mail server whose name holds the
// letters ("giftpack") stays SMTP, and an FTP server off its port stays
// FTP.
func TestGreetingWithFTPLetters(t *testing.T) {
	plain := b64("\x00joe@example.com\x00s3cret-Pass")
	for _, tc := range []struct{ server, greeting, login, app string }{
		{"203.0.113.5:587", "220 mail.giftpack.com ESMTP Postfix\r\n", "AUTH PLAIN " + plain + "\r\n", "smtp"},
		{"203.0.113.5:25", "220 mx.swiftpage.net Postfix\r\n", "AUTH PLAIN " + plain + "\r\n", "smtp"},
		{"203.0.113.5:2100", "220 ProFTPD Server ready\r\n", "USER joe\r\nPASS s3cret-Pass\r\n", "ftp"},
	} {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, ftp.New(), New())
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", tc.server)
		c.Server(tc.greeting).Client("EHLO cam\r\n").Server("250 AUTH PLAIN\r\n").Client(tc.login).Server("235 ok\r\n")
		c.Close()
		e.Flush()
		if l := col.Kind(event.KindPlaintextCredentials); len(l) != 1 || l[0].Flow.App != tc.app {
			t.Errorf("%q on %s: logins %v, want one on a %s flow", tc.greeting, tc.server, l, tc.app)
		}
	}
}

const greeting = "220 mail.example.com ESMTP Postfix\r\n"

type want = inspecttest.Login

// server is the submission server of synthetic sessions.
const server = "198.51.100.7:587"

func TestSyntheticLogins(t *testing.T) {
	plain := b64("\x00joe@example.com\x00s3cret-Pass")
	inspecttest.RunLogins(t, New, server, []inspecttest.LoginCase{
		{"plain_initial_accepted", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("EHLO dev\r\n").Server("250-mail\r\n250 AUTH PLAIN LOGIN\r\n").
				Client("AUTH PLAIN " + plain + "\r\n").Server("235 2.7.0 ok\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"plain_continuation_rejected", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN\r\n").Server("334 \r\n").Client(plain + "\r\n").Server("535 5.7.8 bad\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "no"}}},
		{"encryption_required_is_no_verdict", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN\r\n").Server("334 \r\n").Client(plain + "\r\n").Server("538 5.7.11 Encryption required\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"starttls_required_is_no_verdict", func(c *inspecttest.Conv) {
			// Gmail on 587 before STARTTLS: the password was not checked.
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("530 5.7.0 Must issue a STARTTLS command first.\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"auth_not_enabled_is_no_verdict", func(c *inspecttest.Conv) {
			// Postfix and Exim where AUTH is not offered: bad sequence.
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("503 5.5.1 Error: authentication not enabled\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"mechanism_not_supported_is_no_verdict", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("504 5.5.4 Unrecognized authentication type\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"commands_before_the_greeting", func(c *inspecttest.Conv) {
			// A script piping its commands in (printf … | nc): on a
			// connection seen from its start the first reply is still
			// the greeting, the 250 EHLO's and the 535 AUTH's.
			c.Client("EHLO dev\r\nAUTH PLAIN " + plain + "\r\n").Server(greeting).Server("250 mail\r\n").Server("535 5.7.8 bad\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "no"}}},
		{"no_greeting_sent", func(c *inspecttest.Conv) {
			// A server that never greets: a reply that is no greeting
			// answers the first command.
			c.Client("EHLO dev\r\nAUTH PLAIN " + plain + "\r\n").Server("250 mail\r\n").Server("535 5.7.8 bad\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "no"}}},
		{"no_greeting_sent_then_starttls", func(c *inspecttest.Conv) {
			// The 220 after that is STARTTLS's, not a late greeting.
			c.Client("EHLO dev\r\n").Server("250 mail\r\n").Client("STARTTLS\r\n").Server("220 2.0.0 go ahead\r\n").
				Client("AUTH PLAIN " + plain + "\r\n").Server("235 ok\r\n")
		}, nil},
		{"login_prompts", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH LOGIN\r\n").Server("334 VXNlcm5hbWU6\r\n").Client(b64("joe") + "\r\n").
				Server("334 UGFzc3dvcmQ6\r\n").Client(b64("s3cret-Pass") + "\r\n").Server("235 ok\r\n")
		}, []want{{"j***", "AUTH LOGIN", "unique", "yes"}}},
		{"login_initial_user", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH LOGIN " + b64("joe") + "\r\n").Server("334 UGFzc3dvcmQ6\r\n").
				Client(b64("s3cret-Pass") + "\r\n").Server("235 ok\r\n")
		}, []want{{"j***", "AUTH LOGIN", "unique", "yes"}}},
		{"cram_md5", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH CRAM-MD5\r\n").Server("334 " + b64("<1896.697170952@postoffice.reston.mci.net>") + "\r\n").
				Client(b64("tim b913a602c7eda7a495b4e6e7334d3890") + "\r\n").Server("235 ok\r\n")
		}, []want{{"t***", "AUTH CRAM-MD5", "hashed", "yes"}}},
		{"xoauth2_error_challenge", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH XOAUTH2 " + b64("user=joe\x01auth=Bearer s3cret-Pass\x01\x01") + "\r\n").
				Server("334 " + b64(`{"status":"401"}`) + "\r\n").Client("\r\n").Server("535 5.7.8 bad\r\n")
		}, []want{{"j***", "AUTH XOAUTH2", "token", "no"}}},
		{"temporary_failure_is_unknown", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("454 4.7.0 try later\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"cancelled", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH LOGIN\r\n").Server("334 VXNlcm5hbWU6\r\n").Client("*\r\n").Server("501 cancelled\r\n")
		}, nil},
		{"no_reply_before_close", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"one_char_per_segment", func(c *inspecttest.Conv) {
			c.Server(greeting).ClientChars("AUTH LOGIN\r\n").Server("334 VXNlcm5hbWU6\r\n").ClientChars(b64("joe") + "\r\n").
				Server("334 UGFzc3dvcmQ6\r\n").ClientChars(b64("s3cret-Pass") + "\r\n").Server("2").Server("35 ok\r\n")
		}, []want{{"j***", "AUTH LOGIN", "unique", "yes"}}},
		{"multiline_greeting_then_pipelined_mail", func(c *inspecttest.Conv) {
			c.Server("220-mail.example.com ESMTP\r\n220-no spam\r\n").Server("220 here\r\n").
				Client("AUTH PLAIN " + plain + "\r\n").Server("235 ok\r\n").
				Client("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n").
				Server("250 ok\r\n250 ok\r\n550 no such user\r\n354 go\r\n").
				Client("Subject: x\r\n\r\nbody\r\n.\r\n").Server("250 queued\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"pipelined_replies_before_auth_verdict", func(c *inspecttest.Conv) {
			// The 250 answers RSET, not AUTH: the verdict is the 535.
			c.Server(greeting).Client("RSET\r\nAUTH PLAIN " + plain + "\r\n").Server("250 ok\r\n").Server("535 no\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "no"}}},
		{"bare_lf", func(c *inspecttest.Conv) {
			c.Server("220 x ESMTP\n").Client("AUTH PLAIN " + plain + "\n").Server("235 ok\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"starttls_stops", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("STARTTLS\r\n").Server("220 go ahead\r\n").Client("AUTH PLAIN " + plain + "\r\n").Server("235 ok\r\n")
		}, nil},
		{"starttls_refused_keeps_reading", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("STARTTLS\r\n").Server("454 TLS not available\r\n").Client("AUTH PLAIN " + plain + "\r\n").Server("235 ok\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"auth_inside_data_is_content", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("MAIL FROM:<a@b>\r\n").Server("250 ok\r\n").Client("RCPT TO:<c@d>\r\n").Server("250 ok\r\n").
				Client("DATA\r\n").Server("354 go\r\n").
				Client("Subject: how to log in\r\n\r\nAUTH PLAIN " + plain + "\r\n..AUTH PLAIN " + plain + "\r\n").
				Client(".\r\n").Server("250 queued\r\n").Client("QUIT\r\n").Server("221 bye\r\n")
		}, nil},
		{"data_and_body_in_one_segment", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("DATA\r\nAUTH PLAIN " + plain + "\r\n.\r\n").Server("354 go\r\n250 ok\r\n")
		}, nil},
		{"data_refused_then_auth", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("DATA\r\n").Server("503 need RCPT\r\n").Client("AUTH PLAIN " + plain + "\r\n").Server("235 ok\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"terminator_split_across_segments", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("DATA\r\n").Server("354 go\r\n").Client("line\r\n.").Client("\r").Client("\n").
				Server("250 ok\r\n").Client("AUTH PLAIN " + plain + "\r\n").Server("235 ok\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"bdat_chunk_skipped", func(c *inspecttest.Conv) {
			chunk := "AUTH PLAIN " + plain + "\r\n"
			c.Server(greeting).Client("BDAT " + strconv.Itoa(len(chunk)) + " LAST\r\n" + chunk).Server("250 ok\r\n").
				Client("AUTH PLAIN " + plain + "\r\n").Server("235 ok\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"garbage_reply_codes", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("2x5 ok\r\n\r\n23\r\n").Server("235 ok\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
	}, "s3cret-Pass", "joe@example.com")
}

// TestCRAMMD5Default shows the classifier testing the default list
// through CRAM-MD5's Verify: root/xc3511 is in Mirai's dictionary.
func TestCRAMMD5Default(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	challenge := "<12345.67890@gateway.local>"
	digest := hmacMD5Hex("xc3511", challenge)
	s := inspecttest.NewClassifiedSession(t, cl, New(), "192.168.1.30:25")
	s.Server(greeting).Client("AUTH CRAM-MD5\r\n").Server("334 " + b64(challenge) + "\r\n").
		Client(b64("root "+digest) + "\r\n").Server("235 ok\r\n")
	col := s.End()
	inspecttest.CheckLogins(t, col, "smtp", "192.168.1.30", []want{{"r***", "AUTH CRAM-MD5", "default", "yes"}})
	if len(col.Kind(event.KindDefaultCredentials)) != 1 {
		t.Errorf("want a default-credentials finding, got %v", col.Events)
	}
	if inspecttest.Leaks(t, col.Events, "xc3511") || inspecttest.Leaks(t, col.Events, digest) {
		t.Error("secret leaked")
	}
}

func TestMatch(t *testing.T) {
	inspecttest.RunMatch(t, New, []inspecttest.MatchCase{
		{"greeting_on_25", "198.51.100.7:25", inspect.ToClient, "220 mx ESMTP\r\n", inspect.ContentMatch},
		{"bare_220_on_587", "198.51.100.7:587", inspect.ToClient, "220 ready\r\n", inspect.ContentMatch},
		{"esmtp_off_port", "198.51.100.7:8025", inspect.ToClient, "220 mx.example.com ESMTP Exim\r\n", inspect.ContentMatch},
		{"mail_off_port", "198.51.100.7:8025", inspect.ToClient, "220 mail server ready\r\n", inspect.ContentMatch},
		{"ftp_greeting_off_port", "198.51.100.7:21", inspect.ToClient, "220 mail.example.com FTP server ready\r\n", inspect.NoMatch},
		{"ftp_greeting_on_25", "198.51.100.7:25", inspect.ToClient, "220 (vsFTPd 3.0.3)\r\n", inspect.PortMatch},
		{"plain_220_off_port", "198.51.100.7:2121", inspect.ToClient, "220 ready\r\n", inspect.NoMatch},
		{"ehlo_off_port", "198.51.100.7:10025", inspect.ToServer, "EHLO dev.local\r\n", inspect.ContentMatch},
		{"helo_partial", "198.51.100.7:10025", inspect.ToServer, "HELO", inspect.ContentMatch},
		{"auth_on_587", "198.51.100.7:587", inspect.ToServer, "AUTH PLAIN\r\n", inspect.ContentMatch},
		{"auth_off_port", "198.51.100.7:10025", inspect.ToServer, "AUTH PLAIN\r\n", inspect.NoMatch},
		{"http_on_25", "198.51.100.7:25", inspect.ToServer, "GET / HTTP/1.1\r\n", inspect.PortMatch},
	})
}

// relay is the relay server of synthetic sessions.
const relay = "198.51.100.7:25"

// inBody returns an SMTP flow whose client is sending a message body.
func inBody(tb testing.TB) (*inspect.Flow, inspect.Analyzer) {
	s := inspecttest.NewSession(tb, New(), relay)
	s.Server(greeting).Client("MAIL FROM:<a@b>\r\n").Server("250 ok\r\n").Client("RCPT TO:<c@d>\r\n").Server("250 ok\r\n").
		Client("DATA\r\n").Server("354 go\r\n")
	return s.Analyzer(tb)
}

func TestBodyNoAllocs(t *testing.T) {
	f, a := inBody(t)
	inspecttest.StreamNoAllocs(t, f, a, inspect.ToServer, []byte(inspecttest.BodySegment))
}

func TestCommandNoAllocs(t *testing.T) {
	s := inspecttest.NewSession(t, New(), relay)
	s.Server(greeting)
	f, a := s.Analyzer(t)
	inspecttest.ExchangeNoAllocs(t, f, a, []byte("RCPT TO:<c@d>\r\n"), []byte("250 2.1.5 ok\r\n"))
}

func BenchmarkDataBody(b *testing.B) {
	f, a := inBody(b)
	inspecttest.BenchStream(b, f, a, inspect.ToServer, []byte(inspecttest.BodySegment))
}

func FuzzAnalyzer(f *testing.F) {
	plain := b64("\x00joe\x00s3cret")
	f.Add([]byte(greeting), []byte("AUTH PLAIN "+plain+"\r\n"), []byte("235 ok\r\n"))
	f.Add([]byte(greeting), []byte("AUTH LOGIN\r\n"+b64("joe")+"\r\n"+b64("pw")+"\r\n"), []byte("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n"))
	f.Add([]byte("220-a\r\n220 b\r\n"), []byte("DATA\r\nx\r\n.\r\nBDAT 3 LAST\r\nabcAUTH\r\n"), []byte("354 go\r\n250 ok\r\n"))
	f.Add([]byte(""), []byte("STARTTLS\r\n"), []byte("220 go\r\n"))
	inspecttest.FuzzConversation(f, New, relay)
}

func hmacMD5Hex(key, msg string) string {
	m := hmac.New(md5.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func TestGap(t *testing.T) {
	plain := b64("\x00joe@example.com\x00s3cret-Pass")
	tests := []struct {
		name  string
		setup string // client bytes before the gap
		after string // client bytes after it
		reply string
		want  int
	}{
		// Content after a gap in a message is still content.
		{"gap_in_body", "DATA\r\nSubject: x\r\n", "AUTH PLAIN " + plain + "\r\n", "235 ok\r\n", 0},
		// The first line after a gap is a fragment; the next one is whole.
		{"resync_at_next_line", "", "N " + plain + "\r\nAUTH PLAIN " + plain + "\r\n", "235 ok\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), relay)
			s.Server(greeting).Client("NOOP\r\n").Server("250 ok\r\n")
			if tt.setup != "" {
				s.Client(tt.setup)
			}
			f, a := s.Analyzer(t)
			a.Gap(f, inspect.ToServer)
			a.Feed(f, inspect.ToServer, []byte(tt.after))
			a.Feed(f, inspect.ToClient, []byte(tt.reply))
			col := s.End()
			if got := col.Findings(); len(got) != tt.want {
				t.Fatalf("%d findings, want %d: %v", len(got), tt.want, col.Events)
			}
			if tt.want > 0 && col.Findings()[0].Evidence["accepted"] != "yes" {
				t.Errorf("evidence %v", col.Findings()[0].Evidence)
			}
		})
	}
}

// TestSASLScratchWiped checks that no AUTH response stays in the scratch
// every SMTP flow shares once its login is classified.
func TestSASLScratchWiped(t *testing.T) {
	for _, auth := range []string{
		"PLAIN " + b64("\x00joe\x00s3cret-Pass"),
		"XOAUTH2 " + b64("user=joe\x01auth=Bearer ya29.s3cret\x01\x01"),
	} {
		p := New()
		s := inspecttest.NewSession(t, p, server)
		s.Server(greeting).Client("AUTH " + auth + "\r\n")
		if p.scratch != (sasl.Scratch{}) {
			t.Errorf("AUTH %s left %q in the scratch", auth, strings.TrimRight(string(p.scratch[:]), "\x00"))
		}
		s.Server("235 ok\r\n")
		if got := s.End().Findings(); len(got) != 1 || got[0].Evidence["accepted"] != "yes" {
			t.Errorf("AUTH %s: findings %v", auth, got)
		}
	}
}

// TestGreetingLost: on a connection seen from its start, server bytes
// the capture lost before the client's first command (the client had
// them when it sent it: its ACK covers them) can only have been the
// greeting: the replies after them answer the commands in order, and
// the verdicts stand. A loss that reaches past what the client had when
// it first spoke may have taken a reply: the verdicts are unknown.
func TestGreetingLost(t *testing.T) {
	plain := b64("\x00joe@example.com\x00s3cret-Pass")
	const ehloReply = "250-mail.example.com\r\n250 AUTH PLAIN LOGIN\r\n"
	inspecttest.RunLogins(t, New, server, []inspecttest.LoginCase{
		{"ehlo_then_auth", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("EHLO cam\r\n").Server(ehloReply).Client("AUTH PLAIN " + plain + "\r\n").Server("235 2.7.0 Authentication successful\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"auth_login", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("EHLO cam\r\n").Server(ehloReply).Client("AUTH LOGIN\r\n").Server("334 VXNlcm5hbWU6\r\n").
				Client(b64("joe@example.com") + "\r\n").Server("334 UGFzc3dvcmQ6\r\n").Client(b64("s3cret-Pass") + "\r\n").
				Server("535 5.7.8 Error: authentication failed\r\n")
		}, []want{{"jo***", "AUTH LOGIN", "unique", "no"}}},
		// A client that does not wait for the reply to EHLO: the loss is
		// told after AUTH was read.
		{"auth_before_ehlo_reply", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("EHLO cam\r\n").Client("AUTH PLAIN " + plain + "\r\n").Server(ehloReply).Server("235 2.7.0 Authentication successful\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		// The reply to EHLO was lost too: "235" may be EHLO's.
		{"ehlo_reply_lost", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("EHLO cam\r\n").Lose(inspect.ToClient, len(ehloReply))
			c.Client("AUTH PLAIN " + plain + "\r\n").Server("235 2.7.0 Authentication successful\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		// The client spoke before the greeting came: the lost bytes were
		// sent after it, and may hold the reply to EHLO.
		{"client_spoke_first", func(c *inspecttest.Conv) {
			c.Client("EHLO cam\r\n").Lose(inspect.ToClient, len(greeting)+len(ehloReply))
			c.Client("AUTH PLAIN " + plain + "\r\n").Server("235 2.7.0 Authentication successful\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
	}, "s3cret-Pass")
}
