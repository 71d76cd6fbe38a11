package http

import (
	"bytes"
	"hash/maphash"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

// parseRequestLine splits "METHOD target HTTP/1.x". The method is a token
// of upper-case letters (WebDAV's and others' too), the version must be
// HTTP/1.x; a target with spaces in it (broken clients) is taken whole.
func parseRequestLine(line []byte) (method, target []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 1 || sp > 16 {
		return nil, nil, false
	}
	method = line[:sp]
	for _, c := range method {
		if (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return nil, nil, false
		}
	}
	last := bytes.LastIndexByte(line, ' ')
	if last <= sp+1 || !bytes.HasPrefix(line[last+1:], []byte("HTTP/1.")) {
		return nil, nil, false
	}
	return method, line[sp+1 : last], true
}

// parseStatusLine reads the status code of "HTTP/1.x NNN reason".
func parseStatusLine(line []byte) (int, bool) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, false
	}
	return code, code >= 100
}

// cutHeader splits "Name: value" with the value trimmed.
func cutHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	return bytes.TrimRight(line[:i], " \t"), bytes.TrimSpace(line[i+1:]), true
}

// parseDecimal reads a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseChunkSize reads a chunk-size line: hex digits, then optional
// extensions after ';'.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		if !inspect.IsHex(c) {
			return 0, false
		}
		n = n<<4 | int64(inspect.Unhex(c))
	}
	return n, true
}

func classifyContentType(v []byte) bodyKind {
	switch {
	case inspect.ContainsFold(v, "x-www-form-urlencoded"):
		return bodyForm
	case inspect.HasPrefixFold(v, "multipart/form-data"):
		return bodyMultipart
	case inspect.ContainsFold(v, "json"):
		return bodyJSON
	case inspect.HasPrefixFold(v, "image/"), inspect.HasPrefixFold(v, "video/"), inspect.HasPrefixFold(v, "audio/"),
		inspect.HasPrefixFold(v, "font/"), inspect.HasPrefixFold(v, "multipart/"),
		inspect.ContainsFold(v, "octet-stream"), inspect.ContainsFold(v, "zip"), inspect.ContainsFold(v, "protobuf"):
		return bodyBinary
	}
	return bodyText
}

// unescapedRealm copies the realm of a challenge into dst.
func unescapedRealm(dst, challenge []byte) int {
	return httpauth.Unescape(dst, httpauth.Realm(challenge))
}

// splitTarget separates a request target into the host of an absolute
// form ("http://host/path", as sent to proxies) and the path without its
// query or fragment.
//
// A user:password in an absolute form may hold unencoded '/', '?', '#'
// or '@', so where the userinfo ends cannot be told from where the path
// or query begins. Everything up to the last '@' is dropped, so that a
// password never reaches the evidence; when what was dropped held a '/',
// '?' or '#', the '@' may as well have been the path's or the query's,
// and ambiguous says the host is only to be believed if the Host header
// names it too.
func splitTarget(target []byte) (host, path []byte, ambiguous bool) {
	if inspect.HasPrefixFold(target, "http://") {
		rest := target[len("http://"):]
		if j := bytes.LastIndexByte(rest, '@'); j >= 0 {
			ambiguous = bytes.ContainsAny(rest[:j], "/?#")
			rest = rest[j+1:]
		}
		i := bytes.IndexAny(rest, "/?#")
		if i < 0 {
			i = len(rest)
		}
		host, target = rest[:i], rest[i:]
		if !hostPort(host) {
			host = nil // the caller falls back on the Host header or the server's address
		}
	}
	// The query, the fragment and path parameters (";jsessionid=…") are
	// where tokens ride; none is part of what a request fetches.
	if i := bytes.IndexAny(target, "?#;"); i >= 0 {
		target = target[:i]
	}
	return host, target, ambiguous
}

