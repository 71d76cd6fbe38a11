package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFirstVisitGoesToSetup(t *testing.T) {
	r := newRig(t, false)
	b := r.browser("192.168.50.104")
	for _, path := range []string{"/", "/devices/" + cameraMAC, "/login"} {
		resp, _ := b.get(path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/setup" {
			t.Errorf("GET %s before setup: %s to %q, want 303 to /setup", path, resp.Status, resp.Header.Get("Location"))
		}
	}
	if r.store.setupCode() == "" || r.store.st.SetupCodeHash == "" {
		t.Fatal("no setup code was created on first start")
	}
	if r.store.st.SetupCodeHash == r.store.setupCode() {
		t.Fatal("the setup code is stored in clear in the auth state")
	}
}

func TestSetupFlow(t *testing.T) {
	r := newRig(t, false)
	b := r.browser("192.168.50.104")
	code := r.store.setupCode()
	tok := b.formToken("/setup")
	setup := func(code, pw, confirm string) (*http.Response, string) {
		return b.post("/setup", url.Values{"csrf": {tok}, "code": {code}, "password": {pw}, "confirm": {confirm}})
	}

	// Wrong codes are refused; after freeFailures the client must wait,
	// even with the right code.
	for i := 0; i < freeFailures; i++ {
		resp, body := setup("AAAA-BBBB-CCCC", goodPassword, goodPassword)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong setup code") {
			t.Fatalf("wrong code #%d: %s, want 401 with a message", i+1, resp.Status)
		}
	}
	resp, body := setup(code, goodPassword, goodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" || !strings.Contains(body, "Too many wrong setup codes") {
		t.Fatalf("right code while locked out: %s Retry-After %q, want 429 and 30", resp.Status, resp.Header.Get("Retry-After"))
	}
	if r.store.st.PasswordHash != "" {
		t.Fatal("a password was set while locked out")
	}
	r.clock.Advance(31 * time.Second)

	// Right code, bad passwords: refused with a reason, code still valid.
	for _, tc := range []struct{ name, pw, confirm, want string }{
		{"too_short", "short", "short", "at least 10 characters"},
		{"common", "password123", "password123", "too easy to guess"},
		{"repeated", "aaaaaaaaaaaa", "aaaaaaaaaaaa", "too easy to guess"},
		{"mismatch", goodPassword, goodPassword + "!", "the two entries differ"},
		{"control_char", "correct horse\x00battery", "correct horse\x00battery", "no control characters"},
	} {
		resp, body := setup(code, tc.pw, tc.confirm)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s, want 400 with %q", tc.name, resp.Status, tc.want)
		}
		// The right code stays in its field, the passwords do not.
		if want := `id="code" value="` + code + `"`; !strings.Contains(body, want) {
			t.Errorf("%s: the setup code field lost the code: no %s", tc.name, want)
		}
		if strings.Contains(body, `value="`+tc.pw+`"`) {
			t.Errorf("%s: the page shows the refused password", tc.name)
		}
	}
	if r.store.st.PasswordHash != "" {
		t.Fatal("a bad password was stored")
	}

	// The code typed in lower case with spaces is the same code.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	resp, _ = setup(typed, goodPassword, goodPassword)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("setup with the right code: %s to %q, want 303 to /", resp.Status, resp.Header.Get("Location"))
	}
	if r.store.st.PasswordHash == "" || r.store.st.SetupCodeHash != "" || r.store.setupCode() != "" {
		t.Fatalf("after setup: password set %v, code hash %q, clear code %q; want set, empty, empty",
			r.store.st.PasswordHash != "", r.store.st.SetupCodeHash, r.store.setupCode())
	}
	if !strings.HasPrefix(r.store.st.PasswordHash, "$argon2id$") {
		t.Fatalf("password hash %q is not argon2id", r.store.st.PasswordHash)
	}
	// Logged in at once.
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / after setup: %s", resp.Status)
	}

	// The code is single-use: another browser cannot set a password.
	other := r.browser("192.168.50.105")
	resp, _ = other.get("/setup")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET /setup after setup: %s to %q, want 303 to /login", resp.Status, resp.Header.Get("Location"))
	}
	hash := r.store.st.PasswordHash
	resp, _ = other.post("/setup", url.Values{"csrf": {tok}, "code": {code}, "password": {"another long passphrase"}, "confirm": {"another long passphrase"}})
	if resp.StatusCode != http.StatusSeeOther || r.store.st.PasswordHash != hash {
		t.Fatalf("second setup with the used code: %s, password changed %v", resp.Status, r.store.st.PasswordHash != hash)
	}
}

