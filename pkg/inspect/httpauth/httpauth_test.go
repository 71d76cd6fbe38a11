package httpauth

import (
	"bytes"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/inspect"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		scheme Scheme
		rest   string
	}{
		{"basic", "Basic dGVzdDoxMjM0", SchemeBasic, "dGVzdDoxMjM0"},
		{"basic_two_spaces", "Basic  dGVzdDoxMjM0", SchemeBasic, "dGVzdDoxMjM0"},
		{"basic_tab_lowercase", "basic\tdGVzdDoxMjM0 ", SchemeBasic, "dGVzdDoxMjM0"},
		{"digest", `Digest username="a"`, SchemeDigest, `username="a"`},
		{"bearer", "Bearer abc.def", SchemeBearer, "abc.def"},
		{"unknown_scheme", "Turbo customAuthDataHere", SchemeUnknown, "customAuthDataHere"},
		{"scheme_only", "Basic", SchemeBasic, ""},
		{"empty", "  ", SchemeNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rest := Split([]byte(tt.value))
			if s != tt.scheme || string(rest) != tt.rest {
				t.Errorf("Split(%q) = %v %q, want %v %q", tt.value, s, rest, tt.scheme, tt.rest)
			}
		})
	}
}

func TestBasic(t *testing.T) {
	tests := []struct {
		name, token, user, password string
		ok                          bool
	}{
		{"plain", "dGVzdDoxMjM0", "test", "1234", true},
		{"colon_in_password", "dGVzdDoxOjM0", "test", "1:34", true},
		{"missing_padding", "YTpi", "a", "b", true},
		{"missing_padding_short", "YWRtaW46MTI", "admin", "12", true},
		{"padded", "YWRtaW46MTI=", "admin", "12", true},
		{"empty_password", "YWRtaW46", "admin", "", true},
		{"trailing_param", "YTpi, realm=x", "a", "b", true},
		{"no_colon", "YWRtaW4=", "", "", false},
		{"not_base64", "!!!!", "", "", false},
		{"empty", "", "", "", false},
		{"too_long", string(make([]byte, 1000)), "", "", false},
		// "admin:secret" with its last quantum broken: Decode has written
		// "admin:" before it fails.
		{"broken_after_user", "YWRtaW46c2Vj!!!!", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var scratch [MaxBasic]byte
			u, p, ok := Basic([]byte(tt.token), &scratch)
			if ok != tt.ok || string(u) != tt.user || string(p) != tt.password {
				t.Errorf("Basic(%q) = %q %q %v, want %q %q %v", tt.token, u, p, ok, tt.user, tt.password, tt.ok)
			}
			if !ok && scratch != [MaxBasic]byte{} {
				t.Errorf("Basic(%q) failed and left %q in the scratch", tt.token, bytes.TrimRight(scratch[:], "\x00"))
			}
		})
	}
}

func TestNextParamAndRealm(t *testing.T) {
	tests := []struct {
		name, challenge, realm string
	}{
		{"quoted", `Basic realm="IP Camera"`, "IP Camera"},
		{"token_value", `Digest realm=cam, nonce="x"`, "cam"},
		{"after_other_params", `Digest nonce="a,b", realm="r"`, "r"},
		{"escaped_quote", `Basic realm="say \"hi\""`, `say \"hi\"`},
		{"unterminated", `Basic realm="open`, "open"},
		{"none", `Bearer`, ""},
		{"spaces_around_equals", `Digest realm = "x y"`, "x y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Realm([]byte(tt.challenge)); string(got) != tt.realm {
				t.Errorf("Realm(%q) = %q, want %q", tt.challenge, got, tt.realm)
			}
		})
	}
	var dst [16]byte
	if n := Unescape(dst[:], []byte(`say \"hi\"`)); string(dst[:n]) != `say "hi"` {
		t.Errorf("Unescape = %q", dst[:n])
	}
	if n := Unescape(dst[:4], []byte(`abcdef`)); n != 4 {
		t.Errorf("Unescape into 4 bytes wrote %d", n)
	}
}

