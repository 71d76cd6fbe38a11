package event

import "testing"

// TestSourceTrust: claims, connections and served sources, and a source
// no list names (a new analyzer, a typo) as weak as a claim: it must not
// quarantine, nor replace a served version, before it is classed.
func TestSourceTrust(t *testing.T) {
	tests := []struct {
		source string
		want   Trust
	}{
		{"dhcp", TrustClaim},
		{"ssdp", TrustClaim},
		{"wsd", TrustClaim},
		{"mdns", TrustClaim},
		{"banner/sip", TrustClaim},
		{"banner/snmp", TrustClaim},
		{"tcp_syn", TrustClaim},
		{"banner/newproto", TrustClaim},
		{"", TrustClaim},
		{"http_client", TrustConnection},
		{"banner/mqtt", TrustConnection},
		{"http_server", TrustServed},
		{"upnp", TrustServed},
		{"banner/telnet", TrustServed},
		{"banner/ssh", TrustServed},
		{"banner/ftp", TrustServed},
		{"banner/rtsp", TrustServed},
	}
	for _, tt := range tests {
		if got := SourceTrust(tt.source); got != tt.want {
			t.Errorf("SourceTrust(%q) = %d, want %d", tt.source, got, tt.want)
		}
	}
}
