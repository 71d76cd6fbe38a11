package ftp

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func TestCorpus(t *testing.T) {
	tests := []struct {
		file     string
		logins   int
		user     string // redacted
		accepted string
		class    string
	}{
		{"zeek-ftp-ipv4.pcap", 1, "an***", "yes", "anonymous"},
		{"zeek-ftp-ipv6.pcap", 1, "an***", "yes", "anonymous"},
		{"zeek-ftp-password-pass-command.pcap", 1, "A***", "no", "unique"},
		{"zeek-ftp-bruteforce.pcap", 30, "b***", "no", "unique"},
		{"zeek-ftp-fake-long-commands.pcap", 1, "an***", "yes", "anonymous"},
		{"zeek-ftp-missing-reply-code.pcap", 1, "z***", "yes", "unique"},
		{"sv-ftp-download-passive.pcap", 1, "b***", "yes", "unique"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			logins := c.Kind(event.KindPlaintextCredentials)
			if len(logins) != tt.logins {
				t.Fatalf("got %d logins, want %d: %v", len(logins), tt.logins, c.Events)
			}
			for _, l := range logins {
				if l.Evidence["user"] != tt.user || l.Evidence["accepted"] != tt.accepted || l.Evidence["protocol"] != "ftp" || l.Evidence["password_class"] != tt.class {
					t.Errorf("evidence %v, want user %s accepted %s class %s", l.Evidence, tt.user, tt.accepted, tt.class)
				}
			}
			if len(c.Kind(event.KindBanner)) == 0 {
				t.Error("no banner observation")
			}
		})
	}
}

func TestSyntheticLogins(t *testing.T) {
	tests := []struct {
		name     string
		script   func(c *inspecttest.Conv)
		want     int
		accepted string
	}{
		{"accepted", func(c *inspecttest.Conv) {
			c.Server("220 ProFTPD ready\r\n").Client("USER admin\r\n").Server("331 ok\r\n").Client("PASS s3cret-Pass\r\n").Server("230 in\r\n")
		}, 1, "yes"},
		{"rejected", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("331 ok\r\n").Client("PASS s3cret-Pass\r\n").Server("530 no\r\n")
		}, 1, "no"},
		{"too_many_users_is_no_verdict", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("331 ok\r\n").Client("PASS s3cret-Pass\r\n").Server("421 Too many users\r\n")
		}, 1, "unknown"},
		{"430_invalid_is_refused", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("331 ok\r\n").Client("PASS s3cret-Pass\r\n").Server("430 Invalid username or password\r\n")
		}, 1, "no"},
		{"split_across_segments", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("US").Client("ER adm").Client("in\r\nPA").Client("SS s3cret-Pass\r").Client("\n").Server("331 ok\r\n").Server("23").Server("0 in\r\n")
		}, 1, "yes"},
		{"multiline_replies", func(c *inspecttest.Conv) {
			// Only "230 " ends the reply; the lines between look like
			// replies but answer nothing.
			c.Server("220-Welcome\r\n220-Be nice\r\n220 ready\r\n").Client("USER admin\r\nPASS s3cret-Pass\r\n").
				Server("331 ok\r\n230-Rules:\r\n530 is what you get for bad passwords\r\n230 in\r\n")
		}, 1, "yes"},
		{"preliminary_reply_is_no_verdict", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nPASS s3cret-Pass\r\n").Server("331 ok\r\n").Server("150 wait\r\n530 no\r\n")
		}, 1, "no"},
		{"no_reply_before_close", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nPASS s3cret-Pass\r\n")
		}, 1, "unknown"},
		{"auth_tls_stops", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("AUTH TLS\r\n").Server("234 go\r\n").Client("USER admin\r\nPASS s3cret-Pass\r\n")
		}, 0, ""},
		{"auth_tls_refused_stays_clear", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("AUTH TLS\r\n").Server("502 no\r\n").Client("USER admin\r\nPASS s3cret-Pass\r\n").Server("331 ok\r\n230 ok\r\n")
		}, 1, "yes"},
		{"bare_lf", func(c *inspecttest.Conv) {
			c.Server("220 x\n").Client("USER admin\nPASS s3cret-Pass\n").Server("331 ok\n230 ok\n")
		}, 1, "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:21")
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != tt.want {
				t.Fatalf("got %d logins, want %d", len(got), tt.want)
			}
			if tt.want > 0 && got[0].Evidence["accepted"] != tt.accepted {
				t.Errorf("accepted = %q, want %q", got[0].Evidence["accepted"], tt.accepted)
			}
			if tt.want > 0 && got[0].Device.IP != "192.168.1.20" {
				t.Errorf("device %v, want the LAN server", got[0].Device)
			}
			if inspecttest.Leaks(t, col.Events, "s3cret-Pass") {
				t.Error("password leaked into an event")
			}
		})
	}
}

