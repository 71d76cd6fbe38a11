package alert

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/internal/localzone"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/store"
)

// Config is the [alert] section of the TOML configuration.
type Config struct {
	// BaseURL is the local web page as the owner's phone reaches it, e.g.
	// "http://192.168.1.1:8080"; alerts link to BaseURL/devices/<mac>.
	BaseURL string `toml:"base_url"`
	// TimeZone is the zone quiet hours are read in: a name
	// ("Europe/Berlin", which needs the zone database) or a POSIX rule
	// ("CET-1CEST,M3.5.0,M10.5.0/3"); empty: the router's local time.
	TimeZone string          `toml:"timezone"`
	Channels []ChannelConfig `toml:"channel"`
}

// Channel types.
const (
	TypeNtfy     = "ntfy"
	TypeGotify   = "gotify"
	TypePushover = "pushover"
	TypeTelegram = "telegram"
	TypeWebhook  = "webhook"
	TypeEmail    = "email"
	TypeMQTT     = "mqtt"
)

// Public service defaults; tests override them with local servers.
const (
	DefaultNtfyURL     = "https://ntfy.sh"
	DefaultPushoverURL = "https://api.pushover.net"
	DefaultTelegramURL = "https://api.telegram.org"
)

// ChannelConfig is one [[alert.channel]] entry. Which keys apply depends
// on Type; docs/alerts.md lists them per type.
type ChannelConfig struct {
	Type string `toml:"type"`
	// Name identifies the channel on the page and in the outbox; default
	// the type. Two channels of one type need names.
	Name string `toml:"name"`
	// MinSeverity: alerts below it are not sent here (default "low"; for
	// mqtt "info", so Home Assistant sees every state change).
	MinSeverity string `toml:"min_severity"`
	// Kinds, if set, are the only alert kinds sent here.
	Kinds []string `toml:"kinds"`
	// QuietHours "22:00-07:00": non-urgent alerts wait until the end.
	QuietHours string `toml:"quiet_hours"`
	// Rate "10/min" (also /s, /h; "off" for none; default 10/min, for
	// mqtt off) and Burst (default 5): beyond them alerts are combined
	// into a digest.
	Rate  string `toml:"rate"`
	Burst int    `toml:"burst"`

	// URL: ntfy server, Gotify server, webhook URL, MQTT broker
	// (mqtt://host:1883, mqtts://host:8883); for pushover and telegram an
	// override of the public API's address.
	URL string `toml:"url"`
	// Topic is the ntfy topic.
	Topic string `toml:"topic"`
	// Token: ntfy access token, Gotify application token, Pushover
	// application token, Telegram bot token.
	Token string `toml:"token"`
	// User is the Pushover user or group key; Device an optional Pushover
	// device name.
	User   string `toml:"user"`
	Device string `toml:"device"`
	// ChatID is the Telegram chat.
	ChatID string `toml:"chat_id"`
	// Secret signs webhook bodies (HMAC-SHA256), at least 16 characters.
	Secret string `toml:"secret"`
	// Username and Password for ntfy (instead of a token), SMTP and MQTT.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// Server is the SMTP server host:port.
	Server string `toml:"server"`
	// From and To are e-mail addresses.
	From string   `toml:"from"`
	To   []string `toml:"to"`
	// TLS for e-mail: "starttls" (default), "tls" (implicit, port 465) or
	// "none", which also needs InsecurePlaintext.
	TLS string `toml:"tls"`
	// InsecurePlaintext allows a channel to send its credential
	// unencrypted to another host: e-mail without TLS (a LAN relay), a
	// token or password over http:// or mqtt:// (a service on the LAN).
	InsecurePlaintext bool `toml:"insecure_plaintext"`
	// CAFile is a PEM file of extra trusted certificates (a self-hosted
	// server's own CA) for HTTPS, SMTP and MQTT over TLS.
	CAFile string `toml:"ca_file"`
	// ClientID (MQTT; default "iotgw-<hostname>"), DiscoveryPrefix
	// (default "homeassistant"), TopicPrefix (default "iotgw").
	ClientID        string `toml:"client_id"`
	DiscoveryPrefix string `toml:"discovery_prefix"`
	TopicPrefix     string `toml:"topic_prefix"`
}

