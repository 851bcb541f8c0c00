#!/bin/sh
# The systemd units as built for install: systemd-analyze verify passes on
# forkpool.service and forkpool.socket, and the service's exposure, as
# systemd-analyze security rates it, is at most 3.0.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
plan 3

unit=$TESTS_BUILDDIR/../contrib/forkpool.service
why=
if ! command -v systemd-analyze >/dev/null 2>&1; then
	why="no systemd-analyze here (Debian: systemd)"
elif [ ! -f "$unit" ]; then
	why="no unit built (--with-systemdsystemunitdir=no)"
else
	# verify checks that ExecStart's program is there: ours is.
	sed "s|^ExecStart=[^ ]*|ExecStart=$(readlink -f "$FORKPOOL")|" \
	    "$unit" >"$T/forkpool.service"
	cp "$TESTS_SRCDIR/../contrib/forkpool.socket" "$T/forkpool.socket"
	printf '[Service]\nExecStart=/bin/true\n' >"$T/probe.service"
	(cd "$T" && systemd-analyze verify --man=no ./probe.service) \
	    >"$T/probe.out" 2>&1 ||
	    why="systemd-analyze verify cannot run here: $(head -1 "$T/probe.out")"
fi
if [ -n "$why" ]; then
	skip "verify forkpool.service and forkpool.socket" "$why"
	skip "  silently" "$why"
	skip "security: exposure at most 3.0" "$why"
	finish
	exit 0
fi

(cd "$T" && systemd-analyze verify --man=no ./forkpool.service \
    ./forkpool.socket) >"$T/verify.out" 2>&1
is "verify forkpool.service and forkpool.socket" "$?" 0
ok "  silently" eval '! [ -s "$T/verify.out" ] || { diag_file "$T/verify.out"; false; }'
systemd-analyze security --offline=true "$T/forkpool.service" \
    >"$T/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for forkpool.service: \([0-9.]*\).*/\1/p' \
    "$T/security.out")
diag "exposure: ${score:-none}"
ok "security: exposure at most 3.0" \
    awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }'
finish
