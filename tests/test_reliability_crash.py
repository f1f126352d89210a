"""Crashes: `run post`, `run export` and `import open-items` killed with SIGKILL at chosen steps.

Each kill point runs the real command in a subprocess (tests/faults.py) on a copy of a prepared
demo ledger, kills it just before its N-th database statement, COMMIT or file rename (or just
after its COMMIT), then checks that the ledger holds the whole result or none of it, that the
audit trail is intact and the transit account reconciles, and that running the command again
finishes the job once. The quick mode here takes a few kill points per command;
`benchmarks/faults.py` runs every step.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from faults import (
    audit_rows,
    clone_database,
    drop_database,
    reconcile_difference,
    run_counts,
    run_wrapped,
    spread,
    step_count,
    table_count,
)
from workbench import db
from workbench.cli import main as cli_main

AS_OF = "2026-11-30"
SUBSCRIPTIONS = "2000"
# Thresholds wide enough that the run clears well over a thousand groups.
POLICY = ["--debit-threshold", "20.00", "--credit-threshold", "20.00"]
QUICK_KILL_POINTS = 3
SIGKILL_CODE = -9


def workbench(url: str, *args: str) -> tuple[int, str, str]:
    """Run `workbench` in-process in English and return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["--db", url, "--lang", "en", *args])
    db.dispose_all()
    return code, out.getvalue(), err.getvalue()


@dataclass
class Ledger:
    """A demo ledger with an approved run, and the databases cloned from it (dropped at the end)."""

    url: str
    run_id: int
    demo_dir: Path
    work_dir: Path
    clones: list[str]

    def clone(self, url: str | None = None) -> str:
        copy = clone_database(url or self.url, self.work_dir)
        self.clones.append(copy)
        return copy


def build_demo(url: str, demo_dir: Path) -> None:
    code, out, err = workbench(url, "demo", "--subscriptions", SUBSCRIPTIONS, "--seed", "1",
                               "--as-of", AS_OF, "--out", str(demo_dir))
    assert code == 0, err


@pytest.fixture
def ledger(db_url, tmp_path):
    demo_dir = tmp_path / "demo"
    build_demo(db_url, demo_dir)
    code, out, err = workbench(db_url, "run", "prepare", "--as-of", AS_OF, *POLICY, "--by", "anna")
    assert code == 0, err
    run_id = int(out.strip().splitlines()[-1])
    code, out, err = workbench(db_url, "run", "approve", str(run_id), "--by", "ben")
    assert code == 0, err
    db.dispose_all()

    built = Ledger(db_url, run_id, demo_dir, tmp_path, [])
    yield built
    db.dispose_all()
    for url in built.clones:
        drop_database(url)


def check_post_all_or_nothing(url: str, run_id: int, before, full, audit_before) -> bool:
    """Check a killed posting left all or nothing and return whether it was posted."""
    engine = db.get_engine(url)
    counts = run_counts(engine, run_id)
    audit_after = audit_rows(engine)
    db.dispose_all()

    assert audit_after[:len(audit_before)] == audit_before
    if counts.state == "approved":
        assert counts == before
        assert audit_after == audit_before
    else:
        assert counts == full
        assert len(audit_after) == len(audit_before) + 1
    assert reconcile_difference(url) == "0.00"
    return counts.state == "posted"


def test_post_killed_all_or_nothing(ledger):
    reference = ledger.clone()
    engine = db.get_engine(reference)
    before = run_counts(engine, ledger.run_id)
    audit_before = audit_rows(engine)
    db.dispose_all()
    measured = run_wrapped(reference, ["run", "post", str(ledger.run_id)], cwd=ledger.work_dir)
    assert measured.returncode == 0, measured.stderr
    full = run_counts(db.get_engine(reference), ledger.run_id)
    db.dispose_all()
    assert before.state == "approved"
    assert full.state == "posted"
    assert full.cleared_items > 1000
    assert full.journal_lines >= 2 * full.cleared_items - full.cleared_items // 100
    assert full.charge_lines > 1000

    # Steps spread over the whole command, and the moment just after its COMMIT.
    kill_points = [{"kill_at": step} for step in spread(step_count(measured), QUICK_KILL_POINTS)]
    kill_points.append({"kill_after_commit": True})
    outcomes = []
    for options in kill_points:
        url = ledger.clone()
        killed = run_wrapped(url, ["run", "post", str(ledger.run_id)], cwd=ledger.work_dir,
                             **options)
        assert killed.returncode == SIGKILL_CODE, (options, killed.stderr)
        posted = check_post_all_or_nothing(url, ledger.run_id, before, full, audit_before)
        outcomes.append(posted)

        code, out, err = workbench(url, "run", "post", str(ledger.run_id))
        if posted:
            assert code == 3, (options, err)
            assert "is posted" in err
        else:
            assert code == 0, (options, err)
        assert run_counts(db.get_engine(url), ledger.run_id) == full
        db.dispose_all()
        assert reconcile_difference(url) == "0.00"

    # The first kill point is before anything was written, the last one after the COMMIT.
    assert outcomes[0] is False
    assert outcomes[-1] is True


