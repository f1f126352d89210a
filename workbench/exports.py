"""Export files of a run: billing import (charge lines), ERP journal and control file.

Files are semicolon-separated UTF-8 with a header row and CRLF line ends; amounts are `0.50`
strings, journal debits and credits never negative. The files depend only on stored rows,
sorted by id, so exporting a run again writes byte-identical files. A spreadsheet runs a cell
that starts with `=`, `+`, `-`, `@`, tab or carriage return as a formula, so such text cells
get a leading apostrophe. Amount cells stay numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, runs
from .amounts import to_decimal_string
from .fetch import fetch_frame, iso_texts
from .i18n import _
from .models import ChargeLine, JournalLine
from .models.base import utcnow

log = logging.getLogger(__name__)

CHARGE_FILE_COLUMNS = ["line_id", "run_id", "subscription_id", "customer_id", "charge_code",
                       "amount", "currency", "vat_code", "text", "source_document",
                       "source_date"]
JOURNAL_FILE_COLUMNS = ["entry_id", "posting_date", "account", "customer_id", "document_no",
                        "matching_ref", "debit", "credit", "currency", "text", "run_id"]
CANCEL_FILE_COLUMNS = ["line_id", "run_id", "subscription_id", "customer_id", "charge_code",
                       "amount", "currency", "source_document", "reason"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Columns the export writes from numbers and dates it formats itself: never formula-like.
GENERATED_COLUMNS = {"line_id", "run_id", "entry_id", "posting_date", "source_date",
                     "amount", "debit", "credit"}


@dataclass(frozen=True)
class FileSummary:
    """One written file as the control file lists it; totals are two-decimal strings."""

    name: str
    rows: int
    sha256: str
    debit_total: str
    credit_total: str
    amount_total: str


@dataclass(frozen=True)
class ExportResult:
    run_id: int
    directory: Path
    files: list[FileSummary]


def export_run(session: Session, run_id: int, out_dir: Path, *, exported_by: str) -> ExportResult:
    """Write `charges-RUN.csv`, `journal-RUN.csv` and `control-RUN.json` into `out_dir`.

    A posted run becomes exported; an exported or settled run may be exported again and gives
    the same bytes.
    """
    run = runs.load_run(session, run_id, lock=True)
    runs.require_state(run, (runs.POSTED, runs.EXPORTED, runs.SETTLED), _("export"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("export: run %d start, into %s", run.id, out_dir)

    charges = charge_lines_frame(session, run.id)
    journal = journal_lines_frame(session, run.id, kinds=("post",))
    files = [
        write_csv(out_dir / f"charges-{run.id}.csv", charge_file_rows(charges),
                  debit=charges["amount_cents"].clip(lower=0),
                  credit=(-charges["amount_cents"]).clip(lower=0)),
        write_csv(out_dir / f"journal-{run.id}.csv", journal_file_rows(journal),
                  debit=journal["debit_cents"], credit=journal["credit_cents"]),
    ]
    control = {"run_id": run.id, "files": [asdict(summary) for summary in files]}
    _write_bytes(out_dir / f"control-{run.id}.json",
                 (json.dumps(control, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    if run.state == runs.POSTED:
        run.state = runs.EXPORTED
    if run.exported_at is None:
        run.exported_at = utcnow()
    audit.record(session, exported_by, "export", run_id=run.id, directory=str(out_dir),
                 files=[asdict(summary) for summary in files])
    log.info("export: run %d end, %d charge lines, %d journal lines", run.id, len(charges),
             len(journal))
    return ExportResult(run.id, out_dir, files)


# Stored rows ----------------------------------------------------------------------------------

def charge_lines_frame(session: Session, run_id: int) -> pd.DataFrame:
    """Read a run's charge lines in id order: amounts in centimes, dates as ISO texts."""
    frame = fetch_frame(session, (
        select(ChargeLine.id.label("line_id"), ChargeLine.run_id, ChargeLine.subscription_id,
               ChargeLine.customer_id, ChargeLine.charge_code, ChargeLine.amount_cents,
               ChargeLine.currency, ChargeLine.vat_code, ChargeLine.text,
               ChargeLine.source_document, ChargeLine.source_date, ChargeLine.state)
        .where(ChargeLine.run_id == run_id)
        .order_by(ChargeLine.id)
    ))
    for column in ("line_id", "run_id", "amount_cents"):
        frame[column] = frame[column].astype("int64")
    frame["source_date"] = iso_texts(frame["source_date"])
    return frame


