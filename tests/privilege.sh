#!/bin/sh
# What workers give up: --user and --group (when forkpool is started as
# root; skipped otherwise), checked from /proc/PID/status; the
# supervisor's capabilities cut to what starting workers takes, and a
# reload that still reads a file and a plugin only their owner may read;
# resource limits from /proc/PID/limits; a chroot from /proc/PID/root.
. "${TESTS_SRCDIR:-$(dirname "$0")}/lib.sh"
. "${TESTS_SRCDIR:-$(dirname "$0")}/service-lib.sh"

plan 21

# field PID NAME: the line NAME: of /proc/PID/status, blanks squeezed.
field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' ' |
	    sed 's/ $//'
}

if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1; then
	for i in $(seq 21); do
		skip "privileges and limits ($i)" "not run as root, or no user nobody"
	done
	finish
fi
nobody_uid=$(id -u nobody)
nobody_gid=$(id -g nobody)
daemon_gid=$(getent group daemon | cut -d: -f3)

start_service 2 --user nobody builtin:fnv
w=$(workers_of "$sup" | head -n 1)
is "--user nobody: the worker's uids" "$(field "$w" Uid)" \
    "$nobody_uid $nobody_uid $nobody_uid $nobody_uid"
is "...its gids, nobody's group" "$(field "$w" Gid)" \
    "$nobody_gid $nobody_gid $nobody_gid $nobody_gid"
is "...its groups: that one only" "$(field "$w" Groups)" "$nobody_gid"
is "...no capabilities" "$(field "$w" CapEff)" 0000000000000000
is "...no new privileges through exec" "$(field "$w" NoNewPrivs)" 1
is "the supervisor stays root" "$(field "$sup" Uid)" "0 0 0 0"
caps=$(field "$sup" CapBnd)
ok "...but keeps only a few capabilities ($caps)" \
    python3 -c 'import sys; sys.exit(bin(int(sys.argv[1], 16)).count("1") > 7)' \
    "$caps"
is "...and the pool answers" "$(ctl submit hello)" a430d84680aabd0b
stop_service

start_service 2 --user nobody --group daemon lines:cat
w=$(workers_of "$sup" | head -n 1)
prog=$(pgrep -P "$w" | head -n 1)
is "--group daemon: the worker's gids" "$(field "$w" Gid)" \
    "$daemon_gid $daemon_gid $daemon_gid $daemon_gid"
is "...a lines: program runs as nobody too" "$(field "$prog" Uid)" \
    "$nobody_uid $nobody_uid $nobody_uid $nobody_uid"
stop_service

# has_cap PID N: capability N is in the process's effective set.
has_cap() {
	python3 -c 'import sys; sys.exit(not int(sys.argv[1], 16) >> int(sys.argv[2]) & 1)' \
	    "$(field "$1" CapEff)" "$2"
}
# A configuration and a plugin that only nobody may read, in a directory
# only nobody may search: a reload reads them as root, with no more than
# CAP_DAC_READ_SEARCH, which lets it read any file and write none.
mkdir "$T/private"
cp "$TESTS_BUILDDIR/.libs/test-plugin.so" "$T/private/plugin.so"
printf 'workers = 2\nhandler = %s fnv\n' "$T/private/plugin.so" \
    >"$T/private/fp.conf"
chown -R nobody "$T/private"
chmod 0600 "$T/private/fp.conf" "$T/private/plugin.so"
chmod 0700 "$T/private"
start_service 2 --user nobody -f "$T/private/fp.conf"
ok "the supervisor keeps CAP_DAC_READ_SEARCH (2), to read" has_cap "$sup" 2
not_ok "...but not CAP_DAC_OVERRIDE (1), to write anywhere" has_cap "$sup" 1
printf 'workers = 2\nhandler = %s cpu 2\n' "$T/private/plugin.so" \
    >"$T/private/fp.conf"
ctl reload >"$T/reload.out" 2>&1
is "a reload reads the file and the plugin again" "$?" 0 ||
    diag_file "$T/reload.out"
is "...and the plugin answers with the new arguments" \
    "$(ctl submit hello)" "$(echo hello | "$FNVREF" cpu 2)"
stop_service
ok "at exit the socket and the pidfile are removed" \
    test ! -e "$sock" -a ! -e "$sock.pid"

# AddressSanitizer reserves terabytes of address space: no --rlimit-as.
mkdir "$T/root"
if grep -q __asan_init "$FORKPOOL" 2>/dev/null; then
	as=
else
	as="--rlimit-as 2048"
fi
start_service 2 --rlimit-nofile 64 --rlimit-cpu 1000 $as --chroot "$T/root" \
    builtin:fnv
w=$(workers_of "$sup" | head -n 1)
ok "--rlimit-nofile 64" grep -Eq '^Max open files +64 +64 ' "/proc/$w/limits"
ok "--rlimit-cpu 1000" grep -Eq '^Max cpu time +1000 +1000 ' "/proc/$w/limits"
if [ -n "$as" ]; then
	ok "--rlimit-as 2048 MiB" \
	    grep -Eq '^Max address space +2147483648 +2147483648 ' "/proc/$w/limits"
else
	skip "--rlimit-as 2048 MiB" "built with AddressSanitizer"
fi
is "--chroot: the worker's root" "$(readlink "/proc/$w/root")" "$T/root"
is "...and it still answers" "$(ctl submit hello)" a430d84680aabd0b
stop_service

# Started as another user, forkpool cannot run workers as a third.
setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups \
    "$FORKPOOL" --user daemon builtin:echo </dev/null >/dev/null \
    2>"$T/err"
ok "--user without root is refused, saying why" \
    has 'only when forkpool is started as root' "$T/err"
finish