func TestSetupNeedsFormToken(t *testing.T) {
	r := newRig(t, false)
	b := r.browser("192.168.50.104")
	for _, tc := range []struct {
		name string
		tok  string
	}{{"missing", ""}, {"wrong", strings.Repeat("x", 43)}} {
		b.formToken("/setup") // sets the cookie
		resp, _ := b.post("/setup", url.Values{"csrf": {tc.tok}, "code": {r.store.setupCode()}, "password": {goodPassword}, "confirm": {goodPassword}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: %s, want 403", tc.name, resp.Status)
		}
	}
	if r.store.st.PasswordHash != "" {
		t.Fatal("setup without the form's token set a password")
	}
}

func TestLogin(t *testing.T) {
	r := newRig(t, false)
	owner := r.browser("192.168.50.104")
	owner.setUp()

	b := r.browser("192.168.50.104")
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("GET / without a session: %s to %q, want the login page", resp.Status, resp.Header.Get("Location"))
	}
	resp, body := b.logIn("wrong password entirely")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong password") {
		t.Fatalf("wrong password: %s", resp.Status)
	}
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after a failed login GET / answers %s, want a redirect", resp.Status)
	}
	before := len(r.owners)
	resp, _ = b.logIn(goodPassword)
	if len(r.owners) != before+1 || r.owners[len(r.owners)-1] != netip.MustParseAddr("192.168.50.104") {
		t.Errorf("the daemon was told the owner is at %v", r.owners)
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password: %s", resp.Status)
	}
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / after login: %s", resp.Status)
	}
	// Logout ends the session for good, also for a copy of the cookie.
	stolen := b.jar.Cookies(mustURL(t, r.base))
	tok := b.formToken("/")
	if resp, _ := b.post("/logout", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	thief := r.browser("192.168.50.106")
	thief.jar.SetCookies(mustURL(t, r.base), stolen)
	if resp, _ := thief.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the cookie still works after logout: %s", resp.Status)
	}
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	for _, tc := range []struct{ name, next, want string }{
		{"path", "/devices/" + cameraMAC, "/devices/" + cameraMAC},
		{"other_host", "//evil.example/", "/"},
		{"backslash_host", "/\\evil.example/", "/"},
		{"absolute_url", "https://evil.example/", "/"},
		{"header_injection", "/x\r\nSet-Cookie: a=b", "/"},
		{"empty", "", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			r.browser("192.168.50.104").setUp()
			b := r.browser("192.168.50.104")
			tok := b.formToken("/login")
			resp, _ := b.post("/login", url.Values{"csrf": {tok}, "password": {goodPassword}, "next": {tc.next}})
			if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != tc.want {
				t.Fatalf("next %q: %s to %q, want %q", tc.next, resp.Status, got, tc.want)
			}
		})
	}
}

func TestLoginBackoff(t *testing.T) {
	r := newRig(t, false)
	r.browser("192.168.50.104").setUp()
	attacker := r.browser("192.168.50.66")
	for i := 0; i < freeFailures; i++ {
		if resp, _ := attacker.logIn("guess" + strconv.Itoa(i) + "-long-enough"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s", i, resp.Status)
		}
	}
	// Locked out for firstLockout; the right password does not help.
	resp, _ := attacker.logIn(goodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("after %d failures: %s Retry-After %q, want 429 and 30", freeFailures, resp.Status, resp.Header.Get("Retry-After"))
	}
	// The owner on another address is not locked out.
	if resp, _ := r.browser("192.168.50.104").logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another client during the lock-out: %s", resp.Status)
	}
	// Each further failure doubles the wait, up to maxLockout.
	want := firstLockout
	for i := 0; i < 8; i++ {
		r.clock.Advance(want + time.Second)
		if resp, _ := attacker.logIn("another-wrong-guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess after waiting: %s", resp.Status)
		}
		want = min(want*2, maxLockout)
		resp, _ := attacker.logIn(goodPassword)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != strconv.Itoa(int(want.Seconds())) {
			t.Fatalf("round %d: %s Retry-After %q, want 429 and %d", i, resp.Status, resp.Header.Get("Retry-After"), int(want.Seconds()))
		}
	}
	if want != maxLockout {
		t.Fatalf("the lock-out never reached %s", maxLockout)
	}
	// A success forgets the failures.
	r.clock.Advance(maxLockout + time.Second)
	if resp, _ := attacker.logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password after the lock-out: %s", resp.Status)
	}
	if resp, _ := attacker.logIn("wrong-again-but-fresh"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("first failure after a success: %s, want 401 (not locked)", resp.Status)
	}
}

