package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

// argon2id parameters: the OWASP minimum (19 MiB, two passes, one
// lane), affordable on a router when hashes are computed one at a time.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16

	// Limits on parameters read back from a stored hash, so a tampered
	// file cannot make a login cost the router's memory.
	maxArgonMemory  = 256 * 1024
	maxArgonTime    = 16
	maxArgonThreads = 8

	// MinPasswordLength is the shortest password the owner may set, in
	// characters.
	MinPasswordLength = 10
	// maxPasswordBytes bounds the work a login costs.
	maxPasswordBytes = 256
)

// hashPassword returns the PHC string of password with a fresh salt.
func hashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches the PHC string stored;
// the comparison is constant-time.
func verifyPassword(stored, password string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("stored password hash: not an argon2id string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("stored password hash: unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errors.New("stored password hash: bad parameters")
	}
	if m < 8 || m > maxArgonMemory || t < 1 || t > maxArgonTime || p < 1 || p > maxArgonThreads {
		return false, errors.New("stored password hash: parameters out of range")
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errors.New("stored password hash: bad salt")
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.New("stored password hash: bad key")
	}
	if len(password) > maxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// passwordChecker refuses passwords an attacker would try first: the
// default and common-password lists and the simple patterns pkg/inspect/creds
// knows about.
type passwordChecker struct {
	classifier *creds.Classifier
}

func newPasswordChecker() (*passwordChecker, error) {
	c, err := creds.New()
	if err != nil {
		return nil, fmt.Errorf("password lists: %w", err)
	}
	return &passwordChecker{classifier: c}, nil
}

// check returns an owner-facing reason when password may not be set.
func (pc *passwordChecker) check(password, confirm string) error {
	if !utf8.ValidString(password) {
		return errors.New("password: not valid text")
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLength {
		return fmt.Errorf("password: at least %d characters (this one has %d)", MinPasswordLength, n)
	}
	if len(password) > maxPasswordBytes {
		return fmt.Errorf("password: at most %d bytes", maxPasswordBytes)
	}
	for _, r := range password {
		if r < 0x20 || r == 0x7f {
			return errors.New("password: no control characters")
		}
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(confirm)) != 1 {
		return errors.New("password: the two entries differ")
	}
	tooEasy := errors.New("password: too easy to guess (a default or common password, a simple pattern or a user name); choose another")
	for _, user := range []string{"", "admin", "root", "iotgw"} {
		class, _ := pc.classifier.Classify(&inspect.Login{Protocol: "http", User: []byte(user), Secret: []byte(password), Kind: inspect.SecretPassword})
		if class == inspect.ClassDefault || class == inspect.ClassWeak {
			return tooEasy
		}
	}
	if pc.guessable(password) {
		return tooEasy
	}
	return nil
}

// runs are what a guesser walks along: the alphabet, the digits and the
// rows of a QWERTY keyboard; a password inside one (either way) is one.
var runs = [...]string{"abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertyuiopasdfghjklzxcvbnm", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p"}

// productWords are words a guesser tries against this page in particular.
var productWords = [...]string{"iotgw", "openwrt", "lede", "luci", "router", "gateway", "wifi", "wlan", "internet", "homenet", "network", "default", "secret"}

// leet undoes the look-alike digits and symbols of a dressed-up word.
var leet = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "@", "a", "$", "s", "!", "i")

// guessable catches what a guesser tries right after the lists: a word
// repeated ("passwordpassword", "hunter2hunter2"), a run along the
// alphabet, the digits or the keyboard ("abcdefghij", "qwertyuiop"), and
// a listed or product word dressed up with capitals, digits and symbols
// around it and look-alike characters in it ("P@ssw0rd123!",
// "iotgw12345").
func (pc *passwordChecker) guessable(password string) bool {
	p := strings.ToLower(password)
	for n := 1; n <= len(p)/2; n++ {
		if len(p)%n == 0 && p == strings.Repeat(p[:n], len(p)/n) {
			return true
		}
	}
	for _, run := range runs {
		if strings.Contains(run, p) || strings.Contains(reverse(run), p) {
			return true
		}
	}
	notLetter := func(r rune) bool { return !unicode.IsLetter(r) }
	core := strings.TrimFunc(p, notLetter)
	// A look-alike can start or end the word ("0penwrt123", "@dmin"):
	// trimming both sides first would take it for decoration, undoing
	// look-alikes first would take the decoration for letters.
	for _, w := range []string{core, leet.Replace(core),
		strings.TrimFunc(leet.Replace(strings.TrimRightFunc(p, notLetter)), notLetter),
		strings.TrimFunc(leet.Replace(strings.TrimLeftFunc(p, notLetter)), notLetter)} {
		if len(w) >= 3 && (pc.classifier.IsCommon([]byte(w)) || slices.Contains(productWords[:], w)) {
			return true
		}
	}
	return false
}

func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}
