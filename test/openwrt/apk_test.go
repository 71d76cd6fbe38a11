package openwrt

import (
	"archive/tar"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// apkCase is a package built both ways: its ipk and its apk.
type apkCase struct {
	name, ipk, apk string // name, and the glob of each file
	arch           string // apk architecture
}

func apkCases() []apkCase {
	return []apkCase{
		{"iotgw", "iotgw_*_x86_64.ipk", "x86_64/iotgw-*.apk", "x86_64"},
		{"luci-app-iotgw", "luci-app-iotgw_*_all.ipk", "noarch/luci-app-iotgw-*.apk", "noarch"},
	}
}

// apkScriptNames are the control section's scripts after .PKGINFO.
var apkScriptNames = []string{".post-install", ".post-upgrade", ".pre-deinstall"}

// The container as apk-tools' reader takes it: no signature member (the
// package is unsigned), a control member that is a tar without its
// end-of-archive blocks and holds only hidden names (the first other
// name would start the data, and with a datahash fail the package), and
// a data member whose sha256 is .PKGINFO's datahash.
func TestAPKContainer(t *testing.T) {
	for _, tc := range apkCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := openAPK(t, findPackage(t, packagesDir(t), tc.apk))
			if len(p.Members) != 2 {
				t.Fatalf("%d gzip members, want 2: control and data", len(p.Members))
			}
			var names []string
			size := 0
			for _, m := range p.Control {
				names = append(names, m.Header.Name)
				size += 512 + (len(m.Data)+511)/512*512
				if m.Header.Typeflag != tar.TypeReg || strings.Contains(m.Header.Name, "/") {
					t.Errorf("control entry %q type %c: want a file named .NAME", m.Header.Name, m.Header.Typeflag)
				}
			}
			if got, want := strings.Join(names, " "), ".PKGINFO "+strings.Join(apkScriptNames, " "); got != want {
				t.Errorf("control entries %q, want %q", got, want)
			}
			// Headers and padded contents, and nothing after: no
			// end-of-archive blocks, no PAX headers.
			if len(p.ControlTar) != size {
				t.Errorf("control member is %d bytes of tar, its entries take %d", len(p.ControlTar), size)
			}
			if got, want := p.Info["datahash"], fmt.Sprintf("%x", sha256.Sum256(p.Members[1])); len(got) != 1 || got[0] != want {
				t.Errorf("datahash %q, want the data member's sha256 %s", got, want)
			}
			if !strings.HasSuffix(string(p.Control[0].Data), "\ndatahash = "+p.Info["datahash"][0]+"\n") {
				t.Error(".PKGINFO does not end with the datahash")
			}
			if !strings.HasSuffix(string(p.DataTar), strings.Repeat("\x00", 1024)) {
				t.Error("the data member does not end the tar")
			}
		})
	}
}

// The data is the ipk's, entry for entry (type, mode, owner, mtime,
// content), named as abuild names it (no "./", no entry for the root),
// and the three files OpenWrt's apk packages add; every file carries its
// SHA-1 for apk's database.
func TestAPKDataMatchesIPK(t *testing.T) {
	for _, tc := range apkCases() {
		t.Run(tc.name, func(t *testing.T) {
			ipk := openIPK(t, findPackage(t, packagesDir(t), tc.ipk))
			p := openAPK(t, findPackage(t, packagesDir(t), tc.apk))
			want := map[string]member{}
			for name, m := range ipk.Data {
				if name != "./" {
					want[strings.TrimPrefix(name, "./")] = m
				}
			}
			// /lib itself is new for a package that had nothing there.
			added := []string{"lib/", "lib/apk/", "lib/apk/packages/", "lib/apk/packages/" + tc.name + ".list"}
			if _, ok := ipk.Control["./conffiles"]; ok {
				added = append(added, "lib/apk/packages/"+tc.name+".conffiles", "lib/apk/packages/"+tc.name+".conffiles_static")
			}
			for name, m := range p.Data {
				w, ok := want[name]
				switch {
				case !ok && !slices.Contains(added, name):
					t.Errorf("%s: in the apk, not in the ipk", name)
				case ok:
					compareEntry(t, name, m, w)
				}
				h := m.Header
				if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != ipk.Outer[0].Header.ModTime.Unix() {
					t.Errorf("%s: owner %d:%d, mtime %v", name, h.Uid, h.Gid, h.ModTime)
				}
				sum := h.PAXRecords["APK-TOOLS.checksum.SHA1"]
				if h.Typeflag == tar.TypeReg && sum != fmt.Sprintf("%x", sha1.Sum(m.Data)) {
					t.Errorf("%s: APK-TOOLS.checksum.SHA1 %q, want the content's SHA-1", name, sum)
				}
				if h.Typeflag != tar.TypeReg && sum != "" {
					t.Errorf("%s: a checksum on a non-file", name)
				}
			}
			for name := range want {
				if _, ok := p.Data[name]; !ok {
					t.Errorf("%s: in the ipk, not in the apk", name)
				}
			}
			for _, name := range added {
				if _, ok := p.Data[name]; !ok {
					t.Errorf("%s: missing", name)
				}
			}
		})
	}
}

