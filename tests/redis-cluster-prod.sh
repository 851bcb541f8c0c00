#!/bin/sh
# A producer on a Redis Cluster (redis+cluster://), against three masters
# started here: each job lands in its partition's stream, on the node that
# owns the stream's slot, a keyed job in its key's partition; the pool's
# meta hash says layout 2; results written to the reply stream are
# received; a slot moved in the middle of a submit (MOVED) and one moving
# (ASK) lose no job and keep each key's order, and a master restarted in
# the middle of one loses none; the other layout is refused; status shows
# which node holds each partition; a bad URL is one clear error.  The
# Python producer of contrib/python does the same with redis-py's
# RedisCluster.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 36

# --- a cluster of three masters ---------------------------------------------------

# Three free ports, each with its cluster bus port (10000 above) under
# the range of the ports the kernel gives out to outgoing connections.
port_free() {
	! ss -Htan "( sport = :$1 or sport = :$(($1 + 10000)) )" 2>/dev/null |
	    grep -q .
}
P1=$((20000 + $$ % 2700))
pf_n=0
while ! port_free "$P1" || ! port_free $((P1 + 1)) ||
    ! port_free $((P1 + 2)); do
	P1=$((20000 + (P1 - 20000 + 3) % 2700))
	pf_n=$((pf_n + 1))
	if [ "$pf_n" -gt 900 ]; then
		echo "Bail out! no free ports for a cluster"
		exit 99
	fi
done
P2=$((P1 + 1))
P3=$((P1 + 2))

# ccli PORT ARGS...: redis-cli to one node, as it answers.
ccli() {
	cc_port=$1
	shift
	redis-cli -p "$cc_port" "$@" 3>&- 4>&- 5>&- 6>&-
}

# rcli ARGS...: redis-cli that follows the cluster's redirections, for
# redis-lib.sh's functions too.
rcli() {
	redis-cli -c -p "$P1" "$@" 3>&- 4>&- 5>&- 6>&-
}

# node_start PORT: a master, its pid in $pid_PORT; its data is saved only
# on SHUTDOWN SAVE, and found again when it starts again.
node_start() {
	mkdir -p "$T/n$1"
	redis-server --port "$1" --bind 127.0.0.1 --cluster-enabled yes \
	    --cluster-config-file "$T/n$1/nodes.conf" --dir "$T/n$1" \
	    --save '' --appendonly no --daemonize no \
	    --logfile "$T/n$1/log" </dev/null >/dev/null 2>&1 \
	    3>&- 4>&- 5>&- 6>&- &
	track $!
	eval "pid_$1=\$!"
}
node_up() {
	[ "$(ccli "$1" PING 2>/dev/null)" = PONG ]
}
for p in $P1 $P2 $P3; do
	node_start "$p"
done
for p in $P1 $P2 $P3; do
	wait_for 20 node_up "$p" || diag_file "$T/n$p/log"
done
redis-cli --cluster create "127.0.0.1:$P1" "127.0.0.1:$P2" "127.0.0.1:$P3" \
    --cluster-yes >"$T/create.out" 2>&1 3>&- 4>&- 5>&- 6>&- ||
    diag_file "$T/create.out"
cluster_ok() {
	for co_p in $P1 $P2 $P3; do
		ccli "$co_p" CLUSTER INFO | grep -q '^cluster_state:ok' ||
		    return 1
	done
}
if ! wait_for 30 cluster_ok; then
	diag_file "$T/create.out"
	echo "Bail out! the cluster did not come up"
	exit 99
fi
id_of() {
	ccli "$1" CLUSTER MYID
}
CU="redis+cluster://127.0.0.1:$P2,127.0.0.1:$P1/"

# owner KEY: the port of the master that holds a key's slot (the one
# that answers, not redirects).
owner() {
	ow=$(ccli "$P1" TYPE "$1")
	case $ow in
	MOVED*) echo "${ow##*:}" ;;
	*) echo "$P1" ;;
	esac
}

# cfields NAME KEY: fields(), with nothing for no entries.
cfields() {
	fields "$@" | sed '/^$/d'
}

# queued POOL PARTITIONS: the entries in a pool's partition streams.
queued() {
	qd_i=0
	while [ "$qd_i" -lt "$2" ]; do
		echo "XLEN forkpool:{$1:p$qd_i}"
		qd_i=$((qd_i + 1))
	done | rcli | awk '{ n += $1 } END { print n + 0 }'
}

queued_is() {
	[ "$(queued "$1" "$2")" -eq "$3" ]
}

