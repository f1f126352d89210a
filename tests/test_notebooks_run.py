"""Each notebook executed by papermill on the demo database, judged by what it stored and wrote."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from conftest import ENGINES
from demo_database import DEMO_AS_OF, demo_copy, demo_files, execute_notebook, jupyter_environment
from workbench import db, runs
from workbench.amounts import parse_amount
from workbench.models import Policy, ReassignmentChoice, Run
from workbench.policy import PolicyParams, approve_policy, propose_policy
from workbench.selection import decide

pytestmark = pytest.mark.notebook

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory):
    return jupyter_environment(tmp_path_factory)


@pytest.fixture(params=ENGINES)
def demo_url(request, tmp_path):
    url = demo_copy(request, request.param, tmp_path)
    yield url
    db.dispose_all()


def _outputs(notebook) -> list:
    return [output for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs]


def _groups(url: str, params: PolicyParams):
    with db.session_scope(db.get_engine(url)) as session:
        return decide(session, DEMO_AS_OF, params, list_excluded=False).groups


def test_explorer_notebook_proposes_policy(demo_url, tmp_path, jupyter_env):
    notebook = execute_notebook(
        "01_threshold_explorer.ipynb", tmp_path / "01.ipynb", demo_url,
        {"debit_threshold": "2.50", "credit_threshold": "1.00", "min_days_overdue": "45",
         "propose_as": "notebook-policy"}, jupyter_env)

    assert any(WIDGET_VIEW in output.get("data", {}) for output in _outputs(notebook))
    with db.session_scope(db.get_engine(demo_url)) as session:
        row = session.execute(select(Policy)).scalar_one()
    assert (row.name, row.version, row.status) == ("notebook-policy", 1, "proposed")
    params = PolicyParams.from_json(row.params)
    assert (params.debit_threshold, params.credit_threshold, params.min_days_overdue) == \
        (250, 100, 45)


def test_desk_notebook_saves_listed_choices(demo_url, tmp_path, jupyter_env):
    before = _groups(demo_url, PolicyParams())
    to_review = before[before["needs_review"]]
    assert len(to_review) > 0

    notebook = execute_notebook("02_reassignment_desk.ipynb", tmp_path / "02.ipynb", demo_url,
                                {"save_listed": "yes"}, jupyter_env)

    assert any(WIDGET_VIEW in output.get("data", {}) for output in _outputs(notebook))
    with db.session_scope(db.get_engine(demo_url)) as session:
        stored = set(session.execute(select(
            ReassignmentChoice.customer_id, ReassignmentChoice.source_subscription_id,
            ReassignmentChoice.target_subscription_id)).all())
    expected = {(row.customer_id, row.subscription_id or "", row.target_subscription_id)
                for row in before[before["action"] == "reassign"].itertuples()
                if row.needs_review}
    assert stored == expected
    after = _groups(demo_url, PolicyParams())
    assert not after["needs_review"].any()


def test_desk_notebook_without_save_stores_nothing(demo_url, tmp_path, jupyter_env):
    execute_notebook("02_reassignment_desk.ipynb", tmp_path / "02.ipynb", demo_url,
                     {"customer": "C", "max_amount": "2.00"}, jupyter_env)

    with db.session_scope(db.get_engine(demo_url)) as session:
        assert session.execute(select(ReassignmentChoice)).scalars().all() == []


def test_run_notebook_imports_posts_and_writes(request, demo_url, tmp_path, jupyter_env):
    with db.session_scope(db.get_engine(demo_url)) as session:
        row = propose_policy(session, "standard", PolicyParams(auto_post_limit=100_000_000),
                             "alice")
        approve_policy(session, row.id, "bob")
    subscriptions, open_items = demo_files(request.node.callspec.params["demo_url"])
    out = tmp_path / "reports"

    notebook = execute_notebook(
        "03_monthly_run.ipynb", tmp_path / "03.ipynb", demo_url,
        {"as_of": DEMO_AS_OF.strftime("%d.%m.%Y"), "policy": "standard", "mode": "post",
         "subscriptions_file": str(subscriptions), "open_items_file": str(open_items),
         "out_dir": str(out), "lang": "de"}, jupyter_env)

    assert not any(WIDGET_VIEW in output.get("data", {}) for output in _outputs(notebook))
    assert any("image/png" in output.get("data", {}) for output in _outputs(notebook))
    with db.session_scope(db.get_engine(demo_url)) as session:
        run = session.execute(select(Run)).scalar_one()
        totals = runs.run_totals(session, run.id)
    assert run.state == "exported"
    assert run.as_of == DEMO_AS_OF
    out_dir = out / f"{DEMO_AS_OF:%Y-%m}" / str(run.id)

    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["run_id"] == run.id
    assert summary["posted_now"] is True
    assert [(entry["kind"], entry["already_imported"]) for entry in summary["imports"]] == \
        [("subscriptions", True), ("open_items", True)]
    assert parse_amount(summary["cleared_total"]) == totals.cleared
    assert parse_amount(summary["charge_total"]) == totals.charges
    control = json.loads((out_dir / f"control-{run.id}.json").read_text())
    charges = next(entry for entry in control["files"] if entry["name"].startswith("charges-"))
    assert parse_amount(charges["amount_total"]) == totals.charges
    assert (out_dir / "workbook.xlsx").is_file()
    assert notebook.metadata.papermill.parameters["lang"] == "de"
