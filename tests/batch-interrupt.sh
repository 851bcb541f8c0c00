#!/bin/sh
# An interrupt that says what it does: the first SIGINT or SIGTERM starts
# no more jobs (those at a worker finish, those queued are withdrawn) and
# says so in one line; a second stops at once.  Every job not run, and the
# input never read, goes to --failed in input order, so that a run on that
# file finishes the work; stderr sums them up in one line.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 32

seq 1 2000 | sed 's/$/ 50/' >"$T/in"

# interrupted SIG NAME AGAIN [OPTIONS...]: 2,000 jobs of 50 ms on two
# workers, a queue of 200 (so that most of the input is never read),
# signalled once a few results are out.
interrupted() {
	ir_sig=$1 ir_name=$2 ir_again=$3
	shift 3
	fp_bg "$T/in" "$T/out" "$T/err" -w 2 -q 200 --failed "$T/failed" \
	    "$@" builtin:sleep
	wait_for 10 lines_at_least 10 "$T/out"
	kill -"$ir_sig" "$fp_pid"
	fp_wait "$fp_pid"
	ok "$ir_name: one line says what happens" \
	    grep -Eqx "forkpool: supervisor: $ir_name: stopping; [0-9]+ jobs? running finish(es)? within 30 s; $ir_again again to stop now" \
	    "$T/err" || diag_file "$T/err"
	# The whole run would take 50 s: what ran is what was at a worker.
	ok "$ir_name: it ran only the jobs started before it (< 500 of 2000)" \
	    test "$(wc -l <"$T/out")" -lt 500
	ok "$ir_name: one line sums up the jobs not run, queued and unread" \
	    grep -Eqx "forkpool: supervisor: [0-9]+ jobs not run \\(([0-9]+ unfinished [a-z ]+, )?[0-9]+ queued, [0-9]+ not read\\); written to $T/failed" \
	    "$T/err"
	# (Lines of the pool about its workers, as under valgrind, aside.)
	is "$ir_name: nothing else on stderr" \
	    "$(grep -vc ': worker [0-9]*: ' "$T/err")" 2 || diag_file "$T/err"
}

interrupted INT interrupt Ctrl-C
is "SIGINT: exit status 130" "$fp_rc" 130
cat "$T/out" "$T/failed" >"$T/both"
same_file "SIGINT: the results, then --failed, are the input in order" \
    "$T/both" "$T/in"
# builtin:sleep answers with its line: echo gives the same results, at once.
fp_run "$T/failed" "$T/rerun" "$T/err2" -w 2 builtin:echo
sort "$T/out" "$T/rerun" >"$T/all"
sort "$T/in" >"$T/want"
same_file "SIGINT: a run on --failed finishes the work" "$T/all" "$T/want"

interrupted TERM SIGTERM SIGTERM
is "SIGTERM: exit status 143" "$fp_rc" 143
cat "$T/out" "$T/failed" >"$T/both"
same_file "SIGTERM: the results, then --failed, are the input in order" \
    "$T/both" "$T/in"

interrupted INT interrupt Ctrl-C -o completion
sort -n "$T/failed" >"$T/sorted"
same_file "-o completion: --failed is in input order" "$T/failed" \
    "$T/sorted"
sort "$T/out" "$T/failed" >"$T/all"
same_file "-o completion: results and --failed hold every line" "$T/all" \
    "$T/want"

# --- a second signal stops at once ------------------------------------------------

seq 1 50 | sed 's/$/ 30000/' >"$T/long"
for sig in INT TERM; do
	fp_bg "$T/long" "$T/out" "$T/err" -w 2 --window 1 \
	    --failed "$T/failed" builtin:sleep
	sup=$fp_pid
	wait_for 10 all_sleeping 2 "$sup" || diag "no two workers asleep"
	workers=$(workers_of "$sup")
	stray_workers $workers
	kill -"$sig" "$sup"
	wait_for 10 has 'stopping; 2 jobs running finish' "$T/err"
	kill -"$sig" "$sup"
	fp_wait "$sup" 10
	want=143
	[ "$sig" = INT ] && want=130
	is "second SIG$sig: exit status $want" "$fp_rc" "$want"
	ok "second SIG$sig: says it stops now" has 'again: stopping now' \
	    "$T/err"
	same_file "second SIG$sig: every line is in --failed, in order" \
	    "$T/failed" "$T/long"
	ok "second SIG$sig: the two killed jobs are counted as such" \
	    has '50 jobs not run (2 stopped by a second signal, 48 queued)' \
	    "$T/err" || diag_file "$T/err"
	ok "second SIG$sig: no worker left" no_worker_alive $workers
done

# --- input from a pipe that does not end ---------------------------------------------

# The writer holds the FIFO open: what it wrote is copied, then the
# supervisor waits no longer and says what is left.
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
fp_bg "$T/fifo" "$T/out" "$T/err" -w 1 --window 1 -q 2 \
    --failed "$T/failed" builtin:sleep
sup=$fp_pid
printf 'a 30000\nb 0\nc 0\nd 0\n' >&3
wait_for 10 all_sleeping 1 "$sup"
kill -TERM "$sup"
wait_for 10 has 'stopping; 1 job running finishes' "$T/err"
kill -TERM "$sup"
fp_wait "$sup" 10
exec 3>&-
is "a pipe that does not end: what it gave is in --failed" \
    "$(tr '\n' , <"$T/failed")" "a 30000,b 0,c 0,d 0,"
ok "...and stderr says the input after line 4 is not read" \
    has 'input after line 4 not read: standard input did not end' "$T/err"

# Without --failed, the summary says what would keep the lines.
fp_bg "$T/long" "$T/out" "$T/err" -w 2 --window 1 builtin:sleep
sup=$fp_pid
wait_for 10 all_sleeping 2 "$sup"
kill -INT "$sup"
wait_for 10 has 'stopping; 2 jobs running finish' "$T/err"
kill -INT "$sup"
fp_wait "$sup" 10
ok "without --failed: the summary names the option" \
    has '50 jobs not run (2 stopped by a second signal, 48 queued); --failed FILE would keep them' \
    "$T/err" || diag_file "$T/err"

finish
