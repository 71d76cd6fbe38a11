package http

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

const (
	basicScratch = httpauth.MaxBasic
	maxUser      = 128 // form user names kept
	maxPass      = 256 // form passwords kept
	maxFieldName = 32  // longer field names are not login fields
)

// headerLogin classifies the credential of an Authorization or, with
// proxy, Proxy-Authorization header. Unknown schemes carry nothing we can
// read.
func (a *analyzer) headerLogin(f *inspect.Flow, value []byte, proxy bool) {
	scheme, rest := httpauth.Split(value)
	l := inspect.Login{Protocol: "http", Mechanism: scheme.String()}
	var s httpauth.Sent
	if scheme == httpauth.SchemeBearer {
		token, _ := inspect.CutWord(rest)
		if len(token) == 0 {
			return
		}
		l.Secret, l.Kind = token, inspect.SecretToken
		s.Cred = f.Classify(&l)
		s.ID = a.proto.mem.ID(&s.Cred, nil, nil)
	} else {
		var ok bool
		if s, ok = httpauth.ClassifySent(f, a.proto.mem, &l, scheme, rest, a.method[:a.methodLen], &a.basic); !ok {
			return
		}
	}
	s.Proxy = proxy
	a.addRequestCred(f, pendingCred{used: true, sent: s})
}

// queryLogin looks for a login in the query string of a request target
// (IP cameras take "?usr=admin&pwd=..." on their CGI scripts). cut says
// the target was longer than what is kept.
func (a *analyzer) queryLogin(f *inspect.Flow, target []byte, cut bool) (pendingCred, bool) {
	i := bytes.IndexByte(target, '?')
	if i < 0 {
		return pendingCred{}, false
	}
	q := target[i+1:]
	if j := bytes.IndexByte(q, '#'); j >= 0 {
		q, cut = q[:j], false // the fragment ends the query within what is kept
	}
	a.form.reset()
	a.form.urlencoded(q, cut)
	return a.formCred(f, "query")
}

// bodyLogin looks for a login in the body prefix of a request whose
// framing h holds: URL-encoded, multipart and JSON forms. A body without
// Content-Type is sniffed. cut says body ends before the real body does.
func (a *analyzer) bodyLogin(f *inspect.Flow, h *half, body []byte, cut bool) {
	a.form.reset()
	mechanism := "form"
	switch h.kind {
	case bodyForm:
		a.form.urlencoded(body, cut)
	case bodyMultipart:
		a.form.multipart(body, a.boundary[:a.boundaryLen])
	case bodyJSON:
		mechanism = "json"
		a.form.json(body, cut)
	case bodyUnknown, bodyText:
		if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			mechanism = "json"
			a.form.json(body, cut)
		} else {
			a.form.urlencoded(body, cut)
		}
	default:
		return
	}
	if c, ok := a.formCred(f, mechanism); ok {
		a.bodyCred(f, c)
	}
}

// formCred classifies the login the form scratch holds, if it has a
// password field, and wipes the scratch. A password the page hashed or
// encoded before sending it is classified as a hashed secret, as a Digest
// response is: the default list is tried on it through a Verify that
// recomputes a plain MD5, SHA-1 or SHA-256 hex digest, and never compared
// with the digest's text as if it were the password.
func (a *analyzer) formCred(f *inspect.Flow, mechanism string) (pendingCred, bool) {
	s := &a.form
	defer s.reset()
	if s.passRank == passNone {
		return pendingCred{}, false
	}
	l := inspect.Login{
		Protocol:  "http",
		Mechanism: mechanism,
		User:      s.user[:s.userLen],
		Secret:    s.pass[:s.passLen],
	}
	if s.passRank == passHashed {
		l.Kind, l.Secret = inspect.SecretHashed, nil
		l.Verify = digestVerifier(s.pass[:s.passLen])
		l.Challenge = [][]byte{s.pass[:s.passLen]}
	}
	c := f.Classify(&l)
	return pendingCred{used: true, form: true, sent: httpauth.Sent{Cred: c}}, true
}

// Password fields by what their value shows of the password; a field
// replaces the one kept when it shows more. Router pages send
// "password=&encPassword=<digest>": the empty field is the page's
// leftover, not the password.
const (
	passNone   = iota
	passEmpty  // an empty field
	passHashed // a hash or encoding of the password (hashedField)
	passClear  // the password itself
)

// hashMarks are the parts of a field name that say its value is a hash
// or an encoding of the password, not the password.
var hashMarks = [...]string{"hash", "md5", "sha", "enc", "crypt", "cipher", "digest"}

