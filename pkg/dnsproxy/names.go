package dnsproxy

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// canonicalDomains validates domain names from the configuration and
// returns them lower-case and fully qualified.
func canonicalDomains(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if _, ok := dns.IsDomainName(n); !ok || n == "" || n == "." {
			return nil, fmt.Errorf("%q is not a domain name", n)
		}
		out = append(out, dns.CanonicalName(n))
	}
	return out, nil
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

// presentationName is the form observers get: lower case, no trailing dot.
func presentationName(fqdn string) string {
	return strings.TrimSuffix(strings.ToLower(fqdn), ".")
}
