#!/bin/sh
# Every handler's start has a deadline (--start-timeout, start_timeout in
# the file): a plugin whose init() never returns, exec: programs that
# never say HELLO, in process and thread isolation, stop the run with exit
# status 2 and a message that names the handler and the cause; a reload
# to a handler that does not start in time changes nothing.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 12

PLUGIN=$TESTS_BUILDDIR/.libs/test-plugin.so
echo x >"$T/one"

# starts_never NAME ARGS...: forkpool with a 1 s deadline must stop, 2.
starts_never() {
	sn_name=$1
	shift
	fp_run "$T/one" "$T/$sn_name.out" "$T/$sn_name.err" -w 2 \
	    --start-timeout 1 "$@"
	is "$sn_name: exit status 2" "$fp_rc" 2 || diag_file "$T/$sn_name.err"
}

starts_never plugin "$PLUGIN" hang
ok "...the handler and the cause are named" grep -q \
    "handler $PLUGIN did not start within 1 s (--start-timeout): its init() has not returned" \
    "$T/plugin.err" || diag_file "$T/plugin.err"
starts_never thread --isolation thread "$PLUGIN" hang
ok "...in thread isolation too" grep -q "its init() has not returned" \
    "$T/thread.err" || diag_file "$T/thread.err"
starts_never cat exec:cat
ok "...exec:cat, which never says HELLO, is named" grep -q \
    "handler exec:cat did not start within 1 s (--start-timeout): the program has sent no HELLO" \
    "$T/cat.err" || diag_file "$T/cat.err"
starts_never sleep 'exec:sleep 3989'
not_sleeping() {
	! pgrep -f 'sleep 3989' >/dev/null
}
ok "...and a program that never starts is not left behind" \
    wait_for 10 not_sleeping

if config_files; then
	printf 'start_timeout = 1\nhandler = %s hang\n' "$PLUGIN" >"$T/h.conf"
	fp_run "$T/one" "$T/conf.out" "$T/conf.err" -f "$T/h.conf"
	ok "start_timeout in the file: the same (2)" \
	    grep -q 'did not start within 1 s' "$T/conf.err" ||
	    diag_file "$T/conf.err"

	# A reload to a handler that does not start keeps the running one.
	# The service takes its workers from the file: no start_service.
	printf 'workers = 2\nstart_timeout = 1\nhandler = builtin:echo\n' \
	    >"$T/r.conf"
	fp_bg /dev/null "$T/svc.out" "$T/svc.err" -f "$T/r.conf" \
	    --listen "$sock"
	sup=$fp_pid
	wait_for 10 test -S "$sock"
	printf 'workers = 2\nstart_timeout = 1\nhandler = %s hang\n' \
	    "$PLUGIN" >"$T/r.conf"
	ctl reload >"$T/reload.out" 2>&1
	is "a reload to a handler that hangs: refused (1)" "$?" 1
	ok "...saying why" grep -q 'took longer than --start-timeout' \
	    "$T/reload.out" || diag_file "$T/reload.out"
	is "...and the running handler still answers" \
	    "$(ctl submit hello 2>&1)" hello
	stop_service
else
	skip "start_timeout in the file" "built without libinih"
	skip "a reload" "built without libinih"
	skip "...why" "built without libinih"
	skip "...still answers" "built without libinih"
fi
finish
