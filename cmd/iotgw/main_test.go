package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const demo = "../../testdata/demo.pcap"

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no_args", nil, exitUsage, "", "usage: iotgw"},
		{"help", []string{"help"}, exitOK, "", "commands:"},
		{"unknown", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, exitOK, "iotgw dev (commit unknown, go", ""},
		{"analyze_no_files", []string{"analyze"}, exitUsage, "", "no capture file given"},
		{"analyze_bad_flag", []string{"analyze", "--nope", demo}, exitUsage, "", "flag provided but not defined"},
		{"analyze_bad_fail_on", []string{"analyze", "--config", "/dev/null", "--fail-on", "severe", demo}, exitUsage, "", "unknown severity"},
		{"analyze_missing_config", []string{"analyze", "--config", "/nonexistent.toml", demo}, exitUsage, "", "nonexistent.toml"},
		{"analyze_missing_file", []string{"analyze", "--config", "/dev/null", "/nonexistent.pcap"}, exitUsage, "iotgw analyze: 1 file(s)", "/nonexistent.pcap"},
		{"analyze_demo", []string{"analyze", "--config", "/dev/null", demo}, exitOK, "would QUARANTINE", ""},
		{"analyze_fail_on_high", []string{"analyze", "--config", "/dev/null", "--fail-on", "high", demo}, exitFindings, "Factory-default password", ""},
		{"analyze_fail_on_critical", []string{"analyze", "--config", "/dev/null", "--fail-on", "critical", demo}, exitFindings, "Outdated software", ""},
		{"analyze_fail_on_none", []string{"analyze", "--config", "/dev/null", "--fail-on", "none", demo}, exitOK, "", ""},
		{"analyze_fail_on_none_upper_case", []string{"analyze", "--config", "/dev/null", "--fail-on", "NONE", demo}, exitOK, "", ""},
		{"analyze_flags_after_the_file", []string{"analyze", demo, "--config", "/dev/null", "--fail-on", "high"}, exitFindings, "Factory-default password", ""},
		{"analyze_findings_only_without_json", []string{"analyze", "--config", "/dev/null", "--findings-only", demo}, exitUsage, "", "add --json or --events"},
		{"analyze_dashes_end_flags", []string{"analyze", "--config", "/dev/null", "--", "--json"}, exitUsage, "", "--json"},
		{"check_config_ok", []string{"check-config", "--config", "../../iotgw.example.toml"}, exitOK, "iotgw.example.toml: ok", ""},
		// A word left over is refused, not ignored: the path of a
		// configuration without --config must not act on the default one.
		// (--config names no file, so that a command that ignored the word
		// would stop at loading it rather than act on this machine.)
		{"uninstall_rules_stray_argument", []string{"uninstall-rules", "--config", "/nonexistent.toml", "/tmp/custom.toml"}, exitUsage, "", `iotgw uninstall-rules: unexpected argument "/tmp/custom.toml"`},
		{"setup_code_reset_without_dashes", []string{"setup-code", "--config", "/nonexistent.toml", "reset"}, exitUsage, "", `unexpected argument "reset"`},
		{"status_stray_argument", []string{"status", "--config", "/nonexistent.toml", "now"}, exitUsage, "", `unexpected argument "now"`},
		{"devices_stray_argument", []string{"devices", "--config", "/nonexistent.toml", "all"}, exitUsage, "", `unexpected argument "all"`},
		{"run_stray_argument", []string{"run", "--config", "/nonexistent.toml", "/etc/iotgw/iotgw.toml"}, exitUsage, "", `unexpected argument "/etc/iotgw/iotgw.toml"`},
		{"version_stray_argument", []string{"version", "x"}, exitUsage, "", `unexpected argument "x"`},
		{"check_config_stray_argument", []string{"check-config", "x.toml"}, exitUsage, "", `iotgw check-config: unexpected argument "x.toml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, trim(stdout), trim(stderr), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// TestCheckedState: a default configuration that is missing is said to
// be missing, not checked.
func TestCheckedState(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "iotgw.toml")
	if err := os.WriteFile(present, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		present:                         "ok",
		filepath.Join(dir, "none.toml"): "not found; the defaults apply, and they are ok",
	} {
		if got := checkedState(path); got != want {
			t.Errorf("checkedState(%s) = %q, want %q", path, got, want)
		}
	}
}

// TestWriteErrorsFail: a command whose output cannot be written (a full
// disk, /dev/full) does not exit 0.
func TestWriteErrorsFail(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for _, args := range [][]string{{"version"}, {"check-config", "--config", "../../iotgw.example.toml"}} {
		var errb bytes.Buffer
		if code := dispatch(context.Background(), args, full, &errb); code == exitOK {
			t.Errorf("%v to /dev/full: exit 0, stderr %q", args, errb.String())
		}
	}
}

func TestCheckConfigReportsLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(path, []byte("[inspect]\nmax_flows = 100\nmax_flowz = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "check-config", "--config", path)
	if code != exitUsage || !strings.Contains(stderr, "bad.toml:3: inspect.max_flowz: unknown key") {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
}

// check-config refuses a key file that `run` would refuse (the pipeline's
// rule): the init script starts the daemon only when the check passes.
// A key `run` would make is no error.
func TestCheckConfigSecretFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		noFile bool
		path   string // instead of a file the test writes
		secret string
		code   int
		stderr string
	}{
		// `run` makes a missing or empty key (pipeline.EnsureKey).
		{name: "missing", noFile: true, code: exitOK},
		{name: "empty", code: exitOK},
		{name: "15_bytes", secret: "0123456789abcde\n", code: exitUsage, stderr: "want at least 16 bytes"},
		{name: "16_bytes", secret: "0123456789abcdef", code: exitOK},
		{name: "64_hex_digits", secret: strings.Repeat("a1", 32), code: exitOK},
		// A device is no key file, which `run` refuses too
		// (/dev/urandom would be read without end).
		{name: "device", path: os.DevNull, code: exitUsage, stderr: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := cmp.Or(tt.path, filepath.Join(dir, tt.name+".key"))
			if !tt.noFile && tt.path == "" {
				if err := os.WriteFile(secret, []byte(tt.secret), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			conf := filepath.Join(dir, tt.name+".toml")
			if err := os.WriteFile(conf, []byte("[inspect]\nsecret_file = \""+secret+"\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run(t, "check-config", "--config", conf)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) || (code == exitOK) != strings.HasSuffix(stdout, ": ok\n") {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// check-config --lan-device warns (exit 0) when the configuration does
// not name the LAN's device among the LAN and, in afpacket mode, the
// capture interfaces: the OpenWrt init script passes netifd's device
// for lan and logs the warnings.
func TestCheckConfigLANDevice(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, toml, dev string
		warnings        []string
	}{
		{"br_lan_named", "", "br-lan", nil},
		{"plain_port", "", "eth1", []string{`lan.interfaces ["br-lan"] does not name eth1`, `capture.interfaces ["br-lan"] does not name eth1`}},
		{"plain_port_named", "[lan]\ninterfaces = [\"eth1\"]\n[capture]\ninterfaces = [\"eth1\"]\n", "eth1", nil},
		// nflog does not read the capture interfaces.
		{"nflog", "[lan]\ninterfaces = [\"eth1\"]\n[capture]\nmode = \"nflog\"\n", "eth1", nil},
		// Allowed once, honoured as 8 MiB now.
		{"store_16MiB", "[store]\nmax_bytes = 16777216\n", "br-lan", []string{"store.max_bytes 16777216 is taken as 8388608"}},
		// The allow sets of updates-only quarantines are filled by the
		// DNS proxy's answers for the update domains.
		{"updates_only_no_proxy", "[policy]\nquarantine_mode = \"updates-only\"\n[dnsproxy]\nenabled = false\nupdate_domains = [\"fw.vendor.test\"]\n", "br-lan", []string{"policy.quarantine_mode updates-only: the DNS proxy is off (dnsproxy.enabled = false)"}},
		{"updates_only_no_domains", "[policy]\nquarantine_mode = \"updates-only\"\n", "br-lan", []string{"policy.quarantine_mode updates-only: dnsproxy.update_domains names no update host"}},
		{"updates_only_with_proxy", "[policy]\nquarantine_mode = \"updates-only\"\n[dnsproxy]\nupdate_domains = [\"fw.vendor.test\"]\n", "br-lan", nil},
		{"block_no_proxy", "[dnsproxy]\nenabled = false\n", "br-lan", nil},
		// Refused once; a file that ran before must still start.
		{"capture_twice", "[capture]\ninterfaces = [\"br-lan\", \"br-lan\"]\n", "br-lan", []string{`capture_twice.toml:2: capture.interfaces: "br-lan" is named twice: taken once`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(dir, tc.name+".toml")
			if err := os.WriteFile(conf, []byte(tc.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run(t, "check-config", "--config", conf, "--lan-device", tc.dev)
			if code != exitOK || !strings.HasSuffix(stdout, ": ok\n") {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			if got := strings.Count(stderr, "warning: "); got != len(tc.warnings) {
				t.Errorf("%d warnings, want %d: %q", got, len(tc.warnings), stderr)
			}
			for _, w := range tc.warnings {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// A damaged file is reported once with its name and offset, the packets
// before the damage still count, and the other files are analyzed.
func TestAnalyzeTruncatedFile(t *testing.T) {
	data, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "analyze", "--config", "/dev/null", "--json", cut, demo)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if strings.Count(stderr, "cut.pcap: offset ") != 1 || !strings.Contains(stderr, "truncated record") {
		t.Errorf("stderr %q: want one error naming the file and offset", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum struct {
		Type   string `json:"type"`
		Inputs []struct {
			Name    string `json:"name"`
			Packets int    `json:"packets"`
			Error   string `json:"error"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" {
		t.Fatalf("last line is not a summary: %v %q", err, lines[len(lines)-1])
	}
	if len(sum.Inputs) != 2 || sum.Inputs[0].Packets == 0 || sum.Inputs[0].Error == "" || sum.Inputs[1].Error != "" {
		t.Errorf("inputs %+v", sum.Inputs)
	}
}

