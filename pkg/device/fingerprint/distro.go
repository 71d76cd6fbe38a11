package fingerprint

import (
	"regexp"
	"strings"
)

// A distribution build is a Linux distribution's package of upstream
// software, or FreeBSD's base system: Debian, Ubuntu, Red Hat, FreeBSD
// and the others backport security fixes into the version they shipped
// without changing the upstream version string (Debian 12's OpenSSH
// 9.2p1 carries the fix of CVE-2024-6387, fixed upstream in 9.8p1;
// CentOS 6's OpenSSL 1.0.1e that of Heartbleed; FreeBSD moves only the
// date after its OpenSSH version, "FreeBSD-20240701"). The version
// alone says nothing about what such a build is patched against: the
// distribution's security tracker does.
//
// The markers are those distributions put in the text the version is
// read from: the platform comment of Apache's Server header and of
// ProFTPD's greeting ("(Ubuntu)", "(CentOS)", "(Red Hat Enterprise
// Linux)"), the package revision OpenSSH's banner carries
// ("Debian-2+deb12u3", "Ubuntu-3ubuntu0.10"; Ubuntu before 14.04 kept
// Debian's word before its own revision, "Debian-5ubuntu1.4"), and the
// revision suffixes of the distributions' package versions ("+deb12u3",
// "~deb11u1", "4ubuntu2.19", "348.el8"), and the date FreeBSD puts
// after OpenSSH's version. Each is the distribution's own, not a
// vendor firmware's: an "OS/version" product token ("Ubuntu/10.04
// UPnP/1.0 MiniUPnPd/1.4") names the host a vendor's build ran on, not
// who patches what runs on the device, and OpenSSL's "-fips" is any
// build with the FIPS module, a firmware vendor's as much as Red Hat's
// (whose Server header says "(Red Hat)" or "(CentOS)" beside it anyway).
var distroMarkers = []struct {
	re *regexp.Regexp
	// name is the distribution's, or "" to take it from group 1.
	name string
}{
	{re: regexp.MustCompile(`\((?i)(debian|ubuntu|raspbian|centos|red hat|fedora)(?:[ /][^()]*)?\)`)},
	// Before the next: at the same place, the first in the list decides.
	{re: regexp.MustCompile(`\bDebian-[0-9][0-9.+~]*ubuntu[0-9]`), name: "Ubuntu"},
	{re: regexp.MustCompile(`\b(Debian|Ubuntu|Raspbian)-[0-9]`)},
	{re: regexp.MustCompile(`\+deb[0-9]+u[0-9]+`), name: "Debian"},
	{re: regexp.MustCompile(`~deb[0-9]`), name: "Debian"},
	{re: regexp.MustCompile(`[0-9]ubuntu[0-9]`), name: "Ubuntu"},
	{re: regexp.MustCompile(`[0-9]\.el[0-9]+(?:_[0-9]+)*\b`), name: "Red Hat"},
	{re: regexp.MustCompile(`\bFreeBSD-[0-9]{8}\b`), name: "FreeBSD"},
}

// distroNames spells the distributions the platform comments name,
// which Apache builds print in either case ("(centos)").
var distroNames = map[string]string{
	"debian": "Debian", "ubuntu": "Ubuntu", "raspbian": "Raspbian",
	"centos": "CentOS", "red hat": "Red Hat", "fedora": "Fedora",
}

// Distribution names the distribution whose build text shows (a
// Server header, a banner: the text a version was read from), by the
// first marker in it: "Debian", "Ubuntu", "Raspbian", "CentOS",
// "Red Hat", "Fedora" or "FreeBSD". It returns "" for text without one,
// an upstream build or one that does not say.
func Distribution(text string) string {
	best, name := -1, ""
	for _, m := range distroMarkers {
		loc := m.re.FindStringSubmatchIndex(text)
		if loc == nil || best >= 0 && loc[0] >= best {
			continue
		}
		best, name = loc[0], m.name
		if name == "" {
			name = distroNames[strings.ToLower(text[loc[2]:loc[3]])]
		}
	}
	return name
}
