# Functions for the tests of a pool on a Redis Cluster, sourced after
# lib.sh and redis-lib.sh:
#
#	. "$TESTS_SRCDIR/redis-cluster-lib.sh"
#	cluster_skip_unless_ready	# TAP "1..0 # SKIP" and exit if no cluster
#	cluster_start 3			# three masters on 127.0.0.1, slots shared
#	U=$(cluster_url pool)		# redis+cluster://127.0.0.1:P1,.../pool
#	ccli XLEN 'forkpool:{pool:p0}'	# redis-cli -c: follows the redirections
#	cluster_reshard 0 1 300 bg	# 300 slots from node 0 to node 1, meanwhile
#	cluster_reshard_wait
#	cluster_node_stop 1; cluster_node_start 1	# a master restarted
#	cluster_stop
#
# The cluster is this test's own: each node a redis-server with its own
# directory in $T (its append-only file and nodes.conf there), on a TCP port
# of 127.0.0.1 found free by binding it, and its cluster bus port (the port
# + 10000) with it.  Tests running side by side pick their ports at random
# and check, once a node answers, that it is the one they started.  lib.sh's
# cleanup kills every node at exit.  Nodes are numbered from 0 in the order
# they were started; $cluster_port0, $cluster_port1... are their ports.

cluster_n=0

# cluster_skip_unless_ready: skips the whole test when there is no Redis
# support or no redis-server, or when redis-server or redis-cli cannot
# make a cluster (Redis before 5 has no redis-cli --cluster).
cluster_skip_unless_ready() {
	redis_skip_unless_ready
	if ! redis-cli --cluster help 2>&1 | grep -q reshard; then
		echo "1..0 # SKIP redis-cli has no --cluster (Redis 5 or later:" \
		    "apt-get install redis-tools)"
		exit 0
	fi
	if ! redis-server --version 2>/dev/null |
	    awk '{ sub("v=", "", $3); exit !($3 + 0 >= 5) }'; then
		echo "1..0 # SKIP redis-server has no cluster mode (Redis 5 or later)"
		exit 0
	fi
}

# cluster_free_ports N: N ports of 127.0.0.1 to try, at random, each one
# free when asked (bound by nobody) and its bus port (+ 10000) too.  They
# are taken from 10000-19999, so that every bus port (20000-29999) is
# below the kernel's usual ephemeral range and no node's port is
# another's bus port.  A port may still be taken before the node binds
# it: cluster_node_start then fails, and cluster_start tries another.
cluster_free_ports() {
	awk -v n="$1" -v seed="$$$(date +%N)" '
		BEGIN {
			srand(seed % 2147483647)
			while (got < n) {
				p = 10000 + int(rand() * 10000)
				if (p in seen)
					continue
				seen[p] = 1
				# Bound by anyone (on any address): not free.
				cmd = "ss -Htln \"( sport = :" p " or sport = :" \
				    p + 10000 " )\""
				busy = ""
				cmd | getline busy
				close(cmd)
				if (busy == "") {
					print p
					got++
				}
			}
		}'
}

# cluster_port I: node I's port.
cluster_port() {
	eval "echo \$cluster_port$1"
}

# ncli I ARGS...: redis-cli to node I, no redirection followed.
ncli() {
	nc_port=$(cluster_port "$1")
	shift
	redis-cli -h 127.0.0.1 -p "$nc_port" "$@" 3>&- 4>&- 5>&- 6>&-
}

# ccli ARGS...: redis-cli -c to node 0, which follows MOVED and ASK.
ccli() {
	redis-cli -c -h 127.0.0.1 -p "$cluster_port0" "$@" 3>&- 4>&- 5>&- 6>&-
}

# node_ours I: node I answers and is the server started in its directory
# (not another test's that took the port first).
node_ours() {
	[ "$(ncli "$1" CONFIG GET dir 2>/dev/null | sed -n 2p)" = \
	    "$(cd "$T/cluster/n$1" && pwd -P)" ]
}

