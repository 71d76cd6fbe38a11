package store

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/ftp"
	"github.com/iotgw/iotgw/pkg/inspect/http"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
)

// TestStoreHoldsNoSecret documents the privacy contract: the store only
// ever receives events the inspectors already redacted. Real inspectors
// see real secrets here (a factory-default FTP login, an HTTP Basic login
// with a unique password, an e-mail address and a phone number posted in
// clear), the events become device records, an alert payload is built
// from them, and the file on flash must contain none of the secrets.
func TestStoreHoldsNoSecret(t *testing.T) {
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
			"\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body).
		Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").Close()
	e.Flush()

	kinds := make(map[event.Kind]bool)
	for _, ev := range col.Findings() {
		kinds[ev.Kind] = true
	}
	for _, k := range []event.Kind{event.KindDefaultCredentials, event.KindPlaintextCredentials, event.KindPersonalData} {
		if !kinds[k] {
			t.Fatalf("the inspectors produced no %s finding, so this test proves nothing: %v", k, col.Events)
		}
	}

	h := newHarness(t)
	s := h.open()
	byMAC := make(map[string]*DeviceRecord)
	for _, ev := range col.Findings() {
		m, err := hwaddr.Parse(ev.Device.MAC)
		if err != nil {
			t.Fatalf("finding without a device MAC: %+v", ev)
		}
		d := byMAC[ev.Device.MAC]
		if d == nil {
			d = &DeviceRecord{MAC: m, FirstSeen: ev.Time}
			byMAC[ev.Device.MAC] = d
		}
		d.LastSeen = ev.Time
		d.Findings = append(d.Findings, *ev)
		// The alert engine builds its message from the same events.
		payload, err := json.Marshal(map[string]any{"title": ev.Summary, "evidence": ev.Evidence})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Enqueue(payload, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range byMAC {
		if err := s.PutDevice(*d); err != nil {
			t.Fatal(err)
		}
		if err := s.PutQuarantine(Quarantine{MAC: d.MAC, Mode: "block", By: ActorPolicy, Reason: d.Findings[0].Summary}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), "default_credentials") || !strings.Contains(string(file), "personal_data") {
		t.Fatalf("the findings did not reach the file: %s", file)
	}
	for _, secret := range planted {
		// As written, and as JSON escapes it ("&" is "\u0026").
		quoted, _ := json.Marshal(secret)
		escaped := string(quoted[1 : len(quoted)-1])
		if strings.Contains(string(file), secret) || strings.Contains(string(file), escaped) {
			t.Errorf("state file contains the secret %q", secret)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
