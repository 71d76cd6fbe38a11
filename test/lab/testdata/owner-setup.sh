#!/bin/sh
# owner-setup.sh BASE SOURCE CODE PASSWORD COOKIES: set the web page's
# password as a browser does (GET /setup for the form token, then POST
# it), from the address SOURCE; prints the POST's status.
set -e
base=$1 src=$2 code=$3 pass=$4 jar=$5
form=$(curl -sSk --max-time 5 --interface "$src" -c "$jar" -b "$jar" "$base/setup")
csrf=$(printf '%s' "$form" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
[ -n "$csrf" ] || { echo "no form token in /setup" >&2; exit 1; }
curl -sSk --max-time 10 --interface "$src" -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}\n' \
	--data-urlencode "csrf=$csrf" --data-urlencode "code=$code" \
	--data-urlencode "password=$pass" --data-urlencode "confirm=$pass" "$base/setup"
