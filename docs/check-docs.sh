#!/usr/bin/env bash
# docs/check-docs.sh LOG: fails if Doxygen warned while building the API
# reference (an undocumented public name, a bad @param, ...), listing them.
set -eu
log=$1
[ -f "$log" ] || { echo "no Doxygen log at $log (docs not built?)"; exit 1; }
if [ -s "$log" ]; then
  echo "Doxygen warnings (every public name needs a doc comment):"
  cat "$log"
  exit 1
fi
echo "API reference: no Doxygen warnings"
