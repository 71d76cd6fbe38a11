package alert

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// Ntfy publishes to an ntfy topic (https://docs.ntfy.sh/publish/): a POST
// of the message to <server>/<topic> with Title, Priority, Tags and Click
// headers.
type Ntfy struct {
	http     httpSender
	endpoint string
	token    string
	user     string
	password string
}

func newNtfy(s *settings, h httpSender) *Ntfy {
	return &Ntfy{http: h, endpoint: strings.TrimRight(s.URL, "/") + "/" + s.Topic,
		token: s.Token, user: s.Username, password: s.Password}
}

// Send implements Sender.
func (n *Ntfy) Send(ctx context.Context, a Alert) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, strings.NewReader(a.Body))
	if err != nil {
		return permanent(fmt.Errorf("ntfy: %w", err))
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Title", headerText(a.Title))
	req.Header.Set("Priority", strconv.Itoa(ntfyPriority(a)))
	req.Header.Set("Tags", strings.Join(ntfyTags(a), ","))
	if a.URL != "" {
		req.Header.Set("Click", a.URL)
	}
	switch {
	case n.token != "":
		req.Header.Set("Authorization", "Bearer "+n.token)
	case n.user != "":
		req.SetBasicAuth(n.user, n.password)
	}
	return n.http.do(req, nil)
}

// ntfyPriority maps to ntfy's 1 (min) … 5 (max); urgent alerts are at
// least 4 (high).
func ntfyPriority(a Alert) int {
	p := [...]int{2, 3, 3, 4, 5}[min(max(int(a.Severity), 0), 4)]
	if a.Urgent {
		p = max(p, 4)
	}
	return p
}

// ntfyTags: the first is an emoji short code ntfy shows before the title.
func ntfyTags(a Alert) []string {
	emoji := "information_source"
	switch {
	case a.Kind == KindTest:
		emoji = "white_check_mark"
	case a.Kind == KindReleased:
		emoji = "unlock"
	case a.Kind == KindQuarantined:
		emoji = "lock"
	case a.Kind == KindNewDevice:
		emoji = "new"
	case a.Urgent || a.Severity >= event.SeverityHigh:
		emoji = "rotating_light"
	case a.Severity >= event.SeverityMedium:
		emoji = "warning"
	}
	return []string{emoji, "iotgw", string(a.Kind)}
}

// headerText is s as the text of a header its reader decodes by RFC 2047
// (ntfy's Title, an e-mail's Subject): printable ASCII as is, anything
// else in encoded words. Text holding "=?" is encoded too, though mime
// would leave it: a device named "=?utf-8?q?…?=" would otherwise be
// decoded into the line breaks and bidi controls clip took out.
func headerText(s string) string {
	if !strings.Contains(s, "=?") {
		return mime.QEncoding.Encode("utf-8", s)
	}
	// Words of at most 45 bytes, 60 in base64: at most 72 characters,
	// within RFC 2047's 75, and cut at a rune's start.
	var words []string
	start := 0
	for i := range s {
		if i-start > 41 {
			words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[start:i]))+"?=")
			start = i
		}
	}
	words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[start:]))+"?=")
	return strings.Join(words, " ")
}

// Gotify posts to a Gotify server's /message endpoint
// (https://gotify.net/docs/pushmsg) with the application token in the
// X-Gotify-Key header, and the device page as the notification's click
// URL (https://gotify.net/docs/msgextras).
type Gotify struct {
	http     httpSender
	endpoint string
	token    string
}

func newGotify(s *settings, h httpSender) *Gotify {
	return &Gotify{http: h, endpoint: strings.TrimRight(s.URL, "/") + "/message", token: s.Token}
}

type gotifyMessage struct {
	Title    string         `json:"title"`
	Message  string         `json:"message"`
	Priority int            `json:"priority"`
	Extras   map[string]any `json:"extras"`
}

