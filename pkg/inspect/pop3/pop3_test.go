package pop3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

type want struct {
	user, mechanism, class, accepted string
}

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
			logins := c.Kind(event.KindPlaintextCredentials)
			if len(logins) != len(tt.logins) || len(c.Findings()) != len(tt.logins) {
				t.Fatalf("got %d logins (%d findings), want %d: %v", len(logins), len(c.Findings()), len(tt.logins), c.Events)
			}
			for i, l := range logins {
				w, ev := tt.logins[i], l.Evidence
				if ev["protocol"] != "pop3" || ev["user"] != w.user || ev["mechanism"] != w.mechanism || ev["password_class"] != w.class || ev["accepted"] != w.accepted {
					t.Errorf("login %d: evidence %v, want %+v", i, ev, w)
				}
				if l.Device.IP != tt.device {
					t.Errorf("login %d is about %v, want %s", i, l.Device, tt.device)
				}
			}
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
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []want
	}{
		{"user_pass_accepted", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("USER joe@example.com\r\n").Server("+OK\r\n").Client("PASS s3cret-Pass\r\n").Server("+OK maildrop ready\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "yes"}}},
		{"user_pass_rejected", func(c *inspecttest.Conv) {
			c.Server(greeting).Client("USER joe@example.com\r\n").Server("+OK\r\n").Client("PASS s3cret-Pass\r\n").Server("-ERR invalid password\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "no"}}},
		{"user_pass_pipelined", func(c *inspecttest.Conv) {
			// RFC 2449 pipelining: the first +OK answers USER, the -ERR PASS.
			c.Server(greeting).Client("USER joe@example.com\r\nPASS s3cret-Pass\r\nSTAT\r\n").Server("+OK\r\n-ERR no\r\n").Server("-ERR not in transaction\r\n")
		}, []want{{"jo***", "USER/PASS", "unique", "no"}}},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "198.51.100.7:110")
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != len(tt.want) || len(col.Findings()) != len(tt.want) {
				t.Fatalf("got %d logins, want %d: %v", len(got), len(tt.want), col.Events)
			}
			for i, l := range got {
				w, ev := tt.want[i], l.Evidence
				if ev["user"] != w.user || ev["mechanism"] != w.mechanism || ev["password_class"] != w.class || ev["accepted"] != w.accepted {
					t.Errorf("login %d: evidence %v, want %+v", i, ev, w)
				}
			}
			for _, secret := range []string{"s3cret-Pass", "joe@example.com", "c4c9334bac560ecc979e58001b3e22fb"} {
				if inspecttest.Leaks(t, col.Events, secret) {
					t.Errorf("%q leaked into an event", secret)
				}
			}
		})
	}
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
	tests := []struct {
		name, greeting, class string
	}{
		{"timestamp_seen", "+OK camera POP3 " + ts + "\r\n", "default"},
		{"no_timestamp_unverifiable", "+OK camera POP3\r\n", "hashed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.30:110")
			c.Server(tt.greeting).Client("APOP root " + digest + "\r\n").Server("+OK\r\n")
			c.Close()
			e.Flush()
			f := col.Findings()
			if len(f) != 1 || f[0].Evidence["password_class"] != tt.class || f[0].Evidence["accepted"] != "yes" || f[0].Device.IP != "192.168.1.30" {
				t.Fatalf("want one accepted %s login about the server, got %v", tt.class, col.Events)
			}
			if inspecttest.Leaks(t, col.Events, "xc3511") || inspecttest.Leaks(t, col.Events, digest) {
				t.Error("secret leaked")
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		server string
		dir    inspect.Dir
		data   string
		want   inspect.Confidence
	}{
		{"greeting_on_110", "198.51.100.7:110", inspect.ToClient, "+OK Dovecot ready.\r\n", inspect.ContentMatch},
		{"greeting_off_port", "198.51.100.7:1110", inspect.ToClient, "+OK POP3 ready\r\n", inspect.ContentMatch},
		{"apop_greeting_off_port", "198.51.100.7:1110", inspect.ToClient, "+OK ready <1.2@host>\r\n", inspect.ContentMatch},
		{"redis_ok_off_port", "198.51.100.7:6379", inspect.ToClient, "+OK\r\n", inspect.NoMatch},
		{"user_on_110", "198.51.100.7:110", inspect.ToServer, "USER joe\r\n", inspect.ContentMatch},
		{"capa_on_110", "198.51.100.7:110", inspect.ToServer, "CAPA\r\n", inspect.ContentMatch},
		{"user_off_port", "198.51.100.7:2110", inspect.ToServer, "USER joe\r\n", inspect.NoMatch},
		{"http_on_110", "198.51.100.7:110", inspect.ToServer, "GET / HTTP/1.1\r\n", inspect.PortMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &inspecttest.MatchProbe{Protocol: New()}
			e := inspecttest.Engine(t, &inspecttest.Collector{}, nil, p)
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", tt.server)
			if tt.dir == inspect.ToServer {
				c.Client(tt.data)
			} else {
				c.Server(tt.data)
			}
			if p.Got != tt.want {
				t.Errorf("Match = %v, want %v", p.Got, tt.want)
			}
		})
	}
}

// bodySegment is a segment of a retrieved message without the terminator.
const bodySegment = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n" +
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud\r\n"

// inRETR returns a POP3 flow whose server is sending a message.
func inRETR(tb testing.TB) *inspecttest.Probe {
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(tb, &inspecttest.Collector{}, nil, p)
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "198.51.100.7:110")
	c.Server(greeting).Client("USER joe\r\nPASS s3cret-Pass\r\n").Server("+OK\r\n+OK\r\n").
		Client("RETR 1\r\n").Server("+OK 99999 octets\r\n")
	if _, a := p.Last(); a == nil {
		tb.Fatal("no analyzer")
	}
	return p
}