// TestShortMultibyteSecretsHidden checks that a short user name or
// password in multi-byte characters reaches no event, not even as most
// of its redacted form.
func TestShortMultibyteSecretsHidden(t *testing.T) {
	for _, pass := range []string{"密码", "пар", "äöü"} {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:21")
		c.Server("220 x\r\n").Client("USER 管理\r\n").Server("331 ok\r\n").Client("PASS " + pass + "\r\n").Server("230 in\r\n")
		c.Close()
		e.Flush()
		if got := col.Kind(event.KindPlaintextCredentials); len(got) != 1 {
			t.Fatalf("%q: got %d logins, want 1", pass, len(got))
		}
		if inspecttest.Leaks(t, col.Events, pass) || inspecttest.Leaks(t, col.Events, string([]rune(pass)[:2])) || inspecttest.Leaks(t, col.Events, "管理") {
			t.Errorf("%q: the user or (most of) the password is in an event", pass)
		}
	}
}

// TestAnonymous checks that anonymous FTP (RFC 1635) is told as public
// access, low, with the e-mail address it sends as a password in no
// event, and that only its two user names count as anonymous.
func TestAnonymous(t *testing.T) {
	tests := []struct {
		user, pass string
		class      string
		severity   event.Severity
	}{
		{"anonymous", "owner@example.org", "anonymous", event.SeverityLow},
		{"ANONYMOUS", "owner@example.org", "anonymous", event.SeverityLow},
		{"ftp", "owner@example.org", "anonymous", event.SeverityLow},
		{"ftpuser", "owner@example.org", "unique", event.SeverityMedium},
		{"anonymous1", "owner@example.org", "unique", event.SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), server)
			s.Server("220 FTP ready\r\n").Client("USER " + tt.user + "\r\n").Server("331 ok\r\n").Client("PASS " + tt.pass + "\r\n").Server("230 in\r\n")
			col := s.End()
			got := col.Findings()
			if len(got) != 1 {
				t.Fatalf("findings %v, want one", evidence(got))
			}
			f := got[0]
			if f.Kind != event.KindPlaintextCredentials || f.Evidence["password_class"] != tt.class || f.Severity != tt.severity || f.Evidence["accepted"] != "yes" {
				t.Errorf("finding %s %s %v, want plaintext_credentials, class %s, severity %s", f.Kind, f.Severity, f.Evidence, tt.class, tt.severity)
			}
			if tt.class == "anonymous" {
				if _, ok := f.Evidence["password_hash"]; ok {
					t.Errorf("anonymous login hashed: %v", f.Evidence)
				}
				if !strings.Contains(f.Summary, "anonymous") {
					t.Errorf("summary %q does not say anonymous", f.Summary)
				}
			}
			if inspecttest.Leaks(t, col.Events, tt.pass) {
				t.Error("the anonymous password (an e-mail address) leaked into an event")
			}
		})
	}
}

// TestGreetingBanner checks that the banner is the greeting's text, the
// first line of a multi-line one without the "-" that continues it.
func TestGreetingBanner(t *testing.T) {
	tests := []struct {
		name, greeting, banner string
	}{
		{"one_line", "220 (vsFTPd 3.0.3)\r\n", "(vsFTPd 3.0.3)"},
		{"multi_line", "220-FileZilla Server 1.9.1\r\n220 Please visit https://filezilla-project.org/\r\n", "FileZilla Server 1.9.1"},
		{"code_alone", "220\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), server)
			s.Server(tt.greeting)
			banners := s.End().Kind(event.KindBanner)
			if len(banners) != 1 || banners[0].Evidence["banner"] != tt.banner {
				t.Fatalf("banners %v, want one %q", evidence(banners), tt.banner)
			}
		})
	}
}

