#!/bin/sh
# A dead host on a Redis Cluster: of two supervisors sharing a pool spread
# over three masters, one is killed with SIGKILL (its workers too) in the
# middle of a run.
# The other takes its entries over once they have been idle for the claim
# time, forwards what it left in the outboxes, and no job is lost or
# answered twice; each key's results stay in order.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
. "$TESTS_SRCDIR/redis-cluster-lib.sh"
cluster_skip_unless_ready

plan 11

ok "a cluster of three masters" cluster_start 3
P=8
U=$(cluster_url crash)
cluster_sups "$U" $P --claim-idle 1 -w 2 builtin:sleep

# 200 jobs "KEY SEQ 20": 20 keys, each job 20 ms.
awk 'BEGIN { for (i = 1; i <= 200; i++) printf "k%02d %d 20\n", i % 20, i }' \
    >"$T/jobs"
a_workers=$(workers_of "$sup_a")
stray_workers $a_workers
kill -STOP $a_workers
# b waits stopped until a holds entries: with jobs packed many to an
# entry, there are few entries, and b could otherwise take them all.
kill -STOP "$sup_b"
"$CTL" -r "$U" submit -f 1 <"$T/jobs" >"$T/got" 2>"$T/ctl.err" 3>&- 4>&- \
    5>&- 6>&- &
ctl_pid=$!
track "$ctl_pid"
# a's workers are stopped, so that what it takes it still holds when it
# is killed, however fast or slow the run is around the kill.
ok "supervisor a holds entries" wait_for 20 cluster_holds_some crash $P a
kill -9 "$sup_a" $a_workers
fp_wait "$sup_a"
kill -CONT "$sup_b"
fp_wait "$ctl_pid" 60
is "a killed mid-run: the producer gets every result (exit 0)" "$fp_rc" 0
diag_file "$T/ctl.err"
sort "$T/jobs" >"$T/jobs.sorted"
sort "$T/got" >"$T/got.sorted"
same_file "...each job once" "$T/got.sorted" "$T/jobs.sorted"
ok "...each key in order" per_key_order 1 2 "$T/got"
ok "...b took a's entries over" grep -q 'took over .* from consumer a$' \
    "$T/b.err"
is "...nothing is left pending" "$(cluster_pending_of crash $P '')" 0
is "...nothing is left in the streams or the outboxes" \
    "$(cluster_left crash $P)" "0 0"
ok "...b refused none of its own" not_has refused "$T/b.err"
kill -TERM "$sup_b"
fp_wait "$sup_b"
is "b exits 0 on SIGTERM" "$fp_rc" 0
cluster_stop
finish
