package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Web configures the owner's local web page (pkg/web).
type Web struct {
	// Enabled serves the page.
	Enabled bool `toml:"enabled"`
	// Addresses to listen on; empty: the addresses of the [lan]
	// interfaces. Only addresses of the LAN interfaces (or loopback) are
	// accepted: the page is never served on the WAN.
	Addresses []netip.Addr `toml:"addresses"`
	Port      int          `toml:"port"`
	// HTTPS serves the page with a self-signed certificate made on first
	// start and kept next to the state file.
	HTTPS bool `toml:"https"`
	// Hostnames the page may be opened by, besides its addresses;
	// requests naming another host are refused (DNS rebinding). Only
	// names the owner's DNS holds for the router: a name no static entry
	// reserves can be taken by any LAN device that asks DHCP for it.
	Hostnames []string `toml:"hostnames"`
}

func defaultWeb() Web {
	return Web{Enabled: true, Port: 8443, HTTPS: true}
}

func (c *Config) validateWeb() []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	w := &c.Web
	if w.Port < 1 || w.Port > 65535 {
		bad("web.port", "%d is not a port", w.Port)
	}
	for _, a := range w.Addresses {
		if a.IsUnspecified() {
			bad("web.addresses", "%s would listen on every address, the WAN too: name the router's LAN addresses", a)
		}
	}
	for _, h := range w.Hostnames {
		if h == "" || len(h) > 253 || strings.Trim(strings.ToLower(h), "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
			bad("web.hostnames", "%q is not a host name", h)
		}
	}
	return errs
}
