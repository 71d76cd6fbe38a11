package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// builder makes the packages of one source tree.
type builder struct {
	repo    string
	src     source
	feed    *feedPackage
	version string // package version, with the release: 0.1.0-1
	mtime   time.Time
}

func newBuilder(repo string, src source) (*builder, error) {
	feed, err := parseFeedMakefile(filepath.Join(repo, "openwrt", "iotgw", "Makefile"))
	if err != nil {
		return nil, err
	}
	return &builder{
		repo:    repo,
		src:     src,
		feed:    feed,
		version: src.version(feed.Version) + "-" + feed.Release,
		mtime:   time.Unix(src.Epoch, 0).UTC(),
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
		{"iotgw.secret.sh", "/usr/share/iotgw/secret.sh", 0o644},
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
	return []byte(fmt.Sprintf(`#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
# shellcheck disable=SC1091
. "${IPKG_INSTROOT}/lib/functions.sh"
export root="${IPKG_INSTROOT}"
export pkgname=%q
default_%s "$0" "$@"
`, pkg, which))
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

func (b *builder) control(pkg, arch, section, license, maintainer, url, title, text string, depends []string) []controlField {
	return []controlField{
		{"Package", pkg},
		{"Version", b.version},
		{"Depends", strings.Join(append([]string{"libc"}, depends...), ", ")},
		{"Source", "feeds/iotgw/" + pkg},
		{"SourceName", pkg},
		{"License", license},
		{"Section", section},
		{"SourceDateEpoch", strconv.FormatInt(b.src.Epoch, 10)},
		{"URL", url},
		{"Maintainer", maintainer},
		{"Architecture", arch},
		{"Installed-Size", ""},
		{"Description", description(title, text)},
	}
}

func (b *builder) writeIotgw(t target, dir string) (string, error) {
	f := b.feed
	files, err := b.iotgwFiles()
	if err != nil {
		return "", err
	}
	bin, err := b.goBuild(t)
	if err != nil {
		return "", err
	}
	files = append(files, entry{Path: "/usr/bin/iotgw", Mode: 0o755, Data: bin})
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
	p := &ipk{
		Control: b.control(f.Name, t.Arch, f.Section, f.License, f.Maintainer, f.URL, f.Title, f.Description, f.Depends),
		Files:   files,
		Scripts: scripts,
		MTime:   b.mtime,
	}
	return b.write(p, dir, fmt.Sprintf("%s_%s_%s.ipk", f.Name, b.version, t.Arch))
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

func (b *builder) writeLuCI(dir string) (string, error) {
	const name = "luci-app-iotgw"
	base := filepath.Join(b.repo, "openwrt", name)
	mk, err := readMakefile(filepath.Join(base, "Makefile"))
	if err != nil {
		return "", err
	}
	var files []entry
	for _, f := range []struct{ src, dst string }{
		{"htdocs/luci-static/resources/view/iotgw/overview.js", "/www/luci-static/resources/view/iotgw/overview.js"},
		{"root/usr/share/luci/menu.d/luci-app-iotgw.json", "/usr/share/luci/menu.d/luci-app-iotgw.json"},
		{"root/usr/share/rpcd/acl.d/luci-app-iotgw.json", "/usr/share/rpcd/acl.d/luci-app-iotgw.json"},
	} {
		data, err := os.ReadFile(filepath.Join(base, f.src))
		if err != nil {
			return "", err
		}
		files = append(files, entry{Path: f.dst, Mode: 0o644, Data: data})
	}
	title := mk.vars["LUCI_TITLE"]
	p := &ipk{
		Control: b.control(name, "all", "luci", mk.vars["PKG_LICENSE"], mk.vars["PKG_MAINTAINER"], b.feed.URL, title,
			"A LuCI page under Services that links to iotgw's own page on this router.", runtimeDepends(mk.vars["LUCI_DEPENDS"])),
		Files: files,
		Scripts: []entry{
			{Path: "/postinst", Mode: 0o755, Data: maintainerScript(name, "postinst")},
			{Path: "/postinst-pkg", Mode: 0o755, Data: []byte(luciPostinst)},
			{Path: "/prerm", Mode: 0o755, Data: maintainerScript(name, "prerm")},
		},
		MTime: b.mtime,
	}
	return b.write(p, dir, fmt.Sprintf("%s_%s_all.ipk", name, b.version))
}

func (b *builder) write(p *ipk, dir, name string) (string, error) {
	var buf bytes.Buffer
	if err := p.build(&buf); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return "", err
	}
	fmt.Printf("%s %d bytes\n", filepath.Join(dir, name), buf.Len())
	return name, nil
}
