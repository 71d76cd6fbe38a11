package http

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// onvifCamera is the server of the ONVIF tests: a camera on the LAN.
const onvifCamera = "192.168.1.64:80"

// onvifNonce and onvifCreated are a token's nonce and time, as an NVR
// sends them.
var onvifNonce = []byte("\x8f\x1a\x02\x93\x44\x5e\x6d\x70\x81\x9a\xab\xbc\xcd\xde\xef\xf0")

const onvifCreated = "2026-11-28T06:00:00.000Z"

// digestOf is a UsernameToken's PasswordDigest of password
// (UsernameToken Profile 1.0, section 3.1).
func digestOf(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// digestToken is the Security header of a PasswordDigest login.
func digestToken(user, password string) string {
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
		`<wsse:UsernameToken><wsse:Username>` + user + `</wsse:Username>` +
		`<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">` +
		digestOf(onvifNonce, onvifCreated, password) + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">` +
		base64.StdEncoding.EncodeToString(onvifNonce) + `</wsse:Nonce>` +
		`<wsu:Created>` + onvifCreated + `</wsu:Created></wsse:UsernameToken></wsse:Security>`
}

// textToken is the Security header of a PasswordText login; password
// is as it stands in the XML (escaped).
func textToken(user, password string) string {
	return `<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken>` +
		`<Username>` + user + `</Username>` +
		`<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">` + password + `</Password>` +
		`</UsernameToken></Security>`
}

// envelope is a SOAP 1.2 request with header and body.
func envelope(header, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>` + header + `</s:Header>` +
		`<s:Body xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` + body + `</s:Body></s:Envelope>`
}

// onvifPost is an HTTP request of an ONVIF envelope to the device
// service.
func onvifPost(env string) string {
	return postRequest("/onvif/device_service", "Host: 192.168.1.64\r\nContent-Type: application/soap+xml; charset=utf-8\r\n", env)
}

const getDeviceInformation = `<tds:GetDeviceInformation/>`

// untokened is a request without a token, which a camera that checks
// tokens refuses: an NVR's first try, or ONVIF Device Manager's.
var untokened = onvifPost(envelope("", getDeviceInformation))

// demanded plays the camera refusing a request without a token, which
// shows that it demands one: only then does its 200 accept a token.
func demanded(c *inspecttest.Conv) *inspecttest.Conv {
	return c.Client(untokened).Server(notAuthorized)
}

// soapReply is an HTTP response with a SOAP envelope.
func soapReply(status, body string) string {
	env := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` +
		"\n<env:Body>" + body + "</env:Body></env:Envelope>\n"
	return "HTTP/1.1 " + status + "\r\nServer: gSOAP/2.8\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: " + itoa(len(env)) + "\r\n\r\n" + env
}

var (
	deviceInformation = deviceInformationWith("V5.4.3 build 210105")
	notAuthorized     = soapReply("400 Bad Request", `<env:Fault><env:Code><env:Value>env:Sender</env:Value>`+
		`<env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code>`+
		`<env:Reason><env:Text xml:lang="en">Sender not authorized</env:Text></env:Reason></env:Fault>`)
	notSupported = soapReply("500 Internal Server Error", `<env:Fault><env:Code><env:Value>env:Receiver</env:Value>`+
		`<env:Subcode><env:Value>ter:ActionNotSupported</env:Value></env:Subcode></env:Code></env:Fault>`)
	systemDateAndTime = soapReply("200 OK", `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime/></tds:GetSystemDateAndTimeResponse>`)
)

// deviceInformationWith is a camera's answer to GetDeviceInformation
// with a firmware version.
func deviceInformationWith(firmware string) string {
	return soapReply("200 OK", `<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme Vision</tds:Manufacturer>`+
		`<tds:Model>AV-IPC2042</tds:Model><tds:FirmwareVersion>`+firmware+`</tds:FirmwareVersion>`+
		`<tds:SerialNumber>AV2042K7Q9X31F</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId></tds:GetDeviceInformationResponse>`)
}

// TestONVIFLogins: a WS-Security UsernameToken in a SOAP request is a
// login: a PasswordDigest is tested against the default list as an HTTP
// Digest response is, a PasswordText classified as a password in clear;
// the camera's 200 accepts it once the camera was seen to demand a
// login (a NotAuthorized fault, a 401), a NotAuthorized fault or a 401
// refuses it, and another fault, a 200 from a camera not yet seen to
// demand a login, or a 200 to an operation devices answer to anyone,
// says nothing.
func TestONVIFLogins(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	const secret = "Quarry-Lantern-58"
	digest := func(user, password string) string {
		return onvifPost(envelope(digestToken(user, password), getDeviceInformation))
	}
	text := func(user, password string) string {
		return onvifPost(envelope(textToken(user, password), getDeviceInformation))
	}
	type login = inspecttest.Login
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []login
	}{
		{"digest_default_accepted", func(c *inspecttest.Conv) {
			demanded(c).Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"digest_default_refused_by_fault", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin")).Server(notAuthorized)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "no"}}},
		{"digest_unique_refused_by_401", func(c *inspecttest.Conv) {
			c.Client(digest("admin", secret)).Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: "no"}}},
		// A 401 that challenges for HTTP Digest answers the HTTP layer,
		// which cameras check before the token: the token's verdict is
		// the fault's, if the body holds one.
		{"digest_default_401_http_challenge_unknown", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin")).Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"IPC\", qop=\"auth\", nonce=\"4e6f6e63\"\r\nContent-Length: 0\r\n\r\n")
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"digest_default_401_http_challenge_with_fault", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin")).Server(strings.Replace(strings.Replace(notAuthorized, "400 Bad Request", "401 Unauthorized", 1),
				"\r\n", "\r\nWWW-Authenticate: Digest realm=\"IPC\", qop=\"auth\", nonce=\"4e6f6e63\"\r\n", 1))
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "no"}}},
		{"digest_other_fault_unknown", func(c *inspecttest.Conv) {
			c.Client(digest("admin", secret)).Server(notSupported)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: "unknown"}}},
		{"digest_pre_auth_operation_unknown", func(c *inspecttest.Conv) {
			c.Client(onvifPost(envelope(digestToken("admin", "admin"), `<tds:GetSystemDateAndTime/>`))).Server(systemDateAndTime)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		// A 2xx that is no SOAP response may come from a server that
		// never read the token: a web page answering any POST, an empty
		// body, a compressed one.
		{"digest_default_200_html_unknown", func(c *inspecttest.Conv) {
			page := "<html><body>Welcome</body></html>"
			c.Client(digest("admin", "admin")).Server("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + itoa(len(page)) + "\r\n\r\n" + page)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"digest_default_200_empty_unknown", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin")).Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"digest_default_200_compressed_unknown", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin")).Server("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n\x1f\x8b\x08\x00<a\x00\x00\x00\x00")
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"digest_default_200_envelope_without_body_unknown", func(c *inspecttest.Conv) {
			env := `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header/></env:Envelope>`
			c.Client(digest("admin", "admin")).Server("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: " + itoa(len(env)) + "\r\n\r\n" + env)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"digest_default_chunked_fault_in_200", func(c *inspecttest.Conv) {
			env := notAuthorized[strings.Index(notAuthorized, "<?xml"):]
			half := len(env) / 2
			c.Client(digest("admin", "admin")).Server("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n" +
				strconv.FormatInt(int64(half), 16) + "\r\n" + env[:half] + "\r\n" + strconv.FormatInt(int64(len(env)-half), 16) + "\r\n" + env[half:] + "\r\n0\r\n\r\n")
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "no"}}},
		// An answer before the body ends (a final one to Expect:
		// 100-continue) came before the server could read the token;
		// after a 100 Continue, the body's answer judges it.
		{"digest_default_answered_before_body_unknown", func(c *inspecttest.Conv) {
			req := strings.Replace(digest("admin", "admin"), "\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n", 1)
			end := strings.Index(req, "\r\n\r\n") + 4
			c.Client(req[:end]).Server(deviceInformation).Client(req[end:])
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"digest_default_answered_within_body_unknown", func(c *inspecttest.Conv) {
			req := digest("admin", "admin")
			end := len(req) - len("</s:Envelope>")
			c.Client(req[:end]).Server(deviceInformation).Client(req[end:])
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"digest_default_after_100_continue", func(c *inspecttest.Conv) {
			req := strings.Replace(digest("admin", "admin"), "\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n", 1)
			end := strings.Index(req, "\r\n\r\n") + 4
			demanded(c).Client(req[:end]).Server("HTTP/1.1 100 Continue\r\n\r\n").Client(req[end:]).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"digest_unanswered", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin"))
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"text_default_accepted", func(c *inspecttest.Conv) {
			demanded(c).Client(text("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security text", Class: "default", Accepted: "yes"}}},
		{"text_escaped_unique", func(c *inspecttest.Conv) {
			demanded(c).Client(text("operator", "Quarry&amp;Lantern&#x2D;58")).Server(deviceInformation)
		}, []login{{User: "op***", Mechanism: "ws-security text", Class: "unique", Accepted: "yes"}}},
		{"text_cdata", func(c *inspecttest.Conv) {
			c.Client(text("admin", "<![CDATA[admin]]>")).Server(notAuthorized)
		}, []login{{User: "a***", Mechanism: "ws-security text", Class: "default", Accepted: "no"}}},
		{"text_without_type_is_text", func(c *inspecttest.Conv) {
			demanded(c).Client(onvifPost(envelope(`<o:Security xmlns:o="x"><o:UsernameToken><o:Username>admin</o:Username><o:Password>admin</o:Password></o:UsernameToken></o:Security>`,
				getDeviceInformation))).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security text", Class: "default", Accepted: "yes"}}},
		{"soap11_failed_authentication", func(c *inspecttest.Conv) {
			env := `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault>` +
				`<faultcode>wsse:FailedAuthentication</faultcode><faultstring>The security token could not be authenticated</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`
			c.Client(digest("admin", secret)).Server("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/xml\r\nContent-Length: " + itoa(len(env)) + "\r\n\r\n" + env)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: "no"}}},
		{"pretty_printed_with_comment", func(c *inspecttest.Conv) {
			env := "<?xml version='1.0'?>\n<!-- NVR poll -->\n<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\">\n  <soap:Header>\n" +
				"    " + strings.ReplaceAll(digestToken("admin", "admin"), "><", ">\n      <") + "\n  </soap:Header>\n  <soap:Body>\n    <GetDeviceInformation xmlns=\"http://www.onvif.org/ver10/device/wsdl\"/>\n  </soap:Body>\n</soap:Envelope>\n"
			demanded(c).Client(onvifPost(env)).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"byte_order_mark", func(c *inspecttest.Conv) {
			demanded(c).Client(onvifPost("\xef\xbb\xbf" + envelope(digestToken("admin", "admin"), getDeviceInformation))).
				Server(strings.Replace(deviceInformation, "\r\n\r\n", "\r\n\r\n\xef\xbb\xbf", 1))
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"two_requests_keep_alive", func(c *inspecttest.Conv) {
			c.Client(digest("admin", secret)).Server(notAuthorized).
				Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{
			{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: "no"},
			{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"},
		}},
		{"pipelined", func(c *inspecttest.Conv) {
			demanded(c).Client(digest("admin", "admin") + digest("admin", secret)).Server(deviceInformation + notAuthorized)
		}, []login{
			{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"},
			{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: "no"},
		}},

		// A camera that answers without checking the token answers 200
		// to any: its 200 accepts a token only once it was seen to
		// demand a login where the token went (its own directory or one
		// above), and verdicts are not rewritten: a 200 before the first
		// refusal stays unknown.
		{"digest_default_200_never_demanded_unknown", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		{"text_unique_200_never_demanded_unknown", func(c *inspecttest.Conv) {
			c.Client(text("operator", secret)).Server(deviceInformation)
		}, []login{{User: "op***", Mechanism: "ws-security text", Class: "unique", Accepted: "unknown"}}},
		{"200_before_first_refusal_unknown_after_yes", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin")).Server(deviceInformation).
				Client(digest("admin", secret)).Server(notAuthorized).
				Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{
			{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"},
			{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: "no"},
			{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"},
		}},
		{"pipelined_before_refusal", func(c *inspecttest.Conv) {
			c.Client(digest("admin", "admin") + digest("admin", secret)).Server(deviceInformation + notAuthorized)
		}, []login{
			{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"},
			{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: "no"},
		}},
		{"demanded_by_401_without_challenge", func(c *inspecttest.Conv) {
			c.Client(untokened).Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n").
				Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"demanded_by_http_challenge", func(c *inspecttest.Conv) {
			c.Client(untokened).Server("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"IPC\", qop=\"auth\", nonce=\"4e6f6e63\"\r\nContent-Length: 0\r\n\r\n").
				Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"demanded_by_fault_in_200", func(c *inspecttest.Conv) {
			c.Client(untokened).Server(strings.Replace(notAuthorized, "400 Bad Request", "200 OK", 1)).
				Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"demanded_above_covers", func(c *inspecttest.Conv) {
			c.Client(postRequest("/onvif/device_service", "Host: 192.168.1.64\r\nContent-Type: application/soap+xml\r\n", envelope("", getDeviceInformation))).Server(notAuthorized).
				Client(postRequest("/onvif/Media/media_service", "Host: 192.168.1.64\r\nContent-Type: application/soap+xml\r\n", envelope(digestToken("admin", "admin"), `<trt:GetProfiles/>`))).
				Server(soapReply("200 OK", `<trt:GetProfilesResponse/>`))
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "yes"}}},
		{"demanded_elsewhere_unknown", func(c *inspecttest.Conv) {
			c.Client(postRequest("/cgi-bin/api/x", "Host: 192.168.1.64\r\nContent-Type: application/json\r\n", `{}`)).Server("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n").
				Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},
		// A refusal for want of a token says nothing of Basic: a camera
		// that checks tokens may serve anyone who sends only Basic.
		{"token_refusal_demands_no_basic", func(c *inspecttest.Conv) {
			demanded(c).Client("POST /onvif/device_service HTTP/1.1\r\nHost: 192.168.1.64\r\nAuthorization: Basic " + basicAdmin + "\r\nContent-Length: 0\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []login{{User: "a***", Mechanism: "Basic", Class: "unique", Accepted: "unknown"}}},
		{"other_fault_demands_nothing", func(c *inspecttest.Conv) {
			c.Client(untokened).Server(notSupported).
				Client(digest("admin", "admin")).Server(deviceInformation)
		}, []login{{User: "a***", Mechanism: "ws-security digest", Class: "default", Accepted: "unknown"}}},

		// No login: a token in the Body (CreateUsers is no login), a
		// document that is not SOAP, a password of an unknown type, a
		// token cut by the end of the flow, a field an element cuts in
		// two (the text before it is not the password).
		{"token_in_body", func(c *inspecttest.Conv) {
			c.Client(onvifPost(envelope("", textToken("admin", "admin")))).Server(deviceInformation)
		}, nil},
		{"not_soap", func(c *inspecttest.Conv) {
			c.Client(onvifPost(`<Request><Header>` + textToken("admin", "admin") + `</Header></Request>`)).Server(deviceInformation)
		}, nil},
		{"unknown_password_type", func(c *inspecttest.Conv) {
			c.Client(onvifPost(envelope(strings.Replace(textToken("admin", "admin"), "#PasswordText", "#PasswordSaltedDigest", 1), getDeviceInformation))).
				Server(deviceInformation)
		}, nil},
		{"token_cut_by_flow_end", func(c *inspecttest.Conv) {
			req := text("admin", "admin2024!Secure")
			c.Client(req[:strings.Index(req, "2024!Secure")])
		}, nil},
		{"password_cut_by_element", func(c *inspecttest.Conv) {
			demanded(c).Client(text("admin", "admin<b/>2024!Secure")).Server(deviceInformation)
		}, nil},
		{"user_cut_by_element", func(c *inspecttest.Conv) {
			demanded(c).Client(text("ad<b/>min", "admin")).Server(deviceInformation)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(nil), onvifCamera)
			tt.script(s.Conv)
			col := s.End()
			checkCameraLogins(t, col, tt.want)
			for _, leak := range []string{secret, "Quarry&Lantern-58", digestOf(onvifNonce, onvifCreated, "admin"), base64.StdEncoding.EncodeToString(onvifNonce)} {
				if inspecttest.Leaks(t, col.Events, leak) {
					t.Errorf("%q leaked into an event", leak)
				}
			}
		})
	}
}

// checkCameraLogins checks that col's findings other than plaintext
// protocol use are the logins want, in order, each filed about the
// camera.
func checkCameraLogins(t *testing.T, col *inspecttest.Collector, want []inspecttest.Login) {
	t.Helper()
	var logins []*event.Event
	for _, ev := range col.Findings() {
		if ev.Kind != event.KindPlaintextProtocol {
			logins = append(logins, ev)
		}
	}
	if len(logins) != len(want) {
		t.Fatalf("logins %v, want %v", evidences(logins), want)
	}
	for i, w := range want {
		ev := logins[i].Evidence
		if ev["protocol"] != "http" || ev["user"] != w.User || ev["mechanism"] != w.Mechanism || ev["password_class"] != w.Class || ev["accepted"] != w.Accepted {
			t.Errorf("login %d: %v, want %+v", i, ev, w)
		}
		if logins[i].Device.IP != "192.168.1.64" {
			t.Errorf("login %d is about %s, want the camera", i, logins[i].Device.IP)
		}
	}
}

// TestONVIFSplitAnywhere: a request and its answer read the same cut
// into two segments at any offset: a name, a prefix, an attribute, an
// escape or the digest split.
func TestONVIFSplitAnywhere(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		req, resp      string
		class, outcome string
	}{
		{"digest_accepted", onvifPost(envelope(digestToken("admin", "admin"), getDeviceInformation)), deviceInformation, "default", "yes"},
		{"text_escaped_refused", onvifPost(envelope(textToken("admin", "ad&#109;in"), getDeviceInformation)), notAuthorized, "default", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for dir, msg := range []string{tt.req, tt.resp} {
				for cut := 1; cut < len(msg); cut++ {
					s := inspecttest.NewClassifiedSession(t, cl, New(nil), onvifCamera)
					demanded(s.Conv)
					if dir == 0 {
						s.Client(msg[:cut]).Client(msg[cut:]).Server(tt.resp)
					} else {
						s.Client(tt.req).Server(msg[:cut]).Server(msg[cut:])
					}
					col := s.End()
					f := col.Findings()
					if len(f) != 1 || f[0].Evidence["password_class"] != tt.class || f[0].Evidence["accepted"] != tt.outcome {
						t.Fatalf("%s cut at %d: findings %v, want one %s accepted %s", []string{"request", "answer"}[dir], cut, evidences(f), tt.class, tt.outcome)
					}
				}
			}
		})
	}
}

// setUser is an ONVIF User element (tt:User) of a CreateUsers or SetUser
// request; password "" leaves the Password out, as SetUser may.
func setUser(user, password string) string {
	u := `<tds:User><tt:Username>` + user + `</tt:Username>`
	if password != "" {
		u += `<tt:Password>` + password + `</tt:Password>`
	}
	return u + `<tt:UserLevel>Administrator</tt:UserLevel></tds:User>`
}

// TestONVIFSetUser: CreateUsers and SetUser carry new accounts'
// passwords in clear in the Body; each request's first user with a
// password is a login, "onvif set-user", classified as any password,
// that the camera accepted if it answered 2xx with a SOAP response and
// refused if it answered with a fault or an error status.
func TestONVIFSetUser(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	const secret = "Quarry-Lantern-58"
	const ttNS = ` xmlns:tt="http://www.onvif.org/ver10/schema"`
	create := func(users ...string) string {
		return onvifPost(envelope(digestToken("admin", secret), `<tds:CreateUsers`+ttNS+`>`+strings.Join(users, "")+`</tds:CreateUsers>`))
	}
	set := func(users ...string) string {
		return onvifPost(envelope(digestToken("admin", secret), `<tds:SetUser`+ttNS+`>`+strings.Join(users, "")+`</tds:SetUser>`))
	}
	created := soapReply("200 OK", `<tds:CreateUsersResponse/>`)
	setOK := soapReply("200 OK", `<tds:SetUserResponse/>`)
	clash := soapReply("400 Bad Request", `<env:Fault><env:Code><env:Value>env:Sender</env:Value>`+
		`<env:Subcode><env:Value>ter:OperationProhibited</env:Value><env:Subcode><env:Value>ter:UsernameClash</env:Value></env:Subcode></env:Subcode></env:Code></env:Fault>`)
	type login = inspecttest.Login
	// token is the admin's token that carried each request: its 200
	// accepts it only once the camera was seen demanding a login.
	token := func(accepted string) login {
		return login{User: "a***", Mechanism: "ws-security digest", Class: "hashed", Accepted: accepted}
	}
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []login
	}{
		{"create_default_accepted", func(c *inspecttest.Conv) {
			c.Client(create(setUser("admin", "admin"))).Server(created)
		}, []login{token("unknown"), {User: "a***", Mechanism: "onvif set-user", Class: "default", Accepted: "yes"}}},
		{"set_unique_accepted", func(c *inspecttest.Conv) {
			c.Client(set(setUser("operator", secret))).Server(setOK)
		}, []login{token("unknown"), {User: "op***", Mechanism: "onvif set-user", Class: "unique", Accepted: "yes"}}},
		{"set_escaped_default", func(c *inspecttest.Conv) {
			c.Client(set(setUser("admin", "<![CDATA[ad]]>&#109;in"))).Server(setOK)
		}, []login{token("unknown"), {User: "a***", Mechanism: "onvif set-user", Class: "default", Accepted: "yes"}}},
		{"set_refused_not_authorized", func(c *inspecttest.Conv) {
			c.Client(set(setUser("admin", "admin"))).Server(notAuthorized)
		}, []login{token("no"), {User: "a***", Mechanism: "onvif set-user", Class: "default", Accepted: "no"}}},
		{"create_refused_by_other_fault", func(c *inspecttest.Conv) {
			c.Client(create(setUser("operator", secret))).Server(clash)
		}, []login{token("unknown"), {User: "op***", Mechanism: "onvif set-user", Class: "unique", Accepted: "no"}}},
		{"create_200_not_soap_unknown", func(c *inspecttest.Conv) {
			c.Client(create(setUser("operator", secret))).Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}, []login{token("unknown"), {User: "op***", Mechanism: "onvif set-user", Class: "unique", Accepted: "unknown"}}},
		{"create_unanswered", func(c *inspecttest.Conv) {
			c.Client(create(setUser("operator", secret)))
		}, []login{token("unknown"), {User: "op***", Mechanism: "onvif set-user", Class: "unique", Accepted: "unknown"}}},
		{"first_user_with_password", func(c *inspecttest.Conv) {
			c.Client(create(setUser("viewer", ""), setUser("operator", secret), setUser("admin", "admin"))).Server(created)
		}, []login{token("unknown"), {User: "op***", Mechanism: "onvif set-user", Class: "unique", Accepted: "yes"}}},
		{"without_token", func(c *inspecttest.Conv) {
			c.Client(onvifPost(envelope("", `<tds:SetUser`+ttNS+`>`+setUser("admin", "admin")+`</tds:SetUser>`))).Server(setOK)
		}, []login{{User: "a***", Mechanism: "onvif set-user", Class: "default", Accepted: "yes"}}},

		// No new password: none in the user, a user element of another
		// operation, a user name longer than what is kept, a password cut
		// by the end of the flow or by an element within it.
		{"set_without_password", func(c *inspecttest.Conv) {
			c.Client(set(setUser("operator", ""))).Server(setOK)
		}, []login{token("unknown")}},
		{"other_operation", func(c *inspecttest.Conv) {
			c.Client(onvifPost(envelope("", `<tds:SetRemoteUser`+ttNS+`>`+setUser("admin", "admin")+`</tds:SetRemoteUser>`))).Server(setOK)
		}, nil},
		{"user_too_long", func(c *inspecttest.Conv) {
			c.Client(set(setUser(strings.Repeat("u", maxUser), "admin"))).Server(setOK)
		}, []login{token("unknown")}},
		{"cut_by_flow_end", func(c *inspecttest.Conv) {
			req := set(setUser("admin", "admin2024!Secure"))
			c.Client(req[:strings.Index(req, "2024!Secure")])
		}, []login{token("unknown")}},
		{"password_cut_by_element", func(c *inspecttest.Conv) {
			c.Client(set(setUser("admin", "admin<tt:Extension/>2024!Secure"))).Server(setOK)
		}, []login{token("unknown")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(nil), onvifCamera)
			tt.script(s.Conv)
			col := s.End()
			checkCameraLogins(t, col, tt.want)
			for _, leak := range []string{secret, "operator", "viewer", "admin2024"} {
				if inspecttest.Leaks(t, col.Events, leak) {
					t.Errorf("%q leaked into an event", leak)
				}
			}
		})
	}
}

// TestONVIFDemandAcrossConnections: NVRs open a connection per call, so
// what a camera showed on one connection (a refusal: it demands a login)
// counts on the next, to the same camera only, and only from a
// connection seen from its handshake: a joined one's refusal may be two
// frames anyone on the LAN made up in the camera's name.
func TestONVIFDemandAcrossConnections(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	const nvr = "192.168.1.10"
	const otherCamera = "192.168.1.65:80"
	req := onvifPost(envelope(digestToken("admin", "admin"), getDeviceInformation))
	// Answers whose body the end of the connection delimits: they end
	// when the flow does, not at a length.
	untilClose := strings.Replace(notAuthorized, "Content-Length: ", "X-Length: ", 1)
	const unauthorizedUntilClose = "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name       string
		refusedBy  string // the camera seen refusing a request without a token
		refusal    string // its answer
		joined     bool   // the refusal's connection was joined, its handshake not seen
		acceptedBy string // the camera answering the token 200
		want       string
	}{
		{"same_camera", onvifCamera, notAuthorized, false, onvifCamera, "yes"},
		{"other_camera", otherCamera, notAuthorized, false, onvifCamera, "unknown"},
		{"refused_on_joined_connection", onvifCamera, notAuthorized, true, onvifCamera, "unknown"},
		{"fault_until_close", onvifCamera, untilClose, false, onvifCamera, "yes"},
		{"401_until_close", onvifCamera, unauthorizedUntilClose, false, onvifCamera, "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl, New(nil))
			inspecttest.OpenTCP(e, tt.joined, nvr+":40000", tt.refusedBy).Client(untokened).Server(tt.refusal).Close()
			inspecttest.NewTCP(e, nvr+":40001", tt.acceptedBy).Client(req).Server(deviceInformation).Close()
			e.Flush()
			got := col.Findings()
			if len(got) != 1 || got[0].Evidence["accepted"] != tt.want {
				t.Errorf("logins %v, want one accepted %s", evidences(got), tt.want)
			}
		})
	}
}

// TestONVIFDeviceInformation: a 200 to GetDeviceInformation from the
// camera is an http_server observation with its manufacturer, model and
// firmware version, never its serial number; not one relayed by a
// proxy, nor a fault.
func TestONVIFDeviceInformation(t *testing.T) {
	req := onvifPost(envelope(digestToken("admin", "Quarry-Lantern-58"), getDeviceInformation))
	want := event.Evidence{"manufacturer": "Acme Vision", "model": "AV-IPC2042", "firmware_version": "V5.4.3 build 210105"}
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []event.Evidence
	}{
		{"answer", func(c *inspecttest.Conv) { c.Client(req).Server(deviceInformation) }, []event.Evidence{want}},
		{"once_per_flow", func(c *inspecttest.Conv) {
			c.Client(req).Server(deviceInformation).Client(req).Server(deviceInformation)
		}, []event.Evidence{want}},
		{"fault", func(c *inspecttest.Conv) { c.Client(req).Server(notAuthorized) }, nil},
		{"relayed", func(c *inspecttest.Conv) {
			c.Client(req).Server(strings.Replace(deviceInformation, "\r\n", "\r\nVia: 1.1 proxy\r\n", 1))
		}, nil},
		{"not_2xx", func(c *inspecttest.Conv) {
			c.Client(req).Server(strings.Replace(deviceInformation, "200 OK", "500 Internal Server Error", 1))
		}, nil},
		{"field_too_long", func(c *inspecttest.Conv) {
			c.Client(req).Server(deviceInformationWith(strings.Repeat("9", maxInfo)))
		}, []event.Evidence{{"manufacturer": "Acme Vision", "model": "AV-IPC2042"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(nil), onvifCamera)
			tt.script(s.Conv)
			col := s.End()
			var got []event.Evidence
			for _, ev := range col.Kind(event.KindHTTPServer) {
				if ev.Evidence["server"] == "" {
					got = append(got, ev.Evidence)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("device information %v, want %v", got, tt.want)
			}
			for i := range got {
				if !equalEvidence(got[i], tt.want[i]) {
					t.Errorf("device information %v, want %v", got[i], tt.want[i])
				}
			}
			if inspecttest.Leaks(t, col.Events, "AV2042K7Q9X31F") {
				t.Error("the serial number leaked into an event")
			}
		})
	}
}

func equalEvidence(a, b event.Evidence) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSOAPReaderNoAllocs: a long SOAP body streams through the readers
// without allocating.
func TestSOAPReaderNoAllocs(t *testing.T) {
	s := inspecttest.NewSession(t, New(nil), onvifCamera)
	s.Client("POST /onvif/device_service HTTP/1.1\r\nContent-Type: application/soap+xml\r\nContent-Length: 100000000\r\n\r\n" +
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>` + digestToken("admin", "admin") + `</s:Header><s:Body><tds:SetScopes>`)
	f, a := s.Analyzer(t)
	seg := []byte(strings.Repeat(`<tds:Scopes a="b&amp;c">onvif://www.onvif.org/name/Hall&#x20;Cam<![CDATA[x]]></tds:Scopes><!-- c -->`, 12))
	inspecttest.StreamNoAllocs(t, f, a, inspect.ToServer, seg)
}

// FuzzSOAPReaders: the SOAP readers find the same in a document
// whether it comes whole or cut in two, and keep to their bounds.
func FuzzSOAPReaders(f *testing.F) {
	f.Add([]byte(envelope(digestToken("admin", "admin"), getDeviceInformation)), uint16(100))
	f.Add([]byte(envelope(textToken("a&amp;", "<![CDATA[p]]]>"), "")), uint16(7))
	f.Add([]byte(envelope("", `<tds:SetUser>`+setUser("admin", "ad&#109;in")+`</tds:SetUser>`)), uint16(150))
	f.Add([]byte(deviceInformation[strings.Index(deviceInformation, "<?xml"):]), uint16(300))
	f.Add([]byte(notAuthorized[strings.Index(notAuthorized, "<?xml"):]), uint16(211))
	f.Fuzz(func(t *testing.T, doc []byte, at uint16) {
		cut := int(at) % (len(doc) + 1)
		var whole, split soapLogin
		var wholeAns, splitAns soapAnswer
		whole.feed(doc)
		split.feed(doc[:cut])
		split.feed(doc[cut:])
		wholeAns.feed(doc)
		splitAns.feed(doc[:cut])
		splitAns.feed(doc[cut:])
		if whole != split {
			t.Fatalf("the login reader read otherwise cut at %d", cut)
		}
		if wholeAns != splitAns {
			t.Fatalf("the answer reader read otherwise cut at %d", cut)
		}
		var l inspect.Login
		if whole.login(&l) && (len(l.User) >= maxUser || len(l.Secret) >= maxPass) {
			t.Fatalf("login fields beyond their bounds: %d, %d", len(l.User), len(l.Secret))
		}
		l = inspect.Login{}
		if whole.userSet(&l) && (len(l.User) >= maxUser || len(l.Secret) >= maxPass) {
			t.Fatalf("user set beyond its bounds: %d, %d", len(l.User), len(l.Secret))
		}
		if ev := wholeAns.deviceInformation(); ev != nil && !bytes.Contains(doc, []byte("DeviceInformationResponse")) {
			t.Fatalf("device information %v from a document without a response", ev)
		}
	})
}

// TestONVIFRecording reads testdata/onvif.pcap, recorded by
// scripts/detection/record-onvif.sh between a camera's ONVIF device
// service (192.168.56.10) whose account is admin with the factory
// default 12345, and an NVR's client, zeep 4.2.1 with its WS-Security
// UsernameToken plugin (192.168.56.20), one connection each: the time
// asked with a PasswordDigest (an operation cameras answer to anyone:
// accepted unknown), the device information with a wrong password's
// digest (ter:NotAuthorized), with the right one's and with the right
// PasswordText (both accepted: default_credentials).
func TestONVIFRecording(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	col, err := inspecttest.RunFile(t, "testdata/onvif.pcap", cl, New(nil))
	if err != nil {
		t.Fatal(err)
	}
	type login struct{ kind, mechanism, class, accepted, device string }
	var got []login
	for _, ev := range col.Findings() {
		if ev.Kind == event.KindPlaintextProtocol {
			continue
		}
		e := ev.Evidence
		if e["protocol"] != "http" || e["user"] != "a***" {
			t.Errorf("evidence %v", e)
		}
		got = append(got, login{string(ev.Kind), e["mechanism"], e["password_class"], e["accepted"], ev.Device.IP})
	}
	const cam = "192.168.56.10"
	want := []login{
		{"default_credentials", "ws-security digest", "default", "unknown", cam},
		{"plaintext_credentials", "ws-security digest", "hashed", "no", cam},
		{"default_credentials", "ws-security digest", "default", "yes", cam},
		{"default_credentials", "ws-security text", "default", "yes", cam},
	}
	if !slices.Equal(got, want) {
		t.Errorf("logins\n got %v\nwant %v", got, want)
	}
	var info []event.Evidence
	for _, ev := range col.Kind(event.KindHTTPServer) {
		if ev.Evidence["server"] == "" {
			info = append(info, ev.Evidence)
		}
	}
	wantInfo := event.Evidence{"manufacturer": "HIKVISION", "model": "DS-2CD2032-I", "firmware_version": "V5.4.5 build 170124"}
	if len(info) != 2 || !equalEvidence(info[0], wantInfo) || !equalEvidence(info[1], wantInfo) {
		t.Errorf("device information %v, want %v on each of the two connections", info, wantInfo)
	}
	for _, leak := range []string{"12345", "Quarry-Lantern-58", "DS-2CD2032-I20170124AAWR512345678"} {
		if inspecttest.Leaks(t, col.Events, leak) {
			t.Errorf("%q leaked into an event", leak)
		}
	}
}

// TestSOAPReadersStopAtOtherRoot: a document whose root is no SOAP
// Envelope is not read on, so an element named like a SOAP one deeper
// in it (an HTML page's, a device's configuration's) counts for
// nothing.
func TestSOAPReadersStopAtOtherRoot(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"html", `<!-- page --><html><body><Body><Fault><Code><Value>ter:NotAuthorized</Value></Code></Fault></Body></body></html>`},
		{"config", `<?xml version="1.0"?><config><x><Body><Fault/></Body></x></config>`},
		{"body_under_other_root", `<response><Body><Fault><faultcode>NotAuthorized</faultcode></Fault></Body></response>`},
		{"empty_root", `<config/><Envelope><Header/></Envelope>`},
		// Character data before the root is no XML document: the readers
		// stop at its first byte, not at the body's end.
		{"text_without_markup", " \r\nOK: settings saved\n"},
		{"text_then_envelope", `Error: <Envelope><Body><Fault><faultcode>NotAuthorized</faultcode></Fault></Body></Envelope>`},
		{"json", `{"Envelope":{"Body":"<Fault/>"}}`},
		{"bom_cut_short", "\xef\xbb<Envelope><Body><Fault/></Body></Envelope>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var login soapLogin
			var answer soapAnswer
			login.feed([]byte(tt.doc))
			answer.feed([]byte(tt.doc))
			if !login.xml.stopped() || !answer.xml.stopped() {
				t.Errorf("readers read on: login stopped %v, answer stopped %v", login.xml.stopped(), answer.xml.stopped())
			}
			if answer.fault || answer.refused || login.opLen != 0 {
				t.Errorf("read as SOAP: fault %v, refused %v, operation %q", answer.fault, answer.refused, login.op[:login.opLen])
			}
		})
	}
}

// TestSOAPReadersGivenBack: a body that may be a SOAP message borrows its
// direction's reader while it is read, and gives it back once read and
// taken, when a gap cuts it, when the flow closes in it, and when the
// engine abandons the analyzer after a panic; one of SOAP's types that
// is no SOAP message gives it back as soon as its reader stops; a body
// of another type borrows none.
func TestSOAPReadersGivenBack(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	req := onvifPost(envelope(digestToken("admin", "admin"), getDeviceInformation))
	reqCut := strings.Index(req, "<wsse:Nonce")
	respCut := strings.Index(deviceInformation, "<tds:Model>")
	form := postRequest("/login", "Content-Type: application/x-www-form-urlencoded\r\n", "user=admin&password=admin")
	// Bodies of SOAP's types that are no SOAP message: their readers
	// go back once they stop, before the body ends.
	xmlConfig := postRequest("/config", "Content-Type: text/xml\r\n", `<?xml version="1.0"?><config><user>admin</user><pass>admin</pass></config>`)
	htmlError := "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: 40\r\n\r\n<html><body>Server error</body></html>\r\n"
	// Bodies without markup: a text log streamed to the camera, of a
	// length that would hold a reader for hours, and a plain-text answer.
	textUpload := "POST /upload HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\n  2026-11-28 06:00:00 motion detected\n"
	textAnswer := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\nOK\n"
	tests := []struct {
		name string
		// begin leaves a body half read; lent is how many readers it
		// holds then, of logins and answers.
		begin  func(c *inspecttest.Conv)
		lent   [2]int
		finish func(t *testing.T, s *inspecttest.Session)
		// findings is how many logins the session reports; -1 after
		// Abandon, when the engine closes nothing.
		findings int
	}{
		{"request_read", func(c *inspecttest.Conv) { c.Client(req[:reqCut]) }, [2]int{1, 0},
			func(t *testing.T, s *inspecttest.Session) { s.Client(req[reqCut:]).Server(deviceInformation) }, 1},
		{"request_gap", func(c *inspecttest.Conv) { c.Client(req[:reqCut]) }, [2]int{1, 0},
			func(t *testing.T, s *inspecttest.Session) {
				s.Lose(inspect.ToServer, 10).Client("x").Server("") // the server's ACK says the bytes are gone
			}, 0},
		{"request_close", func(c *inspecttest.Conv) { c.Client(req[:reqCut]) }, [2]int{1, 0},
			func(t *testing.T, s *inspecttest.Session) { s.End() }, 0},
		{"request_abandon", func(c *inspecttest.Conv) { c.Client(req[:reqCut]) }, [2]int{1, 0},
			func(t *testing.T, s *inspecttest.Session) {
				f, a := s.Analyzer(t)
				a.(inspect.Abandoner).Abandon(f)
			}, -1},
		{"answer_read", func(c *inspecttest.Conv) { c.Client(req).Server(deviceInformation[:respCut]) }, [2]int{0, 1},
			func(t *testing.T, s *inspecttest.Session) { s.Server(deviceInformation[respCut:]) }, 1},
		{"answer_gap", func(c *inspecttest.Conv) { c.Client(req).Server(deviceInformation[:respCut]) }, [2]int{0, 1},
			func(t *testing.T, s *inspecttest.Session) { s.Lose(inspect.ToClient, 10).Server("x").Client("") }, 1},
		{"answer_close", func(c *inspecttest.Conv) { c.Client(req).Server(deviceInformation[:respCut]) }, [2]int{0, 1},
			func(t *testing.T, s *inspecttest.Session) { s.End() }, 1},
		{"answer_abandon", func(c *inspecttest.Conv) { c.Client(req).Server(deviceInformation[:respCut]) }, [2]int{0, 1},
			func(t *testing.T, s *inspecttest.Session) {
				f, a := s.Analyzer(t)
				a.(inspect.Abandoner).Abandon(f)
			}, -1},
		{"form_borrows_none", func(c *inspecttest.Conv) { c.Client(form[:len(form)-5]) }, [2]int{0, 0},
			func(t *testing.T, s *inspecttest.Session) { s.Client(form[len(form)-5:]).Server(notAuthorized) }, 1},
		{"request_not_soap", func(c *inspecttest.Conv) { c.Client(xmlConfig[:len(xmlConfig)-5]) }, [2]int{0, 0},
			func(t *testing.T, s *inspecttest.Session) {
				s.Client(xmlConfig[len(xmlConfig)-5:]).Server(notAuthorized)
			}, 0},
		{"answer_not_soap", func(c *inspecttest.Conv) { c.Client(req).Server(htmlError[:len(htmlError)-5]) }, [2]int{0, 0},
			func(t *testing.T, s *inspecttest.Session) { s.Server(htmlError[len(htmlError)-5:]) }, 1},
		{"request_text", func(c *inspecttest.Conv) { c.Client(textUpload) }, [2]int{0, 0},
			func(t *testing.T, s *inspecttest.Session) { s.End() }, 0},
		{"answer_text", func(c *inspecttest.Conv) { c.Client(req).Server(textAnswer) }, [2]int{0, 0},
			func(t *testing.T, s *inspecttest.Session) { s.End() }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(nil)
			s := inspecttest.NewClassifiedSession(t, cl, p, onvifCamera)
			tt.begin(s.Conv)
			if got := [2]int{p.logins.Lent(), p.answers.Lent()}; got != tt.lent {
				t.Fatalf("readers lent while the body is read: %v, want %v", got, tt.lent)
			}
			tt.finish(t, s)
			if p.logins.Lent() != 0 || p.answers.Lent() != 0 {
				t.Errorf("readers still lent: %d, %d", p.logins.Lent(), p.answers.Lent())
			}
			if tt.findings < 0 {
				return
			}
			if got := s.End().Findings(); len(got) != tt.findings {
				t.Errorf("%d logins, want %d: %v", len(got), tt.findings, evidences(got))
			}
		})
	}
}

// TestSOAPReadersCapped: past maxSOAPReaders request bodies read at once,
// or past a host's share of them, a body's token is not read, but its
// flow goes on: its answer is paired, and its next request, once a
// reader is free, is read; another host's is read meanwhile.
func TestSOAPReadersCapped(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	req := onvifPost(envelope(digestToken("admin", "admin"), getDeviceInformation))
	cut := strings.Index(req, "<wsse:Nonce")
	tests := []struct {
		name string
		// hosts each leave perHost bodies half read, holding every
		// reader they may; the flow past the cap is the last host's.
		hosts, perHost int
		// other: another host's body is read meanwhile.
		other bool
	}{
		{"cap", maxSOAPReaders, 1, false},
		{"host_share", 1, maxSOAPReaders / inspect.HostShareDiv, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, col := New(nil), &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl, p)
			addrs := soapClients(e, tt.hosts+1)
			demanded(inspecttest.NewTCP(e, addrs[0]+":39999", onvifCamera)).Close()
			var holders []*inspecttest.Conv
			for _, addr := range addrs[:tt.hosts] {
				for i := range tt.perHost {
					c := inspecttest.NewTCP(e, addr+":"+strconv.Itoa(40000+i), onvifCamera)
					holders = append(holders, c.Client(req[:cut]))
				}
			}
			if want := tt.hosts * tt.perHost; p.logins.Lent() != want {
				t.Fatalf("%d readers lent, want %d", p.logins.Lent(), want)
			}
			past := inspecttest.NewTCP(e, addrs[tt.hosts-1]+":50000", onvifCamera)
			past.Client(req).Server(deviceInformation)
			if got := col.Findings(); len(got) != 0 {
				t.Fatalf("a body past the cap was read: %v", evidences(got))
			}
			if tt.other {
				inspecttest.NewTCP(e, addrs[tt.hosts]+":40000", onvifCamera).Client(req).Server(deviceInformation)
				if got := col.Findings(); len(got) != 1 {
					t.Fatalf("%d logins from another host, want its one: %v", len(got), evidences(got))
				}
				col.Events = nil
			}
			holders[0].Client(req[cut:]).Server(deviceInformation)
			past.Client(req).Server(deviceInformation)
			if got := col.Findings(); len(got) != 2 || got[0].Evidence["accepted"] != "yes" || got[1].Evidence["accepted"] != "yes" {
				t.Fatalf("logins %v, want the holder's and the next one past the cap, accepted", evidences(got))
			}
			e.Flush()
			if p.logins.Lent() != 0 || p.answers.Lent() != 0 {
				t.Errorf("readers still lent after every flow closed: %d, %d", p.logins.Lent(), p.answers.Lent())
			}
		})
	}
}

// TestSOAPAnswerPastCap: an answer past maxSOAPReaders answer bodies
// read at once is not read, so a fault it holds is not seen: a 200 to
// the token is no acceptance, but unknown.
func TestSOAPAnswerPastCap(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	req := onvifPost(envelope(digestToken("admin", "admin"), getDeviceInformation))
	cut := strings.Index(deviceInformation, "<tds:Model>")
	faultOK := soapReply("200 OK", `<env:Fault><env:Code><env:Value>env:Sender</env:Value>`+
		`<env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code></env:Fault>`)
	const other = "192.168.1.65"
	tests := []struct {
		name    string
		holders int // flows holding an answer reader each
		want    string
	}{
		{"within_cap", maxSOAPReaders - 1, "no"},
		{"past_cap", maxSOAPReaders, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, col := New(nil), &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl, p)
			addrs := soapClients(e, tt.holders+1)
			for _, addr := range addrs[:tt.holders] {
				inspecttest.NewTCP(e, addr+":40000", onvifCamera).Client(req).Server(deviceInformation[:cut])
			}
			if p.answers.Lent() != tt.holders {
				t.Fatalf("%d answer readers lent, want %d", p.answers.Lent(), tt.holders)
			}
			inspecttest.NewTCP(e, addrs[tt.holders]+":40000", other+":80").Client(req).Server(faultOK)
			var got []string
			for _, ev := range col.Findings() {
				if ev.Device.IP == other {
					got = append(got, ev.Evidence["accepted"])
				}
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("verdicts %v on the token answered with a fault, want %s", got, tt.want)
			}
		})
	}
}

// soapClients are n client addresses in distinct host buckets of e,
// each with a share of its own.
func soapClients(e *inspect.Engine, n int) []string {
	var addrs []string
	used := map[uint32]bool{}
	for i := 0; len(addrs) < n; i++ {
		addr := "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(1+i%250)
		if b := e.HostBucket(netip.MustParseAddr(addr)); !used[b] {
			used[b] = true
			addrs = append(addrs, addr)
		}
	}
	return addrs
}