// compareEntry checks that an apk data entry is the ipk's.
func compareEntry(t *testing.T, name string, got, want member) {
	t.Helper()
	g, w := got.Header, want.Header
	if g.Typeflag != w.Typeflag || g.Mode != w.Mode || g.Linkname != w.Linkname ||
		g.Uname != w.Uname || g.Gname != w.Gname || string(got.Data) != string(want.Data) {
		t.Errorf("%s: type %c mode %o link %q owner %q:%q, %d bytes; the ipk's: type %c mode %o link %q owner %q:%q, %d bytes",
			name, g.Typeflag, g.Mode, g.Linkname, g.Uname, g.Gname, len(got.Data),
			w.Typeflag, w.Mode, w.Linkname, w.Uname, w.Gname, len(want.Data))
	}
}

// /lib/apk/packages as OpenWrt's include/package-pack.mk writes it:
// PKG.list lists the package's files and symlinks, sorted, written
// before the conffiles lists (so without them, and without itself);
// PKG.conffiles is the ipk's conffiles; PKG.conffiles_static each with
// the sha256 of the file as packaged.
func TestAPKPackageFiles(t *testing.T) {
	for _, tc := range apkCases() {
		t.Run(tc.name, func(t *testing.T) {
			ipk := openIPK(t, findPackage(t, packagesDir(t), tc.ipk))
			p := openAPK(t, findPackage(t, packagesDir(t), tc.apk))
			var list []string
			for name, m := range ipk.Data {
				if m.Header.Typeflag != tar.TypeDir {
					list = append(list, strings.TrimPrefix(name, "."))
				}
			}
			sort.Strings(list)
			dir := "lib/apk/packages/" + tc.name
			if got, want := string(p.Data[dir+".list"].Data), strings.Join(list, "\n")+"\n"; got != want {
				t.Errorf("%s.list:\n%s\nwant:\n%s", dir, got, want)
			}
			conffiles, ok := ipk.Control["./conffiles"]
			if !ok {
				return
			}
			if got := string(p.Data[dir+".conffiles"].Data); got != string(conffiles.Data) {
				t.Errorf("%s.conffiles %q, the ipk's %q", dir, got, conffiles.Data)
			}
			var static []string
			for _, c := range strings.Fields(string(conffiles.Data)) {
				static = append(static, fmt.Sprintf("%s %x", c, sha256.Sum256(p.Data[strings.TrimPrefix(c, "/")].Data)))
			}
			if got, want := string(p.Data[dir+".conffiles_static"].Data), strings.Join(static, "\n")+"\n"; got != want {
				t.Errorf("%s.conffiles_static:\n%s\nwant:\n%s", dir, got, want)
			}
		})
	}
}

// .PKGINFO says what the ipk's control file says, in apk's terms.
func TestAPKInfo(t *testing.T) {
	for _, tc := range apkCases() {
		t.Run(tc.name, func(t *testing.T) {
			ipk := openIPK(t, findPackage(t, packagesDir(t), tc.ipk))
			p := openAPK(t, findPackage(t, packagesDir(t), tc.apk))
			size := 0
			for _, m := range p.Data {
				if m.Header.Typeflag == tar.TypeReg {
					size += len(m.Data)
				}
			}
			// The description without its title, on one line.
			var desc []string
			for _, l := range strings.Split(ipk.Fields["Description"], "\n")[1:] {
				if l != "." {
					desc = append(desc, strings.Fields(l)...)
				}
			}
			fields := []struct {
				key  string
				want []string
			}{
				{"pkgname", []string{tc.name}},
				{"pkgver", []string{apkVersionOf(t, ipk.Fields["Version"])}},
				{"pkgdesc", []string{strings.Join(desc, " ")}},
				{"url", []string{ipk.Fields["URL"]}},
				{"builddate", []string{ipk.Fields["SourceDateEpoch"]}},
				{"size", []string{strconv.Itoa(size)}},
				{"arch", []string{tc.arch}},
				{"origin", []string{ipk.Fields["Source"]}},
				{"maintainer", []string{ipk.Fields["Maintainer"]}},
				{"license", []string{ipk.Fields["License"]}},
				{"depend", strings.Split(ipk.Fields["Depends"], ", ")},
			}
			for _, f := range fields {
				if got := p.Info[f.key]; strings.Join(got, "|") != strings.Join(f.want, "|") {
					t.Errorf("%s = %q, want %q", f.key, got, f.want)
				}
			}
			v := ipk.Fields["Version"]
			if c := p.Info["commit"]; len(c) != 1 || !regexp.MustCompile(`^[0-9a-f]{7,40}$`).MatchString(c[0]) ||
				(strings.Contains(v, "+git") && !strings.Contains(v, "."+c[0])) {
				t.Errorf("commit %q: want the commit the ipk's version %s names", c, v)
			}
		})
	}
}

