package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/pkg/api"
)

// Cookie names; with HTTPS the __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain.
const (
	sessionCookie = "iotgw-session"
	preCookie     = "iotgw-pre" // CSRF token of the login and setup forms
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

func (s *Server) cookieName(base string) string {
	if s.opt.TLS != nil {
		return "__Host-" + base
	}
	return base
}

func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     s.cookieName(base),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.opt.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func (s *Server) cookie(r *http.Request, base string) string {
	c, err := r.Cookie(s.cookieName(base))
	if err != nil {
		return ""
	}
	return c.Value
}

func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func isStateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// who is the request's login state.
type who struct {
	auth     AuthState
	session  session
	loggedIn bool
}

// identify reads the auth state and the request's session.
func (s *Server) identify(r *http.Request) (who, error) {
	st, err := s.store.LoadAuth()
	if err != nil {
		return who{}, err
	}
	w := who{auth: st}
	if st.PasswordHash == "" {
		return w, nil
	}
	w.session, w.loggedIn = s.sessions.lookup(s.cookie(r, sessionCookie), st.Epoch)
	if w.loggedIn {
		markOwner(r) // its connection keeps the longer idle timeout
	}
	return w, nil
}

// csrfOK checks the token of a state-changing request: the X-CSRF-Token
// header, or the form field (the form must already be parsed).
func csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return csrfMatches(got, want)
}

// parseForm reads a bounded form body.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("form: %w", err)
	}
	return nil
}

// page wraps a handler of the owner's pages: set up and logged in, with a
// valid CSRF token on state-changing requests; otherwise the setup or
// login page, or 403.
func (s *Server) page(h func(http.ResponseWriter, *http.Request, *view)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.identify(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if id.auth.PasswordHash == "" {
			http.Redirect(w, r, "/setup", http.StatusSeeOther)
			return
		}
		if !id.loggedIn {
			next, q := r.URL.RequestURI(), ""
			switch {
			case isStateChanging(r.Method) && wantsJSON(r):
				// The page's script, which shows the error in place.
				pageError(w, r, http.StatusUnauthorized, "Your session has ended: reload the page and log in.")
				return
			case r.URL.Path == "/logout" && isStateChanging(r.Method):
				next = "/" // logged out already
			case isStateChanging(r.Method):
				// A form sent after the session ended (a tab left open
				// overnight): back to its page after the login, with a
				// word that it was not done; the owner decides again on
				// the page as it is then.
				next, q = formPage(r.URL.Path), "&expired=1"
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next)+q, http.StatusSeeOther)
			return
		}
		if isStateChanging(r.Method) {
			if err := parseForm(w, r); err != nil {
				pageError(w, r, http.StatusBadRequest, err.Error())
				return
			}
			if !csrfOK(r, id.session.csrf) {
				s.log.Warn("web: request without a valid CSRF token refused", "path", r.URL.Path)
				pageError(w, r, http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again")
				return
			}
		}
		h(w, r, &view{CSRF: id.session.csrf, LoggedIn: true})
	}
}

// pageError refuses a page's form: in JSON to the page's script, which
// shows it in place, else in plain text.
func pageError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		writeJSON(w, status, map[string]any{"ok": false, "error": msg})
		return
	}
	http.Error(w, msg, status)
}

// apiGuard puts the JSON API behind the login: 401 without a session,
// 403 for a state-changing request without the X-CSRF-Token header.
func (s *Server) apiGuard(w http.ResponseWriter, r *http.Request) {
	id, err := s.identify(r)
	if err != nil {
		s.log.Error("web: auth state", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "auth state unreadable"})
		return
	}
	if !id.loggedIn {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not logged in"})
		return
	}
	if isStateChanging(r.Method) && !csrfMatches(r.Header.Get(csrfHeader), id.session.csrf) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing or wrong " + csrfHeader + " header"})
		return
	}
	if r.URL.Path == api.Version+"/stream" {
		// The event stream lives on after this check: it must end with
		// the session (logout, a new password, expiry), not with the
		// connection.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go s.endWithSession(ctx, cancel, r)
		r = r.WithContext(ctx)
	}
	s.api.ServeHTTP(w, r)
}

