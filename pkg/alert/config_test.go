package alert

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/iotgw/iotgw/pkg/store"
)

func TestConfigValidate(t *testing.T) {
	ok := func(c ChannelConfig) Config { return Config{Channels: []ChannelConfig{c}} }
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" for valid
	}{
		{"empty", Config{}, ""},
		{"ntfy_public_default", ok(ChannelConfig{Type: "ntfy", Topic: "iotgw-x7Kq2"}), ""},
		{"ntfy_topic_with_slash", ok(ChannelConfig{Type: "ntfy", Topic: "a/b"}), "topic"},
		{"ntfy_token_and_user", ok(ChannelConfig{Type: "ntfy", Topic: "t", Token: "tk_1", Username: "u"}), "one or the other"},
		{"gotify_needs_token", ok(ChannelConfig{Type: "gotify", URL: "https://push.example.com"}), "token"},
		{"gotify_needs_url", ok(ChannelConfig{Type: "gotify", Token: "x"}), "url"},
		{"pushover_needs_user", ok(ChannelConfig{Type: "pushover", Token: "x"}), "user"},
		{"telegram_ok", ok(ChannelConfig{Type: "telegram", Token: "1:AA", ChatID: "42"}), ""},
		{"telegram_token_with_slash", ok(ChannelConfig{Type: "telegram", Token: "1:AA/../x", ChatID: "42"}), "not a bot token"},
		{"webhook_short_secret", ok(ChannelConfig{Type: "webhook", URL: "https://h.example/x", Secret: "short"}), "secret"},
		{"webhook_ftp_url", ok(ChannelConfig{Type: "webhook", URL: "ftp://h.example/x", Secret: "0123456789abcdef"}), "http"},
		{"webhook_credentials_in_url", ok(ChannelConfig{Type: "webhook", URL: "https://u:p@h.example/x", Secret: "0123456789abcdef"}), "not in the URL"},
		{"email_ok", ok(ChannelConfig{Type: "email", Server: "smtp.example.com:587", From: "iotgw@example.com", To: []string{"Me <me@example.com>"}, Username: "u", Password: "p"}), ""},
		{"email_plaintext_refused", ok(ChannelConfig{Type: "email", Server: "192.168.1.2:25", TLS: "none", From: "a@b.c", To: []string{"d@e.f"}}), "insecure_plaintext"},
		{"email_plaintext_lan_relay", ok(ChannelConfig{Type: "email", Server: "192.168.1.2:25", TLS: "none", InsecurePlaintext: true, From: "a@b.c", To: []string{"d@e.f"}}), ""},
		{"email_no_port", ok(ChannelConfig{Type: "email", Server: "smtp.example.com", From: "a@b.c", To: []string{"d@e.f"}}), "host:port"},
		{"email_bad_to", ok(ChannelConfig{Type: "email", Server: "s:25", From: "a@b.c", To: []string{"not an address"}}), "to"},
		{"email_header_injection_from", ok(ChannelConfig{Type: "email", Server: "s:25", From: "a@b.c\r\nBcc: x@y.z", To: []string{"d@e.f"}}), "from"},
		{"email_user_without_password", ok(ChannelConfig{Type: "email", Server: "s:587", From: "a@b.c", To: []string{"d@e.f"}, Username: "u"}), "both"},
		{"mqtt_ok", ok(ChannelConfig{Type: "mqtt", URL: "mqtts://ha.lan:8883", Username: "iotgw", Password: "pw"}), ""},
		{"mqtt_http_scheme", ok(ChannelConfig{Type: "mqtt", URL: "http://ha.lan"}), "scheme"},
		{"mqtt_wildcard_prefix", ok(ChannelConfig{Type: "mqtt", URL: "mqtt://ha.lan:1883", TopicPrefix: "iotgw/#"}), "topic_prefix"},
		{"mqtt_userinfo_in_url", ok(ChannelConfig{Type: "mqtt", URL: "mqtt://u:p@ha.lan:1883"}), "not in the URL"},
		{"mqtt_bad_scheme_hides_password", ok(ChannelConfig{Type: "mqtt", URL: "http://u:s3cretpw@ha.lan:1883"}), "xxxxx"},
		{"mqtt_password_alone", ok(ChannelConfig{Type: "mqtt", URL: "mqtt://ha.lan:1883", Password: "pw"}), "needs a username"},
		{"unknown_type", ok(ChannelConfig{Type: "slack"}), "type"},
		{"missing_type", ok(ChannelConfig{Name: "x"}), "type is required"},
		{"bad_name", ok(ChannelConfig{Type: "ntfy", Name: "my phone", Topic: "t"}), "name"},
		{"duplicate_names", Config{Channels: []ChannelConfig{{Type: "ntfy", Topic: "a"}, {Type: "ntfy", Topic: "b"}}}, "used twice"},
		{"bad_severity", ok(ChannelConfig{Type: "ntfy", Topic: "t", MinSeverity: "urgent"}), "min_severity"},
		{"bad_kind", ok(ChannelConfig{Type: "ntfy", Topic: "t", Kinds: []string{"digest"}}), "kinds"},
		{"quiet_hours_ok", ok(ChannelConfig{Type: "ntfy", Topic: "t", QuietHours: "22:00-07:00"}), ""},
		{"quiet_hours_bad", ok(ChannelConfig{Type: "ntfy", Topic: "t", QuietHours: "22-7"}), "quiet_hours"},
		{"quiet_hours_25h", ok(ChannelConfig{Type: "ntfy", Topic: "t", QuietHours: "22:00-25:00"}), "quiet_hours"},
		{"quiet_hours_empty_window", ok(ChannelConfig{Type: "ntfy", Topic: "t", QuietHours: "07:00-07:00"}), "same"},
		{"rate_per_hour", ok(ChannelConfig{Type: "ntfy", Topic: "t", Rate: "30/h", Burst: 10}), ""},
		{"rate_off", ok(ChannelConfig{Type: "ntfy", Topic: "t", Rate: "off"}), ""},
		{"rate_bad_unit", ok(ChannelConfig{Type: "ntfy", Topic: "t", Rate: "10/fortnight"}), "rate"},
		{"rate_negative", ok(ChannelConfig{Type: "ntfy", Topic: "t", Rate: "-1/min"}), "rate"},
		{"burst_too_big", ok(ChannelConfig{Type: "ntfy", Topic: "t", Burst: 5000}), "burst"},
		{"ca_file_missing", ok(ChannelConfig{Type: "ntfy", Topic: "t", CAFile: "/nonexistent/ca.pem"}), "ca_file"},
		{"base_url_ok", Config{BaseURL: "http://192.168.1.1:8080"}, ""},
		{"base_url_no_scheme", Config{BaseURL: "192.168.1.1"}, "base_url"},
		{"base_url_with_password", Config{BaseURL: "http://admin:s3cret@192.168.1.1:8080"}, "no user or password"},
		{"timezone_unknown", Config{TimeZone: "Mars/Olympus"}, "timezone"},
		{"timezone_posix_rule", Config{TimeZone: "CET-1CEST,M3.5.0,M10.5.0/3"}, ""},
		{"timezone_bad_rule", Config{TimeZone: "CET-1CEST,bogus"}, "nor a POSIX rule"},
		{"channels_at_cap", manyChannels(store.MaxMutedAlertChannels), ""},
		{"channels_over_cap", manyChannels(store.MaxMutedAlertChannels + 1), "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one mentioning %q", err, tc.err)
			}
		})
	}
}