func TestStale(t *testing.T) {
	tests := []struct {
		challenge string
		want      bool
	}{
		{`Digest realm="r", nonce="n", stale=true`, true},
		{`Digest realm="r", stale="TRUE", nonce="n"`, true},
		{`Digest realm="r", stale=false`, false},
		{`Digest realm="stale=true", nonce="n"`, false},
		{`Basic realm="r"`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := Stale([]byte(tt.challenge)); got != tt.want {
			t.Errorf("Stale(%q) = %v, want %v", tt.challenge, got, tt.want)
		}
	}
}

func TestDigestVerifier(t *testing.T) {
	tests := []struct {
		name     string
		header   string
		method   string
		password string
		nilFunc  bool
	}{
		{"rfc2617_example", `username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			"GET", "Circle Of Life", false},
		{"rfc2617_uppercase_hex", `username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629FAE49393A05397450978507C4EF1"`,
			"GET", "Circle Of Life", false},
		{"md5_sess", `username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", algorithm=MD5-sess, qop=auth, nc=00000001, cnonce="0a4f113b", response="8e3825c57e897f5a0dec6c2d4e5059d0"`,
			"GET", "Circle Of Life", false},
		{"rfc7616_md5", `username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="8ca523f5e9506fed4657c9700eebdbec", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			"GET", "Circle of Life", false},
		{"rfc7616_sha256", `username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			"GET", "Circle of Life", false},
		// RFC 2069 style, as RTSP cameras answer: no qop.
		{"no_qop_rtsp", `username="admin", realm="IP Camera", nonce="abc123", uri="rtsp://192.168.1.64:554/Streaming/Channels/101", response="5e0e9fcb13e4051da1227f56a71a51ef"`,
			"DESCRIBE", "12345", false},
		{"no_qop_sip", `username="voi18062",realm="sip.cybercity.dk",uri="sip:192.168.1.2",nonce="1701af566be182070084c6f740706bb",opaque="1701a1351f70795",nc="00000001",response="397a7781e627ff0a8f94195c18d7909f"`,
			"REGISTER", "1234", false},
		{"auth_int", `username="a", realm="r", nonce="n", uri="/", qop=auth-int, nc=1, cnonce=c, response="6629fae49393a05397450978507c4ef1"`, "GET", "", true},
		{"unknown_algorithm", `username="a", realm="r", nonce="n", uri="/", algorithm=SHA-1, response="6629fae49393a05397450978507c4ef1"`, "GET", "", true},
		{"response_not_hex", `username="a", realm="r", nonce="n", uri="/", response="zz29fae49393a05397450978507c4ef1"`, "GET", "", true},
		{"response_wrong_length", `username="a", realm="r", nonce="n", uri="/", response="6629"`, "GET", "", true},
		{"userhash", `username="abc", userhash=true, realm="r", nonce="n", uri="/", response="6629fae49393a05397450978507c4ef1"`, "GET", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := ParseDigest([]byte(tt.header))
			if !ok {
				t.Fatalf("ParseDigest(%q) not ok", tt.header)
			}
			v := d.Verifier([]byte(tt.method))
			if (v == nil) != tt.nilFunc {
				t.Fatalf("Verifier nil = %v, want %v", v == nil, tt.nilFunc)
			}
			if v == nil {
				return
			}
			if !v([]byte(tt.password)) {
				t.Error("the right password does not verify")
			}
			if v([]byte(tt.password + "x")) {
				t.Error("a wrong password verifies")
			}
		})
	}
}

func TestParseDigestRequiresUserAndResponse(t *testing.T) {
	for _, h := range []string{``, `realm="x"`, `username="a"`, `response="b"`, `username="", response="b"`} {
		if _, ok := ParseDigest([]byte(h)); ok {
			t.Errorf("ParseDigest(%q) ok, want not", h)
		}
	}
}

