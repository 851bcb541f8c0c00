#!/bin/sh
# A pool spread over a Redis Cluster of three masters: 100,000 keyed jobs
# (1,000 keys, 100 jobs each) through two supervisors, while redis-cli
# --cluster reshard moves 400 slots, two partition streams among them,
# from one master to another.  In the end every job has exactly one
# result, each key's in order, nothing is left pending or waiting in an
# outbox, the partition streams are on all three masters, and both
# supervisors exit 0 on SIGTERM.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
. "$TESTS_SRCDIR/redis-cluster-lib.sh"
cluster_skip_unless_ready

plan 17

ok "a cluster of three masters" cluster_start 3
# The pool "big" has 16 partitions; redis-cli --cluster create gives node
# 0 slots 0-5460, and the reshard moves its lowest 400, where two of the
# partition streams are (their slots: 64 and 328).
P=16
U=$(cluster_url big)
spread=$(cluster_spread big $P)
diag "partition streams per node: $spread"
ok "the partition streams' slots are on all three masters" \
    awk '{ exit !($1 > 0 && $2 > 0 && $3 > 0) }' <<EOF
$spread
EOF
moved=$(cluster_slots_of big $P | awk '$1 < 400' | wc -l)
is "two of them are in the slots to be moved" "$moved" 2

cluster_sups "$U" $P -w 2 builtin:echo
is "the pool is laid out for a cluster (version 2)" \
    "$(ccli HGET 'forkpool:{big}:meta' version)" 2

# "KEY SEQ": job SEQ of key KEY, the keys interleaved.
awk 'BEGIN {
	for (s = 1; s <= 100; s++)
		for (k = 0; k < 1000; k++)
			printf "k%03d %d\n", k, s
}' >"$T/jobs"
started=$(date +%s)
"$CTL" -r "$U" submit -f 1 <"$T/jobs" >"$T/got" 2>"$T/ctl.err" 3>&- 4>&- \
    5>&- 6>&- &
ctl_pid=$!
track "$ctl_pid"

# The reshard, once a fifth of the results are in.
midway() {
	lines_at_least 20000 "$T/got" || proc_gone "$ctl_pid"
}
wait_for 60 midway || diag "the results did not start"
diag "resharding at $(wc -l <"$T/got") results"
cluster_reshard 0 2 400 bg
ok "400 slots resharded from node 0 to node 2 while the jobs run" \
    cluster_reshard_wait
diag "resharded at $(wc -l <"$T/got") results"

fp_wait "$ctl_pid" 120
is "the producer gets every result (exit 0)" "$fp_rc" 0
diag "100000 jobs in $(($(date +%s) - started)) s"
diag_file "$T/ctl.err"
sort "$T/jobs" >"$T/jobs.sorted"
sort "$T/got" >"$T/got.sorted"
same_file "...each job once" "$T/got.sorted" "$T/jobs.sorted"
ok "...each key in order" per_key_order 1 2 "$T/got"

# Where the two moved streams are now: on node 2, and no longer on node 0.
on_node2=0
on_node0=0
i=0
while [ "$i" -lt $P ]; do
	k="forkpool:{big:p$i}"
	i=$((i + 1))
	[ "$(ncli 0 CLUSTER KEYSLOT "$k")" -lt 400 ] || continue
	[ "$(ncli 2 EXISTS "$k")" = 1 ] && on_node2=$((on_node2 + 1))
	[ "$(ncli 0 EXISTS "$k")" = 1 ] && on_node0=$((on_node0 + 1))
done
is "the moved streams went with their slots to node 2" \
    "$on_node2 $on_node0" "2 0"
counts="$(cluster_streams_on 0 big $P) $(cluster_streams_on 1 big $P)"
counts="$counts $(cluster_streams_on 2 big $P)"
diag "partition streams on each node now: $counts"
ok "the partition streams are on all three masters" \
    awk -v p=$P '{ exit !($1 > 0 && $2 > 0 && $3 > 0 && $1 + $2 + $3 == p) }' <<EOF
$counts
EOF
is "nothing is left pending" "$(cluster_pending_of big $P '')" 0
is "nothing is left in the streams or the outboxes" \
    "$(cluster_left big $P)" "0 0"
is "no dead letter" "$(ccli XLEN 'forkpool:{big}:dead')" 0
ok "no ack was refused" not_has refused "$T/a.err"
ok "...on either supervisor" not_has refused "$T/b.err"

kill -TERM "$sup_a" "$sup_b"
fp_wait "$sup_a"
a_rc=$fp_rc
fp_wait "$sup_b"
is "both supervisors exit 0 on SIGTERM" "$a_rc $fp_rc" "0 0"
cluster_stop
finish
