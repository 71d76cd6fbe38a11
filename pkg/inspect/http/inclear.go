package http

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Requests that are plain HTTP by design, whose content needs no
// encryption, so they are no plaintext_protocol finding:
//
//   - OCSP (RFC 6960 appendix A): the answers are signed by the CA and
//     fetched over HTTP, POSTed as application/ocsp-request or
//     base64-encoded into a GET's last path segment (DER starts "M").
//   - CRLs and CA certificates from the URLs that certificates name
//     (RFC 5280 sections 4.2.1.13 and 4.2.2.1): signed or public.
//   - Connectivity and captive-portal checks, which must be plain HTTP
//     for a portal to intercept them, sent bare (clearRequest.bare: no
//     query, body, credentials or header that may carry a secret or an
//     identifier, since the Host names no server a device must use and
//     a check needs none of them), at the paths the systems use:
//     Android's NetworkMonitor (/generate_204, /gen_204), Apple's
//     captive network assistant (/hotspot-detect.html,
//     /library/test/success.html), Windows NCSI (/connecttest.txt,
//     /ncsi.txt), Firefox (/success.txt, /canonical.html),
//     NetworkManager on GNOME (/check_network_status.txt) and Kindle
//     (/kindle-wifi/wifistub.html); and, where the path alone says
//     nothing ("/"), at a host and path of their own
//     (connectivityChecks).
//   - CONNECT to a port of TLS (443 and kin): a tunnel for TLS. One to
//     another port may carry anything in clear, and the tunnel is not
//     inspected.
//   - Between two LAN hosts, UPnP and DIAL, the steps after SSDP
//     discovery (UPnP Device Architecture 1.1 and 2.0 sections 2 to 4,
//     DIAL 2.x section 5), which UPnP defines over plain HTTP only and
//     which every control point (a phone, a TV, a console asking the
//     router for a port mapping) uses as it uses SSDP and mDNS, exempt
//     too: a GET of a device or service description (by its name:
//     rootDesc.xml, description.xml, device-desc.xml, dd.xml, …), a
//     control action (a POST with a SOAPAction header whose body is a
//     SOAP message: typed text/xml or application/soap+xml and
//     beginning with an Envelope element, checked once it is read, as
//     the header alone may ride on any POST) and event subscriptions
//     and notifications (SUBSCRIBE, UNSUBSCRIBE, NOTIFY).
//     Towards the internet they are no discovery and count.

var connectivityPaths = [...]string{
	"/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
	"/connecttest.txt", "/ncsi.txt", "/success.txt", "/canonical.html",
	"/check_network_status.txt", "/kindle-wifi/wifistub.html",
}

// connectivityChecks are the connectivity checks named by their host and
// path: the URIs Linux distributions configure NetworkManager with (its
// [connectivity] uri, in the file each package installs), KDE Plasma's,
// and Nintendo's consoles'.
var connectivityChecks = [...]struct{ host, path string }{
	{"connectivity-check.ubuntu.com", "/"},       // Ubuntu: network-manager-config-connectivity-ubuntu, 20-connectivity-ubuntu.conf
	{"fedoraproject.org", "/static/hotspot.txt"}, // Fedora: NetworkManager-config-connectivity-fedora, 20-connectivity-fedora.conf
	{"ping.archlinux.org", "/nm-check.txt"},      // Arch Linux: networkmanager, 20-connectivity.conf
	{"network-test.debian.org", "/nm"},           // Debian: network-manager-config-connectivity-debian, 20-connectivity-debian.conf
	{"conncheck.opensuse.org", "/"},              // openSUSE: NetworkManager-branding-openSUSE, conncheck.conf
	{"networkcheck.kde.org", "/"},                // KDE Plasma and KDE neon
	{"ctest.cdn.nintendo.net", "/"},              // Nintendo Switch (nifm)
	{"conntest.nintendowifi.net", "/"},           // Nintendo 3DS and Wii U
}

var certificateSuffixes = [...]string{".crl", ".crt", ".cer", ".p7c"}

// descriptionSuffixes end the names UPnP and DIAL devices give their
// description documents: rootDesc.xml (miniupnpd, MiniDLNA),
// description.xml (Philips Hue, Windows), device-desc.xml (Chromecast's
// DIAL), device_description.xml (Sonos), igddesc.xml and tr64desc.xml
// (FRITZ!Box), desc.xml, and services' SCPDs (igdconnSCPD.xml); dd.xml
// (DLNA renderers) is a name of its own.
var descriptionSuffixes = [...]string{"desc.xml", "description.xml", "scpd.xml"}

// clearRequest is what inClearByDesign judges a request by.
type clearRequest struct {
	method, host []byte
	path         []byte // without the query
	ocspBody     bool   // the Content-Type was application/ocsp-request
	soapAction   bool   // it had a SOAPAction header
	soapBody     bool   // it has a body typed text/xml or application/soap+xml
	lan          bool   // between two LAN hosts
	// bare: a GET or HEAD without a query, body or credentials, whose
	// headers are quiet (analyzer.bareRequest)
	bare bool
}