// TestAnalyzeCountsUninspected: connections turned away by a full pool
// of inspections are counted in the summary, each once however many
// packets it carried, and told in the text, so the reader knows logins
// may be missing; with the default pool, none are. The inspections
// taken from idle connections are counted beside them.
func TestAnalyzeCountsUninspected(t *testing.T) {
	small := filepath.Join(t.TempDir(), "small.toml")
	if err := os.WriteFile(small, []byte("[inspect]\nmax_inspected = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		config string
		some   bool
	}{{"/dev/null", false}, {small, true}} {
		_, stdout, _ := run(t, "analyze", "--config", tc.config, "--quiet", "--json", "--findings-only", demo)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		var sum struct {
			Counters struct {
				Flows       uint64  `json:"flows"`
				Uninspected uint64  `json:"uninspected"`
				Reclaimed   *uint64 `json:"reclaimed"`
			} `json:"counters"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
			t.Fatal(err)
		}
		c := sum.Counters
		_, text, _ := run(t, "analyze", "--config", tc.config, "--quiet", demo)
		told := strings.Contains(text, fmt.Sprintf("%d new connections not inspected", c.Uninspected))
		if (c.Uninspected > 0) != tc.some || told != tc.some || c.Uninspected > c.Flows || c.Reclaimed == nil {
			t.Errorf("config %s: %d of %d connections uninspected, told %v, reclaimed %v; want some: %v, at most every connection, reclaimed counted",
				tc.config, c.Uninspected, c.Flows, told, c.Reclaimed, tc.some)
		}
	}
}

// TestAnalyzeProtectsManagementAddress: the camera of the bundled
// capture, at an address the configuration names as a management
// address, is protected as the daemon protects it: analyze says so
// rather than that it would quarantine it, in the text and the JSON.
func TestAnalyzeProtectsManagementAddress(t *testing.T) {
	mgmt := filepath.Join(t.TempDir(), "mgmt.toml")
	if err := os.WriteFile(mgmt, []byte("[daemon]\nmanagement_addresses = [\"192.168.50.101\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const camera = "c0:56:e3:1a:2b:3c"
	type verdictOf struct {
		Key     string `json:"key"`
		Verdict struct {
			Action string `json:"action"`
			Note   string `json:"note"`
		} `json:"verdict"`
	}
	for _, tc := range []struct {
		config, action, note, text string
	}{
		{"/dev/null", "quarantine", "", "Device " + camera + " (192.168.50.101) - would QUARANTINE"},
		{mgmt, "alert", "protected (management address): would otherwise quarantine",
			"Would quarantine: 0 device(s)\n  " + camera + ": protected (management address): would otherwise quarantine\n"},
	} {
		_, stdout, stderr := run(t, "analyze", "--config", tc.config, "--quiet", "--json", "--findings-only", demo)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		var sum struct {
			Devices []verdictOf `json:"devices"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
			t.Fatalf("%v (stderr %s)", err, stderr)
		}
		i := slices.IndexFunc(sum.Devices, func(d verdictOf) bool { return d.Key == camera })
		if i < 0 || sum.Devices[i].Verdict.Action != tc.action || sum.Devices[i].Verdict.Note != tc.note {
			t.Errorf("config %s: the camera's verdict %+v, want %s, note %q", tc.config, sum.Devices, tc.action, tc.note)
		}
		_, text, _ := run(t, "analyze", "--config", tc.config, "--quiet", demo)
		if !strings.Contains(text, tc.text) {
			t.Errorf("config %s: text lacks %q:\n%s", tc.config, tc.text, text)
		}
	}
}

// TestAnalyzeInterrupted: an interrupted run says so, and names the
// files it did not read, rather than blaming the input.
func TestAnalyzeInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := runAnalyze(ctx, []string{"--config", "/dev/null", "--quiet", "--json", demo, demo, demo}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "interrupted in "+demo+"; 2 more file(s) not read") || strings.Contains(errb.String(), "context canceled") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	if n := strings.Count(out.String(), "not read (interrupted)"); n != 2 || !strings.Contains(out.String(), "interrupted after 0 packets") {
		t.Errorf("summary %q: want the first file interrupted and two not read", trim(out.String()))
	}
}

