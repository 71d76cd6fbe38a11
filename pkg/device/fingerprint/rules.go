// Package fingerprint owns iotgw's device fingerprint data and the
// matching of signals against it: the classification rules (rules.toml),
// the DHCP option 55 table (dhcp_prl.toml) and TCP SYN signatures. It
// turns one signal (a DHCP vendor class, a Server header, a domain a
// device resolves…) into matches, each naming what it says about the
// device (vendor, type, model, firmware, OS, software version) and how
// much that is worth. Combining matches into an identity is the device
// package's job.
//
// The data files are embedded and parsed once; a Rules value never
// changes after Parse, so it may be shared by goroutines.
package fingerprint

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

//go:embed rules.toml
var rulesTOML []byte

//go:embed dhcp_prl.toml
var prlTOML []byte

// Signal names a kind of fact about a device that rules match on.
type Signal string

// Signals, with the observation evidence each comes from.
const (
	SigOUI               Signal = "oui"                // registered name of the MAC's OUI
	SigHostname          Signal = "hostname"           // DHCP hostname/fqdn, mDNS host name
	SigDHCPVendorClass   Signal = "dhcp_vendor_class"  // DHCPv4 option 60, DHCPv6 option 16 data
	SigDHCPPRL           Signal = "dhcp_prl"           // DHCPv4 option 55, decimal, in order
	SigDHCPUserClass     Signal = "dhcp_user_class"    // DHCPv4 option 77
	SigDHCPv6Enterprise  Signal = "dhcpv6_enterprise"  // DHCPv6 option 16 enterprise number
	SigDHCPv6ORO         Signal = "dhcpv6_oro"         // DHCPv6 option 6, decimal, in order
	SigMDNSService       Signal = "mdns_service"       // DNS-SD service type, "_ipp._tcp"
	SigMDNSTXT           Signal = "mdns_txt"           // "key=value" of a DNS-SD TXT record
	SigInstance          Signal = "instance"           // DNS-SD instance name, UPnP friendlyName
	SigServer            Signal = "server"             // HTTP Server header, SSDP SERVER header
	SigSSDPType          Signal = "ssdp_type"          // NT of a NOTIFY, ST of a search response
	SigUserAgent         Signal = "user_agent"         // HTTP User-Agent, SSDP USER-AGENT
	SigHTTPRealm         Signal = "http_realm"         // WWW-Authenticate realm
	SigBanner            Signal = "banner"             // FTP/telnet/SMTP/POP3/IMAP/RTSP/SIP/SSH banner
	SigMQTTClientID      Signal = "mqtt_client_id"     // MQTT CONNECT client identifier
	SigJA3               Signal = "ja3"                // TLS ClientHello JA3 hash
	SigJA4               Signal = "ja4"                // TLS ClientHello JA4
	SigDomain            Signal = "domain"             // DNS query name, TLS SNI, HTTP Host
	SigUPnPManufacturer  Signal = "upnp_manufacturer"  // UPnP description manufacturer
	SigUPnPModel         Signal = "upnp_model"         // UPnP description modelName
	SigUPnPFirmware      Signal = "upnp_firmware"      // UPnP firmware/software version element
	SigUPnPDeviceType    Signal = "upnp_device_type"   // UPnP deviceType URN
	SigONVIFManufacturer Signal = "onvif_manufacturer" // ONVIF GetDeviceInformation Manufacturer
	SigONVIFModel        Signal = "onvif_model"        // ONVIF GetDeviceInformation Model
	SigONVIFFirmware     Signal = "onvif_firmware"     // ONVIF GetDeviceInformation FirmwareVersion
	SigTCPSYN            Signal = "tcp_syn"            // SYN signature, see SYN.String
	SigWSDType           Signal = "wsd_type"           // a WS-Discovery Types QName, "dn:NetworkVideoTransmitter"
	SigONVIFScope        Signal = "onvif_scope"        // an ONVIF scope as category/value, "hardware/DS-2CD2142FWD-I"
)

var knownSignals = []Signal{
	SigOUI, SigHostname, SigDHCPVendorClass, SigDHCPPRL, SigDHCPUserClass, SigDHCPv6Enterprise,
	SigDHCPv6ORO, SigMDNSService, SigMDNSTXT, SigInstance, SigServer, SigSSDPType, SigUserAgent,
	SigHTTPRealm, SigBanner, SigMQTTClientID, SigJA3, SigJA4, SigDomain, SigUPnPManufacturer,
	SigUPnPModel, SigUPnPFirmware, SigUPnPDeviceType, SigONVIFManufacturer, SigONVIFModel, SigONVIFFirmware,
	SigTCPSYN, SigWSDType, SigONVIFScope,
}

