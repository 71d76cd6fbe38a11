// Package openwrt tests iotgw's OpenWrt package: the .ipk and .apk that
// `make package` builds (structure, control fields, modes,
// reproducibility; the apk against the ipk and apk-tools' reader),
// its shell scripts (shellcheck; the init script against stand-ins of
// procd's shell functions), an install into a scratch busybox root that
// runs the daemon in a network namespace, and iotgw's nftables tables
// beside a firewall4-style `table inet fw4` through fw4's reload,
// restart and flush. It holds tests only; docs/openwrt.md describes the
// package.
package openwrt
