package device

import (
	"net/netip"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// textSlots is how many texts of each kind endpointTexts remembers: the
// two ends of a flow, and a DHCP message's client.
const textSlots = 4

// endpointTexts remembers the addresses of the endpoint texts parsed
// last. Every event filed names its device and its flow's ends as text,
// parsed again for each; the events of a flow, and of the flows made
// alike that share one event flow, come in runs and carry the same
// strings, which compare by pointer.
type endpointTexts struct {
	macs            [textSlots]parsedMAC
	ips             [textSlots]parsedIP
	nextMAC, nextIP uint8
}

type parsedMAC struct {
	text string
	mac  hwaddr.MAC
	ok   bool // text parsed
}

type parsedIP struct {
	text string
	ip   netip.Addr // invalid when text did not parse
}

// mac is hwaddr.Parse(s), reporting success instead of the error.
func (t *endpointTexts) mac(s string) (hwaddr.MAC, bool) {
	if s == "" {
		return hwaddr.Zero, false // most endpoints of a capture without a link layer
	}
	for i := range t.macs {
		if p := &t.macs[i]; p.text == s {
			return p.mac, p.ok
		}
	}
	mac, err := hwaddr.Parse(s)
	t.macs[t.nextMAC] = parsedMAC{text: s, mac: mac, ok: err == nil}
	t.nextMAC = (t.nextMAC + 1) % textSlots
	return mac, err == nil
}

// ip is netip.ParseAddr(s), the invalid address when s does not parse.
func (t *endpointTexts) ip(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	for i := range t.ips {
		if p := &t.ips[i]; p.text == s {
			return p.ip
		}
	}
	ip, _ := netip.ParseAddr(s)
	t.ips[t.nextIP] = parsedIP{text: s, ip: ip}
	t.nextIP = (t.nextIP + 1) % textSlots
	return ip
}
