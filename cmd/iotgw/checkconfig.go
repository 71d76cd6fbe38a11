package main

import (
	"context"
	"fmt"
	"io"
)

func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", "", stderr)
	load := configFlagSet(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "iotgw check-config: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	_, path, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw check-config: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return exitOK
}
