#!/bin/sh
# Service mode: many clients at once on the job socket, per-key order while
# a worker is killed, a client that goes away, a bad frame, the socket's
# mode and owner checks, priority, status, a live socket not stolen, and a
# drain on SIGTERM that leaves no file behind.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 39

# --- 50 clients, 2,000 jobs each, at once ---------------------------------------

start_service 2 builtin:fnv
ok "the socket appears" test -S "$sock"
is "the socket is mode 0600 by default" "$(stat -c %a "$sock")" 600
is "a pidfile beside it holds the supervisor's pid" "$(cat "$sock.pid")" "$sup"

i=0
pids=
while [ $i -lt 50 ]; do
	client "$sock" submit 2000 >"$T/c$i.out" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
bad=0
for p in $pids; do
	wait "$p" || bad=$((bad + 1))
done
is "50 clients x 2,000 jobs: every client got each result once, correct" \
    "$bad" 0
is "...100,000 results in all" \
    "$(cat "$T"/c*.out | awk '/^results/ { n += $2 } END { print n }')" 100000

client "$sock" status text >"$T/status.txt"
ok "status: a line per worker slot" \
    grep -qE '^1 +[0-9]+ +idle' "$T/status.txt"
ok "status: totals count every job" \
    grep -q '^jobs: 100000 submitted, 100000 ok, 0 failed' "$T/status.txt"
client "$sock" status json >"$T/status.json"
ok "status json: parses, with two workers" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if len(d["workers"]) == 2 and d["jobs"]["ok"] == 100000 else 1)' \
    "$T/status.json"
client "$sock" status prometheus >"$T/metrics.txt"
ok "metrics: Prometheus text with the job counter" \
    grep -q '^forkpool_jobs_total{status="ok"} 100000$' "$T/metrics.txt"

# --- a bad frame drops that client only -----------------------------------------

client "$sock" garbage >"$T/garbage.out"
ok "garbage: the client is told why" grep -qx 'error: bad magic' \
    "$T/garbage.out"
ok "garbage: and disconnected" grep -qx closed "$T/garbage.out"
ok "garbage: the supervisor logged the reason" has 'bad magic' "$T/svc.err"
ok "garbage: the service still serves" quiet client "$sock" submit 100

# --- a client that goes away ----------------------------------------------------

client "$sock" submit 400 --handler sleep --ms 2 --quit-after 5 \
    >"$T/quit.out"
ok "a client quits with jobs pending" grep -q 'quit after 5' "$T/quit.out"
ok "the others are not disturbed" quiet client "$sock" submit 500
ok "the supervisor is still up" proc_alive "$sup"

stop_service
is "SIGTERM: exit status 0 after the drain" "$fp_rc" 0
ok "SIGTERM: the socket is removed" test ! -e "$sock"
ok "SIGTERM: the pidfile is removed" test ! -e "$sock.pid"

# --- per-key order while a worker is killed --------------------------------------

start_service 2 builtin:echo
client "$sock" submit 20000 --keys 50 --handler echo >"$T/keyed.out" &
cpid=$!
victim=$(workers_of "$sup" | head -n 1)
kill -9 "$victim"
wait "$cpid"
is "keyed, a worker killed: every result once, each key in order" "$?" 0 ||
    diag_file "$T/keyed.out"
ok "keyed: the slot was refilled" wait_for 10 refilled 2 "$sup" "$victim"

# --- a live socket is not stolen; a stale one is replaced --------------------------

"$FORKPOOL" --listen "$sock" -w 1 builtin:echo </dev/null >/dev/null \
    2>"$T/second.err"
is "a second service on a live socket: exit status 2" "$?" 2
ok "...saying who serves it" has "already served by forkpool pid $sup" \
    "$T/second.err"
kill -9 "$sup"
fp_wait "$sup"
ok "after kill -9 the socket file is left behind" test -S "$sock"
start_service 1 builtin:echo
ok "a new service replaces the stale socket" quiet client "$sock" submit 10 \
    --handler echo

# Anything else at the socket's path is left alone.
stop_service
echo "not a socket" >"$T/file"
"$FORKPOOL" --listen "$T/file" -w 1 builtin:echo </dev/null >/dev/null \
    2>"$T/file.err"
is "a regular file at the socket's path: exit status 2" "$?" 2
ok "...saying why" has "$T/file: exists and is not a socket" "$T/file.err"
is "...and the file is untouched" "$(cat "$T/file")" "not a socket"
ok "...and no pidfile is left behind" test ! -e "$T/file.pid"

# The pidfile is never written through a symbolic link, nor into a file
# with another name: a root service would truncate what they point to.
echo "precious" >"$T/victim"
ln -s "$T/victim" "$T/link.sock.pid"
fp_bg /dev/null /dev/null "$T/link.err" --listen "$T/link.sock" -w 1 \
    builtin:echo
fp_wait "$fp_pid" 10
is "a symbolic link at the pidfile's path: exit status 2" "$fp_rc" 2
ok "...saying why" has "$T/link.sock.pid is a symbolic link" "$T/link.err"
is "...and the file it points to is untouched" "$(cat "$T/victim")" precious
ok "...nor is a socket made" test ! -e "$T/link.sock"
ln "$T/victim" "$T/hard.sock.pid"
fp_bg /dev/null /dev/null "$T/hard.err" --listen "$T/hard.sock" -w 1 \
    builtin:echo
fp_wait "$fp_pid" 10
is "a hard link at the pidfile's path: exit status 2, the file untouched" \
    "$fp_rc:$(cat "$T/victim")" 2:precious
start_service 1 builtin:echo

# --- priority: a high job overtakes the normal ones waiting ----------------------

client "$sock" submit 30 --handler sleep --ms 20 --high 20 >"$T/prio.out"
first=$(sed -n 's/^first-ids //p' "$T/prio.out" | cut -d' ' -f1-3)
case " $first " in
*" 21 "*)	pass "priority: the high job (id 21) is among the first 3 results" ;;
*)		fail "priority: the high job (id 21) is among the first 3 results"
		diag "first results: $first" ;;
esac
stop_service

# --- the peer's uid is checked ---------------------------------------------------

# The client runs as nobody, so it needs a python3 that nobody can run.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
    [ -x /usr/bin/python3 ]; then
	chmod 755 "$T"
	cp "$TESTS_SRCDIR/fpclient.py" "$T/fpclient.py"
	chmod 644 "$T/fpclient.py"
	as_nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		    /usr/bin/python3 "$T/fpclient.py" "$@"
	}
	start_service 1 --socket-mode 0666 builtin:echo
	as_nobody "$sock" submit 1 --handler echo >"$T/nobody.out" 2>&1
	is "uid 65534 not allowed: refused (exit 3)" "$?" 3
	ok "...told why" grep -qx 'refused: uid 65534 is not allowed' \
	    "$T/nobody.out"
	ok "...and the refusal is logged" has 'uid 65534 is not allowed' \
	    "$T/svc.err"
	stop_service
	start_service 1 --socket-mode 0666 --allow-user 65534 builtin:echo
	ok "--allow-user 65534: that uid is served" quiet as_nobody "$sock" \
	    submit 5 --handler echo
	stop_service
else
	for d in "refused" "told why" "logged" "--allow-user"; do
		skip "uid check: $d" "needs root, setpriv and /usr/bin/python3"
	done
fi
finish
