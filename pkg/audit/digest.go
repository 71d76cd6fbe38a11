package audit

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

// challenge is the authentication a server asked for (HTTP or RTSP
// WWW-Authenticate).
type challenge struct {
	digest    bool // else Basic
	realm     string
	nonce     string
	opaque    string
	algorithm string // as sent; "" is MD5
	qopAuth   bool   // the server offered qop=auth
	userhash  bool
	stale     bool
}

// maxChallenge bounds the bytes of one challenge parameter kept.
const maxChallenge = 512

// parseChallenges picks the challenge to answer from WWW-Authenticate
// values: Digest with an algorithm this package computes (MD5, SHA-256,
// SHA-512-256, their -sess forms) and qop auth or none, else Basic.
func parseChallenges(values []string) (challenge, bool) {
	var basic *challenge
	for _, v := range values {
		scheme, params := httpauth.Split([]byte(v))
		switch scheme {
		case httpauth.SchemeDigest:
			if ch, ok := parseDigest(params); ok {
				return ch, true
			}
		case httpauth.SchemeBasic:
			if basic == nil {
				basic = &challenge{realm: param(params, "realm")}
			}
		}
	}
	if basic != nil {
		return *basic, true
	}
	return challenge{}, false
}

func parseDigest(params []byte) (challenge, bool) {
	ch := challenge{digest: true}
	qopSeen := false
	for {
		name, value, rest, ok := httpauth.NextParam(params)
		if !ok {
			break
		}
		params = rest
		v := unquote(value)
		switch {
		case inspect.EqualFold(name, "realm"):
			ch.realm = v
		case inspect.EqualFold(name, "nonce"):
			ch.nonce = v
		case inspect.EqualFold(name, "opaque"):
			ch.opaque = v
		case inspect.EqualFold(name, "algorithm"):
			ch.algorithm = v
		case inspect.EqualFold(name, "qop"):
			qopSeen = true
			for _, q := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(q), "auth") {
					ch.qopAuth = true
				}
			}
		case inspect.EqualFold(name, "userhash"):
			ch.userhash = strings.EqualFold(v, "true")
		case inspect.EqualFold(name, "stale"):
			ch.stale = strings.EqualFold(v, "true")
		}
	}
	if ch.nonce == "" || digestHash(ch.algorithm) == nil || (qopSeen && !ch.qopAuth) {
		return challenge{}, false
	}
	return ch, true
}

// param returns one parameter of a challenge, unescaped.
func param(params []byte, want string) string {
	for {
		name, value, rest, ok := httpauth.NextParam(params)
		if !ok {
			return ""
		}
		if inspect.EqualFold(name, want) {
			return unquote(value)
		}
		params = rest
	}
}

func unquote(v []byte) string {
	buf := make([]byte, min(len(v), maxChallenge))
	return string(buf[:httpauth.Unescape(buf, v)])
}

// digestHash maps an algorithm name to its hash (RFC 7616 section 3.3).
func digestHash(algorithm string) func() hash.Hash {
	switch strings.ToUpper(strings.TrimSuffix(strings.ToLower(algorithm), "-sess")) {
	case "", "MD5":
		return md5.New
	case "SHA-256":
		return sha256.New
	case "SHA-512-256":
		return sha512.New512_256
	}
	return nil
}

// authorization is the Authorization value answering ch for a request
// with method and uri.
func (ch *challenge) authorization(method, uri, user, password string) string {
	if !ch.digest {
		return "Basic " + basicToken(user, password)
	}
	return ch.digestAuthorization(method, uri, user, password, newCnonce())
}

// digestAuthorization computes a Digest answer with the given cnonce
// (RFC 7616 section 3.4).
func (ch *challenge) digestAuthorization(method, uri, user, password, cnonce string) string {
	h := digestHash(ch.algorithm)
	hx := func(parts ...string) string {
		d := h()
		d.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(d.Sum(nil))
	}
	const nc = "00000001"
	ha1 := hx(user, ch.realm, password)
	if strings.HasSuffix(strings.ToLower(ch.algorithm), "-sess") {
		ha1 = hx(ha1, ch.nonce, cnonce)
	}
	ha2 := hx(method, uri)
	var response string
	if ch.qopAuth {
		response = hx(ha1, ch.nonce, nc, cnonce, "auth", ha2)
	} else {
		response = hx(ha1, ch.nonce, ha2)
	}
	name := user
	if ch.userhash {
		name = hx(user, ch.realm)
	}
	var b strings.Builder
	b.WriteString("Digest ")
	kv := func(k, v string, quoted bool) {
		if b.Len() > len("Digest ") {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		if quoted {
			b.WriteString(quote(v))
		} else {
			b.WriteString(v)
		}
	}
	kv("username", name, true)
	kv("realm", ch.realm, true)
	kv("nonce", ch.nonce, true)
	kv("uri", uri, true)
	if ch.algorithm != "" {
		kv("algorithm", ch.algorithm, false)
	}
	kv("response", response, true)
	if ch.qopAuth {
		kv("qop", "auth", false)
		kv("nc", nc, false)
		kv("cnonce", cnonce, true)
	}
	if ch.opaque != "" {
		kv("opaque", ch.opaque, true)
	}
	if ch.userhash {
		kv("userhash", "true", false)
	}
	return b.String()
}

// quote makes a quoted-string, escaping quotes and backslashes.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func newCnonce() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}
