#!/usr/bin/env bash
# Create a virtual environment (if missing) and install luma_nb with some extras into it.
#   scripts/setup.sh [EXTRAS] [VENV]
# EXTRAS: comma-separated extras (default: test, i.e. everything); VENV: the environment's
# folder (default: .venv). scripts/test.sh uses .venv with `test`; scripts/tutorial.sh uses
# .venv-tutorial with only what the tutorial needs.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
venv="${2:-.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
"$venv/bin/python" -m pip install --quiet -e ".[${extras}]"
