package sip

import (
	"bytes"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func TestCorpusWireshark(t *testing.T) {
	c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "zeek-sip-wireshark.pcap"), nil, New())
	if err != nil {
		t.Fatal(err)
	}
	logins := c.Kind(event.KindPlaintextCredentials)
	if len(logins) != 12 {
		t.Fatalf("got %d logins, want 12 (voi18063 twice, voi18062 ten times): %v", len(logins), evidences(logins))
	}
	// Per attempt, in capture order: REGISTER 69 403, 71 401, 73 401,
	// 75 200, INVITE 403, REGISTER 77 401, 79 401, 2 200, 4 401, INVITE
	// 403, INVITE 480 (past authentication, but not a verdict), REGISTER 6
	// 200.
	wantAccepted := []string{"no", "no", "no", "yes", "no", "no", "no", "yes", "no", "no", "unknown", "yes"}
	for i, l := range logins {
		ev := l.Evidence
		if ev["protocol"] != "sip" || ev["mechanism"] != "Digest" || ev["password_class"] != "hashed" || ev["user"] != "vo***" {
			t.Errorf("login %d: evidence %v", i, ev)
		}
		if ev["accepted"] != wantAccepted[i] {
			t.Errorf("login %d: accepted %q, want %q", i, ev["accepted"], wantAccepted[i])
		}
		if l.Device.IP != "192.168.1.2" {
			t.Errorf("login %d about %v, want the phone on the LAN", i, l.Device)
		}
		if _, ok := ev["password_hash"]; ok {
			t.Errorf("login %d: a Digest login has no password to hash: %v", i, ev)
		}
	}
	if n := len(c.Findings()); n != 12 {
		t.Errorf("%d findings, want only the 12 logins", n)
	}
	var agents int
	for _, b := range c.Kind(event.KindBanner) {
		if b.Evidence["banner"] == "Nero SIPPS IP Phone Version 2.0.51.16" && b.Evidence["header"] == "User-Agent" {
			agents++
			if b.Device.IP != "192.168.1.2" {
				t.Errorf("user agent banner about %v, want the phone", b.Device)
			}
		}
	}
	if agents == 0 {
		t.Errorf("no User-Agent banner for the phone: %v", evidences(c.Kind(event.KindBanner)))
	}
}

func TestCorpusSSDPIsNotSIP(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	if err := inspecttest.RunFileInto(inspecttest.CorpusFile(t, "sv-sip-ssdp-pm-ssdp.pcap"), e); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	if len(col.Events) != 0 {
		t.Errorf("SSDP produced SIP events: %v", evidences(col.Events))
	}
	if e.Stats.Unidentified != 1 {
		t.Errorf("unidentified flows = %d, want the SSDP flow", e.Stats.Unidentified)
	}
}

func evidences(evs []*event.Event) []event.Evidence {
	out := make([]event.Evidence, len(evs))
	for i, e := range evs {
		out[i] = e.Evidence
	}
	return out
}

// A REGISTER exchange in the shape of RFC 3261 section 10 and the corpus
// phone: challenged, then sent with Digest for voi18062 / 1234.
const (
	register = "REGISTER sip:sip.cybercity.dk SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.168.1.2;branch=z9hG4bKnp1\r\n" +
		"From: <sip:voi18062@sip.cybercity.dk>;tag=1\r\nTo: <sip:voi18062@sip.cybercity.dk>\r\n" +
		"Call-ID: 578222729-4665d775@578222732-4665d772\r\n"
	challenge = "SIP/2.0 401 Unauthorized\r\nCall-ID: 578222729-4665d775@578222732-4665d772\r\nCSeq: 68 REGISTER\r\n" +
		"WWW-Authenticate: Digest realm=\"sip.cybercity.dk\",nonce=\"1701af566be182070084c6f740706bb\",stale=false,algorithm=MD5\r\nContent-Length: 0\r\n\r\n"
	digest = "Authorization: Digest username=\"voi18062\",realm=\"sip.cybercity.dk\",uri=\"sip:192.168.1.2\",nonce=\"1701af566be182070084c6f740706bb\",opaque=\"1701a1351f70795\",nc=\"00000001\",response=\"397a7781e627ff0a8f94195c18d7909f\"\r\n"
	agent  = "User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n"
)

