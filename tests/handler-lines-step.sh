#!/bin/sh
# lines:CMD filters that break the one line out per line in contract: a
# result is passed on only when it is known to answer its own job.  A line
# answered with two lines, or none, fails with the reason and the others
# get their own results; the run exits 1.  A filter that holds its output
# in a buffer still gives the right results, and says once how to make it
# fast.  Batch, keyed, -w 2 and service mode; an exec: program that holds
# its results is told about once.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 43

why='is it one line out per line in?'
# mawk reads ahead of the lines it has unless told not to.
interactive=
awk -W version 2>/dev/null | grep -qi mawk && interactive='-W interactive'

# run IN NAME ARGS...: forkpool on IN to $T/NAME.out and $T/NAME.err,
# bounded: a filter out of step must not hang the run.
run() {
	run_in=$1 run_name=$2
	shift 2
	fp_bg "$run_in" "$T/$run_name.out" "$T/$run_name.err" "$@"
	fp_wait "$fp_pid" 30
}

# failed NAME: the line numbers the run reports failed, one a line.
failed() {
	sed -n 's/.*supervisor: line \([0-9]*\) failed: .*/\1/p' "$T/$1.err"
}

# all_but IN NAME: the lines of IN, without those that failed in NAME.
all_but() {
	failed "$2" | awk 'NR == FNR { bad[$1] = 1; next } !(FNR in bad)' \
	    - "$1"
}

# only_reason NAME REASON: every failure of NAME gives this reason.
only_reason() {
	[ -n "$(failed "$1")" ] &&
	    [ "$(grep -c ' failed: ' "$T/$1.err")" = \
	    "$(grep -cF "failed: error: $2" "$T/$1.err")" ]
}

seq 10 >"$T/10"
seq 5 >"$T/5"

# --- more lines than one ---------------------------------------------------------

run "$T/10" p -w 1 'lines:sed -u p'
is "sed -u p: exit status 1" "$fp_rc" 1
ok "...no result passed on" test ! -s "$T/p.out" || diag_file "$T/p.out"
# The first five failures are told one by one, the others summed up.
ok "...each line fails, with the reason" test "$(grep -c \
    "failed: error: sed answered 2 lines for 1: $why" "$T/p.err")" = 5 -a \
    "$(grep -c '\.\.\. and 5 more failures' "$T/p.err")" = 1 ||
    diag_file "$T/p.err"
is "...said once by the worker" "$(grep -c 'sed: out of step' "$T/p.err")" 1

seq 1000 >"$T/1000"
run "$T/1000" p3 -w 2 'lines:sed -u 3p'
is "sed -u 3p, -w 2: exit status 1" "$fp_rc" 1
all_but "$T/1000" p3 >"$T/p3.good"
same_file "...every result passed on is its own line's" "$T/p3.out" \
    "$T/p3.good"
ok "...the lines that fail are answered twice" \
    only_reason p3 "sed answered 2 lines for 1: $why" ||
    diag_file "$T/p3.err"
not_ok "...and the filter's output is never taken for a protocol error" \
    grep -q 'protocol error' "$T/p3.err"

# Two lines for some lines only: the lines ending in 5, on two workers.
awk 'BEGIN { for (i = 1; i <= 300; i++) print i }' >"$T/300"
awk '!/5$/' "$T/300" >"$T/twice.good"
run "$T/300" twice -w 2 --failed "$T/twice.failed" \
    "lines:awk $interactive '{ print; fflush() } /5\$/ { print; fflush() }'"
is "two lines for some lines, -w 2: exit status 1" "$fp_rc" 1
same_file "...the other lines' results, in order" "$T/twice.out" \
    "$T/twice.good"
is "...just those lines fail" "$(tr '\n' ' ' <"$T/twice.failed")" \
    "$(grep '5$' "$T/300" | tr '\n' ' ')"
ok "...answered 2 lines for 1" \
    only_reason twice "awk answered 2 lines for 1: $why"

# An extra line after a line's answer, or before it, that comes late:
# after the window seems answered in full.
late() {
	echo "lines:awk $interactive '$1'"
}
grep -vx 7 "$T/10" >"$T/late.good"
run "$T/10" after -w 1 "$(late '{ print; fflush() }
    $0 == 7 { system("sleep 0.3"); print "late"; fflush() }')"
is "an extra line after an answer, late: exit status 1" "$fp_rc" 1
same_file "...the other lines' results" "$T/after.out" "$T/late.good"
is "...line 7 fails" "$(failed after)" 7
run "$T/10" before -w 1 "$(late '
    $0 == 7 { print "early"; fflush(); system("sleep 0.3") }
    { print; fflush() }')"
is "an extra line before an answer, late: exit status 1" "$fp_rc" 1
same_file "...the other lines' results" "$T/before.out" "$T/late.good"
is "...line 7 fails, answered 2 lines for 1" \
    "$(grep ' failed: ' "$T/before.err")" \
    "forkpool: supervisor: line 7 failed: error: awk answered 2 lines for 1: $why"

# --- fewer --------------------------------------------------------------------------

run "$T/5" drop -w 1 -t 1 'lines:grep --line-buffered -v 2'
is "grep --line-buffered -v 2: exit status 1" "$fp_rc" 1
is "...the others' results" "$(tr '\n' ' ' <"$T/drop.out")" "1 3 4 5 "
is "...line 2 fails, answered with no line" "$(grep ' failed: ' \
    "$T/drop.err")" \
    "forkpool: supervisor: line 2 failed: error: grep answered 0 lines for 1: $why"

