package testenv

import (
	"fmt"
	"testing"
)

// outcome records what a helper did to its test instead of doing it.
type outcome struct {
	testing.TB
	skipped, failed string
}

func (o *outcome) Helper()                           {}
func (o *outcome) Skip(args ...any)                  { o.skipped = fmt.Sprint(args...) }
func (o *outcome) Fatalf(format string, args ...any) { o.failed = fmt.Sprintf(format, args...) }

// TestSkipHelpers: outside CI a test that cannot run here skips; in CI
// it fails, naming why, since CI runs as root and without -short.
func TestSkipHelpers(t *testing.T) {
	tests := []struct {
		name                 string
		call                 func(tb testing.TB)
		wantSkip, wantFailed bool
	}{
		{"root", func(tb testing.TB) { requireRoot(tb, "needs root", true, false) }, false, false},
		{"root_in_ci", func(tb testing.TB) { requireRoot(tb, "needs root", true, true) }, false, false},
		{"not_root", func(tb testing.TB) { requireRoot(tb, "needs root", false, false) }, true, false},
		{"not_root_in_ci", func(tb testing.TB) { requireRoot(tb, "needs root", false, true) }, false, true},
		{"long", func(tb testing.TB) { skipShort(tb, "takes long", false, false) }, false, false},
		{"long_in_ci", func(tb testing.TB) { skipShort(tb, "takes long", false, true) }, false, false},
		{"short", func(tb testing.TB) { skipShort(tb, "takes long", true, false) }, true, false},
		{"short_in_ci", func(tb testing.TB) { skipShort(tb, "takes long", true, true) }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &outcome{TB: t}
			tt.call(o)
			if (o.skipped != "") != tt.wantSkip || (o.failed != "") != tt.wantFailed {
				t.Errorf("skipped %q, failed %q; want skip %v, failure %v", o.skipped, o.failed, tt.wantSkip, tt.wantFailed)
			}
		})
	}
}

func TestInCI(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want bool
	}{
		{"", false}, {"true", true}, {"1", true}, {"TRUE", true}, {"false", false}, {"0", false}, {"yes", false},
	} {
		t.Setenv("CI", tt.env)
		if got := InCI(); got != tt.want {
			t.Errorf("CI=%q: InCI %v, want %v", tt.env, got, tt.want)
		}
	}
}