func ok(cseq string) string {
	return "SIP/2.0 200 OK\r\nCall-ID: 578222729-4665d775@578222732-4665d772\r\nCSeq: " + cseq + " REGISTER\r\nServer: Asterisk PBX 18.0\r\nContent-Length: 0\r\n\r\n"
}

func TestSyntheticLogins(t *testing.T) {
	tests := []struct {
		name     string
		tcp      bool
		script   func(c *inspecttest.Conv)
		accepted []string
	}{
		{"register_challenged_then_accepted", false, func(c *inspecttest.Conv) {
			c.Client(register + "CSeq: 68 REGISTER\r\n" + agent + "Content-Length: 0\r\n\r\n").Server(challenge).
				Client(register + "CSeq: 69 REGISTER\r\n" + digest + agent + "Content-Length: 0\r\n\r\n").
				Server("SIP/2.0 100 Trying\r\nCall-ID: 578222729-4665d775@578222732-4665d772\r\nCSeq: 69 REGISTER\r\n\r\n").
				Server(ok("69"))
		}, []string{"yes"}},
		{"wrong_password_403", false, func(c *inspecttest.Conv) {
			c.Client(register + "CSeq: 69 REGISTER\r\n" + digest + "\r\n").
				Server("SIP/2.0 403 Wrong password\r\nCall-ID: 578222729-4665d775@578222732-4665d772\r\nCSeq: 69 REGISTER\r\n\r\n")
		}, []string{"no"}},
		{"stale_nonce_is_unknown", false, func(c *inspecttest.Conv) {
			c.Client(register + "CSeq: 69 REGISTER\r\n" + digest + "\r\n").
				Server(strings.Replace(strings.Replace(challenge, "68", "69", 1), "stale=false", "stale=TRUE", 1))
		}, []string{"unknown"}},
		{"retransmission_counts_once", false, func(c *inspecttest.Conv) {
			req := register + "CSeq: 69 REGISTER\r\n" + digest + "\r\n"
			c.Client(req).Client(req).Client(req).Server(ok("69"))
		}, []string{"yes"}},
		{"other_call_does_not_answer", false, func(c *inspecttest.Conv) {
			c.Client(register + "CSeq: 69 REGISTER\r\n" + digest + "\r\n").
				Server(strings.Replace(ok("69"), "578222729-4665d775", "other", 1))
		}, []string{"unknown"}},
		{"invite_proxy_authorization_407", false, func(c *inspecttest.Conv) {
			body := "v=0\r\no=- 1 1 IN IP4 192.168.1.2\r\ns=-\r\n"
			c.Client("INVITE sip:0097239287044@sip.cybercity.dk SIP/2.0\r\nCall-ID: abc@192.168.1.2\r\nCSeq: 2 INVITE\r\n" +
				strings.Replace(digest, "Authorization", "Proxy-Authorization", 1) + "Content-Type: application/sdp\r\nContent-Length: 38\r\n\r\n" + body).
				Server("SIP/2.0 407 Proxy Authentication Required\r\nCall-ID: abc@192.168.1.2\r\nCSeq: 2 INVITE\r\n\r\n")
		}, []string{"no"}},
		{"proxy_and_registrar_judge_their_own_logins", false, func(c *inspecttest.Conv) {
			// A 407 is the proxy's refusal: the registrar never saw the
			// Authorization header; a 401 says nothing of the proxy's.
			proxy := strings.Replace(digest, "Authorization", "Proxy-Authorization", 1)
			c.Client("INVITE sip:100@pbx SIP/2.0\r\nCall-ID: p1\r\nCSeq: 2 INVITE\r\n" + digest + "Content-Length: 0\r\n\r\n").
				Server("SIP/2.0 407 Proxy Authentication Required\r\nCall-ID: p1\r\nCSeq: 2 INVITE\r\n\r\n").
				Client("INVITE sip:100@pbx SIP/2.0\r\nCall-ID: p1\r\nCSeq: 3 INVITE\r\n" + proxy + "Content-Length: 0\r\n\r\n").
				Server("SIP/2.0 401 Unauthorized\r\nCall-ID: p1\r\nCSeq: 3 INVITE\r\n\r\n")
		}, []string{"unknown", "unknown"}},
		{"compact_headers_no_final_crlf", false, func(c *inspecttest.Conv) {
			c.Client("REGISTER sip:pbx SIP/2.0\ni: c1\nCSeq: 5 REGISTER\n" + digest + "l: 0").
				Server("SIP/2.0 200 OK\ni: c1\nCSeq: 5 REGISTER\nl: 0")
		}, []string{"yes"}},
		{"sipfrag_body_is_not_a_response", false, func(c *inspecttest.Conv) {
			c.Client(register + "CSeq: 69 REGISTER\r\n" + digest + "\r\n").
				Server("NOTIFY sip:phone SIP/2.0\r\nCall-ID: 578222729-4665d775@578222732-4665d772\r\nContent-Type: message/sipfrag\r\nContent-Length: 80\r\n\r\n" +
					"SIP/2.0 200 OK\r\nCall-ID: 578222729-4665d775@578222732-4665d772\r\nCSeq: 69 REGISTER\r\n\r\n")
		}, []string{"unknown"}},
		{"request_from_server_side", false, func(c *inspecttest.Conv) {
			c.Server("OPTIONS sip:phone@192.168.1.2 SIP/2.0\r\nCall-ID: k1\r\nCSeq: 1 OPTIONS\r\n" + digest + "\r\n").
				Client("SIP/2.0 200 OK\r\nCall-ID: k1\r\nCSeq: 1 OPTIONS\r\n\r\n")
		}, []string{"yes"}},
		{"cancel_answer_does_not_settle_the_invite", false, func(c *inspecttest.Conv) {
			// A 200 to CANCEL, which shares the INVITE's CSeq number,
			// says nothing about the INVITE's credentials.
			c.Client("INVITE sip:100@pbx SIP/2.0\r\nCall-ID: c9\r\nCSeq: 2 INVITE\r\n" + digest + "Content-Length: 0\r\n\r\n").
				Server("SIP/2.0 100 Trying\r\nCall-ID: c9\r\nCSeq: 2 INVITE\r\n\r\n").
				Client("CANCEL sip:100@pbx SIP/2.0\r\nCall-ID: c9\r\nCSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n").
				Server("SIP/2.0 200 OK\r\nCall-ID: c9\r\nCSeq: 2 CANCEL\r\n\r\n").
				Server("SIP/2.0 401 Unauthorized\r\nCall-ID: c9\r\nCSeq: 2 INVITE\r\n\r\n")
		}, []string{"no"}},
		{"cancel_with_a_login_is_no_retransmission", false, func(c *inspecttest.Conv) {
			c.Client("INVITE sip:100@pbx SIP/2.0\r\nCall-ID: c8\r\nCSeq: 2 INVITE\r\n" + digest + "Content-Length: 0\r\n\r\n").
				Client("CANCEL sip:100@pbx SIP/2.0\r\nCall-ID: c8\r\nCSeq: 2 CANCEL\r\n" + digest + "Content-Length: 0\r\n\r\n").
				Server("SIP/2.0 200 OK\r\nCall-ID: c8\r\nCSeq: 2 CANCEL\r\n\r\n").
				Server("SIP/2.0 401 Unauthorized\r\nCall-ID: c8\r\nCSeq: 2 INVITE\r\n\r\n")
		}, []string{"yes", "no"}},
		{"response_in_the_same_direction_does_not_answer", false, func(c *inspecttest.Conv) {
			c.Client(register + "CSeq: 69 REGISTER\r\n" + digest + "\r\n").Client(ok("69"))
		}, []string{"unknown"}},
		{"tcp_with_bodies_split", true, func(c *inspecttest.Conv) {
			body := "v=0\r\ns=-\r\n"
			msg := "INVITE sip:100@pbx SIP/2.0\r\nCall-ID: t1\r\nCSeq: 3 INVITE\r\n" + digest + "Content-Length: 11\r\n\r\n" + body
			c.Client(msg[:30]).Client(msg[30:200]).Client(msg[200:]).
				Server("SIP/2.0 100 Trying\r\nCall-ID: t1\r\nCSeq: 3 INVITE\r\nContent-Length: 0\r\n\r\nSIP/2.0 200 OK\r\nCall-ID: t1\r\nCSeq: 3 INVITE\r\nContent-Length: 11\r\n\r\n" + body)
		}, []string{"yes"}},
		{"tcp_one_char_per_segment", true, func(c *inspecttest.Conv) {
			c.ClientChars("\r\n\r\nREGISTER sip:pbx SIP/2.0\r\nCall-ID: t2\r\nCSeq: 1 REGISTER\r\n" + digest + "Content-Length: 0\r\n\r\n").
				Server("SIP/2.0 401 Unauthorized\r\nCall-ID: t2\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")
		}, []string{"no"}},
		{"tcp_no_response", true, func(c *inspecttest.Conv) {
			c.Client("REGISTER sip:pbx SIP/2.0\r\nCall-ID: t3\r\nCSeq: 1 REGISTER\r\n" + digest)
		}, []string{"unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			var c *inspecttest.Conv
			if tt.tcp {
				c = inspecttest.NewTCP(e, "192.168.1.2:5060", "212.242.33.35:5060")
			} else {
				c = inspecttest.NewUDP(e, "192.168.1.2:5060", "212.242.33.35:5060")
			}
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != len(tt.accepted) {
				t.Fatalf("got %d logins, want %d: %v", len(got), len(tt.accepted), evidences(got))
			}
			for i, want := range tt.accepted {
				if ev := got[i].Evidence; ev["accepted"] != want || ev["user"] != "vo***" || ev["password_class"] != "hashed" {
					t.Errorf("login %d: %v, want accepted %s", i, ev, want)
				}
			}
			if inspecttest.Leaks(t, col.Events, "czNjcmV0LVBhc3M") {
				t.Error("credential leaked")
			}
		})
	}
}

