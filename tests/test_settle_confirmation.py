import json

import pytest

from ledger_builders import (ONE_OF_EACH_LANGUAGES, add_customers, one_of_each, posted_run,
                             table)


@pytest.fixture
def exported(cli, engine, tmp_path):
    add_customers(engine, ONE_OF_EACH_LANGUAGES)
    run_id = posted_run(engine, one_of_each())
    assert cli("run", "export", run_id, "--out", tmp_path / "export").code == 0
    return run_id


def line_ids(engine, run_id):
    return [row[0] for row in table(engine, "SELECT id FROM charge_lines WHERE run_id = :run "
                                            "ORDER BY id", run=run_id)]


def write(path, *rows, header="line_id;invoice_no;invoice_date"):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def charge_states(engine, run_id):
    return table(engine, "SELECT state, invoice_no, invoice_date FROM charge_lines "
                         "WHERE run_id = :run ORDER BY id", run=run_id)


def test_settle_part_keeps_run_exported(cli, engine, exported, tmp_path):
    first, second, *_rest = line_ids(engine, exported)
    confirmation = write(tmp_path / "confirm.csv", f"{first};INV-1;05.01.2027",
                         f"{second};INV-2;2027-01-06")

    result = cli("settle", confirmation, "--by", "dora")

    assert result.code == 0, result
    states = charge_states(engine, exported)
    assert [(state, invoice) for state, invoice, _day in states] == [
        ("invoiced", "INV-1"), ("invoiced", "INV-2"), ("open", None), ("open", None)]
    assert str(states[0][2]) == "2027-01-05"
    assert table(engine, "SELECT state FROM runs WHERE id = :run", run=exported) == [("exported",)]
    (details,) = table(engine, "SELECT details FROM audit_events WHERE action = 'settle'")[0]
    assert json.loads(details)["lines_invoiced"] == 2
    assert json.loads(details)["invoiced_total"] == "-0.70"


def test_settle_records_invoice_movement_on_transit(cli, engine, exported, tmp_path):
    first, *_rest = line_ids(engine, exported)
    assert cli("settle", write(tmp_path / "c.csv", f"{first};INV-1;05.01.2027")).code == 0

    assert table(engine, "SELECT account, customer_id, document_no, debit_cents, credit_cents "
                         "FROM journal_lines WHERE kind = 'invoice' ORDER BY id") == [
        ("1100", "C01", "INV-1", 50, 0), ("1091", "C01", "INV-1", 0, 50)]


def test_settle_all_lines_settles_run(cli, engine, exported, tmp_path):
    rows = [f"{line};INV-{line};05.01.2027" for line in line_ids(engine, exported)]

    result = cli("settle", write(tmp_path / "all.csv", *rows))

    assert result.code == 0, result
    assert table(engine, "SELECT state FROM runs WHERE id = :run", run=exported) == [("settled",)]
    assert str(exported) in result.out


def test_settle_same_file_twice_changes_nothing(cli, engine, exported, tmp_path):
    first, *_rest = line_ids(engine, exported)
    confirmation = write(tmp_path / "c.csv", f"{first};INV-1;05.01.2027")
    assert cli("settle", confirmation).code == 0
    before = table(engine, "SELECT COUNT(*) FROM journal_lines")

    again = cli("settle", confirmation)

    assert again.code == 0, again
    assert table(engine, "SELECT COUNT(*) FROM journal_lines") == before
    assert charge_states(engine, exported)[0][:2] == ("invoiced", "INV-1")


def test_settle_unknown_line_exit_2_nothing_changed(cli, engine, exported, tmp_path):
    first, *_rest = line_ids(engine, exported)
    confirmation = write(tmp_path / "bad.csv", f"{first};INV-1;05.01.2027", "99999;INV-2;05.01.2027")

    result = cli("settle", confirmation)

    assert result.code == 2, result
    assert "bad.csv\t3\tline_id\t99999" in result.err
    assert [state for state, _invoice, _day in charge_states(engine, exported)] == ["open"] * 4
    assert table(engine, "SELECT COUNT(*) FROM journal_lines WHERE kind = 'invoice'") == [(0,)]
    assert table(engine, "SELECT COUNT(*) FROM audit_events WHERE action = 'settle'") == [(0,)]


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        ("abc;INV-1;05.01.2027", "line_id", "abc"),
        ("{line};;05.01.2027", "invoice_no", ""),
        ("{line};INV-1;31.02.2027", "invoice_date", "31.02.2027"),
        ("{line};" + "X" * 65 + ";05.01.2027", "invoice_no", "X" * 60),
    ],
    ids=["line-id", "invoice-no", "invoice-date", "invoice-no-too-long"],
)
def test_settle_invalid_cell_exit_2(cli, engine, exported, tmp_path, row, column, value):
    first, *_rest = line_ids(engine, exported)
    confirmation = write(tmp_path / "bad.csv", row.format(line=first))

    result = cli("settle", confirmation)

    assert result.code == 2, result
    assert f"bad.csv\t2\t{column}\t{value}" in result.err
    assert charge_states(engine, exported)[0][0] == "open"


def test_settle_missing_column_exit_2(cli, exported, tmp_path):
    result = cli("settle", write(tmp_path / "bad.csv", "1;INV-1", header="line_id;invoice_no"))
    assert result.code == 2, result
    assert "invoice_date" in result.err


def test_settle_conflicting_invoice_exit_2(cli, engine, exported, tmp_path):
    first, *_rest = line_ids(engine, exported)
    assert cli("settle", write(tmp_path / "a.csv", f"{first};INV-1;05.01.2027")).code == 0

    result = cli("settle", write(tmp_path / "b.csv", f"{first};INV-9;05.01.2027"))

    assert result.code == 2, result
    assert "INV-1" in result.err
    assert charge_states(engine, exported)[0][1] == "INV-1"


def test_settle_cancelled_line_exit_2(cli, engine, exported, tmp_path):
    first, *_rest = line_ids(engine, exported)
    reversed_ = cli("run", "reverse", exported, "--by", "ben", "--reason", "wrong thresholds",
                    "--out", tmp_path / "reversal")
    assert reversed_.code == 0, reversed_

    result = cli("settle", write(tmp_path / "late.csv", f"{first};INV-1;05.01.2027"))

    assert result.code == 2, result
    assert f"late.csv\t2\tline_id\t{first}" in result.err
    assert charge_states(engine, exported)[0][0] == "cancelled"


def test_settle_comma_and_bom(cli, engine, exported, tmp_path):
    first, *_rest = line_ids(engine, exported)
    path = tmp_path / "comma.csv"
    path.write_bytes(b"\xef\xbb\xbfLine_ID,Invoice_No,Invoice_Date\r\n"
                     + f"{first},INV-7,2027-01-05\r\n".encode())

    assert cli("settle", path).code == 0
    assert charge_states(engine, exported)[0][:2] == ("invoiced", "INV-7")
