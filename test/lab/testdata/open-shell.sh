#!/bin/sh
# A device firmware's telnet that asks for no login at all (telnetd -l
# /bin/sh), run by inetutils telnetd --exec-login: a shell at once. The
# arguments telnetd passes to a login program are ignored.
exec busybox sh -i
