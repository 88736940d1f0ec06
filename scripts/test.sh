#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian/Ubuntu machine, then run the test suite.
#   - system packages: headless Chromium and its driver (browser checks of the HTML reports) and
#     Graphviz (lays out the model-structure picture)
#   - a virtual environment in .venv with carespiral and its test extra
#   - pytest over tests/
# Re-running is cheap: installed pieces are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
    || ! command -v neato >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver graphviz >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
# the tested versions (constraints/tested.txt); CARESPIRAL_CONSTRAINTS=none resolves afresh
CONSTRAINTS=(-c constraints/tested.txt)
if [ "${CARESPIRAL_CONSTRAINTS:-}" = none ]; then CONSTRAINTS=(); fi
.venv/bin/python -m pip install -q -e '.[test]' "${CONSTRAINTS[@]}"

# Tests run on every core (pytest-xdist); tests sharing an expensive module fixture stay on one
# worker (tests/conftest.py). CARESPIRAL_TEST_WORKERS=0 runs them in this process.
exec .venv/bin/python -m pytest -n "${CARESPIRAL_TEST_WORKERS:-auto}" --dist loadgroup "$@"
