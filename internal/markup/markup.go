// Package markup writes HTML from Go code, so that the daemon's pages
// need no template engine (text/template's reflection keeps every
// exported method of the binary alive, which a router cannot afford).
//
// It owns one rule: markup comes only from compile-time constants, and
// everything else is escaped. Raw, and the attribute methods' names, URL
// prefixes and suffixes, take an unexported string type; only an untyped
// string constant converts to it implicitly, so another package cannot
// pass a runtime string (a device name, a banner, a form value) where
// markup goes — the compiler refuses it. That stops mistakes, not
// deliberate circumvention (reflection, unsafe, or a generic function
// instantiated with the parameter's type); code review covers those.
//
// Data goes through Text (element content, or inside a double-quoted
// attribute value opened by Raw), Attr (a whole double-quoted attribute),
// URLAttr (a constant local prefix, the data path- or query-escaped, a
// constant suffix), Int and NumAttr (numbers formatted by strconv). No
// data ever goes into a script, a style, an event-handler attribute or
// the start of a URL: each attribute method takes only the attribute
// names on its allow-list (inert text, numbers, href and action) and
// URLAttr only a prefix that is a local path. Either mistake panics, as
// a programming error that the first test of the page finds.
//
// A Writer writes into memory, so no call returns an error.
package markup

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// constant is markup or an attribute name. It is unexported so that
// other packages can only pass untyped string constants.
type constant string

// Writer builds one HTML document in memory. The zero value is ready.
type Writer struct {
	buf bytes.Buffer
}

// Bytes returns what was written.
func (w *Writer) Bytes() []byte { return w.buf.Bytes() }

// Raw writes markup: tags, constant attributes and fixed prose.
func (w *Writer) Raw(s constant) { w.buf.WriteString(string(s)) }

// Text writes s escaped, for element content or inside a double-quoted
// attribute value.
func (w *Writer) Text(s string) { escape(&w.buf, s) }

// Int writes n in decimal.
func (w *Writer) Int(n int) {
	var b [20]byte
	w.buf.Write(strconv.AppendInt(b[:0], int64(n), 10))
}

// Attr writes ` name="value"` with value escaped.
func (w *Writer) Attr(name constant, value string) {
	allow(name, textAttr)
	w.buf.WriteByte(' ')
	w.buf.WriteString(string(name))
	w.buf.WriteString(`="`)
	escape(&w.buf, value)
	w.buf.WriteByte('"')
}

// NumAttr writes ` name="v"` with v in the shortest form that reads back
// exactly (fmt's %v), as SVG coordinates need.
func (w *Writer) NumAttr(name constant, v float64) {
	allow(name, numAttr)
	w.buf.WriteByte(' ')
	w.buf.WriteString(string(name))
	w.buf.WriteString(`="`)
	var b [32]byte
	w.buf.Write(strconv.AppendFloat(b[:0], v, 'g', -1, 64))
	w.buf.WriteByte('"')
}

// URLAttr writes ` name="prefix part suffix"`: prefix is a local path
// ("/devices/", "/events?mac="), part is path-escaped, or query-escaped
// when prefix has a '?', and the whole value is attribute-escaped.
func (w *Writer) URLAttr(name constant, prefix constant, part string, suffix constant) {
	allow(name, urlAttr)
	p := string(prefix)
	if !LocalPath(p) {
		panic("markup: URL prefix " + strconv.Quote(p) + " is not a local path")
	}
	if strings.Contains(p, "?") {
		part = url.QueryEscape(part)
	} else {
		part = url.PathEscape(part)
	}
	w.buf.WriteByte(' ')
	w.buf.WriteString(string(name))
	w.buf.WriteString(`="`)
	escape(&w.buf, p+part+string(suffix))
	w.buf.WriteByte('"')
}

// LocalPath reports whether u is a path on this site: it starts with one
// slash, not "//", and holds no backslash and no control character.
// Browsers read a backslash as a slash and drop tabs and newlines
// anywhere in a URL, so "/\host" or "/<TAB>/host" would be "//host":
// another site.
func LocalPath(u string) bool {
	return strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") &&
		!strings.ContainsFunc(u, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' })
}

// The attributes each method may write take inert text, a number or a
// local URL. Allow-lists, because the attributes that take code, markup
// or URLs (on*, href, src, style, srcdoc, SVG's values and to, …) are
// too many to deny one by one.

func textAttr(n string) bool {
	switch n {
	case "class", "value", "title", "aria-label", "content", "datetime":
		return true
	}
	return strings.HasPrefix(n, "data-")
}

func numAttr(n string) bool {
	switch n {
	case "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "dy", "width", "height":
		return true
	}
	return false
}

func urlAttr(n string) bool { return n == "href" || n == "action" }

// allow panics unless ok accepts name: a programming error that the
// first test of the page finds.
func allow(name constant, ok func(string) bool) {
	if !ok(string(name)) {
		panic("markup: attribute " + strconv.Quote(string(name)) + " may not take data here")
	}
}

// escape writes s with & < > " ' + escaped as entities, NUL and bytes
// that are not UTF-8 replaced by U+FFFD. The set is html/template's, so
// the pages' bytes did not change when it went; replacing invalid bytes
// keeps the document valid UTF-8, which the page declares.
func escape(buf *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		var rep string
		switch {
		case c == '&':
			rep = "&amp;"
		case c == '<':
			rep = "&lt;"
		case c == '>':
			rep = "&gt;"
		case c == '"':
			rep = "&#34;"
		case c == '\'':
			rep = "&#39;"
		case c == '+':
			rep = "&#43;"
		case c == 0:
			rep = "\uFFFD"
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
			rep = "\uFFFD"
		default:
			i++
			continue
		}
		buf.WriteString(s[last:i])
		buf.WriteString(rep)
		i++
		last = i
	}
	buf.WriteString(s[last:])
}
