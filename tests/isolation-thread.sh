#!/bin/sh
# --isolation thread: the same handlers in threads of the supervisor give
# the same results, in the same order; a crash takes the whole process
# down, with a clear message; a hung job is reported and its thread given
# up on; what cannot work in-process is refused, saying why.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 22

# W1's shape, smaller: "k<i mod 1000> <i>".
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "k%d %d\n", i % 1000, i }' \
    >"$T/w1"
"$FNVREF" <"$T/w1" >"$T/want"
fp_run "$T/w1" "$T/proc" "$T/err" -w 2 builtin:fnv
fp_run "$T/w1" "$T/thr" "$T/err" -w 2 --isolation thread builtin:fnv
is "W1: exit status 0" "$fp_rc" 0
same_file "W1: byte-identical to process mode" "$T/thr" "$T/proc"
same_file "...and to the reference" "$T/thr" "$T/want"

# W3: keyed, in completion order, each key's jobs in their input order.
fp_run "$T/w1" "$T/thr" "$T/err" -w 2 --isolation thread -k 1 \
    -o completion builtin:echo
is "W3 keyed: exit status 0" "$fp_rc" 0
ok "...each key in input order" per_key_order 1 2 "$T/thr"
is "...every job once" "$(sort "$T/thr" | uniq | wc -l)" 50000

# A plugin, one init (and one state) per thread.
plugin=$TESTS_BUILDDIR/.libs/test-plugin.so
fp_run "$T/w1" "$T/thr" "$T/err" -w 2 --isolation thread "$plugin" fnv
same_file "a plugin in threads: the same results" "$T/thr" "$T/want"

# A crash is the whole process's.
printf 'one\ntwo\nthree CRASH\nfour\n' >"$T/crash"
fp_run "$T/crash" "$T/out" "$T/err" -w 2 --isolation thread builtin:crash
ok "a crash: the run ends with a non-zero status ($fp_rc)" \
    test "$fp_rc" != 0 -a "$fp_rc" != hung
ok "...saying what happened" has 'crashed the whole process (SIGSEGV) in thread mode' "$T/err"
fp_run "$T/crash" "$T/out" "$T/err" -w 2 builtin:crash
is "...where process mode loses one attempt of one job" "$fp_rc" 1
is "...and answers the others" "$(sort "$T/out" | tr '\n' ,)" "four,one,two,"

# A hung job: reported after the timeout; its thread takes no more jobs.
printf 'a 100\nb 5000\nc 100\n' >"$T/hang"
fp_run "$T/hang" "$T/out" "$T/err" -w 2 --isolation thread -t 0.5 -a 1 \
    builtin:sleep
is "a hung job: exit status 1" "$fp_rc" 1
is "...the others answered" "$(tr '\n' , <"$T/out")" "a 100,c 100,"
ok "...the hung one reported" has 'line 2 failed: timeout after 1 attempt' \
    "$T/err"
ok "...its thread given up on" has 'giving up on thread' "$T/err"

# The service, in threads: many jobs, keyed, and a scale.
# (No worker process to wait for.)
start_service -n 2 --isolation thread builtin:sleep
ctl scale 3 >/dev/null
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" submit 2000 --keys 20 \
    --handler sleep --ms 1 >"$T/load.out" 2>&1
is "service in threads: every job once, each key in order" "$?" 0 ||
    diag_file "$T/load.out"
is "...no worker process: every worker is a thread of the supervisor" \
    "$(pgrep -P "$sup" | wc -l)" 0
stop_service
is "...it stops cleanly" "$fp_rc" 0

# Refused, with the reason.
refused() {
	"$FORKPOOL" --isolation thread "$@" </dev/null >/dev/null 2>"$T/err"
	[ $? -eq 2 ] && grep -q -e '--isolation thread: ' "$T/err"
}
ok "refused: exec: and lines: handlers" refused 'lines:cat'
ok "refused: --max-rss" refused --max-rss 100 builtin:echo
ok "refused: --user, --rlimit-*, --chroot" sh -c '
	for o in "--user nobody" "--rlimit-nofile 64" "--chroot /"; do
		"$0" --isolation thread $o builtin:echo </dev/null >/dev/null \
		    2>&1 && exit 1
	done; exit 0' "$FORKPOOL"
ok "refused: --no-preload, --heartbeat-timeout" sh -c '
	for o in --no-preload "--heartbeat-timeout 5"; do
		"$0" --isolation thread $o builtin:echo </dev/null >/dev/null \
		    2>&1 && exit 1
	done; exit 0' "$FORKPOOL"
finish
