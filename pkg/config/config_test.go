package config

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

func TestExampleFileIsTheDefault(t *testing.T) {
	data, err := os.ReadFile("../../iotgw.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("iotgw.example.toml", data)
	if err != nil {
		t.Fatalf("example config does not parse: %v", err)
	}
	def := Default()
	if len(cfg.LAN.Prefixes) != len(def.LAN.Prefixes) || cfg.Inspect != def.Inspect || cfg.Policy.Mode != def.Policy.Mode ||
		cfg.Policy.DefaultAction != def.Policy.DefaultAction || cfg.Policy.MinSeverity != def.Policy.MinSeverity ||
		len(cfg.Policy.Actions) != len(def.Policy.Actions) {
		t.Errorf("example file differs from the defaults:\n%+v\n%+v", cfg, def)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		err   string // substring; "" means valid
		check func(t *testing.T, c *Config)
	}{
		{name: "empty_is_default", input: "", check: func(t *testing.T, c *Config) {
			if c.Inspect.MaxFlows != 32768 || c.Policy.Mode != "monitor" {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{name: "durations", input: "[inspect]\ntcp_idle = \"5m\"\nudp_idle = \"30s\"\n", check: func(t *testing.T, c *Config) {
			if c.Inspect.TCPIdle.Duration != 5*time.Minute || c.Inspect.UDPIdle.Duration != 30*time.Second {
				t.Errorf("durations %v %v", c.Inspect.TCPIdle, c.Inspect.UDPIdle)
			}
		}},
		{name: "actions_merge_with_defaults", input: "[policy.actions]\nweak_credentials = \"isolate\"\n", check: func(t *testing.T, c *Config) {
			if c.Policy.Actions["weak_credentials"] != ActionIsolate || c.Policy.Actions["default_credentials"] != ActionQuarantine {
				t.Errorf("actions %v", c.Policy.Actions)
			}
		}},
		{name: "device_rule", input: "[[policy.device]]\nmac = \"C0-56-E3-12-34-56\"\ntrusted = true\nexempt = [\"plaintext_protocol\"]\n", check: func(t *testing.T, c *Config) {
			if len(c.Policy.Devices) != 1 || c.Policy.Devices[0].MAC.String() != "c0:56:e3:12:34:56" || !c.Policy.Devices[0].Trusted {
				t.Errorf("device rules %+v", c.Policy.Devices)
			}
		}},
		{name: "severity", input: "[policy]\nmin_severity = \"high\"\n", check: func(t *testing.T, c *Config) {
			if c.Policy.MinSeverity != event.SeverityHigh {
				t.Errorf("min_severity %v", c.Policy.MinSeverity)
			}
		}},
		{name: "unknown_key_with_line", input: "[inspect]\nmax_flows = 100\nmax_flow = 5\n", err: "test.toml:3: inspect.max_flow: unknown key"},
		{name: "unknown_table_with_line", input: "\n[inspekt]\nx = 1\n", err: "test.toml:2: inspekt"},
		{name: "syntax_error_with_line", input: "[lan]\nprefixes = [\"10.0.0.0/8\"\n", err: "test.toml:"},
		{name: "bad_prefix", input: "[lan]\nprefixes = [\"10.0.0.0/33\"]\n", err: "10.0.0.0/33"},
		{name: "bad_duration_line", input: "[inspect]\n\ntcp_idle = \"ten minutes\"\n", err: "invalid duration"},
		{name: "out_of_range_with_line", input: "[inspect]\nmax_flows = 3\n", err: "test.toml:2: inspect.max_flows: 3 is out of range"},
		{name: "bad_mode", input: "[policy]\nmode = \"block\"\n", err: "test.toml:2: policy.mode"},
		{name: "bad_action", input: "[policy.actions]\ndefault_credentials = \"nuke\"\n", err: "unknown action"},
		{name: "unknown_finding_kind", input: "[policy.actions]\nbad_vibes = \"alert\"\n", err: "test.toml:2: policy.actions.bad_vibes: unknown finding kind"},
		{name: "bad_mac", input: "[[policy.device]]\nmac = \"zz:zz\"\n", err: "invalid MAC"},
		{name: "duplicate_device", input: "[[policy.device]]\nmac = \"02:00:00:00:00:01\"\n[[policy.device]]\nmac = \"02:00:00:00:00:01\"\n", err: "test.toml:4: policy.device[1].mac"},
		{name: "trusted_forced", input: "[[policy.device]]\nmac = \"02:00:00:00:00:01\"\ntrusted = true\nforce = \"quarantine\"\n", err: "trusted device cannot be forced"},
		{name: "own_table_name", input: "[quarantine]\ntable = \"iotgw-test_2\"\n", check: func(t *testing.T, c *Config) {
			if c.Quarantine.Table != "iotgw-test_2" {
				t.Errorf("table %q", c.Quarantine.Table)
			}
		}},
		{name: "table_fw4", input: "[quarantine]\ntable = \"fw4\"\n", err: "test.toml:2: quarantine.table: \"fw4\" is OpenWrt's firewall (fw4) table"},
		{name: "table_iptables_filter", input: "[quarantine]\ntable = \"filter\"\n", err: "test.toml:2: quarantine.table: \"filter\" is iptables-nft's table"},
		{name: "table_empty", input: "[quarantine]\ntable = \"\"\n", err: "test.toml:2: quarantine.table: a name is needed"},
		{name: "table_not_identifier", input: "[quarantine]\ntable = \"iotgw fw4\"\n", err: "test.toml:2: quarantine.table: \"iotgw fw4\" is not an nft identifier"},
		{name: "table_leading_digit", input: "[quarantine]\ntable = \"4fw\"\n", err: "quarantine.table: \"4fw\" is not an nft identifier"},
		{name: "table_quote", input: "[quarantine]\ntable = 'a\"b'\n", err: "quarantine.table"},
		{name: "table_too_long", input: "[quarantine]\ntable = \"" + strings.Repeat("a", 250) + "\"\n", err: "quarantine.table"},
		{name: "store_path_in_uci_settings", input: "[store]\npath = \"/etc/config/iotgw\"\n", err: "test.toml:2: store.path: /etc/config/iotgw is in /etc/config"},
		{name: "store_path_in_uci_settings_unclean", input: "[store]\npath = \"/etc//config/./state.json\"\n", err: "store.path: /etc//config/./state.json is in /etc/config"},
		{name: "write_interval_too_short", input: "[store]\nwrite_interval = \"30s\"\n", err: "test.toml:2: store.write_interval: 30s is too short: at least 1m,"},
		{name: "several_errors", input: "[inspect]\nmax_flows = 3\nbyte_budget = 1\n", err: "test.toml:3: inspect.byte_budget"},
		// A value of the wrong kind is named in the owner's words, with
		// its line, as other errors are; not in Go's types.
		{name: "table_for_tables", input: "[alert.channel]\ntype = \"ntfy\"\n", err: "test.toml:1: alert.channel: a table where a list of tables is wanted: write [[alert.channel]] above each one"},
		{name: "tables_for_table", input: "[[web]]\nport = 8443\n", err: "test.toml:1: web: a list of tables where a table is wanted: write [web], once"},
		{name: "text_for_list", input: "[lan]\n\ninterfaces = \"br-lan\"\n", err: "test.toml:3: lan.interfaces: text where a list is wanted (a list is written [\"a\", \"b\"])"},
		{name: "text_for_number", input: "[web]\nport = \"8443\"\n", err: "test.toml:2: web.port: text where a whole number is wanted (a number is written without quotes)"},
		{name: "decimal_for_whole_number", input: "[inspect]\nmax_flows = 1.5\n", err: "test.toml:2: inspect.max_flows: a decimal number where a whole number is wanted"},
		{name: "number_for_text", input: "[daemon]\nlog_level = 1\n", err: "test.toml:2: daemon.log_level: a whole number where text is wanted"},
		{name: "number_for_bool", input: "[web]\nhttps = 1\n", err: "test.toml:2: web.https: a whole number where true or false is wanted"},
		{name: "list_for_text", input: "[[alert.channel]]\ntype = [\"ntfy\"]\n", err: "test.toml:2: alert.channel.type: a list where text is wanted"},
		// The proxy's own words: how to write what a wildcard meant.
		{name: "wildcard_update_domain", input: "[dnsproxy]\nupdate_domains = [\"*.vendor.com\"]\n", err: `test.toml:2: dnsproxy.update_domains: "*.vendor.com": no wildcard; a domain covers the names below it`},
		{name: "space_in_update_domain", input: "[dnsproxy]\nupdate_domains = [\"vendor .com\"]\n", err: `test.toml:2: dnsproxy.update_domains: "vendor .com" is not a domain name`},
		// 4 GiB and 2 GiB of stream buffers in all, whose product a
		// 32-bit router (mips, armv7) would wrap to 0 and below.
		{name: "stream_memory_4GiB", input: "[inspect]\nstream_buffer = 1048576\nmax_buffers = 4096\n", err: "test.toml:3: inspect.max_buffers: 4096 buffers"},
		{name: "stream_memory_2GiB", input: "[inspect]\nstream_buffer = 1048576\nmax_buffers = 2048\n", err: "test.toml:3: inspect.max_buffers: 2048 buffers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.toml", []byte(tt.input))
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tt.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// A list whose entries must differ that names one twice is taken with
// it once and a warning, not refused: such a file ran before (the page's
// second listener failed, a second ring read every packet again), and a
// package upgrade must not leave the router without its daemon.
func TestRepeatsTakenOnce(t *testing.T) {
	for _, tc := range []struct {
		name, input  string
		lan, capture []string
		web          []string
		warnings     []string
	}{
		{name: "each_once", input: "[lan]\ninterfaces = [\"br-lan\", \"br-guest\"]\n[capture]\ninterfaces = [\"br-lan\", \"br-guest\"]\n[web]\naddresses = [\"192.168.1.1\", \"127.0.0.1\"]\n",
			lan: []string{"br-lan", "br-guest"}, capture: []string{"br-lan", "br-guest"}, web: []string{"192.168.1.1", "127.0.0.1"}},
		{name: "web_address_twice", input: "[web]\naddresses = [\"192.168.1.1\", \"127.0.0.1\", \"192.168.1.1\"]\n",
			lan: []string{"br-lan"}, capture: []string{"br-lan"}, web: []string{"192.168.1.1", "127.0.0.1"},
			warnings: []string{"test.toml:2: web.addresses: 192.168.1.1 is named twice: taken once"}},
		// br-lan is the default of both lists; an owner adding the guest
		// bridge may name br-lan again.
		{name: "capture_interface_twice", input: "[capture]\ninterfaces = [\"br-lan\", \"br-guest\", \"br-lan\", \"br-guest\"]\n",
			lan: []string{"br-lan"}, capture: []string{"br-lan", "br-guest"},
			warnings: []string{`test.toml:2: capture.interfaces: "br-lan" is named twice: taken once`, `test.toml:2: capture.interfaces: "br-guest" is named twice: taken once`}},
		{name: "lan_interface_thrice", input: "[lan]\n\ninterfaces = [\"br-lan\", \"br-guest\", \"br-lan\", \"br-lan\"]\n",
			lan: []string{"br-lan", "br-guest"}, capture: []string{"br-lan"},
			warnings: []string{`test.toml:3: lan.interfaces: "br-lan" is named twice: taken once`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("test.toml", []byte(tc.input))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			var web []string
			for _, a := range c.Web.Addresses {
				web = append(web, a.String())
			}
			if !slices.Equal(c.LAN.Interfaces, tc.lan) || !slices.Equal(c.Capture.Interfaces, tc.capture) || !slices.Equal(web, tc.web) {
				t.Errorf("lan.interfaces %q, capture.interfaces %q, web.addresses %q; want %q, %q, %q",
					c.LAN.Interfaces, c.Capture.Interfaces, web, tc.lan, tc.capture, tc.web)
			}
			if got := c.Warnings(); !slices.Equal(got, tc.warnings) {
				t.Errorf("warnings %q, want %q", got, tc.warnings)
			}
		})
	}
}

// A table key given another kind of value is left as the decoder leaves
// it, at its defaults, and warned of: files that did so ran with the
// defaults, and an upgrade must not turn them into files the daemon will
// not start with.
func TestNotATableWarned(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		actions     map[string]Action
		warnings    []string
	}{
		{"text_for_table", "[policy]\nmode = \"enforce\"\nactions = \"quarantine\"\n", Default().Policy.Actions,
			[]string{"test.toml:3: policy.actions: text where a table is wanted: ignored, the defaults apply"}},
		{"number_for_table", "[policy]\nthresholds = 3\n", Default().Policy.Actions,
			[]string{"test.toml:2: policy.thresholds: a whole number where a table is wanted: ignored, the defaults apply"}},
		{"inline_table", "[policy]\nactions = { weak_tls = \"quarantine\" }\n",
			map[string]Action{"default_credentials": ActionQuarantine, "outdated_firmware": ActionQuarantine, "weak_tls": ActionQuarantine}, nil},
		{"table", "[policy.actions]\nweak_tls = \"quarantine\"\n",
			map[string]Action{"default_credentials": ActionQuarantine, "outdated_firmware": ActionQuarantine, "weak_tls": ActionQuarantine}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("test.toml", []byte(tc.input))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !maps.Equal(c.Policy.Actions, tc.actions) {
				t.Errorf("actions %v, want %v", c.Policy.Actions, tc.actions)
			}
			if got := c.Warnings(); !slices.Equal(got, tc.warnings) {
				t.Errorf("warnings %q, want %q", got, tc.warnings)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load("/nonexistent/iotgw.toml", false); err != nil {
		t.Errorf("missing default file should give defaults, got %v", err)
	}
	if _, err := Load("/nonexistent/iotgw.toml", true); err == nil {
		t.Error("missing explicit file should be an error")
	}
}

// What check-config accepts, iotgw run must be able to start with: each
// of these used to pass validation and then stop the daemon at start.
func TestValidateCatchesWhatBreaksRun(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		key        string // "" when the file is valid
	}{
		{"dnsproxy_on_notice_port", "[dnsproxy]\nport = 8088\n", "dnsproxy.port"},
		// The daemon's working directory is not the owner's.
		{"secret_file_relative", "[inspect]\nsecret_file = \"rel.key\"\n", "inspect.secret_file"},
		{"socket_relative", "[daemon]\nsocket = \"iotgw.sock\"\n", "daemon.socket"},
		{"capture_file_relative", "[capture]\nmode = \"pcap\"\nfile = \"x.pcap\"\n", "capture.file"},
		{"feed_file_relative", "[advisory]\nfeed_file = \"feed.json\"\n", "advisory.feed_file"},
		{"dnsproxy_on_web_port", "[dnsproxy]\nport = 8443\n", "dnsproxy.port"},
		{"notice_on_dnsproxy_port", "[quarantine]\nnotice_port = 5354\n", "dnsproxy.port"},
		{"web_on_dnsproxy_port", "[web]\nport = 5354\n", "dnsproxy.port"},
		{"web_on_notice_port", "[web]\nport = 8088\n", "web.port"},
		// A listener that is off holds no port.
		{"dnsproxy_off_on_notice_port", "[dnsproxy]\nenabled = false\nport = 8088\n", ""},
		{"web_off_on_dnsproxy_port", "[web]\nenabled = false\nport = 5354\n", ""},
		{"web_off_on_notice_port", "[web]\nenabled = false\nport = 8088\n", ""},
		{"lan_interface_too_long", "[lan]\ninterfaces = [\"br-lan-guest-iot0\"]\n", "lan.interfaces"},
		{"lan_interface_15_bytes", "[lan]\ninterfaces = [\"br-lan-guest-io\"]\n", ""},
		{"lan_interface_empty", "[lan]\ninterfaces = [\"\"]\n", "lan.interfaces"},
		{"lan_interface_slash", "[lan]\ninterfaces = [\"br/lan\"]\n", "lan.interfaces"},
		{"lan_interface_space", "[lan]\ninterfaces = [\"br lan\"]\n", "lan.interfaces"},
		{"lan_interface_wildcard", "[lan]\ninterfaces = [\"br*lan\"]\n", "lan.interfaces"},
		{"ring_too_big", "[capture]\nring_blocks = 129\n", "capture.ring_blocks"},
		{"rings_too_big_in_all", "[capture]\nmode = \"afpacket\"\ninterfaces = [\"br-lan\", \"br-guest\", \"br-iot\"]\nring_blocks = 100\n", "capture.ring_blocks"},
		{"lan_interfaces_too_many", "[lan]\ninterfaces = [\"br0\",\"br1\",\"br2\",\"br3\",\"br4\",\"br5\",\"br6\",\"br7\",\"br8\",\"br9\",\"br10\",\"br11\",\"br12\",\"br13\",\"br14\",\"br15\",\"br16\",\"br17\",\"br18\",\"br19\",\"br20\",\"br21\",\"br22\",\"br23\",\"br24\",\"br25\",\"br26\",\"br27\",\"br28\",\"br29\",\"br30\",\"br31\",\"br32\"]\n", "lan.interfaces"},
		{"lan_interface_colon", "[lan]\ninterfaces = [\"br:lan\"]\n", "lan.interfaces"},
		{"lan_interface_dotdot", "[lan]\ninterfaces = [\"..\"]\n", "lan.interfaces"},
		{"lan_interface_vlan", "[lan]\ninterfaces = [\"br-lan.10\"]\n", ""},
		{"lan_second_interface_bad", "[lan]\ninterfaces = [\"br-lan\", \"\"]\n", "lan.interfaces"},
		// Every internet host would be a device, and no plaintext would
		// count as leaving the home.
		{"lan_prefix_v4_any", "[lan]\nprefixes = [\"192.168.1.0/24\", \"0.0.0.0/0\"]\n", "lan.prefixes"},
		{"lan_prefix_v4_half", "[lan]\nprefixes = [\"128.0.0.0/1\"]\n", "lan.prefixes"},
		{"lan_prefix_v4_slash_8", "[lan]\nprefixes = [\"10.0.0.0/8\", \"100.64.0.0/10\"]\n", ""},
		{"lan_prefix_v6_any", "[lan]\nprefixes = [\"::/0\"]\n", "lan.prefixes"},
		{"lan_prefix_v6_global", "[lan]\nprefixes = [\"2000::/3\"]\n", "lan.prefixes"},
		{"lan_prefix_v6_isp_allocation", "[lan]\nprefixes = [\"2001:db8::/32\", \"2001:db8:1::/48\"]\n", ""},
		{"lan_prefix_v6_ula_link_local", "[lan]\nprefixes = [\"fc00::/7\", \"fe80::/10\"]\n", ""},
		{"lease_file_relative", "[lan]\nlease_files = [\"dhcp.leases\"]\n", "lan.lease_files"},
		{"lease_files_none", "[lan]\nlease_files = []\n", ""},
		// The audit reads no port as its default list (TestEmptyPortListIsTheDefault).
		{"audit_ports_none", "[audit]\nports = []\n", ""},
		// The whole default list on five services fits.
		{"audit_max_attempts_whole_list", "[audit]\nmax_attempts = 640\n", ""},
		{"audit_max_attempts_too_many", "[audit]\nmax_attempts = 1001\n", "audit.max_attempts"},
		{"capture_interface_too_long", "[capture]\ninterfaces = [\"br-lan-guest-iot0\"]\n", "capture.interfaces"},
		{"capture_interface_unused_by_nflog", "[capture]\nmode = \"nflog\"\ninterfaces = []\n", ""},
		{"conntrack_mark_other_bits", "[capture]\nconntrack_mark = 0x30000000\n", ""},
		{"conntrack_mark_one_bit", "[capture]\nconntrack_mark = 0x8000\n", "capture.conntrack_mark"},
		{"conntrack_mark_three_bits", "[capture]\nconntrack_mark = 0x1c000\n", "capture.conntrack_mark"},
		{"conntrack_mark_zero", "[capture]\nconntrack_mark = 0\n", "capture.conntrack_mark"},
		{"conntrack_mark_past_32_bits", "[capture]\nconntrack_mark = 0x300000000\n", "capture.conntrack_mark"},
		{"conntrack_mark_negative", "[capture]\nconntrack_mark = -0x4000\n", "capture.conntrack_mark"},
		{"packet_mark_other_bit", "[capture]\npacket_mark = 0x1000000\n", ""},
		{"packet_mark_off", "[capture]\npacket_mark = 0\n", ""},
		{"packet_mark_two_bits", "[capture]\npacket_mark = 0x30000000\n", "capture.packet_mark"},
		{"packet_mark_past_32_bits", "[capture]\npacket_mark = 0x100000000\n", "capture.packet_mark"},
		{"packet_mark_negative", "[capture]\npacket_mark = -0x20000000\n", "capture.packet_mark"},
		{"owner_mark_other_bit", "[quarantine]\nconntrack_mark = 0x1\n", ""},
		{"owner_mark_two_bits", "[quarantine]\nconntrack_mark = 0x3\n", "quarantine.conntrack_mark"},
		{"owner_mark_zero", "[quarantine]\nconntrack_mark = 0\n", "quarantine.conntrack_mark"},
		{"owner_mark_past_32_bits", "[quarantine]\nconntrack_mark = 0x100000000\n", "quarantine.conntrack_mark"},
		{"owner_mark_negative", "[quarantine]\nconntrack_mark = -0x800000\n", "quarantine.conntrack_mark"},
		{"owner_mark_in_capture_mark", "[quarantine]\nconntrack_mark = 0x8000\n", "quarantine.conntrack_mark"},
		{"owner_mark_in_moved_capture_mark", "[capture]\nconntrack_mark = 0xc00000\n", "quarantine.conntrack_mark"},
		{"owner_mark_beside_moved_capture_mark", "[capture]\nconntrack_mark = 0xc00000\n[quarantine]\nconntrack_mark = 0x8000\n", ""},
		// A directory is not a state file: the store would move it aside.
		{"store_path_directory", "[store]\npath = \"/etc\"\n", "store.path"},
		{"store_path_trailing_slash", "[store]\npath = \"/etc/iotgw/\"\n", "store.path"},
		{"store_path_relative", "[store]\npath = \"state.json\"\n", "store.path"},
		{"store_max_bytes_8MiB", "[store]\nmax_bytes = 8388608\n", ""},
		// Allowed once: still loads; the store takes it as 8 MiB, and
		// check-config and run warn.
		{"store_max_bytes_16MiB", "[store]\nmax_bytes = 16777216\n", ""},
		{"store_max_bytes_32MiB", "[store]\nmax_bytes = 33554432\n", "store.max_bytes"},
		// Every interval can rewrite the whole state: flash wears.
		{"store_write_interval_1m", "[store]\nwrite_interval = \"1m\"\n", ""},
		{"store_write_interval_1s", "[store]\nwrite_interval = \"1s\"\n", "store.write_interval"},
		{"store_write_interval_59s", "[store]\nwrite_interval = \"59s\"\n", "store.write_interval"},
		{"store_write_interval_zero", "[store]\nwrite_interval = \"0s\"\n", "store.write_interval"},
		{"store_write_interval_negative", "[store]\nwrite_interval = \"-10m\"\n", "store.write_interval"},
		{"store_max_bytes_too_big", "[store]\nmax_bytes = 1099511627776\n", "store.max_bytes"},
		{"stream_memory_64MiB", "[inspect]\nstream_buffer = 65536\nmax_buffers = 1024\n", ""},
		{"stream_memory_too_big", "[inspect]\nstream_buffer = 1048576\nmax_buffers = 1024\n", "inspect.max_buffers"},
		// The DNS proxy refuses these names when it is built, at start or
		// on a reload, and quarantined devices would get no DNS.
		{"update_domain", "[dnsproxy]\nupdate_domains = [\"update.example-camera.com\"]\n", ""},
		{"update_domain_public_suffix", "[dnsproxy]\nupdate_domains = [\"co.uk\"]\n", "dnsproxy.update_domains"},
		{"update_domain_single_label", "[dnsproxy]\nupdate_domains = [\"firmware\"]\n", "dnsproxy.update_domains"},
		{"update_domain_empty_label", "[dnsproxy]\nupdate_domains = [\"update..example.com\"]\n", "dnsproxy.update_domains"},
		{"update_domain_unicode", "[dnsproxy]\nupdate_domains = [\"update.bücher.de\"]\n", "dnsproxy.update_domains"},
		{"update_domain_proxy_off", "[dnsproxy]\nenabled = false\nupdate_domains = [\"com\"]\n", ""},
		{"local_domain_root", "[dnsproxy]\nlocal_domains = [\".\"]\n", "dnsproxy.local_domains"},
		{"local_domain_empty", "[dnsproxy]\nlocal_domains = [\"\"]\n", "dnsproxy.local_domains"},
		{"local_domain_empty_label", "[dnsproxy]\nlocal_domains = [\"home..arpa\"]\n", "dnsproxy.local_domains"},
		{"local_domain_space", "[dnsproxy]\nlocal_domains = [\"my lan\"]\n", "dnsproxy.local_domains"},
		{"local_domains", "[dnsproxy]\nlocal_domains = [\"lan\", \"home.arpa\", \"fritz.box\", \"internal\", \"168.192.in-addr.arpa\"]\n", ""},
		// Forwarded for quarantined devices too: every .com name would
		// resolve for them.
		{"local_domain_tld", "[dnsproxy]\nlocal_domains = [\"com\"]\n", "dnsproxy.local_domains"},
		{"local_domain_public_suffix", "[dnsproxy]\nlocal_domains = [\"lan\", \"ts.net\"]\n", "dnsproxy.local_domains"},
		// Nothing answers on port 0: every query forwarded would fail.
		{"upstream_port_0", "[dnsproxy]\nupstream = \"127.0.0.1:0\"\n", "dnsproxy.upstream"},
		{"upstream_other_port", "[dnsproxy]\nupstream = \"[::1]:5353\"\n", ""},
		// The daemon parses each key at start and stops on one it cannot.
		{"trusted_key_base64", "[advisory]\ntrusted_keys = [\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"]\n", ""},
		{"trusted_key_not_a_key", "[advisory]\ntrusted_keys = [\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\", \"ssh-ed25519 AAAA\"]\n", "advisory.trusted_keys"},
		{"trusted_key_rsa_pem", "[advisory]\ntrusted_keys = [\"\"\"\n-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n\"\"\"]\n", "advisory.trusted_keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.toml))
			switch {
			case tc.key == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.key != "" && (err == nil || !strings.Contains(err.Error(), tc.key)):
				t.Errorf("accepted (err %v); iotgw run fails at start", err)
			}
		})
	}
}

// An alert channel's error points at its own [[alert.channel]] table:
// the owner may have several of one type.
func TestAlertChannelErrorLine(t *testing.T) {
	const good = "[[alert.channel]]\nname = \"phone\"\ntype = \"ntfy\"\ntopic = \"iotgw-7f3a9c2e51d4\"\n\n"
	for _, tc := range []struct {
		name, toml string
		line       int
	}{
		{"second_channel", good + "[[alert.channel]]\nname = \"laptop\"\ntype = \"ntfy\"\n", 6},
		{"first_channel", "[alert]\ntimezone = \"UTC\"\n\n[[alert.channel]]\ntype = \"carrier-pigeon\"\n", 4},
		{"name_twice", good + good, 6},
		{"section", "[alert]\nbase_url = \"ftp://router.lan\"\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.toml))
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("Parse: %v, want one error", err)
			}
			if errs[0].Line != tc.line || errs[0].Key != "alert" {
				t.Errorf("%v: at line %d, key %q; want line %d, key alert", errs[0], errs[0].Line, errs[0].Key, tc.line)
			}
		})
	}
}

// An alert channel's error names its key once.
func TestAlertErrorPrefixedOnce(t *testing.T) {
	_, err := Parse("test.toml", []byte("[[alert.channel]]\ntype = \"carrier-pigeon\"\n"))
	if err == nil || !strings.Contains(err.Error(), "alert: ") || strings.Contains(err.Error(), "alert: alert:") {
		t.Errorf("got %v, want one alert: prefix", err)
	}
}

// A syntax error is reported by file, line, column and key, never with
// the text at fault: an unquoted password is exactly such text, and the
// error goes to stderr and the log.
func TestSyntaxErrorHidesTheValue(t *testing.T) {
	const secret = "CorrectHorseBatteryStaple"
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"unquoted_password", "[[alert.channel]]\ntype = \"email\"\npassword = " + secret + "\n",
			`test.toml:3:12: alert.channel.password: syntax error: expected value but found … instead (text values need quotes`},
		{"unquoted_in_array", "[web]\nhostnames = [" + secret + "]\n", "test.toml:2:14: web.hostnames: syntax error"},
		{"text_after_string", "[[alert.channel]]\ntoken = \"tk_\"" + secret + "\n", "test.toml:2:14: alert.channel: syntax error"},
		{"bad_escape", "[[alert.channel]]\nsecret = \"" + secret + "\\q\"\n", "alert.channel.secret: syntax error: invalid escape"},
		{"bad_number", "[[alert.channel]]\nsecret = 0xZ" + secret + "\n", "alert.channel.secret: syntax error: not a hexadecimal number"},
		{"bad_datetime", "[[alert.channel]]\nsecret = 2024-13-45T" + secret + "\n", "alert.channel.secret: syntax error: invalid datetime"},
		{"grammar_kept", "[inspect]\nmax " + secret + " = 1\n", "expected '.' or '=', but got … instead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.toml))
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:5]) {
				t.Errorf("error shows the value: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one containing %q", err, tc.want)
			}
		})
	}
}

