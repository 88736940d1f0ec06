#!/usr/bin/env bash
# Install carespiral into .venv and run the main job, writing its HTML report under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
.venv/bin/python -m pip install -q .
mkdir -p out
.venv/bin/carespiral run workforce_spiral --scenario demand_surge --html out/workforce_spiral.html --out out/workforce_spiral.csv
echo "Open out/workforce_spiral.html in a browser."
