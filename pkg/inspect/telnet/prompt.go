package telnet

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// PromptKind is what a server's prompt asks for.
type PromptKind uint8

// The prompt kinds, as PromptOf reads them.

const (
	PromptNone PromptKind = iota
	PromptUser
	PromptPassword
)

// Prompts are read from the phrase before the mark that ends them, ':'
// or '>', with spaces trimmed around the mark ("Password : ") and a
// bracketed aside at the phrase's end set aside ("Password (8-16
// characters):"), compared case-insensitively. A password prompt's
// phrase ends in a password word ("Password", "Enter the password",
// "root@cam's password", ">>User password") or names whose it is
// ("Password for admin"); a user prompt's phrase ends in a user word
// ("(none) login", "Username", "User Name", "login as", "Login Name",
// "Account", "User ID"). A word counts whole: "pass" is not the end of
// "bypass". Before a '>' it must not be glued to a host name either: a
// CLI names its prompt after the host ("cam-user>", "nvr.user>"). A
// line with no mark at its end is no prompt, so neither is "Password
// changed successfully" nor "Password incorrect".
var (
	userWords     = [...]string{"login", "login as", "login name", "login id", "username", "user name", "user", "user id", "userid", "account"}
	passwordWords = [...]string{"password", "passwd", "passcode", "passphrase", "pass"}
)

// maxForWords bounds the words after "for" in "Password for admin:"
// ("for user admin on cam"): a longer clause is a sentence, not a
// prompt.
const maxForWords = 4

// Server output that says a login was accepted, however the line ends.
// They win over refusals on the same line ("There were 3 failed login
// attempts since the last successful login"). The report of the last
// login counts even after a refusal; the others are also in the greeting
// or banner a server shows again when it starts over.
var (
	lastLoginMarks = [...]string{"last login", "successful login"}
	bannerMarks    = [...]string{"login successful", "busybox v", "built-in shell"}
)

// Server output that says a login was refused.
var refusedMarks = [...]string{"incorrect", "failed", "failure", "denied", "invalid", "bad password", "wrong", "try again", "sorry"}

// changeMarks make a password prompt after a login one for a new
// password: the login was accepted, and the device wants another.
var changeMarks = [...]string{"new", "retype", "re-enter", "current", "change", "confirm"}

// passwordChange reports whether a password prompt asks for a new one:
// a change mark before its password word ("Retype new password:",
// "(current) UNIX password:"), not in the name of whose it is
// ("Password for newuser:").
func passwordChange(text []byte) bool {
	head := text
	if i := inspect.IndexFold(text, "pass"); i >= 0 {
		head = text[:i]
	}
	for _, m := range changeMarks {
		if inspect.ContainsFold(head, m) {
			return true
		}
	}
	return false
}

// PromptOf reports whether text, the server's current line, ends in a
// login or password prompt. The router's active audit reads prompts
// with it too, so that what passive inspection takes for a login, the
// audit can answer.
func PromptOf(text []byte) PromptKind {
	t := trimRight(text)
	end := len(t)
	for end > 0 && (t[end-1] == ':' || t[end-1] == '>') {
		end--
	}
	if end == len(t) {
		return PromptNone
	}
	mark := t[len(t)-1]
	phrase := trimRight(t[:end])
	// "Last login:" starts a line that is not a prompt; seen before the
	// rest of the line arrives it would look like one. Markup is not one
	// either: "</password>".
	if inspect.ContainsFold(phrase, "last login") || mark == '>' && bytes.IndexByte(phrase, '<') >= 0 {
		return PromptNone
	}
	phrase = withoutAside(phrase)
	host := mark == '>'
	switch {
	case endsInWord(phrase, passwordWords[:], host) || passwordFor(phrase, host):
		return PromptPassword
	case endsInWord(phrase, userWords[:], host):
		return PromptUser
	}
	return PromptNone
}

// oneWordAngle reports whether text, the server's current line, is one
// word and a '>': "User>", "Username>". Right after a login such a user
// prompt is more likely a CLI's, named after its mode or user, than the
// login prompt asked again; one of more words ("User Name>") is a
// sentence no CLI shows.
func oneWordAngle(text []byte) bool {
	t := trimRight(text)
	if len(t) == 0 || t[len(t)-1] != '>' {
		return false
	}
	phrase := trimSpace(bytes.TrimRight(t, ":>"))
	return len(phrase) > 0 && !bytes.ContainsAny(phrase, " \t")
}