// Redacted is the channel's configuration as the page may show it:
// tokens, passwords, the webhook secret and the Pushover user key
// replaced by "***" when set.
func (c ChannelConfig) Redacted() ChannelConfig {
	for _, f := range []*string{&c.Token, &c.Password, &c.Secret, &c.User} {
		if *f != "" {
			*f = "***"
		}
	}
	c.To = append([]string(nil), c.To...)
	c.Kinds = append([]string(nil), c.Kinds...)
	return c
}

// Rate defaults.
const (
	DefaultRate  = "10/min"
	DefaultBurst = 5
)

// Validate checks the section without touching the network or files
// other than ca_file; errors name the channel.
func (c Config) Validate() error {
	_, err := c.build(nil)
	return err
}

// ChannelError is a fault in one channel of the section, so that the
// configuration's reader can point at its [[alert.channel]] table.
type ChannelError struct {
	Index int // from 0, in the order of the file
	Name  string
	Err   error
}

func (e *ChannelError) Error() string {
	return fmt.Sprintf("alert: channel %d (%q): %v", e.Index+1, e.Name, e.Err)
}

func (e *ChannelError) Unwrap() error { return e.Err }

// settings is a validated channel configuration.
type settings struct {
	ChannelConfig
	minSeverity event.Severity
	kinds       map[Kind]bool
	quiet       *quietHours
	rate        float64 // tokens per second; 0: unlimited
	burst       int
	roots       *x509.CertPool
	// plainWarning says why the channel's credential crosses the
	// network unencrypted; logged at start.
	plainWarning string
}

// build validates every channel; loc defaults to time.Local.
func (c Config) build(loc *time.Location) ([]settings, error) {
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("alert: base_url%s: want http://host[:port] or https://…", shownURL(c.BaseURL, true))
		}
		if u.User != nil {
			// It goes into the link of every alert, to the push services.
			return nil, fmt.Errorf("alert: base_url%s: no user or password in it: every alert carries it", shownURL(c.BaseURL, true))
		}
	}
	if loc == nil {
		loc = time.Local
		if c.TimeZone != "" {
			l, err := time.LoadLocation(c.TimeZone)
			if err != nil {
				// OpenWrt's form, which needs no zone database.
				var perr error
				if l, perr = localzone.ParsePOSIX(c.TimeZone); perr != nil {
					return nil, fmt.Errorf("alert: timezone %q: neither a zone name (%v) nor a POSIX rule (%v)", c.TimeZone, err, perr)
				}
			}
			loc = l
		}
	}
	// The store keeps the owner's on/off switch of each channel.
	if n := len(c.Channels); n > store.MaxMutedAlertChannels {
		return nil, fmt.Errorf("alert: %d channels; at most %d", n, store.MaxMutedAlertChannels)
	}
	seen := map[string]bool{}
	out := make([]settings, 0, len(c.Channels))
	for i, cc := range c.Channels {
		if cc.Name == "" {
			cc.Name = cc.Type
		}
		s, err := buildSettings(cc, loc)
		if err != nil {
			return nil, &ChannelError{Index: i, Name: cc.Name, Err: err}
		}
		if seen[cc.Name] {
			return nil, &ChannelError{Index: i, Name: cc.Name, Err: errors.New("name used twice (give each channel its own name)")}
		}
		seen[cc.Name] = true
		out = append(out, s)
	}
	return out, nil
}

var (
	channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	ntfyTopic   = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)
	topicPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)
)

