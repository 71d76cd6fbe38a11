package inspect

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/event"
)

// This file is the privacy boundary of the gateway: a captured secret comes
// in as a Login and leaves only as a Credential, which holds its class, a
// keyed hash and a redacted form. Nothing else may carry secret bytes out
// of an analyzer.

// SecretKind says what a login's secret is.
type SecretKind uint8

const (
	SecretPassword  SecretKind = iota // a password in clear
	SecretCommunity                   // an SNMP community string
	SecretToken                       // a bearer/access token in clear
	SecretHashed                      // a challenge response (Digest, APOP): no cleartext
)

// PasswordClass is what a secret is known to be. Only the class leaves
// the inspector.
type PasswordClass string

const (
	ClassDefault PasswordClass = "default" // on the factory-default list
	ClassWeak    PasswordClass = "weak"    // short, equal to the user, or a common password
	ClassUnique  PasswordClass = "unique"  // none of the above
	ClassToken   PasswordClass = "token"   // an access token, not a password
	ClassHashed  PasswordClass = "hashed"  // not recoverable from the wire
	ClassEmpty   PasswordClass = "empty"   // no password at all
	ClassNone    PasswordClass = "none"    // no login asked: a shell to anyone who connects
	// ClassAnonymous is a public guest account (FTP's "anonymous", RFC
	// 1635): what it sends as a password is by convention an e-mail
	// address, not a secret, so it is neither hashed nor shown.
	ClassAnonymous PasswordClass = "anonymous"
)

// Login is a credential seen on the wire. Its bytes are borrowed and must
// not be kept: Classify turns it into a Credential right away.
type Login struct {
	Protocol  string // "ftp", "telnet", "http"
	Mechanism string // "USER/PASS", "Basic", "AUTH PLAIN", "CONNECT"
	// Transport names what carried the protocol when that is not its
	// own connection: TransportWebSocket; "" otherwise.
	Transport string
	User      []byte
	Secret    []byte // empty for SecretHashed
	Kind      SecretKind
	Anonymous bool // a public guest account: Secret is no password
	// Verify, for SecretHashed, reports whether a candidate password
	// produces the response seen on the wire; it lets the classifier test
	// the default list against Digest, APOP and similar exchanges.
	Verify func(candidate []byte) bool
	// Challenge, for SecretHashed, holds the exchange's bytes that decide
	// Verify's answers (a Digest header and the request method). Equal
	// challenges give equal answers, so the engine remembers the class
	// and a retransmitted or repeated login costs no candidate checks.
	Challenge [][]byte
}

// DefaultMatch names the default-credential list entry a login matched.
type DefaultMatch struct {
	Vendor string // "" when the entry is generic
	Source string // public source of the entry
}

// Classifier compares logins with the default and weak lists. It works on
// the secret in memory and returns only its verdict.
type Classifier interface {
	Classify(l *Login) (PasswordClass, DefaultMatch)
}

// Credential is a classified login: safe to store, print and send.
type Credential struct {
	Protocol      string
	Mechanism     string
	Transport     string // as Login's
	User          string // redacted; "" when the login has no user (SNMP)
	Class         PasswordClass
	SecretHash    string // keyed hash; "" for hashed and empty secrets
	SecretShape   string // redacted form, e.g. "ad***"
	DefaultVendor string
	DefaultSource string
	Kind          SecretKind
}

// Outcome says whether the server accepted a login.
type Outcome uint8

const (
	OutcomeUnknown Outcome = iota
	OutcomeAccepted
	OutcomeRejected
)

func (o Outcome) String() string {
	switch o {
	case OutcomeAccepted:
		return "yes"
	case OutcomeRejected:
		return "no"
	}
	return "unknown"
}

// Classify turns a login into a Credential. The secret is compared with
// the lists and hashed here; none of its bytes are kept.
func (f *Flow) Classify(l *Login) Credential { return f.engine.classify(l) }

func (e *Engine) classify(l *Login) Credential {
	c := Credential{
		Protocol:  l.Protocol,
		Mechanism: l.Mechanism,
		Transport: l.Transport,
		Kind:      l.Kind,
	}
	if len(l.User) > 0 {
		c.User = Redact(l.User)
	}
	if l.Anonymous {
		c.Class = ClassAnonymous
		return c
	}
	switch {
	case l.Kind == SecretHashed:
		c.Class = ClassHashed
	case len(l.Secret) == 0:
		c.Class = ClassEmpty
	case l.Kind == SecretToken:
		c.Class = ClassToken
	default:
		c.Class = ClassUnique
	}
	if e.classifier != nil && (c.Class == ClassUnique || c.Class == ClassHashed || c.Class == ClassEmpty) {
		if class, m := e.classifyCached(l); class != "" {
			c.Class = class
			c.DefaultVendor, c.DefaultSource = m.Vendor, m.Source
		}
	}
	if len(l.Secret) > 0 {
		c.SecretHash = e.secretHash(l.Secret)
		c.SecretShape = Redact(l.Secret)
	}
	return c
}

