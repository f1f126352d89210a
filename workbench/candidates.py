"""Reassignment: a customer's valid subscriptions, the controllers' saved choices, the target rule.

When a group's own subscription is missing or not valid, its balance moves to another valid
subscription of the same customer. The target is the controller's saved choice while it is
still valid, else the only candidate, else the most recently started one (then the highest id,
compared as text), flagged for review because there were several.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable, Sequence

import pandas as pd
from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.orm import Session

from . import audit
from .eligibility import SUBSCRIPTIONS, valid_on
from .errors import InvalidInput, Problem
from .i18n import _
from .models import Customer, ReassignmentChoice
from .models.base import utcnow

log = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ["subscription_id", "service", "start_date", "end_date", "next_billing_date"]
CHOICES = ReassignmentChoice.__table__

# Bound parameters per IN list: below SQLite's 32,766 and PostgreSQL's 65,535.
CHUNK_SIZE = 10_000


def list_candidates(
    session: Session, customer_id: str, as_of: dt.date, currency: str = "CHF"
) -> pd.DataFrame:
    """Return the subscriptions of a customer valid on `as_of`, the rule's default first.

    Columns: subscription_id, service, start_date, end_date, next_billing_date, rank (1 is the
    target the rule picks without a saved choice). `currency` is accepted for the callers'
    sake but filters nothing, because subscriptions carry no currency.
    """
    del currency
    known = session.execute(
        select(Customer.customer_id).where(Customer.customer_id == customer_id)
    ).scalar()
    if known is None:
        raise InvalidInput(_("Customer {customer} not found.").format(customer=customer_id))
    frame = valid_subscriptions(session, [customer_id], as_of)
    frame = frame.drop(columns="customer_id").reset_index(drop=True)
    frame["rank"] = range(1, len(frame) + 1)
    return frame


def valid_subscriptions(
    session: Session, customer_ids: Iterable[str], as_of: dt.date
) -> pd.DataFrame:
    """Return the subscriptions valid on `as_of` of the given customers, in the rule's order.

    The order is customer, then most recently started, then highest subscription id.
    """
    subs = SUBSCRIPTIONS
    columns = [subs.c.customer_id, *(subs.c[name] for name in CANDIDATE_COLUMNS)]
    frames = []
    for chunk in _chunks(sorted(set(customer_ids))):
        rows = session.execute(
            select(*columns).where(subs.c.customer_id.in_(chunk), valid_on(subs, as_of))
        ).all()
        frames.append(pd.DataFrame(rows, columns=["customer_id", *CANDIDATE_COLUMNS], dtype=object))
    if not frames:
        return pd.DataFrame(columns=["customer_id", *CANDIDATE_COLUMNS], dtype=object)
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(
        ["customer_id", "start_date", "subscription_id"], ascending=[True, False, False]
    ).reset_index(drop=True)


def saved_choices(session: Session, customer_ids: Iterable[str]) -> pd.DataFrame:
    """Return the saved choices of the given customers: customer_id, source_subscription_id
    (empty text for items without a subscription), target_subscription_id, chosen_by, chosen_at."""
    columns = ["customer_id", "source_subscription_id", "target_subscription_id", "chosen_by",
               "chosen_at"]
    frames = []
    for chunk in _chunks(sorted(set(customer_ids))):
        rows = session.execute(
            select(*(CHOICES.c[name] for name in columns)).where(CHOICES.c.customer_id.in_(chunk))
        ).all()
        frames.append(pd.DataFrame(rows, columns=columns, dtype=object))
    if not frames:
        return pd.DataFrame(columns=columns, dtype=object)
    return pd.concat(frames, ignore_index=True).sort_values(
        ["customer_id", "source_subscription_id"]
    ).reset_index(drop=True)


def choose_targets(
    session: Session, groups: pd.DataFrame, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick the target subscription of each group to reassign.

    `groups` has customer_id and subscription_id (None when the items carry none), and every
    customer in it has at least one valid subscription. Returns a frame on the same index with
    target_subscription_id and needs_review, and a frame of the saved choices that were
    ignored because their target is no longer valid (customer_id, source_subscription_id,
    target_subscription_id).
    """
    keys = pd.DataFrame({
        "customer_id": groups["customer_id"].to_numpy(dtype=object),
        "source_subscription_id": groups["subscription_id"].fillna("").to_numpy(dtype=object),
    })
    candidates = valid_subscriptions(session, keys["customer_id"], as_of)

    # The rule without a saved choice: the first candidate in the rule's order.
    defaults = candidates.drop_duplicates("customer_id").set_index("customer_id")["subscription_id"]
    counts = candidates["customer_id"].value_counts()
    default_target = keys["customer_id"].map(defaults)
    several = keys["customer_id"].map(counts).fillna(0).to_numpy() > 1

    # A saved choice wins while its target is still a valid subscription of the customer.
    choices = saved_choices(session, keys["customer_id"])[
        ["customer_id", "source_subscription_id", "target_subscription_id"]
    ]
    chosen = keys.merge(choices, on=["customer_id", "source_subscription_id"], how="left")
    valid_pairs = set(zip(candidates["customer_id"], candidates["subscription_id"]))
    has_choice = chosen["target_subscription_id"].notna().to_numpy()
    choice_valid = has_choice & pd.Series(
        list(zip(chosen["customer_id"], chosen["target_subscription_id"]))
    ).isin(valid_pairs).to_numpy()

    result = pd.DataFrame(index=groups.index)
    target = default_target.where(~choice_valid, chosen["target_subscription_id"])
    result["target_subscription_id"] = pd.Series(
        target.to_numpy(dtype=object), index=groups.index, dtype=object
    )
    result["needs_review"] = several & ~choice_valid
    ignored = chosen.loc[has_choice & ~choice_valid].reset_index(drop=True)
    return result, ignored