func buildSettings(cc ChannelConfig, loc *time.Location) (settings, error) {
	s := settings{ChannelConfig: cc, burst: cc.Burst}
	if cc.Type == "" {
		return s, errors.New("type is required (ntfy, gotify, pushover, telegram, webhook, email, mqtt)")
	}
	if !channelName.MatchString(cc.Name) {
		return s, errors.New("name: letters, digits, '.', '_' and '-', at most 64")
	}
	sev := cc.MinSeverity
	if sev == "" {
		sev = "low"
		if cc.Type == TypeMQTT {
			sev = "info"
		}
	}
	var err error
	if s.minSeverity, err = event.ParseSeverity(sev); err != nil {
		return s, fmt.Errorf("min_severity: %w", err)
	}
	if len(cc.Kinds) > 0 {
		s.kinds = map[Kind]bool{}
		for _, k := range cc.Kinds {
			if !filterable(Kind(k)) {
				return s, fmt.Errorf("kinds: unknown kind %q (want new_device, quarantined, released, default_credentials, outdated_firmware, personal_data, daemon_problem)", k)
			}
			s.kinds[Kind(k)] = true
		}
	}
	if cc.QuietHours != "" {
		q, err := parseQuietHours(cc.QuietHours, loc)
		if err != nil {
			return s, fmt.Errorf("quiet_hours: %w", err)
		}
		s.quiet = &q
	}
	rate := cc.Rate
	if rate == "" {
		rate = DefaultRate
		if cc.Type == TypeMQTT {
			rate = "off" // Home Assistant on the LAN, not a phone: every state change counts
		}
	}
	if s.rate, err = parseRate(rate); err != nil {
		return s, fmt.Errorf("rate: %w", err)
	}
	if s.burst == 0 {
		s.burst = DefaultBurst
	}
	if s.burst < 1 || s.burst > 1000 {
		return s, fmt.Errorf("burst %d: want 1 to 1000", s.burst)
	}
	if cc.CAFile != "" {
		if !filepath.IsAbs(cc.CAFile) {
			// The daemon's working directory is not the owner's.
			return s, fmt.Errorf("ca_file %q: want an absolute path", cc.CAFile)
		}
		pem, err := os.ReadFile(cc.CAFile)
		if err != nil {
			return s, fmt.Errorf("ca_file: %w", err)
		}
		s.roots, err = x509.SystemCertPool()
		if err != nil || s.roots == nil {
			s.roots = x509.NewCertPool()
		}
		if !s.roots.AppendCertsFromPEM(pem) {
			return s, fmt.Errorf("ca_file %s: no PEM certificate in it", cc.CAFile)
		}
	}
	return s, checkType(&s)
}

// checkType validates the per-type keys and fills their defaults.
func checkType(s *settings) error {
	switch s.Type {
	case TypeNtfy:
		s.URL = orWord(s.URL, DefaultNtfyURL)
		if !ntfyTopic.MatchString(s.Topic) {
			return errors.New("topic: 1 to 64 letters, digits, '-' or '_' (and hard to guess: the topic is its own password on a public server)")
		}
		if s.Token != "" && s.Username != "" {
			return errors.New("token and username: give one or the other")
		}
		// The topic is the channel's password where no token is set.
		s.plainWarning = plaintextCredential(s, true)
		return httpURL("url", s.URL)
	case TypeGotify:
		if s.Token == "" {
			return errors.New("token: the Gotify application token is required")
		}
		s.plainWarning = plaintextCredential(s, true)
		return httpURL("url", s.URL)
	case TypePushover:
		s.URL = orWord(s.URL, DefaultPushoverURL)
		if s.Token == "" || s.User == "" {
			return errors.New("token (application) and user (user or group key) are required")
		}
		s.plainWarning = plaintextCredential(s, true)
		return httpURL("url", s.URL)
	case TypeTelegram:
		s.URL = orWord(s.URL, DefaultTelegramURL)
		if s.Token == "" || s.ChatID == "" {
			return errors.New("token (from @BotFather) and chat_id are required")
		}
		if strings.ContainsAny(s.Token, "/?#% ") {
			return errors.New("token: not a bot token")
		}
		s.plainWarning = plaintextCredential(s, true)
		return httpURL("url", s.URL)
	case TypeWebhook:
		if len(s.Secret) < 16 {
			return errors.New("secret: at least 16 characters, shared with the receiver to check the signature")
		}
		// The URL is a secret of its own (Home Assistant's webhook id):
		// the signature keeps a forged alert out, not the URL in.
		s.plainWarning = plaintextCredential(s, true)
		return httpURL("url", s.URL)
	case TypeEmail:
		return checkEmail(s)
	case TypeMQTT:
		u, err := url.Parse(s.URL)
		if err != nil || u.Host == "" {
			return errors.New("url: want mqtt://host:1883 or mqtts://host:8883")
		}
		switch u.Scheme {
		case "mqtt", "tcp", "mqtts", "ssl", "tls":
		default:
			return fmt.Errorf("url%s: scheme must be mqtt or mqtts", shownURL(s.URL, false))
		}
		if u.User != nil {
			return errors.New("url: give the broker's user name and password as username and password, not in the URL")
		}
		s.DiscoveryPrefix = orWord(s.DiscoveryPrefix, "homeassistant")
		s.TopicPrefix = orWord(s.TopicPrefix, "iotgw")
		if !topicPrefix.MatchString(s.DiscoveryPrefix) || !topicPrefix.MatchString(s.TopicPrefix) {
			return errors.New("discovery_prefix, topic_prefix: letters, digits, '-', '_' and '/' between them")
		}
		if s.Password != "" && s.Username == "" {
			return errors.New("password: needs a username (MQTT 3.1.1 sends no password alone)")
		}
		s.plainWarning = plaintextCredential(s, s.Password != "")
		if s.ClientID == "" {
			host, _ := os.Hostname()
			s.ClientID = "iotgw-" + clip(host, 40)
		}
		return nil
	}
	return fmt.Errorf("type %q: want ntfy, gotify, pushover, telegram, webhook, email or mqtt", s.Type)
}

