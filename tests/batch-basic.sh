#!/bin/sh
# Batch mode basics: echo, empty input, a last line without newline, --help,
# usage and start-up errors, process titles and the descriptors of workers.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 62

# --- echo -------------------------------------------------------------------

{
	printf 'alpha\n\n  leading and trailing blanks  \n'
	printf '\ttab\tseparated\t\n'
	printf 'back\\slash %%s %%d $HOME `x` "q" '"'"'s'"'"'\n'
	printf 'utf-8: \303\251t\303\251 \342\202\254\n'
	printf 'carriage\rreturn\n'
	awk 'BEGIN { for (i = 1; i <= 3000; i++) print "line " i }'
	printf '\n\n'
	printf 'omega\n'
} >"$T/echo.in"

fp_run "$T/echo.in" "$T/echo.out" "$T/echo.err" -w 2 builtin:echo
is "echo: exit status 0" "$fp_rc" 0
same_file "echo: every line comes back unchanged, in input order" \
    "$T/echo.out" "$T/echo.in"
ok "echo: nothing on stderr" test ! -s "$T/echo.err" || diag_file "$T/echo.err"

# --- empty input, a last line without newline --------------------------------

: >"$T/empty"
fp_pipe "$T/empty" "$T/empty.out" "$T/empty.err" -w 2 builtin:echo
is "empty input (a pipe): exit status 0" "$fp_rc" 0
ok "empty input: no output" test ! -s "$T/empty.out"

printf 'one\ntwo\nlast without newline' >"$T/nonl.in"
printf 'one\ntwo\nlast without newline\n' >"$T/nonl.want"
fp_pipe "$T/nonl.in" "$T/nonl.out" "$T/nonl.err" -w 2 builtin:echo
is "last line without newline (a pipe): exit status 0" "$fp_rc" 0
same_file "last line without newline (a pipe): it is a job too" \
    "$T/nonl.out" "$T/nonl.want"
fp_run "$T/nonl.in" "$T/nonl2.out" "$T/nonl2.err" -w 2 builtin:echo
same_file "last line without newline (a regular file): it is a job too" \
    "$T/nonl2.out" "$T/nonl.want"

# --- builtin:sleep takes 0 ms from a last field that is not a number ------------

printf 'no number here\nnumber last 1\n-5\n12abc\n' >"$T/sleep.in"
fp_run "$T/sleep.in" "$T/sleep.out" "$T/sleep.err" -w 2 builtin:sleep
is "builtin:sleep, odd last fields: exit status 0" "$fp_rc" 0
same_file "builtin:sleep, odd last fields: the result is the line" \
    "$T/sleep.out" "$T/sleep.in"

# --- completion order: a result is not held behind a slow job --------------------

# One worker gets both jobs; the quick one's result must come out while the
# slow one (30 s) still runs.
mkfifo "$T/eager.fifo"
exec 3<>"$T/eager.fifo"
fp_bg "$T/eager.fifo" "$T/eager.out" "$T/eager.err" -w 1 -o completion \
    builtin:sleep
sup=$fp_pid
printf 'quick 0\nslow 30000\n' >&3
ok "-o completion, one worker: the quick job's result is out while the slow one runs" \
    wait_for 10 has 'quick 0' "$T/eager.out"
kill_tree "$sup"
fp_wait "$sup"
exec 3>&-

# --- --help, --version --------------------------------------------------------

fp_run /dev/null "$T/help.out" "$T/help.err" --help
is "--help: exit status 0" "$fp_rc" 0
help_ok() {
	grep -q '^usage: forkpool ' "$T/help.out" || return 1
	for o in --workers --key-field --order --attempts --timeout \
	    --kill-grace --queue --window --frame-max --failed --verbose \
	    --shutdown-timeout --help; do
		has "$o" "$T/help.out" || { diag "--help lacks $o"; return 1; }
	done
	test ! -s "$T/help.err"
}
ok "--help: usage with every option on stdout, nothing on stderr" help_ok

fp_run /dev/null "$T/version.out" "$T/version.err" --version
is "--version: exit status 0" "$fp_rc" 0
ok "--version: 'forkpool VERSION' on stdout" \
    grep -q '^forkpool [0-9]' "$T/version.out"

# --- usage errors: exit 2, a message on stderr, nothing on stdout -------------

