package advisory

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// A signature file is one line: "ed25519 <key id> <base64 signature>",
// where the key id is the first 8 bytes of SHA-256 of the raw public key in
// hex, and the signature is ed25519 over the exact bytes of the feed file.
const (
	sigAlgorithm   = "ed25519"
	maxSigFileSize = 1024
)

// ErrSignature: the feed is unsigned, signed by a key this build does not
// trust, or its signature does not match its bytes.
var ErrSignature = errors.New("advisory feed signature not valid")

// KeyID names a public key in signature files and messages.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Sign returns the signature file for feed.
func Sign(priv ed25519.PrivateKey, feed []byte) []byte {
	pub := priv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(priv, feed)
	return []byte(fmt.Sprintf("%s %s %s\n", sigAlgorithm, KeyID(pub), base64.StdEncoding.EncodeToString(sig)))
}

// verify checks sigFile against feed with one of keys.
func verify(keys []ed25519.PublicKey, feed, sigFile []byte) error {
	if len(sigFile) == 0 {
		return fmt.Errorf("%w: no signature", ErrSignature)
	}
	if len(sigFile) > maxSigFileSize {
		return fmt.Errorf("%w: signature file of %d bytes", ErrSignature, len(sigFile))
	}
	fields := strings.Fields(string(sigFile))
	if len(fields) != 3 || fields[0] != sigAlgorithm {
		return fmt.Errorf("%w: signature file is not \"ed25519 <key id> <signature>\"", ErrSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is not %d bytes of base64", ErrSignature, ed25519.SignatureSize)
	}
	id := fields[1]
	for _, k := range keys {
		if KeyID(k) != id {
			continue
		}
		if !ed25519.Verify(k, feed, sig) {
			return fmt.Errorf("%w: signature by key %s does not match the feed's bytes (altered or truncated)", ErrSignature, id)
		}
		return nil
	}
	trusted := make([]string, len(keys))
	for i, k := range keys {
		trusted[i] = KeyID(k)
	}
	return fmt.Errorf("%w: signed with key %s, which is not trusted (trusted: %s)", ErrSignature, id, strings.Join(trusted, ", "))
}

// ParsePublicKey reads an ed25519 public key as PEM ("PUBLIC KEY", PKIX,
// what `openssl pkey -pubout` writes) or as the base64 of its 32 bytes.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q, want PUBLIC KEY", blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, want ed25519", k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("public key is neither PEM nor base64 of 32 bytes")
	}
	return ed25519.PublicKey(raw), nil
}

// ParsePrivateKey reads an ed25519 private key as PKCS#8 PEM ("PRIVATE
// KEY", what `openssl genpkey -algorithm ed25519` writes).
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("private key: want a PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want ed25519", k)
	}
	return priv, nil
}

// MarshalPublicKey encodes pub as PKIX PEM.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// MarshalPrivateKey encodes priv as PKCS#8 PEM.
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