// plaintextCredential is the warning for a channel that sends a
// credential unencrypted (http://, mqtt://) to another host, unless the
// owner set insecure_plaintext: on the LAN the devices iotgw watches could
// read it. It is a warning, not a refusal, so that a configuration that
// worked keeps working after an upgrade; e-mail without TLS is refused,
// as it always was. Loopback stays on the router.
func plaintextCredential(s *settings, sendsCredential bool) string {
	u, err := url.Parse(s.URL)
	if !sendsCredential || s.InsecurePlaintext || err != nil {
		return ""
	}
	switch u.Scheme {
	case "http", "mqtt", "tcp":
	default:
		return ""
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil && a.IsLoopback() || u.Hostname() == "localhost" {
		return ""
	}
	return "sends its token, password, topic or secret URL unencrypted: use https (mqtts for MQTT), or set insecure_plaintext = true for a service on the LAN"
}

func httpURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// A webhook's path is its secret, a server's query may hold a token.
		return fmt.Errorf("%s%s: want an http:// or https:// URL", key, shownURL(raw, false))
	}
	if u.User != nil {
		return fmt.Errorf("%s: put credentials in token/username/password, not in the URL", key)
	}
	return nil
}

// shownURL is raw as an error message may show it, with a leading
// space, or "" when nothing of it can be shown: user name and password
// masked, no query or fragment, the path only if keepPath. Text that is
// not a URL with a scheme and a host is not shown at all: it could be
// anything, a pasted token too.
func shownURL(raw string, keepPath bool) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return ""
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host}
	if u.User != nil {
		v.User = url.User("xxxxx")
	}
	if keepPath {
		v.Path = u.Path
	}
	shown := v.String()
	if !keepPath && (u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "") {
		shown += "/…"
	}
	return " " + strconv.Quote(shown)
}

func checkEmail(s *settings) error {
	host, port, err := net.SplitHostPort(s.Server)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("server %q: want host:port, e.g. smtp.example.com:587", s.Server)
	}
	switch s.TLS {
	case "":
		s.TLS = "starttls"
	case "starttls", "tls":
	case "none":
		if !s.InsecurePlaintext {
			return errors.New(`tls = "none" sends mail (and the password) unencrypted: set insecure_plaintext = true for a LAN relay`)
		}
	default:
		return fmt.Errorf("tls %q: want starttls, tls or none", s.TLS)
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return fmt.Errorf("from %q: %w", s.From, err)
	}
	if len(s.To) == 0 {
		return errors.New("to: at least one address")
	}
	for _, to := range s.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("to %q: %w", to, err)
		}
	}
	if (s.Username == "") != (s.Password == "") {
		return errors.New("username and password: give both or neither")
	}
	return nil
}

