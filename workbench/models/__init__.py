"""Database tables, one module per concept."""

from .audit import AuditEvent
from .base import Base
from .policy import Policy, ReassignmentChoice
from .runs import ChargeLine, ClearedItem, JournalLine, Run, RunGroup, RunItem
from .snapshot import Customer, ImportBatch, OpenItem, Subscription

__all__ = [
    "AuditEvent",
    "Base",
    "ChargeLine",
    "ClearedItem",
    "Customer",
    "ImportBatch",
    "JournalLine",
    "OpenItem",
    "Policy",
    "ReassignmentChoice",
    "Run",
    "RunGroup",
    "RunItem",
    "Subscription",
]