// sessionRecheck is how often a long-lived API request checks that its
// session still stands.
const sessionRecheck = 2 * time.Second

// endWithSession cancels a request once its session no longer stands.
func (s *Server) endWithSession(ctx context.Context, cancel context.CancelFunc, r *http.Request) {
	t := time.NewTicker(s.sessionRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st, err := s.store.LoadAuth()
			if err != nil || st.PasswordHash == "" || !s.sessions.stands(s.cookie(r, sessionCookie), st.Epoch) {
				cancel()
				return
			}
		}
	}
}

// preCSRF returns the login or setup form's token, setting its cookie
// when the browser has none.
func (s *Server) preCSRF(w http.ResponseWriter, r *http.Request) (string, error) {
	if tok := s.cookie(r, preCookie); len(tok) >= 32 && len(tok) <= 64 {
		return tok, nil
	}
	tok, err := randomToken()
	if err != nil {
		return "", err
	}
	s.setCookie(w, preCookie, tok, 0)
	return tok, nil
}

func (s *Server) preCSRFOK(r *http.Request) bool {
	want := s.cookie(r, preCookie)
	return len(want) >= 32 && csrfMatches(r.PostFormValue(csrfField), want)
}

func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.LoadAuth()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if st.PasswordHash != "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	v := &view{Title: "First-run setup"}
	if r.Method == http.MethodPost {
		s.postSetup(w, r, v)
		return
	}
	s.renderPre(w, r, http.StatusOK, setupContent, v)
}

