"""Settlement: the billing system's confirmation marks charge lines invoiced, all or nothing.

The confirmation file has `line_id`, `invoice_no` and `invoice_date` (semicolon, comma or tab;
UTF-8 with or without BOM, or Windows-1252). The invoice posts debit AR, credit transit in the
ERP; settlement stores that movement as journal lines of kind `invoice` (never exported), so
that the transit balance computed from journal lines follows the ERP's. A run whose charge
lines are all invoiced becomes settled.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import audit, runs
from .amounts import to_decimal_string
from .bulk import insert_frame
from .dates import DateError, parse_date
from .errors import InvalidInput, Problem
from .i18n import _, ngettext
from .models import ChargeLine, JournalLine, Run
from .models.base import utcnow
from .posting import JOURNAL_COLUMNS

log = logging.getLogger(__name__)

COLUMNS = ("line_id", "invoice_no", "invoice_date")
INVOICE_NO_LENGTH = ChargeLine.__table__.c.invoice_no.type.length
_CHUNK = 5000  # ids per IN list, below SQLite's bound-parameter limit


@dataclass(frozen=True)
class SettlementResult:
    """Counts and total of one confirmation import; the total in centimes."""

    lines_invoiced: int
    lines_already_invoiced: int
    invoiced_total: int
    settled_runs: list[int]
    runs: list[int]


def settle(session: Session, path: Path, *, settled_by: str) -> SettlementResult:
    """Mark the charge lines of a confirmation file invoiced; raise `InvalidInput` on any bad row.

    A line already invoiced under the same invoice number and date is accepted again
    unchanged, so importing the same file twice changes nothing.
    """
    path = Path(path)
    data = path.read_bytes()
    log.info("settle: start, %s", path.name)
    rows = read_confirmation(path.name, data)
    lines = _load_lines(session, rows["line_id"].tolist())
    new = _validate(path.name, rows, lines)

    _mark_invoiced(session, new)
    _insert_invoice_entries(session, new)
    touched = sorted(int(run_id) for run_id in new["run_id"].unique())
    settled = _settle_runs(session, touched)

    total = int(new["amount_cents"].sum()) if len(new) else 0
    for run_id in touched:
        of_run = new[new["run_id"] == run_id]
        audit.record(
            session, settled_by, "settle", run_id=run_id, file=path.name,
            file_sha256=hashlib.sha256(data).hexdigest(), lines_invoiced=len(of_run),
            invoiced_total=to_decimal_string(int(of_run["amount_cents"].sum())),
            settled=run_id in settled,
        )
    log.info("settle: end, %d lines invoiced (%s), %d already invoiced, runs settled: %s",
             len(new), to_decimal_string(total), len(rows) - len(new), settled or "-")
    return SettlementResult(len(new), len(rows) - len(new), total, settled, touched)


# Reading --------------------------------------------------------------------------------------

def read_confirmation(name: str, data: bytes) -> pd.DataFrame:
    """Parse a confirmation file into `row`, `line_id`, `invoice_no`, `invoice_date` columns.

    `row` is the file's row number (the header is row 1). Raises `InvalidInput` listing every
    bad cell.
    """
    text = _decode(data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput(_("{file} is empty.").format(file=name),
                           [Problem(name, 1, None, None, _("no header row"))])
    delimiter = max(";,\t", key=lines[0].count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [cell.strip().lower() for cell in next(reader)]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise InvalidInput(
            _("{file} lacks the columns {columns}.").format(file=name, columns=", ".join(missing)),
            [Problem(name, 1, column, None, _("missing column")) for column in missing],
        )

    positions = {column: header.index(column) for column in COLUMNS}
    records, problems = [], []
    for row_no, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        cell = {column: (cells[index].strip() if index < len(cells) else "")
                for column, index in positions.items()}
        record, row_problems = _parse_row(name, row_no, cell)
        problems.extend(row_problems)
        records.append(record)
    if problems:
        raise InvalidInput(
            ngettext("{file} has {count} invalid value; nothing was changed.",
                     "{file} has {count} invalid values; nothing was changed.",
                     len(problems)).format(
                file=name, count=len(problems)), problems)
    return _records_frame(records)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _parse_row(name: str, row_no: int, cell: dict[str, str]) -> tuple[dict, list[Problem]]:
    problems = []
    line_id = int(cell["line_id"]) if cell["line_id"].isdigit() else None
    if line_id is None:
        problems.append(Problem(name, row_no, "line_id", cell["line_id"],
                                _("not a charge line id (a whole number)")))
    if not cell["invoice_no"]:
        problems.append(Problem(name, row_no, "invoice_no", "", _("missing invoice number")))
    elif len(cell["invoice_no"]) > INVOICE_NO_LENGTH:
        problems.append(Problem(name, row_no, "invoice_no", cell["invoice_no"],
                                _("longer than {length} characters").format(
                                    length=INVOICE_NO_LENGTH)))
    invoice_date = None
    try:
        invoice_date = parse_date(cell["invoice_date"])
    except DateError:
        problems.append(Problem(name, row_no, "invoice_date", cell["invoice_date"],
                                _("not a date (31.12.2026 or 2026-12-31)")))
    record = {"row": row_no, "line_id": line_id, "invoice_no": cell["invoice_no"],
              "invoice_date": invoice_date}
    return record, problems


def _records_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["row", "line_id", "invoice_no", "invoice_date"])
    frame["line_id"] = frame["line_id"].astype("int64")
    return frame


# Checking against the charge lines ------------------------------------------------------------

def _load_lines(session: Session, line_ids: list[int]) -> pd.DataFrame:
    columns = (ChargeLine.id.label("line_id"), ChargeLine.run_id, ChargeLine.customer_id,
               ChargeLine.amount_cents, ChargeLine.currency, ChargeLine.state,
               ChargeLine.invoice_no.label("stored_invoice_no"),
               ChargeLine.invoice_date.label("stored_invoice_date"))
    found = []
    unique_ids = sorted(set(line_ids))
    for start in range(0, len(unique_ids), _CHUNK):
        chunk = unique_ids[start:start + _CHUNK]
        found.extend(session.execute(select(*columns).where(ChargeLine.id.in_(chunk))).all())
    return pd.DataFrame(found, columns=[column.name for column in columns])


def _validate(name: str, rows: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Return the rows that invoice a line now; raise `InvalidInput` for every bad row."""
    merged = rows.merge(lines, on="line_id", how="left", validate="many_to_one")
    state = merged["state"]
    invoiced_otherwise = state.eq("invoiced") & (
        merged["stored_invoice_no"].ne(merged["invoice_no"])
        | merged["stored_invoice_date"].ne(merged["invoice_date"])
    )
    checks = [
        (state.isna(), lambda row: _("unknown charge line")),
        (state.eq("cancelled"), lambda row: _("charge line was cancelled by a reversal")),
        (invoiced_otherwise, lambda row: _("charge line is already invoiced as {invoice} of "
                                           "{date}").format(invoice=row.stored_invoice_no,
                                                            date=row.stored_invoice_date)),
        (merged["line_id"].duplicated(), lambda row: _("line listed twice in the file")),
    ]
    problems = [
        Problem(name, int(row.row), "line_id", str(row.line_id), reason(row))
        for mask, reason in checks
        for row in merged[mask.fillna(False)].itertuples(index=False)
    ]
    if problems:
        problems.sort(key=lambda problem: problem.row or 0)
        raise InvalidInput(
            ngettext("{file} has {count} invalid row; nothing was changed.",
                     "{file} has {count} invalid rows; nothing was changed.",
                     len(problems)).format(
                file=name, count=len(problems)), problems)
    return merged[state.eq("open")].reset_index(drop=True)


