#!/bin/sh
# Results tied to their inputs: --tag, --failed-line; NUL-separated records
# (-0); a word when the jobs are read from a terminal.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"

plan 20

printf 'a 1\nb 2\nc\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 2 --tag builtin:echo
printf 'a 1\ta 1\nb 2\tb 2\nc\tc\n' >"$T/want"
same_file "--tag: the input line and a tab first" "$T/out" "$T/want"
fp_run "$T/in" "$T/out" "$T/err" -w 2 --tag -k 2 builtin:echo
printf '1\ta 1\n2\tb 2\n\tc\n' >"$T/want"
same_file "--tag -k 2: the key and a tab first" "$T/out" "$T/want"

# Line N of the output is job N, failed or not, refused or not.
printf 'one\ntwo CRASH\nthree\nfour CRASH\nfive\n' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 2 -a 1 --failed-line FAILED \
    builtin:crash
is "--failed-line: exit status 1, as failures make it" "$fp_rc" 1
is "...each failed job has its line, in its place" \
    "$(tr '\n' , <"$T/out")" "one,FAILED,three,FAILED,five,"
fp_run "$T/in" "$T/out" "$T/err" -w 2 -a 1 --failed-line '' --tag \
    builtin:crash
is "...tagged with --tag, and may be empty" "$(tr '\n\t' ',:' <"$T/out")" \
    "one:one,two CRASH:,three:three,four CRASH:,five:five,"
fp_run "$T/in" "$T/out" "$T/err" -w 2 -a 1 --failed-line FAILED \
    -o completion builtin:crash
is "...in completion order too, one line a job" "$(wc -l <"$T/out")" 5
{
	echo short
	head -c 200 /dev/zero | tr '\0' x
	echo
	echo after
	head -c 200 /dev/zero | tr '\0' y
} >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 2 --frame-max 100 --failed-line NO \
    --failed "$T/failed" builtin:echo
is "...a line refused at input has its line too" \
    "$(tr '\n' , <"$T/out")" "short,NO,after,NO,"
is "...and is still reported" "$(count 'rejected: longer than' "$T/err")" 2
fp_run "$T/in" "$T/out" "$T/err" -w 2 --frame-max 100 --failed-line NO \
    --tag builtin:echo
is "...tagged with nothing: the line is not kept" \
    "$(tr '\n\t' ',:' <"$T/out")" "short:short,:NO,after:after,:NO,"
"$FORKPOOL" --failed-line "$(printf 'a\nb')" builtin:echo </dev/null \
    >/dev/null 2>"$T/err"
is "--failed-line with a newline: exit status 2" "$?" 2
ok "...saying why" has 'holds a newline' "$T/err"

# -0: records end in NUL; a newline is just a byte of one.
printf 'a\nb\000c d\000e' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 2 -0 builtin:echo
printf 'a\nb\000c d\000e\000' >"$T/want"
same_file "-0: records and results end in NUL" "$T/out" "$T/want"
fp_run "$T/in" "$T/out" "$T/err" -w 2 --null --tag -k 2 builtin:echo
printf '\ta\nb\000d\tc d\000\te\000' >"$T/want"
same_file "--null with --tag -k 2" "$T/out" "$T/want"
printf 'x\000y CRASH\000z\000' >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 -a 1 -0 --failed "$T/failed" \
    --failed-line F builtin:crash
printf 'x\000F\000z\000' >"$T/want"
same_file "...with --failed-line" "$T/out" "$T/want"
printf 'y CRASH\000' >"$T/want"
same_file "...and --failed FILE NUL-separated too" "$T/failed" "$T/want"
{
	printf 'ok\000'
	head -c 200 /dev/zero | tr '\0' x
	printf '\000next\000'
} >"$T/in"
fp_run "$T/in" "$T/out" "$T/err" -w 1 -0 --frame-max 100 builtin:echo
printf 'ok\000next\000' >"$T/want"
same_file "...an overlong record is refused, the next one runs" \
    "$T/out" "$T/want"

# A terminal on standard input: said once, at the start.
tty_run() {
	python3 - "$FORKPOOL" "$T/tout" "$T/terr" <<'EOF'
import os, pty, subprocess, sys
m, s = pty.openpty()
with open(sys.argv[2], "wb") as out, open(sys.argv[3], "wb") as err:
    p = subprocess.Popen([sys.argv[1], "-w", "1", "builtin:echo"],
                         stdin=s, stdout=out, stderr=err)
    os.close(s)
    os.write(m, b"hello\n\x04")
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        sys.exit(1)
os.close(m)
sys.exit(p.returncode)
EOF
}
if command -v python3 >/dev/null 2>&1; then
	tty_run
	is "a terminal on stdin: Ctrl-D ends the input" "$?" 0
	is "...the job ran" "$(cat "$T/tout")" hello
	is "...it was said, once" \
	    "$(count 'reading jobs from the terminal' "$T/terr")" 1
	echo hello >"$T/tin"
	fp_run "$T/tin" "$T/out" "$T/err" -w 1 builtin:echo
	is "...not said for a file" "$(count 'terminal' "$T/err")" 0
else
	skip "a terminal on stdin: Ctrl-D ends the input" "no python3"
	skip "...the job ran" "no python3"
	skip "...it was said, once" "no python3"
	skip "...not said for a file" "no python3"
fi
finish
