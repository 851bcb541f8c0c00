#!/bin/sh
# Producers pack jobs (doc/SCALING.md, "Packed entries") when the pool's
# meta hash says its supervisors read packs, and unpack their results.
# With no supervisor, forkpoolctl -r submit leaves packed entries in the
# partition streams, as the format says: at most N jobs (--pack, and the
# meta's packs), keyed jobs in their key's partition in submission order,
# keyed and unkeyed and high and normal never in one entry, detached jobs
# and lone ones plain, --pack 1 plain, no packs in meta plain.  A
# stand-in supervisor (tests/redis-pack-prod.py) answers packs with
# packed results, a malformed one among them: forkpoolctl and the Python
# producer print each result once.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

redis_py_or_skip
HELPER=$TESTS_SRCDIR/redis-pack-prod.py
PRODUCER=${PACK_PRODUCER:-$TESTS_SRCDIR/../contrib/python/forkpool_producer.py}
DRIVER=${PACK_DRIVER:-$TESTS_BUILDDIR/redis-pack-driver}

plan 17

redis_start

# pool NAME PARTITIONS [PACKS]: a pool's meta hash as its supervisors'
# set-up writes it, with packs if given.
pool() {
	rcli HSET "forkpool:{$1}:meta" partitions "$2" version 1 \
	    ${3:+packs "$3"} >/dev/null
}

# dump POOL: its entries and jobs, as redis-pack-prod.py says, in
# $T/POOL.entries (with a line "bad ..." for a broken pack) and
# $T/POOL.jobs ("KEY PAYLOAD" in each partition's order).
dump() {
	"$PY" "$HELPER" "$REDIS_SOCK" dump "$1" >"$T/$1.dump" 3>&- 4>&- 5>&- 6>&-
	grep -v '^job ' "$T/$1.dump" >"$T/$1.entries"
	sed -n 's/^job p[0-9]* //p' "$T/$1.dump" >"$T/$1.jobs"
}

# queue POOL PACKS ARGS...: the pool, and forkpoolctl -r submit of
# $T/jobs to it in the background, with no supervisor: it gives up after
# a second without results, its stderr in $T/POOL.err.  All at once, then
# queued_all waits for them and dumps each pool.
queue() {
	q_pool=$1
	pool "$1" 4 "$2"
	shift 2
	"$CTL" -r "$REDIS_URL_BASE/$q_pool" submit -t 1 "$@" <"$T/jobs" \
	    >/dev/null 2>"$T/$q_pool.err" 3>&- 4>&- 5>&- 6>&- &
	track $!
	queued="$queued $! $q_pool"
}

