"""Bad input: exit code 2, every bad row named by row, column and value, and nothing stored."""

import datetime as dt

import openpyxl
import pytest

from import_files import (
    NOTHING_STORED,
    OPEN_ITEMS_HEADER,
    SUBSCRIPTIONS_HEADER,
    printed_problems,
    stored_counts,
    write_extract,
)
from workbench import audit, importing
from workbench.errors import InvalidInput

AS_OF = "30.11.2026"


def import_open_items(cli, path, *options):
    return cli("import", "open-items", path, "--as-of", AS_OF, *options, lang="en")


def import_subscriptions(cli, path, *options):
    return cli("import", "subscriptions", path, *options, lang="en")


def test_duplicate_subscription_id(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
        "S01;C01;Dupont Marie;fr;01.01.2015;",
        "S02;C02;Favre Luc;fr;01.03.2012;",
        "S01;C03;Rochat Anne;fr;01.01.2010;",
    )
    result = import_subscriptions(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {("2", "subscription_id", "S01"),
                                            ("4", "subscription_id", "S01")}
    assert "also in row 4" in result.err
    assert "also in row 2" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_duplicate_document_and_line(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", "document_no;line_no;customer_id;due_date;open_amount",
        "F-1;1;C01;30.09.2026;1.00",
        "F-1;2;C01;30.09.2026;2.00",
        "F-2;;C01;30.09.2026;3.00",
        "F-1;1;C01;30.09.2026;4.00",
        "F-2;;C02;30.09.2026;5.00",
    )
    result = import_open_items(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {
        ("2", "document_no", "F-1"), ("5", "document_no", "F-1"),
        ("4", "document_no", "F-2"), ("6", "document_no", "F-2"),
    }
    assert stored_counts(engine) == NOTHING_STORED


def test_empty_required_fields(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", OPEN_ITEMS_HEADER,
        ";C01;S01;31.08.2026;30.09.2026;100.50;0.50;CHF;",
        "F-2;;S01;31.08.2026;30.09.2026;100.50;0.50;CHF;",
        "F-3;C01;S01;31.08.2026;;100.50;0.50;CHF;",
        "F-4;C01;S01;31.08.2026;30.09.2026;100.50;  ;CHF;",
        "F-5;C01;;;30.09.2026;;0.50;;",
    )
    result = import_open_items(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {
        ("2", "document_no", ""), ("3", "customer_id", ""), ("4", "due_date", ""),
        ("5", "open_amount", "  "),
    }
    assert "a value is required" in result.err
    assert "4 invalid rows" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_unknown_dates(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
        "S01;C01;Dupont Marie;fr;31.02.2026;",
        "S02;C02;Favre Luc;fr;01.03.2012;2026-13-01",
        "S03;C03;Rochat Anne;fr;01.01.2010;soon",
        "S04;C04;Girard Paul;fr;01.02.2019;31.01.2019",
    )
    result = import_subscriptions(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {
        ("2", "start_date", "31.02.2026"), ("3", "end_date", "2026-13-01"),
        ("4", "end_date", "soon"), ("5", "end_date", "31.01.2019"),
    }
    assert "not a valid date" in result.err
    assert "end date is before the start date" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_malformed_amounts(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", OPEN_ITEMS_HEADER,
        "F-1;C01;S01;31.08.2026;30.09.2026;12,3,4;0.50;CHF;",
        "F-2;C01;S01;31.08.2026;30.09.2026;100.50;abc;CHF;",
        "F-3;C01;S01;31.08.2026;30.09.2026;100.50;0.50;CHF;",
        "F-4;C01;S01;31.08.2026;30.09.2026;1.234;-0.50-;CHF;",
    )
    result = import_open_items(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {
        ("2", "amount", "12,3,4"), ("3", "open_amount", "abc"),
        ("5", "amount", "1.234"), ("5", "open_amount", "-0.50-"),
    }
    assert "not an amount" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_wrong_language_code(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
        "S01;C01;Dupont Marie;es;01.01.2015;",
        "S02;C02;Favre Luc;DE;01.03.2012;",
        "S03;C03;Rochat Anne;;01.01.2010;",
    )
    result = import_subscriptions(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {("2", "language", "es")}
    assert "expected fr, de, it or en" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_other_invalid_values(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", OPEN_ITEMS_HEADER,
        "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHFX;",
        "F-2;C01;S01;31.08.2026;30.09.2026;1.00;0.50;E1R;",
        f"F-3;{'C' * 65};S01;31.08.2026;30.09.2026;1.00;0.50;CHF;",
        "F-4;C01;S01;31.08.2026;30.09.2026;1.00;99'999'999'999'999.00;eur;",
    )
    result = import_open_items(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {
        ("2", "currency", "CHFX"), ("3", "currency", "E1R"),
        ("4", "customer_id", "C" * 60), ("5", "open_amount", "99'999'999'999'999.00"),
    }
    assert "longer than 64 characters" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_missing_columns_named_with_profile(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", "document_no;customer_id;amount", "F-1;C01;1.00"
    )
    result = import_open_items(cli, path)
    assert result.code == 2, result
    assert "required columns missing: due_date, open_amount (profile default)" in result.err
    assert printed_problems(result.err) == {("1", "due_date", ""), ("1", "open_amount", "")}
    assert stored_counts(engine) == NOTHING_STORED


def test_missing_columns_of_custom_profile(cli, engine, tmp_path):
    profile = tmp_path / "stadtwerk.toml"
    profile.write_text('name = "stadtwerk"\n[open_items]\ndue_date = "Fälligkeit"\n',
                       encoding="utf-8")
    path = write_extract(
        tmp_path / "items.csv", "document_no;customer_id;due_date;open_amount",
        "F-1;C01;30.09.2026;1.00",
    )
    result = import_open_items(cli, path, "--profile", profile)
    assert result.code == 2, result
    assert "required columns missing: due_date" in result.err
    assert f"stadtwerk ({profile})" in result.err
    assert "'Fälligkeit'" in result.err
    assert stored_counts(engine) == NOTHING_STORED


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "file is empty"),
        (b" \n\n", "file is empty"),
        (SUBSCRIPTIONS_HEADER.encode() + b"\n\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "old Excel format"),
        (b"PK\x03\x04 this is no workbook", "not a readable XLSX file"),
        (b"subscription_id;customer_id\nS\x81;C\x8d\n", "neither UTF-8 nor Windows-1252"),
    ],
)
def test_unreadable_or_empty_file(cli, engine, tmp_path, content, reason):
    path = tmp_path / "subs.csv"
    path.write_bytes(content)
    result = import_subscriptions(cli, path)
    assert result.code == 2, result
    assert reason in result.err
    assert "subs.csv" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_file_not_found(cli, engine, tmp_path):
    result = import_subscriptions(cli, tmp_path / "missing.csv")
    assert result.code == 2, result
    assert "missing.csv: file not found" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_rows_longer_than_header(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
        "S01;C01;Dupont Marie;fr;01.01.2015;",
        "S02;C02;Favre Luc;fr;01.03.2012;;extra",
        "S03;C03;Rochat Anne;fr;01.01.2010;",
        "S04;C04;Girard Paul;fr;01.02.2019;;;",
    )
    result = import_subscriptions(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {("3", "", ""), ("5", "", "")}
    assert "row has 7 fields, the header row has 6" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_xlsx_bad_rows(cli, engine, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Document_No", "Customer_ID", "Subscription_ID", "Due_Date", "Open_Amount"])
    sheet.append(["F-1", "C01", "S01", dt.datetime(2026, 9, 30), 0.5])
    sheet.append(["F-2", "C01", "S01", "31.02.2026", "abc"])
    sheet.append([None, None, None, None, None])
    sheet.append(["F-3", None, "S01", dt.datetime(2026, 9, 30, 14, 30), "12,3,4"])
    path = tmp_path / "items.xlsx"
    workbook.save(path)

    result = import_open_items(cli, path)
    assert result.code == 2, result
    assert printed_problems(result.err) == {
        ("3", "due_date", "31.02.2026"), ("3", "open_amount", "abc"),
        ("5", "customer_id", ""), ("5", "due_date", "2026-09-30 14:30:00"),
        ("5", "open_amount", "12,3,4"),
    }
    assert stored_counts(engine) == NOTHING_STORED


def test_as_of_before_latest_snapshot(cli, engine, tmp_path):
    first = write_extract(tmp_path / "november.csv", OPEN_ITEMS_HEADER,
                          "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;")
    second = write_extract(tmp_path / "october.csv", OPEN_ITEMS_HEADER,
                           "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.40;CHF;")
    assert import_open_items(cli, first).code == 0
    before = stored_counts(engine)

    result = cli("import", "open-items", second, "--as-of", "2026-10-31", lang="en")
    assert result.code == 2, result
    assert "31.10.2026 is before 30.11.2026" in result.err
    assert "batch 1" in result.err
    assert stored_counts(engine) == before


def test_as_of_not_a_date(cli, engine, tmp_path):
    path = write_extract(tmp_path / "items.csv", OPEN_ITEMS_HEADER,
                         "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;")
    result = cli("import", "open-items", path, "--as-of", "31.11.2026", lang="en")
    assert result.code == 2, result
    assert "31.11.2026" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_skip_invalid_without_valid_rows(cli, engine, tmp_path):
    path = write_extract(tmp_path / "items.csv", OPEN_ITEMS_HEADER,
                         "F-1;C01;S01;31.08.2026;;1.00;0.50;CHF;")
    result = import_open_items(cli, path, "--skip-invalid")
    assert result.code == 2, result
    assert "no valid row" in result.err
    assert stored_counts(engine) == NOTHING_STORED
    assert not (tmp_path / "items.rejected.csv").exists()


def test_failure_while_storing_rolls_back(engine, tmp_path, monkeypatch):
    path = write_extract(tmp_path / "items.csv", OPEN_ITEMS_HEADER,
                         "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;")

    def failing_record(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError):
        importing.import_open_items(engine, path, as_of=dt.date(2026, 11, 30))
    assert stored_counts(engine) == NOTHING_STORED


def test_invalid_input_lists_every_problem(engine, tmp_path):
    rows = [f"F-{n};C01;S01;31.08.2026;30.09.2026;1.00;x{n};CHF;" for n in range(300)]
    path = write_extract(tmp_path / "items.csv", OPEN_ITEMS_HEADER, *rows)
    with pytest.raises(InvalidInput) as raised:
        importing.import_open_items(engine, path, as_of=dt.date(2026, 11, 30))
    problems = raised.value.problems
    assert len(problems) == 300
    assert [problem.row for problem in problems] == list(range(2, 302))
    assert {problem.column for problem in problems} == {"open_amount"}
    assert problems[-1].value == "x299"
    assert problems[0].file == "items.csv"
    assert stored_counts(engine) == NOTHING_STORED