// Device types a rule may name.
var DeviceTypes = []string{
	"camera", "speaker", "tv", "plug", "thermostat", "printer", "hub", "phone", "computer",
	"router", "nas", "game_console", "media_player", "voice_assistant", "light", "sensor",
}

// Rule is one classification rule: a matcher on one or more signals and
// what a match says. Templates ($1, ${name}) in the outputs are expanded
// from the regular expression's groups.
type Rule struct {
	ID      string   `toml:"id"`
	Source  string   `toml:"source"`
	Signals []Signal `toml:"signals"`
	// Exactly one matcher.
	Regex    string   `toml:"regex"`    // RE2 syntax; add (?i) for case-insensitive
	Equals   []string `toml:"equals"`   // exact values, case-insensitive
	Suffixes []string `toml:"suffixes"` // domain suffixes (SigDomain only)
	// Outputs.
	Vendor   string  `toml:"vendor"`
	Type     string  `toml:"type"`
	Model    string  `toml:"model"`
	Firmware string  `toml:"firmware"`
	OS       string  `toml:"os"`
	Weight   float64 `toml:"weight"`   // 0 < w <= 1 for identity outputs
	Software string  `toml:"software"` // product id, lower case: "busybox"
	Version  string  `toml:"version"`  // template of the product's version
	// Chip marks a vendor that made a part of the product (its radio
	// chip, network module or SDK), not the product: the OUI of an
	// ESP8266 plug names Espressif whoever sold the plug.
	Chip bool `toml:"chip"`
	// KnownVendor: the vendor output votes only when the device
	// package's vendor table knows the name. The value it comes from is
	// a maker's name only sometimes: the ONVIF name scope is "HIKVISION"
	// or "AXIS M3045-V" as shipped, "IPC" or "Front door" as the owner
	// or a no-name maker set it.
	KnownVendor bool `toml:"known_vendor"`

	re *regexp.Regexp
}

// Match is what one rule says about one signal value.
type Match struct {
	Rule                              *Rule
	Vendor, Type, Model, Firmware, OS string
	Software, Version                 string
	// Distribution names the distribution whose build the software is,
	// by a marker in the value it was read from ("Debian" for
	// "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"; see Distribution); ""
	// for an upstream build, and for a match without software.
	Distribution string
	Weight       float64
}

// UPnPSoftware is an [[upnp_software]] entry of rules.toml: media
// software (a DLNA server or renderer) recognised by the manufacturer
// and modelName it announces in its UPnP device description. Such a
// description names the software, not the device it runs on.
type UPnPSoftware struct {
	ID     string `toml:"id"`
	Source string `toml:"source"`
	// Matchers; an entry matches when each one it has matches.
	Manufacturer []string `toml:"manufacturer"` // exact values, case-insensitive
	Model        string   `toml:"model"`        // RE2 on modelName
	// VendorBuilds: hardware makers ship the software in their own
	// firmware and put their name in <manufacturer> (NETGEAR's
	// ReadyDLNA), so the manufacturer still votes.
	VendorBuilds bool `toml:"vendor_builds"`

	re *regexp.Regexp
}

func (u *UPnPSoftware) check() error {
	if u.ID == "" {
		return errors.New("no id")
	}
	if strings.TrimSpace(u.Source) == "" {
		return errors.New("no source")
	}
	if len(u.Manufacturer) == 0 && u.Model == "" {
		return errors.New("want manufacturer or model")
	}
	if slices.ContainsFunc(u.Manufacturer, func(m string) bool { return strings.TrimSpace(m) == "" }) {
		return errors.New("empty manufacturer")
	}
	if u.Model != "" {
		re, err := regexp.Compile(u.Model)
		if err != nil {
			return err
		}
		u.re = re
	}
	return nil
}

func (u *UPnPSoftware) matches(manufacturer, model string) bool {
	if len(u.Manufacturer) > 0 && !slices.ContainsFunc(u.Manufacturer, func(m string) bool { return strings.EqualFold(m, manufacturer) }) {
		return false
	}
	return u.re == nil || u.re.MatchString(model)
}

// Rules is the parsed rule set.
type Rules struct {
	all      []*Rule
	software []*UPnPSoftware // [[upnp_software]]
	bySignal map[Signal][]*Rule
	suffix   map[string][]*Rule // domain suffix → rules
	equals   map[Signal]map[string][]*Rule
	parents  map[string]string
}

var embedded = sync.OnceValues(func() (*Rules, error) {
	return Parse(rulesTOML, prlTOML)
})