func (e *Engine) secretHash(secret []byte) string {
	e.secretMAC.Reset()
	e.secretMAC.Write(secret)
	e.secretSum = e.secretMAC.Sum(e.secretSum[:0])
	// The hash keeps a short secret whole in its block buffer until the
	// next write: reset now, not before the next login.
	e.secretMAC.Reset()
	var text [16]byte
	hex.Encode(text[:], e.secretSum[:8])
	return string(text[:])
}

// Redact keeps the first characters of s and hides the rest: at most two
// characters and never more than a third of s, so "admin" becomes "a***"
// and "12" becomes "***". Characters are counted, not bytes: "密码"
// keeps none. Invalid UTF-8 is shown as hex digits, a byte counting as
// one character.
func Redact(s []byte) string {
	keep := min(utf8.RuneCount(s)/3, 2)
	// Two runes of four bytes or two escapes, then the stars.
	var buf [2*utf8.UTFMax + 3]byte
	out := buf[:0]
	for i, n := 0, 0; n < keep && i < len(s); n++ {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			const digits = "0123456789abcdef"
			out = append(out, '\\', 'x', digits[s[i]>>4], digits[s[i]&0xf])
		} else {
			out = utf8.AppendRune(out, r)
		}
		i += size
	}
	return string(append(out, "***"...))
}

// ReportCredential emits the finding for a classified login: default
// credentials (capability 1, the finding policy quarantines on), weak
// credentials, or credentials sent in clear (capability 4).
//
// A factory-default password the server refused says the server does not
// have it: a LAN device that someone (a compromised neighbour, a
// scanner) tries default passwords on must not be quarantined for
// resisting. About the server, such a login is only one sent in clear.
// So is a weak password it refused: a brute force of common passwords
// against a server that refuses them all is no weak password of the
// server's.
func (f *Flow) ReportCredential(c *Credential, outcome Outcome, subject Subject) {
	f.reportLogin(c, outcome, subject, SubjectServer)
}

// reportLogin files c about subject; receiver is the end that checked
// the login, whose refusal of a default or weak password is a pass for
// it.
func (f *Flow) reportLogin(c *Credential, outcome Outcome, subject, receiver Subject) {
	f.engine.Stats.LoginsReported++
	refused := outcome == OutcomeRejected && subject == receiver
	f.Emit(subject, f.engine.credentialEvent(c, outcome, refused))
}

// loginEventKey is what a login finding's content follows from: fields
// of a Credential, all redacted or hashed, so the memo keeps no secret.
type loginEventKey struct {
	cred    Credential
	outcome Outcome
	refused bool
}

// credentialEvent is the package's credentialEvent, memoised: a device
// repeats its login on every connection, and building the evidence and
// summary again costs more than the finding's filing.
func (e *Engine) credentialEvent(c *Credential, outcome Outcome, refused bool) *event.Event {
	return e.logins.copyOf(loginEventKey{*c, outcome, refused}, func() *event.Event {
		return credentialEvent(c, outcome, refused)
	})
}

// ReportLogin is ReportCredential for a login sent in dir, about the
// device that checked it when that is on the LAN, else the sender: for a
// login sent from the flow's server side (over UDP the flow's client is
// whoever spoke first, a PBX's OPTIONS before a phone's REGISTER) the
// roles of LoginSubject are reversed.
func (f *Flow) ReportLogin(c *Credential, outcome Outcome, dir Dir) {
	sender, receiver := SubjectClient, SubjectServer
	senderLocal, receiverLocal := f.ClientLocal, f.ServerLocal
	if dir == ToClient {
		sender, receiver = receiver, sender
		senderLocal, receiverLocal = receiverLocal, senderLocal
	}
	subject := sender
	if receiverLocal || !senderLocal {
		subject = receiver
	}
	f.reportLogin(c, outcome, subject, receiver)
}

