package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// Addresses exist only inside the lab's namespaces: the LAN is
// 192.168.77.0/24, the "internet" is TEST-NET-3 (203.0.113.0/24, RFC 5737).
const (
	lanPrefix  = "192.168.77.0/24"
	routerLAN  = "192.168.77.1"
	routerWAN  = "203.0.113.1"
	cloudHost  = "203.0.113.10" // DNS, HTTP with Basic auth, MQTT, TLS, iperf3
	updateHost = "203.0.113.20" // the TV vendor's firmware server
	noticePort = 8088
	webPort    = 8443 // the page's default port, which the lab keeps

	routerMAC = "94:83:c4:77:00:01" // GL Technologies (a GL.iNet router)

	// plugPassword is the plug's MQTT password: long and unique, so the
	// daemon must classify it as a plaintext (not default or weak) login.
	plugPassword = "k9Tq-Wm4r-Zp7x-Lh2v"
	// cameraTelnetPassword is the camera's root password, a Mirai default.
	cameraTelnetPassword = "xc3511"
)

// host is one device on the LAN, in a namespace of its own.
type host struct {
	role     string // camera, plug, tv, laptop, workstation
	mac      string // with a real vendor OUI
	ip       string // the router's DHCP reservation
	hostname string // sent in the DHCP request (option 12)
	// dhclient: the device is a PC and leases with ISC dhclient; the
	// others use busybox udhcpc, as embedded devices do (whose vendor
	// class names busybox and its version).
	dhclient bool
}

// homeDevices are the devices of the acceptance test.
func homeDevices() []host {
	return []host{
		{"camera", "c0:56:e3:4c:a1:01", "192.168.77.101", "ipcam", false},            // Hikvision
		{"plug", "50:c7:bf:4c:a1:02", "192.168.77.102", "HS110", false},              // TP-Link
		{"tv", "8c:79:f5:4c:a1:03", "192.168.77.103", "samsung-tv", false},           // Samsung
		{"laptop", "3c:a9:f4:4c:a1:04", "192.168.77.104", "laptop", true},            // Intel
		{"workstation", "f8:bc:12:4c:a1:05", "192.168.77.105", "workstation", false}, // Dell
	}
}

// lab is a home network in network namespaces named <prefix><role>: a
// router with the LAN bridge br-lan and masquerade to wan0, a WAN
// namespace, and one namespace per device. Everything it starts and
// builds is torn down in t.Cleanup, also when the test fails.
type lab struct {
	t      *testing.T
	dir    string // configuration, scripts, logs
	prefix string
	hosts  map[string]host
	order  []string // device roles in the order given
	ipv6   bool

	mu    sync.Mutex
	procs []*exec.Cmd // background programs, each in its own process group
}

// labOptions selects what newLab starts besides the topology.
type labOptions struct {
	tag      string // distinguishes two labs of one test process
	devices  []host
	services bool // the WAN's DNS, HTTP, MQTT and TLS servers
	// ipv6 keeps IPv6 on: the router routes the LAN's global prefix to
	// the WAN and advertises it and a ULA prefix (see ipv6_test.go).
	ipv6 bool
}

func newLab(t *testing.T, opt labOptions) *lab {
	t.Helper()
	l := &lab{
		t:      t,
		dir:    t.TempDir(),
		prefix: fmt.Sprintf("iotgwlab-%d-%s-", os.Getpid(), opt.tag),
		hosts:  map[string]host{},
		ipv6:   opt.ipv6,
	}
	for _, h := range opt.devices {
		l.hosts[h.role] = h
		l.order = append(l.order, h.role)
	}
	// Registered before anything exists, so it runs after every other
	// cleanup of the test (they run last in, first out).
	t.Cleanup(l.teardown)
	l.installScripts()
	l.buildTopology()
	l.startRouterServices()
	if opt.services {
		l.startWANServices()
	}
	return l
}

// ns is the namespace of a role ("router", "wan", "camera" …).
func (l *lab) ns(role string) string { return l.prefix + role }

