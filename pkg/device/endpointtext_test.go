package device

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// TestEndpointTextsParseAsParse feeds the memo texts that hit, miss and
// push others out, each more than once, and wants what hwaddr.Parse and
// netip.ParseAddr give for each every time.
func TestEndpointTextsParseAsParse(t *testing.T) {
	// Built at run time, so that equal texts are other strings too.
	same := strings.Repeat("a", 2) + ":bb:cc:dd:ee:01"
	tests := []struct {
		name string
		seq  []string
	}{
		{"one text repeated", []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:01"}},
		{"equal texts in other strings", []string{"aa:bb:cc:dd:ee:01", same, same}},
		{"the two ends in turn", []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"}},
		{"more texts than slots", []string{
			"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:03", "aa:bb:cc:dd:ee:04",
			"aa:bb:cc:dd:ee:05", "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:05", "aa:bb:cc:dd:ee:02",
		}},
		{"empty", []string{"", "", "aa:bb:cc:dd:ee:01", ""}},
		{"invalid remembered as invalid", []string{"zz:bb:cc:dd:ee:01", "zz:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:01", "zz:bb:cc:dd:ee:01"}},
		{"other forms", []string{"AA-BB-CC-DD-EE-01", "aabbccddee01", "AA-BB-CC-DD-EE-01"}},
		{"addresses", []string{"192.168.1.10", "192.168.1.11", "192.168.1.10", "fe80::1", "::ffff:192.168.1.10", "192.168.1.10"}},
		{"invalid addresses", []string{"192.168.1.300", "192.168.1.300", "example.net", "192.168.1.10", "192.168.1.300"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m endpointTexts
			for i, s := range tt.seq {
				wantMAC, err := hwaddr.Parse(s)
				if mac, ok := m.mac(s); mac != wantMAC || ok != (err == nil) {
					t.Errorf("text %d: mac(%q) = %v, %v; want %v, %v", i, s, mac, ok, wantMAC, err == nil)
				}
				wantIP, _ := netip.ParseAddr(s)
				if ip := m.ip(s); ip != wantIP {
					t.Errorf("text %d: ip(%q) = %v; want %v", i, s, ip, wantIP)
				}
			}
		})
	}
}

// TestEndpointTextsAllocateNothing: a remembered text, or one that does
// not parse, costs no allocation (hwaddr.Parse builds an error for each
// text it refuses, the empty one of every endpoint without a MAC too).
func TestEndpointTextsAllocateNothing(t *testing.T) {
	var m endpointTexts
	texts := []string{"aa:bb:cc:dd:ee:01", "192.168.1.10", "", "not a mac"}
	for _, s := range texts {
		m.mac(s)
		m.ip(s)
	}
	n := testing.AllocsPerRun(100, func() {
		for _, s := range texts {
			m.mac(s)
			m.ip(s)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}