// credentialEvent is the finding for a classified login, without the
// flow and device the caller adds; refused: the subject checked the
// login and refused it (see ReportCredential).
func credentialEvent(c *Credential, outcome Outcome, refused bool) *event.Event {
	ev := &event.Event{Type: event.TypeFinding, Evidence: event.Evidence{
		"protocol":       c.Protocol,
		"mechanism":      c.Mechanism,
		"password_class": string(c.Class),
		"accepted":       outcome.String(),
	}}
	if c.Transport != "" {
		ev.Evidence["transport"] = c.Transport
	}
	who := ""
	if c.User != "" {
		ev.Evidence["user"] = c.User
		who = "user " + c.User + ", "
	}
	if c.SecretHash != "" {
		ev.Evidence["password_hash"] = c.SecretHash
		ev.Evidence["password"] = c.SecretShape
	}
	if c.DefaultVendor != "" {
		ev.Evidence["default_vendor"] = c.DefaultVendor
	}
	if c.DefaultSource != "" {
		ev.Evidence["default_source"] = c.DefaultSource
	}
	what := "login"
	if c.Kind == SecretCommunity {
		what = "community string"
	}
	// Concatenation: one allocation for a summary every login repeats.
	proto := strings.ToUpper(c.Protocol)
	switch {
	case c.Class == ClassDefault && refused:
		ev.Kind, ev.Severity = event.KindPlaintextCredentials, event.SeverityMedium
		ev.Capability, ev.Provision = event.CapSecureCommunication, "5.5-7"
		ev.Summary = proto + " " + what + " sent without encryption, a factory-default password the device refused (" + who + "accepted: " + outcome.String() + ")"
	case c.Class == ClassDefault:
		ev.Kind, ev.Severity = event.KindDefaultCredentials, event.SeverityHigh
		ev.Capability, ev.Provision = event.CapNoDefaultPasswords, "5.1-1"
		ev.Summary = proto + " " + what + " with factory-default credentials (" + who + "accepted: " + outcome.String() + ")"
	case c.Class == ClassAnonymous:
		// Public access by design, not a password in clear: told, low.
		ev.Kind, ev.Severity = event.KindPlaintextCredentials, event.SeverityLow
		ev.Capability, ev.Provision = event.CapSecureCommunication, "5.5-7"
		ev.Summary = proto + " anonymous login, no password needed (" + who + "accepted: " + outcome.String() + ")"
	case c.Class == ClassWeak && refused:
		ev.Kind, ev.Severity = event.KindPlaintextCredentials, event.SeverityMedium
		ev.Capability, ev.Provision = event.CapSecureCommunication, "5.5-7"
		ev.Summary = proto + " " + what + " sent without encryption, a weak password the device refused (" + who + "accepted: " + outcome.String() + ")"
	case c.Class == ClassWeak:
		ev.Kind, ev.Severity = event.KindWeakCredentials, event.SeverityMedium
		ev.Capability, ev.Provision = event.CapNoDefaultPasswords, "5.1-2"
		ev.Summary = proto + " " + what + " with a weak password sent in clear (" + who + "accepted: " + outcome.String() + ")"
	default:
		ev.Kind, ev.Severity = event.KindPlaintextCredentials, event.SeverityMedium
		ev.Capability, ev.Provision = event.CapSecureCommunication, "5.5-7"
		ev.Summary = proto + " " + what + " sent without encryption (" + who + string(c.Class) + ", accepted: " + outcome.String() + ")"
		if c.Class == ClassHashed {
			ev.Severity = event.SeverityLow
		}
	}
	return ev
}

// ReportNoLogin emits the finding for a LAN server that gives a shell to
// anyone who connects, without asking for a login: worse than a
// factory-default password, so filed as one (capability 1), with
// password_class "none".
func (f *Flow) ReportNoLogin(mechanism string) {
	f.engine.Stats.LoginsReported++
	proto := strings.ToUpper(f.App())
	f.Emit(SubjectServer, &event.Event{
		Type: event.TypeFinding, Kind: event.KindDefaultCredentials, Severity: event.SeverityHigh,
		Capability: event.CapNoDefaultPasswords, Provision: "5.1-1",
		Summary: proto + " gives a shell without any login (no password at all)",
		Evidence: event.Evidence{
			"protocol":       f.App(),
			"mechanism":      mechanism,
			"password_class": string(ClassNone),
			"accepted":       OutcomeAccepted.String(),
		},
	})
}

// LoginSubject is the device a credential belongs to: the server's
// password when the server is on the LAN (a camera's telnet), otherwise
// the client's (a device logging in to a cloud service).
func (f *Flow) LoginSubject() Subject {
	if f.ServerLocal || !f.ClientLocal {
		return SubjectServer
	}
	return SubjectClient
}

// maxVerdicts bounds the memo of challenge-response classifications.
const maxVerdicts = 1024

type verdict struct {
	class PasswordClass
	match DefaultMatch
}

// classifyCached asks the classifier, remembering the answers for
// challenge-response logins whose Challenge is known: checking the
// default list against a Digest response costs dozens of hashes.
func (e *Engine) classifyCached(l *Login) (PasswordClass, DefaultMatch) {
	if l.Kind != SecretHashed || len(l.Challenge) == 0 {
		return e.classifier.Classify(l)
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(l.Protocol), []byte(l.Mechanism), l.User} {
		h.Write(part)
		h.Write([]byte{0})
	}
	for _, part := range l.Challenge {
		h.Write(part)
		h.Write([]byte{0})
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	if v, ok := e.verdicts[key]; ok {
		return v.class, v.match
	}
	class, m := e.classifier.Classify(l)
	if len(e.verdicts) >= maxVerdicts {
		clear(e.verdicts)
	}
	e.verdicts[key] = verdict{class, m}
	return class, m
}

// PendingLogin is a login awaiting the server's verdict. It is classified
// when it is seen, so only the Credential waits: no secret byte outlives
// the segment it came in.
type PendingLogin struct {
	cred Credential
	has  bool
}

// Keep classifies l and keeps it for the verdict; a login still pending
// is reported first, its outcome unknown.
func (p *PendingLogin) Keep(f *Flow, l *Login) {
	p.Report(f, OutcomeUnknown)
	p.cred = f.Classify(l)
	p.has = true
}

// Report reports the pending login, if any, with outcome o.
func (p *PendingLogin) Report(f *Flow, o Outcome) {
	if !p.has {
		return
	}
	p.has = false
	f.ReportCredential(&p.cred, o, f.LoginSubject())
}
