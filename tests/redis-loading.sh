#!/bin/sh
# While a restarted Redis reads its data back it answers every command
# with -LOADING.  A producer and a supervisor that meet that wait for it
# and go on: the producer's jobs all get their result, nothing exits.
# The server is made to load slowly (key-load-delay, 1 ms a key, over a
# few thousand keys) so that it is still loading when they start.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 9

redis_start
U=$REDIS_URL_BASE/ld
ctl -r "$U" -P 4 submit -d warm
is "the pool is created" "$ctl_rc" 0
# Keys to load slowly, then the append-only file rewritten so that they
# are in its RDB part, where the delay applies.
rcli EVAL "for i = 1, 4000 do redis.call('SET', 'filler:' .. i, 'x') end
return 1" 0 >/dev/null
rcli BGREWRITEAOF >/dev/null
rewritten() {
	rcli INFO persistence | grep -q '^aof_rewrite_in_progress:0' &&
	    rcli INFO persistence | grep -q '^aof_rewrite_scheduled:0' &&
	    ls "$T"/redis.d/appendonlydir/*.base.rdb >/dev/null 2>&1
}
wait_for 20 rewritten || diag "the append-only file was not rewritten"
redis_stop

loading() {
	rcli PING 2>&1 | grep -q LOADING
}
redis_spawn --key-load-delay 1000 --loading-process-events-interval-bytes 1024
ok "Redis is loading its data" wait_for 20 loading

sup_start a --source "$U" --partitions 4 --consumer a -w 2 builtin:echo
awk 'BEGIN { for (i = 1; i <= 300; i++) printf "k%d %d\n", i % 7, i }' \
    >"$T/jobs"
"$CTL" -r "$U" submit -f 1 <"$T/jobs" >"$T/p.out" 2>"$T/p.err" \
    3>&- 4>&- 5>&- 6>&- &
producer=$!
track "$producer"
ok "...still loading after both started" loading
fp_wait "$producer" 60
is "a producer started while Redis loads: exit 0" "$fp_rc" 0
[ -s "$T/p.err" ] && diag_file "$T/p.err"
sort "$T/p.out" >"$T/got"
sort "$T/jobs" >"$T/want"
same_file "...every job's result once" "$T/got" "$T/want"
ok "...each key's in order" per_key_order 1 2 "$T/p.out"
ok "the supervisor started while Redis loads connected" \
    has 'connected' "$T/a.err"
ok "...and is still running" kill -0 "$sup_a"
kill -TERM "$sup_a"
fp_wait "$sup_a"
is "...and exits 0 on SIGTERM" "$fp_rc" 0

redis_stop
finish
