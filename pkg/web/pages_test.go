package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/markup"
)

// TestRenderPanicIs500: a page function that fails sends a whole error
// page and logs why, not half a page or a dropped connection.
func TestRenderPanicIs500(t *testing.T) {
	var logged strings.Builder
	srv, err := New(Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))}, newFakeBackend(time.Now()), &memStore{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		c      content
		status int
	}{
		{"fine", func(w *markup.Writer, _ *view) { w.Raw("<p>fine</p>") }, http.StatusOK},
		{"panics", func(w *markup.Writer, v *view) {
			w.Raw("<p>half")
			_ = v.Page.(devicePage) // the wrong page data
		}, http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			srv.render(rec, httptest.NewRequest("GET", "/x", nil), http.StatusOK, tt.c, &view{Title: tt.name})
			body, _ := io.ReadAll(rec.Result().Body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, body)
			}
			if tt.status != http.StatusOK && (strings.Contains(string(body), "half") || !strings.Contains(logged.String(), "panics")) {
				t.Errorf("body %q, log %q: want no part of the page and the reason logged", body, logged.String())
			}
		})
	}
}
