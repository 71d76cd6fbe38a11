package quarantine

import (
	"fmt"
	"strings"
)

// fw4Rule is one accept that OpenWrt's firewall4 needs in its input chain
// for a redirect of iotgw's: a connection to the router's port Port
// (after the redirect) whose original destination port was Orig.
type fw4Rule struct {
	Proto string // "udp" or "tcp"
	Orig  uint16 // the port the device asked for: 53, 80
	Port  uint16 // iotgw's port it was redirected to
	What  string
}

// fw4Rules are the redirects the layout makes (the "dns" and "notice"
// chains, and the redirect of DNS mode "all"), one accept each.
func fw4Rules(cfg Config) []fw4Rule {
	var rules []fw4Rule
	if cfg.DNSProxyPort != 0 {
		for _, proto := range []string{"udp", "tcp"} {
			rules = append(rules, fw4Rule{Proto: proto, Orig: 53, Port: cfg.DNSProxyPort, What: "DNS redirected to iotgw's proxy"})
		}
	}
	if cfg.NoticePort != 0 {
		rules = append(rules, fw4Rule{Proto: "tcp", Orig: 80, Port: cfg.NoticePort, What: "HTTP redirected to iotgw's notice page"})
	}
	return rules
}

func (r fw4Rule) comment() string {
	return fmt.Sprintf("iotgw: %s (%s %d to %d)", r.What, r.Proto, r.Orig, r.Port)
}

// FW4Input is what the OpenWrt package has fw4 (table inet fw4) include
// in its input chain, ahead of its zone rules: nft rules, one a line,
// that accept the connections iotgw's redirects send to the router's
// own ports, and nothing else.
//
// A redirect changes the destination port before fw4's input chain sees
// the packet, and fw4 accepts redirected connections only in zones with
// port forwards of their own ("ct status dnat accept"): a guest or IoT
// zone whose input policy is reject, which allows DNS on port 53 only,
// would reject a quarantined device's DNS at the proxy's port and its
// HTTP at the notice page's. Each rule accepts a connection only when
// all of these hold:
//
//   - its packet goes to iotgw's port (the proxy's, the notice page's)
//     in the original direction;
//   - conntrack rewrote its destination (ct status dnat): a packet sent
//     to the port directly is left to fw4;
//   - it asked for the port iotgw redirects from (DNS 53, HTTP 80);
//   - its source address is routed back out of the interface it came
//     in on (fib saddr . iif): a packet from the WAN claiming a
//     quarantined LAN address is left to fw4's rules, whatever iotgw's
//     NAT chain did with it.
func FW4Input(cfg Config) string {
	var b strings.Builder
	for _, r := range fw4Rules(cfg) {
		fmt.Fprintf(&b, "%s dport %d ct direction original ct status dnat ct original proto-dst %d fib saddr . iif oif exists accept comment %q\n",
			r.Proto, r.Port, r.Orig, r.comment())
	}
	return b.String()
}

// FW4InputComments are the comments of FW4Input's rules, by which they
// are found in fw4's chain.
func FW4InputComments(cfg Config) []string {
	var cs []string
	for _, r := range fw4Rules(cfg) {
		cs = append(cs, r.comment())
	}
	return cs
}
