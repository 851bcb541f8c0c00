#!/bin/sh
# Replays the committed fuzz corpora as TAP tests.
exec "$TESTS_BUILDDIR/fuzz-replay-frame" "$TESTS_SRCDIR/fuzz/corpus/frame"
