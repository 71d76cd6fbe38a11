package device

import (
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

//go:embed vendor_security.toml
var vendorTOML []byte

// VendorInfo is one vendor of vendor_security.toml.
type VendorInfo struct {
	Name    string   `toml:"name" json:"name"`
	Aliases []string `toml:"aliases" json:"-"`
	// Policy is the URL of the disclosure policy, security.txt, PSIRT or
	// bug-bounty page; empty when unknown.
	Policy    string `toml:"policy" json:"policy,omitempty"`
	Kind      string `toml:"kind" json:"kind,omitempty"`
	Source    string `toml:"source" json:"source"`
	NoneFound bool   `toml:"none_found" json:"none_found,omitempty"`
	Unsure    bool   `toml:"unsure" json:"unsure,omitempty"`

	aliasWords [][]string
}

// Vendors is the vendor table: canonical names and security contacts.
type Vendors struct {
	list []*VendorInfo
}

var embeddedVendors = sync.OnceValues(func() (*Vendors, error) {
	return ParseVendors(vendorTOML)
})

// EmbeddedVendors returns the table built into the binary.
func EmbeddedVendors() (*Vendors, error) { return embeddedVendors() }

// ParseVendors reads a vendor_security.toml document.
func ParseVendors(data []byte) (*Vendors, error) {
	var f struct {
		Vendors []*VendorInfo `toml:"vendor"`
	}
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("vendor table: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("vendor table: unknown key %s", u[0])
	}
	v := &Vendors{}
	names := map[string]bool{}
	for _, vi := range f.Vendors {
		if err := vi.check(); err != nil {
			return nil, fmt.Errorf("vendor table: %q: %w", vi.Name, err)
		}
		if names[vi.Name] {
			return nil, fmt.Errorf("vendor table: %q: duplicate", vi.Name)
		}
		names[vi.Name] = true
		for _, a := range append([]string{vi.Name}, vi.Aliases...) {
			vi.aliasWords = append(vi.aliasWords, words(a))
		}
		v.list = append(v.list, vi)
	}
	return v, nil
}

func (vi *VendorInfo) check() error {
	if vi.Name == "" {
		return errors.New("no name")
	}
	if strings.TrimSpace(vi.Source) == "" {
		return errors.New("no source")
	}
	if vi.Policy != "" {
		u, err := url.Parse(vi.Policy)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("policy %q: want an https URL", vi.Policy)
		}
		if !slices.Contains([]string{"security.txt", "policy", "psirt", "bounty"}, vi.Kind) {
			return fmt.Errorf("kind %q: want security.txt, policy, psirt or bounty", vi.Kind)
		}
	}
	if vi.NoneFound && vi.Policy != "" {
		return errors.New("none_found with a policy URL")
	}
	return nil
}

// words splits a name into lower-case alphanumeric words.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r >= 0x80)
	})
}

// containsRun reports whether seq occurs in ws as consecutive words.
func containsRun(ws, seq []string) bool {
	if len(seq) == 0 {
		return false
	}
	for i := 0; i+len(seq) <= len(ws); i++ {
		if slices.Equal(ws[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

// Lookup returns the vendor a name refers to.
func (v *Vendors) Lookup(name string) (*VendorInfo, bool) {
	ws := words(name)
	for _, vi := range v.list {
		for _, a := range vi.aliasWords {
			if containsRun(ws, a) {
				return vi, true
			}
		}
	}
	return nil, false
}

// Canonical is the name the owner sees for a vendor string: the table's
// name when an alias matches, else the string without legal suffixes
// ("Acme Widgets Co.,Ltd." → "Acme Widgets").
func (v *Vendors) Canonical(name string) string {
	if vi, ok := v.Lookup(name); ok {
		return vi.Name
	}
	return trimLegal(name)
}

var legalSuffixes = []string{"co", "ltd", "inc", "corp", "corporation", "corporate", "company", "limited", "llc", "gmbh", "ag", "bv", "b.v", "sa", "s.a", "oy", "ab", "plc", "incorporated"}

func trimLegal(name string) string {
	f := strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == ',' })
	for len(f) > 1 && slices.Contains(legalSuffixes, strings.Trim(strings.ToLower(f[len(f)-1]), ".")) {
		f = f[:len(f)-1]
	}
	return strings.Join(f, " ")
}
