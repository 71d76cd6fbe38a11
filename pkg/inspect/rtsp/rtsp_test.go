package rtsp

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

const (
	url = "rtsp://192.168.1.64:554/Streaming/Channels/101"
	// Digest for admin / 12345 in realm "IP Camera" with nonce abc123 on
	// DESCRIBE of url, computed per RFC 2617 without qop, as cameras do.
	digestAuth = `Authorization: Digest username="admin", realm="IP Camera", nonce="abc123", uri="` + url + `", response="5e0e9fcb13e4051da1227f56a71a51ef"` + "\r\n"
	// b64 of "admin:s3cret-Pass" and "root:s3cret-Pass".
	basicAdmin = "YWRtaW46czNjcmV0LVBhc3M="
	basicRoot  = "cm9vdDpzM2NyZXQtUGFzcw=="
	secret     = "s3cret-Pass"
)

// A DESCRIBE without credentials and the camera's challenge: it demands
// credentials for the stream's directory. A 2xx to credentials says they
// were taken only where the camera demands them.
const challenge = "DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 100\r\nAccept: application/sdp\r\n\r\n"
const challenge401 = "RTSP/1.0 401 Unauthorized\r\nCSeq: 100\r\nWWW-Authenticate: Basic realm=\"IP Camera\"\r\n\r\n"

// challenged opens c with the camera's challenge.
func challenged(c *inspecttest.Conv) *inspecttest.Conv {
	return c.Client(challenge).Server(challenge401)
}

var sdp = "v=0\r\no=- 1 1 IN IP4 192.168.1.64\r\ns=Media Presentation\r\nm=video 0 RTP/AVP 96\r\na=control:trackID=1\r\n"

// cameraSession is a VLC-to-camera session in the shape of RFC 2326
// appendix D: OPTIONS, a challenged DESCRIBE, the DESCRIBE again with
// Digest credentials, SETUP over interleaved TCP, PLAY, media, TEARDOWN.
func cameraSession(c *inspecttest.Conv) {
	c.Client("OPTIONS " + url + " RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)\r\n\r\n").
		Server("RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, SET_PARAMETER, GET_PARAMETER\r\n\r\n").
		Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n").
		Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm=\"IP Camera\", nonce=\"abc123\", stale=\"FALSE\"\r\nServer: Rtsp Server/3.0\r\n\r\n").
		Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 3\r\n" + digestAuth + "Accept: application/sdp\r\n\r\n").
		Server("RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp).
		Client("SETUP " + url + "/trackID=1 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n").
		Server("RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 12345678;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n").
		Client("PLAY " + url + " RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n").
		Server("RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n" +
			"$\x00\x00\x14" + "RTSP/1.0 401 Nope\r\n\n" + "$\x01\x00\x02\x80\xc8").
		Server("$\x00\x01").Server("\x00" + string(make([]byte, 256))).
		Client("$\x01\x00\x04\x81\xc9\x00\x01").
		Client("TEARDOWN " + url + " RTSP/1.0\r\nCSeq: 6\r\nSession: 12345678\r\n\r\n").
		Server("RTSP/1.0 200 OK\r\nCSeq: 6\r\n\r\n")
}

// converse runs script on a connection from a client to a camera's RTSP
// port, closed after, and returns what the analyzer reported.
func converse(t *testing.T, script func(*inspecttest.Conv)) *inspecttest.Collector {
	t.Helper()
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewTCP(e, "192.168.1.10:50000", "192.168.1.64:554")
	script(c)
	c.Close()
	e.Flush()
	return col
}

