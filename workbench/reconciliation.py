"""Reconciliation: the transit balance beside the charge lines not yet invoiced, by age.

The transit balance is computed from journal lines on each run's transit account: postings,
reversals, and the invoices that settlement records. It must equal the charge lines posted
and neither invoiced nor cancelled. Both sides are bucketed by the age of the run's posting
(days between the posting date and `as_of`), so a difference points at the runs to look at.

Items cleared by a posted run that a later snapshot still shows open are listed: as warnings
when the open amount is unchanged (the ERP has not imported the journal yet), as conflicts
when it changed (a late payment on an item already re-billed).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from . import runs
from .amounts import to_decimal_string
from .eligibility import latest_snapshot_id
from .models import ChargeLine, ClearedItem, ImportBatch, JournalLine, OpenItem, Run

log = logging.getLogger(__name__)

BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), (">90", 91, None))


@dataclass(frozen=True)
class Reconciliation:
    """Transit balance and open charge lines in centimes, per age bucket and in total."""

    as_of: dt.date
    buckets: pd.DataFrame  # bucket, transit_balance, open_charge_total, difference
    transit_balance: int
    open_charge_total: int
    warnings: pd.DataFrame  # run_id, document_no, line_no, cleared_cents, open_cents, snapshot_as_of
    conflicts: pd.DataFrame

    @property
    def difference(self) -> int:
        return self.transit_balance - self.open_charge_total

    def to_json(self) -> dict:
        """Return the reconciliation as JSON-ready data with two-decimal amount strings."""
        return {
            "as_of": self.as_of.isoformat(),
            "transit_balance": to_decimal_string(self.transit_balance),
            "open_charge_total": to_decimal_string(self.open_charge_total),
            "difference": to_decimal_string(self.difference),
            "buckets": [
                {"bucket": row.bucket,
                 "transit_balance": to_decimal_string(int(row.transit_balance)),
                 "open_charge_total": to_decimal_string(int(row.open_charge_total)),
                 "difference": to_decimal_string(int(row.difference))}
                for row in self.buckets.itertuples(index=False)
            ],
            "warnings": _items_json(self.warnings),
            "conflicts": _items_json(self.conflicts),
        }


def reconcile(session: Session, as_of: dt.date | None = None) -> Reconciliation:
    """Compare the transit balance with the open charge lines, and list cleared items that the
    latest snapshot still shows open."""
    as_of = as_of or dt.date.today()
    posted = _posted_runs(session)
    transit = _transit_by_run(session, posted)
    charges = _open_charges_by_run(session)

    by_run = posted.assign(
        transit_balance=transit.reindex(posted.index, fill_value=0),
        open_charge_total=charges.reindex(posted.index, fill_value=0),
    )
    by_run["age_days"] = [(as_of - day).days for day in by_run["posting_date"]]
    by_run["bucket"] = bucket_of(by_run["age_days"])
    buckets = (
        by_run.groupby("bucket")[["transit_balance", "open_charge_total"]].sum()
        .reindex([name for name, _low, _high in BUCKETS], fill_value=0)
        .astype("int64").rename_axis("bucket").reset_index()
    )
    buckets["difference"] = buckets["transit_balance"] - buckets["open_charge_total"]
    warnings, conflicts = still_open_items(session)

    result = Reconciliation(
        as_of=as_of,
        buckets=buckets,
        transit_balance=int(buckets["transit_balance"].sum()),
        open_charge_total=int(buckets["open_charge_total"].sum()),
        warnings=warnings,
        conflicts=conflicts,
    )
    log.info("reconcile: transit %s, open charge lines %s, difference %s, %d warnings, "
             "%d conflicts", to_decimal_string(result.transit_balance),
             to_decimal_string(result.open_charge_total), to_decimal_string(result.difference),
             len(warnings), len(conflicts))
    return result


def bucket_of(age_days: pd.Series) -> pd.Series:
    """Return the age bucket name of each age in days (a future posting counts as 0-30)."""
    names = pd.Series(BUCKETS[-1][0], index=age_days.index, dtype=object)
    for name, _low, high in reversed(BUCKETS[:-1]):
        names = names.where(age_days > high, name)
    return names


def _posted_runs(session: Session) -> pd.DataFrame:
    # Every run that ever posted, reversed ones included: their mirror entries net to zero.
    posting_dates = (
        select(JournalLine.run_id, func.min(JournalLine.posting_date).label("posting_date"))
        .where(JournalLine.kind == "post").group_by(JournalLine.run_id).subquery()
    )
    result = session.execute(
        select(Run.id.label("run_id"), Run.policy_params,
               func.coalesce(posting_dates.c.posting_date, Run.as_of).label("posting_date"))
        .outerjoin(posting_dates, posting_dates.c.run_id == Run.id)
        .where(Run.posted_at.is_not(None))
        .order_by(Run.id)
    )
    frame = pd.DataFrame(result.all(), columns=["run_id", "policy_params", "posting_date"])
    frame["transit_account"] = pd.Series(
        [runs.PolicyParams.from_json(text).transit_account for text in frame["policy_params"]],
        index=frame.index, dtype=object,
    )
    return frame.drop(columns="policy_params").set_index("run_id")


def _transit_by_run(session: Session, posted: pd.DataFrame) -> pd.Series:
    result = session.execute(
        select(JournalLine.run_id, JournalLine.account,
               cast(func.sum(JournalLine.debit_cents - JournalLine.credit_cents), BigInteger))
        .group_by(JournalLine.run_id, JournalLine.account)
    )
    sums = pd.DataFrame(result.all(), columns=["run_id", "account", "balance"]).astype(
        {"run_id": "int64", "account": object, "balance": "int64"})
    accounts = posted["transit_account"].rename("account").reset_index()
    on_transit = sums.merge(accounts, on=["run_id", "account"])
    return on_transit.groupby("run_id")["balance"].sum().astype("int64")


def _open_charges_by_run(session: Session) -> pd.Series:
    result = session.execute(
        select(ChargeLine.run_id, cast(func.sum(ChargeLine.amount_cents), BigInteger))
        .where(ChargeLine.state == "open").group_by(ChargeLine.run_id)
    )
    sums = pd.DataFrame(result.all(), columns=["run_id", "open_charge_total"]).astype("int64")
    return sums.set_index("run_id")["open_charge_total"].astype("int64")


def still_open_items(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (warnings, conflicts): cleared items that a snapshot newer than their run's still
    shows open, with the same open amount (warnings) or a changed one (conflicts)."""
    snapshot_id = latest_snapshot_id(session)
    columns = ["run_id", "document_no", "line_no", "cleared_cents", "open_cents",
               "snapshot_as_of"]
    if snapshot_id is None:
        empty = pd.DataFrame(columns=columns)
        return empty, empty.copy()
    result = session.execute(
        select(ClearedItem.run_id, ClearedItem.document_no, ClearedItem.line_no,
               ClearedItem.open_cents.label("cleared_cents"), OpenItem.open_cents,
               ImportBatch.as_of.label("snapshot_as_of"))
        .join(OpenItem, (OpenItem.document_no == ClearedItem.document_no)
              & (OpenItem.line_no == ClearedItem.line_no))
        .join(ImportBatch, ImportBatch.id == OpenItem.batch_id)
        .join(Run, Run.id == ClearedItem.run_id)
        .where(OpenItem.batch_id == snapshot_id, OpenItem.open_cents != 0,
               OpenItem.batch_id > Run.snapshot_batch_id)
        .order_by(ClearedItem.run_id, ClearedItem.document_no, ClearedItem.line_no)
    )
    found = pd.DataFrame(result.all(), columns=columns)
    changed = found["open_cents"] != found["cleared_cents"]
    return found[~changed].reset_index(drop=True), found[changed].reset_index(drop=True)


def _items_json(items: pd.DataFrame) -> list[dict]:
    return [
        {"run_id": int(row.run_id), "document_no": row.document_no, "line_no": row.line_no,
         "cleared_amount": to_decimal_string(int(row.cleared_cents)),
         "open_amount": to_decimal_string(int(row.open_cents)),
         "snapshot_as_of": row.snapshot_as_of.isoformat() if row.snapshot_as_of else None}
        for row in items.itertuples(index=False)
    ]
