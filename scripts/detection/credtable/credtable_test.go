package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Outputs below are trimmed copies of what the Debian 12 tools print on
// corpus files; the passwords in them must never reach a cred.
func TestParseTshark(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []cred
	}{
		{"ftp", `===================================================================
Packet     Protocol         Username         Info            
------     --------         --------         --------
9          FTP              anonymous        Username in packet: 6
===================================================================`, []cred{{Protocol: "ftp", User: "an***"}}},
		{"http_basic_multiword_protocol", "4          HTTP basic auth  userrrrr                         \n", []cred{{Protocol: "http", User: "us***"}}},
		{"header_auth_without_user", "5          HTTP header auth n.a.                             \n", []cred{{Protocol: "http"}}},
		{"smtp_user_in_base64", "11         SMTP             Z2FsdW50         Username in packet 9\n", []cred{{Protocol: "smtp", User: "ga***"}}},
		{"long_user_shifts_columns", "7          FTP              averyveryverylongusername Username in packet: 5\n", []cred{{Protocol: "ftp", User: "av***"}}},
		{"header_and_noise_only", "Running as user \"root\"\nPacket     Protocol         Username         Info\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseTshark([]byte(tt.out)); !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeBase64User(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Z2FsdW50", "galunt"},
		{"AHVzZXIAcGFzcw==", "user"},   // AUTH PLAIN: \0user\0pass
		{"not base64!", "not base64!"}, // kept as sent
		{"AAEC", "AAEC"},               // decodes to control bytes: kept
	}
	for _, tt := range tests {
		if got := decodeBase64User(tt.in); got != tt.want {
			t.Errorf("decodeBase64User(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseEttercap(t *testing.T) {
	out := `Starting Unified sniffing...

FTP : 199.233.217.249:21 -> USER: anonymous  PASS: test
POP : 212.227.15.166:110 -> USER: digitalinvestigator@networksims.com  PASS: napier
SNMP : 172.31.19.73:161 -> COMMUNITY: public  INFO: SNMP v1
HTTP : 203.0.113.10:80 -> USER: admin  PASS: admin  INFO: cloud.example-camera.com/api/status.json
End of dump file...
`
	want := []cred{
		{Protocol: "ftp", User: "an***"},
		{Protocol: "pop3", User: "di***"},
		{Protocol: "snmp"},
		{Protocol: "http", User: "a***"},
	}
	if got := parseEttercap([]byte(out)); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseDsniff(t *testing.T) {
	out := `dsniff: using x.pcap
-----------------
11/25/26 17:33:05 tcp 172.23.0.3.41790 -> 172.23.0.2.21 (ftp)
USER bob
PASS password

(0) CAPA
(1) AGRpZ2l0YWxpbnZlc3RpZ2F0b3JAbmV0d29ya3NpbXMuY29tAG5hcGllcg==
-----------------
11/25/26 17:39:30 tcp 192.168.0.4.26284 -> 212.227.15.166.110 (pop3)

username [digitalinvestigator@networksims.com] password [napier]

(0) QUIT
-----------------
11/25/26 17:39:34 udp 172.31.19.54.15916 -> 172.31.19.73.161 (snmp)
[version 1]
public

-----------------
11/25/26 17:39:34 tcp 10.0.0.2.5000 -> 10.0.0.1.80 (http)
GET /api HTTP/1.1
Host: cam
Authorization: Basic YWRtaW46c2VjcmV0

-----------------
11/25/26 17:39:34 tcp 10.0.0.2.5001 -> 10.0.0.1.143 (imap)
a1 LOGIN "mailer" "hunter2"
`
	want := []cred{
		{Protocol: "ftp", User: "b***"},
		{Protocol: "pop3", User: "di***"},
		{Protocol: "snmp"},
		{Protocol: "http", User: "a***"},
		{Protocol: "imap", User: "ma***"},
	}
	got := parseDsniff([]byte(out))
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// The "(1) base64" state line between records belongs to none.
	if n := len(got); n != 5 {
		t.Errorf("got %d records, want 5", n)
	}
}

func TestParseIotgw(t *testing.T) {
	out := `{"v":1,"type":"observation","kind":"banner","evidence":{"protocol":"ftp","banner":"x"}}
{"v":1,"type":"finding","kind":"weak_credentials","evidence":{"accepted":"no","password":"1***","password_class":"weak","protocol":"ftp","user":"b***"}}
{"v":1,"type":"finding","kind":"default_credentials","evidence":{"accepted":"yes","password_class":"default","protocol":"snmp","mechanism":"community v1"}}
{"v":1,"type":"finding","kind":"plaintext_protocol","evidence":{"protocol":"ftp"}}
{"v":1,"type":"summary","inputs":[{"name":"x.pcap","packets":3,"error":"x.pcap: truncated record at byte 120"}]}
`
	res, err := parseIotgw([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []cred{
		{Protocol: "ftp", User: "b***", Class: "weak", Accepted: "no"},
		{Protocol: "snmp", Class: "default", Accepted: "yes"},
	}
	if !slices.Equal(res.Creds, want) {
		t.Errorf("creds %+v, want %+v", res.Creds, want)
	}
	if !strings.Contains(res.Err, "truncated") {
		t.Errorf("input error %q not kept", res.Err)
	}
	if _, err := parseIotgw([]byte("{not json\n")); err == nil {
		t.Error("broken JSON accepted")
	}
}

func TestRedactUserMatchesIotgw(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {"ab", "***"}, {"bob", "b***"}, {"admin", "a***"}, {"anonymous", "an***"},
		{"digitalinvestigator@networksims.com", "di***"},
	}
	for _, tt := range tests {
		if got := redactUser(tt.in); got != tt.want {
			t.Errorf("redactUser(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// writeFiles writes name → content into a fresh directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCollectAndRender(t *testing.T) {
	raw := writeFiles(t, map[string]string{
		"ftp.pcap.iotgw.out":    `{"type":"finding","kind":"weak_credentials","evidence":{"protocol":"ftp","user":"b***","password_class":"weak","accepted":"yes"}}` + "\n",
		"ftp.pcap.iotgw.rc":     "0\n",
		"ftp.pcap.tshark.out":   "9          FTP              bob              Username in packet: 6\n",
		"ftp.pcap.tshark.rc":    "0\n",
		"ftp.pcap.ettercap.out": "FTP : 10.0.0.1:21 -> USER: bob  PASS: secret\nFTP : 10.0.0.1:21 -> USER: eve  PASS: other\n",
		"ftp.pcap.ettercap.rc":  "0\n",
		"ftp.pcap.dsniff.out":   "dsniff: nids_init: link type unknown\n",
		"ftp.pcap.dsniff.rc":    "1\n",
		// A DHCP-only file nobody finds anything in stays out of the table.
		"dhcp.pcap.iotgw.out": "", "dhcp.pcap.tshark.out": "", "dhcp.pcap.ettercap.out": "", "dhcp.pcap.dsniff.out": "",
		"MANIFEST.tsv": "file\tprotocols\texpected\nftp.pcap\tFTP\tbob:secret\ndhcp.pcap\tDHCPv4\tnothing\n",
	})
	var results bytes.Buffer
	err := runCollect([]string{"-manifest", filepath.Join(raw, "MANIFEST.tsv"), "-raw", raw, "-root", "/nonexistent",
		filepath.Join(raw, "ftp.pcap"), filepath.Join(raw, "dhcp.pcap")}, &results)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(results.String(), "secret") || strings.Contains(results.String(), "bob") {
		t.Errorf("results hold a password or clear user:\n%s", results.String())
	}
	if strings.Contains(results.String(), "dhcp.pcap") {
		t.Errorf("a file without credentials or credential protocols was kept:\n%s", results.String())
	}
	if !strings.Contains(results.String(), "ftp.pcap\tdsniff\t-\t\t-\t-\t0\tcannot read the link type") {
		t.Errorf("dsniff's failure not recorded:\n%s", results.String())
	}

	cfg := writeFiles(t, map[string]string{
		"results.tsv":  results.String(),
		"expected.tsv": "file\tprotocol\tuser\taccepted\tcount\nftp.pcap\tftp\tb***\tyes\t1\n",
		"notes.tsv":    "file\ttool\texplains\tnote\n",
	})
	render := func() (string, string, error) {
		var out, diag bytes.Buffer
		err := runRender([]string{"-expected", filepath.Join(cfg, "expected.tsv"), "-notes", filepath.Join(cfg, "notes.tsv"),
			filepath.Join(cfg, "results.tsv")}, &out, &diag)
		return out.String(), diag.String(), err
	}

	// ettercap's second user is not in iotgw's findings and nothing says why.
	table, diag, err := render()
	var unexplained errUnexplained
	if !errors.As(err, &unexplained) || int(unexplained) != 1 {
		t.Fatalf("render error %v, want one unexplained difference; diagnostics:\n%s", err, diag)
	}
	if !strings.Contains(diag, `ettercap reports ftp "e***"`) {
		t.Errorf("diagnostics do not name the miss:\n%s", diag)
	}
	wantRow := "| `ftp.pcap` | ftp `b***`, weak, accepted yes | ftp `b***` | ftp `b***`<br>ftp `e***` | *cannot read the link type* | ✓ ftp `b***`, accepted yes |  |"
	if !strings.Contains(table, wantRow) {
		t.Errorf("table lacks\n%s\ngot\n%s", wantRow, table)
	}

	// A note that explains it settles the difference.
	if err := os.WriteFile(filepath.Join(cfg, "notes.tsv"), []byte("file\ttool\texplains\tnote\nftp.pcap\tettercap\tyes\tpairs a USER with the wrong session\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, diag, err := render(); err != nil {
		t.Errorf("render with an explaining note: %v\n%s", err, diag)
	}

	// iotgw differing from the expectation is a difference too.
	if err := os.WriteFile(filepath.Join(cfg, "expected.tsv"), []byte("file\tprotocol\tuser\taccepted\tcount\nftp.pcap\tftp\tb***\tno\t1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	table, _, err = render()
	if !errors.As(err, &unexplained) || !strings.Contains(table, "✗ ftp `b***`, accepted no") {
		t.Errorf("a wrong verdict was not flagged: %v\n%s", err, table)
	}
}

func TestMatchExpected(t *testing.T) {
	ftpYes := row{Tool: "iotgw", Cred: cred{Protocol: "ftp", User: "b***", Accepted: "yes"}, Count: 2, Status: "ok"}
	none := row{Tool: "iotgw", Cred: cred{Protocol: "-"}, Status: "none"}
	failed := row{Tool: "iotgw", Cred: cred{Protocol: "-"}, Status: "exit 2"}
	tests := []struct {
		name string
		rows []row
		exps []expectation
		want bool
	}{
		{"exact", []row{ftpYes}, []expectation{{"ftp", "b***", "yes", 2}}, true},
		{"any_count", []row{ftpYes}, []expectation{{"ftp", "b***", "yes", 0}}, true},
		{"any_accepted", []row{ftpYes}, []expectation{{"ftp", "b***", "*", 0}}, true},
		{"wrong_count", []row{ftpYes}, []expectation{{"ftp", "b***", "yes", 1}}, false},
		{"wrong_verdict", []row{ftpYes}, []expectation{{"ftp", "b***", "no", 0}}, false},
		{"missing", []row{none}, []expectation{{"ftp", "b***", "yes", 0}}, false},
		{"extra", []row{ftpYes}, []expectation{{"-", "", "*", 0}}, false},
		{"none_expected_none_found", []row{none}, []expectation{{"-", "", "*", 0}}, true},
		{"failed_run", []row{failed}, []expectation{{"-", "", "*", 0}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchExpected(tt.rows, tt.exps); got != tt.want {
				t.Errorf("matchExpected = %v, want %v", got, tt.want)
			}
		})
	}
}
