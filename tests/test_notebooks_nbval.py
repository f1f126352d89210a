"""nbval over the notebooks: every cell runs without error on the demo database, and the cells
marked `# NBVAL_CHECK_OUTPUT` give the output committed with them, which is none.

nbval compares only cells that were run (an execution count), and the notebooks are committed
without counts, so the copies made here give each marked cell a count and keep its empty
output as the reference. The marked cells (imports and loading) then pass only when they print
nothing: no warning, no log line, no stray value. nbval runs in a pytest of its own, started
here, on those copies in a temporary folder, because the run notebook writes its report under
the working folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ENGINES
from demo_database import NOTEBOOKS, demo_copy, jupyter_environment
from workbench import db

pytestmark = pytest.mark.notebook

CHECKED = ("01_threshold_explorer.ipynb", "02_reassignment_desk.ipynb", "03_monthly_run.ipynb")


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory):
    return jupyter_environment(tmp_path_factory)


@pytest.fixture(params=ENGINES)
def demo_url(request, tmp_path):
    url = demo_copy(request, request.param, tmp_path)
    yield url
    db.dispose_all()


def _copy_with_references(notebook, path: Path) -> int:
    """Write `notebook` to `path` with its marked cells as run references; return how many."""
    marked = [cell for cell in notebook.cells
              if cell.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in cell.source]
    for count, cell in enumerate(marked, start=1):
        cell.execution_count = count
        cell.outputs = []
    nbformat.write(notebook, path)
    return len(marked)


def _nbval(folder: Path, db_url: str, jupyter_env: dict) -> subprocess.CompletedProcess:
    # An empty pytest.ini keeps the project's options and conftest out of the inner session.
    (folder / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, **jupyter_env, "WORKBENCH_DB_URL": db_url}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-cell-timeout=600", "-c", str(folder / "pytest.ini"),
         "--rootdir", str(folder), *sorted(str(path) for path in folder.glob("*.ipynb"))],
        cwd=folder, env=env, capture_output=True, text=True, timeout=900,
    )


def test_notebooks_pass_nbval(demo_url, tmp_path, jupyter_env):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in CHECKED:
        marked = _copy_with_references(nbformat.read(NOTEBOOKS / name, as_version=4),
                                       folder / name)
        assert marked >= 2, name

    result = _nbval(folder, demo_url, jupyter_env)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert " failed" not in result.stdout


def test_checked_cell_with_output_fails(demo_url, tmp_path, jupyter_env):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    notebook = nbformat.read(NOTEBOOKS / "02_reassignment_desk.ipynb", as_version=4)
    notebook.cells.insert(3, nbformat.v4.new_code_cell('# NBVAL_CHECK_OUTPUT\nprint("stray")'))
    _copy_with_references(notebook, folder / "02_reassignment_desk.ipynb")

    result = _nbval(folder, demo_url, jupyter_env)

    assert result.returncode != 0
    assert "stray" in result.stdout