# A line dropped inside a large window of a keyed run: the window is run
# again line by line, and the log names its first and last line.
awk 'BEGIN { for (i = 1; i <= 3000; i++) print "k" i % 5, i }' >"$T/k.in"
grep -vx 'k3 1313' "$T/k.in" >"$T/k.good"
run "$T/k.in" k -w 2 -k 1 \
    "lines:awk $interactive '\$2 != 1313 { print; fflush() }'"
is "a line dropped, keyed, -w 2: exit status 1" "$fp_rc" 1
same_file "...every other line's result, in order" "$T/k.out" "$T/k.good"
is "...only it fails" "$(failed k)" 1313
ok "...the log names the window it was in" grep -q \
    'awk: out of step: it answered .* lines for .*; running the .* lines from "k. .*" to "k. .*" again, one at a time' \
    "$T/k.err" || diag_file "$T/k.err"

# --- held in a buffer -----------------------------------------------------------------

awk 'BEGIN { for (i = 1; i <= 12; i++) print "a" i, "b" i }' >"$T/ab"
sed 's/ /, /' "$T/ab" >"$T/buf.good"
run "$T/ab" buf -w 1 "lines:sed 's/ /, /'"
is "sed without -u: exit status 0" "$fp_rc" 0
same_file "...sed's results, in order" "$T/buf.out" "$T/buf.good"
is "...said once, with the fix" "$(grep -c \
    'sed answered only once its input was closed: its output is likely block-buffered; make it line-buffered (sed -u, grep --line-buffered, python3 -u, stdbuf -oL)' \
    "$T/buf.err")" 1 || diag_file "$T/buf.err"

run "$T/5" bufdrop -w 1 'lines:grep -v 2'
is "grep -v 2, buffered: exit status 1" "$fp_rc" 1
is "...the others' results" "$(tr '\n' ' ' <"$T/bufdrop.out")" "1 3 4 5 "
is "...line 2 fails" "$(failed bufdrop)" 2

# --- a filter that exits ------------------------------------------------------------

# head reads a block of lines, answers 5 and exits with the rest unanswered.
seq 20 >"$T/20"
run "$T/20" head -w 1 'lines:head -n 5'
is "head -n 5: exit status 0" "$fp_rc" 0
same_file "...every line answered, once, by its own line" "$T/head.out" \
    "$T/20"

# --- service mode --------------------------------------------------------------------

# service_stop: asked to stop by forkpoolctl; its exit status is in $fp_rc.
service_stop() {
	ctl stop >/dev/null 2>&1
	fp_wait "$sup"
}

start_service 1 \
    "lines:awk $interactive '{ print; fflush() } /two/ { print; fflush() }'"
ctl_kept submit one two three
is "service, a line answered twice: forkpoolctl exits 1" "$ctl_rc" 1
is "...the other jobs' results, in order" "$(cat "$T/ctl.out")" \
    "$(printf 'one\nthree')"
ok "...an error result for it, with the reason" grep -q \
    "job 2: error after 1 attempt: awk answered 2 lines for 1: $why" \
    "$T/ctl.err" || diag_file "$T/ctl.err"
ctl submit four >"$T/ctl.out" 2>&1
is "...the next job's own result" "$(cat "$T/ctl.out")" four
service_stop
is "...the service stops (0)" "$fp_rc" 0

start_service 1 'lines:sed s/a/A/'
ctl submit abc bad cat >"$T/ctlb.out" 2>"$T/ctlb.err"
is "service, sed without -u: forkpoolctl exits 0" "$ctl_rc" 0
is "...sed's results" "$(cat "$T/ctlb.out")" "$(printf 'Abc\nbAd\ncAt')"
service_stop
ok "...and the hint in the service's log" grep -q \
    'sed answered only once its input was closed' "$T/svc.err"

# --- exec: a program that holds its results ---------------------------------------------

# It says HELLO, then writes its results to a buffer it never flushes
# (its own: PYTHONUNBUFFERED does not reach it).
python=$(python3 -c 'import sys; print(sys.executable)')
cat >"$T/held.py" <<EOF
import os, sys
sys.path.insert(0, '$TESTS_SRCDIR/../contrib/python')
from forkpool_worker import encode, HEADER, HELLO, RESULT
out = os.fdopen(1, 'wb', 65536)
out.write(encode(HELLO, arg=os.getpid()))
out.flush()
while True:
    h = sys.stdin.buffer.read(HEADER.size)
    if len(h) < HEADER.size:
        break
    n, ident = HEADER.unpack(h)[6:8]
    body = sys.stdin.buffer.read(n)
    out.write(encode(RESULT, ident, body[8:]))
EOF
echo x >"$T/x"
fp_bg "$T/x" "$T/held.out" "$T/held.err" -w 1 --shutdown-timeout 1 \
    "exec:$python $T/held.py"
held=$fp_pid
hinted() {
	grep -q 'has said nothing for 3 s with jobs to answer: its output is likely block-buffered; make it flush each result' \
	    "$T/held.err"
}
ok "exec: a program holding its results: a hint, with the fix" \
    wait_for 15 hinted || diag_file "$T/held.err"
kill -TERM "$held"
fp_wait "$held"
is "...said once" "$(grep -c 'likely block-buffered' "$T/held.err")" 1

finish
