# A small TAP helper for the end-to-end scripts, sourced by each of them:
#
#	. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
#	plan 3
#	fp_run "$T/in" "$T/out" "$T/err" -w 2 builtin:echo
#	is "exit status 0" "$fp_rc" 0
#	same_file "output is input" "$T/out" "$T/in"
#	skip "worker descriptors" "no /proc here"
#	finish
#
# $T is a private temporary directory, removed at exit.  Every process
# started through fp_bg (or given to track) is killed at exit, with its
# children, the workers, if it is still running; so is every worker given
# to stray_workers.  A failing or interrupted script leaves nothing behind.
# Waits are bounded polls (wait_for), never fixed sleeps; set
# FORKPOOL_TEST_SCALE=N (an integer) to make every bound N times longer, for
# a slow machine or a FORKPOOL run under valgrind.
#
# Descriptors 3 to 6 belong to the scripts (they hold FIFOs open with them);
# forkpool gets them closed, so that it sees the EOF the script decides.

: "${FORKPOOL:?FORKPOOL is not set: run the tests with make check}"
: "${TESTS_BUILDDIR:?TESTS_BUILDDIR is not set: run the tests with make check}"
FNVREF=$TESTS_BUILDDIR/fnvref

tap_n=0
tap_planned=0
tap_failed=0
tap_pids=
tap_strays=

T=$(mktemp -d "${TMPDIR:-/tmp}/forkpool-test.XXXXXX") || {
	echo "Bail out! cannot make a temporary directory"
	exit 99
}

# --- TAP ----------------------------------------------------------------------

plan() {
	tap_planned=$1
	echo "1..$1"
}

# diag LINE...: each argument as a TAP comment line.
diag() {
	for dg_line in "$@"; do
		printf '%s\n' "$dg_line"
	done | sed 's/^/# /'
}

# diag_file FILE [LINES]: the first lines of a file, as comments.
diag_file() {
	if [ -s "$1" ]; then
		diag "--- $1:"
		head -n "${2:-20}" "$1" | cut -c 1-160 | sed 's/^/#   /'
	fi
}

pass() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1"
}

fail() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
}

# ok DESC CMD [ARGS...]: passes when the command succeeds.
ok() {
	tap_desc=$1
	shift
	if "$@"; then
		pass "$tap_desc"
	else
		fail "$tap_desc"
		return 1
	fi
}

# not_ok DESC CMD [ARGS...]: passes when the command fails.
not_ok() {
	tap_desc=$1
	shift
	if "$@"; then
		fail "$tap_desc"
		return 1
	else
		pass "$tap_desc"
	fi
}

# is DESC GOT WANT: passes when the two strings are equal.
is() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1"
		diag "got:  '$2'" "want: '$3'"
		return 1
	fi
}

# same_file DESC GOT WANT: passes when the two files are byte-identical.
same_file() {
	if cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1"
		diag "$2 ($(wc -l <"$2") lines) differs from $3 ($(wc -l <"$3") lines):"
		diff "$3" "$2" 2>&1 | head -n 10 | cut -c 1-160 | sed 's/^/#   /'
		return 1
	fi
}

# skip DESC REASON
skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}

# finish: the exit status says whether the whole plan ran and passed.
finish() {
	if [ "$tap_n" -ne "$tap_planned" ]; then
		diag "planned $tap_planned tests but ran $tap_n"
		exit 1
	fi
	[ "$tap_failed" -eq 0 ] || exit 1
	exit 0
}

# config_files: whether this forkpool reads configuration files (a build
# with libinih, as configure finds it).
config_files() {
	[ "${FORKPOOL_HAVE_INIH:-yes}" = yes ]
}

# needs_config_files: a script about configuration files skips whole in a
# build without them.
needs_config_files() {
	config_files && return 0
	echo "1..0 # SKIP built without libinih: no configuration files"
	exit 0
}

# --- waiting and looking --------------------------------------------------------

