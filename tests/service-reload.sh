#!/bin/sh
# Reloading a running service (forkpoolctl reload, SIGHUP): a new handler
# and worker count roll the workers over, new before old, under load,
# losing no job and keeping each key's order; a broken file and a handler
# that cannot start change nothing.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"
needs_config_files

plan 21

conf=$T/fp.conf
write_conf() {
	printf 'listen = %s\nworkers = %s\nhandler = %s\n' "$sock" "$1" "$2" \
	    >"$conf"
}

write_conf 2 builtin:sleep
python3 "$TESTS_SRCDIR/notify-recv.py" "$T/notify.sock" "$T/notify.log" &
track $!
wait_for 10 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock fp_bg /dev/null "$T/svc.out" "$T/svc.err" \
    -f "$conf" -v
sup=$fp_pid
wait_for 10 test -S "$sock"
wait_for 10 slots_are 2
before=$(workers_of "$sup" | sort | tr '\n' ' ')

# 2,000 keyed jobs of 1 ms on 30 keys; the echo handler answers them the
# same way, so the client checks every result across the roll-over.
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" submit 2000 --keys 30 \
    --handler sleep --ms 1 >"$T/load.out" 2>&1 &
load=$!
wait_for 10 busy || diag "the load did not start"
write_conf 3 builtin:echo
ctl reload >"$T/reload.out" 2>&1
is "reload under load: exit status 0" "$?" 0 || diag_file "$T/reload.out"
ok "...says the workers roll over" grep -q 'rolling the workers over' \
    "$T/reload.out"
ok "...three slots" wait_for 10 slots_are 3
rolled() {
	[ -z "$(ctl status | awk '/^\((new|old)\)/')" ] &&
	    has 'every worker runs the new configuration' "$T/svc.err"
}
ok "...every worker replaced" wait_for 20 rolled
ok "...new before old: each takes over from the one it replaces" \
    grep -q 'takes over from pid' "$T/svc.err"
wait "$load"
is "every job once, each key in order, across the roll-over" "$?" 0 ||
    diag_file "$T/load.out"
ok "...2,000 results" grep -q '^results 2000 ' "$T/load.out"
after=$(workers_of "$sup" | sort | tr '\n' ' ')
ok "...none of the old worker processes is left" \
    no_worker_alive $before
diag "workers before: $before; after: $after"
ok "the new handler answers" test "$(ctl submit 'hello world')" = \
    'hello world'
ok "notify: RELOADING=1, then READY=1" \
    wait_for 10 sh -c "grep -x -e RELOADING=1 -e READY=1 '$T/notify.log' |
    tr '\n' , | grep -q 'READY=1,RELOADING=1,READY=1,'"

# A file that does not check out: refused with its line, nothing changes.
pids=$(workers_of "$sup" | sort | tr '\n' ' ')
printf 'workers = 2\nhandler = builtin:fnv\nworkers: 4\n' >"$conf"
ctl reload >"$T/bad.out" 2>&1
is "a broken file: exit status 1" "$?" 1
ok "...the error names the file and line" grep -q 'fp.conf:3: ' "$T/bad.out"
ok "...the supervisor logs it" grep -q 'the running configuration stays' \
    "$T/svc.err"
is "...the same workers go on" "$(workers_of "$sup" | sort | tr '\n' ' ')" \
    "$pids"
ok "...with the old handler" test "$(ctl submit abc)" = abc

# A handler that fails to start: tried in one new worker, then refused.
write_conf 3 builtin:cpu
ctl reload >"$T/init.out" 2>&1
is "a handler that fails to start: exit status 1" "$?" 1
ok "...says so" grep -q 'did not start' "$T/init.out"
is "...the same workers go on" "$(workers_of "$sup" | sort | tr '\n' ' ')" \
    "$pids"

# SIGHUP does the same: here one worker fewer and the fnv handler.
write_conf 2 builtin:fnv
kill -HUP "$sup"
ok "SIGHUP: down to two slots" wait_for 10 slots_are 2
fnv_ok() {
	test "$(ctl submit hello)" = a430d84680aabd0b
}
ok "...running the new handler" wait_for 10 fnv_ok

stop_service
is "the service stops cleanly" "$fp_rc" 0
finish
