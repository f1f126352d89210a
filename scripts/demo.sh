#!/usr/bin/env bash
# Set up, build the embedded SQLite demo database, and run the monthly job on it.
# Usage: bash scripts/demo.sh [number of subscriptions, default 2000]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

subscriptions=${1:-2000}
export WORKBENCH_DB_URL=${WORKBENCH_DB_URL:-sqlite:///data/demo.sqlite}
rm -f data/demo.sqlite data/demo.sqlite-wal data/demo.sqlite-shm
# The demo's ERP snapshot and the monthly job share one as-of date: the end of last month.
as_of=$(.venv/bin/python -c "import datetime as d; print(d.date.today().replace(day=1) - d.timedelta(days=1))")
.venv/bin/workbench init
.venv/bin/workbench demo --subscriptions "$subscriptions" --seed 1 --as-of "$as_of"
.venv/bin/workbench monthly --as-of "$as_of" --mode preview --out reports
