package web

import (
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/api"
)

// loggedIn returns a rig with the owner logged in and the CSRF token of
// their session.
func loggedIn(t *testing.T) (*rig, *browser, string) {
	t.Helper()
	r := newRig(t, false)
	b := r.browser("192.168.50.104")
	b.setUp()
	return r, b, b.formToken("/devices/" + cameraMAC)
}

func TestCSRFRefusedAndNothingChanged(t *testing.T) {
	r, b, tok := loggedIn(t)
	other := r.browser("192.168.50.105")
	if resp, _ := other.logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second login: %s", resp.Status)
	}
	otherTok := other.formToken("/")
	if otherTok == tok {
		t.Fatal("two sessions share a CSRF token")
	}
	qForm := func(csrf string) url.Values {
		v := url.Values{"mode": {"block"}, "for": {"1h"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		form   url.Values
		header http.Header
	}{
		{"form_missing_token", http.MethodPost, "/devices/" + cameraMAC + "/quarantine", qForm(""), nil},
		{"form_wrong_token", http.MethodPost, "/devices/" + cameraMAC + "/quarantine", qForm("not-the-token"), nil},
		{"form_other_sessions_token", http.MethodPost, "/devices/" + cameraMAC + "/quarantine", qForm(otherTok), nil},
		{"form_release", http.MethodPost, "/devices/" + cameraMAC + "/release", url.Values{}, nil},
		{"form_rename", http.MethodPost, "/devices/" + cameraMAC + "/name", url.Values{"name": {"x"}}, nil},
		{"alert_toggle", http.MethodPost, "/alerts/enabled", url.Values{"name": {"phone"}, "enabled": {"false"}}, nil},
		{"alert_test", http.MethodPost, "/alerts/test", url.Values{"name": {"phone"}}, nil},
		{"logout", http.MethodPost, "/logout", url.Values{}, nil},
		{"api_missing_header", http.MethodPost, "/api/v1/devices/" + cameraMAC + "/quarantine", nil, nil},
		{"api_wrong_header", http.MethodPost, "/api/v1/devices/" + cameraMAC + "/release", nil, http.Header{"X-Csrf-Token": {"nope"}}},
		// A form field does not count for the JSON API: only the header.
		{"api_token_in_form", http.MethodPost, "/api/v1/devices/" + cameraMAC + "/quarantine", url.Values{"csrf": {tok}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do(tc.method, tc.path, tc.form, tc.header)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s %s: %s, want 403", tc.method, tc.path, resp.Status)
			}
		})
	}
	if calls := r.backend.recorded(); len(calls) != 0 {
		t.Fatalf("refused requests reached the backend: %q", calls)
	}
	if calls := r.alerts.recorded(); len(calls) != 0 {
		t.Fatalf("refused requests reached the alert engine: %q", calls)
	}
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session ended on a refused logout: %s", resp.Status)
	}

	// With the token, the same requests go through.
	resp, _ := b.post("/devices/"+cameraMAC+"/quarantine", qForm(tok))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("quarantine with the token: %s", resp.Status)
	}
	resp = b.do(http.MethodPost, "/api/v1/devices/"+cameraMAC+"/release", nil, http.Header{"X-Csrf-Token": {tok}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API release with the header: %s", resp.Status)
	}
	want := []string{"quarantine " + cameraMAC + " block 1h0m0s", "release " + cameraMAC}
	if calls := r.backend.recorded(); strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Fatalf("backend calls %q, want %q", calls, want)
	}
}

// An error the API cannot classify is answered 500 with a fixed text.
func TestAPIHidesInternalErrors(t *testing.T) {
	r, b, tok := loggedIn(t)
	r.backend.fail = errors.New("nftables: netlink receive: /run/secret/path")
	resp := b.do(http.MethodPost, "/api/v1/devices/"+cameraMAC+"/release", nil, http.Header{"X-Csrf-Token": {tok}})
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "/run/secret") || !strings.Contains(body, "log says more") {
		t.Errorf("API answer %s %q", resp.Status, body)
	}
}

