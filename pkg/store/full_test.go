package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/iotgw/iotgw/internal/statefile"
	"github.com/iotgw/iotgw/internal/testenv"
)

const fullChildEnv = "IOTGW_STORE_FULL_CHILD_DIR"

// fullReport is what fullChild saw, for TestFullOverlay to check.
type fullReport struct {
	Errors      []string // of the failed writes
	AllENOSPC   bool     // every failed write failed for want of space
	OldKept     bool     // the file held the last good state after each failure
	Temps       []string // temporary files left after the failures
	Recovered   bool     // a smaller state was written afterwards
	ErrorLines  int      // "cannot write state" at level ERROR
	RepeatLines int      // the same at level DEBUG
	AgainLines  int      // "state written again"
}

// fullChild runs in a mount namespace of its own (TestFullOverlay): it
// mounts a small tmpfs at dir, writes a small state, then fails to write
// a state too large for it, at three ticks and an urgent change, and
// writes a small one again, and reports on stdout (out).
func fullChild(dir string, out io.Writer) error {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	var logs logBuffer
	path := filepath.Join(dir, "state.json")
	s := Open(Options{Path: path, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := s.PutQuarantine(Quarantine{MAC: mac(1), Mode: "block", By: ActorPolicy}); err != nil {
		return err
	}
	if err := s.Flush(); err != nil {
		return fmt.Errorf("first write: %w", err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for i := range 100 { // ~600 KB: over the tmpfs
		if err := s.PutDevice(benchDevice(i, 10)); err != nil {
			return err
		}
	}
	rep := fullReport{AllENOSPC: true, OldKept: true}
	for i, c := range []cause{causeRoutine, causeRoutine, causeUrgent, causeRoutine} {
		if c == causeUrgent {
			if err := s.PutDecision(Decision{MAC: mac(2), Trusted: true}); err != nil {
				return err
			}
		}
		_, err := s.flush(c)
		if err == nil {
			return fmt.Errorf("write %d of a state over the tmpfs worked", i)
		}
		rep.Errors = append(rep.Errors, err.Error())
		rep.AllENOSPC = rep.AllENOSPC && errors.Is(err, syscall.ENOSPC)
		if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, good) {
			rep.OldKept = false
		}
	}
	rep.Temps = siblings(path, statefile.TempInfix)
	for i := range 100 {
		s.DeleteDevice(benchDevice(i, 0).MAC)
	}
	_, err = s.flush(causeUrgent)
	rep.Recovered = err == nil
	for l := range strings.SplitSeq(logs.String(), "\n") {
		switch {
		case strings.Contains(l, "level=ERROR") && strings.Contains(l, "cannot write state"):
			rep.ErrorLines++
		case strings.Contains(l, "level=DEBUG") && strings.Contains(l, "cannot write state"):
			rep.RepeatLines++
		case strings.Contains(l, "state written again"):
			rep.AgainLines++
		}
	}
	return json.NewEncoder(out).Encode(rep)
}

// TestFullOverlay: on a file system that fills up while the state is
// written (ENOSPC, as an overlay on a small flash does), the write fails
// and leaves the last good file and no temporary file; the state stays
// dirty and later ticks retry. The failure is logged once, not at every
// retry, and a write that works again says so. Each retry used to log an
// error, and each error named a new temporary file, so that the daemon
// also logged the owner's problem anew at every retry.
func TestFullOverlay(t *testing.T) {
	testenv.RequireRoot(t, "mounts a small tmpfs in a mount namespace of its own")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fullChildEnv+"="+t.TempDir())
	// The tmpfs stays in the child's namespace, private from the host's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.Bytes())
	}
	var rep fullReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("child's report %q: %v", out, err)
	}
	t.Logf("%+v", rep)
	if !rep.AllENOSPC || !rep.OldKept || len(rep.Temps) != 0 || !rep.Recovered {
		t.Errorf("want every failure ENOSPC, the old file kept, no temporary file, and a later write to work: %+v", rep)
	}
	for _, e := range rep.Errors {
		if strings.Contains(e, statefile.TempInfix) {
			t.Errorf("error %q names the temporary file", e)
		}
	}
	if rep.ErrorLines != 1 || rep.RepeatLines != len(rep.Errors)-1 || rep.AgainLines != 1 {
		t.Errorf("logged %d errors, %d repeats at debug level, %d recoveries; want 1, %d, 1",
			rep.ErrorLines, rep.RepeatLines, rep.AgainLines, len(rep.Errors)-1)
	}
}
