package httpauth

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"hash"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Verifier returns a function that reports whether a candidate password
// yields the response of d to a request with the given method (RFC 2617
// section 3.2.2, RFC 7616 section 3.4.1). It copies what it needs, so it
// may outlive the header bytes. It returns nil when the response cannot be
// recomputed: an unknown algorithm, qop=auth-int (the whole body would be
// needed), a hashed user name, or a response that is not hex.
func (d *Digest) Verifier(method []byte) func(candidate []byte) bool {
	newHash := digestHash(d.Algorithm)
	if newHash == nil || inspect.EqualFold(d.QOP, "auth-int") || inspect.EqualFold(d.UserHash, "true") {
		return nil
	}
	want := make([]byte, hex.DecodedLen(len(d.Response)))
	if n, err := hex.Decode(want, d.Response); err != nil || n != newHash().Size() {
		return nil
	}
	sess := len(d.Algorithm) > 5 && inspect.HasPrefixFold(d.Algorithm[len(d.Algorithm)-5:], "-sess")
	user, realm, nonce, cnonce := unescaped(d.Username), unescaped(d.Realm), unescaped(d.Nonce), unescaped(d.CNonce)
	qop, nc := unescaped(d.QOP), unescaped(d.NC)
	// HA2 does not depend on the password: compute it once.
	ha2 := hexSum(newHash, method, []byte(":"), unescaped(d.URI))
	return func(candidate []byte) bool {
		ha1 := hexSum(newHash, user, []byte(":"), realm, []byte(":"), candidate)
		if sess {
			ha1 = hexSum(newHash, ha1, []byte(":"), nonce, []byte(":"), cnonce)
		}
		var got []byte
		if len(qop) > 0 {
			got = sum(newHash, ha1, []byte(":"), nonce, []byte(":"), nc, []byte(":"), cnonce, []byte(":"), qop, []byte(":"), ha2)
		} else {
			got = sum(newHash, ha1, []byte(":"), nonce, []byte(":"), ha2)
		}
		return subtle.ConstantTimeCompare(got, want) == 1
	}
}

// digestHash maps a Digest algorithm name to its hash; nil if unknown.
func digestHash(algorithm []byte) func() hash.Hash {
	name := bytes.TrimSpace(algorithm)
	if len(name) > 5 && inspect.HasPrefixFold(name[len(name)-5:], "-sess") {
		name = name[:len(name)-5]
	}
	switch {
	case len(name) == 0 || inspect.EqualFold(name, "MD5"):
		return md5.New
	case inspect.EqualFold(name, "SHA-256"):
		return sha256.New
	case inspect.EqualFold(name, "SHA-512-256"):
		return sha512.New512_256
	}
	return nil
}

func unescaped(v []byte) []byte {
	out := make([]byte, len(v))
	return out[:Unescape(out, v)]
}

func sum(newHash func() hash.Hash, parts ...[]byte) []byte {
	h := newHash()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func hexSum(newHash func() hash.Hash, parts ...[]byte) []byte {
	s := sum(newHash, parts...)
	out := make([]byte, hex.EncodedLen(len(s)))
	hex.Encode(out, s)
	return out
}
