// Package event owns the record that leaves the inspectors: findings (a
// device falls short of the baseline) and observations (facts used to
// fingerprint a device). Its JSON form is iotgw's versioned output schema,
// documented in docs/events.md. Evidence in an event is already redacted;
// nothing in this package ever sees a secret.
package event

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the "v" field of every JSON line. Bump it when a field
// changes meaning or disappears; adding fields does not bump it.
const SchemaVersion = 1

// Type separates findings from observations.
type Type string

const (
	TypeFinding     Type = "finding"
	TypeObservation Type = "observation"
)

// Kind names what was found or observed.
type Kind string

// Finding kinds.
const (
	KindDefaultCredentials   Kind = "default_credentials"
	KindWeakCredentials      Kind = "weak_credentials"
	KindPlaintextCredentials Kind = "plaintext_credentials"
	KindPersonalData         Kind = "personal_data"
	KindPlaintextProtocol    Kind = "plaintext_protocol"
	KindWeakTLS              Kind = "weak_tls"
	KindWeakSSH              Kind = "weak_ssh"
	KindFirmwareOverHTTP     Kind = "firmware_over_http"
	KindScanning             Kind = "scanning"
	KindOutdatedFirmware     Kind = "outdated_firmware"
	KindExposedService       Kind = "exposed_service"
)

// Observation kinds.
const (
	KindDHCP       Kind = "dhcp"
	KindDNSQuery   Kind = "dns_query"
	KindMDNS       Kind = "mdns"
	KindSSDP       Kind = "ssdp"
	KindUPnP       Kind = "upnp"
	KindWSD        Kind = "wsd"
	KindHTTPClient Kind = "http_client"
	KindHTTPServer Kind = "http_server"
	KindBanner     Kind = "banner"
	KindTLSClient  Kind = "tls_client_hello"
	KindTLSServer  Kind = "tls_server_hello"
	// KindAudit reports an active check that found nothing (evidence
	// check = default_login or ports, result = none_found).
	KindAudit Kind = "audit"
	// KindFirmwareUpdated reports that a device now runs another version
	// of software an outdated_firmware finding was about: the finding
	// is withdrawn (evidence product, from, to, advisory).
	KindFirmwareUpdated Kind = "firmware_updated"
	// KindAdvisoryWithdrawn reports that the advisory feed now in force no
	// longer supports an outdated_firmware finding (the advisory is gone,
	// or no longer names the version): the finding is withdrawn
	// (evidence product, version, advisory, feed).
	KindAdvisoryWithdrawn Kind = "advisory_withdrawn"
)

// Severity orders findings. Observations carry SeverityInfo.
type Severity int

const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitive.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(n, name) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", name, strings.Join(severityNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Capability numbers the five baseline capabilities.
type Capability int

const (
	CapNoDefaultPasswords  Capability = 1
	CapDisclosurePolicy    Capability = 2
	CapSoftwareUpdates     Capability = 3
	CapSecureCommunication Capability = 4
	CapPersonalData        Capability = 5
)

// CapabilityName is the owner-facing name of a capability.
func CapabilityName(c Capability) string {
	switch c {
	case CapNoDefaultPasswords:
		return "No universal default passwords"
	case CapDisclosurePolicy:
		return "Vulnerability disclosure policy"
	case CapSoftwareUpdates:
		return "Software kept updated"
	case CapSecureCommunication:
		return "Secure communication"
	case CapPersonalData:
		return "Personal data kept secure"
	}
	return fmt.Sprintf("capability %d", int(c))
}

// Endpoint is one side of a flow, or the device an event is about.
type Endpoint struct {
	MAC  string `json:"mac,omitempty"`
	IP   string `json:"ip,omitempty"`
	Port uint16 `json:"port,omitempty"`
	// Local is true for addresses inside the configured LAN prefixes.
	Local bool `json:"local,omitempty"`
}

// Direction says where traffic goes relative to the home network.
type Direction string

const (
	LANToWAN Direction = "lan_to_wan"
	WANToLAN Direction = "wan_to_lan"
	LANToLAN Direction = "lan_to_lan"
	WANToWAN Direction = "wan_to_wan"
)

// Flow identifies the connection an event came from. Client is the side
// that opened it.
type Flow struct {
	Transport string    `json:"transport"` // "tcp" or "udp"
	Client    Endpoint  `json:"client"`
	Server    Endpoint  `json:"server"`
	App       string    `json:"app,omitempty"`
	Direction Direction `json:"direction"`
	// Joined: a TCP connection whose opening was not seen (the capture
	// joined it late, or its frames were made up without one): what its
	// server sent is the word of whoever sent those frames.
	Joined bool `json:"joined,omitempty"`
}

// Event is one finding or observation. It is what JSON lines, the store,
// the web page and alerts all carry.
type Event struct {
	V          int        `json:"v"`
	Time       time.Time  `json:"time"`
	Type       Type       `json:"type"`
	Kind       Kind       `json:"kind"`
	Severity   Severity   `json:"severity"`
	Capability Capability `json:"capability,omitempty"`
	// Provision is the ETSI EN 303 645 provision, e.g. "5.1-1".
	Provision string    `json:"provision,omitempty"`
	Device    Endpoint  `json:"device"`
	Flow      *Flow     `json:"flow,omitempty"`
	Summary   string    `json:"summary"`
	Evidence  Evidence  `json:"evidence,omitempty"`
	Source    string    `json:"source,omitempty"` // capture file or live interface
	Packet    int64     `json:"packet,omitempty"` // packet number in Source, from 1
	Verified  bool      `json:"verified,omitempty"`
	Count     int       `json:"count,omitempty"` // aggregated events: how many times seen
	LastTime  time.Time `json:"last_time,omitzero"`
}

