"""Selection and decisions: eligible items, netted groups, reason codes and the five actions.

`decide` evaluates a policy on the latest open-items snapshot in a few set-based queries (the
heavy netting runs in SQL) and vectorised pandas steps on the selected groups:

1. eligible items are netted per (customer, subscription, currency) and the groups whose net
   total is within the thresholds are selected, with their items;
2. each selected group gets the first action that applies (`classify`): offset, write_off
   (below the rounding step), rebill, reassign, write_off (no valid subscription, within the
   write-off limit), unresolved;
3. reassigned groups get their target subscription (`candidates.choose_targets`);
4. every other item of the snapshot gets its reason code (`eligibility.REASONS`).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from . import candidates
from .amounts import to_decimal_string
from .eligibility import (
    CLEARED_ITEMS,
    OPEN_ITEMS,
    REASONS,
    Rules,
    in_snapshot,
    reason_code,
    selected_items,
    snapshot_rules,
    with_cleared,
)
from .errors import WorkbenchError
from .i18n import N_, _
from .models import Policy
from .money_frames import to_decimal_strings
from .policy import PolicyParams, check_params, params_as_text

log = logging.getLogger(__name__)

ACTIONS = ("offset", "write_off", "rebill", "reassign", "unresolved")

# Labels of the actions and reason codes for people; translate them with `_` when displaying.
ACTION_LABELS = {
    "offset": N_("offset"),
    "write_off": N_("write-off"),
    "rebill": N_("re-bill"),
    "reassign": N_("reassign"),
    "unresolved": N_("unresolved"),
}
REASON_LABELS = {
    "in_transit": N_("in a posted run"),
    "currency": N_("other currency"),
    "blocked": N_("blocked"),
    "not_overdue": N_("not overdue long enough"),
    "above_threshold": N_("above the threshold"),
}

GROUP_COLUMNS = ["group_no", "customer_id", "subscription_id", "currency", "action",
                 "target_subscription_id", "needs_review", "total_cents", "item_count",
                 "write_off_account"]
ITEM_COLUMNS = ["document_no", "line_no", "group_no", "customer_id", "subscription_id",
                "currency", "document_date", "due_date", "open_cents"]
EXCLUDED_COLUMNS = ["document_no", "line_no", "customer_id", "subscription_id", "currency",
                    "due_date", "open_cents", "reason"]
REASON_COLUMNS = ["reason", "item_count", "total_cents"]

# Rows fetched per round trip when listing a whole snapshot, to bound the memory of a fetch.
FETCH_ROWS = 200_000


@dataclass(frozen=True)
class DecisionWarning:
    """Something the controller must look at: an item already cleared by a posted run, or a
    saved reassignment choice that no longer applies.

    `code` is one of:
    - `in_transit`: cleared by posted run `run_id` and still open in the ERP extract;
    - `conflict`: the same, but the open amount changed from `cleared_cents` to `open_cents`;
    - `choice_not_valid`: the saved target `target_subscription_id` is no longer a valid
      subscription of the customer, so the rule picked another.
    """

    code: str
    customer_id: str
    subscription_id: str | None = None
    document_no: str | None = None
    line_no: str | None = None
    run_id: int | None = None
    cleared_cents: int | None = None
    open_cents: int | None = None
    target_subscription_id: str | None = None

    def message(self) -> str:
        """Return the warning as a sentence in the current language."""
        document = self.document_no if not self.line_no else f"{self.document_no}/{self.line_no}"
        if self.code == "in_transit":
            return _("Item {document} of customer {customer} was cleared by posted run {run} "
                     "but is still open in the ERP extract; it is left out.").format(
                document=document, customer=self.customer_id, run=self.run_id)
        if self.code == "conflict":
            return _("Conflict: item {document} of customer {customer} was cleared by posted run "
                     "{run} for {cleared}, but the ERP extract now shows it open for {open}; "
                     "check it by hand.").format(
                document=document, customer=self.customer_id, run=self.run_id,
                cleared=to_decimal_string(self.cleared_cents),
                open=to_decimal_string(self.open_cents))
        return _("Saved reassignment target {target} of customer {customer} (source {source}) is "
                 "no longer a valid subscription; the rule chose another target.").format(
            target=self.target_subscription_id, customer=self.customer_id,
            source=self.subscription_id or "-")

    def __str__(self) -> str:
        return self.message()


@dataclass(frozen=True)
class Decision:
    """What a policy selects and decides on one snapshot.

    Amounts are int64 centimes; text columns are object dtype with None for a missing value;
    dates are `datetime.date` objects. `groups` and `items` are sorted by group_no, which
    numbers the groups by (customer, subscription, currency). `excluded` lists every other
    item of the snapshot with its reason. When `decide` was asked not to list them,
    `excluded_listed` is False and `excluded` is empty. `reasons` always has the count and
    total of each reason code.
    """

    as_of: dt.date
    params: PolicyParams
    snapshot_batch_id: int | None
    groups: pd.DataFrame
    items: pd.DataFrame
    excluded: pd.DataFrame
    warnings: list[DecisionWarning]
    reasons: pd.DataFrame = field(default_factory=lambda: _empty(REASON_COLUMNS))
    excluded_listed: bool = True


def decide(
    session: Session,
    as_of: dt.date,
    params: PolicyParams,
    *,
    snapshot_id: int | None = None,
    list_excluded: bool = True,
) -> Decision:
    """Select the small balances of a snapshot (default: the latest) and decide each group.

    With `list_excluded=False` the excluded items are only counted per reason, which saves
    fetching the whole snapshot (a run needs only the selected groups).
    """
    check_params(params)
    rules = snapshot_rules(session, as_of, params, snapshot_id)
    log.info("decide: snapshot %d as of %s, due on or before %s", rules.snapshot_id, as_of,
             rules.due_cutoff)

    items = _read_frame(session, selected_items(rules))
    groups, items = _number_groups(items)
    groups["action"] = classify(groups["total_cents"].to_numpy(), groups["own_valid"].to_numpy(),
                                groups["any_valid"].to_numpy(), params)
    groups, choice_warnings = _assign_targets(session, groups, as_of)
    groups["write_off_account"] = _write_off_accounts(groups, params)

    warnings = [*_in_transit_warnings(session, rules), *choice_warnings]
    if list_excluded:
        excluded = _excluded_items(session, rules, items["item_id"].to_numpy())
        reasons = _count_reasons(excluded)
    else:
        excluded = _with_numbers(_empty(EXCLUDED_COLUMNS))
        reasons = _reason_totals(session, rules, items)

    decision = Decision(
        as_of=as_of,
        params=params,
        snapshot_batch_id=rules.snapshot_id,
        groups=groups[GROUP_COLUMNS].reset_index(drop=True),
        items=items[ITEM_COLUMNS].reset_index(drop=True),
        excluded=excluded,
        warnings=warnings,
        reasons=reasons,
        excluded_listed=list_excluded,
    )
    log.info("decide: %d groups, %d items selected, %d warnings", len(decision.groups),
             len(decision.items), len(warnings))
    return decision


def classify(
    total_cents: np.ndarray, own_valid: np.ndarray, any_valid: np.ndarray, params: PolicyParams
) -> np.ndarray:
    """Return the action of each selected group: the first of the decision rules that applies.

    `own_valid`: the group's subscription is valid on the run date; `any_valid`: its customer
    has a valid subscription. A write-off limit of 0 never writes off for lack of a
    subscription, because a non-zero total is never within it.
    """
    total = np.asarray(total_cents, dtype="int64")
    magnitude = np.abs(total)
    own = np.asarray(own_valid, dtype=bool)
    other = np.asarray(any_valid, dtype=bool)
    conditions = [
        total == 0,
        magnitude < params.rounding_step,
        own,
        other,
        magnitude <= params.write_off_limit,
    ]
    choices = ["offset", "write_off", "rebill", "reassign", "write_off"]
    return np.select(conditions, choices, default="unresolved").astype(object)


# Queries ---------------------------------------------------------------------------------------

def _excluded_items(session: Session, rules: Rules, selected_ids: np.ndarray) -> pd.DataFrame:
    # Every item of the snapshot outside the selected groups. SQL gives the first reason that
    # makes an item ineligible; an eligible item left over sits in a group beyond the thresholds.
    item = OPEN_ITEMS.alias("item")
    joined, cleared = with_cleared(item)
    query = (
        select(
            item.c.id.label("item_id"),
            *(item.c[name] for name in EXCLUDED_COLUMNS if name != "reason"),
            reason_code(item, cleared, rules).label("reason"),
        )
        .select_from(joined)
        .where(in_snapshot(item, rules))
        .order_by(item.c.id)
    )

    def leave_out_selected(part: pd.DataFrame) -> pd.DataFrame:
        part = part.loc[~np.isin(part["item_id"].to_numpy(), selected_ids), EXCLUDED_COLUMNS]
        part["reason"] = part["reason"].where(part["reason"].notna(), "above_threshold")
        # One text object per distinct value instead of one per row: 2,000,000 items repeat
        # a handful of currencies and reasons.
        for name in ("line_no", "currency", "reason"):
            part[name] = part[name].astype("category").astype(object)
        return part

    return _read_frame(session, query, each_part=leave_out_selected)


def _reason_totals(session: Session, rules: Rules, selected_items: pd.DataFrame) -> pd.DataFrame:
    # Count and total per reason in SQL; the eligible items (reason NULL) that were not selected
    # are the ones above the threshold.
    item = OPEN_ITEMS.alias("item")
    joined, cleared = with_cleared(item)
    reasons = (
        select(reason_code(item, cleared, rules).label("reason"), item.c.open_cents)
        .select_from(joined)
        .where(in_snapshot(item, rules))
        .subquery("item_reason")
    )
    rows = session.execute(
        select(reasons.c.reason, func.count(), func.coalesce(func.sum(reasons.c.open_cents), 0))
        .group_by(reasons.c.reason)
    ).all()
    counts = {reason: (int(count), int(total)) for reason, count, total in rows}
    eligible_count, eligible_total = counts.pop(None, (0, 0))
    counts["above_threshold"] = (
        eligible_count - len(selected_items),
        eligible_total - int(selected_items["open_cents"].sum()),
    )
    return pd.DataFrame(
        [(reason, *counts.get(reason, (0, 0))) for reason in REASONS], columns=REASON_COLUMNS
    ).astype({"item_count": "int64", "total_cents": "int64"})


def _count_reasons(excluded: pd.DataFrame) -> pd.DataFrame:
    totals = excluded.groupby("reason")["open_cents"].agg(["size", "sum"])
    totals = totals.reindex(list(REASONS), fill_value=0)
    return pd.DataFrame({
        "reason": list(REASONS),
        "item_count": totals["size"].to_numpy(dtype="int64"),
        "total_cents": totals["sum"].to_numpy(dtype="int64"),
    })


def _in_transit_warnings(session: Session, rules: Rules) -> list[DecisionWarning]:
    # Items of posted, unreversed runs that this snapshot still shows open: the ERP has not
    # imported the journal yet, or (amount changed) a late payment arrived on the old invoice.
    item = OPEN_ITEMS.alias("item")
    rows = session.execute(
        select(item.c.customer_id, item.c.subscription_id, item.c.document_no, item.c.line_no,
               CLEARED_ITEMS.c.run_id, CLEARED_ITEMS.c.open_cents, item.c.open_cents)
        .select_from(CLEARED_ITEMS.join(item, and_(
            item.c.batch_id == rules.snapshot_id,
            item.c.document_no == CLEARED_ITEMS.c.document_no,
            item.c.line_no == CLEARED_ITEMS.c.line_no,
        )))
        .order_by(item.c.document_no, item.c.line_no)
    ).all()
    return [
        DecisionWarning(
            code="in_transit" if cleared_cents == open_cents else "conflict",
            customer_id=customer, subscription_id=subscription, document_no=document,
            line_no=line, run_id=int(run_id), cleared_cents=int(cleared_cents),
            open_cents=int(open_cents),
        )
        for customer, subscription, document, line, run_id, cleared_cents, open_cents in rows
    ]


# Frames ----------------------------------------------------------------------------------------

def _number_groups(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Number the groups in the order of the query: (customer, subscription, currency), items
    # without a subscription first among their customer's groups.
    keys = ["customer_id", "subscription_id", "currency"]
    if items.empty:
        items = items.assign(group_no=pd.Series(dtype="int64"))
        groups = _empty(["group_no", *keys, "total_cents", "own_valid", "any_valid", "item_count"])
        return groups.astype({"group_no": "int64", "total_cents": "int64", "item_count": "int64",
                              "own_valid": bool, "any_valid": bool}), items

    # The query returns the items in group order, so a group starts where a key changes.
    starts_group = np.zeros(len(items), dtype=bool)
    starts_group[0] = True
    for name in keys:
        values = items[name].to_numpy(dtype=object)
        starts_group[1:] |= values[1:] != values[:-1]
    items["group_no"] = np.cumsum(starts_group).astype("int64")

    starts = np.flatnonzero(starts_group)
    groups = items.iloc[starts][["group_no", *keys, "group_total_cents", "own_valid",
                                 "any_valid"]].rename(columns={"group_total_cents": "total_cents"})
    groups = groups.reset_index(drop=True)
    groups["item_count"] = np.diff(np.append(starts, len(items))).astype("int64")
    groups["own_valid"] = groups["own_valid"].astype(bool)
    groups["any_valid"] = groups["any_valid"].astype(bool)

    # The window sum ran in SQL; the items fetched must add up to it, or the run would not
    # balance.
    sums = np.add.reduceat(items["open_cents"].to_numpy(dtype="int64"), starts)
    if not np.array_equal(sums, groups["total_cents"].to_numpy(dtype="int64")):
        raise WorkbenchError(_("The selected items do not add up to their group totals; the "
                               "snapshot changed during selection. Run the selection again."))
    return groups, items


def _assign_targets(
    session: Session, groups: pd.DataFrame, as_of: dt.date
) -> tuple[pd.DataFrame, list[DecisionWarning]]:
    groups = groups.copy()
    rebill = (groups["action"] == "rebill").to_numpy()
    reassign = (groups["action"] == "reassign").to_numpy()
    groups["target_subscription_id"] = pd.Series(
        np.where(rebill, groups["subscription_id"].to_numpy(dtype=object), None),
        index=groups.index, dtype=object,
    )
    groups["needs_review"] = False
    if not reassign.any():
        return groups, []

    targets, ignored = candidates.choose_targets(session, groups.loc[reassign], as_of)
    groups.loc[reassign, "target_subscription_id"] = targets["target_subscription_id"]
    groups.loc[reassign, "needs_review"] = targets["needs_review"]
    groups["needs_review"] = groups["needs_review"].astype(bool)
    warnings = [
        DecisionWarning(code="choice_not_valid", customer_id=row.customer_id,
                        subscription_id=row.source_subscription_id or None,
                        target_subscription_id=row.target_subscription_id)
        for row in ignored.itertuples(index=False)
    ]
    return groups, warnings


def _write_off_accounts(groups: pd.DataFrame, params: PolicyParams) -> pd.Series:
    # Below the rounding step to the rounding account, for lack of a subscription to the loss
    # account.
    write_off = (groups["action"] == "write_off").to_numpy()
    rounding = np.abs(groups["total_cents"].to_numpy(dtype="int64")) < params.rounding_step
    accounts = np.where(rounding, params.rounding_account, params.loss_account).astype(object)
    return pd.Series(np.where(write_off, accounts, None), index=groups.index, dtype=object)


def _read_frame(
    session: Session,
    query: Select,
    each_part: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Run a query and return its rows as a frame: int64 numbers, object text with None.

    Rows are fetched FETCH_ROWS at a time (a server-side cursor on PostgreSQL) and
    `each_part`, when given, filters or shrinks each slice before the slices are joined.
    """
    result = session.execute(query.execution_options(yield_per=FETCH_ROWS))
    columns = list(result.keys())
    parts = []
    # Plain tuples: pandas reads them several times faster than Row objects.
    with _cyclic_gc_paused():
        for rows in result.partitions():
            part = _with_numbers(pd.DataFrame(list(map(tuple, rows)), columns=columns,
                                              dtype=object))
            parts.append(each_part(part) if each_part else part)
    if not parts:
        empty = _with_numbers(_empty(columns))
        return each_part(empty) if each_part else empty
    return pd.concat(parts, ignore_index=True)


