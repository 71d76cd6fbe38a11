# Test stand-in for OpenWrt's /lib/functions/procd.sh: every call is
# appended to $PROCD_LOG (default /tmp/procd.log), one line each, words
# separated by single spaces. With PROCD_SPAWN=1 (read from
# /etc/procd-standin.env) an instance's command is also started, its
# output appended to /tmp/NAME.out and its pid kept in /var/run/NAME.pid.
# Stopping it is procd's: SIGTERM, return at once, SIGKILL if it still
# runs after term_timeout (procd's default, 5 s, unless set).

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
	case "$1" in
	command)
		shift
		_procd_command="$*"
		;;
	term_timeout) _procd_term_timeout=$2 ;;
	esac
}

procd_close_instance() {
	local old
	procd_record "close_instance"
	[ "$PROCD_SPAWN" = 1 ] && [ -n "$_procd_command" ] || return 0
	# A restart: the old process may still be exiting and hold the
	# daemon's socket. procd would start the new one anyway and respawn
	# it when it fails; the stand-in does not respawn, so it starts the
	# new one once the old one is gone (SIGKILLed at term_timeout).
	if [ -f "/var/run/$name.stopping" ]; then
		old=$(cat "/var/run/$name.stopping")
		while kill -0 "$old" 2>/dev/null; do
			sleep 0.1
		done
		rm -f "/var/run/$name.stopping"
	fi
	rm -f "/var/run/$name.pid"
	echo "${_procd_term_timeout:-5}" >"/var/run/$name.term_timeout"
	# As procd, a parent that stays and reaps the process: an exited
	# daemon must not linger as a zombie, which kill -0 and pidof count.
	# A new sh, not a subshell: a subshell of the init script has its
	# name, which pidof would take for the daemon's.
	# shellcheck disable=SC2086 # the command line is split as procd does
	sh -c '"$@" & echo $! >"/var/run/$0.pid"; wait' "$name" $_procd_command \
		</dev/null >>"/tmp/$name.out" 2>&1 &
	while [ ! -s "/var/run/$name.pid" ]; do
		sleep 0.05
	done
}

_procd_stop() {
	local pid timeout
	procd_record "stop $1"
	[ -f "/var/run/$1.pid" ] || return 0
	pid=$(cat "/var/run/$1.pid")
	timeout=$(cat "/var/run/$1.term_timeout" 2>/dev/null)
	rm -f "/var/run/$1.pid" "/var/run/$1.term_timeout"
	kill -TERM "$pid" 2>/dev/null || return 0
	echo "$pid" >"/var/run/$1.stopping"
	# The SIGKILL at term_timeout, in a new sh for the same reason.
	# shellcheck disable=SC2016 # expanded by that sh
	sh -c 'i=0
		while kill -0 "$0" 2>/dev/null; do
			[ "$i" -ge "$(($1 * 10))" ] && exec kill -KILL "$0"
			sleep 0.1
			i=$((i + 1))
		done' "$pid" "${timeout:-5}" </dev/null >/dev/null 2>&1 &
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
