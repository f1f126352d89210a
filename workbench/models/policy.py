"""Policies (approved parameter sets) and controllers' reassignment choices."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow


class Policy(Base):
    """One version of a named parameter set; a run may only use an approved version."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Id)
    status: Mapped[str] = mapped_column(String(20), default="proposed")  # proposed/approved/rejected
    params: Mapped[str] = mapped_column(Text)  # JSON; amounts as integer centimes
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class ReassignmentChoice(Base):
    """A controller's chosen target subscription for the small balance of one source."""

    __tablename__ = "reassignment_choices"
    __table_args__ = (UniqueConstraint("customer_id", "source_subscription_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    # Empty text for open items that carry no subscription.
    source_subscription_id: Mapped[str] = mapped_column(String(64), default="")
    target_subscription_id: Mapped[str] = mapped_column(String(64))
    chosen_by: Mapped[str] = mapped_column(String(200))
    chosen_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