// failOnce makes one failed attempt from a, which must be admitted.
func failOnce(t *testing.T, l *limiter, a netip.Addr) {
	t.Helper()
	if w := l.begin(a, false); w != 0 {
		t.Fatalf("%s must wait %s", a, w)
	}
	l.end(a, attemptFailed)
}

// waitFor is how long a must wait; an admitted probe is aborted, so it
// counts for nothing.
func waitFor(l *limiter, a netip.Addr) time.Duration {
	w := l.begin(a, false)
	if w == 0 {
		l.end(a, attemptAborted)
	}
	return w
}

func TestGlobalBackoff(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(func() time.Time { return now }, true)
	// Many addresses, one failure each: the global bucket runs dry.
	for i := 0; i < globalBurst; i++ {
		failOnce(t, l, addrN(i))
	}
	if w := waitFor(l, addrN(5000)); w <= 0 || w > globalRefill {
		t.Fatalf("a fresh client after %d failures from others waits %s, want (0, %s]", globalBurst, w, globalRefill)
	}
	now = now.Add(globalRefill)
	if w := waitFor(l, addrN(5000)); w != 0 {
		t.Fatalf("after one refill a fresh client waits %s, want 0", w)
	}
	// A right password gives its token back; an aborted probe too.
	if l.begin(addrN(5001), false) != 0 {
		t.Fatal("not admitted after a refill")
	}
	l.end(addrN(5001), attemptSucceeded)
	if w := waitFor(l, addrN(5002)); w != 0 {
		t.Fatalf("after a success the next client waits %s, want 0", w)
	}
	// The table of clients is bounded.
	for i := 0; i < 3*maxLimited; i++ {
		now = now.Add(globalRefill)
		failOnce(t, l, addrN(i))
	}
	if n := len(l.clients); n > maxLimited {
		t.Fatalf("%d clients remembered, cap %d", n, maxLimited)
	}
}

// TestOneAttemptInFlight: requests sent together from one client do not
// all pass the check before the first failure counts; they wait for it.
func TestOneAttemptInFlight(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(func() time.Time { return now }, true)
	a := addrN(1)
	for i := 0; i < freeFailures-1; i++ {
		failOnce(t, l, a)
	}
	if l.begin(a, false) != 0 {
		t.Fatal("the last free attempt was refused")
	}
	if w := l.begin(a, false); w != inFlightWait {
		t.Fatalf("a second attempt while the first is checked waits %s, want %s", w, inFlightWait)
	}
	if w := waitFor(l, addrN(2)); w != 0 {
		t.Errorf("another client waits %s during the attempt", w)
	}
	l.end(a, attemptFailed)
	if w := l.begin(a, false); w != firstLockout {
		t.Fatalf("after the fifth failure: wait %s, want %s", w, firstLockout)
	}
}

// TestConcurrentLoginsCounted: many wrong passwords sent at once from one
// address get no more than one check each lock-out window allows.
func TestConcurrentLoginsCounted(t *testing.T) {
	r := newRig(t, false)
	r.browser("192.168.50.104").setUp()
	attacker := r.browser("192.168.50.66")
	tok := attacker.formToken("/login")
	codes := make(chan int, 32)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"password": {"guess-" + strconv.Itoa(i) + "-long-enough"}, "csrf": {tok}}
			resp := attacker.do(http.MethodPost, "/login", form, nil)
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	checked := 0
	for c := range codes {
		switch c {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("status %d", c)
		}
	}
	if checked == 0 || checked > freeFailures {
		t.Errorf("%d of 32 simultaneous guesses were checked, want 1 to %d", checked, freeFailures)
	}
}

