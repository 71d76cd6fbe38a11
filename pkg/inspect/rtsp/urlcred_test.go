package rtsp

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func TestURLLoginParse(t *testing.T) {
	tests := []struct {
		name, uri      string
		user, password string
		ok             bool
	}{
		{"xiongmai", "rtsp://192.168.1.10:554/user=admin&password=&channel=1&stream=0.sdp?", "admin", "", true},
		{"xiongmai_underscores", "rtsp://192.168.1.10:554/user=admin_password=tlJwpbo6_channel=1_stream=0.sdp?real_stream", "admin", "tlJwpbo6", true},
		{"underscore_in_a_value", "rtsp://cam/user=my_name&password=my_pass&channel=1", "my_name", "my_pass", true},
		{"query_pwd", "rtsp://cam/11?user=admin&pwd=123456", "admin", "123456", true},
		{"query_username_password", "rtsp://cam:554/live/ch00_0?username=admin&password=s3cret", "admin", "s3cret", true},
		{"query_usr_pass", "rtsp://cam/h264?usr=root&pass=pw", "root", "pw", true},
		{"query_loginuse", "rtsp://cam/videostream.asf?loginuse=admin&loginpas=888888", "admin", "888888", true},
		{"query_passwd_upper_case", "rtsp://cam/s0?USER=admin&PassWd=x1", "admin", "x1", true},
		{"relative_path", "/user=admin&password=pw&channel=1", "admin", "pw", true},
		{"userinfo", "rtsp://admin:12345@192.168.1.64:554/Streaming/Channels/101", "admin", "12345", true},
		{"userinfo_empty_password", "rtsp://admin:@cam/live", "admin", "", true},
		{"userinfo_at_in_password", "rtsp://admin:p@ss@cam/live", "admin", "p@ss", true},
		{"userinfo_without_path", "rtsp://admin:pw@cam", "admin", "pw", true},
		{"percent_decoded", "rtsp://cam/1?user=ad%6Din&pwd=p%40ss%2fw%zz%4", "admin", "p@ss/w%zz%4", true},
		{"percent_decoded_userinfo", "rtsp://ad%6din:a%3Ab@cam/", "admin", "a:b", true},
		{"track_control_appended", "rtsp://cam/11?user=admin&pwd=123456/trackID=0", "admin", "123456", true},
		{"first_user_field_wins", "rtsp://cam/1?user=a&user=b&pwd=c", "a", "c", true},
		{"fragment_ignored", "rtsp://cam/1#user=a&pwd=b", "", "", false},
		{"user_only_in_a_path_segment", "rtsp://cam/user=guide.sdp", "", "", false},
		{"user_only_in_the_query", "rtsp://cam/live?user=viewer", "", "", false},
		{"password_only", "rtsp://cam/live?password=x", "", "", false},
		{"user_and_password_apart", "rtsp://cam/user=a/s.sdp?pwd=b", "", "", false},
		{"unknown_field_names", "rtsp://cam/live?name=a&key=b&password_hint=c&userid=d", "", "", false},
		{"both_empty", "rtsp://cam/user=&password=&channel=1", "", "", false},
		{"userinfo_without_password", "rtsp://admin@cam/live", "", "", false},
		{"at_in_the_path", "rtsp://cam:554/a@b/live", "", "", false},
		{"at_in_the_query", "rtsp://cam/live?mail=a:b@c", "", "", false},
		{"plain_stream", "rtsp://192.168.1.64:554/Streaming/Channels/101?transportmode=unicast", "", "", false},
		{"star", "*", "", "", false},
		{"too_long", "rtsp://cam/1?user=admin&pwd=" + string(make([]byte, httpauth.MaxBasic)), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst [httpauth.MaxBasic]byte
			user, password, ok := readURLLogin([]byte(tt.uri), &dst)
			if ok != tt.ok || string(user) != tt.user || string(password) != tt.password {
				t.Errorf("readURLLogin(%q) = %q, %q, %v; want %q, %q, %v", tt.uri, user, password, ok, tt.user, tt.password, tt.ok)
			}
		})
	}
}

const (
	xmURL    = "rtsp://192.168.1.64:554/user=admin&password=" + secret + "&channel=1&stream=0.sdp?"
	queryURL = "rtsp://192.168.1.64:554/11?user=root&pwd=" + secret
)

// xmSession is an NVR playing a camera that takes the login in the URL,
// as ffmpeg and VLC do: OPTIONS, DESCRIBE, SETUP, PLAY, each with it.
func xmSession(uri, describeStatus string) func(c *inspecttest.Conv) {
	return func(c *inspecttest.Conv) {
		c.Client("OPTIONS " + uri + " RTSP/1.0\r\nCSeq: 1\r\n\r\n").
			Server("RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n").
			Client("DESCRIBE " + uri + " RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n").
			Server("RTSP/1.0 " + describeStatus + "\r\nCSeq: 2\r\n\r\n").
			Client("SETUP " + uri + "/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n").
			Server("RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 1\r\n\r\n").
			Client("PLAY " + uri + " RTSP/1.0\r\nCSeq: 4\r\nSession: 1\r\n\r\n").
			Server("RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 1\r\n\r\n")
	}
}