// TestAnalyzeEventsNotOverAnInput: --events naming a capture to read is
// refused before the file is created, which would empty it.
func TestAnalyzeEventsNotOverAnInput(t *testing.T) {
	data, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pcap")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "analyze", "--config", "/dev/null", "--quiet", "--events", link, in)
	if code != exitUsage || !strings.Contains(stderr, "is the capture") {
		t.Errorf("exit %d, stderr %q; want %d and a refusal", code, stderr, exitUsage)
	}
	if got, err := os.ReadFile(in); err != nil || len(got) != len(data) {
		t.Errorf("the capture has %d bytes (%v), want %d", len(got), err, len(data))
	}
}

// TestAnalyzeNothingInspectable: a pcapng whose only interface is of a
// link type iotgw does not decode (802.11 with radiotap, as Wireshark
// writes a monitor capture) fails rather than passing as a clean capture
// of 0 packets.
func TestAnalyzeNothingInspectable(t *testing.T) {
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) []byte {
		n := uint32(12 + len(body))
		b := le.AppendUint32(le.AppendUint32(nil, typ), n)
		return le.AppendUint32(append(b, body...), n)
	}
	shb := le.AppendUint64(le.AppendUint16(le.AppendUint16(le.AppendUint32(nil, 0x1a2b3c4d), 1), 0), ^uint64(0))
	idb := le.AppendUint32(le.AppendUint16(le.AppendUint16(nil, 127), 0), 0) // radiotap
	frame := make([]byte, 16)
	epb := append(le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(nil, 0), 0), 1), 16), 16), frame...)
	file := slices.Concat(block(0x0a0d0d0a, shb), block(1, idb), block(6, epb), block(6, epb))
	path := filepath.Join(t.TempDir(), "wifi.pcapng")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "analyze", "--config", "/dev/null", "--quiet", "--json", path)
	if code != exitUsage || !strings.Contains(stderr, "unsupported link type 127: none of its 2 frames can be inspected") {
		t.Errorf("exit %d, stderr %q; want %d and the link type named", code, stderr, exitUsage)
	}
	if !strings.Contains(stdout, `"unknown_link":2`) {
		t.Errorf("summary %q does not count the 2 frames left out", trim(stdout))
	}
}

