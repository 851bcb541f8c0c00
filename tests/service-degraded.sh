#!/bin/sh
# Restart intensity: more restarts than restart_intensity allows, with no
# job to blame, mark the pool degraded in its status; a crash that a job
# is charged for restarts the worker at once all the same.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
needs_config_files

plan 6

sock=$T/fp.sock
ctl() {
	"$TESTS_BUILDDIR/../forkpoolctl" -s "$sock" "$@"
}
printf 'listen = %s\nworkers = 2\nhandler = builtin:crash\nrestart_intensity = 3 60\n' \
    "$sock" >"$T/fp.conf"
fp_bg /dev/null "$T/svc.out" "$T/svc.err" -f "$T/fp.conf" -v
sup=$fp_pid
wait_for 10 test -S "$sock" && wait_for 10 nworkers_is 2 "$sup"
not_ok "a fresh pool is not degraded" sh -c \
    "'$TESTS_BUILDDIR/../forkpoolctl' -s '$sock' status | grep -q degraded"

# Four idle workers killed: four restarts no job is to blame for.
for i in 1 2 3 4; do
	victim=$(workers_of "$sup" | head -n 1)
	kill -9 "$victim"
	wait_for 10 refilled 2 "$sup" "$victim"
done
degraded() {
	ctl status | grep -q 'degraded: workers restart too often'
}
ok "four restarts against three allowed: degraded" wait_for 10 degraded
ok "...logged" has 'the pool is degraded' "$T/svc.err"
ok "...and in the JSON status" sh -c \
    "'$TESTS_BUILDDIR/../forkpoolctl' -s '$sock' --json status | grep -q '\"degraded\":true'"

# A poison job: its worker's crash is the job's fault, so no backoff.
ctl submit 'one CRASH' >"$T/poison.out" 2>&1
ok "a poison job in a degraded pool still fails after its attempts" \
    grep -q crashed "$T/poison.out"
kill -TERM "$sup"
fp_wait "$sup"
is "the service stops cleanly" "$fp_rc" 0
finish
