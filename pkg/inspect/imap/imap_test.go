package imap

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/sasl"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestCorpus(t *testing.T) {
	c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "arkime-imap-tag.pcap"), nil, New())
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Findings(); len(f) != 0 {
		t.Fatalf("findings in a banner-only capture: %v", f)
	}
	b := c.Kind(event.KindBanner)
	if len(b) != 1 || b[0].Evidence["protocol"] != "imap" || b[0].Evidence["banner"] != "OK IMAP4 ready" || b[0].Device.IP != "10.0.0.2" {
		t.Fatalf("banners %v, want the server's greeting", c.Events)
	}
}

type want = inspecttest.Login

// server is the IMAP server of synthetic sessions.
const server = "198.51.100.7:143"

const greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n"

func TestSyntheticLogins(t *testing.T) {
	plain := b64("\x00joe@example.com\x00s3cret-Pass")
	message := "From: a@b\r\nSubject: x\r\n\r\na9 LOGIN joe@example.com s3cret-Pass\r\n"
	inspecttest.RunLogins(t, New, server, []inspecttest.LoginCase{
		{"atoms", func(c *inspecttest.Conv) {
			// RFC 3501 section 6.2.3.
			c.Server(greeting).Client("a001 LOGIN SMITH s3cret-Pass\r\n").Server("a001 OK LOGIN completed\r\n")
		}, []want{{"S***", "LOGIN", "unique", "yes"}}},
		{"quoted_with_escapes", func(c *inspecttest.Conv) {
			c.Server(greeting).Client(`a1 LOGIN "joe@example.com" "s3cret-Pass\"\\"` + "\r\n").Server("a1 NO [AUTHENTICATIONFAILED] bad\r\n")
		}, []want{{"jo***", "LOGIN", "unique", "no"}}},
		{"unavailable_is_no_verdict", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\n").Server("a1 NO [UNAVAILABLE] try later\r\n")
		}, []want{{"j***", "LOGIN", "unique", "unknown"}}},
		{"privacy_required_is_no_verdict", func(c *inspecttest.Conv) {
			// Dovecot's default without TLS: the password is not checked.
			c.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\n").
				Server("a1 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n")
		}, []want{{"j***", "LOGIN", "unique", "unknown"}}},
		{"authorization_failed_is_no_verdict", func(c *inspecttest.Conv) {
			// RFC 5530: the credentials were right, the authorization
			// identity refused.
			c.Server(greeting).Client("a1 AUTHENTICATE PLAIN " + b64("admin\x00joe\x00s3cret-Pass") + "\r\n").
				Server("a1 NO [AUTHORIZATIONFAILED] not allowed\r\n")
		}, []want{{"j***", "AUTHENTICATE PLAIN", "unique", "unknown"}}},
		{"rfc3501_literals", func(c *inspecttest.Conv) {
			// RFC 3501 section 8, with synchronising literals.
			c.Server(greeting).Client("A001 LOGIN {15}\r\n").Server("+ Ready for additional command text\r\n").
				Client("joe@example.com {11}\r\n").Server("+ Ready for additional command text\r\n").
				Client("s3cret-Pass\r\n").Server("A001 OK LOGIN completed\r\n")
		}, []want{{"jo***", "LOGIN", "unique", "yes"}}},
		{"literal_plus_one_segment", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN {15+}\r\njoe@example.com {11+}\r\ns3cret-Pass\r\n").Server("a1 OK\r\n")
		}, []want{{"jo***", "LOGIN", "unique", "yes"}}},
		{"literal_one_char_per_segment", func(c *inspecttest.Conv) {
			c.Server(greeting).ClientChars("a1 LOGIN \"joe@example.com\" {11+}\r\ns3cret-Pass\r\n").Server("a1 OK\r\n")
		}, []want{{"jo***", "LOGIN", "unique", "yes"}}},
		{"literal_split_mid_password", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe@example.com {11}\r\n").Server("+ go\r\n").Client("s3cr").Client("et-Pa").Client("ss\r").Client("\n").Server("a1 OK\r\n")
		}, []want{{"jo***", "LOGIN", "unique", "yes"}}},
		{"empty_literal_password", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe {0}\r\n\r\n").Server("a1 NO\r\n")
		}, []want{{"j***", "LOGIN", "empty", "no"}}},
		{"empty_quoted_password", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe \"\"\r\n").Server("a1 NO\r\n")
		}, []want{{"j***", "LOGIN", "empty", "no"}}},
		{"unterminated_quote", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe \"s3cret-Pass\r\n").Server("a1 BAD\r\n")
		}, nil},
		{"one_argument", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe\r\n").Server("a1 BAD\r\n")
		}, nil},
		{"oversized_literal_argument", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe {300+}\r\n" + strings.Repeat("x", 300) + "\r\na2 NOOP\r\n").Server("a1 NO\r\na2 OK\r\n")
		}, nil},
		{"literal_refused_before_sent", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN {9000}\r\n").Server("a1 NO too long\r\n").
				Client("a2 LOGIN joe s3cret-Pass\r\n").Server("a2 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"verdict_by_tag_not_order", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 NOOP\r\na2 LOGIN joe s3cret-Pass\r\n").Server("a1 NO nothing\r\n").Server("a2 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"pipelined_logins_each_judged", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe wrong-Pass\r\na2 LOGIN joe s3cret-Pass\r\n").
				Server("a1 NO [AUTHENTICATIONFAILED] bad\r\na2 OK done\r\n")
		}, []want{{"j***", "LOGIN", "unique", "no"}, {"j***", "LOGIN", "unique", "yes"}}},
		{"pipelined_logins_answered_out_of_order", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\na2 LOGIN ann wrong-Pass\r\n").
				Server("a2 NO bad\r\n").Server("a1 OK done\r\n")
		}, []want{{"a***", "LOGIN", "unique", "no"}, {"j***", "LOGIN", "unique", "yes"}}},
		{"pipelined_login_and_authenticate", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe wrong-Pass\r\na2 AUTHENTICATE PLAIN " + plain + "\r\n").
				Server("a1 NO bad\r\na2 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "no"}, {"jo***", "AUTHENTICATE PLAIN", "unique", "yes"}}},
		{"pipelined_beyond_the_bound", func(c *inspecttest.Conv) {
			// The oldest of five is given up unknown; the four others
			// still get their verdicts.
			c.Server(greeting).Client("a1 LOGIN joe wrong-1\r\na2 LOGIN joe wrong-2\r\na3 LOGIN joe wrong-3\r\na4 LOGIN joe wrong-4\r\na5 LOGIN joe s3cret-Pass\r\n").
				Server("a1 NO\r\na2 NO\r\na3 NO\r\na4 NO\r\na5 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "unknown"}, {"j***", "LOGIN", "unique", "no"}, {"j***", "LOGIN", "unique", "no"},
			{"j***", "LOGIN", "unique", "no"}, {"j***", "LOGIN", "unique", "yes"}}},
		{"same_tag_reused_in_turn", func(c *inspecttest.Conv) {
			c.Server(greeting).Client(". LOGIN joe wrong-Pass\r\n").Server(". NO bad\r\n").
				Client(". LOGIN joe s3cret-Pass\r\n").Server(". OK yes\r\n")
		}, []want{{"j***", "LOGIN", "unique", "no"}, {"j***", "LOGIN", "unique", "yes"}}},
		{"same_tag_pipelined_first_answered_first", func(c *inspecttest.Conv) {
			c.Server(greeting).Client(". LOGIN joe wrong-Pass\r\n. LOGIN joe s3cret-Pass\r\n").Server(". NO bad\r\n. OK yes\r\n")
		}, []want{{"j***", "LOGIN", "unique", "no"}, {"j***", "LOGIN", "unique", "yes"}}},
		{"lowercase_command_literal_user_quoted_password", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a login {15}\r\n").Server("+ go\r\n").Client("joe@example.com \"s3cret-\\\\Pass\"\r\n").Server("a ok\r\n")
		}, []want{{"jo***", "LOGIN", "unique", "yes"}}},
		{"no_verdict", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\n").Server("a7 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "unknown"}}},
		{"authenticate_plain_sasl_ir", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 AUTHENTICATE PLAIN " + plain + "\r\n").Server("a1 OK\r\n")
		}, []want{{"jo***", "AUTHENTICATE PLAIN", "unique", "yes"}}},
		{"authenticate_plain_empty_initial_response", func(c *inspecttest.Conv) {
			// RFC 4959: "=" is an empty initial response; Dovecot asks
			// for the credentials with an empty challenge.
			c.Server(greeting).Client("a1 AUTHENTICATE PLAIN =\r\n").Server("+ \r\n").Client(plain + "\r\n").Server("a1 OK\r\n")
		}, []want{{"jo***", "AUTHENTICATE PLAIN", "unique", "yes"}}},
		{"authenticate_plain_continuation", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 AUTHENTICATE PLAIN\r\n").Server("+ \r\n").Client(plain + "\r\n").Server("a1 NO [AUTHENTICATIONFAILED]\r\n")
		}, []want{{"jo***", "AUTHENTICATE PLAIN", "unique", "no"}}},
		{"authenticate_login", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 AUTHENTICATE LOGIN\r\n").Server("+ VXNlcm5hbWU6\r\n").Client(b64("joe@example.com") + "\r\n").
				Server("+ UGFzc3dvcmQ6\r\n").Client(b64("s3cret-Pass") + "\r\n").Server("a1 OK\r\n")
		}, []want{{"jo***", "AUTHENTICATE LOGIN", "unique", "yes"}}},
		{"authenticate_xoauth2_error_challenge", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 AUTHENTICATE XOAUTH2 " + b64("user=joe@example.com\x01auth=Bearer s3cret-Pass\x01\x01") + "\r\n").
				Server("+ " + b64(`{"status":"400"}`) + "\r\n").Client("\r\n").Server("a1 NO [AUTHENTICATIONFAILED]\r\n").
				Client("a2 LOGOUT\r\n").Server("* BYE\r\na2 OK\r\n")
		}, []want{{"jo***", "AUTHENTICATE XOAUTH2", "token", "no"}}},
		{"authenticate_cancelled", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 AUTHENTICATE PLAIN\r\n").Server("+ \r\n").Client("*\r\n").Server("a1 BAD cancelled\r\n").
				Client("a2 LOGIN joe s3cret-Pass\r\n").Server("a2 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"authenticate_unknown_mechanism", func(c *inspecttest.Conv) {
			// GSSAPI tokens are not commands, whatever they decode to.
			c.Server(greeting).Client("a1 AUTHENTICATE GSSAPI\r\n").Server("+ \r\n").Client("a2 LOGIN joe s3cret-Pass\r\n").Server("a1 NO\r\n")
		}, nil},
		{"starttls_stops", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 STARTTLS\r\n").Server("a1 OK begin TLS\r\n").Client("a2 LOGIN joe s3cret-Pass\r\n").Server("a2 OK\r\n")
		}, nil},
		{"starttls_refused_keeps_reading", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 STARTTLS\r\n").Server("a1 BAD no TLS\r\n").Client("a2 LOGIN joe s3cret-Pass\r\n").Server("a2 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"append_literal_is_content", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\n").Server("a1 OK\r\n").
				Client("a2 APPEND INBOX {" + strconv.Itoa(len(message)) + "}\r\n").Server("+ go\r\n").
				Client(message[:20]).Client(message[20:] + "\r\n").Server("a2 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"fetch_literal_is_content", func(c *inspecttest.Conv) {
			body := "a1 NO this is mail, not a reply\r\n"
			c.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\n").
				Server("* 1 FETCH (BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body[:10]).Server(body[10:] + ")\r\n").Server("a1 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"fetch_two_literals", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\n").
				Server("* 1 FETCH (BODY[1] {9}\r\na1 NO x\r\n BODY[2] {9}\r\na1 NO y\r\n)\r\na1 OK\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"bare_lf", func(c *inspecttest.Conv) {
			c.Server("* OK hi\n").Client("a1 LOGIN joe s3cret-Pass\n").Server("a1 OK\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
	}, "s3cret-Pass", "joe@example.com")
}

// TestDefaultLoginVerdicts: a factory default that a LAN server refuses,
// among pipelined logins, is a refusal (no default the server has); one
// it accepts is a default.
func TestDefaultLoginVerdicts(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client string
		server string
		want   []string // "kind class accepted" per finding
	}{
		{"pipelined_default_refused", "a1 LOGIN admin admin\r\na2 LOGIN admin s3cret-Pass\r\n", "a1 NO [AUTHENTICATIONFAILED] bad\r\na2 OK\r\n",
			[]string{"plaintext_credentials default no", "plaintext_credentials unique yes"}},
		{"default_accepted", "a1 LOGIN admin admin\r\n", "a1 OK\r\n", []string{"default_credentials default yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(), "192.168.1.20:143")
			s.Server(greeting).Client(tt.client).Server(tt.server)
			var got []string
			for _, f := range s.End().Findings() {
				got = append(got, string(f.Kind)+" "+f.Evidence["password_class"]+" "+f.Evidence["accepted"])
				if f.Device.IP != "192.168.1.20" {
					t.Errorf("finding about %v, want the LAN server", f.Device)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTrailingLiteral(t *testing.T) {
	tests := []struct {
		in string
		n  uint64
		ok bool
	}{
		{"a1 LOGIN {11}", 11, true},
		{"{11+}", 11, true},
		{"a APPEND INBOX ~{42}", 42, true},
		{"{0}", 0, true},
		{"{}", 0, false},
		{"{+}", 0, false},
		{"{1x}", 0, false},
		{"{99999999999999999999999}", 0, false},
		{"a1 SEARCH \"{5}\"", 0, false},
		{"}", 0, false},
	}
	for _, tt := range tests {
		n, ok := trailingLiteral([]byte(tt.in))
		if n != tt.n || ok != tt.ok {
			t.Errorf("trailingLiteral(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.ok)
		}
	}
}

func TestMatch(t *testing.T) {
	inspecttest.RunMatch(t, New, []inspecttest.MatchCase{
		{"greeting_on_143", "198.51.100.7:143", inspect.ToClient, "* OK Dovecot ready.\r\n", inspect.ContentMatch},
		{"preauth_on_143", "198.51.100.7:143", inspect.ToClient, "* PREAUTH hi\r\n", inspect.ContentMatch},
		{"greeting_off_port", "198.51.100.7:1143", inspect.ToClient, "* OK IMAP4rev1 ready\r\n", inspect.ContentMatch},
		{"anonymous_greeting_off_port", "198.51.100.7:1143", inspect.ToClient, "* OK ready\r\n", inspect.NoMatch},
		{"capability_off_port", "198.51.100.7:1143", inspect.ToServer, "a1 CAPABILITY\r\n", inspect.ContentMatch},
		{"login_on_143", "198.51.100.7:143", inspect.ToServer, "a1 LOGIN joe pw\r\n", inspect.ContentMatch},
		{"untagged_from_client", "198.51.100.7:1143", inspect.ToServer, "* LOGIN joe pw\r\n", inspect.NoMatch},
		{"http_on_143", "198.51.100.7:143", inspect.ToServer, "GET / HTTP/1.1\r\n", inspect.PortMatch},
	})
}

// inFETCH returns an IMAP flow whose server is sending a huge FETCH body.
func inFETCH(tb testing.TB) (*inspect.Flow, inspect.Analyzer) {
	s := inspecttest.NewSession(tb, New(), server)
	s.Server(greeting).Client("a1 LOGIN joe s3cret-Pass\r\n").Server("a1 OK\r\n").
		Client("a2 FETCH 1 BODY[]\r\n").Server("* 1 FETCH (BODY[] {1000000000000}\r\n")
	return s.Analyzer(tb)
}

func TestFETCHNoAllocs(t *testing.T) {
	f, a := inFETCH(t)
	inspecttest.StreamNoAllocs(t, f, a, inspect.ToClient, []byte(inspecttest.BodySegment))
}

func TestCommandNoAllocs(t *testing.T) {
	s := inspecttest.NewSession(t, New(), server)
	s.Server(greeting)
	f, a := s.Analyzer(t)
	inspecttest.ExchangeNoAllocs(t, f, a, []byte("a5 SELECT INBOX\r\n"), []byte("* 3 EXISTS\r\na5 OK [READ-WRITE] done\r\n"))
}

func BenchmarkFETCHBody(b *testing.B) {
	f, a := inFETCH(b)
	inspecttest.BenchStream(b, f, a, inspect.ToClient, []byte(inspecttest.BodySegment))
}

func FuzzAnalyzer(f *testing.F) {
	f.Add([]byte(greeting), []byte("a1 LOGIN joe pw\r\n"), []byte("a1 OK\r\n"))
	f.Add([]byte(greeting), []byte("a1 LOGIN joe2024x s3cretPass9\r\n"), []byte("a1 NO\r\n"))
	f.Add([]byte(greeting), []byte("A001 LOGIN {3}\r\njoe {2+}\r\npw\r\n"), []byte("+ go\r\n+ go\r\nA001 NO\r\n"))
	f.Add([]byte(greeting), []byte(`a1 LOGIN "j\"oe" "p\\w"`+"\r\n"), []byte("a1 BAD\r\n"))
	f.Add([]byte(greeting), []byte("a1 AUTHENTICATE PLAIN\r\n"+b64("\x00joe\x00pw")+"\r\n"), []byte("+ \r\na1 OK\r\n"))
	f.Add([]byte("* OK\r\n"), []byte("a1 STARTTLS\r\n"), []byte("* 1 FETCH (BODY[] {5}\r\nhello)\r\na1 OK\r\n"))
	inspecttest.FuzzConversation(f, New, server)
}

// TestGap: after bytes lost in either direction, the analyzer takes up
// the conversation again at the next line that starts with a tag and a
// command (a status response from the server), wherever the gap was: in
// a literal, whose announced length no longer says where it ends, in a
// LOGIN's literal argument, or in a line. The lines before it are not
// read, and a LOGIN after it is found with its verdict.
func TestGap(t *testing.T) {
	const login = "a9 LOGIN joe s3cret-Pass\r\n"
	tests := []struct {
		name   string
		dir    inspect.Dir // the direction that lost bytes
		before string      // client bytes before the gap
		server string      // server bytes before the gap
		after  string      // bytes sent in dir after the gap
		reply  string      // server bytes at the end
		want   []want
	}{
		// The gap took the literal's end: its announced length reaches
		// into the LOGIN.
		{"literal_end_lost", inspect.ToServer, "a1 APPEND INBOX {100}\r\nSubject: x\r\n", "+ go ahead\r\n",
			login, "a1 NO lost\r\na9 OK\r\n", []want{{"j***", "LOGIN", "unique", "yes"}}},
		// The rest of the literal, no line of it a command, then the
		// LOGIN: a few lost bytes leave the announced length too long.
		{"in_literal", inspect.ToServer, "a1 APPEND INBOX {60}\r\nSubject: x\r\n", "+ go ahead\r\n",
			"Body of the message\r\nSee you at 10\r\n\r\n" + login, "a1 OK\r\na9 NO [AUTHENTICATIONFAILED]\r\n",
			[]want{{"j***", "LOGIN", "unique", "no"}}},
		{"literal_start_lost", inspect.ToServer, "a1 APPEND INBOX {10000}\r\n", "+ go ahead\r\n",
			"more of the message\r\n" + login, "a1 OK\r\na9 OK\r\n", []want{{"j***", "LOGIN", "unique", "yes"}}},
		// A login whose literal password lost bytes is not reported; the
		// next one, its arguments literals too, is.
		{"in_login_literal", inspect.ToServer, "a1 LOGIN joe {11}\r\ns3c", "",
			"Pass\r\na2 LOGIN {3}\r\njoe {11}\r\ns3cret-Pass\r\n", "a1 NO\r\na2 OK\r\n", []want{{"j***", "LOGIN", "unique", "yes"}}},
		// The first line after a gap is a fragment; the next one is whole.
		{"in_line", inspect.ToServer, "", "",
			"IN joe s3cret-Pass\r\n" + login, "a9 OK\r\n", []want{{"j***", "LOGIN", "unique", "yes"}}},
		// Server bytes lost in a literal: the tagged replies after it
		// still judge the logins.
		{"server_literal_end_lost", inspect.ToClient, "a1 ID (\"name\" \"x\")\r\n" + login, "* ID (\"name\" {20}\r\nDove",
			"a1 OK\r\na9 OK Logged in\r\n", "", []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"server_in_literal", inspect.ToClient, "a1 ID (\"name\" \"x\")\r\n" + login, "* ID (\"name\" {200}\r\nDove",
			"cot\r\na9 is no reply here\r\n\"version\" \"2.3\")\r\na1 OK ID completed\r\na9 NO [AUTHENTICATIONFAILED] bad\r\n", "",
			[]want{{"j***", "LOGIN", "unique", "no"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), server)
			s.Server(greeting)
			if tt.before != "" {
				s.Client(tt.before)
			}
			if tt.server != "" {
				s.Server(tt.server)
			}
			f, a := s.Analyzer(t)
			a.Gap(f, tt.dir)
			a.Feed(f, tt.dir, []byte(tt.after))
			if tt.reply != "" {
				a.Feed(f, inspect.ToClient, []byte(tt.reply))
			}
			col := s.End()
			inspecttest.CheckLogins(t, col, "imap", "192.168.1.10", tt.want)
			if inspecttest.Leaks(t, col.Events, "s3cret-Pass") {
				t.Error("password leaked")
			}
		})
	}
}

// TestGapInTheStream: a segment the capture dropped in the middle of an
// APPEND's literal, seen by the engine, costs no later login.
func TestGapInTheStream(t *testing.T) {
	s := inspecttest.NewSession(t, New(), server)
	s.Server(greeting).Client("a1 APPEND INBOX {400}\r\n").Server("+ go ahead\r\n").
		Client(strings.Repeat("x", 100)+"\r\n").Lose(inspect.ToServer, 300).
		Client("a2 LOGIN joe s3cret-Pass\r\n").Server("a1 OK\r\na2 OK\r\n")
	inspecttest.CheckLogins(t, s.End(), "imap", "192.168.1.10", []want{{"j***", "LOGIN", "unique", "yes"}})
}

// TestLoginArgsWiped checks that nothing of a LOGIN's arguments stays in
// the analyzer once the command is classified or can no longer be: when
// it is reported, malformed or oversized, refused before its literal, or
// hit by a gap.
func TestLoginArgsWiped(t *testing.T) {
	long := strings.Repeat("s3cret-Pass", 20)
	tests := []struct {
		name   string
		client []string // client segments
		reply  string   // server bytes after them
		gap    bool     // client bytes are lost after the segments
		logins int
	}{
		{"reported", []string{"a1 LOGIN joe s3cret-Pass\r\n"}, "", false, 1},
		{"unterminated_quote", []string{"a1 LOGIN joe \"s3cret-Pass\r\n"}, "", false, 0},
		{"oversized_literal", []string{"a1 LOGIN joe {300}\r\n", long[:200], long[:80]}, "", false, 0},
		{"refused_before_literal", []string{"a1 LOGIN joe {11}\r\n"}, "a1 NO literals refused\r\n", false, 0},
		{"gap_in_literal", []string{"a1 LOGIN joe {11}\r\n", "s3cret"}, "", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), server)
			s.Server(greeting)
			for _, seg := range tt.client {
				s.Client(seg)
			}
			f, a := s.Analyzer(t)
			if tt.gap {
				a.Gap(f, inspect.ToServer)
			}
			if tt.reply != "" {
				s.Server(tt.reply)
			}
			if l := &a.(*analyzer).login; l.args != [2][maxArg]byte{} {
				t.Errorf("arguments %q and %q kept", l.args[0][:l.argLen[0]], strings.TrimRight(string(l.args[1][:]), "\x00"))
			}
			if got := s.End().Findings(); len(got) != tt.logins {
				t.Errorf("%d findings, want %d", len(got), tt.logins)
			}
		})
	}
}

// TestSASLScratchWiped checks that the scratch every IMAP flow shares
// holds nothing of an AUTHENTICATE exchange, challenge or response.
func TestSASLScratchWiped(t *testing.T) {
	p := New()
	s := inspecttest.NewSession(t, p, server)
	s.Server(greeting).Client("a1 AUTHENTICATE CRAM-MD5\r\n").Server("+ " + b64("<1896.697170952@postoffice.reston.mci.net>") + "\r\n")
	s.Client(b64("tim b913a602c7eda7a495b4e6e7334d3890") + "\r\n")
	if p.scratch != (sasl.Scratch{}) {
		t.Errorf("the scratch holds %q", strings.TrimRight(string(p.scratch[:]), "\x00"))
	}
	s.Server("a1 NO\r\n").Client("a2 AUTHENTICATE PLAIN " + b64("\x00joe\x00s3cret-Pass") + "\r\n")
	if p.scratch != (sasl.Scratch{}) {
		t.Errorf("the scratch holds %q", strings.TrimRight(string(p.scratch[:]), "\x00"))
	}
	s.Server("a2 OK\r\n")
	inspecttest.CheckLogins(t, s.End(), "imap", "192.168.1.10", []want{{"t***", "AUTHENTICATE CRAM-MD5", "hashed", "no"}, {"j***", "AUTHENTICATE PLAIN", "unique", "yes"}})
}

// TestGreetingLost: on a connection seen from its start whose greeting
// the capture lost before any other server byte, no later status is
// taken for the greeting, whether it comes before the client speaks or
// after.
func TestGreetingLost(t *testing.T) {
	const status = "* OK [ALERT] Mailbox of Anna Schmidt is almost full\r\n"
	tests := []struct {
		name  string
		play  func(c *inspecttest.Conv)
		login []want
	}{
		{"status_first", func(c *inspecttest.Conv) { c.Server(status) }, nil},
		{"login_first", func(c *inspecttest.Conv) {
			c.Client("a1 LOGIN joe s3cret-Pass\r\n").Server(status).Server("a1 OK LOGIN completed\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := inspecttest.PlayLogins(t, New(), server, func(c *inspecttest.Conv) {
				c.Lose(inspect.ToClient, len("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"))
				tt.play(c)
			}, tt.login, "Anna", "s3cret-Pass")
			if got := col.Kind(event.KindBanner); len(got) != 0 {
				t.Errorf("banner %v, want none", got[0].Evidence)
			}
		})
	}
}

// TestGreeting: the banner is the greeting of a connection seen from its
// start, without the account a PREAUTH names; a connection joined later
// has no greeting, its first "* OK" is any status, and so has one whose
// greeting was cut by lost bytes.
func TestGreeting(t *testing.T) {
	tests := []struct {
		name   string
		join   bool
		server []string // server segments, bytes lost between them
		want   string   // "" for no banner
	}{
		{"ok", false, []string{"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"}, "OK [CAPABILITY IMAP4rev1] Dovecot ready."},
		{"preauth_names_an_address", false, []string{"* PREAUTH IMAP4rev1 Logged in as alice@example.com\r\n"}, "PREAUTH IMAP4rev1"},
		{"preauth_names_a_person", false, []string{"* PREAUTH IMAP4rev1 server logged in as Anna Schmidt\r\n"}, "PREAUTH IMAP4rev1 server"},
		{"joined_status", true, []string{"* OK [UNSEEN 12] Message 12 from Anna Schmidt is first unseen\r\n"}, ""},
		{"joined_preauth", true, []string{"* PREAUTH IMAP4rev1 server logged in as Anna Schmidt\r\n"}, ""},
		// The greeting's end is in the lost bytes: the first status seen
		// after them is any, one that may name a person.
		{"greeting_cut", false, []string{"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE",
			"* OK [UNSEEN 12] Message 12 from Anna Schmidt is first unseen\r\n"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.OpenTCP(e, tt.join, "192.168.1.10:40000", server)
			for i, seg := range tt.server {
				if i > 0 {
					c.Lose(inspect.ToClient, 40)
				}
				c.Server(seg)
			}
			c.Close()
			e.Flush()
			var got []string
			for _, b := range col.Kind(event.KindBanner) {
				got = append(got, b.Evidence["banner"])
			}
			want := []string{tt.want}
			if tt.want == "" {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("banners %q, want %q", got, want)
			}
			for _, s := range []string{"Anna", "alice"} {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q reached an event", s)
				}
			}
		})
	}
}

// TestGreetingLostLogin: on a connection seen from its start, server
// bytes the capture lost before the client's first command (the client
// had them when it sent it: its ACK covers them) can only have been the
// greeting: a continuation request after them answers the AUTHENTICATE
// in flight, and the exchange goes on to its verdict. A loss that
// reaches past what the client had when it first spoke may have taken
// a reply; the tagged one still judges its command's login.
func TestGreetingLostLogin(t *testing.T) {
	plain := b64("\x00joe\x00s3cret-Pass")
	inspecttest.RunLogins(t, New, server, []inspecttest.LoginCase{
		{"login", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("a1 LOGIN joe s3cret-Pass\r\n").Server("a1 OK LOGIN completed\r\n")
		}, []want{{"j***", "LOGIN", "unique", "yes"}}},
		{"authenticate", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("a1 AUTHENTICATE PLAIN\r\n").Server("+ \r\n").Client(plain + "\r\n").Server("a1 OK Logged in\r\n")
		}, []want{{"j***", "AUTHENTICATE PLAIN", "unique", "yes"}}},
		{"authenticate_refused", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("a1 AUTHENTICATE PLAIN\r\n").Server("+ \r\n").Client(plain + "\r\n").Server("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
		}, []want{{"j***", "AUTHENTICATE PLAIN", "unique", "no"}}},
		{"continuation_lost", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("a1 AUTHENTICATE PLAIN\r\n").Lose(inspect.ToClient, len("+ \r\n")).Client(plain + "\r\n").Server("a1 OK Logged in\r\n")
		}, []want{{"j***", "AUTHENTICATE PLAIN", "unique", "yes"}}},
	}, "s3cret-Pass")
}
