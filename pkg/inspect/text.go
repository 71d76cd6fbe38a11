package inspect

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Helpers for the line-based plaintext protocols. None allocate except
// Printable, which makes the string an event keeps.

// NextLine returns the first line of data without its CR LF (or bare LF)
// and the number of bytes it spans including the terminator. ok is false
// when data holds no complete line yet.
func NextLine(data []byte) (line []byte, n int, ok bool) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return nil, 0, false
	}
	line = data[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, i + 1, true
}

// HasPrefixFold reports whether s begins with prefix, ignoring ASCII case.
func HasPrefixFold(s []byte, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(s[i]) != lower(prefix[i]) {
			return false
		}
	}
	return true
}

// EqualFold reports whether s equals t, ignoring ASCII case.
func EqualFold(s []byte, t string) bool {
	return len(s) == len(t) && HasPrefixFold(s, t)
}

// ContainsFold reports whether t occurs in s, ignoring ASCII case.
func ContainsFold(s []byte, t string) bool { return IndexFold(s, t) >= 0 }

// IndexFold is the index of the first t in s, ignoring ASCII case; -1 if
// none.
func IndexFold(s []byte, t string) int {
	for i := 0; i+len(t) <= len(s); i++ {
		if HasPrefixFold(s[i:], t) {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Printable returns at most max bytes of b as a string fit for an event:
// control and non-ASCII bytes become '.', surrounding space is trimmed.
// Use it for banners and headers, never for secrets.
func Printable(b []byte, max int) string {
	b = bytes.TrimSpace(b)
	if len(b) > max {
		b = b[:max]
	}
	var out strings.Builder
	out.Grow(len(b))
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			c = '.'
		}
		out.WriteByte(c)
	}
	return out.String()
}

// CleanText returns at most max bytes of b, UTF-8 text a device names
// itself with (a UPnP friendlyName, a DNS-SD instance name, a TXT value),
// fit for an event and for the owner to read: trimmed, runs of white space
// turned into one space, other control characters, format characters
// (bidirectional overrides, zero-width characters: the name shown would
// read otherwise than it is) and invalid UTF-8 dropped, cut on a
// character boundary. Use it for names, never for secrets.
func CleanText(b []byte, max int) string {
	b = bytes.TrimSpace(b)
	var out strings.Builder
	space := false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		need := utf8.RuneLen(r)
		if space && out.Len() > 0 {
			need++
		}
		if out.Len()+need > max {
			break
		}
		if need > utf8.RuneLen(r) {
			out.WriteByte(' ')
		}
		space = false
		out.WriteRune(r)
	}
	return out.String()
}

// CutWord splits b at the first run of spaces: the command and its
// argument, as in "USER admin".
func CutWord(b []byte) (word, rest []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	return b[:i], bytes.TrimLeft(b[i+1:], " ")
}

// DotBody finds the end of a dot-terminated body, as POP3 multi-line
// responses (RFC 1939 section 3) and SMTP DATA (RFC 5321 section 4.1.1.4)
// end: a line holding only ".". Its zero value is at the start of a line,
// where a body begins. It keeps no bytes, so a body of any size streams
// through.
type DotBody struct{ state uint8 }

const (
	dotLineStart uint8 = iota
	dotMidLine
	dotSawDot   // "." at the start of a line
	dotSawDotCR // ".\r" at the start of a line
)

// Scan consumes body bytes and reports whether the terminating line ended
// within b; n counts the bytes up to and including it.
func (s *DotBody) Scan(b []byte) (n int, end bool) {
	for i := 0; i < len(b); {
		c := b[i]
		switch s.state {
		case dotMidLine:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return len(b), false
			}
			i += j + 1
			s.state = dotLineStart
			continue
		case dotLineStart:
			switch c {
			case '.':
				s.state = dotSawDot
			case '\n':
			default:
				s.state = dotMidLine
			}
		case dotSawDot:
			switch c {
			case '\r':
				s.state = dotSawDotCR
			case '\n':
				*s = DotBody{}
				return i + 1, true
			default:
				s.state = dotMidLine
			}
		case dotSawDotCR:
			if c == '\n' {
				*s = DotBody{}
				return i + 1, true
			}
			s.state = dotMidLine
		}
		i++
	}
	return len(b), false
}

