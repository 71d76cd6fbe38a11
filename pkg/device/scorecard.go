package device

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/event"
)

// Status is a provision's or capability's verdict.
type Status string

// Verdicts. A provision fails on a finding of its kind, passes only on
// positive evidence, and is otherwise unknown.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// Card is a device's baseline scorecard: the five capabilities and the
// ETSI EN 303 645 provisions that can be judged from the network.
type Card struct {
	Device       string           `json:"device"`
	Vendor       string           `json:"vendor,omitempty"`
	Contact      *VendorInfo      `json:"security_contact,omitempty"`
	Capabilities []CapabilityCard `json:"capabilities"`
	// Other holds observable provisions outside the five capabilities
	// (5.6 attack surface, 5.7 integrity).
	Other []Provision `json:"other_provisions"`
}

// CapabilityCard is one capability: failed when any provision failed,
// passed when all passed, unknown otherwise.
type CapabilityCard struct {
	Capability event.Capability `json:"capability"`
	Name       string           `json:"name"`
	Status     Status           `json:"status"`
	Provisions []Provision      `json:"provisions"`
}

// Provision is one ETSI EN 303 645 provision's verdict.
type Provision struct {
	ID     string `json:"id"` // "5.1-1"
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Reasons: finding summaries or facts, strongest first, at most
	// maxReasons.
	Reasons []string `json:"reasons,omitempty"`
}

const maxReasons = 4

// KindAudit is the observation the active audit files when it tried a
// device and found nothing: evidence "check" is "default_login" or
// "ports", "result" is "none_found" (see docs/fingerprinting.md). It
// belongs in pkg/event; until it is there, the string is the contract.
const KindAudit = event.KindAudit

// Scorecard judges d against the baseline. contacts is the vendor table
// for capability 2 (nil: the embedded table).
func Scorecard(d *Device, contacts *Vendors) Card {
	if contacts == nil {
		contacts, _ = EmbeddedVendors()
	}
	s := scorer{d: d}
	card := Card{Device: d.Key.String()}

	vendor := d.Identity.Vendor
	if vendor.Value != "" && !vendor.OnlyChip() && contacts != nil {
		card.Vendor = vendor.Value
		if vi, ok := contacts.Lookup(vendor.Value); ok {
			card.Contact = vi
		}
	}

	caps := []CapabilityCard{
		{Capability: event.CapNoDefaultPasswords, Provisions: []Provision{s.p511(), s.p512()}},
		{Capability: event.CapDisclosurePolicy, Provisions: []Provision{s.p521(vendor, card.Contact)}},
		{Capability: event.CapSoftwareUpdates, Provisions: []Provision{s.p538(), s.p537()}},
		{Capability: event.CapSecureCommunication, Provisions: []Provision{s.p551(), s.p557()}},
		{Capability: event.CapPersonalData, Provisions: []Provision{s.p581()}},
	}
	for i := range caps {
		c := &caps[i]
		c.Name = event.CapabilityName(c.Capability)
		c.Status = overall(c.Provisions)
	}
	card.Capabilities = caps
	card.Other = []Provision{s.p561(), s.p562(), s.p57()}
	return card
}

func overall(ps []Provision) Status {
	all := true
	for _, p := range ps {
		if p.Status == Fail {
			return Fail
		}
		all = all && p.Status == Pass
	}
	if all {
		return Pass
	}
	return Unknown
}

type scorer struct{ d *Device }

// findings returns the summaries of the device's findings of the kinds.
func (s scorer) findings(match func(*event.Event) bool) []string {
	var out []string
	for _, f := range s.d.Findings {
		if match(f) && len(out) < maxReasons {
			out = append(out, f.Summary)
		}
	}
	return out
}

