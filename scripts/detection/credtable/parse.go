package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// cred is one credential as a tool reported it, already reduced to what the
// table shows: no password, and the user redacted the way iotgw does.
type cred struct {
	Protocol string // lower case: ftp, http, pop3, snmp …
	User     string // redacted; "" when the protocol has none (SNMP)
	Class    string // iotgw's password class; "" for the other tools
	Accepted string // yes, no, unknown; "" when the tool does not say
}

// redactUser is inspect.Redact for a user name; "" stays "".
func redactUser(u string) string {
	if u == "" {
		return ""
	}
	return inspect.Redact([]byte(u))
}

// credentialKinds are the iotgw finding kinds that carry a login.
var credentialKinds = map[string]bool{
	"default_credentials":   true,
	"weak_credentials":      true,
	"plaintext_credentials": true,
}

// iotgwResult is what one `iotgw analyze --json` run said about a file.
type iotgwResult struct {
	Creds []cred
	Err   string // the summary's input error, if the file was not read to its end
}

// parseIotgw reads `iotgw analyze --json` output: credential findings and
// the summary line's input errors. The user in the evidence is already
// redacted by iotgw and is taken as it is.
func parseIotgw(out []byte) (iotgwResult, error) {
	var res iotgwResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024) // the summary line holds every device
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev struct {
			Type     string            `json:"type"`
			Kind     string            `json:"kind"`
			Evidence map[string]string `json:"evidence"`
			Inputs   []struct {
				Name  string `json:"name"`
				Error string `json:"error"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return res, fmt.Errorf("iotgw output: %w", err)
		}
		if ev.Type == "summary" {
			for _, in := range ev.Inputs {
				if in.Error != "" {
					res.Err = in.Error
				}
			}
			continue
		}
		if ev.Type != "finding" || !credentialKinds[ev.Kind] {
			continue
		}
		res.Creds = append(res.Creds, cred{
			Protocol: strings.ToLower(ev.Evidence["protocol"]),
			User:     ev.Evidence["user"],
			Class:    ev.Evidence["password_class"],
			Accepted: ev.Evidence["accepted"],
		})
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("iotgw output: %w", err)
	}
	return res, nil
}

// tsharkRow is a row of `tshark -q -z credentials`: the packet number, a
// protocol of one or more words, the user name, and an optional remark.
// The columns are printed with %-16s, so a long user name shifts the rest;
// the protocol names are matched instead of the columns.
var tsharkRow = regexp.MustCompile(`^(\d+)\s+(HTTP basic auth|HTTP header auth|HTTP NTLM auth|[A-Z][A-Za-z0-9]*)\s+(\S+)?`)

// parseTshark reads the credentials table of tshark 4.0.
func parseTshark(out []byte) []cred {
	var creds []cred
	for _, line := range strings.Split(string(out), "\n") {
		m := tsharkRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		proto, user := m[2], m[3]
		c := cred{Protocol: strings.ToLower(strings.Fields(proto)[0])}
		switch {
		case proto == "HTTP header auth" && user == "n.a.":
			// an Authorization header tshark could not read: no user
		case proto == "SMTP" || proto == "POP" || proto == "IMAP":
			// AUTH LOGIN/PLAIN user names are shown as they were sent,
			// in base64.
			c.User = redactUser(decodeBase64User(user))
		default:
			c.User = redactUser(user)
		}
		if c.Protocol == "pop" {
			c.Protocol = "pop3"
		}
		creds = append(creds, c)
	}
	return creds
}

// decodeBase64User decodes s when it is base64 of printable text and
// returns it unchanged otherwise. For AUTH PLAIN ("authzid\0user\0pass")
// only the user is kept.
func decodeBase64User(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !utf8.Valid(b) {
		return s
	}
	if parts := strings.Split(string(b), "\x00"); len(parts) == 3 {
		return parts[1]
	}
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			return s
		}
	}
	return string(b)
}

// ettercapRow is a line of `ettercap -T -q` such as
// "FTP : 10.0.0.1:21 -> USER: bob  PASS: secret" or
// "SNMP : 10.0.0.1:161 -> COMMUNITY: public  INFO: SNMP v1".
var ettercapRow = regexp.MustCompile(`^([A-Z0-9-]+) : \S+ -> (?:USER: (.*?)  PASS: |COMMUNITY: )`)

// parseEttercap reads the dissectors' lines of ettercap 0.8.
func parseEttercap(out []byte) []cred {
	var creds []cred
	for _, line := range strings.Split(string(out), "\n") {
		m := ettercapRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c := cred{Protocol: strings.ToLower(m[1]), User: redactUser(m[2])}
		if c.Protocol == "pop" {
			c.Protocol = "pop3"
		}
		creds = append(creds, c)
	}
	return creds
}

// dsniffHeader opens one of dsniff's records:
// "11/25/26 17:33:05 tcp 172.23.0.3.41790 -> 172.23.0.2.21 (ftp)".
var dsniffHeader = regexp.MustCompile(`^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (?:tcp|udp|ip) \S+ -> \S+ \(([a-z0-9]+)\)$`)

// dsniffUser finds the user in a record's lines, per decoder.
var (
	dsniffUSER     = regexp.MustCompile(`^(?i:USER) (\S+)`)
	dsniffUsername = regexp.MustCompile(`^username \[([^\]]*)\]`)
	dsniffIMAP     = regexp.MustCompile(`^\S+ (?i:LOGIN) "?([^" ]+)"?`)
	dsniffBasic    = regexp.MustCompile(`^(?i:(?:Proxy-)?Authorization): Basic (\S+)`)
)

// parseDsniff reads dsniff 2.4's records: a separator line, a header naming
// the decoder, the decoder's lines. Lines between records (its POP decoder
// prints its state as "(0) CAPA") belong to none and are skipped.
func parseDsniff(out []byte) []cred {
	var creds []cred
	var cur *cred
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "-----------------") {
			cur = nil
			continue
		}
		if m := dsniffHeader.FindStringSubmatch(line); m != nil {
			creds = append(creds, cred{Protocol: m[1]})
			cur = &creds[len(creds)-1]
			if cur.Protocol == "pop2" {
				cur.Protocol = "pop3"
			}
			continue
		}
		if cur == nil || cur.User != "" || line == "" {
			continue
		}
		switch cur.Protocol {
		case "snmp":
			// the community is the secret; there is no user
		case "http":
			if m := dsniffBasic.FindStringSubmatch(line); m != nil {
				if b, err := base64.StdEncoding.DecodeString(m[1]); err == nil {
					user, _, _ := strings.Cut(string(b), ":")
					cur.User = redactUser(user)
				}
			}
		case "imap":
			if m := dsniffIMAP.FindStringSubmatch(line); m != nil {
				cur.User = redactUser(m[1])
			}
		case "telnet", "rlogin":
			// the lines typed, the first being the login name
			cur.User = redactUser(strings.TrimSpace(line))
		default:
			if m := dsniffUSER.FindStringSubmatch(line); m != nil {
				cur.User = redactUser(m[1])
			} else if m := dsniffUsername.FindStringSubmatch(line); m != nil {
				cur.User = redactUser(m[1])
			}
		}
	}
	return creds
}