func (s *Server) postSetup(w http.ResponseWriter, r *http.Request, v *view) {
	if err := parseForm(w, r); err != nil {
		v.Error = err.Error()
		s.renderPre(w, r, http.StatusBadRequest, setupContent, v)
		return
	}
	if !s.preCSRFOK(r) {
		v.Error = "the form expired: please try again"
		s.renderPre(w, r, http.StatusForbidden, setupContent, v)
		return
	}
	client := clientAddr(r)
	if wait := s.setups.begin(client, false); wait > 0 {
		tooMany(w, wait)
		v.Error = "Too many wrong setup codes. Try again in " + waitText(wait) + "."
		s.renderPre(w, r, http.StatusTooManyRequests, setupContent, v)
		return
	}
	attempt := attemptAborted
	defer func() { s.setups.end(client, attempt) }()
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	st, err := s.store.LoadAuth()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if st.PasswordHash != "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if !setupCodeMatches(r.PostFormValue("code"), st.SetupCodeHash) {
		attempt = attemptFailed
		if ok, skipped := s.setupLog.take(); ok {
			args := []any{"client", client.String()}
			if skipped > 0 {
				args = append(args, "more_not_logged", skipped)
			}
			s.log.Warn("web: wrong setup code", args...)
		}
		v.Error = "Wrong setup code. To read it, run iotgw setup-code on the router."
		s.renderPre(w, r, http.StatusUnauthorized, setupContent, v)
		return
	}
	// The code was right: a refused new password is not a failed guess.
	attempt = attemptSucceeded
	// A refused password keeps the right code in its field: it is the
	// owner's own input, sent back over the same page only.
	v.Page = setupPage{Code: r.PostFormValue("code")}
	epoch, ok := s.setNewPassword(w, r, v, func(status int) { s.renderPre(w, r, status, setupContent, v) })
	if !ok {
		return
	}
	s.log.Info("web: password set; the setup code is used up")
	s.startSession(w, r, epoch, "/")
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.LoadAuth()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if st.PasswordHash == "" {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	v := &view{Title: "Log in", Page: loginPage{Next: safeNext(r.URL.Query().Get("next"))}}
	if r.Method != http.MethodPost && r.URL.Query().Get("expired") != "" {
		v.Error = "Your session had ended, so that was not done. Log in, then do it again."
	}
	if r.Method != http.MethodPost {
		s.renderPre(w, r, http.StatusOK, loginContent, v)
		return
	}
	if err := parseForm(w, r); err != nil {
		v.Error = err.Error()
		s.renderPre(w, r, http.StatusBadRequest, loginContent, v)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	v.Page = loginPage{Next: next}
	if !s.preCSRFOK(r) {
		v.Error = "the form expired: please try again"
		s.renderPre(w, r, http.StatusForbidden, loginContent, v)
		return
	}
	render := func(status int) { s.renderPre(w, r, status, loginContent, v) }
	if !s.ownerPasswordOK(w, r, v, st.PasswordHash, r.PostFormValue("password"), "Wrong password.", render) {
		return
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	s.startSession(w, r, st.Epoch, next)
}

type loginPage struct{ Next string }

// formPage is the page whose form posts to p.
func formPage(p string) string {
	switch {
	case strings.HasPrefix(p, "/devices/") && strings.Count(p, "/") == 3, strings.HasPrefix(p, "/alerts/"):
		return path.Dir(p)
	case p == "/password":
		return p
	}
	return "/"
}

// safeNext keeps a post-login redirect on this site: a local path
// (markup.LocalPath) that parses as one, never another host.
func safeNext(next string) string {
	if len(next) > 512 || !markup.LocalPath(next) {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "/"
	}
	return next
}

// startSession logs the browser in, in epoch, and sends it to next. The
// password was checked against the hash of epoch, which another request
// may have replaced since (a change in another tab, a reset): a login
// with the old password then opens no session, earns no known-browser
// cookie and does not make its device the owner's. The caller holds
// setupMu, so that no new password comes between this check and
// OwnerAt.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, epoch, next string) {
	st, err := s.store.LoadAuth()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if st.PasswordHash == "" || st.Epoch != epoch {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if s.opt.OwnerAt != nil {
		if a := clientAddr(r); a.IsValid() {
			s.opt.OwnerAt(a)
		}
	}
	id, _, err := s.sessions.create(epoch)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setCookie(w, sessionCookie, id, 0)
	s.setCookie(w, preCookie, "", -1)
	if v, err := knownBrowserToken(st.PasswordHash); err == nil {
		s.setCookie(w, knownCookie, v, knownCookieAge)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// The known-browser cookie marks a browser that logged in before: its
// login attempts do not wait for the shared bucket that others' guesses
// can keep empty (ratelimit.go). It is a random id and its MAC under a
// key derived from the stored password hash, which only the router holds:
// no device can make one, and a new password (a new hash) ends them all.
// It grants nothing else; the password is still checked.
const (
	knownCookie    = "iotgw-known"
	knownCookieAge = 400 * 24 * time.Hour // the longest browsers keep one
	knownIDBytes   = 16
)

func knownBrowserKey(passwordHash string) []byte {
	k := sha256.Sum256([]byte("iotgw known browser\x00" + passwordHash))
	return k[:]
}

func knownBrowserMAC(passwordHash string, id []byte) []byte {
	m := hmac.New(sha256.New, knownBrowserKey(passwordHash))
	m.Write(id)
	return m.Sum(nil)[:16]
}

// knownBrowserToken returns a new cookie value.
func knownBrowserToken(passwordHash string) (string, error) {
	id := make([]byte, knownIDBytes)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	return hex.EncodeToString(id) + "." + hex.EncodeToString(knownBrowserMAC(passwordHash, id)), nil
}

// knownBrowser reports whether r carries a known-browser cookie made
// under the current password.
func (s *Server) knownBrowser(r *http.Request, passwordHash string) bool {
	id, mac, ok := strings.Cut(s.cookie(r, knownCookie), ".")
	if !ok || passwordHash == "" {
		return false
	}
	idb, err1 := hex.DecodeString(id)
	macb, err2 := hex.DecodeString(mac)
	return err1 == nil && err2 == nil && len(idb) == knownIDBytes && hmac.Equal(macb, knownBrowserMAC(passwordHash, idb))
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ *view) {
	s.sessions.remove(s.cookie(r, sessionCookie))
	s.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// handlePassword changes the owner's password: the current one, then the
// new one twice. Wrong current passwords count as failed logins. Every
// other session ends (a new epoch), so a change also logs out a browser
// the owner lost; this one gets a new session.
func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Password", "password"
	if r.Method != http.MethodPost {
		v.Flash = flashText(r.URL.Query().Get("done"))
		s.render(w, r, http.StatusOK, passwordContent, v)
		return
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	st, err := s.store.LoadAuth()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// Another change or a reset may have ended this session since page()
	// let the request in.
	if _, ok := s.sessions.lookup(s.cookie(r, sessionCookie), st.Epoch); !ok || st.PasswordHash == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	render := func(status int) { s.render(w, r, status, passwordContent, v) }
	if !s.ownerPasswordOK(w, r, v, st.PasswordHash, r.PostFormValue("current"), "The current password is wrong.", render) {
		return
	}
	epoch, ok := s.setNewPassword(w, r, v, render)
	if !ok {
		return
	}
	s.sessions.remove(s.cookie(r, sessionCookie))
	s.log.Info("web: password changed; every other session has ended", "client", clientAddr(r).String())
	s.startSession(w, r, epoch, "/password?done=password")
}

// handleSession is GET /session: the CSRF token for scripts.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	id, err := s.identify(r)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "auth state unreadable"})
		return
	}
	if !id.loggedIn {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"logged_in": false, "setup_needed": id.auth.PasswordHash == ""})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"logged_in": true, "csrf_token": id.session.csrf})
}

