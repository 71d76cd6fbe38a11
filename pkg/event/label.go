package event

// KindLabel is a kind in the owner's words, for the page, the console
// and reports: the kind itself is a code for machines and experts. A
// kind without a label reads as its code.
func KindLabel(k Kind) string {
	switch k {
	case KindDefaultCredentials:
		return "Factory-default password"
	case KindWeakCredentials:
		return "Easy-to-guess password"
	case KindPlaintextCredentials:
		return "Login sent unencrypted"
	case KindPersonalData:
		return "Personal data sent unencrypted"
	case KindPlaintextProtocol:
		return "Unencrypted connection"
	case KindWeakTLS:
		return "Outdated encryption"
	case KindWeakSSH:
		return "Outdated encryption in SSH"
	case KindFirmwareOverHTTP:
		return "Update downloaded unencrypted"
	case KindScanning:
		return "Scans the internet"
	case KindOutdatedFirmware:
		return "Outdated software"
	case KindExposedService:
		return "Unencrypted login service open"
	case KindDHCP:
		return "Address request (DHCP)"
	case KindDNSQuery:
		return "Name lookup (DNS)"
	case KindMDNS:
		return "Announcement on the network (mDNS)"
	case KindSSDP:
		return "Announcement on the network (SSDP)"
	case KindUPnP:
		return "Device description (UPnP)"
	case KindWSD:
		return "Announcement on the network (WS-Discovery)"
	case KindHTTPClient:
		return "Web request it made (HTTP)"
	case KindHTTPServer:
		return "Web page it served (HTTP)"
	case KindBanner:
		return "Greeting of a service (banner)"
	case KindTLSClient:
		return "Encrypted connection it opened (TLS)"
	case KindTLSServer:
		return "Encrypted connection it answered (TLS)"
	case KindAudit:
		return "Check by the router"
	case KindFirmwareUpdated:
		return "Software updated"
	case KindAdvisoryWithdrawn:
		return "Security advisory withdrawn"
	}
	return string(k)
}

// EvidenceLabel is an evidence key of a finding in the owner's words; a
// key without a label reads as itself. The keys are documented in
// docs/events.md.
func EvidenceLabel(key string) string {
	switch key {
	case "protocol":
		return "Protocol"
	case "transport":
		return "Carried inside"
	case "mechanism":
		return "How the password was sent"
	case "user":
		return "User name (shortened)"
	case "password":
		return "Password (shortened)"
	case "password_class":
		return "Kind of password"
	case "password_hash":
		return "Password fingerprint (not the password)"
	case "accepted":
		return "Login accepted"
	case "any_password":
		return "Any password let in"
	case "verified":
		return "Confirmed by the router's own login"
	case "default_vendor":
		return "Maker whose default it is"
	case "default_source":
		return "Where the default is published"
	case "data_kind":
		return "Kind of data"
	case "sample":
		return "Sample (shortened)"
	case "field":
		return "Field"
	case "where":
		return "Where in the message"
	case "direction":
		return "Direction"
	case "destination":
		return "Sent to"
	case "server_name":
		return "Server name"
	case "port":
		return "Port"
	case "scope":
		return "Scope"
	case "tls_version":
		return "Encryption version"
	case "cipher":
		return "Cipher"
	case "reason":
		return "Why it is weak"
	case "sni":
		return "Server asked for"
	case "kex":
		return "Key exchange"
	case "host_key":
		return "Server's signature (host key)"
	case "mac_algorithm":
		return "Message check (MAC)"
	case "url":
		return "Address"
	case "status":
		return "Server's answer (HTTP status)"
	case "request":
		return "Kind of request"
	case "ports":
		return "Ports"
	case "distinct_targets":
		return "Hosts contacted"
	case "window":
		return "Within"
	case "product":
		return "Software"
	case "version":
		return "Version"
	case "advisory":
		return "Security advisory"
	case "cve":
		return "Known holes (CVE)"
	case "fixed":
		return "Fixed in"
	case "exploited":
		return "Exploited by attackers"
	case "end_of_life":
		return "No longer updated"
	case "software_source":
		return "Version seen in"
	case "feed":
		return "Advisory list version"
	case EvidenceDistributionBuild:
		return "Built by a Linux distribution"
	case EvidenceDistribution:
		return "Distribution"
	}
	return key
}
