package http

import (
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

// ONVIF (IP cameras, NVRs, video doorbells) is SOAP over HTTP. Its
// clients (NVRs, home-automation hubs, video management software) log in
// on every request with a WS-Security UsernameToken in the SOAP header
// (OASIS Web Services Security UsernameToken Profile 1.0/1.1):
//
//	<wsse:Security><wsse:UsernameToken>
//	  <wsse:Username>admin</wsse:Username>
//	  <wsse:Password Type="…#PasswordDigest">B64</wsse:Password>
//	  <wsse:Nonce EncodingType="…#Base64Binary">B64</wsse:Nonce>
//	  <wsu:Created>2026-11-28T06:00:00Z</wsu:Created>
//	</wsse:UsernameToken></wsse:Security>
//
// Device management's CreateUsers and SetUser carry new accounts in
// their Body, each password in clear whatever protects the request:
//
//	<tds:SetUser><tds:User>
//	  <tt:Username>admin</tt:Username><tt:Password>admin</tt:Password>
//	  <tt:UserLevel>Administrator</tt:UserLevel>
//	</tds:User></tds:SetUser>
//
// A PasswordDigest is Base64(SHA-1(nonce + created + password)) (the
// profile's section 3.1), which the classifier tests the default list
// against as it does an HTTP Digest response; a PasswordText (the
// default Type) is the password in clear. The camera answers 200, or a
// SOAP fault whose subcode is ter:NotAuthorized (ONVIF Core, "Sender not
// authorized"; WS-Security's own is wsse:FailedAuthentication), often
// with HTTP 400, 401 or 500. A 200 to GetDeviceInformation names the
// camera's manufacturer, model and firmware version.
//
// soapLogin reads a request's body for its first UsernameToken and the
// first user with a password that CreateUsers or SetUser sets, and
// soapAnswer a response's for its fault and device information, both
// with an xmlReader as the body streams, keeping only the fields they
// want, in fixed arrays. Few flows carry SOAP, so a flow does not hold
// them: the Protocol lends them to the bodies that may be SOAP messages
// while they are read (borrowSOAP).

// Bounds of what the SOAP readers keep.
const (
	maxNonce   = 96 // base64 of 72 bytes; clients send 16 or 20
	maxCreated = 40 // "2026-11-28T06:00:00.123456789+01:00" is 35
	maxInfo    = 64 // a manufacturer, model or firmware version
)

// Fields of a UsernameToken, and of a user set (soapLogin.field).
const (
	tokNone = iota
	tokUser
	tokPassword
	tokNonce
	tokCreated
	setUsername
	setPassword
)

// setUserOperations are the device management operations whose users
// (tds:User) carry a new password in clear (ONVIF Device Management
// Service Specification, CreateUsers and SetUser).
var setUserOperations = [...]string{"CreateUsers", "SetUser"}

// Password types of a UsernameToken (soapLogin.kind).
const (
	passwordText   = iota // the default
	passwordDigest        // …#PasswordDigest
	passwordOther         // a type the profile does not define: not read
)

// preAuthOperations are the ONVIF device service operations a device
// answers without authentication (ONVIF Core Specification, access
// class PRE_AUTH): a 200 to one says nothing of the token it carried.
var preAuthOperations = [...]string{
	"GetWsdlUrl", "GetServices", "GetServiceCapabilities", "GetCapabilities",
	"GetHostname", "GetSystemDateAndTime", "GetEndpointReference",
}

// soapLogin reads a SOAP request's first UsernameToken.
type soapLogin struct {
	xml   xmlReader
	field uint8 // where captured data goes: tokUser …
	// done: the first token was read to its end; seen has a bit per
	// field (1<<tokUser …) it held.
	done bool
	seen uint8
	kind uint8 // passwordText …
	// nonceOther: the Nonce's EncodingType is not Base64Binary.
	nonceOther bool
	user       [maxUser]byte
	userLen    int
	pass       [maxPass]byte // the password, or the digest's base64
	passLen    int
	nonce      [maxNonce]byte
	nonceLen   int
	created    [maxCreated]byte
	createdLen int
	// op is the operation: the local name of the Body's first child.
	op    [maxXMLName]byte
	opLen int
	// The user that CreateUsers or SetUser sets (setsUser), the first
	// with a Password: inUser, the Body's User element being read;
	// setDone, one with a Password was read to its end; setSeen has a
	// bit per field (1<<setUsername …) it held.
	setsUser   bool
	inUser     bool
	setDone    bool
	setSeen    uint8
	newUser    [maxUser]byte
	newUserLen int
	newPass    [maxPass]byte
	newPassLen int
}

// reset wipes the reader, a password included.
func (s *soapLogin) reset() { *s = soapLogin{} }

func (s *soapLogin) feed(b []byte) {
	if !s.xml.stopped() {
		s.xml.feed(b, s)
	}
}

// spent reports whether the reader reads no more of the body and found
// neither a token nor a user set: it has nothing to report.
func (s *soapLogin) spent() bool { return s.xml.stopped() && !s.done && !s.setDone }

func (s *soapLogin) open(r *xmlReader, local []byte) {
	if s.field != tokNone {
		// An element within a field ends its capture: the text before it
		// is only a part, which the default list could match as another
		// password. Marked as cut, the field is not reported.
		s.cut()
	}
	switch {
	case r.depth == 1 && r.code(1) != elEnvelope:
		r.stop() // not SOAP
	case r.depth == 3 && r.code(2) == elBody && s.opLen == 0:
		s.opLen = copy(s.op[:], local)
		s.setsUser = inspect.EqualFoldAny(local, setUserOperations[:])
	case r.depth == 4 && s.setsUser && !s.setDone && r.under(elEnvelope, elBody) && string(local) == "User":
		s.inUser, s.setSeen, s.newUserLen, s.newPassLen = true, 0, 0, 0
	case r.depth == 5 && s.inUser:
		switch string(local) {
		case "Username":
			s.field, s.newUserLen = setUsername, 0
		case "Password":
			s.field, s.newPassLen = setPassword, 0
		default:
			return // UserLevel, Extension
		}
		s.setSeen |= 1 << s.field
		r.capture = true
	case r.depth == 5 && !s.done && r.under(elEnvelope, elHeader, elSecurity, elUsernameToken):
		switch string(local) {
		case "Username":
			s.field, s.userLen = tokUser, 0
		case "Password":
			s.field, s.passLen, s.kind = tokPassword, 0, passwordText
		case "Nonce":
			s.field, s.nonceLen, s.nonceOther = tokNonce, 0, false
		case "Created":
			s.field, s.createdLen = tokCreated, 0
		default:
			return
		}
		s.seen |= 1 << s.field
		r.capture = true
	}
}

func (s *soapLogin) attribute(r *xmlReader, local, tail []byte) {
	if !r.capture {
		return
	}
	switch {
	case s.field == tokPassword && string(local) == "Type":
		switch string(tail) {
		case "PasswordText":
			s.kind = passwordText
		case "PasswordDigest":
			s.kind = passwordDigest
		default:
			s.kind = passwordOther
		}
	case s.field == tokNonce && string(local) == "EncodingType":
		s.nonceOther = string(tail) != "Base64Binary"
	}
}

// cut marks the field being captured as longer than what is kept, and
// captures no more of it.
func (s *soapLogin) cut() {
	switch s.field {
	case tokUser:
		s.userLen = len(s.user)
	case tokPassword:
		s.passLen = len(s.pass)
	case tokNonce:
		s.nonceLen = len(s.nonce)
	case tokCreated:
		s.createdLen = len(s.created)
	case setUsername:
		s.newUserLen = len(s.newUser)
	case setPassword:
		s.newPassLen = len(s.newPass)
	}
	s.field = tokNone
}

func (s *soapLogin) text(c byte) {
	switch s.field {
	case tokUser:
		s.userLen = put(s.user[:], s.userLen, c)
	case tokPassword:
		s.passLen = put(s.pass[:], s.passLen, c)
	case tokNonce:
		s.nonceLen = put(s.nonce[:], s.nonceLen, c)
	case tokCreated:
		s.createdLen = put(s.created[:], s.createdLen, c)
	case setUsername:
		s.newUserLen = put(s.newUser[:], s.newUserLen, c)
	case setPassword:
		s.newPassLen = put(s.newPass[:], s.newPassLen, c)
	}
}

func (s *soapLogin) close(r *xmlReader) {
	s.field = tokNone
	switch {
	case r.depth == 4 && !s.done && r.under(elEnvelope, elHeader, elSecurity, elUsernameToken):
		s.done = true
	case r.depth == 4 && s.inUser:
		s.inUser = false
		s.setDone = s.setSeen&(1<<setPassword) != 0
	}
}

// preAuth reports whether the request's operation is one a device
// answers without authentication.
func (s *soapLogin) preAuth() bool {
	return inspect.EqualFoldAny(s.op[:s.opLen], preAuthOperations[:])
}

// login fills in l from the token read, if it was read whole with a
// password of a known type and no field longer than what is kept; l
// borrows the reader's arrays. A PasswordDigest is a hashed secret that
// Verify tests candidates against.
func (s *soapLogin) login(l *inspect.Login) bool {
	if !s.done || s.seen&(1<<tokPassword) == 0 || s.kind == passwordOther ||
		s.userLen == len(s.user) || s.passLen == len(s.pass) || s.nonceLen == len(s.nonce) || s.createdLen == len(s.created) {
		return false
	}
	l.Protocol, l.User = "http", s.user[:s.userLen]
	if s.kind == passwordText {
		l.Mechanism, l.Secret = "ws-security text", s.pass[:s.passLen]
		return true
	}
	digest := bytes.TrimSpace(s.pass[:s.passLen])
	nonce := bytes.TrimSpace(s.nonce[:s.nonceLen])
	created := s.created[:s.createdLen]
	l.Mechanism, l.Kind = "ws-security digest", inspect.SecretHashed
	if !s.nonceOther {
		l.Verify = passwordDigestVerifier(digest, nonce, created)
	}
	l.Challenge = [][]byte{digest, nonce, created}
	return true
}

// userSet fills in l from the user CreateUsers or SetUser sets, if one
// with a Password was read whole, with no field longer than what is
// kept; l borrows the reader's arrays.
func (s *soapLogin) userSet(l *inspect.Login) bool {
	if !s.setDone || s.newUserLen == len(s.newUser) || s.newPassLen == len(s.newPass) {
		return false
	}
	l.Protocol, l.Mechanism = "http", "onvif set-user"
	l.User, l.Secret = s.newUser[:s.newUserLen], s.newPass[:s.newPassLen]
	return true
}

// passwordDigestVerifier returns a Verify for a UsernameToken's
// PasswordDigest (base64) with its Nonce (base64) and Created: it
// reports whether a candidate password yields the digest. nil when the
// digest or nonce is not base64 or the digest is no SHA-1. It copies what
// it needs.
func passwordDigestVerifier(digest, nonce, created []byte) func(candidate []byte) bool {
	want := make([]byte, base64.StdEncoding.DecodedLen(len(digest)))
	n, err := base64.StdEncoding.Decode(want, digest)
	if err != nil || n != sha1.Size {
		return nil
	}
	want = want[:n]
	rawNonce := make([]byte, base64.StdEncoding.DecodedLen(len(nonce)))
	n, err = base64.StdEncoding.Decode(rawNonce, nonce)
	if err != nil {
		return nil
	}
	rawNonce = rawNonce[:n]
	created = bytes.Clone(created)
	return func(candidate []byte) bool {
		h := sha1.New()
		h.Write(rawNonce)
		h.Write(created)
		h.Write(candidate)
		return subtle.ConstantTimeCompare(h.Sum(nil), want) == 1
	}
}

// Fields of a response soapAnswer keeps (soapAnswer.field).
const (
	ansNone = iota
	ansCode
	ansManufacturer
	ansModel
	ansFirmware
)

// soapAnswer reads a SOAP response for a fault that refuses the
// request's credentials and for the device information of a
// GetDeviceInformationResponse. The serial number and hardware id it
// holds are not read: they name one unit, not a model.
type soapAnswer struct {
	xml   xmlReader
	field uint8
	fault bool // the Body holds a Fault
	// response: the Body holds an element other than a Fault, the
	// operation's response.
	response bool
	// refused: the fault's code or a subcode is ter:NotAuthorized or
	// wsse:FailedAuthentication.
	refused bool
	// The local part of the code being read ("NotAuthorized" of
	// "ter:NotAuthorized").
	code    [maxXMLName]byte
	codeLen int
	// info: a GetDeviceInformationResponse was read to its end.
	info            bool
	manufacturer    [maxInfo]byte
	manufacturerLen int
	model           [maxInfo]byte
	modelLen        int
	firmware        [maxInfo]byte
	firmwareLen     int
}

func (s *soapAnswer) reset() { *s = soapAnswer{} }

func (s *soapAnswer) feed(b []byte) {
	if !s.xml.stopped() {
		s.xml.feed(b, s)
	}
}

// spent reports whether the reader reads no more of the body and found
// neither a fault nor a response: the answer says nothing as SOAP.
func (s *soapAnswer) spent() bool { return s.xml.stopped() && !s.fault && !s.response }

func (s *soapAnswer) open(r *xmlReader, local []byte) {
	switch {
	case r.depth == 1 && r.code(1) != elEnvelope:
		r.stop()
	case r.depth == 3 && r.code(2) == elBody:
		if r.code(3) == elFault {
			s.fault = true
		} else {
			s.response = true
		}
	case r.depth >= 4 && r.under(elEnvelope, elBody, elFault) && (string(local) == "Value" || string(local) == "faultcode"):
		s.field, s.codeLen = ansCode, 0
		r.capture = true
	case r.depth == 4 && r.under(elEnvelope, elBody, elDeviceInformation):
		switch string(local) {
		case "Manufacturer":
			s.field, s.manufacturerLen = ansManufacturer, 0
		case "Model":
			s.field, s.modelLen = ansModel, 0
		case "FirmwareVersion":
			s.field, s.firmwareLen = ansFirmware, 0
		default:
			return // SerialNumber, HardwareId: not read
		}
		r.capture = true
	}
}

func (*soapAnswer) attribute(*xmlReader, []byte, []byte) {}

func (s *soapAnswer) text(c byte) {
	switch s.field {
	case ansCode:
		if c == ':' {
			s.codeLen = 0 // a prefix
			return
		}
		s.codeLen = put(s.code[:], s.codeLen, c)
	case ansManufacturer:
		s.manufacturerLen = put(s.manufacturer[:], s.manufacturerLen, c)
	case ansModel:
		s.modelLen = put(s.model[:], s.modelLen, c)
	case ansFirmware:
		s.firmwareLen = put(s.firmware[:], s.firmwareLen, c)
	}
}

func (s *soapAnswer) close(r *xmlReader) {
	if s.field == ansCode {
		switch code := bytes.TrimSpace(s.code[:s.codeLen]); string(code) {
		case "NotAuthorized", "FailedAuthentication":
			s.refused = true
		}
	}
	s.field = ansNone
	if r.depth == 3 && r.under(elEnvelope, elBody, elDeviceInformation) {
		s.info = true
	}
}

// deviceInformation is the evidence of the device information read, nil
// if none was: each field printable, one longer than what is kept left
// out (cut, a version would be another one).
func (s *soapAnswer) deviceInformation() event.Evidence {
	if !s.info {
		return nil
	}
	ev := event.Evidence{}
	for _, fld := range [...]struct {
		key string
		v   []byte
	}{
		{"manufacturer", s.manufacturer[:s.manufacturerLen]},
		{"model", s.model[:s.modelLen]},
		{"firmware_version", s.firmware[:s.firmwareLen]},
	} {
		if v := bytes.TrimSpace(fld.v); len(v) > 0 && len(fld.v) < maxInfo {
			ev[fld.key] = inspect.Scrubbed(v, maxInfo)
		}
	}
	if len(ev) == 0 {
		return nil
	}
	return ev
}

// maxSOAPReaders caps the request bodies, and apart from them the
// response bodies, read as SOAP messages at once (about 100 KiB of
// readers in all). A body is read within a round trip, so few are lent
// at a time, at most 1/HostShareDiv of them to one client address
// (inspect.Lender): a device leaving bodies half-sent on many
// connections cannot keep another's from being read. A body refused a
// reader is not read as SOAP: its token is not reported, or, unless a
// 401 refuses the token, its answer leaves the verdict unknown: neither
// a fault nor a response in it was seen.
const maxSOAPReaders = 64

// soapKind reports whether a body of kind k may be a SOAP message: one
// is typed text/xml or application/soap+xml, or not at all.
func soapKind(k bodyKind) bool { return k == bodyText || k == bodyUnknown }

// borrowSOAP lends the SOAP reader of direction dir to a body of kind k
// that starts, if it may be a SOAP message and one is left.
func (a *analyzer) borrowSOAP(dir inspect.Dir, k bodyKind) {
	if !soapKind(k) {
		return
	}
	if dir == inspect.ToServer {
		a.soap = a.proto.logins.Get(a.hostBucket)
		return
	}
	a.soapAnswer = a.proto.answers.Get(a.hostBucket)
}

// releaseSOAP wipes the SOAP reader of direction dir, if it holds one,
// and gives it back: the Lender keeps what comes back as it is, and a
// login reader holds a password.
func (a *analyzer) releaseSOAP(dir inspect.Dir) {
	switch {
	case dir == inspect.ToServer && a.soap != nil:
		a.soap.reset()
		a.proto.logins.Put(a.soap, a.hostBucket)
		a.soap = nil
	case dir == inspect.ToClient && a.soapAnswer != nil:
		a.soapAnswer.reset()
		a.proto.answers.Put(a.soapAnswer, a.hostBucket)
		a.soapAnswer = nil
	}
}

// tokenLogin reports the UsernameToken the SOAP reader found in a
// request's body and the user it sets, once the body has ended, and
// gives the reader back.
func (a *analyzer) tokenLogin(f *inspect.Flow) {
	s := a.soap
	if s == nil {
		return
	}
	defer a.releaseSOAP(inspect.ToServer)
	if !s.done && !s.setDone {
		return // no allocation: l escapes to the classifier
	}
	var l inspect.Login
	if s.login(&l) {
		c := f.Classify(&l)
		a.bodyCred(f, pendingCred{used: true, soap: true, preAuth: s.preAuth(), sent: httpauth.Sent{Cred: c}})
	}
	l = inspect.Login{}
	if s.userSet(&l) {
		c := f.Classify(&l)
		a.bodyCred(f, pendingCred{used: true, soap: true, setUser: true, sent: httpauth.Sent{Cred: c}})
	}
}

// readSOAPAnswer takes what the body of the response just read showed as
// a SOAP message into the reply, files its device information, and
// gives the reader back.
func (a *analyzer) readSOAPAnswer(f *inspect.Flow) {
	s := a.soapAnswer
	if s == nil {
		return
	}
	defer a.releaseSOAP(inspect.ToClient)
	a.reply.soapFault, a.reply.soapRefused, a.reply.soapResponse = s.fault, s.refused, s.response
	if a.sawDevice || a.reply.relayed || a.reply.status < 200 || a.reply.status > 299 {
		return
	}
	if ev := s.deviceInformation(); ev != nil {
		a.sawDevice = true
		f.Emit(inspect.SubjectServer, &event.Event{
			Type:     event.TypeObservation,
			Kind:     event.KindHTTPServer,
			Summary:  "ONVIF device information",
			Evidence: ev,
		})
	}
}

// soapRefusal reports whether response r refuses its request for want
// of a token: a fault whose code says the sender is not authorized, or
// a 401 that asks for no HTTP authentication (a 401 with a
// WWW-Authenticate challenge and no such fault answers the HTTP layer,
// which many cameras check before the token, or instead of it).
func soapRefusal(r *reply) bool {
	return r.soapRefused || r.status == 401 && !r.challenge.Origin
}

// noteTokenRefusal records, once an answer is read (at its end, or at
// the flow's when that ends it), that it refused its request for want
// of a token, whether the request carried one or not (an NVR's first try
// without one): the server demands tokens there
// (httpauth.Judge.TokenRefused). It notes each answer once.
func (a *analyzer) noteTokenRefusal(f *inspect.Flow) {
	own := a.lastOwnSpace
	a.lastOwnSpace = 0
	if !a.unpaired && own != 0 && soapRefusal(&a.reply) {
		a.judge.TokenRefused(f, a.proto.mem, own)
	}
}

// setUserOutcome is the server's verdict on a password CreateUsers or
// SetUser sets, from its paired response r: taken by a 2xx whose body is
// a SOAP response without a fault (the device set it, whether it checks
// tokens or not, so no demand is needed); refused by any fault
// (NotAuthorized, UsernameClash, PasswordTooWeak …) or an error status;
// otherwise unknown.
func setUserOutcome(r *reply) inspect.Outcome {
	switch {
	case r.soapFault || r.status >= 400:
		return inspect.OutcomeRejected
	case r.status >= 200 && r.status < 300 && r.soapResponse:
		return inspect.OutcomeAccepted
	}
	return inspect.OutcomeUnknown
}

// soapOutcome is the server's verdict on a UsernameToken sent in spaces
// sp, or a user set (setUserOutcome), from its response r: refused by
// soapRefusal; accepted by a 2xx
// whose body is a SOAP response without a fault, from a server known to
// demand a login there (httpauth.Judge.TokenDemanded: a camera that
// never checks a token answers 200 to any), unless the operation is one
// devices answer without authentication. A 2xx whose body was not read
// as a SOAP response (an HTML page, none, a compressed one, one past
// maxSOAPReaders) may come from a server that never read the token; it,
// a 2xx from a server not seen to demand a login, any other fault or
// status, or pairing made unreliable by lost bytes, is unknown.
func (a *analyzer) soapOutcome(f *inspect.Flow, r *reply, c *pendingCred, sp *httpauth.Spaces) inspect.Outcome {
	switch {
	case a.unpaired || r.status == 0:
		return inspect.OutcomeUnknown
	case c.setUser:
		return setUserOutcome(r)
	case soapRefusal(r):
		return inspect.OutcomeRejected
	case r.status >= 200 && r.status < 300 && r.soapResponse && !r.soapFault && !c.preAuth &&
		a.judge.TokenDemanded(f, a.proto.mem, sp):
		return inspect.OutcomeAccepted
	}
	return inspect.OutcomeUnknown
}