// server is the FTP server of synthetic sessions.
const server = "198.51.100.7:21"

// TestGapResyncs checks that after lost client bytes the tail of the
// command line they cut is skipped, not read as a command: a tail that
// reads "USER x ..." does not replace the user, and the next whole line
// is read again. Its verdict is unknown: the lost bytes may have held
// whole commands, whose replies come first.
func TestGapResyncs(t *testing.T) {
	s := inspecttest.NewSession(t, New(), server)
	s.Server("220 FTP ready\r\n").Client("USER admin\r\n").Server("331 ok\r\n")
	f, a := s.Analyzer(t)
	a.Gap(f, inspect.ToServer)
	// The tail of a line whose start was lost, then a whole PASS line.
	a.Feed(f, inspect.ToServer, []byte("USER x s3cret-Pass\r\nPASS s3cret-Pass\r\n"))
	s.Server("230 in\r\n")
	col := s.End()
	got := col.Findings()
	if len(got) != 1 || got[0].Evidence["user"] != "a***" || got[0].Evidence["accepted"] != "unknown" {
		t.Fatalf("findings %v, want one for a***, its verdict unknown", evidence(got))
	}
	if inspecttest.Leaks(t, col.Events, "s3cret-Pass") {
		t.Error("password leaked into an event")
	}
}

