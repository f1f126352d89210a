"""Runs and what they post: frozen groups and items, journal lines, charge lines."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Centimes, Id, Timestamp, utcnow


class Run(Base):
    """One batch of decisions: draft -> approved -> posted -> exported -> settled, or reversed."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    policy_id: Mapped[int | None] = mapped_column(Id, ForeignKey("policies.id"))
    policy_params: Mapped[str] = mapped_column(Text)  # JSON, frozen at preparation
    snapshot_batch_id: Mapped[int] = mapped_column(Id, ForeignKey("import_batches.id"))
    prepared_by: Mapped[str] = mapped_column(String(200))
    prepared_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    posted_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    exported_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    settled_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    reversed_by: Mapped[str | None] = mapped_column(String(200))
    reversed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    reverse_reason: Mapped[str | None] = mapped_column(Text)


class RunGroup(Base):
    """A subscription's netted small balance and the action decided for it, frozen in a run."""

    __tablename__ = "run_groups"

    run_id: Mapped[int] = mapped_column(Id, ForeignKey("runs.id"), primary_key=True)
    group_no: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    subscription_id: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    action: Mapped[str] = mapped_column(String(20))
    target_subscription_id: Mapped[str | None] = mapped_column(String(64))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    total_cents: Mapped[int] = mapped_column(Centimes)
    # "included", or "left" when posting found one of its items changed.
    status: Mapped[str] = mapped_column(String(20), default="included")


class RunItem(Base):
    """An open item frozen in a run, with the reason when it left the run at posting."""

    __tablename__ = "run_items"
    __table_args__ = (Index("ix_run_items_document", "document_no", "line_no"),)

    run_id: Mapped[int] = mapped_column(Id, ForeignKey("runs.id"), primary_key=True)
    document_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_no: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_no: Mapped[int] = mapped_column(Id)
    customer_id: Mapped[str] = mapped_column(String(64))
    subscription_id: Mapped[str | None] = mapped_column(String(64))
    document_date: Mapped[dt.date | None] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    open_cents: Mapped[int] = mapped_column(Centimes)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="included")
    leave_reason: Mapped[str | None] = mapped_column(String(40))


class ClearedItem(Base):
    """An open item cleared by a posted, unreversed run; the key makes double posting fail."""

    __tablename__ = "cleared_items"

    document_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_no: Mapped[str] = mapped_column(String(16), primary_key=True)
    run_id: Mapped[int] = mapped_column(Id, ForeignKey("runs.id"), index=True)
    open_cents: Mapped[int] = mapped_column(Centimes)


class JournalLine(Base):
    """One posting line of the ERP journal; `debit_cents` and `credit_cents` are never negative."""

    __tablename__ = "journal_lines"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Id, ForeignKey("runs.id"), index=True)
    entry_no: Mapped[int] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(20), default="post")  # "post" or "reversal"
    posting_date: Mapped[dt.date] = mapped_column(Date)
    account: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    document_no: Mapped[str | None] = mapped_column(String(64))
    matching_ref: Mapped[str | None] = mapped_column(String(64))
    debit_cents: Mapped[int] = mapped_column(Centimes, default=0)
    credit_cents: Mapped[int] = mapped_column(Centimes, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    text: Mapped[str] = mapped_column(String(200))


class ChargeLine(Base):
    """A VAT-free line for a subscription's next invoice, carried by the transit account."""

    __tablename__ = "charge_lines"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Id, ForeignKey("runs.id"), index=True)
    group_no: Mapped[int] = mapped_column(Id)
    subscription_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    charge_code: Mapped[str] = mapped_column(String(40))
    amount_cents: Mapped[int] = mapped_column(Centimes)
    currency: Mapped[str] = mapped_column(String(3))
    vat_code: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(200))
    source_document: Mapped[str] = mapped_column(String(64))
    source_date: Mapped[dt.date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open/invoiced/cancelled
    invoice_no: Mapped[str | None] = mapped_column(String(64))
    invoice_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
