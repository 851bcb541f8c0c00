#!/bin/sh
# Input edge cases: lines over --frame-max are rejected and the others run;
# backpressure (-q) stops the intake while output or workers lag, and the
# run then finishes correctly; stdin from a regular file or /dev/null;
# stdout closed early, or non-blocking.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 29

# The intake is measured at the other end of the input FIFO: what the
# writer (cat) managed to write, from its /proc/PID/io, is what the
# supervisor read plus what fits in the pipe.  (The supervisor's own rchar
# would count its reads from the workers, and a wrapper's, such as
# valgrind's, reads of its own files.)

# written PID: bytes the process has written so far.
written() {
	sed -n 's/^wchar: //p' "/proc/$1/io" 2>/dev/null
}

# written_at_least N PID
written_at_least() {
	[ "$(written "$2")" -ge "$1" ] 2>/dev/null
}

# written_settled PID: the count did not move over 0.3 s.
written_settled() {
	ws_a=$(written "$1")
	sleep 0.3
	ws_b=$(written "$1")
	[ -n "$ws_a" ] && [ "$ws_a" = "$ws_b" ]
}

# --- --frame-max -------------------------------------------------------------

# A frame is 32 bytes plus the line: with --frame-max 64, 32 bytes fit and
# 33 do not.
{
	echo short
	printf '%0100d\n' 0
	printf '%032d\n' 0
	printf '%033d\n' 0
	echo end
} >"$T/fm.in"
sed -n '1p;3p;5p' "$T/fm.in" >"$T/fm.good"
sed -n '2p;4p' "$T/fm.in" >"$T/fm.bad"
fp_run "$T/fm.in" "$T/fm.out" "$T/fm.err" -w 1 --frame-max 64 \
    --failed "$T/fm.failed" builtin:echo
is "--frame-max 64: exit status 1" "$fp_rc" 1
same_file "--frame-max 64: the lines that fit run, in order" "$T/fm.out" \
    "$T/fm.good"
printf 'forkpool: supervisor: line %s failed: rejected: longer than the maximum frame size\n' \
    2 4 >"$T/fm.want.err"
same_file "--frame-max 64: lines 2 (100 bytes) and 4 (33 bytes) rejected, nothing else" \
    "$T/fm.err" "$T/fm.want.err"
same_file "--frame-max 64: --failed holds the rejected lines" \
    "$T/fm.failed" "$T/fm.bad"

# The key is in the frame too: key "k" and a 30-byte line make 63 bytes.
printf 'k %028d\nkk %028d\n' 0 0 >"$T/fmk.in"
head -n 1 "$T/fmk.in" >"$T/fmk.good"
fp_run "$T/fmk.in" "$T/fmk.out" "$T/fmk.err" -w 1 -k 1 --frame-max 64 \
    builtin:echo
is "--frame-max 64 -k 1: exit status 1" "$fp_rc" 1
same_file "--frame-max 64 -k 1: the key counts toward the frame size" \
    "$T/fmk.out" "$T/fmk.good"

# Lines far over the limit and over the 64 KiB read chunk, from a pipe, the
# last one without a newline: skipped as they stream in.
awk 'BEGIN {
	s = "0123456789abcdef"
	while (length(s) < 200000)
		s = s s
	print "a"
	print s
	print "b"
	print substr(s, 1, 5000)
	print "c"
	printf "%s", substr(s, 1, 3000)
}' >"$T/long.in"
printf 'a\nb\nc\n' >"$T/long.good"
fp_pipe "$T/long.in" "$T/long.out" "$T/long.err" -w 2 --frame-max 1000 \
    builtin:echo
is "lines of 256 KiB, 5,000 and 3,000 bytes, --frame-max 1000: exit status 1" \
    "$fp_rc" 1
same_file "overlong lines: the others run" "$T/long.out" "$T/long.good"
printf 'forkpool: supervisor: line %s failed: rejected: longer than the maximum frame size\n' \
    2 4 6 >"$T/long.want.err"