# answers POOL PARTITIONS PREFIX: redis-cli's commands that answer each job
# of a pool as an echo handler would, its result PREFIX and its payload.
answers() {
	an_i=0
	while [ "$an_i" -lt "$2" ]; do
		rcli EVAL "local o = {}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f, v = e[2], {}
  for i = 1, #f, 2 do v[f[i]] = f[i + 1] end
  o[#o + 1] = 'XADD ' .. v.reply .. ' * ref ' .. v.ref ..
    ' status ok attempts 1 result \"' .. ARGV[1] .. v.payload .. '\"'
end
return o" 1 "forkpool:{$1:p$an_i}" "$3" | sed '/^$/d'
		an_i=$((an_i + 1))
	done
}

go_on() {
	[ -e "$T/go" ]
}

# submit_halves POOL JOBS: forkpoolctl -r submits the lines of JOBS to a
# pool, detached, in the background ($producer): the first half at once,
# the rest once $T/go is there (a FIFO, fed by $writer).
submit_halves() {
	rm -f "$T/go" "$T/in.$1"
	mkfifo "$T/in.$1"
	sh_half=$(($(wc -l <"$2") / 2))
	(
		head -n "$sh_half" "$2"
		wait_for 30 go_on
		tail -n "+$((sh_half + 1))" "$2"
	) >"$T/in.$1" 3>&- 4>&- 5>&- 6>&- &
	writer=$!
	track "$writer"
	"$CTL" -r "${CU}$1" -P 8 submit -d -f 1 <"$T/in.$1" >"$T/$1.out" \
	    2>"$T/$1.err" 3>&- 4>&- 5>&- 6>&- &
	producer=$!
	track "$producer"
}

# --- a bad URL ------------------------------------------------------------------

ctl -r "redis+cluster:///cp" -P 8 submit x
is "a cluster URL without a seed: exit 2" "$ctl_rc" 2
is "...one line saying why" "$(wc -l <"$T/ctl.err")" 1
ctl -r "redis+cluster://127.0.0.1:$P1/cp?db=3" -P 8 submit x
is "a cluster URL with a database: exit 2" "$ctl_rc" 2
is "...one line saying why" "$(wc -l <"$T/ctl.err")" 1

# --- where the jobs land ----------------------------------------------------------

awk 'BEGIN { for (i = 1; i <= 600; i++) printf "k%02d %d\n", i % 17, i }' \
    >"$T/jobs"
ctl -r "${CU}cp" -P 8 submit -d -f 1 <"$T/jobs"
is "600 keyed jobs, detached: exit 0" "$ctl_rc" 0
[ -s "$T/ctl.err" ] && diag_file "$T/ctl.err"
is "...the meta hash says layout 2" \
    "$(rcli HGET 'forkpool:{cp}:meta' version)" 2
# Each partition's stream, read on its own master, not redirected.
: >"$T/placed"
: >"$T/ports"
for i in 0 1 2 3 4 5 6 7; do
	k="forkpool:{cp:p$i}"
	p=$(owner "$k")
	echo "$p" >>"$T/ports"
	printf '%s %s\n' "$i" "$(ccli "$p" XLEN "$k")" >>"$T/placed"
	cfields key "$k" | sed "s/^/$i /" >>"$T/keys"
	cfields payload "$k" >>"$T/payloads"
done
is "...every job in a partition stream, on the master of its slot" \
    "$(awk '{ n += $2 } END { print n }' "$T/placed")" 600
is "...spread over the three masters" "$(sort -u "$T/ports" | wc -l)" 3
sort "$T/payloads" >"$T/got"
sort "$T/jobs" >"$T/want"
same_file "...each job once" "$T/got" "$T/want"
ok "...each key's in order" per_key_order 1 2 "$T/payloads"
# A key's partition is FNV-1a 32 of the key, mod the partitions.
fnv_part() {
	awk -v p=8 '
	function xor(a, b,   r, bit) {
		r = 0
		for (bit = 1; a > 0 || b > 0; bit *= 2) {
			if ((a % 2) != (b % 2))
				r += bit
			a = int(a / 2)
			b = int(b / 2)
		}
		return r
	}
	BEGIN { for (i = 0; i < 256; i++) ord[sprintf("%c", i)] = i }
	{
		h = 2166136261
		for (i = 1; i <= length($2); i++) {
			h = xor(h, ord[substr($2, i, 1)])
			# h * 16777619 mod 2^32, 16777619 being 2^24 + 403,
			# in parts that a double holds exactly.
			h = (h * 403 + (h % 256) * 16777216) % 4294967296
		}
		if (h % p != $1)
			bad++
	}
	END { exit bad > 0 }' "$1"
}
ok "...each key in its partition" fnv_part "$T/keys"

# --- results come back -------------------------------------------------------------

"$CTL" -r "${CU}back" -P 4 submit -t 20 -k one a b c >"$T/b.out" \
    2>"$T/b.err" 3>&- 4>&- 5>&- 6>&- &
producer=$!
track "$producer"
ok "three jobs with a reply stream queued" wait_for 20 queued_is back 4 3
answers back 4 "done " >"$T/answer"
rcli <"$T/answer" >/dev/null
fp_wait "$producer" 20
is "results added by hand: the producer exits 0" "$fp_rc" 0
[ -s "$T/b.err" ] && diag_file "$T/b.err"
printf 'done a\ndone b\ndone c\n' >"$T/want"
same_file "...printing each, in order" "$T/b.out" "$T/want"
is "...its reply stream deleted" \
    "$(rcli EXISTS "$(sed -n '1s/^XADD \([^ ]*\) .*/\1/p' "$T/answer")")" 0

# --- a slot moved mid-submit (MOVED) -------------------------------------------------

# Partition 3 of pool moved424 hashes to slot 5461, the first of the
# second master's: resharding one slot from it moves that partition.
awk 'BEGIN { for (i = 1; i <= 6000; i++) printf "k%02d %d\n", i % 23, i }' \
    >"$T/mjobs"
submit_halves moved424 "$T/mjobs"
some_landed() {
	[ "$(ccli "$P2" XLEN 'forkpool:{moved424:p3}')" -gt 0 ]
}
ok "jobs land in partition 3 on the second master" wait_for 20 some_landed
redis-cli --cluster reshard "127.0.0.1:$P1" --cluster-from "$(id_of "$P2")" \
    --cluster-to "$(id_of "$P3")" --cluster-slots 1 --cluster-yes \
    >"$T/reshard.out" 2>&1 3>&- 4>&- 5>&- 6>&- ||
    diag_file "$T/reshard.out"
: >"$T/go"
fp_wait "$writer" 20
fp_wait "$producer" 30
is "a slot resharded mid-submit: the producer exits 0" "$fp_rc" 0
[ -s "$T/moved424.err" ] && diag_file "$T/moved424.err"
is "...partition 3 is on the third master now" \
    "$(owner 'forkpool:{moved424:p3}')" "$P3"
: >"$T/payloads"
for i in 0 1 2 3 4 5 6 7; do
	cfields payload "forkpool:{moved424:p$i}" >>"$T/payloads"
done
sort "$T/payloads" >"$T/got"
sort "$T/mjobs" >"$T/want"
same_file "...every job in the cluster once" "$T/got" "$T/want"
ok "...each key's in order" per_key_order 1 2 "$T/payloads"

# --- a master restarted mid-submit ------------------------------------------------

# The second master, the pool's home, stops (its data saved) after the
# first half of the jobs (each master has had a window of them) and starts
# again while the second half waits to be sent: every job is in the
# cluster (one whose answer was lost may be there twice).
awk 'BEGIN { for (i = 1; i <= 12000; i++) printf "k%02d %d\n", i % 23, i }' \
    >"$T/rjobs"
submit_halves rs "$T/rjobs"
# Pool rs's partitions 2 and 6, and its meta hash, are the second
# master's.
some_landed() {
	[ "$(ccli "$P2" XLEN 'forkpool:{rs:p2}')" -gt 0 ]
}
ok "jobs land on the second master" wait_for 20 some_landed
ccli "$P2" SHUTDOWN SAVE >/dev/null 2>&1
eval "fp_wait \$pid_$P2 20"
: >"$T/go"
node_start "$P2"
wait_for 30 cluster_ok || diag_file "$T/n$P2/log"
fp_wait "$writer" 20
fp_wait "$producer" 30
is "a master restarted mid-submit: the producer exits 0" "$fp_rc" 0
[ -s "$T/rs.err" ] && diag_file "$T/rs.err"
: >"$T/payloads"
for i in 0 1 2 3 4 5 6 7; do
	cfields payload "forkpool:{rs:p$i}" >>"$T/payloads"
done
sort -u "$T/payloads" >"$T/got"
sort "$T/rjobs" >"$T/want"
same_file "...every job in the cluster" "$T/got" "$T/want"

# --- a slot moving (ASK) -----------------------------------------------------------

# Partition 5 of pool reshard642 (key k5's) hashes to slot 0, the first
# master's: it is marked moving to the second, its stream not made yet,
# so the first master answers ASK and the job goes to the second.
ccli "$P2" CLUSTER SETSLOT 0 IMPORTING "$(id_of "$P1")" >/dev/null
ccli "$P1" CLUSTER SETSLOT 0 MIGRATING "$(id_of "$P2")" >/dev/null
ctl -r "${CU}reshard642" -P 8 submit -d -k k5 asked
is "a job for a slot moving: exit 0" "$ctl_rc" 0
[ -s "$T/ctl.err" ] && diag_file "$T/ctl.err"
for p in $P1 $P2 $P3; do
	ccli "$p" CLUSTER SETSLOT 0 NODE "$(id_of "$P2")" >/dev/null
done
: >"$T/payloads"
for i in 0 1 2 3 4 5 6 7; do
	cfields payload "forkpool:{reshard642:p$i}" >>"$T/payloads"
done
is "...it is in the cluster once" "$(cat "$T/payloads")" asked
is "...on the second master" "$(ccli "$P2" XLEN 'forkpool:{reshard642:p5}')" 1

# --- the other layout ----------------------------------------------------------------

rcli HSET 'forkpool:{single}:meta' partitions 4 version 1 >/dev/null
ctl -r "${CU}single" submit x
is "a pool of layout 1 on redis+cluster://: exit 2" "$ctl_rc" 2
ok "...saying so" has 'pool single is laid out for a single Redis' \
    "$T/ctl.err"
home=$(owner 'forkpool:{cp}:meta')
ctl -r "redis://127.0.0.1:$home/cp" submit x
is "a pool of layout 2 on redis://: exit 2" "$ctl_rc" 2
ok "...saying so" has 'pool cp is laid out for a Redis Cluster' "$T/ctl.err"

# --- status ------------------------------------------------------------------------

ctl -r "${CU}cp" status
is "status on the cluster: exit 0" "$ctl_rc" 0
nodes_shown() {
	sed -n '/^node /,/^$/p' "$T/ctl.out" | grep -c '^127\.0\.0\.1:'
}
is "...a line for each master" "$(nodes_shown)" 3
ok "...and for each partition its master" awk -v p1="$P1" '
	$1 ~ /^[0-7]$/ { n++; if ($5 !~ /^127\.0\.0\.1:/) bad++ }
	END { exit !(n == 8 && !bad) }' "$T/ctl.out"

# --- the Python producer -------------------------------------------------------------

# contrib/python/forkpool_producer.py with redis-py's RedisCluster: its
# 300 jobs "KEY SEQ" are answered here, with their payloads, as an echo
# handler would.
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'from redis.cluster import RedisCluster' >/dev/null 2>&1
	then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	for t in "the Python producer on the cluster: exit 0" \
	    "...each job answered once, in each key's order" \
	    "...the pool's layout checked"; do
		skip "$t" "no redis-py with RedisCluster (python3-redis)"
	done
else
	"$PY" "$TESTS_SRCDIR/../contrib/python/forkpool_producer.py" \
	    "${CU}py" -P 8 -n 300 -k 7 -t 20 >"$T/py.out" 2>"$T/py.err" \
	    3>&- 4>&- 5>&- 6>&- &
	producer=$!
	track "$producer"
	wait_for 20 queued_is py 8 300 ||
	    diag "the Python producer's jobs are not there"
	answers py 8 "" >"$T/py.cmds"
	rcli <"$T/py.cmds" >/dev/null
	fp_wait "$producer" 20
	is "the Python producer on the cluster: exit 0" "$fp_rc" 0
	[ -s "$T/py.err" ] && diag_file "$T/py.err"
	ok "...each job answered once, in each key's order" \
	    grep -qx '300 jobs, 300 results, 7 keys, 0 wrong' "$T/py.out"
	"$PY" -c 'import sys
sys.path.insert(0, sys.argv[1])
import forkpool_producer
forkpool_producer.Producer(sys.argv[2])' \
	    "$TESTS_SRCDIR/../contrib/python" "${CU}single" >/dev/null \
	    2>"$T/py.err" 3>&- 4>&- 5>&- 6>&-
	ok "...the pool's layout checked" \
	    has 'pool single is laid out for a single Redis' "$T/py.err"
fi

kill "$(eval echo \$pid_$P1)" "$(eval echo \$pid_$P2)" \
    "$(eval echo \$pid_$P3)" 2>/dev/null
for p in $P1 $P2 $P3; do
	eval "fp_wait \$pid_$p 20"
done
finish
