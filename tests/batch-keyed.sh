#!/bin/sh
# Keyed jobs (-k N): the jobs of one key run one at a time, in input order,
# so even in completion order each key's results come out in input order;
# also while a worker is killed in the middle of the run.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 22

# Lines "k<K> <seq> <ms>": ~20 keys, a global sequence number, and a small
# random sleep (0..3 ms) that builtin:sleep takes from the last field.
gen() {
	awk -v n="$1" -v seed="$2" 'BEGIN {
		srand(seed)
		for (i = 1; i <= n; i++)
			print "k" int(rand() * 20), i, int(rand() * 4)
	}'
}

# The checker itself must be able to fail.
printf 'k1 1 0\nk2 3 0\nk1 2 0\nk2 2 0\n' >"$T/bad"
quietly() { "$@" >/dev/null; }
not_ok "per-key order check rejects a key going backwards" \
    quietly per_key_order 1 2 "$T/bad"
printf 'k1 1 0\nk2 3 0\nk1 2 0\nk2 4 0\n' >"$T/good"
ok "per-key order check accepts interleaved keys in order" \
    per_key_order 1 2 "$T/good"

# --- completion order, keyed ---------------------------------------------------

gen 800 11 >"$T/k.in"
sort "$T/k.in" >"$T/k.in.sorted"
fp_run "$T/k.in" "$T/k.out" "$T/k.err" -w 4 -k 1 -o completion builtin:sleep
is "-k 1 -o completion: exit status 0" "$fp_rc" 0
ok "-k 1 -o completion: each key's lines come out in input order" \
    per_key_order 1 2 "$T/k.out"
sort "$T/k.out" >"$T/k.out.sorted"
same_file "-k 1 -o completion: every line once" "$T/k.out.sorted" \
    "$T/k.in.sorted"

# The key in the middle of the line, from a pipe.
awk '{ print $2, $1, $3 }' "$T/k.in" >"$T/k2.in"
fp_pipe "$T/k2.in" "$T/k2.out" "$T/k2.err" -w 3 -k 2 -o completion \
    --window 4 builtin:sleep
is "-k 2 --window 4 -o completion: exit status 0" "$fp_rc" 0
ok "-k 2 --window 4 -o completion: each key's lines in input order" \
    per_key_order 2 1 "$T/k2.out"

# --- input order, keyed: exactly the input ------------------------------------

fp_run "$T/k.in" "$T/ki.out" "$T/ki.err" -w 4 -k 1 builtin:sleep
is "-k 1 (input order): exit status 0" "$fp_rc" 0
same_file "-k 1 (input order): the output is the input" "$T/ki.out" "$T/k.in"

# --- a missing key field is the empty key: one key, so one at a time ------------

awk 'BEGIN { srand(5); for (i = 1; i <= 200; i++) print "x" i, int(rand() * 3) }' \
    >"$T/nokey.in"
fp_run "$T/nokey.in" "$T/nokey.out" "$T/nokey.err" -w 4 -k 3 -o completion \
    builtin:sleep
is "-k 3 on two-field lines: exit status 0" "$fp_rc" 0
same_file "-k 3 on two-field lines: one (empty) key, so completion order is input order" \
    "$T/nokey.out" "$T/nokey.in"
printf 'forkpool: supervisor: %s\n' \
    'line 1 has no field 3: such lines share the empty key, and run one at a time' \
    '200 lines had no field 3' >"$T/nokey.want.err"
same_file "-k 3 on two-field lines: said once, and counted at the end" \
    "$T/nokey.err" "$T/nokey.want.err"

# Fields are separated by spaces and tabs, leading blanks skipped: all these
# lines have the key "same", so they run one at a time, in input order.
awk 'BEGIN { srand(9); for (i = 1; i <= 150; i++)
	printf "%ssame%s%d %d\n", (i % 2 ? "\t" : "  "), (i % 3 ? "\t" : " "), i,
	    int(rand() * 4) }' >"$T/tab.in"
fp_run "$T/tab.in" "$T/tab.out" "$T/tab.err" -w 4 -k 1 -o completion \
    builtin:sleep
is "-k 1, keys between tabs and spaces: exit status 0" "$fp_rc" 0
same_file "-k 1, keys between tabs and spaces: one key, so completion order is input order" \
    "$T/tab.out" "$T/tab.in"
ok "-k 1, every line has its field: nothing said" test ! -s "$T/tab.err"

# --- a worker killed with SIGKILL in the middle of a keyed run -------------------

gen 1500 23 >"$T/kill.in"
sort "$T/kill.in" >"$T/kill.in.sorted"
mkfifo "$T/kill.fifo"
exec 3<>"$T/kill.fifo"
fp_bg "$T/kill.fifo" "$T/kill.out" "$T/kill.err" -v -w 4 -k 1 -o completion \
    builtin:sleep
sup=$fp_pid
head -n 1200 "$T/kill.in" >&3
# The rest of the input is held back, so the run is not over.  Kill a worker
# while it is inside a job, if we can see that (its wchan), else any.
victim=$(wait_for 10 sleeping_worker "$sup") ||
    victim=$(workers_of "$sup" | head -n 1)
diag "killing worker pid ${victim:-none} after $(wc -l <"$T/kill.out") results"
ok "a worker to kill was found" test -n "$victim" && kill -9 "$victim"
ok "SIGKILLed worker, keyed: its slot is refilled (4 workers, a new pid)" \
    wait_for 10 refilled 4 "$sup" "$victim"
tail -n +1201 "$T/kill.in" >&3
exec 3>&-
fp_wait "$sup"
is "SIGKILLed worker, keyed: exit status 0" "$fp_rc" 0
ok "SIGKILLed worker, keyed: the supervisor saw the kill" \
    grep -q "pid $victim killed by signal 9" "$T/kill.err" ||
    diag_file "$T/kill.err"
ok "SIGKILLed worker, keyed: each key's lines still in input order" \
    per_key_order 1 2 "$T/kill.out"
sort "$T/kill.out" >"$T/kill.out.sorted"
same_file "SIGKILLed worker, keyed: every line once, nothing lost or doubled" \
    "$T/kill.out.sorted" "$T/kill.in.sorted"
is "SIGKILLed worker, keyed: 5 workers said ready in all" \
    "$(count ': ready, pid ' "$T/kill.err")" 5

finish
