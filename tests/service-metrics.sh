#!/bin/sh
# The figures of a service: metrics in the Prometheus text exposition,
# checked by promtool or python3-prometheus-client's parser, with every
# figure of status (workers, target, per slot, degraded, clients,
# draining, the recent windows) and the latency histogram's _sum, _count
# and +Inf bucket; the recent windows fall to nothing while the pool is
# idle; --json honoured by every command that prints something; the
# message of a refused command said once; a failed job's JSON says why.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 33

start_service 2 builtin:fnv
awk 'BEGIN { for (i = 1; i <= 1000; i++) print "job " i }' >"$T/jobs"
ctl submit <"$T/jobs" >/dev/null
is "1,000 jobs: exit status 0" "$ctl_rc" 0

ctl_kept metrics
cp "$T/ctl.out" "$T/metrics"
# metric NAME{LABELS}: its value in the exposition.
metric() {
	awk -v m="$1" '$1 == m { print $2 }' "$T/metrics"
}

# The exposition is valid: promtool if there is one, else the parser of
# the Python client, else skipped.
py=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 &&
	    "$p" -c 'import prometheus_client.parser' 2>/dev/null; then
		py=$p
		break
	fi
done
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1
	is "promtool check metrics: no problem" "$?" 0 ||
	    diag_file "$T/promtool.out"
elif [ -n "$py" ]; then
	"$py" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    n += len(f.samples)
print(n)' "$T/metrics" >"$T/parsed" 2>&1
	ok "prometheus_client parses the exposition" \
	    test "$?" -eq 0 -a "$(cat "$T/parsed")" -gt 50 ||
	    diag_file "$T/parsed"
else
	skip "the exposition is valid" \
	    "neither promtool nor python3-prometheus-client"
fi

is "the histogram's _count: 1,000" \
    "$(metric forkpool_job_latency_seconds_count)" 1000
is "...its +Inf bucket too" \
    "$(metric 'forkpool_job_latency_seconds_bucket{le="+Inf"}')" 1000
ok "...and a _sum above 0" awk -v s="$(metric forkpool_job_latency_seconds_sum)" \
    'BEGIN { exit !(s > 0) }'
is "the jobs ended ok: 1,000, as status says" \
    "$(metric 'forkpool_jobs_total{status="ok"}')" \
    "$(ctl status | sed -n 's/^jobs: [0-9]* submitted, \([0-9]*\) ok.*/\1/p')"
is "jobs submitted" "$(metric forkpool_jobs_submitted_total)" 1000
is "workers up and target" \
    "$(metric forkpool_workers) $(metric forkpool_workers_target)" "2 2"
