// Package httpauth parses the credentials HTTP, RTSP and SIP carry in
// Authorization and Proxy-Authorization headers (Basic, RFC 7617; Digest,
// RFC 2617/7616; Bearer, RFC 6750) and the realm of a challenge, and
// recomputes Digest responses so that a classifier can test candidate
// passwords against a challenge-response login. Judge and Memory give
// the server's verdict on such a credential from its answer, for HTTP
// and RTSP (verdict.go).
//
// Parsing never allocates: results borrow the header bytes, and Basic
// credentials are decoded into a scratch array the caller owns. Only
// Verifier allocates, once per login.
package httpauth

import (
	"bytes"
	"encoding/base64"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Scheme is an authentication scheme.
type Scheme uint8

const (
	SchemeNone    Scheme = iota // empty header value
	SchemeUnknown               // a scheme this package does not read ("Turbo", "NTLM")
	SchemeBasic
	SchemeDigest
	SchemeBearer
)

func (s Scheme) String() string {
	switch s {
	case SchemeBasic:
		return "Basic"
	case SchemeDigest:
		return "Digest"
	case SchemeBearer:
		return "Bearer"
	case SchemeUnknown:
		return "unknown"
	}
	return "none"
}

// Split returns the scheme of an Authorization value and what follows it,
// with the spaces between them removed ("Basic  dGVzdA==" is tolerated).
func Split(value []byte) (Scheme, []byte) {
	value = bytes.TrimSpace(value)
	if len(value) == 0 {
		return SchemeNone, nil
	}
	name, rest := value, []byte(nil)
	if i := bytes.IndexAny(value, " \t"); i >= 0 {
		name, rest = value[:i], bytes.TrimSpace(value[i+1:])
	}
	switch {
	case inspect.EqualFold(name, "Basic"):
		return SchemeBasic, rest
	case inspect.EqualFold(name, "Digest"):
		return SchemeDigest, rest
	case inspect.EqualFold(name, "Bearer"):
		return SchemeBearer, rest
	}
	return SchemeUnknown, rest
}

// MaxBasic is the most decoded bytes of a Basic credential kept; longer
// credentials are not reported (no device default is that long).
const MaxBasic = 384

// Basic decodes a Basic token (base64 of "user:password") into dst and
// splits it at the first colon, so that a password may hold colons. ok is
// false for a token that is not base64, too long, or has no colon.
// Missing padding is tolerated.
func Basic(token []byte, dst *[MaxBasic]byte) (user, password []byte, ok bool) {
	token = bytes.TrimSpace(token)
	if i := bytes.IndexAny(token, " \t,"); i >= 0 {
		token = token[:i] // auth-params after a token68 are not part of it
	}
	enc := base64.StdEncoding
	if len(token)%4 != 0 {
		token = bytes.TrimRight(token, "=")
		enc = base64.RawStdEncoding
	}
	if len(token) == 0 || enc.DecodedLen(len(token)) > len(dst) {
		return nil, nil, false
	}
	n, err := enc.Decode(dst[:], token)
	if err != nil {
		// Decode may have written part of the token: a secret, perhaps.
		clear(dst[:])
		return nil, nil, false
	}
	plain := dst[:n]
	i := bytes.IndexByte(plain, ':')
	if i < 0 {
		clear(plain)
		return nil, nil, false
	}
	return plain[:i], plain[i+1:], true
}

// MaxDigestUser is the most bytes of a Digest user name ReadLogin keeps.
const MaxDigestUser = 128

// ReadLogin fills in l's user and secret from cred, the credential that
// follows scheme in an Authorization or Proxy-Authorization value sent
// with a request of method: for Basic the user and password, decoded into
// scratch; for Digest the user, unescaped into scratch and cut to
// MaxDigestUser bytes, with what a classifier needs to test passwords
// against the response. It returns false, leaving l as it was, for any
// other scheme or a credential that does not parse. l borrows scratch and
// cred: analyzers call Classify, which classifies it and clears scratch.
func ReadLogin(l *inspect.Login, scheme Scheme, cred, method []byte, scratch *[MaxBasic]byte) bool {
	switch scheme {
	case SchemeBasic:
		user, pass, ok := Basic(cred, scratch)
		if !ok {
			return false
		}
		l.User, l.Secret = user, pass
	case SchemeDigest:
		d, ok := ParseDigest(cred)
		if !ok {
			return false
		}
		l.User = scratch[:Unescape(scratch[:MaxDigestUser], d.Username)]
		l.Kind = inspect.SecretHashed
		l.Verify = d.Verifier(method)
		l.Challenge = [][]byte{cred, method}
	default:
		return false
	}
	return true
}

// Classify reads the login as ReadLogin does and has f classify it; the
// decoded secret in scratch is wiped before it returns, even if the
// classifier panics (the engine survives that), so callers need not.
func Classify(f *inspect.Flow, l *inspect.Login, scheme Scheme, cred, method []byte, scratch *[MaxBasic]byte) (inspect.Credential, bool) {
	defer clear(scratch[:])
	if !ReadLogin(l, scheme, cred, method, scratch) {
		return inspect.Credential{}, false
	}
	return f.Classify(l), true
}

// NextParam reads one auth-param (name=value or name="quoted value") from
// a comma-separated list and returns the rest. A quoted value comes back
// without its quotes but with any backslash escapes; see Unescape. ok is
// false when b holds no further parameter.
func NextParam(b []byte) (name, value, rest []byte, ok bool) {
	for {
		b = bytes.TrimLeft(b, " \t\r\n,")
		if len(b) == 0 {
			return nil, nil, nil, false
		}
		i := 0
		for i < len(b) && b[i] != '=' && b[i] != ',' && b[i] != ' ' && b[i] != '\t' {
			i++
		}
		name = b[:i]
		b = bytes.TrimLeft(b[i:], " \t")
		if len(b) == 0 || b[0] != '=' {
			continue // a bare token: a scheme name in a list of challenges
		}
		b = bytes.TrimLeft(b[1:], " \t")
		if len(b) > 0 && b[0] == '"' {
			j := 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) { // unterminated: take what there is
				return name, b[1:], nil, true
			}
			return name, b[1:j], b[j+1:], true
		}
		j := bytes.IndexByte(b, ',')
		if j < 0 {
			j = len(b)
		}
		return name, bytes.TrimSpace(b[:j]), b[j:], true
	}
}

