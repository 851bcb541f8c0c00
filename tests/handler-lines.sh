#!/bin/sh
# lines:CMD, an external filter answering each job's line with a line:
# sed -u, awk and shell loops with quoted arguments; a payload holding a
# newline gets an error result without being sent; a filter that exits
# is replaced and its jobs delivered again; a crashing line is charged;
# timeouts; the filter's descriptors.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 23

awk 'BEGIN { for (i = 1; i <= 2000; i++) print "k" i % 7, "line", i }' \
    >"$T/in"

# --- filters ----------------------------------------------------------------------

sed 's/line/LINE/' "$T/in" >"$T/sed.ref"
fp_run "$T/in" "$T/sed.out" "$T/sed.err" -w 2 'lines:sed -u s/line/LINE/'
is "sed -u: exit status 0" "$fp_rc" 0
same_file "sed -u: the results are sed's, in order" "$T/sed.out" \
    "$T/sed.ref"
fp_run "$T/in" "$T/sedk.out" "$T/sedk.err" -w 2 -k 1 \
    'lines:sed -u s/line/LINE/'
same_file "sed -u, keyed: the same" "$T/sedk.out" "$T/sed.ref"

# mawk reads ahead of the lines it has unless told not to.
interactive=
awk -W version 2>/dev/null | grep -qi mawk && interactive='-W interactive'
awk '{ print $3 ": " $1; fflush() }' "$T/in" >"$T/awk.ref"
fp_run "$T/in" "$T/awk.out" "$T/awk.err" -w 2 \
    "lines:awk $interactive '{ print \$3 \": \" \$1; fflush() }'"
is "awk with a quoted program: exit status 0" "$fp_rc" 0
same_file "awk with a quoted program: awk's results" "$T/awk.out" \
    "$T/awk.ref"

# Quotes and backslashes are the shell's; $x is not expanded by forkpool.
sed 's/.*/<&> $HOME "x y"/' "$T/in" >"$T/sh.ref"
fp_run "$T/in" "$T/sh.out" "$T/sh.err" -w 2 \
    "lines:sh -c 'while IFS= read -r l; do printf \"<%s> %s\\n\" \"\$l\" \"\$1\"; done' sh '\$HOME \"x y\"'"
is "a shell loop, quoted arguments: exit status 0" "$fp_rc" 0 ||
    diag_file "$T/sh.err"
same_file "a shell loop: words as a shell splits them, nothing expanded" \
    "$T/sh.out" "$T/sh.ref"
fp_run "$T/in" "$T/bad.out" "$T/bad.err" 'lines:sed -u s/a/b/ | tr a b'
ok "an unquoted | in CMD: exit status 2, no shell runs it" \
    test "$fp_rc" = 2 -a -n "$(grep "unquoted '|'" "$T/bad.err")"

# Only its own three descriptors (ls adds its directory, 3).
echo x >"$T/one.in"
fp_run "$T/one.in" "$T/fd.out" "$T/fd.err" -w 1 \
    "lines:sh -c 'read -r l; ls /proc/self/fd | tr \"\\n\" \" \"; echo; exec cat'"
is "the filter's descriptors: 0, 1, 2 only" "$(cat "$T/fd.out")" "0 1 2 3 "

# --- a payload with a newline ------------------------------------------------------

start_service 1 'lines:cat'
ctl_kept submit one "$(printf 'two\nlines')" three
is "a payload with a newline: forkpoolctl exits 1" "$?" 1
is "...the other jobs' results, in order" "$(cat "$T/ctl.out")" \
    "$(printf 'one\nthree')"
ok "...and an error result for it, without sending it" \
    grep -q 'job 2: error after 1 attempt: the payload holds a newline' \
    "$T/ctl.err" || diag_file "$T/ctl.err"
ctl submit four >"$T/ctl.out" 2>&1
is "...the filter is still in step: the next job's result" \
    "$(cat "$T/ctl.out")" four
ctl stop >/dev/null 2>&1
fp_wait "$sup"
is "...the service stops (0)" "$fp_rc" 0

# --- a filter that exits, one that crashes --------------------------------------------

# A filter that answers 5 lines and exits: each time it is replaced and
# the jobs it held come back, so all 40 are answered.
head -n 40 "$T/in" >"$T/h.in"
fp_run "$T/h.in" "$T/h.out" "$T/h.err" -w 1 -a 2 \
    "lines:sh -c 'for i in 1 2 3 4 5; do IFS= read -r l && echo \"\$l\"; done'"
is "a filter that exits every 5 lines: exit status 0" "$fp_rc" 0 ||
    diag_file "$T/h.err"
same_file "...every job answered once, in order" "$T/h.out" "$T/h.in"

awk 'BEGIN { for (i = 1; i <= 200; i++)
	if (i == 33) print i, "CRASH"; else print i }' >"$T/c.in"
grep -v CRASH "$T/c.in" >"$T/c.good"
fp_run "$T/c.in" "$T/c.out" "$T/c.err" -w 2 -a 1 --window 32 \
    "lines:sh -c 'while IFS= read -r l; do case \$l in *CRASH*) kill -SEGV \$\$;; esac; echo \"\$l\"; done'"
is "a filter killed by a line, -a 1: exit status 1" "$fp_rc" 1
same_file "...every other line succeeds, in order" "$T/c.out" "$T/c.good"
is "...only that line fails" "$(grep ' failed: ' "$T/c.err")" \
    "forkpool: supervisor: line 33 failed: crashed after 1 attempt: 33 CRASH"

# --- timeouts ------------------------------------------------------------------------

printf 'a 0\nb 29.77\nc 0\n' >"$T/t.in"
grep -v '^b ' "$T/t.in" >"$T/t.good"
fp_run "$T/t.in" "$T/t.out" "$T/t.err" -w 1 -a 1 -t 0.5 \
    "lines:sh -c 'while read -r a b; do sleep \"\$b\"; echo \"\$a \$b\"; done'"
is "a hung line, -t 0.5: exit status 1" "$fp_rc" 1
same_file "...the others succeed" "$T/t.out" "$T/t.good"
ok "...it fails with 'timeout after 1 attempt'" \
    grep -qxF 'forkpool: supervisor: line 2 failed: timeout after 1 attempt: b 29.77' \
    "$T/t.err" || diag_file "$T/t.err"
sleeping() { pgrep -f 'sleep 29\.77' >/dev/null; }
not_sleeping() { ! sleeping; }
ok "...and the filter's own child is gone with it" wait_for 10 not_sleeping

finish
