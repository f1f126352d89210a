import csv

import pytest

from ledger_builders import (ONE_OF_EACH_LANGUAGES, add_customers, approved_run, one_of_each,
                             posted_run, table)

from workbench import db, posting


@pytest.fixture
def posted(engine):
    add_customers(engine, ONE_OF_EACH_LANGUAGES)
    return posted_run(engine, one_of_each())


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_reverse_mirrors_entries(cli, engine, posted, tmp_path):
    result = cli("run", "reverse", posted, "--by", "ben", "--reason", "wrong policy",
                 "--out", tmp_path)

    assert result.code == 0, result
    posted_lines = table(engine, "SELECT entry_no, account, document_no, debit_cents, "
                                 "credit_cents FROM journal_lines WHERE kind = 'post' "
                                 "ORDER BY entry_no, id")
    mirror_lines = table(engine, "SELECT entry_no, account, document_no, credit_cents, "
                                 "debit_cents FROM journal_lines WHERE kind = 'reversal' "
                                 "ORDER BY entry_no, id")
    assert len(mirror_lines) == 14
    assert [(entry - 7, *rest) for entry, *rest in mirror_lines] == posted_lines
    balances = table(engine, "SELECT account, SUM(debit_cents) - SUM(credit_cents) "
                             "FROM journal_lines GROUP BY account ORDER BY account")
    assert all(balance == 0 for _account, balance in balances)


def test_reverse_reopens_items_cancels_lines(cli, engine, posted, tmp_path):
    assert cli("run", "reverse", posted, "--by", "ben", "--reason", "wrong policy",
               "--out", tmp_path).code == 0

    assert table(engine, "SELECT COUNT(*) FROM cleared_items") == [(0,)]
    assert table(engine, "SELECT DISTINCT state FROM charge_lines") == [("cancelled",)]
    assert table(engine, "SELECT state, reversed_by, reverse_reason FROM runs WHERE id = :run",
                 run=posted) == [("reversed", "ben", "wrong policy")]
    assert table(engine, "SELECT actor FROM audit_events WHERE action = 'reverse'") == [("ben",)]


def test_reverse_writes_cancellation_file(cli, engine, posted, tmp_path):
    assert cli("run", "reverse", posted, "--by", "ben", "--reason", "wrong policy",
               "--out", tmp_path).code == 0

    ids = [str(row[0]) for row in table(engine, "SELECT id FROM charge_lines ORDER BY id")]
    cancelled = read_rows(tmp_path / f"cancel-{posted}.csv")
    assert [(row["line_id"], row["subscription_id"], row["amount"], row["reason"])
            for row in cancelled] == [
        (ids[0], "S01", "0.50", "wrong policy"), (ids[1], "S07", "-1.20", "wrong policy"),
        (ids[2], "S19", "30.00", "wrong policy"), (ids[3], "S19", "-28.50", "wrong policy")]
    mirror = read_rows(tmp_path / f"journal-reversal-{posted}.csv")
    assert len(mirror) == 14
    assert mirror[0]["entry_id"] == f"{posted}-8"


def test_reverse_default_folder_reports(cli, engine, posted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("run", "reverse", posted, "--by", "ben", "--reason", "x").code == 0
    assert (tmp_path / "reports" / f"cancel-{posted}.csv").exists()


def test_reversed_items_post_again(cli, engine, posted, tmp_path):
    assert cli("run", "reverse", posted, "--by", "ben", "--reason", "x", "--out",
               tmp_path).code == 0

    again = approved_run(engine, one_of_each())
    with db.session_scope(engine) as session:
        result = posting.post(session, again, posted_by="carla")

    assert result.cleared_items == 8
    assert table(engine, "SELECT DISTINCT run_id FROM cleared_items") == [(again,)]


def test_reverse_refused_when_invoiced(cli, engine, posted, tmp_path):
    assert cli("run", "export", posted, "--out", tmp_path).code == 0
    (line_id,) = table(engine, "SELECT MIN(id) FROM charge_lines")[0]
    confirmation = tmp_path / "confirm.csv"
    confirmation.write_text(f"line_id;invoice_no;invoice_date\n{line_id};INV-1;05.01.2027\n")
    assert cli("settle", confirmation).code == 0

    refused = cli("run", "reverse", posted, "--by", "ben", "--reason", "x", "--out",
                  tmp_path / "reversal", lang="en")

    assert refused.code == 3, refused
    assert "invoiced" in refused.err
    assert table(engine, "SELECT state FROM runs WHERE id = :run", run=posted) == [("exported",)]
    assert table(engine, "SELECT COUNT(*) FROM journal_lines WHERE kind = 'reversal'") == [(0,)]
    assert table(engine, "SELECT COUNT(*) FROM cleared_items") == [(8,)]
    assert not (tmp_path / "reversal").exists()


def test_reverse_needs_reason(cli, posted, tmp_path):
    assert cli("run", "reverse", posted, "--by", "ben", "--out", tmp_path).code == 2
    assert cli("run", "reverse", posted, "--by", "ben", "--reason", " ", "--out",
               tmp_path).code == 2


def test_reverse_twice_refused(cli, posted, tmp_path):
    assert cli("run", "reverse", posted, "--by", "ben", "--reason", "x", "--out",
               tmp_path).code == 0
    assert cli("run", "reverse", posted, "--by", "ben", "--reason", "x", "--out",
               tmp_path).code == 3
    assert cli("run", "export", posted, "--out", tmp_path).code == 3
