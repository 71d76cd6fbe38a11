package openwrt

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/config"
)

func TestIPKLayout(t *testing.T) {
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))

	// opkg and OpenWrt's ipkg-build: a tar.gz of exactly these, in order.
	var outer []string
	for _, m := range p.Outer {
		outer = append(outer, m.Header.Name)
	}
	if got, want := strings.Join(outer, " "), "./debian-binary ./data.tar.gz ./control.tar.gz"; got != want {
		t.Errorf("outer members %q, want %q", got, want)
	}
	if got := string(p.Outer[0].Data); got != "2.0\n" {
		t.Errorf("debian-binary %q, want 2.0", got)
	}

	tests := []struct {
		path string
		mode int64
	}{
		{"./usr/bin/iotgw", 0o755},
		{"./etc/init.d/iotgw", 0o755},
		{"./etc/uci-defaults/90-iotgw", 0o755},
		// fw4 includes it in its input chain (firewall4's automatic
		// includes: /usr/share/nftables.d/chain-pre/<chain>/*.nft).
		{"./usr/share/nftables.d/chain-pre/input/iotgw.nft", 0o644},
		{"./usr/share/nftables.d/chain-pre/input/", 0o755},
		// The TOML may hold alert tokens; the UCI file follows OpenWrt's
		// INSTALL_CONF (0600).
		{"./etc/iotgw/iotgw.toml", 0o600},
		{"./etc/iotgw/", 0o700},
		{"./etc/config/iotgw", 0o600},
		{"./etc/capabilities/iotgw.json", 0o644},
		{"./lib/upgrade/keep.d/iotgw", 0o644},
		{"./etc/init.d/", 0o755},
		{"./", 0o755},
	}
	for _, tc := range tests {
		m, ok := p.Data[tc.path]
		if !ok {
			t.Errorf("%s missing from data.tar.gz", tc.path)
			continue
		}
		if m.Header.Mode != tc.mode {
			t.Errorf("%s mode %o, want %o", tc.path, m.Header.Mode, tc.mode)
		}
	}
	for name, m := range p.Data {
		h := m.Header
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s owner %d:%d (%q:%q), want numeric 0:0", name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !strings.HasPrefix(name, "./") {
			t.Errorf("%s: members start with ./", name)
		}
	}
	if got := string(p.Data["./lib/upgrade/keep.d/iotgw"].Data); got != "/etc/iotgw/\n" {
		t.Errorf("keep.d lists %q, want /etc/iotgw/ (configuration, state and key)", got)
	}
	// The include holds no rule of its own, only the include of the
	// rules the init script writes, by a pattern (nft fails on a named
	// file that is missing, as it is before iotgw's first start).
	var stmts []string
	for _, l := range strings.Split(string(p.Data["./usr/share/nftables.d/chain-pre/input/iotgw.nft"].Data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			stmts = append(stmts, l)
		}
	}
	if want := `include "` + fw4RulesPattern + `"`; len(stmts) != 1 || stmts[0] != want {
		t.Errorf("fw4 include: statements %q, want only %s", stmts, want)
	}
	var caps map[string][]string
	if err := json.Unmarshal(p.Data["./etc/capabilities/iotgw.json"].Data, &caps); err != nil {
		t.Fatalf("capabilities: %v", err)
	}
	for _, set := range []string{"bounding", "effective", "permitted", "ambient", "inheritable"} {
		if got := strings.Join(caps[set], ","); got != "CAP_NET_ADMIN,CAP_NET_RAW,CAP_NET_BIND_SERVICE" {
			t.Errorf("capabilities %s = %s", set, got)
		}
	}
}

