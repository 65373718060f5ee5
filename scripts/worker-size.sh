#!/usr/bin/env bash
# Prints the worker payload, everything the service worker loads (the classic shell with its glue,
# the one to register, and the wasm), each file gzip -9 as a server would send it, and fails
# above the budget in bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:?budget in bytes}
total=0
for file in pkg/usernotify-sw.classic.js pkg/usernotify_worker_bg.wasm; do
  raw=$(wc -c <"$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  printf '  %-26s %7d bytes  %6d gzip -9\n' "$file" "$raw" "$gz"
  total=$((total + gz))
done
awk -v total="$total" -v budget="$budget" 'BEGIN {
  printf "worker payload: %d bytes gzip -9 (%.1f KiB); budget %d bytes (%.1f KiB)\n", total, total / 1024, budget, budget / 1024
}'
if [ "$total" -gt "$budget" ]; then
  echo "worker payload over budget" >&2
  exit 1
fi