// TestIPv6ClientsCountByAddress: LAN devices share the owner's /64, so a
// device failing logins must not lock out the owner's address in it.
func TestIPv6ClientsCountByAddress(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(func() time.Time { return now }, true)
	device := mustAddr(t, "2001:db8:1:2::66")
	for i := 0; i < freeFailures; i++ {
		failOnce(t, l, device)
	}
	if w := waitFor(l, device); w != firstLockout {
		t.Fatalf("the failing address waits %s, want %s", w, firstLockout)
	}
	if w := waitFor(l, mustAddr(t, "2001:db8:1:2::ffff")); w != 0 {
		t.Fatalf("the owner's address in the same /64 waits %s, want 0", w)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, https := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[https], func(t *testing.T) {
			r := newRig(t, https)
			b := r.browser("192.168.50.104")
			tok := b.formToken("/setup")
			resp, _ := b.post("/setup", url.Values{"csrf": {tok}, "code": {r.store.setupCode()}, "password": {goodPassword}, "confirm": {goodPassword}})
			var cookie *http.Cookie
			for _, c := range resp.Cookies() {
				if strings.HasSuffix(c.Name, sessionCookie) {
					cookie = c
				}
			}
			if cookie == nil {
				t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
			}
			if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure != https {
				t.Fatalf("cookie %q: HttpOnly %v SameSite %v Path %q Secure %v", cookie.Name, cookie.HttpOnly, cookie.SameSite, cookie.Path, cookie.Secure)
			}
			if https != strings.HasPrefix(cookie.Name, "__Host-") {
				t.Fatalf("cookie name %q with https=%v", cookie.Name, https)
			}
			if len(cookie.Value) < 43 { // 32 random bytes, base64url
				t.Fatalf("session id %q is shorter than 256 bits", cookie.Value)
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []time.Duration // idle gaps between requests
		alive bool
	}{
		{"used_within_idle", []time.Duration{11 * time.Hour, 11 * time.Hour, 11 * time.Hour}, true},
		{"idle_too_long", []time.Duration{sessionIdle + time.Minute}, false},
		{"older_than_max", []time.Duration{11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour,
			11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour,
			11 * time.Hour, 11 * time.Hour, 11 * time.Hour, 11 * time.Hour}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			b := r.browser("192.168.50.104")
			b.setUp()
			var resp *http.Response
			for _, gap := range tc.steps {
				r.clock.Advance(gap)
				resp, _ = b.get("/")
			}
			if alive := resp.StatusCode == http.StatusOK; alive != tc.alive {
				t.Fatalf("session alive %v (%s), want %v", alive, resp.Status, tc.alive)
			}
		})
	}
}

func TestResetEndsSessions(t *testing.T) {
	r := newRig(t, false)
	b := r.browser("192.168.50.104")
	b.setUp()
	code, err := ResetSetupCode(r.store)
	if err != nil {
		t.Fatal(err)
	}
	if code == "" || r.store.st.PasswordHash != "" {
		t.Fatal("reset did not forget the password")
	}
	resp, _ := b.get("/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/setup" {
		t.Fatalf("GET / after a reset: %s to %q, want the setup page", resp.Status, resp.Header.Get("Location"))
	}
	if resp := b.do(http.MethodGet, "/api/v1/devices", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API after a reset: %s, want 401", resp.Status)
	}
}

func TestSessionTable(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newSessions(func() time.Time { return now })
	first, _, err := s.create("e1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < maxSessions; i++ {
		now = now.Add(time.Second)
		if _, _, err := s.create("e1"); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.m) > maxSessions {
		t.Fatalf("%d sessions, cap %d", len(s.m), maxSessions)
	}
	if _, ok := s.lookup(first, "e1"); ok {
		t.Fatal("the least recently used session survived a full table")
	}
	id, _, _ := s.create("e1")
	for _, tc := range []struct{ name, id, epoch string }{
		{"wrong_epoch", id, "e2"},
		{"empty", "", "e1"},
		{"huge", strings.Repeat("a", 10000), "e1"},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "e1"},
	} {
		if _, ok := s.lookup(tc.id, tc.epoch); ok {
			t.Errorf("%s: session found", tc.name)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func addrN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPasswordChange(t *testing.T) {
	const newPassword = "a new sentence nobody guesses"
	r := newRig(t, false)
	b := r.browser("192.168.50.104")
	b.setUp()
	other := r.browser("192.168.50.105")
	if resp, _ := other.logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second browser's login: %s", resp.Status)
	}
	change := func(current, password, confirm string) (*http.Response, string) {
		t.Helper()
		tok := b.formToken("/password")
		return b.post("/password", url.Values{"csrf": {tok}, "current": {current}, "password": {password}, "confirm": {confirm}})
	}

	tests := []struct {
		name                       string
		current, password, confirm string
		status                     int
		says                       string
	}{
		{"wrong_current", "not the password at all", newPassword, newPassword, http.StatusUnauthorized, "current password is wrong"},
		{"confirm_differs", goodPassword, newPassword, newPassword + "!", http.StatusBadRequest, "two entries differ"},
		{"too_short", goodPassword, "x7q2z", "x7q2z", http.StatusBadRequest, "at least 10 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.store.st
			resp, body := change(tt.current, tt.password, tt.confirm)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) {
				t.Errorf("%s, want %d and %q in the page", resp.Status, tt.status, tt.says)
			}
			if r.store.st != before {
				t.Error("a refused change altered the stored password")
			}
			if strings.Contains(body, tt.password) || strings.Contains(body, tt.current) {
				t.Error("the page repeats a password typed into the form")
			}
		})
	}

	// Without the form token the change is refused.
	if resp, _ := b.post("/password", url.Values{"current": {goodPassword}, "password": {newPassword}, "confirm": {newPassword}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("change without a CSRF token: %s, want 403", resp.Status)
	}

	resp, _ := change(goodPassword, newPassword, newPassword)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/password?done=password" {
		t.Fatalf("change: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if _, body := b.get("/password?done=password"); !strings.Contains(body, "Password changed") {
		t.Error("the browser that changed the password is not logged in, or is not told")
	}
	if resp, _ := other.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the other browser's session survived the change: %s", resp.Status)
	}
	fresh := r.browser("192.168.50.106")
	if resp, _ := fresh.logIn(goodPassword); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password still logs in: %s", resp.Status)
	}
	if resp, _ := fresh.logIn(newPassword); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the new password does not log in: %s", resp.Status)
	}
}

