#!/bin/sh
# Restart intensity counts crash loops only.  Workers killed from outside
# are replaced at once and leave the pool as it was; workers that die on
# their own before their first result, more often than --restart-intensity
# allows, mark it degraded, and a slot that keeps failing then waits the
# longest backoff.  A worker killed from outside is still replaced at once.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 10

degraded() {
	ctl status | grep -q 'degraded: workers restart too often'
}
start_service 2 --restart-intensity 2/60 -v builtin:crash
not_ok "a fresh pool is not degraded" degraded

# Four idle workers killed from outside, twice as many as allowed.
for i in 1 2 3 4; do
	victim=$(workers_of "$sup" | head -n 1)
	kill -9 "$victim"
	wait_for 10 refilled 2 "$sup" "$victim"
done
is "four workers killed from outside: each restarted at once" \
    "$(count 'restarting at once' "$T/svc.err")" 4 || diag_file "$T/svc.err"
not_ok "...and the pool is not degraded" degraded

# A keyed poison job: each of its attempts kills its slot's worker, a fresh
# one, before any result; three ends in a row, against two allowed.
ctl submit -k poison 'one CRASH' >"$T/poison.out" 2>&1
ok "a poison job fails after its attempts" grep -q crashed "$T/poison.out"
ok "three crashes before a first result: degraded" degraded
ok "...logged" has 'the pool is degraded' "$T/svc.err"
ok "...and in the JSON status" sh -c \
    "'$CTL' -s '$sock' --json status | grep -q '\"degraded\":true'"
ok "the slot that keeps failing waits the longest backoff (5 s, +-25%)" \
    grep -Eq 'restarting in [0-9]{4} ms' "$T/svc.err"

# In the degraded pool, a worker that has done jobs, killed from outside.
ctl submit a b c d >"$T/jobs.out" 2>&1
at_once() {
	[ "$(count 'restarting at once' "$T/svc.err")" -ge "$1" ]
}
kill -9 "$(workers_of "$sup" | head -n 1)"
ok "...a worker killed from outside is still restarted at once" \
    wait_for 10 at_once 5 || diag_file "$T/svc.err" 40

stop_service
is "the service stops cleanly" "$fp_rc" 0
finish
