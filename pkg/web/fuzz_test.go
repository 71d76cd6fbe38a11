package web

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzStoredHash feeds the stored-hash parser what a tampered auth file
// could hold: it must never accept a password for a hash it did not make,
// nor accept parameters beyond its caps (the loop below would take
// minutes and gigabytes if it did).
func FuzzStoredHash(f *testing.F) {
	for _, s := range []string{
		"", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2i$v=19$m=19456,t=2,p=1$$", "$$$$$$", "$argon2id$v=19$m=-1,t=-1,p=-1$a$b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stored string) {
		parts := strings.Split(stored, "$")
		if len(parts) == 6 {
			// Keep the fuzzer's work bounded: the caps are tested in
			// TestPasswordHash; here only the parser's paths matter.
			var m, tm, p int
			if n, _ := fmtSscanf(parts[3], &m, &tm, &p); n == 3 && (m > 1024 || tm > 2) {
				return
			}
		}
		ok, err := verifyPassword(stored, "fuzz password")
		if ok && err != nil {
			t.Fatalf("accepted with an error: %v", err)
		}
	})
}

// FuzzSafeNext: the post-login redirect never leaves the site, read as a
// browser reads a Location (WHATWG URL: tabs and newlines dropped, a
// backslash taken for a slash, leading and trailing controls and spaces
// trimmed), and never puts a control character into the header.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//evil", "/\\evil", "https://evil", "/a\r\nb", "", "/devices/x?y=z",
		"/\t/evil", "/\n/evil", " //evil", "/%09/evil", "\x00//evil", "/./evil", "/.//evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("safeNext(%q) = %q: a control character in a header", next, got)
		}
		seen := strings.Map(func(r rune) rune {
			switch r {
			case '\t', '\n', '\r':
				return -1
			case '\\':
				return '/'
			}
			return r
		}, got)
		seen = strings.TrimFunc(seen, func(r rune) bool { return r <= ' ' })
		if !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") {
			t.Fatalf("safeNext(%q) = %q, which a browser reads as %q: another site", next, got, seen)
		}
	})
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/devices/c0:56:e3:1a:2b:3c", "/devices/c0:56:e3:1a:2b:3c"},
		{"/events?mac=c0%3A56", "/events?mac=c0%3A56"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/a\\b", "/"},
		{"/a\x7fb", "/"},
		{"https://evil.example/", "/"},
		{"evil", "/"},
		{"/%zz", "/"}, // does not parse
		{"/" + strings.Repeat("a", 512), "/"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzHostAllowed: only the configured names and addresses pass.
func FuzzHostAllowed(f *testing.F) {
	s := &Server{hosts: map[string]bool{"192.168.50.1": true, "router.lan": true}}
	for _, h := range []string{"192.168.50.1", "192.168.50.1:8443", "[::ffff:192.168.50.1]:1", "router.lan.", "iotgw.lan", "evil", "[", ":"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !s.hostAllowed(host) {
			return
		}
		low := strings.ToLower(host)
		if !strings.Contains(low, "192.168.50.1") && !strings.Contains(low, "router.lan") && !strings.Contains(low, "c0a8:3201") {
			t.Fatalf("host %q allowed", host)
		}
	})
}

// FuzzSetupCode: normalising is idempotent and a code only matches its own
// hash.
func FuzzSetupCode(f *testing.F) {
	f.Add("ABCD-EFGH-IJKL", "abcd efgh ijkl")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, code, typed string) {
		n := normaliseSetupCode(code)
		if normaliseSetupCode(n) != n {
			t.Fatalf("normalise not idempotent on %q", code)
		}
		if setupCodeMatches(typed, hashSetupCode(code)) != (normaliseSetupCode(typed) == n) {
			t.Fatalf("match(%q, hash(%q)) disagrees with normalised equality", typed, code)
		}
		if setupCodeMatches(typed, "") {
			t.Fatal("an empty stored hash matched")
		}
	})
}

func fmtSscanf(s string, m, t, p *int) (int, error) {
	return fmt.Sscanf(s, "m=%d,t=%d,p=%d", m, t, p)
}

// memConn is a connection reading from a fixed input and recording what
// is written, at a fixed local address.
type memConn struct {
	net.Conn
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *memConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *memConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *memConn) Close() error                { return nil }
func (c *memConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 168, 50, 1), Port: 8443}
}
func (c *memConn) SetDeadline(t time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzPlainRedirect: whatever a client sends in clear to the HTTPS port,
// the answer is nothing or a redirect to this router over HTTPS, with no
// header a request could inject.
func FuzzPlainRedirect(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: 192.168.50.1:8443\r\n\r\n",
		"GET /devices?x=1 HTTP/1.1\r\nHost: router.lan\r\n\r\n",
		"GET //evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
		"GET /%0d%0aSet-Cookie:x HTTP/1.0\r\n\r\n",
		"\x16\x03\x01",
	} {
		f.Add([]byte(s))
	}
	s := &Server{hosts: map[string]bool{"192.168.50.1": true, "router.lan": true}}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &memConn{in: bytes.NewReader(in)}
		sc := &sniffConn{Conn: c, s: s}
		if _, err := sc.Read(make([]byte, 1)); err == nil || c.out.Len() == 0 {
			return // TLS, or nothing answered
		}
		resp, err := http.ReadResponse(bufio.NewReader(&c.out), nil)
		if err != nil {
			t.Fatalf("unreadable answer to %q: %v", in, err)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusPermanentRedirect ||
			!(strings.HasPrefix(loc, "https://192.168.50.1:8443/") || strings.HasPrefix(loc, "https://router.lan:8443/")) {
			t.Fatalf("answer to %q: %d %v", in, resp.StatusCode, resp.Header)
		}
		for k := range resp.Header {
			switch k {
			case "Location", "Cache-Control", "Connection", "Content-Length":
			default:
				t.Fatalf("answer to %q has header %s: %v", in, k, resp.Header)
			}
		}
	})
}
