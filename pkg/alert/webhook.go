package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook headers. The signature covers the timestamp and the body, so a
// receiver that checks the timestamp's age rejects a replayed request,
// and the alert id lets it drop a repeat.
const (
	HeaderSignature = "X-Iotgw-Signature"
	HeaderTimestamp = "X-Iotgw-Timestamp"
	HeaderAlertID   = "X-Iotgw-Alert-Id"
)

// Webhook posts the alert as JSON, signed with HMAC-SHA256.
type Webhook struct {
	http   httpSender
	url    string
	secret []byte
}

func newWebhook(s *settings, h httpSender) *Webhook {
	return &Webhook{http: h, url: s.URL, secret: []byte(s.Secret)}
}

// Send implements Sender.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return permanent(fmt.Errorf("webhook: %w", err))
	}
	ts := strconv.FormatInt(w.http.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("webhook: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, "sha256="+Sign(w.secret, ts, body))
	req.Header.Set(HeaderAlertID, a.ID)
	return w.http.do(req, nil)
}

// Sign is the webhook signature: hex HMAC-SHA256 under secret of the
// timestamp, a dot, and the body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors from VerifyWebhook.
var (
	ErrBadSignature = errors.New("webhook: bad signature")
	ErrStale        = errors.New("webhook: timestamp too old or in the future")
)

// VerifyWebhook is the receiver's check, for Go receivers and as the
// reference for docs/alerts.md: the signature header must be
// "sha256=<hex>" of Sign(secret, timestamp, body), compared in constant
// time, and the timestamp within maxSkew of now.
func VerifyWebhook(secret []byte, timestamp, signature string, body []byte, now time.Time, maxSkew time.Duration) error {
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(Sign(secret, timestamp, body))
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return ErrStale
	}
	return nil
}
