#!/bin/sh
# The Redis source with one supervisor on a private redis-server: the
# URL and option checks, 100,000 jobs with every result checked, keyed
# jobs in order, the pool's status, the partition count agreed between
# producers and supervisors, a consumer name in use, a poison job
# dead-lettered with its reason, malformed entries dead-lettered without
# losing anything, and a clean SIGTERM.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"

if [ "${FORKPOOL_HAVE_REDIS:-yes}" != yes ]; then
	plan 2
	"$FORKPOOL" --source redis://127.0.0.1/p builtin:echo </dev/null \
	    >/dev/null 2>"$T/err"
	is "built without hiredis: --source is refused (exit 2)" "$?" 2
	ok "...saying why" grep -qx 'forkpool: built without Redis support' \
	    "$T/err"
	finish
fi
redis_skip_unless_ready

plan 43

# --- the URL and the options, before anything connects ---------------------------

bad_source() {
	"$FORKPOOL" --source "$1" builtin:echo </dev/null >/dev/null \
	    2>"$T/bad.err"
	bs_rc=$?
	[ "$bs_rc" -eq 2 ] && grep -qF -e "$2" "$T/bad.err"
}
ok "a URL without a pool: exit 2, saying so" bad_source redis://h no pool
ok "a URL that is not Redis's" bad_source http://h/p 'not a Redis URL'
ok "a port out of range" bad_source redis://h:65536/p 'not a port'
ok "a bad pool name" bad_source 'redis://h/a{b}' 'the pool must be'
ok "a relative socket path" bad_source redis+unix://r.sock/p absolute
"$FORKPOOL" --source redis://h/p --listen "$T/s" builtin:echo </dev/null \
    >/dev/null 2>"$T/both.err"
is "--source with --listen: exit 2" "$?" 2
if config_files; then
	printf 'handler = builtin:echo\nsource = redis://h:0/p\n' >"$T/bad.conf"
	"$FORKPOOL" -n -f "$T/bad.conf" >/dev/null 2>"$T/conf.err"
	is "forkpool -n: a bad source in the file fails the check" "$?" 1
	ok "...naming the file and line" grep -q 'bad.conf:2: source' \
	    "$T/conf.err"
	printf 'handler = builtin:echo\nsource = redis://h/p\nconsumer = x1\nclaim_idle = 2.5\n' \
	    >"$T/good.conf"
	"$FORKPOOL" -n -f "$T/good.conf" >/dev/null 2>&1
	is "forkpool -n: source, consumer and claim_idle in a file" "$?" 0
else
	for i in 1 2 3; do
		skip "source keys in a file ($i)" "built without libinih"
	done
fi

# --- one supervisor, 100,000 jobs ---------------------------------------------------

redis_start
U=$REDIS_URL_BASE/t
ctl -r "$U" submit x
is "a producer before any supervisor and without -P: exit 2" "$ctl_rc" 2
ok "...saying the pool has no partition count yet" \
    grep -q 'no partition count' "$T/ctl.err"

sup_start one --source "$U" --partitions 16 --consumer one -w 2 builtin:fnv
ok "the supervisor connects" wait_for 20 has 'connected' "$T/one.err"
is "the partition count is in the pool's meta hash" \
    "$(rcli HGET 'forkpool:{t}:meta' partitions)" 16

seq 100000 >"$T/in"
"$FNVREF" <"$T/in" >"$T/want"
"$CTL" -r "$U" --json submit <"$T/in" >"$T/got.json" 2>"$T/got.err"
is "100,000 jobs: forkpoolctl exit status 0" "$?" 0
# Every id once, each with the fnv of its line.
awk 'NR == FNR { want[NR] = $0; next }
	{
		match($0, /"id":[0-9]+/); id = substr($0, RSTART + 5, RLENGTH - 5)
		match($0, /"result":"[0-9a-f]+"/)
		res = substr($0, RSTART + 10, RLENGTH - 11)
		if (!/"status":"ok"/ || seen[id]++ || want[id] != res) bad++
		n++
	}
	END { exit !(n == 100000 && bad == 0) }' "$T/want" "$T/got.json"
is "...every result once, each correct" "$?" 0
ok "...the partition streams are empty" pool_drained t 16
is "...the pool's results stream was not used" \
    "$(xlen 'forkpool:{t}:results')" 0

# --- keyed jobs, priority, status ----------------------------------------------------

