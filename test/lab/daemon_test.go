package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/capdrop"
	"github.com/iotgw/iotgw/pkg/api"
)

// daemon is one `iotgw run` in the router's namespace.
type daemon struct {
	l      *lab
	bin    string
	config string
	socket string
	cmd    *exec.Cmd
	runs   int
}

// daemonConfig is the lab's iotgw.toml: enforce, capture on br-lan, act
// at once (no grace period), block quarantines, the TV vendor's update
// host allowed through the DNS proxy, state in the lab's directory.
// captureMode is "afpacket" or "nflog".
func (l *lab) daemonConfig(captureMode string) string {
	return l.writeFile("iotgw-"+captureMode+".toml", fmt.Sprintf(`[lan]
prefixes = [%q]

[policy]
mode = "enforce"
grace = "0s"
quarantine_mode = "block"

[daemon]
socket = %q
router_addresses = [%q]
log_level = "debug"

[capture]
mode = %q
interfaces = ["br-lan"]

[quarantine]
notice_port = %d

[dnsproxy]
update_domains = ["fw.example-tv.com"]

[store]
path = %q
write_interval = "1m"
`, lanPrefix, l.path("iotgw.sock"), routerLAN, captureMode, noticePort, l.path("state.json")))
}

func (l *lab) newDaemon(bin, config string) *daemon {
	return &daemon{l: l, bin: bin, config: config, socket: l.path("iotgw.sock")}
}

// start runs the daemon and waits until its capture runs and its
// nftables table is in place; t is the (sub)test that waits.
func (d *daemon) start(t *testing.T) {
	t.Helper()
	d.spawn(t)
	d.waitUp(t)
}

// spawn starts the daemon without waiting for it.
func (d *daemon) spawn(t *testing.T) {
	t.Helper()
	d.runs++
	cmd, err := d.l.spawn("iotgw", []string{"netns", "exec", d.l.ns("router"), d.bin, "run", "--config", d.config})
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	d.l.appendLog("iotgw", fmt.Sprintf("=== lab: iotgw run #%d, pid %d", d.runs, d.cmd.Process.Pid))
}

// waitUp waits until the spawned daemon's capture runs and its nftables
// table is in place.
func (d *daemon) waitUp(t *testing.T) {
	t.Helper()
	c := api.NewClient(d.socket)
	err := poll(20*time.Second, 100*time.Millisecond, func() (bool, string) {
		if !running(d.cmd.Process.Pid) {
			return false, "the daemon exited"
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := c.Status(ctx)
		if err != nil {
			return false, fmt.Sprintf("status: %v", err)
		}
		if s.Capture != "running" {
			return false, fmt.Sprintf("capture %q, problems %v", s.Capture, s.Problems)
		}
		if _, err := d.l.in("router", 5*time.Second, "nft", "list", "table", "inet", "iotgw"); err != nil {
			return false, "no table inet iotgw"
		}
		return true, ""
	})
	if err != nil {
		t.Fatalf("iotgw did not come up: %v\n%s", err, d.l.logs())
	}
	// Everything the lab then checks, the daemon does with these alone.
	st, err := capdrop.ReadState(d.pid())
	if err != nil {
		t.Fatal(err)
	}
	if st.Effective != capdrop.Daemon || st.Bounding != capdrop.Daemon || !st.NoNewPrivs {
		t.Fatalf("iotgw runs with capabilities %v (bounding %v, no_new_privs %v), want %v alone", st.Effective, st.Bounding, st.NoNewPrivs, capdrop.Daemon)
	}
}

// kill sends SIGKILL to the daemon alone, as a crash would.
func (d *daemon) kill() error {
	if err := d.cmd.Process.Kill(); err != nil {
		return err
	}
	_ = d.cmd.Wait()
	return nil
}

// terminate sends SIGTERM, as procd does on stop, and returns the exit
// status.
func (d *daemon) terminate() (int, error) {
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), nil
		}
		return 0, err
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		return -1, fmt.Errorf("iotgw did not stop within 10s of SIGTERM")
	}
}

