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
//     for a portal to intercept them, at the paths the systems use:
//     Android's NetworkMonitor (/generate_204, /gen_204), Apple's
//     captive network assistant (/hotspot-detect.html,
//     /library/test/success.html), Windows NCSI (/connecttest.txt,
//     /ncsi.txt), Firefox (/success.txt, /canonical.html),
//     NetworkManager on GNOME (/check_network_status.txt) and Kindle
//     (/kindle-wifi/wifistub.html).
//   - CONNECT, which opens a tunnel, usually for TLS.

var connectivityPaths = [...]string{
	"/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
	"/connecttest.txt", "/ncsi.txt", "/success.txt", "/canonical.html",
	"/check_network_status.txt", "/kindle-wifi/wifistub.html",
}

var certificateSuffixes = [...]string{".crl", ".crt", ".cer", ".p7c"}

// inClearByDesign reports whether a request is one of those above. path
// is without its query; ocspBody: the Content-Type was
// application/ocsp-request.
func inClearByDesign(method, host, path []byte, ocspBody bool) bool {
	switch string(method) {
	case "CONNECT":
		return true
	case "POST":
		return ocspBody
	case "GET", "HEAD":
	default:
		return false
	}
	for _, p := range connectivityPaths {
		if inspect.EqualFold(path, p) {
			return true
		}
	}
	for _, s := range certificateSuffixes {
		if len(path) > len(s) && inspect.EqualFold(path[len(path)-len(s):], s) {
			return true
		}
	}
	last := path[bytes.LastIndexByte(path, '/')+1:]
	return ocspHost(host) && len(last) > 0 && last[0] == 'M'
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
