# Functions for the tests of service mode, sourced after lib.sh:
#
#	. "$TESTS_SRCDIR/service-lib.sh"
#	start_service 2 builtin:fnv	# -w 2 on $sock, its pid in $sup
#	ctl submit a b c		# forkpoolctl on $sock
#	stop_service			# SIGTERM; the exit status in $fp_rc
#
# The service's output and log are $T/svc.out and $T/svc.err.  $sock may
# be set to another path before start_service or ctl.

CTL=${FORKPOOLCTL:-$TESTS_BUILDDIR/../forkpoolctl}
sock=$T/fp.sock

# start_service [-n] N ARGS...: a service of N workers (-w N; N may be a
# range MIN-MAX) on $sock, with the other arguments, its pid in $sup.
# Returns once the socket is there and the first N (or MIN) workers are
# up, or with -n (for a test of how they start) once the socket is there.
# The workers up are killed at exit if the test leaves them behind.
start_service() {
	ss_wait=yes
	if [ "$1" = -n ]; then
		ss_wait=no
		shift
	fi
	ss_workers=$1
	shift
	rm -f "$T/svc.err"
	fp_bg /dev/null "$T/svc.out" "$T/svc.err" --listen "$sock" \
	    -w "$ss_workers" "$@"
	sup=$fp_pid
	if ! wait_for 10 test -S "$sock"; then
		diag "no socket at $sock"
		diag_file "$T/svc.err"
	fi
	[ "$ss_wait" = no ] ||
	    wait_for 10 nworkers_is "${ss_workers%%-*}" "$sup"
	stray_workers $(workers_of "$sup")
}

# stop_service: SIGTERM, and a bounded wait for the supervisor to end; its
# exit status is in $fp_rc.
stop_service() {
	kill -TERM "$sup"
	fp_wait "$sup"
}

# ctl ARGS...: forkpoolctl on the service at $sock, bounded: a service
# that does not answer must not hang the test.  Its exit status is
# returned, and kept in $ctl_rc; its output goes where the caller sends
# it.
ctl() {
	timeout "$((20 * ${FORKPOOL_TEST_SCALE:-1}))" \
	    "$CTL" -s "$sock" "$@" 3>&- 4>&- 5>&- 6>&-
	ctl_rc=$?
	return "$ctl_rc"
}

# ctl_kept ARGS...: ctl with its output kept in $T/ctl.out and $T/ctl.err.
ctl_kept() {
	ctl "$@" >"$T/ctl.out" 2>"$T/ctl.err"
}

# nslots: how many worker slots the status lists, each with a pid.
nslots() {
	ctl status | awk '/^[0-9]+ +[0-9]+ / { n++ } END { print n + 0 }'
}

# slots_are N: the status lists exactly N worker slots.
slots_are() {
	[ "$(nslots)" -eq "$1" ]
}

# busy: a worker is busy with a job.
busy() {
	ctl status | grep -q ' busy '
}
