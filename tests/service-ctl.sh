#!/bin/sh
# forkpoolctl and libforkpool against a real supervisor in service mode:
# jobs from arguments and from standard input, text and JSON output, keyed
# and high-priority jobs, failed jobs and the exit status, status, metrics,
# the example client, drain, stop, and the errors of a missing socket.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

EXAMPLE=$TESTS_BUILDDIR/../contrib/example-client

plan 44

S=$T/sock
sock=$S
start_service 2 builtin:fnv

# Jobs as arguments.
printf 'a\nb\nc\n' | "$FNVREF" | sort >"$T/abc.want"
ctl_kept submit a b c
is "submit a b c: exit status 0" "$ctl_rc" 0
sort "$T/ctl.out" >"$T/abc.got"
same_file "submit a b c: the fnv of each, one line per job" \
    "$T/abc.got" "$T/abc.want"
ok "submit a b c: nothing on stderr" test ! -s "$T/ctl.err" ||
    diag_file "$T/ctl.err"

# Jobs from standard input: 1,000 lines, with an empty one and one
# without a newline at the end.
awk 'BEGIN { for (i = 1; i <= 999; i++) print (i == 500 ? "" : "line " i) }' \
    >"$T/in1k"
printf 'last line' >>"$T/in1k"
"$FNVREF" <"$T/in1k" | sort >"$T/in1k.want"
"$CTL" -s "$S" submit <"$T/in1k" >"$T/in1k.out" 2>"$T/in1k.err"
is "1,000 lines on stdin: exit status 0" "$?" 0
sort "$T/in1k.out" >"$T/in1k.got"
same_file "1,000 lines on stdin: the same results as fnvref" \
    "$T/in1k.got" "$T/in1k.want"

# Many more, so that jobs are pipelined against the supervisor's queue.
awk 'BEGIN { for (i = 1; i <= 50000; i++) print "job " i " " i * 7919 }' \
    >"$T/in50k"
"$FNVREF" <"$T/in50k" | sort >"$T/in50k.want"
"$CTL" -s "$S" submit <"$T/in50k" >"$T/in50k.out" 2>"$T/in50k.err"
is "50,000 lines from a pipe-less file: exit status 0" "$?" 0
sort "$T/in50k.out" >"$T/in50k.got"
same_file "50,000 lines: the same results as fnvref" \
    "$T/in50k.got" "$T/in50k.want"
cat "$T/in50k" | "$CTL" -s "$S" submit >"$T/pipe.out" 2>"$T/pipe.err"
is "50,000 lines from a pipe: exit status 0" "$?" 0
sort "$T/pipe.out" >"$T/pipe.got"
same_file "50,000 lines from a pipe: the same results" \
    "$T/pipe.got" "$T/in50k.want"

# JSON.
a_fnv=$(printf 'a\n' | "$FNVREF")
ctl_kept --json submit a
is "--json submit a: one exact object" "$(cat "$T/ctl.out")" \
    "{\"id\":1,\"status\":\"ok\",\"attempts\":1,\"result\":\"$a_fnv\"}"
"$CTL" -s "$S" -j submit <"$T/in1k" >"$T/json.out"
is "--json, 1,000 jobs: 1,000 ok objects" \
    "$(grep -c '^{"id":[0-9]*,"status":"ok","attempts":1,"result":"[0-9a-f]\{16\}"}$' "$T/json.out")" \
    1000
is "--json, 1,000 jobs: ids 1 to 1,000, once each" \
    "$(sed 's/^{"id":\([0-9]*\),.*/\1/' "$T/json.out" | sort -n | uniq |
    awk 'NR == $1 { n++ } END { print n }')" 1000

# Keyed jobs run one at a time in order: their results come in input order.
head -n 300 "$T/in1k" >"$T/keyed.in"
"$FNVREF" <"$T/keyed.in" >"$T/keyed.want"
"$CTL" -s "$S" submit -k user7 <"$T/keyed.in" >"$T/keyed.out"
is "submit -k user7: exit status 0" "$?" 0
same_file "submit -k: one key, results in submission order" \
    "$T/keyed.out" "$T/keyed.want"
ctl_kept submit -p high x y
is "submit -p high: exit status 0, two results" \
    "$ctl_rc $(wc -l <"$T/ctl.out")" "0 2"

# No input at all: no job, no output, success.
"$CTL" -s "$S" submit </dev/null >"$T/none.out" 2>&1
is "submit with empty stdin: exit status 0, no output" \
    "$? $(wc -c <"$T/none.out")" "0 0"

# The socket from the environment.
FORKPOOL_SOCKET=$S "$CTL" submit a >"$T/env.out" 2>&1
is "FORKPOOL_SOCKET names the socket" "$(cat "$T/env.out")" "$a_fnv"

# Status and metrics.
ctl_kept status
is "status: exit status 0" "$ctl_rc" 0
is "status: a table of 2 workers" \
    "$(grep -cE '^[0-9]+ +[0-9]+ +[a-z]+' "$T/ctl.out")" 2
