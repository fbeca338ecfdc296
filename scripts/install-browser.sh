#!/usr/bin/env bash
# Install the browser that tests/browser drive, on a fresh Debian 12 machine: Debian's chromium
# (/usr/bin/chromium), with apt-get, when it is missing and we are root. The Python package
# playwright comes with the `test` extra (scripts/setup.sh).
# Never `playwright install`: it downloads its own browser, which our machines cannot do; the
# tests drive Debian's chromium through executable_path instead.
# Idempotent: a second run only checks. Exits 0 when chromium cannot be installed here (the
# browser tests then skip and say why) unless LUMA_NB_REQUIRE_BROWSER=1, which makes it fail.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${LUMA_NB_CHROMIUM:-/usr/bin/chromium}"
require="${LUMA_NB_REQUIRE_BROWSER:-0}"
problem=""

if [ -x "$chromium" ]; then
  echo "install-browser: chromium present at $chromium"
elif [ "$(id -u)" != 0 ]; then
  problem="chromium is missing at $chromium and this script is not root (run: sudo apt-get install -y --no-install-recommends chromium)"
elif ! command -v apt-get >/dev/null 2>&1; then
  problem="chromium is missing at $chromium and there is no apt-get here (install chromium and set LUMA_NB_CHROMIUM)"
else
  echo "install-browser: installing Debian chromium (about 30 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  if [ -x "$chromium" ]; then
    echo "install-browser: installed $("$chromium" --version 2>/dev/null || echo chromium)"
  else
    problem="apt-get installed chromium but $chromium does not exist"
  fi
fi

if [ -n "$problem" ]; then
  echo "install-browser: SKIPPING chromium: $problem; the browser tests will skip" >&2
  if [ "$require" = 1 ]; then
    echo "install-browser: LUMA_NB_REQUIRE_BROWSER=1, so this is an error" >&2
    exit 1
  fi
fi

# The Python side (playwright) comes with the package's `test` extra (scripts/setup.sh).
