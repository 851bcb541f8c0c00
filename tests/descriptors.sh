#!/bin/sh
# Descriptor hygiene.  Each worker holds descriptors 0 to 3 and nothing
# else: /dev/null, the supervisor's standard error twice, and its own end
# of its link, a socket whose peer only the supervisor holds; in batch
# mode with a --failed file open, in service mode with a listening socket,
# a pidfile, a notify socket and clients connected, after a restart and
# after scaling up.  The supervisor's own descriptors come back to their
# count after clients and workers come and go.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 16

fds_of() {
	ls "/proc/$1/fd" 2>/dev/null | sort -n | tr '\n' ' '
}
link_of() {
	readlink "/proc/$1/fd/$2" 2>/dev/null
}
nfds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}
fds_are() {
	[ "$(nfds "$1")" -eq "$2" ]
}
# peer INODE: the inode of the other end of a Unix socket, from ss(8).
peer() {
	ss -xH 2>/dev/null | awk -v i="$1" '$6 == i { print $8; exit }'
}
if ss -xH >/dev/null 2>&1; then have_ss=1; else have_ss=; fi

# clean_workers SUP N: the supervisor has N workers, each with exactly
# its four descriptors, each link its own, each peer in the supervisor.
clean_workers() {
	cw_sup=$1
	[ "$(workers_of "$cw_sup" | wc -l)" -eq "$2" ] || {
		diag "not $2 workers"
		return 1
	}
	cw_err=$(link_of "$cw_sup" 2)
	cw_mine=$(for cw_fd in $(fds_of "$cw_sup"); do
		link_of "$cw_sup" "$cw_fd"
	done | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
	cw_links=
	for cw_w in $(workers_of "$cw_sup"); do
		if [ "$(fds_of "$cw_w")" != "0 1 2 3 " ]; then
			diag "worker $cw_w has descriptors $(fds_of "$cw_w")"
			return 1
		fi
		if [ "$(link_of "$cw_w" 0)" != /dev/null ] ||
		    [ "$(link_of "$cw_w" 1)" != "$cw_err" ] ||
		    [ "$(link_of "$cw_w" 2)" != "$cw_err" ]; then
			diag "worker $cw_w: 0, 1, 2 are $(link_of "$cw_w" 0)," \
			    "$(link_of "$cw_w" 1), $(link_of "$cw_w" 2)"
			return 1
		fi
		cw_link=$(link_of "$cw_w" 3 | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
		case " $cw_links " in
		*" $cw_link "*)
			diag "worker $cw_w shares its link $cw_link"
			return 1 ;;
		esac
		[ -n "$cw_link" ] || {
			diag "worker $cw_w: 3 is $(link_of "$cw_w" 3)"
			return 1
		}
		cw_links="$cw_links $cw_link"
		[ -n "$have_ss" ] || continue
		cw_peer=$(peer "$cw_link")
		if ! echo "$cw_mine" | grep -qx "${cw_peer:-none}"; then
			diag "worker $cw_w: the peer of its link ($cw_peer) is not" \
			    "the supervisor's"
			return 1
		fi
	done
}

# --- batch ------------------------------------------------------------------------

mkfifo "$T/in.fifo"
exec 3<>"$T/in.fifo"
fp_bg "$T/in.fifo" "$T/out" "$T/err" -w 3 --failed "$T/failed" builtin:echo
sup=$fp_pid
wait_for 10 nworkers_is 3 "$sup"
stray_workers $(workers_of "$sup")
ok "batch: each worker holds 0 to 3 only, its own link" clean_workers "$sup" 3
ok "...not the --failed file" eval '! ls -l /proc/$(workers_of "$sup" |
    head -n 1)/fd | grep -q failed'
victim=$(workers_of "$sup" | head -n 1)
kill -9 "$victim"
wait_for 10 refilled 3 "$sup" "$victim"
stray_workers $(workers_of "$sup")
ok "batch, after a restart: the new worker is as clean" clean_workers "$sup" 3
echo hello >&3
wait_for 10 has hello "$T/out"
exec 3>&-
fp_wait "$sup"
is "batch: the run ends normally" "$fp_rc" 0

# --- service -------------------------------------------------------------------------

NOTIFY_SOCKET=$T/notify.sock
export NOTIFY_SOCKET
start_service 2 builtin:fnv
unset NOTIFY_SOCKET
base=$(nfds "$sup")
ok "service: each worker holds 0 to 3 only, its own link" \
    clean_workers "$sup" 2
ok "...while the supervisor holds the pidfile" \
    eval 'ls -l "/proc/$sup/fd" | grep -q "fp.sock.pid$"'

# Two clients that stay connected, each until its FIFO reaches its end.
hold() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
sys.stdin.read()' "$sock" <"$1" 4>&- 5>&- &
	track "$!"
}
mkfifo "$T/h1" "$T/h2"
exec 4<>"$T/h1" 5<>"$T/h2"
hold "$T/h1"
h1=$!
hold "$T/h2"
h2=$!
ok "two clients connected" wait_for 10 fds_are "$sup" $((base + 2))
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" control "scale 4" >/dev/null
wait_for 10 nworkers_is 4 "$sup"
stray_workers $(workers_of "$sup")
ok "scaled to 4 with clients connected: the new workers hold none of them" \
    clean_workers "$sup" 4
victim=$(workers_of "$sup" | tail -n 1)
kill -9 "$victim"
wait_for 10 refilled 4 "$sup" "$victim"
stray_workers $(workers_of "$sup")
ok "after a restart: the new worker is as clean" clean_workers "$sup" 4
exec 4>&- 5>&-
fp_wait "$h1" 10
fp_wait "$h2" 10
python3 "$TESTS_SRCDIR/fpclient.py" "$sock" control "scale 2" >/dev/null
ok "clients gone, scaled back to 2: the supervisor has its $base descriptors" \
    wait_for 10 fds_are "$sup" "$base" || diag "now $(nfds "$sup")"

# 20 clients, each with a job, one after the other; 3 workers killed, each
# replaced at once.
i=0
while [ $i -lt 20 ]; do
	ctl submit "job $i" >/dev/null || break
	i=$((i + 1))
done
is "20 clients served one after the other" "$i" 20
for k in 1 2 3; do
	victim=$(workers_of "$sup" | head -n 1)
	kill -9 "$victim"
	wait_for 10 refilled 2 "$sup" "$victim"
done
stray_workers $(workers_of "$sup")
ok "after 20 clients and 3 restarts: still $base descriptors" \
    wait_for 10 fds_are "$sup" "$base" || diag "now $(nfds "$sup")"
ok "...and the workers still clean" clean_workers "$sup" 2
stop_service
is "service: drains and exits 0" "$fp_rc" 0
if [ -n "$have_ss" ]; then
	pass "the links' peers were checked with ss(8)"
else
	skip "the links' peers were checked with ss(8)" "no ss(8) here"
fi
ok "the log has no complaint about a descriptor" \
    eval '! grep -qi "bad file descriptor" "$T/svc.err" "$T/err"'
finish
