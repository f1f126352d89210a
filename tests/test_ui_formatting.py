"""Display frames, the Excel workbook, report tables and charts, on small frames built here."""

from __future__ import annotations

import datetime as dt
import zipfile

import pandas as pd
import pytest
from openpyxl import load_workbook

from workbench import report
from workbench.i18n import set_language
from workbench.ui import charts
from workbench.ui.formatting import display_frame
from workbench.workbook import AMOUNT_FORMAT, write_workbook


@pytest.fixture
def english():
    set_language("en")
    yield
    set_language(None)


def _groups() -> pd.DataFrame:
    return pd.DataFrame({
        "group_no": [1, 2, 3, 4],
        "customer_id": ["C1", "C1", "C2", "C3"],
        "subscription_id": ["S1", None, "S3", "S4"],
        "action": ["rebill", "reassign", "unresolved", "offset"],
        "target_subscription_id": ["S1", "S2", None, None],
        "needs_review": [False, True, False, False],
        "total_cents": [123456, -50, 300, 0],
        "status": ["included"] * 4,
    })


def _items() -> pd.DataFrame:
    return pd.DataFrame({
        "group_no": [1, 1, 2, 3, 4, 4],
        "document_no": ["D1", "D2", "D3", "D4", "D5", "D6"],
        "due_date": [dt.date(2025, 1, 31), dt.date(2025, 11, 30), dt.date(2025, 6, 30),
                     dt.date(2024, 1, 31), dt.date(2025, 10, 31), dt.date(2025, 10, 31)],
        "open_cents": [123000, 456, -50, 300, 700, -700],
        "status": ["included"] * 6,
    })


def test_display_frame_formats_amounts_dates_and_labels(english):
    frame = pd.DataFrame({
        "total_cents": [123456, -5, 0],
        "due_date": [dt.date(2026, 12, 31), None, dt.date(2026, 1, 2)],
        "action": ["rebill", "write_off", "unknown"],
        "needs_review": [True, False, True],
        "customer_id": ["C1", None, "C3"],
    })

    shown = display_frame(frame)

    assert list(shown.columns) == ["Net total", "Due date", "Action", "To review", "Customer"]
    assert list(shown["Net total"]) == ["1'234.56", "-0.05", "0.00"]
    assert list(shown["Due date"]) == ["31.12.2026", "", "02.01.2026"]
    assert list(shown["Action"]) == ["re-bill", "write-off", "unknown"]
    assert list(shown["To review"]) == ["yes", "no", "yes"]
    assert list(shown["Customer"]) == ["C1", "", "C3"]


def test_display_frame_rejects_float_amounts():
    with pytest.raises(TypeError, match="integer centimes"):
        display_frame(pd.DataFrame({"total_cents": [1.5]}))


def test_workbook_writes_exact_amounts_with_swiss_format(tmp_path, english):
    frame = pd.DataFrame({
        "document_no": ["D1", "=SUM(A1)"],
        "open_cents": [123456789, -5],
        "due_date": [dt.date(2026, 3, 31), None],
        "action": ["rebill", "reassign"],
    })
    path = tmp_path / "book.xlsx"

    write_workbook(path, [("Items", frame)], [("Run", "7")])

    book = load_workbook(path)
    assert book.sheetnames == ["Summary", "Items"]
    sheet = book["Items"]
    assert [cell.value for cell in sheet[1]] == ["Document", "Open amount", "Due date", "Action"]
    assert sheet["B2"].number_format == AMOUNT_FORMAT == "#,##0.00"
    assert sheet["C2"].value == dt.datetime(2026, 3, 31)
    assert sheet["C2"].number_format == "DD.MM.YYYY"
    assert sheet["C3"].value is None
    assert sheet["D2"].value == "re-bill"
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet2.xml").decode()
    # The stored number text is the exact decimal, not a binary float's expansion.
    assert "<v>1234567.89</v>" in xml
    assert "<v>-0.05</v>" in xml
    assert book["Summary"]["A1"].value == "Run"


def test_actions_table_counts_and_sums(english):
    table = report.actions_table(_groups(), _items()).set_index("action")

    assert table.loc["rebill", "groups"] == 1
    assert table.loc["rebill", "items"] == 2
    assert table.loc["rebill", "total_cents"] == 123456
    assert table.loc["reassign", "credit_cents"] == 50
    assert table.loc["offset", "gross_cents"] == 1400
    assert table.loc["offset", "total_cents"] == 0
    assert table.loc["write_off", "groups"] == 0
    assert table.loc["rebill", "label"] == "re-bill"


def test_review_table_keeps_review_and_unresolved():
    table = report.review_table(_groups())

    assert list(table["group_no"]) == [2, 3]


def test_excluded_table_by_reason():
    excluded = pd.DataFrame({"reason": ["blocked", "blocked", "not_overdue"],
                             "open_cents": [100, 250, -40]})

    table = report.excluded_table(excluded)

    assert table.to_dict("records") == [
        {"reason": "blocked", "items": 2, "total_cents": 350},
        {"reason": "not_overdue", "items": 1, "total_cents": -40},
    ]


def test_age_bands_by_days_overdue():
    due = pd.Series([dt.date(2025, 12, 1), dt.date(2025, 10, 2), dt.date(2025, 10, 1),
                     dt.date(2025, 1, 1), dt.date(2024, 12, 30)])

    bands = charts.age_bands(due, dt.date(2025, 12, 31))

    assert list(bands) == [0, 0, 1, 2, 3]


def test_charts_render_png(english):
    groups, items = _groups(), _items()
    ages = charts.group_ages(groups, items, dt.date(2025, 12, 31))

    for figure in (charts.balance_histogram(groups, ages),
                   charts.actions_chart(report.actions_table(groups, items))):
        assert charts.png_bytes(figure).startswith(b"\x89PNG")


def test_workbook_cuts_sheet_at_excel_limit(tmp_path, english, monkeypatch):
    import workbench.workbook as workbook

    monkeypatch.setattr(workbook, "MAX_SHEET_ROWS", 5)
    path = tmp_path / "book.xlsx"

    write_workbook(path, [("Items", pd.DataFrame({"open_cents": list(range(10))}))])

    rows = [row[0] for row in load_workbook(path)["Items"].iter_rows(values_only=True)]
    assert len(rows) == 5
    assert rows[:4] == ["Open amount", 0, 0.01, 0.02]
    assert rows[4] == "Only the first 3 of 10 rows fit in a sheet."
