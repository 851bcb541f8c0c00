#!/bin/sh
# exec:CMD, an external program speaking the framed protocol: the Python
# worker of contrib/python and the C one of contrib/exec-worker give the
# builtins' results; a crashing job is found among the jobs in flight and
# charged, and only it fails; garbage on the program's stdout replaces
# the worker and corrupts no result; timeouts; start-up errors; no
# program outlives its worker.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 41

# The interpreter itself, not a wrapper script that finds it at each start.
python=$(python3 -c 'import sys; print(sys.executable)')
py="'$python' '$TESTS_SRCDIR/../contrib/python/forkpool_worker.py'"
cw=$TESTS_BUILDDIR/../contrib/exec-worker
segv='killed by signal 11 (Segmentation fault)'

awk 'BEGIN { for (i = 1; i <= 2000; i++) print "k" i % 7, i }' >"$T/in"
"$FNVREF" <"$T/in" >"$T/fnv.ref"
"$FNVREF" cpu 3 <"$T/in" >"$T/cpu.ref"

# --- results --------------------------------------------------------------------

fp_run "$T/in" "$T/py.out" "$T/py.err" -w 2 "exec:$py fnv"
is "Python worker, fnv: exit status 0" "$fp_rc" 0
same_file "Python worker, fnv: byte-identical to fnvref" "$T/py.out" \
    "$T/fnv.ref"
ok "Python worker, fnv: nothing on stderr" test ! -s "$T/py.err" ||
    diag_file "$T/py.err"
# The words after the handler are more arguments of the command.
fp_run "$T/in" "$T/pycpu.out" "$T/pycpu.err" -w 2 "exec:$py" cpu 3
same_file "Python worker, ARGS after CMD (cpu 3): as fnvref cpu 3" \
    "$T/pycpu.out" "$T/cpu.ref"
fp_run "$T/in" "$T/key.out" "$T/key.err" -w 2 -k 1 "exec:$py echo"
same_file "Python worker, echo, keyed: the output is the input" \
    "$T/key.out" "$T/in"
fp_run "$T/in" "$T/c.out" "$T/c.err" -w 2 "exec:$cw fnv"
same_file "C exec-worker, fnv: byte-identical to fnvref" "$T/c.out" \
    "$T/fnv.ref"
fp_run "$T/in" "$T/ccpu.out" "$T/ccpu.err" -w 2 --window 1 "exec:$cw cpu 3"
same_file "C exec-worker, cpu 3, --window 1: as fnvref cpu 3" \
    "$T/ccpu.out" "$T/cpu.ref"

# --- crashes --------------------------------------------------------------------

# -a 1, many jobs in flight: the program dies holding several, so which
# one killed it is found by running them again one at a time.  Only the
# CRASH lines may fail: blaming any other would fail it too.
awk 'BEGIN { for (i = 1; i <= 120; i++)
	if (i == 13 || i == 71) print i, "CRASH"; else print i }' >"$T/crash.in"
grep -v CRASH "$T/crash.in" >"$T/crash.good"
grep CRASH "$T/crash.in" >"$T/crash.bad"
fp_run "$T/crash.in" "$T/crash.out" "$T/crash.err" -w 2 -a 1 --window 32 \
    --failed "$T/crash.failed" "exec:$py crash"
is "CRASH lines, -a 1: exit status 1" "$fp_rc" 1
same_file "CRASH lines, -a 1: every other line succeeds, in order" \
    "$T/crash.out" "$T/crash.good"
same_file "CRASH lines, -a 1: --failed holds exactly the CRASH lines" \
    "$T/crash.failed" "$T/crash.bad"
ok "CRASH lines: 'line 13 failed: crashed after 1 attempt: 13 CRASH'" \
    grep -qxF 'forkpool: supervisor: line 13 failed: crashed after 1 attempt: 13 CRASH' \
    "$T/crash.err" || diag_file "$T/crash.err"
ok "CRASH lines: the program's death is logged" \
    grep -q "python3 (pid [0-9]*) $segv" "$T/crash.err"
ok "CRASH lines: its jobs were run again one at a time" \
    grep -q "python3: starting it again, to run them one at a time" \
    "$T/crash.err"

# -a 3: the poison job uses its 3 attempts; a FLAKY one needs 2.
awk 'BEGIN { for (i = 1; i <= 60; i++)
	if (i == 20) print i, "CRASH"; else if (i == 45) print i, "FLAKY";
	else print i }' >"$T/flaky.in"
grep -v CRASH "$T/flaky.in" >"$T/flaky.good"
fp_run "$T/flaky.in" "$T/flaky.out" "$T/flaky.err" -w 2 --window 16 \
    "exec:$py crash"
is "CRASH and FLAKY lines, -a 3: exit status 1" "$fp_rc" 1
same_file "...every FLAKY line succeeds, in order" "$T/flaky.out" \
    "$T/flaky.good"
is "...only the CRASH line fails, after 3 attempts" \
    "$(grep ' failed: ' "$T/flaky.err")" \
    "forkpool: supervisor: line 20 failed: crashed after 3 attempts: 20 CRASH"

# --- garbage on the program's stdout ------------------------------------------------

awk 'BEGIN { for (i = 1; i <= 100; i++)
	if (i == 20 || i == 70) print i, "GARBAGE"; else print i }' >"$T/g.in"
fp_run "$T/g.in" "$T/g.out" "$T/g.err" -v -w 1 "exec:$py crash"
is "GARBAGE lines: exit status 0" "$fp_rc" 0
same_file "GARBAGE lines: re-delivered; every result right, in order" \
    "$T/g.out" "$T/g.in"
