#!/bin/sh
# Per-job timeouts (-t): a hung job's worker is killed and replaced, the
# job fails after its attempts with "timeout after N attempts", and the
# other jobs succeed.  The timeout is per job, not per worker's busy time.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 16

# --- a hung job, one worker -----------------------------------------------------

# With one worker the run can only go on if each killed worker is replaced:
# the jobs behind the hung one were in flight on it and come back.
{
	echo "a 0"
	echo "b 30000"
	for x in c d e f g h i j; do echo "$x 0"; done
} >"$T/hung.in"
grep -v '^b ' "$T/hung.in" >"$T/hung.good"
fp_run "$T/hung.in" "$T/hung.out" "$T/hung.err" -v -w 1 -t 0.3 \
    --failed "$T/hung.failed" builtin:sleep
is "hung job, -t 0.3: exit status 1" "$fp_rc" 1
same_file "hung job: every other line succeeds, in order" "$T/hung.out" \
    "$T/hung.good"
ok "hung job: 'line 2 failed: timeout after 3 attempts: b 30000'" \
    grep -qxF 'forkpool: supervisor: line 2 failed: timeout after 3 attempts: b 30000' \
    "$T/hung.err" || diag_file "$T/hung.err" 40
is "hung job: killed once per attempt ('line 2 ran past the 0.3 s timeout')" \
    "$(grep -c '^forkpool: supervisor: worker 0: line 2 ran past the 0.3 s timeout; killing pid [0-9]*$' "$T/hung.err")" 3
is "hung job: each killed worker ended by SIGTERM after a timeout" \
    "$(count ' killed by signal 15 (Terminated) after a timeout' "$T/hung.err")" 3
grep "^b " "$T/hung.in" >"$T/hung.bad"
same_file "hung job: --failed holds the hung line" "$T/hung.failed" \
    "$T/hung.bad"

# Each killed pid is followed by a new worker in its slot, with a new pid.
replaced() {
	awk '
		/ ran past the .* timeout; killing pid / {
			killed[++nk] = $NF
			waiting = $NF
			next
		}
		/: ready, pid / {
			pid = $NF
			if (waiting != "") {
				if (pid == waiting) bad = 1
				replaced++
				waiting = ""
			}
			ready[pid]++
		}
		END {
			for (p in ready) if (ready[p] > 1) bad = 1
			exit !(nk == 3 && replaced == 3 && !bad)
		}' "$T/hung.err"
}
ok "hung job: each killed worker was replaced by a new process" replaced
is "hung job: 4 workers in all said ready (1 + 3 replacements)" \
    "$(count ': ready, pid ' "$T/hung.err")" 4

# --- the line number in the timeout message --------------------------------------

# A line rejected before the hung one: the hung job is input line 2.
{
	printf '%0100d\n' 0
	echo "b 30000"
	echo "c 0"
} >"$T/lineno.in"
fp_run "$T/lineno.in" "$T/lineno.out" "$T/lineno.err" -w 1 -a 1 -t 0.3 \
    --frame-max 64 builtin:sleep
is "after a rejected line: exit status 1" "$fp_rc" 1
ok "after a rejected line: 'line 2 failed: timeout after 1 attempt'" \
    grep -qxF 'forkpool: supervisor: line 2 failed: timeout after 1 attempt: b 30000' \
    "$T/lineno.err"
ok "after a rejected line: the kill message names input line 2 too" \
    grep -qxE 'forkpool: supervisor: worker 0: line 2 ran past the 0.3 s timeout; killing pid [0-9]+' \
    "$T/lineno.err" || diag_file "$T/lineno.err"

# --- the timeout is per job ------------------------------------------------------

# 60 jobs of 10 ms on one worker, all in flight at once, keep it busy for
# 0.6 s: more than the 0.4 s timeout, but no job comes near it.
awk 'BEGIN { for (i = 1; i <= 60; i++) print "job", i, 10 }' >"$T/short.in"
fp_run "$T/short.in" "$T/short.out" "$T/short.err" -w 1 --window 64 -t 0.4 \
    builtin:sleep
is "60 jobs of 10 ms, -t 0.4: exit status 0" "$fp_rc" 0
same_file "60 jobs of 10 ms, -t 0.4: all succeed" "$T/short.out" \
    "$T/short.in"
not_ok "60 jobs of 10 ms, -t 0.4: no job is killed" \
    grep -q 'ran past' "$T/short.err"

# --- a timeout under a millisecond -----------------------------------------------

# It must be refused (exit 2) or enforced (the job fails), never ignored.
echo "b 1000" >"$T/tiny.in"
fp_run "$T/tiny.in" "$T/tiny.out" "$T/tiny.err" -w 1 -a 1 -t 0.0005 \
    builtin:sleep
not_ok "-t 0.0005 on a 1 s job: not ignored (the job does not succeed)" \
    test "$fp_rc" = 0
ok "-t 0.0005 on a 1 s job: no result" test ! -s "$T/tiny.out"

finish
