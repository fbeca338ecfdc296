#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up .venv, then run pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/install-browser.sh   # Debian chromium for tests/browser (skipped, with a reason, if impossible)
mkdir -p artifacts
.venv/bin/python -m pytest --junitxml=artifacts/junit.xml "$@"