ctl -r "$U" submit -k alice a b c d
printf 'a\nb\nc\nd\n' | "$FNVREF" >"$T/abcd"
same_file "keyed jobs: results in submission order" "$T/ctl.out" "$T/abcd"
ctl -r "$U" submit -p high a
is "a high-priority job" "$(cat "$T/ctl.out")" "$(head -n 1 "$T/abcd")"
ctl -r "$U" status
ok "status: the pool and its partitions" \
    grep -q '^pool t: 16 partitions, 0 entries' "$T/ctl.out"
ok "status: the consumer" grep -qE '^one +0 ' "$T/ctl.out"
ctl -r "$U" --json status
ok "status --json: parses, 16 streams, consumer one" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if len(d["streams"]) == 16 and d["consumers"][0]["name"] == "one"
    else 1)' "$T/ctl.out"

# --- the partition count: no silent disagreement -----------------------------------

ctl -r "$U" -P 8 submit x
is "a producer with another partition count: exit 2" "$ctl_rc" 2
ok "...saying the pool's" grep -q 'has 16 partitions in Redis' "$T/ctl.err"
fp_run /dev/null "$T/p8.out" "$T/p8.err" --source "$U" --partitions 8 \
    --consumer eight -w 1 builtin:fnv
is "a supervisor with another partition count: exit 2" "$fp_rc" 2
ok "...saying what to start it with" has 'start with --partitions 16' \
    "$T/p8.err"

# --- a consumer name in use ---------------------------------------------------------

sup_start twin --source "$U" --partitions 16 --consumer one -w 1 builtin:fnv
ok "a second supervisor as consumer one waits for the lease" \
    wait_for 20 has 'consumer one is in use by another supervisor' \
    "$T/twin.err"
kill -TERM "$sup_twin"
fp_wait "$sup_twin"
is "...and stops on SIGTERM (exit 0)" "$fp_rc" 0

# --- a poison job --------------------------------------------------------------------

P=$REDIS_URL_BASE/poison
sup_start crash --source "$P" --partitions 4 --consumer c -w 1 -a 2 \
    builtin:crash
stray_workers $(workers_of "$sup_crash")
# Until it has connected the pool has no partition count for forkpoolctl.
wait_for 20 has connected "$T/crash.err" ||
    diag "supervisor crash did not connect"
ctl -r "$P" submit fine 'two CRASH'
is "a job that crashes every attempt: forkpoolctl exit 1" "$ctl_rc" 1 ||
    diag_file "$T/ctl.err"
ok "...reported crashed after 2 attempts" \
    grep -q 'job 2: crashed after 2 attempts' "$T/ctl.err"
is "...the other job done" "$(cat "$T/ctl.out")" fine
is "...one dead letter" "$(xlen 'forkpool:{poison}:dead')" 1
is "...with the reason" "$(fields reason 'forkpool:{poison}:dead')" \
    'crashed after 2 attempts'
is "...and the entry's payload" "$(fields payload 'forkpool:{poison}:dead')" \
    'two CRASH'

# --- malformed entries ---------------------------------------------------------------

rcli XADD 'forkpool:{t}:p3' '*' data x >/dev/null
rcli XADD 'forkpool:{t}:p3' '*' payload x priority urgent >/dev/null
rcli XADD 'forkpool:{t}:p3' '*' payload x reply 'elsewhere' >/dev/null
# "alice" is in partition 7 of 16 (FNV-1a 32); put it in 0.
rcli XADD 'forkpool:{t}:p0' '*' payload x key alice >/dev/null
ok "four malformed entries: each dead-lettered" \
    wait_for 20 xlen_is 4 'forkpool:{t}:dead'
fields reason 'forkpool:{t}:dead' >"$T/reasons"
ok "...no payload" grep -qx 'no payload field' "$T/reasons"
ok "...a bad priority" grep -qx 'priority must be high or normal' "$T/reasons"
ok "...a reply stream outside the pool" \
    grep -q '^the reply stream must be named forkpool:{t}:reply:' "$T/reasons"
ok "...a key in the wrong partition" \
    grep -q '^its key belongs in partition 7, not 0' "$T/reasons"
is "...each answered as rejected in the pool's results" \
    "$(fields status 'forkpool:{t}:results' | sort | uniq -c | tr -s ' ')" \
    ' 4 rejected'
ctl -r "$U" submit after
is "...and the pool still serves" "$ctl_rc" 0

kill -TERM "$sup_one" "$sup_crash"
fp_wait "$sup_one"
is "SIGTERM: exit status 0" "$fp_rc" 0
is "...the lease is given up" "$(rcli EXISTS 'forkpool:{t}:lease:one')" 0
fp_wait "$sup_crash"
redis_stop
finish