# wait_for SECONDS CMD [ARGS...]: runs the command every 0.05 s, at most
# SECONDS * 20 * FORKPOOL_TEST_SCALE times (SECONDS an integer), until it
# succeeds; fails if it never did.  On a busy machine each round takes
# longer, so the wait does.
wait_for() {
	wf_n=$(($1 * 20 * ${FORKPOOL_TEST_SCALE:-1}))
	shift
	while [ "$wf_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		wf_n=$((wf_n - 1))
	done
	"$@"
}

# lines_at_least N FILE
lines_at_least() {
	[ "$(wc -l <"$2")" -ge "$1" ]
}

# has TEXT FILE: the file contains the fixed string.
has() {
	grep -qF -e "$1" "$2"
}

# count TEXT FILE: how many lines contain the fixed string.
count() {
	grep -cF -e "$1" "$2"
}

# per_key_order KEYFIELD SEQFIELD FILE: within each key, the sequence
# numbers only increase.
per_key_order() {
	awk -v k="$1" -v s="$2" '
		($k in last) && $s + 0 <= last[$k] {
			if (bad++ < 5)
				printf "# key %s: %s came after %s\n", $k, $s, last[$k]
		}
		{ last[$k] = $s + 0 }
		END { exit bad > 0 }' "$3"
}

# --- processes ------------------------------------------------------------------

# track PID: a process of ours to kill at exit if it is still running.
track() {
	tap_pids="$tap_pids $1"
}

untrack() {
	tap_pids=$(for ut_pid in $tap_pids; do
		[ "$ut_pid" = "$1" ] || echo "$ut_pid"
	done)
}

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
	pa_stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $pa_stat in
	''|Z*)	return 1 ;;
	esac
	return 0
}

proc_gone() {
	! proc_alive "$1"
}

# args_of PID: the process title (ps -o args), empty if there is none.
args_of() {
	ps -o args= -p "$1" 2>/dev/null
}

# workers_of PID: the pids of the supervisor's live children, which are its
# workers: it starts no other process.  (Their titles are checked apart, so
# that the rest works under a wrapper such as valgrind too.)
workers_of() {
	for wo_pid in $(pgrep -P "$1"); do
		proc_alive "$wo_pid" && echo "$wo_pid"
	done
}

# nworkers_is N PID: the supervisor has exactly N live workers.
nworkers_is() {
	[ "$(workers_of "$2" | wc -l)" -eq "$1" ]
}

# refilled N SUP OLDPID: the supervisor has N workers again, and OLDPID is
# not one of them.
refilled() {
	nworkers_is "$1" "$2" || return 1
	! workers_of "$2" | grep -qx "$3"
}

# sleeping_worker SUP: prints one of the supervisor's workers that is
# inside a handler's sleep (its wchan says so); fails if there is none.
# Cheap (one pgrep, the rest builtins), to catch a worker in a short job
# even when the machine is busy.
sleeping_worker() {
	for sw_pid in $(pgrep -P "$1"); do
		sw_wchan=
		IFS= read -r sw_wchan <"/proc/$sw_pid/wchan" 2>/dev/null
		case $sw_wchan in
		*sleep*)	echo "$sw_pid"; return 0 ;;
		esac
	done
	return 1
}

# all_sleeping N SUP: N of the supervisor's workers are inside a handler's
# sleep (each one's wchan says so).
all_sleeping() {
	as_n=0
	for as_pid in $(workers_of "$2"); do
		case $(cat "/proc/$as_pid/wchan" 2>/dev/null) in
		*sleep*)	as_n=$((as_n + 1)) ;;
		esac
	done
	[ "$as_n" -eq "$1" ]
}

# worker_alive PID: a live process that is still a forkpool (so that a
# recycled pid does not count).
worker_alive() {
	proc_alive "$1" || return 1
	case $(args_of "$1") in
	*forkpool*)	return 0 ;;
	esac
	return 1
}

# no_worker_alive PID...: none of these workers is alive.
no_worker_alive() {
	for nw_pid in "$@"; do
		worker_alive "$nw_pid" && return 1
	done
	return 0
}

# stray_workers PID...: workers that could outlive their supervisor in a
# failing test; killed at exit if they do.
stray_workers() {
	tap_strays="$tap_strays $*"
}

# kill_tree PID: SIGKILL a process of ours and its children.
kill_tree() {
	for kt_child in $(pgrep -P "$1" 2>/dev/null); do
		kill -9 "$kt_child" 2>/dev/null
	done
	kill -9 "$1" 2>/dev/null
}

# --- running forkpool -------------------------------------------------------------

# fp_bg IN OUT ERR ARGS...: starts forkpool in the background with these
# files as stdin, stdout and stderr; its pid is in $fp_pid.  The files are
# opened in the background: a FIFO there waits for its other end.
fp_bg() {
	fp_in=$1 fp_out=$2 fp_err=$3
	shift 3
	"$FORKPOOL" "$@" <"$fp_in" >"$fp_out" 2>"$fp_err" 3>&- 4>&- 5>&- 6>&- &
	fp_pid=$!
	track "$fp_pid"
}

# fp_wait PID [SECONDS]: waits (bounded, default 20 s) for a background
# process to end; its exit status is in $fp_rc, "hung" if it had to be
# killed.
fp_wait() {
	if wait_for "${2:-20}" proc_gone "$1"; then
		wait "$1"
		fp_rc=$?
	else
		diag "pid $1 did not end: killing it"
		kill_tree "$1"
		wait "$1"
		fp_rc=hung
	fi
	untrack "$1"
}

