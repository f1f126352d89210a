"""Importing extract files: read, check every row, and store the result in one transaction.

A subscriptions extract updates the customers and subscriptions (insert or update by id). An
open-items extract becomes a new snapshot batch as of a date. Only the latest snapshot (latest
as-of date, then highest batch id) counts, so an item missing from it is closed.

By default an import is all or nothing: one bad row rejects the file, with every bad row listed.
With `skip_invalid` the valid rows are stored and the rejected ones written to
`<name>.rejected.csv` beside the input. A file whose content was already imported (same SHA-256,
kind and as-of date) is not imported again.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Row, select, text
from sqlalchemy.orm import Session

from . import audit, bulk_rows, readers, validation
from .config import current_user
from .dates import DateError, format_date, parse_date
from .db import session_scope
from .errors import InvalidInput, Problem
from .i18n import _, ngettext
from .models import ImportBatch
from .profiles import COLUMNS, Profile, load_profile, match_columns

log = logging.getLogger(__name__)

SUBSCRIPTIONS = "subscriptions"
OPEN_ITEMS = "open_items"

_OPEN_ITEM_COLUMNS = (
    "batch_id", "document_no", "line_no", "customer_id", "subscription_id", "document_date",
    "due_date", "amount_cents", "open_cents", "currency", "block",
)
# Optional columns of a subscriptions extract that an update only overwrites when the file has
# them; a required column is always overwritten.
_OPTIONAL_SUBSCRIPTION_COLUMNS = ("service", "next_billing_date")
_OPTIONAL_CUSTOMER_COLUMNS = {"customer_name": "name", "language": "language"}


@dataclass(frozen=True)
class ImportResult:
    """The outcome of an import: its batch, the rows stored and rejected, the rejected-rows file."""

    batch_id: int | None
    kind: str
    rows: int
    rejected: int
    already_imported: bool
    rejected_file: Path | None


def import_subscriptions(
    engine: Engine,
    path: str | Path,
    *,
    profile: Profile | str | Path | None = None,
    skip_invalid: bool = False,
    actor: str | None = None,
) -> ImportResult:
    """Import a subscriptions extract: insert new customers and subscriptions, update known ones.

    Raises `InvalidInput` (nothing stored) for a missing or unreadable file, missing columns, or
    any invalid row unless `skip_invalid` is set.
    """
    return _import(engine, Path(path), SUBSCRIPTIONS, None, profile, skip_invalid, actor)


def import_open_items(
    engine: Engine,
    path: str | Path,
    *,
    as_of: dt.date,
    profile: Profile | str | Path | None = None,
    skip_invalid: bool = False,
    actor: str | None = None,
) -> ImportResult:
    """Import an open-items extract as the snapshot of the ERP on `as_of`.

    Raises `InvalidInput` (nothing stored) as `import_subscriptions` does, and also when
    `as_of` is before the as-of date of the latest snapshot.
    """
    try:
        as_of = parse_date(as_of)
    except DateError:
        raise InvalidInput(
            _("The as-of date {value} is not a valid date.").format(value=as_of)
        ) from None
    return _import(engine, Path(path), OPEN_ITEMS, as_of, profile, skip_invalid, actor)


def latest_snapshot_id(session_or_connection: Session | Connection) -> int | None:
    """Return the open-items batch that counts now: latest as-of date, then highest id."""
    return session_or_connection.execute(
        select(ImportBatch.id)
        .where(ImportBatch.kind == OPEN_ITEMS)
        .order_by(ImportBatch.as_of.desc().nulls_last(), ImportBatch.id.desc())
        .limit(1)
    ).scalar()


def _import(
    engine: Engine,
    path: Path,
    kind: str,
    as_of: dt.date | None,
    profile: Profile | str | Path | None,
    skip_invalid: bool,
    actor: str | None,
) -> ImportResult:
    started = time.perf_counter()
    actor = current_user(actor)
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    log.info("import %s from %s started by %s (profile %s, as of %s)",
             kind, path, actor, profile.label, as_of)

    # 1. The file's content; nothing more to do if it was imported before.
    data = readers.read_bytes(path)
    sha256 = hashlib.sha256(data).hexdigest()
    with engine.connect() as connection:
        previous = _find_batch(connection, kind, sha256, as_of)
        if previous is None and kind == OPEN_ITEMS:
            _check_as_of(connection, as_of, path)
    if previous is not None:
        return _already_imported(previous, kind, path)

    # 2. Read and check every row.
    table = readers.parse_table(data, path)
    del data
    checked = _check_rows(table, kind, profile)
    _raise_if_invalid(checked, table, skip_invalid)

    # 3. Store, in one transaction with its audit event; checked again inside it in case another
    # import committed meanwhile.
    with session_scope(engine) as session:
        _lock_imports(session)
        previous = _find_batch(session, kind, sha256, as_of)
        if previous is not None:
            return _already_imported(previous, kind, path)
        if kind == OPEN_ITEMS:
            _check_as_of(session, as_of, path)
        batch_id = _store(session, kind, checked, path, sha256, as_of, actor)

    rejected_file = write_rejected(table, checked, path) if checked.rejected_count else None
    log.info("import %s from %s finished: batch %d, %d rows stored, %d rejected, %.1f s",
             kind, path.name, batch_id, checked.valid_count, checked.rejected_count,
             time.perf_counter() - started)
    return ImportResult(
        batch_id=batch_id, kind=kind, rows=checked.valid_count,
        rejected=checked.rejected_count, already_imported=False, rejected_file=rejected_file,
    )


# Any constant key: it only has to be the same in every process that imports.
_IMPORT_LOCK_KEY = 0x57424950


def _lock_imports(session: Session) -> None:
    # Under READ COMMITTED two PostgreSQL imports of one file would both find no batch and both
    # store it, so imports take turns until commit. SQLite's BEGIN IMMEDIATE already serialises.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK_KEY})


def _check_rows(table: readers.RawTable, kind: str, profile: Profile) -> validation.CheckedRows:
    positions = match_columns(table.headers, profile, kind, table.file_name)
    absent = [column for column in COLUMNS[kind] if column not in positions]
    if absent:
        log.info("%s has no column %s (profile %s): empty in every row",
                 table.file_name, ", ".join(absent), profile.label)
    if kind == SUBSCRIPTIONS:
        checked = validation.check_subscriptions(table, positions)
    else:
        checked = validation.check_open_items(table, positions)
    log.info("import %s from %s: %d rows valid, %d rejected",
             kind, table.file_name, checked.valid_count, checked.rejected_count)
    return checked


def _store(session: Session, kind: str, checked: validation.CheckedRows, path: Path,
           sha256: str, as_of: dt.date | None, actor: str) -> int:
    """Create the import batch, store its rows and record the audit event; return its id."""
    batch = ImportBatch(
        kind=kind, file_name=path.name, file_sha256=sha256, as_of=as_of,
        row_count=checked.valid_count, rejected_count=checked.rejected_count,
        imported_by=actor,
    )
    session.add(batch)
    session.flush()

    connection = session.connection()
    if kind == SUBSCRIPTIONS:
        _store_subscriptions(connection, checked, batch.id)
    else:
        _store_open_items(connection, checked, batch.id)

    audit.record(
        session, actor, "import", batch_id=batch.id, kind=kind, file=path.name, sha256=sha256,
        as_of=as_of.isoformat() if as_of else None, rows=checked.valid_count,
        rejected=checked.rejected_count,
    )
    return batch.id


def _find_batch(
    connection: Session | Connection, kind: str, sha256: str, as_of: dt.date | None
) -> Row | None:
    """Return (id, row_count, rejected_count) of the batch that imported this content, if any."""
    as_of_matches = ImportBatch.as_of.is_(None) if as_of is None else ImportBatch.as_of == as_of
    row = connection.execute(
        select(ImportBatch.id, ImportBatch.row_count, ImportBatch.rejected_count)
        .where(ImportBatch.kind == kind, ImportBatch.file_sha256 == sha256, as_of_matches)
        .order_by(ImportBatch.id)
        .limit(1)
    ).first()
    return row


def _already_imported(previous: Row, kind: str, path: Path) -> ImportResult:
    batch_id, rows, rejected = previous
    log.info("import from %s skipped: the same content was imported as batch %d",
             path.name, batch_id)
    return ImportResult(
        batch_id=batch_id, kind=kind, rows=rows, rejected=rejected, already_imported=True,
        rejected_file=None,
    )


def _raise_if_invalid(checked: validation.CheckedRows, table: readers.RawTable,
                      skip_invalid: bool) -> None:
    if checked.problems and not skip_invalid:
        raise InvalidInput(
            ngettext("{file}: {count} invalid row, so nothing was imported. Correct it, or "
                     "import with --skip-invalid to store only the valid rows.",
                     "{file}: {count} invalid rows, so nothing was imported. Correct them, or "
                     "import with --skip-invalid to store only the valid rows.",
                     checked.rejected_count).format(
                file=table.file_name, count=checked.rejected_count),
            checked.problems,
        )
    if checked.valid_count == 0:
        raise InvalidInput(
            _("{file}: no valid row, so nothing was imported.").format(file=table.file_name),
            checked.problems,
        )


def _check_as_of(connection: Session | Connection, as_of: dt.date, path: Path) -> None:
    latest = connection.execute(
        select(ImportBatch.id, ImportBatch.as_of)
        .where(ImportBatch.kind == OPEN_ITEMS)
        .order_by(ImportBatch.as_of.desc().nulls_last(), ImportBatch.id.desc())
        .limit(1)
    ).first()
    if latest is not None and as_of < latest.as_of:
        reason = _(
            "the as-of date {as_of} is before {latest}, the as-of date of the latest snapshot "
            "(batch {batch}). Import open-items extracts in date order"
        ).format(as_of=format_date(as_of), latest=format_date(latest.as_of), batch=latest.id)
        raise InvalidInput(
            _("{file}: {reason}").format(file=path.name, reason=reason),
            [Problem(path.name, None, None, format_date(as_of), reason)],
        )


def _store_subscriptions(connection: Connection, checked: validation.CheckedRows,
                         batch_id: int) -> None:
    records = checked.records

    # Customers first (subscriptions refer to them); the last row of a customer wins.
    last_rows = _last_of_each(records["customer_id"])
    customer_update = [name for column, name in _OPTIONAL_CUSTOMER_COLUMNS.items()
                       if column in checked.present]
    customers = bulk_rows.upsert_rows(
        connection, "customers", ("customer_id", "name", "language"), ("customer_id",),
        customer_update,
        zip(records["customer_id"][last_rows], records["customer_name"][last_rows],
            records["language"][last_rows]),
    )

    subscription_update = ["customer_id", "start_date", "end_date", "batch_id"] + [
        column for column in _OPTIONAL_SUBSCRIPTION_COLUMNS if column in checked.present
    ]
    subscriptions = bulk_rows.upsert_rows(
        connection, "subscriptions",
        ("subscription_id", "customer_id", "service", "start_date", "end_date",
         "next_billing_date", "batch_id"),
        ("subscription_id",), subscription_update,
        zip(records["subscription_id"], records["customer_id"], records["service"],
            records["start_date"], records["end_date"], records["next_billing_date"],
            itertools.repeat(batch_id)),
    )
    log.info("batch %d: %d customers and %d subscriptions inserted or updated",
             batch_id, customers, subscriptions)


def _store_open_items(connection: Connection, checked: validation.CheckedRows,
                      batch_id: int) -> None:
    records = checked.records
    rows = zip(
        itertools.repeat(batch_id), *(records[column] for column in _OPEN_ITEM_COLUMNS[1:])
    )
    count = bulk_rows.insert_rows(connection, "open_items", _OPEN_ITEM_COLUMNS, rows)
    log.info("batch %d: %d open items stored", batch_id, count)


def _last_of_each(keys: np.ndarray) -> np.ndarray:
    """Return the positions of the last occurrence of each key, in file order."""
    return np.flatnonzero(~pd.Series(keys).duplicated(keep="last").to_numpy())


def write_rejected(table: readers.RawTable, checked: validation.CheckedRows, path: Path) -> Path:
    """Write the rejected rows beside the input as `<name>.rejected.csv` and return its path.

    The file has the input's delimiter and columns, then the row number, the columns and the
    reasons of each rejected row.
    """
    target = path.with_name(f"{path.stem}.rejected.csv")
    reasons: dict[int, list[Problem]] = {}
    for problem in checked.problems:
        reasons.setdefault(problem.row, []).append(problem)

    positions = np.flatnonzero(checked.rejected)
    # An XLSX input gets UTF-8 with a byte-order mark, which Excel opens with the right accents.
    encoding = "utf-8-sig" if table.encoding == "xlsx" else table.encoding
    with target.open("w", encoding=encoding, errors="replace", newline="") as handle:
        writer = csv.writer(handle, delimiter=table.delimiter, lineterminator="\r\n")
        writer.writerow([*table.headers, _("row"), _("column"), _("reason")])
        values = table.frame.iloc[positions].to_numpy(dtype=object)
        for row, cells in zip(table.row_numbers[positions].tolist(), values):
            problems = reasons.get(row, [])
            writer.writerow([
                *cells,
                row,
                " | ".join(problem.column or "" for problem in problems),
                " | ".join(problem.reason for problem in problems),
            ])
    log.info("%d rejected rows written to %s", len(positions), target)
    return target