def _with_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    for name in ("item_id", "open_cents", "group_total_cents"):
        if name in frame:
            frame[name] = frame[name].astype("int64")
    return frame


@contextmanager
def _cyclic_gc_paused():
    # Millions of fetched rows make every generation-2 pass of the cyclic collector walk them
    # all again: 30 to 40% of the time to fetch 2,000,000 rows, measured on both databases.
    # The rows hold no reference cycles, so pausing the collector loses nothing, and reference
    # counting still frees memory.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})


# JSON ------------------------------------------------------------------------------------------

def decision_to_json(decision: Decision, *, policy: Policy | None = None) -> dict:
    """Return the decision as `workbench extract --format json` prints it.

    `{"as_of", "policy", "groups", "excluded"}`, amounts as two-decimal strings, `line_no` null
    when the extract has none. `policy` adds the stored policy's name and version.
    """
    excluded = decision.excluded
    return {
        "as_of": decision.as_of.isoformat(),
        "policy": {
            "name": policy.name if policy is not None else None,
            "version": policy.version if policy is not None else None,
            **params_as_text(decision.params),
        },
        "groups": groups_to_json(decision.groups, decision.items),
        "excluded": [
            {"document_no": document, "line_no": line or None, "open_amount": amount,
             "reason": reason}
            for document, line, amount, reason in zip(
                excluded["document_no"], excluded["line_no"],
                to_decimal_strings(excluded["open_cents"].astype("int64")), excluded["reason"])
        ],
    }


def groups_to_json(groups: pd.DataFrame, items: pd.DataFrame) -> list[dict]:
    """Return groups with their items as JSON-ready dicts, as `extract` prints them."""
    items_by_group: dict[int, list[dict]] = {}
    amounts = to_decimal_strings(items["open_cents"].astype("int64"))
    for group_no, document, line, amount in zip(
        items["group_no"], items["document_no"], items["line_no"], amounts
    ):
        items_by_group.setdefault(int(group_no), []).append(
            {"document_no": document, "line_no": line or None, "open_amount": amount}
        )

    totals = to_decimal_strings(groups["total_cents"].astype("int64"))
    return [
        {
            "customer_id": row.customer_id,
            "subscription_id": row.subscription_id,
            "currency": row.currency,
            "action": row.action,
            "target_subscription_id": row.target_subscription_id,
            "needs_review": bool(row.needs_review),
            "total": total,
            "items": items_by_group.get(int(row.group_no), []),
        }
        for row, total in zip(groups.itertuples(index=False), totals)
    ]