queued_all() {
	set -- $queued
	while [ $# -gt 0 ]; do
		fp_wait "$1"
		echo "$fp_rc" >"$T/$2.rc"
		dump "$2"
		shift 2
	done
}

# entries_are FORM MAX POOL: every entry is FORM (packed or plain), none
# has more than MAX jobs, some has MAX, and there is no broken one.
entries_are() {
	awk -v form="$1" -v max="$2" '
		$1 != "entry" || $3 != form || $4 > max { bad++ }
		$4 == max { full++ }
		END { exit bad > 0 || full == 0 }' "$T/$3.entries"
}

# all_jobs_in_order POOL: every job of $T/jobs once, each in its key's
# partition (no "bad" line), each key's in submission order.
all_jobs_in_order() {
	sort "$T/jobs" >"$T/want"
	cut -d ' ' -f 2- "$T/$1.jobs" | sort >"$T/got"
	cmp -s "$T/got" "$T/want" && ! grep -q '^bad' "$T/$1.entries" &&
	    cut -d ' ' -f 2- "$T/$1.jobs" >"$T/seq" &&
	    per_key_order 1 2 "$T/seq"
}

# --- what forkpoolctl leaves in the partition streams ------------------------------

awk 'BEGIN { for (i = 1; i <= 300; i++) printf "k%d %d\n", i % 10, i }' \
    >"$T/jobs"
queue kd 1024 -f 1
queue k16 1024 -f 1 --pack 16
queue k8 8 -f 1 --pack 64
queue k1 1024 -f 1 --pack 1
queue kn '' -f 1 --pack 64
queue kdet 1024 -d -f 1 --pack 64
queued_all
ok "300 keyed jobs, packs in meta: packed entries of at most 64 jobs" \
    entries_are packed 64 kd
# packed_in_order POOL: packed entries only, holding every job in order.
packed_in_order() {
	entries_are packed 64 "$1" && all_jobs_in_order "$1"
}
ok "...each job in its key's partition, each key's in submission order" \
    packed_in_order kd
printf '%s\n' 3 \
    "forkpoolctl: timeout: no result for 1 s; 300 jobs without one" \
    >"$T/want"
cat "$T/kd.rc" "$T/kd.err" >"$T/got"
ok "...each keyed and normal, with its reply stream; forkpoolctl gave up as before" \
    test "$(grep -cv ' keyed normal reply$' "$T/kd.entries")" -eq 0 -a \
    "$(grep -c ' packed ' "$T/kd.entries")" -gt 4 -a \
    "$(cmp "$T/got" "$T/want" && echo same)" = same
ok "--pack 16: no entry of more than 16 jobs" entries_are packed 16 k16
ok "packs 8 in meta: no entry of more than 8 jobs" entries_are packed 8 k8
ok "--pack 1: plain entries" entries_are plain 1 k1
ok "no packs in meta: plain entries" entries_are plain 1 kn
ok "...in order" all_jobs_in_order kn
ok "detached jobs, --pack 64: plain entries" entries_are plain 1 kdet

# --- libforkpool: which jobs share an entry ------------------------------------------

# One partition: every entry in the order made.  A job of other keyedness
# or priority sends the pack first; a detached one and a lone one go plain.
{
	printf 'k a a1\nk a a2\nk b b1\n- - u1\n- - u2\nkh a a3\nkh a a4\n'
	printf 'd - d1\nk a a5\nk a a6\nh - h1\n'
	awk 'BEGIN { for (i = 1; i <= 70; i++) printf "k c c%d\n", i }'
} >"$T/mixed"
pool mx 1 1024
"$DRIVER" "$REDIS_URL_BASE/mx" <"$T/mixed" >"$T/d.out" 2>&1 3>&- 4>&- 5>&- 6>&-
dump mx
{
cat <<'EOF'
entry p0 packed 3 keyed normal reply
entry p0 packed 2 unkeyed normal reply
entry p0 packed 2 keyed high reply
entry p0 plain 1 unkeyed normal noreply
entry p0 packed 2 keyed normal reply
entry p0 plain 1 unkeyed high reply
entry p0 packed 64 keyed normal reply
entry p0 packed 6 keyed normal reply
EOF
awk '{ print "job p0", $2, $3 }' "$T/mixed"
} >"$T/want"
same_file "keyed, unkeyed, high, normal, detached jobs: never in one entry, in order" \
    "$T/mx.dump" "$T/want"

# A pack holds 64 KiB of payloads, keys and refs: a bigger job goes alone.
printf 'k a 1\nk a 2\nk a 3\nkb a 70000\nkb a 40000\nkb a 40000\nk a 4\n' \
    >"$T/big"
pool bg 1 1024
"$DRIVER" "$REDIS_URL_BASE/bg" <"$T/big" >"$T/d.out" 2>&1 3>&- 4>&- 5>&- 6>&-
dump bg
cat >"$T/want" <<'EOF'
entry p0 packed 3 keyed normal reply
entry p0 plain 1 keyed normal reply
entry p0 plain 1 keyed normal reply
entry p0 packed 2 keyed normal reply
EOF
same_file "a job of 70,000 bytes alone, two of 40,000 in two entries" \
    "$T/bg.entries" "$T/want"

# Unkeyed jobs fill one partition's pack, then the next.
awk 'BEGIN { for (i = 1; i <= 130; i++) printf "- - u%d\n", i }' >"$T/unkeyed"
pool uk 4 1024
"$DRIVER" "$REDIS_URL_BASE/uk" <"$T/unkeyed" >"$T/d.out" 2>&1 3>&- 4>&- 5>&- 6>&-
dump uk
printf 'entry p%d packed %d unkeyed normal reply\n' 0 64 1 64 2 2 >"$T/want"
same_file "130 unkeyed jobs: 64 in p0, 64 in p1, 2 in p2" "$T/uk.entries" \
    "$T/want"

# --- results through a stand-in supervisor -------------------------------------------

pool sv 4 1024
"$PY" "$HELPER" "$REDIS_SOCK" serve sv >"$T/sv.out" 2>"$T/sv.err" \
    3>&- 4>&- 5>&- 6>&- &
standin=$!
track "$standin"
awk 'BEGIN { for (i = 1; i <= 400; i++)
	printf "%s %d\n", i == 77 ? "fail" : "k" i % 7, i }' >"$T/jobs"
"$CTL" -r "$REDIS_URL_BASE/sv" submit -f 1 -t 10 <"$T/jobs" >"$T/s.out" \
    2>"$T/s.err" 3>&- 4>&- 5>&- 6>&-
rc=$?
[ -s "$T/sv.err" ] && diag_file "$T/sv.err"
grep -v '^fail' "$T/jobs" | sort >"$T/want"
sort "$T/s.out" >"$T/got"
same_file "400 keyed jobs answered in packs: each ok result once, a malformed one skipped" \
    "$T/got" "$T/want"
is "...the failed job said once, with its attempts; exit 1, as plain" \
    "$rc:$(cat "$T/s.err")" \
    "1:forkpoolctl: job 77: error after 2 attempts: boom"
awk 'BEGIN { for (i = 1; i <= 150; i++) printf "u %d\n", i }' >"$T/jobs"
"$CTL" -r "$REDIS_URL_BASE/sv" submit -p high -t 10 <"$T/jobs" \
    >"$T/s.out" 2>"$T/s.err" 3>&- 4>&- 5>&- 6>&-
rc=$?
sort "$T/s.out" >"$T/got"
sort "$T/jobs" >"$T/want"
ok "150 unkeyed high jobs: exit 0, each result once" \
    test "$rc" -eq 0 -a ! -s "$T/s.err" -a "$(cmp -s "$T/got" "$T/want" &&
    echo same)" = same

# --- the Python producer -------------------------------------------------------------

"$PY" "$PRODUCER" "$REDIS_URL_BASE/sv" -n 500 -k 7 -t 10 >"$T/py.out" \
    2>"$T/py.err" 3>&- 4>&- 5>&- 6>&-
is "the Python producer, answered in packs: each result once, in key order" \
    "$?:$(cat "$T/py.out")" "0:500 jobs, 500 results, 7 keys, 0 wrong"
[ -s "$T/py.err" ] && diag_file "$T/py.err"
kill -TERM "$standin"
fp_wait "$standin"

pool pn 4 1024
"$PY" "$PRODUCER" "$REDIS_URL_BASE/pn" -n 100 -k 7 -t 0.5 --no-pack \
    >/dev/null 2>"$T/py.err" 3>&- 4>&- 5>&- 6>&-
dump pn
ok "...with --no-pack, plain entries" entries_are plain 1 pn

redis_stop
finish
