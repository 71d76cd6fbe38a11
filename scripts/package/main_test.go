package main

import (
	"os/exec"
	"testing"
)

// Builds between releases sort by their commit's time, as opkg compares
// versions (dpkg's algorithm): a later commit of the same day is newer
// whatever its hash, and every build sorts before the release.
func TestVersionOrder(t *testing.T) {
	older := source{Epoch: 1700000000, Commit: "ffffffff"}.version("0.1.0")
	newer := source{Epoch: 1700000060, Commit: "00000000"}.version("0.1.0")
	if want := "0.1.0~git20231114.221320.ffffffff"; older != want {
		t.Errorf("version %q, want %q", older, want)
	}
	for _, c := range [][3]string{
		{newer, "gt", older},
		{"0.1.0", "gt", newer},
		{source{Tag: "0.1.0"}.version("0.1.0"), "eq", "0.1.0"},
	} {
		if out, err := exec.Command("dpkg", "--compare-versions", c[0], c[1], c[2]).CombinedOutput(); err != nil {
			t.Errorf("dpkg --compare-versions %s %s %s: %v %s", c[0], c[1], c[2], err, out)
		}
	}
}
