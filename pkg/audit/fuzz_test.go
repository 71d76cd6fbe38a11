package audit

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// Fuzz targets for the other parsers of device answers: challenges,
// FTP replies and RTSP responses must never panic, and a parsed
// challenge must yield an Authorization value.

func FuzzParseChallenges(f *testing.F) {
	f.Add(`Digest realm="IP Camera", qop="auth,auth-int", nonce="abc", opaque="o", algorithm=MD5`, `Basic realm="x"`)
	f.Add(`Digest realm="r\"", nonce="n", algorithm=SHA-256-sess, userhash=true, stale=TRUE`, "")
	f.Add(`Digest realm="unterminated, nonce=`, `NTLM`)
	f.Fuzz(func(t *testing.T, a, b string) {
		ch, ok := parseChallenges([]string{a, b})
		if !ok {
			return
		}
		got := ch.authorization("GET", "/", "admin", "admin")
		if !strings.HasPrefix(got, "Basic ") && !strings.HasPrefix(got, "Digest ") {
			t.Fatalf("authorization %q", got)
		}
		if len(ch.realm) > maxChallenge || len(ch.nonce) > maxChallenge {
			t.Fatalf("unbounded parameter")
		}
	})
}

func FuzzReadFTPReply(f *testing.F) {
	f.Add([]byte("220-Welcome\r\n220 (vsFTPd 2.3.4)\r\n"))
	f.Add([]byte("530 Login incorrect.\r\n"))
	f.Add([]byte("421-\r\n" + strings.Repeat("x\r\n", 40)))
	f.Fuzz(func(t *testing.T, in []byte) {
		code, text, err := readFTPReply(bufio.NewReaderSize(bytes.NewReader(in), maxReplyLine))
		if err == nil && (code < 0 || code > 999 || len(text) > maxReplyLines*(maxReplyLine+1)) {
			t.Fatalf("code %d, %d bytes of text", code, len(text))
		}
	})
}

func FuzzReadRTSPResponse(f *testing.F) {
	f.Add([]byte("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n\r\n"))
	f.Add([]byte("RTSP/1.0 200 OK\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := readRTSPResponse(bufio.NewReader(bytes.NewReader(in)))
		if err == nil && (r.status < 100 || r.status > 999) {
			t.Fatalf("status %d", r.status)
		}
	})
}
