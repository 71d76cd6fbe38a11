# Test stand-in for OpenWrt's /lib/functions/procd.sh: every call is
# appended to $PROCD_LOG (default /tmp/procd.log), one line each, words
# separated by single spaces. With PROCD_SPAWN=1 (read from
# /etc/procd-standin.env) an instance's command is also started, its
# output appended to /tmp/NAME.out and its pid kept in /var/run/NAME.pid,
# and stopping sends it SIGTERM, as procd does.

[ -f /etc/procd-standin.env ] && . /etc/procd-standin.env
PROCD_LOG=${PROCD_LOG:-/tmp/procd.log}

procd_record() {
	echo "$*" >>"$PROCD_LOG"
}

_procd_begin() { procd_record "begin $1"; _procd_command=""; }
_procd_end() { procd_record "end $1"; }

procd_open_instance() {
	procd_record "open_instance${1:+ $1}"
	_procd_command=""
}

procd_set_param() {
	procd_record "set_param $*"
	if [ "$1" = command ]; then
		shift
		_procd_command="$*"
	fi
}

procd_close_instance() {
	procd_record "close_instance"
	[ "$PROCD_SPAWN" = 1 ] && [ -n "$_procd_command" ] || return 0
	# shellcheck disable=SC2086 # the command line is split as procd does
	$_procd_command </dev/null >>"/tmp/$name.out" 2>&1 &
	echo $! >"/var/run/$name.pid"
}

_procd_stop() {
	local pid
	procd_record "stop $1"
	[ -f "/var/run/$1.pid" ] || return 0
	pid=$(cat "/var/run/$1.pid")
	rm -f "/var/run/$1.pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	# procd waits for term_timeout; the tests wait up to 10 s.
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# procd_running: the instance's process is alive.
procd_running() {
	[ -f "/var/run/$1.pid" ] && kill -0 "$(cat "/var/run/$1.pid")" 2>/dev/null
}

procd_send_signal() {
	procd_record "send_signal $*"
	[ -f "/var/run/$1.pid" ] || return 0
	kill -"${3:-1}" "$(cat "/var/run/$1.pid")"
}

procd_add_reload_trigger() { procd_record "reload_trigger $*"; }
procd_add_interface_trigger() { procd_record "interface_trigger $*"; }
