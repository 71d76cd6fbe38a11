package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// expectation is one line of expected.tsv: what the MANIFEST (or, for the
// project's own recordings, their README) says a correct analyzer finds,
// with the user already redacted. Accepted "*" and Count 0 match any.
type expectation struct {
	Protocol, User, Accepted string
	Count                    int
}

// note is one line of notes.tsv. Explains marks a note that accounts for a
// difference, so that render does not fail on it.
type note struct {
	Tool     string
	Explains bool
	Text     string
}

func runRender(args []string, out, diag io.Writer) error {
	fl := flag.NewFlagSet("render", flag.ContinueOnError)
	expectedPath := fl.String("expected", "", "expected.tsv")
	notesPath := fl.String("notes", "", "notes.tsv")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *expectedPath == "" || *notesPath == "" || fl.NArg() != 1 {
		return errors.New("render needs -expected, -notes and one results file")
	}
	results, err := readTSV(fl.Arg(0), 8)
	if err != nil {
		return err
	}
	expRecs, err := readTSV(*expectedPath, 5)
	if err != nil {
		return err
	}
	noteRecs, err := readTSV(*notesPath, 4)
	if err != nil {
		return err
	}

	var order []string
	byFile := map[string][]row{}
	for _, r := range results {
		count, err := strconv.Atoi(r[6])
		if err != nil {
			return fmt.Errorf("results: bad count %q", r[6])
		}
		if _, seen := byFile[r[0]]; !seen {
			order = append(order, r[0])
		}
		byFile[r[0]] = append(byFile[r[0]], row{File: r[0], Tool: r[1],
			Cred:  cred{Protocol: r[2], User: undash(r[3]), Class: undash(r[4]), Accepted: undash(r[5])},
			Count: count, Status: r[7]})
	}
	expected := map[string][]expectation{}
	for _, e := range expRecs {
		n := 0
		if e[4] != "*" {
			if n, err = strconv.Atoi(e[4]); err != nil {
				return fmt.Errorf("expected: bad count %q", e[4])
			}
		}
		expected[e[0]] = append(expected[e[0]], expectation{Protocol: e[1], User: undash(e[2]), Accepted: e[3], Count: n})
	}
	notes := map[string][]note{}
	for _, n := range noteRecs {
		notes[n[0]] = append(notes[n[0]], note{Tool: n[1], Explains: n[2] == "yes", Text: n[3]})
	}

	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "| file | iotgw | tshark | ettercap | dsniff | expected | notes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	unexplained := 0
	peerTotal, peerFound := 0, 0
	for _, file := range order {
		rows := byFile[file]
		exps, ok := expected[file]
		if !ok {
			fmt.Fprintf(diag, "%s: no line in expected.tsv\n", file)
			unexplained++
		}
		cells := map[string][]string{}
		for _, r := range rows {
			cells[r.Tool] = append(cells[r.Tool], cell(r))
		}
		iotgw := rowsOf(rows, "iotgw")
		matches := ok && matchExpected(iotgw, exps)
		if !matches && ok && !explained(notes[file], "iotgw") {
			fmt.Fprintf(diag, "%s: iotgw differs from the expectation\n", file)
			unexplained++
		}
		for _, tool := range tools[1:] {
			for _, r := range rowsOf(rows, tool) {
				if r.Status != "ok" {
					continue
				}
				peerTotal++
				if hasUser(iotgw, r.Cred) {
					peerFound++
					continue
				}
				if !explained(notes[file], tool) {
					fmt.Fprintf(diag, "%s: %s reports %s %q, iotgw does not\n", file, tool, r.Cred.Protocol, r.Cred.User)
					unexplained++
				}
			}
		}
		verdict := "✓"
		if !matches {
			verdict = "✗"
		}
		var expText []string
		for _, e := range exps {
			expText = append(expText, e.String())
		}
		var noteText []string
		for _, n := range notes[file] {
			if n.Tool == "*" {
				noteText = append(noteText, n.Text)
			} else {
				noteText = append(noteText, n.Tool+": "+n.Text)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s %s | %s |\n", fileCell(file),
			join(cells["iotgw"]), join(cells["tshark"]), join(cells["ettercap"]), join(cells["dsniff"]),
			verdict, join(expText), strings.ReplaceAll(strings.Join(noteText, " "), "|", `\|`))
	}
	fmt.Fprintf(w, "\n%d files. Of %d distinct credentials reported by tshark, ettercap and dsniff (counted per file and tool), iotgw reports %d with the same protocol and user; the notes explain the rest.\n",
		len(order), peerTotal, peerFound)
	if err := w.Flush(); err != nil {
		return err
	}
	if unexplained > 0 {
		return errUnexplained(unexplained)
	}
	return nil
}

func (e expectation) String() string {
	if e.Protocol == "-" {
		return "none"
	}
	s := e.Protocol + " " + userCell(e.User)
	if e.Accepted != "*" {
		s += ", accepted " + e.Accepted
	}
	if e.Count > 1 {
		s += fmt.Sprintf(" ×%d", e.Count)
	}
	return s
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func rowsOf(rows []row, tool string) []row {
	var out []row
	for _, r := range rows {
		if r.Tool == tool {
			out = append(out, r)
		}
	}
	return out
}

func hasUser(rows []row, c cred) bool {
	for _, r := range rows {
		if r.Status == "ok" && r.Cred.Protocol == c.Protocol && r.Cred.User == c.User {
			return true
		}
	}
	return false
}

func explained(notes []note, tool string) bool {
	for _, n := range notes {
		if n.Explains && (n.Tool == tool || n.Tool == "*") {
			return true
		}
	}
	return false
}

// matchExpected reports whether iotgw's credentials are exactly the
// expected ones: every finding matches an expectation, and every
// expectation is met, as many times as it says when it says.
func matchExpected(iotgw []row, exps []expectation) bool {
	got := make([]int, len(exps))
	for _, r := range iotgw {
		if r.Status != "ok" {
			if r.Status != "none" {
				return false // a failed run matches nothing
			}
			continue
		}
		found := false
		for i, e := range exps {
			if e.Protocol == r.Cred.Protocol && e.User == r.Cred.User && (e.Accepted == "*" || e.Accepted == r.Cred.Accepted) {
				got[i] += r.Count
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for i, e := range exps {
		if e.Protocol == "-" {
			continue
		}
		if got[i] == 0 || (e.Count > 0 && got[i] != e.Count) {
			return false
		}
	}
	return true
}

// cell renders one row for the table.
func cell(r row) string {
	switch {
	case r.Status == "none":
		return "—"
	case r.Status != "ok":
		return "*" + r.Status + "*"
	}
	s := r.Cred.Protocol + " " + userCell(r.Cred.User)
	var extra []string
	if r.Cred.Class != "" {
		extra = append(extra, r.Cred.Class)
	}
	if r.Cred.Accepted != "" {
		extra = append(extra, "accepted "+r.Cred.Accepted)
	}
	if len(extra) > 0 {
		s += ", " + strings.Join(extra, ", ")
	}
	if r.Count > 1 {
		s += fmt.Sprintf(" ×%d", r.Count)
	}
	return s
}

// userCell shows a redacted user in a code span, or says there is none
// (SNMP's community is a password without a user).
func userCell(u string) string {
	if u == "" {
		return "(no user)"
	}
	return "`" + strings.ReplaceAll(u, "`", "'") + "`"
}

func fileCell(f string) string {
	if strings.Contains(f, "/") {
		return "[`" + f + "`](../" + f + ")"
	}
	return "`" + f + "`"
}

func join(items []string) string {
	return strings.ReplaceAll(strings.Join(items, "<br>"), "|", `\|`)
}

// readTSV reads a tab-separated file with a header line and at least
// fields columns; lines starting with # are comments.
func readTSV(path string, fields int) (_ [][]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer closeOrWrap(f, &err, path)
	var recs [][]string
	sc := bufio.NewScanner(f)
	header := true
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		rec := strings.Split(line, "\t")
		if len(rec) < fields {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, n, len(rec), fields)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}
