#!/bin/sh
# Service mode under injected faults (tests/faultinject.c), in the
# supervisor, its workers and the clients (fpclient.py, forkpoolctl):
# short reads and writes, EINTR, EAGAIN, the smallest socket buffers; a
# refused client still gets its whole ERROR; status answers when other
# processes' /proc entries are hidden; fork fails for a while and the pool
# runs on fewer workers until it recovers.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 25

# Its services are started without waiting for their workers: how they
# start under faults is what is tested.
# rss_column: the rss_kib column of each worker in the text status.
rss_column() {
	client "$sock" status text | awk '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == "rss_kib") c = i }
		/^[0-9]/ { print $c }'
}

# --- four clients and forkpoolctl, everyone under faults ---------------------------

faulty FAULT_SEED=11 FAULT_RATE=30
start_service -n 3 builtin:fnv
ok "the service starts under faults" wait_for 10 nworkers_is 3 "$sup"
pids=
for c in 1 2 3 4; do
	under_faults "1$c" python3 "$TESTS_SRCDIR/fpclient.py" "$sock" submit \
	    5000 --keys 50 >"$T/c$c.out" 2>&1 &
	pids="$pids $!"
done
bad=0
for p in $pids; do
	wait "$p" || bad=$((bad + 1))
done
is "4 clients x 5,000 keyed jobs: every result once, right, each key in order" \
    "$bad" 0 || diag_file "$T/c1.out"
is "...20,000 results" \
    "$(cat "$T"/c?.out | awk '/^results/ { n += $2 } END { print n }')" 20000

seq 3000 >"$T/ctl.in"
"$FNVREF" <"$T/ctl.in" | sort >"$T/ctl.want"
under_faults 21 "$CTL" -s "$sock" submit <"$T/ctl.in" >"$T/ctl.out" \
    2>"$T/ctl.err"
is "forkpoolctl under faults: exit status 0" "$?" 0 || diag_file "$T/ctl.err"
sort "$T/ctl.out" >"$T/ctl.sorted"
same_file "forkpoolctl: 3,000 hashes, each once" "$T/ctl.sorted" "$T/ctl.want"

# A refusal is written whole, however the socket cuts it.
for i in 0 1 2 3 4 5 6 7 8 9; do
	under_faults "3$i" python3 "$TESTS_SRCDIR/fpclient.py" "$sock" garbage \
	    >"$T/garbage$i.out" 2>&1
done
is "ten refused clients: each got its whole ERROR, then EOF" \
    "$(cat "$T"/garbage?.out | sort | uniq -c | sed 's/^ *//')" \
    "$(printf '10 closed\n10 error: bad magic')"

have_rss() {
	rss_column | awk '$1 <= 0 { bad = 1 } END { exit bad || NR == 0 }'
}
ok "status shows each worker's RSS (read from /proc)" have_rss
stop_service
is "the service drains and exits 0" "$fp_rc" 0 || diag_file "$T/svc.err"
# had FIELD PROGRAM [WHO]
had() {
	[ "$(fault_total "$1" "$2" "${3:-}")" -gt 0 ]
}
ok "faults in the supervisor: short counts and EAGAIN" \
    eval 'had short forkpool parent && had eagain forkpool parent'
ok "...in the workers: short counts and EINTR" \
    eval 'had short forkpool child && had eintr forkpool child'
ok "...in the Python clients: short counts and EINTR" \
    eval 'had short python3 && had eintr python3'
ok "...in forkpoolctl: short counts" eval 'had short forkpoolctl ||
    had short lt-forkpoolctl'
diag "faults: $(fault_total short) short, $(fault_total eintr) EINTR," \
    "$(fault_total eagain) EAGAIN in $(fault_total calls) calls"

# --- the smallest socket buffers ----------------------------------------------------

awk 'BEGIN { s = sprintf("%6000s", ""); gsub(/ /, "y", s)
	for (i = 1; i <= 500; i++) print i, s }' >"$T/big.in"
faulty FAULT_SEED=41 FAULT_RATE=20 FAULT_SOCKBUF=1
start_service -n 2 builtin:echo
under_faults 42 "$CTL" -s "$sock" submit <"$T/big.in" >"$T/big.out" \
    2>"$T/big.err"
is "tiny socket buffers: forkpoolctl exit status 0" "$?" 0 ||
    diag_file "$T/big.err"
sort "$T/big.in" >"$T/big.want"
sort "$T/big.out" >"$T/big.sorted"
same_file "tiny socket buffers: 500 jobs of 6 kB, each once, whole" \
    "$T/big.sorted" "$T/big.want"
stop_service
ok "...on sockets the shim shrank (the service's and the client's)" \
    test "$(fault_total sockbuf)" -ge 4

# --- other processes' /proc hidden ----------------------------------------------------

faulty FAULT_SEED=51 FAULT_RATE=0 FAULT_PROC=hidden
start_service -n 2 builtin:echo
wait_for 10 nworkers_is 2 "$sup"
is "/proc hidden: the text status answers, RSS unknown (-1) for each worker" \
    "$(rss_column | tr '\n' ' ')" "-1 -1 "
ok "...the JSON status parses, with rss_kib -1" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.check_output([sys.executable, sys.argv[1],
    sys.argv[2], "status", "json"]))
sys.exit(0 if [w["rss_kib"] for w in d["workers"]] == [-1, -1] else 1)' \
    "$TESTS_SRCDIR/fpclient.py" "$sock"
ok "...the metrics answer" eval 'client "$sock" status prometheus |
    grep -q "^forkpool_jobs_total{status=\"ok\"} 0$"'
ok "...and jobs run" eval 'client "$sock" submit 100 --handler echo >/dev/null'
stop_service
ok "...the shim did refuse the supervisor's reads of /proc" \
    test "$(fault_total denied forkpool parent)" -gt 0

# --- fork fails for a while -------------------------------------------------------------

# Forks 2 to 10 fail: slot 1 backs off (10 ms doubling, 5 s in all, so
# that a loaded machine still sees it restarting) while slot 0 does the
# work; then slot 1 starts.
faulty FAULT_SEED=61 FAULT_RATE=0 FAULT_FORK_FAIL=2:9
start_service -n 2 -v builtin:fnv
restarting() {
	client "$sock" status text | grep -qE '^1 +[-0-9]+ +restarting'
}
ok "fork failing: slot 1 shows as restarting" wait_for 10 restarting
ok "...while slot 0 serves" eval 'client "$sock" submit 500 >/dev/null'
ok "...then slot 1 starts" wait_for 20 nworkers_is 2 "$sup"
is "...after nine failures, each logged" \
    "$(count ': fork: Resource temporarily unavailable' "$T/svc.err")" 9
stop_service
is "...and the service drains and exits 0" "$fp_rc" 0 ||
    diag_file "$T/svc.err"
finish