// A new password ends every session, and with them the owner's devices
// learnt at logins (never quarantined): a device that logged in with the
// old password is the owner's no more; the browser that set the new one
// is.
func TestNewPasswordForgetsOwnerDevices(t *testing.T) {
	const newPassword = "a new sentence nobody guesses"
	tests := []struct {
		name string
		// renew sets a new password from a browser of r's and returns
		// its address.
		renew func(t *testing.T, r *rig) string
	}{
		{"change", func(t *testing.T, r *rig) string {
			b := r.browser("192.168.50.104")
			if resp, _ := b.logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %s", resp.Status)
			}
			tok := b.formToken("/password")
			if resp, body := b.post("/password", url.Values{"csrf": {tok}, "current": {goodPassword}, "password": {newPassword}, "confirm": {newPassword}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("change: %s\n%s", resp.Status, body)
			}
			return "192.168.50.104"
		}},
		{"setup_after_reset", func(t *testing.T, r *rig) string {
			if _, err := ResetSetupCode(r.store); err != nil {
				t.Fatal(err)
			}
			r.browser("192.168.50.107").setUp()
			return "192.168.50.107"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, false)
			r.browser("192.168.50.104").setUp()
			if resp, _ := r.browser("192.168.50.66").logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("the other device's login: %s", resp.Status)
			}
			renewer := tt.renew(t, r)
			if want := []netip.Addr{netip.MustParseAddr(renewer)}; !slices.Equal(r.owners, want) {
				t.Errorf("owner devices after the new password: %v, want %v", r.owners, want)
			}
			// Kept throughout: forgotten, it could be quarantined
			// before it is told of again.
			if want := netip.MustParseAddr(renewer); r.keptOwner != want {
				t.Errorf("forgetting the owner's devices kept %v, want the renewing browser's %v", r.keptOwner, want)
			}
		})
	}
}

// replacingStore answers one LoadAuth with the state it holds, then
// holds next: a new password stored by another request (a change in
// another tab, a reset) while the one that asked checks the old.
type replacingStore struct {
	*memStore
	next *AuthState
}

