// Command package builds iotgw's OpenWrt packages without the OpenWrt
// SDK: for each common router architecture an iotgw .ipk (opkg, OpenWrt
// up to 24.10) and .apk (apk-tools v3, OpenWrt 25.x), and the same two
// of luci-app-iotgw (architecture all; noarch for apk). It reads the
// package's metadata from the feed (openwrt/*/Makefile) so that both
// builds describe the same package, and it is reproducible: the
// binaries are built with -trimpath and without cgo, and every archive
// member has owner 0, a fixed mode and the time of the last commit
// (SOURCE_DATE_EPOCH overrides it).
//
//	go run ./scripts/package [-out dist/openwrt] [-arch x86_64,mips_24kc]
package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// target is an OpenWrt package architecture and the Go port for it.
type target struct {
	Arch, GOARCH, GOARM, GOMIPS string
}

// targets are the architectures `make package` builds: x86 routers and
// VMs, most current ARM routers, MediaTek MT7621 (mipsel) and the
// Qualcomm Atheros ath79 family (big-endian mips). opkg installs a
// package only for an architecture the router names, so ARM boards of
// other cores (Raspberry Pi 4, Rockchip, IPQ806x) get the same binary
// under their own names.
func targets() []target {
	return []target{
		{Arch: "x86_64", GOARCH: "amd64"},
		{Arch: "aarch64_cortex-a53", GOARCH: "arm64"},
		{Arch: "aarch64_cortex-a72", GOARCH: "arm64"},
		{Arch: "aarch64_generic", GOARCH: "arm64"},
		{Arch: "arm_cortex-a7_neon-vfpv4", GOARCH: "arm", GOARM: "7"},
		{Arch: "arm_cortex-a15_neon-vfpv4", GOARCH: "arm", GOARM: "7"},
		{Arch: "mipsel_24kc", GOARCH: "mipsle", GOMIPS: "softfloat"},
		{Arch: "mips_24kc", GOARCH: "mips", GOMIPS: "softfloat"},
	}
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	repo := fs.String("repo", ".", "repository root")
	out := fs.String("out", "dist/openwrt", "output directory")
	archs := fs.String("arch", "all", "comma-separated package architectures, or all")
	commit := fs.String("commit", "", "commit to name instead of HEAD's (with SOURCE_DATE_EPOCH: pins the version)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sel, err := selectTargets(*archs)
	if err != nil {
		return err
	}
	src, err := gitSource(*repo, *commit)
	if err != nil {
		return err
	}
	b, err := newBuilder(*repo, src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var written []string
	for _, t := range sel {
		names, err := b.writeIotgw(t, *out)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Arch, err)
		}
		written = append(written, names...)
	}
	names, err := b.writeLuCI(*out)
	if err != nil {
		return fmt.Errorf("luci-app-iotgw: %w", err)
	}
	written = append(written, names...)
	return writeSums(*out, written)
}

func selectTargets(list string) ([]target, error) {
	if list == "all" {
		return targets(), nil
	}
	var sel []target
	for _, a := range strings.Split(list, ",") {
		found := false
		for _, t := range targets() {
			if t.Arch == a {
				sel = append(sel, t)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown architecture %q", a)
		}
	}
	return sel, nil
}

// source identifies what is packaged: the commit, its time, whether the
// working tree differs from it, and the version. That is the release tag
// (v1.2.3 → 1.2.3), or between releases the feed's PKG_VERSION, the last
// release (the feed fetches v$(PKG_VERSION)), with
// "+git<date>.<time>.<commit>": after that release and before the next,
// as opkg compares versions (dpkg's algorithm; "~" would sort before the
// release, and opkg would refuse every later build as a downgrade once
// it shipped), and after every build of an earlier commit (opkg compares
// the date and the time as numbers, and would compare commit hashes of
// one day at random).
//
// A tree with uncommitted changes to tracked files, as `git describe
// --dirty` sees it, is built all the same, as a development build never
// taken for the commit it names: always the "+git" form, even at a tag,
// with ".dirty" after the commit. Refusing it would stop `make package`
// and the package's tests on every edit in progress.
type source struct {
	Commit string
	Epoch  int64
	Tag    string
	Dirty  bool
}

func gitSource(repo, commit string) (source, error) {
	var s source
	var err error
	if commit == "" {
		if commit, err = git(repo, "rev-parse", "--short=8", "HEAD"); err != nil {
			return s, err
		}
	}
	s.Commit = commit
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		if epoch, err = git(repo, "log", "-1", "--format=%ct"); err != nil {
			return s, err
		}
	}
	if s.Epoch, err = strconv.ParseInt(epoch, 10, 64); err != nil {
		return s, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	if tag, err := git(repo, "describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD"); err == nil {
		s.Tag = strings.TrimPrefix(tag, "v")
	}
	changes, err := git(repo, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return s, err
	}
	s.Dirty = changes != ""
	return s, nil
}

func (s source) version(feedVersion string) string {
	if s.Tag != "" && !s.Dirty {
		return s.Tag
	}
	v := feedVersion + "+git" + time.Unix(s.Epoch, 0).UTC().Format("20060102.150405") + "." + s.Commit
	if s.Dirty {
		v += ".dirty"
	}
	return v
}

// apkVersion is the version apk gets: its grammar has neither "+" nor
// Debian's revision. The tag, or between releases
// PKG_VERSION_git<date><time>, "_git" being a suffix apk sorts after the
// release and the date and time one number, so that a build sorts after
// the release, before the next and after the builds of earlier commits,
// as the ipk's version does for opkg. A tree with changes adds "_p1",
// after its commit's build and before the next commit's. Then
// -r<PKG_RELEASE>. The commit goes in .PKGINFO's commit field: apk's
// "~hash" would order two commits of one second by their hashes.
func (s source) apkVersion(feedVersion, release string) (string, error) {
	v := s.Tag
	if s.Tag == "" || s.Dirty {
		v = feedVersion + "_git" + time.Unix(s.Epoch, 0).UTC().Format("20060102150405")
		if s.Dirty {
			v += "_p1"
		}
	}
	v += "-r" + release
	if !validAPKVersion(v) {
		return "", fmt.Errorf("apk version %q (tag %q, PKG_VERSION %q, PKG_RELEASE %q): not in apk's grammar, 1.2.3[a][_rc1|_p1…]-r1", v, s.Tag, feedVersion, release)
	}
	return v, nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func writeSums(dir string, names []string) error {
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(data), n)
	}
	return os.WriteFile(filepath.Join(dir, "sha256sums"), []byte(b.String()), 0o644)
}