// apkVersionOf is the apk version of a build with the ipk version v:
// 1.2.3-R, or 1.2.3+gitDATE.TIME.COMMIT[.dirty]-R →
// 1.2.3_gitDATETIME[_p1]-rR.
func apkVersionOf(t *testing.T, v string) string {
	t.Helper()
	m := regexp.MustCompile(`^(\d+\.\d+\.\d+)(?:\+git(\d{8})\.(\d{6})\.[0-9a-f]+(\.dirty)?)?-(\d+)$`).FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("ipk version %q", v)
	}
	out := m[1]
	if m[2] != "" {
		out += "_git" + m[2] + m[3]
	}
	if m[4] != "" {
		out += "_p1"
	}
	return out + "-r" + m[5]
}

// The scripts are OpenWrt's apk scripts around the ipk's own: the same
// prologue as the ipk's postinst and prerm, then the feed's postinst-pkg
// and prerm-pkg, whose "#!" line goes, inlined.
func TestAPKScripts(t *testing.T) {
	for _, tc := range apkCases() {
		t.Run(tc.name, func(t *testing.T) {
			ipk := openIPK(t, findPackage(t, packagesDir(t), tc.ipk))
			p := openAPK(t, findPackage(t, packagesDir(t), tc.apk))
			prologue := `[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
# shellcheck disable=SC1091
. "${IPKG_INSTROOT}/lib/functions.sh"
export root="${IPKG_INSTROOT}"
export pkgname="` + tc.name + `"
`
			body := func(name string) string {
				s := string(ipk.Control[name].Data)
				return strings.TrimPrefix(s, "#!/bin/sh\n")
			}
			install := "#!/bin/sh\n[ \"${IPKG_NO_SCRIPT}\" = \"1\" ] && exit 0\n" + prologue +
				"add_group_and_user\ndefault_postinst\n" + body("./postinst-pkg")
			want := map[string]string{
				".post-install":  install,
				".post-upgrade":  "#!/bin/sh\nexport PKG_UPGRADE=1\n" + strings.TrimPrefix(install, "#!/bin/sh\n"),
				".pre-deinstall": "#!/bin/sh\n" + prologue + "default_prerm\n" + body("./prerm-pkg"),
			}
			// The ipk's generated scripts load functions.sh the same way.
			if !strings.Contains(string(ipk.Control["./postinst"].Data), prologue) {
				t.Errorf("the ipk's postinst does not start as the apk's:\n%s", ipk.Control["./postinst"].Data)
			}
			for _, name := range apkScriptNames {
				m := p.controlEntry(name)
				if m == nil {
					t.Errorf("%s missing", name)
					continue
				}
				if m.Header.Mode != 0o755 {
					t.Errorf("%s: mode %o, want 0755", name, m.Header.Mode)
				}
				if string(m.Data) != want[name] {
					t.Errorf("%s:\n%s\nwant:\n%s", name, m.Data, want[name])
				}
			}
		})
	}
}

// GNU tar unpacks the apk (its gzip members are one tar) to the tree
// the ipk's data gives, with the control section's files and
// /lib/apk/packages besides.
func TestAPKUnpacksLikeIPK(t *testing.T) {
	for _, tc := range apkCases() {
		t.Run(tc.name, func(t *testing.T) {
			ipk := openIPK(t, findPackage(t, packagesDir(t), tc.ipk))
			ipkRoot, apkRoot := t.TempDir(), t.TempDir()
			unpackData(t, ipk, ipkRoot)
			untar(t, apkRoot, findPackage(t, packagesDir(t), tc.apk))
			want, got := treeOf(t, ipkRoot), treeOf(t, apkRoot)
			for _, extra := range append([]string{".PKGINFO", "lib/apk", "lib/apk/packages"}, apkScriptNames...) {
				delete(got, extra)
			}
			if _, ok := want["lib"]; !ok {
				delete(got, "lib")
			}
			for name := range got {
				if strings.HasPrefix(name, "lib/apk/packages/"+tc.name+".") {
					delete(got, name)
				}
			}
			for name, g := range got {
				if w, ok := want[name]; !ok || g != w {
					t.Errorf("%s: from the apk %s, from the ipk %q", name, g, w)
				}
			}
			for name := range want {
				if _, ok := got[name]; !ok {
					t.Errorf("%s: from the ipk, not from the apk", name)
				}
			}
		})
	}
}