// TestLoginFiledAgainstTheChecker: a login is about the LAN device that
// checks it, the end the request went to, whichever end of the flow that
// is. Over UDP the flow's client is whoever spoke first; a PBX that sent
// OPTIONS before the phone's REGISTER is the flow's client, and the
// finding is still about the PBX. On TCP a PBX may send its own requests
// back over the phone's connection (RFC 5923): their credentials are the
// phone's to check, also when the headers are cut short by a loss or the
// end of the connection.
func TestLoginFiledAgainstTheChecker(t *testing.T) {
	const pbx, phone = "192.168.1.1", "192.168.1.50"
	cut := "REGISTER sip:pbx SIP/2.0\r\nCall-ID: t9\r\nCSeq: 1 REGISTER\r\n" + digest
	tests := []struct {
		name           string
		tcp            bool
		client, server string
		script         func(c *inspecttest.Conv)
		device         string
		accepted       string
	}{
		{"answered_request_from_the_flow_server_over_udp", false, pbx + ":5060", phone + ":5060", func(c *inspecttest.Conv) {
			c.Client("OPTIONS sip:phone@192.168.1.50 SIP/2.0\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").
				Server("SIP/2.0 200 OK\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n\r\n").
				Server(register + "CSeq: 69 REGISTER\r\n" + digest + "Content-Length: 0\r\n\r\n").
				Client(ok("69"))
		}, pbx, "yes"},
		{"request_from_the_client_cut_by_the_end", true, phone + ":40000", pbx + ":5060", func(c *inspecttest.Conv) {
			c.Client(cut)
		}, pbx, "unknown"},
		{"request_from_the_server_cut_by_the_end", true, phone + ":40000", pbx + ":5060", func(c *inspecttest.Conv) {
			c.Server(cut)
		}, phone, "unknown"},
		{"request_from_the_server_cut_by_a_loss", true, phone + ":40000", pbx + ":5060", func(c *inspecttest.Conv) {
			c.Server(cut).Lose(inspect.ToClient, 40).Server("Content-Length: 0\r\n\r\n")
		}, phone, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewUDP(e, tt.client, tt.server)
			if tt.tcp {
				c = inspecttest.NewTCP(e, tt.client, tt.server)
			}
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != 1 || got[0].Device.IP != tt.device || got[0].Evidence["accepted"] != tt.accepted {
				t.Fatalf("logins %v about %v, want one about %s, accepted %s", evidences(got), devices(got), tt.device, tt.accepted)
			}
		})
	}
}

