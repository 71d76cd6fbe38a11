package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

// outcome is a login attempt's result.
type outcome uint8

const (
	outcomeRejected outcome = iota
	outcomeAccepted
	outcomeLockout
)

// attempt is what one try of one candidate did.
type attempt struct {
	sent      bool // a credential reached the device: it counts
	outcome   outcome
	mechanism string
	noUser    bool // the service asked for a password only
	noLogin   bool // the service gave a shell without asking for anything
	// anyPassword is what the check after an accepted login found: "yes"
	// (a random password was accepted too), "no", or "untested".
	anyPassword string
}

// service is a login service of the device and where its candidate list
// stands.
type service struct {
	proto    string
	port     uint16
	cands    []creds.Candidate
	next     int
	failures int
	try      func(context.Context, creds.Candidate) (attempt, error)
	// sentPasswords are the passwords a service that asks for a password
	// only was sent: a candidate with another user and the same password
	// would be the same failed login again, a step nearer a lockout.
	sentPasswords []string
}

func (s *service) name() string { return s.proto + ":" + strconv.Itoa(int(s.port)) }

// testLogins tries default credentials on the login services found, in
// turn (telnet, SSH, HTTP, RTSP, FTP: one candidate each per round, so
// that the cap is shared), with AttemptDelay between attempts. It stops at
// the first accepted login, at MaxAttempts, at a sign of lockout, or when
// every list is tried.
func (r *run) testLogins(ctx context.Context) error {
	services, err := r.loginServices(ctx)
	r.services = services
	for _, s := range services {
		r.report.Services = append(r.report.Services, s.name())
	}
	if errors.Is(err, errLockedOut) {
		// A lock set off before (by someone else, or the last audit) is
		// not to be extended through the device's other services.
		r.a.log.Info("audit: device signals lockout before any login", "device", r.t.MAC.String(), "err", err)
		return r.loginsDone(StopLockout, nil)
	}
	if err != nil {
		return r.loginsDone(StopCancelled, err)
	}
	if len(services) == 0 {
		return r.loginsDone(StopNoService, nil)
	}
	if r.t.Begin != nil {
		r.t.Begin()
	}
	first := true
	turn := 0
	for {
		// The list's end first: a list tried to its end at the cap is
		// tried, not cut short.
		s := nextService(services, &turn)
		if s == nil {
			return r.loginsDone(StopExhausted, nil)
		}
		if r.report.Attempts >= r.a.opts.MaxAttempts {
			return r.loginsDone(StopCap, nil)
		}
		if s.sentPasswords != nil && slices.Contains(s.sentPasswords, s.cands[s.next].Password) {
			s.next++
			continue
		}
		if !first {
			if err := sleep(ctx, r.a.opts.AttemptDelay); err != nil {
				return r.loginsDone(StopCancelled, err)
			}
		}
		first = false
		if r.t.Keep != nil && !r.t.Keep() {
			r.a.log.Info("audit withdrawn: the device may not be audited now", "device", r.t.MAC.String(), "attempts", r.report.Attempts)
			return r.loginsDone(StopCancelled, ErrWithdrawn)
		}
		cand := s.cands[s.next]
		res, err := s.try(ctx, cand)
		if res.sent {
			r.report.Attempts++
		}
		if ctx.Err() != nil {
			return r.loginsDone(StopCancelled, ctx.Err())
		}
		switch {
		case err != nil && s.failures > 0 && !res.sent:
			// A service that answered before and fails now, after
			// rejected logins, may be shutting the door: stop.
			r.a.log.Info("audit: service stopped answering after failed logins",
				"device", r.t.MAC.String(), "service", s.name(), "err", err)
			return r.loginsDone(StopLockout, nil)
		case err != nil:
			r.a.log.Info("audit: service dropped", "device", r.t.MAC.String(), "service", s.name(), "err", err)
			s.next = len(s.cands)
			r.report.Untested = append(r.report.Untested, s.name())
			continue
		}
		switch res.outcome {
		case outcomeAccepted:
			if !res.noLogin {
				res.anyPassword = r.acceptsAnyPassword(ctx, s, cand)
			}
			return r.found(s, cand, res)
		case outcomeLockout:
			r.a.log.Info("audit: device signals lockout", "device", r.t.MAC.String(), "service", s.name())
			return r.loginsDone(StopLockout, nil)
		}
		if res.noUser && res.sent {
			s.sentPasswords = append(s.sentPasswords, cand.Password)
		}
		s.failures++
		s.next++
	}
}

