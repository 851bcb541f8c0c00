#!/bin/sh
# Replays the committed fuzz corpora as one TAP stream: each file of
# tests/fuzz/corpus/TARGET through that target, built without libFuzzer
# (tests/fuzz/replay.c), so that every machine runs them in make check.
# FUZZ_REPLAY_WRAPPER, if set, runs each replay under it (the CI's
# valgrind pass).
tap=$(mktemp "${TMPDIR:-/tmp}/fuzz-corpus.XXXXXX") || exit 99
err=$(mktemp "${TMPDIR:-/tmp}/fuzz-corpus.XXXXXX") || exit 99
trap 'rm -f "$tap" "$err"' EXIT
n=0
for target in frame netstr submit config; do
	dir=$TESTS_SRCDIR/fuzz/corpus/$target
	if [ "$target" = config ] && [ "${FORKPOOL_HAVE_INIH:-yes}" != yes ]; then
		n=$((n + 1))
		echo "ok $n - config: the corpus # SKIP built without libinih"
		continue
	fi
	${FUZZ_REPLAY_WRAPPER:-} "$TESTS_BUILDDIR/fuzz-replay-$target" "$dir" \
	    >"$tap" 2>"$err"
	rc=$?
	planned=$(sed -n 's/^1\.\.//p' "$tap")
	seen=0
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*)
			n=$((n + 1))
			seen=$((seen + 1))
			echo "$line" | sed "s|^\(not \)*ok [0-9]* - |\1ok $n - $target/|"
			;;
		"1.."*)	;;
		"#"*)	echo "$line" ;;
		*)	echo "# $line" ;;
		esac
	done <"$tap"
	if [ "$rc" -ne 0 ] || [ "$seen" != "${planned:-none}" ]; then
		n=$((n + 1))
		echo "not ok $n - $target: the replay ended with status $rc" \
		    "after $seen of ${planned:-?} files"
		grep -v '^replaying ' "$err" | head -n 20 | sed 's/^/# /'
		grep '^replaying ' "$err" | tail -n 1 |
		    sed 's/^replaying \(.*\)/# the last file: \1/'
	fi
done
echo "1..$n"
