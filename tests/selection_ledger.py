"""Small ledgers for the selection tests, written straight into the snapshot tables.

Subscriptions are `(subscription_id, customer_id, start, end)` and open items
`(document_no, customer_id, subscription_id, due_date, open_amount, currency, block)` with
dates as ISO text and amounts as `0.50`-style text; a trailing field may be left out.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select, func
from sqlalchemy.engine import Engine

from workbench.amounts import parse_amount
from workbench.models import ClearedItem, Customer, ImportBatch, OpenItem, Run, Subscription
from workbench.models.base import utcnow
from workbench.policy import PolicyParams


def day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def store_subscriptions(engine: Engine, subscriptions: list[tuple]) -> int:
    """Insert customers and subscriptions from one import batch; return the batch id."""
    with engine.begin() as conn:
        batch_id = _batch(conn, "subscriptions", None)
        customers = sorted({row[1] for row in subscriptions})
        if customers:
            conn.execute(insert(Customer), [
                {"customer_id": customer, "name": f"Client {customer}", "language": "fr"}
                for customer in customers
            ])
            conn.execute(insert(Subscription), [
                {"subscription_id": sub, "customer_id": customer, "service": "electricity",
                 "start_date": day(start), "end_date": day(end), "next_billing_date": None,
                 "batch_id": batch_id}
                for sub, customer, start, end in subscriptions
            ])
    return batch_id


def store_open_items(engine: Engine, items: list[tuple], as_of: str = "2026-11-30") -> int:
    """Insert one open-items snapshot; return its batch id."""
    with engine.begin() as conn:
        batch_id = _batch(conn, "open_items", day(as_of))
        rows = []
        for item in items:
            document, customer, sub, due, amount, *rest = item
            currency = rest[0] if rest else "CHF"
            block = rest[1] if len(rest) > 1 else None
            document_no, _, line_no = document.partition("/")
            rows.append({
                "batch_id": batch_id, "document_no": document_no, "line_no": line_no,
                "customer_id": customer, "subscription_id": sub,
                "document_date": day(due) - dt.timedelta(days=30), "due_date": day(due),
                "amount_cents": None, "open_cents": parse_amount(amount),
                "currency": currency, "block": block,
            })
        if rows:
            conn.execute(insert(OpenItem), rows)
    return batch_id


def store_cleared(engine: Engine, cleared: list[tuple[str, str]], snapshot_id: int) -> int:
    """Record items as cleared by a posted run: `(document_no[/line_no], open_amount)`."""
    with engine.begin() as conn:
        run_id = conn.execute(insert(Run).values(
            state="posted", as_of=dt.date(2026, 10, 31),
            policy_params=PolicyParams().to_json(), snapshot_batch_id=snapshot_id,
            prepared_by="anna", prepared_at=utcnow(),
        ).returning(Run.id)).scalar_one()
        rows = []
        for document, amount in cleared:
            document_no, _, line_no = document.partition("/")
            rows.append({"document_no": document_no, "line_no": line_no, "run_id": run_id,
                         "open_cents": parse_amount(amount)})
        conn.execute(insert(ClearedItem), rows)
    return run_id


def _batch(conn, kind: str, as_of: dt.date | None) -> int:
    number = conn.execute(select(func.count()).select_from(ImportBatch)).scalar() + 1
    return conn.execute(insert(ImportBatch).values(
        kind=kind, file_name=f"{kind}-{number}.csv", file_sha256=f"{number:064d}", as_of=as_of,
        row_count=0, rejected_count=0, imported_by="test", imported_at=utcnow(),
    ).returning(ImportBatch.id)).scalar_one()
