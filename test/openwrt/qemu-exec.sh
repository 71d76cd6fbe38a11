#!/bin/sh
# `go test -exec` wrapper for the qemu-user runs (test/openwrt/qemu.sh):
# runs a cross-compiled test binary under $QEMU as user nobody, so that
# the kernel tests, which need root for namespaces and nftables (which
# qemu-user cannot translate), skip themselves; IOTGW_QEMU=1 tells the
# rest. CI is cleared, which would turn those skips into failures: the
# same CI run runs them natively as root. The binary is copied where
# nobody can read it.
set -eu
bin=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/test"
chmod 755 "$dir" "$dir/test"
setpriv --reuid=65534 --regid=65534 --clear-groups \
	env -u CI IOTGW_QEMU=1 HOME=/tmp "$QEMU" "$dir/test" "$@"