printf 'a job\n' >"$T/one.in"
usage_error() {
	desc=$1
	shift
	fp_run "$T/one.in" "$T/usage.out" "$T/usage.err" "$@"
	if [ "$fp_rc" = 2 ] && [ ! -s "$T/usage.out" ] &&
	    grep -Eq '^([^ ]*/)?forkpool: ' "$T/usage.err"; then
		pass "usage error exits 2 with a message: $desc"
	else
		fail "usage error exits 2 with a message: $desc"
		diag "exit status $fp_rc"
		diag_file "$T/usage.out" 5
		diag_file "$T/usage.err" 5
	fi
}
usage_error "no handler"
usage_error "-w 0" -w 0 builtin:echo
usage_error "-w two" -w two builtin:echo
usage_error "-w without its argument" -w
usage_error "-o sideways" -o sideways builtin:echo
usage_error "-a 0" -a 0 builtin:echo
usage_error "-k 0" -k 0 builtin:echo
usage_error "-q 0" -q 0 builtin:echo
usage_error "-t 0" -t 0 builtin:echo
usage_error "-t -1" -t -1 builtin:echo
usage_error "-t soon" -t soon builtin:echo
usage_error "-t 0x0.2: decimal only" -t 0x0.2 builtin:echo
usage_error "-t ' 1': no blanks" -t " 1" builtin:echo
usage_error "-t inf" -t inf builtin:echo
usage_error "--rate-limit 0x10" --rate-limit 0x10 builtin:echo
usage_error "--socket-mode +600: octal digits only" -n --listen "$T/no.sock" \
    --socket-mode +600 builtin:echo
usage_error "--kill-grace 0" --kill-grace 0 builtin:echo
usage_error "--window 0" --window 0 builtin:echo
usage_error "--frame-max 63" --frame-max 63 builtin:echo
usage_error "--restart-intensity 5" --restart-intensity 5 builtin:echo
usage_error "--restart-intensity 0/10" --restart-intensity 0/10 builtin:echo
usage_error "--restart-intensity 5/0" --restart-intensity 5/0 builtin:echo
usage_error "--restart-intensity /10" --restart-intensity /10 builtin:echo
fp_run "$T/one.in" "$T/ri.out" "$T/ri.err" --restart-intensity 3/2.5 \
    builtin:echo
is "--restart-intensity 3/2.5: taken, exit status 0" "$fp_rc" 0 ||
    diag_file "$T/ri.err"
usage_error "an unknown option" --bogus builtin:echo
usage_error "a handler without builtin:" /bin/cat

fp_run "$T/one.in" "$T/nope.out" "$T/nope.err" builtin:nope
is "unknown builtin: exit status 2" "$fp_rc" 2
ok "unknown builtin: the message names it" \
    grep -q '^forkpool: no builtin handler nope' "$T/nope.err"

# --- handler init failure -------------------------------------------------------

awk 'BEGIN { for (i = 1; i <= 100; i++) print "job " i }' >"$T/init.in"
fp_run "$T/init.in" "$T/init.out" "$T/init.err" -w 4 builtin:cpu abc
is "builtin:cpu abc: exit status 2" "$fp_rc" 2
ok "builtin:cpu abc: 'the handler failed to start; stopping'" grep -Eq \
    '^forkpool: supervisor: worker [0-9]+: the handler failed to start; stopping$' \
    "$T/init.err" || diag_file "$T/init.err"
ok "builtin:cpu abc: the reason (ITER abc) is logged" \
    grep -q 'ITER abc' "$T/init.err"
is "...said once, not once per worker" "$(grep -c 'ITER abc' "$T/init.err")" 1
ok "builtin:cpu abc: no results" test ! -s "$T/init.out"

fp_run "$T/init.in" "$T/init2.out" "$T/init2.err" -w 2 builtin:echo surplus
is "builtin:echo with an argument: exit status 2" "$fp_rc" 2
not_ok "...and no word of options, when none looks like one" \
    has 'options go before' "$T/init2.err"

# Options after the handler are its arguments: when it does not start, the
# word that looks like an option of forkpool is named.
fp_run "$T/init.in" "$T/late.out" "$T/late.err" builtin:fnv -w 2
is "builtin:fnv -w 2: exit status 2" "$fp_rc" 2
ok "...saying options go before the handler" \
    has '(-w is an argument of the handler: options go before the handler)' \
    "$T/late.err" || diag_file "$T/late.err"
