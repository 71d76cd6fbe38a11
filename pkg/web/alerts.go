package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// ChannelView is one alert channel as the settings page shows it. Target
// is already redacted (no token, password or full URL with secrets).
type ChannelView struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // ntfy, gotify, pushover, telegram, webhook, email, mqtt
	Target  string `json:"target,omitempty"`
	Enabled bool   `json:"enabled"`
	// Detail is the channel's last delivery problem.
	Detail string `json:"detail,omitempty"`
	// LastSent is when the channel last delivered an alert; zero if never.
	LastSent time.Time `json:"last_sent,omitzero"`
}

// AlertSettings is what the page needs of the alert engine.
type AlertSettings interface {
	Channels() []ChannelView
	SetEnabled(name string, on bool) error
	SendTest(ctx context.Context, name string) error
}

// testAlertTimeout bounds a "send test alert" click.
const testAlertTimeout = 20 * time.Second

type alertsPage struct {
	Configured bool
	Channels   []ChannelView
	ConfigPath string
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Alerts", "alerts"
	p := alertsPage{Configured: s.alerts != nil, ConfigPath: s.opt.ConfigPath}
	if s.alerts != nil {
		p.Channels = s.alerts.Channels()
	}
	v.Page = p
	v.Flash = flashText(r.URL.Query().Get("done"))
	s.render(w, r, http.StatusOK, alertsContent, v)
}

// channelName validates a channel name from a form.
func (s *Server) channelName(name string) error {
	if s.alerts == nil {
		return errors.New("alerts are not available in this daemon")
	}
	for _, c := range s.alerts.Channels() {
		if c.Name == name {
			return nil
		}
	}
	return errors.New("channel: no channel named like that")
}

// handleAlertEnabled is POST /alerts/enabled: name, enabled=true|false.
func (s *Server) handleAlertEnabled(w http.ResponseWriter, r *http.Request, v *view) {
	name := r.PostFormValue("name")
	err := s.channelName(name)
	var on bool
	if err == nil {
		switch r.PostFormValue("enabled") {
		case "true", "on":
			on = true
		case "false", "off":
		default:
			err = errors.New("enabled: want true or false")
		}
	}
	if err == nil {
		err = s.alerts.SetEnabled(name, on)
	}
	done := "alert-disabled"
	if on {
		done = "alert-enabled"
	}
	s.alertResult(w, r, v, err, done)
}

// handleAlertTest is POST /alerts/test: name.
func (s *Server) handleAlertTest(w http.ResponseWriter, r *http.Request, v *view) {
	name := r.PostFormValue("name")
	err := s.channelName(name)
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), testAlertTimeout)
		defer cancel()
		if err = s.alerts.SendTest(ctx, name); err != nil {
			err = testAlertError{err}
		}
	}
	s.alertResult(w, r, v, err, "alert-test")
}

// testAlertError is a test alert that failed, said in a sentence before
// the channel's own detail ("ntfy: Post …: connection refused").
type testAlertError struct{ err error }

func (e testAlertError) Error() string { return "The test alert could not be sent: " + e.err.Error() }
func (e testAlertError) Unwrap() error { return e.err }

// alertResult answers a script with JSON and a form with the page.
func (s *Server) alertResult(w http.ResponseWriter, r *http.Request, v *view, err error, done string) {
	if wantsJSON(r) {
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": flashText(done)})
		return
	}
	if err != nil {
		v.Error = err.Error()
		v.Title, v.Nav = "Alerts", "alerts"
		p := alertsPage{Configured: s.alerts != nil, ConfigPath: s.opt.ConfigPath}
		if s.alerts != nil {
			p.Channels = s.alerts.Channels()
		}
		v.Page = p
		s.render(w, r, http.StatusBadRequest, alertsContent, v)
		return
	}
	http.Redirect(w, r, "/alerts?done="+done, http.StatusSeeOther)
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}