// tlsConfig is the client TLS configuration for serverName.
func (s *settings) tlsConfig(serverName string) *tls.Config {
	return &tls.Config{ServerName: serverName, RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// secrets are the values an error message must never show.
func (s *settings) secrets() []string {
	out := []string{s.Token, s.Password, s.Secret, s.User}
	if s.Type == TypeNtfy {
		out = append(out, s.Topic) // whoever knows it reads the alerts
	}
	if u, err := url.Parse(s.URL); err == nil && s.Type == TypeWebhook {
		// A webhook URL's path or query is often its only secret
		// (Home Assistant's webhook id); Go's errors quote it escaped.
		out = append(out, u.Path, u.EscapedPath(), u.RawQuery)
		// Some services put it in the host name instead
		// (eo….m.pipedream.net), which Go's errors quote too. An IP
		// address is no secret and says where the alert went.
		if host := u.Hostname(); host != "" {
			if _, err := netip.ParseAddr(host); err != nil {
				out = append(out, host)
			}
		}
	}
	return out
}

// accepts reports whether the channel wants alert a.
func (s *settings) accepts(a *Alert) bool {
	if a.Severity < s.minSeverity {
		return false
	}
	return s.kinds == nil || s.kinds[a.Kind]
}

// quietHours is a daily window in a time zone, e.g. 22:00-07:00.
type quietHours struct {
	start, end int // minutes after midnight
	loc        *time.Location
}

func parseQuietHours(s string, loc *time.Location) (quietHours, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return quietHours{}, fmt.Errorf("%q: want HH:MM-HH:MM, e.g. 22:00-07:00", s)
	}
	start, err1 := parseClock(from)
	end, err2 := parseClock(to)
	if err := errors.Join(err1, err2); err != nil {
		return quietHours{}, fmt.Errorf("%q: %w", s, err)
	}
	if start == end {
		return quietHours{}, fmt.Errorf("%q: start and end are the same", s)
	}
	return quietHours{start: start, end: end, loc: loc}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}

// active reports whether t falls in the window.
func (q quietHours) active(t time.Time) bool {
	lt := t.In(q.loc)
	m := lt.Hour()*60 + lt.Minute()
	if q.start < q.end {
		return m >= q.start && m < q.end
	}
	return m >= q.start || m < q.end
}

// endAfter is the first end of the window after t.
func (q quietHours) endAfter(t time.Time) time.Time {
	lt := t.In(q.loc)
	y, mo, d := lt.Date()
	end := time.Date(y, mo, d, q.end/60, q.end%60, 0, 0, q.loc)
	if !end.After(t) {
		end = time.Date(y, mo, d+1, q.end/60, q.end%60, 0, 0, q.loc)
	}
	return end
}

// parseRate reads "10/min", "1/s", "30/h" or "off" as tokens per second.
func parseRate(s string) (float64, error) {
	if s == "off" || s == "0" {
		return 0, nil
	}
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 {
		return 0, fmt.Errorf("%q: want N/s, N/min, N/h or off", s)
	}
	var d time.Duration
	switch strings.TrimSpace(per) {
	case "s", "sec", "second":
		d = time.Second
	case "m", "min", "minute":
		d = time.Minute
	case "h", "hour":
		d = time.Hour
	case "d", "day":
		d = 24 * time.Hour
	default:
		return 0, fmt.Errorf("%q: unit must be s, min, h or day", s)
	}
	return float64(count) / d.Seconds(), nil
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	if rate <= 0 {
		return nil
	}
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// available refills and returns the tokens at now. A clock set back (a
// router that booted with a wrong time, then NTP) refills from now on,
// rather than only once the new time has caught up with the old one.
func (b *bucket) available(now time.Time) float64 {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	return b.tokens
}

func (b *bucket) take() { b.tokens-- }

// nextToken is when the next whole token is there.
func (b *bucket) nextToken(now time.Time) time.Time {
	missing := 1 - b.tokens
	if missing <= 0 {
		return now
	}
	return now.Add(time.Duration(missing / b.rate * float64(time.Second)))
}
