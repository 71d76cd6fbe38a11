package ssh

import (
	"bytes"
	"strings"
)

// algorithm is what this package knows of an algorithm name: nothing
// (algUnknown, every strong algorithm among them), that it is a signal
// in the key exchange list (algPseudo), or which weak algorithm it is.
// The sources of the weak ones are in docs/detection.md ("Weak SSH
// algorithms").
type algorithm uint8

const (
	algUnknown algorithm = iota
	// algPseudo negotiates no algorithm: OpenSSH's ext-info-c and
	// kex-strict-c-v00@openssh.com, and their -s forms.
	algPseudo

	// Key exchange, as RFC 9142 section 4 grades it.
	kexGroup1SHA1  // 1024-bit Oakley Group 2 with SHA-1: SHOULD NOT
	kexGexSHA1     // group exchange with SHA-1: SHOULD NOT
	kexRSA1024SHA1 // RFC 4432: MUST NOT
	kexGSSGroup1   // RFC 4462, the mechanism's OID after the name: SHOULD NOT
	kexGSSGexSHA1  // RFC 4462: SHOULD NOT
	kexECMQVSHA2   // RFC 5656's elliptic-curve MQV: SHOULD NOT

	// Host keys whose signatures use SHA-1 (and DSA's 1024 bits).
	hostKeyDSS
	hostKeyDSSCert
	hostKeyRSA // RFC 8332 replaces it; OpenSSH 8.8 disables it
	hostKeyRSACert

	// Ciphers.
	cipherNone
	cipherArcfour // RC4: RFC 8758 MUST NOT
	cipherArcfour128
	cipherArcfour256
	cipherDESCBC // 56-bit key
	cipherDES
	cipherDESSSH
	cipher3DESCBC // 64-bit blocks (Sweet32), from here to cipherIDEACTR
	cipher3DESCTR
	cipherBlowfishCBC
	cipherBlowfishCTR
	cipherCAST128CBC
	cipherCAST128CTR
	cipherIDEACBC
	cipherIDEACTR
	cipherAES128CBC // CBC (CVE-2008-5161), from here to cipherSerpent256CBC
	cipherAES192CBC
	cipherAES256CBC
	cipherRijndaelCBC
	cipherTwofishCBC
	cipherTwofish128CBC
	cipherTwofish192CBC
	cipherTwofish256CBC
	cipherSerpent128CBC
	cipherSerpent192CBC
	cipherSerpent256CBC

	// MACs.
	macNone
	macMD5
	macMD596
	macMD5ETM
	macMD596ETM
	macSHA196 // SHA-1 cut to 96 bits
	macSHA196ETM

	numAlgorithms
)

// String is the algorithm's name, "" for algUnknown and algPseudo. A
// GSS-API method stands for its family ("gss-group1-sha1-*").
func (a algorithm) String() string {
	switch a {
	case kexGroup1SHA1:
		return "diffie-hellman-group1-sha1"
	case kexGexSHA1:
		return "diffie-hellman-group-exchange-sha1"
	case kexRSA1024SHA1:
		return "rsa1024-sha1"
	case kexGSSGroup1:
		return "gss-group1-sha1-*"
	case kexGSSGexSHA1:
		return "gss-gex-sha1-*"
	case kexECMQVSHA2:
		return "ecmqv-sha2"
	case hostKeyDSS:
		return "ssh-dss"
	case hostKeyDSSCert:
		return "ssh-dss-cert-v01@openssh.com"
	case hostKeyRSA:
		return "ssh-rsa"
	case hostKeyRSACert:
		return "ssh-rsa-cert-v01@openssh.com"
	case cipherNone, macNone:
		return "none"
	case cipherArcfour:
		return "arcfour"
	case cipherArcfour128:
		return "arcfour128"
	case cipherArcfour256:
		return "arcfour256"
	case cipherDESCBC:
		return "des-cbc"
	case cipherDES:
		return "des"
	case cipherDESSSH:
		return "des-cbc@ssh.com"
	case cipher3DESCBC:
		return "3des-cbc"
	case cipher3DESCTR:
		return "3des-ctr"
	case cipherBlowfishCBC:
		return "blowfish-cbc"
	case cipherBlowfishCTR:
		return "blowfish-ctr"
	case cipherCAST128CBC:
		return "cast128-cbc"
	case cipherCAST128CTR:
		return "cast128-ctr"
	case cipherIDEACBC:
		return "idea-cbc"
	case cipherIDEACTR:
		return "idea-ctr"
	case cipherAES128CBC:
		return "aes128-cbc"
	case cipherAES192CBC:
		return "aes192-cbc"
	case cipherAES256CBC:
		return "aes256-cbc"
	case cipherRijndaelCBC:
		return "rijndael-cbc@lysator.liu.se"
	case cipherTwofishCBC:
		return "twofish-cbc"
	case cipherTwofish128CBC:
		return "twofish128-cbc"
	case cipherTwofish192CBC:
		return "twofish192-cbc"
	case cipherTwofish256CBC:
		return "twofish256-cbc"
	case cipherSerpent128CBC:
		return "serpent128-cbc"
	case cipherSerpent192CBC:
		return "serpent192-cbc"
	case cipherSerpent256CBC:
		return "serpent256-cbc"
	case macMD5:
		return "hmac-md5"
	case macMD596:
		return "hmac-md5-96"
	case macMD5ETM:
		return "hmac-md5-etm@openssh.com"
	case macMD596ETM:
		return "hmac-md5-96-etm@openssh.com"
	case macSHA196:
		return "hmac-sha1-96"
	case macSHA196ETM:
		return "hmac-sha1-96-etm@openssh.com"
	}
	return ""
}

