#!/bin/sh
# The fnv and cpu builtins against an independent reference (fnvref), in
# input order, in completion order, with a window of 1, a queue of 1, and
# a line longer than the supervisor's read chunk.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 16

# 100,000 lines of varied length, with some empty lines and some long ones.
awk 'BEGIN {
	srand(7)
	for (i = 1; i <= 100000; i++) {
		if (i % 997 == 0)
			print ""
		else if (i % 1013 == 0) {
			s = ""
			for (j = 0; j < 60; j++)
				s = s "long" i
			print s
		} else
			print "job " i " " int(rand() * 1000000000)
	}
}' >"$T/big.in"
"$FNVREF" <"$T/big.in" >"$T/big.want"

fp_run "$T/big.in" "$T/big.out" "$T/big.err" -w 2 builtin:fnv
is "fnv, 100,000 lines, -w 2: exit status 0" "$fp_rc" 0
same_file "fnv, 100,000 lines, -w 2: byte-identical to fnvref" \
    "$T/big.out" "$T/big.want"
ok "fnv, 100,000 lines: nothing on stderr" test ! -s "$T/big.err" ||
    diag_file "$T/big.err"

# cpu 3: FNV over the line repeated three times.
head -n 2000 "$T/big.in" >"$T/cpu.in"
"$FNVREF" cpu 3 <"$T/cpu.in" >"$T/cpu.want"
fp_run "$T/cpu.in" "$T/cpu.out" "$T/cpu.err" -w 2 builtin:cpu 3
is "cpu 3, 2,000 lines: exit status 0" "$fp_rc" 0
same_file "cpu 3, 2,000 lines: byte-identical to fnvref cpu 3" \
    "$T/cpu.out" "$T/cpu.want"
head -n 2000 "$T/big.want" >"$T/cpu.fnv"
not_ok "cpu 3 differs from fnv (the test would see a wrong ITER)" \
    cmp -s "$T/cpu.want" "$T/cpu.fnv"

# Completion order: the same results, in some order.
sort "$T/big.want" >"$T/big.want.sorted"
fp_run "$T/big.in" "$T/compl.out" "$T/compl.err" -w 3 -o completion builtin:fnv
is "-o completion: exit status 0" "$fp_rc" 0
sort "$T/compl.out" >"$T/compl.sorted"
same_file "-o completion: sorted output equals the sorted reference" \
    "$T/compl.sorted" "$T/big.want.sorted"

# --window 1: the classic shared queue.
head -n 20000 "$T/big.in" >"$T/w1.in"
head -n 20000 "$T/big.want" >"$T/w1.want"
fp_run "$T/w1.in" "$T/w1.out" "$T/w1.err" -w 3 --window 1 builtin:fnv
is "--window 1, 20,000 lines: exit status 0" "$fp_rc" 0
same_file "--window 1: byte-identical to fnvref" "$T/w1.out" "$T/w1.want"

# A queue of one job: the reorder ring and the intake at their smallest.
head -n 3000 "$T/big.in" >"$T/q1.in"
head -n 3000 "$T/big.want" >"$T/q1.want"
fp_run "$T/q1.in" "$T/q1.out" "$T/q1.err" -w 2 -q 1 builtin:fnv
is "-q 1, 3,000 lines: exit status 0" "$fp_rc" 0
same_file "-q 1: byte-identical to fnvref" "$T/q1.out" "$T/q1.want"
fp_pipe "$T/q1.in" "$T/q1p.out" "$T/q1p.err" -w 3 -q 2 -o completion \
    builtin:fnv
sort "$T/q1p.out" >"$T/q1p.sorted"
sort "$T/q1.want" >"$T/q1.want.sorted"
same_file "-q 2 -o completion from a pipe: the same results" \
    "$T/q1p.sorted" "$T/q1.want.sorted"

# Lines longer than the supervisor's read chunk (64 KiB), between short ones.
awk 'BEGIN {
	print "before"
	s = "0123456789abcdef"
	while (length(s) < 300000)
		s = s s
	print s
	print "between"
	print substr(s, 1, 65537)
	print "after"
}' >"$T/long.in"
"$FNVREF" <"$T/long.in" >"$T/long.want"
fp_pipe "$T/long.in" "$T/long.out" "$T/long.err" -w 2 builtin:fnv
is "lines of 512 KiB and 64 KiB + 1: exit status 0" "$fp_rc" 0
same_file "lines of 512 KiB and 64 KiB + 1: byte-identical to fnvref" \
    "$T/long.out" "$T/long.want"

# One worker: a single slot keeps the order too.
fp_run "$T/q1.in" "$T/one.out" "$T/one.err" -w 1 builtin:fnv
same_file "-w 1: byte-identical to fnvref" "$T/one.out" "$T/q1.want"

finish
