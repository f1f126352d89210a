"""Audit events: who did what when; never updated or deleted (a trigger enforces it)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow


class AuditEvent(Base):
    """One action on the ledger: an import, a policy decision, a run's change of state."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40), index=True)
    run_id: Mapped[int | None] = mapped_column(Id, index=True)
    policy_id: Mapped[int | None] = mapped_column(Id)
    batch_id: Mapped[int | None] = mapped_column(Id, ForeignKey("import_batches.id"))
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON
