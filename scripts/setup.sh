#!/usr/bin/env bash
# Create .venv if needed and install the workbench with its test extras and Jupyter kernel.
# Usage: bash scripts/setup.sh   (sourced by demo.sh and test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi

# Reinstall only when the project definition changed since the last setup.
stamp=.venv/.workbench-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing the workbench and its dependencies into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[test]"
    # Registers the venv's kernel as python3 inside the venv, so papermill and nbval use it.
    .venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
    touch "$stamp"
fi