// acceptsAnyPassword checks an accepted login once more with a random
// password for the same user, so that a service that takes any password
// is not reported as having a named factory default. The check is a login
// attempt like the others: it waits AttemptDelay, counts, and is made only
// when MaxAttempts leaves room for it ("untested" otherwise). It comes
// after the device accepted a login, which login counters commonly take
// as the end of a run of failures, and is the only attempt after it.
func (r *run) acceptsAnyPassword(ctx context.Context, s *service, cand creds.Candidate) string {
	if r.report.Attempts >= r.a.opts.MaxAttempts {
		return "untested"
	}
	if err := sleep(ctx, r.a.opts.AttemptDelay); err != nil {
		return "untested"
	}
	if r.t.Keep != nil && !r.t.Keep() {
		return "untested"
	}
	res, err := s.try(ctx, creds.Candidate{User: cand.User, Password: randomPassword()})
	if res.sent {
		r.report.Attempts++
	}
	switch {
	case err != nil || !res.sent || ctx.Err() != nil:
		r.a.log.Info("audit: no answer to the check with a random password", "device", r.t.MAC.String(), "service", s.name(), "err", err)
		return "untested"
	case res.outcome == outcomeAccepted:
		return "yes"
	case res.outcome == outcomeLockout:
		// Refusing the client is no verdict on the password.
		r.a.log.Info("audit: device signals lockout at the check with a random password", "device", r.t.MAC.String(), "service", s.name())
		r.report.LockoutSign = true
		return "untested"
	}
	return "no"
}

// randomPassword returns a password no device ships: 26 random base32
// characters (130 bits).
func randomPassword() string {
	return rand.Text()
}

// nextService returns the next service with candidates left, round-robin
// from *turn.
func nextService(services []*service, turn *int) *service {
	for range services {
		s := services[*turn%len(services)]
		*turn++
		if s.next < len(s.cands) {
			return s
		}
	}
	return nil
}

// loginServices lists the open services to test, in order. HTTP and RTSP
// count only when they ask for Basic or Digest credentials; of several
// web ports the first that does is tested. Every other open port of a
// login protocol is listed in the report's Untested: a second telnet
// port, a web page that asks for no Basic or Digest credentials (its login
// may be a form, which the audit does not fill in), the web ports after
// the tested one, an RTSP server without a challenge. A default password
// may still open any of them, so the audit is no proof for them. A web or
// RTSP probe that finds the device refusing the client ends the list
// with errLockedOut.
func (r *run) loginServices(ctx context.Context) ([]*service, error) {
	var out []*service
	add := func(proto string, port uint16, try func(context.Context, creds.Candidate) (attempt, error)) {
		cands := r.a.opts.Candidates.Candidates(proto, r.t.Vendor)
		if len(cands) > 0 {
			out = append(out, &service{proto: proto, port: port, cands: cands, try: try})
		} else {
			r.untested(proto, port)
		}
	}
	if p, ok := r.firstOpen(telnetPorts); ok {
		add("telnet", p, func(ctx context.Context, c creds.Candidate) (attempt, error) { return r.telnetLogin(ctx, p, c) })
		r.untestedOpen("telnet", telnetPorts, p)
	}
	if p, ok := r.firstOpen(sshPorts); ok {
		s := &sshService{r: r, port: p}
		add("ssh", p, s.login)
		r.untestedOpen("ssh", sshPorts, p)
	}
	tested := false
	for _, p := range append(slices.Clone(httpPorts), httpsPorts...) {
		if !r.isOpen(p) {
			continue
		}
		if tested {
			r.untested("http", p)
			continue
		}
		if err := sleep(ctx, r.a.opts.PortDelay); err != nil {
			return nil, err
		}
		w, err := r.probeWeb(ctx, p, slices.Contains(httpsPorts, p))
		if errors.Is(err, errLockedOut) {
			return out, err
		}
		if err != nil {
			r.a.log.Debug("audit: no HTTP login", "device", r.t.MAC.String(), "port", p, "err", err)
			r.untested("http", p)
			continue
		}
		add("http", p, w.login)
		tested = true
	}
	if p, ok := r.firstOpen(rtspPorts); ok {
		if err := sleep(ctx, r.a.opts.PortDelay); err != nil {
			return nil, err
		}
		rs, err := r.probeRTSP(ctx, p)
		switch {
		case errors.Is(err, errLockedOut):
			return out, err
		case err == nil:
			add("rtsp", p, rs.login)
		default:
			r.a.log.Debug("audit: no RTSP login", "device", r.t.MAC.String(), "port", p, "err", err)
			r.untested("rtsp", p)
		}
		r.untestedOpen("rtsp", rtspPorts, p)
	}
	if p, ok := r.firstOpen(ftpPorts); ok {
		add("ftp", p, func(ctx context.Context, c creds.Candidate) (attempt, error) { return r.ftpLogin(ctx, p, c) })
		r.untestedOpen("ftp", ftpPorts, p)
	}
	return out, ctx.Err()
}