func TestIPKControl(t *testing.T) {
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))
	want := []string{"Package", "Version", "Depends", "Source", "SourceName", "License", "Section",
		"SourceDateEpoch", "URL", "Maintainer", "Architecture", "Installed-Size", "Description"}
	if got := strings.Join(p.Order, " "); got != strings.Join(want, " ") {
		t.Errorf("control fields %s\nwant %s", got, strings.Join(want, " "))
	}
	fields := []struct{ key, re string }{
		{"Package", `^iotgw$`},
		{"Version", `^\d+\.\d+\.\d+(\+git\d{8}\.\d{6}\.[0-9a-f]{8}(\.dirty)?)?-\d+$`},
		{"Depends", `^libc, kmod-nft-core, kmod-nft-nat, kmod-nft-bridge, kmod-nft-fib, kmod-nfnetlink-log, kmod-nf-conntrack-netlink, ca-bundle$`},
		{"Architecture", `^x86_64$`},
		{"Section", `^net$`},
		{"Source", `^feeds/iotgw/iotgw$`},
		{"SourceName", `^iotgw$`},
		{"SourceDateEpoch", `^\d+$`},
		{"URL", `^https://`},
		{"Maintainer", `.`},
		{"License", `.`},
		{"Description", `(?s)^IoT security baseline gateway \(ETSI EN 303 645\)\n.*nftables`},
	}
	for _, f := range fields {
		if v := p.Fields[f.key]; !regexp.MustCompile(f.re).MatchString(v) {
			t.Errorf("%s: %q does not match %s", f.key, v, f.re)
		}
	}
	// opkg checks free space with Installed-Size in bytes; ipkg-build
	// writes the size of the uncompressed data tar.
	if got, want := p.Fields["Installed-Size"], strconv.Itoa(len(p.DataTar)); got != want {
		t.Errorf("Installed-Size %s, want %s (bytes of data.tar)", got, want)
	}
	if got := string(p.Control["./conffiles"].Data); got != "/etc/iotgw/iotgw.toml\n/etc/config/iotgw\n" {
		t.Errorf("conffiles %q", got)
	}
	for _, name := range strings.Fields(string(p.Control["./conffiles"].Data)) {
		if _, ok := p.Data["."+name]; !ok {
			t.Errorf("conffile %s is not in the package", name)
		}
	}
	for _, s := range []string{"./postinst", "./prerm", "./postinst-pkg", "./prerm-pkg"} {
		m, ok := p.Control[s]
		if !ok {
			t.Errorf("control.tar.gz has no %s", s)
			continue
		}
		if m.Header.Mode != 0o755 || !bytes.HasPrefix(m.Data, []byte("#!/bin/sh\n")) {
			t.Errorf("%s: mode %o, starts %q; want an executable sh script", s, m.Header.Mode, m.Data[:min(len(m.Data), 12)])
		}
	}
}

// The package depends on every kernel module package pkg/quarantine's
// table names: a module no other package pulls in is missing on a
// default image, and the rules that need it fail there.
func TestIPKDependsOnKernelModules(t *testing.T) {
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "pkg/quarantine/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n## Kernel modules\n")
	if !ok {
		t.Fatal("pkg/quarantine/README.md has no section Kernel modules")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	deps := map[string]bool{}
	for _, d := range strings.Split(p.Fields["Depends"], ", ") {
		deps[d] = true
	}
	kmod := regexp.MustCompile("`(kmod-[a-z0-9-]+)`")
	n := 0
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range kmod.FindAllStringSubmatch(line, -1) {
			n++
			if !deps[m[1]] {
				t.Errorf("the README's table needs %s; Depends is %q", m[1], p.Fields["Depends"])
			}
		}
	}
	if n < 8 {
		t.Fatalf("found %d kmod packages in the README's table", n)
	}
}

// The package holds what the feed Makefile's install recipe installs,
// and the scripts the Makefile defines, so both builds agree.
func TestIPKMatchesFeedMakefile(t *testing.T) {
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))
	mk, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "openwrt/iotgw/Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	dests := regexp.MustCompile(`\$\(INSTALL_(?:BIN|CONF|DATA)\) \S+ \$\(1\)(/\S+)`).FindAllStringSubmatch(string(mk), -1)
	if len(dests) < 7 {
		t.Fatalf("found %d install lines in the feed Makefile", len(dests))
	}
	for _, d := range dests {
		if _, ok := p.Data["."+d[1]]; !ok {
			t.Errorf("the feed installs %s; the ipk lacks it", d[1])
		}
	}
	// The feed's edit of the example gives the ipk's default
	// configuration, and its check would stop a build where it does not.
	sed := regexp.MustCompile(`\$\(SED\) 's\|\^([^|]*)\|([^|]*)\|' \$\(1\)/etc/iotgw/iotgw\.toml`).FindSubmatch(mk)
	if sed == nil {
		t.Fatal("the feed Makefile does not set the secret file")
	}
	example, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "iotgw.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	from, to := string(sed[1]), string(sed[2])
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(from)).Match(example) {
		t.Errorf("the feed's edit %q matches no line of iotgw.example.toml", from)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(to) + `$`).Match(p.Data["./etc/iotgw/iotgw.toml"].Data) {
		t.Errorf("the ipk's configuration lacks the feed's %q", to)
	}
	if !strings.Contains(string(mk), "grep -q '^"+to+"$$' $(1)/etc/iotgw/iotgw.toml") {
		t.Error("the feed Makefile does not check its edit of the configuration")
	}
	if !strings.Contains(string(mk), "chmod 0700 $(1)/etc/iotgw\n") {
		t.Error("the feed Makefile leaves /etc/iotgw at the SDK's 0755")
	}
	for _, script := range []string{"postinst", "prerm"} {
		def := regexp.MustCompile(`(?s)define Package/iotgw/` + script + `\n(.*?)\nendef`).FindSubmatch(mk)
		if def == nil {
			t.Fatalf("feed Makefile defines no %s", script)
		}
		want := strings.ReplaceAll(string(def[1]), "$$", "$") + "\n"
		if got := string(p.Control["./"+script+"-pkg"].Data); got != want {
			t.Errorf("%s-pkg differs from the feed Makefile's:\n%s\nwant:\n%s", script, got, want)
		}
	}
}