// Evidence is redacted, owner-readable detail; keys are documented per kind
// in docs/events.md. It is complete when the event is emitted and never
// changed after: the consumers of an event share its map.
type Evidence map[string]string

// IsFinding reports whether e is a finding.
func (e *Event) IsFinding() bool { return e.Type == TypeFinding }

// LastSeen is when the event, or the last repeat folded into it, was
// seen: the later of Time and LastTime.
func (e *Event) LastSeen() time.Time {
	if e.LastTime.After(e.Time) {
		return e.LastTime
	}
	return e.Time
}

// DedupKey identifies "the same finding for the same device": alerts and
// the summary count repeats of one key once.
func (e *Event) DedupKey() string { return string(e.AppendDedupKey(make([]byte, 0, 128))) }

// AppendDedupKey appends DedupKey to dst: a caller with a buffer of its
// own looks a key up without allocating it.
func (e *Event) AppendDedupKey(dst []byte) []byte {
	dst = append(dst, e.Kind...)
	dst = append(dst, '|')
	if e.Device.MAC != "" {
		dst = append(dst, e.Device.MAC...)
	} else {
		dst = append(dst, e.Device.IP...)
	}
	flow := e.Flow != nil && e.Kind != KindScanning
	// Cleartext use of a service known by name is one finding whichever
	// of its addresses (a CDN's) each report came from.
	service := flow && (e.aboutServer() || e.loginToInternet() || e.Kind == KindPlaintextProtocol && e.Evidence["server_name"] != "")
	// One pass over the evidence, not a lookup per key: every event
	// filed builds its key, and most carry fewer fields than there are
	// keys.
	var values [len(dedupEvidenceKeys)]string
	var present uint32
	for k, v := range e.Evidence {
		if i := dedupKeyIndex(k); i >= 0 {
			values[i], present = v, present|1<<i
		}
	}
	for i, k := range dedupEvidenceKeys {
		switch {
		case present&(1<<i) == 0:
			continue
		case k == "port" && service:
			continue // the flow's server port ends the key
		case k == "password_hash" && e.Kind == KindDefaultCredentials && flow && e.aboutServer():
			// A service that accepts a factory-default password for a
			// user is one finding whichever default it was, and the
			// active audit, which files it too, has no keyed hash.
			continue
		}
		dst = append(dst, '|')
		dst = append(dst, values[i]...)
	}
	if e.Kind == KindDefaultCredentials && !e.SeenAccepted() {
		// A default tried whose acceptance was not seen (refused, its
		// answer missed, on a joined connection) is another finding than
		// the same login seen accepted, which policy quarantines for:
		// folded into the first, the proof would be lost, and counted
		// from it, the grace period and the owner's release would run
		// from a sighting that called for no quarantine.
		dst = append(dst, "|unconfirmed"...)
	}
	if flow {
		dst = append(dst, '|')
		dst = append(dst, e.Flow.App...)
		dst = append(dst, '|')
		if service {
			// The device's own address changes with DHCP, and a cloud's
			// from one connection to the next; the service is its port.
			// A finding about it at a new address (after the owner
			// released the device) is not a new finding.
			dst = append(dst, ':')
			dst = strconv.AppendUint(dst, uint64(e.Flow.Server.Port), 10)
		} else {
			dst = append(dst, e.Flow.Server.IP...)
		}
	}
	return dst
}

// loginToInternet reports whether the event is a login its device sent
// to a server outside the LAN: the same credential to any of a cloud's
// addresses is one finding.
func (e *Event) loginToInternet() bool {
	switch e.Kind {
	case KindDefaultCredentials, KindWeakCredentials, KindPlaintextCredentials:
		return !e.Flow.Server.Local
	}
	return false
}

// aboutServer reports whether the event's device is its flow's server.
func (e *Event) aboutServer() bool {
	if e.Device.MAC != "" {
		return e.Device.MAC == e.Flow.Server.MAC
	}
	return e.Device.IP != "" && e.Device.IP == e.Flow.Server.IP
}

// dedupEvidenceKeys are the evidence fields that make two findings of one
// kind on one device different findings.
var dedupEvidenceKeys = [...]string{"protocol", "user", "password_class", "password_hash", "data_kind", "sample", "product", "version", "advisory", "tls_version", "cipher", "port", "url", "check", "server_name", "kex", "host_key", "mac_algorithm"}

// dedupKeyIndex is k's index in dedupEvidenceKeys, or -1: a switch the
// compiler turns into a search by length and content.
func dedupKeyIndex(k string) int {
	switch k {
	case "protocol":
		return 0
	case "user":
		return 1
	case "password_class":
		return 2
	case "password_hash":
		return 3
	case "data_kind":
		return 4
	case "sample":
		return 5
	case "product":
		return 6
	case "version":
		return 7
	case "advisory":
		return 8
	case "tls_version":
		return 9
	case "cipher":
		return 10
	case "port":
		return 11
	case "url":
		return 12
	case "check":
		return 13
	case "server_name":
		return 14
	case "kex":
		return 15
	case "host_key":
		return 16
	case "mac_algorithm":
		return 17
	}
	return -1
}

// SeenAccepted reports whether the login e reports was seen accepted by
// its server on a connection seen from its handshake, or verified by the
// router's own audit. Policy quarantines on a default login only then,
// and the scorecard fails 5.1-1 only then: an answer whose frames came
// on a connection the capture joined is the word of whoever sent them.
func (e *Event) SeenAccepted() bool {
	return e.Verified || e.Evidence["accepted"] == "yes" && (e.Flow == nil || !e.Flow.Joined)
}
