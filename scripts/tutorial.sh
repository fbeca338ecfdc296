#!/usr/bin/env bash
# The main job: the quickstart tutorial on the simulator (no key needed).
#   scripts/tutorial.sh             opens notebooks/01_quickstart.ipynb in JupyterLab
#   scripts/tutorial.sh --headless  executes it top to bottom; fails loudly on any error
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
notebook=notebooks/01_quickstart.ipynb
# The tutorial runs on the simulator unless you ask otherwise (LUMA_NB_BACKEND=api).
export LUMA_NB_BACKEND="${LUMA_NB_BACKEND:-simulator}"
if [ "${1:-}" = "--headless" ]; then
  mkdir -p artifacts
  exec .venv/bin/python scripts/run_notebook.py "$notebook" --output-dir artifacts/executed
fi
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)
exec .venv/bin/jupyter lab "${root_flag[@]}" "$notebook"
