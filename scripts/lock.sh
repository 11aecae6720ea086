#!/usr/bin/env bash
# Regenerate the lock files in locks/ from pyproject.toml: exact versions with hashes for every
# install path (docs/install.md). Run it after changing a dependency in pyproject.toml and
# commit the result; tests/test_lock.py fails until the locks match pyproject again.
#
#   bash scripts/lock.sh              all profiles, all platforms (needs uv: pip install uv)
#
# Profiles (what scripts/setup.sh PROFILE installs):
#   runtime   the worker + built-in model (CPU torch 2.13.0; on Linux the +cpu wheel)
#   studio    runtime + the Qt panel and the standalone editor (gui extra)
#   diffusers studio + users' own Stable-Diffusion-family models (torch 2.14.1: CUDA on Linux)
#   cluster   diffusers + Ray: a studio's gateway and GPU nodes (docs/cluster.md), Linux
#   test      every extra: training, evaluation, data builder, Ray cluster, tests (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
command -v "$UV" >/dev/null || { echo "uv is needed: pip install uv" >&2; exit 1; }
# The +cpu torch wheel lies in a local wheel folder on the project's machines (pip's
# find-links); uv does not read pip's configuration, so pass it on.
FIND_LINKS=()
for dir in $(pip config get global.find-links 2>/dev/null || true) ${PIP_FIND_LINKS:-}; do
    [ -d "$dir" ] && FIND_LINKS+=(--find-links "$dir")
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
build_in=$tmp/build.in over=$tmp/torch.txt
# setuptools: the editable install builds without isolation; uv installs the lock (setup.sh),
# pip stays usable in the environment. All three are pinned with hashes like the rest.
printf 'setuptools>=68\nuv==0.13.8\npip>=24\n' > "$build_in"

# platform name  uv --python-platform
PLATFORMS=("linux-x86_64 x86_64-manylinux_2_36"
           "windows-x86_64 x86_64-pc-windows-msvc"
           "macos-arm64 aarch64-apple-darwin")  # macOS 14 or later

lock() {  # lock PLATFORM UV_PLATFORM PROFILE TORCH EXTRAS...
    local plat=$1 uvplat=$2 profile=$3 torch=$4; shift 4
    local extras=()
    for e in "$@"; do extras+=(--extra "$e"); done
    echo "$torch" > "$over"
    mkdir -p "locks/$plat"
    # torch 2.13's macOS wheels are for macOS 14 and later
    MACOSX_DEPLOYMENT_TARGET=14.0 "$UV" pip compile -q pyproject.toml "$build_in" "${extras[@]}" --override "$over" \
        --generate-hashes --python-version 3.11 --python-platform "$uvplat" \
        "${FIND_LINKS[@]}" --no-header --annotation-style line \
        -o "locks/$plat/$profile.txt"
    # stable annotations: name the inputs, not their temporary paths
    sed -i -e "s#-r $build_in#the installers (scripts/lock.sh)#" \
        -e "s#--override $over#the torch pin in scripts/lock.sh#" "locks/$plat/$profile.txt"
    sed -i "1i # t2i-studio lock: profile '$profile', $plat, CPython 3.11. Made by scripts/lock.sh;\n# do not edit. Install: bash scripts/setup.sh $profile (docs/install.md)." \
        "locks/$plat/$profile.txt"
    echo "locked $plat/$profile" >&2
}

for entry in "${PLATFORMS[@]}"; do
    read -r plat uvplat <<<"$entry"
    cpu_torch="torch==2.13.0"
    [ "$plat" = linux-x86_64 ] && cpu_torch="torch==2.13.0+cpu"
    lock "$plat" "$uvplat" runtime "$cpu_torch"
    lock "$plat" "$uvplat" studio "$cpu_torch" gui
    lock "$plat" "$uvplat" diffusers "torch==2.14.1" gui diffusers
done
# A studio's cluster nodes and gateway (docs/cluster.md), and the tests: Linux only.
lock linux-x86_64 x86_64-manylinux_2_36 cluster "torch==2.14.1" gui diffusers cluster
lock linux-x86_64 x86_64-manylinux_2_36 test "torch==2.14.1" train test gui diffusers data cluster
# What the locks were made from: tests/test_lock.py compares it with today's pyproject.
python3 scripts/lockcheck.py --fingerprint > locks/pyproject.sha256
echo "done: commit locks/" >&2