func TestReadLogin(t *testing.T) {
	const rtspDigest = `username="admin", realm="IP Camera", nonce="abc123", uri="rtsp://192.168.1.64:554/Streaming/Channels/101", response="5e0e9fcb13e4051da1227f56a71a51ef"`
	tests := []struct {
		name, value, method string
		ok                  bool
		user, secret        string
		kind                inspect.SecretKind
		password            string // verifies against a Digest response
	}{
		{"basic", "Basic dGVzdDoxOjM0", "GET", true, "test", "1:34", inspect.SecretPassword, ""},
		{"basic_not_base64", "Basic !!!!", "GET", false, "", "", 0, ""},
		{"digest", "Digest " + rtspDigest, "DESCRIBE", true, "admin", "", inspect.SecretHashed, "12345"},
		{"digest_user_unescaped", `Digest username="a\"b", response="00"`, "GET", true, `a"b`, "", inspect.SecretHashed, ""},
		{"digest_user_cut", `Digest username="` + strings.Repeat("u", 200) + `", response="00"`, "GET", true, strings.Repeat("u", MaxDigestUser), "", inspect.SecretHashed, ""},
		{"digest_without_response", `Digest username="admin"`, "GET", false, "", "", 0, ""},
		{"bearer_left_to_the_caller", "Bearer abc.def", "GET", false, "", "", 0, ""},
		{"unknown_scheme", "Turbo customAuthDataHere", "GET", false, "", "", 0, ""},
		{"empty", "", "GET", false, "", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var scratch [MaxBasic]byte
			scheme, rest := Split([]byte(tt.value))
			l := inspect.Login{Protocol: "test"}
			ok := ReadLogin(&l, scheme, rest, []byte(tt.method), &scratch)
			if ok != tt.ok || string(l.User) != tt.user || string(l.Secret) != tt.secret || l.Kind != tt.kind {
				t.Fatalf("ReadLogin(%q) = %v, user %q, secret %q, kind %v; want %v, %q, %q, %v", tt.value, ok, l.User, l.Secret, l.Kind, tt.ok, tt.user, tt.secret, tt.kind)
			}
			if !ok {
				if l.Verify != nil || l.Challenge != nil || l.Protocol != "test" {
					t.Errorf("a failed read changed the login: %+v", l)
				}
				return
			}
			if tt.kind != inspect.SecretHashed {
				return
			}
			if len(l.Challenge) != 2 || !bytes.Equal(l.Challenge[0], rest) || string(l.Challenge[1]) != tt.method {
				t.Errorf("challenge %q, want the credential and the method", l.Challenge)
			}
			if tt.password != "" && (l.Verify == nil || !l.Verify([]byte(tt.password)) || l.Verify([]byte(tt.password+"x"))) {
				t.Errorf("Verify does not tell %q from another password", tt.password)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	header := []byte(`Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"`)
	basic := []byte("Basic  dGVzdDoxOjM0")
	var scratch [MaxBasic]byte
	allocs := testing.AllocsPerRun(100, func() {
		_, rest := Split(header)
		if _, ok := ParseDigest(rest); !ok {
			t.Fatal("digest")
		}
		_, rest = Split(basic)
		if _, _, ok := Basic(rest, &scratch); !ok {
			t.Fatal("basic")
		}
		Realm([]byte(`Basic realm="IP Camera"`))
	})
	if allocs != 0 {
		t.Errorf("%v allocs per parse, want 0", allocs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Basic  dGVzdDoxOjM0"), []byte("GET"))
	f.Add([]byte(`Digest username="a\"b", realm="r", nonce="n", uri="/", qop=auth, nc=1, cnonce="c", response="6629fae49393a05397450978507c4ef1", algorithm=MD5-sess`), []byte("REGISTER"))
	f.Add([]byte(`Digest realm="x`), []byte(""))
	f.Add([]byte("Turbo customAuthDataHere"), []byte("GET"))
	f.Fuzz(func(t *testing.T, value, method []byte) {
		var scratch [MaxBasic]byte
		scheme, rest := Split(value)
		switch scheme {
		case SchemeBasic:
			if u, p, ok := Basic(rest, &scratch); ok && len(u)+len(p)+1 > MaxBasic {
				t.Fatalf("decoded %d+%d bytes beyond the scratch", len(u), len(p))
			}
		case SchemeDigest:
			if d, ok := ParseDigest(rest); ok {
				if v := d.Verifier(method); v != nil {
					v([]byte("admin"))
				}
			}
		}
		Realm(value)
		var dst [8]byte
		if n := Unescape(dst[:], value); n > len(dst) {
			t.Fatalf("Unescape wrote %d bytes into %d", n, len(dst))
		}
	})
}

func FuzzReadLogin(f *testing.F) {
	f.Add([]byte("Basic  dGVzdDoxOjM0"), []byte("GET"))
	f.Add([]byte(`Digest username="a\"b", realm="r", nonce="n", uri="/", qop=auth, nc=1, cnonce="c", response="6629fae49393a05397450978507c4ef1"`), []byte("DESCRIBE"))
	f.Add([]byte("Bearer x"), []byte(""))
	f.Fuzz(func(t *testing.T, value, method []byte) {
		var scratch [MaxBasic]byte
		scheme, rest := Split(value)
		var l inspect.Login
		if !ReadLogin(&l, scheme, rest, method, &scratch) {
			if l.User != nil || l.Secret != nil || l.Verify != nil || l.Challenge != nil {
				t.Fatalf("a failed read filled in %+v", l)
			}
			return
		}
		switch scheme {
		case SchemeBasic:
			if l.Kind != inspect.SecretPassword || len(l.User)+len(l.Secret)+1 > MaxBasic {
				t.Fatalf("Basic login of kind %v with %d+%d bytes", l.Kind, len(l.User), len(l.Secret))
			}
		case SchemeDigest:
			if l.Kind != inspect.SecretHashed || l.Secret != nil || len(l.User) > MaxDigestUser {
				t.Fatalf("Digest login of kind %v with a secret of %d bytes and a user of %d", l.Kind, len(l.Secret), len(l.User))
			}
			if l.Verify != nil {
				l.Verify([]byte("admin"))
			}
		default:
			t.Fatalf("a login read for scheme %v", scheme)
		}
	})
}
