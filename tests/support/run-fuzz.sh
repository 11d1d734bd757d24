#!/bin/sh
# run-fuzz.sh FUZZER CORPUS_DIR SECONDS: runs a libFuzzer target for a few
# seconds on a scratch copy of the checked-in seed corpus (libFuzzer writes
# new inputs into its first corpus dir; the source tree stays untouched).
set -eu
fuzzer=$1; corpus=$2; secs=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/ncfuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/ 2>/dev/null || true
"$fuzzer" -max_total_time="$secs" -print_final_stats=1 -timeout=10 "$work" 2>&1 | tail -n 12
