"""The Telco example converter on IBM's real data set, checked against figures computed here.

The expected figures come straight from the CSV with `decimal` and integer arithmetic and with
pandas' calendar offsets, never from the converter's own helpers.
"""

from __future__ import annotations

import csv
import json
import os
import datetime as dt
import hashlib
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from workbench.importing import import_open_items, import_subscriptions
from workbench.models import Customer, OpenItem, Subscription

REPO = Path(__file__).resolve().parents[1]
CONVERTER = REPO / "examples" / "telco" / "convert.py"
TELCO_CSV = REPO.parent / "shared" / "data" / "telco" / "Telco-Customer-Churn.csv"
AS_OF = dt.date(2026, 3, 31)
CHURN_END = dt.date(2026, 2, 28)  # the last day of the month before the as-of date
HEADER = "customerID,tenure,PhoneService,InternetService,MonthlyCharges,TotalCharges,Churn"


def run_converter(input_path: Path, out_dir: Path, as_of: str = AS_OF.isoformat()):
    return subprocess.run(
        [sys.executable, str(CONVERTER), "--input", str(input_path), "--as-of", as_of,
         "--out", str(out_dir)],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "WORKBENCH_LANG": "en"},
    )


def read_semicolon_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def centimes(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


@pytest.fixture(scope="module")
def source_rows() -> list[dict[str, str]]:
    with TELCO_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for line, row in enumerate(rows, start=2):
        row["line"] = line
    return rows


@pytest.fixture(scope="module")
def expected(source_rows) -> dict:
    """Return the figures the conversion must give, computed from the CSV alone."""
    billed_rows = [row for row in source_rows if row["TotalCharges"].strip()]
    balances = {}
    for row in billed_rows:
        charged = centimes(row["MonthlyCharges"]) * int(row["tenure"])
        balance = centimes(row["TotalCharges"]) - charged
        if balance:
            balances[row["customerID"]] = balance

    subscription_ids = set()
    for row in billed_rows:
        if row["PhoneService"] == "Yes":
            subscription_ids.add(row["customerID"] + "-PHONE")
        if row["InternetService"] != "No":
            subscription_ids.add(row["customerID"] + "-NET")

    return {
        "billed_rows": billed_rows,
        "balances": balances,
        "subscription_ids": subscription_ids,
        "rejected_lines": [row["line"] for row in source_rows if not row["TotalCharges"].strip()],
        "by_id": {row["customerID"]: row for row in billed_rows},
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("telco") / "extracts"
    result = run_converter(TELCO_CSV, out_dir)
    assert result.returncode == 0, result.stderr
    return out_dir, result


def test_source_file_is_the_published_one(source_rows):
    digest = hashlib.sha256(TELCO_CSV.read_bytes()).hexdigest()

    assert digest == "16320c9c1ec72448db59aa0a26a0b95401046bef5d02fd3aeb906448e3055e91"
    assert len(source_rows) == 7043


def test_convert_counts(converted, expected):
    out_dir, result = converted
    subscriptions = read_semicolon_csv(out_dir / "subscriptions.csv")
    open_items = read_semicolon_csv(out_dir / "open_items.csv")
    rejected = read_semicolon_csv(out_dir / "rejected.csv")

    assert len(subscriptions) == len(expected["subscription_ids"]) == 11864
    assert len(open_items) == len(expected["balances"]) == 6418
    assert len(rejected) == 11
    assert "11864 subscriptions" in result.stdout
    assert "6418 open items" in result.stdout
    assert "614 customers have a zero balance" in result.stdout
    assert "Rejected 11 rows" in result.stdout


def test_convert_open_amounts_exact(converted, expected):
    out_dir, _ = converted
    open_items = read_semicolon_csv(out_dir / "open_items.csv")
    stored = {item["document_no"]: centimes(item["open_amount"]) for item in open_items}
    balances = expected["balances"]

    assert stored == {f"{customer}-BAL": amount for customer, amount in balances.items()}
    assert sum(stored.values()) == sum(balances.values()) == 107725
    assert sum(1 for amount in stored.values() if amount > 0) == 3204
    assert sum(1 for amount in stored.values() if amount < 0) == 3214
    assert min(stored.values()) == -37085
    assert max(stored.values()) == 37325
    assert all(item["amount"] == item["open_amount"] for item in open_items)


def test_convert_open_item_fields(converted, expected):
    out_dir, _ = converted
    open_items = read_semicolon_csv(out_dir / "open_items.csv")
    by_id = expected["by_id"]

    for item in open_items:
        row = by_id[item["customer_id"]]
        has_internet = row["InternetService"] != "No"
        assert item["subscription_id"] == row["customerID"] + ("-NET" if has_internet else "-PHONE")
        assert item["due_date"] == "2026-02-14"  # 45 days before 31.03.2026
        assert item["document_date"] == "2026-01-15"  # 30 days before the due date
        assert item["currency"] == "CHF"
    assert sum(1 for item in open_items if item["subscription_id"].endswith("-PHONE")) == sum(
        1 for customer in expected["balances"] if by_id[customer]["InternetService"] == "No"
    )


def test_convert_subscription_rule(converted, expected):
    out_dir, _ = converted
    subscriptions = read_semicolon_csv(out_dir / "subscriptions.csv")
    by_id = expected["by_id"]

    assert {sub["subscription_id"] for sub in subscriptions} == expected["subscription_ids"]
    for sub in subscriptions:
        row = by_id[sub["customer_id"]]
        suffix = sub["subscription_id"].removeprefix(row["customerID"])
        assert sub["service"] == {"-PHONE": "phone", "-NET": "internet"}[suffix]
        assert sub["customer_name"] == f"Client {row['customerID']}"
        assert sub["language"] == "fr"
        start = (pd.Timestamp(AS_OF) - pd.DateOffset(months=int(row["tenure"]))).date()
        assert sub["start_date"] == start.isoformat()


def test_convert_churned_end_before_as_of(converted, expected):
    out_dir, _ = converted
    subscriptions = read_semicolon_csv(out_dir / "subscriptions.csv")
    by_id = expected["by_id"]
    churned = [sub for sub in subscriptions if by_id[sub["customer_id"]]["Churn"] == "Yes"]
    staying = [sub for sub in subscriptions if by_id[sub["customer_id"]]["Churn"] == "No"]

    assert len(churned) == sum(
        (row["PhoneService"] == "Yes") + (row["InternetService"] != "No")
        for row in expected["billed_rows"] if row["Churn"] == "Yes"
    )
    for sub in churned:
        assert sub["end_date"] == CHURN_END.isoformat()
        assert sub["start_date"] <= sub["end_date"] < AS_OF.isoformat()
        assert sub["next_billing_date"] == ""
    for sub in staying:
        assert sub["end_date"] == ""
        assert sub["next_billing_date"] == "2026-04-01"


def test_convert_rejects_blank_total(converted, expected):
    out_dir, _ = converted
    rejected = read_semicolon_csv(out_dir / "rejected.csv")

    assert [int(row["row"]) for row in rejected] == expected["rejected_lines"]
    assert {row["column"] for row in rejected} == {"TotalCharges"}
    assert {row["value"] for row in rejected} == {" "}
    assert all("blank" in row["reason"] for row in rejected)


def test_convert_is_deterministic(converted, tmp_path):
    out_dir, _ = converted
    again = run_converter(TELCO_CSV, tmp_path)

    assert again.returncode == 0, again.stderr
    for name in ("subscriptions.csv", "open_items.csv", "rejected.csv"):
        assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_convert_format_semicolon_utf8(converted):
    out_dir, _ = converted
    raw = (out_dir / "subscriptions.csv").read_bytes()

    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.split(b"\n", 1)[0] == (
        b"subscription_id;customer_id;customer_name;language;service;start_date;end_date;"
        b"next_billing_date"
    )
    assert (out_dir / "open_items.csv").read_bytes().split(b"\n", 1)[0] == (
        b"document_no;customer_id;subscription_id;document_date;due_date;amount;open_amount;"
        b"currency"
    )


def write_small_csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_convert_small_file_mapping(tmp_path):
    source = write_small_csv(
        tmp_path / "small.csv",
        "A-1,3,Yes,DSL,10.00,30.45,No",       # +0.45 on NET, open-ended
        "B-2,2,Yes,No,20.00,39.50,Yes",       # -0.50 on PHONE, churned
        "C-3,1,No,Fiber optic,5.00,5.00,No",  # zero balance: no open item
        "D-4,0,Yes,No,20.25, ,No",            # blank total: rejected
        "E-5,0,Yes,DSL,20.25,0,Yes",          # churned with tenure 0: rejected
    )
    result = run_converter(source, tmp_path / "out", as_of="31.05.2026")

    assert result.returncode == 0, result.stderr
    subscriptions = read_semicolon_csv(tmp_path / "out" / "subscriptions.csv")
    assert [(s["subscription_id"], s["start_date"], s["end_date"]) for s in subscriptions] == [
        ("A-1-PHONE", "2026-02-28", ""),
        ("A-1-NET", "2026-02-28", ""),
        ("B-2-PHONE", "2026-03-31", "2026-04-30"),
        ("C-3-NET", "2026-04-30", ""),
    ]
    open_items = read_semicolon_csv(tmp_path / "out" / "open_items.csv")
    assert [(i["document_no"], i["subscription_id"], i["open_amount"]) for i in open_items] == [
        ("A-1-BAL", "A-1-NET", "0.45"),
        ("B-2-BAL", "B-2-PHONE", "-0.50"),
    ]
    assert open_items[0]["due_date"] == "2026-04-16"
    assert open_items[0]["document_date"] == "2026-03-17"
    rejected = read_semicolon_csv(tmp_path / "out" / "rejected.csv")
    assert [(r["row"], r["column"], r["value"]) for r in rejected] == [
        ("5", "TotalCharges", " "),
        ("6", "tenure", "0"),
    ]
    assert "Rejected 2 rows" in result.stdout


def test_convert_missing_file(tmp_path):
    result = run_converter(tmp_path / "absent.csv", tmp_path / "out")

    assert result.returncode == 2
    assert "absent.csv" in result.stderr
    assert not (tmp_path / "out").exists()


def test_convert_missing_column(tmp_path):
    source = tmp_path / "no-churn.csv"
    source.write_text("customerID,tenure,PhoneService,InternetService,MonthlyCharges,TotalCharges\n"
                      "A-1,3,Yes,DSL,10.00,30.45\n", encoding="utf-8")
    result = run_converter(source, tmp_path / "out")

    assert result.returncode == 2
    assert "Churn" in result.stderr
    assert not (tmp_path / "out").exists()


def test_convert_malformed_amount(tmp_path):
    source = write_small_csv(
        tmp_path / "bad.csv",
        "A-1,3,Yes,DSL,10.00,30.45,No",
        "B-2,2,Yes,No,20.00,39.5x,No",
    )
    result = run_converter(source, tmp_path / "out")

    assert result.returncode == 2
    problem_lines = [line.split("\t") for line in result.stderr.splitlines()]
    assert ["bad.csv", "3", "TotalCharges", "39.5x"] in [line[:4] for line in problem_lines]
    assert not (tmp_path / "out").exists()


def test_convert_reports_every_problem(tmp_path):
    source = write_small_csv(
        tmp_path / "bad.csv",
        "A-1,three,Maybe,DSL,10.001,30.45,No",
        "A-1,2,Yes,,20.00,40.00,Perhaps",
        "C-3,1,Yes,No,5.00,5.00,No",
        "C-3,1,Yes,No,5.00,5.00,No",
        "F-6,1201,Yes,Cable,5.00,5.00,No",
    )
    result = run_converter(source, tmp_path / "out")

    assert result.returncode == 2
    cells = [line.split("\t")[:4] for line in result.stderr.splitlines()]
    assert ["bad.csv", "2", "tenure", "three"] in cells
    assert ["bad.csv", "2", "PhoneService", "Maybe"] in cells
    assert ["bad.csv", "2", "MonthlyCharges", "10.001"] in cells
    assert ["bad.csv", "3", "InternetService", ""] in cells
    assert ["bad.csv", "3", "Churn", "Perhaps"] in cells
    assert ["bad.csv", "5", "customerID", "C-3"] in cells
    assert ["bad.csv", "6", "tenure", "1201"] in cells
    assert ["bad.csv", "6", "InternetService", "Cable"] in cells
    assert "8 invalid values" in result.stderr
    assert not (tmp_path / "out").exists()


def test_convert_invalid_as_of(tmp_path):
    result = run_converter(TELCO_CSV, tmp_path / "out", as_of="31.02.2026")

    assert result.returncode == 2
    assert "31.02.2026" in result.stderr
    assert not (tmp_path / "out").exists()


def expected_decisions(expected) -> dict[str, tuple[str, int]]:
    """Return each selected document's action and total in centimes for 5.00 thresholds.

    Each customer has one balance, so each group is one item. A balance within 5.00 either way
    is selected. Below the 0.05 rounding step it is written off. Otherwise a customer who stays
    keeps a valid subscription (rebill), and a churned customer has none left and a write-off
    limit of 0 (unresolved). Reassignment needs another valid subscription, which no churned
    customer has.
    """
    decisions = {}
    for customer, balance in expected["balances"].items():
        if abs(balance) > 500:
            continue
        if abs(balance) < 5:
            action = "write_off"
        elif expected["by_id"][customer]["Churn"] == "No":
            action = "rebill"
        else:
            action = "unresolved"
        decisions[f"{customer}-BAL"] = (action, balance)
    return decisions


def summarize(decisions: dict[str, tuple[str, int]]) -> dict[str, tuple[int, int, int]]:
    """Return (groups, owed, in favour) per action, amounts in centimes."""
    summary = {action: (0, 0, 0) for action in
               ("offset", "write_off", "rebill", "reassign", "unresolved")}
    for action, total in decisions.values():
        count, owed, in_favour = summary[action]
        summary[action] = (count + 1, owed + max(total, 0), in_favour + min(total, 0))
    return summary


def test_import_stores_converted_extracts(converted, expected, engine):
    out_dir, _ = converted
    subscriptions = import_subscriptions(engine, out_dir / "subscriptions.csv", actor="test")
    open_items = import_open_items(engine, out_dir / "open_items.csv", as_of=AS_OF, actor="test")

    assert (subscriptions.rows, subscriptions.rejected) == (11864, 0)
    assert (open_items.rows, open_items.rejected) == (6418, 0)
    churned_subscriptions = sum(
        (row["PhoneService"] == "Yes") + (row["InternetService"] != "No")
        for row in expected["billed_rows"] if row["Churn"] == "Yes"
    )
    with engine.connect() as connection:
        def scalar(statement):
            return connection.execute(statement).scalar_one()

        assert scalar(select(func.count()).select_from(Customer)) == len(expected["billed_rows"])
        assert scalar(select(func.count()).select_from(Subscription)) == 11864
        ended = select(func.count()).select_from(Subscription).where(
            Subscription.end_date.is_not(None))
        assert scalar(ended) == churned_subscriptions
        before_as_of = ended.where(Subscription.end_date < AS_OF)
        assert scalar(before_as_of) == churned_subscriptions
        assert scalar(select(func.count()).select_from(OpenItem)) == 6418
        assert scalar(select(func.sum(OpenItem.open_cents))) == sum(expected["balances"].values())
        on_net = select(func.count()).select_from(OpenItem).where(
            OpenItem.subscription_id.like("%-NET"))
        assert scalar(on_net) == sum(
            1 for customer in expected["balances"]
            if expected["by_id"][customer]["InternetService"] != "No"
        )


def test_extract_telco_five_francs(converted, expected, cli):
    out_dir, _ = converted
    imported = cli("import", "subscriptions", out_dir / "subscriptions.csv")
    assert imported.code == 0, imported
    imported = cli("import", "open-items", out_dir / "open_items.csv", "--as-of", "31.03.2026")
    assert imported.code == 0, imported

    result = cli("extract", "--as-of", AS_OF.isoformat(), "--debit-threshold", "5.00",
                 "--credit-threshold", "5.00", "--format", "json")

    assert result.code == 0, result
    report = json.loads(result.out)
    decided = {group["items"][0]["document_no"]: (group["action"], centimes(group["total"]))
               for group in report["groups"]}
    assert decided == expected_decisions(expected)
    summary = summarize(decided)
    assert summary == summarize(expected_decisions(expected))
    assert summary["rebill"] == (431, 52960, -52640)
    assert summary["unresolved"] == (180, 20780, -22420)
    assert summary["write_off"] == (0, 0, 0)
    assert summary["reassign"] == (0, 0, 0)
    assert summary["offset"] == (0, 0, 0)

    for group in report["groups"]:
        assert len(group["items"]) == 1
        assert group["target_subscription_id"] == (
            group["subscription_id"] if group["action"] == "rebill" else None)
    beyond = {f"{customer}-BAL": balance for customer, balance in expected["balances"].items()
              if abs(balance) > 500}
    excluded = {entry["document_no"]: centimes(entry["open_amount"])
                for entry in report["excluded"]}
    assert excluded == beyond
    assert {entry["reason"] for entry in report["excluded"]} == {"above_threshold"}
    assert sum(excluded.values()) == 109045


@pytest.mark.notebook
def test_monthly_preview_telco(converted, expected, cli, db_url, tmp_path, tmp_path_factory):
    from demo_database import jupyter_environment, kernel_environment

    out_dir, _ = converted
    reports = tmp_path / "reports"
    expected_summary = summarize(expected_decisions(expected))
    rebill_count, rebill_owed, rebill_favour = expected_summary["rebill"]

    with kernel_environment(jupyter_environment(tmp_path_factory)):
        job = cli("monthly", "--as-of", AS_OF.isoformat(), "--mode", "preview",
                  "--out", reports, "--subscriptions", out_dir / "subscriptions.csv",
                  "--open-items", out_dir / "open_items.csv")

    assert job.code == 0, job
    run_dir = reports / "2026-03" / "1"
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["state"] == "draft"
    assert summary["groups"] == rebill_count == 431
    assert summary["items"] == rebill_count
    assert centimes(summary["cleared_total"]) == rebill_owed + rebill_favour == 320
    assert centimes(summary["charge_total"]) == 320
    assert summary["write_off_total"] == "0.00"
    assert (run_dir / "workbook.xlsx").stat().st_size > 0
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "refacturation" in html
    assert "non résolu" in html
    assert "data:image/png;base64," in html
