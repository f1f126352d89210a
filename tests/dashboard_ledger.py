"""A small ledger written inline for the dashboard tests: one case per selection rule.

As of 30.06.2026 with thresholds 5.00 / 5.00, 30 days overdue, rounding step 0.05 and a
write-off limit of 2.00, the latest snapshot (batch 2) gives these groups:

| customer | subscription | items | net | action |
| --- | --- | --- | --- | --- |
| C1 | S1 (valid) | D1 1.50 (D2 200.00 not overdue, not counted) | 1.50 | rebill |
| C1 | S2 (ended) | D3 3.00, D4 -1.00 | 2.00 | reassign (to S1) |
| C1 | none | D15 0.80 | 0.80 | reassign (to S1) |
| C2 | S3 (ended, no valid one) | D5 -1.20 | -1.20 | write_off (within the limit) |
| C3 | S4 (ended, no valid one) | D6 4.00 | 4.00 | unresolved (beyond the limit) |
| C4 | S5 (valid) | D7 0.03 | 0.03 | write_off (below the rounding step) |
| C4 | S6 (valid) | D8 10.00, D9 -10.00 | 0.00 | offset |
| C4 | S8 (valid) | D11 -2.50 | -2.50 | rebill (a credit carried) |
| C5 | none (no subscription at all) | D16 -0.90 | -0.90 | write_off (within the limit) |

Left out: D10 7.00 on S7 (above the threshold), D12 (blocked), D13 (EUR), D14 and D17
(cleared by posted run 1), D2 (not overdue), and D99 of the older snapshot. D14 is still open
with its cleared amount (a warning), D17 with another amount than run 1 cleared (a conflict).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from workbench import db
from workbench.models import (AuditEvent, ChargeLine, ClearedItem, Customer, ImportBatch,
                              JournalLine, OpenItem, Policy, Run, RunGroup, Subscription)
from workbench.models.base import utcnow
from workbench.policy import PolicyParams

AS_OF = dt.date(2026, 6, 30)
PARAMS = PolicyParams(debit_threshold=500, credit_threshold=500, min_days_overdue=30,
                      rounding_step=5, write_off_limit=200)

OVERDUE = dt.date(2026, 4, 30)
RECENT = dt.date(2026, 6, 20)

# Expected small balances: action -> (subscriptions, owed subscriptions, owed cents,
# favour subscriptions, favour cents).
EXPECTED_BALANCES = {
    "rebill": (2, 1, 150, 1, -250),
    "reassign": (2, 2, 280, 0, 0),
    "offset": (1, 0, 0, 0, 0),
    "write_off": (3, 1, 3, 2, -210),
    "unresolved": (1, 1, 400, 0, 0),
}


def build_ledger(engine) -> None:
    """Store the customers, subscriptions, two snapshots and the runs of this ledger.

    Import batches and runs get explicit ids, which PostgreSQL's sequences do not see: a test
    that adds batches or runs afterwards must give explicit ids too.
    """
    with db.session_scope(engine) as session:
        session.execute(insert(ImportBatch), [
            _batch(1, "subscriptions", None),
            _batch(2, "open_items", dt.date(2026, 5, 31)),
            _batch(3, "open_items", AS_OF),
        ])
        session.execute(insert(Customer), [
            {"customer_id": f"C{number}", "name": f"Client {number}", "language": "fr"}
            for number in range(1, 6)
        ])
        ended = dt.date(2026, 3, 31)
        session.execute(insert(Subscription), [
            _subscription("S1", "C1"),
            _subscription("S2", "C1", end=ended),
            _subscription("S3", "C2", end=ended),
            _subscription("S4", "C3", end=ended),
            _subscription("S5", "C4"),
            _subscription("S6", "C4"),
            _subscription("S7", "C4"),
            _subscription("S8", "C4"),
            _subscription("S9", "C4"),
            _subscription("S10", "C4"),
            _subscription("S11", "C4"),
            # Starts after the as-of date, so it does not make C3's balance reassignable.
            _subscription("S12", "C3", start=dt.date(2026, 7, 1)),
        ])
        session.execute(insert(OpenItem), [
            _item(2, "D99", "C1", "S1", 100),
            _item(3, "D1", "C1", "S1", 150),
            _item(3, "D2", "C1", "S1", 20000, due=RECENT),
            _item(3, "D3", "C1", "S2", 300),
            _item(3, "D4", "C1", "S2", -100),
            _item(3, "D15", "C1", None, 80),
            _item(3, "D5", "C2", "S3", -120),
            _item(3, "D6", "C3", "S4", 400),
            _item(3, "D7", "C4", "S5", 3),
            _item(3, "D8", "C4", "S6", 1000),
            _item(3, "D9", "C4", "S6", -1000),
            _item(3, "D10", "C4", "S7", 700),
            _item(3, "D11", "C4", "S8", -250),
            _item(3, "D12", "C4", "S9", 100, block="dispute"),
            _item(3, "D13", "C4", "S10", 100, currency="EUR"),
            _item(3, "D14", "C4", "S11", 100),
            _item(3, "D16", "C5", None, -90),
            _item(3, "D17", "C4", "S11", 150),
        ])
        build_runs(session)


def build_runs(session) -> None:
    """Store run 1 (posted in April), 2 (reversed in May) and 3 (a draft of June by alice).

    Run 1 cleared D14, whose charge line of 1.00 is open with 1.00 on the transit account, and
    D17, which it wrote off.
    """
    session.execute(insert(Run), [
        _run(1, "posted", dt.date(2026, 4, 30), "alice", approved_by="bob", snapshot=2),
        _run(2, "reversed", dt.date(2026, 5, 31), "alice", approved_by="bob"),
        _run(3, "draft", AS_OF, "alice"),
    ])
    session.execute(insert(RunGroup), [
        _group(1, 1, "rebill", 100),
        _group(1, 2, "rebill", 200),
        _group(1, 3, "reassign", -50),
        _group(1, 4, "write_off", 3),
        _group(1, 5, "unresolved", 900),
        _group(1, 6, "rebill", 70, status="left"),
        _group(2, 1, "rebill", 400),
        _group(3, 1, "rebill", 150),
        _group(3, 2, "reassign", 280),
        _group(3, 3, "write_off", -210),
        _group(3, 4, "unresolved", 400),
        _group(3, 5, "offset", 0),
    ])
    session.execute(insert(ClearedItem), [
        {"document_no": "D14", "line_no": "", "run_id": 1, "open_cents": 100},
        {"document_no": "D17", "line_no": "", "run_id": 1, "open_cents": 200},
    ])
    session.execute(insert(JournalLine), [
        _journal(1, "1091", debit=100),
        _journal(1, "1100", credit=100),
    ])
    session.execute(insert(ChargeLine), [{
        "run_id": 1, "group_no": 1, "subscription_id": "S11", "customer_id": "C4",
        "charge_code": "SOLDE", "amount_cents": 100, "currency": "CHF", "vat_code": "0",
        "text": "Solde facture D14", "source_document": "D14", "source_date": OVERDUE,
        "state": "open", "created_at": dt.datetime(2026, 5, 2, 8, 0, tzinfo=dt.timezone.utc),
    }])


def add_policy_proposal(engine, *, proposed_by: str = "carol") -> int:
    """Store version 1 of policy `standard` as proposed and return its id."""
    with db.session_scope(engine) as session:
        return session.execute(insert(Policy).values(
            name="standard", version=1, status="proposed",
            params=PARAMS.replace(debit_threshold=800).to_json(),
            proposed_by=proposed_by, proposed_at=utcnow(),
        ).returning(Policy.id)).scalar_one()


def audit_actions(engine) -> list[tuple[str, str, int | None]]:
    """Return (action, actor, run id) of every audit event, oldest first."""
    with db.session_scope(engine) as session:
        rows = session.query(AuditEvent.action, AuditEvent.actor, AuditEvent.run_id).order_by(
            AuditEvent.id).all()
    return [tuple(row) for row in rows]


def _batch(batch_id: int, kind: str, as_of: dt.date | None) -> dict:
    return {"id": batch_id, "kind": kind, "file_name": f"{kind}-{batch_id}.csv",
            "file_sha256": f"{batch_id:064d}", "as_of": as_of, "row_count": 0,
            "rejected_count": 0, "imported_by": "importer", "imported_at": utcnow()}


def _subscription(subscription_id: str, customer_id: str, *, start: dt.date = dt.date(2020, 1, 1),
                  end: dt.date | None = None) -> dict:
    return {"subscription_id": subscription_id, "customer_id": customer_id, "service": "power",
            "start_date": start, "end_date": end, "next_billing_date": None, "batch_id": 1}


def _item(batch_id: int, document_no: str, customer_id: str, subscription_id: str | None,
          open_cents: int, *, due: dt.date = OVERDUE, block: str | None = None,
          currency: str = "CHF") -> dict:
    return {"batch_id": batch_id, "document_no": document_no, "line_no": "",
            "customer_id": customer_id, "subscription_id": subscription_id,
            "document_date": due - dt.timedelta(days=30), "due_date": due,
            "amount_cents": open_cents, "open_cents": open_cents, "currency": currency,
            "block": block}


def _run(run_id: int, state: str, as_of: dt.date, prepared_by: str, *,
         approved_by: str | None = None, snapshot: int = 3) -> dict:
    posted = state not in ("draft", "approved")
    return {"id": run_id, "state": state, "as_of": as_of, "policy_id": None,
            "policy_params": PARAMS.to_json(), "snapshot_batch_id": snapshot,
            "prepared_by": prepared_by, "prepared_at": utcnow(), "approved_by": approved_by,
            "approved_at": utcnow() if approved_by else None,
            "posted_at": utcnow() if posted else None}


def _group(run_id: int, group_no: int, action: str, total_cents: int, *,
           status: str = "included") -> dict:
    return {"run_id": run_id, "group_no": group_no, "customer_id": "C1",
            "subscription_id": f"S{group_no}", "currency": "CHF", "action": action,
            "target_subscription_id": None, "needs_review": False, "total_cents": total_cents,
            "status": status}


def _journal(run_id: int, account: str, *, debit: int = 0, credit: int = 0) -> dict:
    return {"run_id": run_id, "entry_no": 1, "kind": "post", "posting_date": OVERDUE,
            "account": account, "customer_id": "C4", "document_no": "D14",
            "matching_ref": "R1-G1", "debit_cents": debit, "credit_cents": credit,
            "currency": "CHF", "text": "D14"}
