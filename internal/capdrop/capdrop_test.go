package capdrop

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/testenv"
)

// The test binary runs itself as the program to narrow: with childEnv
// set, TestMain runs child instead of the tests.
const (
	childEnv = "CAPDROP_TEST_CHILD"
	stageEnv = "CAPDROP_TEST_STAGE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(child(dir))
	}
	os.Exit(m.Run())
}

// childReport is what the narrowed program says about itself.
type childReport struct {
	PID   int
	Stage int // how many times the program had started when it reported
	State State
	// The errors of what it tried after narrowing; "" is success.
	WriteForeignDir, PacketSocket string
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func child(foreignDir string) int {
	stage, _ := strconv.Atoi(os.Getenv(stageEnv))
	stage++
	os.Setenv(stageEnv, strconv.Itoa(stage)) // what the exec passes on
	if stage > 3 {
		os.Stderr.WriteString("child: executed itself more than twice\n")
		return 3
	}
	if err := Narrow(NetAdmin | NetRaw); err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		return 2
	}
	r := childReport{PID: os.Getpid(), Stage: stage}
	var err error
	if r.State, err = ReadState(0); err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		return 2
	}
	r.WriteForeignDir = errString(os.WriteFile(filepath.Join(foreignDir, "x"), nil, 0o600))
	if fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
		r.PacketSocket = err.Error()
	} else {
		unix.Close(fd)
	}
	out, _ := json.Marshal(&r)
	os.Stdout.Write(out)
	return 0
}

func TestNarrowAsRoot(t *testing.T) {
	testenv.RequireRoot(t, "needs root")
	// A directory only another user may write in: root writes there
	// only with CAP_DAC_OVERRIDE.
	foreign := t.TempDir()
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+foreign, stageEnv+"=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var got childReport
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("child's report %q: %v", out, err)
	}
	want := NetAdmin | NetRaw
	if got.PID != cmd.Process.Pid {
		t.Errorf("narrowed program has pid %d, started as %d: not executed in place", got.PID, cmd.Process.Pid)
	}
	if got.Stage != 2 {
		t.Errorf("program started %d times, want 2 (once, then once narrowed)", got.Stage)
	}
	for name, set := range map[string]Set{"effective": got.State.Effective, "permitted": got.State.Permitted, "bounding": got.State.Bounding} {
		if set != want {
			t.Errorf("%s set = %v, want %v", name, set, want)
		}
	}
	if got.State.Ambient != 0 {
		t.Errorf("ambient set = %v, want none", got.State.Ambient)
	}
	if !got.State.NoNewPrivs {
		t.Error("no_new_privs is not set")
	}
	if !strings.Contains(got.WriteForeignDir, "permission denied") {
		t.Errorf("writing in another user's 0700 directory: err %q, want permission denied (CAP_DAC_OVERRIDE kept?)", got.WriteForeignDir)
	}
	if got.PacketSocket != "" {
		t.Errorf("AF_PACKET socket with CAP_NET_RAW kept: %s", got.PacketSocket)
	}
}

func TestParseStatus(t *testing.T) {
	const full = "Name:\tiotgw\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\n"
	const narrow = "CapPrm:\t0000000000003400\nCapEff:\t0000000000003400\nCapBnd:\t0000000000003400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	tests := []struct {
		name    string
		in      string
		want    State
		wantErr string
	}{
		{name: "root", in: full, want: State{Effective: 0x1ffffffffff, Permitted: 0x1ffffffffff, Bounding: 0x1ffffffffff}},
		{name: "narrowed", in: narrow, want: State{Effective: Daemon, Permitted: Daemon, Bounding: Daemon, NoNewPrivs: true}},
		{name: "bad hex", in: strings.Replace(narrow, "CapEff:\t0000000000003400", "CapEff:\tzz", 1), wantErr: "CapEff"},
		{name: "missing line", in: strings.Replace(narrow, "CapAmb:\t0000000000000000\n", "", 1), wantErr: "no capability lines"},
		{name: "empty", in: "", wantErr: "no capability lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSetString(t *testing.T) {
	tests := []struct {
		in   Set
		want string
	}{
		{0, "none"},
		{Daemon, "net_bind_service,net_admin,net_raw"},
		{1<<unix.CAP_SYS_ADMIN | 1<<45, "sys_admin,45"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Set(%#x).String() = %q, want %q", uint64(tt.in), got, tt.want)
		}
	}
}

func TestReadStateOfMissingProcess(t *testing.T) {
	// Process IDs stop well below this (pid_max is at most 2^22).
	if _, err := ReadState(1 << 30); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}
