package dnsproxy

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"
)

// canonicalDomains validates domain names from the configuration and
// returns them lower-case and fully qualified. A query names an
// internationalised domain in its ASCII form (xn--…), and the proxy
// unpacks a label's dot or other unusual bytes as escapes (\., \195):
// a name written either way would not match the queries for the name
// meant.
func canonicalDomains(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if _, ok := dns.IsDomainName(n); !ok || n == "" || n == "." || strings.Contains(n, `\`) {
			return nil, fmt.Errorf("%q is not a domain name", n)
		}
		if strings.ContainsFunc(n, func(r rune) bool { return r > unicode.MaxASCII }) {
			return nil, fmt.Errorf("%q: write an internationalised name in its ASCII form (xn--…), which queries carry", n)
		}
		// A '*' would match only queries for that very character, not
		// the names the owner meant.
		if strings.Contains(n, "*") {
			return nil, fmt.Errorf("%q: no wildcard; a domain covers the names below it (example.com for *.example.com)", n)
		}
		out = append(out, dns.CanonicalName(n))
	}
	return out, nil
}

// CheckUpdateDomains reports the first of names New and SetRules refuse
// as update domains: not a domain name, or a public suffix.
func CheckUpdateDomains(names []string) error {
	_, err := updateDomains(names)
	return err
}

// CheckLocalDomains reports the first of names New and SetRules refuse
// as local domains: not a domain name, or a listed public suffix.
func CheckLocalDomains(names []string) error {
	_, err := localDomains(names)
	return err
}

// localDomains is canonicalDomains for the local domains, which also
// refuses the public suffixes the Public Suffix List names ("com",
// "co.uk", "duckdns.org"): they are forwarded for quarantined devices
// too, and every name below one would resolve for them, a way out for
// any data the device puts in a name. A single label the list does not
// know ("lan", "home", "internal") is no one's to register, and neither
// is home.arpa, which RFC 8375 sets aside for home networks.
func localDomains(names []string) ([]string, error) {
	domains, err := canonicalDomains(names)
	if err != nil {
		return nil, err
	}
	for _, d := range domains {
		name := strings.TrimSuffix(d, ".")
		if name == "home.arpa" {
			continue
		}
		ps, icann := publicsuffix.PublicSuffix(name)
		// An unlisted top-level label is its own suffix by the list's
		// default rule, with icann false; a listed private suffix has
		// two labels or more.
		if ps == name && (icann || strings.Contains(ps, ".")) {
			return nil, fmt.Errorf("%q is a public suffix: anyone may register names below it, and quarantined devices would resolve them", name)
		}
	}
	return domains, nil
}

// inDomains reports whether name is one of domains or below one. It
// compares labels, so an escaped dot inside a label ("a\.example.com" is a
// name in "com") never matches "example.com".
func inDomains(name string, domains []string) bool {
	for _, d := range domains {
		if dns.IsSubDomain(d, name) {
			return true
		}
	}
	return false
}

// updateDomains is canonicalDomains for the update domains, which also
// refuses public suffixes (com, co.uk, cloudfront.net, duckdns.org; a
// single label): anyone may register names below them, which would
// resolve, and be allowed, for quarantined devices.
func updateDomains(names []string) ([]string, error) {
	domains, err := canonicalDomains(names)
	if err != nil {
		return nil, err
	}
	for _, d := range domains {
		if publicSuffixLabels(d) >= dns.CountLabel(d) {
			return nil, fmt.Errorf("%q is a public suffix: anyone may register names below it", strings.TrimSuffix(d, "."))
		}
	}
	return domains, nil
}

// inUpdateDomains is inDomains for the update domains, within the name's
// registrable domain: a name below a public suffix that lies inside an
// update domain (a bucket in s3.amazonaws.com, an EC2 host in
// compute-1.amazonaws.com, when the owner listed amazonaws.com) was
// registered by someone else than whoever holds the update domain, maybe
// by the attacker of a quarantined device.
func inUpdateDomains(name string, domains []string) bool {
	suffix := -1 // looked up for a name below an update domain only
	for _, d := range domains {
		if !dns.IsSubDomain(d, name) {
			continue
		}
		if suffix < 0 {
			suffix = publicSuffixLabels(name)
		}
		if dns.CountLabel(d) > suffix {
			return true
		}
	}
	return false
}

// publicSuffixLabels is the number of labels of name's public suffix: by
// the Public Suffix List, or the last label for a name under no listed
// one.
func publicSuffixLabels(name string) int {
	ps, _ := publicsuffix.PublicSuffix(strings.TrimSuffix(strings.ToLower(name), "."))
	return strings.Count(ps, ".") + 1
}

// presentationName is the form observers get: no trailing dot, in the
// case the client wrote it (see Observation.Name).
func presentationName(fqdn string) string {
	return strings.TrimSuffix(fqdn, ".")
}