pids=$(ctl --json status | grep -o '"pid":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
is "each slot's pid, as status gives them" \
    "$(metric 'forkpool_worker_pid{slot="0"}') $(metric 'forkpool_worker_pid{slot="1"}') " \
    "$pids"
ok "each slot's RSS, in bytes" test \
    "$(metric 'forkpool_worker_rss_bytes{slot="0"}')" -gt 1024 -a \
    "$(metric 'forkpool_worker_rss_bytes{slot="1"}')" -gt 1024
is "each slot's state: one of them, idle" \
    "$(grep -c '^forkpool_worker_state{slot="[01]",state="idle"} 1$' "$T/metrics")" 2
ok "each slot's CPU time" \
    grep -q '^forkpool_worker_cpu_seconds_total{slot="1"} [0-9.]*$' "$T/metrics"
is "each slot's jobs add up to 1,000" \
    "$(awk '/^forkpool_worker_jobs_total/ { n += $2 } END { print n }' "$T/metrics")" 1000
is "degraded, draining: 0" \
    "$(metric forkpool_degraded) $(metric forkpool_draining)" "0 0"
is "clients: the one asking" "$(metric forkpool_clients)" 1
is "queued, in flight: 0" \
    "$(metric forkpool_jobs_queued) $(metric forkpool_jobs_in_flight)" "0 0"
ok "jobs/s over the last 60 s: above 0" awk \
    -v r="$(metric 'forkpool_jobs_per_second{window="60s"}')" \
    'BEGIN { exit !(r > 0) }'
ok "p99 over the last 60 s: above 0, at least p50" awk \
    -v a="$(metric 'forkpool_job_latency_recent_seconds{window="60s",percentile="50"}')" \
    -v b="$(metric 'forkpool_job_latency_recent_seconds{window="60s",percentile="99"}')" \
    'BEGIN { exit !(b > 0 && b >= a) }'

# Idle, the last second's rate falls to nothing, as a load average does.
rate_1s() {
	ctl metrics | awk '$1 == "forkpool_jobs_per_second{window=\"1s\"}" { print $2 }'
}
idle_1s() {
	[ "$(rate_1s)" = 0.0 ]
}
ok "idle: jobs/s over the last second falls to 0" wait_for 10 idle_1s
ctl_kept status
ok "status: jobs/s, p50 and p99 over 1, 10 and 60 s" test \
    -n "$(grep -E '^recent: +1s +10s +60s$' "$T/ctl.out")" -a \
    -n "$(grep -E '^  jobs/s +[0-9.]+ +[0-9.]+ +[0-9.]+$' "$T/ctl.out")" -a \
    -n "$(grep -E '^  p99 us +[0-9]+ +[0-9]+ +[0-9]+$' "$T/ctl.out")"
ctl_kept --json status
ok "status --json: the windows" \
    grep -q '"windows":{"1s":{"jobs":[0-9]*,"jobs_per_s":[0-9.]*,"mean_us":[0-9]*,"p50_us":[0-9]*,"p99_us":[0-9]*},"10s":' \
    "$T/ctl.out"

# --json, everywhere.
ctl_kept --json metrics
ok "--json metrics: JSON, the figures of status --json" \
    grep -q '^{"workers":\[{"slot":0,.*"windows":{.*}$' "$T/ctl.out"
ctl_kept --json scale 3
is "--json scale 3" "$ctl_rc $(cat "$T/ctl.out")" \
    '0 {"command":"scale 3","status":"ok","reply":"scaling to 3 workers"}'
ctl_kept --json scale 0
is "--json scale 0: refused, exit 1, as JSON" "$ctl_rc $(cat "$T/ctl.out")" \
    '1 {"command":"scale 0","status":"error","reply":"scale: 0: too small"}'

# A refusal names the command once.
ctl_kept scale 0
is "scale 0: exit status 1, the reason said once" \
    "$ctl_rc $(cat "$T/ctl.err")" "1 forkpoolctl: scale: 0: too small"
ctl_kept scale 5000
is "scale 5000: the reason said once" "$(cat "$T/ctl.err")" \
    "forkpoolctl: scale: 5000: too large"
ctl_kept --json reload
ok "--json reload: one object" \
    grep -q '^{"command":"reload","status":"[a-z]*","reply":".*"}$' "$T/ctl.out"
ctl_kept --json drain
is "--json drain" "$ctl_rc $(grep -c '^{"command":"drain","status":"ok","reply":' "$T/ctl.out")" "0 1"
fp_wait "$sup" 30
is "drain: the idle supervisor exits 0" "$fp_rc" 0

# A crash and a timeout: the JSON says what happened, not "".
start_service 1 -a 2 -t 1 builtin:crash
ctl_kept --json submit CRASH
is "--json: a crash says so" "$(cat "$T/ctl.out")" \
    '{"id":1,"status":"crashed","attempts":2,"error":"the worker crashed on each of 2 attempts"}'
ctl_kept submit CRASH
is "text: a crash, on stderr" "$(cat "$T/ctl.err")" \
    "forkpoolctl: job 1: crashed after 2 attempts"
ctl_kept --json stop
is "--json stop" "$ctl_rc $(grep -c '^{"command":"stop","status":"ok","reply":' "$T/ctl.out")" "0 1"
fp_wait "$sup" 30
start_service 1 -a 1 -t 1 builtin:sleep
ctl_kept --json submit 5000
is "--json: a timeout says so" "$(cat "$T/ctl.out")" \
    '{"id":1,"status":"timeout","attempts":1,"error":"timed out"}'
stop_service

finish
