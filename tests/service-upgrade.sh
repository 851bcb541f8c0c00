#!/bin/sh
# SIGUSR2: the service runs its binary again with the listening socket
# handed over.  Eight clients submitting keyed jobs across the upgrade get
# every result once and in order, and no connection is refused; the old
# supervisor exits 0, the new one serves and holds the pidfile, and
# systemd is told its pid.  A new binary that cannot run, exits, or is
# not ready within start_timeout leaves the old one serving.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/service-lib.sh"
plan 19

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# The service runs from a copy of the binary, which each case replaces.
cp "$FORKPOOL" "$T/forkpool"
install_binary() {
	cp "$1" "$T/forkpool.new" && chmod +x "$T/forkpool.new" &&
	    mv -f "$T/forkpool.new" "$T/forkpool"
}
printf '#!/bin/sh\nexit 1\n' >"$T/exits"
printf '#!/bin/sh\nexec sleep 60\n' >"$T/hangs"
: >"$T/fp.conf"

# Every job is recorded as it runs, so that one run twice shows.
handler="lines:sh -c 'while read -r l; do echo \"\$l\" >>$T/ran; echo \"\$l\"; done'"

$PY "$TESTS_SRCDIR/notify-recv.py" "$T/notify.sock" "$T/notify.log" &
track $!
wait_for 10 test -S "$T/notify.sock"

# In a session of its own: the new supervisor outlives the old one, our
# child, and is found and stopped through the session at the end.
NOTIFY_SOCKET=$T/notify.sock FORKPOOL=$T/forkpool fp_bg_session /dev/null \
    "$T/svc.out" "$T/svc.err" --listen "$sock" -w 2 -v -f "$T/fp.conf" \
    --start-timeout 3 "$handler"
old=$fp_pid
sid=$old
trap 'for p in $(session_procs "$sid"); do kill -9 "$p"; done; tap_cleanup' EXIT
wait_for 10 nworkers_is 2 "$old"

progress() {
	for c in 0 1 2 3 4 5 6 7; do
		pr_n=$(cat "$T/cnt.$c" 2>/dev/null)
		[ "${pr_n:-0}" -ge "$1" ] || return 1
	done
}
$PY "$TESTS_SRCDIR/upgrade-client.py" "$sock" 8 "$T/stop" "$T/cnt" \
    >"$T/client.out" 2>&1 &
client=$!
track "$client"
ok "the clients are served" wait_for 20 progress 5

install_binary "$FORKPOOL"
kill -USR2 "$old"
ok "the old supervisor exits once the new one serves" \
    wait_for 20 proc_gone "$old"
wait "$old"
is "the old supervisor's exit status" "$?" 0
new=$(cat "$sock.pid")
ok "the pidfile names the new supervisor" \
    eval '[ "$new" != "$old" ] && proc_alive "$new"'
ok "systemd is told the new main pid" has "MAINPID=$new" "$T/notify.log"
before=$(cat "$T"/cnt.[0-7] | awk '{ n += $1 } END { print n }')
ok "the clients go on with the new supervisor" \
    wait_for 20 progress $((before / 8 + 10))
touch "$T/stop"
wait "$client"
is "every result once, in order, none refused" \
    "$(sed 's/^results [0-9]* //' "$T/client.out")" \
    "wrong 0 order 0 refused 0 reconnects 8"
results=$(awk '{ print $2 }' "$T/client.out")
is "each job ran once" "$(sort "$T/ran" | uniq -d | wc -l) $(wc -l <"$T/ran")" \
    "0 $results"
ok "forkpoolctl status reaches the new supervisor" eval "ctl status >/dev/null"
ok "one log line names the handover" \
    has "upgrade: pid $new serves; finishing the jobs taken, then exiting" \
    "$T/svc.err"

# A new binary that exits before it is ready.
install_binary "$T/exits"
kill -USR2 "$new"
ok "a binary that exits: the old one goes on" wait_for 10 has \
    "the new supervisor (pid" "$T/svc.err"
ok "  and says so in one line" has "exited before it was ready; still serving" \
    "$T/svc.err"
is "  and serves" "$(ctl submit x)" "x"

# One that is not there.
rm -f "$T/forkpool"
kill -USR2 "$new"
ok "a binary that is not there: said" wait_for 10 has \
    "upgrade: cannot run $T/forkpool: No such file or directory; still serving" \
    "$T/svc.err"

# One that hangs, killed after start_timeout.
install_binary "$T/hangs"
kill -USR2 "$new"
ok "a binary that never gets ready is killed after start_timeout" \
    wait_for 20 has "was not ready within start_timeout; killed it" \
    "$T/svc.err"

# A configuration made invalid: the new supervisor refuses it.
install_binary "$FORKPOOL"
echo "no_such_setting = 1" >"$T/fp.conf"
kill -USR2 "$new"
ok "an invalid configuration: the old one goes on" wait_for 10 eval \
    '[ "$(grep -c "exited before it was ready" "$T/svc.err")" -eq 2 ]'
is "  and serves" "$(ctl submit y)" "y"

kill -TERM "$new"
ok "the new supervisor stops on SIGTERM" wait_for 20 session_empty "$sid"
ok "  and removes the socket it was handed" test ! -e "$sock"
finish
