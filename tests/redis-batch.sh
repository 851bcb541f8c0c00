#!/bin/sh
# The Redis source finishes jobs a batch at a time: one ownership check,
# one XACK and one trim per stream.  The guarantees hold per job all the
# same: a supervisor killed in the middle of a run loses nothing and
# answers nothing twice; a stale consumer's late finish of a whole batch
# is refused, job by job, and the new holder writes each result once, in
# key order; a long run of one key's entries is trimmed only behind the
# jobs finished.  A refused entry is answered on its own reply stream when
# it names a valid one, whatever else is wrong with it.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 17

redis_start

# --- entries refused: answered on their reply streams -------------------------------

R=$REDIS_URL_BASE/rj
sup_start r --source "$R" --partitions 1 --consumer r -w 1 builtin:fnv
wait_for 20 has connected "$T/r.err" || diag "supervisor r did not connect"
RS='forkpool:{rj}:reply:me'
long=$(printf '%0300d' 0)
# A ref over 256 bytes, a payload twice, a bad priority: each names a
# valid reply stream.  A reply stream given twice names none.
rcli XADD 'forkpool:{rj}:p0' '*' payload a reply "$RS" ref "$long" \
    >/dev/null
rcli XADD 'forkpool:{rj}:p0' '*' payload a payload b reply "$RS" ref two \
    >/dev/null
rcli XADD 'forkpool:{rj}:p0' '*' payload a priority urgent reply "$RS" \
    ref three >/dev/null
rcli XADD 'forkpool:{rj}:p0' '*' payload a reply "$RS" reply "$RS" ref four \
    >/dev/null
ok "four bad entries: three answered on their reply stream" \
    wait_for 20 xlen_is 3 "$RS"
is "...each rejected" "$(fields status "$RS" | sort -u)" rejected
is "...with its ref, the one over 256 bytes dropped" \
    "$(fields ref "$RS" | tr '\n' ' ')" "two three "
is "...saying why" "$(fields result "$RS" | head -n 1)" \
    'ref longer than 256 bytes'
ok "the one with two reply streams: on the pool's results" \
    wait_for 20 xlen_is 1 'forkpool:{rj}:results'
is "...saying why" "$(fields result 'forkpool:{rj}:results')" \
    'reply given twice'
is "all four dead-lettered" "$(xlen 'forkpool:{rj}:dead')" 4
kill -TERM "$sup_r"
fp_wait "$sup_r"

# --- one key's long run: trimmed only behind the jobs finished ------------------------

K=$REDIS_URL_BASE/run
sup_start k --source "$K" --partitions 4 --consumer k -w 2 builtin:fnv
wait_for 20 has connected "$T/k.err" || diag "supervisor k did not connect"
awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "one %d\n", i }' \
    >"$T/run.in"
"$CTL" -r "$K" submit -f 1 <"$T/run.in" >/dev/null 2>"$T/run.err"
is "3000 jobs of one key: every result" "$?" 0
ok "...the streams are empty" pool_drained run 4
kill -TERM "$sup_k"
fp_wait "$sup_k"

# --- kill -9 in the middle of a run of many batches --------------------------------

U=$REDIS_URL_BASE/crash
sup_pair "$U"
# b waits stopped until a holds entries: with jobs packed many to an
# entry, there are few entries, and b could otherwise take them all.
kill -STOP "$sup_b"
# 900 jobs of 10 ms: 40 keys, and unkeyed ones between them; a holds
# entries all along, so it dies holding some.
awk 'BEGIN { for (i = 1; i <= 900; i++)
	if (i % 3) printf "k%02d %d 10\n", i % 40, i; else printf "u %d 10\n", i }' \
    >"$T/jobs"
"$CTL" -r "$U" submit -f 1 <"$T/jobs" >"$T/got" 2>"$T/ctl.err" 3>&- 4>&- \
    5>&- 6>&- &
ctl_pid=$!
track "$ctl_pid"
wait_for 20 holds_some crash 8 a || diag "a took nothing"
stray_workers $(workers_of "$sup_a")
kill -9 "$sup_a"
fp_wait "$sup_a"
kill -CONT "$sup_b"
fp_wait "$ctl_pid" 60
is "a killed mid-run: the producer gets every result (exit 0)" "$fp_rc" 0
taken_over "$T/jobs" "$T/got"
ok "...nothing is left pending" pool_drained crash 8
kill -TERM "$sup_b"
fp_wait "$sup_b"

# --- a stale consumer's late batch is refused whole ------------------------------------

L=$REDIS_URL_BASE/late
sup_start c --source "$L" --partitions 1 --consumer c --claim-idle 1 -w 1 \
    --window 8 \
    builtin:sleep
stray_workers $(workers_of "$sup_c")
wait_for 20 has connected "$T/c.err"
wait_for 20 nworkers_is 1 "$sup_c" || diag "c has no worker"
# Five jobs of one key, 300 ms each: c takes them all, its worker held
# so that none finishes before c is stopped; d takes them over, its
# worker held until c has tried to finish them.
c_workers=$(workers_of "$sup_c")
kill -STOP $c_workers
ctl -r "$L" submit -d 'x 1 300' 'x 2 300' 'x 3 300' 'x 4 300' 'x 5 300'
c_holds_all() {
	[ "$(pending_of late 1 c)" -eq 5 ]
}
wait_for 20 c_holds_all || diag "c took not all"
kill -STOP "$sup_c"
kill -CONT $c_workers
sup_start d --source "$L" --partitions 1 --consumer d --claim-idle 1 -w 1 \
    --window 8 \
    builtin:sleep
stray_workers $(workers_of "$sup_d")
wait_for 20 has 'took over 5 entries from consumer c' "$T/d.err" ||
    diag "d took nothing over"
wait_for 20 nworkers_is 1 "$sup_d" || diag "d has no worker"
d_workers=$(workers_of "$sup_d")
kill -STOP $d_workers
kill -CONT "$sup_c"
# Each refused: held by d, or (d's worker may have been quicker than the
# stop) finished by d already.
late_refused() {
	[ "$(grep -cE 'ack refused: consumer d holds it now|no longer pending' \
	    "$T/c.err")" -eq 5 ]
}
ok "c's late finishes: all five refused" wait_for 20 late_refused
kill -CONT $d_workers
ok "d's results are written, once each" \
    wait_for 20 xlen_is 5 'forkpool:{late}:results'
is "...by d, in the key's order" \
    "$(fields consumer 'forkpool:{late}:results' | sort -u) \
$(fields result 'forkpool:{late}:results' | tr '\n' ' ')" \
    "d x 1 300 x 2 300 x 3 300 x 4 300 x 5 300 "
kill -TERM "$sup_c" "$sup_d"
fp_wait "$sup_c"
fp_wait "$sup_d"

redis_stop
finish
