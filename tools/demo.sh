#!/usr/bin/env bash
# tools/demo.sh [COUNT]: builds neocortex and runs the demo, three processes
# sharing a typed stats cell, a slab of messages and a ring of handles.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh demo
dir=build-demo
if [ ! -d "$dir/meson-private" ]; then
  meson setup "$dir" --buildtype=release -Dtests=disabled -Dbench=disabled -Dexamples=enabled >/dev/null
fi
ninja -C "$dir" >/dev/null
exec "$dir/examples/demo/neocortex-demo" "$@"
