#!/bin/sh
# Packed entries on a Redis Cluster of three masters: the meta hash says
# the supervisors read them; keyed packs in every partition, through two
# supervisors, each get one packed result on their reply stream, each job
# once and each key's in order; a job that fails gets its dead letter,
# forwarded from the outbox like the results.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
. "$TESTS_SRCDIR/redis-cluster-lib.sh"
cluster_skip_unless_ready

plan 7

# job_results STREAM: the results of every packed result entry, in
# order, a line each.
job_results() {
	ccli EVAL "local o = {}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'results' then
      local s = f[i + 1]
      while #s > 0 do
        local n = string.match(s, '^(%d+):')
        o[#o + 1] = string.sub(s, #n + 2, #n + 1 + n)
        s = string.sub(s, #n + 3 + n)
      end
    end
  end
end
return o" 1 "$1"
}

# all_in_order N FILE: N jobs, "KEY SEQ" each, each key's in order.
all_in_order() {
	[ "$(wc -l <"$2")" -eq "$1" ] && per_key_order 1 2 "$2"
}

if ! cluster_start 3; then
	echo "Bail out! no cluster of three masters could start"
	exit 1
fi
U=$(cluster_url c)
cluster_sups "$U" 4 -a 1 -w 2 builtin:crash
is "the meta hash says they read packs" \
    "$(ccli HGET 'forkpool:{c}:meta' packs)" 1024

# Keys a and e are in partition 0 of 4, b and f in 1, c and g in 2, d and
# h in 3 (FNV-1a 32).  Five packs of 12 per partition, each job "KEY SEQ".
: >"$T/jobs"
for e in 1 2 3 4 5; do
	for p in 0 1 2 3; do
		k=
		y=
		for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
			key=$(echo "a b c d e f g h" | cut -d' ' -f$((p + 1 + 4 * (i % 2))))
			seq=$((e * 100 + i))
			k="$k$(ns "$key")"
			y="$y$(ns "$key $seq")"
			echo "$key $seq" >>"$T/jobs"
		done
		ccli XADD "forkpool:{c:p$p}" '*' jobs 12 keys "$k" payloads "$y" \
		    reply 'forkpool:{c}:reply:r' >/dev/null
	done
done
ccli XADD 'forkpool:{c:p2}' '*' jobs 2 payloads "$(ns CRASH ok)" \
    reply 'forkpool:{c}:reply:r' >/dev/null
replies_are() {
	[ "$(ccli XLEN 'forkpool:{c}:reply:r')" -eq "$1" ]
}
wait_for 30 replies_are 21 || diag "not 21 results"
job_results 'forkpool:{c}:reply:r' >"$T/got"
grep -v '^crashed after\|^ok$' "$T/got" >"$T/got.keyed"
sort "$T/jobs" >"$T/jobs.sorted"
sort "$T/got.keyed" >"$T/got.sorted"
same_file "21 packs through two supervisors: every job once" \
    "$T/got.sorted" "$T/jobs.sorted"
ok "...each key's in order" all_in_order 240 "$T/got.keyed"
ccli XRANGE 'forkpool:{c}:reply:r' - + >"$T/replies"
ok "...both supervisors finished packs" awk '
	c { who = $0; c = 0 }
	$0 == "consumer" { c = 1 }
	$0 == "statuses" { seen[who] = 1 }
	END { exit !(seen["a"] && seen["b"]) }' "$T/replies"
ccli XRANGE 'forkpool:{c}:dead' - + >"$T/dead"
is "...the crash: one dead letter, its index and payload" \
    "$(awk 'v { printf "%s %s ", v, $0; v = "" }
	$0 == "index" || $0 == "payload" { v = $0 }
	$0 == "job" { n++ }
	END { print n }' "$T/dead")" "index 0 payload CRASH 1"
left=$(cluster_left c 4)
kill -TERM "$sup_a" "$sup_b"
fp_wait "$sup_a"
a_rc=$fp_rc
fp_wait "$sup_b"
ok "both end cleanly, having finished 242 jobs, leaving nothing" \
    [ "$left" = "0 0" -a "$a_rc" = 0 -a "$fp_rc" = 0 -a "$(cat "$T/a.err" "$T/b.err" |
    sed -n 's/.*taken over), \([0-9]*\) finished.*/\1/p' |
    awk '{ n += $1 } END { print n }')" = 242 ]
cluster_stop
finish
