#!/bin/sh
# The Python producer of contrib/python, written from doc/SCALING.md alone,
# against a real supervisor: 2,000 keyed jobs, each with one result, equal
# to its payload, each key's in submission order, read from its own reply
# stream.  Skipped without redis-py (Debian: python3-redis).
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

redis_py_or_skip
PRODUCER=$TESTS_SRCDIR/../contrib/python/forkpool_producer.py

plan 5

redis_start
U=$REDIS_URL_BASE/py
sup_start a --source "$U" --partitions 16 --consumer a -w 2 builtin:echo
stray_workers $(workers_of "$sup")
wait_for 20 has connected "$T/a.err" || diag "the supervisor did not connect"
"$PY" "$PRODUCER" "$U" -n 2000 -k 17 -t 20 >"$T/py.out" 2>"$T/py.err" \
    3>&- 4>&- 5>&- 6>&-
is "2,000 keyed jobs from Python: exit 0" "$?" 0
[ -s "$T/py.err" ] && diag_file "$T/py.err"
ok "...each answered once, in each key's order" \
    grep -qx '2000 jobs, 2000 results, 17 keys, 0 wrong' "$T/py.out"
ok "...the partition streams are empty" pool_drained py 16
ok "...its reply stream deleted" \
    test -z "$(rcli --scan --pattern 'forkpool:{py}:reply:*')"
is "...and the pool's results stream unused" "$(xlen 'forkpool:{py}:results')" 0
kill -TERM "$sup_a"
fp_wait "$sup_a"
redis_stop
finish
