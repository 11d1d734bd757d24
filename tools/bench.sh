#!/usr/bin/env bash
# tools/bench.sh [cell|ring|slab|zerocopy|doorbell|broadcast|waitset ...]: builds neocortex in
# release mode and runs its benchmarks, each printing one table with our
# figures and the peers' measured side by side in the same run (ratios, not
# absolute times: see ../shared/BASELINES.md on this machine's noise).
# With no argument it runs them all (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh bench
dir=build-bench
if [ ! -d "$dir/meson-private" ]; then
  meson setup "$dir" --buildtype=release -Db_ndebug=true -Dtests=disabled -Dexamples=disabled -Dbench=enabled >/dev/null
fi
ninja -C "$dir" >/dev/null
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(cell ring slab zerocopy doorbell broadcast waitset)
for b in "${which[@]}"; do
  case $b in
    cell) exe=$dir/bench/cell/bench-cell ;;
    ring) exe=$dir/bench/ring/bench-ring ;;
    slab) exe=$dir/bench/slab/bench-slab ;;
    zerocopy) exe=$dir/bench/slab/bench-zerocopy ;;
    doorbell) exe=$dir/bench/doorbell/bench-doorbell-wake ;;
    broadcast) exe=$dir/bench/broadcast/bench-broadcast ;;
    waitset) exe=$dir/bench/waitset/bench-waitset ;;
    *) echo "unknown benchmark $b (cell ring slab zerocopy doorbell broadcast waitset)" >&2; exit 2 ;;
  esac
  echo "==================== $b ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
  "$exe"
done