// manyChannels is a configuration of n ntfy channels.
func manyChannels(n int) Config {
	var c Config
	for i := range n {
		c.Channels = append(c.Channels, ChannelConfig{Type: "ntfy", Name: fmt.Sprint("phone", i), Topic: fmt.Sprint("t", i)})
	}
	return c
}

func TestConfigFromTOML(t *testing.T) {
	const doc = `
[alert]
base_url = "http://192.168.1.1:8080"
timezone = "Europe/Berlin"

[[alert.channel]]
type = "ntfy"
name = "phone"
topic = "iotgw-x7Kq2"
token = "tk_abc"
quiet_hours = "22:00-07:00"
rate = "10/min"
burst = 5

[[alert.channel]]
type = "mqtt"
url = "mqtt://192.168.1.5:1883"
username = "iotgw"
password = "pw"
insecure_plaintext = true
`
	var file struct {
		Alert Config `toml:"alert"`
	}
	md, err := toml.Decode(doc, &file)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys %v", u)
	}
	all, err := file.Alert.build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Name != "phone" || all[1].Name != "mqtt" || all[0].quiet == nil || all[0].quiet.loc.String() != "Europe/Berlin" {
		t.Fatalf("built %+v", all)
	}
	if all[0].minSeverity.String() != "low" || all[1].minSeverity.String() != "info" || all[1].rate != 0 || all[0].rate != 10.0/60 || all[1].TopicPrefix != "iotgw" || all[1].DiscoveryPrefix != "homeassistant" {
		t.Errorf("defaults: %v %v %q %q", all[0].minSeverity, all[1].minSeverity, all[1].TopicPrefix, all[1].DiscoveryPrefix)
	}
}

