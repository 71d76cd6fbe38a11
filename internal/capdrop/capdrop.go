// Package capdrop narrows the Linux capabilities of the daemon to the few
// it uses, so that a flaw in a parser of device traffic cannot become
// full root: no loading kernel modules, no reading or writing any file
// whatever its owner, no tracing other processes.
//
// A Go program cannot drop capabilities from all of its threads with
// capset: syscall.AllThreadsSyscall is refused in cgo builds, and
// OpenWrt's SDK builds Go packages with cgo. The package uses the rule
// of exec instead: a process running as root that executes a program
// gets the capabilities of its bounding set. Narrow cuts the bounding set
// of one thread and executes the same program from it, in place.
package capdrop

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Set is a set of capabilities, bit n standing for capability n as
// numbered in linux/capability.h.
type Set uint64

// The capabilities iotgw names.
const (
	NetBindService Set = 1 << unix.CAP_NET_BIND_SERVICE
	NetAdmin       Set = 1 << unix.CAP_NET_ADMIN
	NetRaw         Set = 1 << unix.CAP_NET_RAW
)

// Daemon is what `iotgw run` uses: nftables, conntrack, NFLOG and the
// other netlink families (NET_ADMIN), the AF_PACKET ring (NET_RAW), and
// the DNS proxy's and pages' ports below 1024 (NET_BIND_SERVICE).
const Daemon = NetAdmin | NetRaw | NetBindService

func capName(n int) string {
	switch n {
	case unix.CAP_CHOWN:
		return "chown"
	case unix.CAP_DAC_OVERRIDE:
		return "dac_override"
	case unix.CAP_DAC_READ_SEARCH:
		return "dac_read_search"
	case unix.CAP_FOWNER:
		return "fowner"
	case unix.CAP_KILL:
		return "kill"
	case unix.CAP_SETUID:
		return "setuid"
	case unix.CAP_SETPCAP:
		return "setpcap"
	case unix.CAP_NET_BIND_SERVICE:
		return "net_bind_service"
	case unix.CAP_NET_ADMIN:
		return "net_admin"
	case unix.CAP_NET_RAW:
		return "net_raw"
	case unix.CAP_SYS_MODULE:
		return "sys_module"
	case unix.CAP_SYS_PTRACE:
		return "sys_ptrace"
	case unix.CAP_SYS_ADMIN:
		return "sys_admin"
	case unix.CAP_BPF:
		return "bpf"
	}
	return strconv.Itoa(n)
}

// String names the capabilities, as capsh does without the "cap_"
// prefix; numbers stand for the ones without a name here.
func (s Set) String() string {
	if s == 0 {
		return "none"
	}
	var b strings.Builder
	for rest := uint64(s); rest != 0; rest &= rest - 1 {
		n := bits.TrailingZeros64(rest)
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(capName(n))
	}
	return b.String()
}

// State is a process's capability sets and its no_new_privs flag.
type State struct {
	Effective, Permitted, Bounding, Ambient Set
	NoNewPrivs                              bool
}

// ReadState reads the state of process pid from /proc; 0 is the calling
// process.
func ReadState(pid int) (State, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(path)
	if err != nil {
		return State{}, fmt.Errorf("capabilities: %w", err)
	}
	defer f.Close()
	st, err := parseStatus(f)
	if err != nil {
		return State{}, fmt.Errorf("capabilities: %s: %w", path, err)
	}
	return st, nil
}

// parseStatus reads the Cap* and NoNewPrivs lines of a proc status file.
func parseStatus(r io.Reader) (State, error) {
	var st State
	fields := map[string]*Set{"CapEff": &st.Effective, "CapPrm": &st.Permitted, "CapBnd": &st.Bounding, "CapAmb": &st.Ambient}
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if key == "NoNewPrivs" {
			st.NoNewPrivs = value == "1"
			continue
		}
		dst, ok := fields[key]
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(value, 16, 64)
		if err != nil {
			return State{}, fmt.Errorf("%s: %w", key, err)
		}
		*dst = Set(n)
		seen++
	}
	if err := sc.Err(); err != nil {
		return State{}, err
	}
	if seen != len(fields) {
		return State{}, errors.New("no capability lines (CapEff, CapPrm, CapBnd, CapAmb)")
	}
	return st, nil
}

// Narrow leaves the program with no capability outside keep and with
// no_new_privs set. If it runs as root with more in its bounding set, it
// executes the same program in place (same process ID, arguments and
// environment) from a thread whose bounding set is cut to keep, and
// returns only if that fails. Without root, or once narrowed, it
// returns nil at once: a program given capabilities some other way keeps
// them.
//
// SIGHUP, which asks the daemon to reload, is ignored across the exec:
// its default action would kill the program before the new image listens
// for it.
func Narrow(keep Set) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := ReadState(0)
	if err != nil {
		return err
	}
	// Only the bounding set decides: it is what the exec changes, so a
	// narrowed program never executes itself again (no_new_privs is not
	// in /proc on every kernel).
	if st.Bounding&^keep == 0 {
		return nil
	}
	signal.Ignore(syscall.SIGHUP)
	done := make(chan error, 1)
	go func() {
		// Never unlocked: when the exec fails, this thread, whose
		// bounding set is already cut, ends with the goroutine
		// instead of going back to run other goroutines.
		runtime.LockOSThread()
		done <- narrowAndExec(st.Bounding &^ keep)
	}()
	// On failure SIGHUP stays ignored until the caller asks for it
	// with signal.Notify.
	return <-done
}

// narrowAndExec runs on a locked thread: the bounding set and
// no_new_privs belong to the thread, and execve gives the new image the
// calling thread's.
func narrowAndExec(drop Set) error {
	for rest := uint64(drop); rest != 0; rest &= rest - 1 {
		c := bits.TrailingZeros64(rest)
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("capabilities: drop %s from the bounding set: %w", Set(1)<<c, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("capabilities: set no_new_privs: %w", err)
	}
	// /proc/self/exe still opens when the package manager has replaced
	// the file on disk since the program started.
	if err := syscall.Exec("/proc/self/exe", os.Args, os.Environ()); err != nil {
		return fmt.Errorf("capabilities: execute %s again: %w", os.Args[0], err)
	}
	return nil
}
