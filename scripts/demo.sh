#!/usr/bin/env bash
# Install Atrium CRM into .venv, create a SQLite database with demo data, and start it with a
# job worker beside it (imports, reminders and event deliveries run there).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
python -m pip install --quiet -e .
crm db upgrade
crm demo
echo
echo "Open http://127.0.0.1:5000/ and sign in as admin@example.com with password atrium-demo"
crm worker &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT
crm run --no-reload