// withoutAside cuts a bracketed aside from the end of a prompt's phrase:
// "Password (8-16 characters)", "Username [admin]".
func withoutAside(phrase []byte) []byte {
	if len(phrase) == 0 {
		return phrase
	}
	var open byte
	switch phrase[len(phrase)-1] {
	case ')':
		open = '('
	case ']':
		open = '['
	default:
		return phrase
	}
	if i := bytes.LastIndexByte(phrase, open); i >= 0 {
		return trimRight(phrase[:i])
	}
	return phrase
}

// endsInWord reports whether phrase ends in one of words, whole: what
// comes before it is no letter, nor with host set a character of a host
// name.
func endsInWord(phrase []byte, words []string, host bool) bool {
	for _, w := range words {
		i := len(phrase) - len(w) - 1
		if hasSuffixFold(phrase, w) && !isLetter(phrase, i) && !(host && isHostChar(phrase, i)) {
			return true
		}
	}
	return false
}

// passwordFor reports whether phrase asks for someone's password:
// "Password for admin", "Enter password for user admin". The clause
// after "for" is a few words saying nothing of a failure.
func passwordFor(phrase []byte, host bool) bool {
	i := lastIndexFold(phrase, " for ")
	if i < 0 || !endsInWord(phrase[:i], passwordWords[:], host) {
		return false
	}
	who := trimSpace(phrase[i+len(" for "):])
	return len(who) > 0 && bytes.Count(who, []byte(" ")) < maxForWords && !refused(who)
}

func isLetter(b []byte, i int) bool {
	if i < 0 {
		return false
	}
	c := b[i] | 0x20
	return 'a' <= c && c <= 'z'
}

// isHostChar reports whether b[i] is a digit or a mark a host name, or
// a user@host, is written with; letters are isLetter's.
func isHostChar(b []byte, i int) bool {
	if i < 0 {
		return false
	}
	switch c := b[i]; c {
	case '-', '_', '.', '@':
		return true
	default:
		return '0' <= c && c <= '9'
	}
}

// lastIndexFold is the index of the last t in s, ignoring ASCII case, or
// -1.
func lastIndexFold(s []byte, t string) int {
	for i := len(s) - len(t); i >= 0; i-- {
		if inspect.HasPrefixFold(s[i:], t) {
			return i
		}
	}
	return -1
}

// loggedIn reports whether text says the login succeeded. partial is set
// for a line the server has not ended: a shell prompt waits for input on
// an unfinished line ("# ", "$ ", "router> "). After a refusal (the
// server said something like "failed" after the password) only a shell
// prompt or the report of the last login, which a system prints after a
// login ("Last failed login: …"), mean accepted: a banner or greeting
// shown again means the server starts over.
func loggedIn(text []byte, partial, afterRefusal bool) bool {
	for _, m := range lastLoginMarks {
		if inspect.ContainsFold(text, m) {
			return true
		}
	}
	if !afterRefusal {
		for _, m := range bannerMarks {
			if inspect.ContainsFold(text, m) {
				return true
			}
		}
	}
	return partial && isShellPrompt(text)
}

// refused reports whether text says the login failed.
func refused(text []byte) bool {
	for _, m := range refusedMarks {
		if inspect.ContainsFold(text, m) {
			return true
		}
	}
	return false
}

// isShellPrompt reports whether text ends like a shell's or a CLI's
// prompt; a login or password prompt ending in '>' ("Enter the
// password>") is none.
func isShellPrompt(text []byte) bool {
	t := trimRight(text)
	if len(t) == 0 {
		return false
	}
	switch t[len(t)-1] {
	case '#', '$':
		return true
	case '>':
		return PromptOf(t) == PromptNone
	}
	return false
}

func hasSuffixFold(s []byte, suffix string) bool {
	return len(s) >= len(suffix) && inspect.HasPrefixFold(s[len(s)-len(suffix):], suffix)
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// meaningful reports whether a line has a letter or digit: blank lines
// and rules of dashes are no banner.
func meaningful(b []byte) bool {
	for _, c := range b {
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
			return true
		}
	}
	return false
}