// Embedded returns the rule set built into the binary, parsed on first
// use and shared.
func Embedded() (*Rules, error) { return embedded() }

// Parent returns the more general value of a type or OS ("Linux" for
// "Android"), or "" when there is none.
func (rs *Rules) Parent(v string) string { return rs.parents[v] }

// All returns every rule, in file order (rules.toml, then dhcp_prl.toml).
func (rs *Rules) All() []*Rule { return rs.all }

type rulesFile struct {
	Parents      map[string]string `toml:"parents"`
	Rules        []*Rule           `toml:"rule"`
	UPnPSoftware []*UPnPSoftware   `toml:"upnp_software"`
}

type prlFile struct {
	Fingerprints []struct {
		ID     string  `toml:"id"`
		PRL    string  `toml:"prl"`
		OS     string  `toml:"os"`
		Type   string  `toml:"type"`
		Vendor string  `toml:"vendor"`
		Weight float64 `toml:"weight"`
		Source string  `toml:"source"`
	} `toml:"fingerprint"`
}

// Parse reads rules.toml and dhcp_prl.toml and checks every rule.
func Parse(rules, prl []byte) (*Rules, error) {
	var rf rulesFile
	md, err := toml.Decode(string(rules), &rf)
	if err != nil {
		return nil, fmt.Errorf("rules.toml: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("rules.toml: unknown key %s", u[0])
	}
	var pf prlFile
	md, err = toml.Decode(string(prl), &pf)
	if err != nil {
		return nil, fmt.Errorf("dhcp_prl.toml: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("dhcp_prl.toml: unknown key %s", u[0])
	}
	all := rf.Rules
	for _, f := range pf.Fingerprints {
		all = append(all, &Rule{
			ID: f.ID, Source: f.Source, Signals: []Signal{SigDHCPPRL}, Equals: []string{f.PRL},
			OS: f.OS, Type: f.Type, Vendor: f.Vendor, Weight: f.Weight,
		})
	}
	for child := range rf.Parents {
		seen := map[string]bool{}
		for v := child; v != ""; v = rf.Parents[v] {
			if seen[v] {
				return nil, fmt.Errorf("rules.toml: parents: %q is its own ancestor", child)
			}
			seen[v] = true
		}
	}
	rs := &Rules{
		parents:  rf.Parents,
		bySignal: map[Signal][]*Rule{},
		suffix:   map[string][]*Rule{},
		equals:   map[Signal]map[string][]*Rule{},
	}
	ids := map[string]bool{}
	for _, r := range all {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.ID, err)
		}
		if ids[r.ID] {
			return nil, fmt.Errorf("rule %q: duplicate id", r.ID)
		}
		ids[r.ID] = true
		rs.all = append(rs.all, r)
		for _, s := range r.Signals {
			switch {
			case len(r.Suffixes) > 0:
				for _, sfx := range r.Suffixes {
					k := strings.ToLower(sfx)
					rs.suffix[k] = append(rs.suffix[k], r)
				}
			case len(r.Equals) > 0:
				if rs.equals[s] == nil {
					rs.equals[s] = map[string][]*Rule{}
				}
				for _, v := range r.Equals {
					k := strings.ToLower(v)
					rs.equals[s][k] = append(rs.equals[s][k], r)
				}
			default:
				rs.bySignal[s] = append(rs.bySignal[s], r)
			}
		}
	}
	seen := map[string]bool{}
	for _, u := range rf.UPnPSoftware {
		if err := u.check(); err != nil {
			return nil, fmt.Errorf("upnp_software %q: %w", u.ID, err)
		}
		if seen[u.ID] {
			return nil, fmt.Errorf("upnp_software %q: duplicate id", u.ID)
		}
		seen[u.ID] = true
	}
	rs.software = rf.UPnPSoftware
	return rs, nil
}

// MediaSoftware returns the [[upnp_software]] entry that a UPnP
// description's manufacturer and modelName match, or nil: the
// description is then the software's, not the device's.
func (rs *Rules) MediaSoftware(manufacturer, model string) *UPnPSoftware {
	manufacturer, model = strings.TrimSpace(manufacturer), strings.TrimSpace(model)
	if manufacturer == "" && model == "" {
		return nil
	}
	// An entry that names the software's own publisher wins over one a
	// hardware maker's build shares (MiniDLNA's "Justin Maggard" and its
	// Windows Media Connect model name): the publisher is no vendor.
	var build *UPnPSoftware
	for _, u := range rs.software {
		if !u.matches(manufacturer, model) {
			continue
		}
		if !u.VendorBuilds {
			return u
		}
		if build == nil {
			build = u
		}
	}
	return build
}

