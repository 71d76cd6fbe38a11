package main

import (
	"context"
	"fmt"
	"io"
)

func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", "", stderr)
	load := configFlagSet(fs)
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	_, path, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw check-config: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return exitOK
}
