#!/bin/sh
# Packed entries on a single Redis: the meta hash says the supervisors
# read them; a pack of n jobs gets one result entry with n statuses,
# attempts, results and refs in order; a worker crash mid-pack is run
# again; jobs refused alone or failed for good get a dead letter each;
# an entry refused whole is answered plain and dead-lettered; an entry
# delivered too often fails every job; keyed packs keep each key's order;
# packs wait for room in the ledger; a pack held by a supervisor killed
# with -9 is finished once, by another; and one running while Redis
# restarts is finished once.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 27

# entry STREAM N: the fields of a stream's Nth entry, a line each.
entry() {
	rcli EVAL "local x = redis.call('XRANGE', KEYS[1], '-', '+')[tonumber(ARGV[1])]
if not x then return {} end
return x[2]" 1 "$1" "$2"
}

# entry_is NAME STREAM N FIELD VALUE...: the Nth entry is exactly these.
entry_is() {
	ei_name=$1 ei_s=$2 ei_n=$3
	shift 3
	printf '%s\n' "$@" >"$T/want.e"
	entry "$ei_s" "$ei_n" >"$T/got.e"
	same_file "$ei_name" "$T/got.e" "$T/want.e"
}

# ended_with RC TEXT FILE: exit status 0, and its log says TEXT.
ended_with() {
	[ "$1" = 0 ] && has "$2" "$3"
}

# all_in_order N FILE: N jobs ran, "KEY SEQ" each, each key's in order.
all_in_order() {
	[ "$(wc -l <"$2")" -eq "$1" ] && per_key_order 1 2 "$2"
}

redis_start
P='forkpool:{k}'
sup_start one --source "$REDIS_URL_BASE/k" --partitions 2 --consumer one \
    -a 3 -w 2 --frame-max 64 builtin:crash
wait_for 20 has connected "$T/one.err" || diag "the supervisor did not connect"
is "the meta hash says it reads packs of up to 1024 jobs" \
    "$(rcli HGET "$P:meta" packs)" 1024

# --- a pack, its one result ---------------------------------------------------------

# The second job crashes its worker at its first attempt: run again.
id=$(rcli XADD "$P:p0" '*' jobs 3 payloads "$(ns a 'FLAKY b' c)" \
    refs "$(ns r0 r1 r2)" reply "$P:reply:x" mine 1)
wait_for 20 xlen_is 1 "$P:reply:x" || diag "no result"
entry_is "a pack of 3: one result on its reply stream, its fields in order: statuses, attempts, results, refs" \
    "$P:reply:x" 1 job "$id" partition 0 consumer one jobs 3 \
    statuses "$(ns ok ok ok)" attempts "$(ns 1 2 1)" \
    results "$(ns a 'FLAKY b' c)" refs "$(ns r0 r1 r2)"
wait_for 20 pool_drained k 2 || diag "the entry is still there"
is "...nothing dead-lettered" "$(xlen "$P:dead")" 0

# --- jobs that fail alone -------------------------------------------------------------

big=$(printf '%0100d' 0)
why1="its key belongs in partition 1, not 0: the producer does not use this pool's 2 partitions"
id=$(rcli XADD "$P:p0" '*' jobs 4 payloads "$(ns x CRASH "$big" y)" \
    keys "$(ns a c e b)" priority high)
wait_for 20 xlen_is 1 "$P:results" || diag "no result"
entry_is "a crash, an oversized job, a key of partition 1: each job's status, attempts, result" "$P:results" 1 \
    job "$id" partition 0 consumer one jobs 4 \
    statuses "$(ns ok crashed rejected rejected)" \
    attempts "$(ns 1 3 1 1)" \
    results "$(ns x 'crashed after 3 attempts' \
    'longer than the maximum frame size' "$why1")"
is "...three dead letters" "$(xlen "$P:dead")" 3
entry_is "...the crash's: its index, payload, key, priority" "$P:dead" 1 \
    job "$id" index 1 partition 0 reason 'crashed after 3 attempts' \
    consumer one attempts 3 payload CRASH key c priority high
entry_is "...the oversized job's" "$P:dead" 2 \
    job "$id" index 2 partition 0 reason 'longer than the maximum frame size' \
    consumer one attempts 1 payload "$big" key e priority high
entry_is "...the key's, saying why" "$P:dead" 3 \
    job "$id" index 3 partition 0 reason "$why1" \
    consumer one attempts 1 payload y key b priority high
ok "...one line in the log for the entry" \
    has "entry $id: 2 of its 4 jobs failed" "$T/one.err"

# --- entries refused whole ------------------------------------------------------------

rcli DEL "$P:results" "$P:dead" >/dev/null
refuse() {
	rcli XADD "$P:p1" '*' "$@" >/dev/null
}
refuse jobs 0 payloads "$(ns a)"
refuse jobs 1025 payloads "$(ns a)"
refuse jobs 2 payloads "$(ns a)"
refuse jobs 1 payloads '2:a,'
refuse jobs 1 payloads "$(ns a)" keys "$(ns b d)"
refuse jobs 1 payloads "$(ns a)" refs "$(ns "$(printf '%0257d' 0)")"
refuse jobs 1 jobs 1 payloads "$(ns a)"
refuse jobs 1 payloads "$(ns a)" payload a
refuse jobs 1 payloads "$(ns a)" priority urgent
refuse jobs 1 payloads "$(ns a)" reply nowhere
refuse jobs 1 payloads "$(ns a)" reply "$P:reply:y" ref r
wait_for 20 xlen_is 10 "$P:results" || diag "not ten results"
wait_for 20 xlen_is 1 "$P:reply:y" || diag "no reply on y"
fields result "$P:results" >"$T/why"
fields status "$P:results" | sort -u >"$T/st"
is "...each rejected, in the plain form" "$(cat "$T/st")" rejected
cat >"$T/why.want" <<'WHY'
jobs must be a number from 1 to 1024
jobs must be a number from 1 to 1024
payloads must be as many netstrings as jobs
payloads must be as many netstrings as jobs
keys must be as many netstrings as jobs
a ref longer than 256 bytes
jobs given twice
a packed entry has payloads, keys and refs, not payload, key or ref
priority must be high or normal
the reply stream must be named forkpool:{k}:reply:NAME (at most 223 bytes)
WHY
same_file "eleven malformed packs: ten plain results, each saying why" \
    "$T/why" "$T/why.want"
echo 'a packed entry has payloads, keys and refs, not payload, key or ref' \
    >>"$T/why.want"
fields reason "$P:dead" >"$T/dead"
same_file "...each dead-lettered, the same reason" "$T/dead" "$T/why.want"
is "...the one with a valid reply stream answered there, plain" \
    "$(fields result "$P:reply:y")" \
    'a packed entry has payloads, keys and refs, not payload, key or ref'
is "...the reply stream's, with no ref" "$(entry "$P:reply:y" 1 | grep -c '^ref$')" 0
wait_for 20 pool_drained k 2 || diag "the partitions are not drained"
kill -TERM "$sup_one"
fp_wait "$sup_one"
ok "SIGTERM: it ends cleanly, having finished 18 jobs of 13 entries" \
    ended_with "$fp_rc" '13 entries taken (0 taken over), 18 finished' \
    "$T/one.err"

# --- delivered too often --------------------------------------------------------------

A='forkpool:{a}'
rcli XGROUP CREATE "$A:p0" a 0 MKSTREAM >/dev/null
id=$(rcli XADD "$A:p0" '*' jobs 2 payloads "$(ns u v)" refs "$(ns r0 r1)")
rcli XREADGROUP GROUP a ghost COUNT 1 STREAMS "$A:p0" '>' >/dev/null
rcli XCLAIM "$A:p0" a ghost 0 "$id" IDLE 60000 RETRYCOUNT 5 >/dev/null
sup_start two --source "$REDIS_URL_BASE/a" --partitions 1 --consumer two \
    -a 3 --claim-idle 1 -w 1 builtin:echo
wait_for 20 xlen_is 1 "$A:results" || diag "no result"
fields statuses "$A:results" >"$T/st"
is "a pack delivered 6 times, -a 3: every job crashed" "$(cat "$T/st")" "$(ns crashed crashed)"
is "...a dead letter each" "$(xlen "$A:dead")" 2
fields ref "$A:dead" >"$T/refs"
is "...with its ref" "$(cat "$T/refs" | tr '\n' ' ')" "r0 r1 "
kill -TERM "$sup_two"
fp_wait "$sup_two"

# --- keyed packs keep each key's order --------------------------------------------------

O='forkpool:{o}'
: >"$T/ran"
sup_start three --source "$REDIS_URL_BASE/o" --partitions 1 \
    --consumer three -w 3 "cmd:sh -c \"echo \$0 >>$T/ran\" {}"
wait_for 20 has connected "$T/three.err"
for e in 1 2 3; do
	k=
	p=
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		k="$k$(ns "k$((i % 4))")"
		p="$p$(ns "k$((i % 4))_$e$(printf %02d "$i")")"
	done
	rcli XADD "$O:p0" '*' jobs 12 keys "$k" payloads "$p" >/dev/null
done
wait_for 20 xlen_is 3 "$O:results" || diag "not three results"
tr _ ' ' <"$T/ran" >"$T/ran2"
ok "three keyed packs of 12: every job ran, each key's in order" \
    all_in_order 36 "$T/ran2"
