#!/bin/sh
# Liveness (--heartbeat-timeout), apart from the per-job timeout: a worker
# sends heartbeats while a long job runs and is left alone; a worker that
# goes silent (here: stopped with SIGSTOP) is killed, and its job runs
# again elsewhere.  The same for an exec: program, which its worker's
# relay heartbeats for while it runs, and not while it is stopped.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 15

# A 3 s job, three times the heartbeat timeout: it heartbeats and lives.
printf 'long 3000\n' >"$T/long"
fp_run "$T/long" "$T/out" "$T/err" -w 1 --heartbeat-timeout 1 \
    builtin:sleep
is "a long job that heartbeats: exit status 0" "$fp_rc" 0
is "...its result" "$(cat "$T/out")" "long 3000"
not_ok "...its worker was left alone" has 'no heartbeat' "$T/err"

# A stopped worker sends nothing: it is killed and the job runs again.
mkfifo "$T/fifo"
fp_bg "$T/fifo" "$T/out" "$T/err" -w 1 --heartbeat-timeout 1 builtin:sleep
sup=$fp_pid
exec 3>"$T/fifo"
echo 'stopped 1500' >&3
ok "the job is running" wait_for 10 sleeping_worker "$sup"
victim=$(sleeping_worker "$sup")
stray_workers "$victim"
kill -STOP "$victim"
ok "the silent worker is killed" wait_for 10 has 'sent no heartbeat' \
    "$T/err"
ok "...and replaced" wait_for 10 refilled 1 "$sup" "$victim"
exec 3>&-
fp_wait "$sup"
is "the job ran again: exit status 0" "$fp_rc" 0
is "...with its result" "$(cat "$T/out")" "stopped 1500"

py="exec:$(python3 -c 'import sys; print(sys.executable)') -u $TESTS_SRCDIR/../contrib/python/forkpool_worker.py sleep"
fp_run "$T/long" "$T/out" "$T/err" -w 1 --heartbeat-timeout 1 "$py"
is "exec: a long job: exit status 0" "$fp_rc" 0
is "...its result" "$(cat "$T/out")" "long 3000"
not_ok "...its worker was left alone" has 'no heartbeat' "$T/err"

fp_bg "$T/fifo" "$T/out" "$T/err" -w 1 --heartbeat-timeout 1 "$py"
sup=$fp_pid
exec 3>"$T/fifo"
echo 'stopped 1500' >&3
# The program is the worker's child, asleep in its job.
program() {
	for pr_w in $(pgrep -P "$sup"); do
		pgrep -P "$pr_w"
	done | head -n 1
}
in_job() {
	pj=$(program) && [ -n "$pj" ] &&
	    grep -q 'sleep\|select\|poll' "/proc/$pj/wchan" 2>/dev/null
}
wait_for 10 in_job || diag "the program did not start its job"
prog=$(program)
stray_workers "$prog"
kill -STOP "$prog"
ok "exec: a stopped program: its worker is killed" \
    wait_for 10 has 'sent no heartbeat' "$T/err"
exec 3>&-
fp_wait "$sup"
is "...the job ran again: exit status 0" "$fp_rc" 0
is "...with its result" "$(cat "$T/out")" "stopped 1500"
ok "...the stopped program is gone" wait_for 10 proc_gone "$prog"
finish
