package pop3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"strconv"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/sasl"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

type want = inspecttest.Login

// server is the POP3 server of synthetic sessions.
const server = "198.51.100.7:110"

func TestCorpus(t *testing.T) {
	tests := []struct {
		file    string
		logins  []want
		device  string // the device the logins are about
		banners int
		secrets []string // must not appear in any event
	}{
		// AUTH PLAIN: napier refused, then napier123 accepted in two sessions.
		{"zeek-pop3-pop3.pcap", []want{
			{"di***", "AUTH PLAIN", "unique", "no"},
			{"di***", "AUTH PLAIN", "unique", "yes"},
			{"di***", "AUTH PLAIN", "unique", "yes"},
		}, "192.168.0.4", 5, []string{"napier", "digitalinvestigator", "networksims"}},
		// AUTH XOAUTH2: a bearer token, not a password; the capture starts
		// after the greeting.
		{"sv-pop3-auth-01.pcap", []want{{"jo***", "AUTH XOAUTH2", "token", "yes"}}, "2.2.2.2", 0,
			[]string{"joe.speedboat", "AAAAAAAA"}},
		// Crafted LIST/RETR replies: no login, no crash.
		{"zeek-pop3-bad-list-retr-crafted.pcap", nil, "", 1, nil},
		{"arkime-pop3-tag.pcap", nil, "", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			inspecttest.CheckLogins(t, c, "pop3", tt.device, tt.logins)
			banners := c.Kind(event.KindBanner)
			if len(banners) != tt.banners {
				t.Fatalf("%d banners, want %d", len(banners), tt.banners)
			}
			for _, b := range banners {
				if b.Evidence["protocol"] != "pop3" || b.Evidence["banner"] == "" {
					t.Errorf("banner evidence %v", b.Evidence)
				}
			}
			for _, s := range tt.secrets {
				if inspecttest.Leaks(t, c.Events, s) {
					t.Errorf("%q leaked into an event", s)
				}
			}
		})
	}
}

const greeting = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"

