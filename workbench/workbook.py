"""The Excel workbook of a run: one sheet per table, Swiss number and date formats.

Amount columns (names ending in `_cents`) are written as numbers in francs, so that a
controller can sum and filter them in Excel. Every other column keeps its value, and dates
become date cells.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from decimal import Decimal
from pathlib import Path
from typing import Iterable

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .i18n import _
from .ui.formatting import action_label, column_label, reason_label, state_label

log = logging.getLogger(__name__)

# Excel draws the "," of a format code with the reader's own group separator, so Swiss regional
# settings show 1'234.50. A literal apostrophe would misplace it below 1'000 and above 999'999.
AMOUNT_FORMAT = "#,##0.00"
DATE_FORMAT = "DD.MM.YYYY"
# Excel limits a sheet name to 31 characters and a sheet to 1,048,576 rows (header included).
MAX_SHEET_NAME = 31
MAX_SHEET_ROWS = 1_048_576


def write_workbook(
    path: Path | str,
    sheets: Iterable[tuple[str, pd.DataFrame]],
    summary: Iterable[tuple[str, str]] = (),
) -> Path:
    """Write an .xlsx file with a summary sheet (label, value pairs) and one sheet per frame.

    Each frame's columns get translated headers; `_cents` columns become amounts in francs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    bold = Font(bold=True)

    summary = list(summary)
    if summary:
        sheet = book.create_sheet(_("Summary")[:MAX_SHEET_NAME])
        sheet.column_dimensions["A"].width = 40
        sheet.column_dimensions["B"].width = 30
        for label, value in summary:
            label_cell = WriteOnlyCell(sheet, value=label)
            label_cell.font = bold
            sheet.append([label_cell, value])

    for title, frame in sheets:
        sheet = book.create_sheet(title[:MAX_SHEET_NAME])
        if len(frame) > MAX_SHEET_ROWS - 2:
            # Keep the first rows and note the cut in the last one, rather than fail the whole file.
            log.warning("workbook: sheet %s cut to %d of %d rows", title, MAX_SHEET_ROWS - 2,
                        len(frame))
            kept = frame.head(MAX_SHEET_ROWS - 2)
            _write_frame(sheet, kept, bold)
            sheet.append([_("Only the first {shown} of {total} rows fit in a sheet.").format(
                shown=len(kept), total=len(frame))])
        else:
            _write_frame(sheet, frame, bold)

    book.save(path)
    return path


def _write_frame(sheet, frame: pd.DataFrame, bold: Font) -> None:
    columns = list(frame.columns)
    for index, column in enumerate(columns, start=1):
        width = 16 if column.endswith(("_cents", "_date")) else max(12, len(column_label(column)) + 2)
        sheet.column_dimensions[get_column_letter(index)].width = min(width, 60)
    sheet.freeze_panes = "A2"

    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column_label(column))
        cell.font = bold
        header.append(cell)
    sheet.append(header)

    converters = [_converter(column) for column in columns]
    for row in frame.itertuples(index=False, name=None):
        sheet.append([convert(sheet, value) for convert, value in zip(converters, row)])


def _converter(column: str):
    if column.endswith("_cents"):
        return _amount_cell
    if column == "action":
        return lambda _sheet, value: action_label(value)
    if column in ("reason", "leave_reason"):
        return lambda _sheet, value: None if _missing(value) else reason_label(value)
    if column == "state":
        return lambda _sheet, value: state_label(value)
    return _plain_cell


def _amount_cell(sheet, cents) -> WriteOnlyCell | None:
    if _missing(cents):
        return None
    # The one place where an amount becomes a spreadsheet number: centimes scaled exactly into a
    # Decimal (no float), which openpyxl writes as the number text `1234.50`.
    cell = WriteOnlyCell(sheet, value=Decimal(operator.index(cents)).scaleb(-2))
    cell.number_format = AMOUNT_FORMAT
    return cell


def _plain_cell(sheet, value):
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, (dt.date, dt.datetime)):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            # Excel has no time zones: show the UTC time that the database stores.
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT if not isinstance(value, dt.datetime) else "DD.MM.YYYY HH:MM"
        return cell
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()  # numpy scalars -> Python values openpyxl accepts
    return value


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
