package config

import (
	"errors"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// decodeError turns an error of the TOML decoder into one naming file,
// line, column and key. A syntax error's message quotes the text the
// parser stumbled on, which is often a value written without quotes — a
// password or token — and the message goes to stderr and the log; so
// for syntax errors the quoted text is left out. Errors of values that
// parsed but do not fit their key (a bad duration, address or MAC) come
// from this package's own types, none of them secret, and keep their
// message.
func decodeError(path string, data []byte, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		// The decoder's type errors name the key and the types, not the value.
		return &Error{File: path, Msg: err.Error()}
	}
	e := &Error{File: path, Line: pe.Position.Line, Col: pe.Position.Col, Key: pe.LastKey, Msg: pe.Message}
	// The same text decoded without a schema fails only on syntax.
	var raw map[string]any
	if _, serr := toml.Decode(string(data), &raw); serr != nil {
		e.Msg = syntaxMessage(pe.Message)
	}
	return e
}

// quotedText is what the TOML parser quotes in its messages: Go-quoted
// strings ("…") and runes or fragments ('…').
var quotedText = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)

// unquotedNumber is a number the parser echoes without quotes ("… is out
// of range for int64"), which may be a secret written without them; not
// digits inside a word ("int64").
var unquotedNumber = regexp.MustCompile(`[+-]?\b[0-9][0-9A-Za-z_.+-]*`)

// syntaxMessage is msg with every quoted fragment and number replaced by
// "…", but for the punctuation TOML's grammar names ("expected '.' or
// '='") and the name of a key or table defined twice, which the file
// already used as a name, not a value.
func syntaxMessage(msg string) string {
	if strings.Contains(msg, "has already been defined") {
		return "syntax error: " + msg
	}
	m := quotedText.ReplaceAllStringFunc(msg, func(q string) string {
		switch q {
		case "'.'", "'='", "','", "'['", "']'", "'{'", "'}'":
			return q
		}
		return "…"
	})
	m = unquotedNumber.ReplaceAllString(m, "…")
	if strings.ContainsAny(quotedText.ReplaceAllString(msg, ""), `"'`) {
		// A quote the pattern did not pair: show nothing of it.
		m = "the text here is not valid TOML"
	}
	m = "syntax error: " + m
	if strings.HasPrefix(msg, "expected value but found") {
		m += ` (text values need quotes: key = "text")`
	}
	return m
}
