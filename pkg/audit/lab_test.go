//go:build linux

package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
)

// The lab: a router namespace with a LAN bridge (10.96.0.1/24) and six
// device namespaces running real Debian servers, three with a factory
// default login and three twins with a unique password:
//
//	10.96.0.11 camera   inetutils telnetd, login root/xc3511
//	10.96.0.21 camera   inetutils telnetd, root with a unique password
//	10.96.0.12 webcam   busybox httpd, Basic admin/admin
//	10.96.0.22 webcam   busybox httpd, admin with a unique password
//	10.96.0.13 nas      OpenSSH sshd, admin/admin
//	10.96.0.23 nas      OpenSSH sshd, admin with a unique password
//
// The telnet login program is a shell script standing in for the
// firmware's /bin/login (BusyBox-style prompts), as the demo recording
// does; sshd checks a private passwd/shadow bind-mounted in its own mount
// namespace, so no account is created on the host. The auditor dials from
// the router namespace through the Scheduler. Every login the servers see
// is counted from their own logs.

const (
	labRouterIP = "10.96.0.1"
	labPrefix   = 24
	labUnique   = "Zq7-Lab-unique-Pw!" // no default list holds it
)

type labDevice struct {
	name    string
	ip      string
	service string // telnet, http, ssh
	user    string
	pass    string
	def     bool // the password is a factory default
	ns      string
	dir     string
}

func requireLab(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t, "needs root for network and mount namespaces")
	for tool, pkg := range map[string]string{
		"ip": "iproute2", "busybox": "busybox", "unshare": "util-linux", "openssl": "openssl",
		"/usr/sbin/telnetd": "inetutils-telnetd", "/usr/sbin/sshd": "openssh-server", "ssh-keygen": "openssh-client",
	} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian package %s): %v", tool, pkg, err)
		}
	}
}

// labStart runs a long-lived program in ns; cleanup kills its process
// group (the namespace cleanup catches any stragglers).
func labStart(t *testing.T, ns, logFile string, args ...string) {
	t.Helper()
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		log.Close()
	})
}

// nsDialer dials from inside a namespace: the auditor's view from the
// router.
type nsDialer struct{ ns string }

