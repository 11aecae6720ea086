#!/usr/bin/env bash
# Set up .venv for t2i-studio from the lock file (exact versions, hashes checked), on Linux
# x86-64 with Python 3.11 (Debian 12 or newer). Other platforms: docs/install.md.
#   bash scripts/setup.sh [PROFILE]
#     runtime    (default) the worker and the built-in model, CPU torch 2.13.0
#     studio     runtime + the Qt panel and the standalone editor (`t2i studio`)
#     diffusers  studio + your own Stable-Diffusion-family models (torch 2.14.1, CUDA-capable)
#     cluster    diffusers + Ray: a studio's gateway and GPU nodes (docs/cluster.md)
#     test       every extra: training, evaluation, data builder and the test tools (CI)
# The lock files are in locks/ (made by scripts/lock.sh); uv (pinned there too) installs
# them, hashes checked, and removes what they do not list. A smaller profile asked of an
# environment that holds a larger one keeps the larger one: each is a complete, locked set.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILES=(runtime studio diffusers cluster test)
PROFILE=${1:-runtime}
rank() { local i; for i in "${!PROFILES[@]}"; do [ "${PROFILES[$i]}" = "$1" ] && echo "$i"; done; }
if [ -z "$(rank "$PROFILE")" ]; then
    echo "unknown profile '$PROFILE'; use one of: ${PROFILES[*]}" >&2; exit 2
fi
case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) PLATFORM=linux-x86_64 ;;
    *) echo "scripts/setup.sh covers Linux x86-64; see docs/install.md for $(uname -s)" >&2
       exit 2 ;;
esac
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys, venv, ensurepip; assert sys.version_info[:2] == (3, 11)' 2>/dev/null
then
    if ! "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
        echo "$PY is not Python 3.11 (the locks are for 3.11); set PYTHON=/path/to/python3.11" >&2
        exit 2
    fi
    echo "installing python3-venv (needs root)" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
MARKER=.venv/t2i-lock
HAVE=$(cat "$MARKER" 2>/dev/null || true)
if [ -n "$HAVE" ] && [ -n "$(rank "$HAVE")" ] && [ "$(rank "$HAVE")" -gt "$(rank "$PROFILE")" ]
then
    echo "keeping the '$HAVE' environment in .venv (it includes '$PROFILE')" >&2
    PROFILE=$HAVE
fi
LOCK=locks/$PLATFORM/$PROFILE.txt
# pip warns about every local index folder it skips; keep real messages only
pip_q() { .venv/bin/pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }
export PIP_DISABLE_PIP_VERSION_CHECK=1
# 1. uv, the installer, itself from the lock (its pin and hashes only).
if [ "$(.venv/bin/uv --version 2>/dev/null)" != "uv $(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$LOCK")" ]
then
    boot=$(mktemp); awk '/^uv==/{p=1} p&&!/^uv==/&&!/^ /{p=0} p' "$LOCK" > "$boot"
    pip_q --require-hashes --no-deps -r "$boot"; rm -f "$boot"
fi
# 2. The lock, exactly: uv installs every pinned file after checking its hash and removes
# whatever the lock does not list. The package indexes are the ones pip is configured with
# (uv does not read pip's configuration); any index may serve a file, as the hash decides.
INDEXES=()
for url in $(.venv/bin/pip config get global.index-url 2>/dev/null || true) ${PIP_INDEX_URL:-}
do INDEXES+=(--index-url "$url"); done
for url in $(.venv/bin/pip config get global.extra-index-url 2>/dev/null || true) \
           ${PIP_EXTRA_INDEX_URL:-}; do INDEXES+=(--extra-index-url "$url"); done
for dir in $(.venv/bin/pip config get global.find-links 2>/dev/null || true) \
           ${PIP_FIND_LINKS:-}; do INDEXES+=(--find-links "$dir"); done
.venv/bin/uv pip sync -q --python .venv/bin/python --require-hashes \
    --index-strategy unsafe-best-match "${INDEXES[@]}" "$LOCK"
# 3. The project itself, editable, nothing resolved (setuptools comes from the lock).
.venv/bin/uv pip install -q --python .venv/bin/python --no-deps --no-build-isolation -e .
echo "$PROFILE" > "$MARKER"
.venv/bin/python scripts/lockcheck.py >&2
echo "ready ($PROFILE): .venv/bin/t2i --help" >&2