func TestRETRNoAllocs(t *testing.T) {
	f, a := inRETR(t).Last()
	seg := []byte(bodySegment)
	allocs := testing.AllocsPerRun(200, func() {
		if a.Feed(f, inspect.ToClient, seg) != len(seg) {
			t.Fatal("body not consumed")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per body segment", allocs)
	}
}

func TestCommandNoAllocs(t *testing.T) {
	f, a := inRETR(t).Last()
	a.Feed(f, inspect.ToClient, []byte(".\r\n"))
	cmd, reply := []byte("STAT\r\n"), []byte("+OK 2 320\r\n")
	allocs := testing.AllocsPerRun(200, func() {
		a.Feed(f, inspect.ToServer, cmd)
		a.Feed(f, inspect.ToClient, reply)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per command and reply", allocs)
	}
}

func BenchmarkRETRBody(b *testing.B) {
	f, a := inRETR(b).Last()
	seg := []byte(bodySegment)
	b.ReportAllocs()
	b.SetBytes(int64(len(seg)))
	for b.Loop() {
		a.Feed(f, inspect.ToClient, seg)
	}
}

func FuzzAnalyzer(f *testing.F) {
	f.Add([]byte(greeting), []byte("USER a\r\nPASS b\r\n"), []byte("+OK\r\n+OK\r\n"))
	f.Add([]byte(greeting), []byte("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"), []byte("-ERR\r\n"))
	f.Add([]byte("+OK\r\n"), []byte("AUTH LOGIN\r\n"+b64("joe")+"\r\n"+b64("pw")+"\r\n"), []byte("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n"))
	f.Add([]byte("+OK\r\n"), []byte("RETR 1\r\nLIST\r\nSTLS\r\n"), []byte("+OK\r\nx\r\n.\r\n+OK\r\n.\r\n+OK\r\n"))
	f.Fuzz(func(t *testing.T, banner, cmds, reply []byte) {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "198.51.100.7:110")
		c.ServerBytes(banner).ClientBytes(cmds).ServerBytes(reply)
		c.Close()
		e.Flush()
		// At most one login per client line, however mangled the input.
		if got, max := len(col.Findings()), bytes.Count(cmds, []byte("\n"))+1; got > max {
			t.Fatalf("%d findings from %d client lines", got, max)
		}
		if len(col.Kind(event.KindBanner)) > 1 {
			t.Fatal("more than one banner")
		}
	})
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
			col := &inspecttest.Collector{}
			p := &inspecttest.Probe{Protocol: New()}
			e := inspecttest.Engine(t, col, nil, p)
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "198.51.100.7:110")
			c.Server(greeting).Client("USER joe\r\nPASS s3cret-Pass\r\n")
			f, a := p.Last()
			a.Gap(f, tt.dir)
			a.Feed(f, tt.dir, []byte(tt.after))
			c.Server("+OK\r\n")
			c.Close()
			e.Flush()
			got := col.Findings()
			if len(got) != 1 || got[0].Evidence["accepted"] != tt.want {
				t.Fatalf("findings %v, want one with accepted %s", col.Events, tt.want)
			}
		})
	}
}
