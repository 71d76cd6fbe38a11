//go:build linux

package capture

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ifaceProbe tells whether a network interface exists and is up. Its
// socket belongs to the network namespace it was made in, so a check from
// another thread still asks about that namespace.
type ifaceProbe struct{ fd int }

func newIfaceProbe() (*ifaceProbe, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket: socket to look up interfaces: %w", err)
	}
	return &ifaceProbe{fd: fd}, nil
}

// up reports whether the interface name exists and is up. A ring bound
// to an interface that is down fails its first read (the kernel flags
// the socket ENETDOWN at bind), so a down one counts as missing.
func (p *ifaceProbe) up(name string) (bool, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return false, fmt.Errorf("afpacket: interface %q: %w", name, err)
	}
	switch err := unix.IoctlIfreq(p.fd, unix.SIOCGIFFLAGS, ifr); {
	case errors.Is(err, unix.ENODEV):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("afpacket: look up interface %s: %w", name, err)
	}
	return ifr.Uint16()&unix.IFF_UP != 0, nil
}

// close is safe on a nil probe.
func (p *ifaceProbe) close() {
	if p != nil {
		_ = unix.Close(p.fd)
	}
}
