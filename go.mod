module github.com/iotgw/iotgw

go 1.25.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/gopacket/gopacket v1.7.7
)

require (
	github.com/vishvananda/netlink v1.3.1 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
