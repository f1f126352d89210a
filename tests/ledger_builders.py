"""Small ledgers for run, posting, export, settlement and reconciliation tests.

They write snapshot rows straight into the tables and build decisions by hand, so that posting
is tested on exactly the groups a test states, independently of import and selection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import insert

from workbench import db, posting, runs
from workbench.models import Customer, ImportBatch, OpenItem, Subscription
from workbench.policy import PolicyParams

AS_OF = dt.date(2026, 11, 30)


@dataclass
class Item:
    """An open item of a test snapshot; amounts in centimes."""

    document_no: str
    customer_id: str
    open_cents: int
    subscription_id: str | None = None
    document_date: dt.date | None = dt.date(2026, 8, 31)
    due_date: dt.date = dt.date(2026, 9, 30)
    line_no: str = ""
    currency: str = "CHF"


@dataclass
class Group:
    """A decided group of a test run: its action, target and items."""

    action: str
    items: list[Item]
    target: str | None = None
    needs_review: bool = False

    @property
    def total(self) -> int:
        return sum(item.open_cents for item in self.items)


@dataclass
class Decision:
    """The shape of `selection.decide`'s result that `runs.freeze` reads."""

    as_of: dt.date
    params: PolicyParams
    snapshot_batch_id: int
    groups: pd.DataFrame
    items: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def one_of_each() -> list[Group]:
    """Return one group of every action, with the amounts of the basic case."""
    return [
        Group("rebill", [Item("F-1001", "C01", 50, "S01", dt.date(2026, 8, 31))], target="S01"),
        Group("rebill", [Item("N-2001", "C05", -120, "S07", dt.date(2026, 9, 15))],
              target="S07"),
        Group("offset", [Item("F-1005", "C06", 200, "S08"), Item("N-2002", "C06", -200, "S08")]),
        Group("write_off", [Item("F-1004", "C04", 3, "S06")]),
        Group("write_off", [Item("F-1012", "C12", 300, None)]),
        Group("reassign", [Item("F-1015", "C14", 3000, "S18", dt.date(2026, 9, 30)),
                           Item("N-2003", "C14", -2850, "S18", dt.date(2026, 9, 30))],
              target="S19"),
        Group("unresolved", [Item("F-1003", "C03", 230, "S05")]),
    ]


ONE_OF_EACH_LANGUAGES = {"C01": "fr", "C05": "de", "C06": "fr", "C04": "fr", "C12": "fr",
                        "C14": "it", "C03": "fr"}


def add_customers(engine, customers: dict[str, str]) -> None:
    """Insert customers with their languages, and one open-ended subscription each (S-<id>)."""
    with db.session_scope(engine) as session:
        batch = _batch(session, "subscriptions", None)
        session.execute(insert(Customer), [
            {"customer_id": customer, "name": f"Customer {customer}", "language": lang}
            for customer, lang in customers.items()
        ])
        session.execute(insert(Subscription), [
            {"subscription_id": f"S-{customer}", "customer_id": customer,
             "start_date": dt.date(2020, 1, 1), "end_date": None, "batch_id": batch}
            for customer in customers
        ])


def add_snapshot(engine, items: list[Item], as_of: dt.date = AS_OF) -> int:
    """Insert an open-items snapshot and return its batch id."""
    with db.session_scope(engine) as session:
        batch = _batch(session, "open_items", as_of)
        if items:
            session.execute(insert(OpenItem), [
                {"batch_id": batch, "document_no": item.document_no, "line_no": item.line_no,
                 "customer_id": item.customer_id, "subscription_id": item.subscription_id,
                 "document_date": item.document_date, "due_date": item.due_date,
                 "amount_cents": item.open_cents, "open_cents": item.open_cents,
                 "currency": item.currency, "block": None}
                for item in items
            ])
    return batch


def _batch(session, kind: str, as_of: dt.date | None) -> int:
    result = session.execute(insert(ImportBatch).values(
        kind=kind, file_name=f"{kind}.csv", file_sha256="0" * 64, as_of=as_of, row_count=0,
        rejected_count=0, imported_by="test", imported_at=dt.datetime.now(dt.timezone.utc),
    ))
    return result.inserted_primary_key[0]