func (s *replacingStore) LoadAuth() (AuthState, error) {
	st, err := s.memStore.LoadAuth()
	if s.next != nil {
		err = errors.Join(err, s.memStore.SaveAuth(*s.next, ""))
		s.next = nil
	}
	return st, err
}

// A login with a password that was replaced while it was checked opens
// no session, earns no known-browser cookie and does not make its
// device the owner's (never quarantined): whoever knew the old password
// is not let back in by a change it raced.
func TestLoginRacingNewPasswordRefused(t *testing.T) {
	newHash, err := hashPassword("a new sentence nobody guesses")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		next AuthState
	}{
		{"changed", AuthState{PasswordHash: newHash, Epoch: "0123456789abcdef"}},
		{"reset", AuthState{SetupCodeHash: hashSetupCode("K7QD-M2XP-4HWA"), Epoch: "0123456789abcdef"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, false)
			r.browser("192.168.50.104").setUp()
			owners := slices.Clone(r.owners)
			old := r.browser("192.168.50.66")
			tok := old.formToken("/login")
			r.srv.store = &replacingStore{memStore: r.store, next: &tt.next}
			resp, _ := old.post("/login", url.Values{"csrf": {tok}, "password": {goodPassword}})
			if resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/" {
				t.Errorf("the login with the replaced password was let in")
			}
			if !slices.Equal(r.owners, owners) {
				t.Errorf("owner devices %v after the login with the replaced password, want %v", r.owners, owners)
			}
			for _, c := range resp.Cookies() {
				if c.Value != "" && (c.Name == knownCookie || c.Name == sessionCookie) {
					t.Errorf("the login with the replaced password got the cookie %s", c.Name)
				}
			}
		})
	}
}

// TestOwnerNotKeptOutByOthersGuesses: a device that makes up an address
// for every guess keeps the shared bucket empty, but a browser that logged
// in before (its known-browser cookie) still logs in at once; a browser
// new to the page waits, and a made-up or stale cookie counts for nothing.
func TestOwnerNotKeptOutByOthersGuesses(t *testing.T) {
	r := newRig(t, false)
	owner := r.browser("192.168.50.104")
	owner.setUp()
	r.clock.Advance(sessionIdle + time.Minute) // the session ends; the cookie stays
	for i := range globalBurst + 5 {
		r.browser(fmt.Sprintf("10.66.%d.%d", i/200, i%200+1)).logIn("a-wrong-guess-" + strconv.Itoa(i))
	}
	if resp, _ := r.browser("192.168.50.105").logIn(goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a browser new to the page while the bucket is empty: %s, want 429", resp.Status)
	}
	if resp, _ := owner.logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's browser that logged in before: %s, want 303", resp.Status)
	}
	for name, value := range map[string]string{
		"made_up":    strings.Repeat("ab", knownIDBytes) + "." + strings.Repeat("cd", 16),
		"not_hex":    "x.y",
		"no_mac":     strings.Repeat("ab", knownIDBytes),
		"old_hash":   mustKnownToken(t, "an earlier password's hash"),
		"empty_hash": mustKnownToken(t, ""),
	} {
		b := r.browser("192.168.50.106")
		b.jar.SetCookies(mustURL(t, r.base), []*http.Cookie{{Name: knownCookie, Value: value}})
		if resp, _ := b.logIn(goodPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s cookie: %s, want 429", name, resp.Status)
		}
	}
}

