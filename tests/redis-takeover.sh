#!/bin/sh
# Dead hosts.  A supervisor killed with SIGKILL in the middle of a run:
# the other takes its entries over once they have been idle for the claim
# time, and no job is lost or answered twice.  A supervisor cut off (here:
# stopped) past the claim time: its entry is taken over, and its late ack
# is refused, so the result is written once, by the new holder.  Slow jobs
# on a live supervisor are never taken: the heartbeat keeps them fresh.  A
# job delivered more often than the attempts allow is dead-lettered.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 17

redis_start

# --- kill -9 in the middle of a run ---------------------------------------------------

U=$REDIS_URL_BASE/crash
sup_pair "$U"
# b waits stopped until a holds entries: with jobs packed many to an
# entry, there are few entries, and b could otherwise take them all.
kill -STOP "$sup_b"
# 600 jobs "KEY SEQ 20": 30 keys, each job 20 ms, so that the run lasts
# some seconds and a still holds entries when it is killed, however slow
# the machine is between the check and the kill.
awk 'BEGIN { for (i = 1; i <= 600; i++) printf "k%02d %d 20\n", i % 30, i }' \
    >"$T/jobs"
"$CTL" -r "$U" submit -f 1 <"$T/jobs" >"$T/got" 2>"$T/ctl.err" 3>&- 4>&- \
    5>&- 6>&- &
ctl_pid=$!
track "$ctl_pid"
ok "supervisor a holds entries" wait_for 20 holds_some crash 8 a
stray_workers $(workers_of "$sup_a")
kill -9 "$sup_a"
fp_wait "$sup_a"
kill -CONT "$sup_b"
fp_wait "$ctl_pid" 60
is "a killed mid-run: the producer gets every result (exit 0)" "$fp_rc" 0
taken_over "$T/jobs" "$T/got"
ok "...nothing is left pending" pool_drained crash 8
ok "...b refused none of its own" not_has refused "$T/b.err"
kill -TERM "$sup_b"
fp_wait "$sup_b"

# --- a late ack is refused --------------------------------------------------------------

L=$REDIS_URL_BASE/late
sup_start c --source "$L" --partitions 2 --consumer c --claim-idle 1 -w 1 \
    builtin:sleep
stray_workers $(workers_of "$sup_c")
wait_for 20 has connected "$T/c.err"
# A 3 s job: c runs it, and is stopped; d takes it over and runs it too.
ctl -r "$L" submit -d 'slow 3000'
is "a slow job queued" "$ctl_rc" 0
wait_for 20 holds_some late 2 c || diag "c took nothing"
kill -STOP "$sup_c"
sup_start d --source "$L" --partitions 2 --consumer d --claim-idle 1 -w 1 \
    builtin:sleep
stray_workers $(workers_of "$sup_d")
ok "c stopped past the claim time: d takes its entry over" \
    wait_for 20 has 'took over 1 entry from consumer c' "$T/d.err"
# d's worker is held, so that c's ack comes first however slow c is.
wait_for 20 nworkers_is 1 "$sup_d" || diag "d has no worker"
d_workers=$(workers_of "$sup_d")
kill -STOP $d_workers
kill -CONT "$sup_c"
ok "c's late ack is refused, naming the new holder" \
    wait_for 20 has 'ack refused: consumer d holds it now' "$T/c.err"
kill -CONT $d_workers
ok "d's result is written" wait_for 20 xlen_is 1 'forkpool:{late}:results'
is "...by d, once" "$(fields consumer 'forkpool:{late}:results')" d

# --- a slow job on a live supervisor is not taken ------------------------------------

# Another 3 s job, 3 claim times long, while both poll for dead consumers.
ctl -r "$L" submit 'slow2 3000'
is "a job 3 claim times long on a live supervisor: its result" \
    "$(cat "$T/ctl.out")" 'slow2 3000'
is "...and it was not taken over" \
    "$(cat "$T/c.err" "$T/d.err" | grep -c 'took over')" 1

kill -TERM "$sup_c" "$sup_d"
fp_wait "$sup_c"
fp_wait "$sup_d"

# --- a job whose supervisors keep dying is dead-lettered -----------------------------

# With -a 1, a job delivered a second time (its first host died running
# it) is not run again.
D=$REDIS_URL_BASE/twice
sup_start e --source "$D" --partitions 2 --consumer e --claim-idle 1 -w 1 \
    -a 1 builtin:sleep
stray_workers $(workers_of "$sup_e")
wait_for 20 has connected "$T/e.err"
ctl -r "$D" submit -d 'doomed 3000'
wait_for 20 holds_some twice 2 e || diag "e took nothing"
stray_workers $(workers_of "$sup_e")
kill -9 "$sup_e"
fp_wait "$sup_e"
sup_start f --source "$D" --partitions 2 --consumer f --claim-idle 1 -w 1 \
    -a 1 builtin:sleep
stray_workers $(workers_of "$sup_f")
ok "a job delivered twice with -a 1: dead-lettered by its new holder" \
    wait_for 20 xlen_is 1 'forkpool:{twice}:dead'
is "...with the reason" "$(fields reason 'forkpool:{twice}:dead')" \
    'delivered 2 times, more than the 1 attempts allowed (its supervisors died running it)'
is "...and answered crashed" "$(fields status 'forkpool:{twice}:results')" \
    crashed
kill -TERM "$sup_f"
fp_wait "$sup_f"
redis_stop
finish