// hashedPasswordName reports whether a field name says it holds a
// password's hash or encoding: "encPassword", "password_md5", "pwdhash",
// "passwordHash".
func hashedPasswordName(name []byte) bool {
	if !namesPassword(name) {
		return false
	}
	for _, m := range hashMarks {
		if inspect.ContainsFold(name, m) {
			return true
		}
	}
	return false
}

// namesPassword reports whether name holds "pass" or "pwd", ignoring
// ASCII case: one pass over it, as every field of every form and query
// string is asked.
func namesPassword(name []byte) bool {
	for i, c := range name {
		if c == 'p' || c == 'P' {
			if rest := name[i+1:]; inspect.HasPrefixFold(rest, "ass") || inspect.HasPrefixFold(rest, "wd") {
				return true
			}
		}
	}
	return false
}

// hashedField reports whether a password field's value is a hash or an
// encoding of the password: its name says so, or it is the hex digits of
// an MD5, SHA-1 or SHA-256 digest (32, 40 or 64), which no one types as
// a password.
func hashedField(name, value []byte) bool {
	return hashedPasswordName(name) || digestHash(value) != nil
}

// digestHash returns the hash whose hex digest value could be, by its
// length; nil if value is not hex digits of such a length.
func digestHash(value []byte) func() hash.Hash {
	var h func() hash.Hash
	switch len(value) {
	case 2 * md5.Size:
		h = md5.New
	case 2 * sha1.Size:
		h = sha1.New
	case 2 * sha256.Size:
		h = sha256.New
	default:
		return nil
	}
	for _, c := range value {
		if !isHex(c) {
			return nil
		}
	}
	return h
}

// digestVerifier returns a Verify for a password field that holds a hex
// digest: it reports whether a candidate's plain digest is that value.
// nil when value is no such digest (an RSA-encrypted or salted password
// cannot be recomputed). It copies what it needs.
func digestVerifier(value []byte) func(candidate []byte) bool {
	newHash := digestHash(value)
	if newHash == nil {
		return nil
	}
	want := make([]byte, len(value)/2)
	if _, err := hex.Decode(want, value); err != nil {
		return nil
	}
	return func(candidate []byte) bool {
		h := newHash()
		h.Write(candidate)
		return subtle.ConstantTimeCompare(h.Sum(nil), want) == 1
	}
}

// formScratch collects the user and password fields of one form.
type formScratch struct {
	user     [maxUser]byte
	userLen  int
	userRank int // 0: none yet; see fieldRank
	pass     [maxPass]byte
	passLen  int
	passRank int // passNone, passEmpty, passHashed or passClear
	name     [maxFieldName]byte
	value    [maxPass]byte
	valueLen int
}

func (s *formScratch) reset() {
	clear(s.user[:])
	clear(s.pass[:])
	clear(s.value[:])
	// name also takes every JSON string that is not a key: a password in
	// an array ("params":["pw"]) lands there.
	clear(s.name[:])
	s.userLen, s.userRank, s.passLen, s.passRank, s.valueLen = 0, 0, 0, passNone, 0
}

// field considers one decoded name and value (held in s.value).
func (s *formScratch) field(name []byte) {
	switch rank := fieldRank(name); {
	case rank == rankPassword && passwordSetting(name, s.value[:s.valueLen]):
		// "remember_password": 1 is a choice about a password, not one.
	case rank == rankPassword:
		// The first field that shows the most of the password wins.
		v, r := s.value[:s.valueLen], passClear
		switch {
		case len(v) == 0:
			r = passEmpty
		case hashedField(name, v):
			r = passHashed
		}
		if r > s.passRank {
			s.passRank = r
			clear(s.pass[:s.passLen])
			s.passLen = copy(s.pass[:], v)
		}
	case rank > s.userRank:
		s.userRank = rank
		s.userLen = copy(s.user[:], s.value[:s.valueLen])
	}
}

// urlencoded reads name=value pairs separated by '&'. When cut, b ends
// before the form does, and its last pair, without an '&' after it, may
// be the front of a longer value ("password=admin" of "admin2024!"): it is
// not read.
func (s *formScratch) urlencoded(b []byte, cut bool) {
	for len(b) > 0 {
		pair := b
		if i := bytes.IndexByte(b, '&'); i >= 0 {
			pair, b = b[:i], b[i+1:]
		} else if cut {
			return
		} else {
			b = nil
		}
		rawName, rawValue, ok := bytes.Cut(pair, []byte("="))
		if !ok {
			continue
		}
		n := percentDecode(s.name[:], rawName, plusIsSpace)
		if n == len(s.name) { // too long (or exactly full) to be a login field
			continue
		}
		s.valueLen = percentDecode(s.value[:], rawValue, plusIsSpace)
		s.field(s.name[:n])
	}
}