# Storing --------------------------------------------------------------------------------------

def _mark_invoiced(session: Session, new: pd.DataFrame) -> None:
    if new.empty:
        return
    session.execute(
        update(ChargeLine),
        [{"id": int(line_id), "state": "invoiced", "invoice_no": invoice_no,
          "invoice_date": invoice_date}
         for line_id, invoice_no, invoice_date
         in new[["line_id", "invoice_no", "invoice_date"]].itertuples(index=False, name=None)],
    )


def _insert_invoice_entries(session: Session, new: pd.DataFrame) -> None:
    """Store each invoiced line's ERP movement: debit AR, credit transit (mirrored if negative)."""
    if new.empty:
        return
    run_ids = sorted(int(run_id) for run_id in new["run_id"].unique())
    accounts = {
        run.id: runs.run_params(run)
        for run in session.execute(select(Run).where(Run.id.in_(run_ids))).scalars()
    }
    last_entry = dict(session.execute(
        select(JournalLine.run_id, func.max(JournalLine.entry_no))
        .where(JournalLine.run_id.in_(run_ids)).group_by(JournalLine.run_id)
    ).all())

    new = new.sort_values(["run_id", "line_id"], ignore_index=True)
    entry_no = (new.groupby("run_id").cumcount() + 1
                + new["run_id"].map(lambda run_id: last_entry.get(run_id, 0)))
    amount = new["amount_cents"].astype("int64")
    text = [_("Invoice {invoice}, charge line {line_id}").format(invoice=invoice, line_id=line)
            for invoice, line in zip(new["invoice_no"], new["line_id"])]
    shared = {
        "run_id": new["run_id"], "entry_no": entry_no, "kind": "invoice",
        "posting_date": new["invoice_date"], "customer_id": new["customer_id"],
        "document_no": new["invoice_no"], "matching_ref": None, "currency": new["currency"],
        "text": text,
    }
    ar = pd.DataFrame({**shared,
                       "account": new["run_id"].map(lambda r: accounts[r].ar_account),
                       "debit_cents": amount.clip(lower=0),
                       "credit_cents": (-amount).clip(lower=0)})
    transit = pd.DataFrame({**shared,
                            "account": new["run_id"].map(lambda r: accounts[r].transit_account),
                            "debit_cents": (-amount).clip(lower=0),
                            "credit_cents": amount.clip(lower=0)})
    lines = pd.concat([ar, transit], ignore_index=True).sort_values(
        ["run_id", "entry_no", "credit_cents"], kind="stable")
    insert_frame(session, JournalLine.__table__, lines[JOURNAL_COLUMNS])


def _settle_runs(session: Session, run_ids: list[int]) -> list[int]:
    """Mark settled the given runs that have no open charge line left; return their ids."""
    settled = []
    for run_id in run_ids:
        run = runs.load_run(session, run_id, lock=True)
        open_lines = session.execute(
            select(func.count()).where(ChargeLine.run_id == run_id, ChargeLine.state == "open")
        ).scalar_one()
        if open_lines == 0 and run.state in (runs.POSTED, runs.EXPORTED):
            run.state = runs.SETTLED
            run.settled_at = utcnow()
            settled.append(run_id)
    return settled
