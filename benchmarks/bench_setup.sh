#!/usr/bin/env bash
# Fresh clone to the first image (README command 1), ours against the baseline, in one run:
#   ours      scripts/setup.sh: uv installs the runtime lock (hashes checked), cold uv cache
#   baseline  pip installs the same lock (--require-hashes --no-deps), no pip cache
# Both then run `t2i generate "a red apple"`. Prints seconds and the ratio (docs/PERFORMANCE.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/ours"
git clone -q "$repo" "$work/pip"
seconds() { local s; s=$(date +%s.%N); "$@" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
            echo "$(date +%s.%N) - $s" | bc; }
ours=$(cd "$work/ours" && seconds env UV_CACHE_DIR="$work/uv-cache" bash -c \
    'bash scripts/setup.sh && .venv/bin/t2i generate "a red apple" -o apple.png')
base=$(cd "$work/pip" && seconds env PIP_NO_CACHE_DIR=1 bash -c \
    'python3 -m venv .venv && .venv/bin/pip install -q --require-hashes --no-deps \
        -r locks/linux-x86_64/runtime.txt && \
     .venv/bin/pip install -q --no-deps --no-build-isolation -e . && \
     .venv/bin/t2i generate "a red apple" -o apple.png')
printf 'fresh clone -> first image: ours (uv) %.1f s, baseline (pip) %.1f s, %.1fx faster\n' \
    "$ours" "$base" "$(echo "$base / $ours" | bc -l)"
