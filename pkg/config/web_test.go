package config

import (
	"strings"
	"testing"
)

func TestWebSection(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"defaults", "", ""},
		{"lan_address", "[web]\naddresses = [\"192.168.1.1\"]\nport = 8443\n", ""},
		{"any_ipv4", "[web]\naddresses = [\"0.0.0.0\"]\n", "web.addresses"},
		{"any_ipv6", "[web]\naddresses = [\"::\"]\n", "web.addresses"},
		{"port_zero", "[web]\nport = 0\n", "web.port"},
		{"port_of_notice_page", "[web]\nport = 8088\n", "notice page"},
		{"bad_hostname", "[web]\nhostnames = [\"evil.example/x\"]\n", "web.hostnames"},
		{"unknown_key", "[web]\npassword = \"admin\"\n", "unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("test.toml", []byte(tc.toml))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !cfg.Web.Enabled || !cfg.Web.HTTPS || cfg.Web.Port == 0 {
					t.Fatalf("web defaults: %+v", cfg.Web)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
