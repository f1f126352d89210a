"""The selection rules in SQL: the snapshot, the eligible items, the valid subscriptions.

Selection (`selection.decide`) and the threshold curve (`curve.build_curve`) both build their
queries from these expressions, so that the two always apply the same rules.

A selection reads every item of a snapshot, so it scans the snapshot's rows instead of going
through the batch index. Through the index, each row costs a random page read: netting
2,000,000 items that way took 2.5 times as long on SQLite. The rows of one import are contiguous
in id, so `snapshot_rules` records the snapshot's id range and `in_snapshot` scans that range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.functions import FunctionElement

from .errors import InvalidInput, WorkbenchError
from .i18n import _
from .importing import latest_snapshot_id
from .models import ClearedItem, ImportBatch, OpenItem, Subscription
from .policy import PolicyParams

OPEN_ITEMS = OpenItem.__table__
CLEARED_ITEMS = ClearedItem.__table__
SUBSCRIPTIONS = Subscription.__table__

__all__ = ["latest_snapshot_id"]  # re-exported: the open-items snapshot that counts now

# Reason codes of the items left out, in the order in which they are tested.
REASONS = ("in_transit", "currency", "blocked", "not_overdue", "above_threshold")


@dataclass(frozen=True)
class Rules:
    """The snapshot, run date and policy that a selection is evaluated against.

    `item_ids` is the (first, last) id of the snapshot's open items; when given, queries scan
    that id range (see `in_snapshot`). `snapshot_rules` fills it in.
    """

    snapshot_id: int
    as_of: dt.date
    params: PolicyParams
    item_ids: tuple[int, int] | None = None

    @property
    def due_cutoff(self) -> dt.date:
        """Return the latest due date that counts as overdue: `as_of - min_days_overdue`."""
        return self.as_of - dt.timedelta(days=self.params.min_days_overdue)


def snapshot_rules(
    session: Session, as_of: dt.date, params: PolicyParams, snapshot_id: int | None = None
) -> Rules:
    """Return the rules for a snapshot (default: the latest), with its range of item ids."""
    snapshot_id = resolve_snapshot(session, snapshot_id)
    first, last = session.execute(
        select(func.min(OPEN_ITEMS.c.id), func.max(OPEN_ITEMS.c.id))
        .where(OPEN_ITEMS.c.batch_id == snapshot_id)
    ).one()
    item_ids = None if first is None else (int(first), int(last))
    return Rules(snapshot_id=snapshot_id, as_of=as_of, params=params, item_ids=item_ids)


def resolve_snapshot(session: Session, snapshot_id: int | None) -> int:
    """Return the given snapshot's id after checking it, or the latest snapshot's id.

    Raises `InvalidInput` for an id that is not an open-items batch, and `WorkbenchError` when
    no open-items snapshot has been imported yet.
    """
    if snapshot_id is None:
        latest = latest_snapshot_id(session)
        if latest is None:
            raise WorkbenchError(
                _("No open-items snapshot has been imported yet: run "
                  "`workbench import open-items FILE --as-of DATE` first.")
            )
        return int(latest)

    kind = session.execute(
        select(ImportBatch.kind).where(ImportBatch.id == snapshot_id)
    ).scalar()
    if kind != "open_items":
        raise InvalidInput(
            _("Import batch {batch} is not an open-items snapshot.").format(batch=snapshot_id)
        )
    return int(snapshot_id)


class unindexed(FunctionElement):
    """A column the SQLite planner cannot look up through an index: SQLite reads `+column` as
    an expression. Other databases get the plain column and plan it themselves."""

    type = Integer()
    inherit_cache = True


@compiles(unindexed)
def _compile_unindexed(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _compile_unindexed_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.clauses, **kw)


def in_snapshot(items: FromClause, rules: Rules) -> ColumnElement[bool]:
    """Return the condition "the item belongs to the rules' snapshot", planned as a range scan."""
    if rules.item_ids is None:
        return items.c.batch_id == rules.snapshot_id
    first, last = rules.item_ids
    return and_(items.c.id.between(first, last),
                unindexed(items.c.batch_id) == rules.snapshot_id)


def not_blocked(items: FromClause) -> ColumnElement[bool]:
    # An importer may store a missing block as NULL or as an empty text.
    return func.coalesce(items.c.block, "") == ""


def in_transit(items: FromClause) -> ColumnElement[bool]:
    """Return the condition "cleared by a posted, unreversed run" for the items of `items`."""
    return exists().where(
        CLEARED_ITEMS.c.document_no == items.c.document_no,
        CLEARED_ITEMS.c.line_no == items.c.line_no,
    )


def eligible(items: FromClause, rules: Rules) -> ColumnElement[bool]:
    """Return the eligibility condition of an open item of the rules' snapshot."""
    return and_(
        in_snapshot(items, rules),
        ~in_transit(items),
        items.c.currency == rules.params.currency,
        not_blocked(items),
        items.c.due_date <= rules.due_cutoff,
    )


