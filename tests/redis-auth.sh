#!/bin/sh
# Credentials and databases: a private redis-server with requirepass and
# an ACL user that may touch only forkpool:* keys with the commands of
# doc/SCALING.md's minimal ACL.  A supervisor with the password in a
# file and a producer with it in the URL run jobs in database 3, which
# leaves database 0 empty; a wrong password is one clear error, at once;
# the password is never in a log, a message or ps.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "$TESTS_SRCDIR/redis-lib.sh"
redis_skip_unless_ready

plan 25

ADMIN=admin-Pw-41
PW='fp-S3cret/x@y'
PW_URL='fp-S3cret%2Fx%40y'	# the same, escaped for a URL
export REDISCLI_AUTH=$ADMIN	# rcli's, as the default user

# --- the URL, before anything connects ----------------------------------------------

"$FORKPOOL" -n --source 'redis://u:hush-Hush-9@h/p?db=x' builtin:echo \
    </dev/null >/dev/null 2>"$T/url.err"
is "a bad db: exit 2" "$?" 2
ok "...saying why" has 'db=N: N must be a number' "$T/url.err"
ok "...the password masked" has 'redis://u:***@h/p?db=x' "$T/url.err"
ok "...and nowhere" not_has hush-Hush-9 "$T/url.err"
"$FORKPOOL" -n --source 'redis://:a%zzb@h/p' builtin:echo </dev/null \
    >/dev/null 2>"$T/esc.err"
ok "a bad %-escape in the password: refused" has 'a bad or too long password' \
    "$T/esc.err"
# Masked however malformed: a Unix socket URL whose path is not absolute.
"$FORKPOOL" -n --source 'redis+unix://:hush-Hush-9@tmp/s/p' builtin:echo \
    </dev/null >/dev/null 2>"$T/unix.err"
ok "a bad Unix URL: its password masked too" not_has hush-Hush-9 \
    "$T/unix.err"
"$FORKPOOL" -n --source redis://h/p --redis-password-file "$T/none" \
    builtin:echo </dev/null >/dev/null 2>"$T/pf.err"
ok "a missing password file: refused by -n" has "password file $T/none:" \
    "$T/pf.err"

# --- a server that wants a password -------------------------------------------------

mkdir -p "$T/redis.d"
cat >"$T/redis.conf" <<EOF
port 0
unixsocket $REDIS_SOCK
unixsocketperm 700
dir $T/redis.d
save ""
appendonly no
logfile $T/redis.log
requirepass $ADMIN
user fp on >$PW resetkeys ~forkpool:* resetchannels -@all +eval +select +hget +hset +hsetnx +get +set +del +exists +pexpire +pttl +xadd +xread +xreadgroup +xack +xdel +xtrim +xpending +xclaim +xautoclaim +xgroup +xrange +xlen +xinfo
EOF
redis-server "$T/redis.conf" </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- &
redis_pid=$!
track "$redis_pid"
wait_for 20 redis_up || diag_file "$T/redis.log"
S=$REDIS_SOCK

# A wrong password: the supervisor stops at once, saying why.
"$FORKPOOL" --source "redis+unix://fp:not-the-Pw-7@$S/pa" --partitions 8 \
    builtin:echo </dev/null >/dev/null 2>"$T/wrong.err" &
wrong=$!
track "$wrong"
fp_wait "$wrong" 20
is "a wrong password: the supervisor exits 2" "$fp_rc" 2
ok "...saying AUTH was refused" has 'AUTH refused' "$T/wrong.err"
ok "...the password in no message" not_has not-the-Pw-7 "$T/wrong.err"
ctl -r "redis+unix://:not-the-Pw-7@$S/pa" -P 8 submit x
is "...forkpoolctl: exit 2" "$ctl_rc" 2
ok "...saying AUTH was refused" has 'AUTH refused' "$T/ctl.err"

# The ACL user, its password in a file, database 3.
printf '%s\n' "$PW" >"$T/pw"
chmod 600 "$T/pw"
U="redis+unix://fp:@$S/pa?db=3"
sup_start a --source "$U" --redis-password-file "$T/pw" --partitions 8 \
    --consumer a -w 2 builtin:echo
stray_workers $(workers_of "$sup")
ok "the ACL user connects, its password from a file" \
    wait_for 20 has connected "$T/a.err"
awk 'BEGIN { for (i = 1; i <= 200; i++) printf "k%d %d\n", i % 7, i }' \
    >"$T/jobs"
ctl -r "redis+unix://fp:$PW_URL@$S/pa?db=3" submit -f 1 <"$T/jobs"
is "200 jobs through the ACL user in db 3: exit 0" "$ctl_rc" 0
sort "$T/ctl.out" >"$T/got"
sort "$T/jobs" >"$T/want"
same_file "...every result once" "$T/got" "$T/want"
is "...every entry left its partition stream" "$(rcli -n 3 EVAL "local n = 0
for i = 0, 7 do n = n + redis.call('XLEN', 'forkpool:{pa}:p' .. i) end
return n" 0)" 0
is "...database 0 is empty" "$(rcli -n 0 DBSIZE)" 0
is "...the pool is in database 3" "$(rcli -n 3 HGET 'forkpool:{pa}:meta' \
    partitions)" 8
out=$(redis-cli -s "$S" --user fp --pass "$PW" --no-auth-warning SET other 1 \
    2>&1 3>&- 4>&- 5>&- 6>&-)
case $out in
*NOPERM*) pass "...and the ACL user may touch no other key" ;;
*) fail "...and the ACL user may touch no other key"; diag "$out" ;;
esac
ctl -r "redis+unix://fp:$PW_URL@$S/pa?db=3" status
is "...and forkpoolctl status works for it" "$ctl_rc" 0

# The password file is read at start: a reload that names another one
# (or another claim time) says that it waits for the next start.
cp "$T/pw" "$T/pw2"
conf() {
	printf '%s\n' "handler = builtin:echo" "workers = 1" \
	    "source = $U" "password_file = $1" "partitions = 8" \
	    "consumer = b" "claim_idle = $2" >"$T/b.conf"
}
conf "$T/pw" 30
sup_start b -f "$T/b.conf"
wait_for 20 has connected "$T/b.err" || diag "supervisor b did not connect"
conf "$T/pw2" 5
kill -HUP "$sup_b"
ok "a reload with another password file: it waits for the next start" \
    wait_for 20 has 'password_file changed' "$T/b.err"
ok "...and so does a new claim_idle" has 'claim_idle changed' "$T/b.err"
kill -TERM "$sup_b"
fp_wait "$sup_b"
is "...and the supervisor goes on, then exits 0" "$fp_rc" 0
ps -ww -o args= -p "$sup_a" >"$T/ps"
ok "the password is not in ps" not_has "$PW" "$T/ps"
kill -TERM "$sup_a"
fp_wait "$sup_a"
cat "$T/a.err" "$T/ctl.err" >"$T/all.log"
ok "...nor in any log" not_has "$PW" "$T/all.log"
rcli SHUTDOWN NOSAVE >/dev/null 2>&1
fp_wait "$redis_pid" 20
finish
