#!/usr/bin/env bash
# Install carespiral into .venv and run the main job, writing its HTML report under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
.venv/bin/python -m pip install -q . -c constraints/tested.txt  # the tested versions
mkdir -p out
# The main job: calibrate the collapse-spiral model to England's published statistics.
.venv/bin/carespiral calibrate national --out out/calibration-national --html
echo "Open out/calibration-national/report.html in a browser."