// pid is the daemon's process id (`ip netns exec` execs it).
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// cli runs an iotgw sub-command in the router's namespace with the lab's
// configuration.
func (d *daemon) cli(args ...string) (string, error) {
	full := append([]string{d.bin, args[0], "--config", d.config}, args[1:]...)
	return d.l.in("router", 15*time.Second, full...)
}

// states is `iotgw devices`: MAC → state.
func (d *daemon) states() (map[string]string, error) {
	out, err := d.cli("devices")
	if err != nil {
		return nil, fmt.Errorf("iotgw devices: %v: %s", err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 {
			m[f[0]] = f[1]
		}
	}
	return m, nil
}

// apiDevice is the part of the API's device record the lab reads. The
// lab decodes it itself, leniently, so that it checks the daemon's
// answer rather than sharing the client's types.
type apiDevice struct {
	MAC        string    `json:"mac"`
	State      string    `json:"state"`
	Vendor     string    `json:"vendor"`
	Type       string    `json:"type"`
	Addrs      []string  `json:"addresses"`
	Hostnames  []string  `json:"hostnames"`
	LastSeen   time.Time `json:"last_seen"`
	Quarantine *struct {
		Mode   string `json:"mode"`
		By     string `json:"by"`
		Reason string `json:"reason"`
	} `json:"quarantine"`
	Findings []apiFinding   `json:"findings"`
	Identity map[string]any `json:"identity"`
}

type apiFinding struct {
	Kind     string            `json:"kind"`
	Summary  string            `json:"summary"`
	Evidence map[string]string `json:"evidence"`
}

// getJSON decodes the daemon's answer to GET path (below /api/v1).
func (d *daemon) getJSON(path string, out any) error {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, "unix", d.socket)
	}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	resp, err := hc.Get("http://iotgw" + api.Version + path)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	return nil
}

// device reads one device from the daemon's API.
func (d *daemon) device(mac string) (apiDevice, error) {
	var devs []apiDevice
	if err := d.getJSON("/devices", &devs); err != nil {
		return apiDevice{}, err
	}
	for _, dev := range devs {
		if dev.MAC == mac {
			return dev, nil
		}
	}
	return apiDevice{}, fmt.Errorf("the daemon does not know %s", mac)
}

