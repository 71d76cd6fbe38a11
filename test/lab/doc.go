// Package lab is the acceptance test of the live daemon: a home network
// built from Linux network namespaces (a router with a LAN bridge, a WAN
// host, and devices running real Debian programs), the real `iotgw run`
// capturing on the bridge and enforcing with real nftables, and
// assertions about what each device can still reach. It holds tests only;
// docs/lab.md describes the topology and how to run it.
package lab
