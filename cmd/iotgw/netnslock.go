package main

import (
	"errors"
	"fmt"
	"syscall"
)

// netnsLockName is the abstract Unix socket address (the leading '@' is
// the kernel's NUL) one daemon per network namespace holds.
const netnsLockName = "@iotgw/daemon"

// errNetnsTaken is a second daemon in a network namespace where one runs.
var errNetnsTaken = errors.New("another iotgw is running in this network namespace (it owns the firewall tables here; stop it first)")

// claimNetns binds, for the daemon's life, an abstract Unix socket
// address. Abstract addresses belong to the network namespace, as
// nftables tables do, and the kernel frees them when the process dies,
// so there is no stale lock to clean up. It catches what the control
// socket cannot: a second daemon with another daemon.socket and
// quarantine.table would take the first one's tables for leftovers of
// an old table name and delete them. The socket is bound, never
// listening, so a connect to it is refused and costs nothing.
//
// The namespace is the calling thread's, as for any socket.
func claimNetns() (release func(), err error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("network namespace lock: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: netnsLockName}); err != nil {
		_ = syscall.Close(fd)
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, errNetnsTaken
		}
		return nil, fmt.Errorf("network namespace lock: %w", err)
	}
	return func() { _ = syscall.Close(fd) }, nil
}
