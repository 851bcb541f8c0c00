#!/bin/sh
# forkpoolctl top: on a pseudo-terminal, against a service doing jobs, the
# screen shows the service's workers and a jobs count that grows, survives
# a resize, and q or SIGTERM quit with status 0 and the terminal's modes
# restored.  Without a terminal it refuses, and top --once prints a frame.
# With -r, status and top --once on a pool in Redis fold its empty
# partitions into one line.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/redis-lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 19

start_service 2 builtin:fnv
pids=$(ctl --json status | grep -o '"pid":[0-9]*' | cut -d: -f2)

# Jobs all along, in rounds, bounded; killed at exit if still going.
awk 'BEGIN { for (i = 1; i <= 500; i++) print "job " i }' >"$T/jobs"
(
	n=0
	while [ "$n" -lt 2000 ] && "$CTL" -s "$sock" submit <"$T/jobs" \
	    >/dev/null 2>&1; do
		n=$((n + 1))
	done
) 3>&- 4>&- 5>&- 6>&- &
load=$!
track "$load"

if command -v python3 >/dev/null 2>&1; then
	timeout "$((60 * ${FORKPOOL_TEST_SCALE:-1}))" python3 \
	    "$TESTS_SRCDIR/ctl-top.py" "$T/screen" "$CTL" -s "$sock" top -- \
	    $pids >"$T/found" 2>"$T/found.err"
	found() {
		sed -n "s/^$1 //p" "$T/found"
	}
	is "top: the screen shows the service's worker pids" "$(found pids)" yes
	is "top: and the header's figures" "$(found figures)" yes
	is "top: the jobs count grows from one frame to the next" \
	    "$(found grew)" yes
	is "top: after a resize, drawn again" "$(found resized)" yes
	is "top: a resize does not end it" "$(found alive)" yes
	is "top: q quits with status 0" "$(found q)" 0
	is "top: the terminal's modes are restored" "$(found restored)" yes
	is "top: SIGTERM quits with status 0" "$(found sigterm)" 0
	is "top: ...restoring the terminal too" "$(found restored-term)" yes
	[ "$tap_failed" -eq 0 ] || {
		diag_file "$T/found.err"
		diag_file "$T/screen" 30
	}
else
	for d in pids figures grew resized alive q restored sigterm \
	    restored-term; do
		skip "top: $d" "no python3 to drive a pseudo-terminal"
	done
fi

# Without a terminal.
ctl_kept top </dev/null
is "top without a terminal: exit status 2" "$ctl_rc" 2
is "...and why" "$(cat "$T/ctl.err")" \
    "forkpoolctl: top: not a terminal; top --once prints one frame"
ctl_kept top --once
is "top --once: exit status 0" "$ctl_rc" 0
ok "top --once: a row per worker, with its pid" test \
    "$(for p in $pids; do grep -cE "^ +[0-9]+ +$p " "$T/ctl.out"; done |
    tr -d '\n')" = 11
ctl_kept --json top --once
ok "--json top --once: the JSON status" grep -q '^{"workers":\[{"slot":0' \
    "$T/ctl.out"
ctl_kept top --frobnicate
is "top with a stray argument: exit status 2" "$ctl_rc" 2

# A supervisor gone: said on the screen of --once, status 2.
stop_service
ctl_kept top --once
ok "top --once with no supervisor: exit status 2, the reason" \
    test "$ctl_rc" -eq 2 -a -n "$(grep 'cannot connect' "$T/ctl.err")"

# A pool in Redis, with jobs queued under one key and no supervisor.
if [ "${FORKPOOL_HAVE_REDIS:-yes}" = yes ] &&
    command -v redis-server >/dev/null 2>&1 &&
    command -v redis-cli >/dev/null 2>&1; then
	redis_start
	U=$REDIS_URL_BASE/t
	"$CTL" -r "$U" -P 16 submit -d -k alice a b c >/dev/null 2>&1
	"$CTL" -r "$U" -P 16 status >"$T/r.out" 2>&1
	is "-r status: a row for the partition with entries, 2 folded lines" \
	    "$(grep -cE '^[0-9]+ +3 +0' "$T/r.out") $(grep -cE '^partitions [0-9]+-[0-9]+: empty$' "$T/r.out")" \
	    "1 2"
	"$CTL" -r "$U" -P 16 top --once >"$T/r.out" 2>&1
	is "-r top --once: exit status 0" "$?" 0
	ok "-r top --once: the pool" \
	    has "pool t: 16 partitions, 3 entries" "$T/r.out"
	redis_stop
else
	why="no redis-server, or built without Redis support"
	skip "-r status: empty partitions folded" "$why"
	skip "-r top --once: exit status 0" "$why"
	skip "-r top --once: the pool" "$why"
fi

kill_tree "$load" 2>/dev/null
wait "$load" 2>/dev/null
untrack "$load"
finish
