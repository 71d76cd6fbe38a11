package lab

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// TestLabOpenShell: a camera whose telnet gives a shell without asking
// for a login. When the workstation opens it across the bridge, the
// daemon files default_credentials (no password at all) about the camera
// and quarantines it; the workstation is no suspect.
func TestLabOpenShell(t *testing.T) {
	requireLab(t)
	devices := homeDevices()
	cam, ws := devices[0], devices[4]
	l := newLab(t, labOptions{tag: "o", devices: []host{cam, ws}})
	d := l.newDaemon(testenv.BuildDaemon(t, l.dir), l.daemonConfig("afpacket"))
	d.start(t)
	defer d.terminate()
	l.dhcp()

	telnetd, err := testenv.LookPath("telnetd")
	if err != nil {
		t.Fatal(err)
	}
	l.startDev(cam.role, "camera-telnetd", "busybox", "nc", "-ll", "-p", "23", "-e",
		telnetd, "--no-hostinfo", "--exec-login="+l.path("bin/open-shell.sh"))
	l.waitListen(cam.role, "tcp", 23)

	out, err := l.dev(ws.role, 20*time.Second, "expect", "-f", l.path("bin/telnet-shell.exp"), cam.ip)
	if err != nil {
		t.Fatalf("workstation's telnet to the camera got no shell: %v\n%s", err, out)
	}
	if err := poll(quarantineDeadline, pollEvery, func() (bool, string) {
		ok, err := l.setHas("block_mac", cam.mac)
		return ok, fmt.Sprintf("camera not in block_mac (%v)", err)
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.logs())
	}
	l.assertQuarantinedFor(t, d, cam, "block", "default_credentials/telnet")
	dev, err := d.device(cam.mac)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(dev.Findings, func(f apiFinding) bool {
		return f.Kind == "default_credentials" && f.Evidence["password_class"] == "none" && f.Evidence["mechanism"] == "no login"
	}) {
		t.Errorf("camera's findings, want the shell without a login:%s", findingSummaries(dev))
	}
	// The client is no suspect. (Its busybox DHCP client gets it
	// outdated_firmware findings of its own.)
	l.assertInNoQuarantineSet(t, ws)
	if dev, err := d.device(ws.mac); err != nil || slices.ContainsFunc(dev.Findings, func(f apiFinding) bool { return f.Kind == "default_credentials" }) {
		t.Errorf("workstation %+v (%v), want no default_credentials finding", dev, err)
	}
}
