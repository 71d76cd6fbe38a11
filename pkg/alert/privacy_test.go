package alert

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/ftp"
	"github.com/iotgw/iotgw/pkg/inspect/http"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
	"github.com/iotgw/iotgw/pkg/store"
)

// syncBuffer is a log destination shared by the workers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretLeavesInAnyChannel: real inspectors see real secrets (a
// factory-default FTP login, an HTTP Basic login with a unique password,
// an e-mail address and a phone number posted in clear); the alerts built
// from their findings go through every channel to real or stand-in
// servers; no request, message, MQTT publish, log line or outbox file may
// hold a planted secret, nor even the redacted password, hash or sample.
func TestNoSecretLeavesInAnyChannel(t *testing.T) {
	const (
		ftpUser     = "root"
		ftpPass     = "xc3511" // in Mirai's dictionary: a factory default
		httpUser    = "camadmin"
		httpPass    = "Tr0ub4dor&3-horse"
		email       = "alice.smith@example.com"
		phoneNumber = "+49 30 1234567"
	)
	basic := base64.StdEncoding.EncodeToString([]byte(httpUser + ":" + httpPass))
	planted := []string{ftpPass, httpUser, httpPass, basic, email, "alice.smith", phoneNumber, "1234567"}

	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, cl, ftp.New(), http.New(pii.New()))
	inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:21").
		Server("220 ready\r\n").Client("USER " + ftpUser + "\r\n").Server("331 password\r\n").
		Client("PASS " + ftpPass + "\r\n").Server("230 logged in\r\n").Close()
	body := `{"email":"` + email + `","phone":"` + phoneNumber + `"}`
	inspecttest.NewTCP(e, "192.168.1.10:40001", "203.0.113.7:80").
		Client("POST /api/register HTTP/1.1\r\nHost: cloud.example\r\nAuthorization: Basic " + basic +
			"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body).
		Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").Close()
	e.Flush()

	// The redacted password, its keyed hash and the redacted personal
	// datum, which alerts leave out too. (A quarantine reason is the
	// finding's summary and may name the redacted user, "ro***".)
	var redacted []string
	var alerts []Alert
	kinds := map[Kind]bool{}
	for _, ev := range col.Findings() {
		for _, k := range []string{"password", "password_hash", "sample"} {
			if v := ev.Evidence[k]; v != "" {
				redacted = append(redacted, v)
			}
		}
		if a, ok := FromEvent(ev, Device{Name: "Camera", Vendor: "Acme"}); ok {
			alerts = append(alerts, a)
			kinds[a.Kind] = true
		}
		if m, err := hwaddr.Parse(ev.Device.MAC); err == nil && ev.Kind == event.KindDefaultCredentials {
			// The daemon's quarantine reason is built from the finding's summary.
			alerts = append(alerts, FromQuarantine(store.Quarantine{MAC: m, Mode: "block", Since: ev.Time,
				By: store.ActorPolicy, Reason: ev.Summary}, Device{Name: "Camera"}))
		}
	}
	if !kinds[KindDefaultCredentials] || !kinds[KindPersonalData] || len(redacted) == 0 {
		t.Fatalf("the inspectors gave no default-credential and personal-data alerts, so this test proves nothing: %v", col.Events)
	}

	// Every channel, each to its own receiver.
	services := map[string]*fakeService{}
	for _, typ := range []string{TypeNtfy, TypeGotify, TypePushover, TypeTelegram, TypeWebhook} {
		services[typ] = newFakeService(t)
	}
	cert, caFile := selfSigned(t)
	box := &mailbox{mechs: []string{sasl.Plain}, user: "u", password: "smtp-pw"}
	smtpAddr := startSMTP(t, box, &cert, false)
	b := startBroker(t)
	sub := subscribe(t, b.addr, "#")
	all := func(c ChannelConfig) ChannelConfig { c.Rate, c.MinSeverity = "off", "info"; return c }
	cfg := Config{BaseURL: "http://192.168.1.1:8080", Channels: []ChannelConfig{
		all(ChannelConfig{Type: TypeNtfy, URL: services[TypeNtfy].URL, Topic: "home"}),
		all(ChannelConfig{Type: TypeGotify, URL: services[TypeGotify].URL, Token: "gotify-token"}),
		all(ChannelConfig{Type: TypePushover, URL: services[TypePushover].URL, Token: "po-token", User: "po-user"}),
		all(ChannelConfig{Type: TypeTelegram, URL: services[TypeTelegram].URL, Token: "1:tg", ChatID: "7"}),
		all(ChannelConfig{Type: TypeWebhook, URL: services[TypeWebhook].URL, Secret: "0123456789abcdef"}),
		all(ChannelConfig{Type: TypeEmail, Server: smtpAddr, CAFile: caFile, Username: "u", Password: "smtp-pw", From: "iotgw@example.com", To: []string{"me@example.com"}}),
		all(ChannelConfig{Type: TypeMQTT, URL: "mqtt://" + b.addr, Username: brokerUser, Password: brokerPass}),
	}}
	statePath := filepath.Join(t.TempDir(), "state.json")
	st := store.Open(store.Options{Path: statePath})
	logs := &syncBuffer{}
	d, err := New(cfg, Options{Outbox: st, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if n := d.Notify(a); n != len(cfg.Channels) {
			t.Fatalf("alert %q queued for %d channels", a.Title, n)
		}
	}
	// The outbox holds them before any delivery: check the file too.
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	stateFile, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	waitFor(t, "every channel to deliver every alert", func() bool {
		for _, s := range services {
			if len(s.requests()) < len(alerts) {
				return false
			}
		}
		sub.mu.Lock()
		mq := len(sub.msgs["iotgw/alert"])
		sub.mu.Unlock()
		return len(box.messages()) >= len(alerts) && mq >= len(alerts)
	})
	cancel()
	<-done

	// Everything that left, in the forms a reader would decode.
	hay := map[string]string{"state file": string(stateFile), "log": logs.String()}
	for typ, s := range services {
		var sb strings.Builder
		for _, r := range s.requests() {
			sb.WriteString(r.Method + " " + r.Path + "?" + r.RawQuery + "\n")
			for k, vs := range r.Header {
				for _, v := range vs {
					dec, _ := new(mime.WordDecoder).DecodeHeader(v)
					sb.WriteString(k + ": " + v + " " + dec + "\n")
				}
			}
			sb.Write(r.Body)
			if form, err := url.ParseQuery(string(r.Body)); err == nil {
				for k, v := range form {
					sb.WriteString("\n" + k + "=" + strings.Join(v, ","))
				}
			}
		}
		hay[typ] = sb.String()
	}
	var mailText strings.Builder
	for _, m := range box.messages() {
		mailText.Write(m.data)
		dec, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(m.data)))
		mailText.Write(dec)
	}
	hay[TypeEmail] = mailText.String()
	var mq strings.Builder
	sub.mu.Lock()
	for topic, msgs := range sub.msgs {
		for _, m := range msgs {
			mq.WriteString(topic + " " + m.payload + "\n")
		}
	}
	sub.mu.Unlock()
	hay[TypeMQTT] = mq.String()

	for where, text := range hay {
		for _, secret := range planted {
			quoted, _ := json.Marshal(secret)
			forms := []string{secret, string(quoted[1 : len(quoted)-1]), url.QueryEscape(secret)}
			for _, f := range forms {
				if strings.Contains(text, f) {
					t.Errorf("%s contains the secret %q (as %q)", where, secret, f)
				}
			}
		}
		if where == "state file" || where == "log" {
			continue // the store's own findings may keep redacted forms; alerts never do
		}
		for _, r := range redacted {
			if strings.Contains(text, r) {
				t.Errorf("%s contains the redacted form %q", where, r)
			}
		}
	}
	if !strings.Contains(hay[TypeWebhook], "personal_data") || !strings.Contains(hay[TypeMQTT], "default_credentials") {
		t.Error("the alerts did not reach the receivers, so this test proves nothing")
	}
}