fields statuses "$O:results" | sort -u >"$T/st"
is "...all ok" "$(cat "$T/st")" "$(ns ok ok ok ok ok ok ok ok ok ok ok ok)"
kill -TERM "$sup_three"
fp_wait "$sup_three"

# --- packs that wait for room, one that never fits ------------------------------------

Q='forkpool:{q}'
sup_start four --source "$REDIS_URL_BASE/q" --partitions 1 --consumer four \
    -q 8 -w 1 -v builtin:sleep
wait_for 20 has connected "$T/four.err" || diag "four did not connect"
rcli XADD "$Q:p0" '*' jobs 9 payloads "$(ns 1 2 3 4 5 6 7 8 9)" >/dev/null
for e in 1 2 3; do
	rcli XADD "$Q:p0" '*' jobs 6 payloads "$(ns "a$e 20" "b$e 20" "c$e 20" \
	    "d$e 20" "e$e 20" "f$e 20")" >/dev/null
done
wait_for 20 xlen_is 4 "$Q:results" || diag "not four results"
fields result "$Q:results" | head -n 1 >"$T/q1"
is "-q 8: a pack of 9 refused whole, saying why" "$(cat "$T/q1")" \
    "9 jobs, more than the 8 this supervisor holds at once (--queue)"
fields attempts "$Q:results" | tail -n 3 | sort -u >"$T/q2"
is "...three packs of 6 wait for room in turn, each job run once" \
    "$(cat "$T/q2")" "$(ns 1 1 1 1 1 1)"
is "...and the meta hash says packs of up to 8, so producers send no more" \
    "$(rcli HGET "$Q:meta" packs)" 8
kill -TERM "$sup_four"
fp_wait "$sup_four"

# --- kill -9 of the supervisor holding a pack -----------------------------------------

K='forkpool:{kill}'
sup_start a --source "$REDIS_URL_BASE/kill" --partitions 2 --consumer a \
    --claim-idle 1 -w 2 builtin:sleep
stray_workers $(workers_of "$sup_a")
wait_for 20 has connected "$T/a.err"
id=$(rcli XADD "$K:p1" '*' jobs 4 payloads "$(ns 'w 1' 'x 3000' 'y 3000' 'z 1')" \
    reply "$K:reply:k")
wait_for 20 holds_some kill 2 a || diag "a took nothing"
sup_start b --source "$REDIS_URL_BASE/kill" --partitions 2 --consumer b \
    --claim-idle 1 -w 4 builtin:sleep
stray_workers $(workers_of "$sup_b")
wait_for 20 has connected "$T/b.err"
kill -9 "$sup_a"
fp_wait "$sup_a"
wait_for 20 xlen_is 1 "$K:reply:k" || diag "no result"
wait_for 20 pool_drained kill 2 || diag "the pool is not drained"
entry_is "a killed holding a pack: b finishes it, every job run again" \
    "$K:reply:k" 1 job "$id" partition 1 consumer b jobs 4 \
    statuses "$(ns ok ok ok ok)" \
    attempts "$(ns 2 2 2 2)" results "$(ns 'w 1' 'x 3000' 'y 3000' 'z 1')"
kill -TERM "$sup_b"
fp_wait "$sup_b"
ok "...b ends cleanly, having taken over one entry of 4 jobs" \
    ended_with "$fp_rc" '1 entries taken (1 taken over), 4 finished' \
    "$T/b.err"
is "...exactly one result in all" "$(fields statuses "$K:reply:k")" \
    "$(ns ok ok ok ok)"

# --- Redis restarted while a pack runs ------------------------------------------------

S='forkpool:{rs}'
sup_start five --source "$REDIS_URL_BASE/rs" --partitions 1 --consumer five \
    -w 2 builtin:sleep
stray_workers $(workers_of "$sup_five")
wait_for 20 has connected "$T/five.err" || diag "five did not connect"
id=$(rcli XADD "$S:p0" '*' jobs 4 payloads "$(ns 'a 400' 'b 400' 'c 400' \
    'd 400')")
wait_for 20 holds_some rs 1 five || diag "five took nothing"
redis_stop
wait_for 20 has 'results wait for the connection' "$T/five.err" ||
    diag "no job ended while Redis was away"
redis_start
wait_for 20 xlen_is 1 "$S:results" || diag "no result"
entry_is "Redis restarted while a pack runs: its one result, each job run once" \
    "$S:results" 1 job "$id" partition 0 consumer five jobs 4 \
    statuses "$(ns ok ok ok ok)" attempts "$(ns 1 1 1 1)" \
    results "$(ns 'a 400' 'b 400' 'c 400' 'd 400')"
kill -TERM "$sup_five"
fp_wait "$sup_five"

finish
