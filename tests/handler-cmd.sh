#!/bin/sh
# cmd:TEMPLATE, a command per job: every replacement string, lines that a
# shell would act on passed as they are, the line appended to a template
# with none, {#} in input and completion order and with keys, --colsep
# for {N} and -k N, exit statuses and signals as failures, stderr passed
# through, a multi-line stdout, no command outliving its worker (timeout,
# SIGKILL), start-up errors, service mode once.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/service-lib.sh"

plan 40

# --- replacement strings ----------------------------------------------------------

# Lines a shell would act on: none of it may run.
cat >"$T/hostile" <<EOF
a  b
it's "quoted"
\$(touch $T/ran)
x; touch $T/ran
\`touch $T/ran\`
back\\slash * ~ \$HOME
EOF
fp_run "$T/hostile" "$T/h.out" "$T/h.err" -w 2 "cmd:printf [%s]\\\\n {}"
is "hostile lines: exit status 0" "$fp_rc" 0
sed 's/.*/[&]/' "$T/hostile" >"$T/h.ref"
same_file "hostile lines: each one argument, as it is" "$T/h.out" "$T/h.ref"
ok "hostile lines: nothing was run by a shell" test ! -e "$T/ran"

# A template with no replacement string gets the line as its last word.
fp_run "$T/hostile" "$T/a.out" "$T/a.err" -w 2 "cmd:printf [%s]\\\\n"
same_file "no replacement string: the line is appended" "$T/a.out" "$T/h.ref"

cat >"$T/paths" <<'EOF'
dir/sub/file.tar.gz x
/top y
plain z
.hidden w
a.b/c v
EOF
fp_run "$T/paths" "$T/p.out" "$T/p.err" -w 2 \
    "cmd:printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' {} {.} {/} {//} {/.} {1} {2} {1.} {1/.} {1//}"
cat >"$T/p.ref" <<'EOF'
dir/sub/file.tar.gz x|dir/sub/file.tar|file.tar.gz x|dir/sub|file.tar|dir/sub/file.tar.gz|x|dir/sub/file.tar|file.tar|dir/sub
/top y|/top y|top y|/|top y|/top|y|/top|top|/
plain z|plain z|plain z|.|plain z|plain|z|plain|plain|.
.hidden w||.hidden w|.||.hidden|w|||.
a.b/c v|a.b/c v|c v|a.b|c v|a.b/c|v|a.b/c|c|a.b
EOF
same_file "{} {.} {/} {//} {/.} {N} {N.} {N/.} {N//}: as GNU parallel" \
    "$T/p.out" "$T/p.ref"
if command -v parallel >/dev/null; then
	cut -d '|' -f 1-5 "$T/p.out" >"$T/p.cut"
	parallel -k 'printf "%s|%s|%s|%s|%s\n" {} {.} {/} {//} {/.}' \
	    <"$T/paths" >"$T/p.par" 2>/dev/null
	same_file "... and GNU parallel agrees" "$T/p.cut" "$T/p.par"
else
	skip "... and GNU parallel agrees" "parallel is not installed"
fi
fp_run "$T/paths" "$T/w.out" "$T/w.err" -w 1 'cmd:echo --in={2} {}{1}'
ok "a replacement inside a word: --in=x dir/sub/file.tar.gz xdir/sub/..." \
    has "--in=x dir/sub/file.tar.gz xdir/sub/file.tar.gz" "$T/w.out"

# --- {#}, order, keys ---------------------------------------------------------------

awk 'BEGIN { for (i = 1; i <= 120; i++) print "k" i % 5, i }' >"$T/in"
awk '{ print NR, $0 }' "$T/in" >"$T/num.ref"
fp_run "$T/in" "$T/num.out" "$T/num.err" -w 3 'cmd:echo {#} {}'
same_file "{#} is the line number, results in input order" "$T/num.out" \
    "$T/num.ref"
fp_run "$T/in" "$T/comp.out" "$T/comp.err" -w 3 -o completion \
    'cmd:echo {#} {}'
sort -n "$T/comp.out" >"$T/comp.sorted"
same_file "-o completion: the same {#} for each line" "$T/comp.sorted" \
    "$T/num.ref"
fp_run "$T/in" "$T/key.out" "$T/key.err" -w 3 -k 1 -o completion \
    'cmd:echo {1} {#} {2}'
ok "-k 1: within a key, jobs ran in input order" per_key_order 1 2 \
    "$T/key.out"
awk '{ print $1, NR, $2 }' "$T/in" | sort >"$T/key.ref"
sort "$T/key.out" >"$T/key.sorted"
same_file "-k 1: each line once, with its number" "$T/key.sorted" \
    "$T/key.ref"

# --- --colsep --------------------------------------------------------------------

awk 'BEGIN { for (i = 1; i <= 80; i++) print "a b," "k" i % 4 ",," i }' \
    >"$T/csv"
fp_run "$T/csv" "$T/cs.out" "$T/cs.err" -w 2 --colsep ',+' \
    "cmd:printf %s/%s/%s/%s\\\\n {1} {2} {3} {4}"
awk -F ',+' '{ print $1 "/" $2 "/" $3 "/" }' "$T/csv" >"$T/cs.ref"
same_file "--colsep ',+': {1} {2} {3}, and {4} empty" "$T/cs.out" \
    "$T/cs.ref"
fp_run "$T/csv" "$T/ck.out" "$T/ck.err" -w 3 --colsep , -k 2 \
    -o completion 'cmd:echo {2} {#}'
ok "--colsep , -k 2: within a key, jobs ran in input order" \
    per_key_order 1 2 "$T/ck.out"
not_has_field() {
	! has "has no field" "$T/ck.err"
}
ok "--colsep , -k 2: every line has its key field" not_has_field
printf 'x\n' >"$T/one"
fp_run "$T/one" "$T/re.out" "$T/re.err" --colsep '(' 'cmd:echo'
is "--colsep '(': exit status 2" "$fp_rc" 2
ok "--colsep '(': the regex's error" has "--colsep '('" "$T/re.err"

# --- failures --------------------------------------------------------------------

printf '1\n2\n3\n' >"$T/three"
fp_run "$T/three" "$T/f.out" "$T/f.err" -w 2 --failed "$T/f.failed" \
    "cmd:sh -c 'echo err-\$0 >&2; [ \$0 != 2 ] || exit 3; echo ok-\$0' {}"
is "exit 3: exit status 1" "$fp_rc" 1
printf 'ok-1\nok-3\n' >"$T/f.ref"
same_file "exit 3: the other jobs' results" "$T/f.out" "$T/f.ref"
ok "exit 3: 'line 2 failed: error: exit 3'" \
    has "line 2 failed: error: exit 3" "$T/f.err"
ok "exit 3: --failed holds the line" test "$(cat "$T/f.failed")" = 2
ok "the command's stderr passes through" has "err-3" "$T/f.err"
fp_run "$T/one" "$T/s.out" "$T/s.err" -w 1 "cmd:sh -c 'kill -9 \$\$'"
ok "a signal: 'killed by signal 9'" \
    has "line 1 failed: error: killed by signal 9" "$T/s.err"
fp_run "$T/one" "$T/m.out" "$T/m.err" -w 1 \
    "cmd:printf 'one\\ntwo\\n\\n\\n'"
is "a multi-line stdout: one line, inner newlines as spaces" \
    "$(cat "$T/m.out")" "one two"
fp_run "$T/three" "$T/e.out" "$T/e.err" -w 1 'cmd:true'
is "no stdout: an empty result, exit status 0" "$fp_rc" 0
is "no stdout: an empty line for each job" "$(wc -l <"$T/e.out")" 3
# The same path as any in-process handler's first empty result.
printf '\n' >"$T/empty"
fp_run "$T/empty" "$T/be.out" "$T/be.err" -w 1 builtin:echo
is "builtin:echo of an empty line: an empty result, exit status 0" \
    "$fp_rc" 0
fp_run "$T/one" "$T/l.out" "$T/l.err" -w 1 --frame-max 100 \
    "cmd:sh -c 'seq 100'"
ok "a stdout longer than a frame: the job fails, says why" \
    has "line 1 failed: error: its output is longer" "$T/l.err"
printf 'a\000b\n' >"$T/nul"
fp_run "$T/nul" "$T/n.out" "$T/n.err" -w 1 'cmd:echo'
ok "a NUL in the line: the job fails, says why" has "NUL byte" "$T/n.err"
fp_run "$T/one" "$T/np.out" "$T/np.err" 'cmd:no-such-program-here {}'
is "a missing program: exit status 2" "$fp_rc" 2
ok "a missing program: 'command not found'" \
    has "no-such-program-here: command not found" "$T/np.err"
fp_run "$T/one" "$T/th.out" "$T/th.err" --isolation thread 'cmd:echo'
is "--isolation thread: refused, exit status 2" "$fp_rc" 2
ok "--isolation thread: says why" has "cmd: handler runs programs" \
    "$T/th.err"

# --- no command outlives its worker -------------------------------------------------

# Each job's sh writes its pid and that of a child, then waits.
nap=$T/nap
ln -s "$(command -v sleep)" "$nap"
cat >"$T/hang" <<EOF
echo \$\$ >"$T/pid.\$1"; $nap 30 & echo \$! >"$T/kid.\$1"; wait
EOF
all_gone() {
	for ag in "$T"/pid.* "$T"/kid.*; do
		proc_alive "$(cat "$ag")" && return 1
	done
	return 0
}
fp_run "$T/three" "$T/t.out" "$T/t.err" -w 2 -a 1 -t 0.3 \
    "cmd:sh $T/hang {}"
is "--timeout: every job fails, exit status 1" "$fp_rc" 1
is "--timeout: three timeouts" "$(count "failed: timeout" "$T/t.err")" 3
ok "--timeout: each command and its child were started" \
    test -s "$T/kid.3" -a -s "$T/pid.1"
ok "--timeout: no command is left" wait_for 5 all_gone
rm -f "$T"/pid.* "$T"/kid.*

# SIGKILL to the worker: the command dies with it (PR_SET_PDEATHSIG).
printf '1\n' >"$T/1"
fp_bg "$T/1" "$T/k.out" "$T/k.err" -w 1 -a 1 "cmd:sh $T/hang {}"
wait_for 10 test -s "$T/kid.1"
cmd_pid=$(cat "$T/pid.1")
worker=$(ps -o ppid= -p "$cmd_pid" | tr -d ' ')
kill -9 "$worker"
ok "SIGKILL to the worker: its command is gone" wait_for 10 proc_gone \
    "$cmd_pid"
fp_wait "$fp_pid"
is "SIGKILL to the worker: the job crashed, exit status 1" "$fp_rc" 1
ok "SIGKILL to the worker: no command's child is left" wait_for 5 all_gone
pkill -KILL -f "^$nap " 2>/dev/null

# --- service mode -----------------------------------------------------------------

start_service 1 'cmd:echo {#}:{}'
ctl submit 'a b' c >"$T/svc.res"
printf '1:a b\n2:c\n' >"$T/svc.ref"
same_file "service mode: results with {#}, the order of arrival" \
    "$T/svc.res" "$T/svc.ref"
stop_service

finish
