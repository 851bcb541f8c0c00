#!/bin/sh
# A producer that survives: forkpoolctl -r submit goes on through a Redis
# restart in the middle of its jobs (the data kept in the append-only
# file), sending again what was not answered, and ends with every result
# once, each key's in order.  A Redis that comes back without the pool's
# data is said at once, with a non-zero exit, not waited on forever; and
# --timeout gives up with exit status 3.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 15

redis_start
U=$REDIS_URL_BASE/pp

# --- a restart with the data kept, in the middle of a submit -----------------------

sup_start a --source "$U" --partitions 8 --consumer a -w 2 builtin:echo
stray_workers $(workers_of "$sup")
wait_for 20 has connected "$T/a.err" || diag "the supervisor did not connect"
awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "k%02d %d\n", i % 13, i }' \
    >"$T/jobs"
head -n 1500 "$T/jobs" >"$T/jobs.1"
tail -n 1500 "$T/jobs" >"$T/jobs.2"
# The jobs come through a FIFO: the first half, then, once Redis has
# restarted ($T/go), the rest.  Only the writer holds the FIFO open, so
# that no server started meanwhile keeps it from ending.
mkfifo "$T/in"
gone_on() {
	[ -e "$T/go" ]
}
(
	cat "$T/jobs.1"
	wait_for 30 gone_on
	cat "$T/jobs.2"
) >"$T/in" 3>&- 4>&- 5>&- 6>&- &
writer=$!
track "$writer"
"$CTL" -r "$U" submit -f 1 <"$T/in" >"$T/p.out" 2>"$T/p.err" \
    3>&- 4>&- 5>&- 6>&- &
producer=$!
track "$producer"
reply_stream() {
	rcli --scan --pattern 'forkpool:{pp}:reply:*' | head -n 1
}
# Jobs answered: a packed result entry answers its `jobs`.
some_answered() {
	rs=$(reply_stream)
	[ -n "$rs" ] && [ "$(rcli EVAL "local n = 0
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local j = 1
  for i = 1, #e[2], 2 do
    if e[2][i] == 'jobs' then j = tonumber(e[2][i + 1]) end
  end
  n = n + j
end
return n" 1 "$rs")" -ge 100 ]
}
ok "the first jobs are answered" wait_for 20 some_answered
redis_stop
redis_start
: >"$T/go"
fp_wait "$writer" 20
fp_wait "$producer" 30
is "Redis restarted mid-submit: the producer exits 0" "$fp_rc" 0
[ -s "$T/p.err" ] && diag_file "$T/p.err"
sort "$T/p.out" >"$T/got"
sort "$T/jobs" >"$T/want"
same_file "...every job's result once" "$T/got" "$T/want"
ok "...each key's in order" per_key_order 1 2 "$T/p.out"
ok "...nothing left in the partitions" pool_drained pp 8

# --- results while the input waits ---------------------------------------------------

# One line, then the input stays open until its result is out: a result
# is printed as it comes, not when the next line or the end of the input
# does.
mkfifo "$T/in2"
first_out() {
	grep -qx first "$T/w.out"
}
(
	echo first
	wait_for 20 first_out && : >"$T/seen"
	echo second
) >"$T/in2" 3>&- 4>&- 5>&- 6>&- &
writer=$!
track "$writer"
"$CTL" -r "$U" submit <"$T/in2" >"$T/w.out" 2>"$T/w.err" 3>&- 4>&- 5>&- 6>&-
is "input that waits: both results" "$(sort "$T/w.out" | tr '\n' ' ')" \
    "first second "
ok "...the first out while the input waited for it" test -e "$T/seen"
fp_wait "$writer" 20
kill -TERM "$sup_a"
fp_wait "$sup_a"

# --- a restart without the data ----------------------------------------------------

ctl -r "$REDIS_URL_BASE/gone" -P 4 submit -d x
"$CTL" -r "$REDIS_URL_BASE/gone" -P 4 submit a b c >"$T/g.out" \
    2>"$T/g.err" 3>&- 4>&- 5>&- 6>&- &
producer=$!
track "$producer"
queued() {
	[ "$(rcli EVAL "local n = 0
for i = 0, 3 do n = n + redis.call('XLEN', 'forkpool:{gone}:p' .. i) end
return n" 0)" -ge 4 ]
}
ok "jobs queued, no supervisor to run them" wait_for 20 queued
rcli SHUTDOWN NOSAVE >/dev/null 2>&1
fp_wait "$redis_pid" 20
rm -rf "$T/redis.d"
redis_start
fp_wait "$producer" 20
is "Redis back without the pool: the producer exits 2, promptly" "$fp_rc" 2
ok "...saying the pool lost its jobs" has 'pool gone lost its jobs' "$T/g.err"
ok "...and how many" has '3 jobs will never be answered' "$T/g.err"

# --- --timeout -----------------------------------------------------------------

ctl -r "$REDIS_URL_BASE/late" -P 4 submit --timeout 1 x y
is "--timeout 1 with no supervisor: exit 3" "$ctl_rc" 3
ok "...saying so" has 'timeout: no result for 1 s; 2 jobs without one' \
    "$T/ctl.err"
ctl -r "$REDIS_URL_BASE/late" -P 4 submit -t 0 x
is "--timeout 0: exit 2" "$ctl_rc" 2
ok "...saying the range" has 'expected 1 to 86400 seconds' "$T/ctl.err"

redis_stop
finish
