"""Command-line guards: a database without schema, argparse errors in French, run rejection."""

from __future__ import annotations

import json

from sqlalchemy import text

from conftest import CASES
from workbench import db

CASE = "01-basic"


def test_missing_schema_refused_without_file(tmp_path, monkeypatch):
    from workbench.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["extract", "--as-of", "2026-11-30"])

    assert code == 2
    assert not (tmp_path / "data" / "workbench.sqlite").exists()


def test_missing_schema_message_names_init(tmp_path, capsys):
    from workbench.cli import main

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    code = main(["--db", url, "reconcile"])

    assert code == 2
    err = capsys.readouterr().err
    assert "workbench init" in err
    assert "empty.sqlite" in err
    db.dispose_all()


def test_dashboard_refuses_database_without_schema(tmp_path, capsys):
    from workbench.cli import main

    code = main(["--db", f"sqlite:///{tmp_path / 'empty.sqlite'}", "dashboard", "--port", "1"])

    assert code == 2
    assert "workbench init" in capsys.readouterr().err
    db.dispose_all()


def test_argparse_errors_in_french(cli):
    result = cli("run", "approve", "abc")

    assert result.code == 2
    assert "erreur" in result.err
    assert "valeur int invalide" in result.err
    assert "'abc'" in result.err


def test_argparse_errors_in_german(cli):
    result = cli("bogus", lang="de")

    assert result.code == 2
    assert "Fehler" in result.err
    assert "'bogus'" in result.err


def _prepared_run(cli) -> str:
    shared_case = CASES / CASE
    assert cli("import", "subscriptions", shared_case / "subscriptions.csv").code == 0
    assert cli("import", "open-items", shared_case / "open_items.csv",
               "--as-of", "2026-11-30").code == 0
    prepared = cli("run", "prepare", "--as-of", "2026-11-30", "--debit-threshold", "5.00",
                   "--credit-threshold", "5.00", "--by", "anna")
    assert prepared.code == 0, prepared
    return prepared.out.strip().splitlines()[-1]


def test_reject_approved_run(cli, engine):

    run_id = _prepared_run(cli)
    assert cli("run", "approve", run_id, "--by", "ben").code == 0

    refused = cli("run", "reject", run_id, "--by", "anna")
    rejected = cli("run", "reject", run_id, "--by", "ben", "--reason", "newer snapshot")

    assert refused.code == 3, refused
    assert rejected.code == 0, rejected
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM runs")).scalar_one() == "rejected"
        events = conn.execute(
            text("SELECT actor, details FROM audit_events WHERE action = 'reject'")
        ).all()
    assert [actor for actor, _details in events] == ["ben"]
    assert json.loads(events[0][1])["reason"] == "newer snapshot"
    assert cli("run", "post", run_id, "--by", "ben").code == 3


def test_run_show_policy_amounts_as_text(cli):

    run_id = _prepared_run(cli)
    shown = json.loads(cli("run", "show", run_id, "--format", "json").out)

    assert shown["policy"]["debit_threshold"] == "5.00"
    assert shown["policy"]["rounding_step"] == "0.05"
    assert shown["policy"]["min_days_overdue"] == 30
