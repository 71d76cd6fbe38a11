package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// builder makes the packages of one source tree.
type builder struct {
	repo       string
	src        source
	feed       *feedPackage
	version    string // ipk version, with the release: 0.1.0-1
	apkVersion string // apk version, with the release: 0.1.0-r1
	mtime      time.Time
}

func newBuilder(repo string, src source) (*builder, error) {
	feed, err := parseFeedMakefile(filepath.Join(repo, "openwrt", "iotgw", "Makefile"))
	if err != nil {
		return nil, err
	}
	apkVersion, err := src.apkVersion(feed.Version, feed.Release)
	if err != nil {
		return nil, err
	}
	return &builder{
		repo:       repo,
		src:        src,
		feed:       feed,
		version:    src.version(feed.Version) + "-" + feed.Release,
		apkVersion: apkVersion,
		mtime:      time.Unix(src.Epoch, 0).UTC(),
	}, nil
}

// secretLine is the line of iotgw.example.toml the package changes: the
// package's first-install script creates the key file.
const (
	secretLine    = `secret_file = ""`
	secretPackage = `secret_file = "/etc/iotgw/secret"`
)

// defaultConfig is iotgw.example.toml with the package's secret file, as
// the feed Makefile's install recipe makes it.
func defaultConfig(example []byte) ([]byte, error) {
	var out []string
	n := 0
	for _, l := range strings.Split(string(example), "\n") {
		if l == secretLine {
			l = secretPackage
			n++
		}
		out = append(out, l)
	}
	if n != 1 {
		return nil, fmt.Errorf("iotgw.example.toml: want exactly one line %q, found %d", secretLine, n)
	}
	return []byte(strings.Join(out, "\n")), nil
}

// iotgwFiles are the package's files but the binary, mirroring the feed
// Makefile's install recipe.
func (b *builder) iotgwFiles() ([]entry, error) {
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(b.repo, rel)) }
	example, err := read("iotgw.example.toml")
	if err != nil {
		return nil, err
	}
	conf, err := defaultConfig(example)
	if err != nil {
		return nil, err
	}
	files := []entry{{Path: "/etc/iotgw/iotgw.toml", Mode: 0o600, Data: conf}}
	for _, f := range []struct {
		src, dst string
		mode     int64
	}{
		{"iotgw.config", "/etc/config/iotgw", 0o600},
		{"iotgw.init", "/etc/init.d/iotgw", 0o755},
		{"iotgw.uci-defaults", "/etc/uci-defaults/90-iotgw", 0o755},
		{"iotgw.fw4-input.nft", "/usr/share/nftables.d/chain-pre/input/iotgw.nft", 0o644},
		{"iotgw.capabilities", "/etc/capabilities/iotgw.json", 0o644},
		{"iotgw.upgrade", "/lib/upgrade/keep.d/iotgw", 0o644},
	} {
		data, err := read(filepath.Join("openwrt", "iotgw", "files", f.src))
		if err != nil {
			return nil, err
		}
		files = append(files, entry{Path: f.dst, Mode: f.mode, Data: data})
	}
	// Only root may read what iotgw keeps: configuration, state, key.
	files = append(files, entry{Path: "/etc/iotgw", Dir: true, Mode: 0o700})
	return files, nil
}

// buildTags are the build tags of every shipped binary: net/http without
// HTTP/2, which no part of iotgw needs.
const buildTags = "nethttpomithttp2"

// goBuild builds cmd/iotgw for t: static, stripped, paths trimmed.
func (b *builder) goBuild(t target) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "iotgw-package-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "iotgw")
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", b.version, b.src.Commit)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", buildTags, "-ldflags", ldflags, "-o", bin, "./cmd/iotgw")
	cmd.Dir = b.repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.GOARCH, "GOARM="+t.GOARM, "GOMIPS="+t.GOMIPS, "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w: %s", err, stderr.String())
	}
	return os.ReadFile(bin)
}

// maintainerScript is the postinst or prerm OpenWrt's build generates:
// OpenWrt's default_postinst/default_prerm run uci-defaults, the
// package's own script (NAME.postinst-pkg / NAME.prerm-pkg) and
// enable/start or stop/disable the init scripts.
func maintainerScript(pkg, which string) []byte {
	return []byte("#!/bin/sh\n" + noScriptGuard + functionsPrologue(pkg) + fmt.Sprintf("default_%s \"$0\" \"$@\"\n", which))
}

