#!/bin/sh
# Service mode: the supervisor's memory stays under the bound its options
# give (doc/SECURITY.md), whatever its peers do: a storm of connections
# gone before their HELLO, a storm of connections refused for their uid,
# and a client that sends jobs and reads nothing.  The bound is checked on
# the peak of its resident memory (VmHWM), never on time.  The refusals are
# logged in a few lines, each counted; and the client that did not read
# gets every result once it reads.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 15

# A sanitizer's quarantine and valgrind keep freed memory out of reach:
# there the bound is not the supervisor's own.
measured=yes
if grep -q __asan_init "$FORKPOOL" 2>/dev/null; then
	measured="built with AddressSanitizer"
fi
case $FORKPOOL in
*valgrind*)	measured="FORKPOOL runs under valgrind" ;;
esac

# start_small ARGS...: a service of one worker with small limits, so that
# the bound is small; its pid in $sup, its resident memory once its worker
# is up in $base_kb.  The options are kept for the bound.
start_small() {
	svc_clients=2 svc_budget=262144 svc_frame=65536 svc_queue=1024
	svc_workers=1
	start_service "$svc_workers" --socket-mode 0666 -q "$svc_queue" \
	    --max-clients "$svc_clients" --client-budget "$svc_budget" \
	    --frame-max "$svc_frame" "$@"
	base_kb=$(vm_kb VmHWM "$sup")
}

# vm_kb FIELD PID: a VmRSS or VmHWM of /proc/PID/status, in kB.
vm_kb() {
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"
}

# The bound of doc/SECURITY.md over what the service held once it was up:
# each client four times its budget and a frame (its jobs in the ledger,
# their copies on a worker's link, its results' buffer at twice the most
# it held), and two frames and a read arriving; each worker link (two per
# slot while a worker is replaced) two frames and the 2.5 MiB of buffers
# it keeps; each ledger record the 1.5 kB of buffers it keeps; and 4 MiB
# of headroom for the allocator.
bound_kb() {
	echo $((base_kb + (svc_clients * (4 * svc_budget + 6 * svc_frame +
	    131072) + 2 * svc_workers * (2 * svc_frame + 2621440) +
	    svc_queue * 1536 + 4194304) / 1024))
}

# within_bound DESC: the supervisor's peak so far is under the bound.
within_bound() {
	if [ "$measured" != yes ]; then
		skip "$1" "$measured"
		return
	fi
	wb_peak=$(vm_kb VmHWM "$sup")
	ok "$1" test "$wb_peak" -le "$(bound_kb)"
	diag "peak $wb_peak kB, bound $(bound_kb) kB, at start $base_kb kB"
}

# --- a storm of connections reset before their HELLO ------------------------------

start_small builtin:echo
# Each connection is gone before the supervisor accepts it.
is "6,000 connections gone before their HELLO" \
    "$(client "$sock" storm 6000 --stopped "$sup")" "6000 connections reset"
# The backlog is taken in order: once a later client is served, every
# connection of the storm has been accepted.
ok "...then a client is served" quiet client "$sock" submit 10 \
    --handler echo
within_bound "...and the supervisor's memory stayed within its bound"
stop_service
is "...and it drains and exits 0" "$fp_rc" 0

# --- a storm of connections refused for their uid ---------------------------------

# The clients run as nobody, with a python3 nobody can run.
if [ "$(id -u)" -eq 0 ] && [ -x /usr/bin/python3 ]; then
	chmod 755 "$T"
	cp "$TESTS_SRCDIR/fpclient.py" "$T/fpclient.py"
	chmod 644 "$T/fpclient.py"
	start_small builtin:echo
	is "6,000 connections refused for their uid" \
	    "$(/usr/bin/python3 "$T/fpclient.py" "$sock" storm 6000 \
	    --uid 65534)" "6000 connections reset"
	ok "...then a client is served" quiet client "$sock" submit 10 \
	    --handler echo
	within_bound "...and the supervisor's memory stayed within its bound"
	stop_service
	is "...and it drains and exits 0" "$fp_rc" 0
	# The first refusal is logged in full; the others are counted.
	grep -e 'is not allowed' -e '^forkpool: supervisor: refused ' \
	    "$T/svc.err" >"$T/refusals"
	ok "...logged in a few lines ($(wc -l <"$T/refusals"))" \
	    test "$(wc -l <"$T/refusals")" -le 10 || diag_file "$T/refusals"
	is "...which count every refusal, by uid" "$(awk '
		/is not allowed/ { n++ }
		/ refused / { sub(/.* uid 65534 \(/, ""); n += $0 + 0 }
		END { print n }' "$T/refusals")" 6000 || diag_file "$T/refusals"
else
	for d in "refused" "served" "memory" "exits 0" "lines" "count"; do
		skip "a storm of refused connections: $d" \
		    "needs root and /usr/bin/python3"
	done
fi

# --- a client that sends jobs and never reads ---------------------------------------

# 400 jobs of 60 kB, 24 MB, with results as large: the supervisor takes
# them only while the client's budget lasts, not while the ledger has room.
start_small builtin:sleep 2
rm -f "$T/go"
client "$sock" nonreader 400 60000 "$T/go" >"$T/nonreader.out" 2>&1 &
reader=$!
track "$reader"
wait_for 30 grep -q -e '^stalled' -e '^sent all' "$T/nonreader.out"
stalled=$(sed -n 's/^stalled after \([0-9]*\) jobs$/\1/p' "$T/nonreader.out")
ok "a client that never reads: its jobs are no longer taken" \
    test -n "$stalled" || diag_file "$T/nonreader.out"
ok "...after a few of them (${stalled:-all} of 400)" \
    test "${stalled:-400}" -lt 100
within_bound "...and the supervisor's memory stayed within its bound"
touch "$T/go"
wait "$reader"
is "...once it reads, it gets every result, once and whole" "$?" 0 ||
    diag_file "$T/nonreader.out"
untrack "$reader"
stop_service
is "...and the service drains and exits 0" "$fp_rc" 0 || diag_file "$T/svc.err"
finish