// inClearByDesign reports whether a request is one of those above.
func inClearByDesign(r clearRequest) bool {
	method, host, path := r.method, r.host, r.path
	if r.lan && upnpRequest(r) {
		return true
	}
	switch string(method) {
	case "CONNECT":
		// The target is an authority ("host:port"), in path as the
		// request has it or in host from the Host header.
		target := path
		if len(target) == 0 {
			target = host
		}
		return tlsPort(target)
	case "POST":
		return r.ocspBody
	case "GET", "HEAD":
	default:
		return false
	}
	if r.bare && connectivityCheck(host, path) {
		return true
	}
	for _, s := range certificateSuffixes {
		if len(path) > len(s) && inspect.EqualFold(path[len(path)-len(s):], s) {
			return true
		}
	}
	last := path[bytes.LastIndexByte(path, '/')+1:]
	return ocspHost(host) && len(last) > 0 && last[0] == 'M'
}

// connectivityCheck: the path of a connectivity check, or the host and
// path of one (connectivityChecks).
func connectivityCheck(host, path []byte) bool {
	if inspect.EqualFoldAny(path, connectivityPaths[:]) {
		return true
	}
	for _, c := range connectivityChecks {
		if inspect.EqualFold(path, c.path) && inspect.EqualFold(hostName(host), c.host) {
			return true
		}
	}
	return false
}

// upnpRequest: a UPnP or DIAL description fetch, control action or
// event subscription or notification, by its shape.
func upnpRequest(r clearRequest) bool {
	switch string(r.method) {
	case "SUBSCRIBE", "UNSUBSCRIBE", "NOTIFY":
		return true
	case "POST":
		return upnpControl(r)
	case "GET", "HEAD":
	default:
		return false
	}
	name := r.path[bytes.LastIndexByte(r.path, '/')+1:]
	if inspect.EqualFold(name, "dd.xml") {
		return true
	}
	for _, s := range descriptionSuffixes {
		if hasSuffixFold(name, s) {
			return true
		}
	}
	return false
}

// upnpControl: a UPnP control action by its head, a POST with a
// SOAPAction header and a body of SOAP's types; its body must still
// begin as a SOAP envelope (soapEnvelope).
func upnpControl(r clearRequest) bool {
	return string(r.method) == "POST" && r.soapAction && r.soapBody
}

// soapEnvelope reports whether a request body begins as a SOAP message
// (SOAP 1.1 section 4, SOAP 1.2 part 1 section 5): an Envelope element
// of any namespace prefix, after a byte order mark, an XML declaration
// and white space at most. A JSON or form body, or other XML, is none.
func soapEnvelope(b []byte) bool {
	const space = " \t\r\n"
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), space)
	if bytes.HasPrefix(b, []byte("<?xml")) {
		_, rest, ok := bytes.Cut(b, []byte("?>"))
		if !ok {
			return false
		}
		b = bytes.TrimLeft(rest, space)
	}
	if len(b) == 0 || b[0] != '<' {
		return false
	}
	end := bytes.IndexAny(b, space+"/>")
	if end < 0 {
		return false // the name cut short
	}
	name := b[1:end]
	return string(name[bytes.LastIndexByte(name, ':')+1:]) == "Envelope"
}

// tlsPorts are ports whose protocol starts with a TLS handshake: HTTPS,
// MQTT, IMAP, POP3 and SMTP submission over TLS, DNS over TLS, SIP over
// TLS, Apple push.
var tlsPorts = [...]string{"443", "8443", "8883", "993", "995", "465", "853", "5061", "5223"}

// tlsPort: authority ends in one of tlsPorts.
func tlsPort(authority []byte) bool {
	i := bytes.LastIndexByte(authority, ':')
	if i < 0 || bytes.IndexByte(authority[i:], ']') >= 0 {
		return false
	}
	for _, p := range tlsPorts {
		if string(authority[i+1:]) == p {
			return true
		}
	}
	return false
}

// ocspHost: the host is a CA's OCSP responder by its name: a first
// label with "ocsp" in it (ocsp.digicert.com, oneocsp.microsoft.com,
// ocsp2.apple.com), or the "o" hosts of Let's Encrypt and Google Trust
// Services (r11.o.lencr.org, o.pki.goog).
func ocspHost(host []byte) bool {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host, ']') < i {
		host = host[:i]
	}
	first, _, _ := bytes.Cut(host, []byte("."))
	if inspect.ContainsFold(first, "ocsp") {
		return true
	}
	for _, s := range [...]string{"o.lencr.org", "o.pki.goog"} {
		if inspect.EqualFold(host, s) || (len(host) > len(s) && host[len(host)-len(s)-1] == '.' && inspect.EqualFold(host[len(host)-len(s):], s)) {
			return true
		}
	}
	return false
}