// The events file's last buffered write failing (a full disk) fails the
// run, as a failed write of the report does.
func TestAnalyzeEventsWriteError(t *testing.T) {
	data, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	// The file header and its first four records (little-endian pcap):
	// a few events, fewer bytes than one buffer.
	if !bytes.Equal(data[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
		t.Fatalf("%s is not a little-endian pcap", demo)
	}
	end := 24
	for range 4 {
		end += 16 + int(binary.LittleEndian.Uint32(data[end+8:]))
	}
	small := filepath.Join(t.TempDir(), "small.pcap")
	if err := os.WriteFile(small, data[:end], 0o600); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(t.TempDir(), "events.json")
	if code, _, stderr := run(t, "analyze", "--config", "/dev/null", "--quiet", "--events", events, small); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The events before the summary line: written only when the file is
	// finished.
	data, err = os.ReadFile(events)
	if n := len(data) - len(lastLine(string(data))) - 1; err != nil || n <= 0 || n >= 4096 {
		t.Fatalf("events file of %d bytes before its summary (%v): want some events, fewer than one buffer", n, err)
	}
	code, _, stderr := run(t, "analyze", "--config", "/dev/null", "--quiet", "--events", "/dev/full", small)
	if code != exitUsage || !strings.Contains(stderr, "/dev/full") || !strings.Contains(stderr, "no space left") {
		t.Errorf("exit %d, stderr %q: want the write error", code, stderr)
	}
}

// TestAnalyzeEventsFileAsJSON: the events file holds what --json writes,
// its summary line last (docs/events.md), with and without observations.
func TestAnalyzeEventsFileAsJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"all", nil},
		{"findings_only", []string{"--findings-only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := filepath.Join(t.TempDir(), "events.json")
			args := append([]string{"analyze", "--config", "/dev/null", "--quiet", "--json", "--events", events}, tc.flags...)
			code, stdout, stderr := run(t, append(args, demo)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, err := os.ReadFile(events)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != stdout {
				t.Errorf("events file (%d bytes) differs from the --json output (%d bytes); its last line: %q",
					len(got), len(stdout), trim(lastLine(string(got))))
			}
			if !strings.HasPrefix(lastLine(string(got)), `{"v":1,"type":"summary"`) {
				t.Errorf("events file ends with %q, want the summary line", trim(lastLine(string(got))))
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Every line of --json output is a JSON object of the documented schema,
// and no password of the bundled capture appears in it.
func TestAnalyzeJSON(t *testing.T) {
	code, stdout, _ := run(t, "analyze", "--config", "/dev/null", "--json", demo)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 2 {
		t.Fatalf("only %d lines", len(lines))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if m["v"] != float64(1) {
			t.Errorf("line %d: v = %v", i+1, m["v"])
		}
		typ := m["type"]
		if i == len(lines)-1 {
			if typ != "summary" {
				t.Errorf("last line type %v", typ)
			}
			continue
		}
		if typ != "finding" && typ != "observation" {
			t.Errorf("line %d: type %v", i+1, typ)
		}
		for _, field := range []string{"time", "kind", "severity", "device", "summary"} {
			if _, ok := m[field]; !ok {
				t.Errorf("line %d: no %s", i+1, field)
			}
		}
	}
	// The lab's passwords (scripts/lab/README.md) never appear in clear.
	for _, secret := range []string{"xc3511", "S3cure-Plug-77", "YWRtaW46YWRtaW4=", "admin:admin"} {
		if strings.Contains(stdout, secret) {
			t.Errorf("output contains the secret %q", secret)
		}
	}
}

func TestAnalyzeGC(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want gcSettings
	}{
		{"unset", nil, gcSettings{percent: 400, limit: 48 << 20}},
		{"GOGC set", map[string]string{"GOGC": "off"}, gcSettings{limit: 48 << 20}},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, gcSettings{percent: 400}},
		{"both set", map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}, gcSettings{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := analyzeGC(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestAnalyzeGCDuringRun: the settings are in force while the capture is
// read, and the run's, not the process's, afterwards (the tests, and any
// caller, go on with their own). The capture comes through a pipe, so
// the test looks while analyze is reading it.
func TestAnalyzeGCDuringRun(t *testing.T) {
	// analyze reads the environment when it runs: empty is unset.
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	capture, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "demo.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(77))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(300 << 20))
	done := make(chan string, 1)
	go func() {
		code, _, stderr := run(t, "analyze", "--config", "/dev/null", "--quiet", fifo)
		done <- fmt.Sprintf("exit %d: %s", code, stderr)
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once analyze opened it
	if err != nil {
		t.Fatal(err)
	}
	during := debug.SetGCPercent(-1)
	debug.SetGCPercent(during)
	limit := debug.SetMemoryLimit(-1)
	if _, err := w.Write(capture); err != nil {
		t.Error(err)
	}
	w.Close()
	if res := <-done; !strings.HasPrefix(res, "exit 0") && !strings.HasPrefix(res, "exit 1") {
		t.Fatal(res)
	}
	if want := analyzeGC(os.Getenv); during != want.percent || limit != want.limit {
		t.Errorf("while reading: GOGC %d, limit %d; want %+v", during, limit, want)
	}
	if got := debug.SetGCPercent(77); got != 77 {
		t.Errorf("GOGC after analyze: %d, want 77", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("memory limit after analyze: %d, want %d", got, 300<<20)
	}
}
