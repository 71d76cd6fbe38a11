package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
		{"analyze_fail_on_high", []string{"analyze", "--config", "/dev/null", "--fail-on", "high", demo}, exitFindings, "default_credentials", ""},
		{"analyze_fail_on_critical", []string{"analyze", "--config", "/dev/null", "--fail-on", "critical", demo}, exitFindings, "outdated_firmware", ""},
		{"analyze_fail_on_none", []string{"analyze", "--config", "/dev/null", "--fail-on", "none", demo}, exitOK, "", ""},
		{"check_config_ok", []string{"check-config", "--config", "../../iotgw.example.toml"}, exitOK, "iotgw.example.toml: ok", ""},
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