// The default configuration is the example with the package's secret
// file, and loads.
func TestIPKDefaultConfig(t *testing.T) {
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))
	got := p.Data["./etc/iotgw/iotgw.toml"].Data
	example, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "iotgw.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	gotLines, exLines := strings.Split(string(got), "\n"), strings.Split(string(example), "\n")
	if len(gotLines) != len(exLines) {
		t.Fatalf("%d lines, example has %d", len(gotLines), len(exLines))
	}
	var diff []string
	for i := range gotLines {
		if gotLines[i] != exLines[i] {
			diff = append(diff, gotLines[i])
		}
	}
	if len(diff) != 1 || diff[0] != `secret_file = "/etc/iotgw/secret"` {
		t.Errorf("differs from iotgw.example.toml in %q, want only the secret file", diff)
	}
	cfg, err := config.Parse("iotgw.toml", got)
	if err != nil {
		t.Fatalf("packaged config: %v", err)
	}
	if cfg.Inspect.SecretFile != "/etc/iotgw/secret" || cfg.Store.Path != "/etc/iotgw/state.json" || cfg.Policy.Mode != "monitor" {
		t.Errorf("secret %q, store %q, policy mode %q", cfg.Inspect.SecretFile, cfg.Store.Path, cfg.Policy.Mode)
	}
}

// The binary is static, stripped and carries the package version.
func TestIPKBinary(t *testing.T) {
	p := openIPK(t, findPackage(t, packagesDir(t), "iotgw_*_x86_64.ipk"))
	bin := p.Data["./usr/bin/iotgw"].Data
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug") || strings.HasPrefix(s.Name, ".zdebug") || s.Name == ".symtab" {
			t.Errorf("section %s: the binary is not stripped", s.Name)
		}
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: not static")
		}
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v", f.Machine)
	}
	path := filepath.Join(t.TempDir(), "iotgw")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("iotgw version: %v: %s", err, out)
	}
	if v := p.Fields["Version"]; !strings.Contains(string(out), "iotgw "+v+" ") {
		t.Errorf("iotgw version says %q, package version %s", out, v)
	}
}