// weak reports whether a is a weak algorithm.
func (a algorithm) weak() bool { return a >= kexGroup1SHA1 && a < numAlgorithms }

// insecure reports whether a protects nothing: no encryption, or no
// integrity. Like TLS's NULL suites, it makes the finding high.
func (a algorithm) insecure() bool { return a == cipherNone || a == macNone }

// kind is the kind of list a weak algorithm belongs to.
func (a algorithm) kind() list {
	switch {
	case a < hostKeyDSS:
		return listKex
	case a < cipherNone:
		return listHostKey
	case a < macNone:
		return listCipherC2S
	}
	return listMACC2S
}

// kindOf folds the two directions' lists of ciphers, and of MACs, into
// the client to server one.
func kindOf(l list) list {
	switch l {
	case listCipherS2C:
		return listCipherC2S
	case listMACS2C:
		return listMACC2S
	}
	return l
}

// grade judges name, an algorithm of list l.
func grade(l list, name []byte) algorithm {
	k := kindOf(l)
	if k == listKex {
		switch string(name) {
		case "ext-info-c", "ext-info-s", "kex-strict-c-v00@openssh.com", "kex-strict-s-v00@openssh.com":
			return algPseudo
		}
		// The GSS-API methods end in their mechanism's OID.
		switch {
		case bytes.HasPrefix(name, []byte("gss-group1-sha1-")):
			return kexGSSGroup1
		case bytes.HasPrefix(name, []byte("gss-gex-sha1-")):
			return kexGSSGexSHA1
		}
	}
	for a := kexGroup1SHA1; a < numAlgorithms; a++ {
		if a.kind() == k && a.String() == string(name) {
			return a
		}
	}
	return algUnknown
}

// aead reports whether the cipher hashed h authenticates what it
// encrypts, so that the MAC list does not decide the MAC: OpenSSH's
// chacha20-poly1305 and AES-GCM, which use none, and RFC 5647's
// AEAD_AES_*_GCM, whose MAC is the cipher itself (section 5.1) whatever
// the first common name of the MAC list.
func aead(h uint64) bool {
	switch h {
	case nameHash("chacha20-poly1305@openssh.com"), nameHash("aes128-gcm@openssh.com"), nameHash("aes256-gcm@openssh.com"),
		nameHash("AEAD_AES_128_GCM"), nameHash("AEAD_AES_256_GCM"):
		return true
	}
	return false
}

// nameHash is the hash kexReader computes of a name.
func nameHash(s string) uint64 {
	h := uint64(fnvOffset)
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// String names the algorithms of w, comma-separated.
func (w weakness) String() string {
	var b strings.Builder
	for a := kexGroup1SHA1; a < numAlgorithms; a++ {
		if !w.has(a) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.String())
	}
	return b.String()
}
