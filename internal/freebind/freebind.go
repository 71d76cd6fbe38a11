// Package freebind lets a listener bind a router address that is not
// usable yet: an IPv6 address still in duplicate address detection at
// boot, which otherwise fails with EADDRNOTAVAIL.
package freebind

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Control is a net.ListenConfig Control function that sets IP_FREEBIND
// (IPV6_FREEBIND for IPv6 sockets).
func Control(network, _ string, c syscall.RawConn) error {
	level, opt := unix.SOL_IP, unix.IP_FREEBIND
	if strings.HasSuffix(network, "6") {
		level, opt = unix.SOL_IPV6, unix.IPV6_FREEBIND
	}
	var serr error
	if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, 1) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("freebind: %w", serr)
	}
	return nil
}
