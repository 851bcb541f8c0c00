#!/bin/sh
# Service mode against clients that misbehave: hundreds that connect and
# reset before their HELLO is written, one whose bad frame is read while
# the ledger is full, frames that break each rule of the client link, and
# one that sends jobs and never reads their results.  The supervisor stays
# up, serves the others, and keeps neither descriptors nor memory.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 27

# hex TYPE FLAGS AUX ARG ID KEY PAYLOAD [BODYLEN]: one frame, in hex; KEY
# and PAYLOAD may hold Python escapes (\0); a BODYLEN overrides the
# header's (for a frame that lies about its size).
hex() {
	python3 -c '
import struct, sys
sys.path.insert(0, sys.argv[1])
from fpclient import frame
t, fl, aux, arg, ident = (int(x, 0) for x in sys.argv[2:7])
def raw(s):
    return s.encode().decode("unicode_escape").encode("latin-1")
f = frame(t, raw(sys.argv[8]), raw(sys.argv[7]), fl, aux, arg, ident)
if len(sys.argv) > 9:
    f = f[:12] + struct.pack(">I", int(sys.argv[9])) + f[16:]
print(f.hex())' "$TESTS_SRCDIR" "$@"
}
nfds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}
fds_are() {
	[ "$(nfds "$1")" -eq "$2" ]
}

# --- connections reset before their HELLO --------------------------------------

start_service 1 builtin:echo
quiet client "$sock" submit 1 --handler echo
base=$(nfds "$sup")
is "500 connections reset at once" "$(client "$sock" storm 500)" \
    "500 connections reset"
ok "...the supervisor is still up" proc_alive "$sup"
ok "...and serves" quiet client "$sock" submit 100 --handler echo
ok "...with as many descriptors as before ($base)" wait_for 10 fds_are "$sup" \
    "$base" || diag "now $(nfds "$sup")"
not_ok "...and no complaint from the event loop" grep -q '^\[' "$T/svc.err" ||
    diag_file "$T/svc.err"

# --- rules of the client link: each broken one is named, the client dropped --

# expect DESC WHY HEX: the client is told WHY and disconnected.
expect() {
	client "$sock" raw "$3" >"$T/raw.out" 2>&1
	is "$1" "$(cat "$T/raw.out")" "$(printf 'error: %s\nclosed' "$2")"
}
expect "SUBMIT with id 0: 'malformed SUBMIT'" "malformed SUBMIT" \
    "$(hex 0x10 0 0 0 0 '' job)"
expect "SUBMIT with a key but not KEYED: 'malformed SUBMIT'" \
    "malformed SUBMIT" "$(hex 0x10 0 0 0 1 key job)"
expect "SUBMIT with aux set: 'malformed SUBMIT'" "malformed SUBMIT" \
    "$(hex 0x10 0 1 0 1 '' job)"
expect "a RESULT from a client: 'unexpected message type'" \
    "unexpected message type" "$(hex 0x03 0 0 0 1 '' res)"
expect "STATUS in format 3: 'malformed STATUS'" "malformed STATUS" \
    "$(hex 0x11 0 3 0 1 '' '')"
expect "CONTROL with a flag: 'malformed CONTROL'" "malformed CONTROL" \
    "$(hex 0x12 1 0 0 1 '' drain)"
expect "a frame of 4 GiB announced: refused before its body" \
    "frame larger than the maximum frame size" \
    "$(hex 0x10 0 0 0 1 '' '' 4294967295)"
expect "lengths that do not add up" \
    "key and payload lengths do not add up to the body" \
    "$(hex 0x10 0 0 0 1 "" abc 10)"
# A command is its whole payload: "drain" and a NUL and more is unknown.
is "CONTROL 'drain', a NUL, 'now': unknown, not taken as drain" \
    "$(client "$sock" raw "$(hex 0x12 0 0 0 8 '' 'drain\0now')" 1)" \
    "$(printf 'result 8 1\nopen')"
# A good job and then half a frame: the job is answered, then the client
# goes with its half frame, which nobody waits for.
is "a job, then half a frame: the job is answered" \
    "$(client "$sock" raw "$(hex 0x10 0 0 0 9 '' ok)46500102" 1)" \
    "$(printf 'result 9 0\nopen')"
ok "...the supervisor is still up and serving" quiet client "$sock" submit 10 \
    --handler echo
ok "...with as many descriptors as before" wait_for 10 fds_are "$sup" "$base"
stop_service
is "the service drains and exits 0" "$fp_rc" 0

# --- a bad frame read while the ledger is full ---------------------------------

# One job fills the ledger (-q 1): the garbage ("GARBAGE!" four times)
# waits, unread, until that job is done, and is then refused; the first
# client still gets its result.
start_service 1 -q 1 builtin:sleep
client "$sock" submit 1 --handler sleep --ms 500 >"$T/full.out" 2>&1 &
full=$!
# (Not a status request: that too would wait for room in the ledger.)
wait_for 10 sleeping_worker "$sup" >/dev/null
garbage=4741524241474521474152424147452147415242414745214741524241474521
is "ledger full: the garbage is refused once it is read" \
    "$(client "$sock" raw "$garbage")" \
    "$(printf 'error: bad magic\nclosed')"
wait "$full"
is "...the job that filled the ledger has its result" "$?" 0 ||
    diag_file "$T/full.out"
ok "...the supervisor is still up" proc_alive "$sup"
ok "...and serves" quiet client "$sock" submit 3 --handler sleep --ms 0
stop_service
is "...and drains and exits 0" "$fp_rc" 0 || diag_file "$T/svc.err"

# --- a client that sends jobs and never reads ------------------------------------

# 20,000 jobs of 4 kB each, 80 MB: the supervisor stops taking them once
# their unread results fill the client's budget, instead of holding them all.
start_service 2 --client-budget 4194304 builtin:echo
client "$sock" flood 20000 4096 >"$T/flood.out" &
flood=$!
wait "$flood"
sent=$(sed -n 's/^sent \([0-9]*\) jobs$/\1/p' "$T/flood.out")
ok "a client that never reads: the supervisor stopped taking its jobs" \
    test -n "$sent" || diag_file "$T/flood.out"
ok "...after a few MB of results (${sent:-all} of 20000 jobs)" \
    test "${sent:-20000}" -lt 4000
ok "...and still serves the others" quiet client "$sock" submit 200 \
    --handler echo
stop_service
is "...and drains and exits 0" "$fp_rc" 0 || diag_file "$T/svc.err"
finish
