#!/bin/sh
# C plugins (forkpool_handler(3)): a plugin's results equal the builtin's,
# preloaded in the supervisor or loaded in each worker (--no-preload);
# init runs once per worker; a failing init, an ABI mismatch, a missing
# symbol or file stop the run at start-up with the reason; the example
# plugins of contrib/handlers.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 43

libs=$TESTS_BUILDDIR/.libs
plugin=$libs/test-plugin.so
contrib=$TESTS_BUILDDIR/../contrib/handlers/.libs

awk 'BEGIN { for (i = 1; i <= 3000; i++) print "k" i % 7, i }' >"$T/in"
"$FNVREF" <"$T/in" >"$T/fnv.ref"
"$FNVREF" cpu 7 <"$T/in" >"$T/cpu.ref"

# --- results ----------------------------------------------------------------------

fp_run "$T/in" "$T/fnv.out" "$T/fnv.err" -w 2 "$plugin" fnv
is "plugin fnv, preloaded: exit status 0" "$fp_rc" 0
same_file "plugin fnv, preloaded: byte-identical to fnvref" "$T/fnv.out" \
    "$T/fnv.ref"
ok "plugin fnv: nothing on stderr" test ! -s "$T/fnv.err"
fp_run "$T/in" "$T/cpu.out" "$T/cpu.err" -w 2 --no-preload "$plugin" cpu 7
is "plugin cpu 7, --no-preload: exit status 0" "$fp_rc" 0
same_file "plugin cpu 7, --no-preload: byte-identical to fnvref cpu 7" \
    "$T/cpu.out" "$T/cpu.ref"
fp_run "$T/in" "$T/bcpu.out" "$T/bcpu.err" -w 2 builtin:cpu 7
same_file "the plugin's results are the builtin's" "$T/cpu.out" \
    "$T/bcpu.out"
fp_run "$T/in" "$T/key.out" "$T/key.err" -w 2 -k 1 "$plugin" echo
same_file "plugin echo, keyed: the output is the input" "$T/key.out" "$T/in"

# A name ending in .so is a file here, not a library to search for.
cp "$plugin" "$T/mine.so"
(cd "$T" && "$FORKPOOL" -w 1 mine.so echo <"$T/in" >"$T/rel.out" \
    2>"$T/rel.err")
is "a plugin named mine.so, no slash: the file in this directory" "$?" 0
same_file "...and its results" "$T/rel.out" "$T/in"

# --- one init per worker ------------------------------------------------------------

# "PID N": within one worker, N counts 1, 2, 3...: one state, one init.
fp_run "$T/in" "$T/count.out" "$T/count.err" -w 2 "$plugin" count
is "plugin count: exit status 0" "$fp_rc" 0
one_state() {
	awk '{ if ($2 != ++n[$1]) bad++ } END { exit bad > 0 || NR != 3000 }' \
	    "$T/count.out"
}
ok "plugin count: each worker's state counts its own jobs from 1" one_state
is "plugin count: at most 2 workers answered" \
    "$(awk '{ print $1 }' "$T/count.out" | sort -u | wc -l | tr -d ' ')" \
    "$(awk '{ print $1 }' "$T/count.out" | sort -u | head -n 2 | wc -l |
    tr -d ' ')"

# --- where the plugin is loaded ------------------------------------------------------

first_worker() {
	fw_pid=$(workers_of "$1" | head -n 1)
	[ -n "$fw_pid" ] && echo "$fw_pid"
}
maps_have() {
	grep -q 'test-plugin\.so' "/proc/$1/maps" 2>/dev/null
}
mkfifo "$T/fifo"
for mode in preload no-preload; do
	flag=
	[ "$mode" = no-preload ] && flag=--no-preload
	exec 3<>"$T/fifo"
	fp_bg "$T/fifo" "$T/map.out" "$T/map.err" -w 1 $flag "$plugin" echo
	echo hello >&3
	wait_for 10 lines_at_least 1 "$T/map.out"
	worker=$(wait_for 10 first_worker "$fp_pid")
	if [ "$mode" = preload ]; then
		ok "preloaded: the supervisor has the plugin mapped" \
		    maps_have "$fp_pid"
	else
		not_ok "--no-preload: the supervisor has not" \
		    maps_have "$fp_pid"
	fi
	ok "$mode: the worker has it mapped" maps_have "$worker"
	exec 3>&-
	fp_wait "$fp_pid"
	is "$mode: exit status 0" "$fp_rc" 0
done

# --- errors -------------------------------------------------------------------------

fp_run "$T/in" "$T/err.out" "$T/err.err" -w 2 --failed "$T/err.failed" \
    "$plugin" error
is "a handler's error result: exit status 1" "$fp_rc" 1
# The first five with their message, the rest summed up, all in --failed.
ok "...every job reported failed with its message" test \
    "$(grep -c '^forkpool: supervisor: line [0-9]* failed: error: refused job [0-9]*$' "$T/err.err")" \
    = 5 -a "$(grep -c '\.\.\. and 2995 more failures' "$T/err.err")" = 1 \
    -a "$(wc -l <"$T/err.failed")" = 3000

for flag in "" --no-preload; do
	fp_run "$T/in" "$T/fail.out" "$T/fail.err" -w 2 $flag "$plugin" \
	    fail "no licence for this host"
	is "init fails${flag:+ ($flag)}: exit status 2" "$fp_rc" 2
	ok "init fails${flag:+ ($flag)}: its message is logged" \
	    grep -q 'no licence for this host' "$T/fail.err"
	ok "init fails${flag:+ ($flag)}: the run stops, no restart loop" \
	    grep -q 'the handler failed to start; stopping' "$T/fail.err"