// roles are the router, the WAN and the devices, in that order.
func (l *lab) roles() []string {
	return append([]string{"router", "wan"}, l.order...)
}

// installScripts copies the fixtures into the lab's bin directory,
// executable.
func (l *lab) installScripts() {
	bin := filepath.Join(l.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		l.t.Fatal(err)
	}
	for _, name := range []string{"in-dev.sh", "udhcpc.script", "camera-login.sh", "telnet-login.exp", "open-shell.sh", "telnet-shell.exp", "ssdp-notify.py", "crowd.py", "dhclient.script", "dns-aaaa.py", "owner-setup.sh"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			l.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), data, 0o755); err != nil {
			l.t.Fatal(err)
		}
	}
	// Every device resolves through the router (dnsmasq on br-lan).
	for role := range l.hosts {
		l.writeFile(role+".resolv.conf", "nameserver "+routerLAN+"\n")
	}
}

func (l *lab) path(name string) string { return filepath.Join(l.dir, name) }

func (l *lab) writeFile(name, content string) string {
	p := l.path(name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func (l *lab) buildTopology() {
	for _, role := range l.roles() {
		l.must("ip", "netns", "add", l.ns(role))
		l.must("ip", "-n", l.ns(role), "link", "set", "lo", "up")
		if l.ipv6 {
			l.ipv6Sysctls(role)
			continue
		}
		// IPv4 only: the assertions are about IPv4, and no RS/MLD/DAD noise.
		l.must("ip", "netns", "exec", l.ns(role), "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	r, w := l.ns("router"), l.ns("wan")
	l.must("ip", "-n", r, "link", "add", "br-lan", "address", routerMAC, "type", "bridge",
		"stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
	l.must("ip", "-n", r, "addr", "add", routerLAN+"/24", "dev", "br-lan")
	l.must("ip", "-n", r, "link", "set", "br-lan", "up")

	l.must("ip", "-n", r, "link", "add", "wan0", "address", "94:83:c4:77:00:02", "type", "veth",
		"peer", "name", "eth0", "address", "02:00:cb:00:71:0a", "netns", w)
	l.must("ip", "-n", r, "addr", "add", routerWAN+"/24", "dev", "wan0")
	l.must("ip", "-n", r, "link", "set", "wan0", "up")
	l.must("ip", "-n", w, "addr", "add", cloudHost+"/24", "dev", "eth0")
	l.must("ip", "-n", w, "addr", "add", updateHost+"/24", "dev", "eth0")
	l.must("ip", "-n", w, "link", "set", "eth0", "up")
	l.noOffload(r, "br-lan")
	l.noOffload(r, "wan0")
	l.noOffload(w, "eth0")

	l.must("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	// OpenWrt has no br_netfilter: if the module is loaded on this host,
	// keep bridged frames out of the inet hooks so only iotgw's bridge
	// table can cut LAN-to-LAN traffic.
	_ = l.cmd(context.Background(), "ip", "netns", "exec", r, "sysctl", "-qw",
		"net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-arptables=0").Run()
	// The lab's own NAT table, beside iotgw's: masquerade to the WAN, and
	// nothing forwarded outside TEST-NET-3.
	l.must("ip", "netns", "exec", r, "nft", "-f", l.writeFile("nat.nft", `table ip iotgwlab {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		oifname "wan0" ip daddr != 203.0.113.0/24 drop
	}
}
`))

	for _, role := range l.order {
		h := l.hosts[role]
		port := "lan-" + role
		l.must("ip", "-n", r, "link", "add", port, "type", "veth",
			"peer", "name", "eth0", "address", h.mac, "netns", l.ns(role))
		l.must("ip", "-n", r, "link", "set", port, "master", "br-lan", "up")
		l.noOffload(r, port)
		l.noOffload(l.ns(role), "eth0")
		// eth0 stays down until the DHCP client brings it up.
	}
	if l.ipv6 {
		l.buildIPv6()
	}
}

// noOffload turns TSO/GSO/GRO off, so every frame the capture sees is
// wire-sized (veths and bridges would otherwise pass 64 KB super-frames)
// and the router forwards packets as a home router does.
func (l *lab) noOffload(ns, dev string) {
	_ = l.cmd(context.Background(), "ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off").Run()
}

// startRouterServices runs dnsmasq on br-lan: DHCP with a reservation per
// device, and DNS forwarded to the WAN's server.
func (l *lab) startRouterServices() {
	var b strings.Builder
	// Also on 127.0.0.1, as OpenWrt's dnsmasq: iotgw's DNS proxy forwards
	// there.
	fmt.Fprintf(&b, "no-resolv\nno-hosts\ninterface=br-lan\nlisten-address=127.0.0.1\nbind-interfaces\nserver=%s\n", cloudHost)
	fmt.Fprintf(&b, "domain=lan\nlocal=/lan/\ndhcp-range=192.168.77.100,192.168.77.150,255.255.255.0,12h\n")
	fmt.Fprintf(&b, "dhcp-option=option:router,%s\ndhcp-option=option:dns-server,%s\ndhcp-authoritative\n", routerLAN, routerLAN)
	if l.ipv6 {
		b.WriteString(routerAdverts)
	}
	fmt.Fprintf(&b, "dhcp-leasefile=%s\npid-file=\nuser=root\nlog-dhcp\nlog-facility=%s\n", l.path("router-dnsmasq.leases"), l.path("router-dnsmasq.log"))
	for _, role := range l.order {
		if h := l.hosts[role]; h.ip != "" {
			fmt.Fprintf(&b, "dhcp-host=%s,%s\n", h.mac, h.ip)
		}
	}
	l.start("router", "router-dnsmasq", "dnsmasq", "-k", "-C", l.writeFile("router-dnsmasq.conf", b.String()))
	l.waitListen("router", "udp", 67)
	l.waitListen("router", "udp", 53)
}

// startWANServices runs the internet side: DNS (dnsmasq), the camera
// cloud's HTTP with Basic auth (busybox httpd), the update host, the
// plug's MQTT broker (mosquitto with a password file) and a TLS server.
func (l *lab) startWANServices() {
	l.writeFile("wan-dnsmasq.conf", fmt.Sprintf(`no-resolv
no-hosts
bind-interfaces
listen-address=%[1]s
local-ttl=300
host-record=cloud.example-camera.com,%[1]s
host-record=broker.example-plug.com,%[1]s
host-record=www.example-news.com,%[1]s
host-record=fw.example-tv.com,%[2]s
local=/example-camera.com/example-plug.com/example-news.com/example-tv.com/
pid-file=
user=root
log-queries
log-facility=%[3]s
`, cloudHost, updateHost, l.path("wan-dnsmasq.log")))
	l.start("wan", "wan-dnsmasq", "dnsmasq", "-k", "-C", l.path("wan-dnsmasq.conf"))

	for _, d := range []string{"www/api", "update"} {
		if err := os.MkdirAll(l.path(d), 0o755); err != nil {
			l.t.Fatal(err)
		}
	}
	l.writeFile("www/index.html", "<html><body>example cloud</body></html>\n")
	l.writeFile("www/api/status.json", `{"device":"ipcam","status":"online"}`+"\n")
	l.writeFile("www/bulk.bin", strings.Repeat("b", bulkFileSize))
	// busybox httpd: /api needs Basic auth admin:admin (the camera's
	// cloud account, a factory default), the rest is open.
	l.writeFile("httpd.conf", "/api:admin:admin\n.json:application/json\n")
	l.start("wan", "wan-httpd", "busybox", "httpd", "-f", "-p", cloudHost+":80", "-h", l.path("www"),
		"-c", l.path("httpd.conf"), "-r", "example-camera cloud")
	l.writeFile("update/firmware.bin", firmwareImage)
	l.start("wan", "wan-update-httpd", "busybox", "httpd", "-f", "-p", updateHost+":80", "-h", l.path("update"))

	l.must("mosquitto_passwd", "-c", "-b", l.path("mosquitto.passwd"), "plug01", plugPassword)
	if err := os.Chmod(l.path("mosquitto.passwd"), 0o600); err != nil {
		l.t.Fatal(err)
	}
	l.writeFile("mosquitto.conf", fmt.Sprintf(`listener 1883 %s
allow_anonymous false
password_file %s
persistence false
user root
log_dest file %s
`, cloudHost, l.path("mosquitto.passwd"), l.path("wan-mosquitto.log")))
	l.start("wan", "wan-mosquitto", "mosquitto", "-c", l.path("mosquitto.conf"))

	l.must("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", l.path("tls.key"), "-out", l.path("tls.crt"), "-days", "2",
		"-subj", "/CN=cloud.example-camera.com",
		"-addext", "subjectAltName=DNS:cloud.example-camera.com,DNS:www.example-news.com")
	l.start("wan", "wan-tls", "openssl", "s_server", "-quiet", "-accept", cloudHost+":443",
		"-cert", l.path("tls.crt"), "-key", l.path("tls.key"), "-www")

	l.waitListen("wan", "udp", 53)
	l.waitListen("wan", "tcp", 80)
	l.waitListen("wan", "tcp", 1883)
	l.waitListen("wan", "tcp", 443)
}

// bulkFileSize is the size of the cloud's /bulk.bin, a download that
// spends every capture budget.
const bulkFileSize = 4 << 20

// firmwareImage is the update host's /firmware.bin.
const firmwareImage = "EXFW\x01\x00\x00\x00 example TV firmware 2.0.1, signed\n"

// dhcp gives every device its lease, in parallel, and checks the
// reserved address.
func (l *lab) dhcp() {
	var wg sync.WaitGroup
	errs := make(chan error, len(l.hosts))
	for _, h := range l.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.lease(h); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		l.t.Error(err)
	}
	if l.t.Failed() {
		l.t.FailNow()
	}
}

// lease runs the device's DHCP client, sending its host name: busybox
// udhcpc once, or ISC dhclient in the background (it stays to renew, as
// on a real PC), and waits for the reserved address.
func (l *lab) lease(h host) error {
	if h.dhclient {
		conf := l.writeFile(h.role+".dhclient.conf", fmt.Sprintf("send host-name %q;\n"+
			"request subnet-mask, broadcast-address, time-offset, routers, domain-name, domain-name-servers, host-name, ntp-servers;\n", h.hostname))
		if _, err := l.spawn(h.role+"-dhclient", l.devArgs(h.role, "dhclient", "-4", "-d", "-1", "-cf", conf,
			"-lf", l.path(h.role+".dhclient.leases"), "-pf", l.path(h.role+".dhclient.pid"),
			"-sf", l.path("bin/dhclient.script"), "eth0")); err != nil {
			return err
		}
	} else {
		out, err := l.dev(h.role, 20*time.Second, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
			"-t", "5", "-T", "1", "-A", "1", "-s", l.path("bin/udhcpc.script"), "-x", "hostname:"+h.hostname)
		if err != nil {
			return fmt.Errorf("%s: no DHCP lease: %v\n%s", h.role, err, out)
		}
	}
	var got string
	return poll(20*time.Second, 100*time.Millisecond, func() (bool, string) {
		got, _ = l.output(5*time.Second, "ip", "-n", l.ns(h.role), "-4", "-o", "addr", "show", "dev", "eth0")
		return strings.Contains(got, " "+h.ip+"/24 "), fmt.Sprintf("%s: want %s/24 from DHCP, got %q", h.role, h.ip, got)
	})
}

// cmd is a command in its own process group, so that stopping it stops
// what it started (telnetd under nc, a shell loop's children).
func (l *lab) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 2 * time.Second
	return c
}

// output runs a command to completion within timeout and returns its
// combined output.
func (l *lab) output(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var buf bytes.Buffer
	c := l.cmd(ctx, name, args...)
	c.Stdout, c.Stderr = &buf, &buf
	err := c.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), timeout)
	}
	return buf.String(), err
}

// must runs a set-up command and fails the test when it fails.
func (l *lab) must(name string, args ...string) string {
	l.t.Helper()
	out, err := l.output(30*time.Second, name, args...)
	if err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// in runs a command in a role's namespace.
func (l *lab) in(role string, timeout time.Duration, args ...string) (string, error) {
	return l.output(timeout, "ip", append([]string{"netns", "exec", l.ns(role)}, args...)...)
}

// devArgs is the command line that runs args as a device: in its
// namespace, with its resolv.conf.
func (l *lab) devArgs(role string, args ...string) []string {
	return append([]string{"netns", "exec", l.ns(role), l.path("bin/in-dev.sh"), l.path(role + ".resolv.conf")}, args...)
}

// dev runs a command as a device.
func (l *lab) dev(role string, timeout time.Duration, args ...string) (string, error) {
	return l.output(timeout, "ip", l.devArgs(role, args...)...)
}

// start runs a program in a role's namespace in the background, its
// output in <logName>.log; teardown stops it.
func (l *lab) start(role, logName string, args ...string) *exec.Cmd {
	l.t.Helper()
	return l.startArgs(logName, append([]string{"netns", "exec", l.ns(role)}, args...))
}

// startDev is start as a device (with its resolv.conf).
func (l *lab) startDev(role, logName string, args ...string) *exec.Cmd {
	l.t.Helper()
	return l.startArgs(logName, l.devArgs(role, args...))
}

func (l *lab) startArgs(logName string, ipArgs []string) *exec.Cmd {
	l.t.Helper()
	c, err := l.spawn(logName, ipArgs)
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// spawn starts `ip ipArgs...` in the background with its output in
// <logName>.log and remembers it for teardown.
func (l *lab) spawn(logName string, ipArgs []string) (*exec.Cmd, error) {
	logf, err := os.OpenFile(l.path(logName+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	c := l.cmd(context.Background(), "ip", ipArgs...)
	c.Stdout, c.Stderr = logf, logf
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start ip %s: %w", strings.Join(ipArgs, " "), err)
	}
	l.mu.Lock()
	l.procs = append(l.procs, c)
	l.mu.Unlock()
	return c, nil
}

// waitListen waits until something listens on proto/port in role's
// namespace.
func (l *lab) waitListen(role, proto string, port int) {
	l.t.Helper()
	flag := "-Hlnt"
	if proto == "udp" {
		flag = "-Hlnu"
	}
	err := poll(10*time.Second, 50*time.Millisecond, func() (bool, string) {
		out, _ := l.output(5*time.Second, "ip", "netns", "exec", l.ns(role), "ss", flag, "sport = :"+strconv.Itoa(port))
		return strings.TrimSpace(out) != "", fmt.Sprintf("nothing listens on %s/%d in %s", proto, port, l.ns(role))
	})
	if err != nil {
		l.t.Fatalf("%v; logs:\n%s", err, l.logs())
	}
}

// appendLog adds a marker line to a log, to help reading it.
func (l *lab) appendLog(logName, line string) {
	f, err := os.OpenFile(l.path(logName+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintln(f, line)
	f.Close()
}

// logs returns the tail of every log of the lab, for failure messages.
func (l *lab) logs() string {
	files, _ := filepath.Glob(l.path("*.log"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// teardown stops every program the lab started, then anything still
// running in its namespaces (children that left their process group),
// then deletes the namespaces, which takes their links and nftables
// tables with them.
func (l *lab) teardown() {
	if l.t.Failed() {
		l.t.Logf("lab logs:\n%s", l.logs())
	}
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); testenv.Stop(c, 3*time.Second) }()
	}
	wg.Wait()
	for _, role := range l.roles() {
		ns := l.ns(role)
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		out, _ := l.output(5*time.Second, "ip", "netns", "pids", ns)
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if out, err := l.output(10*time.Second, "ip", "netns", "del", ns); err != nil {
			l.t.Errorf("teardown: ip netns del %s: %v\n%s", ns, err, out)
		}
	}
}
