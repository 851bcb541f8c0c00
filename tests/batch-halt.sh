#!/bin/sh
# --halt, as GNU parallel has it: after N (or N%) failed, succeeded or
# ended jobs, stop at once (now) or once the jobs the workers hold have
# finished (soon).  The jobs not run are summed up in one line and written
# to --failed, never dropped; failures past the first five are summed up.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 40

# One worker, one job at a time: which jobs ran is certain.
printf 'one\ntwo CRASH\nthree\nfour\nfive\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 --halt now,fail=1 \
    --failed "$T/failed" builtin:crash
is "now,fail=1: exit status 1" "$fp_rc" 1
is "...the job before the failure is answered" "$(cat "$T/out")" one
ok "...it says why it stops" has 'halting: 1 job failed' "$T/err"
ok "...the jobs after it are summed up in one line, not run" \
    has "3 jobs not run (" "$T/err"
is "...and stderr has no line per job: crash, failure, halt, summary" \
    "$(wc -l <"$T/err")" 4 || diag_file "$T/err"
is "...and written to --failed" "$(tr '\n' ,  <"$T/failed")" \
    "two CRASH,three,four,five,"

printf 'a\nb CRASH\nc\nd CRASH\ne\nf\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 --halt soon,fail=2 \
    --failed "$T/failed" builtin:crash
is "soon,fail=2: exit status 1" "$fp_rc" 1
is "...the jobs before the second failure ran" "$(tr '\n' , <"$T/out")" a,c,
is "...the rest are reported failed" "$(tr '\n' , <"$T/failed")" \
    "b CRASH,d CRASH,e,f,"

fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 --halt never \
    builtin:crash
is "never: every job runs" "$(tr '\n' , <"$T/out")" a,c,e,f,
"$FORKPOOL" --halt later,fail=1 builtin:echo </dev/null >/dev/null \
    2>"$T/err"
is "a bad --halt: exit status 2" "$?" 2
ok "...saying what it takes" has 'expected now,fail=N' "$T/err"
"$FORKPOOL" --listen "$T/s" --halt now,fail=1 builtin:echo </dev/null \
    >/dev/null 2>"$T/err"
ok "--halt in service mode is refused" has 'are for batch mode' "$T/err"

# Percentages of fail are of the jobs ended so far, from the third on:
# a ok (0%), b fails (1 of 2, too few), c ok (1 of 3), d fails (2 of 4).
printf 'a\nb CRASH\nc\nd CRASH\ne CRASH\nf\ng\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 \
    --halt soon,fail=50% --failed "$T/failed" builtin:crash
is "soon,fail=50%: exit status 1" "$fp_rc" 1
ok "...it halts at 2 failures of 4 jobs" \
    has 'halting: 2 jobs of 4 failed (--halt soon,fail=50%)' "$T/err" ||
    diag_file "$T/err"
is "...a and c ran" "$(tr '\n' , <"$T/out")" a,c,
is "...--failed holds the rest, in input order" \
    "$(tr '\n' , <"$T/failed")" "b CRASH,d CRASH,e CRASH,f,g,"

printf 'x CRASH\na\nb\nc\nd\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 \
    --halt soon,success=2 --failed "$T/failed" builtin:crash
is "soon,success=2: exit status 0, though a job failed" "$fp_rc" 0
is "...no job starts after the second success" "$(tr '\n' , <"$T/out")" a,b,
is "...--failed: the failure, then the jobs not run" \
    "$(tr '\n' , <"$T/failed")" "x CRASH,c,d,"
ok "...says so" has 'halting: 2 jobs succeeded (--halt soon,success=2)' \
    "$T/err"

printf 'a\nb CRASH\nc\nd\ne\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 \
    --halt soon,done=3 --failed "$T/failed" builtin:crash
is "soon,done=3: exit status 1 (a job failed)" "$fp_rc" 1
is "...three jobs ended, no more ran" "$(tr '\n' , <"$T/out")" a,c,
is "...--failed: the failure, then the jobs not run" \
    "$(tr '\n' , <"$T/failed")" "b CRASH,d,e,"

# done=N% is of every line, once the input has all been read.
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 \
    --halt soon,done=40% builtin:crash
is "soon,done=40%: 2 of the 5 jobs ended, no more ran" \
    "$(tr '\n' , <"$T/out")" a,
ok "...says so" has 'halting: 2 jobs of 5 ended' "$T/err"

# GNU parallel's older numbers: 2 is now,fail=1.
printf 'one\ntwo CRASH\nthree\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 --halt 2 \
    builtin:crash
is "--halt 2 (now,fail=1): exit status 1" "$fp_rc" 1
ok "...halts at the first failure" \
    has 'halting: 1 job failed (--halt now,fail=1)' "$T/err"

for bad in soon,fail=0% soon,fail=101% soon,fail=x% soon,what=1 now,fail= \
    sometimes,fail=1 now,success=0 fail=1; do
	"$FORKPOOL" --halt "$bad" builtin:echo </dev/null >/dev/null \
	    2>"$T/err"
	rc=$?
	ok "a bad --halt $bad: exit status 2 and one line saying why" \
	    test "$rc" = 2 -a "$(grep -c 'halt' "$T/err")" = 1 ||
	    diag_file "$T/err"
done

# Failures past the first five: one line at the end.  Each worker answers
# once before it crashes, so the pool is never degraded.
for i in 1 2 3 4 5 6 7 8; do
	printf 'ok%s\nx%s CRASH\n' "$i" "$i"
done >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 \
    --failed "$T/failed" builtin:crash
is "8 failures: exit status 1" "$fp_rc" 1
is "...the first five have their line" "$(count ' failed: ' "$T/err")" 5
ok "...the rest one line at the end" \
    has "... and 3 more failures; see $T/failed" "$T/err"
is "...--failed holds all 8" "$(wc -l <"$T/failed")" 8
finish