func devices(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Device.IP
	}
	return out
}

// defaultsClassifier knows one default password and tries it through
// Verify, as the real classifier does.
type defaultsClassifier struct{ password string }

func (d defaultsClassifier) Classify(l *inspect.Login) (inspect.PasswordClass, inspect.DefaultMatch) {
	if l.Verify != nil && l.Verify([]byte(d.password)) {
		return inspect.ClassDefault, inspect.DefaultMatch{Source: "test"}
	}
	return "", inspect.DefaultMatch{}
}

func TestDigestDefaultPassword(t *testing.T) {
	for _, tt := range []struct {
		password string
		kind     event.Kind
	}{{"1234", event.KindDefaultCredentials}, {"0000", event.KindPlaintextCredentials}} {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, defaultsClassifier{tt.password}, New())
		c := inspecttest.NewUDP(e, "192.168.1.2:5060", "212.242.33.35:5060")
		c.Client(register + "CSeq: 69 REGISTER\r\n" + digest + "\r\n").Server(ok("69"))
		e.Flush()
		f := col.Findings()
		if len(f) != 1 || f[0].Kind != tt.kind || f[0].Evidence["accepted"] != "yes" {
			t.Errorf("password %s: findings %v, want one %s", tt.password, evidences(f), tt.kind)
		}
		if inspecttest.Leaks(t, col.Events, "1234") {
			t.Error("password leaked")
		}
	}
}