def journal_lines_frame(session: Session, run_id: int, *, kinds: tuple[str, ...]) -> pd.DataFrame:
    """Read a run's journal lines of the given kinds by entry, then id: amounts in centimes,
    dates as ISO texts."""
    frame = fetch_frame(session, (
        select(JournalLine.run_id, JournalLine.entry_no, JournalLine.posting_date,
               JournalLine.account, JournalLine.customer_id, JournalLine.document_no,
               JournalLine.matching_ref, JournalLine.debit_cents, JournalLine.credit_cents,
               JournalLine.currency, JournalLine.text)
        .where(JournalLine.run_id == run_id, JournalLine.kind.in_(kinds))
        .order_by(JournalLine.entry_no, JournalLine.id)
    ))
    for column in ("run_id", "entry_no", "debit_cents", "credit_cents"):
        frame[column] = frame[column].astype("int64")
    frame["posting_date"] = iso_texts(frame["posting_date"])
    return frame


# File layouts ---------------------------------------------------------------------------------

def charge_file_rows(charges: pd.DataFrame) -> pd.DataFrame:
    """Return the billing import layout of charge lines, every cell as text."""
    return pd.DataFrame({
        "line_id": charges["line_id"].astype(str),
        "run_id": charges["run_id"].astype(str),
        "subscription_id": charges["subscription_id"],
        "customer_id": charges["customer_id"],
        "charge_code": charges["charge_code"],
        "amount": amount_texts(charges["amount_cents"]),
        "currency": charges["currency"],
        "vat_code": charges["vat_code"],
        "text": charges["text"],
        "source_document": charges["source_document"],
        "source_date": charges["source_date"],
    }, columns=CHARGE_FILE_COLUMNS)


def journal_file_rows(journal: pd.DataFrame) -> pd.DataFrame:
    """Return the ERP journal layout of journal lines, every cell as text."""
    return pd.DataFrame({
        "entry_id": journal["run_id"].astype(str) + "-" + journal["entry_no"].astype(str),
        "posting_date": journal["posting_date"],
        "account": journal["account"],
        "customer_id": journal["customer_id"],
        "document_no": journal["document_no"],
        "matching_ref": journal["matching_ref"],
        "debit": amount_texts(journal["debit_cents"]),
        "credit": amount_texts(journal["credit_cents"]),
        "currency": journal["currency"],
        "text": journal["text"],
        "run_id": journal["run_id"].astype(str),
    }, columns=JOURNAL_FILE_COLUMNS)


def cancel_file_rows(charges: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Return the cancellation layout: the billing system drops these lines before invoicing."""
    rows = charge_file_rows(charges)
    rows["reason"] = reason
    return rows[CANCEL_FILE_COLUMNS]


def amount_texts(cents: pd.Series) -> pd.Series:
    """Return centimes as `-1234.50` texts, as `amounts.to_decimal_string` writes them."""
    return pd.Series(
        [f"{'-' if value < 0 else ''}{abs(value) // 100}.{abs(value) % 100:02d}"
         for value in cents.astype("int64").tolist()],
        index=cents.index, dtype=object,
    )


def neutralise_formulas(cells: pd.Series) -> list[str]:
    """Return text cells with an apostrophe before those a spreadsheet would read as a formula."""
    return ["" if cell is None or cell != cell
            else "'" + cell if cell.startswith(_FORMULA_START) else cell
            for cell in cells.tolist()]


# Writing --------------------------------------------------------------------------------------

def csv_bytes(rows: pd.DataFrame) -> bytes:
    """Return the file bytes of text rows, with formula-like text cells neutralised."""
    columns = [
        rows[name].tolist() if name in GENERATED_COLUMNS else neutralise_formulas(rows[name])
        for name in rows.columns
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(rows.columns)
    writer.writerows(zip(*columns))
    return buffer.getvalue().encode("utf-8")


def write_csv(path: Path, rows: pd.DataFrame, *, debit: pd.Series, credit: pd.Series) -> FileSummary:
    """Write text rows to `path` atomically and return the control entry of the file."""
    data = csv_bytes(rows)
    _write_bytes(path, data)
    debit_total, credit_total = int(debit.sum()), int(credit.sum())
    return FileSummary(
        name=path.name,
        rows=len(rows),
        sha256=hashlib.sha256(data).hexdigest(),
        debit_total=to_decimal_string(debit_total),
        credit_total=to_decimal_string(credit_total),
        amount_total=to_decimal_string(debit_total - credit_total),
    )


def _write_bytes(path: Path, data: bytes) -> None:
    # Write beside the target, then rename: a reader never sees half a file.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
