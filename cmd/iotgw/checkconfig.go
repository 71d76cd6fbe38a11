package main

import (
	"context"
	"fmt"
	"io"

	"github.com/iotgw/iotgw/pkg/pipeline"
)

func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", "", stderr)
	load := configFlagSet(fs)
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	cfg, path, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw check-config: %v\n", err)
		return exitUsage
	}
	// The init script starts the daemon only after this check: a key
	// file `run` cannot use would have procd respawn it until it gives up.
	if _, err := pipeline.HashKey(cfg.Inspect.SecretFile); err != nil {
		fmt.Fprintf(stderr, "iotgw check-config: %s: %v\n", path, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return exitOK
}
