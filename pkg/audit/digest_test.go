package audit

import (
	"strings"
	"testing"
)

// The examples of RFC 7616 section 3.9.1: user Mufasa, password "Circle of
// Life".
func TestDigestRFC7616(t *testing.T) {
	const (
		nonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
		opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
	)
	tests := []struct {
		name, challenge, response string
	}{
		{"md5", `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="` + nonce + `", opaque="` + opaque + `"`,
			"8ca523f5e9506fed4657c9700eebdbec"},
		{"sha256", `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="` + nonce + `", opaque="` + opaque + `"`,
			"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, ok := parseChallenges([]string{tc.challenge})
			if !ok || !ch.digest || !ch.qopAuth || ch.opaque != opaque {
				t.Fatalf("challenge %+v ok %v", ch, ok)
			}
			got := ch.digestAuthorization("GET", "/dir/index.html", "Mufasa", "Circle of Life", cnonce)
			if !strings.Contains(got, `response="`+tc.response+`"`) || !strings.Contains(got, `opaque="`+opaque+`"`) ||
				!strings.Contains(got, "qop=auth, nc=00000001") {
				t.Errorf("authorization %s, want response %s", got, tc.response)
			}
		})
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		ok      bool
		digest  bool
		realm   string
		qopAuth bool
	}{
		{"basic", []string{`Basic realm="IP Camera"`}, true, false, "IP Camera", false},
		{"digest_preferred", []string{`Basic realm="a"`, `Digest realm="b", nonce="n"`}, true, true, "b", false},
		{"digest_unknown_algorithm_falls_back", []string{`Digest realm="b", nonce="n", algorithm=SHA-1024`, `Basic realm="a"`}, true, false, "a", false},
		{"digest_auth_int_only", []string{`Digest realm="b", nonce="n", qop="auth-int"`}, false, false, "", false},
		{"digest_without_nonce", []string{`Digest realm="b"`}, false, false, "", false},
		{"escaped_realm", []string{`Digest realm="say \"hi\"", nonce="n", qop=auth`}, true, true, `say "hi"`, true},
		{"sess", []string{`Digest realm="r", nonce="n", algorithm=SHA-256-sess, qop="auth"`}, true, true, "r", true},
		{"bearer_only", []string{`Bearer realm="api"`}, false, false, "", false},
		{"ntlm", []string{`NTLM`}, false, false, "", false},
		{"empty", nil, false, false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, ok := parseChallenges(tc.values)
			if ok != tc.ok || ch.digest != tc.digest || ch.realm != tc.realm || ch.qopAuth != tc.qopAuth {
				t.Errorf("got %+v ok %v", ch, ok)
			}
		})
	}
}

func TestDigestQuotesAndUserhash(t *testing.T) {
	ch, ok := parseChallenges([]string{`Digest realm="r\"x", nonce="n", userhash=true`})
	if !ok || !ch.userhash {
		t.Fatalf("%+v", ch)
	}
	got := ch.digestAuthorization("GET", "/", "admin", "pw", "c")
	if strings.Contains(got, `username="admin"`) || !strings.Contains(got, "userhash=true") || !strings.Contains(got, `realm="r\"x"`) {
		t.Errorf("authorization %s", got)
	}
}