// hostPort reports whether b is a host name or address with an optional
// numeric port: letters, digits, '.', '-', '_' and a bracketed IPv6
// address.
func hostPort(b []byte) bool {
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return false
		}
		for _, c := range b[1:end] {
			if !inspect.IsHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		b = b[end+1:]
		if len(b) == 0 {
			return true
		}
		if b[0] != ':' {
			return false
		}
		return allDigits(b[1:])
	}
	name, port, hasPort := bytes.Cut(b, []byte(":"))
	if hasPort && !allDigits(port) {
		return false
	}
	for _, c := range name {
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// setsCookie reports whether a Set-Cookie value sets a cookie rather than
// deleting one: an empty or "deleted" value, a Max-Age of zero or less,
// or an Expires date before 2000 (the Unix epoch, as servers write it)
// deletes.
func setsCookie(v []byte) bool {
	pair, attrs, _ := bytes.Cut(v, []byte(";"))
	_, value, ok := bytes.Cut(pair, []byte("="))
	value = bytes.Trim(bytes.TrimSpace(value), `"`)
	if !ok || len(value) == 0 || inspect.EqualFold(value, "deleted") {
		return false
	}
	for len(attrs) > 0 {
		var attr []byte
		attr, attrs, _ = bytes.Cut(attrs, []byte(";"))
		name, value, _ := bytes.Cut(attr, []byte("="))
		name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
		switch {
		case inspect.EqualFold(name, "Max-Age"):
			if len(value) > 0 && (value[0] == '-' || len(bytes.TrimLeft(value, "0")) == 0) {
				return false
			}
		case inspect.EqualFold(name, "Expires"):
			if year, ok := fourDigitYear(value); ok && year < 2000 {
				return false
			}
		}
	}
	return true
}

// Cookie names by what setting one says about a login. A framework's
// default session cookie is started on any page a client without one
// asks for, login or not; set again to a client that sent it, it is the
// new session ID frameworks issue at login. A CSRF token cookie comes
// with every form and says nothing. Any other cookie is the
// application's own (LuCI's sysauth) and taken as a session.
//
// The names are the frameworks' documented defaults: PHP's session.name,
// Java servlets, ASP.NET, Express, Perl's CGI::Session, CodeIgniter,
// Laravel, classic ASP (ASPSESSIONID and eight letters); the CSRF cookies
// of Angular/Laravel, Django, Express's csurf, Rails-style forms and
// ASP.NET's antiforgery.
const (
	cookieApp = iota
	cookieFramework
	cookieCSRF
)

// classifyCookie returns the kind of cookie name and, for a framework's
// session cookie, its bit in a set of them.
func classifyCookie(name []byte) (kind int, bit uint16) {
	for i, g := range [...]string{"PHPSESSID", "JSESSIONID", "ASP.NET_SessionId", "connect.sid", "CGISESSID", "ci_session", "laravel_session"} {
		if inspect.EqualFold(name, g) {
			return cookieFramework, 1 << i
		}
	}
	if inspect.HasPrefixFold(name, "ASPSESSIONID") {
		return cookieFramework, 1 << 7
	}
	for _, t := range [...]string{"XSRF-TOKEN", "csrftoken", "_csrf", "csrf_token", "__RequestVerificationToken"} {
		if inspect.EqualFold(name, t) {
			return cookieCSRF, 0
		}
	}
	if inspect.HasPrefixFold(name, ".AspNetCore.Antiforgery.") {
		return cookieCSRF, 0
	}
	return cookieApp, 0
}

// frameworkCookies returns the set of framework session cookies a Cookie
// header carries.
func frameworkCookies(header []byte) uint16 {
	var set uint16
	for len(header) > 0 {
		var pair []byte
		pair, header, _ = bytes.Cut(header, []byte(";"))
		name, _, _ := bytes.Cut(pair, []byte("="))
		if kind, bit := classifyCookie(bytes.TrimSpace(name)); kind == cookieFramework {
			set |= bit
		}
	}
	return set
}

// fourDigitYear finds the year of a cookie date: its first run of
// exactly four digits.
func fourDigitYear(date []byte) (int, bool) {
	for i := 0; i < len(date); {
		j := i
		for j < len(date) && date[j] >= '0' && date[j] <= '9' {
			j++
		}
		if j-i == 4 {
			return int(date[i]-'0')*1000 + int(date[i+1]-'0')*100 + int(date[i+2]-'0')*10 + int(date[i+3]-'0'), true
		}
		i = max(j, i+1)
	}
	return 0, false
}

// loginPage reports whether a redirect's Location leads back to a login
// page, or to a page that names an error: a form login answered so was
// refused or, at least, not shown to be taken.
func loginPage(location []byte) bool {
	if i := bytes.Index(location, []byte("://")); i >= 0 {
		location = location[i+3:]
		j := bytes.IndexAny(location, "/?#")
		if j < 0 {
			return false
		}
		location = location[j:] // the host names no page
	}
	path, _, _ := bytes.Cut(location, []byte("?"))
	for _, w := range [...]string{"login", "logon", "signin", "sign-in", "sign_in"} {
		if inspect.ContainsFold(path, w) {
			return true
		}
	}
	for _, w := range [...]string{"error", "fail", "denied", "invalid"} {
		if inspect.ContainsFold(location, w) {
			return true
		}
	}
	return false
}

// pageHash is the hash of the last segment of a request path, the page a
// form posts to: "login.cgi" of "/cgi-bin/login.cgi".
func (p *Protocol) pageHash(path []byte) uint64 {
	return maphash.Bytes(p.seed, lastSegment(path))
}

// lastSegment is what follows the last '/' of a path.
func lastSegment(path []byte) []byte {
	if i := bytes.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// failureWords are the words of a failed login's message ("Invalid
// password", "Login failed", "Access denied", "Unauthorized").
var failureWords = [...]string{"invalid", "incorrect", "wrong", "fail", "denied", "unauthori"}

// answerPage says what the whole body of a 2xx answer to a form login
// shows: pageLogin for a password input (type="password"), a form that
// posts back to page (the hash of the last segment of the login's path:
// its action names it, or it has none and posts to the page shown), a
// failure message, or a JSON answer that reports a failure
// (jsonFailure); else pageOther.
func answerPage(body []byte, page uint64, seed maphash.Seed) pageVerdict {
	if passwordInput(body) || jsonFailure(body) {
		return pageLogin
	}
	for _, w := range failureWords {
		if inspect.ContainsFold(body, w) {
			return pageLogin
		}
	}
	for rest := body; ; {
		i := inspect.IndexFold(rest, "<form")
		if i < 0 {
			break
		}
		rest = rest[i+len("<form"):]
		tag := rest
		if j := bytes.IndexByte(tag, '>'); j >= 0 {
			tag = tag[:j]
		}
		action, ok := attribute(tag, "action")
		if !ok || len(action) == 0 {
			return pageLogin // posts to the page shown: the login's
		}
		if i := bytes.Index(action, []byte("://")); i >= 0 {
			action = action[i+3:]
			if j := bytes.IndexByte(action, '/'); j >= 0 {
				action = action[j:]
			} else {
				action = nil
			}
		}
		if i := bytes.IndexAny(action, "?#"); i >= 0 {
			action = action[:i]
		}
		if maphash.Bytes(seed, lastSegment(action)) == page {
			return pageLogin
		}
	}
	return pageOther
}

// jsonFailure reports whether a JSON body, at any depth, has an "error"
// or "errors" key with a value other than null, false, 0, "", {} or [],
// or a "success" or "result" key that is false: login APIs answer a
// failure with 200 so ({"error":"bad user name or passwd"}), in words
// failureWords need not know, and with the session cookie they set on
// every answer.
func jsonFailure(body []byte) bool {
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) == 0 || b[0] != '{' && b[0] != '[' {
		return false
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		// A string: a key if a ':' follows it.
		j := i + 1
		for j < len(body) && body[j] != '"' {
			if body[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(body) {
			return false
		}
		key := body[i+1 : j]
		i = j
		value := bytes.TrimLeft(body[j+1:], " \t\r\n")
		if len(value) == 0 || value[0] != ':' {
			continue
		}
		value = bytes.TrimLeft(value[1:], " \t\r\n")
		switch {
		case inspect.EqualFold(key, "error"), inspect.EqualFold(key, "errors"):
			if !emptyJSONValue(value) {
				return true
			}
		case inspect.EqualFold(key, "success"), inspect.EqualFold(key, "result"):
			if bytes.HasPrefix(value, []byte("false")) {
				return true
			}
		}
	}
	return false
}

// emptyJSONValue reports whether the JSON value at the start of v is
// null, false, 0, "", {} or [].
func emptyJSONValue(v []byte) bool {
	for _, lit := range [...]string{"null", "false", `""`} {
		if bytes.HasPrefix(v, []byte(lit)) {
			return true
		}
	}
	if len(v) == 0 {
		return false
	}
	rest := bytes.TrimLeft(v[1:], " \t\r\n")
	switch v[0] {
	case '0': // not 0.5 or 01
		return len(v) == 1 || v[1] != '.' && (v[1] < '0' || v[1] > '9')
	case '{':
		return len(rest) > 0 && rest[0] == '}'
	case '[':
		return len(rest) > 0 && rest[0] == ']'
	}
	return false
}

// passwordInput reports whether markup holds an input of type password:
// type="password", type='password' or type=password, in any case.
func passwordInput(b []byte) bool {
	for off := 0; ; {
		i := inspect.IndexFold(b[off:], "password")
		if i < 0 {
			return false
		}
		i += off
		off = i + len("password")
		j := i
		if j > 0 && (b[j-1] == '"' || b[j-1] == '\'') {
			j--
		}
		for j > 0 && isSpace(b[j-1]) {
			j--
		}
		if j == 0 || b[j-1] != '=' {
			continue
		}
		j--
		for j > 0 && isSpace(b[j-1]) {
			j--
		}
		if j >= 4 && inspect.EqualFold(b[j-4:j], "type") {
			return true
		}
	}
}

// attribute returns the value of the attribute name in the inside of a
// tag (`method=post action="/login"`), quoted or not.
func attribute(tag []byte, name string) ([]byte, bool) {
	for off := 0; ; {
		i := inspect.IndexFold(tag[off:], name)
		if i < 0 {
			return nil, false
		}
		i += off
		off = i + len(name)
		if i > 0 && !isSpace(tag[i-1]) {
			continue // "data-action"
		}
		v := bytes.TrimLeft(tag[off:], " \t\r\n")
		if len(v) == 0 || v[0] != '=' {
			continue
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
			q := v[0]
			v = v[1:]
			if j := bytes.IndexByte(v, q); j >= 0 {
				v = v[:j]
			}
			return v, true
		}
		if j := bytes.IndexAny(v, " \t\r\n>"); j >= 0 {
			v = v[:j]
		}
		return v, true
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// multipartBoundary returns the boundary parameter of a multipart
// Content-Type, without its quotes; nil if it has none.
func multipartBoundary(contentType []byte) []byte {
	_, params, _ := bytes.Cut(contentType, []byte(";"))
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte(";"))
		name, value, _ := bytes.Cut(p, []byte("="))
		if inspect.EqualFold(bytes.TrimSpace(name), "boundary") {
			value = bytes.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			return value
		}
	}
	return nil
}
