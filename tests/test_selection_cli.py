"""`workbench extract`: its three formats, policy options and stored policies, bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest

from selection_ledger import store_cleared, store_open_items, store_subscriptions
from workbench import db
from workbench.amounts import format_amount
from workbench.policy import PolicyParams, approve_policy, propose_policy

EXTRACT = ("extract", "--as-of", "2026-11-30")


@pytest.fixture
def ledger(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None),
                                 ("S2", "C2", "2012-03-01", "2026-06-30"),
                                 ("S3", "C2", "2026-07-01", None)])
    batch = store_open_items(engine, [
        ("F-1/1", "C1", "S1", "2026-09-30", "0.50"),
        ("F-1/2", "C1", "S1", "2026-09-30", "-0.20"),
        ("F-2", "C2", "S2", "2026-06-30", "4.50"),
        ("F-3", "C1", "S1", "2026-11-30", "1234.50"),
        ("F-4", "C2", "S2", "2026-06-30", "0.10"),
    ])
    store_cleared(engine, [("F-4", "0.10")], batch)
    return engine


def test_json_is_the_contract(cli, ledger):
    result = cli(*EXTRACT, "--format", "json")
    assert result.code == 0, result
    data = json.loads(result.out)

    assert list(data) == ["as_of", "policy", "groups", "excluded"]
    assert data["as_of"] == "2026-11-30"
    assert data["policy"]["debit_threshold"] == "5.00"
    assert data["policy"]["min_days_overdue"] == 30
    assert data["groups"] == [
        {"customer_id": "C1", "subscription_id": "S1", "currency": "CHF", "action": "rebill",
         "target_subscription_id": "S1", "needs_review": False, "total": "0.30",
         "items": [{"document_no": "F-1", "line_no": "1", "open_amount": "0.50"},
                   {"document_no": "F-1", "line_no": "2", "open_amount": "-0.20"}]},
        {"customer_id": "C2", "subscription_id": "S2", "currency": "CHF", "action": "reassign",
         "target_subscription_id": "S3", "needs_review": False, "total": "4.50",
         "items": [{"document_no": "F-2", "line_no": None, "open_amount": "4.50"}]},
    ]
    assert data["excluded"] == [
        {"document_no": "F-3", "line_no": None, "open_amount": "1234.50", "reason": "not_overdue"},
        {"document_no": "F-4", "line_no": None, "open_amount": "0.10", "reason": "in_transit"},
    ]
    assert "F-4" in result.err  # the in-transit warning


def test_csv_one_row_per_item(cli, ledger):
    result = cli(*EXTRACT, "--format", "csv")
    assert result.code == 0, result
    rows = list(csv.DictReader(io.StringIO(result.out), delimiter=";"))

    assert [(r["document_no"], r["line_no"], r["action"], r["reason"]) for r in rows] == [
        ("F-1", "1", "rebill", ""), ("F-1", "2", "rebill", ""), ("F-2", "", "reassign", ""),
        ("F-3", "", "", "not_overdue"), ("F-4", "", "", "in_transit")]
    assert rows[0]["group_total"] == "0.30"
    assert rows[1]["open_amount"] == "-0.20"
    assert rows[2]["target_subscription_id"] == "S3"
    assert rows[0]["due_date"] == "2026-09-30"
    assert rows[3]["group_no"] == ""


def test_table_for_people_in_swiss_format(cli, ledger):
    result = cli(*EXTRACT)
    assert result.code == 0, result
    assert "30.11.2026" in result.out
    assert format_amount(123450, "fr") in result.out
    assert "C2" in result.out
    assert "S3" in result.out
    assert "F-4" in result.out  # the warning is part of the report

    german = cli(*EXTRACT, lang="de")
    assert german.code == 0, german
    assert format_amount(123450, "de") in german.out


def test_table_limits_groups(cli, ledger):
    result = cli(*EXTRACT, "--limit", "1", lang="en")
    assert result.code == 0, result
    groups_section = result.out.split("\n\n")[2]
    assert "C1" in groups_section
    assert "C2" not in groups_section
    assert "1 more" in groups_section

    everything = cli(*EXTRACT, "--limit", "0")
    assert "C2" in everything.out.split("\n\n")[2]


def test_options_override_stored_policy(cli, ledger):
    with db.session_scope(ledger) as session:
        proposed = propose_policy(session, "strict", PolicyParams(debit_threshold=100), "anna")
        approve_policy(session, proposed.id, "bruno")

    strict = json.loads(cli(*EXTRACT, "--policy", "strict", "--format", "json").out)
    assert [group["customer_id"] for group in strict["groups"]] == ["C1"]
    assert strict["policy"]["name"] == "strict"
    assert strict["policy"]["version"] == 1

    loosened = json.loads(cli(*EXTRACT, "--policy", "strict", "--debit-threshold", "4.50",
                              "--format", "json").out)
    assert [group["customer_id"] for group in loosened["groups"]] == ["C1", "C2"]
    assert loosened["policy"]["debit_threshold"] == "4.50"


def test_policy_without_approval_exit_3(cli, ledger):
    with db.session_scope(ledger) as session:
        propose_policy(session, "draft", PolicyParams(), "anna")
    result = cli(*EXTRACT, "--policy", "draft")
    assert result.code == 3, result
    assert cli(*EXTRACT, "--policy", "unknown").code == 2


@pytest.mark.parametrize("args", [
    ("--debit-threshold", "5.001"),
    ("--debit-threshold", "5.00.0"),
    ("--credit-threshold", "1e2"),
    ("--credit-threshold", "-1.00"),
    ("--write-off-limit", "abc"),
    ("--min-days-overdue", "2.5"),
])
def test_invalid_options_exit_2(cli, ledger, args):
    result = cli(*EXTRACT, *args)
    assert result.code == 2, result
    assert args[0] in result.err
    assert args[1] in result.err


def test_invalid_date_exit_2(cli, ledger):
    result = cli("extract", "--as-of", "31.11.2026")
    assert result.code == 2, result
    assert "31.11.2026" in result.err


def test_no_snapshot_exit_1(cli, engine):
    result = cli(*EXTRACT, lang="en")
    assert result.code == 1, result
    assert "import open-items" in result.err


def test_empty_snapshot_in_every_format(cli, engine):
    store_open_items(engine, [])
    data = json.loads(cli(*EXTRACT, "--format", "json").out)
    assert (data["groups"], data["excluded"]) == ([], [])
    csv_result = cli(*EXTRACT, "--format", "csv")
    assert csv_result.code == 0, csv_result
    assert csv_result.out.splitlines()[0].startswith("group_no;customer_id")
    assert len(csv_result.out.splitlines()) == 1
    table = cli(*EXTRACT)
    assert table.code == 0, table
