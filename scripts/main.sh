#!/usr/bin/env bash
# Install carespiral into .venv and run the main job, writing its HTML report under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
.venv/bin/python -m pip install -q .
mkdir -p out
.venv/bin/carespiral run collapse_spiral --scenario baseline --scenario no_shocks \
  --html out/collapse_spiral.html --out out/collapse_spiral.csv
echo "Open out/collapse_spiral.html in a browser."
