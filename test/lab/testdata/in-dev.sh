#!/bin/sh
# in-dev.sh RESOLV CMD...: give CMD the device's own resolv.conf, then
# exec it. `ip netns exec` runs every command in a private mount
# namespace, so the bind mount is seen by CMD and its children only and
# the host's /etc/resolv.conf is never touched.
set -e
resolv=$1
shift
mount --bind "$resolv" /etc/resolv.conf
exec "$@"
