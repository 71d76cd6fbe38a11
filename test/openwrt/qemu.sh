#!/bin/bash
# Runs the unit tests of the packages where byte order and word size
# matter (packet parsing, capture, netlink encodings, the store, the
# advisory feed, fingerprints) for big-endian MIPS (softfloat, as on
# ath79 routers) and for arm64, under qemu-user. No binfmt_misc needed:
# go test -exec runs each test binary through qemu explicitly. Tests run
# with -short, as user nobody (see qemu-exec.sh).
# Usage: test/openwrt/qemu.sh [GOARCH...]   (default: mips arm64)
set -euo pipefail
cd "$(dirname "$0")/../.."

pkgs=(./pkg/inspect/... ./pkg/capture/... ./pkg/quarantine/... ./pkg/netwatch/...
	./pkg/store/... ./pkg/advisory/... ./pkg/device/...)
declare -A qemu_for=([mips]=qemu-mips-static [mipsle]=qemu-mipsel-static [arm64]=qemu-aarch64-static [arm]=qemu-arm-static)

archs=("$@")
[[ ${#archs[@]} -gt 0 ]] || archs=(mips arm64)
for arch in "${archs[@]}"; do
	q=${qemu_for[$arch]:-}
	[[ -n $q ]] || { echo "qemu.sh: no qemu for $arch" >&2; exit 2; }
	command -v "$q" >/dev/null || { echo "qemu.sh: $q missing (Debian: qemu-user-static)" >&2; exit 1; }
	echo "== unit tests for linux/$arch under $q"
	QEMU=$(command -v "$q") GOOS=linux GOARCH=$arch GOMIPS=softfloat GOARM=7 CGO_ENABLED=0 \
		go test -count=1 -short -exec "$PWD/test/openwrt/qemu-exec.sh" "${pkgs[@]}"
done
