package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
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
		return typeError(path, err)
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

// decoderError is how the TOML decoder words a value of the wrong kind
// for its key: a line, the key Go-quoted, and Go's names of the types.
var (
	decoderError = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)
	wrongType    = regexp.MustCompile(`^incompatible types: TOML value has type (\S+); destination has type (.+)$`)
	notTable     = regexp.MustCompile(`^type mismatch for \S+: expected table but found (\S+)$`)
)

// kindWords names a TOML value's kind, by the decoder's name of its Go
// type or of the destination's, or its metadata's name of the kind, as
// the owner wrote or should write it.
var kindWords = map[string]string{
	"string": "text", "primitive (string-like)": "text", "String": "text",
	"int64": "a whole number", "integer": "a whole number", "Integer": "a whole number",
	"float64": "a decimal number", "float": "a decimal number", "Float": "a decimal number",
	"bool": "true or false", "boolean": "true or false", "Bool": "true or false",
	"[]any": "a list", "slice": "a list", "Array": "a list",
	"map[string]any": "a table", "map": "a table", "Hash": "a table",
	"[]map[string]any": "a list of tables", "ArrayHash": "a list of tables",
	"time.Time": "a date", "Datetime": "a date",
}

// typeError is a decoder's error that is no syntax error (a value of the
// wrong kind) as an Error naming line and key, in the owner's words.
func typeError(path string, err error) *Error {
	m := decoderError.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: path, Msg: err.Error()}
	}
	e := &Error{File: path, Msg: m[3]}
	e.Line, _ = strconv.Atoi(m[1])
	e.Key, _ = strconv.Unquote(m[2])
	if t := wrongType.FindStringSubmatch(m[3]); t != nil {
		got, want := kindWords[t[1]], kindWords[t[2]]
		switch {
		case got == "" || want == "" || got == want:
		case got == "a table" && want == "a list":
			e.Msg = fmt.Sprintf("a table where a list of tables is wanted: write [[%s]] above each one", e.Key)
		case want == "a list":
			e.Msg = got + ` where a list is wanted (a list is written ["a", "b"])`
		case got == "text" && strings.HasSuffix(want, "number"):
			e.Msg = "text where " + want + " is wanted (a number is written without quotes)"
		default:
			e.Msg = got + " where " + want + " is wanted"
		}
	} else if t := notTable.FindStringSubmatch(m[3]); t != nil && kindWords[t[1]] != "" {
		e.Msg = kindWords[t[1]] + " where a table is wanted"
		if t[1] == "[]map[string]any" {
			e.Msg += fmt.Sprintf(": write [%s], once", e.Key)
		}
	}
	return e
}
