#!/usr/bin/env bash
# Set up a virtual environment in .venv for t2i-studio on Debian/Ubuntu with Python 3.11.
#   bash scripts/setup.sh            runtime only (CPU torch 2.13.0, the built-in model, worker)
#   bash scripts/setup.sh test       + training/eval (torch 2.14.1 + torchvision, open_clip) and
#                                      test tools
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "installing python3-venv (needs root)" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# pip warns about every local index folder it skips; keep real messages only
pip_q() { .venv/bin/pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ "${1:-}" = "test" ]; then
    # open_clip needs torchvision; the only torchvision that runs here is 0.29.1 beside 2.14.1
    pip_q "torch==2.14.1" "torchvision==0.29.1"
    pip_q -e ".[train,test,gui,diffusers,cluster]"  # gui: panel/editor; diffusers: SD; cluster: Ray
else
    .venv/bin/python -c 'import torch' 2>/dev/null || pip_q "torch==2.13.0"
    pip_q -e .
fi
echo "ready: .venv/bin/t2i --help" >&2
