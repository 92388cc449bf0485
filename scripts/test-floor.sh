#!/usr/bin/env bash
# scripts/test-floor.sh [PYTEST ARGS]   (make test-floor)
# The suite (without the browser tests) against the oldest versions pyproject.toml declares: every
# run-time dependency pinned to its floor (">=X" installed as "==X") in .venv-floor. The armhf chroot
# (make test-arch ARCH=armhf) tests numpy's floor too, with Debian 12's python3-numpy 1.24.2.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV_FLOOR:-.venv-floor}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
constraints="$VENV/floor-constraints.txt"
"$VENV/bin/python" - > "$constraints" <<'EOF'
import re, tomllib
for spec in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    name, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", spec.replace(" ", "")).groups()
    print(f"{name}=={floor}")
EOF
echo "test-floor: $(tr '\n' ' ' < "$constraints")" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" -e ".[test]"
"$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -i -E "^($(sed 's/==.*//' "$constraints" | paste -sd'|')) " >&2
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not browser" "$@"
