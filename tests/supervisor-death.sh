#!/bin/sh
# The supervisor killed with SIGKILL in the middle of a run, in batch and
# in service mode: within 2 s no worker is left anywhere in the process
# table (each supervisor runs in a session of its own, which its workers
# keep), whether they were inside a job, idle, or streaming results; and a
# new service takes over the socket and the pidfile at once, every time.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 30

# kill_supervisor SUP WHAT: SIGKILL to the supervisor, reaped.
kill_supervisor() {
	ks_n=$(session_procs "$1" | wc -l)
	kill -KILL "$1"
	fp_wait "$1"
	is "$2: the supervisor died of SIGKILL" "$fp_rc" 137
}

# all_gone SUP WHAT: no process of its session is left, within 2 s.
all_gone() {
	ok "$2: all $ks_n processes of its session gone within 2 s" \
	    wait_for 2 session_empty "$1" ||
	    diag "left: $(ps -o pid=,stat=,wchan=,args= \
	        $(session_procs "$1") 2>&1)"
}

killed() {
	kill_supervisor "$@"
	all_gone "$@"
}

# --- batch: workers inside long jobs ------------------------------------------------

mkfifo "$T/in.fifo"
exec 3<>"$T/in.fifo"
fp_bg_session "$T/in.fifo" "$T/out" "$T/err" -w 3 --window 1 builtin:sleep
sup=$fp_pid
printf 'a 30000\nb 30000\nc 30000\n' >&3
ok "batch: three workers inside 30 s jobs" wait_for 10 all_sleeping 3 "$sup"
killed "$sup" "batch, busy workers"

# --- batch: idle workers, the input still open ---------------------------------------

fp_bg_session "$T/in.fifo" "$T/out" "$T/err" -w 3 builtin:echo
sup=$fp_pid
ok "batch: three idle workers" wait_for 10 nworkers_is 3 "$sup"
killed "$sup" "batch, idle workers"

# --- batch: workers streaming results ----------------------------------------------

# An input with no end: the run can only end by the kill.
mkfifo "$T/many.fifo"
yes 12345 >"$T/many.fifo" &
track $!
fp_bg_session "$T/many.fifo" /dev/null "$T/err" -w 3 builtin:fnv
sup=$fp_pid
wait_for 10 nworkers_is 3 "$sup"
streaming() {
	[ "$(awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null)" -gt 20 ]
}
ok "batch: the supervisor is busy with an endless input" wait_for 10 \
    streaming "$sup"
killed "$sup" "batch, streaming"
exec 3>&-

# --- service: killed under load, replaced at once, three times ----------------------

sock=$T/fp.sock
busy() {
	python3 "$TESTS_SRCDIR/fpclient.py" "$sock" status text |
	    awk '/^jobs:/ && $2 > 1000 { ok = 1 } END { exit !ok }'
}
# start_in_session N: a service in a session of its own, so that its
# workers are found once it is gone; its log in $T/svcN.err.
start_in_session() {
	fp_bg_session /dev/null "$T/svc.out" "$T/svc$1.err" --listen "$sock" \
	    -v -w 2 builtin:fnv
	sup=$fp_pid
}
start_in_session 1
wait_for 10 test -S "$sock"
for round in 1 2 3; do
	"$TESTS_BUILDDIR/chaos-client" "$sock" "r$round" 100 200 1 seconds 30 \
	    >"$T/client$round.out" 2>&1 &
	client=$!
	track "$client"
	ok "round $round: a client's jobs are running" wait_for 10 busy
	old=$sup
	kill_supervisor "$old" "round $round"
	# At once: before its workers are seen gone.
	start_in_session $((round + 1))
	all_gone "$old" "round $round"
	ok "round $round: a new service took over the socket at once" \
	    wait_for 10 has "listening on $sock" "$T/svc$((round + 1)).err" ||
	    diag_file "$T/svc$((round + 1)).err"
	is "round $round: ...and the pidfile" "$(cat "$sock.pid")" "$sup"
	fp_wait "$client" 10
	ok "round $round: the client was told its connection closed" \
	    has "the supervisor closed the connection" "$T/client$round.out" ||
	    diag_file "$T/client$round.out"
done
ok "the last service serves" eval 'python3 "$TESTS_SRCDIR/fpclient.py" \
    "$sock" submit 100 >/dev/null'
kill -TERM "$sup"
fp_wait "$sup"
is "SIGTERM: it drains and exits 0" "$fp_rc" 0
ok "...and removes the socket and the pidfile" \
    eval '[ ! -e "$sock" ] && [ ! -e "$sock.pid" ]'
finish
