# Test stand-in for OpenWrt's /lib/functions.sh: the UCI reading the init
# script uses (config_load, config_get, config_get_bool) over a minimal
# parser, and default_postinst/default_prerm as OpenWrt's base-files
# defines them: run the uci-defaults (postinst only), then the package's
# own NAME.postinst-pkg or NAME.prerm-pkg (opkg; apk's scripts hold that
# code themselves, after default_postinst/default_prerm), then enable and
# start or stop and disable its init scripts, those of the package's file
# list: opkg's, or apk's /lib/apk/packages/NAME.list.

config_load() {
	local section=""
	local kw opt val
	[ -f "/etc/config/$1" ] || return 0
	while read -r kw opt val; do
		case "$kw" in
		config) section=$(echo "$val" | tr -d "'\"") ;;
		option)
			val=$(echo "$val" | tr -d "'\"")
			eval "CONFIG_${section}_${opt}=\$val"
			;;
		esac
	done <"/etc/config/$1"
}

# config_get VAR SECTION OPTION [DEFAULT]
config_get() {
	eval "$1=\${CONFIG_${2}_${3}:-\$4}"
}

# config_get_bool VAR SECTION OPTION [DEFAULT]
config_get_bool() {
	local v
	config_get v "$2" "$3" "$4"
	case "$v" in
	1 | on | true | yes | enabled) v=1 ;;
	0 | off | false | no | disabled) v=0 ;;
	*) v=$4 ;;
	esac
	eval "$1=\$v"
}

# filelist is the package's list of files, as default_postinst finds it.
filelist() {
	if [ -f "/lib/apk/packages/$1.list" ]; then
		echo "/lib/apk/packages/$1.list"
	else
		echo "/usr/lib/opkg/info/$1.list"
	fi
}

# add_group_and_user: OpenWrt's adds the users and groups a package asks
# for (Require-User, or apk's /lib/apk/packages/NAME.rusers); iotgw's
# ask for none, and the stand-in fails should one ever.
add_group_and_user() {
	local pkgname=${pkgname:-$(basename "${1%.*}")}
	if [ -s "/lib/apk/packages/$pkgname.rusers" ] || grep -qs '^Require-User:' "/usr/lib/opkg/info/$pkgname.control"; then
		echo "functions.sh stand-in: $pkgname asks for users, which the stand-in does not add" >&2
		return 1
	fi
}

default_postinst() {
	local pkgname=${pkgname:-$(basename "${1%.*}")}
	local list
	list=$(filelist "$pkgname")
	local ret=0 i
	# As the base-files that reads apk's lists (the one modelled here):
	# the uci-defaults first, then the package's script. Before it (23.05
	# and earlier) the package's script ran first; iotgw's steps do not
	# depend on the order.
	if [ -z "$IPKG_INSTROOT" ]; then
		for i in $(grep -s "^/etc/uci-defaults/" "$list"); do
			# shellcheck disable=SC1090
			( [ -f "$i" ] && cd "$(dirname "$i")" && . "$i" ) && rm -f "$i"
		done
	fi
	if [ -f "/usr/lib/opkg/info/$pkgname.postinst-pkg" ]; then
		# shellcheck disable=SC1090
		( . "/usr/lib/opkg/info/$pkgname.postinst-pkg" )
		ret=$?
	fi
	for i in $(grep -s "^/etc/init.d/" "$list"); do
		[ "$PKG_UPGRADE" != "1" ] && "$i" enable
		"$i" start
	done
	return $ret
}

default_prerm() {
	local pkgname=${pkgname:-$(basename "${1%.*}")}
	local list
	list=$(filelist "$pkgname")
	local ret=0 i
	if [ -f "/usr/lib/opkg/info/$pkgname.prerm-pkg" ]; then
		# shellcheck disable=SC1090
		( . "/usr/lib/opkg/info/$pkgname.prerm-pkg" )
		ret=$?
	fi
	for i in $(grep -s "^/etc/init.d/" "$list"); do
		[ "$PKG_UPGRADE" != "1" ] && "$i" disable
		"$i" stop
	done
	return $ret
}
