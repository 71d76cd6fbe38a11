package rtsp

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

// Cheap cameras take the login in the stream's URL rather than in an
// Authorization header, and their apps and NVRs send it with every
// request: Xiongmai (XMEye) "/user=admin&password=&channel=1&stream=0.sdp?"
// or "/user=admin_password=…_channel=1_stream=0.sdp", other OEMs
// "/11?user=admin&pwd=123456" or "?username=admin&password=…", and some
// clients keep the userinfo of "rtsp://admin:12345@cam/…" in the request.

// userFields and passwordFields are the field names cameras read a URL
// login from; others ("name", "id", "key") mean too many other things.
var (
	userFields     = [...]string{"user", "username", "usr", "loginuse"}
	passwordFields = [...]string{"password", "pwd", "pass", "passwd", "loginpas"}
)

// readURLLogin finds the login a request URL carries and percent-decodes its
// user and password into dst: the userinfo "user:password@" of an
// absolute URL (without a colon it is only a name), else the first path
// segment, else the query, that holds both a user and a password field
// ("/user=guide.sdp" or "?user=viewer" is no login). ok is false when
// there is none, when user and password are both empty, or when they do
// not fit in dst (no device default is that long).
func readURLLogin(uri []byte, dst *[httpauth.MaxBasic]byte) (user, password []byte, ok bool) {
	if i := bytes.IndexByte(uri, '#'); i >= 0 {
		uri = uri[:i]
	}
	if i := bytes.Index(uri, []byte("://")); i >= 0 {
		rest := uri[i+3:]
		end := bytes.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		// A '/' or '?' cannot be in a userinfo unescaped (RFC 3986
		// section 3.2.1): an '@' after one is the path's or query's.
		authority := rest[:end]
		if at := bytes.LastIndexByte(authority, '@'); at >= 0 {
			if u, p, found := bytes.Cut(authority[:at], []byte(":")); found {
				return decodeLogin(u, p, dst)
			}
		}
		uri = rest[end:]
	}
	path, query, _ := bytes.Cut(uri, []byte("?"))
	for len(path) > 0 {
		var segment []byte
		segment, path, _ = bytes.Cut(path, []byte("/"))
		if u, p, found := loginFields(segment); found {
			return decodeLogin(u, p, dst)
		}
	}
	if u, p, found := loginFields(query); found {
		return decodeLogin(u, p, dst)
	}
	return nil, nil, false
}

// loginFields returns the values of the first user and password fields
// of a "name=value" list, still escaped. Fields are separated by '&', or
// by '_' before a field name ("user=admin_password=…"), so that a '_'
// in a value ("my_pass") stays in it. A '/' ends a field too: players
// append a track's control to the URL, query and all
// ("?user=admin&pwd=123456/trackID=0" for SETUP).
func loginFields(list []byte) (user, password []byte, found bool) {
	var hasUser, hasPassword bool
	for len(list) > 0 {
		end := fieldEnd(list)
		name, value, isField := bytes.Cut(list[:end], []byte("="))
		if end < len(list) {
			end++ // the separator
		}
		list = list[end:]
		if !isField {
			continue
		}
		switch {
		case !hasUser && inspect.EqualFoldAny(name, userFields[:]):
			user, hasUser = value, true
		case !hasPassword && inspect.EqualFoldAny(name, passwordFields[:]):
			password, hasPassword = value, true
		}
	}
	return user, password, hasUser && hasPassword
}

// fieldEnd is the index of the separator that ends the first field of
// list, or len(list).
func fieldEnd(list []byte) int {
	for i, c := range list {
		switch {
		case c == '&' || c == '/':
			return i
		case c == '_' && startsField(list[i+1:]):
			return i
		}
	}
	return len(list)
}

// startsField reports whether b starts with a field name, letters up to
// an '='.
func startsField(b []byte) bool {
	for i, c := range b {
		switch {
		case c == '=':
			return i > 0
		case c|0x20 < 'a' || c|0x20 > 'z':
			return false
		}
	}
	return false
}

// decodeLogin percent-decodes user and password into dst, one after the
// other.
func decodeLogin(user, password []byte, dst *[httpauth.MaxBasic]byte) ([]byte, []byte, bool) {
	if len(user)+len(password) > len(dst) || len(user) == 0 && len(password) == 0 {
		return nil, nil, false
	}
	n := inspect.PercentDecode(dst[:], user, 0)
	m := inspect.PercentDecode(dst[n:], password, 0)
	return dst[:n:n], dst[n : n+m], true
}