func TestSyntheticLogins(t *testing.T) {
	plain := b64("\x00joe@example.com\x00s3cret-Pass")
	inspecttest.RunLogins(t, New, server, []inspecttest.LoginCase{
		{"user_pass_accepted", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("USER joe@example.com\r\n").Server("+OK\r\n").Client("PASS s3cret-Pass\r\n").Server("+OK maildrop ready\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "yes"}}},
		{"user_pass_rejected", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("USER joe@example.com\r\n").Server("+OK\r\n").Client("PASS s3cret-Pass\r\n").Server("-ERR invalid password\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "no"}}},
		{"mailbox_in_use_is_no_verdict", func(c *inspecttest.Conv) {
			// RFC 3206: the password was right, the maildrop is busy.
			c.Server(greeting).Client("USER joe@example.com\r\n").Server("+OK\r\n").Client("PASS s3cret-Pass\r\n").Server("-ERR [IN-USE] maildrop locked\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "unknown"}}},
		{"auth_code_is_refusal", func(c *inspecttest.Conv) {
			// RFC 3206 [AUTH]: the credentials failed (Dovecot's wording).
			c.Server(greeting).Client("USER joe@example.com\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n-ERR [AUTH] Authentication failed.\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "no"}}},
		{"plaintext_disallowed_is_no_verdict", func(c *inspecttest.Conv) {
			// Dovecot's default without TLS: USER and PASS are refused
			// before any password is checked.
			const noTLS = "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n"
			c.Server(greeting).Client("USER joe@example.com\r\nPASS s3cret-Pass\r\n").Server(noTLS + noTLS)
		}, []want{{"jo***", "USER/PASS", "unique", "unknown"}}},
		{"plaintext_disabled_is_no_verdict", func(c *inspecttest.Conv) {
			// Older Dovecot, and its answer to a plaintext SASL mechanism.
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("-ERR [AUTH] Plaintext authentication disabled.\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"tls_required_is_no_verdict", func(c *inspecttest.Conv) {
			// Dovecot with ssl=required.
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("-ERR [AUTH] Authentication not allowed until SSL/TLS is enabled.\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "unknown"}}},
		{"permanent_system_error_is_no_verdict", func(c *inspecttest.Conv) {
			// RFC 3206 [SYS/PERM]: a system error, not the credentials.
			c.Server(greeting).Client("USER joe@example.com\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n-ERR [SYS/PERM] mail store unreadable\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "unknown"}}},
		{"login_delay_is_no_verdict", func(c *inspecttest.Conv) {
			// RFC 2449 [LOGIN-DELAY]: too soon after the last login.
			c.Server(greeting).Client("USER joe@example.com\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n-ERR [LOGIN-DELAY] wait 900 seconds\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "unknown"}}},
		{"user_pass_pipelined", func(c *inspecttest.Conv) {
			// RFC 2449 pipelining: the first +OK answers USER, the -ERR PASS.
			c.Server(greeting).Client("USER joe@example.com\r\nPASS s3cret-Pass\r\nSTAT\r\n").Server("+OK\r\n-ERR no\r\n").Server("-ERR not in transaction\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "no"}}},
		{"commands_before_the_greeting", func(c *inspecttest.Conv) {
			// A script piping its commands in (printf … | nc): the first
			// reply is still the greeting, the -ERR USER's and the +OK
			// PASS's, which alone judges the password.
			c.Client("USER joe@example.com\r\nPASS s3cret-Pass\r\n").Server(greeting + "-ERR no such user\r\n+OK maildrop ready\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "yes"}}},
		{"two_logins_pipelined", func(c *inspecttest.Conv) {
			// Each verdict belongs to its own PASS, in order.
			c.Server(greeting).Client("USER joe\r\nPASS s3cret-Pass\r\nUSER root\r\nPASS s3cret-Pass\r\n").
				Server("+OK\r\n-ERR no\r\n+OK\r\n+OK in\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "no"}, {"r***", "USER/PASS", "unique", "yes"}}},
		{"apop_malformed_then_pass_pipelined", func(c *inspecttest.Conv) {
			// The APOP that carried no login gets no verdict of another's.
			c.Server(greeting).Client("APOP mrose c4c9\r\nUSER joe\r\nPASS s3cret-Pass\r\n").
				Server("-ERR bad\r\n+OK\r\n").Server("+OK\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "yes"}}},
		{"apop", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n").Server("+OK mrose's maildrop has 2 messages\r\n")
		}, []want{{"m***", "APOP", "hashed", "yes"}}},
		{"apop_bad_digest_ignored", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("APOP mrose c4c9334bac560ecc\r\n").Server("-ERR\r\n")
		}, nil},
		{"auth_plain_initial", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN " + plain + "\r\n").Server("+OK\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "yes"}}},
		{"auth_plain_continuation_one_char_per_segment", func(c *inspecttest.Conv) {
			c.Server(greeting).ClientChars("AUTH PLAIN\r\n").Server("+ \r\n").ClientChars(plain + "\r\n").Server("-").Server("ERR\r\n")
		}, []want{{"jo***", "AUTH PLAIN", "unique", "no"}}},
		{"auth_login", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH LOGIN\r\n").Server("+ VXNlcm5hbWU6\r\n").Client(b64("joe@example.com") + "\r\n").
				Server("+ UGFzc3dvcmQ6\r\n").Client(b64("s3cret-Pass") + "\r\n").Server("+OK\r\n")
		}, []want{{"jo***", "AUTH LOGIN", "unique", "yes"}}},
		{"auth_cram_md5", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH CRAM-MD5\r\n").Server("+ " + b64("<1896.697170952@postoffice.reston.mci.net>") + "\r\n").
				Client(b64("tim b913a602c7eda7a495b4e6e7334d3890") + "\r\n").Server("+OK\r\n")
		}, []want{{"t***", "AUTH CRAM-MD5", "hashed", "yes"}}},
		{"auth_cancelled", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("AUTH PLAIN\r\n").Server("+ \r\n").Client("*\r\n").Server("-ERR cancelled\r\n")
		}, nil},
		{"auth_mechanism_list", func(c *inspecttest.Conv) {
			// "AUTH" alone lists mechanisms; a "+OK" line inside the list is content.
			c.Server(greeting).Client("AUTH\r\n").Server("+OK\r\nPLAIN\r\n+OK\r\n.\r\n").
				Client("USER joe\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n+OK\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "yes"}}},
		{"stls_stops", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("STLS\r\n").Server("+OK begin TLS\r\n").Client("USER joe\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n+OK\r\n")
		}, nil},
		{"stls_refused_keeps_reading", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("STLS\r\n").Server("-ERR no TLS\r\n").Client("USER joe\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n+OK\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "yes"}}},
		{"no_reply_before_close", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("USER joe\r\nPASS s3cret-Pass\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "unknown"}}},
		{"retr_body_with_status_lines", func(c *inspecttest.Conv) {
			// Lines of a message that look like replies must not be taken
			// for the verdict of the PASS pipelined after RETR.
			c.Server(greeting).Client("USER joe\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n+OK\r\n").
				Client("RETR 1\r\nUSER joe\r\nPASS s3cret-Pass\r\n").
				Server("+OK 120 octets\r\nSubject: x\r\n\r\n").Server("-ERR this is content\r\n..\r\n+OK also content\r\n.\r\n").
				Server("+OK\r\n-ERR no\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "yes"}, {"j***", "USER/PASS", "unique", "no"}}},
		{"list_with_argument_is_one_line", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("LIST 1\r\nUSER joe\r\nPASS s3cret-Pass\r\n").Server("+OK 1 120\r\n+OK\r\n-ERR no\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "no"}}},
		{"bare_lf", func(c *inspecttest.Conv) {
			c.Server("+OK hi\n").Client("USER joe\nPASS s3cret-Pass\n").Server("+OK\n+OK\n")
		}, []want{{"j***", "USER/PASS", "unique", "yes"}}},
		{"overlong_pipeline", func(c *inspecttest.Conv) {
			c.Server(greeting).Client(string(bytes.Repeat([]byte("NOOP\r\n"), 40)) + "USER joe\r\nPASS s3cret-Pass\r\n").
				Server(string(bytes.Repeat([]byte("+OK\r\n"), 42)))
		}, []want{{"j***", "USER/PASS", "unique", "unknown"}}},
	}, "s3cret-Pass", "joe@example.com", "c4c9334bac560ecc979e58001b3e22fb")
}

// TestAPOPDefault shows the classifier finding a default password behind
// an APOP digest: root/xc3511 is in Mirai's dictionary.
func TestAPOPDefault(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	ts := "<4711.1234@camera.local>"
	sum := md5.Sum([]byte(ts + "xc3511"))
	digest := hex.EncodeToString(sum[:])
	apop := "APOP root " + digest + "\r\n"
	tests := []struct {
		name, greeting, class string
		// conv plays the session up to the reply to APOP.
		conv func(s *inspecttest.Session, greeting string)
	}{
		{"timestamp_seen", "+OK camera POP3 " + ts + "\r\n", "default", func(s *inspecttest.Session, greeting string) {
			s.Server(greeting).Client(apop).Server("+OK\r\n")
		}},
		{"no_timestamp_unverifiable", "+OK camera POP3\r\n", "hashed", func(s *inspecttest.Session, greeting string) {
			s.Server(greeting).Client(apop).Server("+OK\r\n")
		}},
		// The client asks for the capabilities before the greeting,
		// which the server refuses.
		{"timestamp_seen_after_capa", "+OK camera POP3 " + ts + "\r\n", "default", func(s *inspecttest.Session, greeting string) {
			s.Client("CAPA\r\n").Server(greeting + "-ERR unknown command\r\n").Client(apop).Server("+OK\r\n")
		}},
		// APOP follows the greeting before CAPA's reply says that the
		// first "+OK" was the greeting: its timestamp still counts.
		{"apop_before_capa_refused", "+OK camera POP3 " + ts + "\r\n", "default", func(s *inspecttest.Session, greeting string) {
			s.Client("CAPA\r\n").Server(greeting).Client(apop).Server("-ERR unknown command\r\n+OK\r\n")
		}},
		{"apop_before_capa_list", "+OK camera POP3 " + ts + "\r\n", "default", func(s *inspecttest.Session, greeting string) {
			s.Client("CAPA\r\n").Server(greeting).Client(apop).Server("+OK Capability list follows\r\nUSER\r\n.\r\n+OK\r\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(), "192.168.1.30:110")
			tt.conv(s, tt.greeting)
			col := s.End()
			inspecttest.CheckLogins(t, col, "pop3", "192.168.1.30", []want{{"r***", "APOP", tt.class, "yes"}})
			if inspecttest.Leaks(t, col.Events, "xc3511") || inspecttest.Leaks(t, col.Events, digest) {
				t.Error("secret leaked")
			}
		})
	}
}

func TestMatch(t *testing.T) {
	inspecttest.RunMatch(t, New, []inspecttest.MatchCase{
		{"greeting_on_110", "198.51.100.7:110", inspect.ToClient, "+OK Dovecot ready.\r\n", inspect.ContentMatch},
		{"greeting_off_port", "198.51.100.7:1110", inspect.ToClient, "+OK POP3 ready\r\n", inspect.ContentMatch},
		{"apop_greeting_off_port", "198.51.100.7:1110", inspect.ToClient, "+OK ready <1.2@host>\r\n", inspect.ContentMatch},
		{"redis_ok_off_port", "198.51.100.7:6379", inspect.ToClient, "+OK\r\n", inspect.NoMatch},
		{"user_on_110", "198.51.100.7:110", inspect.ToServer, "USER joe\r\n", inspect.ContentMatch},
		{"capa_on_110", "198.51.100.7:110", inspect.ToServer, "CAPA\r\n", inspect.ContentMatch},
		{"user_off_port", "198.51.100.7:2110", inspect.ToServer, "USER joe\r\n", inspect.NoMatch},
		{"http_on_110", "198.51.100.7:110", inspect.ToServer, "GET / HTTP/1.1\r\n", inspect.PortMatch},
	})
}

// inRETR returns a POP3 flow whose server is sending a message.
func inRETR(tb testing.TB) (*inspect.Flow, inspect.Analyzer) {
	s := inspecttest.NewSession(tb, New(), server)
	s.Server(greeting).Client("USER joe\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n+OK\r\n").
		Client("RETR 1\r\n").Server("+OK 99999 octets\r\n")
	return s.Analyzer(tb)
}

func TestRETRNoAllocs(t *testing.T) {
	f, a := inRETR(t)
	inspecttest.StreamNoAllocs(t, f, a, inspect.ToClient, []byte(inspecttest.BodySegment))
}

func TestCommandNoAllocs(t *testing.T) {
	f, a := inRETR(t)
	a.Feed(f, inspect.ToClient, []byte(".\r\n"))
	inspecttest.ExchangeNoAllocs(t, f, a, []byte("STAT\r\n"), []byte("+OK 2 320\r\n"))
}

func BenchmarkRETRBody(b *testing.B) {
	f, a := inRETR(b)
	inspecttest.BenchStream(b, f, a, inspect.ToClient, []byte(inspecttest.BodySegment))
}

func FuzzAnalyzer(f *testing.F) {
	f.Add([]byte(greeting), []byte("USER a\r\nPASS b\r\n"), []byte("+OK\r\n+OK\r\n"))
	f.Add([]byte(greeting), []byte("USER joe2024\r\nPASS s3cretPass9\r\n"), []byte("+OK\r\n-ERR\r\n"))
	f.Add([]byte(greeting), []byte("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"), []byte("-ERR\r\n"))
	f.Add([]byte("+OK\r\n"), []byte("AUTH LOGIN\r\n"+b64("joe")+"\r\n"+b64("pw")+"\r\n"), []byte("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n"))
	f.Add([]byte("+OK\r\n"), []byte("RETR 1\r\nLIST\r\nSTLS\r\n"), []byte("+OK\r\nx\r\n.\r\n+OK\r\n.\r\n+OK\r\n"))
	inspecttest.FuzzConversation(f, New, server)
}

func TestGap(t *testing.T) {
	tests := []struct {
		name  string
		dir   inspect.Dir
		after string // bytes sent in dir after the gap
		want  string // outcome of the login pending across the gap
	}{
		// Replies cannot be matched to commands after lost server bytes.
		{"server_gap_loses_verdict", inspect.ToClient, "+OK\r\n", "unknown"},
		// A fragment of a line is not a command.
		{"client_gap_resyncs", inspect.ToServer, "SS s3cret-Pass\r\n", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), server)
			s.Server(greeting).Client("USER joe\r\nPASS s3cret-Pass\r\n")
			f, a := s.Analyzer(t)
			a.Gap(f, tt.dir)
			a.Feed(f, tt.dir, []byte(tt.after))
			s.Server("+OK\r\n")
			col := s.End()
			if got := col.Findings(); len(got) != 1 || got[0].Evidence["accepted"] != tt.want {
				t.Fatalf("findings %v, want one with accepted %s", col.Events, tt.want)
			}
		})
	}
}

// TestAPOPDigestWiped checks that an APOP digest is gone once the login
// is classified, or found malformed: with the greeting's timestamp it is
// enough to test passwords offline.
func TestAPOPDigestWiped(t *testing.T) {
	for _, tt := range []struct {
		digest string
		logins int
	}{
		{"c4c9334bac560ecc979e58001b3e22fb", 1},
		{"c4c9334bac560ecc979e58001b3e22zz", 0}, // hex.Decode writes before failing
	} {
		s := inspecttest.NewSession(t, New(), server)
		s.Server(greeting).Client("APOP mrose " + tt.digest + "\r\n")
		if _, a := s.Analyzer(t); a.(*analyzer).apopDigest != [md5.Size]byte{} {
			t.Errorf("APOP %s: digest %x kept before the verdict", tt.digest, a.(*analyzer).apopDigest)
		}
		s.Server("+OK\r\n")
		if got := s.End().Findings(); len(got) != tt.logins {
			t.Errorf("APOP %s: findings %v", tt.digest, got)
		}
	}
}

// TestSASLScratchWiped checks that the scratch every POP3 flow shares
// holds nothing of an AUTH exchange after each line of it.
func TestSASLScratchWiped(t *testing.T) {
	p := New()
	s := inspecttest.NewSession(t, p, server)
	s.Server(greeting)
	for _, line := range []string{"AUTH LOGIN\r\n", "+ VXNlcm5hbWU6\r\n", b64("joe") + "\r\n", "+ UGFzc3dvcmQ6\r\n", b64("s3cret-Pass") + "\r\n", "+OK\r\n"} {
		if line[0] == '+' {
			s.Server(line)
		} else {
			s.Client(line)
		}
		if p.scratch != (sasl.Scratch{}) {
			t.Fatalf("after %q the scratch holds %q", line, bytes.TrimRight(p.scratch[:], "\x00"))
		}
	}
	inspecttest.CheckLogins(t, s.End(), "pop3", "192.168.1.10", []want{{"j***", "AUTH LOGIN", "unique", "yes"}})
}

// TestGreetingOnlyFromStart: the first "+OK" of a connection joined after
// its start may be any reply, one naming the account: it is no banner.
func TestGreetingOnlyFromStart(t *testing.T) {
	for _, tt := range []struct {
		name string
		join bool
		want int
	}{{"from_start", false, 1}, {"joined", true, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.OpenTCP(e, tt.join, "192.168.1.10:40000", server)
			c.Server("+OK Anna Schmidt has 3 messages (4711 octets)\r\n")
			c.Close()
			e.Flush()
			if got := len(col.Kind(event.KindBanner)); got != tt.want {
				t.Errorf("%d banners, want %d", got, tt.want)
			}
			if tt.join && inspecttest.Leaks(t, col.Events, "Anna") {
				t.Error("the account's name reached an event")
			}
		})
	}
}

// Each greeting is reported with its own banner and server, however
// often the same one came before (the engine copies a repeat).
func TestGreetingRepeats(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	sessions := []struct{ server, greeting, banner string }{
		{"198.51.100.7:110", "+OK ready\r\n", "ready"},
		{"198.51.100.8:110", "+OK other server\r\n", "other server"},
		{"198.51.100.7:110", "+OK ready\r\n", "ready"},
		{"198.51.100.9:110", "+OK ready\r\n", "ready"},
		{"198.51.100.8:110", "+OK mail for joe@example.com\r\n", "mail for ***"},
	}
	for i, s := range sessions {
		inspecttest.NewTCP(e, "192.168.1.10:"+strconv.Itoa(50000+i), s.server).Server(s.greeting).Close()
	}
	banners := col.Kind(event.KindBanner)
	if len(banners) != len(sessions) {
		t.Fatalf("%d banners, want %d", len(banners), len(sessions))
	}
	for i, b := range banners {
		s := sessions[i]
		if b.Evidence["banner"] != s.banner || b.Evidence["protocol"] != "pop3" || b.Summary != "POP3 server greeting" {
			t.Errorf("session %d: %q %v", i, b.Summary, b.Evidence)
		}
		if want := netip.MustParseAddrPort(s.server); b.Device.IP != want.Addr().String() || b.Device.Port != want.Port() {
			t.Errorf("session %d: about %+v, want %s", i, b.Device, s.server)
		}
	}
}

// TestGreetingReadWhileBusy: a greeting that came while every
// inspection was busy was read by no analyzer: the one the client's
// first command gets once an inspection is free reads on as after lost
// server bytes. It does not take the reply to that command for the
// greeting, nor report it as a banner. The client had those bytes when
// it sent its first command, so they hold no reply: the verdicts stand.
func TestGreetingReadWhileBusy(t *testing.T) {
	col := &inspecttest.Collector{}
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("pop3 test key")
	cfg.MaxInspected = 1
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{New()}, Sink: col})
	if err != nil {
		t.Fatal(err)
	}
	busy := inspecttest.NewTCP(e, "192.168.1.10:40001", server).Server(greeting)
	c := inspecttest.NewTCP(e, inspecttest.LANClient, server).Server(greeting)
	busy.Close()
	c.Client("USER joe\r\n").Server("+OK Anna Schmidt, send your password\r\n")
	c.Client("PASS s3cret-Pass\r\n").Server("+OK Anna Schmidt has 3 messages\r\n")
	c.Close()
	e.Flush()
	inspecttest.CheckLogins(t, col, "pop3", "192.168.1.10", []want{{"j***", "USER/PASS", "unique", "yes"}})
	if got := len(col.Kind(event.KindBanner)); got != 1 {
		t.Errorf("%d banners, want 1: the busy connection's", got)
	}
	if inspecttest.Leaks(t, col.Events, "Anna") || inspecttest.Leaks(t, col.Events, "s3cret-Pass") {
		t.Error("an account's name or password reached an event")
	}
}

// TestClientFirst: a client that speaks before the greeting shifts no
// reply onto the wrong command. On a connection seen from its start the
// first server line is the greeting (a banner), unless it can only be
// the reply to the first command, or the line after it says so; on one joined
// late, the first server line after the client spoke answers its first
// command; after server bytes were lost, no line is taken for the
// greeting.
func TestClientFirst(t *testing.T) {
	const userPass = "USER joe\r\nPASS s3cret-Pass\r\n"
	tests := []struct {
		name    string
		join    bool
		gap     bool // server bytes lost after the client's commands
		client  string
		server  string
		banners int
		want    []want
	}{
		{"from_start", false, false, userPass, greeting + "+OK\r\n-ERR invalid password\r\n", 1,
			[]want{{"j***", "USER/PASS", "unique", "no"}}},
		{"joined", true, false, userPass, "+OK\r\n-ERR invalid password\r\n", 0,
			[]want{{"j***", "USER/PASS", "unique", "no"}}},
		{"greeting_lost", false, true, userPass, "ady.\r\n+OK\r\n+OK Anna Schmidt has 3 messages\r\n", 0,
			[]want{{"j***", "USER/PASS", "unique", "unknown"}}},
		// A "+OK" that may open CAPA's list is the greeting when a status
		// reply follows it, else CAPA's reply, whose list then follows.
		{"capa_no_greeting", false, false, "CAPA\r\n" + userPass, "+OK Capability list follows\r\nUSER\r\n.\r\n+OK\r\n-ERR no\r\n", 0,
			[]want{{"j***", "USER/PASS", "unique", "no"}}},
		{"capa_after_greeting", false, false, "CAPA\r\n" + userPass, greeting + "+OK Capability list follows\r\nUSER\r\n.\r\n+OK\r\n-ERR no\r\n", 1,
			[]want{{"j***", "USER/PASS", "unique", "no"}}},
		{"capa_empty_no_greeting", false, false, "CAPA\r\n" + userPass, "+OK\r\n.\r\n+OK\r\n+OK\r\n", 0,
			[]want{{"j***", "USER/PASS", "unique", "yes"}}},
		// A line after the first "+OK" that is a status reply says that
		// the first was the greeting: CAPA's reply is that line, here a
		// refusal, after which each reply answers its own command.
		{"capa_refused_after_greeting", false, false, "CAPA\r\n" + userPass, greeting + "-ERR unknown command\r\n+OK\r\n+OK logged in\r\n", 1,
			[]want{{"j***", "USER/PASS", "unique", "yes"}}},
		{"capa_refused_then_login_refused", false, false, "CAPA\r\n" + userPass, greeting + "-ERR unknown command\r\n+OK\r\n-ERR invalid password\r\n+OK\r\n.\r\n", 1,
			[]want{{"j***", "USER/PASS", "unique", "no"}}},
		{"auth_list_after_greeting", false, false, "AUTH\r\n" + userPass, greeting + "+OK\r\nPLAIN\r\n.\r\n+OK\r\n+OK\r\n", 1,
			[]want{{"j***", "USER/PASS", "unique", "yes"}}},
		// A SASL continuation is no greeting.
		{"auth_no_greeting", false, false, "AUTH PLAIN\r\n" + b64("\x00joe\x00s3cret-Pass") + "\r\n", "+ \r\n-ERR [AUTH] Authentication failed.\r\n", 0,
			[]want{{"j***", "AUTH PLAIN", "unique", "no"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			probe := &inspecttest.Probe{Protocol: New()}
			e := inspecttest.Engine(t, col, nil, probe)
			c := inspecttest.OpenTCP(e, tt.join, inspecttest.LANClient, server)
			c.Client(tt.client)
			if tt.gap {
				f, a := probe.Last()
				a.Gap(f, inspect.ToClient)
			}
			c.Server(tt.server)
			c.Close()
			e.Flush()
			inspecttest.CheckLogins(t, col, "pop3", "192.168.1.10", tt.want)
			if got := len(col.Kind(event.KindBanner)); got != tt.banners {
				t.Errorf("%d banners, want %d", got, tt.banners)
			}
			if inspecttest.Leaks(t, col.Events, "Anna") || inspecttest.Leaks(t, col.Events, "s3cret-Pass") {
				t.Error("an account's name or password reached an event")
			}
		})
	}
}

// TestGreetingLost: on a connection seen from its start, server bytes
// the capture lost before the client's first command (the client had
// them when it sent it: its ACK covers them) can only have been the
// greeting: the replies after them answer the commands in order, and
// the verdicts stand. A loss that reaches past what the client had when
// it first spoke may have taken a reply: the verdicts are unknown.
func TestGreetingLost(t *testing.T) {
	plain := b64("\x00joe\x00s3cret-Pass")
	tests := []struct {
		name string
		play func(c *inspecttest.Conv)
		want []want
	}{
		{"user_pass", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER joe\r\n").Server("+OK\r\n").Client("PASS s3cret-Pass\r\n").Server("+OK Anna Schmidt has 3 messages\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "yes"}}},
		{"user_pass_refused", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER joe\r\n").Server("+OK\r\n").Client("PASS s3cret-Pass\r\n").Server("-ERR invalid password\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "no"}}},
		// Both commands sent before the first reply: the loss is told
		// after both were read.
		{"pipelined", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER joe\r\n").Client("PASS s3cret-Pass\r\n").Server("+OK\r\n").Server("-ERR invalid password\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "no"}}},
		// The SASL exchange running when the loss is told goes on.
		{"auth_plain", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("AUTH PLAIN\r\n").Server("+ \r\n").Client(plain + "\r\n").Server("+OK Anna Schmidt has 3 messages\r\n")
		}, []want{{"j***", "AUTH PLAIN", "unique", "yes"}}},
		// The reply to USER was lost too: "+OK" may be USER's.
		{"user_reply_lost", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER joe\r\n").Lose(inspect.ToClient, len("+OK\r\n")).Client("PASS s3cret-Pass\r\n").Server("+OK Anna Schmidt has 3 messages\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "unknown"}}},
		// The client spoke before the greeting came: the lost bytes were
		// sent after it, and may hold the reply to USER.
		{"client_spoke_first", func(c *inspecttest.Conv) {
			c.Client("USER joe\r\n").Lose(inspect.ToClient, len(greeting)+len("+OK\r\n"))
			c.Client("PASS s3cret-Pass\r\n").Server("+OK Anna Schmidt has 3 messages\r\n")
		}, []want{{"j***", "USER/PASS", "unique", "unknown"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := inspecttest.PlayLogins(t, New(), server, tt.play, tt.want, "Anna", "s3cret-Pass")
			if got := col.Kind(event.KindBanner); len(got) != 0 {
				t.Errorf("banner %v, want none", got[0].Evidence)
			}
		})
	}
}