same_file "overlong lines: lines 2, 4 and 6 rejected, with the right numbers" \
    "$T/long.err" "$T/long.want.err"
fp_pipe "$T/long.in" "$T/long2.out" "$T/long2.err" -w 2 --frame-max 1000 \
    --failed "$T/long.failed" builtin:echo
sed -n '2p;4p;6p' "$T/long.in" >"$T/long.bad"
printf '\n' >>"$T/long.bad"	# the last line, without newline, gets one
same_file "overlong lines: --failed holds them whole, one per line" \
    "$T/long.failed" "$T/long.bad"

# Twenty overlong lines among good ones: five are told, the rest summed.
awk 'BEGIN { for (i = 1; i <= 40; i++) printf "%s\n", i % 2 ? sprintf("%0200d", i) : i }' \
    >"$T/many.in"
fp_run "$T/many.in" "$T/many.out" "$T/many.err" -w 1 --frame-max 64 \
    --failed "$T/many.failed" builtin:echo
{
	printf 'forkpool: supervisor: line %s failed: rejected: longer than the maximum frame size\n' \
	    1 3 5 7 9
	printf 'forkpool: supervisor: ... and 15 more failures; see %s\n' \
	    "$T/many.failed"
} >"$T/many.want.err"
same_file "20 overlong lines: 5 told, the other 15 in one line" \
    "$T/many.err" "$T/many.want.err"
is "...and --failed holds all 20" "$(wc -l <"$T/many.failed")" 20

# --- backpressure: nobody reads the output ---------------------------------------

# 8 MB of 1 KB lines.  With -q 16 and the output FIFO unread, the supervisor
# must stop reading its input: what it read stays bounded, the writer stays
# blocked with most of its data.  Then reading the output lets it all finish.
awk 'BEGIN {
	s = "0123456789"
	while (length(s) < 1000)
		s = s s
	s = substr(s, 1, 1000)
	for (i = 1; i <= 8000; i++)
		printf "%06d %s\n", i, s
}' >"$T/bp.in"
mkfifo "$T/bp.in.fifo" "$T/bp.out.fifo"
exec 4<>"$T/bp.out.fifo"	# a reader that never reads
fp_bg "$T/bp.in.fifo" "$T/bp.out.fifo" "$T/bp.err" -w 2 -q 16 builtin:echo
sup=$fp_pid
cat "$T/bp.in" >"$T/bp.in.fifo" 3>&- 4>&- &
writer=$!
track "$writer"
if wait_for 10 written_at_least 16112 "$writer" &&
    wait_for 10 written_settled "$writer"; then
	got=$(written "$writer")
	diag "the supervisor took $got bytes of 8,056,000 and stopped"
	ok "-q 16, output not read: the supervisor stops reading (took < 2 MB of 8 MB)" \
	    test "$got" -lt 2000000
else
	skip "-q 16, output not read: the supervisor stops reading" \
	    "no /proc/PID/io"
fi
ok "-q 16, output not read: the writer is still blocked with data to give" \
    proc_alive "$writer"
# A second, read-only descriptor for the reader, so that the FIFO always
# has a reader; the read-write one held here must go, or no EOF comes.
exec 5<"$T/bp.out.fifo"
cat <&5 >"$T/bp.out" 3>&- 4>&- 5<&- &
reader=$!
track "$reader"
exec 4>&- 5<&-
fp_wait "$sup"
is "-q 16, output read at last: exit status 0" "$fp_rc" 0
fp_wait "$writer"
fp_wait "$reader"
same_file "-q 16, output read at last: all 8,000 lines, in order" \
    "$T/bp.out" "$T/bp.in"

# --- backpressure: the workers lag -------------------------------------------------

# Jobs that hang: with -q 16 the supervisor holds 16 jobs and reads no
# more; with the default queue it takes all 8,000 lines (the control).
mkfifo "$T/q.fifo"
fp_bg "$T/q.fifo" "$T/q.out" "$T/q.err" -w 2 -q 16 builtin:sleep 30000
sup=$fp_pid
cat "$T/bp.in" >"$T/q.fifo" 3>&- 4>&- &
writer=$!
track "$writer"
if wait_for 10 written_at_least 16112 "$writer" &&
    wait_for 10 written_settled "$writer"; then
	got=$(written "$writer")
	diag "the supervisor took $got bytes and stopped"
	ok "-q 16, hung jobs: the supervisor stops reading (took < 1 MB of 8 MB)" \
	    test "$got" -lt 1000000
