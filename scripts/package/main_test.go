package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// The builds whose versions TestVersionOrder (ipk) and TestAPKVersionOrder
// (apk) both put in order, so that the two formats are shown to sort the
// same builds alike.
var (
	commitA  = source{Epoch: 1700000000, Commit: "ffffffff"}              // 2023-11-14 22:13:20 UTC
	commitB  = source{Epoch: 1700000060, Commit: "00000000"}              // a minute later, a lower hash
	commitC  = source{Epoch: 1700086400, Commit: "12345678"}              // the next day
	dirtyA   = source{Epoch: 1700000000, Commit: "ffffffff", Dirty: true} // commitA with changes in the tree
	dirtyTag = source{Epoch: 1700000000, Commit: "ffffffff", Tag: "0.1.0", Dirty: true}
)

// The versions `make package` gives, with the feed's release appended as
// opkg sees them, in the order opkg must upgrade through them. opkg
// compares versions with dpkg's algorithm; dpkg --compare-versions is
// the reference.
func TestVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatalf("dpkg, the reference for opkg's version order: %v", err)
	}

	ordered := []struct{ name, version, want string }{
		// The old scheme's "~git" build of a commit after 0.0.9 sorted
		// before 0.0.9 itself; it upgrades to everything since.
		{"an old-scheme build after 0.0.9", "0.0.9~git20231001.120000.abcdef01", ""},
		{"the release before", source{Tag: "0.0.9"}.version("0.0.9"), "0.0.9"},
		{"a build after 0.0.9", source{Epoch: 1696161600, Commit: "abcdef01"}.version("0.0.9"), "0.0.9+git20231001.120000.abcdef01"},
		{"the release", source{Tag: "0.1.0"}.version("0.1.0"), "0.1.0"},
		{"a build after it", commitA.version("0.1.0"), "0.1.0+git20231114.221320.ffffffff"},
		{"the same commit with changes", dirtyA.version("0.1.0"), "0.1.0+git20231114.221320.ffffffff.dirty"},
		{"the tag with changes, never the release", dirtyTag.version("0.1.0"), "0.1.0+git20231114.221320.ffffffff.dirty"},
		{"a later commit of the same day", commitB.version("0.1.0"), "0.1.0+git20231114.221420.00000000"},
		{"a commit of the next day", commitC.version("0.1.0"), "0.1.0+git20231115.221320.12345678"},
		{"the next release", source{Tag: "0.1.1"}.version("0.1.1"), "0.1.1"},
		{"a build after that", source{Epoch: 1700086400, Commit: "00000001"}.version("0.1.1"), "0.1.1+git20231115.221320.00000001"},
		{"a major release", source{Tag: "1.0.0"}.version("1.0.0"), "1.0.0"},
	}
	for _, v := range ordered {
		if v.want != "" && v.version != v.want {
			t.Errorf("%s: version %q, want %q", v.name, v.version, v.want)
		}
	}
	cmp := func(a, op, b string) bool {
		return exec.Command("dpkg", "--compare-versions", a+"-1", op, b+"-1").Run() == nil
	}
	for i := 1; i < len(ordered); i++ {
		prev, cur := ordered[i-1], ordered[i]
		if prev.version == cur.version {
			if !cmp(prev.version, "eq", cur.version) {
				t.Errorf("%s (%s) and %s: want equal", prev.name, prev.version, cur.name)
			}
			continue
		}
		if !cmp(prev.version, "lt", cur.version) {
			t.Errorf("%s (%s) does not sort before %s (%s): opkg would refuse the upgrade", prev.name, prev.version, cur.name, cur.version)
		}
	}
}

// A change to a tracked file marks the build; an untracked file, as for
// `git describe --dirty`, does not.
func TestGitSourceDirty(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "") // the commit's time
	repo := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_COMMITTER_DATE=@1700000000 +0000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q")
	write("a", "1\n")
	run("add", "a")
	run("commit", "-q", "-m", "a")
	run("tag", "v0.1.0")
	steps := []struct {
		name   string
		change func()
		want   string
	}{
		{"clean_at_the_tag", func() {}, `^0\.1\.0$`},
		{"untracked_file", func() { write("b", "2\n") }, `^0\.1\.0$`},
		{"tracked_file_changed", func() { write("a", "2\n") }, `^0\.1\.0\+git20231114\.221320\.[0-9a-f]{8}\.dirty$`},
		{"change_staged", func() { run("add", "a") }, `^0\.1\.0\+git20231114\.221320\.[0-9a-f]{8}\.dirty$`},
		{"committed", func() { run("commit", "-q", "-m", "a2") }, `^0\.1\.0\+git20231114\.221320\.[0-9a-f]{8}$`},
	}
	for _, s := range steps {
		s.change()
		src, err := gitSource(repo, "")
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		v := src.version("0.1.0")
		if !regexp.MustCompile(s.want).MatchString(v) {
			t.Errorf("%s: version %q, want %s", s.name, v, s.want)
		}
	}
}