ctl_kept --json status
is "status --json: 2 workers" "$(grep -o '"slot":' "$T/ctl.out" | wc -l)" 2
ok "status --json: one object" grep -q '^{.*}$' "$T/ctl.out"
ctl_kept metrics
ok "metrics: Prometheus text with the job counters" \
    grep -q '^forkpool_jobs_total{status="ok"} [0-9]' "$T/ctl.out"

# The example client of contrib/.
"$EXAMPLE" "$S" 20 >"$T/ex.out" 2>"$T/ex.err"
is "contrib/example-client: exit status 0" "$?" 0
is "contrib/example-client: 20 ok results" \
    "$(grep -c '^[0-9]* ok [0-9a-f]\{16\}$' "$T/ex.out")" 20

# Usage errors never reach the supervisor.
ctl_kept frobnicate
is "an unknown command: exit status 2" "$ctl_rc" 2
ok "an unknown command: says so" has "unknown command: frobnicate" \
    "$T/ctl.err"
ctl_kept scale many
is "scale with a word: exit status 2" "$ctl_rc" 2
ok "...the error, then the synopsis, not the whole help" \
    test "$(sed -n 1p "$T/ctl.err")" = \
    "forkpoolctl: scale: many: the number of workers is invalid" -a \
    "$(wc -l <"$T/ctl.err")" -eq 4
ctl_kept -h
ok "-h: the whole help, on standard output" \
    test "$ctl_rc" -eq 0 -a ! -s "$T/ctl.err" -a \
    -n "$(grep '^  stop  ' "$T/ctl.out")"

# stop: the reply, then the supervisor ends.
ctl_kept stop
is "stop: exit status 0" "$ctl_rc" 0
ok "stop: the supervisor's reply is printed" test -s "$T/ctl.out"
fp_wait "$sup" 30
ok "stop: the supervisor exits ($fp_rc)" test "$fp_rc" != hung
ok "...saying a client asked it to" \
    grep -q 'client [0-9]* asked to stop: finishing the jobs taken' \
    "$T/svc.err"

# Connecting to nothing.
sock=$T/nosock
ctl_kept status
is "a missing socket: exit status 2" "$ctl_rc" 2
is "a missing socket: a clear message" "$(cat "$T/ctl.err")" \
    "forkpoolctl: cannot connect to $T/nosock: No such file or directory (is forkpool running?)"
sock=$S
ctl_kept submit a
ok "after stop: cannot connect (exit status $ctl_rc)" \
    test "$ctl_rc" -eq 2 -a -n "$(grep 'cannot connect' "$T/ctl.err")"

# Failed jobs: exit status 1, reported on stderr or as JSON.
S2=$T/sock2
sock=$S2
start_service 2 -a 2 builtin:crash
pool2=$sup
ctl_kept submit fine CRASH also-fine
is "a crashing job: exit status 1" "$ctl_rc" 1
is "a crashing job: the others' results on stdout" \
    "$(sort "$T/ctl.out" | tr '\n' ' ')" "also-fine fine "
ok "a crashing job: reported on stderr" \
    has "forkpoolctl: job 2: crashed after 2 attempts" "$T/ctl.err"
ctl_kept --json submit 'say "hi"	tab' CRASH
is "--json: a crashed job, and escaping" \
    "$(grep -c '"status":"crashed","attempts":2' "$T/ctl.out") $(grep -F '"result":"say \"hi\"\ttab"' "$T/ctl.out" | wc -l)" \
    "1 1"

# Another user: refused by the supervisor, or by the socket's mode.  Needs
# root, setpriv, and a forkpoolctl that user can run.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    as_nobody "$CTL" -h >/dev/null 2>&1; then
	chmod 711 "$T"
	S3=$T/sock3
	sock=$S3
	start_service 1 --socket-mode 666 builtin:echo
	as_nobody "$CTL" -s "$S3" status >"$T/nobody.out" 2>&1
	is "another user, not allowed: the supervisor's reason, exit 2" \
	    "$? $(cat "$T/nobody.out")" \
	    "2 forkpoolctl: $S3: uid 65534 is not allowed"
	chmod 600 "$S3"
	as_nobody "$CTL" -s "$S3" status >"$T/nobody.out" 2>&1
	is "another user, socket mode 0600: permission denied, exit 2" \
	    "$? $(cat "$T/nobody.out")" "2 forkpoolctl: $S3: permission denied"
	"$CTL" -s "$S3" stop >/dev/null 2>&1
	fp_wait "$sup" 30
	sock=$S2
else
	why="needs root, setpriv and a build other users can reach"
	skip "another user, not allowed" "$why"
	skip "another user, socket mode 0600" "$why"
fi

# drain: the reply, then the idle supervisor exits.
ctl_kept drain
is "drain: exit status 0" "$ctl_rc" 0
fp_wait "$pool2" 30
ok "drain: the idle supervisor exits ($fp_rc)" test "$fp_rc" != hung

finish
