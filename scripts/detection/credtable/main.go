// Command credtable builds the comparison in docs/detection.md: which
// credentials iotgw, tshark, ettercap and dsniff each find in the same
// capture files, against what the corpus MANIFEST expects.
//
//	credtable collect -manifest MANIFEST.tsv -raw DIR -root REPO FILE... > results.tsv
//	credtable render -expected expected.tsv -notes notes.tsv results.tsv > table.md
//
// collect reads the tools' saved outputs (DIR/NAME.TOOL.out and the exit
// status in DIR/NAME.TOOL.rc, written by compare.sh) and writes one TSV row
// per distinct credential and tool; render turns that into the markdown
// table and exits with status 1 when a peer finds a credential iotgw does
// not, or iotgw differs from the expectation, without a note saying why.
// Neither ever writes a password; user names are redacted as iotgw does.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "collect":
		err = runCollect(os.Args[2:], os.Stdout)
	case "render":
		err = runRender(os.Args[2:], os.Stdout, os.Stderr)
	default:
		usage()
	}
	var unexplained errUnexplained
	switch {
	case errors.As(err, &unexplained):
		fmt.Fprintln(os.Stderr, "credtable:", err)
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "credtable:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: credtable collect -manifest FILE -raw DIR -root DIR FILE...\n       credtable render -expected FILE -notes FILE RESULTS.tsv")
	os.Exit(2)
}

// errUnexplained is render's verdict: the table was written, but some
// difference has no note.
type errUnexplained int

func (e errUnexplained) Error() string {
	return fmt.Sprintf("%d unexplained difference(s), listed above", int(e))
}

// closeOrWrap closes c and keeps the first error.
func closeOrWrap(c io.Closer, err *error, what string) {
	if cerr := c.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("%s: %w", what, cerr)
	}
}