// A number the parser echoes without quotes is hidden too; the name of a
// table or key defined twice is shown, since it is a name.
func TestSyntaxErrorNumbersAndNames(t *testing.T) {
	for _, tc := range []struct{ name, toml, want, hidden string }{
		{"int_out_of_range", "[[alert.channel]]\ntype = \"email\"\npassword = 98765432109876543210\n", "is out of range for int64", "98765432109876543210"},
		{"float_out_of_range", "[[alert.channel]]\ntype = \"email\"\npassword = 1e999\n", "syntax error", "1e999"},
		{"table_twice", "[web]\nport = 8080\n[web]\nenabled = true\n", "'web' has already been defined", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(tc.toml))
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.hidden != "" && strings.Contains(err.Error(), tc.hidden) {
				t.Errorf("error shows the value: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one containing %q", err, tc.want)
			}
		})
	}
}

// Values that parsed but do not fit keep their message (they are not
// secrets), now with the key.
func TestValueErrorKeepsItsMessage(t *testing.T) {
	_, err := Parse("test.toml", []byte("[inspect]\n\ntcp_idle = \"ten minutes\"\n"))
	if err == nil || !strings.Contains(err.Error(), `test.toml:3:13: inspect.tcp_idle: invalid duration "ten minutes"`) {
		t.Errorf("error %v", err)
	}
}