// untested lists proto on port in the report's Untested.
func (r *run) untested(proto string, port uint16) {
	r.report.Untested = append(r.report.Untested, proto+":"+strconv.Itoa(int(port)))
}

// untestedOpen lists the open ports of ports other than tested.
func (r *run) untestedOpen(proto string, ports []uint16, tested uint16) {
	for _, p := range ports {
		if p != tested && r.isOpen(p) {
			r.untested(proto, p)
		}
	}
}

func (r *run) firstOpen(ports []uint16) (uint16, bool) {
	for _, p := range ports {
		if r.isOpen(p) {
			return p, true
		}
	}
	return 0, false
}

// progress says how far the login test got on each service: "telnet:23
// 10 of 127".
func (r *run) progress() string {
	parts := make([]string, 0, len(r.services))
	for _, s := range r.services {
		if slices.Contains(r.report.Untested, s.name()) {
			parts = append(parts, s.name()+" dropped")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d of %d", s.name(), s.next, len(s.cands)))
	}
	return strings.Join(parts, ", ")
}

// found ends the login test with the verified default_credentials
// finding.
func (r *run) found(s *service, cand creds.Candidate, res attempt) error {
	r.report.Stop = StopFound
	r.events = append(r.events, r.defaultFinding(s, cand, res))
	return nil
}

// loginsDone records how a login test without an accepted login ended
// and files the audit observation (none for a cancelled test).
func (r *run) loginsDone(stop Stop, err error) error {
	r.report.Stop = stop
	if stop == StopCancelled {
		return err
	}
	ev := r.newEvent(event.TypeObservation, event.KindAudit, 0, "")
	ev.Severity = event.SeverityInfo
	ev.Evidence["check"] = "default_login"
	ev.Evidence["attempts"] = strconv.Itoa(r.report.Attempts)
	ev.Evidence["stop"] = string(stop)
	if len(r.report.Services) > 0 {
		ev.Evidence["protocols"] = strings.Join(r.report.Services, ",")
	}
	if len(r.report.Untested) > 0 {
		ev.Evidence["untested"] = strings.Join(r.report.Untested, ",")
	}
	switch {
	case stop != StopLockout && stop != StopNoService && r.report.Attempts == 0:
		// Every service failed before a credential could be sent (no
		// prompt recognised, a broken server): nothing was learnt.
		ev.Evidence["result"] = "untested"
		ev.Summary = "default-login test could not run: " + strings.Join(r.report.Untested, ", ") + " did not behave as expected"
		r.events = append(r.events, ev)
		return nil
	}
	switch {
	case stop == StopLockout:
		// Not a clean result: the audit did not get to try its list.
		ev.Evidence["result"] = "stopped"
		ev.Summary = fmt.Sprintf("default-login test stopped after %d attempts: the device showed signs of locking out", r.report.Attempts)
	case stop == StopNoService:
		// Nothing was tried: a login form on the device's web page, which
		// the audit does not test, may still take a default password.
		ev.Evidence["result"] = "untested"
		ev.Summary = "no login service the audit tests (telnet, SSH, HTTP/RTSP authentication, FTP)"
		if len(r.report.Untested) > 0 {
			ev.Summary += "; not tested: " + strings.Join(r.report.Untested, ", ")
		}
	case stop == StopCap:
		// The list was not tried to its end: a default further down
		// it, or on a service not tested, may still be accepted.
		ev.Evidence["result"] = "incomplete"
		ev.Evidence["tried"] = r.progress()
		ev.Summary = fmt.Sprintf("default-login test incomplete: stopped at the cap of %d attempts, tried %s", r.a.opts.MaxAttempts, ev.Evidence["tried"])
		if len(r.report.Untested) > 0 {
			ev.Summary += "; not tested: " + strings.Join(r.report.Untested, ", ")
		}
	case stop == StopExhausted && len(r.report.Untested) > 0:
		ev.Evidence["result"] = "incomplete"
		ev.Evidence["tried"] = r.progress()
		ev.Summary = fmt.Sprintf("no default login accepted in %d attempts (%s), but not tested: %s", r.report.Attempts, strings.Join(r.report.Services, ", "), strings.Join(r.report.Untested, ", "))
	default:
		// Every candidate of every open login service was tried.
		ev.Evidence["result"] = "none_found"
		ev.Summary = fmt.Sprintf("no default login accepted in %d attempts, the whole list on %s", r.report.Attempts, strings.Join(r.report.Services, ", "))
	}
	r.events = append(r.events, ev)
	return nil
}

// defaultFinding is the verified default_credentials finding for an
// accepted candidate: redacted user and password shapes, never the
// password.
func (r *run) defaultFinding(s *service, cand creds.Candidate, res attempt) *event.Event {
	ev := r.newEvent(event.TypeFinding, event.KindDefaultCredentials, s.port, s.proto)
	ev.Severity = event.SeverityHigh
	ev.Capability, ev.Provision = event.CapNoDefaultPasswords, "5.1-1"
	ev.Verified = true
	e := ev.Evidence
	e["protocol"] = s.proto
	e["password_class"] = string(inspect.ClassDefault)
	e["accepted"] = "yes"
	e["verified"] = "yes"
	e["port"] = strconv.Itoa(int(s.port))
	if res.noLogin {
		// Nothing was sent: no candidate to name.
		e["password_class"] = string(inspect.ClassNone)
		e["mechanism"] = res.mechanism
		ev.Summary = strings.ToUpper(s.proto) + " gives a shell without any login (no password at all, verified by audit)"
		if s.proto != "telnet" {
			// No session is opened: what the login gives is not seen.
			ev.Summary = strings.ToUpper(s.proto) + " lets anyone log in without authentication (no password at all, verified by audit)"
		}
		r.report.Found = &Found{Protocol: s.proto, Port: s.port}
		return ev
	}
	who := ""
	user := ""
	if cand.User != "" && !res.noUser {
		user = inspect.Redact([]byte(cand.User))
		e["user"] = user
		who = "user " + user + ", "
	}
	if res.mechanism != "" {
		e["mechanism"] = res.mechanism
	}
	if res.anyPassword != "" {
		e["any_password"] = res.anyPassword
	}
	if res.anyPassword == "yes" {
		// A random password got in too: no default to name, and no
		// password to change, only a check to put back.
		e["password_class"] = string(inspect.ClassNone)
		ev.Summary = fmt.Sprintf("%s accepts any password (%saccepted: yes, verified by audit)", strings.ToUpper(s.proto), who)
		r.report.Found = &Found{Protocol: s.proto, Port: s.port, User: user}
		return ev
	}
	if cand.Password != "" {
		e["password"] = inspect.Redact([]byte(cand.Password))
	} else {
		e["password_empty"] = "yes"
	}
	if cand.Vendor != "" {
		e["default_vendor"] = cand.Vendor
	}
	if cand.Source != "" {
		e["default_source"] = cand.Source
	}
	ev.Summary = fmt.Sprintf("%s login with factory-default credentials (%saccepted: yes, verified by audit)", strings.ToUpper(s.proto), who)
	r.report.Found = &Found{Protocol: s.proto, Port: s.port, User: user}
	return ev
}

// errNoAuth is returned by a probe when a service asks for no
// credentials the audit can test.
var errNoAuth = errors.New("no Basic or Digest challenge")

// errLockedOut is returned by a probe when the service, asked without
// credentials, says it refuses the client for now: a 429 or 423, or a
// lockout message on its 401 page. No login goes to any service then.
var errLockedOut = errors.New("the service refuses the client for now")

// refusesClient reports whether an HTTP or RTSP status refuses the client
// for a while, whatever its credentials.
func refusesClient(status int) bool {
	return status == 429 || status == 423 // Too Many Requests, Locked
}
