#!/usr/bin/env bash
# The main job: the quickstart tutorial on the simulator (no key needed).
#   scripts/tutorial.sh             opens notebooks/01_quickstart.ipynb in JupyterLab
#   scripts/tutorial.sh --headless  executes it top to bottom; fails loudly on any error and
#                                   says where the executed copy went
# It installs only what the tutorial needs (luma_nb with its render, pandas and notebook
# extras) into an environment of its own, .venv-tutorial: no test tools. The test command
# (scripts/test.sh) keeps everything else in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-tutorial
bash scripts/setup.sh render,pandas,notebook "$venv"
notebook=notebooks/01_quickstart.ipynb
# The tutorial runs on the simulator unless you ask otherwise (LUMA_NB_BACKEND=api).
export LUMA_NB_BACKEND="${LUMA_NB_BACKEND:-simulator}"
if [ "${1:-}" = "--headless" ]; then
  exec "$venv/bin/python" scripts/run_notebook.py "$notebook" --output-dir artifacts/executed
fi
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)
exec "$venv/bin/jupyter" lab "${root_flag[@]}" "$notebook"
