package fingerprint

import "testing"

// TestDistribution: the markers distributions put beside a version name
// the distribution; upstream builds, vendor firmware and the host a
// vendor's build ran on name none.
func TestDistribution(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		// Apache's platform comment, and what it carries beside it.
		{"Apache/2.2.15 (CentOS) mod_ssl/2.2.15 OpenSSL/1.0.1e-fips", "CentOS"},
		{"Apache/2.4.37 (centos) OpenSSL/1.1.1k", "CentOS"},
		{"Apache/2.4.7 (Ubuntu) OpenSSL/1.0.1f", "Ubuntu"},
		{"Apache/2.4.10 (Debian) OpenSSL/1.0.1t", "Debian"},
		{"Apache/2.4.38 (Raspbian)", "Raspbian"},
		{"Apache/2.2.15 (Red Hat)", "Red Hat"},
		{"Apache/2.4.6 (Red Hat Enterprise Linux) OpenSSL/1.0.2k-fips", "Red Hat"},
		{"Apache/2.4.6 (Fedora)", "Fedora"},
		{"Apache/1.3.26 (Debian GNU/Linux) PHP/4.1.2", "Debian"},
		{"220 ProFTPD 1.3.6rc4 Server (Debian) [::ffff:10.0.0.1]", "Debian"},
		// OpenSSH's package revision.
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "Debian"},
		{"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "Ubuntu"},
		{"SSH-2.0-OpenSSH_7.9p1 Raspbian-10+deb10u2", "Raspbian"},
		// Ubuntu before 14.04 kept Debian's word in the banner; the
		// revision is Ubuntu's, and so is the tracker that knows it.
		{"SSH-2.0-OpenSSH_5.9p1 Debian-5ubuntu1.4", "Ubuntu"},
		{"SSH-2.0-OpenSSH_5.3p1 Debian-3ubuntu7.1", "Ubuntu"},
		// FreeBSD's base system: its security advisories patch the
		// same upstream version and move the date.
		{"SSH-2.0-OpenSSH_9.6 FreeBSD-20240701", "FreeBSD"},
		// Package revisions.
		{"PHP/7.4.33-1+deb11u5", "Debian"},
		{"libfoo/1.2.3-1~deb11u1", "Debian"},
		{"PHP/7.4.3-4ubuntu2.19", "Ubuntu"},
		{"dhcpcd-9.4.1:Linux-4.18.0-348.el8.x86_64:x86_64:GenuineIntel", "Red Hat"},
		{"OpenSSL/1.0.2k-25.el7_9", "Red Hat"},
		// No marker: upstream builds and vendor firmware.
		{"Apache/2.4.7 OpenSSL/1.0.1f", ""},
		{"Apache/2.4.29 (Unix) OpenSSL/1.0.2zf", ""},
		{"Apache/2.4.7 (Unix) OpenSSL/1.0.1e-fips", ""}, // any FIPS build, a firmware's too
		{"SSH-2.0-OpenSSH_9.2p1", ""},
		{"SSH-2.0-dropbear_2014.63", ""},
		{"Ubuntu/10.04 UPnP/1.0 MiniUPnPd/1.4", ""},    // the host a vendor built on
		{"FreeBSD/13.0 UPnP/1.1 MiniUPnPd/2.2.1", ""},  // the same
		{"Linux/3.10 (Ubuntu-based) UPnP/1.0", ""},     // a vendor's own words
		{"Debian GNU/Linux 12 raspberrypi login:", ""}, // a telnet greeting: no build named
		{"dhcpcd-9.4.1:Linux-6.1.0-rpi7-rpi-v8:aarch64:BCM2835", ""},
		{"Boa/0.94.14rc21", ""},
		{"Server: model.el7 firmware", ""}, // no package version before it
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := Distribution(tt.text); got != tt.want {
				t.Errorf("Distribution(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// TestMatchDistribution: a software match carries the distribution of
// the value it was read from, every product the value names; an
// identity-only match carries none.
func TestMatchDistribution(t *testing.T) {
	rs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sig     Signal
		value   string
		product string
		version string
		want    string
	}{
		{SigServer, "Apache/2.2.15 (CentOS) mod_ssl/2.2.15 OpenSSL/1.0.1e-fips", "openssl", "1.0.1e", "CentOS"},
		{SigServer, "Apache/2.2.15 (CentOS) mod_ssl/2.2.15 OpenSSL/1.0.1e-fips", "apache", "2.2.15", "CentOS"},
		{SigServer, "Apache/2.4.7 (Ubuntu) OpenSSL/1.0.1f", "openssl", "1.0.1f", "Ubuntu"},
		{SigServer, "Apache/2.4.7 OpenSSL/1.0.1f", "openssl", "1.0.1f", ""},
		{SigBanner, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "openssh", "9.2p1", "Debian"},
		{SigBanner, "SSH-2.0-OpenSSH_9.2p1", "openssh", "9.2p1", ""},
		{SigBanner, "SSH-2.0-OpenSSH_7.9 FreeBSD-20200214", "openssh", "7.9", "FreeBSD"},
	}
	for _, tt := range tests {
		t.Run(tt.product+"/"+tt.value, func(t *testing.T) {
			found := false
			rs.Match(tt.sig, tt.value, func(m Match) {
				if m.Software == "" && m.Distribution != "" {
					t.Errorf("rule %s: no software, distribution %q", m.Rule.ID, m.Distribution)
				}
				if m.Software != tt.product {
					return
				}
				found = true
				if m.Version != tt.version || m.Distribution != tt.want {
					t.Errorf("rule %s: %s %s distribution %q, want %s %s distribution %q",
						m.Rule.ID, m.Software, m.Version, m.Distribution, tt.product, tt.version, tt.want)
				}
			})
			if !found {
				t.Errorf("no %s match", tt.product)
			}
		})
	}
}
