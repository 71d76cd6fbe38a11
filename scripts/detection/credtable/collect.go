package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// tools in the table's order.
var tools = []string{"iotgw", "tshark", "ettercap", "dsniff"}

// credentialProtocols picks the corpus files that carry credentials, or
// are negative samples for them, by the MANIFEST's protocols column.
var credentialProtocols = regexp.MustCompile(`(?i)\b(FTP|Telnet|HTTP|POP3|IMAP|SMTP|MQTT|SNMP|SNMPv[123]c?|SIP|PPPoE|PAP|RTSP)\b`)

// row is one line of results.tsv.
type row struct {
	File   string
	Tool   string
	Cred   cred // Protocol "-" when the tool found nothing or failed
	Count  int
	Status string // ok, none, or what went wrong
}

const resultsHeader = "file\ttool\tprotocol\tuser\tclass\taccepted\tcount\tstatus"

func runCollect(args []string, out io.Writer) error {
	fl := flag.NewFlagSet("collect", flag.ContinueOnError)
	manifest := fl.String("manifest", "", "the corpus MANIFEST.tsv")
	raw := fl.String("raw", "", "directory with NAME.TOOL.out and NAME.TOOL.rc")
	root := fl.String("root", ".", "repository root: files under it are named by their path in it")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *manifest == "" || *raw == "" || fl.NArg() == 0 {
		return errors.New("collect needs -manifest, -raw and files")
	}
	protocols, err := readManifest(*manifest)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, resultsHeader)
	for _, path := range fl.Args() {
		rows, err := collectFile(path, *raw, *root, protocols)
		if err != nil {
			return err
		}
		for _, r := range rows {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.File, r.Tool, r.Cred.Protocol, r.Cred.User,
				dash(r.Cred.Class), dash(r.Cred.Accepted), r.Count, r.Status)
		}
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// readManifest returns file → protocols column.
func readManifest(path string) (_ map[string]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer closeOrWrap(f, &err, "manifest")
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("manifest %s: empty", path)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	fi, okF := col["file"]
	pi, okP := col["protocols"]
	if !okF || !okP {
		return nil, fmt.Errorf("manifest %s: no file or protocols column", path)
	}
	m := map[string]string{}
	for _, rec := range recs[1:] {
		if len(rec) > fi && len(rec) > pi {
			m[rec[fi]] = rec[pi]
		}
	}
	return m, nil
}

// collectFile reads the four tools' outputs for one capture.
func collectFile(path, raw, root string, manifest map[string]string) ([]row, error) {
	base := filepath.Base(path)
	name := base
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		name = filepath.ToSlash(rel)
	}
	protocols, inManifest := manifest[base]
	selected := !inManifest || credentialProtocols.MatchString(protocols)

	var rows []row
	for _, tool := range tools {
		out, status, err := readRun(filepath.Join(raw, base+"."+tool))
		if err != nil {
			return nil, err
		}
		var creds []cred
		switch tool {
		case "iotgw":
			res, err := parseIotgw(out)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", base, err)
			}
			creds = res.Creds
			if res.Err != "" && status == "ok" {
				status = "input error: " + res.Err
			}
		case "tshark":
			creds = parseTshark(out)
		case "ettercap":
			creds = parseEttercap(out)
		case "dsniff":
			creds = parseDsniff(out)
		}
		if len(creds) > 0 {
			selected = true
		}
		agg := aggregate(creds)
		for i := range agg {
			agg[i].File, agg[i].Tool, agg[i].Status = name, tool, "ok"
		}
		if len(agg) == 0 || status != "ok" {
			st := status
			if st == "ok" {
				st = "none"
			}
			agg = append(agg, row{File: name, Tool: tool, Cred: cred{Protocol: "-"}, Status: st})
		}
		rows = append(rows, agg...)
	}
	if !selected {
		return nil, nil
	}
	return rows, nil
}

// readRun returns a tool's saved output and how it ended: "ok", "timed
// out", "panic", or "exit N".
func readRun(prefix string) ([]byte, string, error) {
	out, err := os.ReadFile(prefix + ".out")
	if err != nil {
		return nil, "", fmt.Errorf("tool output: %w", err)
	}
	rcText, err := os.ReadFile(prefix + ".rc")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("tool exit status: %w", err)
	}
	status := "ok"
	if rc, convErr := strconv.Atoi(strings.TrimSpace(string(rcText))); convErr == nil {
		switch {
		case rc == 124: // timeout(1)
			status = "timed out"
		case rc != 0:
			status = fmt.Sprintf("exit %d", rc)
		}
	}
	stderr, err := os.ReadFile(prefix + ".err")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("tool stderr: %w", err)
	}
	both := string(out) + string(stderr)
	switch {
	case strings.Contains(both, "panic:"):
		status = "panic"
	case status == "ok":
	case strings.Contains(both, "link type unknown"): // dsniff (libnids)
		status = "cannot read the link type"
	default:
		// ettercap: "FATAL: Dump file not supported (Raw IPv4)"
		if m := ettercapUnsupported.FindStringSubmatch(both); m != nil {
			status = "cannot read the link type (" + m[1] + ")"
		}
	}
	return out, status, nil
}

var ettercapUnsupported = regexp.MustCompile(`Dump file not supported \(([^)]*)\)`)

// aggregate counts identical credentials, in order of first appearance.
func aggregate(creds []cred) []row {
	var rows []row
	index := map[cred]int{}
	for _, c := range creds {
		if i, ok := index[c]; ok {
			rows[i].Count++
			continue
		}
		index[c] = len(rows)
		rows = append(rows, row{Cred: c, Count: 1})
	}
	return rows
}
