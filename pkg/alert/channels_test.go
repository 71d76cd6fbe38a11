package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/event"
)

// captured is one request as a local stand-in for a service received it.
type captured struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// fakeService records requests and answers each with the next reply (the
// last one repeats).
type fakeService struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []captured
	replies []reply
}

type reply struct {
	status int
	header map[string]string
	body   string
}

func newFakeService(t *testing.T, replies ...reply) *fakeService {
	t.Helper()
	if len(replies) == 0 {
		replies = []reply{{status: 200, body: `{"ok":true}`}}
	}
	f := &fakeService{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, captured{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		rep := f.replies[min(len(f.reqs), len(f.replies))-1]
		f.mu.Unlock()
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeService) requests() []captured {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]captured(nil), f.reqs...)
}

// only returns the single request the service received.
func (f *fakeService) only(t *testing.T) captured {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("service received %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func testClockNow() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

// buildSender builds one channel's Sender from its configuration.
func buildSender(t *testing.T, cc ChannelConfig) Sender {
	t.Helper()
	all, err := Config{Channels: []ChannelConfig{cc}}.build(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return newSender(&all[0], Options{Now: testClockNow})
}

// sampleAlert is an urgent finding about a named device with a link.
func sampleAlert() Alert {
	a, _ := FromEvent(credEvent("yes"), Device{Name: "Hall camera", Vendor: "Xiongmai"})
	a.ID = "alert-0001"
	a.URL = "http://192.168.1.1:8080/devices/c0:56:e3:00:00:01"
	return a
}

func header(c captured, k string) string { return c.Header.Get(k) }

func TestNtfyRequest(t *testing.T) {
	srv := newFakeService(t)
	s := buildSender(t, ChannelConfig{Type: TypeNtfy, URL: srv.URL, Topic: "iotgw-x7Kq2", Token: "tk_abcdefghijklmnop"})
	a := sampleAlert()
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	want := map[string]string{
		"Title": "Factory-default password on Hall camera", "Priority": "4",
		"Tags": "rotating_light,iotgw,default_credentials", "Click": a.URL,
		"Authorization": "Bearer tk_abcdefghijklmnop", "Content-Type": "text/plain; charset=utf-8",
	}
	if r.Method != http.MethodPost || r.Path != "/iotgw-x7Kq2" || r.RawQuery != "" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	for k, v := range want {
		if got := header(r, k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if string(r.Body) != a.Body {
		t.Errorf("body %q, want the alert body", r.Body)
	}
}

func TestNtfyNonASCIITitleAndBasicAuth(t *testing.T) {
	srv := newFakeService(t)
	s := buildSender(t, ChannelConfig{Type: TypeNtfy, URL: srv.URL + "/", Topic: "home", Username: "phil", Password: "s3cret-pw"})
	a := FromNewDevice(Device{MAC: "02:00:00:00:00:05", Name: "Küche Thermostat"}, testClockNow())
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	title, err := new(mime.WordDecoder).DecodeHeader(header(r, "Title"))
	if err != nil || title != "New device: Küche Thermostat" {
		t.Errorf("title header %q decodes to %q (%v)", header(r, "Title"), title, err)
	}
	if u, p, ok := (&http.Request{Header: r.Header}).BasicAuth(); !ok || u != "phil" || p != "s3cret-pw" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if r.Path != "/home" || header(r, "Priority") != "3" || header(r, "Tags") != "new,iotgw,new_device" || header(r, "Click") != "" {
		t.Errorf("path %q priority %q tags %q click %q", r.Path, header(r, "Priority"), header(r, "Tags"), header(r, "Click"))
	}
}

func TestGotifyRequest(t *testing.T) {
	srv := newFakeService(t, reply{status: 200, body: `{"id":1}`})
	s := buildSender(t, ChannelConfig{Type: TypeGotify, URL: srv.URL + "/gotify", Token: "AbCdEf.123456"})
	a := sampleAlert()
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	if r.Method != http.MethodPost || r.Path != "/gotify/message" || r.RawQuery != "" {
		t.Errorf("request %s %s?%s (the token belongs in the header, not the URL)", r.Method, r.Path, r.RawQuery)
	}
	if header(r, "X-Gotify-Key") != "AbCdEf.123456" || header(r, "Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"title": a.Title, "message": a.Body, "priority": float64(8),
		"extras": map[string]any{
			"client::display":      map[string]any{"contentType": "text/plain"},
			"client::notification": map[string]any{"click": map[string]any{"url": a.URL}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body\n got %v\nwant %v", got, want)
	}
}

func TestPushoverRequest(t *testing.T) {
	srv := newFakeService(t, reply{status: 200, body: `{"status":1,"request":"x"}`})
	s := buildSender(t, ChannelConfig{Type: TypePushover, URL: srv.URL, Token: "azGDORePK8gMaC0QOYAMyEEuzJnyUi", User: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"})
	a := sampleAlert()
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	if r.Method != http.MethodPost || r.Path != "/1/messages.json" || header(r, "Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("request %s %s %q", r.Method, r.Path, header(r, "Content-Type"))
	}
	form, err := url.ParseQuery(string(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"token": {"azGDORePK8gMaC0QOYAMyEEuzJnyUi"}, "user": {"uQiRzpo4DXghDmr9QzzfQu27cmVRsG"},
		"title": {a.Title}, "message": {a.Body}, "priority": {"1"},
		"url": {a.URL}, "url_title": {"Open in iotgw"}, "timestamp": {"1772600767"},
	}
	if !reflect.DeepEqual(form, want) {
		t.Errorf("form\n got %v\nwant %v", form, want)
	}
}

func TestTelegramRequest(t *testing.T) {
	srv := newFakeService(t, reply{status: 200, body: `{"ok":true,"result":{}}`})
	const token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	for _, tc := range []struct {
		name   string
		chatID string
		want   any
	}{{"numeric_chat", "-1001234567890", float64(-1001234567890)}, {"channel_name", "@home_alerts", "@home_alerts"}} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.requests())
			s := buildSender(t, ChannelConfig{Type: TypeTelegram, URL: srv.URL, Token: token, ChatID: tc.chatID})
			a := sampleAlert()
			if err := s.Send(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			r := srv.requests()[before]
			if r.Method != http.MethodPost || r.Path != "/bot"+token+"/sendMessage" || header(r, "Content-Type") != "application/json" {
				t.Errorf("request %s %s", r.Method, r.Path)
			}
			var got map[string]any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"chat_id": tc.want, "text": a.Title + "\n\n" + a.Body + "\n" + a.URL, "disable_web_page_preview": true}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("body\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestWebhookRequestAndSignature(t *testing.T) {
	srv := newFakeService(t, reply{status: 204})
	secret := "correct horse battery staple"
	s := buildSender(t, ChannelConfig{Type: TypeWebhook, URL: srv.URL + "/api/webhook/iotgw-8f3a?x=1", Secret: secret})
	a := sampleAlert()
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := srv.only(t)
	if r.Method != http.MethodPost || r.Path != "/api/webhook/iotgw-8f3a" || r.RawQuery != "x=1" || header(r, "Content-Type") != "application/json" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	ts, sig := header(r, HeaderTimestamp), header(r, HeaderSignature)
	if ts != "1772600767" || header(r, HeaderAlertID) != "alert-0001" || !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("timestamp %q signature %q id %q", ts, sig, header(r, HeaderAlertID))
	}
	var got Alert
	if err := json.Unmarshal(r.Body, &got); err != nil || got.ID != a.ID || got.Title != a.Title || got.Device.MAC != a.Device.MAC || got.Facts["protocol"] != "telnet" {
		t.Errorf("body %s (%v)", r.Body, err)
	}
	now := testClockNow().Add(30 * time.Second)
	for _, tc := range []struct {
		name            string
		secret, ts, sig string
		body            []byte
		now             time.Time
		want            error
	}{
		{"valid", secret, ts, sig, r.Body, now, nil},
		{"tampered_body", secret, ts, sig, append([]byte(" "), r.Body...), now, ErrBadSignature},
		{"wrong_secret", "another secret!!", ts, sig, r.Body, now, ErrBadSignature},
		{"timestamp_swapped", secret, "1772600999", sig, r.Body, now, ErrBadSignature},
		{"replayed_later", secret, ts, sig, r.Body, now.Add(10 * time.Minute), ErrStale},
		{"from_the_future", secret, ts, sig, r.Body, now.Add(-10 * time.Minute), ErrStale},
		{"no_prefix", secret, ts, strings.TrimPrefix(sig, "sha256="), r.Body, now, ErrBadSignature},
		{"not_hex", secret, ts, "sha256=zz", r.Body, now, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook([]byte(tc.secret), tc.ts, tc.sig, tc.body, tc.now, 5*time.Minute)
			if !errors.Is(err, tc.want) {
				t.Errorf("VerifyWebhook = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHTTPErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		name       string
		typ        string
		rep        reply
		permanent  bool
		retryAfter time.Duration
		text       string
	}{
		{"429_retry_after_seconds", TypeNtfy, reply{status: 429, header: map[string]string{"Retry-After": "120"}}, false, 2 * time.Minute, "HTTP 429"},
		{"503_retry_after_date", TypeGotify, reply{status: 503, header: map[string]string{"Retry-After": "Wed, 04 Mar 2026 05:16:07 GMT"}}, false, 10 * time.Minute, "HTTP 503"},
		{"500_no_header", TypeWebhook, reply{status: 500}, false, 0, "HTTP 500"},
		{"408_timeout", TypeWebhook, reply{status: 408}, false, 0, "HTTP 408"},
		{"retry_after_absurd", TypeNtfy, reply{status: 429, header: map[string]string{"Retry-After": "99999999999"}}, false, 24 * time.Hour, "HTTP 429"},
		{"400_dropped", TypeNtfy, reply{status: 400, body: `{"code":40001}`}, true, 0, "HTTP 400"},
		{"401_dropped", TypeGotify, reply{status: 401, body: `{"error":"Unauthorized","errorDescription":"you need to provide a valid access token"}`}, true, 0, "valid access token"},
		{"pushover_400_errors", TypePushover, reply{status: 400, body: `{"user":"invalid","errors":["user identifier is not a valid user"],"status":0}`}, true, 0, "user identifier is not a valid user"},
		{"telegram_429_retry_after_in_body", TypeTelegram, reply{status: 429, body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`}, false, 7 * time.Second, "retry after 7"},
		{"telegram_400_chat_not_found", TypeTelegram, reply{status: 400, body: `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`}, true, 0, "chat not found"},
		{"redirect_not_followed", TypeWebhook, reply{status: 301, header: map[string]string{"Location": "http://127.0.0.1:9/elsewhere"}}, true, 0, "HTTP 301"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeService(t, tc.rep)
			cc := ChannelConfig{Type: tc.typ, URL: srv.URL, Topic: "t", Token: "tok-123456", User: "u", ChatID: "1", Secret: "0123456789abcdef0123"}
			err := buildSender(t, cc).Send(context.Background(), sampleAlert())
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SendError", err)
			}
			if se.Permanent != tc.permanent || se.RetryAfter != tc.retryAfter || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v (permanent %v, retry after %v), want permanent %v, retry after %v, text %q",
					err, se.Permanent, se.RetryAfter, tc.permanent, tc.retryAfter, tc.text)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := testClockNow()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true}, {"30", 30 * time.Second, true}, {" 5 ", 5 * time.Second, true},
		{"-1", 0, false}, {"", 0, false}, {"soon", 0, false}, {"1.5", 0, false},
		{"Wed, 04 Mar 2026 05:07:07 GMT", time.Minute, true},
		{"Wed, 04 Mar 2026 05:00:00 GMT", 0, true}, // in the past: now
		{"9223372036854775807", 24 * time.Hour, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestNetworkErrorHidesToken: a Telegram bot token, an ntfy topic and a
// webhook's path are part of the URL Go's HTTP errors quote (escaped);
// the error the page and the log see must not show them.
func TestNetworkErrorHidesToken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, tc := range []struct {
		channel ChannelConfig
		secrets []string
		where   string
	}{
		{ChannelConfig{Type: TypeTelegram, URL: closed, Token: "987654321:ZZsecretBotTokenZZ", ChatID: "42"},
			[]string{"ZZsecretBotTokenZZ"}, "bot***"},
		{ChannelConfig{Type: TypeNtfy, URL: closed, Topic: "ZZsecretTopicZZ"}, []string{"ZZsecretTopicZZ"}, closed},
		{ChannelConfig{Type: TypeWebhook, URL: closed + "/api/webhook/ZZsecret%20hookZZ", Secret: "0123456789abcdef"},
			[]string{"ZZsecret%20hookZZ", "ZZsecret hookZZ", "hookZZ"}, closed},
		// A host name may be the secret (eo….m.pipedream.net); localhost
		// stands in for one that resolves without DNS.
		{ChannelConfig{Type: TypeWebhook, URL: fmt.Sprintf("http://localhost:%d/", port), Secret: "0123456789abcdef"},
			[]string{"localhost"}, fmt.Sprintf("http://***:%d/", port)},
	} {
		d, err := New(Config{Channels: []ChannelConfig{tc.channel}}, Options{Outbox: &memOutbox{}})
		if err != nil {
			t.Fatal(err)
		}
		name := string(tc.channel.Type)
		err = d.SendTest(context.Background(), name)
		var se *SendError
		if err == nil || errors.As(err, &se) && se.Permanent {
			t.Fatalf("%s: a refused connection gave %v; want a retryable error", name, err)
		}
		for _, secret := range tc.secrets {
			if strings.Contains(err.Error(), secret) || strings.Contains(d.Status()[0].LastError, secret) {
				t.Errorf("%s: error shows %q: %v", name, secret, err)
			}
		}
		if !strings.Contains(err.Error(), tc.where) {
			t.Errorf("%s: error %q: the redacted URL should still say where it went", name, err)
		}
	}
}

func TestPriorities(t *testing.T) {
	for _, tc := range []struct {
		sev                event.Severity
		urgent             bool
		ntfy, gotify, push int
	}{
		{event.SeverityInfo, false, 2, 2, -1},
		{event.SeverityLow, false, 3, 4, -1},
		{event.SeverityMedium, false, 3, 5, 0},
		{event.SeverityHigh, false, 4, 8, 0},
		{event.SeverityCritical, true, 5, 10, 1},
		{event.SeverityLow, true, 4, 8, 1},
	} {
		a := Alert{Severity: tc.sev, Urgent: tc.urgent}
		if n, g, p := ntfyPriority(a), gotifyPriority(a), pushoverPriority(a); n != tc.ntfy || g != tc.gotify || p != tc.push {
			t.Errorf("%v urgent=%v: ntfy %d gotify %d pushover %d, want %d %d %d", tc.sev, tc.urgent, n, g, p, tc.ntfy, tc.gotify, tc.push)
		}
	}
}

func TestPushoverDigestFitsLimit(t *testing.T) {
	srv := newFakeService(t)
	s := buildSender(t, ChannelConfig{Type: TypePushover, URL: srv.URL, Token: "tok", User: "usr"})
	var parts []Alert
	for i := range maxDigestParts {
		a := testAlert(i, false)
		a.Title = strings.Repeat("ü", 55) // 110 bytes each
		parts = append(parts, a)
	}
	if err := s.Send(context.Background(), digest(parts)); err != nil {
		t.Fatal(err)
	}
	form, _ := url.ParseQuery(string(srv.only(t).Body))
	msg := form.Get("message")
	if len(msg) > pushoverMaxMessage || !utf8.ValidString(msg) || !strings.HasPrefix(msg, "- ü") || !strings.Contains(msg, "\n- ") {
		t.Errorf("message of %d bytes: %q", len(msg), msg)
	}
}

// TestHeaderTitleReadsAsSent checks the title in ntfy's Title header and
// the e-mail's Subject: both are RFC 2047-decoded by their readers, so a
// device's name that is itself an encoded word must not be decoded into
// the line breaks and bidi controls clip took out.
func TestHeaderTitleReadsAsSent(t *testing.T) {
	srv := newFakeService(t)
	ntfy := buildSender(t, ChannelConfig{Type: TypeNtfy, URL: srv.URL, Topic: "home"})
	email := buildSender(t, ChannelConfig{Type: TypeEmail, Server: "127.0.0.1:1", From: "iotgw@example.com",
		To: []string{"owner@example.com"}}).(*Email)
	for _, tc := range []struct{ name, device string }{
		{"ascii", "Hall camera"},
		{"non_ascii", "Küchenwaage ⚖"},
		{"q_word_with_line_break", "=?utf-8?q?Cam=0AReleased_by_you?="},
		{"b_word_with_bidi_override", "=?UTF-8?B?Y2Ft4oCu?= =?utf-8?b?Y2Ft?="},
		{"word_inside_text", "cam=?utf-8?q?=E2=80=AE?=era"},
		{"word_and_non_ascii", "ä =?utf-8?q?=0A?="},
		{"long_word", strings.Repeat("=?utf-8?q?x?=", 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := FromNewDevice(Device{MAC: "02:00:00:00:00:05", Name: tc.device}, testClockNow())
			a.ID = "id-5"
			if err := ntfy.Send(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			raw := header(reqs[len(reqs)-1], "Title")
			msg, err := mail.ReadMessage(bytes.NewReader(email.message(a)))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []struct{ raw, want string }{
				{raw, a.Title},
				{msg.Header.Get("Subject"), "[iotgw] " + a.Title},
			} {
				got, err := new(mime.WordDecoder).DecodeHeader(h.raw)
				if err != nil || got != h.want {
					t.Errorf("header %q decodes to %q (%v), want %q", h.raw, got, err, h.want)
				}
				if strings.Trim(h.raw, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != "" {
					t.Errorf("header %q: not printable ASCII", h.raw)
				}
				for _, w := range strings.Fields(h.raw) {
					if strings.HasPrefix(w, "=?") && len(w) > 75 {
						t.Errorf("encoded word %q: longer than RFC 2047's 75 characters", w)
					}
				}
			}
		})
	}
}
