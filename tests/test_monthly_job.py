"""`workbench monthly` end to end: papermill, a real kernel, the demo database, the files."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import nbformat
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from conftest import ENGINES
from demo_database import DEMO_AS_OF, demo_copy, jupyter_environment, kernel_environment, run_cli
from workbench import db, monthly, runs
from workbench.amounts import parse_amount
from workbench.i18n import gettext_for
from workbench.models import AuditEvent, ChargeLine, JournalLine, Run, RunGroup, RunItem
from workbench.ui.formatting import ACTION_LABELS, COLUMN_LABELS
from workbench.policy import PolicyParams, approve_policy, propose_policy

pytestmark = pytest.mark.notebook

MONTH = f"{DEMO_AS_OF:%Y-%m}"


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory):
    return jupyter_environment(tmp_path_factory)


@pytest.fixture(params=ENGINES)
def demo_url(request, tmp_path):
    url = demo_copy(request, request.param, tmp_path)
    yield url
    db.dispose_all()


def _monthly(url: str, out: Path, jupyter_env: dict, *arguments: str):
    with kernel_environment(jupyter_env):
        return run_cli("--db", url, "monthly", "--as-of", DEMO_AS_OF.isoformat(), "--out",
                       str(out), *arguments)


def _approved_policy(url: str, name: str, **changes) -> None:
    with db.session_scope(db.get_engine(url)) as session:
        row = propose_policy(session, name, PolicyParams(**changes), "alice")
        approve_policy(session, row.id, "bob")


def _count(url: str, table) -> int:
    with db.session_scope(db.get_engine(url)) as session:
        return session.execute(select(func.count()).select_from(table)).scalar()


def _totals(url: str, run_id: int) -> runs.RunTotals:
    with db.session_scope(db.get_engine(url)) as session:
        return runs.run_totals(session, run_id)


def _sheet(path: Path, title: str, lang: str = "fr") -> list[dict]:
    """Return a workbook sheet's rows keyed by column name, whatever the report's language."""
    book = load_workbook(path, read_only=True)
    names = {gettext_for(lang, label): column for column, label in COLUMN_LABELS.items()}
    rows = list(book[gettext_for(lang, title)].iter_rows(values_only=True))
    return [dict(zip([names.get(header, header) for header in rows[0]], row))
            for row in rows[1:]]


def _centimes(value) -> int:
    # openpyxl reads number cells back as float; their shortest text is the stored `24.66`.
    assert isinstance(value, (int, float)) or value is None, type(value)
    return parse_amount(str(value)) if value is not None else 0


def test_preview_writes_notebook_report_and_workbook(demo_url, tmp_path, jupyter_env):
    out = tmp_path / "reports"

    code, stdout, stderr = _monthly(demo_url, out, jupyter_env)

    assert code == 0, stderr
    with db.session_scope(db.get_engine(demo_url)) as session:
        run = session.execute(select(Run)).scalar_one()
    run_dir = out / MONTH / str(run.id)
    assert run.state == "draft"
    assert stdout.strip().splitlines()[-1] == str(run_dir / "report.html")
    assert sorted(path.name for path in run_dir.iterdir()) == [
        "actions.png", "balances.png", "monthly-run.ipynb", "report.html", "summary.json",
        "workbook.xlsx"]
    assert [path.name for path in (out / MONTH).iterdir()] == [str(run.id)]

    notebook = nbformat.read(run_dir / "monthly-run.ipynb", as_version=4)
    assert notebook.metadata.papermill.parameters == {
        "as_of": DEMO_AS_OF.isoformat(), "policy": "", "mode": "preview",
        "subscriptions_file": "", "open_items_file": "", "out_dir": str(out), "lang": "fr"}

    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "MonthlyRun.start" not in report  # no code
    assert "classe le rapport" not in report  # the notebook title cell stays out
    assert DEMO_AS_OF.strftime("%d.%m.%Y") in report
    assert "data:image/png;base64," in report
    assert "cdnjs" not in report

    totals = _totals(demo_url, run.id)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run_id"] == run.id
    assert summary["state"] == "draft"
    assert parse_amount(summary["cleared_total"]) == totals.cleared
    assert parse_amount(summary["charge_total"]) == totals.charges
    assert parse_amount(summary["write_off_total"]) == totals.write_off

    book = run_dir / "workbook.xlsx"
    groups = _sheet(book, "Groups")
    items = _sheet(book, "Items")
    assert len(groups) == _count(demo_url, RunGroup)
    assert len(items) == _count(demo_url, RunItem)
    unresolved = gettext_for("fr", ACTION_LABELS["unresolved"])
    posting = {row["group_no"] for row in groups if row["action"] != unresolved}
    cleared = sum(_centimes(row["open_cents"]) for row in items if row["group_no"] in posting)
    assert cleared == totals.cleared
    assert sum(_centimes(row["total_cents"]) for row in groups) == \
        sum(_centimes(row["open_cents"]) for row in items)
    sheet = load_workbook(book)[gettext_for("fr", "Items")]
    header = [cell.value for cell in sheet[1]]
    amount_cell = sheet.cell(row=2, column=header.index(gettext_for("fr", "Open amount")) + 1)
    assert amount_cell.number_format == "#,##0.00"
    assert isinstance(amount_cell.value, (int, float))  # a number Excel can sum


def test_post_with_auto_post_policy_posts_once(demo_url, tmp_path, jupyter_env):
    _approved_policy(demo_url, "standard", auto_post_limit=100_000_000)
    out = tmp_path / "reports"

    code, stdout, stderr = _monthly(demo_url, out, jupyter_env, "--mode", "post")

    assert code == 0, stderr
    with db.session_scope(db.get_engine(demo_url)) as session:
        run = session.execute(select(Run)).scalar_one()
    assert run.state == "exported"
    run_dir = out / MONTH / str(run.id)
    for name in (f"charges-{run.id}.csv", f"journal-{run.id}.csv", f"control-{run.id}.json"):
        assert (run_dir / name).is_file(), name
    with db.session_scope(db.get_engine(demo_url)) as session:
        exported = session.execute(select(AuditEvent.details)
                                   .where(AuditEvent.action == "export")).scalar_one()
    assert json.loads(exported)["directory"] == str(run_dir)
    journal_lines = _count(demo_url, JournalLine)
    charge_lines = _count(demo_url, ChargeLine)
    assert journal_lines > 0
    assert charge_lines > 0

    totals = _totals(demo_url, run.id)
    with (run_dir / f"charges-{run.id}.csv").open(encoding="utf-8", newline="") as handle:
        charged = sum(parse_amount(row["amount"]) for row in csv.DictReader(handle, delimiter=";"))
    assert charged == totals.charges
    control = json.loads((run_dir / f"control-{run.id}.json").read_text())
    assert {entry["name"] for entry in control["files"]} == {f"charges-{run.id}.csv",
                                                              f"journal-{run.id}.csv"}
    journal_rows = _sheet(run_dir / "workbook.xlsx", "Journal")
    assert len(journal_rows) == journal_lines
    assert sum(_centimes(row["debit_cents"]) for row in journal_rows) == \
        sum(_centimes(row["credit_cents"]) for row in journal_rows)
    assert len(_sheet(run_dir / "workbook.xlsx", "Charge lines")) == charge_lines
    first_bytes = (run_dir / f"journal-{run.id}.csv").read_bytes()

    code, stdout, stderr = _monthly(demo_url, out, jupyter_env, "--mode", "post")

    assert code == 0, stderr
    assert _count(demo_url, Run) == 1
    assert _count(demo_url, JournalLine) == journal_lines
    assert _count(demo_url, ChargeLine) == charge_lines
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["already_posted"] is True
    assert summary["posted_now"] is False
    assert (run_dir / f"journal-{run.id}.csv").read_bytes() == first_bytes
    assert stdout.strip().splitlines()[-1] == str(run_dir / "report.html")


def test_post_waits_for_approval_then_posts(demo_url, tmp_path, jupyter_env):
    out = tmp_path / "reports"

    code, _stdout, stderr = _monthly(demo_url, out, jupyter_env, "--mode", "post")

    assert code == 0, stderr
    with db.session_scope(db.get_engine(demo_url)) as session:
        run = session.execute(select(Run)).scalar_one()
    assert run.state == "draft"
    summary = json.loads((out / MONTH / str(run.id) / "summary.json").read_text())
    assert summary["posted_now"] is False
    assert f"run approve {run.id}" in summary["note"]
    assert _count(demo_url, JournalLine) == 0

    with db.session_scope(db.get_engine(demo_url)) as session:
        runs.approve(session, run.id, approved_by="manager")
    code, _stdout, stderr = _monthly(demo_url, out, jupyter_env, "--mode", "post")

    assert code == 0, stderr
    assert _count(demo_url, Run) == 1
    with db.session_scope(db.get_engine(demo_url)) as session:
        assert runs.load_run(session, run.id).state == "exported"
    assert _count(demo_url, JournalLine) > 0


def test_failing_cell_exits_1_and_keeps_notebook(demo_url, tmp_path, jupyter_env, monkeypatch):
    broken = nbformat.read(monthly.RUN_NOTEBOOK, as_version=4)
    position = next(index for index, cell in enumerate(broken.cells)
                    if "run.prepare()" in cell.source)
    broken.cells.insert(position + 1, nbformat.v4.new_code_cell(
        'raise RuntimeError("the ledger is on fire")'))
    path = tmp_path / "broken.ipynb"
    nbformat.write(broken, path)
    monkeypatch.setattr(monthly, "RUN_NOTEBOOK", path)
    out = tmp_path / "reports"

    code, stdout, stderr = _monthly(demo_url, out, jupyter_env)

    assert code == 1
    assert "the ledger is on fire" in stderr
    failed = [path for path in (out / MONTH).iterdir()]
    assert len(failed) == 1
    assert failed[0].name.startswith("failed-")
    kept = nbformat.read(failed[0] / "monthly-run.ipynb", as_version=4)
    errors = [output for cell in kept.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors[0].evalue == "the ledger is on fire"
    assert not (failed[0] / "report.html").exists()


def test_invalid_extract_in_kernel_exits_2(demo_url, tmp_path, jupyter_env):
    bad = tmp_path / "open_items.csv"
    bad.write_text("document_no;customer_id;due_date;open_amount\nD1;C1;31.02.2025;1.00\n",
                   encoding="utf-8")
    out = tmp_path / "reports"

    code, _stdout, stderr = _monthly(demo_url, out, jupyter_env, "--open-items", str(bad))

    assert code == 2
    assert "InvalidInput" in stderr
    assert _count(demo_url, Run) == 0
    assert [path.name[:7] for path in (out / MONTH).iterdir()] == ["failed-"]


PASSWORD_ENGINES = [engine for engine in ENGINES if engine == "postgresql"]


@pytest.mark.parametrize("engine_name", PASSWORD_ENGINES)
def test_password_never_reaches_outputs(request, engine_name, tmp_path, jupyter_env, caplog):
    plain = demo_copy(request, engine_name, tmp_path)
    secret = "Pa55-w0rd-never-shown"
    # The throwaway cluster trusts every local connection, so any password is accepted.
    url = make_url(plain).set(password=secret).render_as_string(hide_password=False)
    out = tmp_path / "reports"

    code, stdout, stderr = _monthly(url, out, jupyter_env)

    assert code == 0, stderr
    assert secret not in stdout
    assert secret not in stderr
    assert secret not in caplog.text
    files = [path for path in out.rglob("*") if path.is_file()]
    assert any(path.name == "report.html" for path in files)
    for path in files:
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                for name in book.namelist():
                    assert secret.encode() not in book.read(name), f"{path.name}:{name}"
        else:
            assert secret.encode() not in path.read_bytes(), path.name
    db.dispose_all()
