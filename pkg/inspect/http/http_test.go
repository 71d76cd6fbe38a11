package http

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
)

func TestCorpus(t *testing.T) {
	type login struct{ user, mechanism, class, accepted string }
	tests := []struct {
		file     string
		logins   []login
		secrets  []string // must appear in no event
		agent    string   // first http_client user_agent
		host     string
		server   string // first http_server server
		findings int    // all findings, logins included
	}{
		// Basic sent without a challenge: Python's SimpleHTTP server
		// checks no credentials at all, and cPanel's answers a
		// script's 304 (a cached file) without a word about them.
		{"zeek-http-basic-auth-with-colon.pcap", []login{{"t***", "Basic", "unique", "unknown"}}, []string{"1:34", "dGVzdDoxOjM0"},
			"python-requests/2.31.0", "172.24.133.205:8000", "SimpleHTTP/0.6 Python/3.10.6", 1},
		{"zeek-http-basic-auth-with-extra-space.pcap", []login{{"t***", "Basic", "unique", "unknown"}}, []string{"1234", "dGVzdDoxMjM0"},
			"python-requests/2.31.0", "172.24.133.205:8000", "SimpleHTTP/0.6 Python/3.10.6", 1},
		{"arkime-http-basicauth.pcap", []login{{"us***", "Basic", "unique", "unknown"}}, []string{"passworddddd", "dXNlcnJycnI6cGFzc3dvcmRkZGRk"},
			"Mozilla/5.0 (Windows NT 5.1; rv:32.0) Gecko/20100101 Firefox/32.0", "10.000.000.001:1234", "cpsrvd/11.44.1.19", 1},
		{"arkime-http-digestauth.pcap", []login{{"us***", "Digest", "hashed", "unknown"}}, nil,
			"xxxxxxxxxxxxxxxxxx", "xxxxxxx.xxxxxxxxxxx.xxx", "", 1},
		{"sv-http-auth-unrecognized.pcap", nil, []string{"customAuthDataHere"},
			"curl/7.54.0", "127.0.0.1:8000", "SimpleHTTP/0.6 Python/3.7.2", 0},
		{"zeek-http-vlan-0.pcap", nil, nil, "Wget/1.14 (darwin12.2.0)", "bro.org", "Apache/2.4.3 (Fedora)", 0},
		{"zeek-nflog-http.pcap", nil, nil, "curl/7.50.1", "www.example.net", "ECS (iad/182A)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New(nil))
			if err != nil {
				t.Fatal(err)
			}
			got := c.Kind(event.KindPlaintextCredentials)
			if len(got) != len(tt.logins) {
				t.Fatalf("got %d logins, want %d: %v", len(got), len(tt.logins), evidences(got))
			}
			for i, want := range tt.logins {
				ev := got[i].Evidence
				if ev["protocol"] != "http" || ev["user"] != want.user || ev["mechanism"] != want.mechanism ||
					ev["password_class"] != want.class || ev["accepted"] != want.accepted {
					t.Errorf("login %d: evidence %v, want %+v", i, ev, want)
				}
			}
			if n := len(c.Findings()); n != tt.findings {
				t.Errorf("%d findings, want %d: %v", n, tt.findings, evidences(c.Findings()))
			}
			for _, s := range tt.secrets {
				if inspecttest.Leaks(t, c.Events, s) {
					t.Errorf("secret %q leaked into an event", s)
				}
			}
			clients := c.Kind(event.KindHTTPClient)
			if len(clients) == 0 || clients[0].Evidence["user_agent"] != tt.agent || clients[0].Evidence["host"] != tt.host {
				t.Errorf("http_client observations %v, want user_agent %q host %q", evidences(clients), tt.agent, tt.host)
			}
			servers := c.Kind(event.KindHTTPServer)
			if tt.server == "" {
				if len(servers) != 0 {
					t.Errorf("http_server observations %v, want none", evidences(servers))
				}
			} else if len(servers) == 0 || servers[0].Evidence["server"] != tt.server {
				t.Errorf("http_server observations %v, want server %q", evidences(servers), tt.server)
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

// The password of every synthetic login; it must never leave the analyzer.
const secret = "s3cret-Pass"

// digestMufasa is RFC 2617's example Digest header (password "Circle Of
// Life") for GET /dir/index.html.
const digestMufasa = "Authorization: Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\"\r\n"

// b64 of "admin:s3cret-Pass" and "root:s3cret-Pass".
const (
	basicAdmin = "YWRtaW46czNjcmV0LVBhc3M="
	basicRoot  = "cm9vdDpzM2NyZXQtUGFzcw=="
)

// A request without credentials and the web server's challenge: the
// server demands credentials for "/" and everything below it. A 2xx to
// credentials says they were taken only where the server demands them.
const (
	unauthenticated = "GET / HTTP/1.1\r\n\r\n"
	challenge401    = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n"
)

// challenged opens c with a challenge for "/".
func challenged(c *inspecttest.Conv) *inspecttest.Conv {
	return c.Client(unauthenticated).Server(challenge401)
}

func TestSyntheticLogins(t *testing.T) {
	type want struct{ user, mechanism, class, accepted string }
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []want
	}{
		{"basic_after_challenge_accepted", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nHost: cam\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"IP Camera\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET / HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		// Sent without a challenge (curl -u, scripts, scanners): a 2xx
		// does not say the server needed the credential.
		{"basic_preemptive_is_unknown", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}, []want{{"a***", "Basic", "unique", "unknown"}}},
		{"basic_on_public_page_then_refused", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").
				Client("GET /ISAPI/Security/userCheck HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "unknown"}, {"a***", "Basic", "unique", "no"}}},
		// The challenge protects its directory and what is below it:
		// a page elsewhere answered 200 proves nothing.
		{"challenge_elsewhere_then_public_page", func(c *inspecttest.Conv) {
			c.Client("GET /ISAPI/Security/userCheck HTTP/1.1\r\nHost: cam\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /doc/page/login.asp HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").
				Client("GET /ISAPI/Security/userCheck HTTP/1.1\r\nHost: 192.168.1.20\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi") // another origin than the one challenged
		}, []want{{"a***", "Basic", "unique", "unknown"}, {"a***", "Basic", "unique", "unknown"}}},
		{"challenge_covers_deeper_paths", func(c *inspecttest.Conv) {
			c.Client("GET /cgi-bin/main.cgi HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /cgi-bin/admin/param.cgi?action=list HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		// A refusal of the credential wins: before an acceptance, or
		// after one that is still held back.
		{"refused_then_200_is_unknown", func(c *inspecttest.Conv) {
			challenged(c).Client("GET /a HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /b HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "no"}, {"a***", "Basic", "unique", "unknown"}}},
		{"accepted_then_refused_is_unknown", func(c *inspecttest.Conv) {
			challenged(c).Client("GET /a HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").
				Client("GET /b HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").
				Client("GET /c HTTP/1.1\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").
				Client("GET /admin/ HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "unknown"}, {"a***", "Basic", "unique", "unknown"}, {"a***", "Basic", "unique", "no"}, {"r***", "Basic", "unique", "yes"}}},
		{"more_accepted_credentials_than_held", func(c *inspecttest.Conv) {
			challenged(c)
			for i := 1; i <= 5; i++ {
				auth := base64.StdEncoding.EncodeToString([]byte("user" + itoa(i) + ":" + secret))
				c.Client("GET / HTTP/1.1\r\nAuthorization: Basic " + auth + "\r\n\r\n").Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			}
		}, slices.Repeat([]want{{"u***", "Basic", "unique", "yes"}}, 5)},
		{"redirect_to_login_page_refuses", func(c *inspecttest.Conv) {
			challenged(c).Client("GET /cgi-bin/main.cgi HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 302 Found\r\nLocation: /login.html?error=1\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "no"}}},
		{"401_without_challenge_demands_nothing", func(c *inspecttest.Conv) {
			c.Client("GET /a HTTP/1.1\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n" +
				"GET /b HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n").Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"r***", "Basic", "unique", "no"}, {"a***", "Basic", "unique", "unknown"}}},
		{"basic_rejected", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "no"}}},
		{"basic_redirect_accepted", func(c *inspecttest.Conv) {
			challenged(c).Client("GET /admin HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		{"proxy_authorization_407", func(c *inspecttest.Conv) {
			c.Client("GET http://example.com/ HTTP/1.1\r\nProxy-Authorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "no"}}},
		{"not_found_is_unknown", func(c *inspecttest.Conv) {
			c.Client("GET /x HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "unknown"}}},
		{"no_response", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "unknown"}}},
		{"headers_never_end", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\nAccept: */*\r\n")
		}, []want{{"a***", "Basic", "unique", "unknown"}}},
		{"one_char_per_segment", func(c *inspecttest.Conv) {
			challenged(c).ClientChars("GET / HTTP/1.1\r\nAuthorization:   Basic  " + basicAdmin + "  \r\n\r\n").
				Server("HTTP/1.1 2").Server("00 OK\r\nContent-Len").Server("gth: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		{"lowercase_header_and_scheme", func(c *inspecttest.Conv) {
			challenged(c).Client("GET / HTTP/1.1\r\nauthorization:   basic    " + basicAdmin + "  \r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		{"digest_quoted_comma_in_realm_and_nonce", func(c *inspecttest.Conv) {
			// Another path: only the nonce ties the login to the challenge.
			c.Client("GET /other/x HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a, b\", nonce=\"n, m\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /x HTTP/1.1\r\nAuthorization: Digest username=\"admin\", realm=\"a, b\", nonce=\"n, m\", uri=\"/x\", response=\"0123456789abcdef0123456789abcdef\"\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Digest", "hashed", "yes"}}},
		{"bare_lf", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.0\n\n").Server("HTTP/1.0 401 Unauthorized\nWWW-Authenticate: Basic realm=cam\nContent-Length: 0\n\n").
				Client("GET / HTTP/1.0\nAuthorization: Basic " + basicAdmin + "\n\n").Server("HTTP/1.0 200 OK\n\nbody")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		{"pipelined_in_order", func(c *inspecttest.Conv) {
			challenged(c).Client("GET /a HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n" +
				"GET /b HTTP/1.1\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
					"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n")
		}, []want{{"r***", "Basic", "unique", "no"}, {"a***", "Basic", "unique", "yes"}}}, // an acceptance is held back
		{"keepalive_second_request", func(c *inspecttest.Conv) {
			c.Client("GET /a HTTP/1.1\r\n\r\n").Server("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").
				Client("GET /b HTTP/1.1\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n").
				Server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"r***", "Basic", "unique", "no"}}},
		{"head_response_has_no_body", func(c *inspecttest.Conv) {
			c.Client("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "no"}}},
		{"interim_100_continue", func(c *inspecttest.Conv) {
			challenged(c).Client("PUT /x HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n").
				Server("HTTP/1.1 100 Continue\r\n\r\n").Client("data").
				Server("HTTP/1.1 204 No Content\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		{"long_header_line_skipped", func(c *inspecttest.Conv) {
			challenged(c).Client("GET / HTTP/1.1\r\nCookie: " + strings.Repeat("z", 3000) + "\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		{"bearer_token_preemptive", func(c *inspecttest.Conv) {
			c.Client("GET /api HTTP/1.1\r\nAuthorization: Bearer " + secret + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"", "Bearer", "token", "unknown"}}},
		{"bearer_token_after_challenge", func(c *inspecttest.Conv) {
			c.Client("GET /api/devices HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"api\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /api/devices HTTP/1.1\r\nAuthorization: Bearer " + secret + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"", "Bearer", "token", "yes"}}},
		{"unknown_scheme", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nAuthorization: Turbo " + secret + "\r\n\r\n").Server("HTTP/1.1 200 OK\r\n\r\n")
		}, nil},
		{"basic_without_colon", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nAuthorization: Basic YWRtaW4=\r\n\r\n").Server("HTTP/1.1 200 OK\r\n\r\n")
		}, nil},
		// A Digest response answers a nonce: one the server was seen to
		// issue proves the challenge; one it was not (made up, or from a
		// challenge before the capture) proves nothing.
		{"digest_nonce_never_issued", func(c *inspecttest.Conv) {
			c.Client("GET /other/x HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"testrealm@host.com\", qop=\"auth\", nonce=\"other\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /dir/index.html HTTP/1.1\r\n" + digestMufasa + "\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"Mu***", "Digest", "hashed", "unknown"}}},
		{"digest_answering_issued_nonce", func(c *inspecttest.Conv) {
			c.Client("GET /x HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nWWW-Authenticate: Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /dir/index.html HTTP/1.1\r\n" + digestMufasa + "\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"Mu***", "Digest", "hashed", "yes"}}},
		{"form_login_session_cookie", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret + "&submit=Login"
			c.Client(postRequest("/login", "Content-Type: application/x-www-form-urlencoded\r\n", body)).
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: sid=1\r\nLocation: /\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "yes"}}},
		{"form_login_200_is_unknown", func(c *inspecttest.Conv) {
			body := "user=admin&pwd=" + secret
			c.Client(postRequest("/login.cgi", "", body)).
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "unknown"}}},
		{"form_login_401", func(c *inspecttest.Conv) {
			body := "j_username=admin&j_password=" + secret
			c.Client("POST /j_security_check HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded; charset=UTF-8\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n").
				Client(body[:10]).Client(body[10:]).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "no"}}},
		// Router pages send the typed password hashed beside an empty
		// field of the plain name: the empty field is no password.
		{"form_empty_password_field_then_hashed", func(c *inspecttest.Conv) {
			body := "username=admin&password=&encPassword=9f86d081884c7d659a2feaa0c55ad015"
			c.Client(postRequest("/login.cgi", "Content-Type: application/x-www-form-urlencoded\r\n", body)).
				Server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "hashed", "no"}}},
		{"json_empty_password_field_then_hashed", func(c *inspecttest.Conv) {
			body := `{"username":"admin","password":"","passwordHash":"9f86d081884c7d659a2feaa0c55ad015"}`
			c.Client(postRequest("/api/login", "Content-Type: application/json\r\n", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "json", "hashed", "no"}}},
		{"form_filled_password_field_after_empty", func(c *inspecttest.Conv) {
			body := "user=admin&pass=&password=" + secret + "&pwd_md5=&confirm_password=other-Pass"
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "no"}}},
		{"form_clear_password_beats_hashed", func(c *inspecttest.Conv) {
			body := "user=admin&password_md5=21232f297a57a5a743894a0e4a801fc3&password=" + secret
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "no"}}},
		{"form_hex_digest_in_password_field", func(c *inspecttest.Conv) {
			body := "user=admin&password=5F4DCC3B5AA765D61D8327DEB882CF99"
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "hashed", "no"}}},
		{"form_only_empty_password_field", func(c *inspecttest.Conv) {
			body := "user=admin&password=&lang=en"
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "empty", "no"}}},
		{"form_url_decoded", func(c *inspecttest.Conv) {
			body := "Email=ad%6Din%40x&Passwd=s3cret%2DPass"
			c.Client(postRequest("/l", "", body)).
				Server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"ad***", "form", "unique", "no"}}},
		{"form_name_as_user", func(c *inspecttest.Conv) {
			body := "name=bob&pass=" + secret
			c.Client(postRequest("/c", "", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"b***", "form", "unique", "no"}}},
		{"form_user_field_beats_name", func(c *inspecttest.Conv) {
			body := "name=Bob+Smith&login=root&passphrase=" + secret
			c.Client(postRequest("/c", "", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"r***", "form", "unique", "no"}}},
		// multipart/form-data (RFC 7578): the fields of a small form;
		// files are no fields.
		{"multipart_form_login", func(c *inspecttest.Conv) {
			body := "--XX\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nadmin\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + secret + "\r\n--XX--\r\n"
			c.Client(postRequest("/login", "Host: r\r\nContent-Type: multipart/form-data; boundary=XX\r\n", body)).
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: sid=1\r\nLocation: /\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "yes"}}},
		{"multipart_browser_form_with_file_and_preamble", func(c *inspecttest.Conv) {
			const b = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
			body := "preamble\r\n--" + b + "\r\nContent-Disposition: form-data; name=\"cert\"; filename=\"password\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
				"password=admin\r\n--" + b + "\r\ncontent-disposition: form-data; name=user\r\nContent-Type: text/plain\r\n\r\nroot\r\n--" + b +
				"\r\nContent-Disposition: form-data; name=\"pwd\"\r\n\r\n" + secret + "\r\n--" + b + "--"
			c.Client("POST /cgi-bin/login.cgi HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=\"" + b + "\"\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"r***", "form", "unique", "no"}}},
		{"multipart_bare_lf", func(c *inspecttest.Conv) {
			body := "--b\nContent-Disposition: form-data; name=\"user\"\n\nadmin\n--b\nContent-Disposition: form-data; name=\"password\"\n\n" + secret + "\n--b--\n"
			c.Client(postRequest("/login", "Content-Type: multipart/form-data; boundary=b\r\n", body)).
				Server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "no"}}},
		// A part that ends past the body prefix is read as it comes; of
		// a value longer than the scratch, its front is classified,
		// which is no default.
		{"multipart_part_closed_past_the_prefix", func(c *inspecttest.Conv) {
			body := "--XX\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nadmin\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" +
				"admin" + strings.Repeat("x", maxBody) + "\r\n--XX--\r\n"
			c.Client(postRequest("/login", "Content-Type: multipart/form-data; boundary=XX\r\n", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "no"}}},
		{"multipart_without_boundary", func(c *inspecttest.Conv) {
			body := "--XX\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nadmin\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + secret + "\r\n--XX--\r\n"
			c.Client(postRequest("/login", "Content-Type: multipart/form-data\r\n", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, nil},
		{"form_name_only_with_password", func(c *inspecttest.Conv) {
			body := "name=bob&comment=hi"
			c.Client(postRequest("/c", "", body)).
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, nil},
		{"form_chunked_body", func(c *inspecttest.Conv) {
			c.Client("POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n" +
				"9\r\nuser=root\r\n" + "a\r\n&passwd=s3\r\n" + "9\r\ncret-Pass\r\n" + "0\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Length: 9\r\n\r\nWelcome!\n")
		}, []want{{"r***", "form", "unique", "yes"}}},
		{"form_redirect_back_to_login", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: sid=1\r\nLocation: https://cam.local/Login.html\r\nContent-Length: 0\r\n\r\n").
				Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 303 See Other\r\nSet-Cookie: sid=2\r\nLocation: /index.html?msg=auth_failed\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "unknown"}, {"a***", "form", "unique", "unknown"}}},
		// A failed login's page starts the framework's session for a
		// client that had none, and sets CSRF tokens: no verdict, whatever
		// else the client sent. The framework session the client sent,
		// issued anew, or a cookie the application names, is one.
		{"form_first_visit_framework_session", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			for _, r := range []struct{ cookie, setCookie, status string }{
				{"", "PHPSESSID=9a1f; path=/", "200 OK"},
				{"", "JSESSIONID=A1B2; Path=/; HttpOnly", "200 OK"},
				{"", "ASPSESSIONIDQQGGGNCG=LKJ; path=/", "200 OK"},
				{"Cookie: language=en\r\n", "PHPSESSID=9a1f; path=/", "200 OK"},
				{"Cookie: JSESSIONID=old\r\n", "PHPSESSID=9a1f; path=/", "200 OK"},
				{"", "XSRF-TOKEN=eyJpdiI6; path=/\r\nSet-Cookie: laravel_session=eyJpdiI7; path=/; httponly", "200 OK"},
				{"", ".AspNetCore.Antiforgery.9fXoN5jHCXs=CfDJ8; path=/", "200 OK"},
				{"", "PHPSESSID=9a1f; path=/\r\nLocation: /status.php", "302 Found"},
			} {
				c.Client("POST /login.php HTTP/1.1\r\n" + r.cookie + "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body).
					Server("HTTP/1.1 " + r.status + "\r\nSet-Cookie: " + r.setCookie + "\r\nContent-Length: 0\r\n\r\n")
			}
		}, slices.Repeat([]want{{"a***", "form", "unique", "unknown"}}, 8)},
		{"form_framework_session_renewed", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			c.Client(postRequest("/login.php", "Cookie: language=en; PHPSESSID=0ld\r\n", body)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: PHPSESSID=n3w; path=/\r\nContent-Length: 15\r\n\r\n<h1>Status</h1>").
				Client(postRequest("/login.php", "Cookie: PHPSESSID=0ld\r\n", body)).
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: PHPSESSID=n3w; path=/\r\nLocation: /status.php\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "yes"}, {"a***", "form", "unique", "yes"}}},
		{"form_first_visit_app_cookie", func(c *inspecttest.Conv) {
			body := "luci_username=root&luci_password=" + secret
			c.Client(postRequest("/cgi-bin/luci", "", body)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: PHPSESSID=9a1f\r\nSet-Cookie: sysauth=f00d; path=/cgi-bin/luci\r\nContent-Length: 17\r\n\r\n<h1>Overview</h1>")
		}, []want{{"r***", "form", "unique", "yes"}}},
		// A 200 with a session cookie is a verdict only with a page that
		// is read whole and is not the login form again: Flask keeps
		// "Invalid password" in its session cookie, Rails sets its
		// cookie on every answer.
		{"form_200_login_form_again_flash_cookie", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			page := "<html><form action=/login>Invalid username or password</form></html>"
			c.Client(postRequest("/login", "Content-Type: application/x-www-form-urlencoded\r\n", body)).
				Server("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: session=eyJfZmxhc2hlcyI6W3siIHQiOlsiZXJyb3IiLCJJbnZhbGlkIl19XX0.Z1.abc; HttpOnly; Path=/\r\nContent-Length: " + itoa(len(page)) + "\r\n\r\n" + page)
		}, []want{{"a***", "form", "unique", "unknown"}}},
		{"form_200_answers_with_login_pages", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			for _, page := range []string{
				`<form method="post" action="/cgi-bin/login.cgi?lang=en"><input name="user">`,
				`<form method=post><input name=user>`, // no action: posts to the page shown
				`<form action="http://192.168.1.20/cgi-bin/login.cgi">`,
				`<div><input TYPE = 'Password' name="pwd"></div>`,
				`<input type=password name=pwd>`,
				`{"status":"error","message":"Incorrect password"}`,
				`{"code":-1,"msg":"Login failed"}`,
			} {
				c.Client(postRequest("/cgi-bin/login.cgi", "", body)).
					Server("HTTP/1.1 200 OK\r\nSet-Cookie: _app_session=Zm9v; path=/; HttpOnly\r\nContent-Length: " + itoa(len(page)) + "\r\n\r\n" + page)
			}
		}, slices.Repeat([]want{{"a***", "form", "unique", "unknown"}}, 7)},
		{"form_200_cookie_alone", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1\r\nContent-Length: 0\r\n\r\n").
				Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 204 No Content\r\nSet-Cookie: sid=2\r\n\r\n")
		}, []want{{"a***", "form", "unique", "unknown"}, {"a***", "form", "unique", "unknown"}}},
		{"form_200_page_too_long_to_read_whole", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			page := "<html>" + strings.Repeat("<p>dashboard</p>", maxBody/16) + "<form action=/login><input type=password></form></html>"
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1\r\nContent-Length: " + itoa(len(page)) + "\r\n\r\n" + page)
		}, []want{{"a***", "form", "unique", "unknown"}}},
		{"form_200_other_page_chunked", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			c.Client(postRequest("/login", "", body)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1\r\nTransfer-Encoding: chunked\r\n\r\n" +
					"1a\r\n<h1>Cameras</h1><form acti\r\n" + "19\r\non=/search><input name=q>\r\n0\r\n\r\n")
		}, []want{{"a***", "form", "unique", "yes"}}},
		{"form_200_answer_before_the_body", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			c.Client("POST /login HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1\r\nContent-Length: 15\r\n\r\n{\"result\":\"ok\"}").Client(body).
				Client("POST /login HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1\r\nContent-Length: 15\r\n\r\n{\"result\":").Client(body).Server("\"ok\"}")
		}, []want{{"a***", "form", "unique", "yes"}, {"a***", "form", "unique", "yes"}}},
		// The answer comes before the body: the request's cookies still
		// judge it.
		{"form_early_answer_renews_session", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			c.Client("POST /login.php HTTP/1.1\r\nCookie: PHPSESSID=0ld\r\nExpect: 100-continue\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n").
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: PHPSESSID=n3w\r\nLocation: /status.php\r\nContent-Length: 0\r\n\r\n").Client(body)
		}, []want{{"a***", "form", "unique", "yes"}}},
		{"form_cookie_deleted", func(c *inspecttest.Conv) {
			body := "username=admin&password=" + secret
			for _, cookie := range []string{
				"sid=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/",
				"sid=; Path=/",
				"sid=x; Max-Age=0",
			} {
				c.Client(postRequest("/login", "", body)).
					Server("HTTP/1.1 200 OK\r\nSet-Cookie: " + cookie + "\r\nContent-Length: 0\r\n\r\n")
			}
		}, []want{{"a***", "form", "unique", "unknown"}, {"a***", "form", "unique", "unknown"}, {"a***", "form", "unique", "unknown"}}},
		// 407 and Proxy-Authenticate are the proxy's, 401 and
		// WWW-Authenticate the origin's: each judges its own header. A
		// refusal by one is none by the other, and each challenge
		// demands only its own credential.
		{"proxy_and_origin_logins_judged_apart", func(c *inspecttest.Conv) {
			req := "GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\nProxy-Authorization: Basic " + basicRoot + "\r\n\r\n"
			swapped := "GET / HTTP/1.1\r\nAuthorization: Basic " + basicRoot + "\r\nProxy-Authorization: Basic " + basicAdmin + "\r\n\r\n"
			c.Client(req).Server("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n").
				Client(req).Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n").
				Client(req).Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").
				Client(swapped).Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{
			{"a***", "Basic", "unique", "unknown"}, {"r***", "Basic", "unique", "no"},
			{"a***", "Basic", "unique", "no"}, {"r***", "Basic", "unique", "unknown"},
			{"a***", "Basic", "unique", "unknown"}, {"r***", "Basic", "unique", "unknown"}, // each refused before
			{"r***", "Basic", "unique", "yes"}, {"a***", "Basic", "unique", "yes"},
		}},
		{"stale_nonce_is_no_refusal", func(c *inspecttest.Conv) {
			auth := "Digest username=\"admin\", realm=\"cam\", nonce=\"old\", uri=\"/\", response=\"6629fae49393a05397450978507c4ef1\""
			c.Client("GET / HTTP/1.1\r\nAuthorization: " + auth + "\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"new\", stale=true\r\nContent-Length: 0\r\n\r\n").
				Client("GET / HTTP/1.1\r\nProxy-Authorization: " + auth + "\r\n\r\n").
				Server("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Digest realm=\"cam\", nonce=\"new\", stale=TRUE\r\nContent-Length: 0\r\n\r\n").
				Client("GET / HTTP/1.1\r\nAuthorization: " + auth + "\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"new\", stale=false\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Digest", "hashed", "unknown"}, {"a***", "Digest", "hashed", "unknown"}, {"a***", "Digest", "hashed", "no"}}},
		{"json_login", func(c *inspecttest.Conv) {
			body := `{"method":"login","params":{"username":"admin","password":"s3cret-Pass"}}`
			c.Client(postRequest("/api", "Content-Type: application/json\r\n", body)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Length: 15\r\n\r\n{\"result\":\"ok\"}")
		}, []want{{"a***", "json", "unique", "yes"}}},
		{"json_escapes_and_numbers", func(c *inspecttest.Conv) {
			body := `{"user":"ad\u006din","pin":1,"passWord":"s3cret\u002dPass"}`
			c.Client(postRequest("/api", "", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "json", "unique", "no"}}},
		{"password_settings_are_not_passwords", func(c *inspecttest.Conv) {
			body := `{"name":"Kitchen","remember_password":1,"savePwd":true,"show_password":"on"}`
			c.Client(postRequest("/api", "", body)).
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			form := "user=admin&remember_password=on"
			c.Client("POST /login HTTP/1.1\r\nContent-Length: " + itoa(len(form)) + "\r\n\r\n" + form).
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, nil},
		// A login API answers a failure with 200, its session cookie
		// (set on every answer) and an error in JSON.
		{"json_login_200_error_answer", func(c *inspecttest.Conv) {
			body := `{"username":"admin","password":"s3cret-Pass"}`
			answer := `{"error":"bad user name or passwd"}`
			c.Client(postRequest("/api/login", "Content-Type: application/json\r\n", body)).
				Server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: token=abc; path=/\r\nContent-Length: " + itoa(len(answer)) + "\r\n\r\n" + answer)
		}, []want{{"a***", "json", "unique", "unknown"}}},
		// Dahua's RPC2 login (its web page, its OEMs', home automation
		// clients) first asks for a challenge with an empty password,
		// then sends a salted hash: one login, hashed, no empty one.
		{"dahua_rpc2_challenge_then_hashed_login", func(c *inspecttest.Conv) {
			ask := `{"method":"global.login","params":{"userName":"admin","password":"","clientType":"Dahua3.0-Web3.0"},"id":1}`
			challenge := `{"error":{"code":268632079,"message":"Component error: login challenge!"},"id":1,"params":{"encryption":"Default","random":"1230211283","realm":"Login to 3J05BC1PAZ00167"},"result":false,"session":"c6b01d6a"}`
			welcome := `{"id":2,"params":{"keepAliveInterval":60},"result":true,"session":"c6b01d6a"}`
			login := `{"method":"global.login","params":{"userName":"admin","password":"7A6B2F3C0E9D4B1A8C5E2F7D3A9B6C1E","clientType":"Dahua3.0-Web3.0","authorityType":"Default","passwordType":"Default"},"id":2,"session":"c6b01d6a"}`
			c.Client(postRequest("/RPC2_Login", "Content-Type: text/plain; charset=utf-8\r\n", ask)).
				Server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(challenge)) + "\r\n\r\n" + challenge).
				Client(postRequest("/RPC2_Login", "Content-Type: application/json\r\n", login)).
				Server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(welcome)) + "\r\n\r\n" + welcome)
		}, []want{{"a***", "json", "hashed", "unknown"}}},
		// jQuery's $.post keeps the form type for a JSON.stringify'd
		// body, as many devices' pages send their login; browsers
		// escape a form's '{' (%7B), so a form body never starts so.
		{"json_body_typed_as_form", func(c *inspecttest.Conv) {
			body := `{"username":"admin","password":"` + secret + `"}`
			c.Client(postRequest("/goform/login", "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "json", "unique", "no"}}},
		{"empty_json_password_is_a_login", func(c *inspecttest.Conv) {
			body := `[{"cmd":"Login","param":{"User":{"userName":"admin","password":""}}}]`
			c.Client(postRequest("/api.cgi?cmd=Login", "Content-Type: application/json\r\n", body)).
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "json", "empty", "no"}}},
		{"numeric_password_kept", func(c *inspecttest.Conv) {
			body := `{"username":"admin","password":1234}`
			c.Client(postRequest("/api", "", body)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Length: 15\r\n\r\n{\"result\":\"ok\"}")
		}, []want{{"a***", "json", "unique", "yes"}}},
		{"query_login", func(c *inspecttest.Conv) {
			c.Client("GET /cgi-bin/CGIProxy.fcgi?cmd=getDevState&usr=admin&pwd=" + secret + " HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: x=1\r\nContent-Length: 43\r\n\r\n<CGI_Result><result>0</result></CGI_Result>")
		}, []want{{"a***", "query", "unique", "yes"}}},
		// Many cheap P2P cameras (and their phone apps) name the fields
		// loginuse and loginpas on every CGI script.
		{"query_login_loginuse_loginpas", func(c *inspecttest.Conv) {
			c.Client("GET /videostream.cgi?loginuse=admin&loginpas=" + secret + "&resolution=32 HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "query", "unique", "no"}}},
		{"query_empty_password", func(c *inspecttest.Conv) {
			c.Client("GET /snapshot.cgi?user=admin&pwd= HTTP/1.1\r\n\r\n").Server("HTTP/1.1 200 OK\r\n\r\n")
		}, []want{{"a***", "query", "empty", "unknown"}}},
		{"early_401_before_body", func(c *inspecttest.Conv) {
			body := "user=admin&password=" + secret
			c.Client("POST /login HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n").Client(body)
		}, []want{{"a***", "form", "unique", "no"}}},
		{"connect_tunnel_not_inspected", func(c *inspecttest.Conv) {
			c.Client("CONNECT cam:443 HTTP/1.1\r\n\r\n").Server("HTTP/1.1 200 Connection established\r\n\r\n").
				Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
		}, nil},
		{"upgrade_stops", func(c *inspecttest.Conv) {
			c.Client("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").Server("HTTP/1.1 101 Switching Protocols\r\n\r\n").
				Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
		}, nil},
		{"response_without_request", func(c *inspecttest.Conv) {
			c.Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, nil},
		{"garbage_then_request", func(c *inspecttest.Conv) {
			c.Client("junk\x00\x01\r\nmore junk\r\n" + unauthenticated).Server(challenge401).
				Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []want{{"a***", "Basic", "unique", "yes"}}},
		{"deep_pipeline_stays_paired", func(c *inspecttest.Conv) {
			var req, resp strings.Builder
			for i := 0; i < maxPending+2; i++ {
				req.WriteString("GET / HTTP/1.1\r\n\r\n")
				resp.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			}
			req.WriteString("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
			resp.WriteString("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
			c.Client(req.String()).Server(resp.String())
		}, []want{{"a***", "Basic", "unique", "no"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New(nil))
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:80")
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d logins, want %d: %v", len(got), len(tt.want), evidences(got))
			}
			for i, w := range tt.want {
				ev := got[i].Evidence
				if userOf(ev) != w.user || ev["mechanism"] != w.mechanism || ev["password_class"] != w.class || ev["accepted"] != w.accepted {
					t.Errorf("login %d: evidence %v, want %+v", i, ev, w)
				}
				if got[i].Device.IP != "192.168.1.20" {
					t.Errorf("device %v, want the LAN server", got[i].Device)
				}
			}
			for _, s := range []string{secret, basicAdmin, basicRoot, "s3cret%2DPass", `s3cret\u002dPass`} {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q leaked into an event", s)
				}
			}
		})
	}
}

// userOf is the redacted user of a login, "" for none: the engine omits
// the key for logins without a user, or showed the redaction of nothing.
func userOf(ev event.Evidence) string {
	if u := ev["user"]; u != "***" {
		return u
	}
	return ""
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// defaultsClassifier knows one default password and tries it on hashed
// logins through Verify, as the real classifier does.
type defaultsClassifier struct{ password string }

func (d defaultsClassifier) Classify(l *inspect.Login) (inspect.PasswordClass, inspect.DefaultMatch) {
	if l.Kind == inspect.SecretHashed {
		if l.Verify != nil && l.Verify([]byte(d.password)) {
			return inspect.ClassDefault, inspect.DefaultMatch{Vendor: "Acme", Source: "test"}
		}
		return "", inspect.DefaultMatch{}
	}
	if string(l.Secret) == d.password {
		return inspect.ClassDefault, inspect.DefaultMatch{Vendor: "Acme", Source: "test"}
	}
	return "", inspect.DefaultMatch{}
}

// TestCutLoginIsNotClassified: a password cut short by the target buffer
// or the byte budget must not be classified as if whole: "admin", the
// front of "admin2024!Secure", is a factory default. One that runs past
// the body prefix is read whole. A password that ends within what is
// kept is still found.
func TestCutLoginIsNotClassified(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	const (
		form     = "application/x-www-form-urlencoded"
		json     = "application/json"
		accepted = "HTTP/1.1 302 Found\r\nSet-Cookie: sid=1\r\nLocation: /\r\nContent-Length: 0\r\n\r\n"
		rest     = "2024!Secure" // of the password "admin2024!Secure"
	)
	post := func(ctype, body string) string {
		return postRequest("/login", "Host: cam\r\nContent-Type: "+ctype+"\r\n", body)
	}
	// upTo pads between head and tail so that tail ends at byte n.
	upTo := func(n int, head, tail string) string {
		return head + strings.Repeat("A", n-len(head)-len(tail)) + tail
	}
	budget := inspect.DefaultConfig().ByteBudget
	// budgetLogin is a keep-alive flow whose second request, a login, has
	// the byte budget end right after its first cutAfter bytes.
	budgetLogin := func(login, cutAfter string) func(c *inspecttest.Conv) {
		return func(c *inspecttest.Conv) {
			at := strings.Index(login, cutAfter) + len(cutAfter)
			total := budget - at
			var upload string
			for digits := 1; digits < 7; digits++ {
				head := "POST /upload HTTP/1.1\r\nContent-Length: \r\n\r\n"
				n := total - len(head) - digits
				if len(strconv.Itoa(n)) == digits {
					upload = "POST /upload HTTP/1.1\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n" + strings.Repeat("u", n)
					break
				}
			}
			c.Client(upload).Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").Client(login).Server(accepted)
		}
	}
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   int // default_credentials findings
	}{
		{"form_across_body_prefix_end", func(c *inspecttest.Conv) {
			c.Client(post(form, upTo(maxBody, "__VIEWSTATE=", "&user=admin&password=admin")+rest)).Server(accepted)
		}, 0},
		{"form_cut_by_budget", budgetLogin(post(form, "user=admin&password=admin"+rest), "password=admin"), 0},
		{"query_cut_by_target_buffer", func(c *inspecttest.Conv) {
			c.Client("GET " + upTo(maxTarget, "/cgi-bin/login.cgi?__VIEWSTATE=", "&usr=admin&pwd=admin") + rest + " HTTP/1.1\r\nHost: cam\r\n\r\n").Server(accepted)
		}, 0},
		{"json_across_body_prefix_end", func(c *inspecttest.Conv) {
			c.Client(post(json, upTo(maxBody, `{"state":"`, `","username":"admin","password":"admin`)+rest+`"}`)).Server(accepted)
		}, 0},
		{"json_cut_by_budget", budgetLogin(post(json, `{"username":"admin","password":"admin`+rest+`"}`), `"password":"admin`), 0},
		{"json_number_cut_by_budget", budgetLogin(post(json, `{"username":"admin","password":1234567890}`), `"password":1234`), 0},

		{"form_whole_at_body_prefix_end", func(c *inspecttest.Conv) {
			c.Client(post(form, upTo(maxBody, "__VIEWSTATE=", "&user=admin&password=admin&")+"x=1")).Server(accepted)
		}, 1},
		{"form_whole_last_pair", func(c *inspecttest.Conv) {
			c.Client(post(form, "user=admin&password=admin")).Server(accepted)
		}, 1},
		{"form_whole_at_budget", budgetLogin(post(form, "user=admin&password=admin"), "password=admin"), 1},
		{"query_whole_at_target_buffer_end", func(c *inspecttest.Conv) {
			c.Client("GET " + upTo(maxTarget, "/cgi-bin/login.cgi?__VIEWSTATE=", "&usr=admin&pwd=admin&") + "x=1 HTTP/1.1\r\nHost: cam\r\n\r\n").Server(accepted)
		}, 1},
		{"json_whole_at_body_prefix_end", func(c *inspecttest.Conv) {
			c.Client(post(json, upTo(maxBody, `{"state":"`, `","username":"admin","password":"admin"`)+`}`)).Server(accepted)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(nil), "192.168.1.20:80")
			tt.script(s.Conv)
			col := s.End()
			if got := col.Kind(event.KindDefaultCredentials); len(got) != tt.want {
				t.Errorf("%d default_credentials findings, want %d: %v", len(got), tt.want, evidences(got))
			}
			if inspecttest.Leaks(t, col.Events, "admin"+rest) {
				t.Errorf("the password leaked into an event")
			}
		})
	}
}

// TestCutNumberIsNotACard: a body prefix cut by maxBody, by the end of
// the flow or by the byte budget may end in the front of a long number,
// which is no payment card; a card in a body that ends where the message
// does is still found.
func TestCutNumberIsNotACard(t *testing.T) {
	const (
		card = "4111111111111111"
		more = "3947203948572039" // with card, a 32-digit number that is no card
		// A response comes from the internet, where only a labelled
		// field is the device's personal data.
		field = "card=" + card
	)
	text := func(n int) string { return strings.Repeat("w", n-1) + " " }
	post := func(body string) string {
		return "POST /upload HTTP/1.1\r\nHost: cam\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	ok := func(body string) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	const untilClose = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
	budget := inspect.DefaultConfig().ByteBudget
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   int
	}{
		{"request_body_prefix", func(c *inspecttest.Conv) {
			c.Client(post(text(maxBody-len(card)) + card + more + " end"))
		}, 0},
		{"response_body_prefix", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\n\r\n").Server(ok(text(maxBody-len(field)) + field + more + " end"))
		}, 0},
		{"response_body_cut_by_flow_end", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\n\r\n").Server(ok(field + more)[:len(ok(field+more))-len(more)])
		}, 0},
		{"until_close_body_cut_by_budget", func(c *inspecttest.Conv) {
			first := ok(text(budget - 200))
			second := untilClose + text(budget-len(first)-len(untilClose)-len(field)) + field
			c.Client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n").Server(first).Server(second + more + " end")
		}, 0},

		{"request_body_whole", func(c *inspecttest.Conv) {
			c.Client(post("card " + card))
		}, 1},
		{"until_close_body_ended", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.0\r\n\r\n").Server(untilClose + field)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			conv := inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:80")
			tt.script(conv)
			conv.Close()
			e.Flush()
			if got := c.Kind(event.KindPersonalData); len(got) != tt.want {
				t.Fatalf("%d findings, want %d: %v", len(got), tt.want, evidences(got))
			}
		})
	}
}

// TestEmailInRequestPath: a REST path names the account it is about; a
// single "/" before the address is a path, not URL userinfo.
func TestEmailInRequestPath(t *testing.T) {
	for _, target := range []string{
		"/api/v1/users/alice.smith@example.com/devices",
		"/api/v1/users/alice.smith%40example.com",
	} {
		c := &inspecttest.Collector{}
		e := inspecttest.Engine(t, c, nil, New(pii.New()))
		inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:80").Client("GET " + target + " HTTP/1.1\r\nHost: api\r\n\r\n").Close()
		e.Flush()
		if got := c.Kind(event.KindPersonalData); len(got) != 1 || got[0].Evidence["data_kind"] != "email" {
			t.Errorf("%s: findings %v, want one e-mail", target, evidences(got))
		}
	}
}

// TestWebPageContactIsNotTheOwners: a web page's contact details from the
// internet are not the owner's personal data: free text in a response
// from outside is not reported, a labelled field (an API's answer) is.
func TestWebPageContactIsNotTheOwners(t *testing.T) {
	page := `<html><footer>Shop GmbH, Kontakt: <a href="mailto:anna.schmidt@example-shop.de">anna.schmidt@example-shop.de</a>, Tel. +49 30 1234567</footer></html>`
	api := `{"email":"alice.smith@example.com"}`
	respond := func(ctype, body string) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: " + ctype + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	c := &inspecttest.Collector{}
	e := inspecttest.Engine(t, c, nil, New(pii.New()))
	inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:80").Client("GET /impressum.html HTTP/1.1\r\nHost: shop\r\n\r\n").Server(respond("text/html", page)).Close()
	inspecttest.NewTCP(e, "192.168.1.10:40001", "203.0.113.5:80").Client("GET /account HTTP/1.1\r\nHost: api\r\n\r\n").Server(respond("application/json", api)).Close()
	// The same page sent by a LAN server to the internet is the LAN's;
	// shown to a browser on the LAN it is the device's own page.
	inspecttest.NewTCP(e, "198.51.100.7:40000", "192.168.1.20:80").Client("GET /impressum.html HTTP/1.1\r\nHost: nas\r\n\r\n").Server(respond("text/html", page)).Close()
	inspecttest.NewTCP(e, "192.168.1.10:40002", "192.168.1.20:80").Client("GET /impressum.html HTTP/1.1\r\nHost: nas\r\n\r\n").Server(respond("text/html", page)).Close()
	e.Flush()
	got := map[string]int{}
	for _, ev := range c.Kind(event.KindPersonalData) {
		got[ev.Evidence["data_kind"]+"/"+ev.Evidence["direction"]+"/"+ev.Evidence["field"]]++
	}
	want := map[string]int{"email/wan_to_lan/email": 1, "email/lan_to_wan/": 1, "phone/lan_to_wan/": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}

// TestRequestHeadersScanned: a LAN client's request headers are scanned
// like a body, all but the credentials the login analyzers read.
func TestRequestHeadersScanned(t *testing.T) {
	const wan, lan = "203.0.113.5:80", "192.168.1.20:80"
	tests := []struct {
		name           string
		client, server string
		headers        string
		want           []string // data_kind/field/where/direction of each finding
		logins         int
	}{
		{"imei_and_from", inspecttest.LANClient, wan, "X-IMEI: 490154203237518\r\nFrom: alice.smith@example.com\r\n",
			[]string{"email//header/lan_to_wan", "imei/imei/header/lan_to_wan"}, 0},
		{"serial_and_mac", inspecttest.LANClient, wan, "X-Device-Serial: FX0023A7781\r\nX-MAC: a4:cf:12:9b:3e:01\r\n",
			[]string{"mac/mac/header/lan_to_wan", "serial/serial/header/lan_to_wan"}, 0},
		{"position", inspecttest.LANClient, wan, "X-Latitude: 52.520008\r\nX-Longitude: 13.404954\r\nGeo-Position: 52.520008;13.404954\r\n",
			nil, 0},
		{"lan_server_gets_no_device_ids", inspecttest.LANClient, lan, "X-IMEI: 490154203237518\r\nFrom: alice.smith@example.com\r\n",
			[]string{"email//header/lan_to_lan"}, 0},
		// The login analyzers read these: one login, no personal data.
		{"authorization", inspecttest.LANClient, wan, "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice@example.com:"+secret)) + "\r\n",
			nil, 1},
		{"cookie", inspecttest.LANClient, wan, "Cookie: email=alice%40example.com; phone=%2B4930123456\r\n", nil, 0},
		{"ordinary_headers", inspecttest.LANClient, wan, "User-Agent: Mozilla/5.0 (Linux; Android 12; SM-G991B Build/SP1A.210812.016)\r\nAccept: */*\r\n" +
			"X-Request-ID: 4000001234567899\r\nX-Trace: 5105105105105100\r\nDate: 15/01/2024\r\n", nil, 0},
		// An internet client's headers are its own.
		{"internet_client", "198.51.100.7:40000", lan, "From: crawler-ops@example.com\r\n", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			inspecttest.NewTCP(e, tt.client, tt.server).Client("GET /fw/check HTTP/1.1\r\nHost: update\r\n" + tt.headers + "\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").Close()
			e.Flush()
			var got []string
			for _, ev := range c.Kind(event.KindPersonalData) {
				got = append(got, ev.Evidence["data_kind"]+"/"+ev.Evidence["field"]+"/"+ev.Evidence["where"]+"/"+ev.Evidence["direction"])
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
			if n := len(c.Kind(event.KindPlaintextCredentials)); n != tt.logins {
				t.Errorf("%d logins, want %d", n, tt.logins)
			}
		})
	}
}

// TestGeoIPAnswerPassedOn: a weather clock asks a geo-IP service where it
// is (its answer is a guess of the city, not reported) and passes the
// answer on to a weather API: no finding either. Its own position, or
// the same sent by another device, is one.
func TestGeoIPAnswerPassedOn(t *testing.T) {
	body := `{"status":"success","city":"Berlin","zip":"10115","lat":52.5196,"lon":13.4069}`
	geoIP := "GET /json HTTP/1.1\r\nHost: ip-api.com\r\n\r\n"
	answer := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	tests := []struct {
		name    string
		client  string
		request string
		want    int
	}{
		{"weather_query", "192.168.1.10:40001", "GET /data/2.5/weather?lat=52.5196&lon=13.4069&appid=x HTTP/1.1\r\nHost: api.openweathermap.org\r\n\r\n", 0},
		{"weather_query_rounded", "192.168.1.10:40001", "GET /v1/forecast?latitude=52.52&longitude=13.41 HTTP/1.1\r\nHost: api.open-meteo.com\r\n\r\n", 0},
		{"own_position", "192.168.1.10:40001", "GET /data/2.5/weather?lat=52.5163&lon=13.3777&appid=x HTTP/1.1\r\nHost: api.openweathermap.org\r\n\r\n", 1},
		{"another_device", "192.168.1.11:40001", "GET /data/2.5/weather?lat=52.5196&lon=13.4069&appid=x HTTP/1.1\r\nHost: api.openweathermap.org\r\n\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			inspecttest.NewTCP(e, "192.168.1.10:40000", "208.95.112.1:80").Client(geoIP).Server(answer).Close()
			inspecttest.NewTCP(e, tt.client, "203.0.113.9:80").Client(tt.request).Close()
			e.Flush()
			if got := c.Kind(event.KindPersonalData); len(got) != tt.want {
				t.Errorf("findings %v, want %d", evidences(got), tt.want)
			}
		})
	}
}

// TestEncodedPersonalData: a form or query string is scanned as the server
// reads it, percent-escapes and '+' decoded; an escaped '&' or '=' stays
// part of its value, and a body that is not a form is scanned as sent.
func TestEncodedPersonalData(t *testing.T) {
	post := func(ctype, body string) string {
		head := "POST /api HTTP/1.1\r\n"
		if ctype != "" {
			head += "Content-Type: " + ctype + "\r\n"
		}
		return head + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	const form = "application/x-www-form-urlencoded"
	postTo := func(path, body string) string {
		return "POST " + path + " HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	tests := []struct {
		name    string
		request string
		want    []string // data_kind/field/where of each finding
	}{
		{"wifimanager_post_to_its_page", postTo("/wifisave", "s=HomeNet&p=hunter2hunter2"), []string{"wifi_credentials/p/form"}},
		{"wifimanager_fields_posted_elsewhere", postTo("/search", "s=HomeNet&p=hunter2hunter2"), nil},
		{"form_phone", post(form, "id=7&phone=%2B49+30+1234567"), []string{"phone/phone/form"}},
		{"form_free_text_phone", post(form, "msg=call+%2B49+30+1234567+today"), []string{"phone//form"}},
		{"form_without_content_type", post("", "id=7&phone=%2B49+30+1234567"), []string{"phone/phone/form"}},
		{"json_array_without_content_type", post("", `[{"url":"http://x/?a=1","phone":"+4930123456"}]`), []string{"phone/phone/body"}},
		{"form_names_with_spaces", post(form, "first_name=Anna+Maria&last_name=van+der+Berg&email=anna%40example.com"), []string{"email/email/form", "name/first_name/form", "name/last_name/form"}},
		{"query_phone", "GET /reg?phone=%2B1-415-555-2671 HTTP/1.1\r\n\r\n", []string{"phone/phone/url"}},
		{"query_location", "GET /up?lat=52.5200%30&lon=13.4050%31 HTTP/1.1\r\n\r\n", []string{"location/lat/url"}},

		// Wi-Fi setup pages of device firmware, by GET and POST.
		{"wifimanager_get", "GET /wifisave?s=Home+Net&p=correct%20horse HTTP/1.1\r\n\r\n", []string{"wifi_credentials/p/url"}},
		{"short_fields_posted_to_an_api", post(form, "s=HomeNet&p=hunter2hunter2"), nil},
		{"tasmota_wifi_page", "GET /wi?s1=HomeNet&p1=hunter2hunter2&s2=&p2=****&h=%25s-%04d&c=&save= HTTP/1.1\r\n\r\n", []string{"wifi_credentials/p1/url"}},
		{"tasmota_backlog", "GET /cm?user=admin&password=x&cmnd=Backlog%20SSId1%20HomeNet%3B%20Password1%20hunter2hunter2 HTTP/1.1\r\n\r\n",
			[]string{"wifi_credentials/password/url"}},

		// A request line longer than the decoding buffer, in chunks.
		{"long_query", "GET /t?pad=" + strings.Repeat("a", 3000) + "&phone=%2B49+30+1234567&x=1 HTTP/1.1\r\n\r\n", []string{"phone/phone/url"}},
		{"long_query_field", "GET /t?note=" + strings.Repeat("a+", 1016) + "%2B49+30+1234567+now&x=1 HTTP/1.1\r\n\r\n", []string{"phone//url"}},
		{"long_path", "GET /" + strings.Repeat("p", 5000) + "?phone=%2B49+30+1234567 HTTP/1.1\r\n\r\n", []string{"phone/phone/url"}},
		{"long_query_cut_number", "GET /t?n=" + strings.Repeat("1", 2100) + "&x=%2B HTTP/1.1\r\n\r\n", nil},

		{"query_plus_is_a_space", "GET /call?n=+49+30+1234567 HTTP/1.1\r\n\r\n", nil},
		{"escaped_separator_stays_in_value", post(form, "note=a%26phone%3D0301234567"), nil},
		{"text_body_not_decoded", post("text/plain", "reading 7 %2B49+30+1234567"), nil},
		{"form_shaped_text_not_decoded", post("text/plain", "id=7&phone=%2B49+30+1234567"), nil},
		{"json_body_not_decoded", post("application/json", `{"n":"%2B49+30+1234567"}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:80").Client(tt.request).Close()
			e.Flush()
			var got []string
			for _, ev := range c.Kind(event.KindPersonalData) {
				got = append(got, ev.Evidence["data_kind"]+"/"+ev.Evidence["field"]+"/"+ev.Evidence["where"])
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
		})
	}
}

// TestScannerHandedDecoded: what the scanner is handed of a request
// target and a form, and that the decoded copy is wiped after.
func TestScannerHandedDecoded(t *testing.T) {
	rec := &recordingScanner{}
	p := New(rec)
	e := inspecttest.Engine(t, &inspecttest.Collector{}, nil, p)
	body := "a=x+y%26z&b=%2B1"
	inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:80").
		Client("POST /a+b/c%20d?q=1+2%3D3 HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body).
		Close()
	e.Flush()
	want := []scanCall{
		{inspect.ToServer, "url", "/a+b/c d?q=1 2%3D3"},
		{inspect.ToServer, "form", "a=x y%26z&b=+1"},
	}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("scans %+v, want %+v", rec.calls, want)
	}
	if n := len(bytes.Trim(p.decoded[:], "\x00")); n != 0 {
		t.Errorf("%d decoded bytes kept after the scan", n)
	}
}

// TestLongTargetDecodedInChunks: a request target longer than the
// decoding buffer is handed on decoded, in chunks of whole fields, a
// longer field in overlapping pieces marked as cut; nothing is kept.
func TestLongTargetDecodedInChunks(t *testing.T) {
	rec := &cutRecorder{}
	p := New(rec)
	e := inspecttest.Engine(t, &inspecttest.Collector{}, nil, p)
	long := strings.Repeat("b", 5000)
	target := "/t?a=" + strings.Repeat("x", 1500) + "&b=" + long + "&c=%2B1+2"
	inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:80").Client("GET " + target + " HTTP/1.1\r\n\r\n").Close()
	e.Flush()
	var joined string
	for i, c := range rec.calls {
		if len(c.data) > maxLine {
			t.Errorf("chunk %d: %d bytes", i, len(c.data))
		}
		joined += c.data
	}
	want := []inspect.Cut{0, inspect.CutEnd, inspect.CutStart | inspect.CutEnd, inspect.CutStart}
	if !slices.Equal(rec.cuts, want) {
		t.Errorf("cuts %v, want %v", rec.cuts, want)
	}
	if !strings.HasPrefix(rec.calls[0].data, "/t?a=x") || !strings.HasSuffix(joined, "&c=+1 2") || strings.Count(joined, "b") < len(long) {
		t.Errorf("chunks do not cover the target: %d calls, %d bytes", len(rec.calls), len(joined))
	}
	if n := len(bytes.Trim(p.decoded[:], "\x00")); n != 0 {
		t.Errorf("%d decoded bytes kept after the scan", n)
	}
}

// cutRecorder records what it is handed and the cuts.
type cutRecorder struct {
	recordingScanner
	cuts []inspect.Cut
}

func (r *cutRecorder) ScanPayload(f *inspect.Flow, dir inspect.Dir, where string, b []byte, cut inspect.Cut) {
	r.recordingScanner.ScanPayload(f, dir, where, b, cut)
	r.cuts = append(r.cuts, cut)
}

// TestBodyEndedByClose: a body delimited by the end of the connection is
// whole when the server's stream reached the close without a gap, budget
// stop or stopped inspection, whether it closed with a FIN or a reset or
// the capture ended; not when the server's last bytes were lost.
func TestBodyEndedByClose(t *testing.T) {
	const (
		head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
		card = "4111111111111111"
		lost = "3947203948572039 end" // with card, the front of a 32-digit number
	)
	client, server := netip.MustParseAddrPort(inspecttest.LANClient), netip.MustParseAddrPort("203.0.113.5:80")
	// reset is a RST from the server numbered after n bytes it sent
	// (NewTCP's server sequence starts at 5001).
	reset := func(e *inspect.Engine, n int) {
		e.HandlePacket(&inspect.Packet{Timestamp: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Kind: inspect.KindTCP, IPProto: 6,
			Src: server.Addr(), Dst: client.Addr(), SrcPort: server.Port(), DstPort: client.Port(),
			Seq: uint32(5001 + n), TCPFlags: inspect.TCPFlagRST | inspect.TCPFlagACK, TTL: 64})
	}
	response := head + "card=" + card // labelled: it comes from the internet
	tests := []struct {
		name   string
		script func(e *inspect.Engine, c *inspecttest.Conv)
		want   int
	}{
		{"fin", func(e *inspect.Engine, c *inspecttest.Conv) { c.Server(response).Close() }, 1},
		{"reset", func(e *inspect.Engine, c *inspecttest.Conv) { c.Server(response); reset(e, len(response)) }, 1},
		{"end_of_capture", func(e *inspect.Engine, c *inspecttest.Conv) { c.Server(response) }, 1},
		{"fin_after_lost_tail", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Server(response).Lose(inspect.ToClient, len(lost)).Close()
		}, 0},
		{"reset_after_lost_tail", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Server(response)
			reset(e, len(response+lost))
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			conv := inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:80").Client("GET / HTTP/1.0\r\n\r\n")
			tt.script(e, conv)
			e.Flush()
			if got := c.Kind(event.KindPersonalData); len(got) != tt.want {
				t.Fatalf("%d findings, want %d: %v", len(got), tt.want, evidences(got))
			}
		})
	}
}

func TestDigestDefaultPassword(t *testing.T) {
	tests := []struct {
		name, password, kind string
	}{
		{"default_found_through_verify", "Circle Of Life", string(event.KindDefaultCredentials)},
		{"other_password", "admin", string(event.KindPlaintextCredentials)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, defaultsClassifier{tt.password}, New(nil))
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:80")
			c.Client("GET /dir/index.html HTTP/1.1\r\nAuthorization: Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\"\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			c.Close()
			e.Flush()
			f := col.Findings()
			if len(f) != 1 || string(f[0].Kind) != tt.kind {
				t.Fatalf("findings %v, want one %s", evidences(f), tt.kind)
			}
			if inspecttest.Leaks(t, col.Events, "Circle Of Life") {
				t.Error("password leaked")
			}
		})
	}
}

// TestDefaultLoginVerdicts plays, with the real classifier, logins with
// factory-default passwords and says whether one is a quarantine's
// ground: a default_credentials finding seen accepted
// (event.Event.SeenAccepted). A camera's own login after its challenge
// is; a neighbour's scan with defaults, and pages that re-render a login
// form, are not.
func TestDefaultLoginVerdicts(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	basic := func(userPass string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(userPass)) + "\r\n"
	}
	post := func(target, ctype, body string) string {
		return "POST " + target + " HTTP/1.1\r\nHost: r\r\nContent-Type: " + ctype + "\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	}
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name       string
		script     func(c *inspecttest.Conv)
		defaults   int  // default_credentials findings
		quarantine bool // one of them seen accepted
	}{
		{"camera_login_after_challenge", func(c *inspecttest.Conv) {
			c.Client("GET /ISAPI/Security/userCheck HTTP/1.1\r\nHost: cam\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"IP Camera\"\r\nContent-Length: 0\r\n\r\n").
				Client("GET /ISAPI/Security/userCheck HTTP/1.1\r\nHost: cam\r\n" + basic("admin:12345") + "\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, 1, true},
		{"neighbour_scan_public_page_then_refused", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nHost: cam\r\n" + basic("admin:12345") + "\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").
				Client("GET /ISAPI/Security/userCheck HTTP/1.1\r\nHost: cam\r\n" + basic("admin:12345") + "\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n")
		}, 1, false}, // the 200's, unknown; the refusal is a plaintext_credentials finding
		{"neighbour_scan_redirected_to_login_page", func(c *inspecttest.Conv) {
			c.Client("GET /cgi-bin/main.cgi HTTP/1.1\r\nHost: cam\r\n" + basic("admin:admin") + "\r\n").
				Server("HTTP/1.1 302 Found\r\nLocation: /login.html?error=1\r\nContent-Length: 0\r\n\r\n")
		}, 0, false},
		{"neighbour_scan_preemptive_digest", func(c *inspecttest.Conv) {
			// admin/12345 on nonce "n", which the camera never issued.
			c.Client("GET / HTTP/1.1\r\nAuthorization: Digest username=\"admin\", realm=\"IP Camera\", nonce=\"n\", uri=\"/\", response=\"be568518607df2630875aff0073346bd\"\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, 1, false},
		{"router_form_empty_password_field_then_hash", func(c *inspecttest.Conv) {
			c.Client(post("/login.cgi", form, "username=admin&password=&encPassword=9f86d081884c7d659a2feaa0c55ad015")).
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: sysauth=abc; path=/\r\nLocation: /index.html\r\nContent-Length: 0\r\n\r\n")
		}, 0, false},
		{"router_json_empty_password_field_then_hash", func(c *inspecttest.Conv) {
			c.Client(post("/api/login", "application/json", `{"username":"admin","password":"","passwordHash":"9f86d081884c7d659a2feaa0c55ad015"}`)).
				Server("HTTP/1.1 200 OK\r\nSet-Cookie: token=abc; path=/\r\nContent-Length: 2\r\n\r\n{}")
		}, 0, false},
		{"camera_rpc2_challenge_request_is_no_login", func(c *inspecttest.Conv) {
			c.Client(post("/RPC2_Login", "application/json", `{"method":"global.login","params":{"userName":"admin","password":"","clientType":"Web3.0","loginType":"Direct"},"id":1}`)).
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		}, 0, false},
		{"hub_form_failed_login_flash_cookie", func(c *inspecttest.Conv) {
			page := "<html><form action=/login>Invalid username or password</form></html>"
			c.Client(post("/login", form, "username=admin&password=admin")).
				Server("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: session=eyJfZmxhc2hlcyI6W119.Z1.abc; HttpOnly; Path=/\r\nContent-Length: " + itoa(len(page)) + "\r\n\r\n" + page)
		}, 1, false},
		{"camera_multipart_login_redirected_with_session", func(c *inspecttest.Conv) {
			c.Client(post("/login", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nadmin\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nadmin\r\n--XX--\r\n")).
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: sid=1\r\nLocation: /index.html\r\nContent-Length: 0\r\n\r\n")
		}, 1, true},
		{"hub_form_login_redirected_with_session", func(c *inspecttest.Conv) {
			c.Client(post("/login", form, "username=admin&password=admin")).
				Server("HTTP/1.1 302 Found\r\nSet-Cookie: session=eyJ1c2VyIjoxfQ.Z1.abc; HttpOnly; Path=/\r\nLocation: /dashboard\r\nContent-Length: 0\r\n\r\n")
		}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(nil), "192.168.1.64:80")
			tt.script(s.Conv)
			defaults := s.End().Kind(event.KindDefaultCredentials)
			seen := false
			for _, ev := range defaults {
				seen = seen || ev.SeenAccepted()
			}
			if len(defaults) != tt.defaults || seen != tt.quarantine {
				t.Errorf("default_credentials %v, want %d, seen accepted: %v", evidences(defaults), tt.defaults, tt.quarantine)
			}
		})
	}
}

// TestHeaderVerdictAcrossConnections: what a server challenged or
// refused on one connection judges the credentials of the next, within
// the memory's bounds: clients answer a challenge on a new connection
// (busybox httpd closes each one), scanners probe on many.
func TestHeaderVerdictAcrossConnections(t *testing.T) {
	const (
		server  = "192.168.1.20:80"
		other   = "192.168.1.21:80"
		ok      = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		refused = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n"
	)
	get := func(path, auth string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: cloud.example.com\r\n" + auth + "\r\n"
	}
	admin := "Authorization: Basic " + basicAdmin + "\r\n"
	type want struct{ user, accepted string }
	tests := []struct {
		name   string
		script func(e *inspect.Engine)
		want   []want
	}{
		{"challenge_then_login_on_a_new_connection", func(e *inspect.Engine) {
			inspecttest.NewTCP(e, "192.168.1.10:40000", server).Client(get("/api/status.json", "")).Server(refused).Close()
			inspecttest.NewTCPAt(e, "192.168.1.10:40001", server, time.Second).Client(get("/api/status.json", admin)).Server(ok).Close()
		}, []want{{"a***", "yes"}}},
		// A joined connection's answer may be two frames anyone on the
		// LAN made up in the server's name: it proves nothing on
		// another connection.
		{"challenge_on_a_joined_connection", func(e *inspect.Engine) {
			inspecttest.JoinTCP(e, "192.168.1.10:40000", server).Client(get("/api/status.json", "")).Server(refused).Close()
			inspecttest.NewTCPAt(e, "192.168.1.10:40001", server, time.Second).Client(get("/api/status.json", admin)).Server(ok).Close()
		}, []want{{"a***", "unknown"}}},
		{"digest_nonce_issued_on_a_joined_connection", func(e *inspect.Engine) {
			inspecttest.JoinTCP(e, "192.168.1.10:40000", server).Client("GET /other/ HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"testrealm@host.com\", qop=\"auth\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"\r\nContent-Length: 0\r\n\r\n").Close()
			inspecttest.NewTCPAt(e, "192.168.1.10:40001", server, time.Second).Client("GET /dir/index.html HTTP/1.1\r\n" + digestMufasa + "\r\n").Server(ok).Close()
		}, []want{{"Mu***", "unknown"}}},
		{"challenge_by_another_server", func(e *inspect.Engine) {
			inspecttest.NewTCP(e, "192.168.1.10:40000", other).Client(get("/api/status.json", "")).Server(refused).Close()
			inspecttest.NewTCPAt(e, "192.168.1.10:40001", server, time.Second).Client(get("/api/status.json", admin)).Server(ok).Close()
		}, []want{{"a***", "unknown"}}},
		{"challenge_forgotten_after_an_hour", func(e *inspect.Engine) {
			inspecttest.NewTCP(e, "192.168.1.10:40000", server).Client(get("/api/status.json", "")).Server(refused).Close()
			inspecttest.NewTCPAt(e, "192.168.1.10:40001", server, 2*time.Hour).Client(get("/api/status.json", admin)).Server(ok).Close()
		}, []want{{"a***", "unknown"}}},
		{"refused_on_one_connection_then_200_on_another", func(e *inspect.Engine) {
			inspecttest.NewTCP(e, "192.168.1.30:40000", server).Client(get("/api/x", admin)).Server(refused).Close()
			inspecttest.NewTCPAt(e, "192.168.1.30:40001", server, time.Second).Client(get("/api/status.json", admin)).Server(ok).Close()
		}, []want{{"a***", "no"}, {"a***", "unknown"}}},
		{"held_acceptance_then_refused_on_another_connection", func(e *inspect.Engine) {
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", server).Client(get("/api/status.json", "")).Server(refused).
				Client(get("/api/status.json", admin)).Server(ok)
			inspecttest.NewTCP(e, "192.168.1.30:40001", server).Client(get("/api/config", admin)).Server(refused).Close()
			c.Close()
		}, []want{{"a***", "no"}, {"a***", "unknown"}}},
		{"digest_nonce_issued_on_another_connection", func(e *inspect.Engine) {
			inspecttest.NewTCP(e, "192.168.1.10:40000", server).Client("GET /other/ HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"testrealm@host.com\", qop=\"auth\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"\r\nContent-Length: 0\r\n\r\n").Close()
			inspecttest.NewTCPAt(e, "192.168.1.10:40001", server, time.Second).Client("GET /dir/index.html HTTP/1.1\r\n" + digestMufasa + "\r\n").Server(ok).Close()
		}, []want{{"Mu***", "yes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New(nil))
			tt.script(e)
			e.Flush()
			got := col.Kind(event.KindPlaintextCredentials)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d logins, want %d: %v", len(got), len(tt.want), evidences(got))
			}
			for i, w := range tt.want {
				if userOf(got[i].Evidence) != w.user || got[i].Evidence["accepted"] != w.accepted {
					t.Errorf("login %d: %v, want %+v", i, got[i].Evidence, w)
				}
			}
		})
	}
}

// TestAcceptanceHeldBack: an acceptance is reported when the connection
// ends, or ten seconds later at the first packet the engine sees, of
// this flow or another (a keep-alive connection may fall silent, or its
// capture budget be spent): long enough for a refusal that follows to
// make it unknown, short enough for a quarantine.
func TestAcceptanceHeldBack(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	logins := func() []*event.Event { return col.Kind(event.KindPlaintextCredentials) }
	c := challenged(inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:80")).
		Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if got := logins(); len(got) != 0 {
		t.Fatalf("reported at once: %v", evidences(got))
	}
	c.Wait(9 * time.Second).Client("GET /a HTTP/1.1\r\n\r\n")
	if got := logins(); len(got) != 0 {
		t.Fatalf("reported after 9 s: %v", evidences(got))
	}
	// Silent from now on; a packet of another flow wakes it.
	inspecttest.NewTCPAt(e, "192.168.1.11:40000", "192.168.1.21:80", 11*time.Second)
	got := logins()
	if len(got) != 1 || got[0].Evidence["accepted"] != "yes" || got[0].Device.IP != "192.168.1.20" {
		t.Fatalf("after 10 s: %v, want the login to 192.168.1.20 accepted", evidences(got))
	}
	c.Close()
	e.Flush()
	if got := logins(); len(got) != 1 {
		t.Errorf("reported again at the end: %v", evidences(got))
	}
}

// TestFormHashedPassword: a password a login page hashed before sending
// it is a hashed secret. The default list is tried on a plain hex digest
// through Verify, as on a Digest response; the digest's text is never
// taken for the password, and an empty field of the plain name beside it
// is no empty password (admin with no password is a default).
func TestFormHashedPassword(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	const (
		form     = "application/x-www-form-urlencoded"
		refused  = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
		accepted = "HTTP/1.1 302 Found\r\nSet-Cookie: sysauth=abc; path=/\r\nLocation: /index.html\r\nContent-Length: 0\r\n\r\n"
	)
	post := func(ctype, body string) string {
		return "POST /login.cgi HTTP/1.1\r\nHost: r\r\nContent-Type: " + ctype + "\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	}
	tests := []struct {
		name, request, response string
		kind                    event.Kind
		class                   string
	}{
		{"md5_of_a_default_accepted", post(form, "username=ubnt&password=&encPassword=ba86f2bbe107c7c57eb5f2690775c712"), accepted,
			event.KindDefaultCredentials, "default"},
		{"sha1_of_a_default_refused", post(form, "username=admin&password_sha1=D033E22AE348AEB5660FC2140AEC35850C4DA997"), refused,
			event.KindPlaintextCredentials, "default"},
		{"sha256_of_a_default_json", post("application/json", `{"username":"ubnt","password":"","pwdHash":"1af4cfa0ae8cb48c99dec1e17e2e78e1c0dc8d84194c078537c79b2bfb1096d4"}`), accepted,
			event.KindDefaultCredentials, "default"},
		{"digest_of_no_default", post(form, "username=admin&password=&encPassword=9f86d081884c7d659a2feaa0c55ad015"), accepted,
			event.KindPlaintextCredentials, "hashed"},
		{"encrypted_password", post(form, "username=admin&password=&encPassword="+strings.Repeat("a1", 128)), accepted,
			event.KindPlaintextCredentials, "hashed"},
		{"empty_password_alone_is_a_default", post(form, "username=admin&password="), refused,
			event.KindPlaintextCredentials, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(nil), "192.168.1.20:80")
			s.Client(tt.request).Server(tt.response)
			got := s.End().Findings()
			if len(got) != 1 || got[0].Kind != tt.kind || got[0].Evidence["password_class"] != tt.class {
				t.Fatalf("findings %v, want one %s of class %s", evidences(got), tt.kind, tt.class)
			}
			if got[0].Evidence["password"] != "" || got[0].Evidence["password_hash"] != "" {
				t.Errorf("a hashed login shows a password: %v", got[0].Evidence)
			}
		})
	}
}

func TestObservations(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:80")
	c.Client("GET / HTTP/1.1\r\nHost: 192.168.1.20\r\nUser-Agent: Dalvik/2.1.0\x01\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nServer: GoAhead-Webs\r\nContent-Length: 0\r\n\r\n").
		Client("GET /cgi HTTP/1.1\r\nHost: 192.168.1.20\r\nUser-Agent: other\r\n\r\n").
		Server("HTTP/1.1 401 Unauthorized\r\nServer: GoAhead-Webs\r\nWWW-Authenticate: Digest realm=\"IP \\\"Camera\\\"\", nonce=\"n\"\r\nContent-Length: 0\r\n\r\n").
		Client("GET /cgi HTTP/1.1\r\n\r\n").
		Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"again\"\r\nContent-Length: 0\r\n\r\n")
	c.Close()
	e.Flush()
	clients := col.Kind(event.KindHTTPClient)
	if len(clients) != 1 || clients[0].Evidence["user_agent"] != "Dalvik/2.1.0." || clients[0].Evidence["host"] != "192.168.1.20" {
		t.Errorf("http_client %v, want one with the first request's User-Agent", evidences(clients))
	}
	if len(clients) > 0 && clients[0].Device.IP != "192.168.1.10" {
		t.Errorf("http_client about %v, want the client", clients[0].Device)
	}
	servers := col.Kind(event.KindHTTPServer)
	if len(servers) != 2 {
		t.Fatalf("http_server %v, want the Server header, then the realm once", evidences(servers))
	}
	if servers[0].Evidence["server"] != "GoAhead-Webs" || servers[0].Evidence["realm"] != "" {
		t.Errorf("first http_server %v", servers[0].Evidence)
	}
	if servers[1].Evidence["realm"] != `IP "Camera"` || servers[1].Device.IP != "192.168.1.20" {
		t.Errorf("second http_server %v", servers[1].Evidence)
	}
}

// TestObservedHostMasked: the http_client observation's host shows a
// label that holds the device's identifier as "...", its port kept; a
// service's own name stays whole.
func TestObservedHostMasked(t *testing.T) {
	tests := []struct{ host, want string }{
		{"a1b2c3d4e5f6.iot.vendor.example", "....iot.vendor.example"},
		{"cam-00112233aabb.example.net:8080", "....example.net:8080"},
		{"sn-357938035643809.devices.example", "....devices.example"},
		{"xmpp.nest.com", "xmpp.nest.com"},
		{"s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New(nil))
			inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:80").
				Client("GET /status HTTP/1.1\r\nHost: " + tt.host + "\r\nUser-Agent: camd/1.2\r\n\r\n").Close()
			e.Flush()
			clients := col.Kind(event.KindHTTPClient)
			if len(clients) != 1 || clients[0].Evidence["host"] != tt.want {
				t.Errorf("http_client %v, want host %q", evidences(clients), tt.want)
			}
		})
	}
}

// TestProxiedAnswersNameNoServer: a LAN proxy relays the origin's Server
// header; it is not the proxy's, and any web site could name a version
// with known holes in it. Answers to absolute-form requests or with a
// Via header make no http_server observation; the proxy's own does.
func TestProxiedAnswersNameNoServer(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.5:3128")
	c.Client("GET http://legacy.example.com/ HTTP/1.1\r\nHost: legacy.example.com\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nServer: Apache/2.2.15 (CentOS) OpenSSL/1.0.1e-fips\r\nContent-Length: 0\r\n\r\n").
		Client("GET / HTTP/1.1\r\nHost: legacy.example.com\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nServer: Apache/2.2.15\r\nVia: 1.1 squid\r\nContent-Length: 0\r\n\r\n").
		Client("GET /squid-internal-static/icons/x HTTP/1.1\r\nHost: 192.168.1.5:3128\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nServer: squid/5.7\r\nContent-Length: 0\r\n\r\n")
	c.Close()
	e.Flush()
	servers := col.Kind(event.KindHTTPServer)
	if len(servers) != 1 || servers[0].Evidence["server"] != "squid/5.7" {
		t.Fatalf("http_server %v, want only the proxy's own", evidences(servers))
	}
}

// A User-Agent an app filled with its user's address or a token keeps
// neither.
func TestUserAgentScrubbed(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.20:80")
	c.Client("GET / HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: MyApp/1.0 (alice@example.com; token=abcd1234)\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	c.Close()
	e.Flush()
	clients := col.Kind(event.KindHTTPClient)
	if len(clients) != 1 || clients[0].Evidence["user_agent"] != "MyApp/1.0 (***; token=***)" {
		t.Errorf("http_client %v, want the User-Agent without the address and the token", evidences(clients))
	}
	for _, secret := range []string{"alice@example.com", "abcd1234"} {
		if inspecttest.Leaks(t, col.Events, secret) {
			t.Errorf("%s reached an event", secret)
		}
	}
}

func TestSetsCookie(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"sid=31d4d96e407aad42; Path=/; Secure; HttpOnly", true},
		{`sid="abc"`, true},
		{"sid=abc; Max-Age=3600", true},
		{"sid=abc; Expires=Wed, 21 Oct 2037 07:28:00 GMT", true},
		{"sid=", false},
		{`sid=""; Path=/`, false},
		{"sid=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT", false},
		{"sid=abc; Max-Age=0", false},
		{"sid=abc; max-age=-1", false},
		{"sid=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		if got := setsCookie([]byte(tt.value)); got != tt.want {
			t.Errorf("setsCookie(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestLoginPage(t *testing.T) {
	tests := []struct {
		location string
		want     bool
	}{
		{"/", false},
		{"/index.html", false},
		{"https://login.example.com/home", false},
		{"http://cam.local", false},
		{"/home?from=/login", false},
		{"/Login.html", true},
		{"http://192.168.1.1/cgi-bin/logon.cgi", true},
		{"/signin?next=/", true},
		{"/index.html?msg=auth_failed", true},
		{"/error.htm", true},
		{"/?err=invalid_password", true},
	}
	for _, tt := range tests {
		if got := loginPage([]byte(tt.location)); got != tt.want {
			t.Errorf("loginPage(%q) = %v, want %v", tt.location, got, tt.want)
		}
	}
}

func TestAnswerPage(t *testing.T) {
	p := New(nil)
	page := p.pageHash([]byte("/cgi-bin/login.cgi"))
	tests := []struct {
		body string
		want pageVerdict
	}{
		{`<h1>Status</h1><form action="/cgi-bin/reboot.cgi"><input type="submit"></form>`, pageOther},
		{`<form data-action="/x" action='/cgi-bin/status.cgi'>`, pageOther},
		{`{"token":"eyJhbGciOi","passwordless":true,"password_expires":90}`, pageOther},
		{`<input type="text" name="password">`, pageOther}, // a field named so, not a password input
		{`<FORM ACTION="login.cgi" METHOD="POST">`, pageLogin},
		{`<form action='/cgi-bin/login.cgi#top'>`, pageLogin},
		{`<form data-action="/x">`, pageLogin}, // no action: posts to the page shown
		{"<input\ttype\n=\n\"PASSWORD\">", pageLogin},
		{`{"error":"Wrong password"}`, pageLogin},
		{`Access denied`, pageLogin},
		// A login API's JSON answer that holds an error, or says it
		// did not succeed, in words of its own or none.
		{`{"error":"bad user name or passwd"}`, pageLogin},
		{` {"error": {"code": 268632071, "message": "password not valid"}, "result": false}`, pageLogin},
		{`{"data":null,"errors":[{"code":"E_AUTH"}]}`, pageLogin},
		{`{"Error": -40401}`, pageLogin},
		{`{"success":false,"msg":"user or password not match"}`, pageLogin},
		{"[{\"cmd\":\"Login\",\"code\":1,\"result\" : false}]", pageLogin},
		// Success answers: an error key that holds nothing.
		{`{"error":null,"token":"eyJhbGciOi"}`, pageOther},
		{`{"error":0,"errors":[],"result":true,"success":true,"data":{"error":""}}`, pageOther},
		{`{"error":false,"session":{}}`, pageOther},
		{`<p>{"error":"x"} is how the API answers</p>`, pageOther}, // markup, not a JSON answer
	}
	for _, tt := range tests {
		if got := answerPage([]byte(tt.body), page, p.seed); got != tt.want {
			t.Errorf("answerPage(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// TestLoginAfterLargeResponse: on a keep-alive connection the login page
// is fetched, then the credentials sent. The byte budget is per
// direction: a response larger than the server's does not keep the
// client's request from being read.
func TestLoginAfterLargeResponse(t *testing.T) {
	for _, size := range []int{2000, 20000} {
		t.Run(itoa(size), func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New(nil))
			c := inspecttest.NewTCP(e, "192.168.1.10:50000", "192.168.1.20:80")
			c.Client("GET /login HTTP/1.1\r\nHost: cam\r\n\r\n")
			resp := "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(size) + "\r\n\r\n" + strings.Repeat("x", size)
			for len(resp) > 0 {
				n := min(1400, len(resp))
				c.Server(resp[:n])
				resp = resp[n:]
			}
			c.Client("GET /admin HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			c.Close()
			e.Flush()
			if n := len(col.Findings()); n != 1 {
				t.Errorf("%d login findings, want 1", n)
			}
		})
	}
}

func TestIsFirmwarePath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/fw/camera_v2.1.bin", true},
		{"/download/openwrt-ar71xx-squashfs-sysupgrade.TRX", true},
		{"/pub/firmware/v1.0/rootfs.swu", true},
		{"/x/router.chk", true},
		{"/feeds/packages/luci_1.0_all.ipk", true},
		{"/firmware/latest/image.tar", true},
		{"/update/agent-2.3.deb", true},
		{"/FOTA/pkg.dat", true},
		{"/download/update_v1.2.zip", true},
		{"/files/router-upgrade-3.tar.gz", true},
		{"/cam-ota-1.tgz", true},
		{"/tasmota/release/tasmota.bin.gz", true},
		{"/fw/image.IMG.xz", true},
		{"/c/msdownload/update/software/secu/2024/kb5034441.cab", false},
		{"/update/windows10.0-kb5034441-x64.msu", false},
		{"/logs/app.log.gz", false},
		{"/updates.html", false},
		{"/static/app.bin.css", false},
		{"/update/", false},
		{"/update", false},
		{"/firmware/index.html", false},
		{"/ota/manifest.json", false},
		{"/rotation/pics.zip", false},
		{"/downloads/app.zip", false},
		{"/firmwareV2.zip", false},
		{"/updates/news.pdf", false},
		{"/.bin", false},
		{"/file.", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isFirmwarePath([]byte(tt.path)); got != tt.want {
			t.Errorf("isFirmwarePath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestIsUpdateCheck(t *testing.T) {
	tests := []struct {
		method, host, path, agent string
		want                      bool
	}{
		{"GET", "fota.vendor.example", "/check", "", true},
		{"GET", "Update.Vendor.Example:8080", "/", "ota-client/2", true},
		{"POST", "api.vendor.example", "/api/ota/query", "", true},
		{"GET", "cloud.example", "/fwupdate/latest.json", "", true},
		{"GET", "cloud.example", "/FOTA.php", "", true},
		{"GET", "cloud.example", "/api/firmware/latest", "", false}, // "firmware" alone
		{"POST", "cloud.example", "/api/device/update", "", false},  // a REST verb
		{"GET", "update.vendor.example", "/", "Mozilla/5.0", false}, // a browser
		{"GET", "update.vendor.example", "/logo.png", "", false},
		{"PUT", "fota.vendor.example", "/check", "", false},
		{"GET", "update", "/check", "", false}, // no domain: a LAN name
		{"GET", "rotate.example", "/rotation/x", "", false},
	}
	for _, tt := range tests {
		if got := isUpdateCheck([]byte(tt.method), []byte(tt.host), []byte(tt.path), []byte(tt.agent)); got != tt.want {
			t.Errorf("isUpdateCheck(%s %s%s, %q) = %v, want %v", tt.method, tt.host, tt.path, tt.agent, got, tt.want)
		}
	}
}

// TestUpdateCheckOnTheLAN: a device asking a LAN server (a hub, the
// owner's NAS) is no update check over the internet.
func TestUpdateCheckOnTheLAN(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:80")
	c.Client("GET /ota/check HTTP/1.1\r\nHost: fota.home.example\r\n\r\n").Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	c.Close()
	e.Flush()
	if got := col.Kind(event.KindFirmwareOverHTTP); len(got) != 0 {
		t.Fatalf("findings %v for a LAN server", evidences(got))
	}
}

func TestFirmwareOverHTTP(t *testing.T) {
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		url    string // "" for no finding
		status string
		low    bool // requested, not seen downloaded
	}{
		{"download", func(c *inspecttest.Conv) {
			c.Client("GET /fw/cam_v1.2.bin?token=" + secret + " HTTP/1.1\r\nHost: update.example.com\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
		}, "update.example.com/fw/cam_v1.2.bin", "200", false},
		{"not_found_reported_low", func(c *inspecttest.Conv) {
			c.Client("GET /firmware/x.img HTTP/1.1\r\nHost: h\r\n\r\n").Server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		}, "h/firmware/x.img", "404", true},
		{"absolute_form_with_userinfo", func(c *inspecttest.Conv) {
			c.Client("GET http://admin:" + secret + "@dl.example.com/ota/pkg.swu HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "dl.example.com/ota/pkg.swu", "none", true},
		{"path_parameter_session", func(c *inspecttest.Conv) {
			c.Client("GET /firmware/fw.bin;jsessionid=" + secret + " HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "dl.example.com/firmware/fw.bin", "none", true},
		{"userinfo_with_unencoded_slash", func(c *inspecttest.Conv) {
			// The password's '/' ends the authority early: what is left
			// of the user:password must not become the host.
			c.Client("GET http://admin:x/" + secret + "@dl.example.com/ota/pkg.swu HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "dl.example.com/ota/pkg.swu", "none", true},
		{"userinfo_with_slash_and_numeric_password", func(c *inspecttest.Conv) {
			// "admin:1234" reads as a host and port, "/<secret>@…" as a path.
			c.Client("GET http://admin:1234/" + secret + "@dl.example.com/ota/pkg.swu HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "dl.example.com/ota/pkg.swu", "none", true},
		{"userinfo_with_question_mark", func(c *inspecttest.Conv) {
			c.Client("GET http://admin:12?" + secret + "@dl.example.com/fw.bin HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "dl.example.com/fw.bin", "none", true},
		{"bad_host", func(c *inspecttest.Conv) {
			c.Client("GET http://bad!host/fw.bin HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "dl.example.com/fw.bin", "none", true},
		{"at_in_query_may_end_a_userinfo", func(c *inspecttest.Conv) {
			// Indistinguishable from "http://admin:1?x@b.example": the
			// path is given up rather than risk a password in evidence.
			c.Client("GET http://dl.example.com/fw.bin?mail=a@b.example HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "", "", false},
		{"at_in_path_makes_no_host_up", func(c *inspecttest.Conv) {
			c.Client("GET http://cdn.example.com/npm/fw@1.2.3/dist/fw.bin HTTP/1.1\r\nHost: cdn.example.com\r\n\r\n")
		}, "", "", false},
		{"at_in_query_makes_no_url_up", func(c *inspecttest.Conv) {
			c.Client("GET http://dl.example.com/fw.bin?sig=a@cdn.example/x.bin HTTP/1.1\r\nHost: dl.example.com\r\n\r\n")
		}, "", "", false},
		{"userinfo_with_slash_host_header_differs", func(c *inspecttest.Conv) {
			c.Client("GET http://admin:x/" + secret + "@dl.example.com/ota/pkg.swu HTTP/1.1\r\nHost: proxy.example.net\r\n\r\n")
		}, "", "", false},
		{"no_host_header", func(c *inspecttest.Conv) {
			c.Client("GET /fw.bin HTTP/1.0\r\n\r\n").Server("HTTP/1.0 200 OK\r\n\r\n")
		}, "203.0.113.7/fw.bin", "200", false},
		{"post_upload_is_not_a_download", func(c *inspecttest.Conv) {
			c.Client("POST /upgrade/fw.bin HTTP/1.1\r\nContent-Length: 0\r\n\r\n").Server("HTTP/1.1 200 OK\r\n\r\n")
		}, "", "", false},
		{"update_check_by_host", func(c *inspecttest.Conv) {
			c.Client("GET /api/v2/check?model=cam&sn=" + secret + " HTTP/1.1\r\nHost: fota.vendor.example\r\nUser-Agent: camd/1.2\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		}, "fota.vendor.example/api/v2/check", "200", true},
		{"update_check_by_path", func(c *inspecttest.Conv) {
			c.Client("POST /v1/ota/query HTTP/1.1\r\nHost: api.vendor.example\r\nContent-Length: 0\r\n\r\n").
				Server("HTTP/1.1 204 No Content\r\n\r\n")
		}, "api.vendor.example/v1/ota/query", "204", true},
		{"update_check_with_device_ids", func(c *inspecttest.Conv) {
			c.Client("GET /api/ota/device/SN12345678/AA:BB:CC:DD:EE:FF/check HTTP/1.1\r\nHost: api.vendor.example\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, "api.vendor.example/api/ota/device/.../.../check", "200", true},
		{"download_with_device_ids", func(c *inspecttest.Conv) {
			c.Client("GET /ota/AA:BB:CC:DD:EE:FF/cam_5.7.3_build220112.bin HTTP/1.1\r\nHost: dl.vendor.example\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, "dl.vendor.example/ota/.../cam_5.7.3_build220112.bin", "200", false},
		{"imei_as_file_name", func(c *inspecttest.Conv) {
			c.Client("GET /fota/357938035643809.bin HTTP/1.1\r\nHost: fw.vendor.example\r\n\r\n")
		}, "fw.vendor.example/fota/...", "none", true},
		{"mac_as_file_name", func(c *inspecttest.Conv) {
			c.Client("GET /fw/a4cf129b3e01.bin HTTP/1.1\r\nHost: fw.vendor.example\r\n\r\n")
		}, "fw.vendor.example/fw/...", "none", true},
		{"signed_token_in_path", func(c *inspecttest.Conv) {
			c.Client("GET /dl/AKIAxyz/k7Qd9Zp2LmXv4RtY.bin HTTP/1.1\r\nHost: fw.vendor.example\r\n\r\n")
		}, "fw.vendor.example/dl/AKIAxyz/...", "none", true},
		{"phone_number_segment", func(c *inspecttest.Conv) {
			c.Client("GET /ota/555123456/fw.bin HTTP/1.1\r\nHost: fw.vendor.example\r\n\r\n")
		}, "fw.vendor.example/ota/.../fw.bin", "none", true},
		{"dated_image_stays", func(c *inspecttest.Conv) {
			c.Client("GET /fw/cam_fw_20240115_v5.7.3.bin HTTP/1.1\r\nHost: fw.vendor.example\r\n\r\n")
		}, "fw.vendor.example/fw/cam_fw_20240115_v5.7.3.bin", "none", true},
		{"userinfo_in_host_header", func(c *inspecttest.Conv) {
			c.Client("GET /firmware/fw.bin HTTP/1.1\r\nHost: admin:" + secret + "@fw.vendor.example\r\n\r\n")
		}, "203.0.113.7/firmware/fw.bin", "none", true},
		{"browser_reads_a_firmware_page", func(c *inspecttest.Conv) {
			c.Client("GET /support/camera HTTP/1.1\r\nHost: update.vendor.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, "", "", false},
		{"update_host_style_sheet", func(c *inspecttest.Conv) {
			c.Client("GET /static/site.css HTTP/1.1\r\nHost: update.vendor.example\r\n\r\n").Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, "", "", false},
		{"web_page", func(c *inspecttest.Conv) {
			c.Client("GET /updates.html HTTP/1.1\r\n\r\nGET /static/app.bin.css HTTP/1.1\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New(nil))
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.7:80")
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindFirmwareOverHTTP)
			if tt.url == "" {
				if len(got) != 0 {
					t.Fatalf("firmware findings %v, want none", evidences(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("firmware findings %v, want one", evidences(got))
			}
			ev := got[0]
			sev := event.SeverityMedium
			if tt.low {
				sev = event.SeverityLow
			}
			if check := strings.Contains(tt.name, "update_check"); check != (ev.Evidence["request"] == "update_check") {
				t.Errorf("evidence %v: an update check %v", ev.Evidence, check)
			}
			if ev.Evidence["url"] != tt.url || ev.Evidence["status"] != tt.status || ev.Provision != "5.3-7" ||
				ev.Capability != event.CapSoftwareUpdates || ev.Severity != sev || ev.Device.IP != "192.168.1.10" {
				t.Errorf("finding %+v evidence %v, want url %q status %q about the client", ev, ev.Evidence, tt.url, tt.status)
			}
			if inspecttest.Leaks(t, col.Events, secret) {
				t.Error("query or userinfo leaked into an event")
			}
		})
	}
}

// recordingScanner keeps copies of what it was handed.
type recordingScanner struct{ calls []scanCall }

type scanCall struct {
	dir   inspect.Dir
	where string
	data  string
}

func (r *recordingScanner) ScanPayload(_ *inspect.Flow, dir inspect.Dir, where string, b []byte, _ inspect.Cut) {
	r.calls = append(r.calls, scanCall{dir, where, string(b)})
}

func TestPayloadScanner(t *testing.T) {
	rec := &recordingScanner{}
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(rec))
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.7:80")
	big := strings.Repeat("y", 5000)
	c.Client("POST /track?email=bob@example.com HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"lat\":52.1,\"x\":1}").
		Server("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5003\r\n\r\nok " + big).
		Client("GET /img HTTP/1.1\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xe0").
		Client("GET /stream HTTP/1.1\r\n\r\n").
		Server("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>until close")
	c.Close()
	e.Flush()
	want := []scanCall{
		{inspect.ToServer, "url", "/track?email=bob@example.com"},
		{inspect.ToServer, "body", `{"lat":52.1,"x":1}`},
		{inspect.ToClient, "response_body", ("ok " + big)[:maxBody]},
		{inspect.ToServer, "url", "/img"},
		{inspect.ToServer, "url", "/stream"},
		{inspect.ToClient, "response_body", "<p>until close"},
	}
	if len(rec.calls) != len(want) {
		t.Fatalf("got %d scans, want %d: %+v", len(rec.calls), len(want), rec.calls)
	}
	for i := range want {
		if rec.calls[i] != want[i] {
			t.Errorf("scan %d = %+v, want %+v", i, rec.calls[i], want[i])
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		tcp     bool
		port    string
		dir     inspect.Dir
		payload string
		want    inspect.Confidence
	}{
		{"get_any_port", true, "1234", inspect.ToServer, "GET / HTTP/1.1\r\n", inspect.ContentMatch},
		{"connect", true, "3128", inspect.ToServer, "CONNECT a:443 HTTP/1.1\r\n", inspect.ContentMatch},
		{"status_line", true, "1234", inspect.ToClient, "HTTP/1.0 200 OK\r\n", inspect.ContentMatch},
		{"web_port_text", true, "8080", inspect.ToServer, "xyz", inspect.PortMatch},
		{"web_port_tls", true, "8080", inspect.ToServer, "\x16\x03\x01", inspect.NoMatch},
		{"other_port_text", true, "1234", inspect.ToServer, "hello", inspect.NoMatch},
		{"rtsp_request", true, "554", inspect.ToServer, "OPTIONS rtsp://cam RTSP/1.0\r\n", inspect.NoMatch},
		{"rtsp_request_first_bytes", true, "554", inspect.ToServer, "OPTIONS rtsp://cam/long/pa", inspect.NoMatch},
		{"sip_over_tcp", true, "5060", inspect.ToServer, "OPTIONS sip:100@pbx SIP/2.0\r\n", inspect.NoMatch},
		{"rtsp_on_web_port", true, "80", inspect.ToServer, "OPTIONS * RTSP/1.0\r\n", inspect.PortMatch},
		{"request_line_incomplete", true, "1234", inspect.ToServer, "GET /very/long/pa", inspect.ContentMatch},
		{"ssdp_udp", false, "1900", inspect.ToServer, "NOTIFY * HTTP/1.1\r\n", inspect.NoMatch},
		{"lowercase_method", true, "1234", inspect.ToServer, "get / HTTP/1.1\r\n", inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspecttest.FirstMatch(t, New(nil), tt.tcp, "192.168.1.10:40000", "192.168.1.20:"+tt.port, tt.dir, []byte(tt.payload))
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// keepAlive is a typical request and response of a polling device.
var (
	keepAliveRequest  = []byte("GET /api/v1/status?id=42 HTTP/1.1\r\nHost: 192.168.1.20\r\nUser-Agent: iot-agent/1.0\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n")
	keepAliveResponse = []byte("HTTP/1.1 200 OK\r\nServer: lighttpd/1.4\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"status\":\"ok\",\"uptime\":1}\n")
)

// newKeepAlive connects a client to a web server and makes the first
// keep-alive exchange, which brings the observations.
func newKeepAlive(t testing.TB) *inspecttest.Stream {
	s := inspecttest.NewStream(t, New(nil), "192.168.1.10:40000", "192.168.1.20:80")
	s.Exchange(keepAliveRequest, keepAliveResponse)
	return s
}

func TestGapMakesOutcomesUnknown(t *testing.T) {
	s := newKeepAlive(t)
	s.Client("GET /a HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n")
	s.Lose(inspect.ToServer, 100) // a lost segment: a request whose response will still come
	s.Client("GET /c HTTP/1.1\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n")
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	s.Server(ok).Server(ok).Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
	s.Engine.Flush()
	got := s.Collector.Kind(event.KindPlaintextCredentials)
	if len(got) != 2 {
		t.Fatalf("got %d logins, want 2: %v", len(got), evidences(got))
	}
	// The first answer belongs to /a, but after the loss no answer can be
	// tied to a request with certainty.
	for i, l := range got {
		if l.Evidence["accepted"] != "unknown" {
			t.Errorf("login %d: %v, want accepted unknown", i, l.Evidence)
		}
	}
	if s.Engine.Stats.Gaps == 0 {
		t.Error("the engine saw no gap")
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	s := newKeepAlive(t)
	allocs := testing.AllocsPerRun(200, func() {
		s.Exchange(keepAliveRequest, keepAliveResponse)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per keep-alive request, want 0", allocs)
	}
	if s.Engine.Stats.EventsEmitted != 2 {
		t.Errorf("%d events, want the two observations of the first request", s.Engine.Stats.EventsEmitted)
	}
}

// TestSteadyStateAllocsScanned: a device that polls with an encoded query
// and posts an encoded form, with the payload scanner on, allocates
// nothing per request once its flow is known.
func TestSteadyStateAllocsScanned(t *testing.T) {
	body := "id=42&temp=21.5&note=all+good%21"
	req := []byte("POST /api/v1/report?dev=sensor%2D7&fw=1.2+beta HTTP/1.1\r\nHost: 203.0.113.5\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	s := inspecttest.NewStream(t, New(pii.New()), "192.168.1.10:40000", "203.0.113.5:80")
	s.Exchange(req, keepAliveResponse)
	allocs := testing.AllocsPerRun(200, func() {
		s.Exchange(req, keepAliveResponse)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per scanned request, want 0", allocs)
	}
	if got := s.Collector.Kind(event.KindPersonalData); len(got) != 0 {
		t.Errorf("personal data found in a request without any: %v", evidences(got))
	}
}

// scannedRequest is a polling device's report with an encoded query and
// form, to a server on the internet: what the payload scanner reads on
// every request.
var scannedRequest = func() []byte {
	body := "id=42&temp=21.5&note=all+good%21"
	return []byte("POST /api/v1/report?dev=sensor%2D7&fw=1.2+beta HTTP/1.1\r\nHost: 203.0.113.5\r\nUser-Agent: iot-agent/1.0\r\n" +
		"Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// BenchmarkScannedRequest: the same exchange, again and again, with the
// payload scanner on.
func BenchmarkScannedRequest(b *testing.B) {
	s := inspecttest.NewStream(b, New(pii.New()), "192.168.1.10:40000", "203.0.113.5:80")
	s.Exchange(scannedRequest, keepAliveResponse)
	b.ReportAllocs()
	b.SetBytes(int64(len(scannedRequest) + len(keepAliveResponse)))
	for b.Loop() {
		s.Exchange(scannedRequest, keepAliveResponse)
	}
	if s.Engine.Stats.BudgetStops != 0 {
		b.Errorf("the byte budget stopped inspection %d times: the benchmark measured the engine idle", s.Engine.Stats.BudgetStops)
	}
}

func BenchmarkKeepAlive(b *testing.B) {
	s := newKeepAlive(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(keepAliveRequest) + len(keepAliveResponse)))
	for b.Loop() {
		s.Exchange(keepAliveRequest, keepAliveResponse)
	}
	if s.Engine.Stats.BudgetStops != 0 {
		b.Errorf("the byte budget stopped inspection %d times: the benchmark measured the engine idle", s.Engine.Stats.BudgetStops)
	}
}

// checkingScanner asserts what the scanner is handed: a known part and a
// bounded body prefix.
type checkingScanner struct{ t *testing.T }

func (c *checkingScanner) ScanPayload(_ *inspect.Flow, _ inspect.Dir, where string, b []byte, _ inspect.Cut) {
	switch {
	case where == "url" || where == "header":
	case where == "body" || where == "form" || where == "response_body":
		if len(b) == 0 || len(b) > maxBody {
			c.t.Fatalf("%s of %d bytes handed to the scanner", where, len(b))
		}
	default:
		c.t.Fatalf("scanner handed an unknown part %q", where)
	}
}

func FuzzStream(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), uint8(0))
	f.Add([]byte("POST /l HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nuser=\r\n0\r\n\r\n"), []byte("HTTP/1.1 401 x\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n"), uint8(3))
	f.Add([]byte("POST /api HTTP/1.1\r\nContent-Length: 30\r\n\r\n{\"user\":\"a\",\"password\":\"\\u00"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), uint8(1))
	f.Add([]byte("GET /fw.bin?usr=a&pwd=b HTTP/1.1\r\nAuthorization: Digest username=\"a\", response=\"00\"\r\n\r\nHEAD / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), uint8(7))
	f.Add([]byte("POST /l HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=X\r\nContent-Length: 60\r\n\r\n--X\r\nContent-Disposition: form-data; name=pw\r\n\r\na\r\n--X--"), []byte("HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Length: 9\r\n\r\n<form>"), uint8(5))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n"), []byte("HTTP/1.1 401 x\r\nWWW-Authenticate: Digest realm=r, nonce=n\r\n\r\nHTTP/1.1 302 x\r\nLocation: /login\r\n\r\n"), uint8(2))
	f.Add([]byte(onvifPost(envelope(digestToken("admin", "admin"), getDeviceInformation))), []byte(notAuthorized), uint8(9))
	// One engine per fuzz worker: Flush closes every flow between inputs,
	// and building a flow table per input would dominate the run time.
	col := &inspecttest.Collector{}
	scanner := &checkingScanner{}
	p := New(scanner)
	e := inspecttest.Engine(f, col, nil, p)
	f.Fuzz(func(t *testing.T, client, server []byte, seg uint8) {
		col.Events = nil
		scanner.t = t
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:80")
		all := client
		inspecttest.Interleave(c, client, server, int(seg%16)+1)
		c.Close()
		e.Flush()
		// Each request line brings at most two credentials kept for it
		// (query or body, and headers); any more come from extra
		// Authorization headers, one each.
		limit := 2*bytes.Count(all, []byte("HTTP/1.")) + bytes.Count(bytes.ToUpper(all), []byte("AUTHORIZATION")) + 1
		if got := len(col.Kind(event.KindPlaintextCredentials)); got > limit {
			t.Fatalf("%d logins from input with at most %d", got, limit)
		}
		if p.logins.Lent() != 0 || p.answers.Lent() != 0 {
			t.Fatalf("SOAP readers still lent after the flow closed: %d, %d", p.logins.Lent(), p.answers.Lent())
		}
	})
}

// TestNoSecretKept checks that body prefixes, request targets and the form
// scratch are wiped once handled, or once a gap makes them useless: a
// flow may live for days, and a shorter next message would overwrite
// only the front of what it left.
func TestNoSecretKept(t *testing.T) {
	const pw = "Wlan-S3cret-42"
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	// check plays script and, before the flow ends, looks at what the
	// analyzer still holds.
	check := func(name string, logins int, script func(c *inspecttest.Conv)) {
		t.Run(name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(nil), "192.168.1.20:80")
			script(s.Conv)
			_, a := s.Analyzer(t)
			if k := kept(a.(*analyzer)); k != "" {
				t.Errorf("bytes kept:%s", k)
			}
			if got := s.End().Findings(); len(got) != logins {
				t.Errorf("got %d logins, want %d: %v", len(got), logins, evidences(got))
			}
		})
	}
	check("form_and_wifi_key_response", 1, func(c *inspecttest.Conv) {
		body := "user=admin&password=" + pw
		c.Client(postRequest("/login", "Content-Type: application/x-www-form-urlencoded\r\n", body))
		resp := `{"ssid":"home","wifi_key":"` + pw + `"}`
		c.Server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(resp)) + "\r\n\r\n" + resp)
	})
	check("query_login_then_shorter_target", 1, func(c *inspecttest.Conv) {
		c.Client("GET /cgi-bin/login.cgi?usr=admin&pwd=" + pw + " HTTP/1.1\r\n\r\n").Server(ok).
			Client("GET /a HTTP/1.1\r\n\r\n").Server(ok)
	})
	check("json_string_not_a_key", 0, func(c *inspecttest.Conv) {
		body := `{"method":"login","params":["` + pw + `"]}`
		c.Client(postRequest("/rpc", "Content-Type: application/json\r\n", body)).Server(ok)
	})
	check("soap_token", 1, func(c *inspecttest.Conv) {
		c.Client(onvifPost(envelope(textToken("admin", pw), getDeviceInformation))).Server(deviceInformation)
	})
	check("soap_set_user", 1, func(c *inspecttest.Conv) {
		c.Client(onvifPost(envelope("", `<tds:SetUser>`+setUser("admin", pw)+`</tds:SetUser>`))).Server(soapReply("200 OK", `<tds:SetUserResponse/>`))
	})
	check("soap_token_cut_by_gap", 0, func(c *inspecttest.Conv) {
		req := onvifPost(envelope(textToken("admin", pw), getDeviceInformation))
		c.Client(req[:strings.Index(req, pw)+4]).Lose(inspect.ToServer, 10).Client("x").Server("")
	})
	check("gap_in_request_body", 0, func(c *inspecttest.Conv) {
		c.Client("POST /login HTTP/1.1\r\nContent-Length: 100\r\n\r\nuser=admin&password="+pw).
			Lose(inspect.ToServer, 10).Client("x").Server("") // the server's ACK says the bytes are gone
	})
	check("gap_in_request_head", 0, func(c *inspecttest.Conv) {
		c.Client("GET /set.cgi?pwd="+pw+" HTTP/1.1\r\nHost: cam\r\n").Lose(inspect.ToServer, 10).Client("x").Server("")
	})
	check("gap_in_response_body", 0, func(c *inspecttest.Conv) {
		c.Client("GET /wifi HTTP/1.1\r\n\r\n").
			Server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nkey="+pw).Lose(inspect.ToClient, 10).Server("x").Client("")
	})
}

// kept lists the stores of a that still hold bytes, with what they hold.
func kept(a *analyzer) string {
	if a.closed() {
		return " none to check: the analyzer was closed"
	}
	var out strings.Builder
	add := func(what string, b []byte) {
		if t := bytes.TrimRight(b, "\x00"); len(t) > 0 {
			out.WriteString(" " + what + "=" + strconv.Quote(string(t)))
		}
	}
	add("request_body", a.half[inspect.ToServer].body[:])
	add("response_body", a.half[inspect.ToClient].body[:])
	add("target", a.target[:])
	add("form.name", a.form.name[:])
	if a.form != (formScratch{}) {
		out.WriteString(" form")
	}
	if a.soap != nil {
		out.WriteString(" soap")
	}
	// A reader given back is lent again first: it must come back wiped.
	if r := a.proto.logins.Get(a.hostBucket); r != nil {
		if *r != (soapLogin{}) {
			out.WriteString(" soap_given_back")
		}
		a.proto.logins.Put(r, a.hostBucket)
	}
	return out.String()
}

// TestSecondHeldAcceptanceWoken: two credentials accepted 5 s apart on
// one keep-alive connection are each reported holdFor after their
// acceptance, though the flow keeps one wake time, the first's.
func TestSecondHeldAcceptanceWoken(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	logins := func() []*event.Event { return col.Kind(event.KindPlaintextCredentials) }
	c := challenged(inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:80")).
		Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicAdmin + "\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	c.Wait(5 * time.Second).
		Client("GET / HTTP/1.1\r\nAuthorization: Basic " + basicRoot + "\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	// Packets of other flows move the capture clock; the connection
	// stays open and quiet.
	inspecttest.NewTCPAt(e, "192.168.1.11:40000", "192.168.1.21:80", 11*time.Second)
	if got := logins(); len(got) != 1 || got[0].Evidence["accepted"] != "yes" {
		t.Fatalf("after 11 s: %v, want admin accepted", evidences(got))
	}
	inspecttest.NewTCPAt(e, "192.168.1.12:40000", "192.168.1.21:80", 16*time.Second)
	if got := logins(); len(got) != 2 || got[1].Evidence["accepted"] != "yes" {
		t.Fatalf("after 16 s: %v, want admin and root accepted", evidences(got))
	}
}

// postRequest is a POST of body to path with headers (each ending in
// CRLF) and its Content-Length.
func postRequest(path, headers, body string) string {
	return "POST " + path + " HTTP/1.1\r\n" + headers + "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}