func TestCameraSession(t *testing.T) {
	col := converse(t, cameraSession)
	logins := col.Kind(event.KindPlaintextCredentials)
	if len(logins) != 1 {
		t.Fatalf("got %d logins, want 1: %v", len(logins), evidences(logins))
	}
	want := event.Evidence{"protocol": "rtsp", "mechanism": "Digest", "user": "a***", "password_class": "hashed", "accepted": "yes"}
	for k, v := range want {
		if logins[0].Evidence[k] != v {
			t.Errorf("evidence %v, want %s=%s", logins[0].Evidence, k, v)
		}
	}
	if logins[0].Device.IP != "192.168.1.64" {
		t.Errorf("login about %v, want the camera", logins[0].Device)
	}
	banners := col.Kind(event.KindBanner)
	if len(banners) != 1 || banners[0].Evidence["protocol"] != "rtsp" || banners[0].Evidence["banner"] != "Rtsp Server/3.0" ||
		banners[0].Evidence["realm"] != "IP Camera" || banners[0].Device.IP != "192.168.1.64" {
		t.Errorf("banners %v, want one with the camera's server and realm", evidences(banners))
	}
	if len(col.Events) != 2 {
		t.Errorf("%d events, want 2: %v", len(col.Events), evidences(col.Events))
	}
}

// defaultsClassifier knows one default password and tries it on hashed
// logins through Verify, as the real classifier does.
type defaultsClassifier struct{ password string }

func (d defaultsClassifier) Classify(l *inspect.Login) (inspect.PasswordClass, inspect.DefaultMatch) {
	ok := string(l.Secret) == d.password
	if l.Kind == inspect.SecretHashed {
		ok = l.Verify != nil && l.Verify([]byte(d.password))
	}
	if ok {
		return inspect.ClassDefault, inspect.DefaultMatch{Vendor: "Acme", Source: "test"}
	}
	return "", inspect.DefaultMatch{}
}

func TestDigestDefaultPassword(t *testing.T) {
	tests := []struct {
		name, password string
		kind           event.Kind
	}{
		{"camera_default", "12345", event.KindDefaultCredentials},
		{"not_the_default", "admin", event.KindPlaintextCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, defaultsClassifier{tt.password}, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:50000", "192.168.1.64:554")
			cameraSession(c)
			c.Close()
			e.Flush()
			f := col.Findings()
			if len(f) != 1 || f[0].Kind != tt.kind || f[0].Evidence["accepted"] != "yes" {
				t.Fatalf("findings %v, want one %s", evidences(f), tt.kind)
			}
			if inspecttest.Leaks(t, col.Events, "12345") {
				t.Error("password leaked")
			}
		})
	}
}