// Unescape copies a quoted-string value into dst without its backslash
// escapes and returns the bytes written; it stops when dst is full.
func Unescape(dst, v []byte) int {
	n := 0
	for i := 0; i < len(v) && n < len(dst); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		dst[n] = v[i]
		n++
	}
	return n
}

// Realm returns the realm parameter of a challenge (a WWW-Authenticate or
// Proxy-Authenticate value), escapes included, or nil.
func Realm(challenge []byte) []byte { return challengeParam(challenge, "realm") }

// Stale reports whether a challenge carries stale=true (RFC 7616 section
// 3.3): the credentials it answers were right, only their nonce had
// expired.
func Stale(challenge []byte) bool {
	return inspect.EqualFold(challengeParam(challenge, "stale"), "true")
}

// Refused reports whether a response status refuses a credential sent in
// an Authorization header or, with proxy, a Proxy-Authorization header:
// 401 is the origin's refusal and says nothing about the proxy's login,
// 407 the proxy's and says nothing about the origin's; 403 refuses
// either. A challenge that says only the nonce was stale refuses nothing.
func Refused(status int, proxy, stale bool) bool {
	switch {
	case stale:
		return false
	case proxy:
		return status == 407 || status == 403
	}
	return status == 401 || status == 403
}

func challengeParam(challenge []byte, want string) []byte {
	_, rest := Split(challenge)
	for {
		name, value, r, ok := NextParam(rest)
		if !ok {
			return nil
		}
		if inspect.EqualFold(name, want) {
			return value
		}
		rest = r
	}
}

// Digest is the parameters of a Digest Authorization value. Fields borrow
// the header bytes and may hold backslash escapes.
type Digest struct {
	Username, Realm, Nonce, URI, Response []byte
	QOP, NC, CNonce, Algorithm, UserHash  []byte
}

// ParseDigest reads the parameters of a Digest credential (what follows
// the scheme name). ok is false without a username and a response.
func ParseDigest(params []byte) (d Digest, ok bool) {
	for {
		name, value, rest, more := NextParam(params)
		if !more {
			break
		}
		params = rest
		switch {
		case inspect.EqualFold(name, "username"):
			d.Username = value
		case inspect.EqualFold(name, "realm"):
			d.Realm = value
		case inspect.EqualFold(name, "nonce"):
			d.Nonce = value
		case inspect.EqualFold(name, "uri"):
			d.URI = value
		case inspect.EqualFold(name, "response"):
			d.Response = value
		case inspect.EqualFold(name, "qop"):
			d.QOP = value
		case inspect.EqualFold(name, "nc"):
			d.NC = value
		case inspect.EqualFold(name, "cnonce"):
			d.CNonce = value
		case inspect.EqualFold(name, "algorithm"):
			d.Algorithm = value
		case inspect.EqualFold(name, "userhash"):
			d.UserHash = value
		}
	}
	return d, len(d.Username) > 0 && len(d.Response) > 0
}
