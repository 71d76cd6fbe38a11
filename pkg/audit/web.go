package audit

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

// Bounds of an HTTP exchange.
const (
	maxHeaderBytes = 32 << 10
	maxBodyRead    = 4 << 10 // of a 401 page, for lockout messages
	userAgent      = "iotgw-audit"
)

// webService tries Basic or Digest logins on one HTTP(S) port, one request
// per candidate, always GET /.
type webService struct {
	r      *run
	port   uint16
	url    string
	client *http.Client
	ch     challenge // the last challenge the server sent
}

// probeWeb asks for / without credentials and returns the service when
// the server answers 401 with a Basic or Digest challenge; errLockedOut
// when it refuses the client for now.
func (r *run) probeWeb(ctx context.Context, port uint16, useTLS bool) (*webService, error) {
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	w := &webService{r: r, port: port, url: r.rootURL(scheme, port)}
	want := r.hostPort(port)
	w.client = &http.Client{
		Transport: &http.Transport{
			Proxy: nil, // never the environment's proxy: the device is on the LAN
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr != want {
					return nil, fmt.Errorf("%w: %s", ErrNotLAN, addr)
				}
				return r.dial(ctx, port)
			},
			// Device certificates are self-signed: the audit tests the
			// device's login, not its certificate.
			TLSClientConfig:        &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives:      true,
			ResponseHeaderTimeout:  r.a.opts.ResponseTimeout,
			MaxResponseHeaderBytes: maxHeaderBytes,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       r.a.opts.ResponseTimeout,
	}
	resp, body, err := w.get(ctx, "")
	if err != nil {
		return nil, err
	}
	if refusesClient(resp.StatusCode) {
		return nil, fmt.Errorf("GET / answered %d: %w", resp.StatusCode, errLockedOut)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return nil, fmt.Errorf("GET / answered %d: %w", resp.StatusCode, errNoAuth)
	}
	if lockoutText(string(body)) {
		// Only a 401 page is read so: any other page may say "locked"
		// of something else.
		return nil, fmt.Errorf("GET / says the device is locked: %w", errLockedOut)
	}
	ch, ok := parseChallenges(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		return nil, errNoAuth
	}
	w.ch = ch
	return w, nil
}

// rootURL is the URL of / on port of the device. A link-local address's
// zone is escaped ("%25", RFC 6874): written as is, it makes no URL.
func (r *run) rootURL(scheme string, port uint16) string {
	return (&url.URL{Scheme: scheme, Host: r.hostPort(port), Path: "/"}).String()
}

// get sends GET / with the Authorization value (if any) and returns the
// response with the first bytes of its body.
func (w *webService) get(ctx context.Context, authorization string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead))
	return resp, body, nil
}

// login tries one candidate: 2xx or 3xx is acceptance, 401 rejection,
// 429 or a lockout message lockout. A Digest challenge marked stale (the
// password matched, the nonce expired) is answered once more.
func (w *webService) login(ctx context.Context, cand creds.Candidate) (attempt, error) {
	res := attempt{mechanism: "Basic"}
	if w.ch.digest {
		res.mechanism = "Digest"
	}
	for try := 0; try < 2; try++ {
		resp, body, err := w.get(ctx, w.ch.authorization(http.MethodGet, "/", cand.User, cand.Password))
		if err != nil {
			res.sent = !isDialError(err)
			return res, fmt.Errorf("http login: %w", err)
		}
		res.sent = true
		res.outcome = webVerdict(resp.StatusCode, resp.Header.Get("Location"), body)
		if resp.StatusCode != http.StatusUnauthorized {
			return res, nil
		}
		ch, ok := parseChallenges(resp.Header.Values("WWW-Authenticate"))
		if !ok {
			return res, nil // no way to go on; this one was rejected
		}
		w.ch = ch
		if !ch.stale {
			return res, nil
		}
	}
	return res, nil
}

// webVerdict maps an HTTP or RTSP status after a login to its outcome. A
// redirect counts as acceptance unless it leads to a login or error page
// (some servers answer a rejected Basic login that way). The service
// asked for a login (401) before the first attempt, so a 403 or 423 now
// is the device refusing the client, not the password: a ban, or a
// user without the right to the page, and either way no reason to go on.
func webVerdict(status int, location string, body []byte) outcome {
	switch {
	case status >= 200 && status < 300:
		return outcomeAccepted
	case status >= 300 && status < 400:
		loc := strings.ToLower(location)
		for _, w := range []string{"login", "logon", "auth", "error", "fail", "denied"} {
			if strings.Contains(loc, w) {
				return outcomeRejected
			}
		}
		return outcomeAccepted
	case status == http.StatusTooManyRequests || status == http.StatusForbidden || status == http.StatusLocked || lockoutText(string(body)):
		return outcomeLockout
	}
	return outcomeRejected
}

func basicToken(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
