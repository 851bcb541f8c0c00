#!/bin/sh
# Crashes and bad frames: a job that kills its worker once is retried and
# succeeds; one that always does fails after exactly -a attempts while the
# others succeed; a worker killed from outside loses and doubles nothing; a
# worker that answers garbage is replaced and its job re-delivered.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 40

segv='killed by signal 11 (Segmentation fault)'

# --- FLAKY: a crash at attempt 1 only ------------------------------------------

awk 'BEGIN { for (i = 1; i <= 200; i++)
	if (i % 40 == 7) print i, "FLAKY"; else print i }' >"$T/flaky.in"
fp_run "$T/flaky.in" "$T/flaky.out" "$T/flaky.err" -w 2 builtin:crash
is "FLAKY lines: exit status 0" "$fp_rc" 0
same_file "FLAKY lines: every line succeeds, in order" "$T/flaky.out" \
    "$T/flaky.in"
# Five crashes exactly: one per FLAKY line.  A crash charged to the wrong
# job would run the FLAKY line at attempt 1 again, and crash again.
is "FLAKY lines: exactly one crash per FLAKY line" \
    "$(count "$segv" "$T/flaky.err")" 5 || diag_file "$T/flaky.err"
not_ok "FLAKY lines: no failure reported" grep -q ' failed: ' "$T/flaky.err"

# --failed is created or truncated at start: a clean run leaves it empty.
printf 'stale line\n' >"$T/flaky.failed"
fp_run "$T/flaky.in" "$T/flaky2.out" "$T/flaky2.err" -w 2 \
    --failed "$T/flaky.failed" builtin:crash
exists_empty() { [ -f "$1" ] && [ ! -s "$1" ]; }
ok "--failed FILE: truncated at start, empty after a run without failures" \
    exists_empty "$T/flaky.failed"

# --- CRASH: fails after exactly -a attempts -------------------------------------

awk 'BEGIN { for (i = 1; i <= 60; i++)
	if (i == 13 || i == 41) print i, "CRASH here"; else print i }' \
    >"$T/crash.in"
grep -v CRASH "$T/crash.in" >"$T/crash.good"
grep CRASH "$T/crash.in" >"$T/crash.bad"
for a in 1 2 3; do
	if [ "$a" = 1 ]; then s=; else s=s; fi
	fp_run "$T/crash.in" "$T/crash$a.out" "$T/crash$a.err" -w 2 -a "$a" \
	    --failed "$T/crash$a.failed" builtin:crash
	is "-a $a, CRASH lines: exit status 1" "$fp_rc" 1
	same_file "-a $a, CRASH lines: every other line succeeds, in order" \
	    "$T/crash$a.out" "$T/crash.good"
	reported() {
		grep -qxF "forkpool: supervisor: line 13 failed: crashed after $a attempt$s: 13 CRASH here" \
		    "$T/crash$a.err" &&
		grep -qxF "forkpool: supervisor: line 41 failed: crashed after $a attempt$s: 41 CRASH here" \
		    "$T/crash$a.err"
	}
	ok "-a $a, CRASH lines: stderr says 'crashed after $a attempt$s' for each" \
	    reported || diag_file "$T/crash$a.err"
	is "-a $a, CRASH lines: each ran exactly $a times" \
	    "$(count "$segv" "$T/crash$a.err")" $((2 * a))
	same_file "-a $a, CRASH lines: --failed holds exactly the CRASH lines" \
	    "$T/crash$a.failed" "$T/crash.bad"
done

# --- only the running job is charged ---------------------------------------------

# One worker, 64 jobs in flight at once, one attempt each: the jobs queued
# behind the CRASH line on the dying worker are re-delivered uncharged.
awk 'BEGIN { for (i = 1; i <= 300; i++)
	if (i == 50) print i, "CRASH"; else print i }' >"$T/inflight.in"
grep -v CRASH "$T/inflight.in" >"$T/inflight.good"
fp_run "$T/inflight.in" "$T/inflight.out" "$T/inflight.err" -w 1 -a 1 \
    --window 64 builtin:crash
is "-a 1 --window 64, one CRASH line: exit status 1" "$fp_rc" 1
same_file "-a 1 --window 64: the jobs in flight with it still succeed" \
    "$T/inflight.out" "$T/inflight.good"
is "-a 1 --window 64: only the CRASH line is reported failed" \
    "$(grep ' failed: ' "$T/inflight.err")" \
    "forkpool: supervisor: line 50 failed: crashed after 1 attempt: 50 CRASH"