def test_export_killed_then_identical(ledger):
    posted = ledger.clone()
    code, out, err = workbench(posted, "run", "post", str(ledger.run_id))
    assert code == 0, err
    reference = ledger.clone(posted)
    reference_dir = ledger.work_dir / "reference"
    measured = run_wrapped(reference, ["run", "export", str(ledger.run_id), "--out",
                                       str(reference_dir)], cwd=ledger.work_dir)
    assert measured.returncode == 0, measured.stderr
    expected = {path.name: path.read_bytes() for path in reference_dir.iterdir()}
    assert sorted(expected) == [f"charges-{ledger.run_id}.csv", f"control-{ledger.run_id}.json",
                                f"journal-{ledger.run_id}.csv"]
    full = run_counts(db.get_engine(posted), ledger.run_id)
    audit_before = audit_rows(db.get_engine(posted))
    db.dispose_all()

    kill_points = [{"kill_at": step} for step in spread(step_count(measured), QUICK_KILL_POINTS)]
    kill_points.append({"kill_after_commit": True})
    for index, options in enumerate(kill_points):
        url = ledger.clone(posted)
        out_dir = ledger.work_dir / f"export-{index}"
        killed = run_wrapped(url, ["run", "export", str(ledger.run_id), "--out", str(out_dir)],
                             cwd=ledger.work_dir, **options)
        assert killed.returncode == SIGKILL_CODE, (options, killed.stderr)

        engine = db.get_engine(url)
        counts = run_counts(engine, ledger.run_id)
        audit_after = audit_rows(engine)
        db.dispose_all()
        assert counts.state in ("posted", "exported")
        assert (counts.cleared_items, counts.journal_lines, counts.charge_lines) == (
            full.cleared_items, full.journal_lines, full.charge_lines)
        assert audit_after[:len(audit_before)] == audit_before
        assert len(audit_after) == len(audit_before) + (counts.state == "exported")
        # A file is either absent or complete: the export renames a finished temporary file.
        for path in out_dir.glob("*-*.*"):
            if not path.name.startswith("."):
                assert path.read_bytes() == expected[path.name], (options, path.name)

        code, out, err = workbench(url, "run", "export", str(ledger.run_id), "--out",
                                   str(out_dir))
        assert code == 0, (options, err)
        written = {path.name: path.read_bytes() for path in out_dir.iterdir()
                   if not path.name.startswith(".")}
        assert written == expected, options
        assert run_counts(db.get_engine(url), ledger.run_id).state == "exported"
        db.dispose_all()
        assert reconcile_difference(url) == "0.00"


def test_import_killed_one_batch(db_url, tmp_path):
    demo_dir = tmp_path / "demo"
    build_demo(f"sqlite:///{tmp_path / 'files.sqlite'}", demo_dir)
    items_file = demo_dir / "open_items.csv"
    rows = sum(1 for _ in items_file.open(encoding="utf-8")) - 1
    code, out, err = workbench(db_url, "import", "subscriptions",
                               str(demo_dir / "subscriptions.csv"))
    assert code == 0, err
    base = Ledger(db_url, 0, demo_dir, tmp_path, [])
    try:
        reference = base.clone()
        measured = run_wrapped(reference, ["import", "open-items", str(items_file),
                                           "--as-of", AS_OF], cwd=tmp_path)
        assert measured.returncode == 0, measured.stderr
        assert table_count(db.get_engine(reference), "open_items") == rows
        audit_before = audit_rows(db.get_engine(db_url))
        db.dispose_all()

        kill_points = [{"kill_at": step}
                       for step in spread(step_count(measured), QUICK_KILL_POINTS)]
        kill_points.append({"kill_after_commit": True})
        for options in kill_points:
            url = base.clone()
            killed = run_wrapped(url, ["import", "open-items", str(items_file), "--as-of",
                                       AS_OF], cwd=tmp_path, **options)
            assert killed.returncode == SIGKILL_CODE, (options, killed.stderr)

            engine = db.get_engine(url)
            batches = table_count(engine, "import_batches", "kind = 'open_items'")
            stored = table_count(engine, "open_items")
            audit_after = audit_rows(engine)
            db.dispose_all()
            assert (batches, stored) in ((0, 0), (1, rows)), options
            assert audit_after[:len(audit_before)] == audit_before
            assert len(audit_after) == len(audit_before) + batches

            code, out, err = workbench(url, "import", "open-items", str(items_file), "--as-of",
                                       AS_OF)
            assert code == 0, (options, err)
            engine = db.get_engine(url)
            assert table_count(engine, "import_batches", "kind = 'open_items'") == 1
            assert table_count(engine, "open_items") == rows
            db.dispose_all()
    finally:
        db.dispose_all()
        for url in base.clones:
            drop_database(url)
