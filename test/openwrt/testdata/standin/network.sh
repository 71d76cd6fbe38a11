# Test stand-in for OpenWrt's /lib/functions/network.sh: what netifd says
# of a logical interface, read from /tmp/netifd.IFACE (lines "device
# DEV", "ipaddrs A …", "ipaddrs6 A …") instead of ubus. As OpenWrt's, a
# getter sets its variable to the words, and fails when there are none.

# __network_get VAR IFACE KEY
__network_get() {
	local v
	v=$(sed -n "s/^$3 //p" "/tmp/netifd.$2" 2>/dev/null)
	eval "$1=\$v"
	[ -n "$v" ]
}

network_get_device() { __network_get "$1" "$2" device; }
network_get_ipaddrs() { __network_get "$1" "$2" ipaddrs; }
network_get_ipaddrs6() { __network_get "$1" "$2" ipaddrs6; }
