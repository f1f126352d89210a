"""Snapshots, repeated imports, updates of subscriptions, and imports that skip invalid rows."""

import csv
import datetime as dt
import json

import openpyxl
from sqlalchemy import text

from import_files import OPEN_ITEMS_HEADER, SUBSCRIPTIONS_HEADER, stored_counts, write_extract
from workbench import importing

NOVEMBER = dt.date(2026, 11, 30)
DECEMBER = dt.date(2026, 12, 31)


def latest_items(engine) -> dict[str, int]:
    with engine.connect() as connection:
        latest = importing.latest_snapshot_id(connection)
        rows = connection.execute(
            text("SELECT document_no, open_cents FROM open_items WHERE batch_id = :batch"),
            {"batch": latest},
        ).all()
    return {row.document_no: row.open_cents for row in rows}


def test_same_file_twice_changes_nothing(cli, engine, tmp_path):
    path = write_extract(tmp_path / "items.csv", OPEN_ITEMS_HEADER,
                         "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;")
    first = cli("import", "open-items", path, "--as-of", "30.11.2026", lang="en")
    before = stored_counts(engine)
    second = cli("import", "open-items", path, "--as-of", "2026-11-30", lang="en")

    assert first.code == 0, first
    assert second.code == 0, second
    assert "items.csv was already imported as batch 1, so nothing changed." in second.out
    assert stored_counts(engine) == before


def test_same_file_api_reports_earlier_batch(engine, tmp_path):
    path = write_extract(tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
                         "S01;C01;Dupont Marie;fr;01.01.2015;")
    first = importing.import_subscriptions(engine, path)
    path.rename(tmp_path / "renamed.csv")  # the content counts, not the name
    second = importing.import_subscriptions(engine, tmp_path / "renamed.csv")
    assert second == importing.ImportResult(
        batch_id=first.batch_id, kind="subscriptions", rows=1, rejected=0,
        already_imported=True, rejected_file=None,
    )
    assert stored_counts(engine)["import_batches"] == 1


def test_same_file_new_as_of_imports(engine, tmp_path):
    path = write_extract(tmp_path / "items.csv", OPEN_ITEMS_HEADER,
                         "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;")
    first = importing.import_open_items(engine, path, as_of=NOVEMBER)
    second = importing.import_open_items(engine, path, as_of=DECEMBER)
    assert not second.already_imported
    assert second.batch_id != first.batch_id
    with engine.connect() as connection:
        assert importing.latest_snapshot_id(connection) == second.batch_id


def test_newer_snapshot_replaces_older(engine, tmp_path):
    november = write_extract(
        tmp_path / "november.csv", OPEN_ITEMS_HEADER,
        "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;",
        "F-2;C02;S02;31.08.2026;30.09.2026;5.00;5.00;CHF;",
    )
    december = write_extract(
        tmp_path / "december.csv", OPEN_ITEMS_HEADER,
        "F-2;C02;S02;31.08.2026;30.09.2026;5.00;4.00;CHF;",
        "F-3;C03;S03;30.11.2026;31.12.2026;7.00;7.00;CHF;",
    )
    importing.import_open_items(engine, november, as_of=NOVEMBER)
    assert latest_items(engine) == {"F-1": 50, "F-2": 500}

    result = importing.import_open_items(engine, december, as_of=DECEMBER)
    # F-1 is missing from the newer snapshot: closed in the ERP.
    assert latest_items(engine) == {"F-2": 400, "F-3": 700}
    with engine.connect() as connection:
        assert importing.latest_snapshot_id(connection) == result.batch_id
        assert connection.execute(text("SELECT COUNT(*) FROM open_items")).scalar_one() == 4


def test_same_as_of_latest_import_counts(engine, tmp_path):
    morning = write_extract(tmp_path / "morning.csv", OPEN_ITEMS_HEADER,
                            "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;")
    evening = write_extract(tmp_path / "evening.csv", OPEN_ITEMS_HEADER,
                            "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.30;CHF;")
    importing.import_open_items(engine, morning, as_of=NOVEMBER)
    second = importing.import_open_items(engine, evening, as_of=NOVEMBER)
    with engine.connect() as connection:
        assert importing.latest_snapshot_id(connection) == second.batch_id
    assert latest_items(engine) == {"F-1": 30}


def test_latest_snapshot_id_without_snapshot(engine):
    with engine.connect() as connection:
        assert importing.latest_snapshot_id(connection) is None


