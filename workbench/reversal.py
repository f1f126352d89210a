"""Reversal of a posted run: mirror entries, items reopened, charge lines cancelled.

Refused once the billing system has invoiced any of the run's charge lines: the customer has
then been billed, and undoing that is a credit note in the billing system, not a reversal.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from . import audit, exports, runs
from .amounts import to_decimal_string
from .errors import InvalidInput, Problem, RuleRefused
from .i18n import _, ngettext
from .models import ChargeLine, ClearedItem, JournalLine
from .models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReversalResult:
    """What a reversal changed, and the files it wrote."""

    run_id: int
    reopened_items: int
    cancelled_lines: int
    cancelled_total: int
    journal_lines: int
    files: list[exports.FileSummary]


def reverse(
    session: Session,
    run_id: int,
    *,
    reversed_by: str,
    reason: str,
    out_dir: Path,
    reversal_date: dt.date | None = None,
) -> ReversalResult:
    """Reverse a posted or exported run and write `cancel-RUN.csv` and `journal-reversal-RUN.csv`.

    The cancellation file lists the charge lines the billing system must drop; the reversal
    journal carries the mirror entries to the ERP. Raises `RuleRefused` for a wrong state or
    when a charge line is already invoiced.
    """
    if not reason.strip():
        raise InvalidInput(_("A reversal needs a reason."),
                           [Problem("", None, "--reason", reason, _("missing reason"))])
    run = runs.load_run(session, run_id, lock=True)
    runs.require_state(run, (runs.POSTED, runs.EXPORTED), _("reversal"))
    _refuse_invoiced(session, run.id)
    reversal_date = reversal_date or dt.date.today()
    log.info("reverse: run %d start, by %s", run.id, reversed_by)

    charges = exports.charge_lines_frame(session, run.id)
    charges = charges[charges["state"] == "open"]
    journal_lines = _insert_mirror_entries(session, run.id, reversal_date, reason)
    reopened = session.execute(delete(ClearedItem).where(ClearedItem.run_id == run.id)).rowcount
    session.execute(update(ChargeLine).where(ChargeLine.run_id == run.id,
                                             ChargeLine.state == "open")
                    .values(state="cancelled"))

    run.state = runs.REVERSED
    run.reversed_by = reversed_by
    run.reversed_at = utcnow()
    run.reverse_reason = reason
    files = _write_files(session, run.id, charges, reason, Path(out_dir))
    cancelled_total = int(charges["amount_cents"].sum())
    audit.record(session, reversed_by, "reverse", run_id=run.id, reason=reason,
                 reversal_date=reversal_date.isoformat(), reopened_items=reopened,
                 cancelled_lines=len(charges),
                 cancelled_total=to_decimal_string(cancelled_total),
                 files=[file.name for file in files])
    log.info("reverse: run %d end, %d items reopened, %d charge lines cancelled (%s)", run.id,
             reopened, len(charges), to_decimal_string(cancelled_total))
    return ReversalResult(run.id, reopened, len(charges), cancelled_total, journal_lines, files)


def _refuse_invoiced(session: Session, run_id: int) -> None:
    invoiced = session.execute(
        select(func.count()).where(ChargeLine.run_id == run_id, ChargeLine.state == "invoiced")
    ).scalar_one()
    if invoiced:
        raise RuleRefused(
            ngettext("Run {run_id} cannot be reversed: {count} of its charge lines is already "
                     "invoiced. Correct it with a credit note in the billing system.",
                     "Run {run_id} cannot be reversed: {count} of its charge lines are already "
                     "invoiced. Correct them with a credit note in the billing system.",
                     invoiced).format(
                run_id=run_id, count=invoiced)
        )


def _insert_mirror_entries(session: Session, run_id: int, day: dt.date, reason: str) -> int:
    """Copy the run's posting lines with debit and credit swapped, numbered after its entries."""
    last_entry = session.execute(
        select(func.coalesce(func.max(JournalLine.entry_no), 0))
        .where(JournalLine.run_id == run_id)
    ).scalar_one()
    text = _("Reversal of run {run_id}: {reason}").format(run_id=run_id, reason=reason)[:200]
    mirror = (
        select(
            JournalLine.run_id, JournalLine.entry_no + last_entry, literal("reversal"),
            literal(day), JournalLine.account, JournalLine.customer_id, JournalLine.document_no,
            JournalLine.matching_ref, JournalLine.credit_cents, JournalLine.debit_cents,
            JournalLine.currency, literal(text),
        )
        .where(JournalLine.run_id == run_id, JournalLine.kind == "post")
        .order_by(JournalLine.entry_no, JournalLine.id)
    )
    result = session.execute(
        insert(JournalLine).from_select(
            ["run_id", "entry_no", "kind", "posting_date", "account", "customer_id",
             "document_no", "matching_ref", "debit_cents", "credit_cents", "currency", "text"],
            mirror,
        )
    )
    return result.rowcount


def _write_files(session: Session, run_id: int, charges, reason: str, out_dir: Path):
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = exports.journal_lines_frame(session, run_id, kinds=("reversal",))
    return [
        exports.write_csv(out_dir / f"cancel-{run_id}.csv",
                          exports.cancel_file_rows(charges, reason),
                          debit=charges["amount_cents"].clip(lower=0),
                          credit=(-charges["amount_cents"]).clip(lower=0)),
        exports.write_csv(out_dir / f"journal-reversal-{run_id}.csv",
                          exports.journal_file_rows(journal),
                          debit=journal["debit_cents"], credit=journal["credit_cents"]),
    ]
