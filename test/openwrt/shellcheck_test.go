package openwrt

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Every shell script the packages ship or run passes shellcheck. OpenWrt
// runs them with busybox ash; shellcheck has no busybox dialect, and dash
// is the closest it knows that has `local`, as ash does.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatalf("shellcheck not installed (scripts/deps.sh test installs it): %v", err)
	}
	iotgw := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))
	luci := openIPK(t, findPackage(t, packagesDir(t), "luci-app-iotgw_*_all.ipk"))
	iotgwAPK := openAPK(t, findPackage(t, packagesDir(t), "x86_64/iotgw-*.apk"))
	luciAPK := openAPK(t, findPackage(t, packagesDir(t), "noarch/luci-app-iotgw-*.apk"))
	scripts := map[string][]byte{
		"init.d/iotgw":                iotgw.Data["./etc/init.d/iotgw"].Data,
		"uci-defaults/90-iotgw":       iotgw.Data["./etc/uci-defaults/90-iotgw"].Data,
		"iotgw.postinst":              iotgw.Control["./postinst"].Data,
		"iotgw.postinst-pkg":          iotgw.Control["./postinst-pkg"].Data,
		"iotgw.prerm":                 iotgw.Control["./prerm"].Data,
		"iotgw.prerm-pkg":             iotgw.Control["./prerm-pkg"].Data,
		"luci-app-iotgw.postinst":     luci.Control["./postinst"].Data,
		"luci-app-iotgw.postinst-pkg": luci.Control["./postinst-pkg"].Data,
		"luci-app-iotgw.prerm":        luci.Control["./prerm"].Data,
	}
	for _, name := range apkScriptNames {
		for pkg, p := range map[string]*apkg{"iotgw": iotgwAPK, "luci-app-iotgw": luciAPK} {
			if m := p.controlEntry(name); m != nil {
				scripts["apk/"+pkg+name] = m.Data
			} else {
				scripts["apk/"+pkg+name] = nil
			}
		}
	}
	dir := t.TempDir()
	for name, data := range scripts {
		t.Run(name, func(t *testing.T) {
			if len(data) == 0 {
				t.Fatal("script missing from the package")
			}
			path := filepath.Join(dir, filepath.Base(name))
			if err := os.WriteFile(path, data, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sc, "-s", "dash", "-S", "style", path).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", name, err, out)
			}
		})
	}
}
