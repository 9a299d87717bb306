#!/usr/bin/env bash
# Regenerate the single baseline migration from the models (only while nothing is deployed).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f migrations/versions/0001_baseline.py
DIRECTORY_INSTANCE_PATH="$tmp" DATABASE_URL="sqlite:///$tmp/db.sqlite3" \
  .venv/bin/flask --app directory db migrate -m baseline --rev-id 0001 >/dev/null 2>&1
.venv/bin/ruff check --quiet --fix --unsafe-fixes migrations/versions/0001_baseline.py
.venv/bin/ruff format --quiet migrations/versions/0001_baseline.py
ls migrations/versions/