// OpenWrt without a zone database: quiet hours in the zone of a POSIX
// rule, not in UTC.
func TestQuietHoursInPOSIXZone(t *testing.T) {
	cfg := Config{TimeZone: "CET-1CEST,M3.5.0,M10.5.0/3", Channels: []ChannelConfig{{Type: "ntfy", Topic: "t", QuietHours: "22:00-07:00"}}}
	all, err := cfg.build(nil)
	if err != nil {
		t.Fatal(err)
	}
	q := all[0].quiet
	for _, tc := range []struct {
		utc   string
		quiet bool
	}{
		{"2026-07-01T21:30:00Z", true},  // 23:30 summer time
		{"2026-07-01T05:30:00Z", false}, // 07:30
		{"2026-01-15T05:30:00Z", true},  // 06:30 winter time
		{"2026-01-15T20:30:00Z", false}, // 21:30
	} {
		at, err := time.Parse(time.RFC3339, tc.utc)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.active(at); got != tc.quiet {
			t.Errorf("at %s quiet = %v, want %v", tc.utc, got, tc.quiet)
		}
	}
}

func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Config{Channels: []ChannelConfig{{Type: "ntfy", Topic: "t", CAFile: bad}}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a file without a certificate gave %v", err)
	}
}

// A relative ca_file is refused: check-config may be run in the
// directory that holds it, the daemon runs in another one, and would
// stop at start with a file that checked well.
func TestCAFileRelative(t *testing.T) {
	_, path := selfSigned(t)
	t.Chdir(filepath.Dir(path))
	for _, tc := range []struct {
		name, file, err string
	}{
		{"absolute", path, ""},
		{"relative", filepath.Base(path), "ca_file \"ca.pem\": want an absolute path"},
		{"dot_relative", "./" + filepath.Base(path), "want an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Channels: []ChannelConfig{{Type: "ntfy", Topic: "t", CAFile: tc.file}}}.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestRateAndBucket(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"10/min", 10.0 / 60}, {"1/s", 1}, {"30/h", 30.0 / 3600}, {"2/day", 2.0 / 86400}, {"off", 0}} {
		got, err := parseRate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseRate(%q) = %v, %v", tc.in, got, err)
		}
	}
	b := newBucket(1, 2) // 1 a second, burst 2
	now := time.Unix(1000, 0)
	for i, want := range []float64{2, 1, 0} {
		if got := b.available(now); got != want {
			t.Fatalf("take %d: %v tokens, want %v", i, got, want)
		}
		if want >= 1 {
			b.take()
		}
	}
	if next := b.nextToken(now); !next.Equal(now.Add(time.Second)) {
		t.Errorf("next token at %v", next)
	}
	if got := b.available(now.Add(10 * time.Second)); got != 2 {
		t.Errorf("after a long pause %v tokens, want the burst 2", got)
	}
	if got := b.available(now); got != 2 {
		t.Errorf("a clock stepping back changed the tokens to %v", got)
	}
}

func TestRedacted(t *testing.T) {
	c := ChannelConfig{Type: "telegram", Name: "tg", Token: "123:AAsecret", ChatID: "42", Password: "pw", Secret: "", User: "ukey"}
	r := c.Redacted()
	if r.Token != "***" || r.Password != "***" || r.User != "***" || r.Secret != "" || r.ChatID != "42" || r.Name != "tg" {
		t.Errorf("redacted %+v", r)
	}
	if c.Token != "123:AAsecret" {
		t.Error("Redacted changed the original")
	}
}