def reason_code(items: FromClause, cleared: FromClause, rules: Rules) -> ColumnElement[str]:
    """Return the first reason that makes an item ineligible, or NULL for an eligible item.

    `cleared` is `cleared_items` outer-joined to `items` on the document and line number; a
    join lets PostgreSQL hash it instead of probing once per item.
    """
    return case(
        (cleared.c.run_id.is_not(None), literal("in_transit")),
        (items.c.currency != rules.params.currency, literal("currency")),
        (~not_blocked(items), literal("blocked")),
        (items.c.due_date > rules.due_cutoff, literal("not_overdue")),
        else_=literal(None, String),
    )


def with_cleared(items: FromClause) -> tuple[FromClause, FromClause]:
    """Return `items` left-joined to `cleared_items`, and the alias of `cleared_items` used."""
    cleared = CLEARED_ITEMS.alias("cleared")
    joined = items.outerjoin(
        cleared,
        and_(cleared.c.document_no == items.c.document_no, cleared.c.line_no == items.c.line_no),
    )
    return joined, cleared


def valid_on(subscriptions: FromClause, as_of: dt.date) -> ColumnElement[bool]:
    """Return the condition "started on or before `as_of` and not ended by then"."""
    return and_(
        subscriptions.c.start_date <= as_of,
        or_(subscriptions.c.end_date.is_(None), subscriptions.c.end_date > as_of),
    )


def within_thresholds(total: ColumnElement, params: PolicyParams) -> ColumnElement[bool]:
    """Return the selection condition of a net total: zero, or within its direction's threshold.

    `-credit <= total <= debit` expresses exactly that, and a threshold of 0 turns its
    direction off.
    """
    return total.between(-params.credit_threshold, params.debit_threshold)


def group_totals(rules: Rules, *, selected_only: bool) -> Select:
    """Return the query of eligible items netted per (customer, subscription, currency).

    Columns: customer_id, subscription_id, currency, total_cents, item_count. With
    `selected_only`, only the groups whose net total is within the thresholds.
    """
    items = OPEN_ITEMS.alias("grouped_item")
    total = func.sum(items.c.open_cents)
    groups = (
        select(
            items.c.customer_id,
            items.c.subscription_id,
            items.c.currency,
            total.label("total_cents"),
            func.count().label("item_count"),
        )
        .where(eligible(items, rules))
        .group_by(items.c.customer_id, items.c.subscription_id, items.c.currency)
    )
    if selected_only:
        groups = groups.having(within_thresholds(total, rules.params))
    return groups


def selected_items(rules: Rules) -> Select:
    """Return the query of the eligible items whose group is selected.

    Columns: item_id, document_no, line_no, customer_id, subscription_id, currency,
    document_date, due_date, open_cents, group_total_cents, own_valid, any_valid, ordered by
    group (items without a subscription first) then document and line. The group total is a
    window sum over the eligible items, so the snapshot is read once. Netting in a GROUP BY
    and joining the items back took more than twice as long, on both databases, with
    2,000,000 items.
    """
    items = OPEN_ITEMS.alias("item")
    group_total = func.sum(items.c.open_cents).over(
        partition_by=[items.c.customer_id, items.c.subscription_id, items.c.currency]
    )
    netted = (
        select(
            items.c.id.label("item_id"),
            *(items.c[name] for name in ("document_no", "line_no", "customer_id",
                                         "subscription_id", "currency", "document_date",
                                         "due_date", "open_cents")),
            group_total.label("group_total_cents"),
        )
        .where(eligible(items, rules))
        .subquery("netted_item")
    )
    return (
        select(
            netted,
            own_valid(netted, rules.as_of).label("own_valid"),
            any_valid(netted, rules.as_of).label("any_valid"),
        )
        .where(within_thresholds(netted.c.group_total_cents, rules.params))
        .order_by(netted.c.customer_id, netted.c.subscription_id.nulls_first(),
                  netted.c.currency, netted.c.document_no, netted.c.line_no)
    )


def own_valid(groups: FromClause, as_of: dt.date) -> ColumnElement[bool]:
    """Return the condition "the group's own subscription is valid on `as_of`".

    A subscription of another customer does not count as the group's own, because
    re-billing and reassignment never cross customers.
    """
    own = SUBSCRIPTIONS.alias("own")
    return exists().where(
        own.c.subscription_id == groups.c.subscription_id,
        own.c.customer_id == groups.c.customer_id,
        valid_on(own, as_of),
    )


def any_valid(groups: FromClause, as_of: dt.date) -> ColumnElement[bool]:
    """Return the condition "the group's customer has a subscription valid on `as_of`".

    Subscriptions carry no currency, so any valid subscription of the customer is a candidate.
    """
    other = SUBSCRIPTIONS.alias("other")
    return exists().where(other.c.customer_id == groups.c.customer_id, valid_on(other, as_of))