# cluster_node_start I: starts node I (again, on its port, if it has one),
# cluster mode, its data in $T/cluster/nI; its pid in $cluster_pidI.  Fails
# if it does not come up.
cluster_node_start() {
	cn_dir=$T/cluster/n$1
	mkdir -p "$cn_dir"
	redis-server --port "$(cluster_port "$1")" --bind 127.0.0.1 \
	    --cluster-enabled yes --cluster-config-file nodes.conf \
	    --cluster-node-timeout 5000 --dir "$cn_dir" \
	    --appendonly yes --appendfsync everysec --save '' \
	    --daemonize no --logfile "$cn_dir/redis.log" \
	    </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- &
	eval "cluster_pid$1=\$!"
	track "$!"
	cn_pid=$!
	cn_n=$((100 * ${FORKPOOL_TEST_SCALE:-1}))
	while [ "$cn_n" -gt 0 ]; do
		node_ours "$1" && return 0
		# A port taken meanwhile: the server exits at once.
		proc_alive "$cn_pid" || break
		sleep 0.05
		cn_n=$((cn_n - 1))
	done
	kill -9 "$cn_pid" 2>/dev/null
	wait "$cn_pid" 2>/dev/null
	untrack "$cn_pid"
	return 1
}

# cluster_masters I: node I's view of the masters, a line each: the
# address and its slot ranges, sorted; slots being migrated are left out.
cluster_masters() {
	ncli "$1" CLUSTER NODES 2>/dev/null | awk '
		$3 ~ /master/ && $3 !~ /fail/ {
			sub("@.*", "", $2)
			s = $2
			for (i = 9; i <= NF; i++)
				if ($i !~ /^\[/)
					s = s " " $i
			print s
		}' | sort
}

# cluster_agrees: every node says cluster_state:ok and sees the same
# masters with the same slots.
cluster_agrees() {
	ca_i=0
	while [ "$ca_i" -lt "$cluster_n" ]; do
		ncli "$ca_i" CLUSTER INFO 2>/dev/null |
		    grep -q '^cluster_state:ok' || return 1
		cluster_masters "$ca_i" >"$T/cluster/view$ca_i"
		[ -s "$T/cluster/view$ca_i" ] || return 1
		[ "$ca_i" -eq 0 ] ||
		    cmp -s "$T/cluster/view0" "$T/cluster/view$ca_i" || return 1
		ca_i=$((ca_i + 1))
	done
}

# cluster_start N: N masters, the slots shared among them by redis-cli
# --cluster create, no replicas; returns once every node agrees.
cluster_start() {
	cluster_n=$1
	cs_i=0
	cs_tries=0
	while [ "$cs_i" -lt "$cluster_n" ]; do
		eval "cluster_port$cs_i=$(cluster_free_ports 1)"
		if cluster_node_start "$cs_i"; then
			cs_i=$((cs_i + 1))
			continue
		fi
		cs_tries=$((cs_tries + 1))
		if [ "$cs_tries" -ge 10 ]; then
			diag "redis-server in cluster mode did not come up"
			diag_file "$T/cluster/n$cs_i/redis.log"
			return 1
		fi
	done
	if ! redis-cli --cluster create $(cluster_addrs) --cluster-replicas 0 \
	    --cluster-yes >"$T/cluster/create.log" 2>&1 3>&- 4>&- 5>&- 6>&-; then
		diag "redis-cli --cluster create failed"
		diag_file "$T/cluster/create.log"
		return 1
	fi
	if ! wait_for 20 cluster_agrees; then
		diag "the cluster's nodes do not agree"
		return 1
	fi
}

# cluster_addrs: each node's address, a line each.
cluster_addrs() {
	ad_i=0
	while [ "$ad_i" -lt "$cluster_n" ]; do
		echo "127.0.0.1:$(cluster_port "$ad_i")"
		ad_i=$((ad_i + 1))
	done
}

# cluster_url POOL: the URL of a pool on this cluster, every node a seed.
cluster_url() {
	echo "redis+cluster://$(cluster_addrs | paste -sd , -)/$1"
}

# cluster_sups URL PARTITIONS ARGS...: supervisors a and b on the pool,
# each with ARGS (see sup_start: logs in $T/a.err and $T/b.err, pids in
# $sup_a and $sup_b), and a test that both connect; the test bails out
# if they do not, as nothing after could pass.
cluster_sups() {
	su_url=$1
	su_parts=$2
	shift 2
	for su_name in a b; do
		sup_start "$su_name" --source "$su_url" --partitions "$su_parts" \
		    --consumer "$su_name" "$@"
		stray_workers $(workers_of "$sup")
	done
	wait_for 20 sups_settled
	ok "two supervisors connect" sups_connected && return 0
	diag_file "$T/a.err"
	diag_file "$T/b.err"
	echo "Bail out! the supervisors did not connect"
	exit 1
}

sups_connected() {
	has connected "$T/a.err" && has connected "$T/b.err"
}

# sups_settled: both connected, or one is gone (a start-up error).
sups_settled() {
	sups_connected || proc_gone "$sup_a" || proc_gone "$sup_b"
}

# cluster_id I: node I's id.
cluster_id() {
	ncli "$1" CLUSTER MYID
}

# cluster_node_of KEY: the number of the node that serves the key's slot,
# as node 0 sees it (empty if none does).
cluster_node_of() {
	cno_port=$(ncli 0 CLUSTER NODES | awk -v slot="$(ncli 0 CLUSTER KEYSLOT "$1")" '
		$3 ~ /master/ {
			for (i = 9; i <= NF; i++) {
				if ($i ~ /^\[/)
					continue
				n = split($i, r, "-")
				if (n == 1)
					r[2] = r[1]
				if (slot + 0 >= r[1] + 0 && slot + 0 <= r[2] + 0) {
					sub("@.*", "", $2)
					sub(".*:", "", $2)
					print $2
				}
			}
		}')
	cno_i=0
	while [ "$cno_i" -lt "$cluster_n" ]; do
		if [ "$(cluster_port "$cno_i")" = "$cno_port" ]; then
			echo "$cno_i"
			return 0
		fi
		cno_i=$((cno_i + 1))
	done
	return 1
}

# cluster_spread POOL PARTITIONS: how many of the pool's partition streams
# each node serves, "N0 N1 ..." (by their slots, whether the streams exist
# or not).
cluster_spread() {
	sp_i=0
	while [ "$sp_i" -lt "$2" ]; do
		cluster_node_of "forkpool:{$1:p$sp_i}"
		sp_i=$((sp_i + 1))
	done | awk -v n="$cluster_n" '
		{ c[$1]++ }
		END {
			for (i = 0; i < n; i++)
				printf "%s%d", i ? " " : "", c[i]
			print ""
		}'
}

# cluster_streams_on I POOL PARTITIONS: how many of the pool's partition
# streams are on node I (those that exist there).
cluster_streams_on() {
	so_n=0
	so_i=0
	while [ "$so_i" -lt "$3" ]; do
		[ "$(ncli "$1" EXISTS "forkpool:{$2:p$so_i}")" = 1 ] &&
		    so_n=$((so_n + 1))
		so_i=$((so_i + 1))
	done
	echo "$so_n"
}

# cluster_slots_of POOL PARTITIONS: the slot of each partition stream, a
# line each.
cluster_slots_of() {
	sl_i=0
	while [ "$sl_i" -lt "$2" ]; do
		ncli 0 CLUSTER KEYSLOT "forkpool:{$1:p$sl_i}"
		sl_i=$((sl_i + 1))
	done
}

# cluster_pending_of POOL PARTITIONS CONSUMER: the entries a consumer
# holds ("" for all consumers).
cluster_pending_of() {
	cp_n=0
	cp_i=0
	while [ "$cp_i" -lt "$2" ]; do
		if [ -n "$3" ]; then
			cp_c=$(ccli XPENDING "forkpool:{$1:p$cp_i}" "$1" - + 1000 \
			    "$3" 2>/dev/null | grep -c "^$3\$")
		else
			cp_c=$(ccli XPENDING "forkpool:{$1:p$cp_i}" "$1" 2>/dev/null |
			    head -n 1)
		fi
		# No group yet (NOGROUP): nothing held.
		case $cp_c in
		''|*[!0-9]*)	cp_c=0 ;;
		esac
		cp_n=$((cp_n + cp_c))
		cp_i=$((cp_i + 1))
	done
	echo "$cp_n"
}

cluster_holds_some() {
	[ "$(cluster_pending_of "$1" "$2" "$3")" -gt 0 ]
}

# cluster_left POOL PARTITIONS: what is left in the pool's partition
# streams and their outboxes, in entries ("0 0" when all is done).
cluster_left() {
	cl_s=0
	cl_o=0
	cl_i=0
	while [ "$cl_i" -lt "$2" ]; do
		cl_s=$((cl_s + $(ccli XLEN "forkpool:{$1:p$cl_i}")))
		cl_o=$((cl_o + $(ccli XLEN "forkpool:{$1:p$cl_i}:done")))
		cl_i=$((cl_i + 1))
	done
	echo "$cl_s $cl_o"
}

# cluster_reshard FROM TO NSLOTS [bg]: redis-cli --cluster reshard moves
# NSLOTS slots (the lowest FROM serves) from node FROM to node TO, keys
# and all; with bg, in the background (its pid in $reshard_pid: see
# cluster_reshard_wait), so that a test can go on meanwhile.  Its output
# is in $T/cluster/reshard.log.
cluster_reshard() {
	cr_from=$(cluster_id "$1")
	cr_to=$(cluster_id "$2")
	set -- "$(cluster_port "$1")" "$cr_from" "$cr_to" "$3" "${4:-}"
	if [ "$5" = bg ]; then
		redis-cli --cluster reshard "127.0.0.1:$1" --cluster-from "$2" \
		    --cluster-to "$3" --cluster-slots "$4" --cluster-yes \
		    </dev/null >"$T/cluster/reshard.log" 2>&1 3>&- 4>&- 5>&- 6>&- &
		reshard_pid=$!
		track "$reshard_pid"
		return 0
	fi
	redis-cli --cluster reshard "127.0.0.1:$1" --cluster-from "$2" \
	    --cluster-to "$3" --cluster-slots "$4" --cluster-yes \
	    </dev/null >"$T/cluster/reshard.log" 2>&1 3>&- 4>&- 5>&- 6>&- ||
	    return 1
	wait_for 20 cluster_agrees
}

# cluster_reshard_wait: waits for a background reshard; fails if it did
# or if the nodes do not agree after it.
cluster_reshard_wait() {
	fp_wait "$reshard_pid" 60
	if [ "$fp_rc" != 0 ]; then
		diag "redis-cli --cluster reshard: exit status $fp_rc"
		diag_file "$T/cluster/reshard.log"
		return 1
	fi
	wait_for 20 cluster_agrees
}

# cluster_node_stop I: shuts node I down (its append-only file written
# out first) and waits for it; cluster_node_start I starts it again.
cluster_node_stop() {
	ncli "$1" SHUTDOWN >/dev/null 2>&1
	fp_wait "$(eval "echo \$cluster_pid$1")" 20
}

# cluster_stop: shuts every node down.
cluster_stop() {
	cx_i=0
	while [ "$cx_i" -lt "$cluster_n" ]; do
		cluster_node_stop "$cx_i"
		cx_i=$((cx_i + 1))
	done
}
