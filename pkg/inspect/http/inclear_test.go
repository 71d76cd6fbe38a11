package http

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func TestInClearByDesign(t *testing.T) {
	tests := []struct {
		name, method, host, path string
		ocspBody                 bool
		want                     bool
		soapAction, lan          bool
	}{
		{"ocsp_post", "POST", "ocsp.digicert.com", "/", true, true, false, false},
		{"ocsp_post_any_host", "POST", "203.0.113.9", "/ocsp", true, true, false, false},
		{"ocsp_get", "GET", "ocsp.pki.goog", "/gts1c3/MFIwUDBOMEwwSjAJBgUrDgMCGgUABBTH", false, true, false, false},
		{"ocsp_get_lencr", "GET", "r11.o.lencr.org:80", "/MFMwUTBPME0wSzAJBgUrDgMCGgUABBR", false, true, false, false},
		{"ocsp_get_microsoft", "GET", "oneocsp.microsoft.com", "/ocsp/MFQwUjBQME4wTDAJBgUrDgMCGgUABB", false, true, false, false},
		{"ocsp_host_other_file", "GET", "ocsp.digicert.com", "/firmware.bin", false, false, false, false},
		{"form_post", "POST", "ocsp.digicert.com", "/login", false, false, false, false},
		{"crl", "GET", "crl3.digicert.com", "/DigiCertGlobalRootG2.crl", false, true, false, false},
		{"ca_certificate", "GET", "cacerts.digicert.com", "/DigiCertTLSRSASHA2562020CA1-1.crt", false, true, false, false},
		{"android_check", "GET", "connectivitycheck.gstatic.com", "/generate_204", false, true, false, false},
		{"apple_check", "GET", "captive.apple.com", "/hotspot-detect.html", false, true, false, false},
		{"windows_check", "GET", "www.msftconnecttest.com", "/connecttest.txt", false, true, false, false},
		{"firefox_check", "GET", "detectportal.firefox.com", "/canonical.html", false, true, false, false},
		{"head_check", "HEAD", "clients3.google.com", "/generate_204", false, true, false, false},
		{"ubuntu_check", "GET", "connectivity-check.ubuntu.com", "/", false, true, false, false},
		{"ubuntu_check_fqdn", "GET", "connectivity-check.ubuntu.com.", "/", false, true, false, false},
		{"fedora_check", "GET", "fedoraproject.org", "/static/hotspot.txt", false, true, false, false},
		{"arch_check", "GET", "ping.archlinux.org", "/nm-check.txt", false, true, false, false},
		{"debian_check", "GET", "network-test.debian.org", "/nm", false, true, false, false},
		{"kde_check", "HEAD", "networkcheck.kde.org", "/", false, true, false, false},
		{"switch_check", "GET", "ctest.cdn.nintendo.net:80", "/", false, true, false, false},
		{"check_host_other_path", "GET", "fedoraproject.org", "/wiki/Main_Page", false, false, false, false},
		{"check_path_other_host", "GET", "cloud.example", "/nm", false, false, false, false},
		{"check_host_posted", "POST", "connectivity-check.ubuntu.com", "/", false, false, false, false},
		{"connect_tls", "CONNECT", "cloud.example:443", "", false, true, false, false},
		{"connect_tls_target", "CONNECT", "proxy.example:3128", "cloud.example:8883", false, true, false, false},
		{"connect_plain_port", "CONNECT", "api.example:80", "api.example:80", false, false, false, false},
		{"connect_no_port", "CONNECT", "api.example", "", false, false, false, false},
		{"connect_ipv6", "CONNECT", "", "[2001:db8::1]:443", false, true, false, false},
		{"api_call", "GET", "api.cloud.example", "/v1/state", false, false, false, false},
		{"root", "GET", "cam.example", "/", false, false, false, false},
		{"check_path_posted", "POST", "cloud.example", "/generate_204", false, false, false, false},
		{"put", "PUT", "cloud.example", "/x.crl", false, false, false, false},
		// UPnP and DIAL between LAN hosts.
		{"upnp_description", "GET", "192.168.1.1:5000", "/rootDesc.xml", false, true, false, true},
		{"hue_description", "GET", "192.168.1.31", "/description.xml", false, true, false, true},
		{"dial_description", "GET", "192.168.1.30:8008", "/ssdp/device-desc.xml", false, true, false, true},
		{"sonos_description", "GET", "192.168.1.33:1400", "/xml/Device_Description.XML", false, true, false, true},
		{"renderer_description", "HEAD", "192.168.1.32:49152", "/dd.xml", false, true, false, true},
		{"fritzbox_scpd", "GET", "192.168.178.1:49000", "/igdconnSCPD.xml", false, true, false, true},
		{"upnp_control", "POST", "192.168.1.1:5000", "/ctl/IPConn", false, true, true, true},
		{"gena_subscribe", "SUBSCRIBE", "192.168.1.1:5000", "/evt/IPConn", false, true, false, true},
		{"gena_notify", "NOTIFY", "192.168.1.10:49153", "/cb/1", false, true, false, true},
		{"lan_post_without_soapaction", "POST", "192.168.1.1:5000", "/ctl/IPConn", false, false, false, true},
		{"lan_other_xml", "GET", "192.168.1.1", "/admin/status.xml", false, false, false, true},
		{"lan_description_put", "PUT", "192.168.1.1:5000", "/rootDesc.xml", false, false, false, true},
		{"description_on_the_internet", "GET", "upnp.example", "/rootDesc.xml", false, false, false, false},
		{"control_on_the_internet", "POST", "upnp.example", "/ctl/IPConn", false, false, true, false},
		{"subscribe_on_the_internet", "SUBSCRIBE", "upnp.example", "/evt/IPConn", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Bare, as the checks are sent (TestConnectivityCheckNotBare);
			// a SOAPAction with a SOAP body (TestSOAPActionWithoutSOAP).
			r := clearRequest{method: []byte(tt.method), host: []byte(tt.host), path: []byte(tt.path),
				ocspBody: tt.ocspBody, soapAction: tt.soapAction, soapBody: tt.soapAction, lan: tt.lan, bare: true}
			if got := inClearByDesign(r); got != tt.want {
				t.Errorf("inClearByDesign(%s %s%s, lan %v) = %v, want %v", tt.method, tt.host, tt.path, tt.lan, got, tt.want)
			}
		})
	}
}

