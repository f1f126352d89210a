#!/usr/bin/env bash
# Set up and run every test, on SQLite and on a throwaway PostgreSQL, with the browser tests.
# Usage: bash scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/setup.sh

# Jupyter, IPython and matplotlib write under $HOME: keep the tests out of the user's folders.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export JUPYTER_CONFIG_DIR="$scratch/jupyter-config" JUPYTER_DATA_DIR="$scratch/jupyter-data"
export JUPYTER_RUNTIME_DIR="$scratch/jupyter-runtime" IPYTHONDIR="$scratch/ipython"
export MPLCONFIGDIR="$scratch/matplotlib"
export JUPYTER_PLATFORM_DIRS=1

.venv/bin/python -m pytest -n 2 "$@"