done
ok "init fails: no results" test ! -s "$T/fail.out"

abi='built for handler ABI version 99, but this forkpool takes version 1'
fp_run "$T/in" "$T/abi.out" "$T/abi.err" -w 2 "$libs/test-plugin-abi.so" fnv
is "ABI mismatch: exit status 2" "$fp_rc" 2
ok "ABI mismatch: says which versions" grep -qF "$abi" "$T/abi.err" ||
    diag_file "$T/abi.err"
"$FORKPOOL" -n "$libs/test-plugin-abi.so" fnv >"$T/n.out" 2>&1
is "ABI mismatch, -n: exit status 1" "$?" 1
ok "ABI mismatch, -n: says so" grep -qF "$abi" "$T/n.out"
"$FORKPOOL" -n --no-preload "$libs/test-plugin-abi.so" fnv >"$T/n.out" 2>&1
is "ABI mismatch, -n --no-preload: -n still loads it (exit 1)" "$?" 1
fp_run "$T/in" "$T/abi2.out" "$T/abi2.err" -w 2 --no-preload \
    "$libs/test-plugin-abi.so" fnv
ok "ABI mismatch, --no-preload: the workers say so, the run stops (2)" \
    test "$fp_rc" = 2 -a -n "$(grep -F "$abi" "$T/abi2.err")"

fp_run "$T/in" "$T/sym.out" "$T/sym.err" -w 2 "$libs/test-plugin-nosym.so"
is "no forkpool_handler symbol: exit status 2" "$fp_rc" 2
ok "no forkpool_handler symbol: says so" \
    grep -q 'exports no forkpool_handler' "$T/sym.err"
fp_run "$T/in" "$T/nf.out" "$T/nf.err" "$T/no/such/plugin.so"
ok "a missing plugin file: exit status 2, No such file" \
    test "$fp_rc" = 2 -a -n "$(grep 'No such file' "$T/nf.err")"
echo "not an object" >"$T/text.so"
fp_run "$T/in" "$T/tx.out" "$T/tx.err" "$T/text.so"
ok "a file that is no shared object: exit status 2, cannot load it" \
    test "$fp_rc" = 2 -a -n "$(grep 'cannot load it' "$T/tx.err")"
"$FORKPOOL" -n "$plugin" fnv >"$T/n.out" 2>&1
is "a good plugin, -n: configuration OK" "$?:$(cat "$T/n.out")" \
    "0:forkpool: configuration OK"

# --- the configuration file ------------------------------------------------------------

if config_files; then
	printf 'handler = %s cpu 7\npreload = no\nworkers = 2\n' "$plugin" \
	    >"$T/p.conf"
	fp_run "$T/in" "$T/conf.out" "$T/conf.err" -f "$T/p.conf"
	same_file "handler = PLUGIN cpu 7 and preload = no in a file" \
	    "$T/conf.out" "$T/cpu.ref"
	printf 'handler = builtin:fnv\npreload = maybe\n' >"$T/bad.conf"
	"$FORKPOOL" -n -f "$T/bad.conf" >"$T/n.out" 2>&1
	ok "preload = maybe: refused, with the line" \
	    grep -q 'bad.conf:2: preload maybe: expected yes or no' "$T/n.out"
else
	skip "handler and preload in a file" "built without libinih"
	skip "preload = maybe: refused" "built without libinih"
fi

# --- the example plugins ------------------------------------------------------------------

printf 'one two  three\n\n   \n\ta\tb c\nx\n' >"$T/wc.in"
LC_ALL=C awk '{ print 0, NF, length($0) }' "$T/wc.in" >"$T/wc.ref"
fp_run "$T/wc.in" "$T/wc.out" "$T/wc.err" -w 2 "$contrib/wordcount.so"
same_file "wordcount.so: 'LINES WORDS BYTES' of each line, as awk counts" \
    "$T/wc.out" "$T/wc.ref"
if [ -f "$contrib/checksum.so" ]; then
	python3 -c '
import sys, zlib
for line in sys.stdin.buffer.read().split(b"\n")[:-1]:
    print("%08x %08x" % (zlib.crc32(line), zlib.adler32(line)))' \
	    <"$T/in" >"$T/sum.ref"
	fp_run "$T/in" "$T/crc.out" "$T/crc.err" -w 2 "$contrib/checksum.so" \
	    crc32
	fp_run "$T/in" "$T/adler.out" "$T/adler.err" -w 2 \
	    "$contrib/checksum.so" adler32
	paste -d ' ' "$T/crc.out" "$T/adler.out" >"$T/sum.out"
	same_file "checksum.so crc32 and adler32: as Python's zlib says" \
	    "$T/sum.out" "$T/sum.ref"
	awk 'BEGIN { s = ""; for (i = 0; i < 2000; i++) s = s "abc"
		print s; print "x" }' >"$T/z.in"
	fp_run "$T/z.in" "$T/z.out" "$T/z.err" -w 1 "$contrib/checksum.so" \
	    deflate 9
	squeezed() {
		awk 'NR == 1 && $1 > 8 && $1 < 100 { a = 1 }
		    NR == 2 && $1 > 1 { b = 1 } END { exit !(a && b) }' "$1"
	}
	ok "checksum.so deflate 9: 6,000 bytes of abc take a few bytes" \
	    squeezed "$T/z.out" || diag_file "$T/z.out"
else
	skip "checksum.so crc32 and adler32" "built without zlib"
	skip "checksum.so deflate" "built without zlib"
fi

finish
