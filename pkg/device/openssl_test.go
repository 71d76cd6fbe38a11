package device

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
)

// TestServerVersionSuffixes: OpenSSL's two-letter releases (1.0.2zf,
// 0.9.8zh) and pre-releases, and ProFTPD's release candidates, are
// recorded whole, so that the advisory matcher does not take them for
// older releases.
func TestServerVersionSuffixes(t *testing.T) {
	tests := []struct {
		kind     event.Kind
		evidence event.Evidence
		product  string
		version  string
		notMatch string // an advisory that must not match
	}{
		{event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.29 (Unix) OpenSSL/1.0.2zf"}, "openssl", "1.0.2zf", "IOTGW-2022-0006"},
		{event.KindHTTPServer, event.Evidence{"server": "Apache/2.2.34 (Unix) OpenSSL/0.9.8zh"}, "openssl", "0.9.8zh", "IOTGW-2014-0004"},
		{event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips"}, "openssl", "1.0.2k", ""},
		{event.KindHTTPServer, event.Evidence{"server": "Apache/2.4.10 (Unix) OpenSSL/1.0.2-beta3"}, "openssl", "1.0.2-beta3", "IOTGW-2022-0006"},
		{event.KindBanner, event.Evidence{"protocol": "ftp", "banner": "220 ProFTPD 1.3.6rc4 Server (Debian) [::ffff:10.0.0.1]"}, "proftpd", "1.3.6rc4", ""},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			inv := newInv()
			const mac = "c0:56:e3:1a:2b:3c"
			inv.File(obs(mac, "192.168.1.64", tt.kind, tt.evidence))
			d := device(t, inv, mac)
			found := false
			for _, s := range d.Software {
				found = found || s.Product == tt.product && s.Version == tt.version
			}
			if !found {
				t.Errorf("software %v, want %s %s", d.Software, tt.product, tt.version)
			}
			for _, m := range advisoryMatches(t, d) {
				if m.Advisory.ID == tt.notMatch {
					t.Errorf("%s %s matched %s", m.Software.Product, m.Software.Version, tt.notMatch)
				}
			}
		})
	}
}