var productID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func (r *Rule) check() error {
	if r.ID == "" {
		return errors.New("no id")
	}
	if strings.TrimSpace(r.Source) == "" {
		return errors.New("no source")
	}
	if len(r.Signals) == 0 {
		return errors.New("no signals")
	}
	for _, s := range r.Signals {
		if !slices.Contains(knownSignals, s) {
			return fmt.Errorf("unknown signal %q", s)
		}
	}
	matchers := 0
	groups := 0
	if r.Regex != "" {
		matchers++
		re, err := regexp.Compile(r.Regex)
		if err != nil {
			return err
		}
		r.re = re
		groups = re.NumSubexp()
	}
	if len(r.Equals) > 0 {
		matchers++
	}
	if len(r.Suffixes) > 0 {
		matchers++
		if len(r.Signals) != 1 || r.Signals[0] != SigDomain {
			return errors.New("suffixes match the domain signal only")
		}
		for _, s := range r.Suffixes {
			if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || !strings.Contains(s, ".") {
				return fmt.Errorf("suffix %q: want a domain like example.com", s)
			}
		}
	}
	if matchers != 1 {
		return errors.New("want exactly one of regex, equals, suffixes")
	}
	identity := r.Vendor != "" || r.Type != "" || r.Model != "" || r.Firmware != "" || r.OS != ""
	if !identity && r.Software == "" {
		return errors.New("no output")
	}
	if identity && (r.Weight <= 0 || r.Weight > 1) {
		return fmt.Errorf("weight %v: want 0 < weight <= 1", r.Weight)
	}
	if r.Type != "" && !slices.Contains(DeviceTypes, r.Type) {
		return fmt.Errorf("unknown device type %q", r.Type)
	}
	if r.Software != "" && !productID.MatchString(r.Software) {
		return fmt.Errorf("software %q: want a lower-case product id", r.Software)
	}
	if r.Version != "" && r.Software == "" {
		return errors.New("version without software")
	}
	if r.Chip && r.Vendor == "" {
		return errors.New("chip without vendor")
	}
	if r.KnownVendor && r.Vendor == "" {
		return errors.New("known_vendor without vendor")
	}
	for _, t := range []string{r.Vendor, r.Type, r.Model, r.Firmware, r.OS, r.Version} {
		if n := maxGroupRef(t); n > groups {
			return fmt.Errorf("template %q refers to group %d of %d", t, n, groups)
		}
	}
	return nil
}

// maxGroupRef is the highest $N or ${N} in a template.
func maxGroupRef(t string) int {
	top := 0
	for i := 0; i < len(t); i++ {
		if t[i] != '$' || i+1 == len(t) {
			continue
		}
		j := i + 1
		if t[j] == '{' {
			j++
		}
		k := j
		for k < len(t) && t[k] >= '0' && t[k] <= '9' {
			k++
		}
		if n, err := strconv.Atoi(t[j:k]); err == nil && n > top {
			top = n
		}
	}
	return top
}

// Match calls fn for every rule that matches value as signal sig. It
// allocates only for matches (expanded templates).
func (rs *Rules) Match(sig Signal, value string, fn func(Match)) {
	if value == "" {
		return
	}
	if sig == SigDomain {
		rs.matchDomain(value, fn)
	}
	if m := rs.equals[sig]; m != nil {
		for _, r := range m[strings.ToLower(value)] {
			fn(r.expand(value, nil))
		}
	}
	for _, r := range rs.bySignal[sig] {
		if r.re == nil {
			continue
		}
		idx := r.re.FindStringSubmatchIndex(value)
		if idx == nil {
			continue
		}
		fn(r.expand(value, idx))
	}
}

// matchDomain tries the name and each parent domain against the suffix
// index: "a.b.example.com", "b.example.com", "example.com".
func (rs *Rules) matchDomain(name string, fn func(Match)) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for s := name; ; {
		for _, r := range rs.suffix[s] {
			fn(r.expand(name, nil))
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return
		}
		s = s[i+1:]
	}
}

func (r *Rule) expand(value string, idx []int) Match {
	x := func(t string) string {
		if t == "" || idx == nil || !strings.Contains(t, "$") {
			return t
		}
		return strings.TrimSpace(string(r.re.ExpandString(nil, t, value, idx)))
	}
	m := Match{
		Rule: r, Vendor: x(r.Vendor), Type: r.Type, Model: x(r.Model), Firmware: x(r.Firmware),
		OS: x(r.OS), Software: r.Software, Version: x(r.Version), Weight: r.Weight,
	}
	if r.Software != "" {
		m.Distribution = Distribution(value)
	}
	return m
}