# The same, keyed: the dead worker's keyed jobs go back to their slot.
awk 'BEGIN { for (i = 1; i <= 300; i++)
	if (i == 50) print "k" i % 3, i, "CRASH"; else print "k" i % 3, i }' \
    >"$T/inkey.in"
grep -v CRASH "$T/inkey.in" >"$T/inkey.good"
fp_run "$T/inkey.in" "$T/inkey.out" "$T/inkey.err" -w 2 -a 1 -k 1 \
    --window 64 builtin:crash
is "-a 1 -k 1, one CRASH line: exit status 1" "$fp_rc" 1
same_file "-a 1 -k 1: every other line succeeds, in order" \
    "$T/inkey.out" "$T/inkey.good"

# --- a worker killed with SIGKILL in the middle of 3,000 sleep jobs -----------------

awk 'BEGIN { for (i = 1; i <= 3000; i++) print "job", i }' >"$T/kill.in"
mkfifo "$T/kill.fifo"
exec 3<>"$T/kill.fifo"
fp_bg "$T/kill.fifo" "$T/kill.out" "$T/kill.err" -v -w 3 builtin:sleep 1
sup=$fp_pid
head -n 2000 "$T/kill.in" >&3
# The rest of the input is held back, so the run is not over.  Kill a worker
# while it is inside a job, if we can see that (its wchan), else any.
victim=$(wait_for 10 sleeping_worker "$sup") ||
    victim=$(workers_of "$sup" | head -n 1)
diag "killing worker pid ${victim:-none} after $(wc -l <"$T/kill.out") results"
ok "a worker to kill was found" test -n "$victim" && kill -9 "$victim"
ok "SIGKILLed worker: its slot is refilled (3 workers, a new pid)" \
    wait_for 10 refilled 3 "$sup" "$victim"
tail -n +2001 "$T/kill.in" >&3
exec 3>&-
fp_wait "$sup"
is "SIGKILLed worker: exit status 0" "$fp_rc" 0
ok "SIGKILLed worker: the supervisor saw the kill" \
    grep -q "pid $victim killed by signal 9" "$T/kill.err" ||
    diag_file "$T/kill.err"
same_file "SIGKILLed worker: all 3,000 results, once each, in input order" \
    "$T/kill.out" "$T/kill.in"
sort "$T/kill.out" | uniq -d >"$T/kill.dups"
ok "SIGKILLed worker: no result twice" test ! -s "$T/kill.dups"
is "SIGKILLed worker: 4 workers said ready in all" \
    "$(count ': ready, pid ' "$T/kill.err")" 4

# --- GARBAGE: a malformed frame at attempt 1 ----------------------------------------

awk 'BEGIN { for (i = 1; i <= 100; i++)
	if (i == 20 || i == 70) print i, "GARBAGE"; else print i }' >"$T/garbage.in"
# One worker: the run cannot end unless the bad worker is replaced.
fp_run "$T/garbage.in" "$T/garbage.out" "$T/garbage.err" -v -w 1 \
    builtin:crash
is "GARBAGE lines: exit status 0" "$fp_rc" 0
same_file "GARBAGE lines: re-delivered, every line succeeds, in order" \
    "$T/garbage.out" "$T/garbage.in"
ok "GARBAGE lines: stderr says 'worker N: protocol error: bad magic'" \
    grep -Eq '^forkpool: supervisor: worker [0-9]+: protocol error: bad magic$' \
    "$T/garbage.err" || diag_file "$T/garbage.err"
is "GARBAGE lines: one protocol error each" \
    "$(count ': protocol error: ' "$T/garbage.err")" 2
is "GARBAGE lines: each bad worker replaced (3 workers said ready)" \
    "$(count ': ready, pid ' "$T/garbage.err")" 3

# -a 1: the job whose answer was garbage is the one charged, and fails.
fp_run "$T/garbage.in" "$T/garbage1.out" "$T/garbage1.err" -w 2 -a 1 \
    --failed "$T/garbage1.failed" builtin:crash
is "GARBAGE lines, -a 1: exit status 1" "$fp_rc" 1
grep -v GARBAGE "$T/garbage.in" >"$T/garbage.good"
same_file "GARBAGE lines, -a 1: every other line succeeds" \
    "$T/garbage1.out" "$T/garbage.good"
grep GARBAGE "$T/garbage.in" >"$T/garbage.bad"
same_file "GARBAGE lines, -a 1: --failed holds exactly the GARBAGE lines" \
    "$T/garbage1.failed" "$T/garbage.bad"

finish
