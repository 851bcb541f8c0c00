#!/bin/sh
# Batch mode under injected faults (tests/faultinject.c, by LD_PRELOAD, in
# the supervisor and its workers): short reads and writes, EINTR and
# EAGAIN on every pipe and socket, socket buffers of the smallest size,
# and fork failing with EAGAIN.  Each run's output is compared byte for
# byte with the reference: nothing lost, doubled, cut or out of order.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 26

# run NAME ARGS...: forkpool on $T/NAME.in, through pipes at both ends
# (FIFOs, with cat on the other side), output in $T/NAME.out.
run() {
	rn_name=$1
	shift
	rm -f "$T/in.fifo" "$T/out.fifo"
	mkfifo "$T/in.fifo" "$T/out.fifo"
	cat "$T/$rn_name.in" >"$T/in.fifo" &
	cat "$T/out.fifo" >"$T/$rn_name.out" &
	rn_reader=$!
	fp_bg "$T/in.fifo" "$T/out.fifo" "$T/$rn_name.err" "$@"
	fp_wait "$fp_pid" 60
	wait "$rn_reader"
}

# --- fnv, three seeds ---------------------------------------------------------

seq 20000 >"$T/fnv.in"
"$FNVREF" <"$T/fnv.in" >"$T/fnv.want"
for seed in 1 2 3; do
	faulty FAULT_SEED=$seed FAULT_RATE=30
	run fnv -w 3 builtin:fnv
	is "seed $seed: exit status 0" "$fp_rc" 0 || diag_file "$T/fnv.err"
	same_file "seed $seed: 20,000 hashes, each once, in order" \
	    "$T/fnv.out" "$T/fnv.want"
	cp "$T/faults.log" "$T/fnv$seed.log"
done
cat "$T"/fnv[123].log >"$T/faults.log"
# had FIELD parent|child: forkpool's supervisor or workers had some.
had() {
	[ "$(fault_total "$1" forkpool "$2")" -gt 0 ]
}
ok "the supervisor had short counts" had short parent
ok "...EINTR (on its pipes)" had eintr parent
ok "...and EAGAIN (on its worker links)" had eagain parent
ok "the workers had short counts" had short child
ok "...and EINTR" had eintr child
diag "faults: $(fault_total short) short, $(fault_total eintr) EINTR," \
    "$(fault_total eagain) EAGAIN in $(fault_total calls) calls"

# --- keyed, with crashes --------------------------------------------------------

# builtin:crash echoes its line; FLAKY lines kill their worker at attempt 1,
# so jobs are delivered again while the faults go on (four crashes: fewer
# than the restart intensity, even were each a crash loop's).
awk 'BEGIN { for (i = 1; i <= 5000; i++)
	if (i % 1249 == 7) print "k" i % 50, i, "FLAKY"; else print "k" i % 50, i }' \
    >"$T/keyed.in"
faulty FAULT_SEED=4 FAULT_RATE=30
run keyed -w 3 -k 1 --window 8 builtin:crash
is "keyed, crashing: exit status 0" "$fp_rc" 0 || diag_file "$T/keyed.err"
same_file "keyed, crashing: every line once, in input order" \
    "$T/keyed.out" "$T/keyed.in"
is "keyed, crashing: one crash per FLAKY line" \
    "$(count 'killed by signal 11' "$T/keyed.err")" \
    "$(count FLAKY "$T/keyed.in")"

# --- the smallest socket buffers, frames larger than them -------------------------

# SO_SNDBUF and SO_RCVBUF of 1 byte: the kernel's least (a few kB); each
# job and result, 6 kB, crosses in several pieces.
awk 'BEGIN { s = sprintf("%6000s", ""); gsub(/ /, "x", s)
	for (i = 1; i <= 2000; i++) print i, s }' >"$T/big.in"
faulty FAULT_SEED=5 FAULT_RATE=20 FAULT_SOCKBUF=1
run big -w 2 builtin:echo
is "tiny socket buffers: exit status 0" "$fp_rc" 0 || diag_file "$T/big.err"
same_file "tiny socket buffers: 2,000 jobs of 6 kB, each once, whole" \
    "$T/big.out" "$T/big.in"
ok "...on sockets the shim shrank" test "$(fault_total sockbuf)" -ge 2

# --- a non-blocking standard output -------------------------------------------------

# EAGAIN on stdout too, which the parent left non-blocking.
faulty FAULT_SEED=6 FAULT_RATE=30
cat "$T/fnv.in" | python3 -c '
import os, sys
os.set_blocking(1, False)
os.execv(sys.argv[1], sys.argv[1:])' "$FORKPOOL" -w 2 builtin:fnv \
    2>"$T/nb.err" | cat >"$T/nb.out"
same_file "non-blocking stdout under faults: every hash, in order" \
    "$T/nb.out" "$T/fnv.want" || diag_file "$T/nb.err"

# --- fork fails for a while --------------------------------------------------------

# Forks 2 to 7 fail: one worker starts, the two others wait out six
# failures with backoff, and the pool runs on what it has until they come.
# The jobs (5 ms each, 1.5 s on one worker) outlast the backoff.
seq 300 >"$T/slow.in"
faulty FAULT_SEED=7 FAULT_RATE=0 FAULT_FORK_FAIL=2:6
run slow -v -w 3 --window 1 builtin:sleep 5
is "fork failing: exit status 0" "$fp_rc" 0 || diag_file "$T/slow.err"
same_file "fork failing: every job, once, in order" "$T/slow.out" \
    "$T/slow.in"
is "fork failing: each failure logged" \
    "$(count ': fork: Resource temporarily unavailable' "$T/slow.err")" 6
is "fork failing: the shim failed six forks" "$(fault_total forkfail)" 6
is "fork failing: the slots recovered (3 workers ready)" \
    "$(count ': ready, pid ' "$T/slow.err")" 3

# No fork works at first: the jobs wait, none is lost.
faulty FAULT_SEED=8 FAULT_RATE=0 FAULT_FORK_FAIL=1:8
run fnv -v -w 2 builtin:fnv
is "no fork at first: exit status 0" "$fp_rc" 0 || diag_file "$T/fnv.err"
same_file "no fork at first: every hash, once, in order" "$T/fnv.out" \
    "$T/fnv.want"
is "no fork at first: eight failures logged" \
    "$(count ': fork: Resource temporarily unavailable' "$T/fnv.err")" 8
finish
