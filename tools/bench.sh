#!/usr/bin/env bash
# tools/bench.sh [cell|ring|slab|zerocopy|reuse|doorbell|broadcast|waitset|iceoryx ...]: builds neocortex in
# release mode and runs its benchmarks, each printing one table with our
# figures and the peers' measured side by side in the same run (ratios, not
# absolute times: see ../shared/BASELINES.md on this machine's noise).
# With no argument it runs them all (a few minutes).  `iceoryx` starts an
# iox-roudi of its own for the run and stops it (see run_iceoryx below).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh bench
dir=build-bench
if [ ! -d "$dir/meson-private" ]; then
  meson setup "$dir" --buildtype=release -Db_ndebug=true -Dtests=disabled -Dexamples=disabled -Dbench=enabled >/dev/null
fi
ninja -C "$dir" >/dev/null
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(cell ring slab zerocopy reuse doorbell broadcast waitset iceoryx)
# bench-iceoryx with a RouDi (iceoryx's daemon) started for it and stopped
# after it, also when it fails or on Ctrl-C.  iceoryx 2.0 allows one RouDi
# per host under fixed names (/dev/shm/iceoryx_mgmt, the user segment named
# after the group, /tmp/roudi*): if one is running already the rows are
# skipped rather than measured against a RouDi of unknown config.
roudi_pid=
iox_shm() { ls /dev/shm 2>/dev/null | grep -E "^(iceoryx_mgmt|$(id -gn)|ncb-iox-.*)\$" || true; }
stop_roudi() {
  [ -n "$roudi_pid" ] || return 0
  # After a failure or Ctrl-C the bench's processes may have died registered:
  # RouDi's monitoring unregisters them within 1.5 s; stopped before that, it
  # tries to SIGTERM them, fails and aborts, leaving its segments behind.
  [ "${1:-}" = clean ] || sleep 3
  kill -TERM "$roudi_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$roudi_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$roudi_pid" 2>/dev/null; then
    echo "iceoryx: iox-roudi did not stop on SIGTERM within 10 s: killed" >&2
    kill -KILL "$roudi_pid" 2>/dev/null || true
  fi
  wait "$roudi_pid" 2>/dev/null || true
  roudi_pid=
  # RouDi's and the bench's names (its processes' sockets /tmp/ncbench-*)
  local left tmp
  left=$(iox_shm)
  tmp=$(ls -d /tmp/roudi /tmp/roudi.lock /tmp/iox-unique-roudi.lock /tmp/ncbench-* 2>/dev/null || true)
  if [ -n "$left$tmp" ]; then
    echo "iceoryx: left behind after iox-roudi stopped, removing:" $left $tmp >&2
    for f in $left; do rm -f "/dev/shm/$f"; done
    rm -f $tmp
  else
    echo "iceoryx: iox-roudi stopped; /dev/shm and /tmp hold none of iceoryx's or the bench's names"
  fi
}
run_iceoryx() {
  local exe=$1 log=$dir/iox-roudi.log
  if [ ! -x "$exe" ] && [ -e /usr/include/iceoryx/v2.0.3/iceoryx_binding_c/runtime.h ]; then
    # installed after $dir was configured: look again
    meson setup --reconfigure "$dir" >/dev/null && ninja -C "$dir" >/dev/null
  fi
  if [ ! -x "$exe" ]; then
    echo "iceoryx: SKIPPED: bench-iceoryx not built (no iceoryx 2.0 C binding: apt-get install iceoryx libiceoryx-binding-c-dev)"
    return 0
  fi
  if ! command -v iox-roudi >/dev/null; then
    echo "iceoryx: SKIPPED: no iox-roudi (apt-get install iceoryx)"
    return 0
  fi
  if [ -e /tmp/roudi.lock ] || [ -n "$(iox_shm)" ]; then
    echo "iceoryx: SKIPPED: another iox-roudi (or its leftovers) is present: /tmp/roudi.lock or /dev/shm:" $(iox_shm)
    return 0
  fi
  echo "iceoryx: /dev/shm before: $(ls /dev/shm | wc -l) entries, none of iceoryx's"
  trap stop_roudi EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # its own session: a Ctrl-C reaches the bench, and RouDi stops once, by stop_roudi
  setsid iox-roudi -c bench/iceoryx/roudi.toml -l warning >"$log" 2>&1 &
  roudi_pid=$!
  for _ in $(seq 100); do
    [ -S /tmp/roudi ] && [ -e /dev/shm/iceoryx_mgmt ] && break
    kill -0 "$roudi_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! [ -S /tmp/roudi ] || ! kill -0 "$roudi_pid" 2>/dev/null; then
    echo "iceoryx: FAILED: iox-roudi did not come up within 10 s; its log ($log):" >&2
    cat "$log" >&2
    stop_roudi
    return 1
  fi
  echo "iceoryx: iox-roudi $roudi_pid up ($(iox-roudi -v 2>&1 | head -n1), config bench/iceoryx/roudi.toml)"
  local rc=0
  "$exe" || rc=$?
  if [ $rc -eq 0 ]; then stop_roudi clean; else stop_roudi; fi
  trap - EXIT INT TERM
  return $rc
}

for b in "${which[@]}"; do
  case $b in
    cell) exe=$dir/bench/cell/bench-cell ;;
    ring) exe=$dir/bench/ring/bench-ring ;;
    slab) exe=$dir/bench/slab/bench-slab ;;
    zerocopy) exe=$dir/bench/slab/bench-zerocopy ;;
    reuse) exe=$dir/bench/slab/bench-reuse ;;
    doorbell) exe=$dir/bench/doorbell/bench-doorbell-wake ;;
    broadcast) exe=$dir/bench/broadcast/bench-broadcast ;;
    waitset) exe=$dir/bench/waitset/bench-waitset ;;
    iceoryx) exe=$dir/bench/iceoryx/bench-iceoryx ;;
    *) echo "unknown benchmark $b (cell ring slab zerocopy reuse doorbell broadcast waitset iceoryx)" >&2; exit 2 ;;
  esac
  echo "==================== $b ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ "$b" = iceoryx ]; then run_iceoryx "$exe"; else "$exe"; fi
done
