"""The basic case's two extracts import cleanly, every value read as written."""

import datetime as dt

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from conftest import CASES
from workbench import importing
from workbench.models import OpenItem

CASE = CASES / "01-basic"

# document_no: (customer, subscription, document date, due date, amount, open amount, currency,
# block), typed from open_items.csv.
EXPECTED_OPEN_ITEMS = {
    "F-1001": ("C01", "S01", "2026-08-31", "2026-09-30", 10050, 50, "CHF", None),
    "F-1002": ("C02", "S02", "2026-05-31", "2026-06-30", 8645, 145, "CHF", None),
    "F-1003": ("C03", "S05", "2026-07-31", "2026-08-31", 5230, 230, "CHF", None),
    "F-1004": ("C04", "S06", "2026-08-31", "2026-09-30", 7503, 3, "CHF", None),
    "N-2001": ("C05", "S07", "2026-09-15", "2026-10-15", -2000, -120, "CHF", None),
    "F-1005": ("C06", "S08", "2026-07-31", "2026-08-31", 4500, 200, "CHF", None),
    "N-2002": ("C06", "S08", "2026-07-31", "2026-08-31", -1000, -200, "CHF", None),
    "F-1006": ("C07", "S09", "2026-08-31", "2026-09-30", 12000, 400, "CHF", "dispute"),
    "F-1007": ("C08", "S10", "2026-10-15", "2026-11-15", 3300, 300, "CHF", None),
    "F-1008": ("C09", "S11", "2026-07-31", "2026-08-31", 123450, 1200, "CHF", None),
    "F-1009": ("C10", "S12", "2026-07-31", "2026-08-31", 6000, 300, "CHF", None),
    "F-1010": ("C10", "S12", "2026-08-31", "2026-09-30", 6000, 400, "CHF", None),
    "F-1011": ("C11", "S13", "2026-08-31", "2026-09-30", 5000, 100, "EUR", None),
    "F-1012": ("C12", None, "2026-08-31", "2026-09-30", 10000, 95, "CHF", None),
    "F-1013": ("C13", "S15", "2025-11-30", "2025-12-31", 21000, 490, "CHF", None),
    "F-1014": ("C01", "S01", "2026-10-31", "2026-11-30", 9840, 9840, "CHF", None),
    "F-1015": ("C14", "S18", "2026-09-30", "2026-10-31", 3000, 3000, "CHF", None),
    "N-2003": ("C14", "S18", "2026-09-30", "2026-10-31", -2850, -2850, "CHF", None),
}


def _import_case(engine):
    subscriptions = importing.import_subscriptions(
        engine, CASE / "subscriptions.csv", actor="anna"
    )
    open_items = importing.import_open_items(
        engine, CASE / "open_items.csv", as_of=dt.date(2026, 11, 30), actor="anna"
    )
    return subscriptions, open_items


def test_case_imports_every_open_item(engine):
    subscriptions, open_items = _import_case(engine)

    assert (subscriptions.rows, subscriptions.rejected) == (19, 0)
    assert (open_items.rows, open_items.rejected) == (18, 0)
    assert open_items.kind == "open_items"
    assert not open_items.already_imported
    assert open_items.rejected_file is None
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT document_no, line_no, customer_id, subscription_id, document_date, due_date,"
            " amount_cents, open_cents, currency, block, batch_id FROM open_items"
        )).all()
        assert importing.latest_snapshot_id(connection) == open_items.batch_id

    found = {}
    for row in rows:
        assert row.line_no == ""
        assert row.batch_id == open_items.batch_id
        found[row.document_no] = (
            row.customer_id, row.subscription_id, str(row.document_date), str(row.due_date),
            row.amount_cents, row.open_cents, row.currency, row.block,
        )
    assert found == EXPECTED_OPEN_ITEMS


def test_case_dates_read_as_date_objects(engine):
    _import_case(engine)
    with engine.connect() as connection:
        due = connection.execute(text(
            "SELECT due_date FROM open_items WHERE document_no = 'F-1013'"
        )).scalar_one()
    # The ORM's Date type reads back what the bulk insert wrote.
    with Session(engine) as session:
        item = session.execute(
            select(OpenItem).where(OpenItem.document_no == "F-1013")
        ).scalar_one()
    assert str(due) == "2025-12-31"
    assert item.due_date == dt.date(2025, 12, 31)
    assert item.document_date == dt.date(2025, 11, 30)
    assert item.open_cents == 490


def test_case_imports_customers_and_subscriptions(engine):
    subscriptions, _open_items = _import_case(engine)
    with engine.connect() as connection:
        customers = {
            row.customer_id: (row.name, row.language)
            for row in connection.execute(text("SELECT customer_id, name, language FROM customers"))
        }
        stored = {
            row.subscription_id: row
            for row in connection.execute(text(
                "SELECT subscription_id, customer_id, start_date, end_date, next_billing_date,"
                " service, batch_id FROM subscriptions"
            ))
        }

    assert len(customers) == 14
    assert customers["C05"] == ("Müller Hans", "de")
    assert customers["C06"] == ("Bonvin Léa", "fr")
    assert customers["C11"] == ("Meier Urs", "de")
    assert len(stored) == 19
    assert stored["S02"].customer_id == "C02"
    assert str(stored["S02"].start_date) == "2012-03-01"
    assert str(stored["S02"].end_date) == "2026-06-30"
    assert stored["S01"].end_date is None
    assert stored["S01"].next_billing_date is None
    assert stored["S01"].service is None
    assert {row.batch_id for row in stored.values()} == {subscriptions.batch_id}


def test_case_import_writes_batches_and_audit(engine):
    subscriptions, open_items = _import_case(engine)
    with engine.connect() as connection:
        batches = connection.execute(text(
            "SELECT id, kind, file_name, as_of, row_count, rejected_count, imported_by,"
            " file_sha256 FROM import_batches ORDER BY id"
        )).all()
        events = connection.execute(text(
            "SELECT actor, action, batch_id, details FROM audit_events ORDER BY id"
        )).all()

    assert [(b.id, b.kind, b.file_name, b.row_count, b.rejected_count, b.imported_by)
            for b in batches] == [
        (subscriptions.batch_id, "subscriptions", "subscriptions.csv", 19, 0, "anna"),
        (open_items.batch_id, "open_items", "open_items.csv", 18, 0, "anna"),
    ]
    assert batches[0].as_of is None
    assert str(batches[1].as_of) == "2026-11-30"
    assert len(batches[1].file_sha256) == 64
    assert [(e.actor, e.action, e.batch_id) for e in events] == [
        ("anna", "import", subscriptions.batch_id),
        ("anna", "import", open_items.batch_id),
    ]
    assert '"rows": 18' in events[1].details
    assert '"rejected": 0' in events[1].details
    assert batches[1].file_sha256 in events[1].details
    assert '"file": "open_items.csv"' in events[1].details


def test_case_cli_summary(cli):
    first = cli("import", "subscriptions", CASE / "subscriptions.csv", "--by", "anna", lang="en")
    second = cli("import", "open-items", CASE / "open_items.csv", "--as-of", "30.11.2026",
                 lang="en")
    assert first.code == 0, first
    assert "19 subscriptions" in first.out
    assert "batch 1" in first.out
    assert second.code == 0, second
    assert "18 open items" in second.out
    assert "30.11.2026" in second.out
    assert "batch 2" in second.out
