#!/bin/sh
# A pool that sizes itself (--workers MIN-MAX, workers MIN MAX): it grows
# while jobs wait, shrinks back once workers have been idle for
# --idle-timeout, loses no job, and refuses to be scaled by hand outside
# its bounds.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 8

slots_above() {
	[ "$(nslots)" -gt "$1" ]
}

start_service 1-3 --idle-timeout 0.5 -v builtin:sleep
ok "it starts with MIN workers" wait_for 10 slots_are 1
ok "status says the pool sizes itself" sh -c \
    "'$CTL' -s '$sock' status |
    grep -q 'sized by the pool within 1 to 3'"

# 400 keyed jobs of 5 ms: two seconds of work for one worker.
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" submit 400 --keys 20 \
    --handler sleep --ms 5 >"$T/load.out" 2>&1 &
load=$!
ok "jobs wait: it grows" wait_for 10 slots_above 1
wait "$load"
is "every job once, each key in order, while it grew" "$?" 0 ||
    diag_file "$T/load.out"
ok "it says why it grew" grep -q 'jobs are waiting: growing' "$T/svc.err"
ok "idle: back to MIN" wait_for 20 slots_are 1

ctl scale 5 >"$T/scale.out" 2>&1
is "scale outside MIN-MAX is refused" "$?" 1
stop_service
is "the service stops cleanly" "$fp_rc" 0
finish
