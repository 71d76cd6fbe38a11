package telnet

import "github.com/iotgw/iotgw/pkg/inspect"

// promptKind is what a server's prompt asks for.
type promptKind uint8

const (
	promptNone promptKind = iota
	promptUser
	promptPassword
)

// Prompt endings, compared case-insensitively after trailing spaces are
// trimmed: "(none) login: ", "Username:", "Password: ".
var (
	userPrompts     = [...]string{"login:", "username:", "user name:", "user:"}
	passwordPrompts = [...]string{"password:", "passwd:", "pass:"}
)

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

// passwordChange reports whether a password prompt asks for a new one.
func passwordChange(text []byte) bool {
	for _, m := range changeMarks {
		if inspect.ContainsFold(text, m) {
			return true
		}
	}
	return false
}

// promptOf reports whether text, the server's current line, ends in a
// login or password prompt.
func promptOf(text []byte) promptKind {
	t := trimRight(text)
	if len(t) == 0 || t[len(t)-1] != ':' {
		return promptNone
	}
	// "Last login:" starts a line that is not a prompt; seen before the
	// rest of the line arrives it would look like one.
	if inspect.ContainsFold(t, "last login") {
		return promptNone
	}
	for _, p := range passwordPrompts {
		if hasSuffixFold(t, p) {
			return promptPassword
		}
	}
	for _, p := range userPrompts {
		if hasSuffixFold(t, p) {
			return promptUser
		}
	}
	return promptNone
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

func isShellPrompt(text []byte) bool {
	t := trimRight(text)
	if len(t) == 0 {
		return false
	}
	switch t[len(t)-1] {
	case '#', '$', '>':
		return true
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
