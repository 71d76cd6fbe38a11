package openwrt

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// An upgrade, by opkg or apk, restarts a daemon that runs, so that the
// new binary runs: the start OpenWrt's default_postinst gives the
// service leaves an instance whose command line is the same as it is.
// Whether the service starts at boot has nothing to do with it. A
// daemon that does not run is started as on install.
func TestUpgradeRestartsARunningDaemon(t *testing.T) {
	requireRoot(t, "chroot")
	installers := []struct {
		name, file string
		add        []string
	}{
		{"opkg", findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"), []string{"/bin/opkg", "install", "/tmp/iotgw.pkg"}},
		{"apk", findPackage(t, packagesDir(t), "x86_64/iotgw-*.apk"), []string{"/usr/bin/apk", "add", "--allow-untrusted", "/tmp/iotgw.pkg"}},
	}
	tests := []struct {
		name     string
		disabled bool // `service iotgw disable`: not started at boot
		running  bool
		want     string // in the procd calls of the upgrade
	}{
		{name: "enabled_running", running: true, want: "action restart"},
		{name: "disabled_running", disabled: true, running: true, want: "action restart"},
		{name: "enabled_stopped", want: "action start"},
	}
	for _, in := range installers {
		for _, tt := range tests {
			t.Run(in.name+"/"+tt.name, func(t *testing.T) {
				root := newRoot(t)
				copyFile(t, in.file, filepath.Join(root, "tmp/iotgw.pkg"), 0o644)
				sh := func(args ...string) {
					t.Helper()
					if out, err := inRoot(root, "", args...); err != nil {
						t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
					}
				}
				procd := func() string {
					b, _ := os.ReadFile(filepath.Join(root, "tmp/procd.log"))
					return string(b)
				}
				sh(in.add...)
				if tt.disabled {
					sh("/etc/init.d/iotgw", "disable")
				}
				if tt.running {
					// The procd stand-in takes the process in its pid
					// file for the daemon.
					daemon := exec.Command("sleep", "60")
					if err := daemon.Start(); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })
					writeRootFile(t, root, "var/run/iotgw.pid", strconv.Itoa(daemon.Process.Pid), 0o644)
				}
				before := len(procd())
				sh(in.add...)
				if upgrade := procd()[before:]; !strings.Contains(upgrade, tt.want) {
					t.Errorf("procd calls of the upgrade lack %q:\n%s", tt.want, upgrade)
				}
			})
		}
	}
}