else
	skip "-q 16, hung jobs: the supervisor stops reading" "no /proc/PID/io"
fi
ok "-q 16, hung jobs: the writer is still blocked with data to give" \
    proc_alive "$writer"
kill_tree "$sup"
kill -9 "$writer"
fp_wait "$sup"
fp_wait "$writer"

fp_bg "$T/q.fifo" "$T/q2.out" "$T/q2.err" -w 2 builtin:sleep 30000
sup=$fp_pid
cat "$T/bp.in" >"$T/q.fifo" 3>&- 4>&- &
writer=$!
track "$writer"
ok "control, default queue, hung jobs: the supervisor takes all 8 MB" \
    wait_for 10 proc_gone "$writer"
kill_tree "$sup"
fp_wait "$sup"
fp_wait "$writer"

# --- stdin: a regular file, /dev/null ------------------------------------------------

awk 'BEGIN { for (i = 1; i <= 5000; i++) print "file line", i }' >"$T/file.in"
"$FNVREF" <"$T/file.in" >"$T/file.want"
fp_run "$T/file.in" "$T/file.out" "$T/file.err" -w 2 builtin:fnv
is "stdin a regular file: exit status 0" "$fp_rc" 0
same_file "stdin a regular file: the results of fnvref" "$T/file.out" \
    "$T/file.want"
fp_run "$T/file.in" "$T/fileq.out" "$T/fileq.err" -w 2 -q 4 builtin:fnv
same_file "stdin a regular file, -q 4: the results of fnvref" \
    "$T/fileq.out" "$T/file.want"

fp_run /dev/null "$T/null.out" "$T/null.err" -w 2 builtin:echo
is "stdin /dev/null: exit status 0" "$fp_rc" 0
ok "stdin /dev/null: no output" test ! -s "$T/null.out"
ok "stdin /dev/null: nothing on stderr" test ! -s "$T/null.err"

# --- stdout closed early ----------------------------------------------------------

# A reader that goes away: the supervisor stops (no hang) and leaves no
# worker behind.
awk 'BEGIN { for (i = 1; i <= 300000; i++) print "line", i }' >"$T/epipe.in"
mkfifo "$T/epipe.fifo"
exec 4<>"$T/epipe.fifo"
fp_bg "$T/epipe.in" "$T/epipe.fifo" "$T/epipe.err" -w 2 builtin:echo
sup=$fp_pid
wait_for 10 nworkers_is 2 "$sup"
workers=$(workers_of "$sup")
stray_workers $workers
head -n 1 <&4 >/dev/null
exec 4<&-
fp_wait "$sup"
is "stdout closed early: exit status 1" "$fp_rc" 1
ok "stdout closed early: no worker left" no_worker_alive $workers

# --- a non-blocking stdout ----------------------------------------------------------

# Some parents leave a shared pipe non-blocking: a full pipe then says
# EAGAIN, which is a wait, not an error.  A 4 kB pipe fills at once.
seq 200000 >"$T/nb.in"
"$FNVREF" <"$T/nb.in" >"$T/nb.want"
cat "$T/nb.in" | python3 -c '
import fcntl, os, sys
fcntl.fcntl(1, 1031, 4096)	# F_SETPIPE_SZ
os.set_blocking(1, False)
os.execv(sys.argv[1], sys.argv[1:])' "$FORKPOOL" -w 2 builtin:fnv \
    2>"$T/nb.err" | cat >"$T/nb.out"
same_file "non-blocking stdout, a 4 kB pipe: every result, in order" \
    "$T/nb.out" "$T/nb.want" || diag_file "$T/nb.err"
ok "...and nothing on stderr" test ! -s "$T/nb.err"

finish
