#!/bin/sh
# --halt, as GNU parallel has it: after N failed jobs, stop at once (now)
# or once the jobs the workers hold have finished (soon).  The jobs not
# run are reported failed, never dropped.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 12

# One worker, one job at a time: which jobs ran is certain.
printf 'one\ntwo CRASH\nthree\nfour\nfive\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 --window 1 -a 1 --halt now,fail=1 \
    --failed "$T/failed" builtin:crash
is "now,fail=1: exit status 1" "$fp_rc" 1
is "...the job before the failure is answered" "$(cat "$T/out")" one
ok "...it says why it stops" has 'halting: 1 job failed' "$T/err"
is "...the jobs after it are reported, not run" \
    "$(count 'not run: halted' "$T/err")" 3
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
ok "--halt in service mode is refused" has 'is for batch mode' "$T/err"
finish
