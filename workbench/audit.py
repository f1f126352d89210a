"""Writing audit events: who did what, when, to which run, policy or import batch."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from .models import AuditEvent
from .models.base import utcnow


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    run_id: int | None = None,
    policy_id: int | None = None,
    batch_id: int | None = None,
    **details: Any,
) -> None:
    """Append one audit event in the caller's transaction; `details` must be JSON-serialisable."""
    session.execute(
        insert(AuditEvent).values(
            at=utcnow(),
            actor=actor,
            action=action,
            run_id=run_id,
            policy_id=policy_id,
            batch_id=batch_id,
            details=json.dumps(details, sort_keys=True, ensure_ascii=False, default=str),
        )
    )
