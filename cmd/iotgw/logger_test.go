package main

import (
	"strings"
	"testing"
)

// TestLoggerSplitsByLevel: procd logs stdout at daemon.info and stderr at
// daemon.err, so only warnings and errors may go to stderr.
func TestLoggerSplitsByLevel(t *testing.T) {
	for _, tc := range []struct {
		level            string
		wantOut, wantErr []string
		notOut, notErr   []string
	}{
		{level: "info", wantOut: []string{"msg=running", "msg=learnt"}, wantErr: []string{"msg=slow", "msg=failed"},
			notOut: []string{"slow", "failed", "detail"}, notErr: []string{"running", "learnt"}},
		{level: "debug", wantOut: []string{"msg=detail", "msg=running"}, notErr: []string{"detail"}},
		{level: "error", wantErr: []string{"msg=failed"}, notOut: []string{"running"}, notErr: []string{"slow"}},
	} {
		var stdout, stderr strings.Builder
		log := newLogger(&stdout, &stderr, tc.level).With("component", "test").WithGroup("g")
		log.Debug("detail")
		log.Info("running", "n", 1)
		log.Info("learnt")
		log.Warn("slow")
		log.Error("failed", "err", "boom")
		for _, want := range tc.wantOut {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("level %s: stdout %q lacks %q", tc.level, stdout.String(), want)
			}
		}
		for _, want := range tc.wantErr {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("level %s: stderr %q lacks %q", tc.level, stderr.String(), want)
			}
		}
		for _, not := range tc.notOut {
			if strings.Contains(stdout.String(), not) {
				t.Errorf("level %s: stdout %q has %q", tc.level, stdout.String(), not)
			}
		}
		for _, not := range tc.notErr {
			if strings.Contains(stderr.String(), not) {
				t.Errorf("level %s: stderr %q has %q", tc.level, stderr.String(), not)
			}
		}
		// Attributes and groups reach both.
		for name, out := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
			if out != "" && !strings.Contains(out, "component=test") {
				t.Errorf("level %s: %s %q lost the logger's attributes", tc.level, name, out)
			}
		}
		if tc.level == "info" && !strings.Contains(stderr.String(), "g.err=boom") {
			t.Errorf("stderr %q lost the group", stderr.String())
		}
	}
}