fp_run "$T/init.in" "$T/late2.out" "$T/late2.err" -w 1 exec:cat --window=4
ok "exec:cat --window=4, which cat refuses: the same" \
    has '(--window=4 is an argument of the handler: options go before' \
    "$T/late2.err" || diag_file "$T/late2.err"

# --- process titles and the workers' descriptors --------------------------------

# The input is a FIFO held open here, so the pool stays up while we look.
mkfifo "$T/titles.fifo"
exec 3<>"$T/titles.fifo"
: >"$T/extra"
exec 7<"$T/extra"	# a stray descriptor the supervisor inherits
fp_bg "$T/titles.fifo" "$T/titles.out" "$T/titles.err" -w 3 builtin:echo
exec 7<&-
sup=$fp_pid

ok "-w 3: three workers, children of the supervisor" \
    wait_for 10 nworkers_is 3 "$sup"

# Under a wrapper (the CI's valgrind pass) the titles and descriptors are
# the wrapper's: those tests are skipped there.
wrapped=
case $(args_of "$sup") in
*valgrind*)	wrapped="FORKPOOL runs under valgrind" ;;
esac
if [ -n "$wrapped" ]; then
	skip "the supervisor's title" "$wrapped"
	skip "the workers' titles" "$wrapped"
else
	is "the supervisor's title" "$(args_of "$sup")" "forkpool: supervisor"
	is "the workers' titles" \
	    "$(for p in $(workers_of "$sup"); do args_of "$p"; done | sort |
	    tr '\n' ,)" \
	    "forkpool: worker 0,forkpool: worker 1,forkpool: worker 2,"
fi

# Each worker: 0 is /dev/null, 1 and 2 the supervisor's stderr, 3 a socket,
# and nothing else (not the supervisor's descriptor 7, nor its sockets).
fd_list() {
	ls "/proc/$1/fd" 2>/dev/null | sort -n | tr '\n' ' '
}
worker_fds_ok() {
	wf=$(fd_list "$1")
	errf=$(readlink "/proc/$sup/fd/2")
	if [ "$wf" != "0 1 2 3 " ] ||
	    [ "$(readlink "/proc/$1/fd/0")" != /dev/null ] ||
	    [ "$(readlink "/proc/$1/fd/1")" != "$errf" ] ||
	    [ "$(readlink "/proc/$1/fd/2")" != "$errf" ]; then
		diag "worker $1 has descriptors: $wf"
		for fd in $wf; do
			diag "  $fd -> $(readlink "/proc/$1/fd/$fd")"
		done
		return 1
	fi
	case $(readlink "/proc/$1/fd/3") in
	socket:*)	return 0 ;;
	esac
	return 1
}
if [ -n "$wrapped" ]; then
	for what in "the supervisor's descriptors" "worker 0's descriptors" \
	    "worker 1's descriptors" "worker 2's descriptors" \
	    "each worker has its own socket"; do
		skip "$what" "$wrapped"
	done
elif [ -d "/proc/$sup/fd" ]; then
	ok "the supervisor did inherit descriptor 7 (so the next test means something)" \
	    test -e "/proc/$sup/fd/7"
	for slot in 0 1 2; do
		# (Trailing blanks in a title are the title test's business.)
		w=$(for p in $(workers_of "$sup"); do
			[ "$(args_of "$p" | sed 's/[[:space:]]*$//')" = \
			    "forkpool: worker $slot" ] && echo "$p"
		done)
		ok "worker $slot: exactly 0 (/dev/null), 1 and 2 (stderr), 3 (a socket)" \
		    worker_fds_ok "${w:-none}"
	done
	socks=$(for w in $(workers_of "$sup"); do
		readlink "/proc/$w/fd/3"; done | sort -u | wc -l)
	is "each worker has its own socket" "$socks" 3
else
	skip "the supervisor's descriptors" "no /proc/PID/fd"
	skip "worker 0's descriptors" "no /proc/PID/fd"
	skip "worker 1's descriptors" "no /proc/PID/fd"
	skip "worker 2's descriptors" "no /proc/PID/fd"
	skip "each worker has its own socket" "no /proc/PID/fd"
fi

printf 'x\ny\n' >&3
exec 3>&-
fp_wait "$sup"
is "the titled pool ends cleanly at EOF" "$fp_rc" 0

finish