func kinds(ks ...event.Kind) func(*event.Event) bool {
	return func(e *event.Event) bool {
		for _, k := range ks {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
}

func (s scorer) audited(check string) (string, bool) {
	o := s.audit(check)
	if o == nil || o.Evidence["result"] != "none_found" {
		return "", false
	}
	return o.Summary, true
}

// audit returns the device's latest audit result of check, or nil.
func (s scorer) audit(check string) *event.Event {
	for _, o := range s.d.Observations {
		if o.Kind == KindAudit && o.Evidence["check"] == check {
			return o
		}
	}
	return nil
}

// loginAudit returns the default-login audit's result when it is proof
// that no default login opens the services it lists: the whole candidate
// list tried on every open login service ("stop" "exhausted", nothing
// "untested"). Otherwise it returns why it is no proof ("" when there
// is no audit result at all). A test stopped at its attempt cap tried
// 10 of some 127 candidates: no proof, whatever an older audit wrote in
// "result".
func (s scorer) loginAudit() (proof *event.Event, why string) {
	o := s.audit("default_login")
	if o == nil {
		return nil, ""
	}
	e := o.Evidence
	switch {
	case e["result"] != "none_found":
		return nil, "default-login audit gave no answer: " + o.Summary
	case e["stop"] != "exhausted":
		why := "default-login audit did not record that it tried its whole list"
		if e["stop"] == "cap" {
			why = "default-login audit stopped at its attempt cap after " + e["attempts"] + " attempts, before the end of the list"
		}
		return nil, why
	case e["untested"] != "":
		return nil, "default-login audit did not test " + e["untested"]
	}
	return o, ""
}

func verdict(id, title string, fails []string, passReason string) Provision {
	p := Provision{ID: id, Title: title, Status: Unknown}
	switch {
	case len(fails) > 0:
		p.Status, p.Reasons = Fail, fails
	case passReason != "":
		p.Status, p.Reasons = Pass, []string{passReason}
	}
	return p
}

func unknown(p Provision, reason string) Provision {
	if p.Status == Unknown && reason != "" {
		p.Reasons = []string{reason}
	}
	return p
}

// changedLogin reports whether e is an accepted login to the device
// with a unique password, one checked against the factory-default list
// and the common passwords and found on neither: that service's password
// was changed. A weak password (short, the user's name, a common one)
// is as easy to guess as a default and often is one the list lacks
// ("12345"); an empty password, an anonymous guest login or a token says
// nothing about the password; a hashed one (Digest, APOP) was not always
// checked against the whole list (a response is tried against at most
// creds.MaxVerify candidates, and not at all without a verifier). Nor
// does a login the device made to another server count (a mail client's
// to its provider: the user's account, not the device's).
//
// Nor does a login on a connection whose handshake was not seen (a
// joined flow): the "accepted" reply is the word of whoever sent those
// frames, which need not be the device.
func (s scorer) changedLogin(e *event.Event) bool {
	return e.Kind == event.KindPlaintextCredentials && e.Evidence["password_class"] == "unique" &&
		e.Evidence["accepted"] == "yes" && s.servedByDevice(e) && !e.Flow.Joined
}

// loginProtocols are the protocols whose servers ask for a password: a
// banner, a Server header or a port of one shows a login service of the
// device, whose password 5.1-1 covers as much as any other.
var loginProtocols = map[string]bool{"telnet": true, "ssh": true, "ftp": true, "http": true, "rtsp": true}

// loginService is one login service of the device, by port.
type loginService struct {
	name    string // "telnet:23"
	covered string // why no default opens it; "" when nothing says so
}

// loginServices lists the login services seen on the device, by port,
// in the order first seen: the services of logins to it and of its
// login protocols' banners and headers, the open ports the port check
// and the login audit name. Each says whether an accepted non-default
// login or a complete default-login audit covers it.
func (s scorer) loginServices(audit *event.Event) []loginService {
	var out []loginService
	idx := map[string]int{}
	add := func(proto, port, covered string) {
		if port == "" || port == "0" {
			return
		}
		i, ok := idx[port]
		if !ok {
			i = len(out)
			idx[port] = i
			out = append(out, loginService{name: proto + ":" + port})
		}
		if out[i].covered == "" {
			out[i].covered = covered
		}
	}
	for _, e := range append(append([]*event.Event{}, s.d.Findings...), s.d.Observations...) {
		proto := e.Evidence["protocol"]
		if proto == "" && e.Flow != nil {
			proto = e.Flow.App
		}
		switch {
		case e.Kind == event.KindExposedService:
			add(proto, e.Evidence["port"], "")
		case !s.servedByDevice(e):
		case e.Kind == event.KindPlaintextCredentials || e.Kind == event.KindWeakCredentials || e.Kind == event.KindDefaultCredentials:
			covered := ""
			if s.changedLogin(e) {
				covered = "password changed: " + e.Summary
			}
			add(proto, strconv.Itoa(int(e.Flow.Server.Port)), covered)
		case loginProtocols[proto] || e.Kind == event.KindHTTPServer:
			if proto == "" {
				proto = "http"
			}
			add(proto, strconv.Itoa(int(e.Flow.Server.Port)), "")
		}
	}
	if a := s.audit("default_login"); a != nil {
		covered := ""
		if a == audit {
			covered = "default-login audit found none in its whole list"
		}
		for _, list := range []string{a.Evidence["protocols"], a.Evidence["untested"]} {
			for svc := range strings.SplitSeq(list, ",") {
				if proto, port, ok := strings.Cut(strings.TrimSpace(svc), ":"); ok {
					add(proto, port, covered)
				}
			}
			covered = ""
		}
	}
	return out
}

// p511 passes only when every login service seen on the device is
// covered: 5.1-1 is about all of the device's passwords, and one changed
// password (the web page's) says nothing of another service's (telnet's
// factory root password).
func (s scorer) p511() Provision {
	audit, why := s.loginAudit()
	services := s.loginServices(audit)
	var covered, open []string
	for _, svc := range services {
		if svc.covered != "" {
			covered = append(covered, svc.name+" ("+svc.covered+")")
		} else {
			open = append(open, svc.name)
		}
	}
	pass := ""
	switch {
	case len(covered) > 0 && len(open) == 0:
		pass = "every login service seen is covered: " + strings.Join(covered, "; ")
	case len(covered) > 0:
		why = "password checked on " + strings.Join(covered, "; ") + "; not tested: " + strings.Join(open, ", ")
	case why != "":
	case len(open) > 0:
		why = "not tested: " + strings.Join(open, ", ") + " (no accepted login with a unique password seen, and no complete audit)"
	default:
		why = "no login to the device seen, and no audit yet"
	}
	// A default whose acceptance was not seen (the client sent it and
	// the answer was missed, a trap's community sent by the device to a
	// manager) says the password was tried, not that the device has it:
	// no fail, and no pass either.
	for _, e := range s.d.Findings {
		if e.Kind == event.KindDefaultCredentials && !acceptedDefault(e) {
			switch e.Evidence["accepted"] {
			case "no":
				why = "default tried, refused: " + e.Summary
			case "yes":
				// Only on a connection the capture joined (SeenAccepted).
				why = "default accepted on a connection seen only from its middle, unconfirmed: " + e.Summary
			default:
				why = "default tried, outcome not seen: " + e.Summary
			}
			pass = ""
			break
		}
	}
	return unknown(verdict("5.1-1", "No universal default passwords", s.findings(acceptedDefault), pass), why)
}

// acceptedDefault reports whether e is a default login that got in: one
// seen accepted, or the audit's verified one.
func acceptedDefault(e *event.Event) bool {
	return e.Kind == event.KindDefaultCredentials && e.SeenAccepted()
}

// p512 never passes or fails. ETSI EN 303 645 V2.1.1 5.1-2: "Where
// pre-installed unique per device passwords are used, these shall be
// generated with a mechanism that reduces the risk of automated attacks
// against a class or type of device." The network shows a password in
// use, not whether the maker pre-installed it or a user set it, nor how
// a pre-installed one was generated. A weak password the device took is
// shown, first, as worth the owner's eye; a factory default it took is
// 5.1-1's fail.
func (s scorer) p512() Provision {
	const cannotTell = "how pre-installed per-device passwords were generated cannot be told from the network"
	// A login it refused, or one it sent to another server, is no weak
	// password of its own.
	weak := s.findings(func(e *event.Event) bool {
		return e.Kind == event.KindWeakCredentials && e.Evidence["accepted"] == "yes" && s.servedByDevice(e)
	})
	tried := s.findings(func(e *event.Event) bool {
		return e.Kind == event.KindWeakCredentials && e.Evidence["accepted"] != "yes" && e.Evidence["accepted"] != "no" && s.servedByDevice(e)
	})
	var unique string
	for _, f := range s.d.Findings {
		if s.changedLogin(f) {
			unique = f.Summary
			break
		}
	}
	p := Provision{ID: "5.1-2", Title: "Pre-installed unique passwords resist automated attacks", Status: Unknown}
	switch {
	case len(weak) > 0:
		p.Reasons = append([]string{"the device accepted a weak password; whether its maker pre-installed it or a user set it cannot be told from the network: " + weak[0]}, weak[1:]...)
	case len(tried) > 0:
		p.Reasons = []string{"weak password sent to the device, outcome not seen: " + tried[0] + "; " + cannotTell}
	case unique != "":
		p.Reasons = []string{"login to the device seen with a unique password, its maker's or a user's: " + unique + "; " + cannotTell}
	default:
		p.Reasons = []string{"no login to the device with its password seen; " + cannotTell}
	}
	return p
}

func (s scorer) p521(vendor Attribute, vi *VendorInfo) Provision {
	p := Provision{ID: "5.2-1", Title: "Disclosure policy published", Status: Unknown}
	switch {
	case vendor.Value == "":
		p.Reasons = []string{"vendor not identified"}
	case vendor.OnlyChip():
		// The chip maker's policy covers its chip, not the firmware
		// and product of whoever built the device around it; a
		// hypervisor maker's (a virtual NIC's OUI) not the guest's.
		p.Reasons = []string{"maker not identified: " + vendor.Value + " made a part of it (" + vendor.Evidence[0].Rule + ")"}
	case vi == nil:
		p.Reasons = []string{vendor.Value + " is not in the vendor security table"}
	case vi.NoneFound:
		p.Status = Fail
		p.Reasons = []string{vi.Name + " publishes no disclosure policy (" + vi.Source + ")"}
	case vi.Policy == "":
		p.Reasons = []string{"no disclosure policy known for " + vi.Name}
	case vi.Unsure:
		// Written from memory and not re-checked: a hint, not proof.
		p.Reasons = []string{"table entry not verified: " + vi.Name + " may publish " + vi.Policy}
	case vendor.Confidence < 0.5:
		// Maybe not this vendor's device at all.
		p.Reasons = []string{fmt.Sprintf("vendor uncertain (%s, confidence %.2f); %s publishes %s", vendor.Value, vendor.Confidence, vi.Name, vi.Policy)}
	default:
		p.Status = Pass
		p.Reasons = []string{vi.Name + " publishes " + vi.Policy}
	}
	return p
}

func (s scorer) p538() Provision {
	// A version only claims report (a DHCP vendor class, an SSDP or
	// mDNS announcement: one datagram anyone on the LAN can send in the
	// device's name) is no fact about the device: policy does not
	// quarantine on it, and it fails nothing here either. Nor does a
	// distribution's build, which may carry the fix (distributionReason).
	served := func(e *event.Event) bool {
		return e.Kind == event.KindOutdatedFirmware && !event.ClaimsOnly(e.Evidence["software_source"]) && !event.DistributionBuild(e)
	}
	p := verdict(advisory.Provision, "Security updates timely: no known-vulnerable software", s.findings(served), "")
	if p.Status == Unknown {
		for _, e := range s.d.Findings {
			if e.Kind == event.KindOutdatedFirmware && !served(e) {
				if !event.ClaimsOnly(e.Evidence["software_source"]) {
					p.Reasons = []string{distributionReason(e)} // a distribution build
					return p
				}
				p.Reasons = []string{"a claimed version matched an advisory (reported only by " + e.Evidence["software_source"] +
					", which anyone on the network can send in the device's name): " + e.Summary}
				return p
			}
		}
	}
	if p.Status == Unknown {
		if len(s.d.Software) == 0 {
			p.Reasons = []string{"no software version identified"}
		} else {
			var seen []string
			for _, sw := range s.d.Software[:min(len(s.d.Software), 3)] {
				seen = append(seen, strings.TrimSpace(sw.Product+" "+sw.Version))
			}
			p.Reasons = []string{"no advisory matched " + strings.Join(seen, ", ") + " (not proof the software is current)"}
		}
	}
	return p
}

func (s scorer) p537() Provision {
	return unknown(verdict("5.3-7", "Updates delivered securely", s.findings(kinds(event.KindFirmwareOverHTTP)), ""),
		"no update download seen")
}

// strongInternet says whether every TCP connection the device opened to
// the internet was seen to negotiate TLS 1.2 or newer with a strong
// suite, no weak_tls or weak_ssh finding stands against the device, and
// the device was seen in no application flow in clear on the LAN: a
// camera that serves telnet in clear to the LAN, or a laptop that logs
// in to it so, does not communicate securely whatever its cloud
// connections did.
// Nor did the device send UDP to the internet on a port not known to
// carry encrypted or infrastructure traffic (internetUDP): nothing
// judged it, and CoAP or syslog in clear beside TLS is no best practice.
func (s scorer) strongInternet() (string, bool) {
	t := s.d.traffic
	if t.wanConns == 0 || t.tlsWeak > 0 || t.tlsStrong < t.wanConns || len(s.findings(kinds(event.KindWeakTLS, event.KindWeakSSH))) > 0 || s.d.lanClear.n > 0 || t.udp.n > 0 {
		return "", false
	}
	return fmt.Sprintf("all %d internet TCP connections seen used TLS 1.2 or newer with a strong cipher", t.wanConns), true
}

// internetUnknown says why the secure-communication provisions are
// unknown. They never pass: best practice cryptography (ETSI EN 303 645
// V2.1.1, 3.1: no indication of a feasible attack with readily available
// techniques) includes checking the server's certificate, which no
// frame shows, and the capture holds only the traffic of its hours and
// links. Every internet connection in TLS 1.2 or newer is said as a
// fact, not as a pass.
func (s scorer) internetUnknown() string {
	if strong, ok := s.strongInternet(); ok {
		return strong + "; whether the device checks the server's certificate, and how it protects what was not seen, cannot be told from the network"
	}
	t := s.d.traffic
	if weak := s.findings(kinds(event.KindWeakTLS, event.KindWeakSSH)); len(weak) > 0 {
		return weak[0]
	}
	var internet string
	if t.wanConns == 0 {
		internet = "no internet TCP connection opened by the device seen"
	} else {
		internet = fmt.Sprintf("%d of %d internet TCP connections seen were TLS 1.2 or newer with a strong cipher", t.tlsStrong, t.wanConns)
	}
	// The UDP comes first: with every TCP connection strong it is what
	// keeps the all-TLS reason away.
	if udp := t.udp.reason(); udp != "" {
		internet = udp + "; " + internet
	}
	if l := s.d.lanClear; l.n > 0 {
		var seen []string
		for _, r := range l.reasons {
			if r != "" {
				seen = append(seen, r)
			}
		}
		lan := strings.Join(seen, "; ")
		if l.more {
			lan += "; and more in clear on the LAN"
		}
		return lan + "; " + internet
	}
	return internet
}

func (s scorer) p551() Provision {
	fails := s.findings(kinds(event.KindWeakTLS, event.KindWeakSSH, event.KindPlaintextProtocol))
	return unknown(verdict("5.5-1", "Best-practice cryptography", fails, ""), s.internetUnknown())
}

// clearCredentials are credentials seen on the wire (not the audit's own
// verified logins): they crossed the network unprotected. An anonymous
// FTP login (RFC 1635) is public access, its "password" by convention
// an e-mail address: no credential to protect.
func (s scorer) clearCredentials(e *event.Event) bool {
	switch e.Kind {
	case event.KindPlaintextCredentials:
		return e.Evidence["password_class"] != "anonymous"
	case event.KindDefaultCredentials, event.KindWeakCredentials:
		return !e.Verified
	}
	return false
}

func (s scorer) p557() Provision {
	return unknown(verdict("5.5-7", "Credentials protected in transit", s.findings(s.clearCredentials), ""), s.internetUnknown())
}

func (s scorer) p581() Provision {
	return unknown(verdict("5.8-1", "Personal data protected in transit", s.findings(kinds(event.KindPersonalData)), ""), s.internetUnknown())
}

// servedByDevice reports whether an event shows the device as the server.
func (s scorer) servedByDevice(e *event.Event) bool {
	return e.Flow != nil && e.Flow.Server.IP != "" && e.Flow.Server.IP == e.Device.IP
}

// p561 never fails or passes. ETSI EN 303 645 V2.1.1 5.6-1: "All
// unused network and logical interfaces shall be disabled." Which
// interfaces the device's intended use needs is its maker's design,
// which no frame shows: an open telnet or FTP server may be the one the
// owner administers it by, and one a client logs in to is, by the
// words, in use. Nor does a port no traffic was seen on show an unused
// interface: a capture holds only its hours. Such a server is named in
// the reason, first, for what it is: cleartext remote administration,
// whose logins in clear 5.5-1 and 5.5-7 judge.
func (s scorer) p561() Provision {
	const cannotTell = "whether it is an unused interface cannot be told from the network; logins to it in clear count under 5.5-1 and 5.5-7"
	var seen []string
	ports := map[string]bool{}
	for _, e := range s.d.Findings {
		if e.Kind == event.KindExposedService && len(seen) < maxReasons {
			seen = append(seen, e.Summary)
			ports[e.Evidence["port"]] = true
		}
	}
	for _, e := range append(append([]*event.Event{}, s.d.Observations...), s.d.Findings...) {
		if e.Evidence["protocol"] == "telnet" && s.servedByDevice(e) {
			if port := strconv.Itoa(int(e.Flow.Server.Port)); !ports[port] && len(seen) < maxReasons {
				seen = append(seen, "telnet server on port "+port+" (cleartext remote administration)")
			}
			break
		}
	}
	p := Provision{ID: "5.6-1", Title: "Unused interfaces disabled", Status: Unknown}
	switch sum, ok := s.audited("ports"); {
	case len(seen) > 0:
		p.Reasons = append([]string{seen[0] + ": " + cannotTell}, seen[1:]...)
	case ok:
		// The port check looks for telnet and FTP among a dozen ports:
		// finding neither says nothing of whether the device's other
		// interfaces (open ports, radios, debug ports) are in use.
		p.Reasons = []string{"port audit found no telnet or FTP (" + sum + "); whether every unused interface is disabled is not known"}
	default:
		p.Reasons = []string{"no port audit yet"}
	}
	return p
}

// versionInBanner finds "name/1.2" or "name 1.2"-style versions: the
// separator, a "v", and the dotted numbers.
var versionInBanner = regexp.MustCompile(`[A-Za-z][\w-]*([/ _])(v?)([0-9]+(?:\.[0-9]+)+)`)

// hasVersion reports whether text names a software version. An IPv4
// address ("connected to 192.168.1.5") and a time after a space ("at
// 10.30") are not one.
func hasVersion(text string) bool {
	for _, m := range versionInBanner.FindAllStringSubmatch(text, -1) {
		sep, v, num := m[1], m[2], m[3]
		parts := strings.Split(num, ".")
		if len(parts) == 4 && allBelow(parts, 256) {
			continue // an address
		}
		if sep == " " && v == "" && len(parts) == 2 && len(parts[1]) == 2 && len(parts[0]) <= 2 && below(parts[0], 24) && below(parts[1], 60) {
			continue // a time of day
		}
		return true
	}
	return false
}

func allBelow(parts []string, n int) bool {
	for _, p := range parts {
		if !below(p, n) {
			return false
		}
	}
	return true
}

func below(s string, n int) bool {
	v, err := strconv.Atoi(s)
	return err == nil && v < n
}

func (s scorer) p562() Provision {
	var fails []string
	// What was seen without a version, for the unknown verdict's reason:
	// a banner without one is not "no banner seen".
	var plain, upnp int
	for _, o := range s.d.Observations {
		if len(fails) == maxReasons {
			break
		}
		var text string
		switch o.Kind {
		case event.KindBanner:
			if o.Evidence["stage"] == "after_login" || !s.servedByDevice(o) {
				continue
			}
			text = o.Evidence["banner"]
		case event.KindHTTPServer:
			if o.Evidence["server"] == "" && o.Evidence["realm"] == "" {
				continue // an ONVIF device's information, which answers a login
			}
			text = o.Evidence["server"]
		default:
			continue
		}
		// UPnP requires "OS/version UPnP/1.0 product/version" in SERVER.
		switch {
		case strings.Contains(text, "UPnP/"):
			upnp++
			continue
		case !hasVersion(text):
			plain++
			continue
		}
		fails = append(fails, fmt.Sprintf("discloses %q to unauthenticated clients", text))
	}
	const upnpWhy = "which the UPnP specification requires to name versions"
	why := "no service banner of the device seen"
	switch {
	case plain == 1:
		why = "the device's 1 pre-login banner or Server header seen names no software version"
	case plain > 1:
		why = fmt.Sprintf("the device's %d pre-login banners or Server headers seen name no software version", plain)
	case upnp > 0:
		why = "only UPnP SERVER headers seen, " + upnpWhy
	}
	if plain > 0 && upnp > 0 {
		why += "; UPnP SERVER headers, " + upnpWhy + ", not counted"
	}
	return unknown(verdict("5.6-2", "No security info before login", fails, ""), why)
}

func (s scorer) p57() Provision {
	return unknown(verdict("5.7-2", "No sign of compromise", s.findings(kinds(event.KindScanning)), ""),
		"no scanning seen (absence is not proof of integrity)")
}

// WriteText writes the card as a compact label: one line per capability
// with its verdict and top reason, then the other provisions.
func (c Card) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, cp := range c.Capabilities {
		ew.printf("  %-8s %-6d %-32s %s\n", strings.ToUpper(string(cp.Status)), int(cp.Capability), cp.Name, topReason(cp.Provisions, cp.Status))
	}
	for _, p := range c.Other {
		ew.printf("  %-8s %-6s %-32s %s\n", strings.ToUpper(string(p.Status)), p.ID, p.Title, first(p.Reasons))
	}
	return ew.err
}

// topReason is the first reason of the first provision with the
// capability's status.
func topReason(ps []Provision, st Status) string {
	for _, p := range ps {
		if p.Status == st && len(p.Reasons) > 0 {
			return p.ID + ": " + p.Reasons[0]
		}
	}
	return ""
}

func first(rs []string) string {
	if len(rs) == 0 {
		return ""
	}
	return rs[0]
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}
