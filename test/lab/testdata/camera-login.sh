#!/bin/sh
# The camera firmware's login, run by inetutils telnetd --exec-login:
# BusyBox-style prompts, and only the factory default root:xc3511 (on the
# Mirai list) gets in. A real /bin/login would need a host account with
# that password.
clean() { printf '%s' "$1" | tr -d '\r\000'; }
ok=
for _ in 1 2 3; do
	printf 'ipcam login: '
	IFS= read -r user || exit 1
	printf 'Password: '
	stty -echo 2>/dev/null || true
	IFS= read -r pass || exit 1
	stty echo 2>/dev/null || true
	printf '\n'
	if [ "$(clean "$user")" = root ] && [ "$(clean "$pass")" = xc3511 ]; then
		ok=1
		break
	fi
	sleep 1
	printf 'Login incorrect\n'
done
[ -n "$ok" ] || exit 1
printf '\n\nBusyBox v1.19.3 (2016-05-12 10:11:45 CST) built-in shell (ash)\n'
printf "Enter 'help' for a list of built-in commands.\n\n"
while printf '# ' && IFS= read -r cmd; do
	cmd=$(clean "$cmd")
	case $cmd in
	exit | logout) exit 0 ;;
	'uname -a') echo 'Linux ipcam 3.0.8 #1 PREEMPT Thu May 12 10:15:32 CST 2016 armv5tejl GNU/Linux' ;;
	'') ;;
	*) echo "-sh: ${cmd%% *}: not found" ;;
	esac
done
