#!/bin/sh
# --joblog, --resume, --resume-failed: a run killed with SIGKILL leaves a
# log that a resumed run trusts; the two runs together do every job once;
# GNU parallel's --resume takes forkpool's log.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 27

# seqs LOG: the Seq column of a job log, sorted, without the header.
seqs() {
	awk -F '\t' 'NR > 1 { print $1 }' "$1" | sort -n
}

# log_lines_at_least N LOG: N jobs logged (plus the header).
log_lines_at_least() {
	[ -f "$2" ] && [ "$(wc -l <"$2")" -gt "$1" ]
}

N=400
seq 1 $N >"$T/in"

# Killed in the middle: each job takes 10 ms, two at a time.
fp_bg_session "$T/in" "$T/out1" "$T/err1" -w 2 --joblog "$T/log" \
    builtin:sleep 10
sid=$fp_pid
wait_for 20 log_lines_at_least 40 "$T/log"
kill -9 $(session_procs "$sid") 2>/dev/null
wait_for 10 session_empty "$sid"
wait "$sid" 2>/dev/null
untrack "$sid"
ok "a run killed with SIGKILL left a log" log_lines_at_least 40 "$T/log"
ok "...that it had not finished" \
    [ "$(seqs "$T/log" | wc -l)" -lt $N ]
is "...its header once, first" "$(head -n 1 "$T/log")" \
    "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')"
cp "$T/log" "$T/log1"
# Every job logged has its result out: the log never says more.
seqs "$T/log1" >"$T/logged1"
is "...every job logged has its result on stdout" \
    "$(grep -vxF -f "$T/out1" "$T/logged1" | wc -l)" 0

fp_run "$T/in" "$T/out2" "$T/err2" -w 2 --joblog "$T/log" --resume \
    builtin:echo
is "--resume: exit status 0" "$fp_rc" 0
sort -n -u "$T/out1" "$T/out2" >"$T/union"
same_file "...both runs' results are one whole run's" "$T/union" "$T/in"
is "...no job the log had as done ran again" \
    "$(grep -xF -f "$T/logged1" "$T/out2" | wc -l)" 0
is "...it ran the others" "$(wc -l <"$T/out2")" \
    "$(($N - $(wc -l <"$T/logged1")))"
seqs "$T/log" >"$T/logged"
same_file "...the log, appended to, now has every job once" \
    "$T/logged" "$T/in"
is "...and its header once" "$(grep -c '^Seq' "$T/log")" 1

# A last line cut short: its job runs again, the line is replaced.
fp_run "$T/in" "$T/out" "$T/err" -w 2 --joblog "$T/log" builtin:echo
grep -v "^77	" "$T/log" >"$T/cut"
printf '77\t12' >>"$T/cut"
fp_run "$T/in" "$T/out" "$T/err" -w 2 --joblog "$T/cut" --resume \
    builtin:echo
is "a last line cut short: its job runs again" "$(cat "$T/out")" 77
ok "...said on stderr" has 'last line is cut short' "$T/err"
is "...the log is whole again" "$(seqs "$T/cut" | uniq | wc -l)" $N
is "...every line has its 9 columns" \
    "$(awk -F '\t' 'NF != 9' "$T/cut" | wc -l)" 0

# The columns of a failed job; --resume-failed runs the failed again.
printf 'one\ntwo CRASH\nthree\nfour CRASH\nfive\n' >"$T/cin"
fp_run "$T/cin" "$T/out" "$T/err" -w 1 -a 1 --joblog "$T/clog" \
    builtin:crash
is "a failed job: Exitval 2 (crashed), Signal 11" \
    "$(awk -F '\t' '$1 == 2 { print $7, $8, $9 }' "$T/clog")" "2 11 two CRASH"
is "...an ok one: 0 0, Send and Receive its bytes" \
    "$(awk -F '\t' '$1 == 3 { print $5, $6, $7, $8 }' "$T/clog")" "5 5 0 0"
ok "...Host is the worker's pid, Starttime seconds.ms" \
    awk -F '\t' '$1 == 1 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+\.[0-9][0-9][0-9]$/ { f = 1 } END { exit !f }' "$T/clog"
cp "$T/clog" "$T/clog.parallel"
fp_run "$T/cin" "$T/out" "$T/err" -w 1 --joblog "$T/clog" --resume \
    builtin:echo
is "--resume runs none of the logged, failed or not" "$(wc -c <"$T/out")" 0
fp_run "$T/cin" "$T/out" "$T/err" -w 1 --joblog "$T/clog" --resume-failed \
    builtin:echo
is "--resume-failed runs exactly the failed" "$(tr '\n' , <"$T/out")" \
    "two CRASH,four CRASH,"
fp_run "$T/cin" "$T/out" "$T/err" -w 1 --joblog "$T/clog" --resume-failed \
    builtin:echo
is "...and, once they are done, nothing" "$(wc -c <"$T/out")" 0

# An input that is not the one logged is refused.
sed 's/^three$/THREE/' "$T/cin" >"$T/cin2"
fp_run "$T/cin2" "$T/out" "$T/err" -w 1 --joblog "$T/clog" --resume \
    builtin:echo
is "another input: exit status 2" "$fp_rc" 2
ok "...saying which line" has 'line 3 differs from the Command of job 3' "$T/err"

# Jobs that never reached a worker (--halt) are not logged: they run on.
fp_run "$T/cin" "$T/out" "$T/err" -w 1 --window 1 -a 1 --halt now,fail=1 \
    --joblog "$T/hlog" builtin:crash
is "--halt: only the jobs that ran are logged" "$(seqs "$T/hlog" | tr '\n' ,)" \
    "1,2,"
"$FORKPOOL" --resume builtin:echo </dev/null >/dev/null 2>"$T/err"
is "--resume without --joblog: exit status 2" "$?" 2
ok "...saying why" has 'need --joblog' "$T/err"

# GNU parallel reads forkpool's log as its own.
if command -v parallel >/dev/null 2>&1; then
	parallel --resume-failed --joblog "$T/clog.parallel" -j1 -k echo \
	    :::: "$T/cin" >"$T/pout" 2>"$T/perr" </dev/null
	is "parallel --resume-failed runs the failed of forkpool's log" \
	    "$(tr '\n' , <"$T/pout")" "two CRASH,four CRASH,"
	head -n 3 "$T/clog.parallel" >"$T/plog"
	parallel --resume --joblog "$T/plog" -j1 -k echo :::: "$T/cin" \
	    >"$T/pout" 2>"$T/perr" </dev/null
	is "parallel --resume runs only the jobs not in the log" \
	    "$(tr '\n' , <"$T/pout")" "three,four CRASH,five,"
else
	skip "parallel --resume-failed takes forkpool's log" "no GNU parallel"
	skip "parallel --resume takes forkpool's log" "no GNU parallel"
fi
finish
