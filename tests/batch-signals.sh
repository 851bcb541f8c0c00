#!/bin/sh
# Signals: SIGTERM and a first SIGINT stop the intake, withdraw the jobs
# queued and let those at a worker finish; a second SIGINT stops at once; after the supervisor is killed with
# SIGKILL no worker outlives it; SIGTERM is heard while input that cannot
# be polled is read.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 29

# one_sleeping SUP: exactly one of its workers is asleep in a job, the
# others are not.
one_sleeping() {
	all_sleeping 1 "$1"
}

# --- SIGTERM lets the jobs running finish, and runs no other ------------------------

# Input from a FIFO held open here, so only the signal can end the intake.
# Two workers, one job each in flight, the rest queued in the supervisor.
mkfifo "$T/term.fifo"
exec 3<>"$T/term.fifo"
fp_bg "$T/term.fifo" "$T/term.out" "$T/term.err" -w 2 --window 1 \
    -o completion --failed "$T/term.failed" builtin:sleep
sup=$fp_pid
printf 'a 0\nb 2000\nc 2000\nd 2000\ne 2000\nf 2000\ng 2000\n' >&3
printf 'a 0\nb 2000\nc 2000\n' >"$T/term.want"
# a's result out means the seven lines were read and b, c are running.
wait_for 10 has 'a 0' "$T/term.out"
workers=$(workers_of "$sup")
stray_workers $workers
kill -TERM "$sup"
ok "SIGTERM: one line says what happens" \
    wait_for 10 grep -qxF 'forkpool: supervisor: SIGTERM: stopping; 2 jobs running finish within 30 s; SIGTERM again to stop now' \
    "$T/term.err" || diag_file "$T/term.err"
# Written after the supervisor said it stopped reading: never a job, but
# copied to --failed with the rest of the input not read.
printf 'late 0\n' >&3
fp_wait "$sup"
exec 3>&-
is "SIGTERM: exit status 143" "$fp_rc" 143
sort "$T/term.out" >"$T/term.sorted"
same_file "SIGTERM: the jobs running have their results, no other" \
    "$T/term.sorted" "$T/term.want"
is "SIGTERM: the jobs queued and the input not read are in --failed, in order" \
    "$(tr '\n' , <"$T/term.failed")" "d 2000,e 2000,f 2000,g 2000,late 0,"
not_ok "SIGTERM: input after the signal is not read" has late "$T/term.out"
is "SIGTERM: the two workers were there" "$(echo $workers | wc -w)" 2
ok "SIGTERM: no worker left after the exit" no_worker_alive $workers

# An idle pool: nothing taken, nothing to wait for.
mkfifo "$T/idle.fifo"
exec 3<>"$T/idle.fifo"
fp_bg "$T/idle.fifo" "$T/idle.out" "$T/idle.err" -w 2 builtin:echo
sup=$fp_pid
wait_for 10 nworkers_is 2 "$sup"
workers=$(workers_of "$sup")
stray_workers $workers
kill -TERM "$sup"
fp_wait "$sup"
exec 3>&-
is "SIGTERM, idle pool: exit status 143" "$fp_rc" 143
ok "SIGTERM, idle pool: no worker left" no_worker_alive $workers

# --- SIGINT drains; a second SIGINT stops at once ----------------------------------

mkfifo "$T/int.fifo"
exec 3<>"$T/int.fifo"
fp_bg "$T/int.fifo" "$T/int.out" "$T/int.err" -w 2 --window 1 \
    -o completion builtin:sleep
sup=$fp_pid
printf 'a 0\nb 30000\nc 30000\n' >&3
wait_for 10 has 'a 0' "$T/int.out"
workers=$(workers_of "$sup")
stray_workers $workers
kill -INT "$sup"
ok "first SIGINT: one line says what happens" \
    wait_for 10 grep -qxF 'forkpool: supervisor: interrupt: stopping; 2 jobs running finish within 30 s; Ctrl-C again to stop now' \
    "$T/int.err" || diag_file "$T/int.err"
ok "first SIGINT: the supervisor keeps running to drain 30 s jobs" \
    proc_alive "$sup"
ok "first SIGINT: the workers keep running too" nworkers_is 2 "$sup"
kill -INT "$sup"
fp_wait "$sup" 10
exec 3>&-
is "second SIGINT: exit status 130 at once" "$fp_rc" 130
ok "second SIGINT: says so on stderr" \
    grep -q 'interrupted again: stopping now' "$T/int.err"
