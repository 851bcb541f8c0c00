#!/bin/sh
# Restarts in batch mode, at the default restart settings.  A killer from
# outside SIGKILLs a worker every 20 ms while a batch runs: the workers it
# kills had done jobs, and are replaced at once, so every job runs once, in
# order, the run ends, and no slot waits out a backoff.  A crash loop
# (every line kills its worker before a first result) is still backed off
# and marks the pool degraded.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 10

# killer SUP: every 20 ms, SIGKILL one of the supervisor's workers that was
# there two rounds before already (one that has said HELLO and taken
# jobs), until $T/stop-killing exists; a line in $T/kills for each kill.
killer() {
	k_older= k_old=
	: >"$T/kills"
	while [ ! -e "$T/stop-killing" ]; do
		k_now=$(echo $(pgrep -P "$1"))
		for k_pid in $k_now; do
			case " $k_older " in
			*" $k_pid "*)
				kill -9 "$k_pid" 2>/dev/null &&
				    echo "$k_pid" >>"$T/kills"
				break
				;;
			esac
		done
		k_older=$k_old
		k_old=$k_now
		sleep 0.02
	done
}
killed_at_least() {
	[ "$(wc -l <"$T/kills")" -ge "$1" ]
}
at_once_at_least() {
	[ "$(count 'restarting at once' "$T/err")" -ge "$1" ]
}

# Lines at 5,000 a second, written to $T/in too, until $T/stop-input
# exists: the run goes on until the killer has done its work, however
# slow the machine.
mkfifo "$T/in.fifo"
fp_bg "$T/in.fifo" "$T/out" "$T/err" -v -w 2 builtin:fnv
sup=$fp_pid
python3 -c '
import os, sys, time
stop, copy = sys.argv[1], open(sys.argv[2], "wb")
i, t = 0, time.monotonic()
while not os.path.exists(stop):
    lines = b"".join(b"job %d\n" % n for n in range(i + 1, i + 51))
    i += 50
    copy.write(lines)
    sys.stdout.buffer.write(lines)
    sys.stdout.flush()
    t += 0.01
    time.sleep(max(0.0, t - time.monotonic()))
' "$T/stop-input" "$T/in" >"$T/in.fifo" 3>&- 4>&- 5>&- 6>&- &
feeder=$!
track "$feeder"
wait_for 10 test -s "$T/out"
killer "$sup" 3>&- 4>&- 5>&- 6>&- &
k_pid=$!
track "$k_pid"
# Twenty kills, then the killer stops, its last victims are replaced,
# and the input ends.
wait_for 30 killed_at_least 20
touch "$T/stop-killing"
wait "$k_pid"
untrack "$k_pid"
kills=$(wc -l <"$T/kills")
wait_for 10 at_once_at_least $((kills * 9 / 10))
touch "$T/stop-input"
wait "$feeder"
untrack "$feeder"
fp_wait "$sup" 60
"$FNVREF" <"$T/in" >"$T/want"

is "killed every 20 ms: exit status 0" "$fp_rc" 0 || diag_file "$T/err"
same_file "...every job once, in order ($(wc -l <"$T/in") jobs)" "$T/out" \
    "$T/want"
ok "...the killer killed twenty workers or more ($kills)" test "$kills" -ge 20
ok "...and (nine in ten of them at least) each was restarted at once" \
    at_once_at_least $((kills * 9 / 10))
not_ok "...none waited a backoff of a second or more" \
    grep -Eq 'restarting in [0-9]{4,} ms' "$T/err"
not_ok "...and the pool was never degraded" has 'degraded' "$T/err"

# A crash loop: each line kills its worker before the worker has returned
# anything.  Past five restarts in ten seconds the pool is degraded, and
# the slot, failing again and again, waits the longest backoff.
awk 'BEGIN { for (i = 1; i <= 20; i++) print i, "CRASH" }' >"$T/crash.in"
fp_bg "$T/crash.in" "$T/crash.out" "$T/crash.err" -v -w 1 \
    --shutdown-timeout 1 builtin:crash
sup=$fp_pid
ok "every line crashing its worker: the pool is degraded" \
    wait_for 10 has 'the pool is degraded' "$T/crash.err"
ok "...and the slot backs off to 5 s (+-25%)" \
    wait_for 10 grep -Eq 'restarting in [0-9]{4} ms' "$T/crash.err"
is "...not before its third crash in a row: 10 ms, then 20 ms" \
    "$(grep 'restarting in' "$T/crash.err" | head -n 2 |
    grep -Ec 'restarting in [0-9]{1,2} ms')" 2 || diag_file "$T/crash.err"
kill -TERM "$sup"
fp_wait "$sup"
is "...and SIGTERM stops the run" "$fp_rc" 143 || diag_file "$T/crash.err"
finish