def decision(groups: list[Group], batch_id: int, params: PolicyParams | None = None,
             as_of: dt.date = AS_OF) -> Decision:
    """Build a decision of numbered groups (1, 2, ...) in the order given."""
    group_rows, item_rows = [], []
    for number, group in enumerate(groups, start=1):
        first = group.items[0]
        group_rows.append({
            "group_no": number, "customer_id": first.customer_id,
            "subscription_id": first.subscription_id, "currency": first.currency,
            "action": group.action, "target_subscription_id": group.target,
            "needs_review": group.needs_review, "total_cents": group.total,
            "item_count": len(group.items),
        })
        for item in group.items:
            item_rows.append({
                "document_no": item.document_no, "line_no": item.line_no, "group_no": number,
                "customer_id": item.customer_id, "subscription_id": item.subscription_id,
                "currency": item.currency, "document_date": item.document_date,
                "due_date": item.due_date, "open_cents": item.open_cents,
            })
    return Decision(
        as_of=as_of,
        params=params or PolicyParams(),
        snapshot_batch_id=batch_id,
        groups=pd.DataFrame(group_rows, columns=["group_no", "customer_id", "subscription_id",
                                                 "currency", "action", "target_subscription_id",
                                                 "needs_review", "total_cents", "item_count"]),
        items=pd.DataFrame(item_rows, columns=["document_no", "line_no", "group_no",
                                               "customer_id", "subscription_id", "currency",
                                               "document_date", "due_date", "open_cents"]),
    )


def draft_run(engine, groups: list[Group], params: PolicyParams | None = None,
              prepared_by: str = "anna", batch_id: int | None = None) -> int:
    """Snapshot the groups' items (unless `batch_id` is given) and freeze them as a draft run."""
    if batch_id is None:
        batch_id = add_snapshot(engine, [item for group in groups for item in group.items])
    with db.session_scope(engine) as session:
        return runs.freeze(session, decision(groups, batch_id, params), prepared_by=prepared_by)


def approved_run(engine, groups: list[Group], params: PolicyParams | None = None,
                 batch_id: int | None = None) -> int:
    """Return the id of a run prepared by anna and approved by ben."""
    run_id = draft_run(engine, groups, params, batch_id=batch_id)
    with db.session_scope(engine) as session:
        runs.approve(session, run_id, approved_by="ben")
    return run_id


def posted_run(engine, groups: list[Group], params: PolicyParams | None = None,
               posting_date: dt.date = dt.date(2026, 12, 1),
               batch_id: int | None = None) -> int:
    """Return the id of an approved run posted by carla."""
    run_id = approved_run(engine, groups, params, batch_id=batch_id)
    with db.session_scope(engine) as session:
        posting.post(session, run_id, posted_by="carla", posting_date=posting_date)
    return run_id


def table(engine, sql: str, **params) -> list[tuple]:
    """Return all rows of a query."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params).all()]


def bean_check(journal_csv, work_dir):
    """Convert an exported journal file into a beancount ledger and run `bean-check` on it.

    Every GL account becomes `Assets:<account>` (bean-check only needs balanced transactions);
    each `entry_id` becomes one transaction. Returns the completed process.
    """
    import csv
    import subprocess
    import sys
    from decimal import Decimal
    from pathlib import Path

    with open(journal_csv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    accounts = sorted({row["account"] for row in rows})
    lines = ['option "operating_currency" "CHF"', ""]
    lines += [f"2000-01-01 open Assets:{account}" for account in accounts]
    entries: dict[str, list[dict]] = {}
    for row in rows:
        entries.setdefault(row["entry_id"], []).append(row)
    for entry_id, postings in entries.items():
        lines.append("")
        lines.append(f'{postings[0]["posting_date"]} * "entry {entry_id}" '
                     f'"{postings[0]["text"].replace(chr(34), chr(39))}"')
        for posting in postings:
            amount = Decimal(posting["debit"]) - Decimal(posting["credit"])
            lines.append(f'  Assets:{posting["account"]}  {amount} {posting["currency"]}')
    ledger = Path(work_dir) / "journal.beancount"
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bean_check_binary = Path(sys.executable).parent / "bean-check"
    return subprocess.run([str(bean_check_binary), str(ledger)], capture_output=True, text=True)