// noScriptGuard skips a package's scripts when the installer is asked to.
const noScriptGuard = `[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0` + "\n"

// functionsPrologue loads OpenWrt's /lib/functions.sh (an image being
// built may not have it yet) and names the package and the root for its
// default_postinst and default_prerm.
func functionsPrologue(pkg string) string {
	return fmt.Sprintf(`[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
# shellcheck disable=SC1091
. "${IPKG_INSTROOT}/lib/functions.sh"
export root="${IPKG_INSTROOT}"
export pkgname=%q
`, pkg)
}

// description is the control file's multi-line Description value.
func description(title, text string) string {
	lines := []string{title}
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			l = "."
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n ")
}

// pkgMeta is what a package's ipk control file and apk .PKGINFO say of it.
type pkgMeta struct {
	Name, Section, License, Maintainer, URL, Title, Description string
	Depends                                                     []string // runtime, without libc
}

// depends are m's dependencies as OpenWrt's build gives them: libc first.
func (m pkgMeta) depends() []string { return append([]string{"libc"}, m.Depends...) }

func (b *builder) control(m pkgMeta, arch string) []controlField {
	return []controlField{
		{"Package", m.Name},
		{"Version", b.version},
		{"Depends", strings.Join(m.depends(), ", ")},
		{"Source", "feeds/iotgw/" + m.Name},
		{"SourceName", m.Name},
		{"License", m.License},
		{"Section", m.Section},
		{"SourceDateEpoch", strconv.FormatInt(b.src.Epoch, 10)},
		{"URL", m.URL},
		{"Maintainer", m.Maintainer},
		{"Architecture", arch},
		{"Installed-Size", ""},
		{"Description", description(m.Title, m.Description)},
	}
}

// pkginfo is .PKGINFO's fields but the datahash, as OpenWrt's build
// passes them to apk: the description on one line, origin the ipk's
// Source, one depend line for each dependency.
func (b *builder) pkginfo(m pkgMeta, arch string) []controlField {
	info := []controlField{
		{"pkgname", m.Name},
		{"pkgver", b.apkVersion},
		{"pkgdesc", strings.Join(strings.Fields(m.Description), " ")},
		{"url", m.URL},
		{"builddate", strconv.FormatInt(b.src.Epoch, 10)},
		{"size", ""},
		{"arch", arch},
		{"origin", "feeds/iotgw/" + m.Name},
		{"commit", b.src.Commit},
		{"maintainer", m.Maintainer},
		{"license", m.License},
	}
	for _, d := range m.depends() {
		info = append(info, controlField{"depend", d})
	}
	return info
}

// writeIotgw writes t's ipk and apk of iotgw, both with the same binary
// and files.
func (b *builder) writeIotgw(t target, dir string) ([]string, error) {
	f := b.feed
	files, err := b.iotgwFiles()
	if err != nil {
		return nil, err
	}
	bin, err := b.goBuild(t)
	if err != nil {
		return nil, err
	}
	files = append(files, entry{Path: "/usr/bin/iotgw", Mode: 0o755, Data: bin})
	m := pkgMeta{Name: f.Name, Section: f.Section, License: f.License, Maintainer: f.Maintainer,
		URL: f.URL, Title: f.Title, Description: f.Description, Depends: f.Depends}
	scripts := []entry{
		{Path: "/conffiles", Mode: 0o644, Data: []byte(strings.Join(f.Conffiles, "\n") + "\n")},
		{Path: "/postinst", Mode: 0o755, Data: maintainerScript(f.Name, "postinst")},
		{Path: "/prerm", Mode: 0o755, Data: maintainerScript(f.Name, "prerm")},
	}
	if f.Postinst != "" {
		scripts = append(scripts, entry{Path: "/postinst-pkg", Mode: 0o755, Data: []byte(f.Postinst)})
	}
	if f.Prerm != "" {
		scripts = append(scripts, entry{Path: "/prerm-pkg", Mode: 0o755, Data: []byte(f.Prerm)})
	}
	ipkName, err := b.write(&ipk{Control: b.control(m, t.Arch), Files: files, Scripts: scripts, MTime: b.mtime},
		dir, fmt.Sprintf("%s_%s_%s.ipk", f.Name, b.version, t.Arch))
	if err != nil {
		return nil, err
	}
	a := &apk{
		Info:    b.pkginfo(m, t.Arch),
		Files:   append(append([]entry(nil), files...), apkPackageFiles(f.Name, files, f.Conffiles)...),
		Scripts: apkScripts(f.Name, f.Postinst, f.Prerm),
		MTime:   b.mtime,
	}
	apkName, err := b.write(a, dir, b.apkName(f.Name, t.Arch))
	if err != nil {
		return nil, err
	}
	return []string{ipkName, apkName}, nil
}