func TestLuCIPackage(t *testing.T) {
	p := openIPK(t, findPackage(t, packagesDir(t), "luci-app-iotgw_*_all.ipk"))
	if p.Fields["Architecture"] != "all" || !strings.Contains(p.Fields["Depends"], "iotgw") || !strings.Contains(p.Fields["Depends"], "luci-base") {
		t.Errorf("Architecture %q, Depends %q", p.Fields["Architecture"], p.Fields["Depends"])
	}
	for _, name := range []string{
		"./usr/share/luci/menu.d/luci-app-iotgw.json",
		"./usr/share/rpcd/acl.d/luci-app-iotgw.json",
	} {
		var v map[string]any
		if err := json.Unmarshal(p.Data[name].Data, &v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var menu map[string]struct {
		Action struct{ Type, Path string }
	}
	if err := json.Unmarshal(p.Data["./usr/share/luci/menu.d/luci-app-iotgw.json"].Data, &menu); err != nil {
		t.Fatal(err)
	}
	entry := menu["admin/services/iotgw"]
	if entry.Action.Type != "view" || entry.Action.Path != "iotgw/overview" {
		t.Errorf("menu entry %+v, want the view iotgw/overview", entry)
	}
	js := p.Data["./www/luci-static/resources/view/iotgw/overview.js"].Data
	for _, want := range []string{"'require view';", "uci.load('iotgw')", "web_port", "return view.extend("} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("overview.js lacks %q", want)
		}
	}
	// LuCI wraps a view in a function; node checks that wrapper's syntax.
	if node, err := exec.LookPath("node"); err == nil {
		src := filepath.Join(t.TempDir(), "view.js")
		if err := os.WriteFile(src, append(append([]byte("(function(E, _, view, uci) {\n"), js...), "\n});\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(node, "--check", src).CombinedOutput(); err != nil {
			t.Errorf("overview.js: %v\n%s", err, out)
		}
	}
}

// Two builds of the same source give the same bytes. Version inputs are
// pinned, so that a commit landing between the builds does not count.
func TestIPKReproducible(t *testing.T) {
	testenv.SkipShort(t, "builds the package twice; not in -short mode")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, dir := range dirs {
		if err := runPackager(testenv.RepoRoot(t), dir, "x86_64", "-commit", "0123abcd"); err != nil {
			t.Fatal(err)
		}
	}
	for _, pattern := range []string{"iotgw_*_x86_64.ipk", "luci-app-iotgw_*_all.ipk", "x86_64/iotgw-*.apk", "noarch/luci-app-iotgw-*.apk"} {
		var sums [2][32]byte
		for i, dir := range dirs {
			data, err := os.ReadFile(findPackage(t, dir, pattern))
			if err != nil {
				t.Fatal(err)
			}
			sums[i] = sha256.Sum256(data)
		}
		if sums[0] != sums[1] {
			t.Errorf("%s: two builds differ: %x and %x", pattern, sums[0], sums[1])
		}
	}
	p := openIPK(t, findPackage(t, dirs[0], "iotgw_*_x86_64.ipk"))
	// A tree with uncommitted changes (a test run while editing) is marked.
	if v := p.Fields["Version"]; !regexp.MustCompile(`^\d+\.\d+\.\d+(\+git20231114\.221320\.0123abcd(\.dirty)?)?-\d+$`).MatchString(v) {
		t.Errorf("Version %q: want the pinned date and commit", v)
	}
	for name, m := range p.Data {
		if m.Header.ModTime.Unix() != 1700000000 {
			t.Errorf("%s mtime %v, want SOURCE_DATE_EPOCH", name, m.Header.ModTime)
		}
	}
	a := openAPK(t, findPackage(t, dirs[0], "x86_64/iotgw-*.apk"))
	if v := a.Info["pkgver"]; len(v) != 1 || !regexp.MustCompile(`^\d+\.\d+\.\d+(_git20231114221320(_p1)?)?-r\d+$`).MatchString(v[0]) {
		t.Errorf("pkgver %q: want the pinned date", v)
	}
	if c := a.Info["commit"]; len(c) != 1 || c[0] != "0123abcd" {
		t.Errorf("commit %q, want the pinned 0123abcd", c)
	}
	for _, m := range append(a.Control, slices.Collect(maps.Values(a.Data))...) {
		if m.Header.ModTime.Unix() != 1700000000 {
			t.Errorf("apk %s mtime %v, want SOURCE_DATE_EPOCH", m.Header.Name, m.Header.ModTime)
		}
	}
}

// The SDK builds with the packages feed's Go and no other
// (golang-package.mk sets GOTOOLCHAIN=local): the docs name the version
// go.mod requires, so that a feed with an older Go is known before its
// build stops.
func TestDocsNameSDKGoVersion(t *testing.T) {
	root := testenv.RepoRoot(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go ((\d+\.\d+)(\.\d+)?)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	docs, err := os.ReadFile(filepath.Join(root, "docs/openwrt.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sdk, _ := strings.Cut(string(docs), "\n## Build with the OpenWrt SDK\n")
	sdk, _, _ = strings.Cut(sdk, "\n## ")
	sdk = strings.Join(strings.Fields(sdk), " ")
	for _, want := range []string{
		"Go " + string(m[2]) + " or newer",
		"`GOTOOLCHAIN=local`",
		"`go.mod requires go >= " + string(m[1]) + "`",
	} {
		if !strings.Contains(sdk, want) {
			t.Errorf("docs/openwrt.md, Build with the OpenWrt SDK, does not say %q (go.mod: %s)", want, m[0])
		}
	}
}
