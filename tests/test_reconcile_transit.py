import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import text

from ledger_builders import (ONE_OF_EACH_LANGUAGES, Group, Item, add_customers, add_snapshot,
                             one_of_each, posted_run, table)

from workbench import db, reconciliation


def reconcile_json(cli, *args):
    result = cli("reconcile", "--format", "json", *args)
    assert result.code == 0, result
    return json.loads(result.out)


def by_bucket(report):
    return {bucket["bucket"]: (bucket["transit_balance"], bucket["open_charge_total"],
                               bucket["difference"]) for bucket in report["buckets"]}


def test_reconcile_empty_database(cli):
    report = reconcile_json(cli, "--as-of", "2027-01-01")
    assert (report["transit_balance"], report["open_charge_total"], report["difference"]) == (
        "0.00", "0.00", "0.00")
    assert report["warnings"] == []
    assert report["conflicts"] == []


def test_reconcile_posted_runs_by_age(cli, engine):
    add_customers(engine, {"C1": "fr", "C2": "fr"})
    posted_run(engine, [Group("rebill", [Item("F-1", "C1", 50, "S-C1")], target="S-C1")],
               posting_date=dt.date(2026, 12, 1))
    posted_run(engine, [Group("reassign", [Item("F-2", "C2", 300, "S-old"),
                                           Item("N-2", "C2", -455, "S-old")], target="S-C2")],
               posting_date=dt.date(2026, 10, 15))

    report = reconcile_json(cli, "--as-of", "2026-12-31")

    assert (report["transit_balance"], report["open_charge_total"], report["difference"]) == (
        "-1.05", "-1.05", "0.00")
    assert by_bucket(report) == {
        "0-30": ("0.50", "0.50", "0.00"),
        "31-60": ("0.00", "0.00", "0.00"),
        "61-90": ("-1.55", "-1.55", "0.00"),
        ">90": ("0.00", "0.00", "0.00"),
    }


def test_reconcile_after_settlement_and_reversal(cli, engine, tmp_path):
    add_customers(engine, ONE_OF_EACH_LANGUAGES)
    settled = posted_run(engine, one_of_each())
    (line_id,) = table(engine, "SELECT MIN(id) FROM charge_lines WHERE run_id = :run",
                       run=settled)[0]
    confirmation = tmp_path / "c.csv"
    confirmation.write_text(f"line_id;invoice_no;invoice_date\n{line_id};INV-1;05.01.2027\n")
    assert cli("settle", confirmation).code == 0
    add_customers(engine, {"C9": "fr"})
    reversed_run = posted_run(engine, [Group("rebill", [Item("F-9", "C9", 95, "S-C9")],
                                             target="S-C9")])
    assert cli("run", "reverse", reversed_run, "--by", "ben", "--reason", "x", "--out",
               tmp_path).code == 0

    report = reconcile_json(cli, "--as-of", "2027-01-10")

    # 0.80 posted on the settled run, 0.50 of it invoiced; the reversed run nets to zero.
    assert (report["transit_balance"], report["open_charge_total"], report["difference"]) == (
        "0.30", "0.30", "0.00")


def test_reconcile_shows_difference(cli, engine):
    add_customers(engine, {"C1": "fr"})
    run_id = posted_run(engine, [Group("rebill", [Item("F-1", "C1", 50, "S-C1")],
                                       target="S-C1")])
    # A charge line cancelled by hand, without its mirror entry, leaves transit unexplained.
    with engine.begin() as conn:
        conn.execute(text("UPDATE charge_lines SET state = 'cancelled' WHERE run_id = :run"),
                     {"run": run_id})

    report = reconcile_json(cli, "--as-of", "2026-12-02")

    assert (report["transit_balance"], report["open_charge_total"], report["difference"]) == (
        "0.50", "0.00", "0.50")


def test_reconcile_warnings_and_conflicts(cli, engine):
    add_customers(engine, {"C1": "fr", "C2": "fr"})
    unchanged = Item("F-1", "C1", 50, "S-C1")
    paid_late = Item("F-2", "C2", 80, "S-C2")
    posted_run(engine, [Group("rebill", [unchanged], target="S-C1"),
                        Group("rebill", [paid_late], target="S-C2")])
    # The next ERP extract still lists both; F-2 received a late payment of 0.30.
    add_snapshot(engine, [unchanged, dataclasses.replace(paid_late, open_cents=50)],
                 as_of=dt.date(2026, 12, 31))

    report = reconcile_json(cli, "--as-of", "2027-01-02")

    assert [(item["document_no"], item["cleared_amount"], item["open_amount"])
            for item in report["warnings"]] == [("F-1", "0.50", "0.50")]
    assert [(item["document_no"], item["cleared_amount"], item["open_amount"])
            for item in report["conflicts"]] == [("F-2", "0.80", "0.50")]
    assert report["conflicts"][0]["snapshot_as_of"] == "2026-12-31"


def test_reconcile_same_snapshot_no_warnings(engine):
    add_customers(engine, {"C1": "fr"})
    posted_run(engine, [Group("rebill", [Item("F-1", "C1", 50, "S-C1")], target="S-C1")])

    with db.session_scope(engine) as session:
        result = reconciliation.reconcile(session, dt.date(2026, 12, 2))

    assert result.warnings.empty and result.conflicts.empty


@pytest.mark.parametrize(("age", "bucket"), [(0, "0-30"), (30, "0-30"), (31, "31-60"),
                                             (60, "31-60"), (61, "61-90"), (90, "61-90"),
                                             (91, ">90"), (-3, "0-30")])
def test_bucket_edges(age, bucket):
    import pandas as pd

    assert reconciliation.bucket_of(pd.Series([age])).tolist() == [bucket]


def test_reconcile_table_output(cli, engine):
    add_customers(engine, {"C1": "fr"})
    posted_run(engine, [Group("rebill", [Item("F-1", "C1", 123450, "S-C1")], target="S-C1")])

    result = cli("reconcile", "--as-of", "2026-12-02")

    assert result.code == 0, result
    assert "1'234.50" in result.out