# fp_bg_session IN OUT ERR ARGS...: fp_bg with forkpool in a session of its
# own (setsid(1), which does not fork here: a background job of this shell
# leads no process group).  The session's id is the supervisor's pid, and
# its workers stay in it, so session_procs finds them all, anywhere in the
# process table, even once their supervisor is gone.
fp_bg_session() {
	fb_in=$1 fb_out=$2 fb_err=$3
	shift 3
	setsid "$FORKPOOL" "$@" <"$fb_in" >"$fb_out" 2>"$fb_err" \
	    3>&- 4>&- 5>&- 6>&- &
	fp_pid=$!
	track "$fp_pid"
}

# session_procs SID: the live processes (not zombies) of a session.
session_procs() {
	ps -e -o sid= -o pid= -o stat= | awk -v s="$1" '
		$1 == s && $3 !~ /^Z/ { print $2 }'
}

# session_empty SID: no live process is left in the session.
session_empty() {
	[ -z "$(session_procs "$1")" ]
}

# fp_run IN OUT ERR ARGS...: runs forkpool to its end (bounded), stdin from
# the file IN; the exit status is in $fp_rc.
fp_run() {
	fp_bg "$@"
	fp_wait "$fp_pid" 60
}

# fp_pipe DATA OUT ERR ARGS...: the same with stdin a pipe fed from DATA.
fp_pipe() {
	fp_data=$1 fp_out=$2 fp_err=$3
	shift 3
	cat "$fp_data" | "$FORKPOOL" "$@" >"$fp_out" 2>"$fp_err" \
	    3>&- 4>&- 5>&- 6>&- &
	fp_pid=$!
	track "$fp_pid"
	fp_wait "$fp_pid" 60
}

# --- service clients ----------------------------------------------------------------

# client SOCK COMMAND ARGS...: tests/fpclient.py, the test client of the
# job socket.
client() {
	python3 "$TESTS_SRCDIR/fpclient.py" "$@"
}

# quiet CMD [ARGS...]: runs the command with its output thrown away.
quiet() {
	"$@" >/dev/null 2>&1
}

# --- fault injection (tests/faultinject.c) ------------------------------------------

# faulty VAR=VALUE...: from now on $FORKPOOL runs under the fault shim with
# these settings (FAULT_SEED among them), and so does every command given
# to under_faults; each process logs what it did to $T/faults.log, which
# this empties.
FP_UNFAULTED=$FORKPOOL
faulty() {
	{
		echo '#!/bin/sh'
		echo "export LD_PRELOAD='$TESTS_BUILDDIR/faultinject.so'"
		echo "export FAULT_LOG='$T/faults.log' $*"
		echo "export FAULT_ONLY=forkpool,forkpoolctl,lt-forkpoolctl,python3"
		echo 'exec "$@"'
	} >"$T/under-faults"
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$T/under-faults" \
	    "$FP_UNFAULTED" >"$T/faulty"
	chmod +x "$T/under-faults" "$T/faulty"
	FORKPOOL=$T/faulty
	rm -f "$T/faults.log"
}

# under_faults SEED CMD [ARGS...]: runs a command (a client) under the
# shim, with the settings of the last faulty call but a seed of its own.
under_faults() {
	uf_seed=$1
	shift
	"$T/under-faults" env FAULT_SEED="$uf_seed" "$@"
}

# fault_total FIELD [PROGRAM [parent|child]]: a count of $T/faults.log
# summed over the processes that logged, or those of one program, or its
# parent (forkpool: the supervisor) or children (forkpool: the workers).
fault_total() {
	awk -v f="$1" -v prog="${2:-}" -v who="${3:-}" '
		(prog == "" || $3 == prog) && (who == "" || $4 == who ":") {
			for (i = 5; i < NF; i += 2)
				if ($i == f)
					n += $(i + 1)
		}
		END { print n + 0 }' "$T/faults.log" 2>/dev/null || echo 0
}

# --- cleanup at exit, even on failure or interruption ----------------------------

tap_cleanup() {
	for tc_pid in $tap_pids; do
		# Only a child of this shell: never a recycled pid.
		[ "$(ps -o ppid= -p "$tc_pid" 2>/dev/null | tr -d ' ')" = "$$" ] ||
		    continue
		kill_tree "$tc_pid"
	done
	for tc_pid in $tap_strays; do
		worker_alive "$tc_pid" && kill -9 "$tc_pid" 2>/dev/null
	done
	rm -rf "$T"
}

trap 'tap_cleanup' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