// untar runs `tar -xzf file -C dir`.
func untar(t *testing.T, dir, file string) {
	t.Helper()
	if out, err := exec.Command("tar", "-xzf", file, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf %s: %v\n%s", file, err, out)
	}
}

// treeOf describes every path below root: type, mode, content's sha256
// or link target.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(data))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		rel, _ := filepath.Rel(root, path)
		tree[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// The apk's life in a scratch busybox root with the apk stand-in: add
// unpacks it and runs .post-install, whose default_postinst finds the
// package's files in /lib/apk/packages (runs the uci-defaults, enables
// and starts the service) and whose inlined postinst-pkg prints its
// message; adding it again runs .post-upgrade, which restarts the
// running daemon; del runs .pre-deinstall (stop, disable, the prerm-pkg's
// uninstall-rules) and removes the files but the conffiles. The
// daemon's own run is TestInstallRunRemove's: the binary is the ipk's.
func TestAPKInstallUpgradeRemove(t *testing.T) {
	requireRoot(t, "chroot")
	root := newRoot(t)
	copyFile(t, findPackage(t, packagesDir(t), "x86_64/iotgw-*.apk"), filepath.Join(root, "tmp/iotgw.apk"), 0o644)
	sh := func(args ...string) string {
		t.Helper()
		out, err := inRoot(root, "", args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	procd := func() string {
		b, _ := os.ReadFile(filepath.Join(root, "tmp/procd.log"))
		return string(b)
	}

	out := sh("/usr/bin/apk", "add", "--allow-untrusted", "/tmp/iotgw.apk")
	if !strings.Contains(out, "settings in /etc/iotgw/iotgw.toml") {
		t.Errorf("install output lacks the postinst-pkg message:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/uci-defaults/90-iotgw")); !os.IsNotExist(err) {
		t.Errorf("uci-defaults script still there (it failed, or did not run): %v", err)
	}
	// The daemon makes the key at its first start; the stand-in procd
	// runs none. The owner's key, made here, must survive the upgrade.
	const secret = "the owner's own key, kept\n"
	writeRootFile(t, root, "etc/iotgw/secret", secret, 0o600)
	p := openAPK(t, findPackage(t, packagesDir(t), "x86_64/iotgw-*.apk"))
	for name, m := range p.Data {
		if m.Header.Typeflag != tar.TypeReg || name == "etc/uci-defaults/90-iotgw" {
			continue
		}
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != os.FileMode(m.Header.Mode) {
			t.Errorf("%s: mode %v, want the package's %o", name, fi.Mode(), m.Header.Mode)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/rc.d/S95iotgw")); err != nil {
		t.Errorf("service not enabled: %v", err)
	}
	if !strings.Contains(procd(), "action start") {
		t.Errorf("service not started; procd calls:\n%s", procd())
	}

	// The daemon runs (the procd stand-in takes the process in its pid
	// file for it): the upgrade restarts it.
	daemon := exec.Command("sleep", "60")
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })
	writeRootFile(t, root, "var/run/iotgw.pid", strconv.Itoa(daemon.Process.Pid), 0o644)
	before := len(procd())
	sh("/usr/bin/apk", "add", "--allow-untrusted", "/tmp/iotgw.apk")
	if upgrade := procd()[before:]; !strings.Contains(upgrade, "action restart") {
		t.Errorf("the upgrade did not restart the service; procd calls:\n%s", upgrade)
	}
	if again, _ := os.ReadFile(filepath.Join(root, "etc/iotgw/secret")); string(again) != secret {
		t.Error("the upgrade changed the key")
	}

	// A stand-in binary records what the removal asks of it.
	writeRootFile(t, root, "usr/bin/iotgw", "#!/bin/sh\necho \"$*\" >>/tmp/calls\n", 0o755)
	sh("/usr/bin/apk", "del", "iotgw")
	calls, _ := os.ReadFile(filepath.Join(root, "tmp/calls"))
	if !strings.Contains(string(calls), "uninstall-rules --config /etc/iotgw/iotgw.toml") {
		t.Errorf("removal did not run uninstall-rules; calls:\n%s", calls)
	}
	for _, gone := range []string{"usr/bin/iotgw", "etc/init.d/iotgw", "etc/rc.d/S95iotgw", "lib/upgrade/keep.d/iotgw", "lib/apk/packages/iotgw.list"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s remains after removal (%v)", gone, err)
		}
	}
	for _, kept := range []string{"etc/iotgw/secret", "etc/iotgw/iotgw.toml", "etc/config/iotgw"} {
		if _, err := os.Stat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s: %v (the owner's data and configuration stay)", kept, err)
		}
	}
}
