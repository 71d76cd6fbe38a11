package openwrt

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// fw4Table is a trimmed ruleset of the shape OpenWrt's firewall4
// renders for a lan and a wan zone (written for this test): base chains
// at fw4's priorities, zone chains, a port forward, masquerade and a
// set. (With flow offloading fw4 adds a flowtable, which reload deletes
// and recreates; test kernels may lack nf_flow_table, so it is left out.)
const fw4Table = `table inet fw4 {
	set lan_blocked {
		type ipv4_addr
		elements = { 192.168.1.250 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept comment "fw4-style: loopback"
		ct state established,related accept
		iifname "br-lan" jump input_lan
		iifname "wan0" jump input_wan
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "br-lan" jump forward_lan
		iifname "wan0" jump forward_wan
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept
		ct state established,related accept
	}
	chain input_lan {
		ip saddr @lan_blocked drop
		accept
	}
	chain input_wan {
		meta nfproto ipv4 udp dport 68 accept
		ct status dnat accept
		drop
	}
	chain forward_lan {
		oifname "wan0" accept
		oifname "br-lan" accept
	}
	chain forward_wan {
		ct status dnat accept
		drop
	}
	chain dstnat {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan0" tcp dport 8443 dnat ip to 192.168.1.20:443
	}
	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" meta nfproto ipv4 masquerade
	}
	chain mangle_forward {
		type filter hook forward priority mangle; policy accept;
		oifname "wan0" tcp flags syn tcp option maxseg size set rt mtu
	}
}
`

// fw4 commands as firewall4's fw4 script runs them (nft -f for start and
// reload; reload renders "table …; flush table …" before the table; stop
// deletes its table; restart is stop and start; flush, which
// `/etc/init.d/firewall stop` runs, deletes every table).
func fw4Start(t *testing.T, ns string) { nft(t, ns, fw4Table) }

func fw4Reload(t *testing.T, ns string) {
	nft(t, ns, "table inet fw4\nflush table inet fw4\n"+fw4Table)
}

func fw4Restart(t *testing.T, ns string) {
	nft(t, ns, "delete table inet fw4\n")
	fw4Start(t, ns)
}

func fw4Flush(t *testing.T, ns string) {
	for _, line := range strings.Split(strings.TrimSpace(netnstest.CmdIn(t, ns, "nft", "list", "tables")), "\n") {
		f := strings.Fields(line) // "table inet fw4"
		if len(f) == 3 {
			nft(t, ns, "delete table "+f[1]+" "+f[2]+"\n")
		}
	}
}

// iotgwTables is iotgw's part of the ruleset with rule handles: equal
// listings mean nobody touched a rule, chain, set or element.
func iotgwTables(t *testing.T, ns string) string {
	t.Helper()
	return netnstest.CmdIn(t, ns, "nft", "-a", "list", "table", "inet", "iotgw") +
		netnstest.CmdIn(t, ns, "nft", "-a", "list", "table", "bridge", "iotgw")
}

func TestFW4Coexistence(t *testing.T) {
	requireRoot(t)
	camera, _ := hwaddr.Parse("c0:56:e3:1a:2b:3c")
	plug, _ := hwaddr.Parse("50:c7:bf:0a:1b:2c")
	entries := []quarantine.Entry{ // by MAC, as Current returns them
		{MAC: plug, Addrs: []netip.Addr{netip.MustParseAddr("192.168.1.102")}, Mode: quarantine.ModeUpdatesOnly},
		{MAC: camera, Addrs: []netip.Addr{netip.MustParseAddr("192.168.1.101")}, Mode: quarantine.ModeBlock},
	}
	cfg := quarantine.Config{
		RouterAddrs: []netip.Addr{netip.MustParseAddr("192.168.1.1")},
		LANPrefixes: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")},
		NoticePort:  8088,
	}

	tests := []struct {
		name  string
		steps []string
		// flushed: the step removes iotgw's tables (fw4 flush deletes
		// every table); a daemon restart restores them from its store.
		flushed bool
	}{
		{name: "fw4_first_then_reload", steps: []string{"fw4 start", "iotgw start", "fw4 reload", "fw4 reload"}},
		{name: "iotgw_first_then_fw4_start_and_reload", steps: []string{"iotgw start", "fw4 start", "fw4 reload"}},
		{name: "fw4_first_then_restart", steps: []string{"fw4 start", "iotgw start", "fw4 restart"}},
		{name: "iotgw_first_then_fw4_restart", steps: []string{"iotgw start", "fw4 start", "fw4 restart", "fw4 reload"}},
		{name: "firewall_stop_flushes_everything", steps: []string{"fw4 start", "iotgw start", "fw4 flush", "fw4 start"}, flushed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := netnstest.New(t, "iotgwo", "fw4")
			netnstest.Cmd(t, "ip", "-n", ns, "link", "add", "wan0", "type", "veth", "peer", "name", "wan1")
			netnstest.Cmd(t, "ip", "-n", ns, "link", "add", "br-lan", "type", "bridge")
			netnstest.Cmd(t, "ip", "-n", ns, "link", "set", "wan0", "up")
			fd := netnstest.Fd(t, ns)
			ctx := context.Background()
			start := func() *quarantine.NFTables {
				n, err := quarantine.NewNFTables(cfg, quarantine.WithNetNSFd(fd))
				if err != nil {
					t.Fatal(err)
				}
				if err := n.SetProtected(ctx, nil, nil); err != nil {
					t.Fatal(err)
				}
				if err := n.Reconcile(ctx, entries); err != nil {
					t.Fatal(err)
				}
				return n
			}
			var n *quarantine.NFTables
			var before string
			for _, s := range tc.steps {
				switch s {
				case "iotgw start":
					n = start()
					before = iotgwTables(t, ns)
				case "fw4 start":
					fw4Start(t, ns)
				case "fw4 reload":
					fw4Reload(t, ns)
				case "fw4 restart":
					fw4Restart(t, ns)
				case "fw4 flush":
					fw4Flush(t, ns)
				}
			}
			if !strings.Contains(netnstest.CmdIn(t, ns, "nft", "list", "tables"), "table inet fw4") {
				t.Fatal("fw4's table is missing after the steps")
			}
			if tc.flushed {
				out, _ := netnstest.Command(ns, "nft", "list", "table", "inet", "iotgw").CombinedOutput()
				if !strings.Contains(string(out), "No such file") {
					t.Fatalf("after fw4 flush: table inet iotgw still listed:\n%s", out)
				}
				// What the daemon does when it starts: the same entries
				// from its store, once.
				n = start()
			} else if got := iotgwTables(t, ns); got != before {
				t.Errorf("iotgw's tables changed:\n%s\nbefore:\n%s", got, before)
			}
			cur, err := n.Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(cur) != len(entries) {
				t.Fatalf("Current: %d entries, want %d: %+v", len(cur), len(entries), cur)
			}
			for i := range entries {
				if cur[i].MAC != entries[i].MAC || cur[i].Mode != entries[i].Mode {
					t.Errorf("entry %d: %v %s, want %v %s", i, cur[i].MAC, cur[i].Mode, entries[i].MAC, entries[i].Mode)
				}
			}
		})
	}
}
