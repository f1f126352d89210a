import csv
import hashlib
import json

import pytest

from ledger_builders import (ONE_OF_EACH_LANGUAGES, Group, Item, add_customers, bean_check,
                             one_of_each, posted_run, table)

CHARGES_HEADER = ("line_id;run_id;subscription_id;customer_id;charge_code;amount;currency;"
                  "vat_code;text;source_document;source_date")
JOURNAL_HEADER = ("entry_id;posting_date;account;customer_id;document_no;matching_ref;debit;"
                  "credit;currency;text;run_id")


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


@pytest.fixture
def posted(engine):
    add_customers(engine, ONE_OF_EACH_LANGUAGES)
    return posted_run(engine, one_of_each())


def test_export_charge_file_content(cli, engine, posted, tmp_path):
    result = cli("run", "export", posted, "--out", tmp_path)

    assert result.code == 0, result
    ids = [row[0] for row in table(engine, "SELECT id FROM charge_lines ORDER BY id")]
    data = (tmp_path / f"charges-{posted}.csv").read_bytes()
    assert data.decode("utf-8").split("\r\n") == [
        CHARGES_HEADER,
        f"{ids[0]};{posted};S01;C01;SOLDE;0.50;CHF;0;Solde facture F-1001 du 31.08.2026;"
        "F-1001;2026-08-31",
        f"{ids[1]};{posted};S07;C05;SOLDE;-1.20;CHF;0;"
        "Restbetrag Gutschrift N-2001 vom 15.09.2026;N-2001;2026-09-15",
        f"{ids[2]};{posted};S19;C14;SOLDE;30.00;CHF;0;Saldo fattura F-1015 del 30.09.2026;"
        "F-1015;2026-09-30",
        f"{ids[3]};{posted};S19;C14;SOLDE;-28.50;CHF;0;"
        "Saldo nota di credito N-2003 del 30.09.2026;N-2003;2026-09-30",
        "",
    ]


def test_export_journal_file_content(cli, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path).code == 0

    path = tmp_path / f"journal-{posted}.csv"
    assert path.read_bytes().decode("utf-8").split("\r\n")[0] == JOURNAL_HEADER
    rows = read_rows(path)
    assert [(row["entry_id"], row["account"], row["document_no"], row["debit"], row["credit"])
            for row in rows[:4]] == [
        (f"{posted}-1", "1091", "F-1001", "0.50", "0.00"),
        (f"{posted}-1", "1100", "F-1001", "0.00", "0.50"),
        (f"{posted}-2", "1100", "N-2001", "1.20", "0.00"),
        (f"{posted}-2", "1091", "N-2001", "0.00", "1.20"),
    ]
    assert len(rows) == 14
    for row in rows:
        assert row["posting_date"] == "2026-12-01"
        assert row["run_id"] == str(posted)
        assert row["currency"] == "CHF"
        assert row["matching_ref"].startswith(f"R{posted}-G")
        assert row["text"]
        assert not row["debit"].startswith("-")
        assert not row["credit"].startswith("-")
        assert "0.00" in (row["debit"], row["credit"])


def test_export_journal_balances_per_entry(cli, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path).code == 0

    totals: dict[str, list[int]] = {}
    for row in read_rows(tmp_path / f"journal-{posted}.csv"):
        sums = totals.setdefault(row["entry_id"], [0, 0])
        sums[0] += int(row["debit"].replace(".", ""))
        sums[1] += int(row["credit"].replace(".", ""))
    assert len(totals) == 7
    for entry_id, (debit, credit) in totals.items():
        assert debit == credit, entry_id


def test_export_journal_passes_bean_check(cli, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path / "out").code == 0

    checked = bean_check(tmp_path / "out" / f"journal-{posted}.csv", tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_export_control_file(cli, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path).code == 0

    control = json.loads((tmp_path / f"control-{posted}.json").read_text(encoding="utf-8"))
    charges, journal = control["files"]
    assert control["run_id"] == posted
    assert charges == {
        "name": f"charges-{posted}.csv", "rows": 4,
        "sha256": hashlib.sha256((tmp_path / f"charges-{posted}.csv").read_bytes()).hexdigest(),
        "debit_total": "30.50", "credit_total": "29.70", "amount_total": "0.80",
    }
    assert journal == {
        "name": f"journal-{posted}.csv", "rows": 14,
        "sha256": hashlib.sha256((tmp_path / f"journal-{posted}.csv").read_bytes()).hexdigest(),
        "debit_total": "65.23", "credit_total": "65.23", "amount_total": "0.00",
    }


def test_export_twice_identical_bytes(cli, engine, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path / "first").code == 0
    assert cli("run", "export", posted, "--out", tmp_path / "second").code == 0
    assert cli("run", "export", posted, "--out", tmp_path / "first").code == 0

    names = sorted(path.name for path in (tmp_path / "first").iterdir())
    assert names == [f"charges-{posted}.csv", f"control-{posted}.json",
                     f"journal-{posted}.csv"]
    for name in names:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()
    assert table(engine, "SELECT state FROM runs WHERE id = :run", run=posted) == [("exported",)]
    actions = table(engine, "SELECT action FROM audit_events WHERE run_id = :run ORDER BY id",
                    run=posted)
    assert [action for (action,) in actions] == ["prepare", "approve", "post", "export",
                                                 "export", "export"]


def test_export_neutralises_formulas(cli, engine, tmp_path):
    add_customers(engine, {"=C9": "fr"})
    group = Group("reassign", [Item("-5", "=C9", -120, "@S"), Item("+SUM(1)", "=C9", 170, "@S")],
                  target="\tT")
    run_id = posted_run(engine, [group])

    assert cli("run", "export", run_id, "--out", tmp_path).code == 0

    charges = read_rows(tmp_path / f"charges-{run_id}.csv")
    assert [(row["customer_id"], row["subscription_id"], row["source_document"], row["amount"])
            for row in charges] == [("'=C9", "'\tT", "'+SUM(1)", "1.70"),
                                    ("'=C9", "'\tT", "'-5", "-1.20")]
    journal = read_rows(tmp_path / f"journal-{run_id}.csv")
    assert {row["customer_id"] for row in journal} == {"'=C9"}
    assert {row["document_no"] for row in journal} == {"'-5", "'+SUM(1)"}
    assert all(not row["debit"].startswith("'") for row in journal)
