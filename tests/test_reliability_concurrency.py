"""Concurrency: several `workbench` processes started within milliseconds of each other.

On PostgreSQL the processes really overlap (row locks, the key of cleared items). On SQLite every
write transaction starts with BEGIN IMMEDIATE, so the same commands queue behind one writer; the
tests check the same outcome on both engines.
"""

from __future__ import annotations

import pytest

from faults import (
    audit_rows,
    reconcile_difference,
    run_counts,
    start_together,
    table_count,
    wrapper_command,
)
from test_reliability_crash import AS_OF, build_demo, workbench
from workbench import db

POLICY = ["--debit-threshold", "20.00", "--credit-threshold", "20.00"]


def prepare_approved(url: str) -> int:
    code, out, err = workbench(url, "run", "prepare", "--as-of", AS_OF, *POLICY, "--by", "anna")
    assert code == 0, err
    run_id = int(out.strip().splitlines()[-1])
    code, out, err = workbench(url, "run", "approve", str(run_id), "--by", "ben")
    assert code == 0, err
    return run_id


@pytest.fixture
def demo_ledger(db_url, tmp_path):
    build_demo(db_url, tmp_path / "demo")
    yield db_url
    db.dispose_all()


def english(args: list[str]) -> list[str]:
    return ["--lang", "en", *args]


def test_three_posts_sharing_items(demo_ledger, tmp_path):
    run_ids = [prepare_approved(demo_ledger) for _ in range(3)]
    results = start_together(
        [wrapper_command(demo_ledger, english(["run", "post", str(run_id)]),
                         go_file=tmp_path / "go") for run_id in run_ids],
        cwd=tmp_path, go_file=tmp_path / "go",
    )

    codes = sorted(result.returncode for result in results)
    assert codes == [0, 3, 3], [(r.returncode, r.stderr[-600:]) for r in results]
    for result in results:
        if result.returncode == 3:
            assert "was not posted" in result.stderr
            assert "Prepare a new run" in result.stderr
            assert "Traceback" not in result.stderr

    engine = db.get_engine(demo_ledger)
    counts = {run_id: run_counts(engine, run_id) for run_id in run_ids}
    posted = [run_id for run_id in run_ids if counts[run_id].state == "posted"]
    assert len(posted) == 1
    winner = counts[posted[0]]
    assert winner.cleared_items > 1000
    assert table_count(engine, "cleared_items") == winner.cleared_items
    assert table_count(engine, "journal_lines") == winner.journal_lines
    assert table_count(engine, "charge_lines") == winner.charge_lines
    for run_id in run_ids:
        if run_id != posted[0]:
            assert counts[run_id].state == "approved"
            assert counts[run_id].cleared_items == 0
            assert counts[run_id].journal_lines == 0
            assert "post" not in counts[run_id].audit_actions
    db.dispose_all()
    assert reconcile_difference(demo_ledger) == "0.00"


def test_two_approvals_one_wins(demo_ledger, tmp_path):
    code, out, err = workbench(demo_ledger, "run", "prepare", "--as-of", AS_OF, *POLICY,
                               "--by", "anna")
    assert code == 0, err
    run_id = int(out.strip().splitlines()[-1])
    results = start_together(
        [wrapper_command(demo_ledger, english(["run", "approve", str(run_id), "--by", user]),
                         go_file=tmp_path / "go") for user in ("ben", "carla")],
        cwd=tmp_path, go_file=tmp_path / "go",
    )

    codes = sorted(result.returncode for result in results)
    assert codes == [0, 3], [(r.returncode, r.stderr[-600:]) for r in results]
    refused = next(result for result in results if result.returncode == 3)
    assert f"Run {run_id} is approved" in refused.stderr
    counts = run_counts(db.get_engine(demo_ledger), run_id)
    assert counts.state == "approved"
    assert counts.audit_actions == ("prepare", "approve")


def test_two_imports_one_batch(db_url, tmp_path):
    demo_dir = tmp_path / "demo"
    build_demo(f"sqlite:///{tmp_path / 'files.sqlite'}", demo_dir)
    items_file = demo_dir / "open_items.csv"
    rows = sum(1 for _ in items_file.open(encoding="utf-8")) - 1
    code, out, err = workbench(db_url, "import", "subscriptions",
                               str(demo_dir / "subscriptions.csv"))
    assert code == 0, err
    audit_before = len(audit_rows(db.get_engine(db_url)))
    db.dispose_all()

    results = start_together(
        [wrapper_command(db_url, english(["import", "open-items", str(items_file), "--as-of",
                                          AS_OF]), go_file=tmp_path / "go")
         for _ in range(3)],
        cwd=tmp_path, go_file=tmp_path / "go",
    )

    assert [result.returncode for result in results] == [0, 0, 0], \
        [r.stderr[-600:] for r in results]
    engine = db.get_engine(db_url)
    assert table_count(engine, "import_batches", "kind = 'open_items'") == 1
    assert table_count(engine, "open_items") == rows
    assert len(audit_rows(engine)) == audit_before + 1
    imported = [result for result in results if "Imported" in result.stdout]
    assert len(imported) == 1
