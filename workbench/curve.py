"""The threshold curve: what every debit and credit threshold would select, computed once.

`build_curve` nets the eligible items of a snapshot per group and decides each group's action
as if it were selected, in one query and one vectorised pass. The action of a group does not
depend on the thresholds, which only decide whether the group is selected, so each direction
is kept as sorted absolute totals per action with cumulative counts and amounts. `at(debit,
credit)` is then a binary search per action: microseconds instead of a new selection.

Every other parameter (run date, minimum days overdue, rounding step, write-off limit,
currency, saved choices) is fixed at build time. After changing one of them, build the curve
again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from .eligibility import any_valid, group_totals, own_valid, snapshot_rules
from .policy import PolicyParams, check_params
from .selection import classify

DIRECTIONS = ("debit", "credit")
# Rows of `at`: offset groups net to zero, every other action may go either way.
CURVE_ROWS = [("offset", "zero")] + [
    (action, direction)
    for action in ("write_off", "rebill", "reassign", "unresolved")
    for direction in DIRECTIONS
]
CURVE_COLUMNS = ["action", "direction", "groups", "items", "total_cents"]


@dataclass(frozen=True)
class _Side:
    """The groups of one action and direction, by ascending absolute total.

    `items` and `totals` are cumulative sums with a leading zero, so that the first k groups
    have `items[k]` items and a signed total of `totals[k]` centimes.
    """

    magnitudes: np.ndarray
    items: np.ndarray
    totals: np.ndarray

    @classmethod
    def of(cls, totals: np.ndarray, item_counts: np.ndarray) -> "_Side":
        order = np.argsort(np.abs(totals), kind="stable")
        return cls(
            magnitudes=np.abs(totals)[order],
            items=np.concatenate([[0], np.cumsum(item_counts[order])]),
            totals=np.concatenate([[0], np.cumsum(totals[order])]),
        )

    def within(self, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the groups, items and signed total within each threshold (inclusive)."""
        count = np.searchsorted(self.magnitudes, thresholds, side="right")
        return count, self.items[count], self.totals[count]


class ThresholdCurve:
    """Counts and amounts by action and direction for any pair of thresholds, precomputed."""

    def __init__(self, as_of: dt.date, params: PolicyParams, snapshot_batch_id: int,
                 groups: pd.DataFrame):
        """`groups` has one row per eligible group: total_cents, item_count and action."""
        self.as_of = as_of
        self.params = params
        self.snapshot_batch_id = snapshot_batch_id
        totals = groups["total_cents"].to_numpy(dtype="int64")
        item_counts = groups["item_count"].to_numpy(dtype="int64")
        actions = groups["action"].to_numpy(dtype=object)

        zero = totals == 0
        self.offset_groups = int(zero.sum())
        self.offset_items = int(item_counts[zero].sum())
        self.eligible_groups = len(totals)
        self.eligible_items = int(item_counts.sum())
        self._sides: dict[tuple[str, str], _Side] = {}
        for action, direction in CURVE_ROWS[1:]:
            mask = (actions == action) & ((totals > 0) if direction == "debit" else (totals < 0))
            self._sides[action, direction] = _Side.of(totals[mask], item_counts[mask])

    def at(self, debit_threshold: int, credit_threshold: int) -> pd.DataFrame:
        """Return groups, items and total_cents per action and direction that the thresholds
        (integer centimes, 0 turning a direction off) would select, one row per CURVE_ROWS."""
        limits = {"debit": _threshold(debit_threshold), "credit": _threshold(credit_threshold)}
        rows = [("offset", "zero", self.offset_groups, self.offset_items, 0)]
        for (action, direction), side in self._sides.items():
            groups, items, total = side.within(np.array([limits[direction]]))
            rows.append((action, direction, int(groups[0]), int(items[0]), int(total[0])))
        return pd.DataFrame(rows, columns=CURVE_COLUMNS)

    def series(self, direction: str, thresholds) -> pd.DataFrame:
        """Return, for each threshold of one direction, the groups, items and total_cents per
        action (offset groups excluded): columns threshold, action, groups, items, total_cents."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        limits = np.asarray(thresholds)
        if not np.issubdtype(limits.dtype, np.integer) or (limits < 0).any():
            raise TypeError("thresholds are non-negative integer centimes")
        frames = []
        for (action, side_direction), side in self._sides.items():
            if side_direction != direction:
                continue
            groups, items, total = side.within(limits)
            frames.append(pd.DataFrame({"threshold": limits, "action": action, "groups": groups,
                                        "items": items, "total_cents": total}))
        return pd.concat(frames, ignore_index=True)


def build_curve(
    session: Session, as_of: dt.date, params: PolicyParams, *, snapshot_id: int | None = None
) -> ThresholdCurve:
    """Net every eligible group of a snapshot (default: the latest) and decide its action.

    The thresholds of `params` are ignored, because the curve covers all of them.
    """
    check_params(params)
    rules = snapshot_rules(session, as_of, params, snapshot_id)
    totals = group_totals(rules, selected_only=False).cte("eligible_group")
    result = session.execute(
        select(totals.c.total_cents, totals.c.item_count,
               own_valid(totals, as_of).label("own_valid"),
               any_valid(totals, as_of).label("any_valid"))
    )
    # Plain tuples: numpy reads them far faster than Row objects.
    values = np.array(list(map(tuple, result)), dtype="int64").reshape(-1, 4)
    groups = pd.DataFrame({
        "total_cents": values[:, 0],
        "item_count": values[:, 1],
        "action": classify(values[:, 0], values[:, 2], values[:, 3], params),
    })
    return ThresholdCurve(as_of, params, rules.snapshot_id, groups)


def _threshold(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise TypeError(f"a threshold is non-negative integer centimes, not {value!r}")
    return int(value)