// hash and verify run argon2id one at a time.
func (s *Server) hash(ctx context.Context, password string) (string, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.hashing }()
	return hashPassword(password)
}

func (s *Server) verify(ctx context.Context, stored, password string) (bool, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashing }()
	return verifyPassword(stored, password)
}

// ownerPasswordOK checks the password typed into a login or password
// change form against the stored hash, under the login back-off. Unless it
// is right it answers the request itself, through render with wrong as the
// message on a mismatch, and returns false.
func (s *Server) ownerPasswordOK(w http.ResponseWriter, r *http.Request, v *view, stored, typed, wrong string, render func(status int)) bool {
	client := clientAddr(r)
	if wait := s.logins.begin(client, s.knownBrowser(r, stored)); wait > 0 {
		tooMany(w, wait)
		v.Error = "Too many wrong passwords. Try again in " + waitText(wait) + "."
		render(http.StatusTooManyRequests)
		return false
	}
	ok, err := s.verify(r.Context(), stored, typed)
	if err != nil {
		s.logins.end(client, attemptAborted)
		s.serverError(w, r, err)
		return false
	}
	if !ok {
		s.logins.end(client, attemptFailed)
		s.log.Warn("web: wrong password", "client", client.String(), "path", r.URL.Path)
		v.Error = wrong
		render(http.StatusUnauthorized)
		return false
	}
	s.logins.end(client, attemptSucceeded)
	return true
}

// setNewPassword checks the form's new password ("password", typed twice
// with "confirm") and stores its hash in a new epoch, which ends every
// session, forgets the setup code and the owner's devices
// (Options.ForgetOwners). It returns the epoch; a refused
// password is answered through render, any other failure with 500. The
// caller holds setupMu.
func (s *Server) setNewPassword(w http.ResponseWriter, r *http.Request, v *view, render func(status int)) (string, bool) {
	password := r.PostFormValue("password")
	if err := s.passwords.check(password, r.PostFormValue("confirm")); err != nil {
		v.Error = err.Error()
		render(http.StatusBadRequest)
		return "", false
	}
	epoch, err := s.storeHash(r.Context(), password)
	if err != nil {
		s.serverError(w, r, err)
		return "", false
	}
	if s.opt.ForgetOwners != nil {
		s.opt.ForgetOwners(clientAddr(r))
	}
	return epoch, true
}

func (s *Server) storeHash(ctx context.Context, password string) (string, error) {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return "", err
	}
	epoch, err := newEpoch()
	if err != nil {
		return "", err
	}
	if err := s.store.SaveAuth(AuthState{PasswordHash: hash, Epoch: epoch}, ""); err != nil {
		return "", err
	}
	return epoch, nil
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}

func waitText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(math.Ceil(d.Seconds())))
	}
	return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
}