// Validation errors go to stderr (check-config) and the log (run, reload):
// they must not show a URL's password, a webhook's secret path or a
// token in a server's query.
func TestConfigErrorsHideURLSecrets(t *testing.T) {
	const secret = "CorrectHorseBatteryStaple"
	hook := func(url string) Config {
		return Config{Channels: []ChannelConfig{{Type: "webhook", URL: url, Secret: "0123456789abcdef"}}}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // what the error still says
	}{
		{"base_url_password", Config{BaseURL: "htp://admin:" + secret + "@192.168.1.1:8443/x"}, `base_url "htp://xxxxx@192.168.1.1:8443/x": want`},
		{"base_url_user_is_token", Config{BaseURL: "ftp://" + secret + "@192.168.1.1"}, `base_url "ftp://xxxxx@192.168.1.1": want`},
		{"base_url_no_scheme", Config{BaseURL: "admin:" + secret + "@192.168.1.1"}, "base_url: want"},
		{"base_url_query", Config{BaseURL: "htp://192.168.1.1/?token=" + secret}, `base_url "htp://192.168.1.1/": want`},
		{"base_url_valid_with_password", Config{BaseURL: "http://admin:" + secret + "@192.168.1.1:8443/"}, `base_url "http://xxxxx@192.168.1.1:8443/": no user or password`},
		{"webhook_scheme_typo", hook("htps://ha.lan:8123/api/webhook/" + secret), `url "htps://ha.lan:8123/…": want an http`},
		{"webhook_no_scheme", hook("ha.lan:8123/api/webhook/" + secret), "url: want an http"},
		{"webhook_bare_path", hook("/api/webhook/" + secret), "url: want an http"},
		{"webhook_opaque", hook("ha.lan:" + secret), "url: want an http"},
		{"webhook_query", hook("ftp://ha.lan?id=" + secret), `url "ftp://ha.lan/…": want an http`},
		{"webhook_password", hook("ftp://u:" + secret + "@ha.lan/x"), `url "ftp://xxxxx@ha.lan/…": want an http`},
		{"webhook_unparsable", hook("https://ha.lan/%zz" + secret), "url: want an http"},
		{"mqtt_scheme_typo", Config{Channels: []ChannelConfig{{Type: "mqtt", URL: "mqtx://alice" + secret + ":pw@broker.lan/?token=" + secret}}}, `url "mqtx://xxxxx@broker.lan/…": scheme must be mqtt`},
		{"gotify_token_in_query", Config{Channels: []ChannelConfig{{Type: "gotify", Token: "x", URL: "gotify.lan/message?token=" + secret}}}, "url: want an http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:5]) {
				t.Errorf("error shows the secret: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestWebhookSecretsHideTheHost: some webhook services put the secret in
// the host name (Pipedream's eo….m.pipedream.net), and Go's transport
// errors quote the host, in the URL and in the lookup. An IP address is
// no secret and still says where the alert went.
func TestWebhookSecretsHideTheHost(t *testing.T) {
	for _, tc := range []struct {
		name, url, msg string
		hidden, kept   []string
	}{
		{"host_is_the_secret", "https://eo4f9c2a7b1d3e.m.pipedream.net",
			`webhook: Post "https://eo4f9c2a7b1d3e.m.pipedream.net": dial tcp: lookup eo4f9c2a7b1d3e.m.pipedream.net: no such host`,
			[]string{"eo4f9c2a7b1d3e"}, []string{`Post "https://***"`, "no such host"}},
		{"host_with_port", "https://hooks.example.net:8443/x",
			`webhook: Post "https://hooks.example.net:8443/x": dial tcp: lookup hooks.example.net on 192.168.1.1:53: no such host`,
			[]string{"hooks.example.net"}, []string{"https://***:8443/x", "192.168.1.1:53"}},
		{"ipv4_literal_kept", "http://192.168.1.20:8123/api/webhook/ZZhookidZZ",
			`webhook: Post "http://192.168.1.20:8123/api/webhook/ZZhookidZZ": dial tcp 192.168.1.20:8123: connect: connection refused`,
			[]string{"ZZhookidZZ"}, []string{"http://192.168.1.20:8123", "dial tcp 192.168.1.20:8123"}},
		{"ipv6_literal_kept", "http://[fd00::20]:8123/ZZhookidZZ",
			`webhook: Post "http://[fd00::20]:8123/ZZhookidZZ": dial tcp [fd00::20]:8123: connect: connection refused`,
			[]string{"ZZhookidZZ"}, []string{"http://[fd00::20]:8123", "dial tcp [fd00::20]:8123"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Channels: []ChannelConfig{{Type: TypeWebhook, URL: tc.url, Secret: "0123456789abcdef"}}}
			all, err := cfg.build(nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := newRedactor(all[0].secrets()).text(tc.msg)
			for _, s := range tc.hidden {
				if strings.Contains(msg, s) {
					t.Errorf("error shows %q: %s", s, msg)
				}
			}
			for _, s := range tc.kept {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q lacks %q", msg, s)
				}
			}
		})
	}
}

// A channel that sends its credential unencrypted to another host works,
// as it did before, but the log says so unless the owner set
// insecure_plaintext.
func TestPlaintextCredentialWarning(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   ChannelConfig
		warn bool
	}{
		{"mqtt_password", ChannelConfig{Type: "mqtt", URL: "mqtt://ha.lan:1883", Username: "u", Password: "pw"}, true},
		{"mqtt_password_owner_knows", ChannelConfig{Type: "mqtt", URL: "mqtt://ha.lan:1883", Username: "u", Password: "pw", InsecurePlaintext: true}, false},
		{"mqtt_no_password", ChannelConfig{Type: "mqtt", URL: "mqtt://ha.lan:1883"}, false},
		{"mqtts_password", ChannelConfig{Type: "mqtt", URL: "mqtts://ha.lan:8883", Username: "u", Password: "pw"}, false},
		{"gotify_http", ChannelConfig{Type: "gotify", URL: "http://192.168.1.5:8080", Token: "x"}, true},
		{"gotify_http_loopback", ChannelConfig{Type: "gotify", URL: "http://127.0.0.1:8080", Token: "x"}, false},
		{"ntfy_token_http", ChannelConfig{Type: "ntfy", URL: "http://ntfy.lan", Topic: "t", Token: "tk"}, true},
		{"ntfy_topic_alone_http", ChannelConfig{Type: "ntfy", URL: "http://ntfy.lan", Topic: "t"}, true},
		{"ntfy_topic_https", ChannelConfig{Type: "ntfy", Topic: "t"}, false},
		{"webhook_http", ChannelConfig{Type: "webhook", URL: "http://ha.lan:8123/api/webhook/iotgw-7f3a", Secret: "0123456789abcdef"}, true},
		{"webhook_https", ChannelConfig{Type: "webhook", URL: "https://ha.example/api/webhook/iotgw-7f3a", Secret: "0123456789abcdef"}, false},
		{"telegram_http", ChannelConfig{Type: "telegram", URL: "http://tg.lan", Token: "1:AA", ChatID: "42"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			_, err := New(Config{Channels: []ChannelConfig{tc.cc}}, Options{Outbox: &memOutbox{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got := strings.Contains(logs.String(), "unencrypted"); got != tc.warn {
				t.Errorf("warned %v, want %v; log:\n%s", got, tc.warn, logs.String())
			}
		})
	}
}

// TestRedactedErrorBounded: an error quoting a server's endless reply is
// cut to maxErrorText, after its secrets are hidden, so that the cut
// cannot leave part of one.
func TestRedactedErrorBounded(t *testing.T) {
	const secret = "s3cret-webhook-token-0123456789"
	r := newRedactor([]string{secret})
	long := strings.Repeat("y", maxErrorText-10) + secret + strings.Repeat("z", 1<<20)
	err := r.err(&SendError{Err: errors.New(long), Permanent: true})
	var se *SendError
	if !errors.As(err, &se) || !se.Permanent {
		t.Errorf("the classification was lost: %#v", err)
	}
	if got := err.Error(); len(got) > maxErrorText+8 || strings.Contains(got, secret[:8]) {
		t.Errorf("error of %d bytes, secret shown: %v", len(got), strings.Contains(got, secret[:8]))
	}
}