func TestSyntheticLogins(t *testing.T) {
	type want struct{ user, accepted string }
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []want // in report order
	}{
		{"basic_rejected_then_accepted", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm=\"IP Camera\"\r\n\r\n").
				Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 3\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 3\r\n\r\nv=0")
		}, []want{{"r***", "no"}, {"a***", "yes"}}},
		{"proxy_login_judged_by_407_only", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\nProxy-Authorization: Basic " + basicRoot + "\r\n\r\n").
				Server("RTSP/1.0 407 Proxy Authentication Required\r\nCSeq: 2\r\n\r\n").
				Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 3\r\nAuthorization: Basic " + basicAdmin + "\r\nProxy-Authorization: Basic " + basicRoot + "\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\n\r\n")
		}, []want{{"a***", "unknown"}, {"r***", "no"}, {"a***", "no"}, {"r***", "unknown"}}},
		{"stale_nonce_is_no_refusal", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 4\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 4\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"n2\", stale=\"TRUE\"\r\n\r\n").
				Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 5\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 5\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"n3\", stale=\"FALSE\"\r\n\r\n")
		}, []want{{"a***", "unknown"}, {"a***", "no"}}},
		{"responses_out_of_order", func(c *inspecttest.Conv) {
			challenged(c).Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 7\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n" +
				"GET_PARAMETER " + url + " RTSP/1.0\r\nCSeq: 8\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n").
				Server("RTSP/1.0 403 Forbidden\r\nCSeq: 8\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n")
		}, []want{{"r***", "no"}, {"a***", "yes"}}},
		{"interim_then_final", func(c *inspecttest.Conv) {
			challenged(c).Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 100 Continue\r\nCSeq: 1\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
		}, []want{{"a***", "yes"}}},
		{"response_without_cseq_answers_oldest", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + url + " RTSP/1.0\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\n\r\n")
		}, []want{{"a***", "no"}}},
		{"no_response", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
		}, []want{{"a***", "unknown"}}},
		{"headers_cut_short", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic " + basicAdmin + "\r\n")
		}, []want{{"a***", "unknown"}}},
		{"one_char_per_segment", func(c *inspecttest.Conv) {
			challenged(c).ClientChars("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 9\r\nAuthorization: Basic  " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 9\r\n\r\n")
		}, []want{{"a***", "yes"}}},
		{"rtsp_2_0", func(c *inspecttest.Conv) {
			challenged(c).Client("DESCRIBE " + url + " RTSP/2.0\r\nCSeq: 1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/2.0 200 OK\r\nCSeq: 1\r\n\r\n")
		}, []want{{"a***", "yes"}}},
		// Cameras answer OPTIONS to anyone: its 200 proves nothing, even
		// after a challenge. A client that sends Basic with every
		// request is judged where the camera checks it.
		{"options_answered_is_no_acceptance", func(c *inspecttest.Conv) {
			auth := "Authorization: Basic " + basicAdmin + "\r\n"
			c.Client("OPTIONS rtsp://192.168.1.64/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 1\r\n" + auth + "\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n").
				Client("DESCRIBE rtsp://192.168.1.64/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 2\r\n" + auth + "Accept: application/sdp\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm=\"IP Camera\"\r\n\r\n")
		}, []want{{"a***", "unknown"}, {"a***", "no"}}},
		{"options_after_challenge_is_no_acceptance", func(c *inspecttest.Conv) {
			challenged(c).Client("OPTIONS " + url + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n")
		}, []want{{"a***", "unknown"}}},
		{"describe_without_challenge_is_unknown", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nv=0")
		}, []want{{"a***", "unknown"}}},
		{"challenge_for_another_stream", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE rtsp://192.168.1.64/live/ch1 RTSP/1.0\r\nCSeq: 1\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm=\"IP Camera\"\r\n\r\n").
				Client("DESCRIBE rtsp://192.168.1.64/public/ch0 RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n")
		}, []want{{"a***", "unknown"}}},
		{"basic_session_after_challenge", func(c *inspecttest.Conv) {
			auth := "Authorization: Basic " + basicAdmin + "\r\n"
			challenged(c).Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\n" + auth + "\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n").
				Client("SETUP " + url + "/trackID=1 RTSP/1.0\r\nCSeq: 3\r\n" + auth + "\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n").
				Client("PLAY " + url + " RTSP/1.0\r\nCSeq: 4\r\n" + auth + "\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n")
		}, []want{{"a***", "yes"}, {"a***", "yes"}, {"a***", "yes"}}},
		{"setup_and_play_after_challenge_accepted_then_refused", func(c *inspecttest.Conv) {
			auth := "Authorization: Basic " + basicAdmin + "\r\n"
			challenged(c).Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\n" + auth + "\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n").
				Client("SETUP " + url + "/trackID=1 RTSP/1.0\r\nCSeq: 3\r\n" + auth + "\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n").
				Client("PLAY " + url + " RTSP/1.0\r\nCSeq: 4\r\n" + auth + "\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n").
				Client("RECORD " + url + " RTSP/1.0\r\nCSeq: 5\r\n" + auth + "\r\n").Server("RTSP/1.0 403 Forbidden\r\nCSeq: 5\r\n\r\n")
		}, []want{{"a***", "unknown"}, {"a***", "unknown"}, {"a***", "unknown"}, {"a***", "no"}}},
		{"server_request_ignored", func(c *inspecttest.Conv) {
			c.Server("SET_PARAMETER " + url + " RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic " + basicAdmin + "\r\nContent-Length: 4\r\n\r\nx: y").
				Client("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
		}, nil},
		{"queue_overflow_reports_oldest", func(c *inspecttest.Conv) {
			var b bytes.Buffer
			for i := 1; i <= maxPending+1; i++ {
				b.WriteString("GET_PARAMETER " + url + " RTSP/1.0\r\nCSeq: " + strconv.Itoa(i) + "\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
			}
			challenged(c).Client(b.String()).Server("RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n")
		}, []want{{"a***", "unknown"}, {"a***", "yes"}, {"a***", "unknown"}, {"a***", "unknown"}, {"a***", "unknown"}}},
		{"long_line_skipped", func(c *inspecttest.Conv) {
			challenged(c).Client("DESCRIBE " + url + " RTSP/1.0\r\nX-Junk: " + string(bytes.Repeat([]byte("j"), 3000)) + "\r\nCSeq: 1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
		}, []want{{"a***", "yes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := converse(t, tt.script)
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d logins, want %d: %v", len(got), len(tt.want), evidences(got))
			}
			for i, w := range tt.want {
				if got[i].Evidence["user"] != w.user || got[i].Evidence["accepted"] != w.accepted || got[i].Evidence["protocol"] != "rtsp" {
					t.Errorf("login %d: %v, want %+v", i, got[i].Evidence, w)
				}
			}
			for _, s := range []string{secret, basicAdmin, basicRoot} {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q leaked", s)
				}
			}
		})
	}
}