// multipart reads the fields of a multipart/form-data body (RFC 7578):
// parts between "--boundary" lines, each named by its
// Content-Disposition. A file's part (one with a filename) is no login
// field. A part without its closing delimiter in b is not read, whether
// b was cut there or the body is malformed: its value may be the front
// of a longer one. Only what the body prefix holds is read, so a small
// login form, not one behind a large upload or a long hidden field.
func (s *formScratch) multipart(b, boundary []byte) {
	_, end := nextDelimiter(b, 0, boundary)
	for end >= 0 {
		rest := b[end:]
		if bytes.HasPrefix(rest, []byte("--")) {
			return // the close delimiter
		}
		eol := bytes.IndexByte(rest, '\n')
		if eol < 0 {
			return
		}
		part := rest[eol+1:]
		head, value := part, []byte(nil)
		switch i, j := bytes.Index(part, []byte("\r\n\r\n")), bytes.Index(part, []byte("\n\n")); {
		case i >= 0 && (j < 0 || i < j):
			head, value = part[:i], part[i+4:]
		case j >= 0:
			head, value = part[:j], part[j+2:]
		default:
			return
		}
		if len(head) > 0 && !bytes.Contains(head, []byte(":")) {
			return
		}
		start, next := nextDelimiter(value, 0, boundary)
		if start < 0 {
			return // not closed within b
		}
		v := bytes.TrimSuffix(bytes.TrimSuffix(value[:start], []byte("\n")), []byte("\r"))
		if n, ok := s.partName(head); ok {
			s.valueLen = copy(s.value[:], v)
			s.field(s.name[:n])
		}
		b, end = value, next
	}
}

// nextDelimiter finds the first "--boundary" that starts a line of b at
// or after from; it returns where the line starts and where the boundary
// ends, or -1, -1.
func nextDelimiter(b []byte, from int, boundary []byte) (start, end int) {
	for from < len(b) {
		i := bytes.Index(b[from:], boundary)
		if i < 0 {
			break
		}
		i += from
		if i >= 2 && b[i-1] == '-' && b[i-2] == '-' && (i == 2 || b[i-3] == '\n') {
			return i - 2, i + len(boundary)
		}
		from = i + 1
	}
	return -1, -1
}

// partName copies the field name of a multipart part's Content-Disposition
// (form-data; name="password") into s.name and returns its length; false
// for a file's part, a name too long to be a login field, or none.
func (s *formScratch) partName(head []byte) (int, bool) {
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte("\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !inspect.EqualFold(bytes.TrimSpace(name), "Content-Disposition") {
			continue
		}
		var field []byte
		found := false
		_, params, _ := bytes.Cut(value, []byte(";"))
		for len(params) > 0 {
			var p []byte
			p, params, _ = bytes.Cut(params, []byte(";"))
			k, v, _ := bytes.Cut(p, []byte("="))
			k, v = bytes.TrimSpace(k), bytes.Trim(bytes.TrimSpace(v), `"`)
			switch {
			case inspect.EqualFold(k, "filename"), inspect.EqualFold(k, "filename*"):
				return 0, false
			case inspect.EqualFold(k, "name"):
				field, found = v, true
			}
		}
		if !found || len(field) >= len(s.name) {
			return 0, false
		}
		return copy(s.name[:], field), true
	}
	return 0, false
}

// How percentDecode reads its input.
const (
	plusIsSpace    = 1 << iota // a query or form: '+' encodes a space
	keepSeparators             // whole fields: an escaped '&' or '=' is part of a value
)

