package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
)

// maxBody caps request bodies; every request here is a few bytes.
const maxBody = 4096

// Handler serves the API for b. Routes:
//
//	GET  /api/v1/status
//	GET  /api/v1/devices
//	GET  /api/v1/devices/{mac}
//	POST /api/v1/devices/{mac}/quarantine   {"mode": "block", "for": "24h"}
//	POST /api/v1/devices/{mac}/release
//	POST /api/v1/devices/{mac}/trust        {"trusted": true}
//	POST /api/v1/devices/{mac}/name         {"name": "Hall camera"}
//	POST /api/v1/devices/{mac}/audit        (the active audit, queued now)
//	GET  /api/v1/events?mac=&kind=&type=&severity=&since=&limit=
//	GET  /api/v1/stream                      (Server-Sent Events)
//
// An error the API cannot classify (ErrNotFound, ErrInvalid, …) is logged
// to log and answered 500 with a fixed text: what the kernel or a file
// said stays in the router's log.
func Handler(b Backend, log *slog.Logger) http.Handler {
	done := func(w http.ResponseWriter, r *http.Request, err error, device func() (Device, bool)) {
		if err != nil && statusFor(err) == http.StatusInternalServerError {
			log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			err = errInternal
		}
		answer(w, err, device)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Version+"/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	mux.HandleFunc("GET "+Version+"/devices", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Devices())
	})
	mux.HandleFunc("GET "+Version+"/devices/{mac}", func(w http.ResponseWriter, r *http.Request) {
		mac, err := ParseMAC(r.PathValue("mac"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		d, ok := b.Device(mac)
		if !ok {
			writeError(w, http.StatusNotFound, ErrNotFound)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("POST "+Version+"/devices/{mac}/quarantine", func(w http.ResponseWriter, r *http.Request) {
		mac, err := ParseMAC(r.PathValue("mac"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		var req QuarantineRequest
		if !readJSON(w, r, &req) {
			return
		}
		mode, err := ParseMode(req.Mode)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		d, err := ParseDuration(req.For)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		done(w, r, b.Quarantine(r.Context(), mac, mode, d), func() (Device, bool) { return b.Device(mac) })
	})
	mux.HandleFunc("POST "+Version+"/devices/{mac}/release", func(w http.ResponseWriter, r *http.Request) {
		mac, err := ParseMAC(r.PathValue("mac"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		done(w, r, b.Release(r.Context(), mac), func() (Device, bool) { return b.Device(mac) })
	})
	mux.HandleFunc("POST "+Version+"/devices/{mac}/trust", func(w http.ResponseWriter, r *http.Request) {
		mac, err := ParseMAC(r.PathValue("mac"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		var req TrustRequest
		if !readJSON(w, r, &req) {
			return
		}
		done(w, r, b.SetTrusted(r.Context(), mac, req.Trusted), func() (Device, bool) { return b.Device(mac) })
	})
	mux.HandleFunc("POST "+Version+"/devices/{mac}/name", func(w http.ResponseWriter, r *http.Request) {
		mac, err := ParseMAC(r.PathValue("mac"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		var req NameRequest
		if !readJSON(w, r, &req) {
			return
		}
		name, err := ParseName(req.Name)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		done(w, r, b.SetName(r.Context(), mac, name), func() (Device, bool) { return b.Device(mac) })
	})
	mux.HandleFunc("POST "+Version+"/devices/{mac}/audit", func(w http.ResponseWriter, r *http.Request) {
		mac, err := ParseMAC(r.PathValue("mac"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		a, ok := b.(Auditor)
		if !ok {
			writeError(w, http.StatusNotImplemented, errors.New("this daemon has no active audit"))
			return
		}
		done(w, r, a.Audit(r.Context(), mac), func() (Device, bool) { return b.Device(mac) })
	})
	mux.HandleFunc("GET "+Version+"/events", func(w http.ResponseWriter, r *http.Request) {
		f, err := ParseEventFilter(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, b.Events(f))
	})
	mux.HandleFunc("GET "+Version+"/stream", func(w http.ResponseWriter, r *http.Request) {
		serveStream(w, r, b)
	})
	return jsonMisses(mux)
}

// jsonMisses answers what mux has no route for (404) or no such method
// of a route for (405, with Allow) as every other API error, in JSON and
// not to be cached, instead of ServeMux's plain text.
func jsonMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		miss := &statusWriter{header: http.Header{}}
		h.ServeHTTP(miss, r)
		if miss.status == 0 || miss.status < 400 {
			mux.ServeHTTP(w, r) // a redirect to the canonical path
			return
		}
		if allow := miss.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := "no such API route"
		if miss.status == http.StatusMethodNotAllowed {
			msg = "method not allowed here"
		}
		writeError(w, miss.status, errors.New(msg))
	})
}

// statusWriter keeps the status and headers a handler answers with and
// drops its body.
type statusWriter struct {
	header http.Header
	status int
}

func (s *statusWriter) Header() http.Header { return s.header }
func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

// ParseEventFilter reads the event log's query parameters.
func ParseEventFilter(r *http.Request) (EventFilter, error) {
	q := r.URL.Query()
	f := EventFilter{Limit: 200}
	if s := q.Get("mac"); s != "" {
		m, err := ParseMAC(s)
		if err != nil {
			return f, fmt.Errorf("mac: %w", err)
		}
		f.MAC = m
	}
	if s := q.Get("kind"); s != "" {
		if len(s) > 40 {
			return f, errors.New("kind: too long")
		}
		f.Kind = event.Kind(s)
	}
	switch s := q.Get("type"); s {
	case "":
	case string(event.TypeFinding), string(event.TypeObservation):
		f.Type = event.Type(s)
	default:
		return f, errors.New("type: want finding or observation")
	}
	if s := q.Get("severity"); s != "" {
		sev, err := event.ParseSeverity(s)
		if err != nil {
			return f, err
		}
		f.MinSev = sev
	}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return f, errors.New("since: use RFC 3339 time, like 2026-01-02T15:04:05Z")
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return f, errors.New("limit: 1 to 1000")
		}
		f.Limit = n
	}
	return f, nil
}

// errInternal stands in for an error the API does not pass on.
var errInternal = errors.New("internal error; the router's log says more")

// answer answers a state-changing request: the device as it is now, or
// the error mapped to a status.
func answer(w http.ResponseWriter, err error, device func() (Device, bool)) {
	if err != nil {
		writeError(w, statusFor(err), err)
		return
	}
	d, ok := device()
	if !ok {
		writeError(w, http.StatusNotFound, ErrNotFound)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func statusFor(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrProtected), errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, errors.New("request body too large"))
		return false
	}
	if len(body) == 0 {
		return true // every field is optional
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, Error{Error: err.Error()})
}

// serveStream sends new events as Server-Sent Events until the client
// goes away.
func serveStream(w http.ResponseWriter, r *http.Request, b Backend) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, errors.New("streaming unsupported"))
		return
	}
	events, cancel := b.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": iotgw events\n\n")
	fl.Flush()
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case ev, ok := <-events:
			if !ok {
				return
			}
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, data)
			fl.Flush()
		}
	}
}
