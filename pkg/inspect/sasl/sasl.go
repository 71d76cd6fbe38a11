// Package sasl reads the SASL exchanges (RFC 4422) that POP3, IMAP and SMTP
// carry in clear and turns the ones whose secret can be read or verified
// into an inspect.Login: PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195),
// XOAUTH2 and OAUTHBEARER (RFC 7628). The mail analyzers own the framing
// (which line is a challenge, which a response, which reply the verdict);
// this package owns what the base64 inside means.
//
// Nothing here allocates while an exchange runs: base64 is decoded into a
// Scratch the caller owns, and an Exchange keeps only what a later step
// needs (the LOGIN user, the CRAM-MD5 challenge) in fixed arrays.
package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Bounds of what an exchange reads. A message longer than MaxMessage
// decoded bytes (4096 base64 characters, a whole stream buffer) is not
// read at all rather than read in part.
const (
	MaxMessage   = 3072
	MaxUser      = 256
	MaxChallenge = 256
)

// Scratch is decode space for one SASL message. It is only used during a
// call, so one Scratch can serve every flow of a single-threaded engine;
// Challenge and Handle leave it zeroed, because it lives as long as the
// process and a message in it may be a password.
type Scratch [MaxMessage]byte

// Mechanism is a SASL mechanism this package knows.
type Mechanism uint8

const (
	Unknown     Mechanism = iota // any other: the exchange is followed, not read
	Plain                        // authzid NUL user NUL password
	Login                        // user and password as two responses
	CRAMMD5                      // user and HMAC-MD5 of the server's challenge
	XOAuth2                      // user and bearer token
	OAuthBearer                  // RFC 7628: user and bearer token
)

// ParseMechanism reads a mechanism name, ignoring ASCII case.
func ParseMechanism(name []byte) Mechanism {
	switch {
	case inspect.EqualFold(name, "PLAIN"):
		return Plain
	case inspect.EqualFold(name, "LOGIN"):
		return Login
	case inspect.EqualFold(name, "CRAM-MD5"):
		return CRAMMD5
	case inspect.EqualFold(name, "XOAUTH2"):
		return XOAuth2
	case inspect.EqualFold(name, "OAUTHBEARER"):
		return OAuthBearer
	}
	return Unknown
}

// Name is the mechanism's registered name.
func (m Mechanism) Name() string {
	switch m {
	case Plain:
		return "PLAIN"
	case Login:
		return "LOGIN"
	case CRAMMD5:
		return "CRAM-MD5"
	case XOAuth2:
		return "XOAUTH2"
	case OAuthBearer:
		return "OAUTHBEARER"
	}
	return "unknown"
}

// Decode decodes a base64 SASL message into dst and returns the decoded
// bytes, a sub-slice of dst. Padding is optional (clients differ) and
// surrounding white space is ignored; ok is false for invalid base64 or a
// message that does not fit dst, and then nothing of src is left in dst.
func Decode(dst, src []byte) (msg []byte, ok bool) {
	src = bytes.TrimSpace(src)
	for len(src) > 0 && src[len(src)-1] == '=' {
		src = src[:len(src)-1]
	}
	size := base64.RawStdEncoding.DecodedLen(len(src))
	if size > len(dst) {
		return nil, false
	}
	n, err := base64.RawStdEncoding.Decode(dst, src)
	if err != nil {
		// Decode writes what it decoded before the error: part of a
		// secret, perhaps.
		clear(dst[:size])
		return nil, false
	}
	return dst[:n], true
}

// ParsePlain splits a PLAIN message (RFC 4616): authzid NUL authcid NUL
// passwd. The user is the authentication identity, or the authorization
// identity when that is all the client sent.
func ParsePlain(msg []byte) (user, password []byte, ok bool) {
	i := bytes.IndexByte(msg, 0)
	if i < 0 {
		return nil, nil, false
	}
	authzid, rest := msg[:i], msg[i+1:]
	j := bytes.IndexByte(rest, 0)
	if j < 0 {
		return nil, nil, false
	}
	user, password = rest[:j], rest[j+1:]
	if len(user) == 0 {
		user = authzid
	}
	return user, password, true
}

// ParseXOAuth2 reads an XOAUTH2 client response:
// "user=" user ^A "auth=Bearer " token ^A ^A.
func ParseXOAuth2(msg []byte) (user, token []byte, ok bool) {
	var haveUser bool
	for _, kv := range fields(msg) {
		switch {
		case bytes.HasPrefix(kv, []byte("user=")):
			user, haveUser = kv[len("user="):], true
		case bytes.HasPrefix(kv, []byte("auth=")):
			token = bearer(kv[len("auth="):])
		}
	}
	return user, token, haveUser && len(token) > 0
}

// ParseOAuthBearer reads an OAUTHBEARER client response (RFC 7628): a GS2
// header "n,a=user," then ^A-separated pairs, one of them
// "auth=Bearer " token. The user is optional.
func ParseOAuthBearer(msg []byte) (user, token []byte, ok bool) {
	i := bytes.IndexByte(msg, 1)
	if i < 0 {
		return nil, nil, false
	}
	header, pairs := msg[:i], msg[i:]
	// gs2-cb-flag "," [authzid] ","
	if c := bytes.IndexByte(header, ','); c >= 0 {
		authz := header[c+1:]
		if e := bytes.IndexByte(authz, ','); e >= 0 {
			authz = authz[:e]
		}
		if bytes.HasPrefix(authz, []byte("a=")) {
			user = authz[2:]
		}
	}
	for _, kv := range fields(pairs) {
		if bytes.HasPrefix(kv, []byte("auth=")) {
			token = bearer(kv[len("auth="):])
		}
	}
	return user, token, len(token) > 0
}

// fields splits ^A-separated key=value pairs into a fixed array: the
// mechanisms above send a handful, and more than eight are ignored.
func fields(msg []byte) [8][]byte {
	var out [8][]byte
	n := 0
	for len(msg) > 0 && n < len(out) {
		i := bytes.IndexByte(msg, 1)
		if i < 0 {
			out[n] = msg
			break
		}
		if i > 0 {
			out[n] = msg[:i]
			n++
		}
		msg = msg[i+1:]
	}
	return out
}

// bearer returns the token of an HTTP-style "Bearer token" value.
func bearer(v []byte) []byte {
	if inspect.HasPrefixFold(v, "Bearer ") {
		return bytes.TrimSpace(v[len("Bearer "):])
	}
	return nil
}

// ParseCRAMMD5 splits a CRAM-MD5 response (RFC 2195): user SP the 32 hex
// digits of HMAC-MD5(password, challenge). The user may contain spaces;
// the digest is what follows the last one.
func ParseCRAMMD5(msg []byte, digest *[md5.Size]byte) (user []byte, ok bool) {
	i := bytes.LastIndexByte(msg, ' ')
	if i < 0 {
		return nil, false
	}
	hexDigest := msg[i+1:]
	if len(hexDigest) != 2*md5.Size {
		return nil, false
	}
	if _, err := hex.Decode(digest[:], hexDigest); err != nil {
		return nil, false
	}
	return msg[:i], true
}

// VerifyCRAMMD5 reports whether password answers challenge with digest.
func VerifyCRAMMD5(challenge, digest, password []byte) bool {
	m := hmac.New(md5.New, password)
	m.Write(challenge)
	var sum [md5.Size]byte
	return hmac.Equal(m.Sum(sum[:0]), digest)
}
