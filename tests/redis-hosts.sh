#!/bin/sh
# Three supervisors share one pool in Redis, as three hosts would: every
# job is done once, each key's jobs in submission order across them, and
# each supervisor takes a share.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 8

redis_start
U=$REDIS_URL_BASE/hosts
for name in a b c; do
	sup_start "$name" --source "$U" --partitions 8 --consumer "$name" \
	    -w 2 builtin:sleep
	stray_workers $(workers_of "$sup")
done
for name in a b c; do
	wait_for 20 has connected "$T/$name.err" ||
	    diag "supervisor $name did not connect"
done

# 3,000 jobs "KEY SEQ 1": 40 keys, each job 1 ms.
awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "k%02d %d 1\n", i % 40, i }' \
    >"$T/jobs"
# One job per entry, so that the entries the supervisors take count jobs.
"$CTL" -r "$U" submit -f 1 --pack 1 <"$T/jobs" >"$T/got" 2>"$T/ctl.err"
is "3,000 keyed jobs on three supervisors: forkpoolctl exit 0" "$?" 0
sort "$T/jobs" >"$T/jobs.sorted"
sort "$T/got" >"$T/got.sorted"
same_file "...every job done once" "$T/got.sorted" "$T/jobs.sorted"
ok "...each key's results in submission order" per_key_order 1 2 "$T/got"
ok "...the partition streams are empty" pool_drained hosts 8

kill -TERM "$sup_a" "$sup_b" "$sup_c"
total=0
for name in a b c; do
	eval "fp_wait \$sup_$name"
	n=$(sed -n 's/.*redis: \([0-9]*\) entries taken.*/\1/p' "$T/$name.err")
	total=$((total + ${n:-0}))
	if [ "${n:-0}" -gt 0 ]; then
		pass "supervisor $name took a share ($n jobs)"
	else
		fail "supervisor $name took a share"
		diag_file "$T/$name.err"
	fi
done
is "...3,000 taken in all: none twice" "$total" 3000
redis_stop
finish
