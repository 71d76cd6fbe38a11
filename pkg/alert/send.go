package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sender delivers one alert to one service. A *SendError says whether a
// failure is worth retrying; any other error is retried.
type Sender interface {
	Send(ctx context.Context, a Alert) error
}

// SendError classifies a failed delivery.
type SendError struct {
	Err error
	// Permanent: the service refused this alert (a 4xx other than 408 and
	// 429, a 5xx SMTP reply): retrying cannot help, so it is dropped and
	// logged.
	Permanent bool
	// RetryAfter is how long the service asked us to wait (HTTP
	// Retry-After, Telegram's retry_after); zero if it did not say.
	RetryAfter time.Duration
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

func permanent(err error) error { return &SendError{Err: err, Permanent: true} }

// maxRetryAfter bounds a service's request to wait.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an
// HTTP-date (RFC 9110 10.2.3), relative to now; ok is false for anything
// else. The result is within [0, 24h].
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}

// httpSender posts to HTTP services.
type httpSender struct {
	client  *http.Client
	now     func() time.Time
	service string
}

// newHTTPClient never follows redirects: a POST that is redirected is a
// wrong URL the owner must fix, and following it could send a token
// elsewhere.
func newHTTPClient(s *settings) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.tlsConfig("")
	tr.MaxIdleConns = 2
	// A service's headers are a few hundred bytes; Go's default allows
	// 10 MB, which a hostile server would have the daemon hold.
	tr.MaxResponseHeaderBytes = 16 << 10
	tr.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport:     tr,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends req and classifies the answer: 2xx is success; 408, 429 and
// 5xx are retried (honouring Retry-After); other statuses are permanent.
// describe turns an error body into a short text (nil: none).
func (h *httpSender) do(req *http.Request, describe func(body []byte) (string, time.Duration)) error {
	req.Header.Set("User-Agent", "iotgw")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", h.service, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var detail string
	var wait time.Duration
	if describe != nil {
		detail, wait = describe(body)
	}
	msg := fmt.Sprintf("%s: HTTP %s", h.service, clip(resp.Status, 64))
	if detail != "" {
		msg += ": " + clip(detail, 200)
	}
	se := &SendError{Err: errors.New(msg)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), h.now()); ok {
			wait = d
		}
		se.RetryAfter = min(wait, maxRetryAfter)
	default:
		se.Permanent = true
	}
	return se
}

// postJSON posts v as JSON to url.
func (h *httpSender) postJSON(ctx context.Context, url string, v any, header http.Header, describe func([]byte) (string, time.Duration)) error {
	body, err := json.Marshal(v)
	if err != nil {
		return permanent(fmt.Errorf("%s: %w", h.service, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("%s: %w", h.service, err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	return h.do(req, describe)
}

// redactor replaces a channel's secrets in error text: Go's HTTP errors
// quote the URL, and a Telegram bot token is part of it.
type redactor []string

func newRedactor(secrets []string) redactor {
	var r redactor
	for _, s := range secrets {
		if len(s) >= 4 {
			r = append(r, s)
		}
	}
	// The longest first: one secret may hold another (a webhook's path
	// and its escaped form), and the shorter replaced first would leave
	// the rest of the longer one.
	slices.SortFunc(r, func(a, b string) int { return len(b) - len(a) })
	return r
}

func (r redactor) text(s string) string {
	for _, secret := range r {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// maxErrorText bounds an error's text as the channel's status keeps it,
// the page shows it and the log writes it: a server's reply quoted in it
// may be as long as the server likes.
const maxErrorText = 512

// err keeps a SendError's classification, hides the secrets and bounds
// the text; the secrets go first, so that the cut cannot leave part of
// one.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := errors.New(clip(r.text(err.Error()), maxErrorText))
	var se *SendError
	if errors.As(err, &se) {
		return &SendError{Err: msg, Permanent: se.Permanent, RetryAfter: se.RetryAfter}
	}
	return msg
}
