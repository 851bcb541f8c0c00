#!/bin/sh
# Redis going away: the server is shut down in the middle of a run and
# started again on the same data (its append-only file).  The supervisor
# keeps its jobs going, reconnects, sends the acks that waited, and in the
# end every job has exactly one result, each key's in order, and nothing
# is left pending.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 11

redis_start
U=$REDIS_URL_BASE/rs
R='forkpool:{rs}:results'
sup_start a --source "$U" --partitions 8 --consumer a -w 2 builtin:sleep
stray_workers $(workers_of "$sup")
wait_for 20 has connected "$T/a.err" || diag "the supervisor did not connect"

# 400 jobs "KEY SEQ 10", queued only: results go to the pool's stream.
# Jobs of 10 ms keep some at the workers when Redis goes, however slow
# the supervisor (under valgrind, say) is to take the next ones.
awk 'BEGIN { for (i = 1; i <= 400; i++) printf "k%02d %d 10\n", i % 20, i }' \
    >"$T/jobs"
ctl -r "$U" submit -d -f 1 <"$T/jobs"
is "400 jobs queued" "$ctl_rc" 0
some_done() {
	[ "$(xlen "$R")" -ge 50 ]
}
ok "some are done" wait_for 20 some_done
redis_stop
ok "Redis shut down mid-run: the supervisor notices" \
    wait_for 20 has 'connection lost' "$T/a.err"
ok "...its jobs go on: results wait for Redis" \
    wait_for 20 has 'results wait for the connection' "$T/a.err"
before=$(grep -c 'connected' "$T/a.err")
redis_start
reconnected() {
	[ "$(grep -c 'connected' "$T/a.err")" -gt "$before" ]
}
ok "Redis back on the same data: the supervisor reconnects" \
    wait_for 20 reconnected
ok "...and sends the results that waited" \
    wait_for 20 has 'results that waited' "$T/a.err"
ok "every job ends" wait_for 60 xlen_is 400 "$R"
fields ref "$R" | sort -n | uniq -d >"$T/twice"
is "...no job answered twice" "$(wc -l <"$T/twice")" 0
fields result "$R" >"$T/got"
sort "$T/jobs" >"$T/jobs.sorted"
sort "$T/got" >"$T/got.sorted"
same_file "...each job's result there" "$T/got.sorted" "$T/jobs.sorted"
ok "...each key's in order" per_key_order 1 2 "$T/got"
ok "...nothing left pending" pool_drained rs 8

kill -TERM "$sup_a"
fp_wait "$sup_a"
redis_stop
finish
