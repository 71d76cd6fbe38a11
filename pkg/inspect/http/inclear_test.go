package http

import "testing"

func TestInClearByDesign(t *testing.T) {
	tests := []struct {
		name, method, host, path string
		ocspBody                 bool
		want                     bool
	}{
		{"ocsp_post", "POST", "ocsp.digicert.com", "/", true, true},
		{"ocsp_post_any_host", "POST", "203.0.113.9", "/ocsp", true, true},
		{"ocsp_get", "GET", "ocsp.pki.goog", "/gts1c3/MFIwUDBOMEwwSjAJBgUrDgMCGgUABBTH", false, true},
		{"ocsp_get_lencr", "GET", "r11.o.lencr.org:80", "/MFMwUTBPME0wSzAJBgUrDgMCGgUABBR", false, true},
		{"ocsp_get_microsoft", "GET", "oneocsp.microsoft.com", "/ocsp/MFQwUjBQME4wTDAJBgUrDgMCGgUABB", false, true},
		{"ocsp_host_other_file", "GET", "ocsp.digicert.com", "/firmware.bin", false, false},
		{"form_post", "POST", "ocsp.digicert.com", "/login", false, false},
		{"crl", "GET", "crl3.digicert.com", "/DigiCertGlobalRootG2.crl", false, true},
		{"ca_certificate", "GET", "cacerts.digicert.com", "/DigiCertTLSRSASHA2562020CA1-1.crt", false, true},
		{"android_check", "GET", "connectivitycheck.gstatic.com", "/generate_204", false, true},
		{"apple_check", "GET", "captive.apple.com", "/hotspot-detect.html", false, true},
		{"windows_check", "GET", "www.msftconnecttest.com", "/connecttest.txt", false, true},
		{"firefox_check", "GET", "detectportal.firefox.com", "/canonical.html", false, true},
		{"head_check", "HEAD", "clients3.google.com", "/generate_204", false, true},
		{"connect_tls", "CONNECT", "cloud.example:443", "", false, true},
		{"connect_tls_target", "CONNECT", "proxy.example:3128", "cloud.example:8883", false, true},
		{"connect_plain_port", "CONNECT", "api.example:80", "api.example:80", false, false},
		{"connect_no_port", "CONNECT", "api.example", "", false, false},
		{"connect_ipv6", "CONNECT", "", "[2001:db8::1]:443", false, true},
		{"api_call", "GET", "api.cloud.example", "/v1/state", false, false},
		{"root", "GET", "cam.example", "/", false, false},
		{"check_path_posted", "POST", "cloud.example", "/generate_204", false, false},
		{"put", "PUT", "cloud.example", "/x.crl", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inClearByDesign([]byte(tt.method), []byte(tt.host), []byte(tt.path), tt.ocspBody); got != tt.want {
				t.Errorf("inClearByDesign(%s %s%s) = %v, want %v", tt.method, tt.host, tt.path, got, tt.want)
			}
		})
	}
}
