#!/bin/sh
# The supervisor on a Redis Cluster of three masters started here: a pool
# laid out for the other kind of Redis is refused, both ways; keyed jobs
# in partition streams spread over the three masters each get one
# result on their reply stream, in order per key, through a supervisor
# killed with SIGKILL in the middle of the run (the other takes its
# entries over) and a slot moved to another master under load (MOVED and
# ASK); results left in an outbox are forwarded by whoever reads the
# partition next; a SIGTERM drains.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
. "$TESTS_SRCDIR/redis-cluster-lib.sh"
cluster_skip_unless_ready

plan 20

# --- three masters ----------------------------------------------------------------

# rp PORT ARGS...: redis-cli to one node, no redirections followed.
rp() {
	rp_port=$1
	shift
	redis-cli -p "$rp_port" "$@" 3>&- 4>&- 5>&- 6>&-
}

# cc ARGS...: redis-cli to the cluster, redirections followed.
cc() {
	ccli "$@"
}

if ! cluster_start 3; then
	echo "Bail out! no cluster of three masters could start"
	exit 1
fi
N0=$(cluster_port 0) N1=$(cluster_port 1) N2=$(cluster_port 2)
pass "a cluster of three masters"
U=redis+cluster://127.0.0.1:$N0,127.0.0.1:$N1/c

# --- the layouts do not mix ---------------------------------------------------------

cc HSET 'forkpool:{one}:meta' partitions 4 version 1 >/dev/null
fp_bg /dev/null /dev/null "$T/one.err" \
    --source "redis+cluster://127.0.0.1:$N2/one" --partitions 4 builtin:echo
fp_wait "$fp_pid"
is "a pool laid out for a single Redis, on a cluster: exit 2" "$fp_rc" 2
ok "...saying so" grep -qF 'pool one is laid out for a single Redis (version 1); use redis://' \
    "$T/one.err"

redis_start
rcli HSET 'forkpool:{two}:meta' partitions 4 version 2 >/dev/null
fp_bg /dev/null /dev/null "$T/two.err" --source "$REDIS_URL_BASE/two" \
    --partitions 4 builtin:echo
fp_wait "$fp_pid"
is "a pool laid out for a cluster, on a single Redis: exit 2" "$fp_rc" 2
ok "...saying so" grep -qF 'pool two is laid out for a Redis Cluster (version 2); use redis+cluster://' \
    "$T/two.err"
redis_stop

# A cluster URL naming a Redis that is not a cluster never mends itself.
plain_port=$(cluster_free_ports 1)
redis-server --port "$plain_port" --bind 127.0.0.1 --save '' \
    --daemonize no --dir "$T" </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- &
plain_pid=$!
track "$plain_pid"
wait_for 20 rp "$plain_port" PING >/dev/null || diag "no plain Redis"
fp_bg /dev/null /dev/null "$T/three.err" \
    --source "redis+cluster://127.0.0.1:$plain_port/three" --partitions 4 \
    builtin:echo
fp_wait "$fp_pid" 20
is "a cluster URL naming a Redis without cluster support: exit 2" "$fp_rc" 2
ok "...saying so" grep -qF 'CLUSTER SLOTS refused: ERR This instance has cluster support disabled' \
    "$T/three.err"
kill "$plain_pid"
wait "$plain_pid" 2>/dev/null
untrack "$plain_pid"

# From here on redis-lib.sh's helpers ask the cluster.
rcli() {
	cc "$@"
}

# --- 400 keyed jobs, a supervisor killed, a slot moved ---------------------------

# 400 jobs "KEY SEQ 10" over 30 keys, each in its key's partition of 8
# (FNV-1a 32 of the key, as doc/SCALING.md says), answered on one reply
# stream: XADDs through redis-cli, as any producer would send them.
awk 'function bxor8(a, b,   r, bit) {
	r = 0
	for (bit = 1; bit < 256; bit *= 2)
		if (int(a / bit) % 2 != int(b / bit) % 2)
			r += bit
	return r
}
function fnv32(s,   h, i, lo) {
	h = 2166136261
	for (i = 1; i <= length(s); i++) {
		lo = h % 256
		h = h - lo + bxor8(lo, ord[substr(s, i, 1)])
		h = ((h % 256) * 16777216 + h * 403) % 4294967296
	}
	return h
}
BEGIN {
	for (i = 1; i < 256; i++)
		ord[sprintf("%c", i)] = i
	for (i = 1; i <= 400; i++) {
		k = sprintf("k%02d", i % 30)
		printf "XADD forkpool:{c:p%d} * key %s payload \"%s %d 10\" " \
		    "reply forkpool:{c}:reply:r\n", fnv32(k) % 8, k, k, i
		printf "%s %d 10\n", k, i >"/dev/stderr"
	}
}' >"$T/xadds" 2>"$T/jobs"
cc <"$T/xadds" >/dev/null 2>&1

