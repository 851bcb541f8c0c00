#!/bin/sh
# Replays the committed fuzz corpora as one TAP stream: each file of
# tests/fuzz/corpus/TARGET through that target, built without libFuzzer
# (tests/fuzz/replay.c), so that every machine runs them in make check.
# FUZZ_REPLAY_WRAPPER, if set, runs each replay under it (the CI's
# valgrind pass).
tap=$(mktemp "${TMPDIR:-/tmp}/fuzz-corpus.XXXXXX") || exit 99
trap 'rm -f "$tap"' EXIT
n=0
for target in frame submit config; do
	dir=$TESTS_SRCDIR/fuzz/corpus/$target
	${FUZZ_REPLAY_WRAPPER:-} "$TESTS_BUILDDIR/fuzz-replay-$target" "$dir" \
	    >"$tap" 2>&1
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
	fi
done
echo "1..$n"