def test_newer_subscriptions_extract_updates(engine, tmp_path):
    first = write_extract(
        tmp_path / "first.csv",
        "subscription_id;customer_id;customer_name;language;service;start_date;end_date",
        "S01;C01;Dupont Marie;fr;water;01.01.2015;",
        "S02;C01;Dupont Marie;fr;electricity;01.01.2016;",
        "S03;C02;Meier Urs;de;gas;01.01.2017;",
    )
    second = write_extract(
        tmp_path / "second.csv", "subscription_id;customer_id;customer_name;start_date;end_date",
        "S01;C01;Dupont-Favre Marie;01.01.2015;31.12.2026",
        "S04;C02;Meier Urs;01.01.2027;",
    )
    importing.import_subscriptions(engine, first)
    result = importing.import_subscriptions(engine, second)

    with engine.connect() as connection:
        subscriptions = {
            row.subscription_id: (row.customer_id, row.service, str(row.start_date),
                                  row.end_date and str(row.end_date), row.batch_id)
            for row in connection.execute(text(
                "SELECT subscription_id, customer_id, service, start_date, end_date, batch_id"
                " FROM subscriptions"
            ))
        }
        names = dict(connection.execute(text("SELECT customer_id, name FROM customers")).all())
        languages = dict(connection.execute(
            text("SELECT customer_id, language FROM customers")).all())
    # The second file has no service or language column: those keep their stored values.
    assert subscriptions["S01"] == ("C01", "water", "2015-01-01", "2026-12-31", result.batch_id)
    assert subscriptions["S02"][4] != result.batch_id
    assert subscriptions["S04"] == ("C02", None, "2027-01-01", None, result.batch_id)
    assert len(subscriptions) == 4
    assert names == {"C01": "Dupont-Favre Marie", "C02": "Meier Urs"}
    assert languages == {"C01": "fr", "C02": "de"}


def test_skip_invalid_stores_valid_rows(cli, engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", OPEN_ITEMS_HEADER,
        "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;",
        "F-2;C01;S01;31.02.2026;30.09.2026;1.00;abc;CHF;",
        "F-3;C01;S01;31.08.2026;30.09.2026;1.00;0.70;CHF;",
        "F-3;C01;S01;31.08.2026;30.09.2026;1.00;0.80;CHF;",
        "F-4;C01;;31.08.2026;30.09.2026;1.00;0.40-;CHF;",
        encoding="cp1252",
    )
    result = cli("import", "open-items", path, "--as-of", "30.11.2026", "--skip-invalid",
                 "--by", "anna", lang="en")
    assert result.code == 0, result
    rejected_path = tmp_path / "items.rejected.csv"
    assert "2 open items" in result.out
    assert f"3 rows rejected, written to {rejected_path}." in result.out
    assert latest_items(engine) == {"F-1": 50, "F-4": -40}

    with rejected_path.open(encoding="cp1252", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == [*OPEN_ITEMS_HEADER.split(";"), "row", "column", "reason"]
    assert [row[:9] for row in rows[1:]] == [
        ["F-2", "C01", "S01", "31.02.2026", "30.09.2026", "1.00", "abc", "CHF", ""],
        ["F-3", "C01", "S01", "31.08.2026", "30.09.2026", "1.00", "0.70", "CHF", ""],
        ["F-3", "C01", "S01", "31.08.2026", "30.09.2026", "1.00", "0.80", "CHF", ""],
    ]
    assert [row[9:11] for row in rows[1:]] == [
        ["3", "document_date | open_amount"], ["4", "document_no"], ["5", "document_no"],
    ]
    assert "not a valid date" in rows[1][11]
    assert "also in row 5" in rows[2][11]

    with engine.connect() as connection:
        batch = connection.execute(text(
            "SELECT row_count, rejected_count FROM import_batches")).one()
        details = json.loads(connection.execute(text(
            "SELECT details FROM audit_events WHERE action = 'import'")).scalar_one())
    assert tuple(batch) == (2, 3)
    assert (details["rows"], details["rejected"], details["file"]) == (2, 3, "items.csv")


def test_skip_invalid_xlsx_writes_semicolon_csv(engine, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["subscription_id", "customer_id", "customer_name", "start_date"])
    sheet.append(["S01", "C01", "Müller Hans", dt.datetime(2018, 5, 1)])
    sheet.append(["S02", "C02", "Favre Luc", "someday"])
    path = tmp_path / "subs.xlsx"
    workbook.save(path)

    result = importing.import_subscriptions(engine, path, skip_invalid=True)
    assert (result.rows, result.rejected) == (1, 1)
    assert result.rejected_file == tmp_path / "subs.rejected.csv"
    lines = result.rejected_file.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("subscription_id;customer_id;customer_name;start_date;")
    assert lines[1].startswith("S02;C02;Favre Luc;someday;3;start_date;")
