package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// TestMissesAnswerJSON: a path the API does not have, or a method a route
// does not take, is answered like every other API error: JSON with an
// error text, not to be cached (and Allow for the method).
func TestMissesAnswerJSON(t *testing.T) {
	h := Handler(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, Version + "/nope", http.StatusNotFound, ""},
		{http.MethodPost, Version + "/status", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodDelete, Version + "/devices/00:11:22:33:44:55", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, Version + "/devices/00:11:22:33:44:55/release", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			var e Error
			if rec.Code != tt.status || rec.Header().Get("Content-Type") != "application/json" ||
				rec.Header().Get("Cache-Control") != "no-store" || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%d %v %q, want %d and a JSON error", rec.Code, rec.Header(), rec.Body, tt.status)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestValidName: up to 64 characters, not bytes; empty clears the
// owner's name; no control characters or bytes that are not UTF-8.
func TestValidName(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		ok       bool
	}{
		{"plain", "Hall camera", true},
		{"empty_clears", "", true},
		{"cyrillic_64", strings.Repeat("ж", 64), true},
		{"too_long", strings.Repeat("n", 65), false},
		{"control", "cam\x1b[31m", false},
		{"not_utf8", "cam\xff", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidName(tt.in); (err == nil) != tt.ok {
				t.Errorf("ValidName(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
		})
	}
}

// nameBackend records SetName; the rest of Backend is not called.
type nameBackend struct {
	Backend
	name string
}

func (b *nameBackend) SetName(_ context.Context, _ hwaddr.MAC, name string) error {
	b.name = name
	return nil
}

func (b *nameBackend) Device(mac hwaddr.MAC) (Device, bool) {
	return Device{MAC: mac.String(), Name: b.name}, true
}

// TestNameAsThePageHasIt: the API names a device as the page's form
// does: the spaces around a name go, so a name of spaces clears the
// owner's name there too, not one that shows as nothing.
func TestNameAsThePageHasIt(t *testing.T) {
	for _, tt := range []struct {
		name, body, want string
	}{
		{"plain", `{"name": "Hall camera"}`, "Hall camera"},
		{"spaces_around", `{"name": " Hall camera "}`, "Hall camera"},
		{"spaces_only", `{"name": "   "}`, ""},
		{"empty", `{"name": ""}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &nameBackend{name: "old"}
			h := Handler(b, slog.New(slog.NewTextHandler(io.Discard, nil)))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, Version+"/devices/00:11:22:33:44:55/name", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if b.name != tt.want {
				t.Errorf("name %q, want %q", b.name, tt.want)
			}
		})
	}
}