func TestURLPath(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"rtsp://192.168.1.64:554/Streaming/Channels/101?transportmode=unicast", "/Streaming/Channels/101"},
		{"rtsp://admin:pa/ss@cam/live/ch1", "/live/ch1"}, // the password is no path
		{"rtsp://cam", ""},
		{"*", "*"},
		{"/stream#x", "/stream"},
	}
	for _, tt := range tests {
		if got := string(urlPath([]byte(tt.uri))); got != tt.want {
			t.Errorf("urlPath(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		port    string
		dir     inspect.Dir
		payload string
		want    inspect.Confidence
	}{
		{"options_any_port", "1234", inspect.ToServer, "OPTIONS rtsp://cam/ RTSP/1.0\r\n", inspect.ContentMatch},
		{"options_star", "1234", inspect.ToServer, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n", inspect.ContentMatch},
		{"describe_incomplete_line", "1234", inspect.ToServer, "DESCRIBE rtsp://cam/very/lo", inspect.ContentMatch},
		{"status_line", "1234", inspect.ToClient, "RTSP/1.0 200 OK\r\n", inspect.ContentMatch},
		{"http_options", "1234", inspect.ToServer, "OPTIONS / HTTP/1.1\r\n", inspect.NoMatch},
		{"http_options_incomplete", "1234", inspect.ToServer, "OPTIONS /x", inspect.NoMatch},
		{"sip_options", "5060", inspect.ToServer, "OPTIONS sip:a@b SIP/2.0\r\n", inspect.NoMatch},
		{"rtsp_port_interleaved", "554", inspect.ToServer, "$\x00\x00\x01", inspect.PortMatch},
		{"rtsp_port_binary", "554", inspect.ToServer, "\x16\x03\x01", inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspecttest.FirstMatch(t, New(), true, "192.168.1.10:50000", "192.168.1.64:"+tt.port, tt.dir, []byte(tt.payload))
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func evidences(evs []*event.Event) []event.Evidence {
	out := make([]event.Evidence, len(evs))
	for i, e := range evs {
		out[i] = e.Evidence
	}
	return out
}

// A keep-alive request and its answer, then a frame of interleaved media.
var (
	keepAliveRequest  = []byte("GET_PARAMETER " + url + " RTSP/1.0\r\nCSeq: 10\r\nSession: 12345678\r\n\r\n")
	keepAliveResponse = []byte("RTSP/1.0 200 OK\r\nCSeq: 10\r\nSession: 12345678\r\n\r\n$\x00\x00\x08\x80\x60\x00\x01\x00\x00\x00\x01")
)

// newKeepAlive connects a client to a camera and makes the first
// keep-alive exchange.
func newKeepAlive(t testing.TB) *inspecttest.Stream {
	s := inspecttest.NewStream(t, New(), "192.168.1.10:50000", "192.168.1.64:554")
	s.Exchange(keepAliveRequest, keepAliveResponse)
	return s
}

func TestGapKeepsCSeqPairing(t *testing.T) {
	s := newKeepAlive(t)
	s.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 20\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
	s.Lose(inspect.ToClient, 500) // lost media frames from the server
	s.Server("\x00garbage\r\nRTSP/1.0 401 Unauthorized\r\nCSeq: 20\r\n\r\n")
	s.Engine.Flush()
	got := s.Collector.Kind(event.KindPlaintextCredentials)
	if len(got) != 1 || got[0].Evidence["accepted"] != "no" {
		t.Fatalf("logins %v, want one rejected", evidences(got))
	}
	if s.Engine.Stats.Gaps == 0 {
		t.Error("the engine saw no gap")
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	s := newKeepAlive(t)
	exchange := func() { s.Exchange(keepAliveRequest, keepAliveResponse) }
	if allocs := testing.AllocsPerRun(200, exchange); allocs != 0 {
		t.Errorf("%v allocs per keep-alive exchange, want 0", allocs)
	}
}

func BenchmarkKeepAlive(b *testing.B) {
	s := newKeepAlive(b)
	b.ReportAllocs()
	for b.Loop() {
		s.Exchange(keepAliveRequest, keepAliveResponse)
	}
	if s.Engine.Stats.BudgetStops != 0 {
		b.Errorf("the byte budget stopped inspection %d times: the benchmark measured the engine idle", s.Engine.Stats.BudgetStops)
	}
}

func FuzzStream(f *testing.F) {
	f.Add([]byte("DESCRIBE rtsp://a RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic YTpi\r\n\r\n"), []byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 3\r\n\r\nabc$\x00\x00\x02xy"), uint8(0))
	f.Add([]byte("OPTIONS rtsp://a/user=admin&password=&channel=1 RTSP/1.0\r\nCSeq: 1\r\n\r\nDESCRIBE rtsp://b:c@a/1?usr=d&pwd=e%41 RTSP/1.0\r\nCSeq: 2\r\n\r\n"), []byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\nRTSP/1.0 401 x\r\nCSeq: 2\r\n\r\n"), uint8(3))
	f.Add([]byte("$\x00\xff\xffDESCRIBE rtsp://a RTSP/1.0\r\n"+digestAuth+"\r\n"), []byte("RTSP/1.0 401 x\r\nWWW-Authenticate: Digest realm=\"r\r\n\r\n"), uint8(2))
	// One engine per fuzz worker: Flush closes every flow between inputs,
	// and building a flow table per input would dominate the run time.
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(f, col, nil, New())
	f.Fuzz(func(t *testing.T, client, server []byte, seg uint8) {
		col.Events = nil
		c := inspecttest.NewTCP(e, "192.168.1.10:50000", "192.168.1.64:554")
		all := client
		inspecttest.Interleave(c, client, server, int(seg%16)+1)
		c.Close()
		e.Flush()
		// One login at most per Authorization header, and one per
		// request line for the login in its URL.
		limit := bytes.Count(bytes.ToUpper(all), []byte("AUTHORIZATION")) + bytes.Count(all, []byte(" RTSP/"))
		if got := len(col.Findings()); got > limit {
			t.Fatalf("%d logins from %d Authorization headers", got, limit)
		}
	})
}