on_node() {
	rp "$1" DBSIZE
}
ok "the partition streams are spread over the three masters" \
    [ "$(on_node "$N0")" -gt 0 -a "$(on_node "$N1")" -gt 0 -a \
    "$(on_node "$N2")" -gt 0 ]

# pending_c CONSUMER: the entries a consumer holds, over the 8 streams.
pending_c() {
	pc_n=0
	for pc_i in 0 1 2 3 4 5 6 7; do
		pc_c=$(cc XPENDING "forkpool:{c:p$pc_i}" c - + 1000 "$1" \
		    2>/dev/null | grep -c "^$1\$")
		pc_n=$((pc_n + pc_c))
	done
	echo "$pc_n"
}
holds_c() {
	[ "$(pending_c "$1")" -gt 0 ]
}
replies_are() {
	[ "$(cc XLEN 'forkpool:{c}:reply:r')" -eq "$1" ]
}

sup_pair "$U"
# a is stopped while it holds entries, then killed: never in the moment
# between a finish and its next take.
stop_holding() {
	kill -STOP "$sup_a"
	holds_c a && return 0
	kill -CONT "$sup_a"
	return 1
}
ok "supervisor a holds entries" wait_for 20 stop_holding
stray_workers $(workers_of "$sup_a")
kill -9 "$sup_a"
fp_wait "$sup_a"

# The slot of k00's partition moves to another master, keys and all,
# while b works: MIGRATING, IMPORTING, MIGRATE, then the new owner.
stream=$(sed -n 's/^XADD \(forkpool:{c:p[0-9]*}\) .* key k00 .*/\1/p' \
    "$T/xadds" | head -1)
slot=$(rp "$N0" CLUSTER KEYSLOT "$stream")
from= to=
for port in "$N0" "$N1" "$N2"; do
	if [ "$(rp "$port" CLUSTER COUNTKEYSINSLOT "$slot")" -gt 0 ]; then
		from=$port
	elif [ -z "$to" ]; then
		to=$port
	fi
done
from_id=$(rp "$from" CLUSTER MYID)
to_id=$(rp "$to" CLUSTER MYID)
rp "$to" CLUSTER SETSLOT "$slot" IMPORTING "$from_id" >/dev/null
rp "$from" CLUSTER SETSLOT "$slot" MIGRATING "$to_id" >/dev/null
keys=$(rp "$from" CLUSTER GETKEYSINSLOT "$slot" 100)
rp "$from" MIGRATE 127.0.0.1 "$to" "" 0 5000 KEYS $keys >"$T/migrate.out"
for port in "$to" "$from" "$N0" "$N1" "$N2"; do
	rp "$port" CLUSTER SETSLOT "$slot" NODE "$to_id" >/dev/null
done
is "slot $slot ($stream) moved to another master mid-run" \
    "$(rp "$to" CLUSTER COUNTKEYSINSLOT "$slot")" \
    "$(echo $keys | wc -w | tr -d ' ')"

ok "a killed, a slot moved: b answers every job" wait_for 60 replies_are 400
fields result 'forkpool:{c}:reply:r' >"$T/got"
taken_over "$T/jobs" "$T/got"
ok "...b followed the slot to its new master" \
    grep -q "slot map asked again" "$T/b.err" || diag_file "$T/b.err"

# --- what an outbox holds is forwarded --------------------------------------------

# As if a supervisor died between its finish and its forward.
cc XADD 'forkpool:{c:p3}:done' '*' to 'forkpool:{c}:reply:left' job 1-1 \
    partition 3 status ok attempts 1 consumer gone result left >/dev/null
left_forwarded() {
	[ "$(cc XLEN 'forkpool:{c}:reply:left')" -eq 1 ] &&
	    [ "$(cc XLEN 'forkpool:{c:p3}:done')" -eq 0 ]
}
ok "an outbox entry left behind is forwarded, and the outbox trimmed" \
    wait_for 20 left_forwarded
is "...as it was" "$(cc XRANGE 'forkpool:{c}:reply:left' - + | tail -1)" \
    left

# --- a drain --------------------------------------------------------------------------

kill -TERM "$sup_b"
fp_wait "$sup_b"
is "SIGTERM: b drains and exits 0" "$fp_rc" 0
outboxes_empty() {
	for oe_i in 0 1 2 3 4 5 6 7; do
		[ "$(cc XLEN "forkpool:{c:p$oe_i}:done")" -eq 0 ] || return 1
		[ "$(cc XLEN "forkpool:{c:p$oe_i}")" -eq 0 ] || return 1
	done
}
ok "...every stream and outbox empty" outboxes_empty
is "...no result twice" "$(cc XLEN 'forkpool:{c}:reply:r')" 400

finish