// apkName is OpenWrt's name of an apk, NAME-VERSION.apk, in a directory
// named by its apk architecture, as OpenWrt's package repositories are
// laid out: apk's file name carries no architecture.
func (b *builder) apkName(pkg, arch string) string {
	return filepath.Join(arch, fmt.Sprintf("%s-%s.apk", pkg, b.apkVersion))
}

// luciPostinst is what LuCI's luci.mk adds: drop LuCI's caches and make
// rpcd read the new ACL.
const luciPostinst = `#!/bin/sh
[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
`

// writeLuCI writes luci-app-iotgw's ipk (architecture all) and apk
// (noarch, apk's name for it).
func (b *builder) writeLuCI(dir string) ([]string, error) {
	const name = "luci-app-iotgw"
	base := filepath.Join(b.repo, "openwrt", name)
	mk, err := readMakefile(filepath.Join(base, "Makefile"))
	if err != nil {
		return nil, err
	}
	var files []entry
	for _, f := range []struct{ src, dst string }{
		{"htdocs/luci-static/resources/view/iotgw/overview.js", "/www/luci-static/resources/view/iotgw/overview.js"},
		{"root/usr/share/luci/menu.d/luci-app-iotgw.json", "/usr/share/luci/menu.d/luci-app-iotgw.json"},
		{"root/usr/share/rpcd/acl.d/luci-app-iotgw.json", "/usr/share/rpcd/acl.d/luci-app-iotgw.json"},
	} {
		data, err := os.ReadFile(filepath.Join(base, f.src))
		if err != nil {
			return nil, err
		}
		files = append(files, entry{Path: f.dst, Mode: 0o644, Data: data})
	}
	m := pkgMeta{Name: name, Section: "luci", License: mk.vars["PKG_LICENSE"], Maintainer: mk.vars["PKG_MAINTAINER"],
		URL: b.feed.URL, Title: mk.vars["LUCI_TITLE"],
		Description: "A LuCI page under Services that links to iotgw's own page on this router.",
		Depends:     runtimeDepends(mk.vars["LUCI_DEPENDS"])}
	p := &ipk{
		Control: b.control(m, "all"),
		Files:   files,
		Scripts: []entry{
			{Path: "/postinst", Mode: 0o755, Data: maintainerScript(name, "postinst")},
			{Path: "/postinst-pkg", Mode: 0o755, Data: []byte(luciPostinst)},
			{Path: "/prerm", Mode: 0o755, Data: maintainerScript(name, "prerm")},
		},
		MTime: b.mtime,
	}
	ipkName, err := b.write(p, dir, fmt.Sprintf("%s_%s_all.ipk", name, b.version))
	if err != nil {
		return nil, err
	}
	a := &apk{
		Info:    b.pkginfo(m, "noarch"),
		Files:   append(append([]entry(nil), files...), apkPackageFiles(name, files, nil)...),
		Scripts: apkScripts(name, luciPostinst, ""),
		MTime:   b.mtime,
	}
	apkName, err := b.write(a, dir, b.apkName(name, "noarch"))
	if err != nil {
		return nil, err
	}
	return []string{ipkName, apkName}, nil
}

// archive is a package format: ipk or apk.
type archive interface {
	build(w io.Writer) error
}

// write builds p into dir/name (name may hold a directory) through a
// temporary file, so that an interrupted build leaves no partial package.
func (b *builder) write(p archive, dir, name string) (string, error) {
	var buf bytes.Buffer
	if err := p.build(&buf); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	dst := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	fmt.Printf("%s %d bytes\n", dst, buf.Len())
	return name, nil
}
