"""Imported extracts: import batches, customers, subscriptions and open-item snapshots."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Centimes, Id, Timestamp, utcnow


class ImportBatch(Base):
    """One imported extract file; an open-items batch is a snapshot of the ERP as of a date."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # "subscriptions" or "open_items"
    file_name: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    row_count: Mapped[int] = mapped_column(Id, default=0)
    rejected_count: Mapped[int] = mapped_column(Id, default=0)
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Customer(Base):
    """The payer (debtor); reassignment never crosses customers."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="fr")


class Subscription(Base):
    """A customer's contract for one service at one site, billed periodically."""

    __tablename__ = "subscriptions"

    subscription_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id"), index=True
    )
    service: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    next_billing_date: Mapped[dt.date | None] = mapped_column(Date)
    batch_id: Mapped[int] = mapped_column(Id, ForeignKey("import_batches.id"))


class OpenItem(Base):
    """A receivable line of one snapshot; `open_cents` > 0 is owed by the customer."""

    __tablename__ = "open_items"
    __table_args__ = (
        UniqueConstraint("batch_id", "document_no", "line_no"),
        Index("ix_open_items_batch_group", "batch_id", "customer_id", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(Id, ForeignKey("import_batches.id"))
    document_no: Mapped[str] = mapped_column(String(64))
    # Empty text when the extract has no line numbers, so that (document_no, line_no) is a key.
    line_no: Mapped[str] = mapped_column(String(16), default="")
    customer_id: Mapped[str] = mapped_column(String(64))
    subscription_id: Mapped[str | None] = mapped_column(String(64))
    document_date: Mapped[dt.date | None] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount_cents: Mapped[int | None] = mapped_column(Centimes)
    open_cents: Mapped[int] = mapped_column(Centimes)
    currency: Mapped[str] = mapped_column(String(3), default="CHF")
    block: Mapped[str | None] = mapped_column(String(40))
