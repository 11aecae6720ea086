#!/usr/bin/env bash
# Opt-in: would the suite still pass on the newest releases? (CI stays on the lock.)
#   bash scripts/check_newest.sh [pytest args]     e.g. tests/diffusers -x
# Builds .venv-newest from pyproject's requirements with every upper bound lifted (torch and
# torchvision stay at the pair that runs on these machines), prints each package that differs
# from locks/linux-x86_64/test.txt, runs the tests there and says what broke. When all passes,
# raise the bounds in pyproject.toml, run scripts/lock.sh and commit.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-newest
[ -x $VENV/bin/python ] || python3 -m venv $VENV || exit 1
reqs=$(mktemp); trap 'rm -f "$reqs"' EXIT
python3 - "$reqs" <<'PY'
import re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
lines = list(project["dependencies"])
for extra in ("train", "test", "gui", "diffusers", "data", "cluster"):
    lines += project["optional-dependencies"][extra]
out = []
for line in lines:
    if line.startswith("t2i-studio") or line.startswith(("torch", "torchvision")):
        continue
    name, _, marker = line.partition(";")
    # keep the lower bounds and exact pins of our own choosing, lift every upper bound
    spec = ",".join(p for p in re.split(r",", name) if not re.search(r"<", p))
    out.append(spec + (";" + marker if marker else ""))
out += ["torch==2.14.1", "torchvision==0.29.1"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
$VENV/bin/pip install -q -U -r "$reqs" 2>&1 | grep -v "^WARNING: Location"
$VENV/bin/pip install -q --no-deps -e . 2>&1 | grep -v "^WARNING: Location"
echo "== newer than the lock:"
newer=$($VENV/bin/python scripts/lockcheck.py --lock locks/linux-x86_64/test.txt 2>&1 \
    | grep " is installed; " || true)
echo "${newer:-   (nothing: the lock is the newest)}"
echo "== the suite on the newest releases:"
$VENV/bin/python -m pytest -q -p no:cacheprovider -o addopts="" "${@:-tests}" 2>&1 | tail -40
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] && echo "== all passed on the newest releases" \
    || echo "== something broke on the newest releases (pytest exit $rc): see above"
exit "$rc"