// A feed URL may carry credentials; its error does not quote it.
func TestFeedURLErrorHidesTheURL(t *testing.T) {
	_, err := Parse("test.toml", []byte("[advisory]\nfeed_url = \"ftp://feed:CorrectHorse@example.com/feed\"\n"))
	if err == nil || !strings.Contains(err.Error(), "advisory.feed_url") || strings.Contains(err.Error(), "CorrectHorse") {
		t.Errorf("error %v", err)
	}
}

// TestDefaultNFLOGSnaplenKeepsReassembledDatagrams: in nflog mode the
// kernel logs a fragmented datagram put together, cut to nflog_snaplen;
// the default keeps whole every datagram the decoder would reassemble
// from fragments on afpacket, with the largest IPv4 header (60 bytes),
// and the example file says the same.
func TestDefaultNFLOGSnaplenKeepsReassembledDatagrams(t *testing.T) {
	const maxIPv4Header = 60
	if got, want := Default().Capture.NFLOGSnaplen, inspect.DefragMaxBytes+maxIPv4Header; got < want {
		t.Errorf("default nflog_snaplen %d cuts datagrams the decoder reassembles: want at least %d", got, want)
	}
	data, err := os.ReadFile("../../iotgw.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("iotgw.example.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Capture.NFLOGSnaplen != Default().Capture.NFLOGSnaplen {
		t.Errorf("example nflog_snaplen %d, default %d", cfg.Capture.NFLOGSnaplen, Default().Capture.NFLOGSnaplen)
	}
}

// A table header may carry a comment, as owners annotate their files: the
// keys below it are still found on their lines.
func TestErrorLineBelowCommentedHeader(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"table", "[store] # on flash\nwrite_interval = \"5s\"\n", "test.toml:2: store.write_interval"},
		{"table_comment_with_bracket", "[store]   # see [docs]\n\nwrite_interval = \"5s\"\n", "test.toml:3: store.write_interval"},
		{"quoted_name", "[\"store\"] # ]\nmax_bytes = 1\n", "test.toml:2: store.max_bytes"},
		{"unknown_key", "[inspect] # bounds\nmax_flow = 5\n", "test.toml:2: inspect.max_flow: unknown key"},
		{"unknown_table", "\n[inspekt] # typo\n", "test.toml:2: inspekt: unknown key"},
		{"array", "[[policy.device]] # camera\nmac = \"02:00:00:00:00:01\"\n[[policy.device]] # the same\nmac = \"02:00:00:00:00:01\"\n", "test.toml:4: policy.device[1].mac"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A file saved with a byte order mark (as some Windows editors do), which
// TOML allows, still has its errors on their lines, the first table's too.
func TestErrorLineAfterByteOrderMark(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"table", "\ufeff[store]\r\nwrite_interval = \"5s\"\r\n", "test.toml:2: store.write_interval"},
		{"dotted_key", "\ufeffstore.max_bytes = 1\n", "test.toml:1: store.max_bytes"},
		{"unknown_key", "\ufeff[inspect]\nmax_flow = 5\n", "test.toml:2: inspect.max_flow: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