// TestConnectivityCheckNotBare: a connectivity check that carries more
// than its path (a query, a body, credentials, a header that is not
// quiet) is no check; what is signed or public stays exempt however it
// is asked for.
func TestConnectivityCheckNotBare(t *testing.T) {
	tests := []struct {
		name, method, host, path string
		want                     bool
	}{
		{"android_check", "GET", "connectivitycheck.gstatic.com", "/generate_204", false},
		{"apple_check", "GET", "captive.apple.com", "/hotspot-detect.html", false},
		{"ubuntu_check", "GET", "connectivity-check.ubuntu.com", "/", false},
		{"fedora_check", "HEAD", "fedoraproject.org", "/static/hotspot.txt", false},
		{"crl", "GET", "crl3.digicert.com", "/DigiCertGlobalRootG2.crl", true},
		{"ocsp_get", "GET", "ocsp.pki.goog", "/gts1c3/MFIwUDBOMEwwSjAJBgUrDgMCGgUABBTH", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clearRequest{method: []byte(tt.method), host: []byte(tt.host), path: []byte(tt.path)}
			if got := inClearByDesign(r); got != tt.want {
				t.Errorf("inClearByDesign(%s %s%s, not bare) = %v, want %v", tt.method, tt.host, tt.path, got, tt.want)
			}
		})
	}
}

// TestSOAPActionWithoutSOAP: a LAN POST with a SOAPAction header but no
// body of SOAP's types is no UPnP control.
func TestSOAPActionWithoutSOAP(t *testing.T) {
	tests := []struct {
		name                 string
		soapAction, soapBody bool
		want                 bool
	}{
		{"control", true, true, true},
		{"soapaction_other_body", true, false, false},
		{"soap_body_no_soapaction", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clearRequest{method: []byte("POST"), host: []byte("192.168.1.1:5000"), path: []byte("/ctl/IPConn"),
				soapAction: tt.soapAction, soapBody: tt.soapBody, lan: true}
			if got := inClearByDesign(r); got != tt.want {
				t.Errorf("inClearByDesign(POST, SOAPAction %v, SOAP body %v) = %v, want %v", tt.soapAction, tt.soapBody, got, tt.want)
			}
		})
	}
}

func TestSOAPEnvelope(t *testing.T) {
	tests := []struct {
		name, body string
		want       bool
	}{
		{"soap11", `<?xml version="1.0"?>` + "\r\n" + `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`, true},
		{"soap12", `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>`, true},
		{"no_prefix", "<Envelope>", true},
		{"bom_and_space", "\xef\xbb\xbf \r\n<?xml version='1.0' encoding='utf-8'?>\n\t<SOAP-ENV:Envelope\n xmlns:SOAP-ENV=\"x\">", true},
		{"json", `{"ssid":"home"}`, false},
		{"form", "ssid=home&lat=52.52", false},
		{"other_xml", `<?xml version="1.0"?><config><ssid>home</ssid></config>`, false},
		{"envelope_later", `<config><Envelope/></config>`, false},
		{"envelope_like_name", `<s:EnvelopeX>`, false},
		{"lower_case", `<s:envelope>`, false},
		{"declaration_cut", `<?xml version="1.0"`, false},
		{"name_cut", `<s:Envel`, false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := soapEnvelope([]byte(tt.body)); got != tt.want {
				t.Errorf("soapEnvelope(%q) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

// redirected is a request that carries nothing and the redirect to
// HTTPS that answers it: judged by its answer on every request of a
// keep-alive connection, as none of them counts.
var (
	redirectedRequest = []byte("GET /static/site/index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html\r\n\r\n")
	redirectAnswer    = []byte("HTTP/1.1 301 Moved Permanently\r\nLocation: https://www.example.com/static/site/index.html\r\nContent-Length: 0\r\n\r\n")
)

// TestRedirectedRequestAllocs: judging requests by their answer
// allocates nothing.
func TestRedirectedRequestAllocs(t *testing.T) {
	s := inspecttest.NewStream(t, New(nil), "192.168.1.10:40000", "203.0.113.5:80")
	s.Exchange(redirectedRequest, redirectAnswer)
	if allocs := testing.AllocsPerRun(200, func() { s.Exchange(redirectedRequest, redirectAnswer) }); allocs != 0 {
		t.Errorf("%v allocs per redirected request, want 0", allocs)
	}
}

func BenchmarkRedirectedRequest(b *testing.B) {
	s := inspecttest.NewStream(b, New(nil), "192.168.1.10:40000", "203.0.113.5:80")
	s.Exchange(redirectedRequest, redirectAnswer)
	b.ReportAllocs()
	b.SetBytes(int64(len(redirectedRequest) + len(redirectAnswer)))
	for b.Loop() {
		s.Exchange(redirectedRequest, redirectAnswer)
	}
}
