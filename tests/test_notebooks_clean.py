"""Committed notebooks: no outputs, no execution counts, a title cell and string parameters."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

PARAMETERISED = {"01_threshold_explorer.ipynb", "02_reassignment_desk.ipynb",
                 "03_monthly_run.ipynb"}
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_exist():
    names = [path.name for path in NOTEBOOKS]
    assert "01_threshold_explorer.ipynb" in names
    assert "02_reassignment_desk.ipynb" in names
    assert "03_monthly_run.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name} cell {cell.get('id')} has outputs"
        assert cell.execution_count is None, f"{path.name} cell {cell.get('id')} has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_opens_with_title(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert len(first.source.strip().splitlines()) >= 3, "title, blank line, one sentence"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_parameters_are_strings(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) <= 1, f"{path.name} has several cells tagged parameters"
    if path.name in PARAMETERISED:
        assert len(tagged) == 1, f"{path.name} needs a cell tagged parameters"
    for statement in (ast.parse(tagged[0].source).body if tagged else []):
        assert isinstance(statement, ast.Assign), ast.unparse(statement)
        assert isinstance(statement.value, ast.Constant), ast.unparse(statement)
        assert isinstance(statement.value.value, str), ast.unparse(statement)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_kernel_is_python3(path):
    assert nbformat.read(path, as_version=4).metadata.kernelspec.name == "python3"
