# Sourced by iotgw's first-install script and init script, so that both
# make the key the same way.

# iotgw_secret FILE creates FILE unless it has content: the key for the
# keyed hashes of captured passwords, 32 random bytes as hex, made on this
# router, readable by root only. A short key is the owner's, and stays:
# `iotgw check-config` says what is wrong with it.
iotgw_secret() (
	umask 077
	mkdir -p "${1%/*}" || exit 1
	[ -s "$1" ] && exit 0
	hexdump -v -n 32 -e '/1 "%02x"' /dev/urandom >"$1.new"
	if [ "$(wc -c <"$1.new")" -ne 64 ] || ! mv "$1.new" "$1"; then
		rm -f "$1.new"
		echo "iotgw: cannot create $1" >&2
		exit 1
	fi
)
