#!/bin/sh
# Nothing a handler's program starts outlives its worker, however deep:
# a child in the program's group, one in a session of its own (setsid)
# and one a subshell left behind (reparented), on every path a worker
# ends by: a job timeout, a recycle, a reload, SIGTERM, SIGINT twice and
# the supervisor's SIGKILL.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 13

# Each program leaves three sleeps behind it, named by its worker's pid
# (1<pid>, 2<pid>, 3<pid> seconds), and hangs on a line "hang".  They run
# as $nap, a name of this test's own, so that no other sleep on the
# machine is taken for one of them, or killed.
nap=$T/nap
ln -s "$(command -v sleep)" "$nap"
cat >"$T/leaver" <<EOF
$nap 1\$PPID & setsid $nap 2\$PPID & ($nap 3\$PPID &)
while IFS= read -r l; do
	case \$l in hang) $nap 4\$PPID;; esac
	printf '%s\\n' "\$l"
done
EOF
prog="lines:sh $T/leaver"

# The pids of the workers whose leftovers are running.
owners() {
	ps -e -o args= | awk -v nap="$nap" '
		$1 == nap && NF == 2 && $2 ~ /^[1-4][0-9]+$/ {
			print substr($2, 2)
		}' | sort -u
}
# orphans: leftovers whose worker is gone (none: true).
no_orphans() {
	for o_pid in $(owners); do
		worker_alive "$o_pid" || return 1
	done
	return 0
}
no_leftovers() {
	[ -z "$(owners)" ]
}
has_leftovers() {
	[ -n "$(owners)" ]
}
cleanup_leftovers() {
	for o_pid in $(owners); do
		pkill -KILL -f "^$nap [1-4]$o_pid\$" 2>/dev/null
	done
}
# feed FIFO: holds the FIFO open on descriptor 3, so forkpool sees no EOF.
feed() {
	mkfifo "$1"
	exec 3<>"$1"
}
report() {
	diag "left: $(ps -e -o pid= -o args= | grep -F "$nap ")"
	cleanup_leftovers
}

# --- the supervisor's ends ------------------------------------------------------

for how in TERM INT2 KILL; do
	feed "$T/in.$how"
	fp_bg "$T/in.$how" "$T/out.$how" "$T/err.$how" -w 2 "$prog"
	sup=$fp_pid
	wait_for 10 nworkers_is 2 "$sup"
	stray_workers $(workers_of "$sup")
	wait_for 10 has_leftovers
	case $how in
	TERM)	kill -TERM "$sup"; what="SIGTERM" ;;
	INT2)	kill -INT "$sup"; wait_for 5 has 'finishing' "$T/err.$how"
		kill -INT "$sup"; what="SIGINT twice" ;;
	KILL)	kill -KILL "$sup"; what="the supervisor's SIGKILL" ;;
	esac
	exec 3>&-
	fp_wait "$sup"
	ok "$what: nothing the programs started is left" \
	    wait_for 10 no_leftovers || report
done

# --- a worker's ends while the pool goes on ---------------------------------------

# A job timeout: the worker gets SIGTERM, and its program's whole tree goes.
feed "$T/in.t"
fp_bg "$T/in.t" "$T/out.t" "$T/err.t" -w 1 -t 0.5 -a 1 "$prog"
sup=$fp_pid
printf 'a\nhang\nb\n' >&3
wait_for 10 lines_at_least 2 "$T/out.t"
ok "a job timeout: the line is reported" has 'line 2 failed: timeout' \
    "$T/err.t" || diag_file "$T/err.t"
ok "...and the timed-out worker's program left nothing" wait_for 10 no_orphans ||
    report
ok "...while its replacement's program runs" has_leftovers
exec 3>&-
fp_wait "$sup"
is "...the run ends (1)" "$fp_rc" 1
ok "...and then nothing is left at all" wait_for 10 no_leftovers || report

# A recycle: every 3 jobs the worker is replaced, new before old.
seq 12 >"$T/r.in"
feed "$T/in.r"
fp_bg "$T/in.r" "$T/out.r" "$T/err.r" -w 1 --max-jobs 3 "$prog"
sup=$fp_pid
cat "$T/r.in" >&3
wait_for 10 lines_at_least 12 "$T/out.r"
same_file "recycling every 3 jobs: every result" "$T/out.r" "$T/r.in"
ok "...and each recycled worker's program left nothing" \
    wait_for 10 no_orphans || report
exec 3>&-
fp_wait "$sup"

# A reload that changes the handler rolls every worker over.
if config_files; then
	sock=$T/fp.sock
	printf 'workers = 2\nhandler = %s\n' "$prog" >"$T/fp.conf"
	fp_bg /dev/null "$T/svc.out" "$T/svc.err" -f "$T/fp.conf" \
	    --listen "$sock" -v
	sup=$fp_pid
	wait_for 10 test -S "$sock"
	wait_for 10 has_leftovers
	first=$(owners | tr '\n' ' ')
	printf 'workers = 2\nhandler = %s x\n' "$prog" >"$T/fp.conf"
	kill -HUP "$sup"
	ok "a reload rolls the workers over" \
	    wait_for 20 has 'every worker runs the new configuration' \
	    "$T/svc.err"
	gone() {
		for g_pid in $first; do
			owners | grep -qx "$g_pid" && return 1
		done
		return 0
	}
	ok "...and the old workers' programs left nothing" wait_for 10 gone ||
	    report
	kill -TERM "$sup"
	fp_wait "$sup"
	ok "...and at its end nothing is left" wait_for 10 no_leftovers ||
	    report
else
	skip "a reload" "built without libinih"
	skip "...old workers" "built without libinih"
	skip "...at its end" "built without libinih"
fi
finish