// eventSummaries are the latest events of one kind about a device, as
// "summary {evidence}" lines, for failure messages.
func (d *daemon) eventSummaries(mac, kind string) string {
	var evs []struct {
		Summary  string            `json:"summary"`
		Evidence map[string]string `json:"evidence"`
	}
	if err := d.getJSON("/events?limit=3&mac="+mac+"&kind="+kind, &evs); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %s %v", ev.Summary, ev.Evidence)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// findingKinds lists a device's finding kinds with their protocol, e.g.
// "default_credentials/http".
func findingKinds(dev apiDevice) []string {
	var out []string
	for _, f := range dev.Findings {
		k := f.Kind
		if p := f.Evidence["protocol"]; p != "" {
			k += "/" + p
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// setElements reads the sets of iotgw's inet table: set name → element
// values, each with its comment (the owning MAC) when there is one.
func (l *lab) setElements() (map[string][]string, error) {
	out, err := l.in("router", 5*time.Second, "nft", "-j", "list", "table", "inet", "iotgw")
	if err != nil {
		return nil, fmt.Errorf("nft list table inet iotgw: %v: %s", err, out)
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Name string            `json:"name"`
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, fmt.Errorf("nft -j: %w", err)
	}
	sets := map[string][]string{}
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		var elems []string
		for _, raw := range o.Set.Elem {
			elems = append(elems, elementText(raw))
		}
		sort.Strings(elems)
		sets[o.Set.Name] = elems
	}
	return sets, nil
}

// elementText renders one element of nft's JSON: a bare value, or
// {"elem": {"val": …, "comment": …, "timeout": …}}; timeouts are left out
// (they count down).
func elementText(raw json.RawMessage) string {
	var wrapped struct {
		Elem *struct {
			Val     json.RawMessage `json:"val"`
			Comment string          `json:"comment"`
		} `json:"elem"`
	}
	if json.Unmarshal(raw, &wrapped) == nil && wrapped.Elem != nil {
		s := strings.Trim(string(wrapped.Elem.Val), `"`)
		if wrapped.Elem.Comment != "" {
			s += " comment " + wrapped.Elem.Comment
		}
		return s
	}
	return strings.Trim(string(raw), `"`)
}

// inSet reports whether value is an element of set (ignoring comments).
func inSet(sets map[string][]string, set, value string) bool {
	for _, e := range sets[set] {
		if e == value || strings.HasPrefix(e, value+" ") {
			return true
		}
	}
	return false
}

// setHas reports whether set holds value, from nft's JSON of that set alone
// (cheap enough to poll every 20 ms).
func (l *lab) setHas(set, value string) (bool, error) {
	out, err := l.in("router", 5*time.Second, "nft", "-j", "list", "set", "inet", "iotgw", set)
	if err != nil {
		return false, fmt.Errorf("nft list set %s: %v: %s", set, err, out)
	}
	return strings.Contains(out, `"`+value+`"`), nil
}

// expiresRE matches the counting-down part of an element with a timeout.
var expiresRE = regexp.MustCompile(` expires [0-9hmsd]+`)

// tableText is `nft -a list table FAMILY iotgw` (rule handles included)
// without the remaining time of elements.
func (l *lab) tableText(family string) (string, error) {
	out, err := l.in("router", 5*time.Second, "nft", "-a", "list", "table", family, "iotgw")
	if err != nil {
		return "", fmt.Errorf("nft -a list table %s iotgw: %v: %s", family, err, out)
	}
	return expiresRE.ReplaceAllString(out, ""), nil
}

// procUsage is a process's CPU time (user+system) and resident set: its
// peak, now, and now split into anonymous memory (the Go heap, stacks)
// and pages mapped from files (the binary, the capture ring).
type procUsage struct {
	cpu    time.Duration
	hwmKB  int
	rssKB  int
	anonKB int
	fileKB int
}

func readUsage(pid int) (procUsage, error) {
	var u procUsage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime and stime are 14 and 15.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return u, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return u, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	// USER_HZ is 100 on every Linux architecture the daemon targets.
	u.cpu = time.Duration(ut+st) * 10 * time.Millisecond
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmHWM:":
			u.hwmKB, _ = strconv.Atoi(f[1])
		case "VmRSS:":
			u.rssKB, _ = strconv.Atoi(f[1])
		case "RssAnon:":
			u.anonKB, _ = strconv.Atoi(f[1])
		case "RssFile:":
			u.fileKB, _ = strconv.Atoi(f[1])
		}
	}
	return u, nil
}

// running reports whether pid is alive and not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// cameraLoginQuarantines has the camera log in to its cloud with its
// factory default (HTTP Basic admin:admin, once the cloud's 401 asked for
// it: a 200 to credentials sent unasked would not show the cloud needed
// them) and asserts the daemon blocks it for that.
func (l *lab) cameraLoginQuarantines(t *testing.T, d *daemon, cam host) {
	t.Helper()
	out, err := l.dev("camera", 10*time.Second, "curl", "-sS", "--max-time", "3", "--anyauth", "-u", "admin:admin",
		"-o", "/dev/null", "-w", "%{http_code}", "http://"+cloudHost+"/api/status.json")
	if err != nil || strings.TrimSpace(out) != "200" {
		t.Fatalf("camera's cloud login: %q, %v", out, err)
	}
	if err := poll(quarantineDeadline, pollEvery, func() (bool, string) {
		ok, err := l.setHas("block_mac", cam.mac)
		return ok, fmt.Sprintf("camera %s not in block_mac (%v)", cam.mac, err)
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.logs())
	}
	l.assertQuarantinedFor(t, d, cam, "block", "default_credentials/http")
}
