#!/bin/sh
# The configuration file (-f, -n) and the systemd notify protocol.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
needs_config_files

plan 22

sock=$T/fp.sock
cat >"$T/good.conf" <<CONF
# a service of three workers
workers = 3
listen = $sock
handler = builtin:fnv
queue = 1000
timeout = 2.5
CONF
printf 'workers = 3\nqueue = 0\n' >"$T/range.conf"
printf 'workers = 2\n\nmystery = 1\n' >"$T/unknown.conf"
printf 'workers = 2\n' >"$T/nohandler.conf"
printf 'handler = builtin:nosuch\n' >"$T/badhandler.conf"

"$FORKPOOL" -n -f "$T/good.conf" >"$T/n.out" 2>&1
is "-n on a good file: exit 0" "$?" 0
ok "...says so" grep -qx 'forkpool: configuration OK' "$T/n.out"
"$FORKPOOL" -n -f "$T/range.conf" >"$T/n.out" 2>&1
is "-n, a value out of range: exit 1" "$?" 1
ok "...with the file and line" grep -q "range.conf:2: queue 0" "$T/n.out"
"$FORKPOOL" -n -f "$T/unknown.conf" >"$T/n.out" 2>&1
ok "-n, an unknown key: its line number" grep -q "unknown.conf:3: unknown key mystery" "$T/n.out"
"$FORKPOOL" -n -f "$T/nohandler.conf" >"$T/n.out" 2>&1
is "-n, no handler anywhere: a usage error" "$?" 2
"$FORKPOOL" -n -f "$T/badhandler.conf" >"$T/n.out" 2>&1
is "-n, an unknown builtin: exit 1" "$?" 1
"$FORKPOOL" -n -f "$T/missing.conf" >"$T/n.out" 2>&1
ok "-n, a missing file: exit 1, named" grep -q "missing.conf: No such file" "$T/n.out"

# A value means the same in the file as on the command line.
printf 'listen = %s\nlisten_mode = 0\nhandler = builtin:fnv\n' "$sock" \
    >"$T/mode0.conf"
"$FORKPOOL" -n -f "$T/mode0.conf" >"$T/n.out" 2>&1
is "listen_mode = 0: refused, as --socket-mode 0 is (exit 1)" "$?" 1
ok "...saying why" grep -q "mode0.conf:2: listen_mode 0: not an octal mode from 1 to 0777" \
    "$T/n.out"
"$FORKPOOL" -n --listen "$sock" --socket-mode 0 builtin:fnv >"$T/n.out" 2>&1
is "--socket-mode 0: a usage error" "$?" 2
"$FORKPOOL" -n --rate-limit 0 builtin:fnv >"$T/n.out" 2>&1
is "--rate-limit 0: no limit, as rate_limit = 0 is" "$?" 0
"$FORKPOOL" -n -t none --max-rss none --max-jobs none --window adaptive \
    --heartbeat-timeout none --shutdown-timeout none builtin:fnv \
    >"$T/n.out" 2>&1
is "none and adaptive are taken on the command line too" "$?" 0
printf 'workers = 2-4\nrestart_intensity = 3/2.5\nhandler = builtin:fnv\n' \
    >"$T/dash.conf"
"$FORKPOOL" -n -f "$T/dash.conf" >"$T/n.out" 2>&1
is "workers = 2-4 and restart_intensity = 3/2.5, as on the command line" \
    "$?" 0
"$FORKPOOL" -n -w '2 4' --restart-intensity '3 2.5' builtin:fnv \
    >"$T/n.out" 2>&1
is "-w '2 4' and --restart-intensity '3 2.5', as in the file" "$?" 0
"$FORKPOOL" -n --listen "$sock" --socket-group "$(id -g)" \
    --allow-group "$(id -g)" builtin:fnv >"$T/n.out" 2>&1
is "--socket-group and --allow-group, as listen_group and allow_groups" \
    "$?" 0

# A service from the file, with -w on the command line winning over it; a
# stand-in notify socket sees READY=1 only once every worker is up.
python3 "$TESTS_SRCDIR/notify-recv.py" "$T/notify.sock" "$T/notify.log" &
track $!
wait_for 10 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock fp_bg /dev/null "$T/svc.out" "$T/svc.err" \
    -f "$T/good.conf" -w 2
sup=$fp_pid
wait_for 10 test -S "$sock"
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" submit 200 >"$T/submit.out"
is "the service serves the file's socket and handler" "$?" 0
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" status json >"$T/status.json"
ok "-w 2 on the command line beats workers = 3" python3 -c '
import json, sys
sys.exit(0 if len(json.load(open(sys.argv[1]))["workers"]) == 2 else 1)' \
    "$T/status.json"
ok "notify: READY=1 arrives" wait_for 10 grep -qx 'READY=1' "$T/notify.log"
is "notify: exactly once" "$(grep -cx 'READY=1' "$T/notify.log")" 1
is "notify: after the first worker alone was up, before the second" \
    "$(grep -nx -e 'STATUS=1 of 2 workers ready' -e 'READY=1' \
    "$T/notify.log" | cut -d: -f2 | tr '\n' ,)" \
    "STATUS=1 of 2 workers ready,READY=1,"
kill -TERM "$sup"
fp_wait "$sup"
ok "notify: STOPPING=1 on SIGTERM" grep -qx 'STOPPING=1' "$T/notify.log"
finish
