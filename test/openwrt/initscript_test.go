package openwrt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// The init script against the procd stand-in: each case installs the
// package's files in a fresh busybox root, may change a file, runs the
// actions and compares what the script asked procd for.
func TestInitScript(t *testing.T) {
	requireRoot(t, "chroot")
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))

	instance := []string{
		"open_instance",
		"set_param command /usr/bin/iotgw run --config /etc/iotgw/iotgw.toml",
		"set_param respawn 3600 5 5",
		"set_param stdout 1",
		"set_param stderr 1",
		"set_param capabilities /etc/capabilities/iotgw.json",
		"set_param no_new_privs 1",
		"set_param term_timeout 10",
		"close_instance",
	}
	triggers := []string{
		"reload_trigger iotgw",
		"interface_trigger interface.* lan /etc/init.d/iotgw lan_changed",
	}
	// running stands in a process for a daemon procd runs: the stand-in
	// asks whether the pid in /var/run/iotgw.pid is alive.
	running := func(t *testing.T, root string) {
		sleeper := exec.Command("sleep", "60")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
		writeRootFile(t, root, "var/run/iotgw.pid", strconv.Itoa(sleeper.Process.Pid), 0o644)
	}
	badConfig := func(t *testing.T, root string) {
		writeRootFile(t, root, "etc/iotgw/iotgw.toml", "[policy]\nmode = \"enforse\"\n", 0o600)
	}
	// stubbed stands a recorder in for the daemon's binary.
	stubbed := func(t *testing.T, root string) {
		writeRootFile(t, root, "usr/bin/iotgw", "#!/bin/sh\necho \"$*\" >>/tmp/iotgw.calls\n", 0o755)
	}
	// withFW4 stands a recorder in for firewall4's fw4 command; its
	// check exits with status checkStatus.
	withFW4 := func(checkStatus int) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			writeRootFile(t, root, "sbin/fw4", fmt.Sprintf("#!/bin/sh\necho \"$*\" >>/tmp/fw4.calls\n[ \"$2\" != check ] || exit %d\n", checkStatus), 0o755)
		}
	}
	const fw4Rules = "var/etc/iotgw/fw4/input.nft"
	// fw4Did checks the fw4 commands the script ran and the rules it
	// left for fw4's include (none without ports): those `iotgw
	// fw4-include` prints for the DNS proxy's and notice page's ports.
	fw4Did := func(calls []string, ports ...int) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			got, _ := os.ReadFile(filepath.Join(root, "tmp/fw4.calls"))
			if strings.Join(calls, "\n") != strings.TrimSpace(string(got)) {
				t.Errorf("fw4 calls %q, want %q", got, calls)
			}
			rules, err := os.ReadFile(filepath.Join(root, fw4Rules))
			if len(ports) == 0 {
				if !os.IsNotExist(err) {
					t.Errorf("%s left: %q (%v)", fw4Rules, rules, err)
				}
				return
			}
			want := quarantine.FW4Input(quarantine.Config{DNSProxyPort: uint16(ports[0]), NoticePort: uint16(ports[1])})
			if !strings.HasSuffix(string(rules), "\n"+want) {
				t.Errorf("%s:\n%s\nwant the rules:\n%s", fw4Rules, rules, want)
			}
			if left, _ := filepath.Glob(filepath.Join(root, "var/etc/iotgw/fw4/*")); len(left) != 1 {
				t.Errorf("files beside the rules: %q", left)
			}
		}
	}
	// steps are actions of the test's own between the script's.
	steps := map[string]func(t *testing.T, root, ns string){
		"otherPorts": func(t *testing.T, root, _ string) {
			writeRootFile(t, root, "etc/iotgw/iotgw.toml", "[dnsproxy]\nport = 5399\n[quarantine]\nnotice_port = 8099\n", 0o600)
		},
		// fw4 loaded (reloaded) with or without the include's rules for
		// the default ports, as `iotgw fw4-include --check` reads it.
		"fw4WithoutRules": func(t *testing.T, _, ns string) { nft(t, ns, fw4InputTable("")) },
		"fw4WithRules": func(t *testing.T, _, ns string) {
			nft(t, ns, fw4InputTable(quarantine.FW4Input(quarantine.Config{DNSProxyPort: 5354, NoticePort: 8088})))
		},
	}
	const ownKey = "the owner's own key, kept\n"
	keyIs := func(want string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			if got, err := os.ReadFile(filepath.Join(root, "etc/iotgw/secret")); string(got) != want {
				t.Errorf("key %q (%v), want %q", got, err, want)
			}
		}
	}
	// lanIs writes what the netifd stand-in says of lan.
	lanIs := func(status ...string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			writeRootFile(t, root, "tmp/netifd.lan", strings.Join(status, "\n")+"\n", 0o644)
		}
	}
	lines := func(parts ...[]string) []string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}

	started := lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"})

	tests := []struct {
		name    string
		setup   func(t *testing.T, root string)
		actions [][]string
		want    []string // the procd log
		wantErr bool     // the last action fails
		output  string   // in the last action's output
		check   func(t *testing.T, root string)
	}{
		{
			name:    "start",
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
		},
		{
			// Without fw4 (not OpenWrt's firewall4): no rules to write.
			name:    "start_without_fw4",
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			check:   fw4Did(nil),
		},
		{
			// The rules for fw4's include are written, checked, and fw4
			// reloaded to read them; a start with the same rules
			// leaves fw4 alone.
			name:    "start_writes_fw4_rules_and_reloads_fw4",
			setup:   withFW4(0),
			actions: [][]string{{"start"}, {"restart"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw", "action restart", "stop iotgw", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			check:   fw4Did([]string{"-q check", "-q reload"}, 5354, 8088),
		},
		{
			// The package removed and installed again within one boot: a
			// fw4 reload in between dropped the rules, the file is as it
			// was. The chain lacks them, so fw4 is reloaded.
			name:    "restart_reloads_fw4_that_lacks_the_rules",
			setup:   withFW4(0),
			actions: [][]string{{"start"}, {"fw4WithoutRules"}, {"restart"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw", "action restart", "stop iotgw", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			check:   fw4Did([]string{"-q check", "-q reload", "-q reload"}, 5354, 8088),
		},
		{
			name:    "restart_leaves_fw4_that_has_the_rules",
			setup:   withFW4(0),
			actions: [][]string{{"start"}, {"fw4WithRules"}, {"restart"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw", "action restart", "stop iotgw", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			check:   fw4Did([]string{"-q check", "-q reload"}, 5354, 8088),
		},
		{
			// Other ports after a restart: other rules, fw4 reloaded.
			name:    "restart_with_other_ports_reloads_fw4",
			setup:   withFW4(0),
			actions: [][]string{{"start"}, {"otherPorts"}, {"restart"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw", "action restart", "stop iotgw", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			check:   fw4Did([]string{"-q check", "-q reload", "-q check", "-q reload"}, 5399, 8099),
		},
		{
			// Rules fw4's check refuses would fail its every reload: they
			// are taken away, the owner told, the daemon started.
			name:    "start_removes_fw4_rules_fw4_refuses",
			setup:   withFW4(1),
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			output:  "fw4 refused its rules for the redirects",
			check:   fw4Did([]string{"-q check"}),
		},
		{
			// A file that is not valid: the running daemon keeps its
			// ports, and fw4 its rules.
			name:    "start_with_a_bad_config_writes_no_fw4_rules",
			setup:   func(t *testing.T, root string) { withFW4(0)(t, root); running(t, root); badConfig(t, root) },
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			output:  "the running daemon keeps its settings",
			check:   fw4Did(nil),
		},
		{
			name: "start_disabled_in_uci",
			setup: func(t *testing.T, root string) {
				writeRootFile(t, root, "etc/config/iotgw", "config iotgw 'main'\n\toption enabled '0'\n", 0o600)
			},
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, triggers, []string{"end iotgw"}),
		},
		{
			name:  "start_refuses_a_bad_config",
			setup: badConfig,
			// procd registers the service (with its triggers) but no
			// instance, as OpenWrt's rc.common does when start_service fails.
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, triggers, []string{"end iotgw"}),
			output:  "is not valid, not starting",
		},
		{
			// The same instance again: procd keeps the daemon running
			// with its old settings, where no instance would stop it.
			name:    "start_with_a_bad_config_keeps_a_running_daemon",
			setup:   func(t *testing.T, root string) { running(t, root); badConfig(t, root) },
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			output:  "the running daemon keeps its settings",
		},
		{
			// No key yet: the daemon makes it when it starts, not the
			// script (it waits for the kernel's random generator to be
			// seeded); check-config passes it.
			name:    "start_without_a_key",
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			check: func(t *testing.T, root string) {
				if _, err := os.Stat(filepath.Join(root, "etc/iotgw/secret")); !os.IsNotExist(err) {
					t.Errorf("the script made the key (%v)", err)
				}
			},
		},
		{
			name:    "start_keeps_the_key",
			setup:   func(t *testing.T, root string) { writeRootFile(t, root, "etc/iotgw/secret", ownKey, 0o600) },
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
			check:   keyIs(ownKey),
		},
		{
			// `run` would exit at once for want of a key, and procd
			// respawn it until it gave up. The owner's key stays.
			name:    "start_refuses_a_short_key",
			setup:   func(t *testing.T, root string) { writeRootFile(t, root, "etc/iotgw/secret", "0123456789\n", 0o600) },
			actions: [][]string{{"start"}},
			want:    lines([]string{"action start", "begin iotgw"}, triggers, []string{"end iotgw"}),
			output:  "want at least 16 bytes",
			check:   keyIs("0123456789\n"),
		},
		{
			// netifd's update for lan with a new IPv4 address: the web
			// page listens on the old one, restart.
			name:    "lan_change_restarts_for_a_new_address",
			setup:   lanIs("device br-lan", "ipaddrs 192.168.1.1", "ipaddrs6 fd00::1 2001:db8:1::1"),
			actions: [][]string{{"start"}, {"netifd", "device br-lan", "ipaddrs 192.168.2.1", "ipaddrs6 fd00::1 2001:db8:1::1"}, {"lan_changed"}},
			want:    lines(started, []string{"action lan_changed", "stop iotgw", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
		},
		{
			// An update that changed nothing the daemon took at start
			// (netifd sends them for many reasons) keeps its flows.
			name:    "lan_update_with_the_same_addresses_keeps_the_daemon",
			setup:   lanIs("device br-lan", "ipaddrs 192.168.1.1", "ipaddrs6 fd00::1 2001:db8:1::1"),
			actions: [][]string{{"start"}, {"lan_changed"}},
			want:    lines(started, []string{"action lan_changed"}),
		},
		{
			// A new delegated prefix: the page listens on the IPv4 and
			// ULA addresses, and the DNS proxy follows by itself.
			name:    "lan_new_ipv6_prefix_keeps_the_daemon",
			setup:   lanIs("device br-lan", "ipaddrs 192.168.1.1", "ipaddrs6 fd00::1 2001:db8:1::1"),
			actions: [][]string{{"start"}, {"netifd", "device br-lan", "ipaddrs 192.168.1.1", "ipaddrs6 2001:db8:2::1 fd00::1"}, {"lan_changed"}},
			want:    lines(started, []string{"action lan_changed"}),
		},
		{
			// Only global IPv6 addresses: the page listens on those.
			name:    "lan_new_ipv6_prefix_restarts_without_ipv4",
			setup:   lanIs("device br-lan", "ipaddrs6 2001:db8:1::1"),
			actions: [][]string{{"start"}, {"netifd", "device br-lan", "ipaddrs6 2001:db8:2::1"}, {"lan_changed"}},
			want:    lines(started, []string{"action lan_changed", "stop iotgw", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
		},
		{
			// lan down: nothing to listen on; the daemon's sockets stay
			// for the address to come back, and the same one does not
			// restart it.
			name:    "lan_down_and_up_keeps_the_daemon",
			setup:   lanIs("device br-lan", "ipaddrs 192.168.1.1"),
			actions: [][]string{{"start"}, {"netifd"}, {"lan_changed"}, {"netifd", "device br-lan", "ipaddrs 192.168.1.1"}, {"lan_changed"}},
			want:    lines(started, []string{"action lan_changed", "action lan_changed"}),
		},
		{
			// A restart would refuse the file and leave no daemon.
			name: "lan_change_with_a_bad_config_keeps_the_daemon",
			setup: func(t *testing.T, root string) {
				lanIs("ipaddrs 192.168.1.1")(t, root)
				running(t, root)
				badConfig(t, root)
			},
			actions: [][]string{{"lan_changed"}},
			want:    []string{"action lan_changed"},
			output:  "not restarted for the change of the LAN interface",
		},
		{
			// Stopping the daemon for a file that is not valid would
			// leave none: the running daemon keeps its settings, as
			// with start.
			name:    "restart_with_a_bad_config_keeps_the_daemon",
			setup:   func(t *testing.T, root string) { running(t, root); badConfig(t, root) },
			actions: [][]string{{"restart"}},
			want:    []string{"action restart"},
			wantErr: true,
			output:  "not restarted: the running daemon keeps its settings",
		},
		{
			// Disabled in uci, the owner's restart stops the daemon, bad
			// file or not: there are no settings left for it to keep.
			name: "restart_disabled_in_uci_with_a_bad_config_stops_the_daemon",
			setup: func(t *testing.T, root string) {
				running(t, root)
				badConfig(t, root)
				writeRootFile(t, root, "etc/config/iotgw", "config iotgw 'main'\n\toption enabled '0'\n", 0o600)
			},
			actions: [][]string{{"restart"}},
			want:    lines([]string{"action restart", "stop iotgw", "begin iotgw"}, triggers, []string{"end iotgw"}),
		},
		{
			// With none running there is nothing to keep: stop and start,
			// which refuses the file.
			name:    "restart_with_a_bad_config_and_no_daemon",
			setup:   badConfig,
			actions: [][]string{{"restart"}},
			want:    lines([]string{"action restart", "stop iotgw", "begin iotgw"}, triggers, []string{"end iotgw"}),
			output:  "is not valid, not starting",
		},
		{
			// A LAN that is a plain port, not the br-lan the default
			// configuration names: said at start, which goes on.
			name:    "start_warns_of_an_unnamed_lan_device",
			setup:   lanIs("device eth1", "ipaddrs 192.168.1.1"),
			actions: [][]string{{"start"}},
			want:    lines(started),
			output:  `capture.interfaces ["br-lan"] does not name eth1`,
		},
		{
			// SIGHUP: the daemon re-reads the TOML, quarantines stay.
			name:    "reload_sends_sighup_when_running",
			setup:   running,
			actions: [][]string{{"reload"}},
			want:    []string{"action reload", "send_signal iotgw * 1"},
		},
		{
			// Refused at start for a bad file, fixed since (or procd gave
			// up after crashes): reload starts it.
			name:    "reload_starts_when_not_running",
			actions: [][]string{{"reload"}},
			want:    lines([]string{"action reload", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
		},
		{
			// No instance: procd stops the daemon. The triggers stay, so
			// enabling it again in uci and reload_config start it.
			name: "reload_when_disabled_in_uci_keeps_the_triggers",
			setup: func(t *testing.T, root string) {
				running(t, root)
				writeRootFile(t, root, "etc/config/iotgw", "config iotgw 'main'\n\toption enabled '0'\n", 0o600)
			},
			actions: [][]string{{"reload"}},
			want:    lines([]string{"action reload", "begin iotgw"}, triggers, []string{"end iotgw"}),
		},
		{
			// Stop leaves the rules in place: nothing but procd's stop,
			// the daemon's binary (uninstall-rules) never called.
			name:    "stop_keeps_rules",
			setup:   stubbed,
			actions: [][]string{{"stop"}},
			want:    []string{"action stop", "stop iotgw"},
			check: func(t *testing.T, root string) {
				if calls, err := os.ReadFile(filepath.Join(root, "tmp/iotgw.calls")); !os.IsNotExist(err) {
					t.Errorf("stop ran the daemon's binary: %q (%v)", calls, err)
				}
			},
		},
		{
			name:    "restart",
			actions: [][]string{{"restart"}},
			want:    lines([]string{"action restart", "stop iotgw", "begin iotgw"}, instance, triggers, []string{"end iotgw"}),
		},
		{
			name:    "enable_links_start_95_stop_10",
			actions: [][]string{{"enable"}},
			want:    []string{"action enable"},
			check: func(t *testing.T, root string) {
				for _, link := range []string{"etc/rc.d/S95iotgw", "etc/rc.d/K10iotgw"} {
					if target, err := os.Readlink(filepath.Join(root, link)); err != nil || target != "../init.d/iotgw" {
						t.Errorf("%s -> %q (%v), want ../init.d/iotgw", link, target, err)
					}
				}
			},
		},
		{
			// Without a daemon, status asks its socket and says why not.
			name:    "status_asks_the_daemon",
			actions: [][]string{{"status"}},
			want:    []string{"action status"},
			wantErr: true,
			output:  "iotgw status:",
		},
		{
			name:    "devices_extra_command",
			actions: [][]string{{"devices"}},
			want:    []string{"action devices"},
			wantErr: true,
			output:  "iotgw devices:",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			unpackData(t, p, root)
			// A namespace of its own: `iotgw fw4-include --check` reads
			// its ruleset, not the host's.
			ns := netnstest.New(t, "iotgwinit", "rtr")
			if tc.setup != nil {
				tc.setup(t, root)
			}
			var out string
			var err error
			for _, a := range tc.actions {
				if a[0] == "netifd" {
					lanIs(a[1:]...)(t, root)
					continue
				}
				if step, ok := steps[a[0]]; ok {
					step(t, root, ns)
					continue
				}
				out, err = inRoot(root, ns, append([]string{"/etc/init.d/iotgw"}, a...)...)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("last action: err %v, want error %v\n%s", err, tc.wantErr, out)
			}
			if !strings.Contains(out, tc.output) {
				t.Errorf("output %q lacks %q", out, tc.output)
			}
			log, rerr := os.ReadFile(filepath.Join(root, "tmp/procd.log"))
			if rerr != nil {
				t.Fatal(rerr)
			}
			if got, want := strings.TrimSpace(string(log)), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("procd calls:\n%s\nwant:\n%s", got, want)
			}
			if tc.check != nil {
				tc.check(t, root)
			}
		})
	}
}

// An image's build enables the service with the image's rc.common and
// IPKG_INSTROOT set (OpenWrt's default_postinst), and rc.common reads the
// init script for that verb too: whatever the script sources at its top
// level is then looked for on the build host, where the package is not
// installed, and a failed "." ends a POSIX shell. The chroot is the build
// host here, the package is installed under /img only.
func TestInitScriptEnableInImage(t *testing.T) {
	requireRoot(t, "chroot")
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))
	host := newRoot(t)
	img := filepath.Join(host, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	unpackData(t, p, img)
	standin := filepath.Join(testenv.RepoRoot(t), "test/openwrt/testdata/standin")
	for _, f := range []struct{ src, dst string }{
		{"rc.common", "etc/rc.common"},
		{"functions.sh", "lib/functions.sh"},
		{"procd.sh", "lib/functions/procd.sh"},
	} {
		copyFile(t, filepath.Join(standin, f.src), filepath.Join(img, f.dst), 0o755)
	}
	if _, err := os.Stat(filepath.Join(host, "usr/share/iotgw")); !os.IsNotExist(err) {
		t.Fatalf("the build host has /usr/share/iotgw (%v)", err)
	}
	out, err := inRoot(host, "", "env", "IPKG_INSTROOT=/img", "/bin/sh", "/img/etc/rc.common", "/img/etc/init.d/iotgw", "enable")
	if err != nil {
		t.Errorf("enable with IPKG_INSTROOT: %v\n%s", err, out)
	}
	for _, link := range []string{"S95iotgw", "K10iotgw"} {
		if target, err := os.Readlink(filepath.Join(img, "etc/rc.d", link)); err != nil || target != "../init.d/iotgw" {
			t.Errorf("image's /etc/rc.d/%s -> %q (%v), want ../init.d/iotgw", link, target, err)
		}
	}
	if links, _ := filepath.Glob(filepath.Join(host, "etc/rc.d/*")); len(links) != 0 {
		t.Errorf("links made on the build host: %q", links)
	}
}

// fw4InputTable is fw4's table as a reload leaves it, trimmed to an
// input chain with rules in it.
func fw4InputTable(rules string) string {
	return "table inet fw4\nflush table inet fw4\ntable inet fw4 {\n\tchain input {\n" +
		"\t\ttype filter hook input priority filter; policy accept;\n" +
		"\t\tiifname \"lo\" accept\n" + rules + "\t\tct state established,related accept\n\t}\n}\n"
}

func writeRootFile(t *testing.T, root, rel, data string, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}