// Scrubbed is Printable with what a device may have put in a free-text
// header (a User-Agent, an MQTT client ID) hidden: e-mail addresses (a
// percent-encoded "@" too), the user and password before the "@" of a
// URL, numbers long enough to be a phone number, an IMEI or an account
// (ten digits or more, or seven after a "+"), the word after "Bearer" or
// "Basic", and the values of key=value or key:value pairs whose key
// names a secret (token, key, auth, pass, pwd, secret, session, sid, pin,
// otp). Each becomes ***. Versions, build numbers and dates are shorter
// and stay.
func Scrubbed(b []byte, max int) string {
	// Scrubbed first, cut after: an address or a number cut at max would
	// no longer look like one, and its front would show. The lookahead
	// sees whole any such word that crosses max.
	s := Printable(b, max+scrubLookahead)
	if strings.ContainsAny(s, "@=:%") || hasLongNumber(s) || hasAuthScheme(s) {
		s = scrub(s)
	}
	if strings.IndexByte(s, '+') >= 0 {
		s = hideSpacedPhones(s)
	}
	if len(s) > max {
		s = strings.TrimRight(s[:max], " ")
	}
	return s
}

// hideSpacedPhones hides international phone numbers written in groups
// ("+49 171 5551234", "+1 (555) 123-4567"), which the word-by-word scrub
// sees as short numbers: a "+", then digit groups joined by one or two
// separators, minPlusGroups digits or more in all.
func hideSpacedPhones(s string) string {
	var out strings.Builder
	last := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '+' || !isDigit(s[i+1]) || i > 0 && isDigit(s[i-1]) {
			continue
		}
		digits, end := 0, i+1
		for j := i + 1; j < len(s); j++ {
			if isDigit(s[j]) {
				digits++
				end = j + 1
				continue
			}
			// At most two separators between groups: ") ", " (".
			k := j
			for k < len(s) && k-j < 2 && strings.IndexByte(" -./()", s[k]) >= 0 {
				k++
			}
			if k == j || k == len(s) || !isDigit(s[k]) {
				break
			}
			j = k - 1
		}
		if digits < minPlusGroups {
			continue
		}
		out.WriteString(s[last:i])
		out.WriteString("***")
		last, i = end, end-1
	}
	if last == 0 {
		return s
	}
	out.WriteString(s[last:])
	return out.String()
}

// minPlusGroups is how many digits a "+" and digit groups must hold to
// be a phone number: the shortest national numbers with a country code.
const minPlusGroups = 9

// scrubLookahead is how far past its cut Scrubbed reads: longer than an
// e-mail address or a number it hides.
const scrubLookahead = 256

func scrub(s string) string {
	var out strings.Builder
	out.Grow(len(s))
	credential := false // the previous word was an authorization scheme
	for i := 0; i < len(s); {
		end := i
		for end < len(s) && !scrubBreak(s[end]) {
			end++
		}
		word := s[i:end]
		switch {
		case word == "":
		case credential:
			out.WriteString("***")
		case isEmailLike(word):
			out.WriteString("***")
		default:
			writeHidingNumbers(&out, scrubPair(hideUserinfo(word)))
		}
		if word != "" {
			credential = strings.EqualFold(word, "bearer") || strings.EqualFold(word, "basic")
		}
		if end < len(s) {
			out.WriteByte(s[end])
			end++
		}
		i = end
	}
	return out.String()
}

// hasAuthScheme reports whether s holds "Bearer" or "Basic" in any case:
// one pass looking at the b's, as every banner is checked.
func hasAuthScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 != 'b' {
			continue
		}
		if rest := s[i:]; len(rest) >= len("basic") && (strings.EqualFold(rest[:len("basic")], "basic") ||
			len(rest) >= len("bearer") && strings.EqualFold(rest[:len("bearer")], "bearer")) {
			return true
		}
	}
	return false
}

// hideUserinfo hides the userinfo before the "@" of a URL's authority
// ("http://admin:hunter2@cam/x", "admin:hunter2@cam"); "user@localhost"
// alone names no secret and stays.
func hideUserinfo(w string) string {
	start := 0
	i := strings.Index(w, "://")
	if i >= 0 {
		start = i + len("://")
	}
	at := strings.IndexByte(w[start:], '@')
	if at <= 0 || strings.ContainsAny(w[start:start+at], "/") || i < 0 && !strings.Contains(w[:at], ":") {
		return w
	}
	return w[:start] + "***" + w[start+at:]
}

