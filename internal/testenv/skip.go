package testenv

import (
	"os"
	"strconv"
	"testing"
)

// RequireRoot skips t unless it runs as root, for why (what root is
// needed for). In CI it fails instead: CI runs as root, and a test
// skipped there would pass without having run.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	requireRoot(t, why, os.Geteuid() == 0, InCI())
}

func requireRoot(t testing.TB, why string, root, ci bool) {
	t.Helper()
	if root {
		return
	}
	if ci {
		t.Fatalf("%s: not root, and in CI no test may skip", why)
		return
	}
	t.Skip(why)
}

// SkipShort skips t under -short, saying why (what makes it long). In CI
// it fails instead, for the same reason as RequireRoot.
func SkipShort(t testing.TB, why string) {
	t.Helper()
	skipShort(t, why, testing.Short(), InCI())
}

func skipShort(t testing.TB, why string, short, ci bool) {
	t.Helper()
	if !short {
		return
	}
	if ci {
		t.Fatalf("%s: -short, and in CI no test may skip", why)
		return
	}
	t.Skip(why)
}

// InCI reports whether the tests run in CI: the CI variable is set true,
// as CI services set it.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}
