#!/bin/sh
# Progress on stderr: --bar, --progress and --eta draw one line, redrawn
# in place on a terminal (a pty here, through script(1)) and finished on a
# line of its own at the end; where stderr is not a terminal they write
# plain lines.  Nothing is drawn unless asked for.  -v ends with a summary.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 17

seq 1 40 | sed 's/$/ 50/' >"$T/in"
seq 1 40 | sed 's/$/ 50/' >"$T/want"

# on_pty OUT ERR OPTIONS...: forkpool with stderr on a terminal; what the
# terminal shows is in ERR, its results in OUT.
on_pty() {
	op_out=$1 op_err=$2
	shift 2
	script -qec "'$FORKPOOL' $* <'$T/in' >'$op_out'" /dev/null \
	    >"$op_err" </dev/null
}

if ! script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	for i in 1 2 3 4 5 6 7 8 9 10; do
		skip "progress on a terminal" "no script(1) here"
	done
else
	on_pty "$T/out" "$T/bar" -w 2 --bar builtin:sleep
	same_file "--bar: the results are unchanged" "$T/out" "$T/want"
	ok "--bar: the line is redrawn in place" \
	    test "$(tr -cd '\r' <"$T/bar" | wc -c)" -ge 2
	tr '\r' '\n' <"$T/bar" | grep -v '^$' | tail -n 1 | tr -d '\033' >"$T/last"
	ok "--bar: it ends at 100%, 40 of 40, on a line of its own" \
	    grep -Eq '^\[#+\] 100% 40/40 done, 0 running\[K' "$T/last" ||
	    diag_file "$T/last"
	is "--bar: the last bytes end the line" "$(tail -c 2 "$T/bar" | od -An -c | tr -d ' ')" '\r\n'

	on_pty "$T/out" "$T/progress" -w 2 --progress builtin:sleep
	tr '\r' '\n' <"$T/progress" | grep -v '^$' | tail -n 1 >"$T/last"
	ok "--progress: jobs done and running, per worker" \
	    grep -Eq '^40/40 done, 0 running, 0 queued; worker done\+running: 1:[0-9]+\+0 2:[0-9]+\+0' \
	    "$T/last" || diag_file "$T/last"
	ok "--progress: the workers' jobs add up to 40" \
	    test "$(grep -Eo ' [12]:[0-9]+' "$T/last" | cut -d: -f2 |
	    awk '{ n += $1 } END { print n }')" = 40

	on_pty "$T/out" "$T/eta" -w 2 --eta builtin:sleep
	ok "--eta, a file: the time left is shown while it runs" \
	    grep -Eq 'ETA [0-9]+s' "$T/eta" || diag_file "$T/eta"
	ok "--eta: it ends at 0s" grep -q 'ETA 0s' "$T/eta"

	seq 1 40 >"$T/short"
	script -qec "'$FORKPOOL' -w 2 builtin:echo <'$T/short' >/dev/null" \
	    /dev/null >"$T/none" </dev/null
	is "no option on a terminal: nothing is drawn" "$(wc -c <"$T/none")" 0
	script -qec "'$FORKPOOL' -w 2 --bar --progress --eta builtin:echo </dev/null >/dev/null" \
	    /dev/null >"$T/empty" </dev/null
	ok "no input, all three: one finished line" \
	    grep -q '0 done, 0 running, 0 queued; ETA 0s' "$T/empty"
fi

# Not a terminal: asked for, plain lines (one at the end at least).
fp_run "$T/in" "$T/out" "$T/err" -w 2 --bar --eta builtin:sleep
is "not a terminal, --bar: exit status 0" "$fp_rc" 0
ok "...a plain line at the end" grep -Eqx \
    'forkpool: progress: \[#+\] 100% 40/40 done, 0 running; ETA 0s' "$T/err" ||
    diag_file "$T/err"
not_ok "...no carriage return nor escape" grep -q "$(printf '[\r\033]')" \
    "$T/err"
fp_run "$T/in" "$T/out" "$T/err" -w 2 builtin:sleep
is "not a terminal, nothing asked: stderr is empty" "$(wc -c <"$T/err")" 0

# -v: one line at the end.
printf 'a\nb CRASH\nc\n' >"$T/crash"
fp_run "$T/crash" "$T/out" "$T/err" -v -w 1 -a 1 builtin:crash
ok "-v: a summary line at the end" grep -Eqx \
    'forkpool: supervisor: 2 ok, 1 failed, 0 not run in [0-9.]+ s: [0-9]+ jobs/s' \
    "$T/err" || diag_file "$T/err"

"$FORKPOOL" --listen "$T/s" --bar builtin:echo </dev/null >/dev/null \
    2>"$T/err"
is "--bar in service mode: exit status 2" "$?" 2
ok "...refused as batch only" has 'are for batch mode' "$T/err"
finish
