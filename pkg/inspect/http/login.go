package http

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"

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
	a.form.start(bodyForm)
	a.form.feed(q, nil)
	a.form.finish(cut)
	return a.formCred(f, "query")
}

// bodyLogin reports the login the form reader found in a request's body
// (URL-encoded, multipart and JSON forms; a body without Content-Type is
// sniffed), once the body has ended. cut says the body ended before its
// framing did.
func (a *analyzer) bodyLogin(f *inspect.Flow, cut bool) {
	if a.form.mode == formNone {
		return
	}
	a.form.finish(cut)
	mechanism := "form"
	if a.form.isJSON() {
		mechanism = "json"
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
	if s.passRank == passNone || s.passRank == passEmpty && s.asksChallenge {
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
		if !inspect.IsHex(c) {
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

// formScratch collects the user and password fields of one form, and is
// the form reader's state (form.go).
type formScratch struct {
	user     [maxUser]byte
	userLen  int
	userRank int // 0: none yet; see fieldRank
	pass     [maxPass]byte
	passLen  int
	passRank int // passNone, passEmpty, passHashed or passClear
	name     [maxFieldName]byte
	nameLen  int
	value    [maxPass]byte
	valueLen int

	// asksChallenge: the form is a JSON call of Dahua's RPC2 login
	// ("method":"global.login"), whose empty password asks for the
	// challenge the hashed one answers, and is no login.
	asksChallenge bool

	mode  uint8 // formNone, formURL …
	state uint8 // within mode: urlName, jsonOut, partPreamble …
	// A percent escape split across calls: 1 after '%', 2 after its
	// first digit, pctHi.
	pct   uint8
	pctHi byte
	// A JSON escape split across calls: esc, and the digits of \u.
	esc    uint8
	hex    [4]byte
	hexLen int
	// Multipart: bytes of "\n--boundary" matched; virtualLF says the
	// line feed matched first was not the content's.
	match     int
	virtualLF bool
	dashes    uint8  // after a boundary: a second '-' closes the body
	tail      uint32 // the last four bytes of a part's head
	partOver  bool   // a part's head or content did not fit in value
	named     bool   // the part is a field with its name in name
}

// reset wipes the scratch, a password included. name also takes every
// JSON string that is not a key: a password in an array
// ("params":["pw"]) lands there.
func (s *formScratch) reset() { *s = formScratch{} }

// field considers one decoded name and value (held in s.value).
func (s *formScratch) field(name []byte) {
	switch rank := fieldRank(name); {
	case s.mode == formJSON && string(name) == "method":
		s.asksChallenge = s.asksChallenge || string(s.value[:s.valueLen]) == "global.login"
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

// Ranks of form fields: a password field, or how surely a field names the
// user. "name" counts only when nothing better is present, and no field
// counts without a password beside it.
const (
	rankNone     = 0
	rankName     = 1
	rankUser     = 2
	rankPassword = 3
)

// The names of login fields. loginuse and loginpas are those of many
// cheap P2P cameras' CGI scripts ("/videostream.cgi?loginuse=admin&loginpas=").
var (
	passwordNames    = [...]string{"pass", "password", "pwd", "passwd", "passphrase", "secret", "pw", "loginpas"}
	passwordSuffixes = [...]string{"password", "passwd", "pwd", "_pass", "passphrase"}
	userNames        = [...]string{"user", "username", "login", "email", "account", "usr", "uname", "userid", "user_id", "loginname", "login_name", "user_name", "acct", "mail", "loginuse"}
	userSuffixes     = [...]string{"username", "user_name", "_user", "_login", "_email"}
)

// fieldRank says what a form field's name makes it, ignoring ASCII case:
// "password", "j_password", "loginPwd" and "passwordHash" are passwords;
// "user", "email", "j_username" and (case counts here) "txtUser" are
// users.
func fieldRank(name []byte) int {
	if inspect.EqualFoldAny(name, passwordNames[:]) || hashedPasswordName(name) {
		return rankPassword
	}
	for _, s := range passwordSuffixes {
		if hasSuffixFold(name, s) {
			return rankPassword
		}
	}
	if inspect.EqualFoldAny(name, userNames[:]) {
		return rankUser
	}
	for _, s := range userSuffixes {
		if hasSuffixFold(name, s) {
			return rankUser
		}
	}
	if camelUser(name) {
		return rankUser
	}
	if inspect.EqualFold(name, "name") {
		return rankName
	}
	return rankNone
}

// camelUser reports whether a field name ends in a capitalised "User"
// after a lower-case letter or a digit, as ASP.NET pages name their
// controls ("txtUser", "tbLoginUser"); "superuser" and "USER" do not.
func camelUser(name []byte) bool {
	n := len(name) - len("User")
	if n < 1 || string(name[n:]) != "User" {
		return false
	}
	c := name[n-1]
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// switchValues are the values of a setting that is on or off.
var switchValues = [...]string{"0", "1", "on", "off", "true", "false", "yes", "no"}

// passwordSetting reports whether a field named like a password only by
// its ending ("remember_password", "savePwd") holds a switch (0, 1, on,
// true …): a setting about the password.
func passwordSetting(name, value []byte) bool {
	return !inspect.EqualFoldAny(name, passwordNames[:]) && inspect.EqualFoldAny(value, switchValues[:])
}

func hasSuffixFold(s []byte, suffix string) bool {
	return len(s) >= len(suffix) && inspect.HasPrefixFold(s[len(s)-len(suffix):], suffix)
}