// percentDecode URL-decodes src into dst and returns the bytes written; it
// stops when dst is full. Bad escapes stay as they are. With
// keepSeparators, "%26" and "%3D" stay escaped: decoded, they would split
// one value into fields that were never sent.
func percentDecode(dst, src []byte, mode int) int {
	n := 0
	for i := 0; i < len(src) && n < len(dst); i++ {
		c := src[i]
		switch {
		case c == '+' && mode&plusIsSpace != 0:
			c = ' '
		case c == '%' && i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]):
			d := unhex(src[i+1])<<4 | unhex(src[i+2])
			if mode&keepSeparators != 0 && (d == '&' || d == '=') {
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

// json reads "key": value pairs at any depth of a JSON document. It is a
// scanner, not a validator: a truncated or malformed body yields the
// pairs before the damage. A string without its closing quote, or a
// number that runs into the end of a cut body, may be the front of a
// longer value and ends the scan.
func (s *formScratch) json(b []byte, cut bool) {
	for i := 0; i < len(b); {
		if b[i] != '"' {
			i++
			continue
		}
		n, end, closed := jsonString(s.name[:], b, i)
		if !closed {
			return
		}
		i = end
		j := skipSpace(b, i)
		if j >= len(b) || b[j] != ':' {
			continue // a string value, not a key
		}
		j = skipSpace(b, j+1)
		if j >= len(b) {
			return
		}
		switch c := b[j]; {
		case c == '"':
			var closed bool
			if s.valueLen, i, closed = jsonString(s.value[:], b, j); !closed {
				return
			}
		case c == '-' || (c >= '0' && c <= '9'):
			k := j
			for k < len(b) && (b[k] == '-' || b[k] == '+' || b[k] == '.' || b[k] == 'e' || b[k] == 'E' || (b[k] >= '0' && b[k] <= '9')) {
				k++
			}
			if k == len(b) && cut {
				return
			}
			s.valueLen, i = copy(s.value[:], b[j:k]), k
		default:
			i = j
			continue // an object, array, or literal
		}
		if n < len(s.name) {
			s.field(s.name[:n])
		}
	}
}

// jsonString decodes the JSON string starting at b[start] (a quote) into
// dst and returns the bytes written and the index after the closing quote;
// closed is false when b ends first.
func jsonString(dst, b []byte, start int) (n, end int, closed bool) {
	i := start + 1
	for i < len(b) {
		c := b[i]
		if c == '"' {
			return n, i + 1, true
		}
		if c == '\\' && i+1 < len(b) {
			i++
			switch b[i] {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'r':
				c = '\r'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'u':
				if i+4 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) && isHex(b[i+3]) && isHex(b[i+4]) {
					r := rune(unhex(b[i+1]))<<12 | rune(unhex(b[i+2]))<<8 | rune(unhex(b[i+3]))<<4 | rune(unhex(b[i+4]))
					i += 5
					if n+utf8.RuneLen(r) <= len(dst) {
						n += utf8.EncodeRune(dst[n:], r)
					}
					continue
				}
			default:
				c = b[i] // \" \\ \/ and anything else: the character itself
			}
		}
		if n < len(dst) {
			dst[n] = c
			n++
		}
		i++
	}
	return n, i, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// Ranks of form fields: a password field, or how surely a field names the
// user. "name" counts only when nothing better is present, and no field
// counts without a password beside it.
const (
	rankNone     = 0
	rankName     = 1
	rankUser     = 2
	rankPassword = 3
)

var (
	passwordNames    = [...]string{"pass", "password", "pwd", "passwd", "passphrase", "secret", "pw"}
	passwordSuffixes = [...]string{"password", "passwd", "pwd", "_pass", "passphrase"}
	userNames        = [...]string{"user", "username", "login", "email", "account", "usr", "uname", "userid", "user_id", "loginname", "login_name", "user_name", "acct", "mail"}
	userSuffixes     = [...]string{"username", "user_name", "_user", "_login", "_email"}
)

// fieldRank says what a form field's name makes it, ignoring ASCII case:
// "password", "j_password", "loginPwd" and "passwordHash" are passwords;
// "user", "email" and "j_username" are users.
func fieldRank(name []byte) int {
	for _, n := range passwordNames {
		if inspect.EqualFold(name, n) {
			return rankPassword
		}
	}
	if hashedPasswordName(name) {
		return rankPassword
	}
	for _, s := range passwordSuffixes {
		if hasSuffixFold(name, s) {
			return rankPassword
		}
	}
	for _, n := range userNames {
		if inspect.EqualFold(name, n) {
			return rankUser
		}
	}
	for _, s := range userSuffixes {
		if hasSuffixFold(name, s) {
			return rankUser
		}
	}
	if inspect.EqualFold(name, "name") {
		return rankName
	}
	return rankNone
}

// passwordSetting reports whether a field named like a password only by
// its ending ("remember_password", "savePwd") holds a switch (0, 1, on,
// true …): a setting about the password.
func passwordSetting(name, value []byte) bool {
	for _, n := range passwordNames {
		if inspect.EqualFold(name, n) {
			return false
		}
	}
	for _, f := range [...]string{"0", "1", "on", "off", "true", "false", "yes", "no"} {
		if inspect.EqualFold(value, f) {
			return true
		}
	}
	return false
}

func hasSuffixFold(s []byte, suffix string) bool {
	return len(s) >= len(suffix) && inspect.HasPrefixFold(s[len(s)-len(suffix):], suffix)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
