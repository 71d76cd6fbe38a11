package web

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
)

//go:embed static
var staticFS embed.FS

// view is what every page gets.
type view struct {
	Title    string
	Nav      string // the highlighted menu entry
	CSRF     string
	LoggedIn bool
	Status   *api.Status
	Flash    string
	Error    string
	// Live is set on pages that refresh themselves on new events.
	Live bool
	Now  time.Time
	Page any
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	staticServer := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		staticServer.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /setup", s.handleSetup)
	mux.HandleFunc("POST /setup", s.handleSetup)
	mux.HandleFunc("GET /login", s.handleLogin)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("GET /session", s.handleSession)
	mux.Handle("POST /logout", s.page(s.handleLogout))
	mux.Handle("GET /password", s.page(s.handlePassword))
	mux.Handle("POST /password", s.page(s.handlePassword))
	mux.HandleFunc(api.Version+"/", s.apiGuard)

	mux.Handle("GET /{$}", s.page(s.handleDevices))
	mux.Handle("GET /devices/{mac}", s.page(s.handleDevice))
	mux.Handle("POST /devices/{mac}/{action}", s.page(s.handleDeviceAction))
	mux.Handle("GET /events", s.page(s.handleEvents))
	mux.Handle("GET /policy", s.page(s.handlePolicy))
	mux.Handle("GET /alerts", s.page(s.handleAlerts))
	mux.Handle("POST /alerts/enabled", s.page(s.handleAlertEnabled))
	mux.Handle("POST /alerts/test", s.page(s.handleAlertTest))
	mux.Handle("/", s.page(func(w http.ResponseWriter, r *http.Request, v *view) {
		v.Title, v.Error = "Not found", "There is no page at this address."
		s.render(w, r, http.StatusNotFound, messageContent, v)
	}))
	return mux
}

// render builds the whole page in memory before the status line goes
// out, so a page is never sent half written.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c content, v *view) {
	if v.LoggedIn && v.Status == nil {
		st := s.backend.Status()
		v.Status = &st
	}
	v.Now = s.now()
	var buf markup.Writer
	if err := build(&buf, v, c); err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// build writes the page into memory. A page function that panics (a
// programming error: the writer itself cannot fail) becomes an error, so
// the browser gets a 500 page and the log the reason, not a connection
// dropped halfway.
func build(buf *markup.Writer, v *view, c content) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("page %q: %v", v.Title, p)
		}
	}()
	page(buf, v, c)
	return nil
}