func TestBanners(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewUDP(e, "192.168.1.2:5060", "212.242.33.35:5060")
	c.Client(register + "CSeq: 68 REGISTER\r\n" + agent + "\r\n").Server(ok("68")).
		Client(register + "CSeq: 69 REGISTER\r\nUser-Agent: other\r\n\r\n").Server(ok("69"))
	e.Flush()
	b := col.Kind(event.KindBanner)
	if len(b) != 2 {
		t.Fatalf("banners %v, want the phone's User-Agent and the PBX's Server once each", evidences(b))
	}
	if b[0].Evidence["banner"] != "Nero SIPPS IP Phone Version 2.0.51.16" || b[0].Evidence["header"] != "User-Agent" || b[0].Device.IP != "192.168.1.2" || b[0].Evidence["protocol"] != "sip" {
		t.Errorf("first banner %v about %v", b[0].Evidence, b[0].Device)
	}
	if b[1].Evidence["banner"] != "Asterisk PBX 18.0" || b[1].Evidence["header"] != "Server" || b[1].Device.IP != "212.242.33.35" {
		t.Errorf("second banner %v about %v", b[1].Evidence, b[1].Device)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		port    string
		payload string
		want    inspect.Confidence
	}{
		{"register", "5060", "REGISTER sip:pbx SIP/2.0\r\n", inspect.ContentMatch},
		{"options_other_port", "5080", "OPTIONS sip:a@b SIP/2.0\r\n", inspect.ContentMatch},
		{"tel_uri", "5080", "INVITE tel:+4512345678 SIP/2.0\r\n", inspect.ContentMatch},
		{"incomplete_line", "5080", "INVITE sip:a@very.long.host", inspect.ContentMatch},
		{"status", "5080", "SIP/2.0 200 OK\r\n", inspect.ContentMatch},
		{"ssdp_notify", "1900", "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n", inspect.NoMatch},
		{"ssdp_msearch", "1900", "M-SEARCH * HTTP/1.1\r\n", inspect.NoMatch},
		{"notify_with_http_version", "5060", "NOTIFY sip:x HTTP/1.1\r\n", inspect.PortMatch},
		{"http_get", "80", "GET / HTTP/1.1\r\n", inspect.NoMatch},
		{"keepalive_on_port", "5060", "\r\n\r\n", inspect.PortMatch},
		{"binary_on_port", "5060", "\x00\x01\x00\x00", inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspecttest.FirstMatch(t, New(), false, "192.168.1.2:40000", "192.168.1.1:"+tt.port, inspect.ToServer, []byte(tt.payload))
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// An OPTIONS keep-alive and its answer, as phones send every few seconds.
var (
	keepAlive      = []byte("OPTIONS sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.2\r\nCall-ID: ka@192.168.1.2\r\nCSeq: 7 OPTIONS\r\nUser-Agent: phone/1.0\r\nContent-Length: 0\r\n\r\n")
	keepAliveReply = []byte("SIP/2.0 200 OK\r\nCall-ID: ka@192.168.1.2\r\nCSeq: 7 OPTIONS\r\nServer: pbx\r\nContent-Length: 0\r\n\r\n")
)

// newKeepAlive starts a phone's conversation with its PBX and returns
// the keep-alive exchange, made once. Fed byte slices, the conversation
// allocates nothing of its own: allocation counts are the engine's and the
// analyzer's alone.
func newKeepAlive(t testing.TB) (exchange func()) {
	c := inspecttest.NewUDP(inspecttest.Engine(t, &inspecttest.Collector{}, nil, New()), "192.168.1.2:5060", "192.168.1.1:5060")
	exchange = func() { c.ClientBytes(keepAlive).ServerBytes(keepAliveReply) }
	exchange()
	return exchange
}

func TestSteadyStateAllocs(t *testing.T) {
	if allocs := testing.AllocsPerRun(200, newKeepAlive(t)); allocs != 0 {
		t.Errorf("%v allocs per keep-alive exchange, want 0", allocs)
	}
}

func BenchmarkKeepAlive(b *testing.B) {
	exchange := newKeepAlive(b)
	b.ReportAllocs()
	for b.Loop() {
		exchange()
	}
}

func FuzzMessages(f *testing.F) {
	f.Add([]byte(register+"CSeq: 69 REGISTER\r\n"+digest+"\r\n"), []byte(ok("69")), false, uint8(0))
	f.Add([]byte("INVITE sip:a SIP/2.0\r\nl: 5\r\ni: x\r\n\r\nv=0\r\n"), []byte(challenge), true, uint8(3))
	// One engine per fuzz worker: Flush closes every flow between inputs,
	// and building a flow table per input would dominate the run time.
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(f, col, nil, New())
	f.Fuzz(func(t *testing.T, client, server []byte, tcp bool, seg uint8) {
		col.Events = nil
		var c *inspecttest.Conv
		if tcp {
			c = inspecttest.NewTCP(e, "192.168.1.2:5060", "192.168.1.1:5060")
		} else {
			c = inspecttest.NewUDP(e, "192.168.1.2:5060", "192.168.1.1:5060")
		}
		all := append(append([]byte(nil), client...), server...)
		inspecttest.Interleave(c, client, server, int(seg%32)+1)
		c.Close()
		e.Flush()
		// One login at most per Authorization header.
		limit := bytes.Count(bytes.ToUpper(all), []byte("AUTHORIZATION"))
		if got := len(col.Findings()); got > limit {
			t.Fatalf("%d logins from %d Authorization headers", got, limit)
		}
	})
}

// TestParseDecimal: a value past max is refused, not wrapped or cut (int
// is 32 bits on MIPS and ARM routers).
func TestParseDecimal(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int64
		want int64
	}{
		{"0", 1 << 30, 0},
		{"1234", 1 << 30, 1234},
		{"1073741824", 1 << 30, 1 << 30},
		{"1073741825", 1 << 30, -1},
		{"4294967296", 1 << 30, -1},
		{"99999999999999999999999", 1 << 30, -1},
		{"12a", 1 << 30, -1},
		{"", 1 << 30, -1},
	} {
		if got := parseDecimal([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("parseDecimal(%q, %d) = %d, want %d", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestBasicReported: Basic is forbidden in SIP (RFC 3261 section 22.1),
// but a phone that sends it sent its password in clear all the same; the
// PBX's answer says whether it took it.
func TestBasicReported(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewUDP(e, "192.168.1.2:5060", "212.242.33.35:5060")
	c.Client("REGISTER sip:pbx SIP/2.0\r\nCall-ID: b\r\nCSeq: 1 REGISTER\r\nAuthorization: Basic YWRtaW46czNjcmV0LVBhc3M=\r\n\r\n").
		Server("SIP/2.0 200 OK\r\nCall-ID: b\r\nCSeq: 1 REGISTER\r\n\r\n")
	e.Flush()
	got := col.Kind(event.KindPlaintextCredentials)
	if len(got) != 1 {
		t.Fatalf("got %d logins, want 1: %v", len(got), evidences(got))
	}
	if ev := got[0].Evidence; ev["mechanism"] != "Basic" || ev["user"] != "a***" || ev["password_class"] != "unique" || ev["accepted"] != "yes" {
		t.Errorf("login %v, want Basic, a***, unique, accepted yes", ev)
	}
	if inspecttest.Leaks(t, col.Events, "s3cret-Pass") {
		t.Error("the password leaked")
	}
}