def save_choices(
    session: Session,
    choices: Sequence[tuple[str, str | None, str]],
    actor: str,
    *,
    as_of: dt.date | None = None,
) -> int:
    """Store controllers' reassignment targets, replacing earlier choices for the same source.

    Each choice is (customer_id, source_subscription_id or None, target_subscription_id). The
    target must be a subscription of that customer valid on `as_of` (default: today), and a
    known source must belong to the customer. Raises `InvalidInput` listing every bad choice,
    and then stores none. Returns the number of choices stored.
    """
    as_of = as_of or dt.date.today()
    frame = pd.DataFrame(
        [(str(c).strip(), (s or "").strip(), str(t).strip()) for c, s, t in choices],
        columns=["customer_id", "source_subscription_id", "target_subscription_id"],
        dtype=object,
    )
    _check_choices(session, frame, as_of)
    if frame.empty:
        return 0

    keys = list(zip(frame["customer_id"], frame["source_subscription_id"]))
    for chunk in _chunks(keys):
        session.execute(
            delete(ReassignmentChoice).where(
                tuple_(ReassignmentChoice.customer_id,
                       ReassignmentChoice.source_subscription_id).in_(chunk)
            )
        )
    now = utcnow()
    rows = [dict(record, chosen_by=actor, chosen_at=now) for record in frame.to_dict("records")]
    session.execute(insert(ReassignmentChoice), rows)
    audit.record(session, actor, "reassign_choose", as_of=as_of.isoformat(),
                 choices=frame.to_dict("records"))
    log.info("%d reassignment choices saved by %s", len(frame), actor)
    return len(frame)


def _check_choices(session: Session, frame: pd.DataFrame, as_of: dt.date) -> None:
    source = _("reassignment choice")
    problems: list[Problem] = []
    subscriptions = _subscription_owners(
        session, [*frame["target_subscription_id"], *frame["source_subscription_id"]], as_of
    )

    duplicated = frame.duplicated(["customer_id", "source_subscription_id"], keep=False)
    for row, record in enumerate(frame.to_dict("records"), start=1):
        customer, source_id, target = (record["customer_id"], record["source_subscription_id"],
                                       record["target_subscription_id"])
        owner, target_valid = subscriptions.get(target, (None, False))
        if not customer:
            problems.append(Problem(source, row, "customer_id", customer, _("is missing")))
        if duplicated.iloc[row - 1]:
            problems.append(Problem(source, row, "source_subscription_id", source_id,
                                    _("is given twice for the same customer")))
        if owner is None:
            problems.append(Problem(source, row, "target_subscription_id", target,
                                    _("subscription not found")))
        elif owner != customer:
            problems.append(Problem(
                source, row, "target_subscription_id", target,
                _("belongs to customer {owner}, not {customer}").format(owner=owner,
                                                                         customer=customer)))
        elif not target_valid:
            problems.append(Problem(
                source, row, "target_subscription_id", target,
                _("is not valid on {date}: it has not started or has ended").format(
                    date=as_of.isoformat())))
        elif target == source_id:
            problems.append(Problem(source, row, "target_subscription_id", target,
                                    _("is the source subscription itself")))
        source_owner, _valid = subscriptions.get(source_id, (None, False))
        if source_owner is not None and source_owner != customer:
            problems.append(Problem(
                source, row, "source_subscription_id", source_id,
                _("belongs to customer {owner}, not {customer}").format(owner=source_owner,
                                                                         customer=customer)))
    if problems:
        raise InvalidInput(_("Invalid reassignment choice; nothing was saved."), problems)


def _subscription_owners(
    session: Session, subscription_ids: Iterable[str], as_of: dt.date
) -> dict[str, tuple[str, bool]]:
    # subscription id -> (its customer, whether it is valid on as_of)
    subs = SUBSCRIPTIONS
    owners: dict[str, tuple[str, bool]] = {}
    ids = sorted({value for value in subscription_ids if value})
    for chunk in _chunks(ids):
        rows = session.execute(
            select(subs.c.subscription_id, subs.c.customer_id, valid_on(subs, as_of))
            .where(subs.c.subscription_id.in_(chunk))
        ).all()
        owners.update({sub: (customer, bool(valid)) for sub, customer, valid in rows})
    return owners


def _chunks(values: Sequence) -> Iterable[list]:
    values = list(values)
    for start in range(0, len(values), CHUNK_SIZE):
        yield values[start:start + CHUNK_SIZE]