// renderPre renders the login or setup page with its form token.
func (s *Server) renderPre(w http.ResponseWriter, r *http.Request, status int, c content, v *view) {
	tok, err := s.preCSRF(w, r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v.CSRF = tok
	s.render(w, r, status, c, v)
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("web: internal error", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error; the router's log says more", http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// flashText is the message after a successful action; only these fixed
// texts are shown, never text from the address bar.
func flashText(key string) string {
	switch key {
	case "quarantine":
		return "The device is quarantined."
	case "release":
		return "The device is released from quarantine."
	case "trust":
		return "The device is marked trusted: it will not be quarantined."
	case "untrust":
		return "The device is no longer trusted."
	case "name":
		return "The device is renamed."
	case "unname":
		return "The device's name is cleared: it goes by its automatic name again."
	case "alert-enabled":
		return "The alert channel is on."
	case "alert-disabled":
		return "The alert channel is off."
	case "alert-test":
		return "Test alert sent."
	case "password":
		return "Password changed. Every other browser that was logged in is logged out."
	}
	return ""
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav, v.Live = "Devices", "devices", true
	v.Page = s.backend.Devices()
	s.render(w, r, http.StatusOK, devicesContent, v)
}

// devicePage is the device page's data.
type devicePage struct {
	D        api.Device
	Card     *device.Card
	Findings []*event.Event
	Picture  picture
	Modes    []string
	Form     deviceForm
}

// deviceForm is what the owner typed, shown again after an error.
type deviceForm struct {
	Mode, For, Name string
}

// defaultQuarantineFor is the quarantine form's duration as the device
// page first shows it.
const defaultQuarantineFor = "1h"

func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request, v *view) {
	mac, err := api.ParseMAC(r.PathValue("mac"))
	if err != nil {
		v.Title, v.Error = "No such device", "mac: "+err.Error()
		s.render(w, r, http.StatusBadRequest, messageContent, v)
		return
	}
	d, ok := s.backend.Device(mac)
	if !ok {
		v.Title, v.Error = "No such device", "The router does not know "+mac.String()+"."
		s.render(w, r, http.StatusNotFound, messageContent, v)
		return
	}
	v.Flash = flashText(r.URL.Query().Get("done"))
	s.renderDevice(w, r, http.StatusOK, v, d, deviceForm{For: defaultQuarantineFor})
}

func (s *Server) renderDevice(w http.ResponseWriter, r *http.Request, status int, v *view, d api.Device, form deviceForm) {
	v.Title, v.Nav, v.Live = d.DisplayName(), "devices", true
	v.Page = newDevicePage(d, form)
	s.render(w, r, status, deviceContent, v)
}

// newDevicePage prepares d for the device page.
func newDevicePage(d api.Device, form deviceForm) devicePage {
	if form.Name == "" {
		form.Name = d.Name
	}
	p := devicePage{D: d, Card: scorecard(d.Scorecard), Modes: []string{"block", "isolate", "updates-only"}, Form: form}
	p.Findings = slices.Clone(d.Findings)
	sort.SliceStable(p.Findings, func(i, j int) bool { return p.Findings[i].Time.After(p.Findings[j].Time) })
	p.Picture = drawPicture(d)
	return p
}

// scorecard reads the daemon's scorecard, whatever form it comes in.
func scorecard(sc any) *device.Card {
	switch c := sc.(type) {
	case nil:
		return nil
	case device.Card:
		return &c
	case *device.Card:
		return c
	}
	data, err := json.Marshal(sc)
	if err != nil {
		return nil
	}
	var c device.Card
	if json.Unmarshal(data, &c) != nil || len(c.Capabilities) == 0 {
		return nil
	}
	return &c
}

// handleDeviceAction is POST /devices/{mac}/{quarantine|release|trust|name}:
// the form's fields are validated like the API's, the change goes
// through the Backend, and an error shows the device page again with the
// message (the Backend changed nothing).
func (s *Server) handleDeviceAction(w http.ResponseWriter, r *http.Request, v *view) {
	mac, err := api.ParseMAC(r.PathValue("mac"))
	if err != nil {
		v.Title, v.Error = "No such device", "mac: "+err.Error()
		s.render(w, r, http.StatusBadRequest, messageContent, v)
		return
	}
	// The refused form shows what the owner typed; the others show what
	// the page first shows, so that a refused rename leaves no empty
	// duration ("until released") in the quarantine form.
	form := deviceForm{For: defaultQuarantineFor}
	action := r.PathValue("action")
	switch action {
	case "quarantine":
		form.Mode, form.For = r.PostFormValue("mode"), r.PostFormValue("for")
	case "name":
		form.Name = r.PostFormValue("name")
	}
	done := action
	var actErr error
	status := http.StatusBadRequest
	switch action {
	case "quarantine":
		mode, err := api.ParseMode(form.Mode)
		if err != nil {
			actErr = err
			break
		}
		d, err := api.ParseDuration(strings.TrimSpace(form.For))
		if err != nil {
			actErr = err
			break
		}
		status, actErr = s.backendErr(s.backend.Quarantine(r.Context(), mac, mode, d))
	case "release":
		status, actErr = s.backendErr(s.backend.Release(r.Context(), mac))
	case "trust":
		var trusted bool
		switch r.PostFormValue("trusted") {
		case "true":
			trusted = true
		case "false":
			done = "untrust"
		default:
			actErr = fmt.Errorf("trusted: want true or false")
		}
		if actErr == nil {
			status, actErr = s.backendErr(s.backend.SetTrusted(r.Context(), mac, trusted))
		}
	case "name":
		name, err := api.ParseName(form.Name)
		if err != nil {
			actErr = err
			break
		}
		if name == "" {
			done = "unname"
		}
		status, actErr = s.backendErr(s.backend.SetName(r.Context(), mac, name))
	default:
		v.Title, v.Error = "Not found", "There is no such action."
		s.render(w, r, http.StatusNotFound, messageContent, v)
		return
	}
	if actErr == nil {
		http.Redirect(w, r, "/devices/"+mac.String()+"?done="+done, http.StatusSeeOther)
		return
	}
	d, ok := s.backend.Device(mac)
	if !ok {
		v.Title, v.Error = "No such device", "The router does not know "+mac.String()+"."
		s.render(w, r, http.StatusNotFound, messageContent, v)
		return
	}
	v.Error = actErr.Error()
	s.renderDevice(w, r, status, v, d, form)
}

// backendErr maps a Backend error to the status the API would answer.
func (s *Server) backendErr(err error) (int, error) {
	if err == nil {
		return http.StatusOK, nil
	}
	switch {
	case errors.Is(err, api.ErrNotFound):
		return http.StatusNotFound, err
	case errors.Is(err, api.ErrProtected), errors.Is(err, api.ErrConflict):
		return http.StatusConflict, err
	case errors.Is(err, api.ErrInvalid):
		return http.StatusBadRequest, err
	}
	s.log.Error("web: action failed", "err", err)
	return http.StatusInternalServerError, errors.New("the router could not do that; its log says why")
}

// eventsPage is the event log's data.
type eventsPage struct {
	Events     []*event.Event
	Devices    []api.Device
	Kinds      []string
	Severities []string
	Filter     struct{ MAC, Kind, Type, Severity string }
}

// observationKinds are offered in the event log's filter besides the
// finding kinds.
var observationKinds = []event.Kind{
	event.KindDHCP, event.KindDNSQuery, event.KindMDNS, event.KindSSDP, event.KindUPnP, event.KindWSD,
	event.KindHTTPClient, event.KindHTTPServer, event.KindBanner, event.KindTLSClient,
	event.KindTLSServer, event.KindAudit, event.KindFirmwareUpdated, event.KindAdvisoryWithdrawn,
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav, v.Live = "Event log", "events", true
	p := eventsPage{Devices: s.backend.Devices()}
	for sev := event.SeverityInfo; sev <= event.SeverityCritical; sev++ {
		p.Severities = append(p.Severities, sev.String())
	}
	p.Kinds = append(p.Kinds, config.FindingKinds...)
	for _, k := range observationKinds {
		p.Kinds = append(p.Kinds, string(k))
	}
	q := r.URL.Query()
	p.Filter.MAC, p.Filter.Kind, p.Filter.Type, p.Filter.Severity = q.Get("mac"), q.Get("kind"), q.Get("type"), q.Get("severity")
	status := http.StatusOK
	f, err := api.ParseEventFilter(r)
	if err != nil {
		v.Error, status = err.Error(), http.StatusBadRequest
	} else {
		p.Events = s.backend.Events(f)
	}
	v.Page = p
	s.render(w, r, status, eventsContent, v)
}

// policyPage is the read-only policy page's data.
type policyPage struct {
	Available  bool
	P          config.Policy
	Actions    [][2]string
	Thresholds [][2]string
	ConfigPath string
}

func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Nav = "Policy", "policy"
	p := policyPage{Available: s.opt.Policy != nil, ConfigPath: s.opt.ConfigPath}
	if p.ConfigPath == "" {
		p.ConfigPath = config.DefaultPath
	}
	if s.opt.Policy != nil {
		p.P = s.opt.Policy()
		for _, k := range config.FindingKinds {
			a, ok := p.P.Actions[k]
			if !ok {
				a = p.P.DefaultAction
			}
			p.Actions = append(p.Actions, [2]string{k, string(a)})
		}
		for k, n := range p.P.Thresholds {
			p.Thresholds = append(p.Thresholds, [2]string{k, fmt.Sprintf("%d findings", n)})
		}
		sort.Slice(p.Thresholds, func(i, j int) bool { return p.Thresholds[i][0] < p.Thresholds[j][0] })
	}
	v.Page = p
	s.render(w, r, http.StatusOK, policyContent, v)
}

func stateLabel(state string) string {
	switch state {
	case api.StateOK:
		return "OK"
	case api.StateAlert:
		return "Alert"
	case api.StatePending:
		return "Pending"
	case api.StateQuarantined:
		return "Quarantined"
	case api.StateTrusted:
		return "Trusted"
	}
	return state
}

// modeWords says what a quarantine mode does to the device, in the
// words its alerts use.
func modeWords(mode string) string {
	switch mode {
	case "block":
		return "Cut off from the network"
	case "isolate":
		return "Cut off from the internet"
	case "updates-only":
		return "Limited to its vendor's update servers"
	}
	return "Quarantined as " + mode
}

// ago is a rough relative time for "last seen".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// when is t in the router's zone, with the zone named: a router often
// runs in UTC while its owner lives elsewhere, so a bare hour would be
// read as the wrong one.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// timeTag writes t as when does, inside <time datetime="RFC 3339">: the
// instant itself, whatever zone the router runs in, for the browser and
// assistive technology.
func timeTag(w *markup.Writer, t time.Time) {
	if t.IsZero() {
		w.Raw("-")
		return
	}
	w.Raw("<time")
	w.Attr("datetime", t.Format(time.RFC3339))
	w.Raw(">")
	w.Text(when(t))
	w.Raw("</time>")
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
