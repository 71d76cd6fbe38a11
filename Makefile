# iotgw — see README.md. `make demo` and `make test` set up what they need.

SHELL := /bin/bash
GO := $(shell scripts/ensure-go.sh)
export PATH := $(dir $(GO)):$(PATH)
# HTTP/2 is left out of net/http (-590 KB on mipsle): the page serves
# one owner on the LAN and the alert services all speak HTTP/1.1. Tests
# build with the same tag, so they test what ships.
TAGS := nethttpomithttp2
export GOFLAGS := -buildvcs=false -tags=$(TAGS)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN := bin/iotgw

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
# Seconds of fuzzing per target in `make test`; `make fuzz` runs longer.
FUZZTIME ?= 4s
FUZZTIME_LONG ?= 10m

.PHONY: all build demo test unit race vet staticcheck fuzz-short fuzz bench cross clean deps-test record-demo package test-openwrt test-qemu test-32bit oui

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/iotgw

# The main job on the bundled capture of a small home network.
demo: build
	$(BIN) analyze --config iotgw.example.toml testdata/demo.pcap

deps-test:
	scripts/deps.sh test

# Everything CI runs: vet, staticcheck, unit and integration tests (the
# namespace lab needs root), and a short fuzz run of every fuzz target.
test: deps-test vet staticcheck unit race test-32bit fuzz-short test-qemu

vet:
	@test -z "$$(gofmt -l cmd internal pkg test scripts)" || { echo "gofmt needed:"; gofmt -l cmd internal pkg test scripts; exit 1; }
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -count=1 ./...

# The packages whose goroutines share state (the daemon and what serves
# its page, alerts and state), once more under the race detector.
RACE_PKGS = ./pkg/daemon/ ./pkg/alert/ ./pkg/store/ ./pkg/web/ ./pkg/netwatch/ ./pkg/dnsproxy/ ./pkg/audit/ ./internal/...
race:
	CGO_ENABLED=1 $(GO) test -count=1 -race $(RACE_PKGS)

# The capture sources, the configuration's bounds (whose arithmetic must
# not wrap in a 32-bit int), and the lab's acceptance test with the
# daemon, built for 386 and run natively (as root in CI, with the kernel's
# real AF_PACKET rings, NFLOG and nftables): the 32-bit word size of MIPS
# and ARMv7 routers, which qemu-user cannot give with real rings (they
# hold the host's byte order, and it runs the tests unprivileged).
test-32bit:
	GOARCH=386 $(GO) test -count=1 ./pkg/capture/ ./pkg/config/
	GOARCH=386 $(GO) test -count=1 -run 'TestLab$$' ./test/lab/

# Runs each fuzz target for FUZZTIME; crashers are kept under the
# package's testdata/fuzz and fail the run.
fuzz-short:
	scripts/fuzz-short.sh $(FUZZTIME)

fuzz:
	$(MAKE) fuzz-short FUZZTIME=$(FUZZTIME_LONG)

bench:
	scripts/deps.sh bench
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...
	scripts/bench-analyze.sh
	scripts/bench-mixed.sh

# Router targets: the binary must build without cgo for each.
cross:
	@set -e; for t in amd64: arm64: arm:7 mips:softfloat mipsle:softfloat; do \
		arch=$${t%%:*}; v=$${t#*:}; \
		case $$arch in arm) export GOARM=$$v;; mips|mipsle) export GOMIPS=$$v;; esac; \
		out=dist/iotgw-linux-$$arch; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/iotgw; \
		echo "$$out $$(stat -c %s $$out) bytes"; \
	done

# Regenerates the embedded OUI table from Debian's ieee-data package.
oui:
	command -v dpkg-query >/dev/null && dpkg-query -W ieee-data >/dev/null 2>&1 || apt-get install -y --no-install-recommends ieee-data
	$(GO) run ./scripts/oui -in /usr/share/ieee-data/oui.csv -out pkg/device/oui/oui.txt.gz \
		-version "ieee-data $$(dpkg-query -W -f='$${Version}' ieee-data)"

# OpenWrt packages without the SDK, reproducibly: iotgw for x86_64,
# aarch64 (cortex-a53, cortex-a72, generic), arm (cortex-a7, cortex-a15),
# mipsel_24kc and mips_24kc, and luci-app-iotgw, each as an .ipk (opkg) and
# an .apk (OpenWrt 25.x, in <arch>/ and noarch/), in dist/openwrt (docs/openwrt.md).
package:
	$(GO) run ./scripts/package -out dist/openwrt

# The OpenWrt package's tests alone (as root: chroot, namespaces, nftables).
test-openwrt: deps-test
	$(GO) test -count=1 ./test/openwrt

# Unit tests of the byte-order-sensitive packages for big-endian mips and
# arm64 under qemu-user.
test-qemu: deps-test
	test/openwrt/qemu.sh

# Re-records testdata/demo.pcap in network namespaces (root).
record-demo:
	scripts/lab/record-demo.sh testdata/demo.pcap

clean:
	rm -rf bin dist
