# Functions for the tests of the Redis source, sourced after lib.sh:
#
#	. "$TESTS_SRCDIR/redis-lib.sh"
#	redis_skip_unless_ready		# TAP "1..0 # SKIP" and exit if no server
#	redis_start			# a private server on $T/redis.sock
#	rcli XLEN 'forkpool:{p}:results'
#	redis_stop
#
# The server is this test's own: a Unix socket in $T, no TCP port, its
# data (an append-only file, synced on every write) in $T/redis.d, so that
# a restart finds what was there.  lib.sh's cleanup kills it at exit.

CTL=${FORKPOOLCTL:-$TESTS_BUILDDIR/../forkpoolctl}
REDIS_SOCK=$T/redis.sock
REDIS_URL_BASE=redis+unix://$REDIS_SOCK

# redis_skip_unless_ready: skips the whole test when this build has no
# Redis support (redis-basic.sh checks what it says then) or there is no
# redis-server to test against.
redis_skip_unless_ready() {
	if [ "${FORKPOOL_HAVE_REDIS:-yes}" != yes ]; then
		echo "1..0 # SKIP built without Redis support"
		exit 0
	fi
	if ! command -v redis-server >/dev/null 2>&1 ||
	    ! command -v redis-cli >/dev/null 2>&1; then
		echo "1..0 # SKIP no redis-server (Debian: apt-get install redis-server)"
		exit 0
	fi
}

# redis_py_or_skip: $PY, a Python with redis-py (Debian: python3-redis),
# or the whole test skipped.
redis_py_or_skip() {
	PY=
	for rp_py in python3 /usr/bin/python3; do
		if "$rp_py" -c 'import redis' >/dev/null 2>&1; then
			PY=$rp_py
			return
		fi
	done
	echo "1..0 # SKIP no redis-py (Debian: apt-get install python3-redis)"
	exit 0
}

rcli() {
	redis-cli -s "$REDIS_SOCK" "$@" 3>&- 4>&- 5>&- 6>&-
}

redis_up() {
	[ "$(rcli PING 2>/dev/null)" = PONG ]
}

# redis_spawn [OPTION...]: starts (or starts again) the server, with more
# redis-server options, and does not wait; its pid in $redis_pid.
redis_spawn() {
	mkdir -p "$T/redis.d"
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
	    --dir "$T/redis.d" --appendonly yes --appendfsync always \
	    --save '' --daemonize no --logfile "$T/redis.log" "$@" \
	    </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- &
	redis_pid=$!
	track "$redis_pid"
}

# redis_start: redis_spawn, then waits until it answers.
redis_start() {
	redis_spawn
	if ! wait_for 20 redis_up; then
		diag "redis-server did not come up"
		diag_file "$T/redis.log"
	fi
}

# redis_stop: SHUTDOWN, which writes everything out first, and a wait.
redis_stop() {
	rcli SHUTDOWN >/dev/null 2>&1
	fp_wait "$redis_pid" 20
}

# sup_start NAME ARGS...: a supervisor in the background, its log in
# $T/NAME.err, its pid in $sup_NAME (and $sup).
sup_start() {
	ss_name=$1
	shift
	fp_bg /dev/null "$T/$ss_name.out" "$T/$ss_name.err" -v "$@"
	sup=$fp_pid
	eval "sup_$ss_name=\$fp_pid"
}

# sup_pair URL: supervisors a and b on the pool, 8 partitions, each its
# own consumer, a claim idle time of 1 s and two builtin:sleep workers,
# both connected: a pair to kill one of.
sup_pair() {
	for sp_name in a b; do
		sup_start "$sp_name" --source "$1" --partitions 8 \
		    --consumer "$sp_name" --claim-idle 1 -w 2 builtin:sleep
		stray_workers $(workers_of "$sup")
		wait_for 20 has connected "$T/$sp_name.err" ||
		    diag "supervisor $sp_name did not connect"
	done
}

# taken_over JOBS GOT: three tests of a run where sup_pair's a was killed:
# every job of the file JOBS is in GOT once, each key in order, and b
# took a's entries over.
taken_over() {
	sort "$1" >"$1.sorted"
	sort "$2" >"$2.sorted"
	same_file "...each job once" "$2.sorted" "$1.sorted"
	ok "...each key in order" per_key_order 1 2 "$2"
	ok "...b took a's entries over" \
	    grep -q 'took over .* from consumer a$' "$T/b.err"
}

# ctl ARGS...: forkpoolctl, output in $T/ctl.out and $T/ctl.err, status
# in $ctl_rc.
ctl() {
	"$CTL" "$@" >"$T/ctl.out" 2>"$T/ctl.err" 3>&- 4>&- 5>&- 6>&-
	ctl_rc=$?
}

# xlen KEY: the length of a stream (0 if there is none).
xlen() {
	rcli XLEN "$1"
}

# not_has TEXT FILE: the file does not contain the fixed string.
not_has() {
	! grep -qF -e "$1" "$2"
}

# xlen_is N KEY: the stream has N entries.
xlen_is() {
	[ "$(xlen "$2")" -eq "$1" ]
}

# pending_of POOL PARTITIONS CONSUMER: the entries a consumer holds.
pending_of() {
	po_n=0
	po_i=0
	while [ "$po_i" -lt "$2" ]; do
		po_c=$(rcli XPENDING "forkpool:{$1}:p$po_i" "$1" - + 1000 "$3" \
		    2>/dev/null | grep -c "^$3\$")
		po_n=$((po_n + po_c))
		po_i=$((po_i + 1))
	done
	echo "$po_n"
}

holds_some() {
	[ "$(pending_of "$1" "$2" "$3")" -gt 0 ]
}

# pool_drained POOL PARTITIONS: every partition stream is empty.
pool_drained() {
	pd_i=0
	while [ "$pd_i" -lt "$2" ]; do
		[ "$(xlen "forkpool:{$1}:p$pd_i")" -eq 0 ] || return 1
		pd_i=$((pd_i + 1))
	done
}

# fields NAME STREAM: the value of field NAME of each entry, in order, a
# line each (values are one-line here).
fields() {
	rcli EVAL "local o = {}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == ARGV[1] then o[#o + 1] = f[i + 1] end
  end
end
return o" 1 "$2" "$1"
}

# ns STRING...: each string as a netstring (ASCII only), as a packed
# entry's payloads, keys and refs are.
ns() {
	for ns_s in "$@"; do
		printf '%d:%s,' "${#ns_s}" "$ns_s"
	done
}