// TestSetupNotKeptOutByOthersGuesses: the setup code needs no shared
// bucket; a device failing from many addresses cannot keep the owner from
// setting the page up.
func TestSetupNotKeptOutByOthersGuesses(t *testing.T) {
	r := newRig(t, false)
	for i := range globalBurst + 5 {
		b := r.browser(fmt.Sprintf("10.66.%d.%d", i/200, i%200+1))
		tok := b.formToken("/setup")
		if resp, _ := b.post("/setup", url.Values{"csrf": {tok}, "code": {"AAAA-BBBB-CCCC"}, "password": {goodPassword}, "confirm": {goodPassword}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s, want 401", i, resp.Status)
		}
	}
	r.browser("192.168.50.104").setUp()
}

// Wrong setup codes from addresses a device makes up are all refused,
// but do not each write a line: the log would turn over as fast as the
// router answers.
func TestWrongSetupCodesLogRationed(t *testing.T) {
	r := newRig(t, false)
	var log bytes.Buffer
	r.srv.log = slog.New(slog.NewTextHandler(&log, nil))
	guess := func(b *browser) {
		t.Helper()
		tok := b.formToken("/setup")
		if resp, _ := b.post("/setup", url.Values{"csrf": {tok}, "code": {"AAAA-BBBB-CCCC"}, "password": {goodPassword}, "confirm": {goodPassword}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code: %s, want 401", resp.Status)
		}
	}
	const addrs = 100
	for i := range addrs {
		b := r.browser(fmt.Sprintf("[fd00::66:%x]", i+1))
		for range freeFailures {
			guess(b)
		}
	}
	if n := strings.Count(log.String(), "wrong setup code"); n != logBurst {
		t.Fatalf("%d wrong codes wrote %d lines, want %d:\n%s", addrs*freeFailures, n, logBurst, log.String())
	}
	log.Reset()
	r.clock.Advance(logRefill)
	guess(r.browser("[fd00::66:ffff]"))
	want := fmt.Sprintf("more_not_logged=%d", addrs*freeFailures-logBurst)
	if lines := strings.Count(log.String(), "wrong setup code"); lines != 1 || !strings.Contains(log.String(), want) {
		t.Errorf("after %s: %q, want one line with %s", logRefill, log.String(), want)
	}
	r.browser("192.168.50.104").setUp()
}

func mustKnownToken(t *testing.T, hash string) string {
	t.Helper()
	v, err := knownBrowserToken(hash)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A form sent after the session ended is not done: the browser goes to
// the login page, told so, and from there back to the form's page.
func TestFormAfterSessionEnded(t *testing.T) {
	for _, tc := range []struct {
		path, next string
		told       bool
	}{
		{"/devices/c0:56:e3:1a:2b:3c/quarantine", "/devices/c0:56:e3:1a:2b:3c", true},
		{"/alerts/test", "/alerts", true},
		{"/password", "/password", true},
		{"/logout", "/", false},
		{"/nowhere/at/all/x", "/", true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := newRig(t, false)
			r.browser("192.168.50.104").setUp()
			b := r.browser("192.168.50.104") // a browser whose session is gone
			resp, _ := b.post(tc.path, url.Values{"csrf": {"stale"}, "for": {"1h"}})
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Path != "/login" {
				t.Fatalf("POST %s: %s to %q, want a redirect to the login page", tc.path, resp.Status, resp.Header.Get("Location"))
			}
			if got := loc.Query().Get("next"); got != tc.next {
				t.Errorf("next = %q, want %q", got, tc.next)
			}
			_, body := b.get(loc.RequestURI())
			if told := strings.Contains(body, "that was not done"); told != tc.told {
				t.Errorf("the login page tells that the action was not done: %v, want %v", told, tc.told)
			}
			if !strings.Contains(body, `name="next" value="`+tc.next+`"`) {
				t.Errorf("the login form does not carry next=%q", tc.next)
			}
			if len(r.backend.calls) != 0 {
				t.Errorf("the action was done: %v", r.backend.calls)
			}
		})
	}
}

// The page's script posts some forms in the background and shows the
// answer's "error": a refusal before the handler must be JSON it can read.
func TestScriptFormRefusedInJSON(t *testing.T) {
	r := newRig(t, false)
	owner := r.browser("192.168.50.104")
	owner.setUp()
	gone := r.browser("192.168.50.104")
	for _, tc := range []struct {
		name   string
		b      *browser
		status int
		says   string
	}{
		{"session_ended", gone, http.StatusUnauthorized, "session has ended"},
		{"wrong_token", owner, http.StatusForbidden, "CSRF token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.b.do(http.MethodPost, "/alerts/test", url.Values{"csrf": {"stale"}}, http.Header{"Accept": {"application/json"}})
			var j struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&j); err != nil || resp.StatusCode != tc.status || j.OK || !strings.Contains(j.Error, tc.says) {
				t.Errorf("%s, %+v (%v), want %d and an error saying %q", resp.Status, j, err, tc.status, tc.says)
			}
		})
	}
	if len(r.backend.calls) != 0 {
		t.Errorf("refused requests were carried out: %v", r.backend.calls)
	}
}