// Send implements Sender.
func (g *Gotify) Send(ctx context.Context, a Alert) error {
	extras := map[string]any{"client::display": map[string]string{"contentType": "text/plain"}}
	if a.URL != "" {
		extras["client::notification"] = map[string]any{"click": map[string]string{"url": a.URL}}
	}
	msg := gotifyMessage{Title: a.Title, Message: a.Body, Priority: gotifyPriority(a), Extras: extras}
	return g.http.postJSON(ctx, g.endpoint, msg, http.Header{"X-Gotify-Key": {g.token}}, gotifyError)
}

// gotifyPriority: the Android app is silent below 4 and pops up from 8.
func gotifyPriority(a Alert) int {
	p := [...]int{2, 4, 5, 8, 10}[min(max(int(a.Severity), 0), 4)]
	if a.Urgent {
		p = max(p, 8)
	}
	return p
}

func gotifyError(body []byte) (string, time.Duration) {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"errorDescription"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", 0
	}
	return strings.TrimSpace(e.Error + " " + e.Description), 0
}

// Pushover posts to Pushover's message API
// (https://pushover.net/api): form fields token, user, title, message,
// priority, url, url_title, timestamp.
type Pushover struct {
	http     httpSender
	endpoint string
	token    string
	user     string
	device   string
}

func newPushover(s *settings, h httpSender) *Pushover {
	return &Pushover{http: h, endpoint: strings.TrimRight(s.URL, "/") + "/1/messages.json",
		token: s.Token, user: s.User, device: s.Device}
}

// Send implements Sender.
func (p *Pushover) Send(ctx context.Context, a Alert) error {
	form := url.Values{
		"token":    {p.token},
		"user":     {p.user},
		"title":    {clipText(a.Title, 250)},
		"message":  {truncate(a.Body, pushoverMaxMessage)},
		"priority": {strconv.Itoa(pushoverPriority(a))},
	}
	if a.URL != "" {
		form.Set("url", a.URL)
		form.Set("url_title", "Open in iotgw")
	}
	if !a.Time.IsZero() {
		form.Set("timestamp", strconv.FormatInt(a.Time.Unix(), 10))
	}
	if p.device != "" {
		form.Set("device", p.device)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return permanent(fmt.Errorf("pushover: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.http.do(req, pushoverError)
}

// pushoverMaxMessage: Pushover refuses messages over 1,024 characters.
const pushoverMaxMessage = 1000

// pushoverPriority: -1 quiet, 0 normal, 1 high (bypasses the user's own
// quiet hours) for urgent alerts. 2 (emergency) needs acknowledgement
// handling and is not used.
func pushoverPriority(a Alert) int {
	switch {
	case a.Urgent:
		return 1
	case a.Severity <= event.SeverityLow:
		return -1
	}
	return 0
}

func pushoverError(body []byte) (string, time.Duration) {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", 0
	}
	return strings.Join(e.Errors, "; "), 0
}

// Telegram sends through a bot's sendMessage method
// (https://core.telegram.org/bots/api#sendmessage) as plain text: no
// parse_mode, so a device name cannot inject markup.
type Telegram struct {
	http     httpSender
	endpoint string
	chatID   any
}

func newTelegram(s *settings, h httpSender) *Telegram {
	var chat any = s.ChatID
	if n, err := strconv.ParseInt(s.ChatID, 10, 64); err == nil {
		chat = n
	}
	return &Telegram{http: h, endpoint: strings.TrimRight(s.URL, "/") + "/bot" + s.Token + "/sendMessage", chatID: chat}
}

type telegramMessage struct {
	ChatID                any    `json:"chat_id"`
	Text                  string `json:"text"`
	DisableWebPagePreview bool   `json:"disable_web_page_preview"`
}

// Send implements Sender.
func (t *Telegram) Send(ctx context.Context, a Alert) error {
	msg := telegramMessage{ChatID: t.chatID, Text: a.Title + "\n\n" + text(a), DisableWebPagePreview: true}
	return t.http.postJSON(ctx, t.endpoint, msg, nil, telegramError)
}

// telegramError reads the Bot API's error object, whose retry_after
// answers a 429.
func telegramError(body []byte) (string, time.Duration) {
	var e struct {
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", 0
	}
	wait := time.Duration(min(max(e.Parameters.RetryAfter, 0), int(maxRetryAfter/time.Second))) * time.Second
	return e.Description, wait
}