is "GARBAGE lines: one protocol error each, named" \
    "$(count 'python3: protocol error: bad magic' "$T/g.err")" 2
is "GARBAGE lines: each worker replaced (3 said ready)" \
    "$(count ': ready, pid ' "$T/g.err")" 3
fp_run "$T/g.in" "$T/g1.out" "$T/g1.err" -w 2 -a 1 --window 8 \
    --failed "$T/g1.failed" "exec:$py crash"
grep GARBAGE "$T/g.in" >"$T/g.bad"
same_file "GARBAGE lines, -a 1: the job answered with garbage is charged" \
    "$T/g1.failed" "$T/g.bad"

# --- timeouts -----------------------------------------------------------------------

printf 'a 0\nb 30000\nc 0\nd 0\n' >"$T/hung.in"
grep -v '^b ' "$T/hung.in" >"$T/hung.good"
fp_run "$T/hung.in" "$T/hung.out" "$T/hung.err" -w 1 -a 2 -t 0.5 \
    "exec:$py sleep"
is "hung job, -t 0.5 -a 2: exit status 1" "$fp_rc" 1
same_file "hung job: every other line succeeds, in order" "$T/hung.out" \
    "$T/hung.good"
ok "hung job: 'line 2 failed: timeout after 2 attempts: b 30000'" \
    grep -qxF 'forkpool: supervisor: line 2 failed: timeout after 2 attempts: b 30000' \
    "$T/hung.err" || diag_file "$T/hung.err"
is "hung job: killed once per attempt" \
    "$(count 'line 2 ran past the 0.5 s timeout' "$T/hung.err")" 2

# --- start-up errors -----------------------------------------------------------------

fp_run "$T/in" "$T/s.out" "$T/s.err" -w 2 "exec:$py fail no licence here"
is "the program says ERROR at start: exit status 2" "$fp_rc" 2
ok "...with its message" grep -q 'no licence here' "$T/s.err"
ok "...and the run stops" \
    grep -q 'the handler failed to start; stopping' "$T/s.err"
fp_run "$T/in" "$T/s.out" "$T/s.err" "exec:forkpool-no-such-program x"
ok "a missing program: exit status 2, command not found" \
    test "$fp_rc" = 2 -a -n "$(grep 'forkpool-no-such-program: command not found' "$T/s.err")"
fp_run "$T/in" "$T/s.out" "$T/s.err" -w 1 \
    "exec:sh -c 'printf \"this is no hello frame at all\"; sleep 30'"
ok "garbage before HELLO: exit status 2, a protocol error before HELLO" \
    test "$fp_rc" = 2 -a -n "$(grep 'protocol error before HELLO: bad magic' "$T/s.err")" ||
    diag_file "$T/s.err"
fp_run "$T/in" "$T/s.out" "$T/s.err" -w 1 "exec:sh -c 'exit 3'"
ok "exit before HELLO: exit status 2, 'exited with status 3 before its HELLO'" \
    test "$fp_rc" = 2 -a -n "$(grep 'exited with status 3 before its HELLO' "$T/s.err")"
fp_run "$T/in" "$T/s.out" "$T/s.err" "exec:$py \"fnv"
ok "a quote left open in CMD: exit status 2, says so" \
    test "$fp_rc" = 2 -a -n "$(grep 'a double quote is not closed' "$T/s.err")"
"$FORKPOOL" -n "exec:forkpool-no-such-program" >"$T/n.out" 2>&1
is "-n, a missing program: exit status 1" "$?" 1
"$FORKPOOL" -n "exec:$py fnv" >"$T/n.out" 2>&1
is "-n, a program found: exit status 0" "$?" 0
# Its standard error is the log.
fp_run "$T/in" "$T/log.out" "$T/log.err" -w 1 \
    "exec:sh -c 'echo said on stderr >&2; exec $py echo'"
ok "the program's stderr goes to forkpool's" \
    grep -qx 'said on stderr' "$T/log.err"

# --- no program outlives its worker ----------------------------------------------------

marker=fp-exec-test-$$
programs() { pgrep -f "$marker" >/dev/null; }
programs_are() { [ "$(pgrep -f "$marker" | wc -l)" -eq "$1" ]; }
not() { ! "$@"; }
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
fp_bg "$T/fifo" "$T/k.out" "$T/k.err" -w 2 "exec:$py echo $marker"
echo one >&3
wait_for 10 lines_at_least 1 "$T/k.out"
ok "two programs run" wait_for 10 programs_are 2
victim=$(workers_of "$fp_pid" | head -n 1)
its=$(pgrep -P "$victim")
kill -9 "$victim"
ok "a worker SIGKILLed: its program dies with it" \
    wait_for 10 proc_gone "${its:-0}"
ok "...the pool is refilled, with two programs again" \
    wait_for 10 refilled 2 "$fp_pid" "$victim" && wait_for 10 programs_are 2
exec 3>&-
fp_wait "$fp_pid"
is "EOF: exit status 0" "$fp_rc" 0
ok "EOF: no program left" wait_for 10 not programs
exec 3<>"$T/fifo"
fp_bg "$T/fifo" "$T/k.out" "$T/k.err" -w 2 "exec:$py echo $marker"
wait_for 10 programs_are 2
kill -9 "$fp_pid"
fp_wait "$fp_pid"
exec 3>&-
ok "the supervisor SIGKILLed: no program left" wait_for 10 not programs

finish
