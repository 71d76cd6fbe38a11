package quarantine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
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

// FW4InputComments are the comments of FW4Input's rules, by which
// FW4InputMissing finds them in fw4's chain.
func FW4InputComments(cfg Config) []string {
	var cs []string
	for _, r := range fw4Rules(cfg) {
		cs = append(cs, r.comment())
	}
	return cs
}

// FW4InputMissing reads fw4's input chain (table inet fw4, chain input)
// and returns the comments of FW4Input's rules for the backend's Config
// that it lacks. It only reads; fw4's table is never changed. A ruleset
// without fw4's chain (no firewall4, or it is stopped) has nothing
// missing: ok is false then.
func (n *NFTables) FW4InputMissing(ctx context.Context) (missing []string, ok bool, err error) {
	if err := n.mu.lock(ctx); err != nil {
		return nil, false, err
	}
	defer n.mu.unlock()
	_, sock, err := n.conn()
	if err != nil {
		return nil, false, err
	}
	defer sock.Close()
	have, ok, err := ruleComments(sock, "fw4", "input")
	if err != nil || !ok {
		return nil, false, err
	}
	for _, cm := range FW4InputComments(n.cfg) {
		if !slices.Contains(have, cm) {
			missing = append(missing, cm)
		}
	}
	return missing, true, nil
}

// ruleComments reads the comments of the rules of an inet chain, and
// nothing else of them: google/nftables cannot parse every expression
// fw4 (or FW4Input: a ct direction) puts in its rules. ok is false when
// the chain does not exist.
func ruleComments(sock *netlink.Conn, table, chain string) (comments []string, ok bool, err error) {
	nfgen := []byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}
	enc := netlink.NewAttributeEncoder()
	enc.String(unix.NFTA_CHAIN_TABLE, table)
	enc.String(unix.NFTA_CHAIN_NAME, chain)
	attrs, err := enc.Encode()
	if err != nil {
		return nil, false, err
	}
	_, err = sock.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETCHAIN), Flags: netlink.Request},
		Data:   append(slices.Clone(nfgen), attrs...),
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("quarantine: read inet %s %s: %w", table, chain, err)
	}
	enc = netlink.NewAttributeEncoder()
	enc.String(unix.NFTA_RULE_TABLE, table)
	enc.String(unix.NFTA_RULE_CHAIN, chain)
	if attrs, err = enc.Encode(); err != nil {
		return nil, false, err
	}
	msgs, err := sock.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   append(slices.Clone(nfgen), attrs...),
	})
	if err != nil {
		return nil, false, fmt.Errorf("quarantine: read the rules of inet %s %s: %w", table, chain, err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, false, fmt.Errorf("quarantine: read the rules of inet %s %s: %w", table, chain, err)
		}
		for ad.Next() {
			if ad.Type() != unix.NFTA_RULE_USERDATA {
				continue
			}
			if cm, ok := userdata.GetString(ad.Bytes(), userdata.TypeComment); ok {
				comments = append(comments, cm)
			}
		}
		if err := ad.Err(); err != nil {
			return nil, false, fmt.Errorf("quarantine: read the rules of inet %s %s: %w", table, chain, err)
		}
	}
	return comments, true, nil
}