is "second SIGINT: the results done before it are out" "$(cat "$T/int.out")" \
    "a 0"
ok "second SIGINT: no worker left" no_worker_alive $workers

# --- the shutdown timeout ------------------------------------------------------------

# Input order: a hangs on one worker while b and c finish on the other and
# wait behind it for their turn at the output.  When the drain runs out of
# time, a is reported failed, and b and c, which did finish, are written.
mkfifo "$T/st.fifo"
exec 3<>"$T/st.fifo"
fp_bg "$T/st.fifo" "$T/st.out" "$T/st.err" -w 2 --window 1 \
    --shutdown-timeout 1 --failed "$T/st.failed" builtin:sleep
sup=$fp_pid
printf 'a 30000\nb 0\nc 0\n' >&3
# One worker asleep in a, the other done with b and c.
wait_for 3 one_sleeping "$sup" || diag "could not see one worker sleeping"
workers=$(workers_of "$sup")
stray_workers $workers
kill -TERM "$sup"
fp_wait "$sup"
exec 3>&-
is "shutdown timeout: exit status 143, though a job failed" "$fp_rc" 143
ok "shutdown timeout: the unfinished job is reported not run" \
    grep -qF "forkpool: supervisor: 1 job not run (1 unfinished at the shutdown timeout); written to $T/st.failed" \
    "$T/st.err" || diag_file "$T/st.err"
is "shutdown timeout: --failed holds the unfinished line" \
    "$(cat "$T/st.failed")" "a 30000"
ok "shutdown timeout: it counts 1 job unfinished (b and c did finish)" \
    grep -qxF 'forkpool: supervisor: shutdown timeout: stopping the 1 job still running' \
    "$T/st.err"
is "shutdown timeout: the jobs that finished have their results" \
    "$(cat "$T/st.out")" "$(printf 'b 0\nc 0')" || diag_file "$T/st.err"
ok "shutdown timeout: no worker left" no_worker_alive $workers

# --- workers ignore SIGINT (a ^C at the terminal is the supervisor's) ---------------

mkfifo "$T/wint.fifo"
exec 3<>"$T/wint.fifo"
fp_bg "$T/wint.fifo" "$T/wint.out" "$T/wint.err" -w 1 builtin:echo
sup=$fp_pid
wait_for 10 nworkers_is 1 "$sup"
worker=$(workers_of "$sup")
stray_workers $worker
kill -INT "$worker"
# A job through the same worker after the signal: had SIGINT killed it, the
# job would have gone to a new worker.
printf 'after the interrupt\n' >&3
wait_for 10 has 'after the interrupt' "$T/wint.out"
is "SIGINT to a worker: the same worker is still there and working" \
    "$(workers_of "$sup")" "$worker"
not_ok "SIGINT to a worker: no worker died" grep -q 'killed by signal' \
    "$T/wint.err"
exec 3>&-
fp_wait "$sup"
is "SIGINT to a worker: the run ends normally" "$fp_rc" 0

# --- the supervisor killed with SIGKILL --------------------------------------------

mkfifo "$T/kill.fifo"
exec 3<>"$T/kill.fifo"
fp_bg "$T/kill.fifo" "$T/kill.out" "$T/kill.err" -w 3 --window 1 \
    builtin:sleep
sup=$fp_pid
printf 'a 30000\nb 30000\nc 30000\n' >&3
# Busy workers: they would not notice an EOF on their link, only the
# parent-death signal can stop them.
wait_for 10 all_sleeping 3 "$sup" || diag "could not see the 3 workers sleeping"
workers=$(workers_of "$sup")
stray_workers $workers
is "SIGKILL: three workers before" "$(echo $workers | wc -w)" 3
kill -KILL "$sup"
fp_wait "$sup"
exec 3>&-
is "SIGKILL: the supervisor died of it" "$fp_rc" 137
ok "SIGKILL: no worker survives the supervisor by 2 s" \
    wait_for 2 no_worker_alive $workers

# --- SIGTERM while an endless line is read from a device ------------------------

# /dev/zero cannot be polled, and its one line never ends: the supervisor
# reads it and drops it, and between two reads it still hears the signal.
fp_bg /dev/zero "$T/zero.out" "$T/zero.err" -w 1 builtin:echo
sup=$fp_pid
wait_for 10 has 'longer than the maximum frame size' "$T/zero.err"
kill -TERM "$sup"
fp_wait "$sup" 10
is "SIGTERM while /dev/zero's endless line is read: exit status 143" \
    "$fp_rc" 143

finish
