#!/usr/bin/env bash
# Install everything the tests need into .venv (and Debian's Chromium for the browser
# tests, when it is missing and we are root), then run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k migrations
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
python -m pip install --quiet -e '.[test]'
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium
fi
exec python -m pytest -n auto "$@"