func TestURLLogins(t *testing.T) {
	type want struct{ mechanism, user, password, class, accepted string }
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []want // in report order
	}{
		// No challenge seen: the 200 may be the stream's to anyone.
		{"xiongmai_session_once", xmSession(xmURL, "200 OK"), []want{{"URL", "a***", "s3***", "unique", "unknown"}}},
		{"query_session_once", xmSession(queryURL, "200 OK"), []want{{"URL", "r***", "s3***", "unique", "unknown"}}},
		{"refused_by_describe", func(c *inspecttest.Conv) {
			c.Client("OPTIONS " + queryURL + " RTSP/1.0\r\nCSeq: 1\r\n\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n").
				Client("DESCRIBE " + queryURL + " RTSP/1.0\r\nCSeq: 2\r\n\r\n").Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n\r\n")
		}, []want{{"URL", "r***", "s3***", "unique", "no"}}},
		{"refused_by_options", func(c *inspecttest.Conv) {
			c.Client("OPTIONS " + queryURL + " RTSP/1.0\r\nCSeq: 1\r\n\r\n").Server("RTSP/1.0 403 Forbidden\r\nCSeq: 1\r\n\r\n")
		}, []want{{"URL", "r***", "s3***", "unique", "no"}}},
		{"options_only_is_unknown", func(c *inspecttest.Conv) {
			c.Client("OPTIONS " + queryURL + " RTSP/1.0\r\nCSeq: 1\r\n\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n").
				Client("OPTIONS " + queryURL + " RTSP/1.0\r\nCSeq: 2\r\n\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n")
		}, []want{{"URL", "r***", "s3***", "unique", "unknown"}}},
		{"accepted_after_challenge", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE rtsp://192.168.1.64:554/11 RTSP/1.0\r\nCSeq: 1\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"n1\"\r\n\r\n")
			xmSession(queryURL, "200 OK")(c)
		}, []want{{"URL", "r***", "s3***", "unique", "yes"}}},
		{"wrong_then_right_password", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE rtsp://cam/11?user=root&pwd=wrong-one RTSP/1.0\r\nCSeq: 1\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n").
				Client("DESCRIBE rtsp://cam/11?user=root&pwd=wrong-one RTSP/1.0\r\nCSeq: 2\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n").
				Client("DESCRIBE " + queryURL + " RTSP/1.0\r\nCSeq: 3\r\n\r\n").Server("RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n")
		}, []want{{"URL", "r***", "wr***", "unique", "no"}, {"URL", "r***", "s3***", "unique", "yes"}}},
		{"pipelined_requests_once", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + xmURL + " RTSP/1.0\r\nCSeq: 2\r\n\r\nSETUP " + xmURL + "/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n")
		}, []want{{"URL", "a***", "s3***", "unique", "unknown"}}},
		{"userinfo_in_the_request", xmSession("rtsp://admin:"+secret+"@192.168.1.64:554/live", "200 OK"),
			[]want{{"URL", "a***", "s3***", "unique", "unknown"}}},
		{"percent_decoded", xmSession("rtsp://192.168.1.64/11?user=root&pwd=%73%33cret-Pass", "200 OK"),
			[]want{{"URL", "r***", "s3***", "unique", "unknown"}}},
		{"empty_password", xmSession("rtsp://192.168.1.64:554/user=admin&password=&channel=1&stream=0.sdp?", "200 OK"),
			[]want{{"URL", "a***", "", "empty", "unknown"}}},
		{"url_and_basic_header", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + queryURL + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n\r\n")
		}, []want{{"URL", "r***", "s3***", "unique", "no"}, {"Basic", "a***", "s3***", "unique", "no"}}},
		// A camera that answers without CSeq answers the oldest request
		// and every credential it carried: a URL login and a header's
		// are two, and the second must not wait for the next answer.
		{"url_and_basic_answered_without_cseq", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + queryURL + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n").
				Client("DESCRIBE rtsp://192.168.1.64:554/11 RTSP/1.0\r\nCSeq: 3\r\nAuthorization: Basic YWRtaW46b3RoZXItUGFzczk=\r\n\r\n").
				Server("RTSP/1.0 200 OK\r\n\r\n")
		}, []want{{"URL", "r***", "s3***", "unique", "no"}, {"Basic", "a***", "s3***", "unique", "no"}, {"Basic", "a***", "ot***", "unique", "yes"}}},
		// A NUL decoded from %00 does not make two logins one.
		{"nul_does_not_join_logins", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE rtsp://cam/11?user=ad%00min&pwd=pw RTSP/1.0\r\nCSeq: 1\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n").
				Client("DESCRIBE rtsp://cam/11?user=ad&pwd=min%00pw RTSP/1.0\r\nCSeq: 2\r\n\r\n").
				Server("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n\r\n")
		}, []want{{"URL", "ad***", "***", "unique", "no"}, {"URL", "***", "mi***", "unique", "no"}}},
		{"unanswered", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + queryURL + " RTSP/1.0\r\nCSeq: 2\r\n\r\n")
		}, []want{{"URL", "r***", "s3***", "unique", "unknown"}}},
		{"headers_cut_short", func(c *inspecttest.Conv) {
			c.Client("DESCRIBE " + queryURL + " RTSP/1.0\r\nCSeq: 2\r\n")
		}, []want{{"URL", "r***", "s3***", "unique", "unknown"}}},
		{"user_only_path_segment", xmSession("rtsp://192.168.1.64/user=guide.sdp", "200 OK"), nil},
		{"no_login_in_the_url", xmSession(url, "200 OK"), nil},
		{"server_request_ignored", func(c *inspecttest.Conv) {
			c.Server("SET_PARAMETER " + queryURL + " RTSP/1.0\r\nCSeq: 1\r\n\r\n").Client("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := converse(t, tt.script)
			got := col.Findings()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d logins, want %d: %v", len(got), len(tt.want), evidences(got))
			}
			for i, w := range tt.want {
				ev := got[i].Evidence
				if ev["protocol"] != "rtsp" || ev["mechanism"] != w.mechanism || ev["user"] != w.user || ev["password"] != w.password ||
					ev["password_class"] != w.class || ev["accepted"] != w.accepted || got[i].Device.IP != "192.168.1.64" {
					t.Errorf("login %d: %v about %v, want %+v about the camera", i, ev, got[i].Device, w)
				}
			}
			for _, s := range []string{secret, "wrong-one", "%73%33cret", basicAdmin} {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q leaked", s)
				}
			}
		})
	}
}

