#!/bin/sh
# Socket activation: with LISTEN_FDS and LISTEN_PID, as systemd passes a
# socket, the service serves descriptor 3 instead of making its own; a
# client that connected before the service started is served, and so is
# one after; the socket's file is left to whoever made it.  What is
# passed must be a listening Unix-domain stream socket.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/service-lib.sh"
plan 10

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# The socket is made and listened on, then, once $T/go exists, forkpool
# is run in the same process with it as descriptor 3, as systemd does.
cat >"$T/activate.py" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
open(sys.argv[2] + '.listening', 'w').close()
deadline = time.monotonic() + 20
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.02)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ['LISTEN_FDS'] = '1'
os.environ['LISTEN_PID'] = str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
PY
$PY "$T/activate.py" "$sock" "$T/go" "$FORKPOOL" --listen "$sock" -w 2 -v \
    builtin:echo </dev/null >"$T/svc.out" 2>"$T/svc.err" 3>&- 4>&- 5>&- 6>&- &
sup=$!
track "$sup"
wait_for 20 test -e "$T/go.listening"
ctl submit early >"$T/early.out" 2>&1 &
early=$!
wait_for 10 eval '[ -n "$(ss -xH state connected 2>/dev/null | grep -F "$sock")" ] || sleep 0.2'
touch "$T/go"
wait "$early"
is "a client that connected before the service started is served" \
    "$(cat "$T/early.out")" "early"
is "  and one after" "$(ctl submit late)" "late"
ok "the log says where the socket came from" \
    has "listening on $sock, passed by systemd" "$T/svc.err"
ok "no handler sees LISTEN_FDS" eval '! tr "\0" "\n" \
    </proc/$(workers_of "$sup" | head -1)/environ | grep -q "^LISTEN_"'
stop_service
is "SIGTERM: exit status 0" "$fp_rc" 0
ok "the socket's file is left to whoever made it" test -S "$sock"
rm -f "$sock"

# What is passed must be a listening Unix-domain stream socket.
: >"$T/file"
sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@" 3<"$0"' "$T/file" \
    "$FORKPOOL" --listen "$sock" -w 1 builtin:echo </dev/null \
    >/dev/null 2>"$T/bad.err"
is "a file passed: exit status 2" "$?" 2
ok "  said in one line" has \
    "descriptor 3 from LISTEN_FDS: not a listening Unix-domain stream socket" \
    "$T/bad.err"

# systemd's own tool, which starts the service at the first connection.
if command -v systemd-socket-activate >/dev/null 2>&1; then
	systemd-socket-activate -l "$sock" "$FORKPOOL" --listen "$sock" -w 1 \
	    builtin:echo </dev/null >/dev/null 2>"$T/ssa.err" 3>&- 4>&- 5>&- 6>&- &
	ssa=$!
	track "$ssa"
	wait_for 10 test -S "$sock"
	is "systemd-socket-activate: the first client starts it" \
	    "$(ctl submit first)" "first"
	is "  and the next is served" "$(ctl submit next)" "next"
	kill -TERM "$ssa"
	fp_wait "$ssa"
else
	skip "systemd-socket-activate" "not installed (Debian: systemd)"
	skip "  and the next is served" "not installed (Debian: systemd)"
fi
finish
