#!/bin/sh
# Scaling a running service (forkpoolctl scale, SIGTTIN, SIGTTOU) under
# load: no job is lost or doubled, and each key keeps its order while its
# partition moves from one slot to another.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 10

start_service 2 builtin:sleep

# 3,000 keyed jobs of 1 ms on 40 keys: long enough to scale under them.
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" submit 3000 --keys 40 \
    --handler sleep --ms 1 >"$T/load.out" 2>&1 &
load=$!
wait_for 10 busy || diag "the load did not start"
ok "scale 4 under load: accepted" quiet ctl scale 4
ok "...four slots" wait_for 10 slots_are 4
ok "scale 1 under load: accepted" quiet ctl scale 1
ok "...one slot left" wait_for 10 slots_are 1
wait "$load"
is "every job once, each key in order, across both moves" "$?" 0 ||
    diag_file "$T/load.out"
ok "...3,000 results" grep -q '^results 3000 ' "$T/load.out"

kill -TTIN "$sup"
ok "SIGTTIN: one more slot" wait_for 10 slots_are 2
kill -TTOU "$sup"
ok "SIGTTOU: one fewer" wait_for 10 slots_are 1
ctl scale 0 >"$T/zero.out" 2>&1
is "scale 0 is refused" "$?" 1

stop_service
is "the service drains and exits 0" "$fp_rc" 0
finish