// TestPipelinedLogins checks that each reply judges its own command's
// login when a client sends several logins before the first reply, and
// that a lost reply leaves the logins waiting for it unjudged.
func TestPipelinedLogins(t *testing.T) {
	const two = "USER admin\r\nPASS s3cret-Pass\r\nUSER root\r\nPASS s3cret-Pass\r\n"
	// More logins than wait at once: the first is reported early,
	// unjudged, and its reply judges no other.
	const five = "USER admin\r\nPASS s3cret-Pass\r\nUSER root\r\nPASS s3cret-Pass\r\nUSER guest\r\nPASS s3cret-Pass\r\n" +
		"USER operator\r\nPASS s3cret-Pass\r\nUSER service\r\nPASS s3cret-Pass\r\n"
	tests := []struct {
		name            string
		client, replies string
		gap             bool // server bytes lost before the replies
		want            []string
	}{
		{"in_order", two, "331 ok\r\n530 no\r\n331 ok\r\n230 in\r\n", false, []string{"a***:no", "r***:yes"}},
		{"lost_replies", two, "ok\r\n230 in\r\n", true, []string{"a***:unknown", "r***:unknown"}},
		// The queue is full after 14 NOOPs and the first login: the second
		// is reported at once, and the first keeps its own verdict.
		{"queue_full", strings.Repeat("NOOP\r\n", 14) + two, strings.Repeat("200 ok\r\n", 14) + "331 ok\r\n230 in\r\n331 ok\r\n530 no\r\n", false,
			[]string{"r***:unknown", "a***:yes"}},
		{"more_than_wait", five, strings.Repeat("331 ok\r\n230 in\r\n", 4) + "331 ok\r\n530 no\r\n", false,
			[]string{"a***:unknown", "r***:yes", "g***:yes", "op***:yes", "se***:no"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), server)
			s.Server("220 FTP ready\r\n").Client(tt.client)
			if tt.gap {
				f, a := s.Analyzer(t)
				a.Gap(f, inspect.ToClient)
			}
			s.Server(tt.replies)
			var got []string
			for _, ev := range s.End().Findings() {
				got = append(got, ev.Evidence["user"]+":"+ev.Evidence["accepted"])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("logins %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExchangeNoAllocs checks that a command and its reply cost no
// allocation.
func TestExchangeNoAllocs(t *testing.T) {
	s := inspecttest.NewSession(t, New(), server)
	s.Server("220 FTP ready\r\n").Client("USER admin\r\n")
	f, a := s.Analyzer(t)
	inspecttest.ExchangeNoAllocs(t, f, a, []byte("CWD /pub\r\n"), []byte("250 ok\r\n"))
	inspecttest.ExchangeNoAllocs(t, f, a, []byte("USER admin\r\n"), []byte("331 Please specify the password.\r\n"))
}

func FuzzAnalyzer(f *testing.F) {
	f.Add([]byte("220 FTP\r\n"), []byte("USER a\r\nPASS b\r\n"), []byte("230 ok\r\n"))
	f.Add([]byte(""), []byte("AUTH TLS\r\n"), []byte("\r\n"))
	f.Add([]byte("220 FTP\r\n"), []byte("USER joe2024x\r\nPASS s3cretPass9\r\n"), []byte("331 ok\r\n530 no\r\n"))
	f.Fuzz(func(t *testing.T, banner, cmds, reply []byte) {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:21")
		c.ServerBytes(banner).ClientBytes(cmds).ServerBytes(reply)
		c.Close()
		e.Flush()
		// One login at most per PASS command, or per USER that a 230
		// logs in without one, however mangled the input.
		upper := bytes.ToUpper(cmds)
		if got, max := len(col.Findings()), bytes.Count(upper, []byte("PASS"))+bytes.Count(upper, []byte("USER")); got > max {
			t.Fatalf("%d login findings from %d PASS and USER commands", got, max)
		}
		// A user or password reaches the events redacted or hashed.
		if w := inspecttest.LeakedWord(t, col.Events, cmds, banner, reply); w != "" {
			t.Fatalf("the client's %q in an event", w)
		}
	})
}

func evidence(evs []*event.Event) []event.Evidence {
	var out []event.Evidence
	for _, e := range evs {
		out = append(out, e.Evidence)
	}
	return out
}

// TestClientGapKeepsTheReplyFraming: client bytes lost while the server
// sends a multi-line reply do not make the reply's inner lines replies:
// "230 is another" inside HELP's answer is no verdict on a later PASS.
func TestClientGapKeepsTheReplyFraming(t *testing.T) {
	s := inspecttest.NewSession(t, New(), server)
	s.Server("220 FTP ready\r\n").Client("HELP\r\n").Server("214-Commands:\r\n")
	f, a := s.Analyzer(t)
	a.Gap(f, inspect.ToServer)
	s.Client("OOP\r\nUSER admin\r\nPASS s3cret-Pass\r\n").
		Server("530 is a reply code\r\n230 is another\r\n214 end\r\n331 ok\r\n530 no\r\n")
	got := s.End().Findings()
	if len(got) != 1 || got[0].Evidence["accepted"] == "yes" {
		t.Fatalf("findings %v, want one login not taken for accepted", evidence(got))
	}
}

// TestUserReplyDecides checks the logins whose fate the reply to USER
// settles: 230 logs the user in without a password (reported as an empty
// password, or an anonymous login, accepted), 530 refuses the user
// whatever the reply to the PASS that follows says ("230 Already logged
// in." is vsftpd's answer to a second user's PASS), and a PASS that
// follows no request for a password is no check of it. A PASS sent after
// a 230 to USER is taken as the login's password, as before.
func TestUserReplyDecides(t *testing.T) {
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []string // "user class accepted" of each login
	}{
		{"in_without_password", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("230 Login successful.\r\n").Client("PWD\r\n").Server("257 \"/\"\r\n")
		}, []string{"a*** empty yes"}},
		{"anonymous_without_password", func(c *inspecttest.Conv) {
			c.Server("220 (vsFTPd 3.0.3)\r\n").Client("USER anonymous\r\n").Server("230 Login successful.\r\n")
		}, []string{"an*** anonymous yes"}},
		{"pipelined_password_after_user_logged_in", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nPASS s3cret-Pass\r\n").Server("230 Login successful.\r\n230 Already logged in.\r\n")
		}, []string{"a*** unique yes"}},
		{"password_after_user_logged_in", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("230 USER OK\r\n").Client("PASS s3cret-Pass\r\n").Server("230 PASS OK\r\n")
		}, []string{"a*** unique yes"}},
		{"second_user_refused", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("331 Please specify the password.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n").
				Client("USER bob\r\n").Server("530 Can't change to another user.\r\n").
				Client("PASS other-Pass\r\n").Server("230 Already logged in.\r\n")
		}, []string{"a*** unique yes", "b*** unique no"}},
		{"user_refused_then_bad_sequence", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER root\r\n").Server("530 Permission denied.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("503 Login with USER first.\r\n")
		}, []string{"r*** unique no"}},
		{"second_password_without_user", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("331 Please specify the password.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n").
				Client("PASS other-Pass\r\n").Server("230 Already logged in.\r\n")
		}, []string{"a*** unique yes", "a*** unique unknown"}},
		{"user_not_understood", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("500 Unknown command.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("230 ok\r\n")
		}, []string{"a*** unique unknown"}},
		{"retry_after_refusal", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("331 ok\r\n").Client("PASS s3cret-Pass\r\n").Server("530 Login incorrect.\r\n").
				Client("USER admin\r\n").Server("331 ok\r\n").Client("PASS other-Pass\r\n").Server("230 Login successful.\r\n")
		}, []string{"a*** unique no", "a*** unique yes"}},
		// Two USERs sent before either reply: the server takes the last
		// before PASS as the user (vsftpd answers each with 331).
		{"two_users_pipelined", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER bob\r\n").Server("331 ok\r\n331 ok\r\n").
				Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, []string{"b*** unique yes"}},
		{"two_users_and_password_pipelined", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER bob\r\nPASS s3cret-Pass\r\n").
				Server("331 ok\r\n331 ok\r\n530 Login incorrect.\r\n")
		}, []string{"b*** unique no"}},
		{"two_users_pipelined_second_refused", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER root\r\n").Server("331 ok\r\n530 Permission denied.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("503 Login with USER first.\r\n")
		}, []string{"r*** unique no"}},
		{"two_users_pipelined_first_refused", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER root\r\nUSER bob\r\n").Server("530 Permission denied.\r\n331 ok\r\n").
				Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, []string{"b*** unique yes"}},
		// The 230 logs the first user in: the login without a password
		// is the first USER's, not the one sent after it.
		{"two_users_pipelined_first_in_without_password", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER bob\r\n").Server("230 Login successful.\r\n530 Can't change to another user.\r\n")
		}, []string{"a*** empty yes"}},
		// A 230 logs the first user in; the server then lets the client
		// change to another, whose PASS is that user's login, not the
		// first's password.
		{"in_without_password_then_another_user", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\n").Server("230 Login successful.\r\n").
				Client("USER bob\r\n").Server("331 Please specify the password.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, []string{"a*** empty yes", "b*** unique yes"}},
		{"in_without_password_then_another_user_pipelined", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER bob\r\n").
				Server("230 Login successful.\r\n331 Please specify the password.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("530 Login incorrect.\r\n")
		}, []string{"a*** empty yes", "b*** unique no"}},
		{"in_without_password_then_another_login_pipelined", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER bob\r\nPASS s3cret-Pass\r\n").
				Server("230 Login successful.\r\n331 Please specify the password.\r\n230 Login successful.\r\n")
		}, []string{"a*** empty yes", "b*** unique yes"}},
		// The same user sent again before the 230: the first login was
		// still made without a password.
		{"in_without_password_then_same_user_pipelined", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER admin\r\n").
				Server("230 Login successful.\r\n331 Please specify the password.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("530 Login incorrect.\r\n")
		}, []string{"a*** empty yes", "a*** unique no"}},
		// A 230 to the last USER, whose name was not kept: the PASS
		// after it is its login, reported once.
		{"unnamed_user_in_then_its_password", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER u1\r\nUSER u2\r\nUSER u3\r\nUSER u4\r\nUSER admin\r\n").
				Server(strings.Repeat("331 ok\r\n", 4) + "230 Login successful.\r\n").
				Client("PASS s3cret-Pass\r\n").Server("230 Already logged in.\r\n")
		}, []string{"a*** unique yes"}},
		// vsftpd 3.0.3's replies to these four commands sent at once.
		{"vsftpd_pipelined_second_user", func(c *inspecttest.Conv) {
			c.Server("220 (vsFTPd 3.0.3)\r\n").Client("USER anonymous\r\nPASS a@b\r\nUSER bob\r\nPASS s3cret-Pass\r\n").
				Server("331 Please specify the password.\r\n230 Login successful.\r\n530 Can't change from guest user.\r\n230 Already logged in.\r\n")
		}, []string{"an*** anonymous yes", "b*** unique no"}},
		// Past the names kept, a user logged in is not named at all
		// rather than after the USER sent last.
		{"users_beyond_the_names_kept", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER u1\r\nUSER u2\r\nUSER u3\r\nUSER u4\r\nUSER admin\r\nUSER bob\r\n").
				Server(strings.Repeat("331 ok\r\n", 4) + "230 Login successful.\r\n530 Can't change to another user.\r\n")
		}, []string{" empty yes"}},
		// The USERs whose replies were lost name no later login.
		{"users_before_lost_replies", func(c *inspecttest.Conv) {
			c.Server("220 x\r\n").Client("USER admin\r\nUSER root\r\n").Lose(inspect.ToClient, 16).Server("331 ok\r\n").
				Client("USER bob\r\n").Server("230 Login successful.\r\n")
		}, []string{"b*** empty unknown"}},
		{"joined_after_user", func(c *inspecttest.Conv) {
			c.Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, []string{" unique yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:21")
			tt.script(c)
			c.Close()
			e.Flush()
			var got []string
			for _, ev := range col.Findings() {
				got = append(got, ev.Evidence["user"]+" "+ev.Evidence["password_class"]+" "+ev.Evidence["accepted"])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("logins %q, want %q", got, tt.want)
			}
			if inspecttest.Leaks(t, col.Events, "s3cret-Pass") || inspecttest.Leaks(t, col.Events, "other-Pass") {
				t.Error("password leaked into an event")
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
	const greeting = "220 (vsFTPd 3.0.3)\r\n"
	tests := []struct {
		name string
		play func(c *inspecttest.Conv)
		want string // the login's verdict
	}{
		{"accepted", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER admin\r\n").Server("331 Please specify the password.\r\n").Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, "yes"},
		{"refused", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER admin\r\n").Server("331 Please specify the password.\r\n").Client("PASS s3cret-Pass\r\n").Server("530 Login incorrect.\r\n")
		}, "no"},
		{"pipelined", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER admin\r\n").Client("PASS s3cret-Pass\r\n").Server("331 Please specify the password.\r\n").Server("530 Login incorrect.\r\n")
		}, "no"},
		// The end of a multi-line greeting was lost: what follows is the
		// first reply, not more of the greeting.
		{"greeting_end_lost", func(c *inspecttest.Conv) {
			c.Server("220-Welcome\r\n").Lose(inspect.ToClient, len("220-Be nice\r\n220 ready\r\n"))
			c.Client("USER admin\r\n").Server("331 Please specify the password.\r\n").Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, "yes"},
		// The reply to USER was lost too: "230" may be USER's.
		{"user_reply_lost", func(c *inspecttest.Conv) {
			c.Lose(inspect.ToClient, len(greeting))
			c.Client("USER admin\r\n").Lose(inspect.ToClient, len("331 Please specify the password.\r\n"))
			c.Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, "unknown"},
		// The client spoke before the greeting came: the lost bytes were
		// sent after it, and may hold the reply to USER.
		{"client_spoke_first", func(c *inspecttest.Conv) {
			c.Client("USER admin\r\n").Lose(inspect.ToClient, len(greeting)+len("331 Please specify the password.\r\n"))
			c.Client("PASS s3cret-Pass\r\n").Server("230 Login successful.\r\n")
		}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), "192.168.1.20:21")
			tt.play(s.Conv)
			col := s.End()
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != 1 || got[0].Evidence["user"] != "a***" || got[0].Evidence["accepted"] != tt.want {
				t.Fatalf("logins %v, want one of a***, accepted %s", evidence(got), tt.want)
			}
			if inspecttest.Leaks(t, col.Events, "s3cret-Pass") {
				t.Error("password leaked into an event")
			}
		})
	}
}