// URLHostPort returns the authority of a URL ("http://192.168.1.1:7406/x" →
// "192.168.1.1:7406"), without any user info; nil when there is none.
func URLHostPort(url []byte) []byte {
	i := bytes.Index(url, []byte("://"))
	if i < 0 {
		return nil
	}
	rest := url[i+3:]
	if end := bytes.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if at := bytes.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return rest
}

// Long numbers: ten digits or more, or seven or more after a "+" (an
// international phone number).
const (
	minLongNumber = 10
	minPlusNumber = 7
)

// numberAt is the length of the long number starting at s[i], or 0.
func numberAt(s string, i int) int {
	j := i
	if s[j] == '+' {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k-j >= minLongNumber || j > i && k-j >= minPlusNumber {
		return k - i
	}
	return 0
}

func hasLongNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if (i == 0 || !isDigit(s[i-1])) && numberAt(s, i) > 0 {
			return true
		}
	}
	return false
}

// writeHidingNumbers writes w with each long number in it as ***.
func writeHidingNumbers(out *strings.Builder, w string) {
	for i := 0; i < len(w); i++ {
		if i == 0 || !isDigit(w[i-1]) {
			if n := numberAt(w, i); n > 0 && !uuidNodeAt(w, i, n) {
				out.WriteString("***")
				i += n - 1
				continue
			}
		}
		out.WriteByte(w[i])
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// uuidNodeAt: w[i:i+n] is the last group of a UUID (8-4-4-4-12 hex
// digits), which may be all decimal digits: a USN's, not a number.
func uuidNodeAt(w string, i, n int) bool {
	const prefix = len("xxxxxxxx-xxxx-xxxx-xxxx-")
	if n != 12 || i < prefix || i+n < len(w) && IsHex(w[i+n]) {
		return false
	}
	for j, c := range []byte(w[i-prefix : i]) {
		if dash := j == 8 || j == 13 || j == 18 || j == 23; dash != (c == '-') || !dash && !IsHex(c) {
			return false
		}
	}
	return i == prefix || !IsHex(w[i-prefix-1])
}

// IsHex reports whether c is a hexadecimal digit.
func IsHex(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// Unhex is the value of the hexadecimal digit c.
func Unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}

// How PercentDecode reads its input.
const (
	PlusIsSpace    = 1 << iota // a query or form: '+' encodes a space
	KeepSeparators             // whole fields: an escaped '&' or '=' is part of a value
)

// PercentDecode URL-decodes src into dst and returns the bytes written; it
// stops when dst is full. Bad escapes stay as they are (as devices read
// them). With KeepSeparators, "%26" and "%3D" stay escaped: decoded, they
// would split one value into fields that were never sent.
func PercentDecode(dst, src []byte, mode int) int {
	n := 0
	for i := 0; i < len(src) && n < len(dst); i++ {
		c := src[i]
		switch {
		case c == '+' && mode&PlusIsSpace != 0:
			c = ' '
		case c == '%' && i+2 < len(src) && IsHex(src[i+1]) && IsHex(src[i+2]):
			d := Unhex(src[i+1])<<4 | Unhex(src[i+2])
			if mode&KeepSeparators != 0 && (d == '&' || d == '=') {
				break
			}
			c = d
			i += 2
		}
		dst[n] = c
		n++
	}
	return n
}

// EqualFoldAny reports whether s equals one of list, ignoring ASCII case.
func EqualFoldAny(s []byte, list []string) bool {
	for _, v := range list {
		if EqualFold(s, v) {
			return true
		}
	}
	return false
}

// XMLReference is the character an XML reference stands for, given its
// name between '&' and ';': one of the five predefined entities ("amp",
// "lt", "gt", "quot", "apos") or a character reference ("#233",
// "#xE9") to a valid character. ok is false for anything else, which
// readers leave as it came.
func XMLReference(name []byte) (r rune, ok bool) {
	switch string(name) {
	case "amp":
		return '&', true
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	digits, ok := bytes.CutPrefix(name, []byte("#"))
	if !ok {
		return 0, false
	}
	hex := len(digits) > 0 && digits[0] == 'x'
	if hex {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	for _, c := range digits {
		switch {
		case hex && IsHex(c):
			r = r<<4 | rune(Unhex(c))
		case !hex && isDigit(c):
			r = r*10 + rune(c-'0')
		default:
			return 0, false
		}
		if r > utf8.MaxRune {
			return 0, false
		}
	}
	if !utf8.ValidRune(r) {
		return 0, false // a surrogate
	}
	return r, true
}

// scrubBreak ends a word of a free-text header.
func scrubBreak(c byte) bool {
	switch c {
	case ' ', ';', ',', '(', ')', '&', '?', '"', '\'', '<', '>', '[', ']', '{', '}':
		return true
	}
	return false
}

// isEmailLike: local@domain.tld, the "@" as such or percent-encoded.
func isEmailLike(w string) bool {
	at, n := strings.IndexByte(w, '@'), 1
	if at < 0 {
		if at = strings.Index(w, "%40"); at < 0 {
			return false
		}
		n = 3
	}
	return at > 0 && strings.Contains(w[at+n:], ".")
}

// scrubPair hides the value of key=value or key:value when the key names
// a secret.
func scrubPair(w string) string {
	i := strings.IndexAny(w, "=:")
	if i <= 0 || i == len(w)-1 {
		return w
	}
	key := strings.ToLower(w[:i])
	for _, k := range [...]string{"token", "key", "auth", "pass", "pwd", "secret", "session", "sid"} {
		if strings.Contains(key, k) {
			return w[:i+1] + "***"
		}
	}
	// Short keys only whole: "pin" is in "ping" and "shipping".
	switch key {
	case "pin", "otp":
		return w[:i+1] + "***"
	}
	return w
}

// EscapeFilter drops terminal escape sequences from a byte stream: CSI
// sequences (ESC [ parameters final, such as a prompt's colours or the
// cursor position request BusyBox ash sends after its prompt) and
// two-byte escapes (ESC 7). Without it a prompt ends in "\x1b[6n", not in
// "# ".
type EscapeFilter struct{ state uint8 }

const (
	escNone = iota
	escStart
	escCSI
)

// Idle reports whether f is outside any escape sequence: Skip then
// passes every byte but ESC.
func (f *EscapeFilter) Idle() bool { return f.state == escNone }

// Skip reports whether b, the next byte of the stream, belongs to an
// escape sequence.
func (f *EscapeFilter) Skip(b byte) bool {
	switch f.state {
	case escStart:
		f.state = escNone
		if b == '[' {
			f.state = escCSI
		}
		return true
	case escCSI:
		if b >= 0x40 && b <= 0x7e {
			f.state = escNone
		}
		return true
	}
	if b == 0x1b {
		f.state = escStart
		return true
	}
	return false
}

// FNV is FNV-1a, 64 bit (hash/fnv's New64a), as a value whose steps
// chain, allocating nothing: NewFNV().Fold(name).Uint16(qtype).
type FNV uint64

// NewFNV is FNV-1a's offset basis.
func NewFNV() FNV { return 14695981039346656037 }

// Byte adds c.
func (h FNV) Byte(c byte) FNV { return (h ^ FNV(c)) * 1099511628211 }

// Bytes adds b.
func (h FNV) Bytes(b []byte) FNV {
	for _, c := range b {
		h = h.Byte(c)
	}
	return h
}

// Text adds s.
func (h FNV) Text(s string) FNV {
	for i := 0; i < len(s); i++ {
		h = h.Byte(s[i])
	}
	return h
}

// Field adds b and a zero byte after it, so that fields hashed in a row
// cannot run into each other ("ab", "c" against "a", "bc").
func (h FNV) Field(b []byte) FNV { return h.Bytes(b).Byte(0) }

// Uint16 adds v, high byte first.
func (h FNV) Uint16(v uint16) FNV { return h.Byte(byte(v >> 8)).Byte(byte(v)) }

// Fold adds b with ASCII letters in lower case.
func (h FNV) Fold(b []byte) FNV {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = h.Byte(c)
	}
	return h
}

// FNV64 is 64-bit FNV-1a over b: analyzers compare a field seen again
// (a SIP Call-ID, a PAP Peer-ID) by it without keeping the field.
func FNV64(b []byte) uint64 { return uint64(NewFNV().Bytes(b)) }
