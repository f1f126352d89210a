"""What an extract may look like: delimiters, encodings, header spellings, profiles, XLSX cells."""

import datetime as dt

import openpyxl
import pytest
from sqlalchemy import text

from import_files import OPEN_ITEMS_HEADER, SUBSCRIPTIONS_HEADER, write_extract
from workbench import importing
from workbench.errors import InvalidInput

AS_OF = dt.date(2026, 11, 30)


def open_items(engine) -> dict[tuple[str, str], tuple]:
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT document_no, line_no, customer_id, subscription_id, document_date, due_date,"
            " amount_cents, open_cents, currency, block FROM open_items"
        )).all()
    return {
        (row.document_no, row.line_no): (
            row.customer_id, row.subscription_id,
            None if row.document_date is None else str(row.document_date), str(row.due_date),
            row.amount_cents, row.open_cents, row.currency, row.block,
        )
        for row in rows
    }


def customers(engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT customer_id, name, language FROM customers"))
        return {row.customer_id: (row.name, row.language) for row in rows}


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_delimiter_is_sniffed(engine, tmp_path, delimiter):
    path = write_extract(
        tmp_path / "items.csv", OPEN_ITEMS_HEADER,
        "F-1;C01;S01;31.08.2026;30.09.2026;1'234.50;0.50-;CHF;",
        'F-2;C02;;2026-08-31;2026-09-30;"1 234,50";100.--;eur;dunning',
        delimiter=delimiter,
    )
    result = importing.import_open_items(engine, path, as_of=AS_OF)
    assert result.rows == 2
    assert open_items(engine) == {
        ("F-1", ""): ("C01", "S01", "2026-08-31", "2026-09-30", 123450, -50, "CHF", None),
        ("F-2", ""): ("C02", None, "2026-08-31", "2026-09-30", 123450, 10000, "EUR", "dunning"),
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings(engine, tmp_path, encoding):
    path = write_extract(
        tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
        "S07;C05;Müller Hans;de;01.05.2018;",
        "S08;C06;Bonvin Léa;fr;01.01.2021;31.12.26",
        encoding=encoding,
    )
    importing.import_subscriptions(engine, path)
    assert customers(engine) == {"C05": ("Müller Hans", "de"), "C06": ("Bonvin Léa", "fr")}


def test_headers_match_case_insensitively_and_trimmed(engine, tmp_path):
    path = write_extract(
        tmp_path / "subs.csv",
        " Subscription_ID ;CUSTOMER_ID;Customer_Name;Language;Start_Date;End_Date;Remarks",
        " S01 ; C01 ;  Dupont Marie ;FR;01.01.2015;;ignored column",
    )
    importing.import_subscriptions(engine, path)
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT subscription_id, customer_id, start_date FROM subscriptions"
        )).one()
    assert (row.subscription_id, row.customer_id, str(row.start_date)) == (
        "S01", "C01", "2015-01-01")
    assert customers(engine) == {"C01": ("Dupont Marie", "fr")}


def test_custom_profile_maps_headers(engine, tmp_path):
    profile = tmp_path / "stadtwerk.toml"
    profile.write_text(
        'name = "Stadtwerk"\n'
        "[open_items]\n"
        'document_no = "Belegnummer"\n'
        'line_no = "Position"\n'
        'customer_id = ["Debitor", "Kundennummer"]\n'
        'subscription_id = "Vertrag"\n'
        'due_date = "Fälligkeit"\n'
        'open_amount = "Offener Betrag"\n',
        encoding="utf-8",
    )
    path = write_extract(
        tmp_path / "op.csv", "Belegnummer;Position;Kundennummer;Vertrag;Fälligkeit;Offener Betrag;"
        "currency", "2019-1234;1;D-7;A-9;03.11.2019;1.50;CHF", "2019-1234;2;D-7;A-9;03.11.2019;"
        "0.20-;CHF", encoding="cp1252",
    )
    result = importing.import_open_items(engine, path, as_of=AS_OF, profile=profile)
    assert result.rows == 2
    assert open_items(engine) == {
        ("2019-1234", "1"): ("D-7", "A-9", None, "2019-11-03", None, 150, "CHF", None),
        ("2019-1234", "2"): ("D-7", "A-9", None, "2019-11-03", None, -20, "CHF", None),
    }


def test_blank_lines_keep_row_numbers(engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", OPEN_ITEMS_HEADER,
        "F-1;C01;S01;31.08.2026;30.09.2026;1.00;0.50;CHF;",
        "",
        ";;;;;;;;",
        "F-2;C01;S01;31.08.2026;30.09.2026;1.00;wrong;CHF;",
    )
    with pytest.raises(InvalidInput) as raised:
        importing.import_open_items(engine, path, as_of=AS_OF)
    assert [(p.row, p.column, p.value) for p in raised.value.problems] == [
        (5, "open_amount", "wrong")
    ]


def test_quoted_values(engine, tmp_path):
    path = write_extract(
        tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
        'S01;C01;"Dupont; Marie";fr;01.01.2015;',
        'S02;C02;"Favre ""Luc""";fr;01.01.2015;',
    )
    importing.import_subscriptions(engine, path)
    assert customers(engine) == {"C01": ("Dupont; Marie", "fr"), "C02": ('Favre "Luc"', "fr")}


def test_optional_service_and_next_billing_date(engine, tmp_path):
    path = write_extract(
        tmp_path / "subs.csv",
        "subscription_id;customer_id;service;start_date;end_date;next_billing_date",
        "S01;C01;electricity;01.01.2015;;31.12.2026",
        "S02;C01;;01.01.2015;;",
    )
    importing.import_subscriptions(engine, path)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT subscription_id, service, next_billing_date FROM subscriptions"
            " ORDER BY subscription_id"
        )).all()
    assert [(r.subscription_id, r.service, r.next_billing_date and str(r.next_billing_date))
            for r in rows] == [("S01", "electricity", "2026-12-31"), ("S02", None, None)]
    assert customers(engine) == {"C01": (None, "fr")}


def test_xlsx_cells(engine, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["document_no", "line_no", "customer_id", "subscription_id", "document_date",
                  "due_date", "amount", "open_amount", "currency"])
    sheet.append(["F-1", 1, "C01", "S01", dt.datetime(2026, 8, 31), dt.datetime(2026, 9, 30),
                  1234.5, 0.1 + 0.2, "CHF"])
    sheet.append([None] * 9)
    sheet.append([1001, 2, 501, None, "31.08.2026", "2026-09-30", 100, "0.50-", None])
    path = tmp_path / "items.xlsx"
    workbook.save(path)

    result = importing.import_open_items(engine, path, as_of=AS_OF)
    assert result.rows == 2
    assert open_items(engine) == {
        ("F-1", "1"): ("C01", "S01", "2026-08-31", "2026-09-30", 123450, 30, "CHF", None),
        ("1001", "2"): ("501", None, "2026-08-31", "2026-09-30", 10000, -50, "CHF", None),
    }


def test_line_numbers_make_documents_unique(engine, tmp_path):
    path = write_extract(
        tmp_path / "items.csv", "document_no;line_no;customer_id;due_date;open_amount",
        "F-1;1;C01;30.09.2026;1.00",
        "F-1;2;C01;30.09.2026;2.00",
        "F-2;;C01;30.09.2026;3.00",
    )
    importing.import_open_items(engine, path, as_of=AS_OF)
    assert sorted(open_items(engine)) == [("F-1", "1"), ("F-1", "2"), ("F-2", "")]