func (d nsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := netnstest.Run(d.ns, func() error {
		var nd net.Dialer
		var err error
		c, err = nd.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// routerHolderOf asks the router's neighbour table in the namespace
// router who holds an address on br0, as the daemon asks it.
func routerHolderOf(t *testing.T, router string) func(netip.Addr) (hwaddr.MAC, bool) {
	holderOf := netwatch.HolderOf([]string{"br0"})
	return func(a netip.Addr) (mac hwaddr.MAC, ok bool) {
		if err := netnstest.Run(router, func() error { mac, ok = holderOf(a); return nil }); err != nil {
			t.Error(err)
		}
		return mac, ok
	}
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// telnetLoginScript is the device's login program: BusyBox-style
// prompts, one line per password received in ATTEMPTS, only USER/PASS
// accepted.
const telnetLoginScript = `#!/bin/sh
clean() { printf '%s' "$1" | tr -d '\r\000'; }
for try in 1 2 3; do
	printf 'ipcam login: '
	IFS= read -r user || exit 1
	printf 'Password: '
	stty -echo 2>/dev/null || true
	IFS= read -r pass || exit 1
	stty echo 2>/dev/null || true
	echo attempt >>"$ATTEMPTS"
	printf '\n'
	if [ "$(clean "$user")" = "$USER_OK" ] && [ "$(clean "$pass")" = "$PASS_OK" ]; then
		printf '\n\nBusyBox v1.19.3 (2016-05-12 10:11:45 CST) built-in shell (ash)\n\n'
		while printf '# ' && IFS= read -r cmd; do
			case $(clean "$cmd") in exit) exit 0 ;; esac
		done
		exit 0
	fi
	printf 'Login incorrect\n'
done
exit 1
`

func (d *labDevice) start(t *testing.T) {
	t.Helper()
	switch d.service {
	case "telnet":
		login := filepath.Join(d.dir, "login")
		// telnetd passes the login program a clean environment: the
		// settings go in the script itself.
		writeFile(t, login, strings.Replace(telnetLoginScript, "#!/bin/sh\n", fmt.Sprintf(
			"#!/bin/sh\nATTEMPTS=%s\nUSER_OK=%s\nPASS_OK='%s'\n", filepath.Join(d.dir, "attempts"), d.user, d.pass), 1), 0o755)
		wrapper := filepath.Join(d.dir, "telnetd")
		writeFile(t, wrapper, "#!/bin/sh\nexec /usr/sbin/telnetd --no-hostinfo --exec-login="+login+"\n", 0o755)
		writeFile(t, filepath.Join(d.dir, "attempts"), "", 0o644)
		labStart(t, d.ns, filepath.Join(d.dir, "nc.log"), "busybox", "nc", "-ll", "-p", "23", "-e", wrapper)
	case "http":
		www := filepath.Join(d.dir, "www")
		if err := os.Mkdir(www, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(www, "index.html"), "<html>camera</html>\n", 0o644)
		writeFile(t, filepath.Join(d.dir, "httpd.conf"), fmt.Sprintf("/:%s:%s\n", d.user, d.pass), 0o600)
		labStart(t, d.ns, filepath.Join(d.dir, "httpd.log"), "busybox", "httpd", "-f", "-vv", "-p", d.ip+":80",
			"-h", www, "-c", filepath.Join(d.dir, "httpd.conf"), "-r", "IP Camera")
	case "ssh":
		d.startSSH(t)
	}
}

func (d *labDevice) startSSH(t *testing.T) {
	t.Helper()
	dir := d.dir
	netnstest.Cmd(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "hostkey"))
	hash, err := exec.Command("openssl", "passwd", "-6", "-salt", "iotgwlab", d.pass).Output()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "passwd"), "root:x:0:0:root:/root:/bin/sh\n"+
		"sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"+
		d.user+":x:2222:2222:"+d.user+":/nonexistent:/bin/sh\n", 0o644)
	writeFile(t, filepath.Join(dir, "group"), "root:x:0:\nnogroup:x:65534:\n"+d.user+":x:2222:\n", 0o644)
	writeFile(t, filepath.Join(dir, "shadow"), "root:*:19700:0:99999:7:::\nsshd:*:19700:0:99999:7:::\n"+
		"nobody:*:19700:0:99999:7:::\n"+d.user+":"+strings.TrimSpace(string(hash))+":19700:0:99999:7:::\n", 0o640)
	writeFile(t, filepath.Join(dir, "sshd_config"), fmt.Sprintf(`ListenAddress %s:22
HostKey %s
PidFile none
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
StrictModes no
LogLevel VERBOSE
`, d.ip, filepath.Join(dir, "hostkey")), 0o644)
	// The device's accounts exist only in its own mount namespace.
	run := filepath.Join(dir, "run-sshd")
	writeFile(t, run, fmt.Sprintf(`#!/bin/sh
set -e
mount --bind %[1]s/passwd /etc/passwd
mount --bind %[1]s/group /etc/group
mount --bind %[1]s/shadow /etc/shadow
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd
exec /usr/sbin/sshd -D -e -f %[1]s/sshd_config -E %[1]s/sshd.log
`, dir), 0o755)
	labStart(t, d.ns, filepath.Join(dir, "run.log"), "unshare", "--mount", "--propagation", "private", run)
}

// logins counts the logins the device's server saw, from its own log.
// For busybox httpd, which does not log credentials, it is every
// answered request but the auditor's one unauthenticated probe.
func (d *labDevice) logins(t *testing.T) int {
	t.Helper()
	var file string
	var match func(string) bool
	switch d.service {
	case "telnet":
		file, match = "attempts", func(l string) bool { return l == "attempt" }
	case "http":
		file, match = "httpd.log", func(l string) bool { return strings.Contains(l, "response:") }
	case "ssh":
		file, match = "sshd.log", func(l string) bool { return strings.Contains(l, " password for ") }
	}
	f, err := os.Open(filepath.Join(d.dir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if match(sc.Text()) {
			n++
		}
	}
	if d.service == "http" {
		n-- // the probe
	}
	return n
}

// waitReady connects from the router until the device's port answers.
func waitReady(t *testing.T, dialer nsDialer, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := dialer.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered", addr)
}

// testWriter sends the auditor's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func TestLabAuditFindsExactlyTheDefaults(t *testing.T) {
	requireLab(t)
	base := t.TempDir()
	router := netnstest.New(t, "iotgwaud", "rtr")
	netnstest.Cmd(t, "ip", "-n", router, "link", "add", "br0", "type", "bridge")
	netnstest.Cmd(t, "ip", "-n", router, "addr", "add", fmt.Sprintf("%s/%d", labRouterIP, labPrefix), "dev", "br0")
	netnstest.Cmd(t, "ip", "-n", router, "link", "set", "br0", "up")

	devices := []*labDevice{
		{name: "tel-def", ip: "10.96.0.11", service: "telnet", user: "root", pass: "xc3511", def: true},
		{name: "tel-unq", ip: "10.96.0.21", service: "telnet", user: "root", pass: labUnique},
		{name: "web-def", ip: "10.96.0.12", service: "http", user: "admin", pass: "admin", def: true},
		{name: "web-unq", ip: "10.96.0.22", service: "http", user: "admin", pass: labUnique},
		{name: "ssh-def", ip: "10.96.0.13", service: "ssh", user: "admin", pass: "admin", def: true},
		{name: "ssh-unq", ip: "10.96.0.23", service: "ssh", user: "admin", pass: labUnique},
	}
	dialer := nsDialer{ns: router}
	port := map[string]string{"telnet": "23", "http": "80", "ssh": "22"}
	macOf := func(i int) hwaddr.MAC { return hwaddr.MAC{0x02, 0x96, 0, 0, 0, byte(i + 1)} }
	for i, d := range devices {
		d.ns = netnstest.New(t, "iotgwaud", d.name)
		d.dir = filepath.Join(base, d.name)
		if err := os.Mkdir(d.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		veth := fmt.Sprintf("p%d", i)
		netnstest.Cmd(t, "ip", "-n", router, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", d.ns)
		netnstest.Cmd(t, "ip", "-n", router, "link", "set", veth, "master", "br0", "up")
		netnstest.Cmd(t, "ip", "-n", d.ns, "addr", "add", fmt.Sprintf("%s/%d", d.ip, labPrefix), "dev", "eth0")
		netnstest.Cmd(t, "ip", "-n", d.ns, "link", "set", "eth0", "address", macOf(i).String(), "up")
		d.start(t)
	}
	for _, d := range devices {
		waitReady(t, dialer, d.ip+":"+port[d.service])
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, d := range devices { // the servers' own account of what happened
			for _, f := range []string{"nc.log", "attempts", "httpd.log", "sshd.log", "run.log"} {
				if b, err := os.ReadFile(filepath.Join(d.dir, f)); err == nil && len(b) > 0 {
					t.Logf("%s %s:\n%s", d.name, f, b)
				}
			}
		}
	})

	a := newAuditor(t, dialer, func(o *Options) {
		o.AttemptDelay = 20 * time.Millisecond
		o.PortDelay = 5 * time.Millisecond
		o.ResponseTimeout = 5 * time.Second
		o.LAN = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/24")}
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
		o.HolderOf = routerHolderOf(t, router)
	})
	// A device that left; its last address is tel-def's now. Its audit
	// must not reach tel-def, whose server counts every login.
	left := hwaddr.MAC{0x02, 0x96, 0, 0, 0, 0x99}
	sink := &sliceSink{}
	var mu sync.Mutex
	reports := map[hwaddr.MAC]Report{}
	done := make(chan struct{}, len(devices)+1)
	s, err := NewScheduler(a, sink, SchedulerOptions{QueueSize: len(devices) + 1, Logger: quietLogger(),
		Done: func(tg Target, r Report, err error) {
			if tg.MAC == left {
				if !errors.Is(err, ErrNotPresent) {
					t.Errorf("audit of the device that left: %v, want %v", err, ErrNotPresent)
				}
			} else if err != nil {
				t.Errorf("audit %s: %v", tg.MAC, err)
			}
			mu.Lock()
			reports[tg.MAC] = r
			mu.Unlock()
			done <- struct{}{}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	if err := s.Request(Target{MAC: left, Addrs: []netip.Addr{netip.MustParseAddr(devices[0].ip)}}); err != nil {
		t.Fatal(err)
	}
	for i, d := range devices {
		if err := s.Request(Target{MAC: macOf(i), Addrs: []netip.Addr{netip.MustParseAddr(d.ip)}}); err != nil {
			t.Fatal(err)
		}
	}
	for range len(devices) + 1 {
		<-done
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, d := range devices {
		mac := macOf(i)
		rep := reports[mac]
		var found []*event.Event
		var exposed, banners []*event.Event
		for _, e := range sink.evs {
			if e.Device.MAC != mac.String() {
				continue
			}
			switch e.Kind {
			case event.KindDefaultCredentials:
				found = append(found, e)
			case event.KindExposedService:
				exposed = append(exposed, e)
			case event.KindBanner:
				banners = append(banners, e)
			}
		}
		seen := d.logins(t)
		t.Logf("%s (%s %s): open %v, attempts %d (server saw %d), stop %s", d.name, d.ip, d.service,
			rep.OpenPorts, rep.Attempts, seen, rep.Stop)
		if seen != rep.Attempts || seen > DefaultMaxAttempts {
			t.Errorf("%s: server saw %d logins, report says %d, cap %d", d.name, seen, rep.Attempts, DefaultMaxAttempts)
		}
		if d.def {
			if len(found) != 1 || found[0].Evidence["protocol"] != d.service || !found[0].Verified ||
				found[0].Evidence["user"] != "r***" && found[0].Evidence["user"] != "a***" {
				t.Errorf("%s: default findings %v", d.name, found)
			}
		} else {
			if len(found) != 0 {
				t.Errorf("%s: unique password reported as default: %+v", d.name, found[0])
			}
			if rep.Stop != StopCap || rep.Attempts != DefaultMaxAttempts {
				t.Errorf("%s: stop %s after %d attempts, want the cap", d.name, rep.Stop, rep.Attempts)
			}
		}
		if (d.service == "telnet") != (len(exposed) == 1) {
			t.Errorf("%s: exposed-service findings %d", d.name, len(exposed))
		}
		if d.service == "ssh" && (len(banners) != 1 || !strings.HasPrefix(banners[0].Evidence["banner"], "SSH-2.0-OpenSSH_")) {
			t.Errorf("%s: banners %+v", d.name, banners)
		}
		noSecret(t, sink.evs, labUnique, "xc3511")
	}
}

// TestLabAddressTakenByAnotherHost: a device left the LAN and DHCP gave
// its address to another host, with no service open, that announced
// nothing; the router's neighbour table still holds the device's MAC,
// stale. The port check's first connects go to the old MAC and time out
// until the kernel gives up on it and resolves the address anew; the
// next ones reach the other host, which refuses them. That is no port
// check of the device: once the kernel places the address at another
// host, the audit stops, files nothing and ends with ErrNotPresent, so
// that it is not counted as done.
func TestLabAddressTakenByAnotherHost(t *testing.T) {
	requireLab(t)
	router := netnstest.New(t, "iotgwaud", "rtr")
	const addr = "10.96.0.31"
	devMAC := hwaddr.MAC{0x02, 0x96, 0, 0, 0, 0x31}
	netnstest.Cmd(t, "ip", "-n", router, "link", "add", "br0", "type", "bridge")
	netnstest.Cmd(t, "ip", "-n", router, "addr", "add", fmt.Sprintf("%s/%d", labRouterIP, labPrefix), "dev", "br0")
	netnstest.Cmd(t, "ip", "-n", router, "link", "set", "br0", "up")
	var dev, other string
	for i, h := range []struct {
		ns  *string
		mac hwaddr.MAC
	}{{&dev, devMAC}, {&other, hwaddr.MAC{0x02, 0x96, 0, 0, 0, 0x32}}} {
		*h.ns = netnstest.New(t, "iotgwaud", fmt.Sprintf("h%d", i))
		port := fmt.Sprintf("p%d", i)
		netnstest.Cmd(t, "ip", "-n", router, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", *h.ns)
		netnstest.Cmd(t, "ip", "-n", router, "link", "set", port, "master", "br0", "up")
		netnstest.Cmd(t, "ip", "-n", *h.ns, "link", "set", "eth0", "address", h.mac.String(), "up")
	}
	netnstest.Cmd(t, "ip", "-n", dev, "addr", "add", fmt.Sprintf("%s/%d", addr, labPrefix), "dev", "eth0")
	netnstest.ServeName(t, dev, addr+":23", "device", nil)
	dialer := nsDialer{ns: router}
	waitReady(t, dialer, addr+":23") // the router learns the device's MAC
	// The device leaves, the other host gets its address, time passes:
	// the router's entry for the address is stale, still the device's.
	netnstest.Cmd(t, "ip", "-n", dev, "addr", "flush", "dev", "eth0")
	netnstest.Cmd(t, "ip", "-n", other, "addr", "add", fmt.Sprintf("%s/%d", addr, labPrefix), "dev", "eth0")
	netnstest.Cmd(t, "ip", "-n", router, "neigh", "change", addr, "dev", "br0", "nud", "stale")

	a := newAuditor(t, dialer, func(o *Options) {
		o.PortDelay, o.ConnectTimeout = DefaultPortDelay, DefaultConnectTimeout
		o.LAN = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/24")}
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
		o.HolderOf = routerHolderOf(t, router)
	})
	rep, evs, err := a.Audit(context.Background(), Target{MAC: devMAC, Addrs: []netip.Addr{netip.MustParseAddr(addr)}})
	if !errors.Is(err, ErrNotPresent) {
		t.Errorf("Audit: %v, want ErrNotPresent (report %+v)", err, rep)
	}
	for _, ev := range evs {
		t.Errorf("filed about the device from another host's ports: %s %q", ev.Kind, ev.Summary)
	}
}