func TestUnauthenticatedAPI(t *testing.T) {
	r := newRig(t, false)
	r.browser("192.168.50.104").setUp()
	b := r.browser("192.168.50.66")
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/status"},
		{http.MethodGet, "/api/v1/devices"},
		{http.MethodGet, "/api/v1/devices/" + cameraMAC},
		{http.MethodGet, "/api/v1/events"},
		{http.MethodGet, "/api/v1/stream"},
		{http.MethodPost, "/api/v1/devices/" + cameraMAC + "/quarantine"},
		{http.MethodGet, "/session"},
	} {
		resp := b.do(tc.method, tc.path, nil, nil)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %s %q, want 401 JSON", tc.method, tc.path, resp.Status, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(body, cameraMAC) {
			t.Errorf("%s %s leaks device data without a login", tc.method, tc.path)
		}
	}
	if calls := r.backend.recorded(); len(calls) != 0 {
		t.Fatalf("unauthenticated requests reached the backend: %q", calls)
	}
}

func TestAPIBehindLogin(t *testing.T) {
	r, b, tok := loggedIn(t)
	resp := b.do(http.MethodGet, "/api/v1/devices", nil, nil)
	// Decoded leniently: an api.Device without a verdict does not decode
	// into policy.Verdict (an empty action is refused).
	var devs []struct {
		MAC string `json:"mac"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&devs); err != nil || len(devs) != 1 || devs[0].MAC != cameraMAC {
		t.Fatalf("GET /api/v1/devices: %s %v %+v", resp.Status, err, devs)
	}
	resp = b.do(http.MethodGet, "/session", nil, nil)
	var sess struct {
		LoggedIn bool   `json:"logged_in"`
		CSRF     string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sess); err != nil || !sess.LoggedIn || sess.CSRF != tok {
		t.Fatalf("GET /session: %s %v %+v", resp.Status, err, sess)
	}
	// JSON validation comes from pkg/api: a bad mode changes nothing.
	resp = b.do(http.MethodPost, "/api/v1/devices/"+cameraMAC+"/quarantine", nil, http.Header{"X-Csrf-Token": {tok}, "Content-Type": {"application/json"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API quarantine with an empty body: %s", resp.Status)
	}
	if calls := r.backend.recorded(); len(calls) != 1 {
		t.Fatalf("backend calls %q", calls)
	}
}

func TestDeviceFormValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		fail   error // the backend's answer
		status int
		want   string
		call   bool // whether the backend is asked
	}{
		{"unknown_mode", "/quarantine", url.Values{"mode": {"nuke"}, "for": {"1h"}}, nil, 400, "mode: want block, isolate or updates-only", false},
		{"duration_words", "/quarantine", url.Values{"mode": {"block"}, "for": {"an hour"}}, nil, 400, "duration: use a number with a unit", false},
		{"duration_too_short", "/quarantine", url.Values{"mode": {"block"}, "for": {"10s"}}, nil, 400, "duration: between 1m and 8784h", false},
		{"duration_too_long", "/quarantine", url.Values{"mode": {"block"}, "for": {"10000h"}}, nil, 400, "duration: between 1m and 8784h", false},
		{"duration_negative", "/quarantine", url.Values{"mode": {"block"}, "for": {"-1h"}}, nil, 400, "duration: between", false},
		{"protected_device", "/quarantine", url.Values{"mode": {"block"}, "for": {"1h"}}, api.ErrProtected, 409, "cannot be quarantined", true},
		{"name_too_long", "/name", url.Values{"name": {strings.Repeat("n", 65)}}, nil, 400, "name: at most 64 characters", false},
		{"name_too_long_cyrillic", "/name", url.Values{"name": {strings.Repeat("ж", 65)}}, nil, 400, "name: at most 64 characters", false},
		{"name_not_utf8", "/name", url.Values{"name": {"cam\xff"}}, nil, 400, "name: not UTF-8 text", false},
		{"name_control", "/name", url.Values{"name": {"cam\x1b[31m"}}, nil, 400, "name: no control characters", false},
		{"trusted_garbage", "/trust", url.Values{"trusted": {"maybe"}}, nil, 400, "trusted: want true or false", false},
		{"release_not_quarantined", "/release", url.Values{}, api.ErrConflict, 409, "conflicting state", true},
		{"unknown_action", "/explode", url.Values{}, nil, 404, "no such action", false},
		// What the kernel said stays in the log.
		{"internal_error", "/release", url.Values{}, errors.New("nftables: netlink receive: /run/secret/path"), 500, "the router could not do that; its log says why", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b, tok := loggedIn(t)
			before, _ := r.backend.Device(mustMAC(t, cameraMAC))
			r.backend.fail = tc.fail
			tc.form.Set("csrf", tok)
			resp, body := b.post("/devices/"+cameraMAC+tc.path, tc.form)
			if resp.StatusCode != tc.status || !strings.Contains(html.UnescapeString(body), tc.want) {
				t.Fatalf("%s: %s, want %d with %q", tc.path, resp.Status, tc.status, tc.want)
			}
			if strings.Contains(body, "/run/secret") {
				t.Errorf("the page shows an internal error: %s", body)
			}
			if asked := len(r.backend.recorded()) > 0; asked != tc.call {
				t.Fatalf("backend asked %v, want %v", asked, tc.call)
			}
			after, _ := r.backend.Device(mustMAC(t, cameraMAC))
			if after.State != before.State || after.Name != before.Name || after.Trusted != before.Trusted || after.Quarantine != nil {
				t.Fatalf("a failed action changed the device: %+v", after)
			}
			// What the owner typed is shown again.
			if v := tc.form.Get("for"); v != "" && tc.status == 400 && !strings.Contains(body, `value="`+html.EscapeString(v)+`"`) {
				t.Errorf("the form lost the typed duration %q", v)
			}
		})
	}
}

// A refused action shows the device page again with what the owner typed
// into that action's form, and every other form as the page first shows
// it: a refused rename must not leave the quarantine form's duration
// empty, which reads "until released".
func TestDeviceFormErrorKeepsOtherForms(t *testing.T) {
	for _, tc := range []struct {
		name     string
		path     string
		form     url.Values
		fail     error
		wantFor  string // the quarantine form's duration field
		wantName string // the rename form's field
	}{
		{"refused_rename", "/name", url.Values{"name": {strings.Repeat("n", 65)}}, nil, "1h", strings.Repeat("n", 65)},
		{"refused_release", "/release", url.Values{}, api.ErrConflict, "1h", "Hall camera"},
		{"refused_trust", "/trust", url.Values{"trusted": {"maybe"}}, nil, "1h", "Hall camera"},
		{"refused_quarantine", "/quarantine", url.Values{"mode": {"block"}, "for": {"10s"}}, nil, "10s", "Hall camera"},
		{"refused_quarantine_until_released", "/quarantine", url.Values{"mode": {"nuke"}, "for": {""}}, nil, "", "Hall camera"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b, tok := loggedIn(t)
			if resp, _ := b.post("/devices/"+cameraMAC+"/name", url.Values{"csrf": {tok}, "name": {"Hall camera"}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("rename: %s", resp.Status)
			}
			r.backend.fail = tc.fail
			tc.form.Set("csrf", tok)
			resp, body := b.post("/devices/"+cameraMAC+tc.path, tc.form)
			if resp.StatusCode < 400 || !strings.Contains(body, `id="quarantine-form"`) {
				t.Fatalf("%s: %s, want the device page with the error", tc.path, resp.Status)
			}
			if want := `id="for" value="` + tc.wantFor + `"`; !strings.Contains(body, want) {
				t.Errorf("the quarantine form's duration: want %s", want)
			}
			if want := `id="name" value="` + tc.wantName + `"`; !strings.Contains(body, want) {
				t.Errorf("the rename form: want %s", want)
			}
		})
	}
}

func TestDeviceActionsChangeState(t *testing.T) {
	r, b, tok := loggedIn(t)
	steps := []struct {
		path string
		form url.Values
		call string
		text string
	}{
		{"/quarantine", url.Values{"mode": {"block"}, "for": {"1h"}}, "quarantine " + cameraMAC + " block 1h0m0s", "The device is quarantined."},
		{"/release", url.Values{}, "release " + cameraMAC, "The device is released from quarantine."},
		{"/trust", url.Values{"trusted": {"true"}}, "trust " + cameraMAC + " true", "marked trusted"},
		{"/name", url.Values{"name": {" Hall camera "}}, "name " + cameraMAC + ` "Hall camera"`, "The device is renamed."},
		// 64 characters, as the form's maxlength counts them: 128 bytes.
		{"/name", url.Values{"name": {strings.Repeat("ж", 64)}}, "name " + cameraMAC + ` "` + strings.Repeat("ж", 64) + `"`, "The device is renamed."},
		// An empty name clears the owner's: the automatic one is back.
		{"/name", url.Values{"name": {"  "}}, "name " + cameraMAC + ` ""`, "<h1><bdi>Hikvision camera</bdi> <span"},
		{"/quarantine", url.Values{"mode": {""}, "for": {""}}, "quarantine " + cameraMAC + "  0s", "The device is quarantined."},
	}
	for i, s := range steps {
		s.form.Set("csrf", tok)
		resp, _ := b.post("/devices/"+cameraMAC+s.path, s.form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %s", s.path, resp.Status)
		}
		_, page := b.get(resp.Header.Get("Location"))
		if !strings.Contains(page, s.text) {
			t.Errorf("%s: the page after it does not say %q", s.path, s.text)
		}
		if calls := r.backend.recorded(); calls[i] != s.call {
			t.Errorf("%s: backend call %q, want %q", s.path, calls[i], s.call)
		}
	}
	_, page := b.get("/devices/" + cameraMAC)
	for _, want := range []string{"Hall camera", `class="state st-quarantined"`, "Quarantined"} {
		if !strings.Contains(page, want) {
			t.Errorf("device page lacks %q", want)
		}
	}
}

func TestAlertSettings(t *testing.T) {
	r, b, tok := loggedIn(t)
	_, page := b.get("/alerts")
	if !strings.Contains(page, "phone") || !strings.Contains(page, "Send test alert") {
		t.Fatal("the alerts page does not list the channel")
	}
	resp, _ := b.post("/alerts/enabled", url.Values{"csrf": {tok}, "name": {"phone"}, "enabled": {"false"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("toggle: %s", resp.Status)
	}
	// The script's way: JSON answer.
	resp = b.do(http.MethodPost, "/alerts/test", url.Values{"name": {"phone"}}, http.Header{"Accept": {"application/json"}, "X-Csrf-Token": {tok}})
	var ans struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || !ans.OK {
		t.Fatalf("test alert: %s %v %+v", resp.Status, err, ans)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"unknown_channel", url.Values{"name": {"pager"}, "enabled": {"true"}}, "no channel named"},
		{"bad_value", url.Values{"name": {"phone"}, "enabled": {"yes please"}}, "enabled: want true or false"},
	} {
		tc.form.Set("csrf", tok)
		resp, body := b.post("/alerts/enabled", tc.form)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s, want 400 with %q", tc.name, resp.Status, tc.want)
		}
	}
	want := []string{"enabled phone false", "test phone"}
	if calls := r.alerts.recorded(); strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Fatalf("alert calls %q, want %q", calls, want)
	}
}

func TestAlertsWithoutEngine(t *testing.T) {
	r := newRig(t, false)
	srv, err := New(r.srv.opt, r.backend, r.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	b := r.browser("192.168.50.104")
	b.setUp()
	_, page := b.get("/alerts")
	if !strings.Contains(page, "not available") {
		t.Fatal("without an alert engine the page does not say so")
	}
	tok := b.formToken("/")
	if resp, _ := b.post("/alerts/test", url.Values{"csrf": {tok}, "name": {"phone"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("test alert without an engine: %s", resp.Status)
	}
}

func TestEventLogFilters(t *testing.T) {
	r, b, _ := loggedIn(t)
	resp, _ := b.get("/events?mac=" + cameraMAC + "&type=finding&kind=default_credentials&severity=high")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event log: %s", resp.Status)
	}
	f := r.backend.filters[len(r.backend.filters)-1]
	if f.MAC.String() != cameraMAC || f.Type != "finding" || f.Kind != "default_credentials" || f.MinSev.String() != "high" {
		t.Fatalf("filter %+v", f)
	}
	for _, tc := range []struct{ name, query, want string }{
		{"bad_mac", "mac=ff:ff:ff:ff:ff:ff", "not a device"},
		{"bad_type", "type=everything", "type: want finding or observation"},
		{"bad_severity", "severity=apocalyptic", "unknown severity"},
		{"bad_limit", "limit=99999", "limit: 1 to 1000"},
	} {
		n := len(r.backend.filters)
		resp, body := b.get("/events?" + tc.query)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), tc.want) {
			t.Errorf("%s: %s, want 400 with %q", tc.name, resp.Status, tc.want)
		}
		if len(r.backend.filters) != n {
			t.Errorf("%s: the backend was asked with a bad filter", tc.name)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	r, b, _ := loggedIn(t)
	for _, path := range []string{"/", "/login", "/devices/" + cameraMAC, "/static/app.js", "/api/v1/status", "/nowhere"} {
		resp, _ := b.get(path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			!strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	// A page from another host name (DNS rebinding) is refused, and so is
	// a name nobody configured, which any LAN device could take by DHCP.
	for _, host := range []string{"evil.example", "evil.example:8443", "192.168.50.1.evil.example", "iotgw.lan"} {
		rec := r.serveHost(host, "/login")
		if rec != http.StatusMisdirectedRequest {
			t.Errorf("Host %q: %d, want 421", host, rec)
		}
	}
	for _, host := range []string{"192.168.50.1:8443", "router.lan", "ROUTER.LAN.", "192.168.50.1", "nas.home", "nas.home.:8443"} {
		if rec := r.serveHost(host, "/login"); rec != http.StatusOK {
			t.Errorf("Host %q: %d, want 200", host, rec)
		}
	}
}

func TestPagesHaveNoInlineScriptsOrExternalAssets(t *testing.T) {
	_, b, _ := loggedIn(t)
	for _, path := range []string{"/", "/devices/" + cameraMAC, "/events", "/policy", "/alerts", "/login"} {
		_, body := b.get(path)
		lower := strings.ToLower(body)
		for _, bad := range []string{"<script>", "onclick=", "onload=", "onsubmit=", "http://", "https://", " style="} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

func TestDevicePageShowsEvidence(t *testing.T) {
	r, b, _ := loggedIn(t)
	r.backend.devices[cameraMAC].Identity = map[string]string{"vendor": "Hikvision (0.9, OUI + banner)"}
	_, page := b.get("/devices/" + cameraMAC)
	for _, want := range []string{
		"telnet login with the factory default password of Hikvision", // the finding
		"provision 5.1-1", "ad***", // evidence, already redacted
		"<svg", `class="pic-marker sev-critical"`, "no traffic figures yet", // the picture
		"Hikvision (0.9, OUI + banner)", // identity with confidence
		"No scorecard yet",
	} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("device page lacks %q", want)
		}
	}
	resp, _ := b.get("/devices/ff:ff:ff:ff:ff:ff")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("multicast MAC: %s, want 400", resp.Status)
	}
	resp, _ = b.get("/devices/02:00:00:00:00:01")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown device: %s, want 404", resp.Status)
	}
}

// TestDevicePageSaysWhyPolicyWaits: a device whose quarantine waits for
// the owner says why on its page; one that waits for nothing has no
// such card.
func TestDevicePageSaysWhyPolicyWaits(t *testing.T) {
	r, b, _ := loggedIn(t)
	_, page := b.get("/devices/" + cameraMAC)
	if strings.Contains(page, "Waiting for you") {
		t.Error("a device policy does not wait on says it waits")
	}
	r.backend.devices[cameraMAC].Awaiting = "its MAC stands for several devices <b>"
	_, page = b.get("/devices/" + cameraMAC)
	if !strings.Contains(page, "Waiting for you") || !strings.Contains(page, "its MAC stands for several devices &lt;b&gt;") {
		t.Errorf("the device page does not say why policy waits (escaped):\n%s", page)
	}
}

// TestStreamEndsWithSession: an open event stream ends when its session
// does (logout, a new password elsewhere, expiry), not only when the
// browser closes it.
func TestStreamEndsWithSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(r *rig, b *browser, tok string)
	}{
		{"logout", func(_ *rig, b *browser, tok string) {
			if resp, _ := b.post("/logout", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
				b.r.t.Fatalf("logout: %s", resp.Status)
			}
		}},
		{"expiry", func(r *rig, _ *browser, _ string) { r.clock.Advance(sessionIdle + time.Minute) }},
		// The stream's own checks of its session are no use of it: an
		// open tab alone must not keep the owner logged in.
		{"idle_hour_by_hour", func(r *rig, _ *browser, _ string) {
			for range int(sessionIdle/time.Hour) + 1 {
				r.clock.Advance(time.Hour)
				time.Sleep(50 * time.Millisecond) // several checks per hour
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b, tok := loggedIn(t)
			r.srv.sessionRecheck = 10 * time.Millisecond
			req := httptest.NewRequest(http.MethodGet, r.base+"/api/v1/stream", nil)
			req.RemoteAddr = b.remote
			for _, c := range b.jar.Cookies(req.URL) {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				r.srv.ServeHTTP(rec, req)
				close(done)
			}()
			// Still open while the session stands.
			select {
			case <-done:
				t.Fatalf("the stream ended while logged in: %d %s", rec.Code, rec.Body)
			case <-time.After(100 * time.Millisecond):
			}
			tc.end(r, b, tok)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the stream outlived its session")
			}
			if rec.Code != http.StatusOK {
				t.Errorf("stream status %d", rec.Code)
			}
		})
	}
}

// TestTrustedDeviceOffersNoQuarantine: the daemon refuses to quarantine
// a trusted device, so its page offers no quarantine button that could
// only fail, and says how to quarantine it; trusting it again is a
// click away. The forms that cut a device off, or may, carry the
// question the page's script asks before they post (the script's side is
// tested in a real browser, test/browser); trusting and releasing cut
// nothing off and do not ask.
func TestTrustedDeviceOffersNoQuarantine(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		_, b, tok := loggedIn(t)
		if trusted {
			if resp, body := b.post("/devices/"+cameraMAC+"/trust", url.Values{"csrf": {tok}, "trusted": {"true"}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("trust: %s\n%s", resp.Status, body)
			}
		}
		_, body := b.get("/devices/" + cameraMAC)
		if got := strings.Contains(body, `id="quarantine"`); got == trusted {
			t.Errorf("trusted %v: the page offers the quarantine button: %v", trusted, got)
		}
		if got := strings.Contains(body, "stop trusting it first"); got != trusted {
			t.Errorf("trusted %v: the page says how to quarantine it: %v", trusted, got)
		}
		if trusted && !strings.Contains(body, `id="untrust"`) {
			t.Errorf("a trusted device's page has no button to stop trusting it")
		}
		want := map[string]bool{confirmQuarantine: !trusted, confirmUntrust: trusted}
		for question, asked := range want {
			if got := strings.Contains(body, `data-confirm="`+question+`"`); got != asked {
				t.Errorf("trusted %v: the page asks %q: %v, want %v", trusted, question, got, asked)
			}
		}
		if n := strings.Count(body, "data-confirm="); n != 1 {
			t.Errorf("trusted %v: %d forms ask, want 1", trusted, n)
		}
	}
}

// A state-changing request that the browser says came from another site
// is refused before anything is read of it: a token there proves
// nothing when a sibling host (a LAN device under the page's parent
// name, over plain HTTP) can plant the login form's token cookie, and
// the owner's browser, sent wrong passwords by that device's page, would
// lock the owner's own address out.
func TestCrossSiteRequestsRefused(t *testing.T) {
	refused := []struct {
		name   string
		header http.Header
	}{
		{"fetch_cross_site", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"fetch_same_site", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"null"}}},
		{"origin_other_host", http.Header{"Origin": {"http://evil.example"}}},
		{"origin_other_port", http.Header{"Origin": {"http://" + routerAddr + ":8088"}}},
		{"origin_other_scheme", http.Header{"Origin": {"https://" + routerAddr + ":8443"}}},
		{"origin_unparsable", http.Header{"Origin": {"http://%zz"}}},
		// What a page elsewhere gets by asking for no referrer; over
		// plain HTTP browsers send no Sec-Fetch-Site to tell.
		{"origin_null", http.Header{"Origin": {"null"}}},
	}
	r, owner, tok := loggedIn(t)
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			b := r.browser("192.168.50.104")
			pre := b.formToken("/login")
			for range freeFailures + 1 {
				resp := b.do(http.MethodPost, "/login", url.Values{"csrf": {pre}, "password": {"not the password"}}, tc.header)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("login: %s, want 403", resp.Status)
				}
			}
			resp := owner.do(http.MethodPost, "/devices/"+cameraMAC+"/quarantine", url.Values{"csrf": {tok}, "mode": {"block"}}, tc.header)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("form: %s, want 403", resp.Status)
			}
			tc.header.Set("X-Csrf-Token", tok)
			if resp := owner.do(http.MethodPost, "/api/v1/devices/"+cameraMAC+"/release", nil, tc.header); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("API: %s, want 403", resp.Status)
			}
		})
	}
	if calls := r.backend.recorded(); len(calls) != 0 {
		t.Fatalf("refused requests reached the backend: %q", calls)
	}
	// None of the refused logins counted against the owner's address.
	if resp, _ := r.browser("192.168.50.104").logIn(goodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's login after refused ones: %s", resp.Status)
	}
	// The page's own forms, which carry its origin under its same-origin
	// referrer policy, and clients that say nothing (curl).
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://" + routerAddr + ":8443"}},
		{"Origin": {"HTTP://" + routerAddr + ":8443"}},
		nil,
	} {
		if resp := owner.do(http.MethodPost, "/devices/"+cameraMAC+"/release", url.Values{"csrf": {tok}}, h); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("a form of the page with %v: %s", h, resp.Status)
		}
	}
}
