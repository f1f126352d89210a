"""The basic case end to end: import, prepare, four eyes, post, export, settle, reverse."""

import csv
import json

import pytest

from conftest import CASES
from ledger_builders import bean_check, table

CASE = CASES / "01-basic"
POLICY = ["--debit-threshold", "5.00", "--credit-threshold", "5.00", "--min-days-overdue", "30",
          "--write-off-limit", "0.00"]


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def cents(text):
    whole, fraction = text.lstrip("-").split(".")
    value = int(whole) * 100 + int(fraction)
    return -value if text.startswith("-") else value


@pytest.fixture
def imported(cli):
    assert cli("import", "subscriptions", CASE / "subscriptions.csv").code == 0
    assert cli("import", "open-items", CASE / "open_items.csv", "--as-of", "2026-11-30").code == 0


def prepare(cli, as_of, user):
    result = cli("run", "prepare", "--as-of", as_of, *POLICY, "--by", user)
    assert result.code == 0, result
    return int(result.out.strip().splitlines()[-1])


@pytest.fixture
def posted(cli, imported):
    run_id = prepare(cli, "2026-11-30", "anna")
    refused = cli("run", "approve", run_id, "--by", "anna")
    assert refused.code == 3, refused
    assert cli("run", "approve", run_id, "--by", "ben").code == 0
    result = cli("run", "post", run_id, "--posting-date", "2026-12-01")
    assert result.code == 0, result
    return run_id


def test_case01_prepare_prints_id_last(cli, imported):
    result = cli("run", "prepare", "--as-of", "2026-11-30", *POLICY, "--by", "anna")

    assert result.code == 0, result
    lines = result.out.strip().splitlines()
    assert lines[-1].isdigit()
    assert len(lines) > 1


def test_case01_run_matches_extract(cli, imported):
    run_id = prepare(cli, "2026-11-30", "anna")
    extract = json.loads(cli("extract", "--as-of", "2026-11-30", *POLICY, "--format",
                             "json").out)

    report = json.loads(cli("run", "show", run_id, "--format", "json").out)

    keys = ("customer_id", "subscription_id", "currency", "action", "target_subscription_id",
            "needs_review", "total")
    frozen = sorted(tuple(group[key] for key in keys) for group in report["groups"])
    assert frozen == sorted(tuple(group[key] for key in keys) for group in extract["groups"])
    expected = json.loads((CASE / "expected.json").read_text(encoding="utf-8"))
    assert frozen == sorted(tuple(group[key] for key in keys) for group in expected["groups"])
    assert (report["state"], report["prepared_by"], report["approved_by"]) == ("draft", "anna",
                                                                            None)
    assert report["cleared_total"] == "8.13"
    assert report["charge_total"] == "8.10"
    assert report["write_off_total"] == "0.03"


def test_case01_charge_lines_per_group(engine, posted):
    by_target = dict(table(engine, "SELECT subscription_id, SUM(amount_cents) FROM charge_lines "
                                   "WHERE run_id = :run GROUP BY subscription_id", run=posted))

    # Re-billed 0.50 and -1.20; reassigned 1.45, 0.95, 4.90 and 1.50.
    assert by_target == {"S01": 50, "S07": -120, "S03": 145, "S14": 95, "S17": 490, "S19": 150}
    assert table(engine, "SELECT text FROM charge_lines WHERE subscription_id = 'S07'") == [
        ("Restbetrag Gutschrift N-2001 vom 15.09.2026",)]
    assert table(engine, "SELECT text FROM charge_lines WHERE subscription_id = 'S01'") == [
        ("Solde facture F-1001 du 31.08.2026",)]


def test_case01_cleared_items(engine, posted):
    cleared = table(engine, "SELECT document_no FROM cleared_items ORDER BY document_no")
    assert [doc for (doc,) in cleared] == ["F-1001", "F-1002", "F-1004", "F-1005", "F-1012",
                                           "F-1013", "F-1015", "N-2001", "N-2002", "N-2003"]


def test_case01_export_twice_identical(cli, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path / "a").code == 0
    assert cli("run", "export", posted, "--out", tmp_path / "b").code == 0

    for name in (f"charges-{posted}.csv", f"journal-{posted}.csv", f"control-{posted}.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

    charges = read_rows(tmp_path / "a" / f"charges-{posted}.csv")
    assert sum(cents(row["amount"]) for row in charges) == 810
    control = json.loads((tmp_path / "a" / f"control-{posted}.json").read_text())
    assert [(entry["rows"], entry["amount_total"]) for entry in control["files"]] == [
        (len(charges), "8.10"), (18, "0.00")]


def test_case01_journal_balanced_and_bean_check(cli, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path).code == 0
    journal = tmp_path / f"journal-{posted}.csv"

    entries: dict[str, int] = {}
    for row in read_rows(journal):
        entries[row["entry_id"]] = (entries.get(row["entry_id"], 0) + cents(row["debit"])
                                    - cents(row["credit"]))
    assert entries and all(balance == 0 for balance in entries.values())

    checked = bean_check(journal, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_case01_settle_reconcile_reverse(cli, engine, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path).code == 0
    reconciled = json.loads(cli("reconcile", "--format", "json").out)
    assert (reconciled["transit_balance"], reconciled["difference"]) == ("8.10", "0.00")

    # The billing system invoiced two of the lines: S01 (0.50) and S03 (1.45).
    lines = dict(table(engine, "SELECT subscription_id, id FROM charge_lines "
                               "WHERE subscription_id IN ('S01', 'S03')"))
    confirmation = tmp_path / "confirmation.csv"
    confirmation.write_text("line_id;invoice_no;invoice_date\n"
                            f"{lines['S01']};2026-50001;05.01.2027\n"
                            f"{lines['S03']};2026-50002;05.01.2027\n", encoding="utf-8")
    assert cli("settle", confirmation).code == 0

    reconciled = json.loads(cli("reconcile", "--format", "json").out)
    assert (reconciled["transit_balance"], reconciled["open_charge_total"],
            reconciled["difference"]) == ("6.15", "6.15", "0.00")

    refused = cli("run", "reverse", posted, "--by", "ben", "--reason", "test", "--out",
                  tmp_path / "cancel")
    assert refused.code == 3, refused

    # A later run date makes F-1007 (due 15.11.2026) overdue: a second run re-bills it.
    second = prepare(cli, "2026-12-31", "anna")
    second_groups = json.loads(cli("run", "show", second, "--format", "json").out)["groups"]
    assert [(group["action"], group["total"]) for group in second_groups
            if group["action"] != "unresolved"] == [("rebill", "3.00")]
    assert cli("run", "approve", second, "--by", "ben").code == 0
    assert cli("run", "post", second).code == 0
    reversed_ = cli("run", "reverse", second, "--by", "ben", "--reason", "test", "--out",
                    tmp_path / "cancel")
    assert reversed_.code == 0, reversed_
    assert read_rows(tmp_path / "cancel" / f"cancel-{second}.csv")[0]["amount"] == "3.00"

    reconciled = json.loads(cli("reconcile", "--format", "json").out)
    assert (reconciled["transit_balance"], reconciled["difference"]) == ("6.15", "0.00")
    assert table(engine, "SELECT state FROM runs ORDER BY id") == [("exported",), ("reversed",)]
