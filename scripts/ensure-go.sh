#!/bin/bash
# Prints the path of a go command new enough for this module (go.mod's
# "go" line), fetching the official toolchain from the Go module proxy
# when the machine has none: the same archive `GOTOOLCHAIN` switching uses.
set -euo pipefail

want_minor=25 # go 1.25 or newer
toolchain=go1.26.8

usable() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 1
	v=${v#go}
	[[ ${v%%.*} -gt 1 ]] && return 0
	local minor=${v#*.}
	minor=${minor%%[.a-z]*}
	[[ $minor -ge $want_minor ]]
}

for g in "$(command -v go || true)" /usr/local/go/bin/go "$HOME/.cache/iotgw/$toolchain/bin/go"; do
	if [[ -n $g && -x $g ]] && usable "$g"; then
		echo "$g"
		exit 0
	fi
done

case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
armv7l | armv6l) arch=armv6l ;;
*) echo "ensure-go: no Go toolchain for $(uname -m)" >&2; exit 1 ;;
esac
dest=$HOME/.cache/iotgw/$toolchain
proxy=${GOPROXY:-https://proxy.golang.org}
proxy=${proxy%%,*}
if ! command -v curl >/dev/null || ! command -v unzip >/dev/null; then
	apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl unzip ca-certificates >&2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "ensure-go: fetching $toolchain from $proxy" >&2
curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-$toolchain.linux-$arch.zip"
unzip -q "$tmp/go.zip" -d "$tmp/x"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$tmp/x/golang.org/toolchain@v0.0.1-$toolchain.linux-$arch" "$dest"
chmod +x "$dest/bin/"* "$dest/pkg/tool/"*/* 2>/dev/null || true
echo "$dest/bin/go"