// TestURLLoginDefaults matches URL logins against the embedded default
// list, as Basic ones are.
func TestURLLoginDefaults(t *testing.T) {
	tests := []struct {
		name, uri string
		kind      event.Kind
		class     string
	}{
		// Xiongmai's factory login: admin with no password.
		{"xiongmai_empty_password", "rtsp://192.168.1.64:554/user=admin&password=&channel=1&stream=0.sdp?", event.KindDefaultCredentials, "default"},
		{"xiongmai_underscores", "rtsp://192.168.1.64:554/user=admin_password=tlJwpbo6_channel=1_stream=0.sdp?real_stream", event.KindDefaultCredentials, "default"},
		{"uniview_query", "rtsp://192.168.1.64/11?user=admin&pwd=123456", event.KindDefaultCredentials, "default"},
		{"hikvision_userinfo", "rtsp://admin:12345@192.168.1.64/Streaming/Channels/101", event.KindDefaultCredentials, "default"},
		{"changed_password", queryURL, event.KindPlaintextCredentials, "unique"},
	}
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:50000", "192.168.1.64:554")
			xmSession(tt.uri, "200 OK")(c)
			c.Close()
			e.Flush()
			f := col.Findings()
			if len(f) != 1 || f[0].Kind != tt.kind || f[0].Evidence["password_class"] != tt.class || f[0].Evidence["mechanism"] != "URL" {
				t.Fatalf("findings %v, want one %s, %s", evidences(f), tt.kind, tt.class)
			}
			for _, s := range []string{"tlJwpbo6", "123456", "12345", secret} {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q leaked", s)
				}
			}
		})
	}
}

// TestURLLoginRepeatAllocs: a player's keep-alive repeats the URL with
// its login for as long as it plays; once the login is reported, the
// repeats are recognised without classifying them again.
func TestURLLoginRepeatAllocs(t *testing.T) {
	for _, method := range []string{"GET_PARAMETER", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			req := []byte(method + " " + xmURL + " RTSP/1.0\r\nCSeq: 10\r\nSession: 1\r\n\r\n")
			resp := []byte("RTSP/1.0 200 OK\r\nCSeq: 10\r\nSession: 1\r\n\r\n")
			s := inspecttest.NewStream(t, New(), "192.168.1.10:50000", "192.168.1.64:554")
			s.Exchange(req, resp)
			if allocs := testing.AllocsPerRun(200, func() { s.Exchange(req, resp) }); allocs != 0 {
				t.Errorf("%v allocs per repeated request, want 0", allocs)
			}
			s.Engine.Flush()
			if got := s.Collector.Findings(); len(got) != 1 {
				t.Errorf("got %d logins, want 1: %v", len(got), evidences(got))
			}
		})
	}
}
