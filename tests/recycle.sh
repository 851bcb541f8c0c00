#!/bin/sh
# Recycling (--max-jobs, --max-jobs-jitter): a worker that has taken its
# allowance of jobs is replaced by a new one started before it leaves, so
# the pool never has fewer live workers than it should, and no job is lost
# or run twice.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 15

# Batch: 5,000 lines, every worker replaced after 200 to 250 jobs.
seq 5000 >"$T/in"
"$FNVREF" <"$T/in" >"$T/want"
fp_run "$T/in" "$T/out" "$T/err" -v -w 2 --max-jobs 200 \
    --max-jobs-jitter 50 builtin:fnv
is "batch: exit status 0" "$fp_rc" 0
same_file "batch: every result once, in order" "$T/out" "$T/want"
n=$(count 'takes over from pid' "$T/err")
ok "batch: workers were recycled ($n times)" test "$n" -ge 16
not_ok "batch: none crashed or restarted" \
    grep -Eq 'restarting (in|at once)' "$T/err"

# Service: sample the status while 2,000 keyed jobs run through workers
# recycled every 100 to 120 jobs.
start_service 2 --max-jobs 100 --max-jobs-jitter 20 builtin:sleep
live_is_2() {
	[ "$(ctl status | awk '/^[0-9]+ +[0-9]+ +(idle|busy) /' | wc -l)" -eq 2 ]
}
wait_for 10 live_is_2
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" submit 2000 --keys 25 \
    --handler sleep --ms 1 >"$T/load.out" 2>&1 &
load=$!
samples=0 short=0
while proc_alive "$load"; do
	ctl status >"$T/st" 2>/dev/null || continue
	samples=$((samples + 1))
	if [ "$(awk '/^[0-9]+ +[0-9]+ +(idle|busy) /' "$T/st" | wc -l)" -ne 2 ]
	then
		short=$((short + 1))
		diag_file "$T/st"
	fi
done
wait "$load"
is "service: every job once, each key in order" "$?" 0 ||
    diag_file "$T/load.out"
ok "service: 2,000 results" grep -q '^results 2000 ' "$T/load.out"
ok "service: the status was sampled ($samples times)" test "$samples" -ge 5
is "service: never fewer than 2 live workers" "$short" 0
ctl status >"$T/st"
recycles=$(awk '/^[0-9]+ +[0-9]+ / { n += $6 } END { print n + 0 }' "$T/st")
restarts=$(awk '/^[0-9]+ +[0-9]+ / { n += $5 } END { print n + 0 }' "$T/st")
ok "service: status counts the recycles ($recycles)" test "$recycles" -ge 12
is "service: ...apart from restarts" "$restarts" 0
stop_service
is "the service stops cleanly" "$fp_rc" 0

# --max-rss: a plugin that keeps 256 KiB more with each 5 ms job.
plugin=$TESTS_BUILDDIR/.libs/test-plugin.so
seq 300 >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -v -w 1 --max-rss 16 "$plugin" leak 256 5
is "--max-rss: exit status 0" "$fp_rc" 0
is "...every job once, in order" "$(cut -d' ' -f1 "$T/out" | cmp - "$T/in" &&
    echo same)" same
n=$(cut -d' ' -f2 "$T/out" | sort -u | wc -l)
ok "...run by more than one worker process ($n)" test "$n" -ge 3
ok "...each replaced for its memory" grep -q 'holds [0-9]* KiB: starting its replacement' "$T/err"
finish
