package sasl

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/iotgw/iotgw/pkg/inspect"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{"padded", "dGVzdAB0ZXN0AHRlc3Q=", "test\x00test\x00test", true},
		{"unpadded", "dGVzdAB0ZXN0AHRlc3Q", "test\x00test\x00test", true},
		{"surrounding_space", "  Z2FsdW50 \t", "galunt", true},
		{"empty", "", "", true},
		{"not_base64", "user:pass", "", false},
		{"one_stray_char", "Q", "", false},
		{"embedded_space", "Z2Fs dW50", "", false},
		{"too_long", string(bytes.Repeat([]byte("QUFB"), MaxMessage/3+1)), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Scratch
			got, ok := Decode(s[:], []byte(tt.in))
			if ok != tt.ok || string(got) != tt.want {
				t.Errorf("Decode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParsePlain(t *testing.T) {
	tests := []struct {
		name, msg, user, pw string
		ok                  bool
	}{
		{"no_authzid", "\x00tim\x00tanstaaftanstaaf", "tim", "tanstaaftanstaaf", true},
		{"authzid", "admin\x00tim\x00secret", "tim", "secret", true},
		{"only_authzid", "tim\x00\x00secret", "tim", "secret", true},
		{"empty_password", "\x00tim\x00", "tim", "", true},
		{"one_nul", "tim\x00secret", "", "", false},
		{"no_nul", "timsecret", "", "", false},
		{"nul_in_password", "\x00tim\x00se\x00cret", "tim", "se\x00cret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pw, ok := ParsePlain([]byte(tt.msg))
			if ok != tt.ok || string(user) != tt.user || string(pw) != tt.pw {
				t.Errorf("got %q %q %v", user, pw, ok)
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	tests := []struct {
		name, msg, user, token string
		ok                     bool
		parse                  func([]byte) ([]byte, []byte, bool)
	}{
		{"xoauth2", "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01",
			"someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", true, ParseXOAuth2},
		{"xoauth2_lowercase_bearer", "user=u\x01auth=bearer tok\x01\x01", "u", "tok", true, ParseXOAuth2},
		{"xoauth2_no_token", "user=u\x01\x01", "", "", false, ParseXOAuth2},
		{"xoauth2_no_user", "auth=Bearer tok\x01\x01", "", "tok", false, ParseXOAuth2},
		{"xoauth2_not_bearer", "user=u\x01auth=Basic dTpw\x01\x01", "u", "", false, ParseXOAuth2},
		{"oauthbearer_rfc7628", "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01",
			"user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", true, ParseOAuthBearer},
		{"oauthbearer_no_authzid", "n,,\x01auth=Bearer tok\x01\x01", "", "tok", true, ParseOAuthBearer},
		{"oauthbearer_no_pairs", "n,a=u,", "", "", false, ParseOAuthBearer},
		{"many_fields", "a\x01b\x01c\x01d\x01e\x01f\x01g\x01h\x01i\x01user=u\x01auth=Bearer t", "", "", false, ParseXOAuth2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, token, ok := tt.parse([]byte(tt.msg))
			if ok != tt.ok || (ok && (string(user) != tt.user || string(token) != tt.token)) {
				t.Errorf("got %q %q %v, want %q %q %v", user, token, ok, tt.user, tt.token, tt.ok)
			}
		})
	}
}

// The example of RFC 2195 section 2.
const (
	rfcChallenge = "<1896.697170952@postoffice.reston.mci.net>"
	rfcResponse  = "tim b913a602c7eda7a495b4e6e7334d3890"
	rfcPassword  = "tanstaaftanstaaf"
)

func TestCRAMMD5(t *testing.T) {
	var d [16]byte
	user, ok := ParseCRAMMD5([]byte(rfcResponse), &d)
	if !ok || string(user) != "tim" {
		t.Fatalf("ParseCRAMMD5 = %q, %v", user, ok)
	}
	if !VerifyCRAMMD5([]byte(rfcChallenge), d[:], []byte(rfcPassword)) {
		t.Error("the RFC's password does not verify")
	}
	if VerifyCRAMMD5([]byte(rfcChallenge), d[:], []byte("tanstaaf")) {
		t.Error("a wrong password verifies")
	}
	for _, bad := range []string{"tim", "tim b913a602", "tim zz13a602c7eda7a495b4e6e7334d3890", ""} {
		if _, ok := ParseCRAMMD5([]byte(bad), &d); ok {
			t.Errorf("ParseCRAMMD5(%q) accepted", bad)
		}
	}
}

// step is one line of an exchange: a server challenge or a client response.
type step struct {
	server bool
	text   string
}

func TestExchange(t *testing.T) {
	tests := []struct {
		name   string
		mech   string
		steps  []step
		want   bool
		user   string
		secret string
		kind   inspect.SecretKind
	}{
		{"plain_initial", "PLAIN", []step{{false, b64("\x00joe\x00s3cret")}}, true, "joe", "s3cret", inspect.SecretPassword},
		{"plain_after_empty_challenge", "plain", []step{{true, ""}, {false, b64("\x00joe\x00s3cret")}}, true, "joe", "s3cret", inspect.SecretPassword},
		{"plain_cancelled", "PLAIN", []step{{true, ""}, {false, "*"}}, false, "", "", 0},
		{"plain_garbled", "PLAIN", []step{{false, "%%%"}}, false, "", "", 0},
		{"plain_empty_initial", "PLAIN", []step{{false, "="}}, false, "", "", 0},
		// "=" is an empty initial response (RFC 4954 section 4, RFC
		// 4959); Dovecot answers it with an empty challenge, and the
		// credentials come in the response to that.
		{"plain_empty_initial_then_response", "PLAIN", []step{{false, "="}, {true, ""}, {false, b64("\x00joe\x00s3cret")}}, true, "joe", "s3cret", inspect.SecretPassword},
		{"login_empty_initial_then_prompts", "LOGIN", []step{{false, "="}, {true, b64("Username:")}, {false, b64("galunt")}, {true, b64("Password:")}, {false, b64("V1v1tr0n")}}, true, "galunt", "V1v1tr0n", inspect.SecretPassword},
		{"xoauth2_empty_initial_then_response", "XOAUTH2", []step{{false, "="}, {true, ""}, {false, b64("user=joe\x01auth=Bearer AAAA\x01\x01")}}, true, "joe", "AAAA", inspect.SecretToken},
		{"login_prompts", "LOGIN", []step{{true, b64("Username:")}, {false, b64("galunt")}, {true, b64("Password:")}, {false, b64("V1v1tr0n")}}, true, "galunt", "V1v1tr0n", inspect.SecretPassword},
		{"login_initial_user", "LOGIN", []step{{false, b64("galunt")}, {true, b64("Password:")}, {false, b64("V1v1tr0n")}}, true, "galunt", "V1v1tr0n", inspect.SecretPassword},
		{"login_empty_password", "LOGIN", []step{{false, b64("galunt")}, {false, ""}}, true, "galunt", "", inspect.SecretPassword},
		{"login_only_user", "LOGIN", []step{{false, b64("galunt")}}, false, "", "", 0},
		{"cram_md5", "CRAM-MD5", []step{{true, b64(rfcChallenge)}, {false, b64(rfcResponse)}}, true, "tim", "", inspect.SecretHashed},
		{"xoauth2", "XOAUTH2", []step{{false, b64("user=joe\x01auth=Bearer AAAA\x01\x01")}}, true, "joe", "AAAA", inspect.SecretToken},
		{"oauthbearer", "OAUTHBEARER", []step{{false, b64("n,a=joe,\x01auth=Bearer AAAA\x01\x01")}}, true, "joe", "AAAA", inspect.SecretToken},
		{"unknown_mechanism", "GSSAPI", []step{{false, b64("\x00joe\x00s3cret")}, {false, b64("\x00joe\x00s3cret")}}, false, "", "", 0},
		{"second_response_ignored", "PLAIN", []step{{false, b64("\x00a\x00b")}, {false, b64("\x00joe\x00s3cret")}}, true, "a", "b", inspect.SecretPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x Exchange
			var s Scratch
			x.Start([]byte(tt.mech))
			found := 0
			for _, st := range tt.steps {
				if st.server {
					x.Challenge([]byte(st.text), &s)
					continue
				}
				l, ok := x.respond([]byte(st.text), &s)
				if !ok {
					continue
				}
				found++
				if found > 1 {
					t.Fatal("second login from one exchange")
				}
				if string(l.User) != tt.user || string(l.Secret) != tt.secret || l.Kind != tt.kind {
					t.Errorf("login %q %q kind %d, want %q %q kind %d", l.User, l.Secret, l.Kind, tt.user, tt.secret, tt.kind)
				}
				if l.Kind == inspect.SecretHashed {
					if l.Verify == nil || !l.Verify([]byte(rfcPassword)) || l.Verify([]byte("admin")) {
						t.Error("Verify does not tell the right password from a wrong one")
					}
				}
			}
			if (found == 1) != tt.want {
				t.Errorf("found %d logins, want one: %v", found, tt.want)
			}
		})
	}
}

func TestExchangeIdle(t *testing.T) {
	var x Exchange
	var s Scratch
	if _, ok := x.respond([]byte(b64("\x00joe\x00s3cret")), &s); ok || x.Active() {
		t.Error("an exchange that was never started read a response")
	}
	x.Start([]byte("PLAIN"))
	x.End()
	if _, ok := x.respond([]byte(b64("\x00joe\x00s3cret")), &s); ok {
		t.Error("an ended exchange read a response")
	}
}

func TestExchangeNoAllocs(t *testing.T) {
	var x Exchange
	var s Scratch
	prompt := []byte(b64("Username:"))
	user := []byte(b64("galunt"))
	allocs := testing.AllocsPerRun(100, func() {
		x.Start([]byte("LOGIN"))
		x.Challenge(prompt, &s)
		x.respond(user, &s)
		x.End()
	})
	if allocs != 0 {
		t.Errorf("%v allocs per exchange step", allocs)
	}
}

func FuzzExchange(f *testing.F) {
	f.Add("PLAIN", []byte(""), []byte(b64("\x00joe\x00s3cret")), []byte(""))
	f.Add("LOGIN", []byte(b64("Username:")), []byte(b64("galunt")), []byte(b64("V1v1tr0n")))
	f.Add("CRAM-MD5", []byte(b64(rfcChallenge)), []byte(b64(rfcResponse)), []byte("*"))
	f.Add("XOAUTH2", []byte(""), []byte(b64("user=joe\x01auth=Bearer AAAA\x01\x01")), []byte(""))
	f.Add("OAUTHBEARER", []byte(""), []byte(b64("n,a=joe,\x01auth=Bearer AAAA\x01\x01")), []byte("="))
	f.Fuzz(func(t *testing.T, mech string, challenge, r1, r2 []byte) {
		var x Exchange
		var s Scratch
		x.Start([]byte(mech))
		x.Challenge(challenge, &s)
		logins := 0
		for _, r := range [][]byte{r1, r2} {
			l, ok := x.respond(r, &s)
			if !ok {
				continue
			}
			logins++
			if len(l.User) > MaxMessage || len(l.Secret) > MaxMessage {
				t.Fatalf("login larger than the scratch: %d %d", len(l.User), len(l.Secret))
			}
			if l.Verify != nil {
				l.Verify([]byte("admin"))
			}
		}
		if logins > 1 {
			t.Fatalf("%d logins from one exchange", logins)
		}
		// As the analyzers run it, the exchange leaves nothing behind.
		x.Start([]byte(mech))
		s = Scratch{} // respond left the login above in it
		x.Challenge(challenge, &s)
		for _, r := range [][]byte{r1, r2} {
			x.Handle(r, &s, func(inspect.Login) {})
			if s != (Scratch{}) {
				t.Fatalf("the scratch holds %q", bytes.TrimRight(s[:], "\x00"))
			}
		}
		if x.End(); kept(&x) {
			t.Fatal("the ended exchange kept a user, challenge or digest")
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("\x00tim\x00tanstaaftanstaaf"))
	f.Add([]byte("n,a=user@example.com,\x01auth=Bearer x\x01\x01"))
	f.Add([]byte(rfcResponse))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if u, p, ok := ParsePlain(msg); ok && len(u)+len(p) > len(msg) {
			t.Fatal("PLAIN parts longer than the message")
		}
		if u, tok, ok := ParseXOAuth2(msg); ok && (len(tok) == 0 || len(u)+len(tok) > len(msg)) {
			t.Fatal("bad XOAUTH2 parse")
		}
		if _, tok, ok := ParseOAuthBearer(msg); ok && len(tok) == 0 {
			t.Fatal("OAUTHBEARER without a token")
		}
		var d [16]byte
		ParseCRAMMD5(msg, &d)
		var s Scratch
		if out, ok := Decode(s[:], msg); ok && len(out) > len(msg) {
			t.Fatal("decoded longer than encoded")
		}
	})
}

// TestDecodeFailureLeavesNothing checks that a message that fails to
// decode leaves none of its bytes in dst: base64 Decode writes what it
// decoded before the error.
func TestDecodeFailureLeavesNothing(t *testing.T) {
	// "\x00joe\x00s3cret" with its last quantum broken: "\x00joe\x00s3cr"
	// is written before the error.
	for _, in := range []string{"AGpvZQBzM2Ny!!!!", "AGpvZQBzM2NyZ", "AGpvZQBzM2Ny ZXQ"} {
		var s Scratch
		if _, ok := Decode(s[:], []byte(in)); ok {
			t.Fatalf("Decode(%q) succeeded", in)
		}
		if s != (Scratch{}) {
			t.Errorf("Decode(%q) failed and left %q", in, bytes.TrimRight(s[:], "\x00"))
		}
	}
}

// kept reports whether x holds any byte of a user, challenge or digest.
func kept(x *Exchange) bool {
	return x.user != [MaxUser]byte{} || x.challenge != [MaxChallenge]byte{} || x.digest != [16]byte{}
}

// TestHandleLeavesNothing plays exchanges through Handle, as the
// analyzers do, and checks that no step leaves anything in the scratch,
// which every flow shares for the life of the process, and that nothing
// of a login stays in the exchange once keep has classified it.
func TestHandleLeavesNothing(t *testing.T) {
	tests := []struct {
		name  string
		mech  string
		steps []step
		want  string // the secret keep must see; "" for none
	}{
		{"plain", "PLAIN", []step{{false, b64("\x00joe\x00s3cret")}}, "s3cret"},
		{"plain_one_nul", "PLAIN", []step{{true, ""}, {false, b64("joe\x00s3cret")}}, ""},
		{"plain_garbled", "PLAIN", []step{{false, "AGpvZQBzM2Ny!!!!"}}, ""},
		{"login", "LOGIN", []step{{true, b64("Username:")}, {false, b64("galunt")}, {true, b64("Password:")}, {false, b64("V1v1tr0n")}}, "V1v1tr0n"},
		{"cram_md5", "CRAM-MD5", []step{{true, b64(rfcChallenge)}, {false, b64(rfcResponse)}}, ""},
		{"cram_md5_bad_digest", "CRAM-MD5", []step{{true, b64(rfcChallenge)}, {false, b64("tim b913a602c7eda7a495b4e6e7334d38zz")}}, ""},
		{"xoauth2", "XOAUTH2", []step{{false, b64("user=joe\x01auth=Bearer AAAA\x01\x01")}}, "AAAA"},
		{"oauthbearer", "OAUTHBEARER", []step{{false, b64("n,a=joe,\x01auth=Bearer AAAA\x01\x01")}}, "AAAA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x Exchange
			var s Scratch
			x.Start([]byte(tt.mech))
			got, logins := "", 0
			for i, st := range tt.steps {
				if st.server {
					x.Challenge([]byte(st.text), &s)
				} else {
					x.Handle([]byte(st.text), &s, func(l inspect.Login) {
						got, logins = string(l.Secret), logins+1
						if l.Verify != nil && !l.Verify([]byte(rfcPassword)) {
							t.Error("Verify does not know the right password")
						}
					})
				}
				if s != (Scratch{}) {
					t.Errorf("step %d left %q in the scratch", i, bytes.TrimRight(s[:], "\x00"))
				}
			}
			if got != tt.want || logins > 1 {
				t.Errorf("%d logins, secret %q; want %q", logins, got, tt.want)
			}
			if kept(&x) {
				t.Errorf("the ended login left user %q, challenge %q, digest %x", bytes.TrimRight(x.user[:], "\x00"), bytes.TrimRight(x.challenge[:], "\x00"), x.digest)
			}
		})
	}
}

func TestHandleNoAllocs(t *testing.T) {
	var x Exchange
	var s Scratch
	user := []byte(b64("galunt"))
	allocs := testing.AllocsPerRun(100, func() {
		x.Start([]byte("LOGIN"))
		x.Handle(user, &s, func(inspect.Login) { t.Error("a login from the user alone") })
		x.End()
	})
	if allocs != 0 {
		t.Errorf("%v allocs per response", allocs)
	}
}

// TestEndWipes checks that an exchange that ends, at the verdict or when
// cancelled, keeps no challenge, digest or user: a CRAM-MD5 digest and
// its challenge are enough to test passwords offline.
func TestEndWipes(t *testing.T) {
	var x Exchange
	var s Scratch
	x.Start([]byte("CRAM-MD5"))
	x.Challenge([]byte(b64(rfcChallenge)), &s)
	if _, ok := x.respond([]byte(b64(rfcResponse)), &s); !ok {
		t.Fatal("no login")
	}
	x.End()
	if kept(&x) {
		t.Errorf("End left challenge %q, digest %x", bytes.TrimRight(x.challenge[:], "\x00"), x.digest)
	}
	x.Start([]byte("LOGIN"))
	x.respond([]byte(b64("galunt")), &s)
	x.respond([]byte("*"), &s)
	if kept(&x) {
		t.Errorf("a cancelled LOGIN left user %q", bytes.TrimRight(x.user[:], "\x00"))
	}
}

// TestHandleWipesWhenKeepPanics: the engine survives a panicking
// classifier, and the secret must not outlive it in the scratch.
func TestHandleWipesWhenKeepPanics(t *testing.T) {
	var x Exchange
	var s Scratch
	x.Start([]byte("PLAIN"))
	func() {
		defer func() { _ = recover() }()
		x.Handle([]byte(b64("\x00joe\x00s3cret")), &s, func(inspect.Login) { panic("classifier bug") })
	}()
	if s != (Scratch{}) || kept(&x) {
		t.Errorf("a panic in keep left %q in the scratch, or the exchange holds the login", bytes.TrimRight(s[:], "\x00"))
	}
}
