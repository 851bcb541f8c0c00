#!/bin/sh
# One socket path everywhere: what forkpool --help and forkpoolctl -h say,
# the manuals, forkpool.conf and forkpool.socket all name the service's
# socket at /run/forkpool, whatever the install's prefix; nothing names
# another.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
plan 9

path=/run/forkpool/forkpool.sock
CTL=${FORKPOOLCTL:-$TESTS_BUILDDIR/../forkpoolctl}
src=$TESTS_SRCDIR/..

"$FORKPOOL" --help >"$T/help" 2>&1
ok "forkpool --help names $path" has "$path" "$T/help"
"$CTL" -h >"$T/ctlhelp" 2>&1
ok "forkpoolctl -h names it as its default" has "else $path)" "$T/ctlhelp"
for f in doc/forkpool.1 doc/forkpoolctl.1 doc/forkpool.conf.5 \
    contrib/forkpool.conf contrib/forkpool.socket; do
	ok "$f names it" has "$path" "$src/$f"
done
ok "nothing names it under another root (runstatedir)" eval '! cat "$T/help" \
    "$T/ctlhelp" "$src/doc/forkpool.1" "$src/doc/forkpoolctl.1" \
    "$src/doc/forkpool.conf.5" "$src/contrib/forkpool.conf" \
    "$src/contrib/forkpool.socket" "$src/README.md" |
    grep -o "[A-Za-z0-9_./-]*run/forkpool/forkpool\.sock" | grep -v "^$path\$"'
ok "the socket unit listens there" has "ListenStream=$path" \
    "$src/contrib/forkpool.socket"
finish
